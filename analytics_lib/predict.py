"""User-level predictions: churn risk per developer and the drivers of session satisfaction.

Two models, both validated on time (train on earlier data, score a later period that no
training step saw; never a random split across time):

- :class:`ChurnModel` estimates, for every user active in the ``active_days`` before a
  cutoff, the probability of having **no activity in the** ``churn_window_days`` **after
  it** (:func:`churn_labels`). Features come from :func:`user_features`, which reads only
  events before the cutoff. Candidates (a regularized logistic regression and gradient
  boosting, each with a small grid) are trained on several earlier cutoffs
  (:func:`time_split`), compared on rolling validation cutoffs after them (mean log loss),
  the best is calibrated on the latest validation cutoff, and
  :meth:`ChurnModel.evaluate` scores it on a held-out cutoff whose labels no training
  step saw, next to the recency rule (risk = days since the last activity) that every
  model must beat. :meth:`ChurnModel.explain` turns each prediction into its top
  contributing features in plain words.
- :class:`SatisfactionModel` predicts a session's satisfaction score from the session's
  latency, errors, steps, rework, cache hit, model and feature (:func:`session_features`),
  trained on earlier sessions and evaluated on later ones against the mean predictor, with
  permutation importance, partial dependence and :func:`driver_sentences` ("mean
  generation latency above 2.5 s costs 0.4 satisfaction points").

:func:`save_model` / :func:`load_model` persist a fitted model with a JSON sidecar (feature
list, training window, validation scores, library and scikit-learn versions, a checksum),
and refuse a model whose features do not match this library's. The notebook
``notebooks/user_predictions.ipynb`` checks its parameters with
:func:`prediction_parameters`. Definitions are in ``docs/predictions.md``.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import schema as S
from .errors import WorkbenchError
from .params import TimeWindow, _check_output_dir, _check_source, _check_team, parse_when
from .redaction import redact

__all__ = [
    "USER_FEATURES", "SESSION_FEATURES", "user_features", "churn_labels", "churn_dataset", "TimeSplit", "time_split",
    "churn_metrics", "reliability_table", "ChurnModel", "ChurnEvaluation", "session_features", "SessionSplit",
    "session_split", "SatisfactionModel", "SatisfactionEvaluation", "driver_sentences", "save_model", "load_model",
    "PredictionParams", "prediction_parameters", "at_risk_table", "write_at_risk", "CHURN_CANDIDATES",
    "EXPLAIN_DRIVERS", "SATISFACTION_CANDIDATES", "model_metadata",
]

_DAY_US = 86_400_000_000
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


def _positive_int(value: Any, name: str, *, low: int = 1, high: int = 10**9, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise WorkbenchError(f"{name}={value!r} must be a whole number from {low:,} to {high:,}{hint}")
    return int(value)


def _micros(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)


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
    from .workflow import session_table, sessionize

    _check_events(events)
    ev = sessionize(events, gap=gap) if S.SESSION_ID in events.columns else \
        sessionize(events.assign(**{S.SESSION_ID: pd.Series(pd.NA, index=events.index, dtype="str")}), gap=gap)
    ts = _micros(ev[S.TS])
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
    sessions = sessions.assign(_user=s_user, _feature=feat, _start=_micros(sessions["start"]),
                               _end=_micros(sessions["end"]))
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
    from .workflow import session_table

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
    redone["_start"], redone["_end"] = _micros(redone["start"]), _micros(redone["end"])
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
    active = (count > 0) & (last >= c - active_days * _DAY_US)
    recency = (c - last) / _DAY_US
    tenure = (c - first) / _DAY_US

    lo28 = int(np.searchsorted(ts, c - 28 * _DAY_US, side="left"))
    day = (ts[lo28:] - (c - 28 * _DAY_US)) // _DAY_US
    pairs = np.unique(u[lo28:] * 28 + day)
    active_days_28 = np.bincount(pairs // 28, minlength=U)

    sess = _sessions_before(p, c)
    su, start = sess["_user"].to_numpy(), sess["_start"].to_numpy()
    n_sess = np.bincount(su, minlength=U)

    def sessions_in(lo_days: int, hi_days: int = 0) -> np.ndarray:
        sel = (start >= c - lo_days * _DAY_US) & (start < c - hi_days * _DAY_US)
        return np.bincount(su[sel], minlength=U)

    s7, s28 = sessions_in(7), sessions_in(28)
    s_recent, s_before = sessions_in(14), sessions_in(28, 14)
    first_start = np.full(U, np.iinfo(np.int64).max)
    last_start = np.full(U, np.iinfo(np.int64).min)
    np.minimum.at(first_start, su, start)
    np.maximum.at(last_start, su, start)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = np.where(n_sess > 1, (last_start - first_start) / _DAY_US / (n_sess - 1), np.nan)
        overdue = recency / mean_gap
        per_week = n_sess / (np.maximum((last - first) / _DAY_US, 7.0) / 7.0)
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
    return _positive_int(active_days, "active_days", high=3650,
                         hint=" (users with an event in that many days before the cutoff are scored)")


def user_features(events: pd.DataFrame, *, cutoff: str | pd.Timestamp, active_days: int = 28,
                  gap: str = "30min") -> pd.DataFrame:
    """One row per user active before ``cutoff``, describing them from events before it only.

    The population is the users with at least one event in the ``active_days`` days before the
    cutoff (users who left earlier are not "about to leave"). Only events with ``ts <
    cutoff`` are read, so the table is the same whether or not later events are in the frame.
    Sessions come from :func:`analytics_lib.workflow.session_table` on those events (a
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
    >>> from analytics_lib.datasets import synthetic_events
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

    Returns
    -------
    DataFrame
        ``user_id, cutoff, churned, days_to_next`` (days from the cutoff to the user's next
        event, NaN when none in the window), sorted by ``user_id``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(5_000, days=42, end="2025-06-30", seed=0).events
    >>> lab = churn_labels(ev, cutoff="2025-06-02", churn_window_days=28)
    >>> lab.columns.tolist()
    ['user_id', 'cutoff', 'churned', 'days_to_next']
    """
    c = _cutoff(cutoff)
    window = _positive_int(churn_window_days, "churn_window_days", high=3650)
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

    Returns
    -------
    DataFrame
        ``user_id, cutoff``, the :data:`USER_FEATURES` columns, ``churned`` and
        ``days_to_next``; sorted by ``cutoff`` then ``user_id``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(5_000, days=56, end="2025-06-30", seed=0).events
    >>> d = churn_dataset(ev, cutoffs=["2025-05-26", "2025-06-02"], churn_window_days=14)
    >>> d["cutoff"].dt.strftime("%m-%d").unique().tolist(), "churned" in d
    (['05-26', '06-02'], True)
    """
    window = _positive_int(churn_window_days, "churn_window_days", high=3650)
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
# Time-based validation
@dataclass(frozen=True)
class TimeSplit:
    """Cutoffs for honest validation over time: train early, validate later, test last.

    Every label window is ``churn_window_days`` long. A training cutoff's label window ends
    on or before the validation cutoff, and the validation's on or before the test cutoff,
    so no step learns from a period it is scored on.

    Attributes
    ----------
    train : tuple of Timestamp
        Training cutoffs, oldest first.
    validation : Timestamp
        Where candidates are compared and the chosen one is calibrated.
    test : Timestamp
        The held-out cutoff for :meth:`ChurnModel.evaluate`.
    churn_window_days : int
    """

    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    test: pd.Timestamp
    churn_window_days: int

    def table(self) -> pd.DataFrame:
        """One row per cutoff: ``role, cutoff, labels_until`` (the last day its labels look at).

        Examples
        --------
        >>> s = TimeSplit(train=(pd.Timestamp("2025-03-01", tz="UTC"),), validation=pd.Timestamp("2025-04-01", tz="UTC"),
        ...               test=pd.Timestamp("2025-05-01", tz="UTC"), churn_window_days=28)
        >>> s.table()["role"].tolist()
        ['train', 'validation', 'test']
        """
        rows = [("train", c) for c in self.train] + [("validation", self.validation), ("test", self.test)]
        out = pd.DataFrame(rows, columns=["role", "cutoff"])
        out["labels_until"] = out["cutoff"] + pd.Timedelta(days=self.churn_window_days - 1)
        return out


def time_split(events: pd.DataFrame, *, churn_window_days: int = 28, n_train: int = 8, step_days: int = 7,
               active_days: int = 28, end: str | pd.Timestamp | None = None) -> TimeSplit:
    """Choose training, validation and test cutoffs from the period the events cover.

    With ``W = churn_window_days`` and ``end`` the day after the last event (or the given
    end): the test cutoff is ``end - W`` (its labels are the last ones the data can tell),
    the validation cutoff ``end - 2W``, and up to ``n_train`` training cutoffs go back from
    ``end - 3W`` every ``step_days``, none earlier than ``active_days`` after the first
    event (so each has a full activity window of history).

    Parameters
    ----------
    events : DataFrame
        Validated events.
    churn_window_days, active_days : int
        As for :func:`churn_labels`.
    n_train : int
        Training cutoffs wanted (at least one must fit).
    step_days : int
        Days between training cutoffs.
    end : str or Timestamp, optional
        End of the labelled period (exclusive, a midnight); default: the day after the last event.

    Returns
    -------
    TimeSplit

    Raises
    ------
    WorkbenchError
        When the events are too short for one training cutoff; the message says how many
        days are needed.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(5_000, days=120, end="2025-06-30", seed=0).events
    >>> s = time_split(ev, churn_window_days=21, n_train=3)
    >>> [c.date().isoformat() for c in (*s.train, s.validation, s.test)]
    ['2025-04-14', '2025-04-21', '2025-04-28', '2025-05-19', '2025-06-09']
    """
    window = _positive_int(churn_window_days, "churn_window_days", high=3650)
    n_train = _positive_int(n_train, "n_train", high=520)
    step = _positive_int(step_days, "step_days", high=3650)
    days = _check_active_days(active_days)
    _check_events(events)
    if events.empty:
        raise WorkbenchError("events is empty: load a period with data")
    stop = _data_end(events) if end is None else _cutoff(end, "end")
    first = events[S.TS].min().floor("D") + pd.Timedelta(days=days)
    test = stop - pd.Timedelta(days=window)
    validation = test - pd.Timedelta(days=window)
    latest_train = validation - pd.Timedelta(days=window)
    train = [latest_train - pd.Timedelta(days=step * i) for i in range(n_train)]
    train = sorted(c for c in train if c >= first)
    if not train:
        span = (stop - events[S.TS].min().floor("D")).days
        raise WorkbenchError(
            f"the events cover {span} days up to {(stop - pd.Timedelta(days=1)).date().isoformat()}, too few for "
            f"time-based validation with churn_window_days={window} and active_days={days}: it needs at least "
            f"{3 * window + days} days (an activity window, then train, validation and test label windows); "
            "load a longer history or use a shorter churn_window_days")
    return TimeSplit(train=tuple(train), validation=validation, test=test, churn_window_days=window)


# ============================================================================================
# Metrics
def _rank_metrics(y: np.ndarray, s: np.ndarray, k: int) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    both = 0 < y.sum() < len(y)
    order = np.argsort(-s, kind="stable")
    top = y[order[: min(k, len(y))]]
    return {
        "roc_auc": float(roc_auc_score(y, s)) if both else np.nan,
        "pr_auc": float(average_precision_score(y, s)) if both else np.nan,
        "precision_at_k": float(top.mean()) if len(top) else np.nan,
        "recall_at_k": float(top.sum() / y.sum()) if y.sum() else np.nan,
        "lift_at_k": float(top.mean() / y.mean()) if len(top) and y.mean() > 0 else np.nan,
    }


def churn_metrics(scored: pd.DataFrame, *, models: Sequence[str], label: str = "churned",
                  top_k: int = 50) -> pd.DataFrame:
    """Ranking and probability scores of one or more churn predictions against the labels.

    ``roc_auc`` and ``pr_auc`` (average precision) measure the ranking; ``precision_at_k`` is
    the share of churners among the ``top_k`` highest-risk users, ``recall_at_k`` the share of
    all churners they hold, ``lift_at_k`` the precision over the base rate. ``brier`` (mean
    squared error of the probability) and ``log_loss`` measure the probabilities and are NaN
    for a score outside [0, 1]. Ties in the top-k are broken by row order.

    Parameters
    ----------
    scored : DataFrame
        One row per user with the boolean ``label`` column and one column per model's score.
    models : list of str
        The score columns to evaluate.
    label : str
    top_k : int

    Returns
    -------
    DataFrame
        ``model, users, churners, base_rate, roc_auc, pr_auc, brier, log_loss, k,
        precision_at_k, recall_at_k, lift_at_k``, one row per model in the order given.

    Examples
    --------
    >>> sc = pd.DataFrame({"churned": [True, False, False, True], "p": [0.9, 0.2, 0.4, 0.6]})
    >>> churn_metrics(sc, models=["p"], top_k=2)[["roc_auc", "precision_at_k", "recall_at_k"]].iloc[0].tolist()
    [1.0, 1.0, 1.0]
    """
    from sklearn.metrics import log_loss

    k = _positive_int(top_k, "top_k")
    for c in [label, *models]:
        if c not in scored.columns:
            raise WorkbenchError(f"churn_metrics: {c!r} is not a column of the scored frame "
                                 f"(columns: {', '.join(map(str, scored.columns))})")
    y = scored[label].to_numpy(dtype=bool)
    rows = []
    for m in models:  # a handful of models
        s = scored[m].to_numpy(dtype="float64")
        if np.isnan(s).any():
            raise WorkbenchError(f"churn_metrics: {m!r} has missing scores; score every user")
        prob = bool(((s >= 0) & (s <= 1)).all())
        row = {"model": m, "users": len(y), "churners": int(y.sum()), "base_rate": float(y.mean()) if len(y) else np.nan,
               "roc_auc": np.nan, "pr_auc": np.nan,
               "brier": float(np.mean((s - y) ** 2)) if prob and len(y) else np.nan,
               "log_loss": float(log_loss(y, np.clip(s, 1e-6, 1 - 1e-6), labels=[False, True]))
               if prob and len(y) else np.nan,
               "k": min(k, len(y))}
        row.update(_rank_metrics(y.astype(float), s, k))
        rows.append(row)
    cols = ["model", "users", "churners", "base_rate", "roc_auc", "pr_auc", "brier", "log_loss", "k",
            "precision_at_k", "recall_at_k", "lift_at_k"]
    return pd.DataFrame(rows, columns=cols)


def reliability_table(scored: pd.DataFrame, *, models: Sequence[str], label: str = "churned",
                      n_bins: int = 10) -> pd.DataFrame:
    """The reliability curve: predicted probability against the observed churn rate, per bin.

    Users are put in ``n_bins`` bins of equal size by predicted probability (quantile bins;
    fewer when probabilities repeat). A calibrated model's ``observed_rate`` is close to its
    ``mean_predicted`` in every bin; ``ci_low``/``ci_high`` is the 95 % Wilson interval of the
    observed rate, so a bin whose interval misses the prediction is miscalibrated beyond noise.

    Returns
    -------
    DataFrame
        ``model, bin, p_low, p_high, mean_predicted, observed_rate, users, churners, ci_low,
        ci_high``.

    Examples
    --------
    >>> sc = pd.DataFrame({"churned": [0, 0, 1, 1] * 25, "p": [0.1, 0.2, 0.8, 0.9] * 25})
    >>> reliability_table(sc, models=["p"], n_bins=2)[["mean_predicted", "observed_rate"]].round(2).values.tolist()
    [[0.15, 0.0], [0.85, 1.0]]
    """
    bins = _positive_int(n_bins, "n_bins", low=1, high=1000)
    y = scored[label].to_numpy(dtype=float)
    parts = []
    for m in models:  # a handful of models
        p = scored[m].to_numpy(dtype="float64")
        if not ((p >= 0) & (p <= 1)).all():
            raise WorkbenchError(f"reliability_table: {m!r} is not a probability (values outside 0-1)")
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1))) if len(p) else np.zeros(1)
        b = np.searchsorted(edges[1:-1], p, side="right")  # equal probabilities share a bin
        g = pd.DataFrame({"b": b, "p": p, "y": y}).groupby("b", sort=True)
        out = pd.DataFrame({"p_low": g["p"].min(), "p_high": g["p"].max(), "mean_predicted": g["p"].mean(),
                            "observed_rate": g["y"].mean(), "users": g.size(), "churners": g["y"].sum()})
        out = out.reset_index(drop=True)
        lo, hi = _wilson(out["churners"].to_numpy(dtype=float), out["users"].to_numpy(dtype=float))
        out = out.assign(ci_low=lo, ci_high=hi, model=m)
        out.insert(0, "bin", np.arange(1, len(out) + 1))
        parts.append(out)
    cols = ["model", "bin", "p_low", "p_high", "mean_predicted", "observed_rate", "users", "churners", "ci_low", "ci_high"]
    res = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    res[["users", "churners"]] = res[["users", "churners"]].astype("int64")
    return res


def _wilson(k: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        d = 1 + z**2 / n
        c = (p + z**2 / (2 * n)) / d
        h = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / d
    return np.clip(c - h, 0, 1), np.clip(c + h, 0, 1)


# ============================================================================================
# Models: shared pieces
def _signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log(1 + |x|)``: tames heavy tails for the linear models, keeps the order."""
    return np.sign(x) * np.log1p(np.abs(x))


def _matrix(frame: pd.DataFrame, names: Sequence[str], categorical: Sequence[str], what: str) -> pd.DataFrame:
    """The model inputs: numeric columns as floats, categorical ones as text with ``(none)`` for missing."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise WorkbenchError(f"{what} is missing the feature columns {', '.join(missing)}; build it with the same "
                             "library version the model was trained with")
    out = {}
    for c in names:  # a couple of dozen columns
        col = frame[c]
        if c in categorical:
            out[c] = col.astype("object").where(col.notna(), "(none)").astype("str").to_numpy(dtype=object)
        else:
            try:
                out[c] = pd.to_numeric(col.astype("float64"), errors="raise").to_numpy()
            except (TypeError, ValueError) as exc:
                raise WorkbenchError(f"{what}: feature {c!r} must be numeric ({exc})") from exc
    return pd.DataFrame(out, index=frame.index)


def _pipeline(kind: str, params: dict[str, Any], numeric: list[str], categorical: list[str], seed: int,
              task: str):
    """A scikit-learn pipeline over the raw feature frame: linear (scaled, one-hot) or boosting (native categories)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    if kind == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        num = Pipeline([("log", FunctionTransformer(_signed_log, feature_names_out="one-to-one")),
                        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                        ("scale", StandardScaler())])
        prep = ColumnTransformer([("num", num, numeric),
                                  ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), categorical)])
        model = LogisticRegression(max_iter=5000, **params) if task == "classification" else Ridge(**params)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        prep = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                                   categorical), ("num", "passthrough", numeric)])
        mask = [True] * len(categorical) + [False] * len(numeric)
        cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
        model = cls(categorical_features=mask, early_stopping=False, random_state=seed, **params)
    return Pipeline([("prep", prep), ("model", model)])


def _one_thread():
    """Fit and predict on one thread: the tables are small, and OpenMP threads on shared cores only wait.

    threadpoolctl limits only the thread pools already loaded, so scikit-learn's compiled
    modules (and the OpenMP runtime they bring) are imported first.
    """
    import sklearn.ensemble  # noqa: F401  (loads OpenMP)
    import sklearn.linear_model  # noqa: F401  (loads BLAS)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _typical(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> dict[str, Any]:
    """Median of each numeric feature and the most common value of each categorical one."""
    out: dict[str, Any] = {c: float(frame[c].median()) if frame[c].notna().any() else np.nan for c in numeric}
    for c in categorical:
        vc = frame[c].value_counts()
        out[c] = str(vc.index[0]) if len(vc) else "(none)"
    return out


def _importance(estimator, X: pd.DataFrame, y: np.ndarray, *, scoring: str, n_repeats: int, seed: int,
                describe: dict[str, str]) -> pd.DataFrame:
    from sklearn.inspection import permutation_importance

    with _one_thread():
        r = permutation_importance(estimator, X, y, scoring=scoring, n_repeats=n_repeats, random_state=seed)
    out = pd.DataFrame({"feature": list(X.columns), "importance": r.importances_mean, "std": r.importances_std})
    out["description"] = out["feature"].map(describe)
    out = out.sort_values(["importance", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _library_versions() -> dict[str, str]:
    import sklearn

    from . import __version__

    return {"library_version": __version__, "sklearn_version": sklearn.__version__}


# ============================================================================================
# Churn
#: Candidate churn models per family: name -> (kind, parameters). Validation picks one.
CHURN_CANDIDATES: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "logistic": {
        "logistic_c0.1": ("linear", {"C": 0.1}),
        "logistic_c1": ("linear", {"C": 1.0}),
    },
    "boosting": {
        "boosting_8leaves": ("boosting", {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 8,
                                          "min_samples_leaf": 40, "l2_regularization": 1.0}),
        "boosting_depth3": ("boosting", {"max_iter": 200, "learning_rate": 0.05, "max_depth": 3,
                                         "min_samples_leaf": 40}),
    },
}
_CHURN_NUMERIC = [c for c in USER_FEATURES if c not in _CATEGORICAL_USER]
_CALIBRATIONS = ("sigmoid", "isotonic")


@dataclass(frozen=True)
class ChurnEvaluation:
    """A churn model scored on a held-out cutoff.

    Attributes
    ----------
    cutoff : Timestamp
        The evaluated cutoff (its labels cover ``[cutoff, cutoff + churn_window_days)``).
    scores : DataFrame
        :func:`churn_metrics` of the chosen calibrated model (``role`` ``chosen``), each raw
        candidate (``candidate``) and the recency rule (``baseline``); plus ``role`` and
        ``beats_baseline`` (ROC AUC above the recency rule's).
    reliability : DataFrame
        :func:`reliability_table` of the chosen model and the recency rule.
    importance : DataFrame
        Permutation importance at this cutoff: ``rank, feature, importance`` (mean drop of
        ROC AUC when the feature is shuffled), ``std``, ``description``.
    predictions : DataFrame
        One row per user: ``user_id, cutoff, churn_probability, recency_rule, risk_rank,
        churned, days_to_next, recency_days`` and each candidate's raw probability.

    Examples
    --------
    >>> evaluation = ChurnModel().fit(events).evaluate(events)  # doctest: +SKIP
    >>> evaluation.scores[["model", "role", "roc_auc", "brier"]]  # doctest: +SKIP
    """

    cutoff: pd.Timestamp
    scores: pd.DataFrame
    reliability: pd.DataFrame
    importance: pd.DataFrame
    predictions: pd.DataFrame


class ChurnModel:
    """Churn risk per user: candidates compared on a later cutoff, the best calibrated there.

    Parameters
    ----------
    churn_window_days : int
        Churn = no activity in this many days after the cutoff.
    active_days : int
        Users with an event in this many days before a cutoff are scored.
    candidates : tuple of str
        Families to try, from ``CHURN_CANDIDATES``: ``"logistic"`` (L2-regularized logistic
        regression on log-scaled, standardized features with one-hot categories; C 0.1 and 1)
        and ``"boosting"`` (histogram gradient boosting, two small configurations).
    calibration : {"sigmoid", "isotonic"}
        How the chosen model's probabilities are mapped to observed rates on the validation
        cutoff (``sigmoid``: Platt scaling, stable on a few hundred users; ``isotonic`` needs
        thousands).
    n_train, step_days : int
        Training cutoffs for :func:`time_split` when ``fit`` is not given a split; ``step_days``
        also spaces the validation folds.
    n_folds : int
        Rolling-origin validation folds: the validation cutoff and the ``n_folds - 1`` cutoffs
        ``step_days`` apart before it, each scored by candidates trained only on the training
        cutoffs whose labels end before it. The candidate with the lowest mean log loss wins
        (a proper scoring rule: it rewards ranking and probabilities, and is steadier than
        ROC AUC on a few dozen churners).
    top_k : int
        Size of the at-risk list the precision and recall at k refer to.
    gap : str
        Inactivity that ends a derived session.
    seed : int
        Seed of the boosting models and the permutation importance.

    Attributes
    ----------
    split_ : TimeSplit
    model_name_ : str
        The chosen candidate (lowest mean log loss over the validation folds).
    estimator_ : CalibratedClassifierCV
        The chosen pipeline, trained on the training cutoffs and calibrated on the validation cutoff.
    candidates_ : dict
        Every fitted candidate pipeline (uncalibrated).
    baseline_ : Pipeline
        The recency rule: a one-feature logistic fit of the label on ``log(1 + recency_days)``
        (it ranks users exactly as days since the last activity do).
    validation_scores_ : DataFrame
        Per candidate and for the recency rule: ``folds`` and the mean of each
        :func:`churn_metrics` score over the validation folds, with ``chosen``.
    validation_folds_ : DataFrame
        The same per fold (``fold, validation_cutoff, train_cutoffs``).
    features_ : list of str
    typical_ : dict
        The typical (median / most common) value of each feature among the validation
        cutoff's users: the reference of :meth:`explain`.
    training_window_ : dict
        ``events_from`` (first event used), ``train_cutoffs``, ``validation_cutoff`` and
        ``labels_until`` (the last day any training or calibration label looked at).
    n_train_rows_, n_validation_rows_ : int

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(30_000, days=100, end="2025-06-30", seed=0).events
    >>> m = ChurnModel(churn_window_days=14, candidates=("logistic",), n_train=3, n_folds=1).fit(ev)
    >>> m.model_name_ in m.candidates_, m.evaluate(ev).cutoff.date().isoformat()
    (True, '2025-06-16')
    """

    def __init__(self, *, churn_window_days: int = 28, active_days: int = 28,
                 candidates: Sequence[str] = ("logistic", "boosting"), calibration: str = "sigmoid", n_train: int = 8,
                 step_days: int = 7, n_folds: int = 3, top_k: int = 50, gap: str = "30min", seed: int = 0) -> None:
        self.churn_window_days = churn_window_days
        self.active_days = active_days
        self.candidates = candidates
        self.calibration = calibration
        self.n_train = n_train
        self.step_days = step_days
        self.n_folds = n_folds
        self.top_k = top_k
        self.gap = gap
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (scikit-learn convention)."""
        return {k: getattr(self, k) for k in ("churn_window_days", "active_days", "candidates", "calibration",
                                               "n_train", "step_days", "n_folds", "top_k", "gap", "seed")}

    # -- fitting --------------------------------------------------------------------------
    def _check(self) -> tuple[int, int, list[str]]:
        window = _positive_int(self.churn_window_days, "churn_window_days", high=3650)
        days = _check_active_days(self.active_days)
        fams = [self.candidates] if isinstance(self.candidates, str) else list(self.candidates)
        bad = [f for f in fams if f not in CHURN_CANDIDATES]
        if bad or not fams:
            raise WorkbenchError(f"candidates={self.candidates!r}: choose one or more of {', '.join(CHURN_CANDIDATES)}")
        if self.calibration not in _CALIBRATIONS:
            raise WorkbenchError(f"calibration={self.calibration!r}: use 'sigmoid' or 'isotonic'")
        _positive_int(self.top_k, "top_k")
        _positive_int(self.seed, "seed", low=0, high=2**32 - 1)
        return window, days, [name for f in fams for name in CHURN_CANDIDATES[f]]

    def fit(self, events: pd.DataFrame, *, split: TimeSplit | None = None) -> "ChurnModel":
        """Train the candidates on earlier cutoffs, pick one on rolling validation cutoffs, calibrate it.

        The final candidates are trained on every training cutoff; the chosen one is
        calibrated (``calibration``) on the validation cutoff, whose labels end before the
        split's test cutoff begins.

        Parameters
        ----------
        events : DataFrame
            Validated events covering the split (features before the first training cutoff,
            labels up to the validation cutoff's window end).
        split : TimeSplit, optional
            Default: :func:`time_split` with this model's settings.

        Returns
        -------
        ChurnModel
            ``self``, fitted.

        Raises
        ------
        WorkbenchError
            For bad settings, a split whose training labels overlap the validation period, or
            too few churners (or stayers) to learn from.
        """
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.frozen import FrozenEstimator

        window, days, names = self._check()
        if split is None:
            split = time_split(events, churn_window_days=window, n_train=self.n_train, step_days=self.step_days,
                               active_days=days)
        if not isinstance(split, TimeSplit):
            raise WorkbenchError(f"split must be a TimeSplit from time_split(...), got {type(split).__name__}")
        if split.churn_window_days != window:
            raise WorkbenchError(f"the split was made for churn_window_days={split.churn_window_days}, the model uses "
                                 f"{window}: make the split with the model's window")
        late = [c for c in split.train if c + pd.Timedelta(days=window) > split.validation]
        if late or not split.train:
            raise WorkbenchError(
                f"training cutoffs {[c.date().isoformat() for c in late]} have labels that run into the validation "
                f"cutoff {split.validation.date().isoformat()}: each training cutoff must be at least "
                f"{window} days before it (use time_split)")
        step = _positive_int(self.step_days, "step_days", high=3650)
        n_folds = _positive_int(self.n_folds, "n_folds", high=52)
        wd = pd.Timedelta(days=window)
        folds = []  # (validation cutoff, its training cutoffs): fold 0 is the split itself
        for k in range(n_folds):
            v = split.validation - pd.Timedelta(days=step * k)
            tr = [c for c in split.train if c + wd <= v]
            if tr:
                folds.append((v, tr))
        data = churn_dataset(events, cutoffs=sorted({*split.train, *(v for v, _ in folds)}), churn_window_days=window,
                             active_days=days, gap=self.gap)
        X = _matrix(data, list(USER_FEATURES), _CATEGORICAL_USER, "the feature table")
        y = data["churned"].to_numpy(dtype=bool)
        cut = data["cutoff"]
        in_train = cut.isin(split.train).to_numpy()
        is_val = (cut == split.validation).to_numpy()
        for mask, what in ((in_train, "the training cutoffs hold"), (is_val, "the validation cutoff holds")):
            n_pos = int(y[mask].sum())
            if n_pos < 5 or int(mask.sum()) - n_pos < 5:
                raise WorkbenchError(
                    f"{what} {n_pos} churners among {int(mask.sum())} users: at least 5 churners and 5 users who "
                    "stay are needed to learn and calibrate; load a longer history, more users, or change "
                    "churn_window_days")

        def make(name: str):
            kind, params = next(CHURN_CANDIDATES[f][name] for f in CHURN_CANDIDATES if name in CHURN_CANDIDATES[f])
            return _pipeline(kind, params, _CHURN_NUMERIC, list(_CATEGORICAL_USER), self.seed, "classification")

        per_fold, fitted, baseline = [], {}, None
        with _one_thread():
            for k, (v, tr) in enumerate(folds):  # a few rolling-origin folds x a handful of candidates
                fit_rows, val_rows = cut.isin(tr).to_numpy(), (cut == v).to_numpy()
                if y[fit_rows].all() or not y[fit_rows].any():
                    continue
                Xf, yf, Xv = X[fit_rows], y[fit_rows], X[val_rows]
                models = {n: make(n).fit(Xf, yf) for n in names}
                rule = _recency_rule().fit(Xf[["recency_days"]], yf)
                if k == 0:  # fold 0 trains on every training cutoff: its models are the final candidates
                    fitted, baseline = models, rule
                scored = pd.DataFrame({"churned": y[val_rows],
                                       **{n: m.predict_proba(Xv)[:, 1] for n, m in models.items()},
                                       "recency_rule": rule.predict_proba(Xv[["recency_days"]])[:, 1]})
                sc = churn_metrics(scored, models=[*names, "recency_rule"], top_k=self.top_k)
                per_fold.append(sc.assign(fold=k, validation_cutoff=v, train_cutoffs=len(tr)))
            folds_table = pd.concat(per_fold, ignore_index=True)
            metric_cols = ["roc_auc", "pr_auc", "brier", "log_loss", "precision_at_k", "recall_at_k", "lift_at_k"]
            scores = folds_table.groupby("model", sort=False)[metric_cols].mean().reset_index()
            scores.insert(1, "folds", folds_table.groupby("model", sort=False).size().to_numpy())
            loss = scores.set_index("model")["log_loss"].reindex(names).fillna(np.inf)
            best = str(loss.idxmin())
            Xv, yv = X[is_val], y[is_val]
            calibrated = CalibratedClassifierCV(FrozenEstimator(fitted[best]), method=self.calibration).fit(Xv, yv)
        train, val = data[in_train], data[is_val]
        self.validation_folds_ = folds_table
        scores["chosen"] = scores["model"] == best
        self.split_ = split
        self.model_name_ = best
        self.estimator_ = calibrated
        self.candidates_ = fitted
        self.baseline_ = baseline
        self.validation_scores_ = scores
        self.features_ = list(USER_FEATURES)
        self.typical_ = _typical(X[is_val], _CHURN_NUMERIC, _CATEGORICAL_USER)
        self.training_window_ = {
            "events_from": events[S.TS].min().isoformat(),
            "train_cutoffs": [c.date().isoformat() for c in split.train],
            "validation_cutoff": split.validation.date().isoformat(),
            "labels_until": (split.validation + pd.Timedelta(days=window - 1)).date().isoformat(),
        }
        self.n_train_rows_, self.n_validation_rows_ = len(train), len(val)
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise WorkbenchError("this ChurnModel is not fitted yet: call fit(events) first (or load_model(path))")

    # -- using -----------------------------------------------------------------------------
    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Calibrated churn probability per user of a :func:`user_features` table.

        Returns
        -------
        DataFrame
            ``user_id, cutoff, churn_probability, recency_rule`` (the baseline's probability)
            and ``risk_rank`` (1 = highest risk), in the input's order.
        """
        self._fitted()
        X = _matrix(features, self.features_, _CATEGORICAL_USER, "the feature table")
        with _one_thread():
            p = self.estimator_.predict_proba(X)[:, 1] if len(X) else np.zeros(0)
            rule = self.baseline_.predict_proba(X[["recency_days"]])[:, 1] if len(X) else np.zeros(0)
        out = pd.DataFrame({"user_id": features["user_id"].astype("str").to_numpy() if "user_id" in features else
                            np.asarray(features.index.astype(str)),
                            "cutoff": features["cutoff"].array if "cutoff" in features else pd.NaT,
                            "churn_probability": p, "recency_rule": rule})
        out["risk_rank"] = out["churn_probability"].rank(ascending=False, method="first").astype("int64")
        return out

    def evaluate(self, events: pd.DataFrame, *, cutoff: str | pd.Timestamp | None = None) -> ChurnEvaluation:
        """Score the model on a later cutoff whose labels no training or calibration step saw.

        Parameters
        ----------
        events : DataFrame
            Validated events covering ``[cutoff - history, cutoff + churn_window_days)``.
        cutoff : str or Timestamp, optional
            Default: the split's test cutoff. Must be at least ``churn_window_days`` after the
            validation cutoff.

        Returns
        -------
        ChurnEvaluation

        Raises
        ------
        WorkbenchError
            When the cutoff's labels would overlap the training or calibration period.
        """
        self._fitted()
        window = int(self.churn_window_days)
        c = self.split_.test if cutoff is None else _cutoff(cutoff)
        first_ok = self.split_.validation + pd.Timedelta(days=window)
        if c < first_ok:
            raise WorkbenchError(
                f"cutoff={c.date().isoformat()} overlaps the period the model was trained and calibrated on (labels up "
                f"to {self.training_window_['labels_until']}): evaluate at a cutoff on or after "
                f"{first_ok.date().isoformat()}, so that no test scores the training period")
        data = churn_dataset(events, cutoffs=[c], churn_window_days=window, active_days=int(self.active_days),
                             gap=self.gap)
        if data.empty:
            raise WorkbenchError(f"no user was active in the {self.active_days} days before cutoff={c.date().isoformat()}")
        X = _matrix(data, self.features_, _CATEGORICAL_USER, "the feature table")
        pred = self.predict(data)
        with _one_thread():
            raw = {n: est.predict_proba(X)[:, 1] for n, est in self.candidates_.items()}
        scored = pred.assign(churned=data["churned"].to_numpy(), days_to_next=data["days_to_next"].to_numpy(),
                             recency_days=data["recency_days"].to_numpy(), **raw)
        names = list(self.candidates_)
        scores = churn_metrics(scored, models=["churn_probability", *names, "recency_rule"], top_k=int(self.top_k))
        scores["model"] = [f"{self.model_name_} (calibrated)", *names, "recency_rule"]
        scores.insert(1, "role", ["chosen", *["candidate"] * len(names), "baseline"])
        base_auc = float(scores["roc_auc"].iloc[-1])
        scores["beats_baseline"] = (scores["roc_auc"] > base_auc) & (scores["role"] != "baseline")
        reliability = reliability_table(scored, models=["churn_probability", "recency_rule"])
        y = data["churned"].to_numpy(dtype=bool)
        importance = _importance(self.estimator_, X, y, scoring="roc_auc", n_repeats=5, seed=int(self.seed),
                                 describe=USER_FEATURES) if 0 < y.sum() < len(y) else \
            pd.DataFrame(columns=["rank", "feature", "importance", "std", "description"])
        return ChurnEvaluation(cutoff=c, scores=scores, reliability=reliability, importance=importance,
                               predictions=scored)

    def explain(self, features: pd.DataFrame, *, top: int = 3, users: Sequence[str] | None = None) -> pd.DataFrame:
        """The reasons behind each user's churn risk, in plain words.

        Features that measure the same thing are explained together, as one *driver*
        (``EXPLAIN_DRIVERS``: inactivity, activity level, tenure, workflow, latency, errors,
        cache, satisfaction, cost, team, main feature, main model). A driver's contribution is
        how much the calibrated probability drops when its features are set to their typical
        values (``typical_``: the median, or the most common category, among the validation
        cutoff's users) and everything else stays as it is: a what-if attribution that works for
        any model. Only drivers that raise the risk by at least half a point are listed, so a
        user with nothing unusual has no reasons.

        Parameters
        ----------
        features : DataFrame
            From :func:`user_features`.
        top : int
            Reasons per user.
        users : list of str, optional
            Explain only these users.

        Returns
        -------
        DataFrame
            ``user_id, rank, driver, effect`` (probability points, 0-1) and ``reason``, e.g.
            ``"last active 12 days ago (typical: 2 days), silent for 9.8x their usual gap
            between sessions (typical: 1.8x): +31 points"``; sorted by user then rank.
        """
        self._fitted()
        top = _positive_int(top, "top", high=len(EXPLAIN_DRIVERS))
        f = features
        if users is not None:
            f = features[features["user_id"].astype("str").isin([str(u) for u in users]).to_numpy()]
        X = _matrix(f, self.features_, _CATEGORICAL_USER, "the feature table").reset_index(drop=True)
        n, drivers = len(X), list(EXPLAIN_DRIVERS)
        cols = ["user_id", "rank", "driver", "effect", "reason"]
        if n == 0:
            return pd.DataFrame(columns=cols)
        stacked = pd.concat([X.assign(**{c: self.typical_[c] for c in EXPLAIN_DRIVERS[d]}) for d in drivers],
                            ignore_index=True)
        with _one_thread():
            base = self.estimator_.predict_proba(X)[:, 1]
            what_if = self.estimator_.predict_proba(stacked)[:, 1].reshape(len(drivers), n).T
        effect = base[:, None] - what_if                        # (users, drivers)
        order = np.argsort(-effect, axis=1, kind="stable")[:, :top]
        rows = np.repeat(np.arange(n), order.shape[1])
        idx = order.ravel()
        eff = effect[rows, idx]
        keep = eff >= 0.005
        rows, idx, eff = rows[keep], idx[keep], eff[keep]
        reason = np.empty(len(rows), dtype=object)
        for j in np.unique(idx):  # one pass per driver that appears (a dozen at most)
            sel = idx == j
            lead = [c for c in EXPLAIN_DRIVERS[drivers[j]] if c in _LEAD_FEATURES]
            parts = [[f"{_phrase(c, v)} (typical: {_phrase_value(c, self.typical_[c])})"
                      for v in X[c].to_numpy()[rows[sel]]] for c in lead]
            reason[sel] = [", ".join(words) + f": +{100 * e:.0f} point" + ("" if round(100 * e) == 1 else "s")
                           for *words, e in zip(*parts, eff[sel])]
        out = pd.DataFrame({"user_id": f["user_id"].astype("str").to_numpy()[rows],
                            "driver": np.asarray(drivers, dtype=object)[idx], "effect": eff, "reason": reason})
        out.insert(1, "rank", out.groupby("user_id").cumcount() + 1)
        return out[cols].sort_values(["user_id", "rank"], kind="stable").reset_index(drop=True)


#: Features explained together: driver -> its features (each feature in exactly one driver).
EXPLAIN_DRIVERS: dict[str, tuple[str, ...]] = {
    "inactivity": ("recency_days", "overdue_ratio", "missed_sessions"),
    "activity level": ("sessions_28d", "activity_trend", "active_days_28d", "sessions_7d", "sessions_per_week",
                       "mean_gap_days"),
    "tenure": ("tenure_days",),
    "workflow": ("completion_rate", "rework_rate", "events_per_session"),
    "latency": ("latency_mean_s", "latency_p95_s"),
    "errors": ("error_share",),
    "cache": ("cache_hit_rate",),
    "satisfaction": ("satisfaction_mean", "feedback_count"),
    "cost": ("cost_usd_28d", "cost_per_session"),
    "team": ("team",),
    "main feature": ("main_feature",),
    "main model": ("main_model",),
}
#: The features a driver's reason quotes (the others move with them).
_LEAD_FEATURES = frozenset({"recency_days", "overdue_ratio", "sessions_28d", "activity_trend", "tenure_days",
                            "completion_rate", "rework_rate", "latency_mean_s", "error_share", "cache_hit_rate",
                            "satisfaction_mean", "cost_usd_28d", "team", "main_feature", "main_model"})


def _recency_rule():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline([("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                     ("model", LogisticRegression(C=1e4, max_iter=1000))])


# plain words: a phrase per feature with a formatter for its value
def _days(x: float) -> str:
    if x < 1 / 24:
        return "under an hour"
    if x < 1:
        return f"{x * 24:.0f} hours"
    return f"{x:.0f} day" + ("s" if round(x) != 1 else "")


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _num(x: float) -> str:
    return f"{x:,.1f}"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _sessions(x: float) -> str:
    return f"{x:,.0f} session" + ("" if round(x) == 1 else "s")


_USER_WORDS: dict[str, tuple[str, Any]] = {
    "recency_days": ("last active {} ago", _days),
    "tenure_days": ("using the assistant for {}", _days),
    "active_days_28d": ("active on {} of the last 28 days", _count),
    "sessions_7d": ("{} in the last 7 days", _sessions),
    "sessions_28d": ("{} in the last 28 days", _sessions),
    "sessions_per_week": ("{} sessions per week", _num),
    "activity_trend": ("activity x{} in the last 2 weeks vs the 2 before", lambda x: f"{2 ** x:.2f}"),
    "mean_gap_days": ("usually {} between sessions", _days),
    "overdue_ratio": ("silent for {} their usual gap between sessions", lambda x: f"{x:,.1f}x"),
    "missed_sessions": ("{} sessions missed at their usual pace", _num),
    "events_per_session": ("{} events per session", _num),
    "completion_rate": ("{} of sessions completed (accept or export)", _pct),
    "rework_rate": ("{} of sessions with rework", _pct),
    "latency_mean_s": ("mean generation latency {} s", lambda x: f"{x:.1f}"),
    "latency_p95_s": ("p95 generation latency {} s", lambda x: f"{x:.1f}"),
    "error_share": ("{} of LLM requests failed", _pct),
    "cache_hit_rate": ("cache answered {} of lookups", _pct),
    "satisfaction_mean": ("mean satisfaction {} / 5", _num),
    "feedback_count": ("feedback given {} times", _count),
    "cost_usd_28d": ("${} spent in the last 28 days", lambda x: f"{x:,.2f}"),
    "cost_per_session": ("${} per session", lambda x: f"{x:,.3f}"),
    "team": ("in team {}", str),
    "main_feature": ("mostly uses {}", str),
    "main_model": ("mostly on {}", str),
}


def _phrase_value(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "(none)":
        return "none"
    return _USER_WORDS[name][1](value)


def _phrase(name: str, value: Any) -> str:
    text = _phrase_value(name, value)
    if text == "none":
        return f"no {name.replace('_', ' ')} yet"
    return _USER_WORDS[name][0].format(text)


# ============================================================================================
# Satisfaction
def session_features(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """One row per session: what the developer experienced, and the score they gave (if any).

    Sessions and their steps, errors, rework, team, feature and model come from
    :func:`analytics_lib.workflow.session_table` run on the events **without** ``feedback``
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
    >>> from analytics_lib.datasets import synthetic_events
    >>> sf = session_features(synthetic_events(5_000, days=28, seed=0).events)
    >>> sf.columns[:4].tolist(), bool(sf["satisfaction"].between(1, 5).any())
    (['session_id', 'user_id', 'start', 'latency_s'], True)
    """
    from .workflow import session_table, sessionize

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


@dataclass(frozen=True)
class SessionSplit:
    """Time boundaries for the satisfaction model: train before ``validation_start``, compare
    candidates on ``[validation_start, test_start)``, refit on everything before ``test_start``,
    test on sessions starting at or after it.

    Attributes
    ----------
    validation_start, test_start : Timestamp
        UTC midnights.
    """

    validation_start: pd.Timestamp
    test_start: pd.Timestamp

    def table(self) -> pd.DataFrame:
        """``role, from, until`` of the three periods (``until`` exclusive; open ends are NaT).

        Examples
        --------
        >>> s = SessionSplit(pd.Timestamp("2025-05-01", tz="UTC"), pd.Timestamp("2025-06-01", tz="UTC"))
        >>> s.table()["role"].tolist()
        ['train', 'validation', 'test']
        """
        return pd.DataFrame({"role": ["train", "validation", "test"],
                             "from": [pd.NaT, self.validation_start, self.test_start],
                             "until": [self.validation_start, self.test_start, pd.NaT]})


def _rated(sessions: pd.DataFrame) -> pd.DataFrame:
    need = ["start", "satisfaction", *SESSION_FEATURES]
    missing = [c for c in need if c not in sessions.columns]
    if missing:
        raise WorkbenchError(f"sessions are missing the columns {', '.join(missing)}: build them with "
                             "session_features(events)")
    return sessions[sessions["satisfaction"].notna().to_numpy()]


def session_split(sessions: pd.DataFrame, *, validation_share: float = 0.15, test_share: float = 0.25) -> SessionSplit:
    """Cut the rated sessions into train, validation and test periods by start time.

    The test period starts at the midnight at or before the time by which ``1 - test_share``
    of the rated sessions had started; the validation period likewise with
    ``validation_share`` more. Each period must hold at least 30 rated sessions.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> sf = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    >>> s = session_split(sf)
    >>> s.validation_start < s.test_start
    True
    """
    ok = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1  # noqa: E731
    if not ok(validation_share) or not ok(test_share) or validation_share + test_share >= 0.9:
        raise WorkbenchError(f"validation_share={validation_share!r} and test_share={test_share!r} must be "
                             "fractions between 0 and 1 that leave at least 10 % of the sessions for training")
    rated = _rated(sessions)
    start = rated["start"]
    if len(rated) < 100:
        raise WorkbenchError(f"{len(rated)} rated sessions: at least 100 with a satisfaction score are needed to "
                             "train, validate and test a satisfaction model; load a longer period")
    test_start = start.quantile(1 - test_share).floor("D")
    val_start = start.quantile(1 - test_share - validation_share).floor("D")
    counts = [(start < val_start).sum(), ((start >= val_start) & (start < test_start)).sum(), (start >= test_start).sum()]
    if min(counts) < 30:
        raise WorkbenchError(f"the train / validation / test periods hold {counts} rated sessions: each needs at "
                             "least 30; load a longer period or change the shares")
    return SessionSplit(validation_start=val_start, test_start=test_start)


#: Candidate satisfaction models: name -> (kind, parameters). Validation MAE picks one.
SATISFACTION_CANDIDATES: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "linear": {"ridge": ("linear", {"alpha": 1.0})},
    "boosting": {
        "boosting_mae": ("boosting", {"loss": "absolute_error", "max_iter": 100, "learning_rate": 0.1,
                                      "min_samples_leaf": 50}),
        "boosting_mse": ("boosting", {"loss": "squared_error", "max_iter": 100, "learning_rate": 0.1,
                                      "min_samples_leaf": 50}),
    },
}
_SESSION_NUMERIC = [c for c in SESSION_FEATURES if c not in _CATEGORICAL_SESSION]

#: Plain words for the session features in sentences: label, unit and kind (measure, count, flag, category).
_SESSION_WORDS: dict[str, tuple[str, str, str]] = {
    "latency_s": ("mean generation latency", "s", "measure"), "n_generations": ("generations", "", "count"),
    "n_errors": ("errors", "", "count"), "n_steps": ("distinct steps", "", "count"),
    "n_events": ("events", "", "count"), "rework": ("rework", "", "flag"), "cache_hit": ("a cache hit", "", "flag"),
    "duration_min": ("session duration", "min", "measure"), "model": ("model", "", "category"),
    "feature": ("feature", "", "category"), "team": ("team", "", "category"),
}


@dataclass(frozen=True)
class SatisfactionEvaluation:
    """A satisfaction model scored on sessions after its training period.

    Attributes
    ----------
    period : tuple of Timestamp
        First and last start of the evaluated sessions.
    scores : DataFrame
        ``model, role, sessions, mae, rmse, mae_improvement`` for the model (``chosen``), the
        mean predictor and the median predictor (``baseline``; both from the training
        period's scores); ``mae_improvement`` is ``1 - mae / mae of the mean predictor``.
    importance : DataFrame
        Permutation importance: ``rank, feature, importance`` (mean rise of the MAE, points,
        when the feature is shuffled), ``std``, ``description``.
    partial_dependence : DataFrame
        ``feature, kind, value, satisfaction`` for the top drivers: the mean prediction with
        the feature set to ``value`` for every evaluated session.
    drivers : DataFrame
        From :func:`driver_sentences`: ``feature, importance, threshold, effect, share, sentence``.
    predictions : DataFrame
        The evaluated sessions with ``predicted_satisfaction``.

    Examples
    --------
    >>> evaluation = SatisfactionModel().fit(sessions).evaluate(sessions)  # doctest: +SKIP
    >>> evaluation.drivers["sentence"].iloc[0]  # doctest: +SKIP
    'mean generation latency above 3.2 s costs 0.62 satisfaction points (25% of sessions are above)'
    """

    period: tuple[pd.Timestamp, pd.Timestamp]
    scores: pd.DataFrame
    importance: pd.DataFrame
    partial_dependence: pd.DataFrame
    drivers: pd.DataFrame
    predictions: pd.DataFrame


class SatisfactionModel:
    """Session satisfaction from latency, errors, steps, rework, cache hit, model, feature and team.

    Parameters
    ----------
    candidates : tuple of str
        Families from ``SATISFACTION_CANDIDATES``: ``"linear"`` (ridge regression on log-scaled,
        standardized features) and ``"boosting"`` (histogram gradient boosting with absolute
        or squared error).
    validation_share, test_share : float
        For :func:`session_split` when ``fit`` is not given a split.
    n_repeats : int
        Shuffles per feature in the permutation importance.
    n_drivers : int
        Top drivers that get a partial dependence table and a sentence.
    seed : int

    Attributes
    ----------
    split_ : SessionSplit
    model_name_ : str
        The candidate with the lowest MAE on the validation period.
    estimator_ : Pipeline
        The chosen candidate refitted on every rated session before ``split_.test_start``.
    validation_scores_ : DataFrame
        ``model, mae, rmse, mae_improvement, chosen`` on the validation period (candidates
        trained before it; the mean predictor from the training period).
    trained_until_ : Timestamp
        ``split_.test_start``: the model saw no session starting at or after it.
    baseline_mean_, baseline_median_ : float
        The mean and median score before ``trained_until_``.
    features_ : list of str
    n_train_rows_ : int

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> sf = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    >>> m = SatisfactionModel(n_repeats=2).fit(sf)
    >>> ev = m.evaluate(sf)
    >>> ev.importance["feature"].iloc[0]
    'latency_s'
    """

    def __init__(self, *, candidates: Sequence[str] = ("linear", "boosting"), validation_share: float = 0.15,
                 test_share: float = 0.25, n_repeats: int = 5, n_drivers: int = 3, seed: int = 0) -> None:
        self.candidates = candidates
        self.validation_share = validation_share
        self.test_share = test_share
        self.n_repeats = n_repeats
        self.n_drivers = n_drivers
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (scikit-learn convention)."""
        return {k: getattr(self, k) for k in ("candidates", "validation_share", "test_share", "n_repeats",
                                               "n_drivers", "seed")}

    def fit(self, sessions: pd.DataFrame, *, split: SessionSplit | None = None) -> "SatisfactionModel":
        """Train before the validation period, pick on it, refit on everything before the test period.

        Parameters
        ----------
        sessions : DataFrame
            From :func:`session_features` (unrated sessions are ignored).
        split : SessionSplit, optional
            Default: :func:`session_split` with this model's shares.

        Returns
        -------
        SatisfactionModel
            ``self``, fitted.
        """
        fams = [self.candidates] if isinstance(self.candidates, str) else list(self.candidates)
        bad = [f for f in fams if f not in SATISFACTION_CANDIDATES]
        if bad or not fams:
            raise WorkbenchError(f"candidates={self.candidates!r}: choose one or more of "
                                 f"{', '.join(SATISFACTION_CANDIDATES)}")
        _positive_int(self.n_repeats, "n_repeats", high=1000)
        _positive_int(self.n_drivers, "n_drivers", high=len(SESSION_FEATURES))
        _positive_int(self.seed, "seed", low=0, high=2**32 - 1)
        names = {name: spec for f in fams for name, spec in SATISFACTION_CANDIDATES[f].items()}
        if split is None:
            split = session_split(sessions, validation_share=self.validation_share, test_share=self.test_share)
        if not isinstance(split, SessionSplit) or not split.validation_start < split.test_start:
            raise WorkbenchError("split must be a SessionSplit from session_split(...) with validation_start before "
                                 "test_start")
        rated = _rated(sessions)
        start = rated["start"]
        train = rated[(start < split.validation_start).to_numpy()]
        val = rated[((start >= split.validation_start) & (start < split.test_start)).to_numpy()]
        if len(train) < 30 or len(val) < 30:
            raise WorkbenchError(f"the training and validation periods hold {len(train)} and {len(val)} rated "
                                 "sessions: at least 30 each are needed; use session_split(...) or a longer period")
        Xt, Xv = (_matrix(f, list(SESSION_FEATURES), _CATEGORICAL_SESSION, "the session table") for f in (train, val))
        yt, yv = train["satisfaction"].to_numpy(), val["satisfaction"].to_numpy()
        rows = []
        base_mae = float(np.mean(np.abs(yv - yt.mean())))
        with _one_thread():
            for name, (kind, params) in names.items():  # a handful of candidates
                est = _pipeline(kind, params, _SESSION_NUMERIC, list(_CATEGORICAL_SESSION), int(self.seed),
                                "regression").fit(Xt, yt)
                err = est.predict(Xv) - yv
                rows.append((name, float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2)))))
            rows.append(("mean_predictor", base_mae, float(np.sqrt(np.mean((yv - yt.mean()) ** 2)))))
            scores = pd.DataFrame(rows, columns=["model", "mae", "rmse"])
            scores["mae_improvement"] = 1 - scores["mae"] / base_mae
            best = str(scores[scores["model"].isin(names)].sort_values("mae", kind="stable")["model"].iloc[0])
            before = pd.concat([train, val])
            Xb = _matrix(before, list(SESSION_FEATURES), _CATEGORICAL_SESSION, "the session table")
            kind, params = names[best]
            self.estimator_ = _pipeline(kind, params, _SESSION_NUMERIC, list(_CATEGORICAL_SESSION), int(self.seed),
                                        "regression").fit(Xb, before["satisfaction"].to_numpy())
        scores["chosen"] = scores["model"] == best
        self.split_ = split
        self.model_name_ = best
        self.validation_scores_ = scores
        self.trained_until_ = split.test_start
        self.baseline_mean_ = float(before["satisfaction"].mean())
        self.baseline_median_ = float(before["satisfaction"].median())
        self.features_ = list(SESSION_FEATURES)
        self.n_train_rows_ = len(before)
        self.training_window_ = {"sessions_from": before["start"].min().isoformat(),
                                 "sessions_until": split.test_start.isoformat(),
                                 "validation_from": split.validation_start.isoformat()}
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise WorkbenchError("this SatisfactionModel is not fitted yet: call fit(sessions) first "
                                 "(or load_model(path))")

    def predict(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """Predicted satisfaction per session: ``session_id, predicted_satisfaction`` (clipped to 1-5)."""
        self._fitted()
        X = _matrix(sessions, self.features_, _CATEGORICAL_SESSION, "the session table")
        with _one_thread():
            p = self.estimator_.predict(X) if len(X) else np.zeros(0)
        ids = sessions["session_id"].astype("str").to_numpy() if "session_id" in sessions else \
            np.asarray(sessions.index.astype(str))
        return pd.DataFrame({"session_id": ids, "predicted_satisfaction": np.clip(p, *S.SATISFACTION_RANGE)})

    def evaluate(self, sessions: pd.DataFrame) -> SatisfactionEvaluation:
        """Score the rated sessions that start at or after ``trained_until_`` (none the model saw).

        Returns
        -------
        SatisfactionEvaluation

        Raises
        ------
        WorkbenchError
            When no rated session starts after the training period.
        """
        self._fitted()
        rated = _rated(sessions)
        held = rated[(rated["start"] >= self.trained_until_).to_numpy()]
        if held.empty:
            raise WorkbenchError(f"no rated session starts on or after {self.trained_until_.date().isoformat()}, "
                                 "where the model's training ends: evaluate on later sessions (never on the "
                                 "training period)")
        X = _matrix(held, self.features_, _CATEGORICAL_SESSION, "the session table")
        y = held["satisfaction"].to_numpy()
        pred = self.predict(held)["predicted_satisfaction"].to_numpy()
        rows = []
        for name, role, p in ((self.model_name_, "chosen", pred), ("mean_predictor", "baseline", self.baseline_mean_),
                              ("median_predictor", "baseline", self.baseline_median_)):
            err = np.broadcast_to(p, y.shape) - y
            rows.append((name, role, len(y), float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2)))))
        scores = pd.DataFrame(rows, columns=["model", "role", "sessions", "mae", "rmse"])
        scores["mae_improvement"] = 1 - scores["mae"] / scores["mae"].iloc[1]
        importance = _importance(self.estimator_, X, y, scoring="neg_mean_absolute_error",
                                 n_repeats=int(self.n_repeats), seed=int(self.seed), describe=SESSION_FEATURES)
        top = importance["feature"].head(int(self.n_drivers)).tolist()
        pdp = self._partial_dependence(X, top)
        drivers = driver_sentences(pdp, X, importance)
        return SatisfactionEvaluation(period=(held["start"].min(), held["start"].max()), scores=scores,
                                      importance=importance, partial_dependence=pdp, drivers=drivers,
                                      predictions=held.assign(predicted_satisfaction=pred))

    def _partial_dependence(self, X: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
        """Mean prediction over the sessions with one feature set to each grid value (brute force)."""
        parts = []
        for f in features:  # the top few drivers
            grid, kind = _grid(X[f], categorical=f in _CATEGORICAL_SESSION)
            if not len(grid):
                continue
            stacked = pd.concat([X.assign(**{f: g}) for g in grid], ignore_index=True)
            with _one_thread():
                p = np.clip(self.estimator_.predict(stacked), *S.SATISFACTION_RANGE).reshape(len(grid), len(X))
            parts.append(pd.DataFrame({"feature": f, "kind": kind, "value": pd.Series(grid, dtype=object),
                                       "satisfaction": p.mean(axis=1)}))
        cols = ["feature", "kind", "value", "satisfaction"]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def _grid(values: pd.Series, *, categorical: bool, n: int = 20) -> tuple[list, str]:
    """Grid of a partial dependence: the categories, the integers of a count, or quantiles 5-95 %."""
    if categorical:
        return sorted(values[values != "(none)"].unique().tolist()), "categorical"
    v = values.dropna().to_numpy(dtype="float64")
    if not len(v):
        return [], "numeric"
    uniq = np.unique(v)
    if np.all(uniq == np.round(uniq)) and len(uniq) <= n:
        return [float(x) for x in uniq], "numeric"
    lo, hi = np.quantile(v, [0.05, 0.95])
    if np.all(uniq == np.round(uniq)):
        return [float(x) for x in np.unique(np.round(np.linspace(lo, hi, n)))], "numeric"
    return [float(x) for x in np.unique(np.quantile(v, np.linspace(0.05, 0.95, n)))], "numeric"


def _nice(x: float) -> float:
    """``x`` rounded to two significant digits (2.73 -> 2.7, 0.0461 -> 0.046)."""
    if x == 0 or not np.isfinite(x):
        return float(x)
    return float(np.round(x, 1 - int(np.floor(np.log10(abs(x))))))


def driver_sentences(partial_dependence: pd.DataFrame, sessions: pd.DataFrame, importance: pd.DataFrame) -> pd.DataFrame:
    """One plain sentence per top driver of satisfaction, read off its partial dependence.

    For a numeric driver the threshold is the 75th percentile of its values, rounded to two
    significant digits (for a count, the sessions above it have at least one more); the
    effect is the mean partial-dependence satisfaction of the sessions at or below the
    threshold minus that of the sessions above it, each session at its own value. So
    "mean generation latency above 2.7 s costs 0.41 satisfaction points" means: with the
    other factors as they were, the slower quarter of the sessions score 0.41 points lower
    than the rest, by the model. For a 0/1 driver the comparison is with and without; for a
    categorical one, the best against the worst category.

    Parameters
    ----------
    partial_dependence : DataFrame
        ``feature, kind, value, satisfaction`` (``SatisfactionEvaluation.partial_dependence``).
    sessions : DataFrame
        The evaluated sessions' feature values.
    importance : DataFrame
        ``feature, importance`` (the drivers' order and their importance).

    Returns
    -------
    DataFrame
        ``feature, importance, threshold, effect, share, sentence`` in the partial
        dependence's order; ``share`` is the share of sessions above the threshold (or in the
        worst category, or with the flag).

    Examples
    --------
    >>> pdp = pd.DataFrame({"feature": "latency_s", "kind": "numeric", "value": [1.0, 2.0, 3.0, 4.0],
    ...                     "satisfaction": [4.3, 4.0, 3.7, 3.4]})
    >>> x = pd.DataFrame({"latency_s": [1.0, 2.0, 3.0, 4.0]})
    >>> driver_sentences(pdp, x, pd.DataFrame({"feature": ["latency_s"], "importance": [0.2]}))["sentence"].iloc[0]
    'mean generation latency above 3.2 s costs 0.60 satisfaction points (25% of sessions are above)'
    """
    imp = importance.set_index("feature")["importance"] if len(importance) else pd.Series(dtype=float)
    rows = []
    for f, g in partial_dependence.groupby("feature", sort=False):  # a few drivers
        label, unit, kind = _SESSION_WORDS.get(f, (f.replace("_", " "), "", "measure"))
        if g["kind"].iloc[0] == "categorical":
            best, worst = g.loc[g["satisfaction"].idxmax()], g.loc[g["satisfaction"].idxmin()]
            effect = float(best["satisfaction"] - worst["satisfaction"])
            share = float((sessions[f].astype("str") == str(worst["value"])).mean())
            if effect < 0.05:
                text = (f"the {label} makes little difference by itself: from best ({best['value']}) to worst "
                        f"({worst['value']}) {effect:.2f} points, other factors as they were")
            else:
                text = (f"sessions on {label} {worst['value']} score {effect:.2f} points lower than on {best['value']} "
                        f"({share:.0%} of sessions are on {worst['value']})")
            rows.append((f, imp.get(f, np.nan), np.nan, effect, share, text))
            continue
        grid = g["value"].to_numpy(dtype="float64")
        curve = g["satisfaction"].to_numpy(dtype="float64")
        v = sessions[f].to_numpy(dtype="float64")
        v = v[~np.isnan(v)]
        if not len(v):
            continue
        at = np.interp(v, grid, curve)          # each session's partial dependence at its own value
        binary = set(np.unique(v)) <= {0.0, 1.0}
        t = 0.5 if binary else _nice(float(np.quantile(v, 0.75)))
        if kind == "count":
            t = float(np.floor(t))
        if not (v > t).any() or (v > t).all():
            continue
        above = v > t
        effect = float(at[~above].mean() - at[above].mean())
        share = float(above.mean())
        if binary:
            text = (f"sessions with {label} score {abs(effect):.2f} points {'lower' if effect >= 0 else 'higher'} "
                    f"than without ({share:.0%} of sessions have it)")
            t = np.nan
        elif kind == "count":
            n_more = int(t) + 1
            text = (f"sessions with {n_more} or more {label} score {abs(effect):.2f} points "
                    f"{'lower' if effect >= 0 else 'higher'} than the others ({share:.0%} of sessions)")
        else:
            thr = f"{t:g}" + (f" {unit}" if unit else "")
            text = (f"{label} above {thr} {'costs' if effect >= 0 else 'adds'} {abs(effect):.2f} satisfaction points "
                    f"({share:.0%} of sessions are above)")
        rows.append((f, imp.get(f, np.nan), t, effect, share, text))
    return pd.DataFrame(rows, columns=["feature", "importance", "threshold", "effect", "share", "sentence"])


# ============================================================================================
# The at-risk list
def at_risk_table(model: ChurnModel, features: pd.DataFrame, *, top_k: int = 50, team: str | Sequence[str] | None = None,
                  reasons: int = 3) -> pd.DataFrame:
    """The ``top_k`` users most likely to churn, with their reasons in plain words.

    Parameters
    ----------
    model : ChurnModel
        Fitted.
    features : DataFrame
        :func:`user_features` at the cutoff to score (usually the latest day).
    top_k : int
        Users listed.
    team : str or list of str, optional
        List only these teams' users (the model is the same for all).
    reasons : int
        Reasons per user (:meth:`ChurnModel.explain`).

    Returns
    -------
    DataFrame
        ``rank, user_id, team, churn_probability, recency_rule_probability, last_active_days,
        sessions_28d, reason_1 ... reason_<reasons>, cutoff``, highest risk first. A user whose
        risk nothing stands out for has empty reasons.

    Raises
    ------
    WorkbenchError
        For a team that none of the scored users belongs to (the message lists the teams).

    Examples
    --------
    >>> model = ChurnModel().fit(events)  # doctest: +SKIP
    >>> at_risk_table(model, user_features(events, cutoff="today"), top_k=20, team="team-a")  # doctest: +SKIP
    """
    k = _positive_int(top_k, "top_k")
    n_reasons = _positive_int(reasons, "reasons", high=len(EXPLAIN_DRIVERS))
    pred = model.predict(features)
    pred["team"] = features["team"].astype("str").to_numpy() if "team" in features else None
    pred["last_active_days"] = features["recency_days"].to_numpy()
    pred["sessions_28d"] = features["sessions_28d"].to_numpy()
    if team is not None:
        teams = _check_team(team)
        known = sorted(pred["team"].dropna().unique().tolist())
        unknown = [t for t in teams if t not in known]
        if unknown:
            raise WorkbenchError(f"team={team!r}: no scored user belongs to {', '.join(unknown)}; the teams are "
                                 f"{', '.join(known) or 'none'}")
        pred = pred[pred["team"].isin(teams).to_numpy()]
    top = pred.sort_values(["churn_probability", "user_id"], ascending=[False, True], kind="stable").head(k)
    top = top.reset_index(drop=True)
    expl = model.explain(features, users=top["user_id"], top=n_reasons)
    wide = expl.pivot(index="user_id", columns="rank", values="reason").reindex(
        index=top["user_id"], columns=range(1, n_reasons + 1))
    out = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "user_id": top["user_id"], "team": top["team"],
                        "churn_probability": top["churn_probability"],
                        "recency_rule_probability": top["recency_rule"],
                        "last_active_days": top["last_active_days"], "sessions_28d": top["sessions_28d"]})
    for r in range(1, n_reasons + 1):
        out[f"reason_{r}"] = wide[r].fillna("").to_numpy(dtype=object)
    out["cutoff"] = top["cutoff"].array
    return out


def _atomic_write(path: Path, writer) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp.", suffix=f".{path.name}", dir=path.parent)  # keeps the extension
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_at_risk(table: pd.DataFrame, output_dir: str | os.PathLike, *, name: str = "at_risk_users") -> list[Path]:
    """Write the at-risk list as ``<name>.csv`` and ``<name>.xlsx`` (one sheet, openpyxl).

    Each file is written under a temporary name and renamed, so a reader never sees half a
    file. Excel cannot hold time zones: timestamps are written as UTC without a zone.

    Returns
    -------
    list of pathlib.Path
        The CSV and the XLSX file.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_at_risk(pd.DataFrame({"user_id": ["u1"]}), tempfile.mkdtemp())]
    ['at_risk_users.csv', 'at_risk_users.xlsx']
    """
    import re

    if not isinstance(table, pd.DataFrame):
        raise WorkbenchError(f"table must be a DataFrame (from at_risk_table), got {type(table).__name__}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise WorkbenchError(f"name={name!r} is not a plain file name: use letters, digits, '_', '-' or '.'")
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot create the output folder {out}: {exc.strerror}") from exc
    excel = table.copy()
    for c in excel.columns:
        if isinstance(excel[c].dtype, pd.DatetimeTZDtype):
            excel[c] = excel[c].dt.tz_convert("UTC").dt.tz_localize(None)
    csv_path, xlsx_path = out / f"{name}.csv", out / f"{name}.xlsx"
    _atomic_write(csv_path, lambda p: table.to_csv(p, index=False))
    _atomic_write(xlsx_path, lambda p: excel.to_excel(p, index=False, sheet_name="at risk", engine="openpyxl"))
    return [csv_path, xlsx_path]


# ============================================================================================
# Saving and loading models
_MODEL_FEATURES = {"ChurnModel": lambda: list(USER_FEATURES), "SatisfactionModel": lambda: list(SESSION_FEATURES)}


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def model_metadata(model: ChurnModel | SatisfactionModel) -> dict[str, Any]:
    """What :func:`save_model` writes next to a model: kind, features, training window, scores, versions.

    Examples
    --------
    >>> model_metadata(ChurnModel())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    WorkbenchError: this ChurnModel is not fitted yet
    """
    kind = type(model).__name__
    if kind not in _MODEL_FEATURES:
        raise WorkbenchError(f"save_model saves a ChurnModel or a SatisfactionModel, got {kind}")
    model._fitted()
    return _jsonable({
        "kind": kind, "created_utc": pd.Timestamp.now("UTC").isoformat(), "features": list(model.features_),
        "chosen_model": model.model_name_, "training_window": model.training_window_,
        "validation_scores": model.validation_scores_.to_dict(orient="records"), "params": model.get_params(),
        **_library_versions(),
    })


def save_model(model: ChurnModel | SatisfactionModel, path: str | os.PathLike) -> tuple[Path, Path]:
    """Save a fitted model (joblib) and its metadata (a JSON sidecar with the same stem).

    The sidecar holds the feature list, the training window, the validation scores, the
    library and scikit-learn versions and the model file's SHA-256, so a scheduled job or a
    dashboard can show what the model is without unpickling it, and :func:`load_model` can
    refuse a file that changed or a model whose features this library no longer computes.
    Both files are written under temporary names and renamed.

    Parameters
    ----------
    model : ChurnModel or SatisfactionModel
        Fitted.
    path : str or path
        The model file, e.g. ``reports/predictions/churn_model.joblib`` (sidecar
        ``churn_model.json``).

    Returns
    -------
    tuple of pathlib.Path
        The model file and the sidecar.

    Examples
    --------
    >>> import tempfile
    >>> from analytics_lib.datasets import synthetic_events
    >>> sf = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    >>> model_file, sidecar = save_model(SatisfactionModel(n_repeats=1).fit(sf), f"{tempfile.mkdtemp()}/sat.joblib")
    >>> sidecar.name, load_model(model_file).features_ == list(SESSION_FEATURES)
    ('sat.json', True)
    """
    import joblib

    meta = model_metadata(model)
    path = Path(path)
    if path.suffix == ".json":
        raise WorkbenchError(f"path={str(path)!r}: the model file cannot end in .json (that is its sidecar's name); "
                             "use e.g. churn_model.joblib")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot create the folder {path.parent}: {exc.strerror}") from exc
    _atomic_write(path, lambda p: joblib.dump(model, p))
    meta["file"], meta["sha256"] = path.name, _sha256(path)
    side = _sidecar(path)
    _atomic_write(side, lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True)))
    return path, side


def load_model(path: str | os.PathLike, *, kind: str | None = None) -> ChurnModel | SatisfactionModel:
    """Load a model saved by :func:`save_model`, after checking it against its sidecar and this library.

    Refused (with a :class:`WorkbenchError` that says what to do): a missing file or sidecar,
    a model file whose checksum differs from the sidecar's, a model of another ``kind``, and
    a model whose feature list differs from the one this library computes (retrain it). A
    different scikit-learn version only warns. Only load files you saved yourself: joblib
    files run code when loaded.

    Parameters
    ----------
    path : str or path
        The model file.
    kind : {"ChurnModel", "SatisfactionModel"}, optional
        The kind expected.

    Returns
    -------
    ChurnModel or SatisfactionModel

    Examples
    --------
    >>> load_model("reports/predictions/churn_model.joblib", kind="ChurnModel")  # doctest: +SKIP
    """
    import warnings

    import joblib

    path = Path(path)
    side = _sidecar(path)
    if not path.is_file():
        raise WorkbenchError(f"no model file at {path}: train and save one with save_model(model, path)")
    if not side.is_file():
        raise WorkbenchError(f"the model {path} has no metadata sidecar {side.name}: save models with save_model(...)")
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"the sidecar {side} is not readable JSON ({exc}); save the model again") from exc
    if meta.get("sha256") != _sha256(path):
        raise WorkbenchError(f"{path.name} changed after it was saved (its checksum differs from {side.name}): "
                             "save the model again with save_model(...)")
    saved_kind = meta.get("kind")
    if saved_kind not in _MODEL_FEATURES:
        raise WorkbenchError(f"{side.name} names an unknown model kind {saved_kind!r}")
    if kind is not None and kind != saved_kind:
        raise WorkbenchError(f"{path.name} holds a {saved_kind}, not a {kind}")
    expected = _MODEL_FEATURES[saved_kind]()
    if meta.get("features") != expected:
        got = list(meta.get("features") or [])
        missing, extra = [f for f in expected if f not in got], [f for f in got if f not in expected]
        raise WorkbenchError(
            f"{path.name} was trained on other features than this library computes (missing: {missing or 'none'}; "
            f"unknown: {extra or 'none'}; or another order): retrain the model with this library version")
    versions = _library_versions()
    if meta.get("sklearn_version") != versions["sklearn_version"]:
        warnings.warn(f"{path.name} was saved with scikit-learn {meta.get('sklearn_version')}, this is "
                      f"{versions['sklearn_version']}: retrain it if predictions look wrong", UserWarning, stacklevel=2)
    model = joblib.load(path)
    if type(model).__name__ != saved_kind or getattr(model, "features_", None) != expected:
        raise WorkbenchError(f"{path.name} does not hold the {saved_kind} its sidecar describes: save it again")
    return model


# ============================================================================================
# Notebook parameters
@dataclass(frozen=True)
class PredictionParams:
    """The checked parameters of ``notebooks/user_predictions.ipynb``.

    Attributes
    ----------
    source : str
    cutoff : Timestamp
        The day the at-risk list is made for (a UTC midnight); events before it are loaded.
    churn_window_days : int
    team : list of str or None
        Teams whose users are listed; models are trained on all teams.
    top_k : int
    output_dir : pathlib.Path
    """

    source: str
    cutoff: pd.Timestamp
    churn_window_days: int
    team: list[str] | None
    top_k: int
    output_dir: Path

    @property
    def window(self) -> TimeWindow:
        """The events loaded: everything before the cutoff."""
        return TimeWindow(None, self.cutoff)

    def table(self) -> pd.DataFrame:
        """The parameters as ``parameter, value`` rows for display.

        Examples
        --------
        >>> import tempfile
        >>> p = prediction_parameters(source="sqlite://", cutoff="2025-06-30", churn_window_days=28, team=None,
        ...                           top_k=50, output_dir=tempfile.gettempdir())
        >>> p.table()["parameter"].tolist()
        ['source', 'cutoff', 'churn_window_days', 'team', 'top_k', 'output_dir']
        """
        rows = [("source", redact(self.source)), ("cutoff", self.cutoff.date().isoformat()),
                ("churn_window_days", f"{self.churn_window_days} days"),
                ("team", "all" if self.team is None else ", ".join(self.team)), ("top_k", f"{self.top_k:,}"),
                ("output_dir", str(self.output_dir))]
        return pd.DataFrame(rows, columns=["parameter", "value"])


def prediction_parameters(*, source: str | Path | None, cutoff: str | pd.Timestamp, churn_window_days: int,
                          team: str | list[str] | None, top_k: int, output_dir: str | Path | None,
                          now: pd.Timestamp | str | None = None) -> PredictionParams:
    """Check every parameter of the user-predictions notebook up front.

    Parameters
    ----------
    source : str, path or None
        As for :func:`analytics_lib.params.workflow_parameters` (``None``: the workbench store).
    cutoff : str or Timestamp
        A day: an ISO date, ``"today"``, ``"yesterday"`` or ``"-7d"``; not in the future.
    churn_window_days : int
        1 to 365.
    team : str, list of str or None
        Teams to list (``None``: all).
    top_k : int
        Users in the at-risk list, 1 to 100,000.
    output_dir : str, path or None
        ``None`` means ``reports/predictions``; created if missing.
    now : Timestamp or str, optional
        Pins "now" (tests).

    Returns
    -------
    PredictionParams

    Raises
    ------
    WorkbenchError
        For the first bad parameter, naming it.

    Examples
    --------
    >>> import tempfile
    >>> p = prediction_parameters(source="sqlite://", cutoff="today", churn_window_days=14, team="team-a", top_k=20,
    ...                           output_dir=tempfile.gettempdir(), now="2025-07-01 10:00")
    >>> p.cutoff.date().isoformat(), p.team, p.window.end == p.cutoff
    ('2025-07-01', ['team-a'], True)
    """
    from . import paths

    src = _check_source(source)
    if cutoff is None or (isinstance(cutoff, str) and not cutoff.strip()):
        raise WorkbenchError("cutoff is empty: give a day such as 'today' or '2025-06-30'")
    ts = parse_when(cutoff, now=now, name="cutoff")
    if ts != ts.normalize():
        raise WorkbenchError(f"cutoff={cutoff!r} has a time of day: give a day such as "
                             f"{ts.normalize().date().isoformat()!r} (predictions are made as of midnight UTC)")
    ref = parse_when("today", now=now)
    if ts > ref:
        raise WorkbenchError(f"cutoff={cutoff!r} ({ts.date().isoformat()}) is in the future: give today or an earlier day")
    window = _positive_int(churn_window_days, "churn_window_days", high=365,
                           hint=" (churn = no activity in that many days after the cutoff; 28 is usual)")
    teams = _check_team(team)
    k = _positive_int(top_k, "top_k", high=100_000, hint=" (users in the at-risk list)")
    out = _check_output_dir(paths.REPORTS / "predictions" if output_dir is None else output_dir)
    return PredictionParams(source=src, cutoff=ts.as_unit("us"), churn_window_days=window, team=teams, top_k=k,
                            output_dir=out)
