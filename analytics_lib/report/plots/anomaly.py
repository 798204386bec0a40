"""Plots of anomalies and their attribution.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.report.plots.colors import BAD
from analytics_lib.report.plots.style import (
    KPI_LABELS, _SEVERITY_COLORS, _axes, _date_axis, _format_value_axis, _no_data, _require, _subplots)


# --------------------------------------------------------------------------------------------
# Anomalies and drill-downs (analytics_lib.analysis.anomaly)
_ANOMALY_MARKERS = {"spike": "^", "drop": "v"}


def plot_anomalies(series: pd.DataFrame | pd.Series, anomalies: pd.DataFrame, *,
                   metrics: Sequence[str] | None = None, ax: Sequence[Axes] | Axes | None = None) -> Figure:
    """KPI series with their detected anomalies marked, one panel per metric.

    Each anomaly is a triangle (up for a spike, down for a drop) coloured by severity, joined
    by a thin line to the value that was expected (a small circle), so the size of the
    deviation is visible.

    Parameters
    ----------
    series : DataFrame or Series
        Indexed by time: a KPI frame (one column per metric, e.g.
        :func:`analytics_lib.kpi_table`) or one series.
    anomalies : DataFrame
        A detector's result (:mod:`analytics_lib.analysis.anomaly`): ``timestamp, metric, observed,
        expected, severity, direction``.
    metrics : sequence of str, optional
        Panels to draw; default the metrics that have anomalies (or the first column when
        none has).
    ax : Axes or sequence of Axes, optional
        One axes per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import detect_anomalies, kpi_table, synthetic_events
    >>> k = kpi_table(synthetic_events(20_000, seed=0).events)
    >>> fig = plot_anomalies(k, detect_anomalies(k, metrics=["latency_p95"]), metrics=["latency_p95"])  # doctest: +SKIP
    """
    _require(anomalies, ["timestamp", "metric", "observed", "expected", "severity", "direction"], "plot_anomalies")
    frame = series.to_frame(series.name if series.name is not None else "value") \
        if isinstance(series, pd.Series) else series
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise WorkbenchError("plot_anomalies: series must be indexed by time")
    if metrics is None:
        names = [m for m in pd.unique(anomalies["metric"].astype(str)) if m in frame.columns]
        metrics = names or list(frame.columns[:1])
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise WorkbenchError("plot_anomalies: there is no metric to draw; pass metrics=[...]")
    _require(frame, metrics, "plot_anomalies")
    if ax is None:
        fig, grid = _subplots(len(metrics), 1, figsize=(11, 2.8 * len(metrics) + 0.6), sharex=True,
                                 layout="constrained", squeeze=False)
        axes = list(grid.ravel())
        for a in axes[:-1]:
            a.xaxis.set_tick_params(labelbottom=True)
    else:
        axes = list(np.ravel(ax))
        if len(axes) < len(metrics):
            raise WorkbenchError(f"plot_anomalies: {len(metrics)} panels need {len(metrics)} axes, got {len(axes)}")
        fig = axes[0].get_figure(root=True)
    x = pd.DatetimeIndex(frame.index)
    found = anomalies.assign(metric=anomalies["metric"].astype(str))
    for a, metric in zip(axes, metrics):
        title, ylabel, kind = KPI_LABELS.get(metric, (metric, metric, "number"))
        y = frame[metric].astype("float64")
        if frame.empty or y.isna().all():
            _no_data(a, title, "period start (UTC)", ylabel)
            continue
        mine = found[found["metric"] == metric]
        a.plot(x, y, color="#1f77b4", linewidth=1.4, marker="o" if len(x) <= 60 else None, markersize=2.5,
               label=title, zorder=2)
        t = pd.DatetimeIndex(mine["timestamp"])
        if x.tz is not None and t.tz is None:
            t = t.tz_localize("UTC")
        a.vlines(t, mine["expected"].astype("float64"), mine["observed"].astype("float64"), color="0.55",
                 linewidth=0.8, zorder=3)
        a.scatter(t, mine["expected"].astype("float64"), s=14, facecolors="none", edgecolors="0.4", zorder=4,
                  label="expected")
        for (sev, direction), g in mine.groupby([mine["severity"].astype(str), mine["direction"].astype(str)],
                                                sort=False):  # at most 8 groups
            tg = pd.DatetimeIndex(g["timestamp"])
            if x.tz is not None and tg.tz is None:
                tg = tg.tz_localize("UTC")
            a.scatter(tg, g["observed"].astype("float64"), s=46, marker=_ANOMALY_MARKERS.get(direction, "o"),
                      color=_SEVERITY_COLORS.get(sev, "#7f7f7f"), edgecolors="black", linewidths=0.4, zorder=5)
        present = [s for s in _SEVERITY_COLORS if s in set(mine["severity"].astype(str))]
        handles = [Patch(color=_SEVERITY_COLORS[s], label=s) for s in present]
        if handles:
            a.legend(handles=handles, title="severity", fontsize=8, title_fontsize=9, frameon=False,
                     loc="upper left", bbox_to_anchor=(1.0, 1.0))
        a.set(title=f"{title}: {len(mine)} anomal{'y' if len(mine) == 1 else 'ies'}", ylabel=ylabel,
              xlabel="period start (UTC)")
        _format_value_axis(a, kind)
        a.grid(alpha=0.3)
        _date_axis(a)
    return fig


def plot_attribution(attribution, *, top: int = 8, ax: Axes | None = None) -> Figure:
    """The segments that explain an anomaly: share of the deviation against share of the events.

    Parameters
    ----------
    attribution : Attribution
        From :func:`analytics_lib.analysis.anomaly.attribution.drill_down`.
    top : int
        Segments drawn (the largest contributions).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import drill_down, synthetic_events
    >>> d = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> fig = plot_attribution(drill_down(d.events, metric="latency_p95", start=d.truth.incident_start,
    ...                                   end=d.truth.incident_end))  # doctest: +SKIP
    """
    segments = attribution.segments
    fig, ax = _axes(ax, (11, 1.4 + 0.45 * max(min(top, len(segments)), 3)))
    title = "What explains the deviation"
    xlabel, ylabel = "share of the deviation (bars) and of the events (dots)", "segment"
    rows = segments.dropna(subset=["contribution"]).head(top) if len(segments) else segments
    if rows.empty:
        return _no_data(ax, title, xlabel, ylabel)
    labels = [f"{s}  [{d}]" for s, d in zip(rows["segment"].astype(str), rows["dimension"].astype(str))]
    yy = np.arange(len(rows))
    chosen = attribution.top.get("segment") if attribution.top else None
    colors = [BAD if s == chosen else "#9e9e9e" for s in rows["segment"]]
    ax.barh(yy, rows["contribution"].to_numpy(dtype="float64"), color=colors, height=0.6)
    ax.scatter(rows["exposure"].to_numpy(dtype="float64"), yy, color="black", s=18, zorder=3, label="share of events")
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(yy, labels, fontsize=9)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    headline = attribution.headline
    ax.set(title=f"{title}\n{headline if len(headline) < 130 else headline[:127] + '...'}", xlabel=xlabel,
           ylabel=ylabel)
    ax.title.set_fontsize(10)
    ax.grid(axis="x", alpha=0.3)
    return fig
