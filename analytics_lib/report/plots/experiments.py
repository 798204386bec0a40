"""Plots of experiments: the effect over the days of the experiment with its confidence sequence.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analytics_lib.report.plots.colors import CYCLE
from analytics_lib.report.plots.style import _date_axis, _metric_panels, _no_data, _require


def plot_experiment_looks(looks: pd.DataFrame, *, metrics: Sequence[str] | None = None,
                          ax: Sequence[Axes] | None = None) -> Figure:
    """The relative effect of each variant at every look, inside its always-valid confidence
    sequence (the band), one panel per metric; the zero line is "no effect".

    Parameters
    ----------
    looks : DataFrame
        :func:`analytics_lib.analysis.experiments.experiment_looks`.
    metrics : sequence of str, optional
        The panels; default every metric of ``looks``.
    ax : sequence of Axes, optional
        One per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> looks = pd.DataFrame({"look": pd.date_range("2025-06-02", periods=3, tz="UTC"), "variant": "b",
    ...     "metric": "accept_rate", "relative": [0.1, 0.12, 0.11], "relative_low": [-0.3, -0.05, 0.02],
    ...     "relative_high": [0.5, 0.3, 0.2]})
    >>> len(plot_experiment_looks(looks).axes)
    1
    """
    _require(looks, ["look", "variant", "metric", "relative", "relative_low", "relative_high"], "plot_experiment_looks")
    fig, axes, names = _metric_panels(looks, metrics, ax, "plot_experiment_looks", 2.8)
    for a, m in zip(axes, names):
        rows = looks[looks["metric"] == m]
        title = f"{m}: effect against the control (band: always-valid confidence sequence)"
        if rows.empty:
            _no_data(a, title, "end of day (UTC)", "relative effect")
            continue
        for k, (variant, g) in enumerate(rows.groupby("variant", sort=True)):
            color = CYCLE[k % len(CYCLE)]
            x = pd.DatetimeIndex(g["look"])
            a.fill_between(x, g["relative_low"], g["relative_high"], color=color, alpha=0.18, linewidth=0)
            a.plot(x, g["relative"], color=color, marker="o", markersize=3, label=str(variant))
        # the first looks' bands are very wide: scale to the last look's band and the estimates
        last = rows[rows["look"] == rows["look"].max()]
        lo = min(float(last["relative_low"].min()), float(rows["relative"].min()), 0.0)
        hi = max(float(last["relative_high"].max()), float(rows["relative"].max()), 0.0)
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            pad = 0.5 * (hi - lo)
            a.set_ylim(lo - pad, hi + pad)
        a.axhline(0, color="0.3", lw=0.8)
        a.yaxis.set_major_formatter(PercentFormatter(1.0))
        a.set(title=title, ylabel="relative effect", xlabel="end of day (UTC)")
        a.grid(alpha=0.3)
        a.legend(fontsize=8, frameon=False, title="variant", title_fontsize=8)
        _date_axis(a)
    return fig
