"""Figures for the workflow results. Plots only draw.

Every function takes the frame a library function returned (``kpi_table``,
``funnel_table``...), draws it and returns the :class:`~matplotlib.figure.Figure`; nothing is
computed beyond reshaping for drawing (pivoting, picking the rows shown), nothing is shown
or saved. Pass ``ax=`` to draw into an existing axes; an empty frame gives an axes with a
"no data" note instead of an error.
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from . import schema as S
from .errors import WorkbenchError

__all__ = ["plot_activity_heatmap", "plot_activity_histogram", "plot_bottlenecks", "plot_cost_by", "plot_funnel",
           "plot_kpi_trends", "plot_lifecycle", "plot_retention", "plot_satisfaction_vs_latency", "plot_transitions",
           "KPI_LABELS", "DEFAULT_KPIS", "plot_forecast", "plot_backtest_scores", "plot_components"]

#: Title, axis label (with unit) and kind (``count``, ``rate``, ``usd``, ``score``, ``number``) of each KPI column.
KPI_LABELS: dict[str, tuple[str, str, str]] = {
    "events": ("Events", "events", "count"),
    "active_users": ("Active users", "users", "count"),
    "sessions": ("Sessions", "sessions", "count"),
    "events_per_user": ("Events per active user", "events / user", "number"),
    "sessions_per_user": ("Sessions per active user", "sessions / user", "number"),
    "cache_hit_rate": ("Cache hit rate", "% of cache queries", "rate"),
    "error_rate": ("Error rate", "% of LLM requests", "rate"),
    "latency_p50": ("Latency p50", "ms", "count"),
    "latency_p95": ("Latency p95", "ms", "count"),
    "latency_p99": ("Latency p99", "ms", "count"),
    "tokens_in": ("Tokens in", "tokens", "count"),
    "tokens_out": ("Tokens out", "tokens", "count"),
    "cost_usd": ("Cost", "USD", "usd"),
    "accepts": ("Accepts", "accepted changes", "count"),
    "cost_per_accept": ("Cost per accept", "USD / accept", "usd"),
    "satisfaction": ("Satisfaction", "mean score (1-5)", "score"),
    "stickiness": ("Stickiness", "mean DAU / active users", "rate"),
}
#: The panels :func:`plot_kpi_trends` draws by default (a list draws its columns in one panel).
DEFAULT_KPIS: tuple = ("events", "active_users", "error_rate", ("latency_p50", "latency_p95"), "cost_usd",
                       "cost_per_accept", "cache_hit_rate", "satisfaction")

_SEVERITY_COLORS = {"low": "#9e9e9e", "medium": "#f2c14e", "high": "#f08a24", "critical": "#d62728"}
_LIFECYCLE_COLORS = {"new": "#2ca02c", "returning": "#1f77b4", "resurrecting": "#ff7f0e", "dormant": "#d62728"}
_COUNT = FuncFormatter(lambda v, _: f"{v:,.0f}")
_USD = FuncFormatter(lambda v, _: f"${v:,.3f}" if 0 < abs(v) < 0.1 else f"${v:,.2f}" if abs(v) < 100 else f"${v:,.0f}")


# --------------------------------------------------------------------------------------------
# helpers
def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.get_figure(root=True), ax


def _no_data(ax: Axes, title: str, xlabel: str, ylabel: str, note: str = "no data") -> Figure:
    ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, color="0.45", fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax.get_figure(root=True)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise WorkbenchError(f"{what} needs the columns {', '.join(missing)} (got {', '.join(map(str, frame.columns))})")


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _format_value_axis(ax: Axes, kind: str) -> None:
    if kind == "rate":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    elif kind == "usd":
        ax.yaxis.set_major_formatter(_USD)
    elif kind == "count":
        ax.yaxis.set_major_formatter(_COUNT)


def _seconds(s: float) -> str:
    if not np.isfinite(s):
        return "-"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _short_count(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    if n >= 1e3:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}"


def _type_order(names: Sequence[str]) -> list[str]:
    """Event types in workflow order (the contract's vocabulary), unknown ones after, sorted."""
    known = [t for t in S.EVENT_TYPES if t in set(names)]
    return known + sorted(set(names) - set(known))


def _text_color(value: float, norm: Normalize, cmap) -> str:
    r, g, b, _ = cmap(norm(value))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


# --------------------------------------------------------------------------------------------
def plot_kpi_trends(kpis: pd.DataFrame, *, metrics: Sequence[str | Sequence[str]] = DEFAULT_KPIS,
                    ax: Sequence[Axes] | None = None) -> Figure:
    """Small multiples of KPIs over time, one panel per metric.

    Parameters
    ----------
    kpis : DataFrame
        From :func:`analytics_lib.kpi_table` (indexed by ``period``).
    metrics : sequence
        KPI columns, one per panel; an entry that is a list draws several columns of the
        same unit in one panel (``["latency_p50", "latency_p95"]``).
    ax : sequence of Axes, optional
        One axes per panel; by default a new figure with two columns of panels.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import kpi_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_kpi_trends(kpi_table(synthetic_events(20_000, seed=0).events, granularity="W"))  # doctest: +SKIP
    """
    panels = [[m] if isinstance(m, str) else list(m) for m in metrics]
    if not panels:
        raise WorkbenchError("plot_kpi_trends: metrics is empty; name at least one KPI column")
    _require(kpis, [c for p in panels for c in p], "plot_kpi_trends")
    if ax is None:
        ncols = 1 if len(panels) == 1 else 2
        nrows = math.ceil(len(panels) / ncols)
        fig, grid = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 2.6 * nrows + 0.6), sharex=True,
                                 layout="constrained", squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[len(panels):]:
            extra.set_visible(False)
        bottom = {id(axes[i]) for i in range(len(panels)) if i + ncols >= len(panels)}
        for i in range(len(panels)):
            if id(axes[i]) in bottom:  # the lowest panel of each column shows the dates
                axes[i].xaxis.set_tick_params(labelbottom=True)
        fig.suptitle("Key indicators per period", fontsize=13)
    else:
        axes = list(np.ravel(ax))
        if len(axes) < len(panels):
            raise WorkbenchError(f"plot_kpi_trends: {len(panels)} panels need {len(panels)} axes, got {len(axes)}")
        fig = axes[0].get_figure(root=True)
        bottom = {id(a) for a in axes}
    x = pd.DatetimeIndex(kpis.index)
    for a, cols in zip(axes, panels):
        labels = [KPI_LABELS.get(c, (c, c, "number")) for c in cols]
        title = labels[0][0] if len(cols) == 1 else " / ".join(lab[0] for lab in labels)
        xlabel = "period start (UTC)" if id(a) in bottom else ""
        if kpis.empty or kpis[cols].isna().all().all():
            _no_data(a, title, xlabel, labels[0][1])
            continue
        for c, lab in zip(cols, labels):
            a.plot(x, kpis[c].astype("float64"), marker="o" if len(x) <= 40 else None, markersize=3,
                   linewidth=1.6, label=lab[0])
        a.set(title=title, ylabel=labels[0][1], xlabel=xlabel)
        _format_value_axis(a, labels[0][2])
        a.grid(alpha=0.3)
        if labels[0][2] == "score":
            a.set_ylim(1, 5)
        elif np.nanmin(kpis[cols].to_numpy(dtype="float64")) >= 0:
            a.set_ylim(bottom=0)
        if len(cols) > 1:
            a.legend(fontsize=8, frameon=False)
        _date_axis(a)
    return fig


def plot_activity_heatmap(table: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Heatmap of event counts by weekday (rows) and UTC hour (columns).

    Parameters
    ----------
    table : DataFrame
        From :func:`analytics_lib.tables.weekday_hour_table` (7 x 24 counts).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.tables import weekday_hour_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_activity_heatmap(weekday_hour_table(synthetic_events(20_000, seed=0).events))  # doctest: +SKIP
    """
    fig, ax = _axes(ax, (11, 3.8))
    title, xlabel, ylabel = "When people work: events by weekday and hour", "hour of day (UTC)", "weekday"
    if table.empty or not np.nansum(table.to_numpy(dtype="float64")):
        return _no_data(ax, title, xlabel, ylabel)
    im = ax.imshow(table.to_numpy(dtype="float64"), aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(table.shape[1]), [str(h) for h in table.columns], fontsize=8)
    ax.set_yticks(range(table.shape[0]), [str(d) for d in table.index])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    cb = fig.colorbar(im, ax=ax, pad=0.01, format=_COUNT)
    cb.set_label("events")
    return fig


def plot_funnel(funnel: pd.DataFrame, *, unit: str = "entities", ax: Axes | None = None) -> Figure:
    """Funnel as horizontal bars, labelled with counts and conversion from step 1.

    With a segment column (``funnel_table(..., by="team")``) the bars are grouped per step
    and show each segment's conversion, so segments of different sizes compare.

    Parameters
    ----------
    funnel : DataFrame
        From :func:`analytics_lib.funnel_table`.
    unit : str
        What the funnel counts, for the labels (``"users"``, ``"sessions"``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import funnel_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_funnel(funnel_table(synthetic_events(20_000, seed=0).events, ["search", "generation"]))  # doctest: +SKIP
    """
    _require(funnel, ["step", "step_name", "entities", "conversion"], "plot_funnel")
    standard = {"step", "step_name", "entities", "conversion", "step_conversion", "drop_off", "median_time_s"}
    segment = next((c for c in funnel.columns if c not in standard), None)
    n_steps = funnel["step"].nunique()
    fig, ax = _axes(ax, (10, 1.0 + (0.55 if segment is None else 1.1) * max(n_steps, 2)))
    if funnel.empty or not funnel["entities"].sum():
        return _no_data(ax, f"Funnel ({unit})", f"{unit} reaching the step", "step")
    steps = funnel.drop_duplicates("step").sort_values("step")
    ticks = [f"{s}. {name}" for s, name in zip(steps["step"], steps["step_name"])]
    y = np.arange(len(steps))
    if segment is None:
        f = funnel.sort_values("step")
        bars = ax.barh(y, f["entities"], color="#4c72b0", height=0.65)
        labels = [f"{n:,}  ({c:.1%})" if pd.notna(c) else f"{n:,}" for n, c in zip(f["entities"], f["conversion"])]
        ax.bar_label(bars, labels=labels, padding=4, fontsize=9)
        ax.set_xlim(0, f["entities"].max() * 1.28)
        ax.xaxis.set_major_formatter(_COUNT)
        ax.set(title=f"Funnel: {f['entities'].iloc[0]:,} {unit} entering, conversion from step 1 in brackets",
               xlabel=f"{unit} reaching the step")
    else:
        wide = funnel.pivot_table(index="step", columns=segment, values="conversion", aggfunc="first",
                                  observed=True).sort_index()
        k = wide.shape[1]
        h = 0.8 / k
        cmap = plt.get_cmap("tab10")
        for j, seg in enumerate(wide.columns):
            bars = ax.barh(y - 0.4 + h * (j + 0.5), wide[seg].to_numpy(dtype="float64"), height=h * 0.92,
                           color=cmap(j % 10), label=str(seg))
            ax.bar_label(bars, labels=[f"{v:.0%}" if pd.notna(v) else "" for v in wide[seg]], padding=2, fontsize=7)
        ax.set_xlim(0, 1.12)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.legend(title=str(segment), fontsize=8, title_fontsize=9, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
        ax.set(title=f"Funnel by {segment}: share of {unit} entering that reach each step",
               xlabel=f"conversion from step 1 (% of {unit})")
    ax.set_yticks(y, ticks)
    ax.invert_yaxis()
    ax.set_ylabel("step")
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_transitions(transitions: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Directly-follows matrix: source x target transition counts, annotated with the median wait.

    Parameters
    ----------
    transitions : DataFrame
        From :func:`analytics_lib.transition_table`.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import transition_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_transitions(transition_table(synthetic_events(20_000, seed=0).events))  # doctest: +SKIP
    """
    _require(transitions, ["source", "target", "count", "median_s"], "plot_transitions")
    fig, ax = _axes(ax, (11, 8.5))
    title = "Transitions between steps: count (colour) and median wait (second line)"
    xlabel, ylabel = "next event (target)", "event (source)"
    if transitions.empty:
        return _no_data(ax, title, xlabel, ylabel)
    order_src = _type_order(transitions["source"].astype(str).unique())
    order_dst = _type_order(transitions["target"].astype(str).unique())
    counts = transitions.pivot_table(index="source", columns="target", values="count", aggfunc="sum",
                                     observed=True).reindex(index=order_src, columns=order_dst)
    med = transitions.pivot_table(index="source", columns="target", values="median_s", aggfunc="first",
                                  observed=True).reindex(index=order_src, columns=order_dst)
    values = np.ma.masked_invalid(counts.to_numpy(dtype="float64"))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#f2f2f2")
    norm = LogNorm(vmin=max(values.min(), 1), vmax=max(values.max(), 2))
    im = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    fs = 8 if len(order_src) * len(order_dst) <= 150 else 6
    for i, j in zip(*np.nonzero(~values.mask)):
        v = values[i, j]
        ax.text(j, i, f"{_short_count(v)}\n{_seconds(med.iat[i, j])}", ha="center", va="center", fontsize=fs,
                color=_text_color(v, norm, cmap), linespacing=1.1)
    ax.set_xticks(range(len(order_dst)), order_dst, rotation=35, ha="right")
    ax.set_yticks(range(len(order_src)), order_src)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    cb = fig.colorbar(im, ax=ax, pad=0.01)
    cb.set_label("transitions (count, log scale)")
    return fig


def plot_bottlenecks(bottlenecks: pd.DataFrame, *, top: int = 10, ax: Axes | None = None) -> Figure:
    """The top ranked bottlenecks as bars of waiting time, coloured by severity.

    Parameters
    ----------
    bottlenecks : DataFrame
        From :func:`analytics_lib.bottleneck_table` (already ranked); the first ``top`` rows
        are drawn, rank 1 at the top.
    top : int
        Number of rows drawn.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import bottleneck_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_bottlenecks(bottleneck_table(synthetic_events(20_000, seed=0).events))  # doctest: +SKIP
    """
    _require(bottlenecks, ["kind", "name", "impact_h", "severity"], "plot_bottlenecks")
    rows = bottlenecks.head(top)
    fig, ax = _axes(ax, (11, 1.2 + 0.45 * max(len(rows), 3)))
    title = f"Top {top} bottlenecks by severity, then waiting time"
    xlabel, ylabel = "impact (hours of waiting)", "step or transition"
    if rows.empty:
        return _no_data(ax, title, xlabel, ylabel)
    names = rows["name"].astype(str)
    if "period" in rows.columns:
        when = pd.to_datetime(rows["period"], utc=True)
        names = names + [f" ({t:%Y-%m-%d})" if pd.notna(t) else "" for t in when]
    labels = [f"{r}. {n} [{k}]" for r, n, k in zip(rows.get("rank", range(1, len(rows) + 1)), names, rows["kind"])]
    sev = rows["severity"].astype(str)
    impact = rows["impact_h"].to_numpy(dtype="float64")
    y = np.arange(len(rows))
    bars = ax.barh(y, impact, color=[_SEVERITY_COLORS.get(s, "#7f7f7f") for s in sev], height=0.65)
    notes = []
    for _, r in rows.iterrows():  # at most `top` rows
        p95 = f"p95 {_seconds(r['p95_ms'] / 1e3)}" if "p95_ms" in rows.columns and pd.notna(r["p95_ms"]) else ""
        ratio = f"x{r['ratio']:.1f} of baseline" if "ratio" in rows.columns and pd.notna(r["ratio"]) else ""
        notes.append("  ".join(t for t in (f"{r['impact_h']:,.2f} h", p95, ratio) if t))
    ax.bar_label(bars, labels=notes, padding=4, fontsize=8)
    positive = impact[impact > 0]
    if len(positive) and positive.max() / positive.min() > 100:
        ax.set_xscale("log")
        ax.set_xlim(positive.min() / 2, positive.max() * 60)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))
        xlabel += ", log scale"
    else:
        ax.set_xlim(0, max(impact.max(), 1e-9) * 1.6)
    ax.set_yticks(y, labels, fontsize=9)
    ax.invert_yaxis()
    present = [s for s in _SEVERITY_COLORS if s in set(sev)]
    ax.legend(handles=[Patch(color=_SEVERITY_COLORS[s], label=s) for s in present], title="severity",
              fontsize=8, title_fontsize=9, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_retention(retention: pd.DataFrame, *, period: str = "week", ax: Axes | None = None) -> Figure:
    """Cohort retention heatmap: share of each cohort active *k* periods later, with % labels.

    Periods beyond the end of the data are left blank (and columns that are blank for every
    cohort are not drawn).

    Parameters
    ----------
    retention : DataFrame
        From :func:`analytics_lib.retention_matrix` (index ``cohort``, ``size``, ``0..k``).
    period : str
        The cohort period's name for the labels (``"week"``, ``"month"``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import retention_matrix; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_retention(retention_matrix(synthetic_events(20_000, seed=0).events, periods=6))  # doctest: +SKIP
    """
    _require(retention, ["size"], "plot_retention")
    shares = retention.drop(columns="size").dropna(axis=1, how="all")
    fig, ax = _axes(ax, (1.8 + 0.75 * max(shares.shape[1], 4), 1.2 + 0.42 * max(len(shares), 3)))
    title = f"Retention: share of each {period}ly cohort active k {period}s later"
    xlabel, ylabel = f"{period}s since the cohort's first {period}", "cohort (users)"
    if shares.empty or shares.shape[1] == 0:
        return _no_data(ax, title, xlabel, ylabel)
    values = np.ma.masked_invalid(shares.to_numpy(dtype="float64"))
    cmap = plt.get_cmap("Blues").with_extremes(bad="white")
    norm = Normalize(0, 1)
    im = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    for i, j in zip(*np.nonzero(~values.mask)):
        ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center", fontsize=8,
                color=_text_color(values[i, j], norm, cmap))
    ax.set_xticks(range(shares.shape[1]), [str(c) for c in shares.columns])
    cohorts = pd.DatetimeIndex(shares.index)
    ax.set_yticks(range(len(shares)), [f"{c:%Y-%m-%d} ({n:,})" for c, n in zip(cohorts, retention["size"])])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    cb = fig.colorbar(im, ax=ax, pad=0.01, format=PercentFormatter(1.0, decimals=0))
    cb.set_label("share of cohort active")
    return fig


def plot_lifecycle(lifecycle: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Growth accounting: new, returning and resurrecting users stacked up, dormant users down.

    Parameters
    ----------
    lifecycle : DataFrame
        From :func:`analytics_lib.lifecycle_table` (indexed by period start).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import lifecycle_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_lifecycle(lifecycle_table(synthetic_events(20_000, seed=0).events))  # doctest: +SKIP
    """
    _require(lifecycle, ["new", "returning", "resurrecting", "dormant"], "plot_lifecycle")
    fig, ax = _axes(ax, (10, 4.2))
    title = "User lifecycle per period"
    xlabel, ylabel = "period start (UTC)", "users (dormant below zero)"
    if lifecycle.empty:
        return _no_data(ax, title, xlabel, ylabel)
    x = np.arange(len(lifecycle))
    bottom = np.zeros(len(lifecycle))
    for state in ("returning", "resurrecting", "new"):
        v = lifecycle[state].to_numpy(dtype="float64")
        ax.bar(x, v, bottom=bottom, color=_LIFECYCLE_COLORS[state], label=state, width=0.75)
        bottom += v
    ax.bar(x, -lifecycle["dormant"].to_numpy(dtype="float64"), color=_LIFECYCLE_COLORS["dormant"], label="dormant",
           width=0.75)
    ax.axhline(0, color="0.2", linewidth=0.8)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], [f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(lifecycle.index)[::step]],
                  rotation=30, ha="right")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):,.0f}"))
    ax.legend(fontsize=8, frameon=False, ncols=4, loc="upper left")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.15)
    return fig


def plot_activity_histogram(histogram: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Stickiness histogram: users by number of active days, power-user bins highlighted.

    Parameters
    ----------
    histogram : DataFrame
        From :func:`analytics_lib.activity_histogram`.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import activity_histogram; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_activity_histogram(activity_histogram(synthetic_events(20_000, seed=0).events))  # doctest: +SKIP
    """
    _require(histogram, ["active_days", "users"], "plot_activity_histogram")
    fig, ax = _axes(ax, (10, 3.8))
    days = len(histogram)
    title = f"Stickiness: users by number of active days in the last {days} days"
    xlabel, ylabel = f"active days (of {days})", "users"
    if histogram.empty or not histogram["users"].sum():
        return _no_data(ax, title, xlabel, ylabel)
    power = histogram["power_user"].to_numpy(bool) if "power_user" in histogram.columns else np.zeros(days, bool)
    ax.bar(histogram["active_days"], histogram["users"], color=np.where(power, "#d62728", "#4c72b0"), width=0.8)
    handles = [Patch(color="#4c72b0", label="users")]
    if power.any():
        handles.append(Patch(color="#d62728", label="power users (at or above the\n90th percentile of active days)"))
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.yaxis.set_major_formatter(_COUNT)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_cost_by(metric: pd.DataFrame, *, ylabel: str = "cost per period (USD)", title: str | None = None,
                 ax: Axes | None = None) -> Figure:
    """A metric per period split by a group, as a stacked area (stacked bars for <= 3 periods).

    Parameters
    ----------
    metric : DataFrame
        From :func:`analytics_lib.metric_table` with ``by`` (``period, <by...>, value``); a
        sum-like metric, since the groups are stacked. Several ``by`` columns are joined
        with " / "; a missing group value shows as "(none)"; groups that are zero in every
        period are left out of the drawing and the legend.
    ylabel : str
        The value's label with its unit.
    title : str, optional
        Defaults to "Cost per period by <by>".
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import metric_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_cost_by(metric_table(synthetic_events(20_000, seed=0).events, "cost_usd", by="model"))  # doctest: +SKIP
    """
    _require(metric, ["period", "value"], "plot_cost_by")
    groups = [c for c in metric.columns if c not in ("period", "value")]
    by = " / ".join(groups) if groups else "total"
    fig, ax = _axes(ax, (10, 4.2))
    title = title or f"Cost per period by {by}"
    xlabel = "period start (UTC)"
    if metric.empty:
        return _no_data(ax, title, xlabel, ylabel)
    label = (metric[groups].astype(str).fillna("(none)").agg(" / ".join, axis=1) if groups
             else pd.Series("total", index=metric.index))
    wide = (metric.assign(_g=label).pivot_table(index="period", columns="_g", values="value", aggfunc="sum",
                                                 observed=True).fillna(0.0).sort_index())
    wide = wide.loc[:, wide.abs().sum() > 0]  # a group that is zero throughout draws nothing: no legend entry
    wide = wide[wide.sum().sort_values(ascending=False).index]  # largest group at the bottom
    if wide.shape[1] == 0:
        return _no_data(ax, title, xlabel, ylabel, note="all values are zero")
    x = pd.DatetimeIndex(wide.index)
    colors = [plt.get_cmap("tab10")(j % 10) for j in range(wide.shape[1])]
    if len(x) > 3:
        ax.stackplot(x, wide.T.to_numpy(dtype="float64"), labels=[str(c) for c in wide.columns], colors=colors,
                     alpha=0.85)
        _date_axis(ax)
    else:
        bottom = np.zeros(len(x))
        for j, c in enumerate(wide.columns):
            ax.bar(range(len(x)), wide[c], bottom=bottom, color=colors[j], label=str(c), width=0.6)
            bottom += wide[c].to_numpy(dtype="float64")
        ax.set_xticks(range(len(x)), [f"{t:%Y-%m-%d}" for t in x])
    ax.yaxis.set_major_formatter(_USD if "USD" in ylabel else _COUNT)
    ax.legend(title=by, fontsize=8, title_fontsize=9, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return fig


def plot_satisfaction_vs_latency(sessions: pd.DataFrame, *, stats: pd.DataFrame | None = None,
                                 ax: Axes | None = None) -> Figure:
    """Scatter of session satisfaction against the session's median generation latency, per model.

    Parameters
    ----------
    sessions : DataFrame
        Columns ``latency_ms`` and ``satisfaction`` (and optionally ``model``), e.g. from
        :func:`analytics_lib.tables.session_latency_satisfaction`.
    stats : DataFrame, optional
        From :func:`analytics_lib.satisfaction_vs_performance`; its overall latency row is
        printed in the corner (r, rho, slope, sessions).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.tables import session_latency_satisfaction; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_satisfaction_vs_latency(session_latency_satisfaction(synthetic_events(20_000, seed=0).events))  # doctest: +SKIP
    """
    _require(sessions, ["latency_ms", "satisfaction"], "plot_satisfaction_vs_latency")
    fig, ax = _axes(ax, (11, 5))
    title = "Satisfaction vs latency, one point per session with a score"
    xlabel, ylabel = "median generation latency of the session (s, log scale)", "satisfaction (mean score, 1-5)"
    pts = sessions[sessions["latency_ms"].gt(0) & sessions["satisfaction"].notna()]
    if pts.empty:
        return _no_data(ax, title, xlabel.replace(", log scale", ""), ylabel)
    groups = list(pts.groupby(pts["model"].astype(str).fillna("(none)"), sort=True)) if "model" in pts.columns \
        else [("all sessions", pts)]
    # scores sit on a 0.5 grid: draw each model's points slightly apart so the models stay visible
    offsets = np.linspace(-0.1, 0.1, len(groups)) if len(groups) > 1 else np.zeros(1)
    alpha = 0.5 if len(pts) < 2_000 else 0.25
    for (name, g), off in zip(groups, offsets):  # a handful of models
        ax.scatter(g["latency_ms"] / 1e3, g["satisfaction"] + off, s=8, alpha=alpha, label=str(name), linewidths=0)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(0.8, 5.2)
    leg = ax.legend(title="model (drawn slightly apart vertically)" if len(groups) > 1 else None, fontsize=8,
                    title_fontsize=9, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=2)
    for h in leg.legend_handles:
        h.set_alpha(1)
    if stats is not None and not stats.empty:
        row = stats[(stats["group"] == "all") & (stats["factor"] == "latency_ms")]
        if len(row):
            r = row.iloc[0]
            ax.text(1.02, 0.0, f"all sessions (n={r['sessions']:,.0f}):\nPearson r = {r['pearson_r']:.2f}\n"
                    f"Spearman rho = {r['spearman_rho']:.2f}\nslope = {r['slope']:+.2f} points per second",
                    transform=ax.transAxes, ha="left", va="bottom", fontsize=8,
                    bbox=dict(boxstyle="round", facecolor="white", alpha=0.85, edgecolor="0.8"))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig


# ============================================================================================
# ROI figures (analytics_lib.roi results)
__all__ += ["plot_cashflows", "plot_roi_distribution", "plot_scenarios", "plot_tornado", "plot_value_by"]

_KIND_COLORS = {"one-off": "#d62728", "actual": "#1f77b4", "mixed": "#6baed6", "forecast": "#9ecae1"}


def _frame_of(result, attr: str) -> pd.DataFrame:
    return getattr(result, attr) if hasattr(result, attr) else result


def plot_cashflows(result, *, ax: Axes | None = None) -> Figure:
    """Monthly net cash flow as bars (coloured by actual / forecast) and the cumulative net as a line.

    Parameters
    ----------
    result : RoiResult or DataFrame
        From :func:`analytics_lib.roi.roi_result`, or its ``cashflows`` frame (``month, kind,
        net_usd, cumulative_net_usd``). With a result, the payback month is marked.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.roi import roi_inputs, roi_result; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_cashflows(roi_result(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)))  # doctest: +SKIP
    """
    cf = _frame_of(result, "cashflows")
    _require(cf, ["month", "kind", "net_usd", "cumulative_net_usd"], "plot_cashflows")
    fig, ax = _axes(ax, (11, 4.5))
    title, xlabel, ylabel = "Cash flows: monthly net and cumulative", "month (0 = one-off cost)", "USD"
    if cf.empty:
        return _no_data(ax, title, xlabel, ylabel)
    kinds = cf["kind"].astype(str)
    ax.bar(cf["month"], cf["net_usd"], color=[_KIND_COLORS.get(k, "0.6") for k in kinds], width=0.8)
    ax.plot(cf["month"], cf["cumulative_net_usd"], color="black", lw=2, marker="o", ms=3, label="cumulative net")
    ax.axhline(0, color="0.3", lw=0.8)
    payback = getattr(result, "payback_months", None)
    if payback is not None:
        ax.axvline(payback, color="#2ca02c", ls="--", lw=1.5, label=f"payback: {payback:,.1f} months")
    handles = [Patch(color=_KIND_COLORS[k], label=f"net, {k}") for k in _KIND_COLORS if (kinds == k).any()]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=8, frameon=False, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.yaxis.set_major_formatter(_USD)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig


def plot_tornado(tornado: pd.DataFrame, *, metric: str = "npv", ax: Axes | None = None) -> Figure:
    """Tornado chart: each assumption's low and high end as bars around the base case.

    Parameters
    ----------
    tornado : DataFrame
        From :func:`analytics_lib.roi.tornado_table` (``assumption, range, npv_low, npv_high,
        roi_low_pct, roi_high_pct``; the base case in ``attrs``), in its order (largest swing on top).
    metric : {"npv", "roi"}
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.roi import roi_inputs, tornado_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_tornado(tornado_table(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)))  # doctest: +SKIP
    """
    if metric not in ("npv", "roi"):
        raise WorkbenchError(f"metric={metric!r} is not supported: use 'npv' or 'roi'")
    lo_c, hi_c = ("npv_low", "npv_high") if metric == "npv" else ("roi_low_pct", "roi_high_pct")
    _require(tornado, ["assumption", "range", lo_c, hi_c], "plot_tornado")
    fig, ax = _axes(ax, (10, 0.45 * max(len(tornado), 4) + 1.5))
    label = "NPV (USD)" if metric == "npv" else "ROI (%)"
    title = f"Sensitivity of the {label.split(' ')[0]}: each assumption over its stated range"
    if tornado.empty:
        return _no_data(ax, title, label, "assumption")
    base = tornado.attrs.get("base_npv" if metric == "npv" else "base_roi_pct")
    if base is None:
        base = float(np.median(np.r_[tornado[lo_c].to_numpy(), tornado[hi_c].to_numpy()]))
    y = np.arange(len(tornado))[::-1]
    lo, hi = tornado[lo_c].to_numpy(dtype="float64"), tornado[hi_c].to_numpy(dtype="float64")
    ax.barh(y, lo - base, left=base, color="#d62728", alpha=0.8, label="low end of the range")
    ax.barh(y, hi - base, left=base, color="#2ca02c", alpha=0.8, label="high end of the range")
    ax.axvline(base, color="black", lw=1)
    ax.axvline(0, color="0.5", lw=0.8, ls=":")
    ax.set_yticks(y, [f"{a}  ({r})" for a, r in zip(tornado["assumption"], tornado["range"])], fontsize=8)
    ax.xaxis.set_major_formatter(_USD if metric == "npv" else FuncFormatter(lambda v, _: f"{v:,.0f} %"))
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set(title=title, xlabel=f"{label}; base case {base:,.0f}", ylabel="assumption (range)")
    ax.grid(alpha=0.3, axis="x")
    return fig


def plot_roi_distribution(simulation, *, metric: str = "roi_pct", bins: int = 60, ax: Axes | None = None) -> Figure:
    """Histogram of the Monte Carlo draws of ROI (or NPV) with P10, P50 and P90 marked.

    Parameters
    ----------
    simulation : RoiSimulation
        From :func:`analytics_lib.roi.roi_simulation` (``draws``, ``summary``, ``prob_positive``).
    metric : {"roi_pct", "npv"}
    bins : int
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.roi import roi_inputs, roi_simulation; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_roi_distribution(roi_simulation(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)))  # doctest: +SKIP
    """
    if metric not in ("roi_pct", "npv"):
        raise WorkbenchError(f"metric={metric!r} is not supported: use 'roi_pct' or 'npv'")
    draws = simulation.draws
    _require(draws, [metric], "plot_roi_distribution")
    fig, ax = _axes(ax, (10, 4.2))
    label = "ROI (%)" if metric == "roi_pct" else "NPV (USD)"
    title = f"Monte Carlo distribution of the {label.split(' ')[0]} ({len(draws):,} draws)"
    v = draws[metric].to_numpy(dtype="float64")
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return _no_data(ax, title, label, "share of draws")
    ax.hist(v, bins=bins, weights=np.full(len(v), 1 / len(v)), color="#1f77b4", alpha=0.75)
    row = simulation.summary.set_index("metric").loc[metric]
    for q, style in (("p10", ":"), ("p50", "-"), ("p90", ":")):
        ax.axvline(row[q], color="black", ls=style, lw=1.2, label=f"{q.upper()}: {row[q]:,.0f}")
    ax.axvline(0, color="#d62728", lw=1, label=f"zero; P(ROI > 0) = {simulation.prob_positive:.0%}")
    ax.xaxis.set_major_formatter(_USD if metric == "npv" else FuncFormatter(lambda x, _: f"{x:,.0f} %"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set(title=title, xlabel=label, ylabel="share of draws")
    ax.grid(alpha=0.3)
    return fig


def plot_value_by(table: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Benefits (right) and costs (left) per team or feature, with the net marked.

    Parameters
    ----------
    table : DataFrame
        ``RoiResult.by_team`` or ``.by_feature`` (``group, time_value_usd, cache_savings_usd,
        usage_spend_usd, licence_usd, fixed_usd, net_usd``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.roi import roi_inputs, roi_result; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_value_by(roi_result(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)).by_team)  # doctest: +SKIP
    """
    parts = [("time_value_usd", "time saved", "#2ca02c", 1), ("cache_savings_usd", "cache savings", "#98df8a", 1),
             ("usage_spend_usd", "LLM and metered spend", "#ff7f0e", -1), ("licence_usd", "licences", "#d62728", -1),
             ("fixed_usd", "fixed infra and one-off (allocated)", "#9467bd", -1)]
    _require(table, ["group", "net_usd"] + [c for c, *_ in parts], "plot_value_by")
    fig, ax = _axes(ax, (10, 0.5 * max(len(table), 4) + 1.5))
    title, xlabel = "Where the value comes from (observed period)", "USD (benefits right, costs left)"
    if table.empty:
        return _no_data(ax, title, xlabel, "group")
    y = np.arange(len(table))[::-1]
    pos, neg = np.zeros(len(table)), np.zeros(len(table))
    for col, name, color, sign in parts:
        v = sign * table[col].to_numpy(dtype="float64")
        left = np.where(v >= 0, pos, neg)
        ax.barh(y, v, left=left, color=color, label=name, height=0.6)
        pos, neg = np.where(v >= 0, pos + v, pos), np.where(v < 0, neg + v, neg)
    ax.scatter(table["net_usd"], y, marker="D", color="black", zorder=3, label="net")
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, table["group"].astype(str))
    ax.xaxis.set_major_formatter(_USD)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set(title=title, xlabel=xlabel, ylabel="group")
    ax.grid(alpha=0.3, axis="x")
    return fig


def plot_scenarios(scenarios: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """NPV per scenario as bars, annotated with ROI and payback.

    Parameters
    ----------
    scenarios : DataFrame
        From :func:`analytics_lib.roi.scenario_table` (``scenario, npv, roi_pct, payback_months``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.roi import roi_inputs, scenario_table; from analytics_lib.datasets import synthetic_events
    >>> fig = plot_scenarios(scenario_table(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)))  # doctest: +SKIP
    """
    _require(scenarios, ["scenario", "npv", "roi_pct", "payback_months"], "plot_scenarios")
    fig, ax = _axes(ax, (8, 4))
    title, ylabel = "Scenarios: NPV, ROI and payback", "NPV (USD)"
    if scenarios.empty:
        return _no_data(ax, title, "scenario", ylabel)
    x = np.arange(len(scenarios))
    npv = scenarios["npv"].to_numpy(dtype="float64")
    ax.bar(x, npv, color=np.where(npv >= 0, "#2ca02c", "#d62728"), width=0.6)
    for xi, (v, roi, pb) in enumerate(zip(npv, scenarios["roi_pct"], scenarios["payback_months"])):
        pay = "no payback" if pd.isna(pb) else f"payback {pb:,.1f} mo"
        ax.annotate(f"ROI {roi:,.0f} %\n{pay}", (xi, v), textcoords="offset points", xytext=(0, 4 if v >= 0 else -4),
                    ha="center", va="bottom" if v >= 0 else "top", fontsize=8)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(x, scenarios["scenario"].astype(str))
    ax.yaxis.set_major_formatter(_USD)
    ax.margins(y=0.2)
    ax.set(title=title, xlabel="scenario", ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    return fig


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
    tail : int, optional
        History steps shown before the forecast (``None``: all).
    ax : Axes, optional
        Only with a single series.

    Examples
    --------
    >>> from analytics_lib.forecast import auto_forecast  # doctest: +SKIP
    >>> fig = plot_forecast(series, auto_forecast(series, h=28).forecast)  # doctest: +SKIP
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
        fig, axes = plt.subplots(len(ids), 1, figsize=(10, 3.2 * len(ids)), squeeze=False, layout="constrained")
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
    fig, axes = plt.subplots(len(cols), 1, figsize=(10, 2.2 * len(cols)), sharex=True, squeeze=False)
    for a, c in zip(axes[:, 0], cols):
        a.plot(components["ds"], components[c], lw=1, color="tab:green" if c == "trend" else "tab:purple")
        a.set_ylabel(c)
        a.grid(alpha=0.3)
    _date_axis(axes[-1, 0])
    axes[0, 0].set_title("Fitted components", loc="left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Anomalies and drill-downs (analytics_lib.anomaly)
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
        A detector's result (:mod:`analytics_lib.anomaly`): ``timestamp, metric, observed,
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
    >>> from analytics_lib import kpi_table; from analytics_lib.anomaly import detect_anomalies
    >>> from analytics_lib.datasets import synthetic_events
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
        fig, grid = plt.subplots(len(metrics), 1, figsize=(11, 2.8 * len(metrics) + 0.6), sharex=True,
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
        From :func:`analytics_lib.anomaly.drill_down`.
    top : int
        Segments drawn (the largest contributions).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.anomaly import drill_down; from analytics_lib.datasets import synthetic_events
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
    colors = ["#d62728" if s == chosen else "#9e9e9e" for s in rows["segment"]]
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


__all__ += ["plot_anomalies", "plot_attribution"]


# ============================================================================================
# User-level predictions (analytics_lib.predict results)
__all__ += ["plot_reliability", "plot_drivers", "plot_partial_dependence"]

_MODEL_LABELS = {"churn_probability": "churn model (calibrated)", "recency_rule": "recency rule (baseline)"}


def plot_reliability(reliability: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Reliability curve: mean predicted churn probability against the observed churn rate, per bin.

    Points on the diagonal are calibrated; the vertical bars are the 95 % intervals of the
    observed rate, and the marker area grows with the users in the bin.

    Parameters
    ----------
    reliability : DataFrame
        From :func:`analytics_lib.predict.reliability_table` (``model, mean_predicted,
        observed_rate, users, ci_low, ci_high``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.predict import reliability_table
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
    for (name, g), color in zip(reliability.groupby("model", sort=False), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
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
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), layout="constrained", squeeze=False)
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
