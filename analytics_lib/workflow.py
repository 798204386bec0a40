"""Workflow analysis: KPIs by period (and, with the workflow issue, sessions, paths, funnels...).

All functions are pure: a validated events frame in (see ``validate_events``), a new frame out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import schema as S
from .params import check_granularity

#: Event types that are LLM requests (for error rate and cost per request).
REQUEST_TYPES = ("generation", "error")
#: Event types whose latency is the assistant's response time (``test_run`` is the developer's own test time).
RESPONSE_TYPES = ("search", "cache_query", "generation", "error")


def period_start(ts: pd.Series, granularity: str) -> pd.Series:
    """Start of the UTC period that holds each timestamp (``D`` day, ``W`` Monday, ``M`` month).

    Examples
    --------
    >>> period_start(pd.Series(pd.to_datetime(["2024-03-14 10:00"], utc=True)), "W").iloc[0]
    Timestamp('2024-03-11 00:00:00+0000', tz='UTC')
    """
    g = check_granularity(granularity)
    day = ts.dt.floor("D")
    if g == "D":
        return day
    if g == "W":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def _period_index(lo: pd.Timestamp, hi: pd.Timestamp, granularity: str) -> pd.DatetimeIndex:
    g = check_granularity(granularity)
    step = {"D": "D", "W": "7D", "M": "MS"}[g]
    return pd.date_range(lo, hi, freq=step, name="period")


def _quantiles(values: pd.Series, keys: pd.Series, qs: tuple[float, ...]) -> pd.DataFrame:
    ok = values.notna().to_numpy()
    frame = pd.DataFrame({"k": keys[ok].to_numpy(), "v": values[ok].to_numpy()})
    return frame.groupby("k", observed=True)["v"].quantile(list(qs)).unstack()


def kpi_table(events: pd.DataFrame, *, granularity: str = "D",
              latency_types: tuple[str, ...] | None = RESPONSE_TYPES) -> pd.DataFrame:
    """Key usage, quality and cost figures per period, with empty periods filled.

    Definitions (all periods are UTC; ``W`` weeks start on Monday, ``M`` is the calendar month):

    - ``events``: events in the period; ``active_users``: distinct users with at least one
      event; ``sessions``: distinct ``session_id`` values with an event in the period;
    - ``events_per_user``, ``sessions_per_user``: the above divided by ``active_users``;
    - ``cache_hit_rate``: ``cache_query`` events with ``cache_hit`` true / those with
      ``cache_hit`` known;
    - ``error_rate``: ``error`` events / LLM requests (``generation`` + ``error`` events);
    - ``latency_p50/p95/p99``: linear-interpolated percentiles of ``latency_ms`` over the
      events of ``latency_types`` that have one (default: the assistant's responses,
      ``RESPONSE_TYPES``; ``None`` for all events);
    - ``tokens_in``, ``tokens_out``, ``cost_usd``: sums; ``accepts``: ``accept`` events;
      ``cost_per_accept``: ``cost_usd / accepts``;
    - ``satisfaction``: mean of the scores given.

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
    >>> from analytics_lib.datasets import synthetic_events
    >>> kpi_table(synthetic_events(20_000, seed=0).events, granularity="W").columns[:3].tolist()
    ['events', 'active_users', 'sessions']
    """
    g = check_granularity(granularity)
    if events.empty:
        return pd.DataFrame(columns=_KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    period = period_start(events[S.TS], g)
    et = events[S.EVENT_TYPE].astype(str)
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
    lat = _quantiles(latency, period, (0.5, 0.95, 0.99))
    lat.columns = ["latency_p50", "latency_p95", "latency_p99"]
    out = out.join(lat)
    out["tokens_in"], out["tokens_out"] = sums["tokens_in"], sums["tokens_out"]
    out["cost_usd"] = sums["cost_usd"]
    out["accepts"] = sums["accept"].astype("int64")
    out["cost_per_accept"] = out["cost_usd"] / out["accepts"].where(out["accepts"] > 0)
    out["satisfaction"] = grp["satisfaction"].mean()
    full = _period_index(out.index.min(), out.index.max(), g)
    out = out.reindex(full)
    counts = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
    out[counts] = out[counts].fillna(0)
    for c in ("events", "active_users", "sessions", "accepts"):
        out[c] = out[c].astype("int64")
    return out[_KPI_COLUMNS]


_KPI_COLUMNS = ["events", "active_users", "sessions", "events_per_user", "sessions_per_user", "cache_hit_rate",
                "error_rate", "latency_p50", "latency_p95", "latency_p99", "tokens_in", "tokens_out", "cost_usd",
                "accepts", "cost_per_accept", "satisfaction"]
