"""The workflow analyses on Dask: the pandas functions per partition and exact combines.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from analytics_lib.analysis.workflow.kpis import RESPONSE_TYPES
from analytics_lib.compute.dask.cluster import _keeps_dtypes
from analytics_lib.compute.dask.partition import UserPartitioned, _probe, events_by_user
from analytics_lib.compute.dask.readers import _unknown_categories
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Analyses on Dask
@_keeps_dtypes

def _flat(part: pd.DataFrame) -> pd.DataFrame:
    """A partition as the pandas functions expect it: a default index."""
    return part.reset_index(drop=True)

def dask_sessionize(events, *, gap: str = "30min") -> UserPartitioned:
    """:func:`~analytics_lib.analysis.workflow.kpis.sessionize` per user partition (lazy).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(2_000, days=28, seed=0).events.assign(session_id=None)
    >>> s = dask_sessionize(ev).frame.compute()
    >>> bool(s["session_id"].str.contains("#").all())
    True
    """
    from analytics_lib.analysis.workflow.sessions import sessionize

    up = events_by_user(events)
    meta = up.frame._meta
    sessionize(_probe(meta), gap=gap)  # the same parameter errors, before anything runs
    out_meta = meta.assign(**{S.SESSION_ID: pd.Series([], dtype="str", index=meta.index)})
    return UserPartitioned(up.frame.map_partitions(_sessionized, gap=gap, meta=out_meta))


def _sessionized(part: pd.DataFrame, gap: str) -> pd.DataFrame:
    from analytics_lib.analysis.workflow.sessions import sessionize

    if part.empty or not part[S.SESSION_ID].isna().any():
        return part.assign(**{S.SESSION_ID: part[S.SESSION_ID].astype("str")})
    out = sessionize(_flat(part), gap=gap)
    out.index = part.index
    return out


@_keeps_dtypes
def dask_session_table(events, *, gap: str = "30min"):
    """:func:`~analytics_lib.analysis.workflow.sessions.session_table` per user partition, as a lazy Dask frame.

    Each partition is sorted by ``start, session_id``; write it with ``.to_parquet(path)``
    (big data) or collect it with :func:`collected_sessions` (the pandas result).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import session_table
    >>> ev = synthetic_events(2_000, days=28, seed=0).events
    >>> collected_sessions(dask_session_table(ev).compute()).equals(session_table(ev))
    True
    """
    from analytics_lib.analysis.workflow.sessions import session_table

    up = events_by_user(events)
    meta = session_table(_probe(up.frame._meta), gap=gap).iloc[:0]
    return up.frame.map_partitions(_per_partition, session_table, {"gap": gap}, meta=_unknown_categories(meta))


def _per_partition(part: pd.DataFrame, fn: Callable, kwargs: dict) -> pd.DataFrame:
    if part.empty:
        return fn(_probe(part), **kwargs).iloc[:0]
    return fn(_flat(part), **kwargs)


def collected_sessions(parts: pd.DataFrame) -> pd.DataFrame:
    """The session table from its computed partitions, as :func:`~analytics_lib.analysis.workflow.sessions.session_table` returns it.

    Raises :class:`WorkbenchError` when a ``session_id`` appears in two partitions (given
    session ids that span several users cannot be split by user).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> parts = dask_session_table(synthetic_events(2_000, days=28, seed=0).events).compute()
    >>> collected_sessions(parts)["start"].is_monotonic_increasing
    True
    """
    if parts["session_id"].duplicated().any():
        dup = parts.loc[parts["session_id"].duplicated(), "session_id"].iloc[0]
        raise WorkbenchError(f"session {dup!r} holds events of several users: the Dask engine partitions by user, "
                             "so a given session_id must belong to one user (or leave session_id empty to derive "
                             "sessions)")
    out = parts.reset_index(drop=True)
    for c in (S.TEAM, S.FEATURE, S.MODEL):
        out[c] = pd.Categorical(out[c].astype(object).to_numpy())
    out["outcome"] = pd.Categorical(out["outcome"].astype(object), categories=out["outcome"].cat.categories
                                    if isinstance(out["outcome"].dtype, pd.CategoricalDtype) else None)
    return out.sort_values(["start", "session_id"], kind="stable").reset_index(drop=True)


def collected_events(parts: pd.DataFrame) -> pd.DataFrame:
    """The validated events from their computed Dask partitions, as ``load_events(...).events`` holds them.

    ``parts`` is ``DaskEvents.events.compute()`` (index ``row``): the rows are put in the
    pandas engine's order (``ts``, then source position) and the categorical columns get
    the categories ``load_events`` gives them (those of every piece, sorted).

    Examples
    --------
    >>> from analytics_lib.compute.dask.readers import dask_events
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import load_events
    >>> raw = synthetic_events(5_000, days=28, end="2025-06-30", seed=0).events
    >>> got = collected_events(dask_events(raw, now="2025-07-01", rows_per_partition=2_000).events.compute())
    >>> got.equals(load_events(raw, now="2025-07-01").events)
    True
    """
    ts = parts[S.TS].dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)
    out = parts.iloc[np.lexsort((parts.index.to_numpy(dtype=np.int64), ts))].reset_index(drop=True)
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            cats = out[c].cat.categories
            ordered = pd.Index(sorted(cats.astype(str)), dtype="str")
            out[c] = out[c].cat.set_categories(ordered) if not cats.equals(ordered) else out[c]
    return out


# --------------------------------------------------------------------------------------------
# KPIs
_ADDITIVE_KPIS = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
_RATE_PARTS = ["cache_q", "cache_hit", "error", "request", "sat_sum", "sat_n"]
_PARTIAL_META = pd.DataFrame({"kind": pd.Series([], dtype="str"),
                              "key": pd.Series([], dtype="datetime64[us, UTC]"),
                              **{c: pd.Series([], dtype="float64") for c in [*_ADDITIVE_KPIS, *_RATE_PARTS, "dau"]}})


@_keeps_dtypes
def dask_kpi_table(events, *, granularity: str = "D", latency_types: tuple[str, ...] | None = RESPONSE_TYPES,
                   gap: str = "30min"):
    """:func:`~analytics_lib.analysis.workflow.kpis.kpi_table` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Per user partition: sessions are derived where missing, then ``kpi_table`` gives the
    counts and sums that add up over partitions (``events``, ``active_users``, ``sessions``,
    tokens, cost, ``accepts``: a user is in one partition), alongside the numerators and
    denominators of the rates and the daily active users. The combine adds those up and
    recomputes the rates and stickiness; the latency percentiles are exact: the latencies
    are shuffled by period and each period's percentiles computed over all its values.
    ``gap`` is the inactivity that ends a derived session (``kpi_table`` uses its default).

    Parameters
    ----------
    events : DaskEvents, dask DataFrame, pandas DataFrame or UserPartitioned
        Validated events (:func:`~analytics_lib.compute.dask.partition.events_by_user` takes
        them as they are).
    granularity : {"D", "W", "M"}
        The period (default ``"D"``).
    latency_types : tuple of str or None
        Event types whose ``latency_ms`` enters the latency percentiles (default
        ``RESPONSE_TYPES``); None: every event with a latency.
    gap : str
        Inactivity that ends a derived session (rows without ``session_id``), as a pandas
        duration (default ``"30min"``).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import kpi_table
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> got = dask_kpi_table(ev, granularity="W").compute()
    >>> bool((got["active_users"] == kpi_table(ev, granularity="W")["active_users"]).all())
    True
    """
    from analytics_lib.core.timewindow import check_granularity
    from analytics_lib.analysis.workflow.kpis import kpi_table

    g = check_granularity(granularity)
    types = None if latency_types is None else tuple(latency_types)
    up = events_by_user(events)
    kpi_table(_probe(up.frame._meta), granularity=g, latency_types=types)
    partials = up.frame.map_partitions(_kpi_partial, g, types, gap, meta=_PARTIAL_META)
    values = up.frame.map_partitions(_latency_values, g, types,
                                     meta=pd.DataFrame({"period": pd.Series([], dtype="datetime64[us, UTC]"),
                                                        "v": pd.Series([], dtype="float64")}))
    qmeta = pd.DataFrame({c: pd.Series([], dtype="float64") for c in ("latency_p50", "latency_p95", "latency_p99")},
                         index=pd.DatetimeIndex([], tz="UTC", name="period").as_unit("us"))
    quantiles = values.shuffle(on="period", npartitions=up.frame.npartitions).map_partitions(_period_quantiles,
                                                                                          meta=qmeta)
    meta = kpi_table(_probe(up.frame._meta), granularity=g, latency_types=types).iloc[:0]
    return _combined(_kpi_combine, meta, partials, quantiles, g)


def _combined(fn: Callable, meta: pd.DataFrame, *frames_and_args):
    """``fn`` over the whole of one or more per-partition results, as a one-partition Dask frame.

    Staying a Dask collection (not a ``delayed``) lets ``dask.compute(a, b, ...)`` share the
    reading, validation and shuffle between several analyses.
    """
    import dask.dataframe as dd

    frames = [x.repartition(npartitions=1) if isinstance(x, dd.DataFrame) else x for x in frames_and_args]
    return dd.map_partitions(fn, *frames, meta=meta, align_dataframes=False, enforce_metadata=False)


def _kpi_partial(part: pd.DataFrame, g: str, types, gap: str) -> pd.DataFrame:
    from analytics_lib.analysis.workflow.kpis import REQUEST_TYPES, kpi_table
    from analytics_lib.core.timewindow import period_start
    from analytics_lib.analysis.workflow.sessions import sessionize

    if part.empty:
        return _PARTIAL_META
    ev = _flat(part)
    if ev[S.SESSION_ID].isna().any():
        ev = sessionize(ev, gap=gap)   # once here; kpi_table then finds every session_id filled
    table = kpi_table(ev, granularity=g, latency_types=types)[_ADDITIVE_KPIS]
    # the numerators and denominators behind kpi_table's rates (see its docstring)
    et = ev[S.EVENT_TYPE]
    is_cache_q = (et == "cache_query") & ev[S.CACHE_HIT].notna()
    rates = pd.DataFrame({
        "cache_q": is_cache_q.to_numpy(dtype=float),
        "cache_hit": (is_cache_q & ev[S.CACHE_HIT].fillna(False).astype(bool)).to_numpy(dtype=float),
        "error": (et == "error").to_numpy(dtype=float),
        "request": et.isin(REQUEST_TYPES).to_numpy(dtype=float),
        "sat_sum": ev[S.SATISFACTION].fillna(0.0).to_numpy(dtype=float),
        "sat_n": ev[S.SATISFACTION].notna().to_numpy(dtype=float),
    }).groupby(period_start(ev[S.TS], g).array).sum()   # .array: typed keys (to_numpy() gives Timestamp objects)
    per_period = table.astype("float64").join(rates).fillna(0.0)
    users = ev[S.USER_ID].cat.codes if isinstance(ev[S.USER_ID].dtype, pd.CategoricalDtype) else ev[S.USER_ID]
    dau = users.groupby(period_start(ev[S.TS], "D").array).nunique().astype("float64")
    a = per_period.rename_axis("key").reset_index().assign(kind="p")
    b = pd.DataFrame({"key": dau.index, "dau": dau.to_numpy(), "kind": "d"})
    out = pd.concat([a, b], ignore_index=True)
    out["key"] = pd.to_datetime(out["key"], utc=True).dt.as_unit("us")
    return out.reindex(columns=_PARTIAL_META.columns).astype(_PARTIAL_META.dtypes.to_dict())


def _latency_values(part: pd.DataFrame, g: str, types) -> pd.DataFrame:
    from analytics_lib.core.timewindow import period_start

    lat = part[S.LATENCY_MS]
    keep = lat.notna().to_numpy()
    if types is not None:  # as kpi_table: latencies of these event types only
        keep = keep & part[S.EVENT_TYPE].isin(types).to_numpy()
    sub = part.loc[keep]
    return pd.DataFrame({"period": period_start(sub[S.TS], g).dt.as_unit("us").array,
                         "v": sub[S.LATENCY_MS].to_numpy(dtype="float64")})


def _period_quantiles(part: pd.DataFrame) -> pd.DataFrame:
    from analytics_lib.analysis.workflow.kpis import latency_quantiles

    out = latency_quantiles(part["v"], part["period"], (0.5, 0.95, 0.99))
    out.columns = ["latency_p50", "latency_p95", "latency_p99"]
    out.index = pd.DatetimeIndex(out.index, name="period").tz_convert("UTC").as_unit("us") if len(out) else \
        pd.DatetimeIndex([], tz="UTC", name="period").as_unit("us")
    return out.astype("float64")


def _kpi_combine(partials: pd.DataFrame, quantiles: pd.DataFrame, g: str) -> pd.DataFrame:
    from analytics_lib.analysis.workflow.kpis import KPI_COLUMNS
    from analytics_lib.core.timewindow import period_index, period_start

    per = partials[partials["kind"] == "p"].groupby("key")[[*_ADDITIVE_KPIS, *_RATE_PARTS]].sum()
    if per.empty:
        return pd.DataFrame(columns=KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    full = period_index(per.index.min(), per.index.max(), g)
    per = per.reindex(full, fill_value=0.0)
    out = pd.DataFrame(index=full)
    for c in ("events", "active_users", "sessions"):
        out[c] = per[c].round().astype("int64")
    users = out["active_users"].where(out["active_users"] > 0)
    out["events_per_user"] = out["events"] / users
    out["sessions_per_user"] = out["sessions"] / users
    out["cache_hit_rate"] = per["cache_hit"] / per["cache_q"].where(per["cache_q"] > 0)
    out["error_rate"] = per["error"] / per["request"].where(per["request"] > 0)
    lat = quantiles.reindex(full)
    for c in ("latency_p50", "latency_p95", "latency_p99"):
        out[c] = lat[c].to_numpy()
    out["tokens_in"], out["tokens_out"], out["cost_usd"] = per["tokens_in"], per["tokens_out"], per["cost_usd"]
    out["accepts"] = per["accepts"].round().astype("int64")
    out["cost_per_accept"] = out["cost_usd"] / out["accepts"].where(out["accepts"] > 0)
    out["satisfaction"] = per["sat_sum"] / per["sat_n"].where(per["sat_n"] > 0)
    daily = partials[partials["kind"] == "d"].groupby("key")["dau"].sum()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max(), freq="D"), fill_value=0.0)
    mean_dau = daily.groupby(period_start(pd.Series(daily.index), g).to_numpy()).mean()
    out["stickiness"] = mean_dau.reindex(full).to_numpy() / users
    return out[KPI_COLUMNS]


# --------------------------------------------------------------------------------------------
# Retention
@_keeps_dtypes
def dask_retention_matrix(events, *, granularity: str = "W", periods: int = 12, mode: str = "on",
                          cohort_type: str = "first_time"):
    """:func:`~analytics_lib.analysis.workflow.retention.retention_matrix` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Per user partition the pandas matrix gives each cohort's size and retained users
    (share x size); these add up, and the shares are recomputed over the whole period range.

    Parameters
    ----------
    events : DaskEvents, dask DataFrame, pandas DataFrame or UserPartitioned
        Validated events (:func:`~analytics_lib.compute.dask.partition.events_by_user` takes
        them as they are).
    granularity, periods, mode, cohort_type
        As in :func:`~analytics_lib.analysis.workflow.retention.retention_matrix` (defaults ``"W"``, 12, ``"on"``,
        ``"first_time"``).

    Examples
    --------
    >>> from analytics_lib.compute.dask.readers import dask_events
    >>> from analytics_lib.compute.dask.readers import dask_events
    >>> from analytics_lib.compute.dask.readers import dask_events
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import retention_matrix
    >>> ev = synthetic_events(5_000, days=56, seed=0).events
    >>> dask_retention_matrix(ev, periods=4).compute().equals(retention_matrix(ev, periods=4))
    True
    """
    from analytics_lib.analysis.workflow.retention import retention_matrix

    opts = dict(granularity=granularity, periods=int(periods), mode=mode, cohort_type=cohort_type)
    up = events_by_user(events)
    retention_matrix(_probe(up.frame._meta), **opts)
    meta = pd.DataFrame({"cohort": pd.Series([], dtype="datetime64[us, UTC]"), "k": pd.Series([], dtype="int64"),
                         "n": pd.Series([], dtype="int64")})
    parts = up.frame.map_partitions(_retention_partial, opts, meta=meta)
    return _combined(_retention_combine, retention_matrix(_probe(up.frame._meta), **opts).iloc[:0], parts, opts)


def _retention_partial(part: pd.DataFrame, opts: dict) -> pd.DataFrame:
    """Rows (cohort, k, retained users) with k = -1 for the cohort size and -2 for the last period."""
    from analytics_lib.core.timewindow import period_start
    from analytics_lib.analysis.workflow.retention import retention_matrix

    if part.empty:
        return pd.DataFrame({"cohort": pd.Series([], dtype="datetime64[us, UTC]"), "k": pd.Series([], dtype="int64"),
                             "n": pd.Series([], dtype="int64")})
    ev = _flat(part)
    r = retention_matrix(ev, **opts)
    size = r["size"].to_numpy(dtype=np.int64)
    shares = r[list(range(opts["periods"]))].to_numpy(dtype=float)
    retained = np.rint(np.nan_to_num(shares) * size[:, None]).astype(np.int64)
    k = np.tile(np.arange(opts["periods"]), len(r))
    starts = r.index.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy()
    last = period_start(ev[S.TS], opts["granularity"]).max().tz_convert("UTC").tz_localize(None).as_unit("us")
    cohort = np.concatenate([starts, np.repeat(starts, opts["periods"]), [last.to_datetime64()]])
    return pd.DataFrame({"cohort": pd.DatetimeIndex(cohort).tz_localize("UTC"),
                         "k": np.concatenate([np.full(len(r), -1), k, [-2]]).astype(np.int64),
                         "n": np.concatenate([size, retained.ravel(), [0]]).astype(np.int64)})


def _retention_combine(parts: pd.DataFrame, opts: dict) -> pd.DataFrame:
    from analytics_lib.core.timewindow import check_granularity
    from analytics_lib.core.timewindow import period_index
    from analytics_lib.analysis.workflow.retention import retention_shares

    periods, g = opts["periods"], check_granularity(opts["granularity"])
    if parts.empty:
        return pd.DataFrame(columns=["size", *range(periods)], index=pd.DatetimeIndex([], tz="UTC", name="cohort"))
    last = parts.loc[parts["k"] == -2, "cohort"].max()
    sums = parts[parts["k"] >= -1].groupby(["cohort", "k"])["n"].sum().unstack("k")
    index = period_index(sums.index.min(), last, g)
    n_per = len(index)
    sums = sums.reindex(index).fillna(0).astype(np.int64)
    size = sums[-1].to_numpy() if -1 in sums else np.zeros(n_per, dtype=np.int64)
    retained = sums.reindex(columns=range(periods), fill_value=0).to_numpy(dtype=np.int64)
    return retention_shares(retained, size, index)


# --------------------------------------------------------------------------------------------
# Paths, transitions, funnels
@_keeps_dtypes
def dask_path_variants(events, *, top: int = 10, gap: str = "30min"):
    """:func:`~analytics_lib.analysis.workflow.transitions.path_variants` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Per user partition the pandas function lists every variant with its sessions; these add
    up over partitions, and the ``top`` variants are ranked on the totals (ties in the same
    order as the pandas function).

    Parameters
    ----------
    events : DaskEvents, dask DataFrame, pandas DataFrame or UserPartitioned
        Validated events (:func:`~analytics_lib.compute.dask.partition.events_by_user` takes
        them as they are).
    top : int
        Number of variants returned, most frequent first (at least 1; default 10).
    gap : str
        Inactivity that ends a derived session (rows without ``session_id``), as a pandas
        duration (default ``"30min"``).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import path_variants
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> dask_path_variants(ev, top=5).compute().equals(path_variants(ev, top=5))
    True
    """
    from analytics_lib.analysis.workflow.transitions import path_variants

    up = events_by_user(events)
    path_variants(_probe(up.frame._meta), top=top, gap=gap)
    meta = pd.DataFrame({"path": pd.Series([], dtype="str"), "steps": pd.Series([], dtype="int64"),
                         "sessions": pd.Series([], dtype="int64")})
    parts = up.frame.map_partitions(_variants_partial, gap, meta=meta)
    return _combined(_variants_combine, path_variants(_probe(up.frame._meta), top=top, gap=gap).iloc[:0], parts, int(top))


def _variants_partial(part: pd.DataFrame, gap: str) -> pd.DataFrame:
    from analytics_lib.analysis.workflow.transitions import path_variants

    if part.empty:
        return pd.DataFrame({"path": pd.Series([], dtype="str"), "steps": pd.Series([], dtype="int64"),
                             "sessions": pd.Series([], dtype="int64")})
    every = path_variants(_flat(part), top=len(part), gap=gap)   # at most one variant per event
    return every[["path", "steps", "sessions"]].astype({"path": "str", "steps": "int64", "sessions": "int64"})


def _variants_combine(parts: pd.DataFrame, top: int) -> pd.DataFrame:
    totals = parts.groupby("path", sort=False).agg(steps=("steps", "first"), sessions=("sessions", "sum"))
    n_sessions = int(totals["sessions"].sum())
    tokens = [p.split(" > ") for p in totals.index]
    types = sorted({t for ts in tokens for t in ts})
    # path_variants orders tied variants by its sequence hash over all event types present,
    # (code + 1) * 1_000_003 ** (position + 1) summed modulo 2**64; the same hash here
    code = {t: i for i, t in enumerate(types)}
    flat = np.array([code[t] for ts in tokens for t in ts], dtype=np.uint64)
    lengths = np.array([len(ts) for ts in tokens], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.array([], dtype=np.int64)
    pos = np.arange(len(flat)) - np.repeat(starts, lengths)
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(int(lengths.max()) if len(lengths) else 1, np.uint64(1_000_003), dtype=np.uint64))
        h = np.add.reduceat((flat + np.uint64(1)) * powers[pos], starts) if len(starts) else np.array([], np.uint64)
    ranked = totals.assign(h=h).reset_index()
    ranked = ranked.sort_values(["h", "steps"], kind="stable").sort_values("sessions", ascending=False, kind="stable")
    best = ranked.head(top)
    rows = [(rank, p, int(s), int(n)) for rank, (p, s, n) in
            enumerate(zip(best["path"], best["steps"], best["sessions"]), start=1)]
    out = pd.DataFrame(rows, columns=["rank", "path", "steps", "sessions"])
    out["share"] = out["sessions"] / n_sessions
    out["cumulative_share"] = out["share"].cumsum()
    return out


_SEQUENCE_COLUMNS = [S.TS, S.USER_ID, S.SESSION_ID, S.EVENT_TYPE]


@_keeps_dtypes
def dask_transition_table(events, *, gap: str = "30min"):
    """:func:`~analytics_lib.analysis.workflow.transitions.transition_table` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Sessions are derived per user partition; the median and percentile times need every
    transition, so the pandas function then runs once on ``ts, user_id, session_id,
    event_type`` of all partitions, gathered on one worker (about 30 bytes per event).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import transition_table
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> got, want = dask_transition_table(ev).compute(), transition_table(ev)
    >>> got[["source", "target", "count", "users"]].equals(want[["source", "target", "count", "users"]])
    True
    """
    from analytics_lib.analysis.workflow.transitions import transition_table

    up = dask_sessionize(events, gap=gap)
    transition_table(_probe(up.frame._meta), gap=gap)
    meta = transition_table(_probe(up.frame._meta), gap=gap).iloc[:0]
    return _combined(_gathered, meta, up.frame[_SEQUENCE_COLUMNS], transition_table, {"gap": gap})


@_keeps_dtypes
def dask_funnel_table(events, steps: Sequence[str | Sequence[str]], *, within: str = "14D", mode: str = "sequential",
                      unit: str = "user", by: str | pd.Series | None = None, gap: str = "30min"):
    """:func:`~analytics_lib.analysis.workflow.funnels.funnel_table` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Sessions are derived per user partition (``unit="session"``); the funnel's median times
    need every entity's time, so the pandas function runs once on the projected columns
    (``ts, user_id, session_id, event_type`` and the ``by`` column) gathered on one worker.

    Parameters
    ----------
    events : DaskEvents, dask DataFrame, pandas DataFrame or UserPartitioned
        Validated events (:func:`~analytics_lib.compute.dask.partition.events_by_user` takes
        them as they are).
    steps, within, mode, unit, by, gap
        As in :func:`~analytics_lib.analysis.workflow.funnels.funnel_table` (defaults ``"14D"``, ``"sequential"``,
        ``"user"``, None, ``"30min"``); a Series ``by`` is sent to the worker with the events.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib import funnel_table
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> steps = ["session_start", "generation", "accept"]
    >>> dask_funnel_table(ev, steps, unit="session").compute().equals(funnel_table(ev, steps, unit="session"))
    True
    """
    from analytics_lib.analysis.workflow.funnels import funnel_table

    opts = dict(steps=steps, within=within, mode=mode, unit=unit, by=by, gap=gap)
    up = dask_sessionize(events, gap=gap) if unit == "session" else events_by_user(events)
    funnel_table(_probe(up.frame._meta), **opts)
    cols = _SEQUENCE_COLUMNS + ([by] if isinstance(by, str) and by not in _SEQUENCE_COLUMNS else [])
    meta = funnel_table(_probe(up.frame._meta), **opts).iloc[:0]
    return _combined(_gathered, meta, up.frame[cols], funnel_table, opts)


def _gathered(part: pd.DataFrame, fn: Callable, kwargs: dict):
    """``fn`` once over all partitions (concatenated by Dask, categoricals unioned)."""
    return fn(_flat(part), **kwargs)
