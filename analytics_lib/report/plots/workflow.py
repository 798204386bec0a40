"""Plots of workflow analyses: KPI trends, heatmaps, funnels, transitions, bottlenecks, retention, cost.
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.report.plots.colors import BAD, CYCLE, GOOD
from analytics_lib.report.plots.style import (
    DEFAULT_KPIS, KPI_LABELS, _COUNT, _LIFECYCLE_COLORS, _SEVERITY_COLORS, _USD, _axes, _date_axis,
    _format_value_axis, _no_data, _require, _seconds, _short_count, _subplots, _text_color, _type_order)


# --------------------------------------------------------------------------------------------
def plot_kpi_trends(kpis: pd.DataFrame, *, metrics: Sequence[str | Sequence[str]] = DEFAULT_KPIS,
                    ax: Sequence[Axes] | None = None) -> Figure:
    """Small multiples of KPIs over time, one panel per metric.

    Parameters
    ----------
    kpis : DataFrame
        From :func:`analytics_lib.kpi_table` (indexed by ``period``). With a ``coverage``
        column (:func:`analytics_lib.mark_partial`), partial periods are shaded and drawn with
        hollow markers, and a legend says why.
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
    >>> from analytics_lib import kpi_table; from analytics_lib import synthetic_events
    >>> fig = plot_kpi_trends(kpi_table(synthetic_events(20_000, seed=0).events, granularity="W"))  # doctest: +SKIP
    """
    panels = [[m] if isinstance(m, str) else list(m) for m in metrics]
    if not panels:
        raise WorkbenchError("plot_kpi_trends: metrics is empty; name at least one KPI column")
    _require(kpis, [c for p in panels for c in p], "plot_kpi_trends")
    if ax is None:
        ncols = 1 if len(panels) == 1 else 2
        nrows = math.ceil(len(panels) / ncols)
        fig, grid = _subplots(nrows, ncols, figsize=(6.2 * ncols, 2.6 * nrows + 0.6), sharex=True,
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
    partial = _partial_spans(kpis)
    for a, cols in zip(axes, panels):
        labels = [KPI_LABELS.get(c, (c, c, "number")) for c in cols]
        title = labels[0][0] if len(cols) == 1 else " / ".join(lab[0] for lab in labels)
        xlabel = "period start (UTC)" if id(a) in bottom else ""
        if kpis.empty or kpis[cols].isna().all().all():
            _no_data(a, title, xlabel, labels[0][1])
            continue
        for lo, hi in partial:
            a.axvspan(lo, hi, facecolor="#bbbbbb", alpha=0.35, hatch="//", edgecolor="#777777", linewidth=0, zorder=0)
        for c, lab in zip(cols, labels):
            y = kpis[c].astype("float64")
            line, = a.plot(x, y, marker="o" if len(x) <= 40 else None, markersize=3, linewidth=1.6, label=lab[0])
            if partial:  # partial periods: hollow markers on the shaded span
                cut = kpis["coverage"].to_numpy(dtype="float64") < 1 - 1e-9
                a.plot(x[cut], y[cut], linestyle="none", marker="o", markersize=6, markerfacecolor="white",
                       markeredgecolor=line.get_color(), markeredgewidth=1.4, zorder=3)
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
    if partial:
        fig.legend(handles=[Patch(facecolor="#bbbbbb", alpha=0.35, hatch="//", edgecolor="#777777",
                                  label="partial period (only partly covered: counts not comparable)")],
                   loc="outside lower center" if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
                   else "lower center", fontsize=8, frameon=False)
    return fig


def _partial_spans(kpis: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The span to shade (centred on the period's point) of each period whose ``coverage`` is below 1."""
    if "coverage" not in kpis or kpis.empty:
        return []
    idx = pd.DatetimeIndex(kpis.index)
    step = (idx[1:] - idx[:-1]).min() if len(idx) > 1 else pd.Timedelta(days=1)
    cover = kpis["coverage"].to_numpy(dtype="float64")
    return [(p - step / 2, p + step / 2) for p, c in zip(idx, cover) if c < 1 - 1e-9]


def plot_activity_heatmap(table: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Heatmap of event counts by weekday (rows) and UTC hour (columns).

    Parameters
    ----------
    table : DataFrame
        From :func:`analytics_lib.analysis.workflow.experience.weekday_hour_table` (7 x 24 counts).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib.analysis.workflow.experience import weekday_hour_table
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
    >>> from analytics_lib import funnel_table; from analytics_lib import synthetic_events
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
    >>> from analytics_lib import transition_table; from analytics_lib import synthetic_events
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
    >>> from analytics_lib import bottleneck_table; from analytics_lib import synthetic_events
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
    >>> from analytics_lib import retention_matrix; from analytics_lib import synthetic_events
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
    >>> from analytics_lib import lifecycle_table; from analytics_lib import synthetic_events
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
    >>> from analytics_lib import activity_histogram; from analytics_lib import synthetic_events
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
    ax.bar(histogram["active_days"], histogram["users"], color=np.where(power, BAD, GOOD), width=0.8)
    handles = [Patch(color=GOOD, label="users")]
    if power.any():
        handles.append(Patch(color=BAD, label="power users (at or above the\n90th percentile of active days)"))
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
    >>> from analytics_lib import metric_table; from analytics_lib import synthetic_events
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
    colors = [CYCLE[j % len(CYCLE)] for j in range(wide.shape[1])]
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
        :func:`analytics_lib.analysis.workflow.experience.session_latency_satisfaction`.
    stats : DataFrame, optional
        From :func:`analytics_lib.satisfaction_vs_performance`; its overall latency row is
        printed in the corner (r, rho, slope, sessions).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib.analysis.workflow.experience import session_latency_satisfaction
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
