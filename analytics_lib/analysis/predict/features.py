"""Features per user as of a cutoff (only events before it), churn labels and the churn dataset; features per session.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.checks import check_positive_int
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import DAY_US, epoch_micros, parse_when


_GEN, _ERR, _CACHE = "generation", "error", "cache_query"
#: The user feature table's columns (after ``user_id`` and ``cutoff``), with their meaning.
#: "History" is every event before the cutoff in the data given (tenure is counted from the
#: user's first event there); windows such as "28d" end at the cutoff.
USER_FEATURES: dict[str, str] = {
    "recency_days": "days from the user's last event to the cutoff",
    "tenure_days": "days from the user's first event (in the data given) to the cutoff",
    "active_days_28d": "distinct UTC days with an event in the 28 days before the cutoff",
    "sessions_7d": "sessions started in the 7 days before the cutoff",
    "sessions_28d": "sessions started in the 28 days before the cutoff",
    "sessions_per_week": "sessions per week from the user's first to last event (a span of at least one week)",
    "activity_trend": "log2((sessions in the last 14 days + 1) / (sessions in the 14 days before + 1))",
    "mean_gap_days": "mean days between consecutive session starts (NaN with one session)",
    "overdue_ratio": "recency_days / mean_gap_days: how many usual gaps the user has been silent",
    "missed_sessions": "recency_days x sessions_per_week / 7: sessions the user would have started at their usual pace",
    "events_per_session": "events per session over the history",
    "completion_rate": "share of sessions that reached accept or export (session_table outcome 'accepted')",
    "rework_rate": "share of sessions with rework (a generation, edit or test_run repeated)",
    "latency_mean_s": "mean latency of the user's generation events, seconds",
    "latency_p95_s": "95th percentile latency of the user's generation events, seconds",
    "error_share": "error events / LLM requests (generation + error)",
    "cache_hit_rate": "cache_query events that hit / cache_query events with a known outcome",
    "satisfaction_mean": "mean satisfaction score the user gave (NaN without feedback)",
    "feedback_count": "satisfaction scores the user gave",
    "cost_usd_28d": "cost_usd of the user's events in the 28 days before the cutoff",
    "cost_per_session": "cost_usd per session over the history",
    "team": "the team of the user's most recent event that has one",
    "main_feature": "the feature of most of the user's sessions",
    "main_model": "the model behind most of the user's generation events",
}
_CATEGORICAL_USER = ("team", "main_feature", "main_model")
#: The session feature table's model inputs, with their meaning.
SESSION_FEATURES: dict[str, str] = {
    "latency_s": "mean latency of the session's generation events, seconds (NaN without a generation)",
    "n_generations": "generation events in the session",
    "n_errors": "error events in the session",
    "n_steps": "distinct event types in the session",
    "n_events": "events in the session",
    "rework": "a generation, edit or test_run occurs more than once",
    "cache_hit": "a cache_query of the session was answered from the cache",
    "duration_min": "minutes from the session's first to its last event",
    "model": "the model of the session's first event that has one",
    "feature": "the feature of the session's first event that has one",
    "team": "the team of the session's first event that has one",
}
_CATEGORICAL_SESSION = ("model", "feature", "team")


# ============================================================================================
# Input checks
def _check_events(events: Any, what: str = "events") -> None:
    if not isinstance(events, pd.DataFrame):
        raise WorkbenchError(f"{what} must be a DataFrame of validated events (load_events(...).events), "
                             f"got {type(events).__name__}")
    missing = [c for c in (S.TS, S.USER_ID, S.EVENT_TYPE) if c not in events.columns]
    if missing:
        raise WorkbenchError(f"{what} are missing columns: {', '.join(missing)}; pass validated events "
                             "(load_events(...).events or validate_events(df).events)")
    ts = events[S.TS]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise WorkbenchError(f"{what}: ts must be timezone-aware UTC timestamps; validate the events first "
                             "(validate_events(df).events)")
    if len(events) and (ts.isna().any() or events[S.USER_ID].isna().any()):
        raise WorkbenchError(f"{what}: ts and user_id must be set on every row; validate the events first "
                             "(invalid rows are quarantined there, not dropped here)")


def _cutoff(value: Any, name: str = "cutoff") -> pd.Timestamp:
    """A cutoff as a UTC midnight; a time of day is refused (cutoffs are whole days)."""
    if value is None:
        raise WorkbenchError(f"{name} is required: give a date such as '2025-06-01'")
    ts = parse_when(value, name=name)
    if ts is None:
        raise WorkbenchError(f"{name}={value!r} is empty: give a date such as '2025-06-01'")
    if ts != ts.normalize():
        raise WorkbenchError(f"{name}={value!r} is not a midnight (UTC): cutoffs are whole days, give a date "
                             f"such as {ts.normalize().date().isoformat()!r}")
    return ts.as_unit("us")


def _us(ts: pd.Timestamp) -> int:
    return int(ts.value // 1000)  # Timestamp.value is in nanoseconds whatever the unit


def _data_end(events: pd.DataFrame) -> pd.Timestamp:
    """The day after the last event: the end of the period the events cover."""
    return events[S.TS].max().floor("D") + pd.Timedelta(days=1)


# ============================================================================================
# Features per user as of a cutoff
@dataclass(frozen=True)
class _Prepared:
    """Events of one frame as arrays sorted by time, plus its sessions (computed once)."""

    ts: np.ndarray            # int64 microseconds, ascending
    user: np.ndarray          # user code per event
    users: np.ndarray         # user ids (str) for the codes
    is_gen: np.ndarray
    is_err: np.ndarray
    is_cache: np.ndarray      # cache_query with a known outcome
    hit: np.ndarray
    latency_s: np.ndarray
    cost: np.ndarray
    sat: np.ndarray
    team: np.ndarray          # team code per event (-1 missing)
    teams: np.ndarray
    model: np.ndarray         # model code per event (-1 missing)
    models: np.ndarray
    events: pd.DataFrame      # sessionized events in time order (for sessions cut by a cutoff)
    sessions: pd.DataFrame    # session_table of all the events, with user and feature codes, by start
    features: np.ndarray
    gap: str


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), np.asarray(values.cat.categories.astype(str))
    codes, names = pd.factorize(values.astype("str"), sort=True)
    return codes.astype(np.int64), np.asarray(names, dtype=object).astype(str)


def _prepare(events: pd.DataFrame, gap: str) -> _Prepared:
    from analytics_lib.analysis.workflow.sessions import session_table, sessionize

    _check_events(events)
    ev = sessionize(events, gap=gap) if S.SESSION_ID in events.columns else \
        sessionize(events.assign(**{S.SESSION_ID: pd.Series(pd.NA, index=events.index, dtype="str")}), gap=gap)
    ts = epoch_micros(ev[S.TS])
    if len(ts) > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
        order = np.argsort(ts, kind="stable")
        ev, ts = ev.iloc[order], ts[order]
    ev = ev.reset_index(drop=True)
    user, users = _codes(ev[S.USER_ID])
    et = ev[S.EVENT_TYPE].astype("str").to_numpy()
    cache_known = (et == _CACHE) & ev[S.CACHE_HIT].notna().to_numpy() if S.CACHE_HIT in ev else np.zeros(len(ev), bool)
    hit = cache_known & (ev[S.CACHE_HIT].fillna(False).to_numpy(dtype=bool) if S.CACHE_HIT in ev else False)

    def floats(col: str) -> np.ndarray:
        return ev[col].to_numpy(dtype="float64", na_value=np.nan) if col in ev else np.full(len(ev), np.nan)

    def cat(col: str) -> tuple[np.ndarray, np.ndarray]:
        if col not in ev:
            return np.full(len(ev), -1, np.int64), np.array([], dtype=object)
        return _codes(ev[col])

    team, teams = cat(S.TEAM)
    model, models = cat(S.MODEL)
    sessions = session_table(ev, gap=gap)
    s_user = pd.Categorical(sessions["user_id"], categories=list(users)).codes.astype(np.int64)
    feat, features = _codes(sessions[S.FEATURE].astype("str")) if sessions[S.FEATURE].notna().any() else \
        (np.full(len(sessions), -1, np.int64), np.array([], dtype=object))
    feat = np.where(sessions[S.FEATURE].isna().to_numpy(), -1, feat)
    sessions = sessions.assign(_user=s_user, _feature=feat, _start=epoch_micros(sessions["start"]),
                               _end=epoch_micros(sessions["end"]))
    return _Prepared(ts=ts, user=user, users=users, is_gen=et == _GEN, is_err=et == _ERR, is_cache=cache_known,
                     hit=hit, latency_s=floats(S.LATENCY_MS) / 1000.0, cost=floats(S.COST_USD),
                     sat=floats(S.SATISFACTION), team=team, teams=teams, model=model, models=models, events=ev,
                     sessions=sessions, features=features, gap=gap)


def _mode(codes: np.ndarray, owner: np.ndarray, n_owner: int, n_codes: int) -> np.ndarray:
    """Most frequent code per owner (ties: the smallest code); -1 where the owner has none."""
    ok = codes >= 0
    out = np.full(n_owner, -1, np.int64)
    if n_codes == 0 or not ok.any():
        return out
    counts = np.bincount(owner[ok] * n_codes + codes[ok], minlength=n_owner * n_codes).reshape(n_owner, n_codes)
    has = counts.sum(axis=1) > 0
    out[has] = counts[has].argmax(axis=1)
    return out


def _sessions_before(p: _Prepared, cutoff_us: int) -> pd.DataFrame:
    """The sessions started before the cutoff, those cut by it recomputed from their earlier events only."""
    from analytics_lib.analysis.workflow.sessions import session_table

    s = p.sessions
    started = s[s["_start"].to_numpy() < cutoff_us]
    cut = started["_end"].to_numpy() >= cutoff_us
    if not cut.any():
        return started
    ids = started.loc[cut, "session_id"]
    n = int(np.searchsorted(p.ts, cutoff_us, side="left"))
    part = p.events.iloc[:n]
    part = part[part[S.SESSION_ID].isin(ids).to_numpy()]
    redone = session_table(part, gap=p.gap)
    redone = redone.merge(started.loc[cut, ["session_id", "_user"]], on="session_id", how="left")
    feature = redone[S.FEATURE].astype("object")
    redone["_feature"] = pd.Index(p.features).get_indexer(feature.where(feature.notna(), None)).astype(np.int64)
    redone["_start"], redone["_end"] = epoch_micros(redone["start"]), epoch_micros(redone["end"])
    return pd.concat([started[~cut], redone[started.columns]], ignore_index=True)


def _features_at(p: _Prepared, cutoff: pd.Timestamp, active_days: int) -> pd.DataFrame:
    """The feature table at one cutoff from prepared arrays (only events before the cutoff)."""
    c = _us(cutoff)
    n = int(np.searchsorted(p.ts, c, side="left"))
    U = len(p.users)
    u, ts = p.user[:n], p.ts[:n]
    count = np.bincount(u, minlength=U)
    last = np.full(U, np.iinfo(np.int64).min)
    np.maximum.at(last, u, ts)
    first = np.full(U, np.iinfo(np.int64).max)
    np.minimum.at(first, u, ts)
    active = (count > 0) & (last >= c - active_days * DAY_US)
    recency = (c - last) / DAY_US
    tenure = (c - first) / DAY_US

    lo28 = int(np.searchsorted(ts, c - 28 * DAY_US, side="left"))
    day = (ts[lo28:] - (c - 28 * DAY_US)) // DAY_US
    pairs = np.unique(u[lo28:] * 28 + day)
    active_days_28 = np.bincount(pairs // 28, minlength=U)

    sess = _sessions_before(p, c)
    su, start = sess["_user"].to_numpy(), sess["_start"].to_numpy()
    n_sess = np.bincount(su, minlength=U)

    def sessions_in(lo_days: int, hi_days: int = 0) -> np.ndarray:
        sel = (start >= c - lo_days * DAY_US) & (start < c - hi_days * DAY_US)
        return np.bincount(su[sel], minlength=U)

    s7, s28 = sessions_in(7), sessions_in(28)
    s_recent, s_before = sessions_in(14), sessions_in(28, 14)
    first_start = np.full(U, np.iinfo(np.int64).max)
    last_start = np.full(U, np.iinfo(np.int64).min)
    np.minimum.at(first_start, su, start)
    np.maximum.at(last_start, su, start)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = np.where(n_sess > 1, (last_start - first_start) / DAY_US / (n_sess - 1), np.nan)
        overdue = recency / mean_gap
        per_week = n_sess / (np.maximum((last - first) / DAY_US, 7.0) / 7.0)
        per_session = lambda x: np.where(n_sess > 0, x / n_sess, np.nan)  # noqa: E731
        events_per_session = per_session(np.bincount(su, sess["n_events"].to_numpy(), minlength=U))
        completion = per_session(np.bincount(su, (sess["outcome"] == "accepted").to_numpy(), minlength=U))
        rework = per_session(np.bincount(su, sess["rework"].to_numpy(dtype=bool), minlength=U))

        gen, err = p.is_gen[:n], p.is_err[:n]
        n_gen = np.bincount(u[gen], minlength=U)
        lat = p.latency_s[:n]
        gen_lat = gen & ~np.isnan(lat)
        lat_mean = np.bincount(u[gen_lat], lat[gen_lat], minlength=U) / np.bincount(u[gen_lat], minlength=U)
        n_err = np.bincount(u[err], minlength=U)
        error_share = np.where(n_gen + n_err > 0, n_err / (n_gen + n_err), np.nan)
        cq = p.is_cache[:n]
        cache_rate = np.bincount(u[cq], p.hit[:n][cq], minlength=U) / np.bincount(u[cq], minlength=U)
        sat = p.sat[:n]
        has_sat = ~np.isnan(sat)
        n_fb = np.bincount(u[has_sat], minlength=U)
        sat_mean = np.where(n_fb > 0, np.bincount(u[has_sat], sat[has_sat], minlength=U) / n_fb, np.nan)
        cost = np.nan_to_num(p.cost[:n])
        cost_total = np.bincount(u, cost, minlength=U)
        cost_28 = np.bincount(u[lo28:], cost[lo28:], minlength=U)
        cost_per_session = np.where(n_sess > 0, cost_total / n_sess, np.nan)
    p95 = pd.Series(lat[gen_lat]).groupby(u[gen_lat]).quantile(0.95).reindex(range(U)).to_numpy()

    # categorical: the team of the latest event that has one, the modal feature and model
    team = np.full(U, -1, np.int64)
    has_team = p.team[:n] >= 0
    latest = np.full(U, -1, np.int64)
    np.maximum.at(latest, u[has_team], np.flatnonzero(has_team))
    team[latest >= 0] = p.team[latest[latest >= 0]]
    main_feature = _mode(sess["_feature"].to_numpy(), su, U, len(p.features))
    main_model = _mode(np.where(gen, p.model[:n], -1), u, U, len(p.models))

    def labels(codes: np.ndarray, names: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=list(names)) if len(names) else \
            pd.Categorical([None] * len(codes), categories=[])

    out = pd.DataFrame({
        "user_id": p.users, "cutoff": cutoff,
        "recency_days": recency, "tenure_days": tenure, "active_days_28d": active_days_28.astype("float64"),
        "sessions_7d": s7.astype("float64"), "sessions_28d": s28.astype("float64"), "sessions_per_week": per_week,
        "activity_trend": np.log2((s_recent + 1) / (s_before + 1)), "mean_gap_days": mean_gap,
        "overdue_ratio": overdue, "missed_sessions": recency * per_week / 7.0,
        "events_per_session": events_per_session, "completion_rate": completion, "rework_rate": rework,
        "latency_mean_s": lat_mean, "latency_p95_s": p95, "error_share": error_share,
        "cache_hit_rate": cache_rate, "satisfaction_mean": sat_mean, "feedback_count": n_fb.astype("float64"),
        "cost_usd_28d": cost_28, "cost_per_session": cost_per_session,
        "team": labels(team, p.teams), "main_feature": labels(main_feature, p.features),
        "main_model": labels(main_model, p.models),
    })
    out = out[active].sort_values("user_id", kind="stable").reset_index(drop=True)
    for col in _CATEGORICAL_USER:
        out[col] = out[col].astype("str").where(out[col].notna()).astype("category")
    out["user_id"] = out["user_id"].astype("str")
    return out


def _check_active_days(active_days: Any) -> int:
    return check_positive_int(active_days, "active_days", high=3650,
                         hint=" (users with an event in that many days before the cutoff are scored)")


def user_features(events: pd.DataFrame, *, cutoff: str | pd.Timestamp, active_days: int = 28,
                  gap: str = "30min") -> pd.DataFrame:
    """One row per user active before ``cutoff``, describing them from events before it only.

    The population is the users with at least one event in the ``active_days`` days before the
    cutoff (users who left earlier are not "about to leave"). Only events with ``ts <
    cutoff`` are read, so the table is the same whether or not later events are in the frame.
    Sessions come from :func:`analytics_lib.analysis.workflow.sessions.session_table` on those events (a
    session that the cutoff cuts keeps only its earlier events).

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    cutoff : str or Timestamp
        A UTC midnight: an ISO date, ``"today"``, ``"-7d"``...
    active_days : int
        Size of the activity window that defines the population.
    gap : str
        Inactivity that ends a derived session (rows without ``session_id``).

    Returns
    -------
    DataFrame
        ``user_id, cutoff`` and the columns of :data:`USER_FEATURES` (floats; ``team``,
        ``main_feature``, ``main_model`` categorical), sorted by ``user_id``. Rates without a
        denominator are NaN (a user without generations has no latency).

    Raises
    ------
    WorkbenchError
        For a frame that is not validated events or a bad cutoff.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=42, end="2025-06-30", seed=0).events
    >>> f = user_features(ev, cutoff="2025-06-16")
    >>> f.columns[:4].tolist(), bool((f["recency_days"] <= 28).all())
    (['user_id', 'cutoff', 'recency_days', 'tenure_days'], True)
    """
    c = _cutoff(cutoff)
    days = _check_active_days(active_days)
    _check_events(events)
    before = events[(events[S.TS] < c).to_numpy()]
    if before.empty:
        raise WorkbenchError(f"no events before cutoff={c.date().isoformat()}: choose a later cutoff "
                             f"(the events start {events[S.TS].min() if len(events) else 'nowhere: the frame is empty'})")
    return _features_at(_prepare(before, gap), c, days)


def churn_labels(events: pd.DataFrame, *, cutoff: str | pd.Timestamp, churn_window_days: int = 28,
                 active_days: int = 28) -> pd.DataFrame:
    """Whether each user active before ``cutoff`` had no activity in the ``churn_window_days`` after it.

    The users are those of :func:`user_features` (an event in the ``active_days`` before the
    cutoff); ``churned`` is true when the user has no event in ``[cutoff, cutoff +
    churn_window_days)``. The events must cover that window (their last day is on or after
    its last day), otherwise the label would be a guess and a :class:`WorkbenchError` says so.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``) covering the churn window.
    cutoff : str or Timestamp
        A UTC midnight: an ISO date, ``"today"``, ``"-7d"``...
    churn_window_days : int
        Days after the cutoff in which a user without an event has churned (1 to 3650;
        default 28).
    active_days : int
        Days before the cutoff in which a user needs an event to be labelled (1 to 3650;
        default 28).

    Returns
    -------
    DataFrame
        ``user_id, cutoff, churned, days_to_next`` (days from the cutoff to the user's next
        event, NaN when none in the window), sorted by ``user_id``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=42, end="2025-06-30", seed=0).events
    >>> lab = churn_labels(ev, cutoff="2025-06-02", churn_window_days=28)
    >>> lab.columns.tolist()
    ['user_id', 'cutoff', 'churned', 'days_to_next']
    """
    c = _cutoff(cutoff)
    window = check_positive_int(churn_window_days, "churn_window_days", high=3650)
    days = _check_active_days(active_days)
    _check_events(events)
    _check_label_window(events, c, window)
    ts = events[S.TS]
    before = events[(ts < c).to_numpy()]
    users = before.loc[(before[S.TS] >= c - pd.Timedelta(days=days)).to_numpy(), S.USER_ID].astype("str").unique()
    return _labels_for(pd.Index(np.sort(users)), events, c, window)


def _check_label_window(events: pd.DataFrame, c: pd.Timestamp, window: int) -> None:
    end = _data_end(events) if len(events) else None
    need = c + pd.Timedelta(days=window)
    if end is None or end < need:
        raise WorkbenchError(
            f"cutoff={c.date().isoformat()} with churn_window_days={window}: the label needs events up to "
            f"{(need - pd.Timedelta(days=1)).date().isoformat()}, but they end "
            f"{'nowhere (no events)' if end is None else (end - pd.Timedelta(days=1)).date().isoformat()}; "
            f"choose a cutoff on or before {'-' if end is None else (end - pd.Timedelta(days=window)).date().isoformat()}")


def _labels_for(users: pd.Index, events: pd.DataFrame, c: pd.Timestamp, window: int) -> pd.DataFrame:
    ts = events[S.TS]
    after = events.loc[((ts >= c) & (ts < c + pd.Timedelta(days=window))).to_numpy(), [S.USER_ID, S.TS]]
    nxt = after.groupby(after[S.USER_ID].astype("str"))[S.TS].min()
    days_to_next = ((nxt - c) / pd.Timedelta(days=1)).reindex(users)
    return pd.DataFrame({"user_id": users.astype("str"), "cutoff": c, "churned": days_to_next.isna().to_numpy(),
                         "days_to_next": days_to_next.to_numpy(dtype="float64")})


def churn_dataset(events: pd.DataFrame, *, cutoffs: Sequence[str | pd.Timestamp], churn_window_days: int = 28,
                  active_days: int = 28, gap: str = "30min") -> pd.DataFrame:
    """Features and labels at several cutoffs, stacked: the rows models train and test on.

    Row for row the same as ``user_features(events[events.ts < c], cutoff=c)`` joined with
    ``churn_labels(events, cutoff=c)`` for each cutoff ``c``, computed in one pass (sessions
    are built once; those a cutoff cuts are recomputed from their earlier events).

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``) from before the first cutoff to the end
        of the last cutoff's churn window.
    cutoffs : sequence of str or Timestamp
        UTC midnights (ISO dates, ``"-28d"``...), or one; duplicates count once.
    churn_window_days : int
        Days after each cutoff in which a user without an event has churned (1 to 3650;
        default 28).
    active_days : int
        Days before each cutoff in which a user needs an event to get a row (1 to 3650;
        default 28).
    gap : str
        Inactivity that ends a derived session (rows without ``session_id``), as a pandas
        duration (default ``"30min"``).

    Returns
    -------
    DataFrame
        ``user_id, cutoff``, the :data:`USER_FEATURES` columns, ``churned`` and
        ``days_to_next``; sorted by ``cutoff`` then ``user_id``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=56, end="2025-06-30", seed=0).events
    >>> d = churn_dataset(ev, cutoffs=["2025-05-26", "2025-06-02"], churn_window_days=14)
    >>> d["cutoff"].dt.strftime("%m-%d").unique().tolist(), "churned" in d
    (['05-26', '06-02'], True)
    """
    window = check_positive_int(churn_window_days, "churn_window_days", high=3650)
    days = _check_active_days(active_days)
    cs = sorted({_cutoff(c) for c in cutoffs}) if not isinstance(cutoffs, (str, pd.Timestamp)) else [_cutoff(cutoffs)]
    if not cs:
        raise WorkbenchError("cutoffs is empty: give at least one date")
    _check_events(events)
    _check_label_window(events, cs[-1], window)
    if (events[S.TS] < cs[0]).sum() == 0:
        raise WorkbenchError(f"no events before the first cutoff {cs[0].date().isoformat()}: choose later cutoffs")
    p = _prepare(events[(events[S.TS] < cs[-1]).to_numpy()], gap)
    parts = []
    for c in cs:  # a handful of cutoffs, vectorized inside
        f = _features_at(p, c, days)
        lab = _labels_for(pd.Index(f["user_id"]), events, c, window)
        parts.append(f.assign(churned=lab["churned"].to_numpy(), days_to_next=lab["days_to_next"].to_numpy()))
    out = pd.concat(parts, ignore_index=True)
    for col in _CATEGORICAL_USER:
        out[col] = out[col].astype("str").where(out[col].notna()).astype("category")
    return out


# ============================================================================================
# Satisfaction
def session_features(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """One row per session: what the developer experienced, and the score they gave (if any).

    Sessions and their steps, errors, rework, team, feature and model come from
    :func:`analytics_lib.analysis.workflow.sessions.session_table` run on the events **without** ``feedback``
    rows: the feedback is the outcome, not an input, so a session's counts and duration are
    the same whether it was rated or not. ``satisfaction`` is the mean score of the session's
    ``feedback`` events (NaN when unrated). A session made only of feedback events has no
    work to describe and is not in the table.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    gap : str
        Inactivity that ends a derived session.

    Returns
    -------
    DataFrame
        ``session_id, user_id, start``, the :data:`SESSION_FEATURES` columns (``rework`` and
        ``cache_hit`` as 0/1 floats; ``model``, ``feature``, ``team`` categorical) and
        ``satisfaction``; sorted by ``start``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> sf = session_features(synthetic_events(5_000, days=28, seed=0).events)
    >>> sf.columns[:4].tolist(), bool(sf["satisfaction"].between(1, 5).any())
    (['session_id', 'user_id', 'start', 'latency_s'], True)
    """
    from analytics_lib.analysis.workflow.sessions import session_table, sessionize

    _check_events(events)
    if events.empty:
        raise WorkbenchError("events is empty: load a period with sessions")
    ev = sessionize(events if S.SESSION_ID in events.columns else
                    events.assign(**{S.SESSION_ID: pd.Series(pd.NA, index=events.index, dtype="str")}), gap=gap)
    et = ev[S.EVENT_TYPE].astype("str").to_numpy()
    fb = et == "feedback"
    sid = ev[S.SESSION_ID].to_numpy(dtype=object)
    work = ev[~fb]
    if work.empty:
        raise WorkbenchError("the events hold only feedback: there is no session work to describe")
    st = session_table(work, gap=gap)
    codes = pd.Index(st["session_id"].astype("str")).get_indexer(sid)   # -1: a session with feedback only
    n = len(st)
    known = codes >= 0
    gen = (et == _GEN) & known
    lat = ev[S.LATENCY_MS].to_numpy(dtype="float64", na_value=np.nan) / 1000.0 if S.LATENCY_MS in ev else \
        np.full(len(ev), np.nan)
    gl = gen & ~np.isnan(lat)
    hits = (et == _CACHE) & known & (ev[S.CACHE_HIT].fillna(False).to_numpy(dtype=bool) if S.CACHE_HIT in ev else False)
    sat = ev[S.SATISFACTION].to_numpy(dtype="float64", na_value=np.nan) if S.SATISFACTION in ev else \
        np.full(len(ev), np.nan)
    rated = fb & known & ~np.isnan(sat)
    with np.errstate(invalid="ignore", divide="ignore"):
        latency = np.bincount(codes[gl], lat[gl], minlength=n) / np.bincount(codes[gl], minlength=n)
        score = np.bincount(codes[rated], sat[rated], minlength=n) / np.bincount(codes[rated], minlength=n)
    out = pd.DataFrame({
        "session_id": st["session_id"].astype("str"), "user_id": st["user_id"].astype("str"), "start": st["start"],
        "latency_s": latency, "n_generations": np.bincount(codes[gen], minlength=n).astype("float64"),
        "n_errors": st["n_errors"].astype("float64"), "n_steps": st["n_steps"].astype("float64"),
        "n_events": st["n_events"].astype("float64"), "rework": st["rework"].astype("float64"),
        "cache_hit": (np.bincount(codes[hits], minlength=n) > 0).astype("float64"),
        "duration_min": st["duration_s"] / 60.0,
        "model": st[S.MODEL], "feature": st[S.FEATURE], "team": st[S.TEAM], "satisfaction": score,
    })
    for c in _CATEGORICAL_SESSION:
        out[c] = out[c].astype("str").where(out[c].notna()).astype("category")
    return out.sort_values(["start", "session_id"], kind="stable").reset_index(drop=True)
