"""KPIs per period: events, users, sessions, rates, latency quantiles, cost (``kpi_table``),
DAU/WAU/MAU and stickiness (``active_users``), any metric by any dimension (``metric_table``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analytics_lib.analysis.workflow.sessions import sessionize
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import (US_PER_S, TimeWindow, check_granularity, epoch_micros, period_index,
                                          period_start)


#: Event types that are LLM requests (for error rate and cost per request).
REQUEST_TYPES = ("generation", "error")
#: Event types whose latency is the assistant's response time (``test_run`` is the developer's own test time).
RESPONSE_TYPES = ("search", "cache_query", "generation", "error")


def latency_quantiles(values: pd.Series, keys: pd.Series, qs: tuple[float, ...]) -> pd.DataFrame:
    """Quantiles of ``values`` per key, one column per quantile (linear interpolation).

    Parameters
    ----------
    values : Series
        The values (e.g. ``latency_ms``); missing ones are skipped.
    keys : Series
        The group of each value (e.g. its period), aligned with ``values``.
    qs : tuple of float
        The quantiles, from 0 to 1 (``(0.5, 0.95, 0.99)``).

    Returns
    -------
    DataFrame
        Index: the keys that have values; columns: ``qs``, in order (all present even
        when there are no values).
    """
    ok = values.notna().to_numpy()
    # .array keeps tz-aware keys typed (to_numpy() would make an object array of Timestamps)
    frame = pd.DataFrame({"k": keys[ok].array, "v": values[ok].to_numpy()})
    # reindex: with no values at all, unstack() would return no columns
    return frame.groupby("k", observed=True)["v"].quantile(list(qs)).unstack().reindex(columns=list(qs))


def kpi_table(events: pd.DataFrame, *, granularity: str = "D",
              latency_types: tuple[str, ...] | None = RESPONSE_TYPES) -> pd.DataFrame:
    """Key usage, quality and cost figures per period, with empty periods filled.

    Definitions (all periods are UTC; ``W`` weeks start on Monday, ``M`` is the calendar month):

    - ``events``: events in the period; ``active_users``: distinct users with at least one
      event; ``sessions``: distinct sessions with an event in the period (``session_id``, or
      derived by :func:`sessionize` where absent);
    - ``events_per_user``, ``sessions_per_user``: the above divided by ``active_users``;
    - ``cache_hit_rate``: ``cache_query`` events with ``cache_hit`` true / those with
      ``cache_hit`` known;
    - ``error_rate``: ``error`` events / LLM requests (``generation`` + ``error`` events);
    - ``latency_p50/p95/p99``: linear-interpolated percentiles of ``latency_ms`` over the
      events of ``latency_types`` that have one (default: the assistant's responses,
      ``RESPONSE_TYPES``; ``None`` for all events);
    - ``tokens_in``, ``tokens_out``, ``cost_usd``: sums; ``accepts``: ``accept`` events;
      ``cost_per_accept``: ``cost_usd / accepts``;
    - ``satisfaction``: mean of the scores given;
    - ``stickiness``: mean daily active users over the period's days / the period's active
      users (1.0 for ``D``; DAU/WAU for ``W``, DAU/MAU for ``M``). Only days between the
      first and the last day with data count, so partial edge periods are not diluted.

    A period with no events has zero counts and NaN rates (never skipped).

    Parameters
    ----------
    events : DataFrame
        Validated events.
    granularity : {"D", "W", "M"}
    latency_types : tuple of str or None
        Event types whose ``latency_ms`` enters the latency percentiles.

    Returns
    -------
    DataFrame
        One row per period, indexed by ``period`` (UTC period start).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> kpi_table(synthetic_events(20_000, seed=0).events, granularity="W").columns[:3].tolist()
    ['events', 'active_users', 'sessions']
    """
    g = check_granularity(granularity)
    if events.empty:
        return pd.DataFrame(columns=KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    if events[S.SESSION_ID].isna().any():  # same sessions as session_table and the funnels
        events = sessionize(events)
    period = period_start(events[S.TS], g)
    et = events[S.EVENT_TYPE]  # compared as it is: no string copy of a categorical
    is_cache_q = (et == "cache_query") & events[S.CACHE_HIT].notna()
    frame = pd.DataFrame({
        "period": period,
        "user": events[S.USER_ID].cat.codes if isinstance(events[S.USER_ID].dtype, pd.CategoricalDtype) else events[S.USER_ID],
        "session": events[S.SESSION_ID],
        "cache_q": is_cache_q,
        "cache_hit": is_cache_q & events[S.CACHE_HIT].fillna(False).astype(bool),
        "error": et == "error",
        "request": et.isin(REQUEST_TYPES),
        "accept": et == "accept",
        "tokens_in": events[S.TOKENS_IN].astype("float64"),
        "tokens_out": events[S.TOKENS_OUT].astype("float64"),
        "cost_usd": events[S.COST_USD],
        "satisfaction": events[S.SATISFACTION],
    })
    grp = frame.groupby("period", sort=True)
    out = pd.DataFrame({
        "events": grp.size(),
        "active_users": grp["user"].nunique(),
        "sessions": grp["session"].nunique(),
    })
    sums = grp[["cache_q", "cache_hit", "error", "request", "accept", "tokens_in", "tokens_out", "cost_usd"]].sum(min_count=0)
    out["events_per_user"] = out["events"] / out["active_users"]
    out["sessions_per_user"] = out["sessions"] / out["active_users"]
    out["cache_hit_rate"] = sums["cache_hit"] / sums["cache_q"].where(sums["cache_q"] > 0)
    out["error_rate"] = sums["error"] / sums["request"].where(sums["request"] > 0)
    latency = events[S.LATENCY_MS] if latency_types is None else events[S.LATENCY_MS].where(et.isin(latency_types))
    lat = latency_quantiles(latency, period, (0.5, 0.95, 0.99))
    lat.columns = ["latency_p50", "latency_p95", "latency_p99"]
    out = out.join(lat)
    out["tokens_in"], out["tokens_out"] = sums["tokens_in"], sums["tokens_out"]
    out["cost_usd"] = sums["cost_usd"]
    out["accepts"] = sums["accept"].astype("int64")
    out["cost_per_accept"] = out["cost_usd"] / out["accepts"].where(out["accepts"] > 0)
    out["satisfaction"] = grp["satisfaction"].mean()
    full = period_index(out.index.min(), out.index.max(), g)
    out = out.reindex(full)
    daily = frame.groupby(period_start(events[S.TS], "D"))["user"].nunique()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max(), freq="D"), fill_value=0)
    mean_dau = daily.groupby(period_start(pd.Series(daily.index), g).to_numpy()).mean()
    out["stickiness"] = mean_dau.reindex(full).to_numpy() / out["active_users"].where(out["active_users"] > 0)
    counts = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
    out[counts] = out[counts].fillna(0)
    for c in ("events", "active_users", "sessions", "accepts"):
        out[c] = out[c].astype("int64")
    return out[KPI_COLUMNS]


def mark_partial(kpis: pd.DataFrame, granularity: str, *, window: TimeWindow | None = None, first=None, last=None,
                 as_of=None) -> pd.DataFrame:
    """A KPI table with a ``coverage`` column: the share of each period the figures cover.

    Periods cut by the window, by the data's first or last day or by ``as_of`` (a period still
    filling up) have a coverage below 1 and are *partial*: tables, charts
    (:func:`~analytics_lib.report.plots.workflow.plot_kpi_trends`) and narratives
    (:func:`~analytics_lib.report.narrative.workflow.kpi_summary`) mark them, so that a week of
    two days is not read as a collapse. Definition: :func:`analytics_lib.core.timewindow.period_coverage`.

    Parameters
    ----------
    kpis : DataFrame
        Indexed by period start (:func:`kpi_table`).
    granularity : {"D", "W", "M"}
        The table's granularity.
    window : TimeWindow, optional
        The window the events were loaded for.
    first, last : Timestamp, optional
        The first and last event of the data (for events sorted by time: the first and last ``ts``).
    as_of : Timestamp, optional
        The time of the run (``pd.Timestamp.now(tz="UTC")`` for a live command).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=28, end="2025-06-25", seed=0).events
    >>> k = mark_partial(kpi_table(ev, granularity="W"), "W", first=ev["ts"].min(), last=ev["ts"].max())
    >>> k["coverage"].round(2).tolist()
    [0.71, 1.0, 1.0, 1.0, 0.29]
    """
    from analytics_lib.core.timewindow import period_coverage

    out = kpis.copy()
    out["coverage"] = period_coverage(kpis.index, granularity, window=window, first=first, last=last,
                                      as_of=as_of).to_numpy()
    return out


KPI_COLUMNS = ["events", "active_users", "sessions", "events_per_user", "sessions_per_user", "cache_hit_rate",
                "error_rate", "latency_p50", "latency_p95", "latency_p99", "tokens_in", "tokens_out", "cost_usd",
                "accepts", "cost_per_accept", "satisfaction", "stickiness"]


# ============================================================================================
# KPIs: active users and a general metric query
def active_users(events: pd.DataFrame, *, windows: Sequence[int] = (1, 7, 28)) -> pd.DataFrame:
    """Daily active users over trailing windows (DAU, WAU, MAU) and stickiness.

    For each UTC day from the first to the last day with events (days without events
    included), ``active_<n>d`` counts distinct users with at least one event in the ``n`` days
    ending that day. With the default windows the columns are named ``dau``, ``wau``, ``mau``,
    and ``stickiness = dau / mau`` (on days where ``mau`` > 0). Trailing windows that reach
    before the first day only see the data given (the first days under-count; a report
    should start at least ``max(windows)`` days after the data does).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> au = active_users(synthetic_events(20_000, days=35, seed=0).events)
    >>> bool((au["dau"] <= au["wau"]).all() and (au["wau"] <= au["mau"]).all())
    True
    """
    if events.empty:
        return pd.DataFrame(columns=["dau", "wau", "mau", "stickiness"],
                            index=pd.DatetimeIndex([], tz="UTC", name="day"), dtype="float64")
    day = epoch_micros(events[S.TS]) // (86_400 * US_PER_S)
    user, _ = pd.factorize(events[S.USER_ID].astype(str), sort=False)
    pairs = np.unique(day.astype(np.int64) * (int(user.max()) + 1 if len(user) else 1) + user)
    nu = int(user.max()) + 1 if len(user) else 1
    d, u = pairs // nu, pairs % nu
    lo, hi = int(d.min()), int(d.max())
    days = pd.date_range(pd.Timestamp(lo, unit="D", tz="UTC"), pd.Timestamp(hi, unit="D", tz="UTC"), freq="D", name="day")
    out = pd.DataFrame(index=days)
    names = {1: "dau", 7: "wau", 28: "mau"}
    for w in windows:
        # a user active on day d counts on days d .. d+w-1: expand, de-duplicate, count
        shift = np.repeat(np.arange(w), len(d))
        dd = np.tile(d, w) + shift
        key = np.unique(dd * nu + np.tile(u, w))
        counts = np.bincount(key // nu - lo, minlength=hi - lo + w)[: hi - lo + 1]
        out[names.get(w, f"active_{w}d")] = counts
    if {"dau", "mau"} <= set(out.columns):
        out["stickiness"] = out["dau"] / out["mau"].where(out["mau"] > 0)
    return out


AGGREGATIONS = ("sum", "mean", "count", "min", "max", "nunique", "p50", "p95", "p99")


def metric_table(events: pd.DataFrame, metric: str = "events", *, agg: str = "sum", granularity: str = "D",
                 by: str | Sequence[str] | None = None, filters: dict | None = None) -> pd.DataFrame:
    """A general metric query: one metric, aggregated per period (and group), periods filled.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    metric : str
        A column (``cost_usd``, ``latency_ms``, ``tokens_out``, ``satisfaction``...) or
        ``"events"`` (count of events), ``"users"`` (distinct users), ``"sessions"``
        (distinct sessions).
    agg : str
        One of ``sum, mean, count, min, max, nunique, p50, p95, p99`` (ignored for the
        counting metrics). Percentiles interpolate linearly.
    granularity : {"D", "W", "M"}
    by : str or list of str, optional
        Group columns (``team``, ``model``, ``feature``, ``event_type``...).
    filters : dict, optional
        ``{column: value or list of values}`` applied before aggregating.

    Returns
    -------
    DataFrame
        Long format: ``period, [by...], value``. Every period between the first and last
        event appears for every group: counts and sums are 0 there, other aggregates NaN.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(20_000, days=28, seed=0).events
    >>> metric_table(ev, "cost_usd", by="model", granularity="W").columns.tolist()
    ['period', 'model', 'value']
    """
    g = check_granularity(granularity)
    if agg not in AGGREGATIONS:
        raise WorkbenchError(f"agg={agg!r} is not supported: use one of {', '.join(AGGREGATIONS)}")
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    for c in by + list(filters or {}):
        if c not in events.columns:
            raise WorkbenchError(f"metric_table: {c!r} is not a column of the events")
    counting = {"events": "size", "users": S.USER_ID, "sessions": S.SESSION_ID}
    if metric not in counting and metric not in events.columns:
        raise WorkbenchError(f"metric={metric!r} is neither a column nor one of {', '.join(counting)}")
    ev = events
    for c, v in (filters or {}).items():
        values = v if isinstance(v, (list, tuple, set)) else [v]
        ev = ev[ev[c].astype(str).isin([str(x) for x in values])]
    all_periods = period_index(period_start(events[S.TS], g).min(), period_start(events[S.TS], g).max(), g) \
        if len(events) else pd.DatetimeIndex([], tz="UTC", name="period")
    frame = pd.DataFrame({"period": period_start(ev[S.TS], g)})
    for c in by:
        frame[c] = ev[c].astype(str).to_numpy()
    keys = ["period"] + by
    # dropna=False: events whose group value is missing form their own group (as SQL's GROUP BY
    # does); with the default they were dropped here but their group still appeared, filled with 0
    if metric == "events":
        val, fill = frame.groupby(keys, dropna=False).size(), 0
    elif metric in counting:
        frame["v"] = ev[counting[metric]].astype(str).to_numpy()
        val, fill = frame.groupby(keys, dropna=False)["v"].nunique(), 0
    else:
        frame["v"] = ev[metric].astype("float64").to_numpy() if ev[metric].dtype != object else ev[metric]
        grp = frame.groupby(keys, dropna=False)["v"]
        if agg.startswith("p"):
            val = grp.quantile(int(agg[1:]) / 100)
        else:
            val = getattr(grp, agg)()
        fill = 0 if agg in ("sum", "count", "nunique") else np.nan
    val = val.rename("value")
    if by:
        groups = frame[by].drop_duplicates().sort_values(by)
        full = pd.MultiIndex.from_frame(pd.merge(pd.DataFrame({"period": all_periods}), groups, how="cross"))
    else:
        full = pd.Index(all_periods, name="period")
    out = val.reindex(full, fill_value=fill).reset_index()
    return out.sort_values(keys, kind="stable").reset_index(drop=True)
