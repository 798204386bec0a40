"""The overview dashboard's view: KPI tiles with their change against the previous period, KPIs by
period and the funnel, computed from the overview mart for given dates and team.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.analysis.workflow.kpis import KPI_COLUMNS, mark_partial
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import TimeWindow, check_granularity
from analytics_lib.dashboards.marts import KPI_FORMATS, OVERVIEW_KPIS, OverviewMart
from analytics_lib.dashboards.published import DashboardData
from analytics_lib.dashboards.views.common import (
    _day_text,
    _mart,
    _period_key,
    _rows,
    _team_filter,
    dashboard_window,
    format_kpi,
    kpi_change,
)


def _kpis(mart: OverviewMart, window: TimeWindow | None, team: str | None, granularity: str | None) -> pd.DataFrame:
    d = mart.daily[_rows(mart.daily, window, team)]
    sums = d.drop(columns=["day", "team"]).groupby(_period_key(d["day"], granularity)).sum(min_count=0)
    u = mart.user_days[_rows(mart.user_days, window, team)]
    s = mart.session_days[_rows(mart.session_days, window, team)]
    lat = mart.latency[_rows(mart.latency, window, team)]
    out = pd.DataFrame(index=sums.index)
    out["events"] = sums["events"]
    out["active_users"] = u["user"].groupby(_period_key(u["day"], granularity)).nunique()
    out["sessions"] = s["session"].groupby(_period_key(s["day"], granularity)).nunique()
    out["events_per_user"] = out["events"] / out["active_users"]
    out["sessions_per_user"] = out["sessions"] / out["active_users"]
    out["cache_hit_rate"] = sums["cache_hits"] / sums["cache_queries"].where(sums["cache_queries"] > 0)
    out["error_rate"] = sums["errors"] / sums["requests"].where(sums["requests"] > 0)
    if len(lat):
        q = lat["latency_ms"].groupby(_period_key(lat["day"], granularity)).quantile([0.5, 0.95, 0.99]).unstack() \
            .reindex(columns=[0.5, 0.95, 0.99])
    else:
        q = pd.DataFrame(columns=[0.5, 0.95, 0.99], dtype="float64")
    out["latency_p50"], out["latency_p95"], out["latency_p99"] = q[0.5], q[0.95], q[0.99]
    out["tokens_in"], out["tokens_out"], out["cost_usd"] = sums["tokens_in"], sums["tokens_out"], sums["cost_usd"]
    out["accepts"] = sums["accepts"]
    out["cost_per_accept"] = out["cost_usd"] / out["accepts"].where(out["accepts"] > 0)
    out["satisfaction"] = sums["satisfaction_sum"] / sums["satisfaction_n"].where(sums["satisfaction_n"] > 0)
    # stickiness as kpi_table defines it: mean daily active users over the period's days (between the
    # first and the last day with data) / the period's active users
    dau = u.groupby(u["day"])["user"].nunique()
    if len(dau):
        dau = dau.reindex(pd.date_range(dau.index.min(), dau.index.max(), freq="D"), fill_value=0)
        mean_dau = pd.Series(dau.to_numpy(dtype="float64")).groupby(
            _period_key(pd.Series(dau.index), granularity)).mean()
        out["stickiness"] = mean_dau.reindex(out.index).to_numpy() / out["active_users"].where(out["active_users"] > 0)
    else:
        out["stickiness"] = np.nan
    return out


def _fill_counts(out: pd.DataFrame) -> pd.DataFrame:
    counts = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
    out[counts] = out[counts].fillna(0)
    for c in ("events", "active_users", "sessions", "accepts"):
        out[c] = out[c].astype("int64")
    return out[KPI_COLUMNS]


@renamed(window='dates')
def mart_kpis(data: DashboardData | OverviewMart, *, dates: TimeWindow | None = None, team: str | None = None,
              granularity: str = "D") -> pd.DataFrame:
    """KPIs per period from the mart: the columns of :func:`analytics_lib.kpi_table` but
    ``stickiness``, equal to ``kpi_table`` on the events of that window and team.

    Parameters
    ----------
    data : DashboardData or OverviewMart
    dates : TimeWindow, optional
        Whole UTC days (:func:`dashboard_window`); None: all the data.
    team : str, optional
        One team; None: all.
    granularity : {"D", "W", "M"}

    Returns
    -------
    DataFrame
        Indexed by ``period`` (UTC period start), every period from the first to the last
        with events (zero counts and NaN rates in between).

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import overview_mart
    >>> from analytics_lib import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> mart_kpis(mart, granularity="W").index.day_of_week.unique().tolist()
    [0]
    """
    from analytics_lib.core.timewindow import period_index

    mart = _mart(data, OverviewMart)
    g = check_granularity(granularity)
    if not _rows(mart.daily, dates, team).any():
        return pd.DataFrame(columns=KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    out = _kpis(mart, dates, team, g)
    out.index = pd.DatetimeIndex(out.index).tz_localize("UTC")
    out = _fill_counts(out.reindex(period_index(out.index.min(), out.index.max(), g)))
    out.index.name = "period"
    return out


@renamed(window='dates')
def kpi_totals(data: DashboardData | OverviewMart, *, dates: TimeWindow, team: str | None = None) -> pd.Series:
    """The KPIs of one window taken as a single period (distinct users and sessions over the
    whole window, percentiles over all its latencies).

    Parameters
    ----------
    data : DashboardData or OverviewMart
        The overview's mart.
    dates : TimeWindow
        Whole UTC days (:func:`dashboard_window`); an open side takes all the data on that side.
    team : str, optional
        One team; None (default): all.

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import overview_mart
    >>> from analytics_lib import synthetic_events
    >>> events = synthetic_events(3_000, days=28, seed=0).events
    >>> int(kpi_totals(overview_mart(events, insights=False), dates=TimeWindow(None, None))["events"]) == len(events)
    True
    """
    mart = _mart(data, OverviewMart)
    return _fill_counts(_kpis(mart, dates, team, None).reindex([0])).iloc[0]


def kpi_tiles(current: pd.Series, previous: pd.Series | None = None, *,
              kpis: Sequence[str] = OVERVIEW_KPIS, partial: str = "") -> pd.DataFrame:
    """Tiles of KPIs with their change against the previous period.

    Parameters
    ----------
    current : Series
        KPI values by name for the window shown (e.g. :func:`kpi_totals`); a missing KPI is NaN.
    previous : Series, optional
        The same for the previous period; None (default): no change is shown.
    kpis : sequence of str
        The KPIs, one tile each, in order (default ``OVERVIEW_KPIS``); a KPI not in
        ``KPI_FORMATS`` is shown as a plain number under its own name.
    partial : str
        Non-empty when the data covers only part of the window or of the previous period
        (e.g. ``"partial: data on 9 of 14 days"``): the change of a count or a cost is then
        shown with this note and a neutral tone (sums over fewer days are not comparable);
        rates, percentiles and scores keep theirs.

    Returns
    -------
    DataFrame
        One row per KPI: ``kpi, label, kind, value, previous, change, text, change_text,
        tone`` (``good``, ``bad`` or ``neutral``, from the direction that is good for the KPI).

    Examples
    --------
    >>> t = kpi_tiles(pd.Series({"active_users": 110, "cost_usd": 90.0}), pd.Series({"active_users": 100,
    ...               "cost_usd": 100.0}), kpis=["active_users", "cost_usd"])
    >>> t[["text", "change_text", "tone"]].values.tolist()
    [['110', '+10.0% vs previous period', 'good'], ['$90.00', '-10.0% vs previous period', 'neutral']]
    """
    rows = []
    for k in kpis:
        label, kind, up_good = KPI_FORMATS.get(k, (k, "number", None))
        value = current.get(k, np.nan)
        prev = previous.get(k, np.nan) if previous is not None else np.nan
        change, text = kpi_change(value, prev, kind)
        cut = bool(partial) and kind in ("count", "usd")
        tone = "neutral" if cut or up_good is None or not np.isfinite(change) or change == 0 else \
            ("good" if (change > 0) == up_good else "bad")
        note = (" vs previous period" + (f" ({partial})" if cut else "")) if np.isfinite(change) else ""
        rows.append({"kpi": k, "label": label, "kind": kind, "value": value, "previous": prev, "change": change,
                     "text": format_kpi(value, kind), "change_text": text + note, "tone": tone})
    return pd.DataFrame(rows)


@renamed(window='dates')
def mart_funnel(data: DashboardData | OverviewMart, *, dates: TimeWindow | None = None,
                team: str | None = None) -> pd.DataFrame:
    """The session funnel of the sessions that start in the window (and team).

    Counts add up over days and teams, so over the whole data (or one team) this equals
    :func:`analytics_lib.funnel_table` with ``unit="session"`` on those events;
    ``median_time_s`` is not additive and is left NaN.

    Parameters
    ----------
    data : DashboardData or OverviewMart
        The overview's mart.
    dates : TimeWindow, optional
        Whole UTC days (:func:`dashboard_window`); None (default): all the data.
    team : str, optional
        One team; None (default): all.

    Returns
    -------
    DataFrame
        ``step, step_name, entities, conversion, step_conversion, drop_off, median_time_s``.

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import overview_mart
    >>> from analytics_lib import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> mart_funnel(mart)["step"].tolist()
    [1, 2, 3, 4, 5, 6]
    """
    mart = _mart(data, OverviewMart)
    f = mart.funnel[_rows(mart.funnel, dates, team)]
    steps = mart.funnel.drop_duplicates("step").sort_values("step")[["step", "step_name"]]
    counts = f.groupby("step")["entities"].sum().reindex(steps["step"], fill_value=0).to_numpy(dtype="int64")
    base = counts[0] if len(counts) else 0
    prev = np.concatenate([[base], counts[:-1]]) if len(counts) else counts
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(base > 0, counts / max(base, 1), np.nan)
        step_conv = np.where(prev > 0, counts / np.maximum(prev, 1), np.nan)
    return pd.DataFrame({"step": steps["step"].to_numpy(), "step_name": steps["step_name"].to_numpy(),
                         "entities": counts, "conversion": conv, "step_conversion": step_conv,
                         "drop_off": 1 - step_conv, "median_time_s": np.nan})


def _covered_days(window: TimeWindow, mart: OverviewMart) -> int:
    """Days of ``window`` between the data's first and last day (both included)."""
    lo = max(window.start, mart.first_day)
    hi = min(window.end, mart.last_day + pd.Timedelta(days=1))
    return max(0, (hi - lo).days)


@dataclass(frozen=True)
class OverviewView:
    """Everything the workflow overview shows for one set of control values.

    Attributes
    ----------
    window, previous : TimeWindow
        The selected days and the same number of days just before.
    team : str or None
    granularity : str
    tiles : DataFrame
        :func:`kpi_tiles` of the window against the previous one.
    kpis : DataFrame
        :func:`mart_kpis` per period, with ``coverage`` (:func:`analytics_lib.mark_partial`:
        the chart shades the periods the window or the data covers only in part).
    funnel : DataFrame
        :func:`mart_funnel`.
    bottlenecks : DataFrame
        The top 10 step bottlenecks (day, step, p95, ratio to the step's baseline, severity,
        hours of waiting beyond the baseline median) in the window and team.
    insights : DataFrame
        Ranked insights that overlap the window (all teams).
    summary : str
        One sentence on what is shown.
    """

    window: TimeWindow
    previous: TimeWindow
    team: str | None
    granularity: str
    tiles: pd.DataFrame
    kpis: pd.DataFrame
    funnel: pd.DataFrame
    bottlenecks: pd.DataFrame
    insights: pd.DataFrame
    summary: str


def overview_view(data: DashboardData | OverviewMart, *, start: Any, end: Any, team: Any = None,
                  granularity: str = "D") -> OverviewView:
    """The workflow overview for a date range (both days included), a team and a granularity.

    Parameters
    ----------
    data : DashboardData or OverviewMart
    start, end : date, str
        First and last day (dates, ISO strings or relative forms such as ``"-28d"``).
    team : str or None
        A team, or None / ``"all"`` for all teams.
    granularity : {"D", "W", "M"}
        Period of the trend chart.

    Returns
    -------
    OverviewView

    Raises
    ------
    WorkbenchError
        An empty or missing date, an unknown team or granularity, or a window without data.

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import overview_mart
    >>> from analytics_lib import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, insights=False)
    >>> v = overview_view(mart, start="2025-06-16", end="2025-06-29", team="all", granularity="W")
    >>> v.tiles["kpi"].tolist()[:2], len(v.kpis)
    (['active_users', 'sessions'], 2)
    """
    mart = _mart(data, OverviewMart)
    window = dashboard_window(start, end)
    g = check_granularity(granularity)
    t = _team_filter(team, mart.teams)
    if not _rows(mart.daily, window, t).any():
        scope = "" if t is None else f" for {t}"
        raise WorkbenchError(f"no events from {_day_text(window)}{scope}: the data covers "
                             f"{mart.first_day:%Y-%m-%d} to {mart.last_day:%Y-%m-%d}; pick dates in that range"
                             + ("" if t is None else " or another team"))
    previous = TimeWindow(window.start - (window.end - window.start), window.start)
    current = kpi_totals(mart, dates=window, team=t)
    before = kpi_totals(mart, dates=previous, team=t) if _rows(mart.daily, previous, t).any() else None
    days = (window.end - window.start).days
    covered = [_covered_days(w, mart) for w in (window, previous)]
    partial = ""
    if before is not None and min(covered) < days:
        partial = (f"partial: data on {covered[0]} of {days} days, {covered[1]} before" if covered[0] < days
                   else f"partial: data on {covered[1]} of the {days} days before")
    b = mart.bottlenecks[_rows(mart.bottlenecks.rename(columns={"period": "day"}), window, t)]
    bottlenecks = b.sort_values("rank", kind="stable").head(10).reset_index(drop=True)
    ins = mart.insights
    if len(ins) and "start" in ins:
        s, e = pd.to_datetime(ins["start"], utc=True), pd.to_datetime(ins["end"], utc=True)
        overlaps = (s.isna() | (s < window.end)) & (e.isna() | (e > window.start))
        ins = ins[overlaps.to_numpy()]
    summary = (f"{'All teams' if t is None else t}, {_day_text(window)} ({days} day{'s' if days > 1 else ''}"
               + (f", {covered[0]} with data" if covered[0] < days else "") + f"); changes are against "
               f"{_day_text(previous)}" + ("" if before is not None else " (no data then)")
               + (f" ({covered[1]} day{'s' if covered[1] != 1 else ''} with data)"
                  if before is not None and covered[1] < days else "") + ".")
    kpis = mark_partial(mart_kpis(mart, dates=window, team=t, granularity=g), g, window=window,
                        first=mart.first_day, last=mart.last_day)
    return OverviewView(window=window, previous=previous, team=t, granularity=g,
                        tiles=kpi_tiles(current, before, partial=partial), kpis=kpis,
                        funnel=mart_funnel(mart, dates=window, team=t), bottlenecks=bottlenecks,
                        insights=ins.head(10).reset_index(drop=True), summary=summary)
