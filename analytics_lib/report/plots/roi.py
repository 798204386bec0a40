"""Plots of the ROI: cash flows, tornado, Monte Carlo distribution, value by group, scenarios.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.report.plots.colors import BAD, GOOD, OKABE_ITO
from analytics_lib.report.plots.style import _USD, _axes, _no_data, _require, money_tick


_KIND_COLORS = {"one-off": OKABE_ITO["vermillion"], "actual": OKABE_ITO["blue"], "mixed": OKABE_ITO["sky_blue"],
                "forecast": "#B9DDF2"}


def _frame_of(result, attr: str) -> pd.DataFrame:
    return getattr(result, attr) if hasattr(result, attr) else result


def plot_cashflows(result, *, ax: Axes | None = None) -> Figure:
    """Monthly net cash flow as bars (coloured by actual / forecast) and the cumulative net as a line.

    Parameters
    ----------
    result : RoiResult or DataFrame
        From :func:`analytics_lib.analysis.roi.result.roi_result`, or its ``cashflows`` frame (``month, kind,
        net_usd, cumulative_net_usd``). With a result, the payback month is marked.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import roi_result, synthetic_events
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
        ax.axvline(payback, color=OKABE_ITO["bluish_green"], ls="--", lw=1.5, label=f"payback: {payback:,.1f} months")
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
        From :func:`analytics_lib.analysis.roi.result.tornado_table` (``assumption, range, npv_low, npv_high,
        roi_low_pct, roi_high_pct``; the base case in ``attrs``), in its order (largest swing on top).
    metric : {"npv", "roi"}
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import tornado_table, synthetic_events
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
    ax.barh(y, lo - base, left=base, color=BAD, alpha=0.8, label="low end of the range")
    ax.barh(y, hi - base, left=base, color=GOOD, alpha=0.8, label="high end of the range")
    ax.axvline(base, color="black", lw=1)
    ax.axvline(0, color="0.5", lw=0.8, ls=":")
    ax.set_yticks(y, [f"{a}  ({r})" for a, r in zip(tornado["assumption"], tornado["range"])], fontsize=8)
    ax.xaxis.set_major_formatter(_USD if metric == "npv" else FuncFormatter(lambda v, _: f"{v:,.0f} %"))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))  # labels that never run into each other
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    shown = money_tick(base) if metric == "npv" else f"{base:,.0f} %"
    ax.set(title=title, xlabel=f"{label}; base case {shown}", ylabel="assumption (range)")
    ax.grid(alpha=0.3, axis="x")
    return fig


def plot_roi_distribution(simulation, *, metric: str = "roi_pct", bins: int = 60, ax: Axes | None = None) -> Figure:
    """Histogram of the Monte Carlo draws of ROI (or NPV) with P10, P50 and P90 marked.

    Parameters
    ----------
    simulation : RoiSimulation
        From :func:`analytics_lib.analysis.roi.simulation.roi_simulation` (``draws``, ``summary``, ``prob_positive``).
    metric : {"roi_pct", "npv"}
    bins : int
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import roi_simulation, synthetic_events
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
    ax.axvline(0, color=BAD, lw=1, label=f"zero; P(ROI > 0) = {simulation.prob_positive:.0%}")
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
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import roi_result, synthetic_events
    >>> fig = plot_value_by(roi_result(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)).by_team)  # doctest: +SKIP
    """
    o = OKABE_ITO  # benefits in blues, costs in orange, vermillion and purple
    parts = [("time_value_usd", "time saved", o["blue"], 1), ("cache_savings_usd", "cache savings", o["sky_blue"], 1),
             ("usage_spend_usd", "LLM and metered spend", o["orange"], -1), ("licence_usd", "licences", o["vermillion"], -1),
             ("fixed_usd", "fixed infra and one-off (allocated)", o["reddish_purple"], -1)]
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
        From :func:`analytics_lib.analysis.roi.simulation.scenario_table` (``scenario, npv, roi_pct, payback_months``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import scenario_table, synthetic_events
    >>> fig = plot_scenarios(scenario_table(roi_inputs(synthetic_events(3_000, days=28, seed=0).events)))  # doctest: +SKIP
    """
    _require(scenarios, ["scenario", "npv", "roi_pct", "payback_months"], "plot_scenarios")
    fig, ax = _axes(ax, (8, 4))
    title, ylabel = "Scenarios: NPV, ROI and payback", "NPV (USD)"
    if scenarios.empty:
        return _no_data(ax, title, "scenario", ylabel)
    x = np.arange(len(scenarios))
    npv = scenarios["npv"].to_numpy(dtype="float64")
    ax.bar(x, npv, color=np.where(npv >= 0, GOOD, BAD), width=0.6)
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
