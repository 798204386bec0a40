"""Plots of forecasts: history with intervals, backtest scores, components.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analytics_lib.report.plots.style import _axes, _date_axis, _no_data, _require, _subplots


def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, *, capacity: float | None = None,
                  max_series: int = 6, tail: int | None = 180, ax: Axes | None = None) -> Figure:
    """History and forecast with interval bands, one panel per series (at most ``max_series``).

    Parameters
    ----------
    history : DataFrame
        Long series ``unique_id, ds, y``.
    forecast : DataFrame
        :attr:`analytics_lib.forecast.AutoForecast.forecast` (``unique_id, ds, model,
        forecast, lo-<level>, hi-<level>...``); every level is drawn as a band, wider ones lighter.
    capacity : float, optional
        Drawn as a horizontal line.
    max_series : int
        Most panels drawn: the first series of ``forecast``, in its order (default 6).
    tail : int, optional
        History steps shown before the forecast (``None``: all).
    ax : Axes, optional
        Only with a single series.

    Examples
    --------
    >>> from analytics_lib.forecast.selection import auto_forecast  # doctest: +SKIP
    >>> fig = plot_forecast(series, auto_forecast(series, horizon=28).forecast)  # doctest: +SKIP
    """
    _require(history, ["unique_id", "ds", "y"], "plot_forecast")
    _require(forecast, ["unique_id", "ds", "forecast"], "plot_forecast")
    ids = list(pd.unique(forecast["unique_id"]))[:max_series]
    if not ids:
        fig, ax = _axes(ax, (10, 4))
        return _no_data(ax, "Forecast", "date", "value")
    levels = sorted((int(c[3:]) for c in forecast.columns if c.startswith("hi-") and c[3:].isdigit()), reverse=True)
    if ax is not None and len(ids) == 1:
        fig, axes = ax.figure, [ax]
    else:
        fig, axes = _subplots(len(ids), 1, figsize=(10, 3.2 * len(ids)), squeeze=False, layout="constrained")
        axes = list(axes[:, 0])
    for a, uid in zip(axes, ids):
        h = history[history["unique_id"] == uid]
        h = h.iloc[-tail:] if tail else h
        f = forecast[forecast["unique_id"] == uid]
        a.plot(h["ds"], h["y"], color="0.25", lw=1, label="history")
        for i, lv in enumerate(levels):
            a.fill_between(f["ds"], f[f"lo-{lv}"], f[f"hi-{lv}"], color="tab:blue", alpha=0.15 + 0.15 * i,
                           lw=0, label=f"{lv}% interval")
        model = f["model"].iloc[0] if "model" in f else "forecast"
        a.plot(f["ds"], f["forecast"], color="tab:blue", lw=1.6, label=f"forecast ({model})")
        if capacity is not None:
            a.axhline(capacity, color="tab:red", ls="--", lw=1, label=f"capacity {capacity:,.0f}")
        title = str(uid)
        if "backtest_mase" in f:
            title += f"  (backtest MASE {f['backtest_mase'].iloc[0]:.2f})"
        a.set_title(title, loc="left", fontsize=10)
        a.grid(alpha=0.3)
        _date_axis(a)
    axes[0].legend(loc="upper left", fontsize=8, ncol=3)
    return fig


def plot_backtest_scores(scores: pd.DataFrame, *, metric: str = "mase", ax: Axes | None = None) -> Figure:
    """Backtest score of every model, averaged over series, as horizontal bars (best on top).

    ``scores`` is :func:`analytics_lib.forecast.forecast_metrics` output (``model`` and the
    metric); for MASE a line marks 1.0, the in-sample seasonal naive error.

    Parameters
    ----------
    scores : DataFrame
        :func:`analytics_lib.forecast.forecast_metrics` output, or any frame with ``model`` and
        ``metric`` columns.
    metric : str
        The score column to draw (default ``"mase"``); ``"mae"``, ``"rmse"``, ``"smape"``...
    ax : Axes, optional
        Draw into these axes; None (default): a new figure.

    Examples
    --------
    >>> fig = plot_backtest_scores(pd.DataFrame({"model": ["ets", "theta"], "mase": [0.8, 0.9]}))
    """
    _require(scores, ["model", metric], "plot_backtest_scores")
    fig, ax = _axes(ax, (7, 0.5 * scores["model"].nunique() + 1.2))
    if scores.empty:
        return _no_data(ax, "Backtest scores", metric, "model")
    mean = scores.groupby("model")[metric].mean().sort_values(ascending=False)
    colors = ["tab:gray" if m == "seasonal_naive" else "tab:blue" for m in mean.index]
    ax.barh(mean.index, mean.to_numpy(), color=colors)
    for y, v in enumerate(mean.to_numpy()):
        ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    if metric == "mase":
        ax.axvline(1.0, color="0.4", ls=":", lw=1)
    ax.set_xlabel(f"{metric} (mean over series; lower is better)")
    ax.set_title("Backtest accuracy by model", loc="left")
    fig.tight_layout()
    return fig


def plot_components(components: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Fitted trend and seasonal (and holiday / yearly) components of one model and series.

    ``components`` is ``AutoForecast.components`` (or ``Forecaster.components_``) filtered
    to one ``unique_id`` and ``model``: ``ds`` plus component columns.

    Examples
    --------
    >>> c = pd.DataFrame({"ds": pd.date_range("2025-01-01", periods=30), "trend": range(30), "seasonal": 0.0})
    >>> fig = plot_components(c)
    """
    _require(components, ["ds"], "plot_components")
    cols = [c for c in ("trend", "seasonal", "yearly", "holidays") if c in components.columns]
    if components.empty or not cols:
        fig, ax = _axes(ax, (10, 3))
        return _no_data(ax, "Components", "date", "value")
    fig, axes = _subplots(len(cols), 1, figsize=(10, 2.2 * len(cols)), sharex=True, squeeze=False)
    for a, c in zip(axes[:, 0], cols):
        a.plot(components["ds"], components[c], lw=1, color="tab:green" if c == "trend" else "tab:purple")
        a.set_ylabel(c)
        a.grid(alpha=0.3)
    _date_axis(axes[-1, 0])
    axes[0, 0].set_title("Fitted components", loc="left")
    fig.tight_layout()
    return fig
