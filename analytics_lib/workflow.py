"""Workflow analysis: sessions, paths, funnels, bottlenecks, KPIs, segments, retention.

All functions are pure: a validated events frame in (see ``validate_events``), a new frame
out; the input is never modified. Each function's docstring states its definitions (what
counts, which window, which edge cases), the way product-analytics tools document theirs.

Ordering: events are ordered by time and, for equal timestamps, by their position in the
frame (validated frames are sorted stably by ``ts``), so ties are broken the same way
everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from . import schema as S
from .errors import WorkbenchError
from .params import check_duration, check_granularity

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


def _period_end(start: pd.Timestamp, granularity: str) -> pd.Timestamp:
    return start + (pd.DateOffset(months=1) if granularity == "M" else pd.Timedelta(days=7 if granularity == "W" else 1))


def _quantiles(values: pd.Series, keys: pd.Series, qs: tuple[float, ...]) -> pd.DataFrame:
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
    >>> from analytics_lib.datasets import synthetic_events
    >>> kpi_table(synthetic_events(20_000, seed=0).events, granularity="W").columns[:3].tolist()
    ['events', 'active_users', 'sessions']
    """
    g = check_granularity(granularity)
    if events.empty:
        return pd.DataFrame(columns=_KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
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
    daily = frame.groupby(period_start(events[S.TS], "D"))["user"].nunique()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max(), freq="D"), fill_value=0)
    mean_dau = daily.groupby(period_start(pd.Series(daily.index), g).to_numpy()).mean()
    out["stickiness"] = mean_dau.reindex(full).to_numpy() / out["active_users"].where(out["active_users"] > 0)
    counts = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
    out[counts] = out[counts].fillna(0)
    for c in ("events", "active_users", "sessions", "accepts"):
        out[c] = out[c].astype("int64")
    return out[_KPI_COLUMNS]


_KPI_COLUMNS = ["events", "active_users", "sessions", "events_per_user", "sessions_per_user", "cache_hit_rate",
                "error_rate", "latency_p50", "latency_p95", "latency_p99", "tokens_in", "tokens_out", "cost_usd",
                "accepts", "cost_per_accept", "satisfaction", "stickiness"]


def _micros(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds (a tz-aware ``to_numpy()`` would give objects)."""
    return ts.dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)


_US = 1_000_000


# ============================================================================================
# Sessions
ACCEPT_TYPES = ("accept", "export")
OUTCOMES = ("accepted", "errored", "abandoned")


def sessionize(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """Events with a ``session_id`` for every row.

    Rows that already have a ``session_id`` keep it. Rows without one are grouped per user:
    a new session starts at a user's first event and whenever more than ``gap`` passed since
    that user's previous event; derived ids are ``"<user_id>#<n>"`` (``n`` counts the user's
    derived sessions from 1). In a frame that mixes both, the gaps are measured between the
    rows without an id only.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    gap : str
        Inactivity that ends a session (pandas duration, default 30 minutes).

    Returns
    -------
    DataFrame
        A copy of ``events`` with ``session_id`` filled.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(5_000, days=28, seed=0).events.assign(session_id=None)
    >>> bool(sessionize(ev)["session_id"].notna().all())
    True
    """
    gap_td = check_duration(gap, name="gap")
    missing = events[S.SESSION_ID].isna().to_numpy()
    if not missing.any():
        return events.copy()  # documented as a copy (cheap under copy-on-write)
    sub = events.loc[missing, [S.USER_ID, S.TS]]
    users = sub[S.USER_ID]
    if isinstance(users.dtype, pd.CategoricalDtype):   # validated frames: codes, no string hashing
        user_codes, user_names = users.cat.codes.to_numpy(), users.cat.categories.astype(str)
    else:
        user_codes, user_names = pd.factorize(users.astype(str), sort=False)
    ts = _micros(sub[S.TS])
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):  # already in time order: a stable sort by user suffices
        order = np.argsort(user_codes, kind="stable")
    else:
        order = np.lexsort((np.arange(len(sub)), ts, user_codes))
    u, t = user_codes[order], ts[order]
    new = np.ones(len(sub), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | ((t[1:] - t[:-1]) > gap_td // pd.Timedelta(microseconds=1))
    number = np.cumsum(new)
    first_of_user = np.ones(len(sub), dtype=bool)
    first_of_user[1:] = u[1:] != u[:-1]
    ordinal = number - np.maximum.accumulate(np.where(first_of_user, number - 1, 0))
    # build each id once per session with Arrow kernels (no Python string per event)
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = np.flatnonzero(new)
    names = pa.array(np.asarray(user_names, dtype=object)).take(pa.array(u[starts]))
    per_session = pc.binary_join_element_wise(names, pc.cast(pa.array(ordinal[starts]), pa.string()), "#")
    row_ids = per_session.take(pa.array(number - 1))        # session id of each sorted row
    ids = pa.array(np.empty(0, dtype=object), type=pa.string()) if len(order) == 0 else \
        row_ids.take(pa.array(np.argsort(order)))          # back to the rows' own order
    out = events.copy(deep=False)
    if missing.all():
        out[S.SESSION_ID] = pd.Series(pd.array(ids, dtype="str"), index=out.index)
    else:
        filled = out[S.SESSION_ID].astype(object).to_numpy().copy()
        filled[missing] = np.asarray(ids.to_pylist(), dtype=object)
        out[S.SESSION_ID] = pd.Series(filled, index=out.index, dtype="str")
    return out


@dataclass(frozen=True)
class _Seq:
    """Events in session order: arrays aligned by position (sorted by session, ts, frame order)."""

    order: np.ndarray      # positions into the events frame
    session: np.ndarray    # session code per position (0..n_sessions-1), ascending
    user: np.ndarray       # user code per position
    ts: np.ndarray         # int64 microseconds (UTC) per position
    etype: np.ndarray      # event type code per position
    types: pd.Index        # event type names for the codes
    first: np.ndarray      # True where a session starts
    sessions: pd.Index     # session ids for the codes
    users: pd.Index


def _sequence(events: pd.DataFrame, gap: str) -> _Seq:
    ev = sessionize(events, gap=gap)
    s_codes, sessions = pd.factorize(ev[S.SESSION_ID], sort=False)
    u_codes, users = pd.factorize(ev[S.USER_ID].astype(str), sort=False)
    t_codes, types = pd.factorize(ev[S.EVENT_TYPE].astype(str), sort=True)
    ts = _micros(ev[S.TS])
    order = np.lexsort((np.arange(len(ev)), ts, s_codes))
    sess = s_codes[order]
    first = np.ones(len(ev), dtype=bool)
    first[1:] = sess[1:] != sess[:-1]
    return _Seq(order, sess, u_codes[order], ts[order], t_codes[order], pd.Index(types), first,
                pd.Index(sessions), pd.Index(users))


def session_table(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """One row per session: who, when, how long, how many steps and how it ended.

    Definitions: ``start``/``end`` are the first and last event times; ``duration_s`` is
    their difference (0 for a one-event session); ``n_events`` counts events and ``n_steps``
    distinct event types; ``rework`` is true when a workflow step (``generation``, ``edit``,
    ``test_run``) occurs more than once. ``outcome`` is ``accepted`` when the session has an
    ``accept`` or ``export`` event, else ``errored`` when it has an ``error`` event, else
    ``abandoned``. ``team``, ``feature`` and ``model`` are those of the session's first event
    that has one. Sessions come from ``session_id`` or, where absent, from :func:`sessionize`.

    Returns
    -------
    DataFrame
        Columns ``session_id, user_id, team, feature, model, start, end, duration_s,
        n_events, n_steps, n_errors, rework, satisfaction, outcome``; sorted by ``start``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> st = session_table(synthetic_events(5_000, days=28, seed=0).events)
    >>> sorted(st["outcome"].unique())
    ['abandoned', 'accepted', 'errored']
    """
    seq = _sequence(events, gap)
    ev = events.iloc[seq.order]
    typ = pd.Series(seq.types[seq.etype], dtype="str")
    frame = pd.DataFrame({
        "s": seq.session, "ts": seq.ts,
        "accept": typ.isin(ACCEPT_TYPES).to_numpy(), "error": (typ == "error").to_numpy(),
        "sat": ev[S.SATISFACTION].to_numpy(dtype="float64", na_value=np.nan),
    })
    g = frame.groupby("s", sort=True)
    out = pd.DataFrame({
        "session_id": seq.sessions.astype(str),
        "user_id": seq.users[seq.user[seq.first]].astype(str),
        "start": pd.to_datetime(g["ts"].min().to_numpy(), unit="us", utc=True),
        "end": pd.to_datetime(g["ts"].max().to_numpy(), unit="us", utc=True),
        "n_events": g.size().to_numpy(),
    })
    for c in (S.TEAM, S.FEATURE, S.MODEL):
        first_val = ev[c].astype(object).groupby(seq.session).first()
        out[c] = pd.Categorical(first_val.reindex(range(len(out))).to_numpy())
    pair = pd.DataFrame({"s": seq.session, "t": seq.etype}).drop_duplicates()
    out["n_steps"] = np.bincount(pair["s"].to_numpy(), minlength=len(out))
    work = typ.isin(("generation", "edit", "test_run")).to_numpy()
    wk = pd.DataFrame({"s": seq.session[work], "t": seq.etype[work]})
    repeats = wk.duplicated().to_numpy()
    out["rework"] = np.bincount(wk["s"].to_numpy()[repeats], minlength=len(out)) > 0
    out["n_errors"] = g["error"].sum().to_numpy()
    out["satisfaction"] = g["sat"].mean().to_numpy()
    accepted = g["accept"].any().to_numpy()
    out["outcome"] = pd.Categorical(np.where(accepted, "accepted", np.where(out["n_errors"] > 0, "errored", "abandoned")),
                                    categories=list(OUTCOMES))
    out["duration_s"] = (out["end"] - out["start"]).dt.total_seconds()
    cols = ["session_id", "user_id", S.TEAM, S.FEATURE, S.MODEL, "start", "end", "duration_s", "n_events", "n_steps",
            "n_errors", "rework", "satisfaction", "outcome"]
    return out[cols].sort_values(["start", "session_id"], kind="stable").reset_index(drop=True)


# ============================================================================================
# Paths
def transition_table(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """Directly-follows transitions between event types within sessions, with their times.

    A transition ``a -> b`` is counted for each pair of consecutive events of the same session
    (in time order, ties by frame order). Its time is the difference of the two timestamps:
    for process mining this is the performance graph of the directly-follows graph.

    Returns
    -------
    DataFrame
        ``source, target, count, users, sessions, median_s, p90_s, p95_s, total_wait_h``
        sorted by ``count`` descending. ``total_wait_h`` is the sum of transition times.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> tt = transition_table(synthetic_events(5_000, days=28, seed=0).events)
    >>> tt.columns[:3].tolist()
    ['source', 'target', 'count']
    """
    seq = _sequence(events, gap)
    nxt = ~seq.first[1:]  # position i+1 continues the session of i
    src, dst = seq.etype[:-1][nxt], seq.etype[1:][nxt]
    dt = (seq.ts[1:][nxt] - seq.ts[:-1][nxt]) / _US
    frame = pd.DataFrame({"a": src, "b": dst, "dt": dt.astype("float64"),
                          "u": seq.user[1:][nxt], "s": seq.session[1:][nxt]})
    g = frame.groupby(["a", "b"], sort=True)
    q = g["dt"].quantile([0.5, 0.9, 0.95]).unstack().reindex(columns=[0.5, 0.9, 0.95])  # no transitions: no columns
    out = pd.DataFrame({
        "count": g.size(), "users": g["u"].nunique(), "sessions": g["s"].nunique(),
        "median_s": q[0.5], "p90_s": q[0.9], "p95_s": q[0.95], "total_wait_h": g["dt"].sum() / 3600.0,
    }).reset_index()
    out.insert(0, "source", seq.types[out.pop("a")].astype(str))
    out.insert(1, "target", seq.types[out.pop("b")].astype(str))
    return out.sort_values(["count", "source", "target"], ascending=[False, True, True], kind="stable").reset_index(drop=True)


def path_variants(events: pd.DataFrame, *, top: int = 10, gap: str = "30min") -> pd.DataFrame:
    """The most frequent complete paths (sequences of event types) of sessions.

    Two sessions follow the same variant when their event types, in order, are identical.
    Variants are identified by a 64-bit polynomial hash of the sequence (computed
    vectorised); the path text is built only for the ``top`` variants shown.

    Returns
    -------
    DataFrame
        ``rank, path, steps, sessions, share, cumulative_share`` for the ``top`` variants;
        ``share`` is relative to all sessions.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> path_variants(synthetic_events(5_000, days=28, seed=0).events, top=3)["rank"].tolist()
    [1, 2, 3]
    """
    if top < 1:
        raise WorkbenchError(f"top={top} must be at least 1")
    seq = _sequence(events, gap)
    n_sessions = len(seq.sessions)
    start = np.flatnonzero(seq.first)
    pos = np.arange(len(seq.session)) - np.repeat(start, np.diff(np.append(start, len(seq.session))))
    with np.errstate(over="ignore"):
        base = np.uint64(1_000_003)
        powers = np.cumprod(np.full(int(pos.max()) + 1 if len(pos) else 1, base, dtype=np.uint64))
        term = (seq.etype.astype(np.uint64) + np.uint64(1)) * powers[pos]
        h = np.add.reduceat(term, start) if len(start) else np.array([], dtype=np.uint64)
    length = np.diff(np.append(start, len(seq.session)))
    key = pd.DataFrame({"h": h, "len": length})
    counts = key.groupby(["h", "len"]).size().sort_values(ascending=False, kind="stable")
    top_keys = counts.head(top)
    first_session = key.reset_index().groupby(["h", "len"])["index"].first()
    rows = []
    for rank, ((hv, ln), n) in enumerate(top_keys.items(), start=1):  # at most `top` iterations
        s0 = start[first_session[(hv, ln)]]
        path = " > ".join(seq.types[seq.etype[s0:s0 + ln]].astype(str))
        rows.append((rank, path, int(ln), int(n)))
    out = pd.DataFrame(rows, columns=["rank", "path", "steps", "sessions"])
    out["share"] = out["sessions"] / n_sessions
    out["cumulative_share"] = out["share"].cumsum()
    return out


def rework_table(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """Rework loops: how often each step is repeated within a session.

    For each event type: ``sessions`` that contain it, ``sessions_repeated`` where it occurs
    more than once, their ``share``, and ``mean_repeats`` (occurrences beyond the first, per
    repeating session).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> rw = rework_table(synthetic_events(5_000, days=28, seed=0).events)
    >>> bool((rw["share"] <= 1).all())
    True
    """
    seq = _sequence(events, gap)
    per = pd.DataFrame({"s": seq.session, "t": seq.etype}).value_counts().rename("n").reset_index()
    out = pd.DataFrame({
        "sessions": per.groupby("t").size(),
        "sessions_repeated": (per["n"] > 1).groupby(per["t"]).sum(),
        "extra": (per["n"] - 1).groupby(per["t"]).sum(),
    })
    out["share"] = out["sessions_repeated"] / out["sessions"]
    out["mean_repeats"] = out["extra"] / out["sessions_repeated"].where(out["sessions_repeated"] > 0)
    out.index = seq.types[out.index].astype(str)
    out.index.name = "event_type"
    return out.drop(columns="extra").sort_values("share", ascending=False, kind="stable").reset_index()


# ============================================================================================
# Funnels
FUNNEL_MODES = ("sequential", "strict", "any")


def _step_sets(steps: Sequence[str | Sequence[str]]) -> list[tuple[str, tuple[str, ...]]]:
    if len(steps) < 2:
        raise WorkbenchError(f"a funnel needs at least two steps, got {list(steps)!r}")
    out = []
    for st in steps:
        types = (st,) if isinstance(st, str) else tuple(st)
        if not types or not all(isinstance(t, str) and t for t in types):
            raise WorkbenchError(f"funnel step {st!r} must be an event type or a list of event types")
        out.append((" | ".join(types), types))
    return out


def funnel_table(events: pd.DataFrame, steps: Sequence[str | Sequence[str]], *, window: str = "14D",
                 mode: str = "sequential", unit: str = "user", by: str | pd.Series | None = None,
                 gap: str = "30min") -> pd.DataFrame:
    """Conversion through ordered steps, per user (or per session), within a conversion window.

    Definitions:

    - an *entity* is a user (``unit="user"``) or a session (``unit="session"``);
    - a step is one event type or a list of alternatives (``["search", "cache_query"]``);
    - **entry** is the entity's first event of step 1 in the data given; the conversion
      window (``window``, default 14 days) starts there, and every later step must happen
      within it;
    - ``mode="sequential"``: step *k* is the first event of step *k* after the event that
      completed step *k-1* (other events may happen in between; ties in time are ordered by
      frame order, and an event completes at most one step);
    - ``mode="strict"``: step *k* must be the entity's very next event after step *k-1* (no
      other event in between); an entity reaches step *k* if any of its step-1 events starts
      such a run; the window and ``median_time_s`` are measured from the step-1 event that
      starts the first run reaching step *k* (not from the first step-1 event);
    - ``mode="any"``: steps may happen in any order: step *k* is reached when steps 1..*k* all
      occur within the window starting at the entity's first event of any funnel step;
    - ``conversion`` is entities at step *k* / entities at step 1; ``step_conversion`` is
      relative to step *k-1*; ``drop_off`` is 1 - ``step_conversion``; ``median_time_s`` is
      the median time from entry to step *k* (sequential and strict modes);
    - ``by``: a column (``"team"``, ``"feature"``, ``"model"``) taken from the entry event, or
      a Series mapping ``user_id`` to a segment label; one funnel per value; entities whose
      value is missing are in no segment.

    Returns
    -------
    DataFrame
        ``[by,] step, step_name, entities, conversion, step_conversion, drop_off, median_time_s``.
        A step nobody reached has ``entities`` 0 (never a missing row).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> f = funnel_table(ev, ["session_start", ["search", "cache_query"], "generation"], unit="session")
    >>> f["step"].tolist()
    [1, 2, 3]
    """
    if mode not in FUNNEL_MODES:
        raise WorkbenchError(f"mode={mode!r} is not a funnel mode: use one of {', '.join(FUNNEL_MODES)}")
    if unit not in ("user", "session"):
        raise WorkbenchError(f"unit={unit!r} must be 'user' or 'session'")
    spec = _step_sets(steps)
    win = check_duration(window, name="window") // pd.Timedelta(microseconds=1)
    ev = sessionize(events, gap=gap) if unit == "session" else events
    ent_col = S.USER_ID if unit == "user" else S.SESSION_ID
    entity, _ = pd.factorize(ev[ent_col].astype(str), sort=False)
    ts = _micros(ev[S.TS])
    order = np.lexsort((np.arange(len(ev)), ts, entity))   # entity, time, frame order
    ent, t = entity[order], ts[order]
    pos = np.arange(len(ev))                                # global order: sorts like (entity, ts, row)
    etypes = ev[S.EVENT_TYPE]
    if isinstance(etypes.dtype, pd.CategoricalDtype):
        type_codes, type_names = etypes.cat.codes.to_numpy(), np.asarray(etypes.cat.categories.astype(str))
    else:
        type_codes, type_names = pd.factorize(etypes.astype(str), sort=True)
    tc = type_codes[order]
    # one lookup table per step (code -> is this step); missing types (code -1) hit the appended False
    is_step = [np.append(np.isin(np.asarray(type_names, dtype=object), list(types)), False)[tc]
               for _, types in spec]

    n_ent = int(entity.max()) + 1 if len(entity) else 0
    reached = np.zeros((n_ent, len(spec)), dtype=bool)
    took = np.full((n_ent, len(spec)), np.nan)            # seconds from entry to each step
    entry_pos = np.full(n_ent, -1, dtype=np.int64)
    if mode == "sequential":
        cur = _first_positions(ent, pos, is_step[0], n_ent)       # position of step-1 event per entity
        entry_pos[:] = cur
        entry_t = t[np.maximum(cur, 0)]
        reached[:, 0] = cur >= 0
        took[reached[:, 0], 0] = 0.0
        for k in range(1, len(spec)):
            cur = _next_after(ent, pos, is_step[k], cur, n_ent)
            ok = cur >= 0
            ok[ok] = (t[cur[ok]] - entry_t[ok]) <= win
            cur = np.where(ok, cur, -1)
            reached[:, k] = ok
            took[ok, k] = (t[cur[ok]] - entry_t[ok]) / _US
    elif mode == "strict":
        n = len(ent)
        run = is_step[0].copy()                                   # run[i]: steps 1..k start at position i
        depth = np.where(run, 1, 0)
        for k in range(1, len(spec)):
            j = np.minimum(np.arange(n) + k, n - 1)
            same = (np.arange(n) + k < n) & (ent[j] == ent) & is_step[k][j] & ((t[j] - t) <= win)
            run &= same
            depth[run] = k + 1
        entry_pos[:] = _first_positions(ent, pos, is_step[0], n_ent)
        for k in range(len(spec)):                                # the first run that reaches step k
            starts = np.flatnonzero(depth >= k + 1)
            first = _first_positions(ent[starts], np.arange(len(starts)), np.ones(len(starts), bool), n_ent)
            has = first >= 0
            st = starts[first[has]]
            reached[has, k] = True
            took[has, k] = (t[st + k] - t[st]) / _US
    else:  # any order
        any_step = np.logical_or.reduce(is_step)
        start_pos = _first_positions(ent, pos, any_step, n_ent)
        entry_pos[:] = start_pos
        start_t = t[np.maximum(start_pos, 0)]
        in_win = any_step & ((t - start_t[ent]) <= win)
        have = start_pos >= 0
        for k in range(len(spec)):
            hit = np.zeros(n_ent, dtype=bool)
            hit[ent[is_step[k] & in_win]] = True
            have = have & hit
            reached[:, k] = have
    # groups
    entry_row = np.where(entry_pos >= 0, order[np.maximum(entry_pos, 0)], -1)
    group = _funnel_groups(ev, by, entry_row, ent_col)
    rows = []
    labels = [None] if group is None else sorted(pd.unique(group[~pd.isna(group)]).tolist(), key=str)
    for label in labels:  # one pass per segment value (a handful), vectorized inside
        sel = (entry_pos >= 0) if group is None else ((entry_pos >= 0) & (group == label))
        base = int(reached[sel, 0].sum())
        prev = base
        for k, (name, _) in enumerate(spec):
            n_k = int(reached[sel, k].sum())
            spent = took[sel & reached[:, k], k]
            med = float(np.median(spent)) if len(spent) and mode != "any" else np.nan
            row = {"step": k + 1, "step_name": name, "entities": n_k,
                   "conversion": n_k / base if base else np.nan,
                   "step_conversion": n_k / prev if prev else np.nan, "median_time_s": med}
            if group is not None:
                row = {"segment": label, **row}
            rows.append(row)
            prev = n_k
    out = pd.DataFrame(rows)
    out["drop_off"] = 1 - out["step_conversion"]
    lead = ["segment"] if group is not None else []
    out = out[lead + ["step", "step_name", "entities", "conversion", "step_conversion", "drop_off", "median_time_s"]]
    if group is not None and isinstance(by, str):
        out = out.rename(columns={"segment": by})
    return out


def _first_positions(ent: np.ndarray, pos: np.ndarray, mask: np.ndarray, n_ent: int) -> np.ndarray:
    """Per entity, the first position where ``mask`` holds (-1 if none). Positions ascend within entities."""
    out = np.full(n_ent, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx):
        e = ent[idx]
        first = np.ones(len(idx), dtype=bool)
        first[1:] = e[1:] != e[:-1]
        out[e[first]] = pos[idx[first]]
    return out


def _next_after(ent: np.ndarray, pos: np.ndarray, mask: np.ndarray, after: np.ndarray, n_ent: int) -> np.ndarray:
    """Per entity, the first position with ``mask`` strictly after ``after[entity]`` (-1 if none)."""
    idx = np.flatnonzero(mask)
    out = np.full(n_ent, -1, dtype=np.int64)
    has = np.flatnonzero(after >= 0)
    if not len(idx) or not len(has):
        return out
    # candidates are sorted by (entity, position) because positions ascend with entity
    cand_key = ent[idx].astype(np.int64) * (len(pos) + 1) + pos[idx]
    query = has.astype(np.int64) * (len(pos) + 1) + after[has] + 1
    j = np.searchsorted(cand_key, query, side="left")
    ok = j < len(idx)
    ok[ok] = ent[idx[j[ok]]] == has[ok]
    out[has[ok]] = pos[idx[j[ok]]]
    return out


def _funnel_groups(ev: pd.DataFrame, by, entry_row: np.ndarray, ent_col: str) -> np.ndarray | None:
    if by is None:
        return None
    if isinstance(by, str):
        if by not in ev.columns:
            raise WorkbenchError(f"by={by!r} is not a column of the events")
        values = ev[by].astype(object).to_numpy()
    elif isinstance(by, pd.Series):
        values = ev[S.USER_ID].astype(str).map(by.rename(index=str)).astype(object).to_numpy()
    else:
        raise WorkbenchError("by must be a column name or a Series mapping user_id to a segment")
    out = np.full(len(entry_row), None, dtype=object)
    has = entry_row >= 0
    out[has] = values[entry_row[has]]
    return out


# ============================================================================================
# Bottlenecks
@dataclass(frozen=True)
class SeverityThresholds:
    """Severity from the ratio of a group's p95 time to the baseline p95 of the same kind.

    ``ratio < medium`` is low, ``< high`` medium, ``< critical`` high, otherwise critical.
    """

    medium: float = 1.5
    high: float = 2.5
    critical: float = 4.0

    def grade(self, ratio: np.ndarray) -> pd.Categorical:
        levels = np.select([ratio >= self.critical, ratio >= self.high, ratio >= self.medium],
                           ["critical", "high", "medium"], "low")
        return pd.Categorical(levels, categories=["low", "medium", "high", "critical"], ordered=True)


def bottleneck_table(events: pd.DataFrame, *, by: Sequence[str] = (S.EVENT_TYPE,), period: str | None = None,
                     latency_types: tuple[str, ...] | None = None, min_events: int = 100,
                     thresholds: SeverityThresholds = SeverityThresholds(), gap: str = "30min") -> pd.DataFrame:
    """Where developers wait: steps ranked by latency and transitions ranked by waiting time.

    Two kinds of rows, ranked together by ``severity`` (how abnormal), then by ``impact_h``
    (waiting time x volume) within a severity:

    - ``kind="step"``: events grouped by ``by`` (default the event type; e.g.
      ``("event_type", "model", "team")``) and, with ``period`` (``"D"``, ``"W"``), by period.
      ``p50_ms/p95_ms/p99_ms`` are latency percentiles; ``impact_h`` is the *excess* latency
      over the baseline median (the median latency of the same event type over all data),
      summed over the group's events, in hours; ``ratio`` is the group's p95 over that type's
      overall p95;
    - ``kind="transition"``: directly-follows transitions (see :func:`transition_table`);
      the times are the waits between the two events; ``impact_h`` is the total wait and
      ``ratio`` the transition's p95 over the median of all transitions' p95.

    ``severity`` grades ``ratio`` with ``thresholds``; ``users`` and ``sessions`` count who
    was affected. Groups with fewer than ``min_events`` events are left out (a p95 of a few
    dozen values is too noisy to rank); a missing ``by`` value is its own group ``(none)``.

    Returns
    -------
    DataFrame
        ``rank, kind, name, [period,] events, users, sessions, p50_ms, p95_ms, p99_ms, ratio,
        impact_h, severity``, ranked by severity then ``impact_h``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> b = bottleneck_table(synthetic_events(20_000, days=28, seed=0).events)
    >>> set(b["kind"]) == {"step", "transition"}
    True
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in events.columns]
    if missing:
        raise WorkbenchError(f"bottleneck_table: by names columns that do not exist: {missing}")
    lat = events[S.LATENCY_MS]
    et = events[S.EVENT_TYPE].astype(str)
    has = lat.notna().to_numpy()
    if latency_types is not None:
        has &= et.isin(latency_types).to_numpy()
    ev = events.loc[has]
    lat_v = ev[S.LATENCY_MS].to_numpy(dtype="float64")
    base_med = ev.groupby(S.EVENT_TYPE, observed=True)[S.LATENCY_MS].median()
    base_p95 = ev.groupby(S.EVENT_TYPE, observed=True)[S.LATENCY_MS].quantile(0.95)
    etv = ev[S.EVENT_TYPE].astype(str)
    excess = np.maximum(lat_v - etv.map(base_med.rename(index=str)).to_numpy(dtype="float64"), 0.0)
    keys = [ev[c].astype(str).fillna("(none)").rename(c) for c in by]
    if period is not None:
        keys.append(period_start(ev[S.TS], period).rename("period"))
    frame = pd.DataFrame({"lat": lat_v, "excess": excess, "u": ev[S.USER_ID].astype(str).to_numpy(),
                          "s": ev[S.SESSION_ID].astype(str).to_numpy(), "et": etv.to_numpy()})
    for k in keys:
        frame[k.name] = k.to_numpy()
    g = frame.groupby([k.name for k in keys], sort=False, dropna=False)
    q = g["lat"].quantile([0.5, 0.95, 0.99]).unstack().reindex(columns=[0.5, 0.95, 0.99])
    steps = pd.DataFrame({"events": g.size(), "users": g["u"].nunique(), "sessions": g["s"].nunique(),
                          "p50_ms": q[0.5], "p95_ms": q[0.95], "p99_ms": q[0.99],
                          "impact_h": g["excess"].sum() / 3.6e6, "et": g["et"].first()}).reset_index()
    steps["ratio"] = steps["p95_ms"] / steps["et"].map(base_p95.rename(index=str)).astype("float64")
    steps["name"] = steps[[c for c in by]].astype(str).agg(" / ".join, axis=1) if len(by) > 1 else steps[by[0]].astype(str)
    steps["kind"] = "step"
    tt = transition_table(events, gap=gap)
    trans = pd.DataFrame({"kind": "transition", "name": tt["source"] + " -> " + tt["target"],
                          "events": tt["count"], "users": tt["users"], "sessions": tt["sessions"],
                          "p50_ms": tt["median_s"] * 1e3, "p95_ms": tt["p95_s"] * 1e3, "p99_ms": np.nan,
                          "impact_h": tt["total_wait_h"]})
    trans["ratio"] = trans["p95_ms"] / trans["p95_ms"].median()
    cols = ["kind", "name"] + (["period"] if period is not None else []) + \
        ["events", "users", "sessions", "p50_ms", "p95_ms", "p99_ms", "ratio", "impact_h"]
    out = pd.concat([steps[cols], trans.reindex(columns=cols)], ignore_index=True)
    out = out[out["events"] >= min_events]
    out["severity"] = thresholds.grade(out["ratio"].to_numpy(dtype="float64"))
    out = out.sort_values(["severity", "impact_h", "kind", "name"], ascending=[False, False, True, True],
                          kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


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
    >>> from analytics_lib.datasets import synthetic_events
    >>> au = active_users(synthetic_events(20_000, days=35, seed=0).events)
    >>> bool((au["dau"] <= au["wau"]).all() and (au["wau"] <= au["mau"]).all())
    True
    """
    if events.empty:
        return pd.DataFrame(columns=["dau", "wau", "mau", "stickiness"],
                            index=pd.DatetimeIndex([], tz="UTC", name="day"), dtype="float64")
    day = _micros(events[S.TS]) // (86_400 * _US)
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
    >>> from analytics_lib.datasets import synthetic_events
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
    all_periods = _period_index(period_start(events[S.TS], g).min(), period_start(events[S.TS], g).max(), g) \
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


# ============================================================================================
# Segments, lifecycle, retention
def _user_periods(events: pd.DataFrame, granularity: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, int]:
    """Distinct (period, user) activity pairs: the period index, period codes, user codes, user count."""
    per = period_start(events[S.TS], granularity)
    index = _period_index(per.min(), per.max(), granularity)
    user, _ = pd.factorize(events[S.USER_ID].astype(str), sort=False)
    nu = int(user.max()) + 1 if len(user) else 1
    pairs = np.unique(index.get_indexer(per).astype(np.int64) * nu + user)
    return index, pairs // nu, pairs % nu, nu


def lifecycle_table(events: pd.DataFrame, *, granularity: str = "W") -> pd.DataFrame:
    """Users per period by lifecycle state (the growth-accounting view).

    For each period: ``new`` users (first activity ever in this period), ``returning`` (active
    in this and the previous period), ``resurrecting`` (active now, not in the previous
    period, but at some earlier one), and ``dormant`` (active in the previous period but not
    in this one; reported as a positive count). ``active = new + returning + resurrecting``.
    "Ever" means within the data given.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> lc = lifecycle_table(synthetic_events(20_000, days=56, seed=0).events)
    >>> bool((lc["active"] == lc["new"] + lc["returning"] + lc["resurrecting"]).all())
    True
    """
    if events.empty:
        return pd.DataFrame(columns=["new", "returning", "resurrecting", "active", "dormant"],
                            index=pd.DatetimeIndex([], tz="UTC", name="period"), dtype="int64")
    g = check_granularity(granularity)
    periods, p, u, nu = _user_periods(events, g)
    first = np.full(nu, np.iinfo(np.int64).max)
    np.minimum.at(first, u, p)
    key = p * nu + u
    prev_key = (p - 1) * nu + u
    was_prev = np.isin(prev_key, key)
    new = first[u] == p
    returning = ~new & was_prev
    resurrecting = ~new & ~was_prev
    nper = len(periods)
    out = pd.DataFrame(index=periods)
    out["new"] = np.bincount(p[new], minlength=nper)
    out["returning"] = np.bincount(p[returning], minlength=nper)
    out["resurrecting"] = np.bincount(p[resurrecting], minlength=nper)
    out["active"] = out["new"] + out["returning"] + out["resurrecting"]
    next_key = (p + 1) * nu + u
    gone = ~np.isin(next_key, key) & (p + 1 < nper)
    out["dormant"] = np.bincount(p[gone] + 1, minlength=nper + 1)[:nper]
    return out


def activity_histogram(events: pd.DataFrame, *, days: int = 28) -> pd.DataFrame:
    """Stickiness histogram: users by number of active days in the last ``days`` days of data.

    Also flags power users: ``power_user`` marks the bins at or above the 90th percentile of
    active days. Returns ``active_days, users, share, power_user``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> h = activity_histogram(synthetic_events(20_000, days=35, seed=0).events)
    >>> int(h["users"].sum()) > 0
    True
    """
    if events.empty:
        return pd.DataFrame({"active_days": np.arange(1, days + 1), "users": 0, "share": 0.0, "power_user": False})
    day = _micros(events[S.TS]) // (86_400 * _US)
    last = int(day.max())
    sel = day > last - days
    user, _ = pd.factorize(events.loc[sel, S.USER_ID].astype(str), sort=False)
    pairs = pd.DataFrame({"u": user, "d": day[sel]}).drop_duplicates()
    per_user = np.bincount(pairs["u"].to_numpy())
    counts = np.bincount(per_user, minlength=days + 1)[1:]
    out = pd.DataFrame({"active_days": np.arange(1, days + 1), "users": counts})
    out["share"] = out["users"] / max(int(counts.sum()), 1)
    p90 = np.quantile(per_user, 0.9) if len(per_user) else np.inf
    out["power_user"] = out["active_days"] >= p90
    return out


def retention_matrix(events: pd.DataFrame, *, cohort: str = "W", periods: int = 12, mode: str = "on",
                     cohort_type: str = "first_time") -> pd.DataFrame:
    """Cohort retention: the share of a cohort active *k* periods after it started.

    - ``cohort`` ``"W"`` (UTC weeks from Monday) or ``"M"`` (months);
    - ``cohort_type="first_time"``: a user's cohort is the period of their first event;
      ``"recurring"``: a user joins a cohort in every period they are active, and retention
      is measured from each (the "returning users" view);
    - ``mode="on"``: counted in period *k* if active in period *k*; ``"on_or_after"``: if
      active in period *k* or any later one (unbounded retention);
    - period 0 is always 1.0; periods beyond the end of the data are NaN (not 0).

    Returns
    -------
    DataFrame
        Index ``cohort`` (period start), column ``size`` then ``0..periods-1`` (shares).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> r = retention_matrix(synthetic_events(20_000, days=56, seed=0).events, periods=4)
    >>> r.columns.tolist()
    ['size', 0, 1, 2, 3]
    """
    g = check_granularity(cohort)
    if g == "D":
        raise WorkbenchError("retention cohorts are weekly ('W') or monthly ('M')")
    if mode not in ("on", "on_or_after"):
        raise WorkbenchError(f"mode={mode!r} must be 'on' or 'on_or_after'")
    if cohort_type not in ("first_time", "recurring"):
        raise WorkbenchError(f"cohort_type={cohort_type!r} must be 'first_time' or 'recurring'")
    if events.empty:
        return pd.DataFrame(columns=["size", *range(periods)], index=pd.DatetimeIndex([], tz="UTC", name="cohort"))
    index, p, u, nu = _user_periods(events, g)
    pairs = p * nu + u
    n_per = len(index)
    if mode == "on_or_after":  # last active period per user: active at or after k iff last >= k
        last = np.full(nu, -1)
        np.maximum.at(last, u, p)
    if cohort_type == "first_time":
        start = np.full(nu, np.iinfo(np.int64).max)
        np.minimum.at(start, u, p)
        members_c, members_u = start, np.arange(nu)
        keep = members_c < n_per
        members_c, members_u = members_c[keep], members_u[keep]
    else:
        members_c, members_u = p, u
    size = np.bincount(members_c, minlength=n_per)
    retained = np.zeros((n_per, periods), dtype=np.int64)
    for k in range(periods):  # `periods` iterations, each vectorised over all cohort members
        target = members_c + k
        valid = target < n_per
        if mode == "on":
            hit = np.isin(target[valid] * nu + members_u[valid], pairs)
        else:
            hit = last[members_u[valid]] >= target[valid]
        retained[:, k] = np.bincount(members_c[valid][hit], minlength=n_per)
    return retention_shares(retained, size, index)


def retention_shares(retained: np.ndarray, size: np.ndarray, index) -> pd.DataFrame:
    """The retention matrix from counts: ``retained[c, k]`` users of cohort ``c`` (size ``size[c]``)
    active ``k`` periods later; periods past the data are NaN, empty cohorts dropped.

    Shared by :func:`retention_matrix` and the Dask engine's combine step.

    Examples
    --------
    >>> idx = pd.date_range("2025-01-06", periods=2, freq="7D", tz="UTC")
    >>> retention_shares(np.array([[4, 2], [2, 0]]), np.array([4, 2]), idx)[1].tolist()
    [0.5, nan]
    """
    n_per, periods = retained.shape
    mat = np.where(size[:, None] > 0, retained / np.maximum(size, 1)[:, None], np.nan)
    mat[np.arange(n_per)[:, None] + np.arange(periods)[None, :] >= n_per] = np.nan
    out = pd.DataFrame(mat, index=pd.DatetimeIndex(index, name="cohort"), columns=list(range(periods)))
    out.insert(0, "size", size)
    return out[out["size"] > 0]


# ============================================================================================
# Satisfaction vs performance
def satisfaction_vs_performance(events: pd.DataFrame, *, by: str | None = S.MODEL, gap: str = "30min") -> pd.DataFrame:
    """How satisfaction moves with latency and errors, with test statistics.

    Unit: sessions with a satisfaction score. Factors: the session's median ``latency_ms`` of
    ``generation`` events (``latency_ms``) and its number of ``error`` events (``errors``).
    For each factor, overall and per ``by`` value (the session's model by default): Pearson's
    r and Spearman's rho with their two-sided p-values (scipy), the number of sessions, and
    the least-squares ``slope`` (satisfaction points per second of latency, or per error).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> sv = satisfaction_vs_performance(synthetic_events(50_000, days=28, seed=0).events)
    >>> set(sv["factor"]) == {"latency_ms", "errors"}
    True
    """
    from scipy import stats

    from .tables import session_latency_satisfaction

    frame = session_latency_satisfaction(events, gap=gap).rename(columns={"model": "group"})
    groups = [("all", frame)]
    if by is not None:
        groups += [(str(k), f) for k, f in frame.groupby("group", sort=True)]
    rows = []
    for label, f in groups:  # a handful of groups x two factors
        for factor, scale in (("latency_ms", 1e-3), ("errors", 1.0)):
            sub = f[["satisfaction", factor]].dropna()
            if len(sub) < 3 or sub[factor].nunique() < 2:
                rows.append((label, factor, len(sub), *([np.nan] * 5)))
                continue
            x, y = sub[factor].to_numpy() * scale, sub["satisfaction"].to_numpy()
            pr, pp = stats.pearsonr(x, y)
            sr, sp = stats.spearmanr(x, y)
            slope = np.polyfit(x, y, 1)[0]
            rows.append((label, factor, len(sub), float(pr), float(pp), float(sr), float(sp), float(slope)))
    return pd.DataFrame(rows, columns=["group", "factor", "sessions", "pearson_r", "pearson_p", "spearman_rho",
                                       "spearman_p", "slope"])
