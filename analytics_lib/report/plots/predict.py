"""Plots of predictions: reliability, drivers, partial dependence.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.report.plots.colors import CYCLE
from analytics_lib.report.plots.style import _axes, _no_data, _require, _subplots


_MODEL_LABELS = {"churn_probability": "churn model (calibrated)", "recency_rule": "recency rule (baseline)"}


def plot_reliability(reliability: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Reliability curve: mean predicted churn probability against the observed churn rate, per bin.

    Points on the diagonal are calibrated; the vertical bars are the 95 % intervals of the
    observed rate, and the marker area grows with the users in the bin.

    Parameters
    ----------
    reliability : DataFrame
        From :func:`analytics_lib.analysis.predict.churn.reliability_table` (``model, mean_predicted,
        observed_rate, users, ci_low, ci_high``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.analysis.predict.evaluation import reliability_table
    >>> sc = pd.DataFrame({"churned": [0, 0, 1, 1] * 25, "p": [0.1, 0.2, 0.8, 0.9] * 25})
    >>> fig = plot_reliability(reliability_table(sc, models=["p"], n_bins=4))
    """
    _require(reliability, ["model", "mean_predicted", "observed_rate", "users", "ci_low", "ci_high"], "plot_reliability")
    fig, ax = _axes(ax, (6.5, 6))
    title = "Calibration: predicted vs observed churn (held-out cutoff)"
    xlabel, ylabel = "mean predicted probability in the bin", "observed churn rate in the bin"
    if reliability.empty:
        return _no_data(ax, title, xlabel, ylabel)
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="perfectly calibrated")
    for (name, g), color in zip(reliability.groupby("model", sort=False), CYCLE):
        x, y = g["mean_predicted"].to_numpy(dtype="float64"), g["observed_rate"].to_numpy(dtype="float64")
        err = np.vstack([y - g["ci_low"].to_numpy(dtype="float64"), g["ci_high"].to_numpy(dtype="float64") - y])
        ax.errorbar(x, y, yerr=np.clip(err, 0, None), color=color, lw=1.5, capsize=3, alpha=0.9,
                    label=f"{_MODEL_LABELS.get(str(name), str(name))} ({int(g['users'].sum()):,} users)")
        ax.scatter(x, y, s=12 + 120 * g["users"] / g["users"].max(), color=color, zorder=3)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=title, xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def plot_drivers(importance: pd.DataFrame, *, top: int = 10, title: str = "Top drivers",
                 xlabel: str = "permutation importance", ax: Axes | None = None) -> Figure:
    """Horizontal bars of permutation importance (mean and one standard deviation), largest on top.

    Parameters
    ----------
    importance : DataFrame
        ``feature, importance, std`` (``ChurnEvaluation.importance`` or
        ``SatisfactionEvaluation.importance``).
    top : int
        Features drawn.
    title, xlabel : str
        Say what the importance measures (drop of ROC AUC, rise of MAE...).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> imp = pd.DataFrame({"feature": ["latency_s", "n_errors"], "importance": [0.15, 0.01], "std": [0.01, 0.002]})
    >>> fig = plot_drivers(imp, xlabel="rise of MAE (points)")
    """
    _require(importance, ["feature", "importance", "std"], "plot_drivers")
    rows = importance.sort_values("importance", ascending=False, kind="stable").head(top)
    fig, ax = _axes(ax, (9, 1.2 + 0.4 * max(len(rows), 3)))
    if rows.empty:
        return _no_data(ax, title, xlabel, "feature")
    y = np.arange(len(rows))
    vals = rows["importance"].to_numpy(dtype="float64")
    ax.barh(y, vals, xerr=rows["std"].to_numpy(dtype="float64"), color=np.where(vals > 0, "#1f77b4", "#9e9e9e"),
            height=0.6, capsize=3, error_kw={"lw": 1, "ecolor": "0.3"})
    ax.set_yticks(y, rows["feature"].astype(str), fontsize=9)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set(title=title, xlabel=xlabel, ylabel="feature")
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_partial_dependence(partial_dependence: pd.DataFrame, *, ylabel: str = "predicted satisfaction (1-5)",
                            ax: Sequence[Axes] | None = None) -> Figure:
    """One panel per driver: the mean prediction with the driver set to each value (partial dependence).

    Numeric drivers are drawn as a line over their grid, categorical ones as bars.

    Parameters
    ----------
    partial_dependence : DataFrame
        ``feature, kind, value, satisfaction`` (``SatisfactionEvaluation.partial_dependence``).
    ylabel : str
    ax : sequence of Axes, optional
        One per feature.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> pdp = pd.DataFrame({"feature": ["latency_s"] * 3 + ["model"] * 2, "kind": ["numeric"] * 3 + ["categorical"] * 2,
    ...                     "value": [1.0, 2.0, 3.0, "a", "b"], "satisfaction": [4.3, 4.0, 3.7, 3.9, 3.8]})
    >>> len(plot_partial_dependence(pdp).axes)
    2
    """
    _require(partial_dependence, ["feature", "kind", "value", "satisfaction"], "plot_partial_dependence")
    features = list(dict.fromkeys(partial_dependence["feature"]))
    n = max(len(features), 1)
    if ax is None:
        fig, axes = _subplots(1, n, figsize=(4.2 * n, 3.8), layout="constrained", squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax)
        if len(axes) < n:
            raise WorkbenchError(f"plot_partial_dependence needs {n} axes, got {len(axes)}")
        fig = axes[0].get_figure(root=True)
    if not features:
        return _no_data(axes[0], "Partial dependence", "value", ylabel)
    values = partial_dependence["satisfaction"].to_numpy(dtype="float64")
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(0.05, 0.1 * (hi - lo))
    for a, f in zip(axes, features):  # a few drivers
        g = partial_dependence[partial_dependence["feature"] == f]
        if (g["kind"] == "categorical").all():
            a.bar(np.arange(len(g)), g["satisfaction"], color="#1f77b4", width=0.6)
            a.set_xticks(np.arange(len(g)), g["value"].astype(str), rotation=30, ha="right", fontsize=8)
        else:
            a.plot(g["value"].to_numpy(dtype="float64"), g["satisfaction"], color="#1f77b4", lw=2, marker="o", ms=3)
        a.set_ylim(lo - pad, hi + pad)
        a.set(title=f, xlabel=f, ylabel=ylabel if a is axes[0] else "")
        a.grid(alpha=0.3)
    return fig
