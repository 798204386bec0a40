"""The seeded event-log generator: users joining over time, sessions that walk the funnel,
weekday and hour seasonality, growth, a holiday dip, an incident, a model switch, churn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import holidays as _holidays
import numpy as np
import pandas as pd
from scipy import optimize, special
from tqdm.auto import tqdm

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.data.synthetic.malformed import _with_malformed
from analytics_lib.data.synthetic.world import (
    GroundTruth, SampleData, _ACCEPT, _ACCEPT_SHARE, _ACTIVITY_CLIP, _ACTIVITY_SIGMA, _CACHE, _CACHE_HIT_RATE,
    _CACHE_QUERY_SHARE, _CHURN, _CHURN_REF_LATENCY_S, _CHURN_REF_SATISFACTION, _CONTINUE, _CONTINUE_NAMES, _DAY_MS,
    _DEFAULT_AFTER, _DEFAULT_BEFORE, _DEFAULT_MODEL_SHARE, _DEPLOY, _DEPLOY_SUCCESS, _EDIT, _ERROR,
    _ERROR_LATENCY_FACTOR, _ERROR_RATE, _ERROR_RETRY_PROB, _EVENT_TYPES, _EXPORT, _FEATURES, _FEATURE_WEIGHTS,
    _FEEDBACK, _FEEDBACK_SHARE, _FUNNEL_STEPS, _GEN, _HOLIDAY_FACTOR, _HOUR_PROFILE, _INCIDENT_ERROR_RATE,
    _INCIDENT_LATENCY_MULT, _INFRA_COST, _LATENCY_MEDIAN_MS, _LATENCY_SIGMA_REQUEST, _MAIN_FEATURE_SHARE,
    _MANUAL_MINUTES, _MAX_ATTEMPTS, _MAX_LATENCY_MS, _MAX_REWORK_LOOPS, _MODELS, _OTHER_LATENCY, _PILOT_SESSIONS,
    _PRICE_IN, _PRICE_OUT, _REWORK_AFTER_EDIT, _REWORK_AFTER_FAILED_TEST, _SAT_ERROR_EFFECT, _SAT_INTERCEPT,
    _SAT_LATENCY_SLOPE, _SAT_NOISE, _SEARCH, _SESSIONS_PER_WEEKDAY, _SESSION_GAP_MS, _START, _TEST, _TEST_SUCCESS,
    _THINK_CLIP_S, _THINK_MEDIAN_S, _THINK_SIGMA, _TOKENS_IN_MEDIAN, _TOKENS_IN_SIGMA, _TOKENS_OUT_MEDIAN,
    _TOKENS_OUT_SIGMA, _USER_LATENCY_SIGMA, _WEEKDAY_FACTORS, _WEEKLY_GROWTH, _padded)


# --- session content -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Batch:
    """Events of a batch of sessions, rows ordered by (session, position in session)."""

    sess: np.ndarray        # local session index per event
    etype: np.ndarray       # event type code
    offset_ms: np.ndarray   # ms since the session's first event
    latency: np.ndarray
    tokens_in: np.ndarray   # -1 = missing
    tokens_out: np.ndarray
    cost: np.ndarray
    cache_hit: np.ndarray   # int8: -1 missing, 0, 1
    success: np.ndarray     # int8: -1 missing, 0, 1
    satisfaction: np.ndarray
    manual: np.ndarray
    duration_ms: np.ndarray  # per session
    gen_latency_s: np.ndarray  # per session: sum of generation latency (s)
    n_gen: np.ndarray        # per session
    n_err: np.ndarray        # per session
    sat: np.ndarray          # per session, NaN without feedback
    hit: np.ndarray          # per session: a cache_query that hit
    avoided_cost: np.ndarray  # per session: cost of the generation a hit replaced (0 otherwise)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float,
               size: int) -> np.ndarray:
    return np.asarray(median) * np.exp(np.asarray(sigma) * rng.standard_normal(size))


def _draw_tokens(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    tin = np.maximum(1, np.rint(_lognormal(rng, _TOKENS_IN_MEDIAN, _TOKENS_IN_SIGMA, size))).astype(np.int64)
    tout = np.maximum(1, np.rint(_lognormal(rng, _TOKENS_OUT_MEDIAN, _TOKENS_OUT_SIGMA, size))).astype(np.int64)
    return tin, tout


def _price(model: np.ndarray, tin: np.ndarray, tout: np.ndarray) -> np.ndarray:
    return tin / 1000 * _PRICE_IN[model] + tout / 1000 * _PRICE_OUT[model]


def _simulate_sessions(rng: np.random.Generator, feature: np.ndarray, model: np.ndarray,
                       err_rate: np.ndarray, lat_mult: np.ndarray) -> _Batch:
    """Simulate the workflow of ``len(feature)`` sessions through a fixed template of slots.

    With 3 attempts and 2 rework loops the 24 slots are: 0 start, 1 retrieve, 2-4 generation
    attempts (``error`` or ``generation``), 5 edit, 6-11 two edit-rework loops ``(error?,
    generation, edit)``, 12 test_run, 13-20 two test-rework loops ``(error?, generation, edit,
    test_run)``, 21 accept/export, 22 deploy, 23 feedback. Each slot is switched on by
    vectorized draws; the events are the switched-on slots in order.
    """
    n = len(feature)
    cont = np.cumprod(rng.random((n, 6)) < _CONTINUE, axis=1).astype(bool)
    is_cache = rng.random(n) < _CACHE_QUERY_SHARE
    hit = is_cache & (rng.random(n) < _CACHE_HIT_RATE[feature])
    e = err_rate[:, None]
    att_err = rng.random((n, _MAX_ATTEMPTS)) < e
    retry = rng.random((n, _MAX_ATTEMPTS - 1)) < _ERROR_RETRY_PROB
    inc_att = np.empty((n, _MAX_ATTEMPTS), dtype=bool)
    inc_att[:, 0] = cont[:, 1] & ~hit
    for k in range(1, _MAX_ATTEMPTS):
        inc_att[:, k] = inc_att[:, k - 1] & att_err[:, k - 1] & retry[:, k - 1]
    answered = (cont[:, 1] & hit) | (inc_att & ~att_err).any(axis=1)
    inc_edit = answered & cont[:, 2]
    edit_loop = np.cumprod(rng.random((n, _MAX_REWORK_LOOPS)) < _REWORK_AFTER_EDIT, axis=1).astype(bool)
    edit_loop &= inc_edit[:, None]
    edit_loop_err = rng.random((n, _MAX_REWORK_LOOPS)) < e
    inc_test = inc_edit & cont[:, 3]
    test_ok = rng.random((n, _MAX_REWORK_LOOPS + 1)) < _TEST_SUCCESS
    test_loop = np.empty((n, _MAX_REWORK_LOOPS), dtype=bool)
    rework = rng.random((n, _MAX_REWORK_LOOPS)) < _REWORK_AFTER_FAILED_TEST
    prev = inc_test
    for k in range(_MAX_REWORK_LOOPS):
        prev = test_loop[:, k] = prev & ~test_ok[:, k] & rework[:, k]
    test_loop_err = rng.random((n, _MAX_REWORK_LOOPS)) < e
    inc_done = inc_test & cont[:, 4]
    accept = rng.random(n) < _ACCEPT_SHARE
    inc_deploy = inc_done & accept & cont[:, 5]
    feedback = rng.random(n) < _FEEDBACK_SHARE

    # slot positions: start, retrieve, attempts, edit, edit loops, test, test loops, done, deploy, feedback
    A, L = _MAX_ATTEMPTS, _MAX_REWORK_LOOPS
    edit_at = 2 + A
    test_at = edit_at + 1 + 3 * L
    done_at = test_at + 1 + 4 * L
    n_slots = done_at + 3
    include = np.zeros((n, n_slots), dtype=bool)
    etype = np.zeros((n, n_slots), dtype=np.int8)
    test_slot_ok = np.zeros((n, n_slots), dtype=bool)
    include[:, 0], etype[:, 0] = True, _START
    include[:, 1], etype[:, 1] = cont[:, 0], np.where(is_cache, _CACHE, _SEARCH)
    include[:, 2:edit_at], etype[:, 2:edit_at] = inc_att, np.where(att_err, _ERROR, _GEN)
    include[:, edit_at], etype[:, edit_at] = inc_edit, _EDIT
    for k in range(L):
        s = edit_at + 1 + 3 * k
        include[:, s], etype[:, s] = edit_loop[:, k] & edit_loop_err[:, k], _ERROR
        include[:, s + 1], etype[:, s + 1] = edit_loop[:, k], _GEN
        include[:, s + 2], etype[:, s + 2] = edit_loop[:, k], _EDIT
    include[:, test_at], etype[:, test_at], test_slot_ok[:, test_at] = inc_test, _TEST, test_ok[:, 0]
    for k in range(L):
        s = test_at + 1 + 4 * k
        include[:, s], etype[:, s] = test_loop[:, k] & test_loop_err[:, k], _ERROR
        include[:, s + 1], etype[:, s + 1] = test_loop[:, k], _GEN
        include[:, s + 2], etype[:, s + 2] = test_loop[:, k], _EDIT
        include[:, s + 3], etype[:, s + 3], test_slot_ok[:, s + 3] = test_loop[:, k], _TEST, test_ok[:, k + 1]
    include[:, done_at], etype[:, done_at] = inc_done, np.where(accept, _ACCEPT, _EXPORT)
    include[:, done_at + 1], etype[:, done_at + 1] = inc_deploy, _DEPLOY
    include[:, done_at + 2], etype[:, done_at + 2] = feedback, _FEEDBACK

    sess, slot = np.nonzero(include)
    et = etype[sess, slot]
    m = len(sess)
    is_gen, is_err = et == _GEN, et == _ERROR
    llm = is_gen | is_err

    # latency: one normal draw per event, scaled per event type
    median = np.full(m, np.nan)
    sigma = np.zeros(m)
    for code, (med, sig) in _OTHER_LATENCY.items():
        sel = et == code
        median[sel], sigma[sel] = med, sig
    mdl = model[sess]
    median[llm] = _LATENCY_MEDIAN_MS[mdl[llm]] * lat_mult[sess[llm]] * np.where(is_err[llm], _ERROR_LATENCY_FACTOR, 1.0)
    sigma[llm] = _LATENCY_SIGMA_REQUEST[mdl[llm]]
    latency = np.minimum(np.round(median * np.exp(sigma * rng.standard_normal(m)), 1), _MAX_LATENCY_MS)

    tokens_in = np.full(m, -1, dtype=np.int64)
    tokens_out = np.full(m, -1, dtype=np.int64)
    tokens_in[is_gen], tokens_out[is_gen] = _draw_tokens(rng, int(is_gen.sum()))
    cost = np.zeros(m)
    cost[is_gen] = _price(mdl[is_gen], tokens_in[is_gen], tokens_out[is_gen])
    cost[et == _SEARCH] = _INFRA_COST["search"]
    cost[et == _CACHE] = _INFRA_COST["cache_query"]

    cache_hit = np.full(m, -1, dtype=np.int8)
    cache_hit[et == _CACHE] = hit[sess[et == _CACHE]]
    cache_hit[is_gen] = 0
    success = np.full(m, -1, dtype=np.int8)
    success[is_gen] = 1
    is_test = et == _TEST
    success[is_test] = test_slot_ok[sess[is_test], slot[is_test]]
    is_dep = et == _DEPLOY
    success[is_dep] = rng.random(int(is_dep.sum())) < _DEPLOY_SUCCESS

    manual = np.full(m, np.nan)
    done = (et == _ACCEPT) | (et == _EXPORT)
    manual[done] = np.round(_MANUAL_MINUTES[feature[sess[done]]]
                            * _lognormal(rng, math.exp(-0.3 ** 2 / 2), 0.3, int(done.sum())), 1)

    gen_lat_s = np.bincount(sess[is_gen], latency[is_gen] / 1000, minlength=n)
    n_gen = np.bincount(sess[is_gen], minlength=n)
    n_err = np.bincount(sess[is_err], minlength=n)
    mean_lat = np.divide(gen_lat_s, n_gen, out=np.zeros(n), where=n_gen > 0)
    raw_sat = (_SAT_INTERCEPT + _SAT_LATENCY_SLOPE * mean_lat + _SAT_ERROR_EFFECT * n_err
               + _SAT_NOISE * rng.standard_normal(n))
    sat = np.where(feedback, np.clip(np.round(raw_sat * 2) / 2, *S.SATISFACTION_RANGE), np.nan)
    satisfaction = np.full(m, np.nan)
    is_fb = et == _FEEDBACK
    satisfaction[is_fb] = sat[sess[is_fb]]

    # time: think time plus the previous event's latency between consecutive events
    think = np.clip(_lognormal(rng, _THINK_MEDIAN_S, _THINK_SIGMA, m), *_THINK_CLIP_S) * 1000
    prev_lat = np.nan_to_num(np.r_[0.0, latency[:-1]])
    gap = np.rint(think + prev_lat).astype(np.int64)
    first = np.flatnonzero(slot == 0)
    gap[first] = 0
    csum = np.cumsum(gap)
    offset = csum - csum[first][sess]
    last = np.r_[first[1:] - 1, m - 1] if m else first

    avoided = np.zeros(n)
    hits = np.flatnonzero(hit & cont[:, 0])
    avoided[hits] = _price(model[hits], *_draw_tokens(rng, len(hits)))
    return _Batch(sess, et, offset, latency, tokens_in, tokens_out, cost, cache_hit, success,
                  satisfaction, manual, offset[last], gen_lat_s, n_gen, n_err, sat,
                  hit & cont[:, 0], avoided)


def _funnel_reach(feature: np.ndarray, err_rate: np.ndarray) -> np.ndarray:
    """Per-session probabilities of reaching ``generation``, ``edit`` and ``test_run`` (ordered funnel).

    A session without a cache hit reaches them in order once an attempt succeeds. A session
    whose cache hit answered meets its first generation only in a rework loop: after its
    edit (then edit follows, and test_run with the usual probability), or after a failed
    ``test_run`` (then edit and test_run follow at once).
    """
    c1, c2, c3, c4 = _CONTINUE[:4]
    hit = _CACHE_QUERY_SHARE * _CACHE_HIT_RATE[feature]
    er = err_rate * _ERROR_RETRY_PROB
    p_ok = (1 - err_rate) * sum(er ** k for k in range(_MAX_ATTEMPTS))
    via_edit = _REWORK_AFTER_EDIT
    via_test = (1 - _REWORK_AFTER_EDIT) * c4 * (1 - _TEST_SUCCESS) * _REWORK_AFTER_FAILED_TEST
    reach_gen = c1 * c2 * ((1 - hit) * p_ok + hit * c3 * (via_edit + via_test))
    reach_edit = c1 * c2 * c3 * ((1 - hit) * p_ok + hit * (via_edit + via_test))
    reach_test = c1 * c2 * c3 * ((1 - hit) * p_ok * c4 + hit * (via_edit * c4 + via_test))
    return np.stack([reach_gen, reach_edit, reach_test])


def _median_generation_cost(shares: np.ndarray, n_grid: int = 4000) -> float:
    """Median of ``tokens_in*pin + tokens_out*pout`` (per 1k) under a model mix, by quadrature."""
    q = (np.arange(n_grid) + 0.5) / n_grid
    x = _TOKENS_IN_MEDIAN * np.exp(_TOKENS_IN_SIGMA * special.ndtri(q))
    mu_out = math.log(_TOKENS_OUT_MEDIAN)

    def cdf(c: float) -> float:
        total = 0.0
        for m, share in enumerate(shares):
            a, b = _PRICE_IN[m] / 1000, _PRICE_OUT[m] / 1000
            rest = c - a * x
            z = np.where(rest > 0, (np.log(np.maximum(rest, 1e-300) / b) - mu_out) / _TOKENS_OUT_SIGMA, -np.inf)
            total += share * special.ndtr(z).mean()
        return total - 0.5

    return float(optimize.brentq(cdf, 1e-9, 10.0, xtol=1e-12, rtol=1e-10))


# --- the world -----------------------------------------------------------------------------
def _check_args(n_events: Any, days: Any, n_teams: Any, seed: Any, malformed_share: Any) -> None:
    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(n_events) or n_events < 1000:
        raise WorkbenchError(f"n_events must be an integer >= 1000 (a target count of clean events), got {n_events!r}")
    if not is_int(days) or days < 28:
        raise WorkbenchError(f"days must be an integer >= 28 (the window length in days), got {days!r}")
    if not is_int(n_teams) or not 1 <= n_teams <= 26:
        raise WorkbenchError(f"n_teams must be an integer between 1 and 26, got {n_teams!r}")
    if not is_int(seed) or seed < 0:
        raise WorkbenchError(f"seed must be a non-negative integer, got {seed!r}")
    ok = isinstance(malformed_share, (int, float, np.floating)) and not isinstance(malformed_share, bool)
    if not ok or not 0 <= malformed_share < 0.5:
        raise WorkbenchError(f"malformed_share must be a number with 0 <= malformed_share < 0.5, got {malformed_share!r}")


def _parse_end(end: str | pd.Timestamp | None) -> pd.Timestamp:
    if end is None:
        return pd.Timestamp.now("UTC").normalize()
    try:
        ts = pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"end must be a date such as '2025-06-30' or a Timestamp, got {end!r}") from exc
    if ts is pd.NaT:
        raise WorkbenchError(f"end must be a date such as '2025-06-30' or a Timestamp, got {end!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.normalize().as_unit("us")


@dataclass
class _Users:
    """Growing per-user state (arrays indexed by user number)."""

    team: np.ndarray
    activity: np.ndarray
    main_feature: np.ndarray
    lat_mult: np.ndarray
    join_day: np.ndarray     # day index, negative for users who joined before the window
    alive: np.ndarray
    churned: np.ndarray
    n_sessions: np.ndarray
    gen_lat_s: np.ndarray
    n_gen: np.ndarray
    n_err: np.ndarray
    sat_sum: np.ndarray
    n_fb: np.ndarray
    last_end: np.ndarray     # ms since window start of the user's last event

    def add(self, rng: np.random.Generator, join_day: np.ndarray, team_weights: np.ndarray) -> None:
        k = len(join_day)
        new = {
            "team": rng.choice(len(team_weights), size=k, p=team_weights),
            "activity": np.clip(_lognormal(rng, math.exp(-_ACTIVITY_SIGMA ** 2 / 2), _ACTIVITY_SIGMA, k),
                                *_ACTIVITY_CLIP),
            "main_feature": rng.choice(len(_FEATURES), size=k, p=_FEATURE_WEIGHTS),
            "lat_mult": np.exp(_USER_LATENCY_SIGMA * rng.standard_normal(k)),
            "join_day": join_day, "alive": np.ones(k, bool), "churned": np.zeros(k, bool),
            "n_sessions": np.zeros(k, np.int64), "gen_lat_s": np.zeros(k), "n_gen": np.zeros(k, np.int64),
            "n_err": np.zeros(k, np.int64), "sat_sum": np.zeros(k), "n_fb": np.zeros(k, np.int64),
            "last_end": np.full(k, np.iinfo(np.int64).min // 4, np.int64),
        }
        for name, values in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), values]))

    def record(self, s_user: np.ndarray, start: np.ndarray, batch: _Batch, keep: np.ndarray) -> None:
        """Add the kept sessions' experience (for churn) and last event time (for separation)."""
        n = len(self.alive)
        self.n_sessions += np.bincount(s_user, minlength=n)
        self.gen_lat_s += np.bincount(s_user, batch.gen_latency_s[keep], minlength=n)
        self.n_gen += np.bincount(s_user, batch.n_gen[keep], minlength=n).astype(np.int64)
        self.n_err += np.bincount(s_user, batch.n_err[keep], minlength=n).astype(np.int64)
        sat = batch.sat[keep]
        fb = ~np.isnan(sat)
        self.sat_sum += np.bincount(s_user[fb], sat[fb], minlength=n)
        self.n_fb += np.bincount(s_user[fb], minlength=n)
        np.maximum.at(self.last_end, s_user, start + batch.duration_ms[keep])

    @classmethod
    def empty(cls) -> _Users:
        ints = ("team", "main_feature", "join_day", "n_sessions", "n_gen", "n_err", "n_fb", "last_end")
        kw = {f.name: np.zeros(0, np.int64 if f.name in ints else (bool if f.name in ("alive", "churned") else float))
              for f in fields(cls)}
        return cls(**kw)


def _push_apart(user: np.ndarray, raw_start: np.ndarray, duration: np.ndarray,
                last_end: np.ndarray) -> np.ndarray:
    """Move session starts later so a user's sessions are at least ``_SESSION_GAP_MS`` apart.

    Solves ``s_i = max(raw_i, s_{i-1} + dur_{i-1} + gap)`` per user without a loop: with
    ``C_i`` the user's running sum of ``dur + gap`` before ``i``, ``s_i - C_i`` is the running
    maximum of ``raw_i - C_i`` (offset per user so that one global ``maximum.accumulate``
    works), and the first session also respects the user's previous ``last_end``.
    """
    if len(user) == 0:
        return raw_start.copy()
    order = np.lexsort((raw_start, user))
    u, raw, dur = user[order], raw_start[order], duration[order]
    step = dur + _SESSION_GAP_MS
    csum = np.cumsum(step)
    first = np.r_[True, u[1:] != u[:-1]]
    group = np.cumsum(first) - 1
    before = (csum - step)[first][group]        # csum before each group's first session
    c = csum - step - before                    # exclusive running sum within the group
    x = raw - c
    x[first] = np.maximum(x[first], last_end[u[first]] + _SESSION_GAP_MS)
    span = int(x.max() - x.min()) + 1
    shifted = x + group * span
    start = np.maximum.accumulate(shifted) - group * span + c
    out = np.empty_like(start)
    out[order] = start
    return out


def synthetic_events(n_events: int = 1_000_000, *, days: int = 180, end: str | pd.Timestamp | None = None,
                     n_teams: int = 6, seed: int = 0, malformed_share: float = 0.0,
                     progress: bool = False) -> SampleData:
    """Generate a realistic event log of an AI developer-assistant platform and its ground truth.

    The log covers ``[end - days, end)``. Users join over time (so weekly active users
    grow by ``truth.weekly_growth_rate``), belong to a team, have a personal activity level
    and a main feature, and churn with a hazard that rises with the latency, errors and low
    satisfaction they experienced. Sessions follow a weekday and hour-of-day profile (UTC),
    dip on US public holidays, and run the workflow ``session_start -> search|cache_query ->
    generation -> edit -> test_run -> accept|export [-> deploy]`` with drop-off, rework loops,
    errors, cache hits and optional ``feedback``. A model switch changes the cost per
    generation, and a 2-3 day incident multiplies latency and errors of one model in one
    team. A user's sessions are separated by more than 45 minutes of inactivity and have no
    gap over 25 minutes inside (sessions last minutes, never over 3 hours), so a 30-minute
    sessionizer recovers ``session_id`` exactly. See :class:`GroundTruth` for every planted
    parameter and how it is defined.

    Parameters
    ----------
    n_events : int
        Target number of clean events (>= 1000). Sessions are budgeted week by week against
        the target (each week's session count is fixed from the events still missing and
        spread over user-days as independent Poisson counts conditioned on that total), so
        the realised count is within +-3 % of the target (typically within 1 %) for targets
        of 10,000 and more; tiny targets can miss by more.
    days : int
        Length of the window in days (>= 28).
    end : str or Timestamp, optional
        End of the window (exclusive), floored to a UTC midnight; naive values are UTC.
        Default: today, ``pd.Timestamp.now("UTC").normalize()``.
    n_teams : int
        Number of teams ``team-a``, ``team-b``, ... (1-26).
    seed : int
        Seed of the only random generator used (``np.random.default_rng(seed)``); the same
        seed and ``end`` give identical output.
    malformed_share : float
        Add about ``malformed_share * n_clean`` extra malformed rows (0 <= share < 0.5)
        covering every reason of ``schema.REASONS`` (see ``truth.malformed_by_reason``); each
        row triggers exactly one reason and the clean rows are unchanged. Duplicates are exact
        copies placed after their original; future timestamps lie 80 years after ``end`` so
        they are in the future for any clock, even when ``end`` is long past. The columns that can
        hold bad values (``ts``, ``latency_ms``, ``tokens_in``, ``tokens_out``, ``cost_usd``,
        ``success``, ``satisfaction``, ``manual_minutes``) are then text as a CSV source
        delivers them: ISO 8601 ``ts`` with ``+00:00``, decimal numbers, ``"true"``/``"false"``,
        missing as NaN; missing required values are NA.
    progress : bool
        Show a tqdm progress bar over the generation stages.

    Returns
    -------
    SampleData
        ``events`` has exactly the columns ``schema.COLUMNS`` with the dtypes of
        ``schema.DTYPES`` (when ``malformed_share == 0``), unique ``event_id`` strings
        (``e0000000001``...), sorted by ``(ts, event_id)``; categoricals hold only observed
        values, with sorted categories. ``model`` is set on generation and
        error events; ``latency_ms`` on search, cache_query, generation, test_run and error;
        ``tokens_*`` on generations; ``cost_usd`` is the LLM price on generations, a flat
        infra cost on search/cache_query and 0 elsewhere; ``cache_hit`` on cache_query
        (and False on generations); ``success`` on generation, test_run and deploy;
        ``satisfaction`` on feedback; ``manual_minutes`` on accept/export. ``truth`` is the
        :class:`GroundTruth`.

    Raises
    ------
    WorkbenchError
        For an argument outside its allowed range; the message names it and the range.

    Examples
    --------
    >>> data = synthetic_events(20_000, days=60, end="2025-06-30", seed=0)
    >>> data.events.columns.tolist()[:4], data.truth.incident_team
    (['event_id', 'ts', 'user_id', 'event_type'], 'team-a')
    """
    _check_args(n_events, days, n_teams, seed, malformed_share)
    end_ts = _parse_end(end)
    rng, rng_pilot, rng_bad = np.random.default_rng(seed).spawn(3)
    n_weeks = -(-days // 7)
    bar = tqdm(total=n_weeks + 3, desc="synthetic_events", disable=not progress, leave=False)

    bar.set_postfix_str("plan")
    plan = _make_plan(rng, end_ts, days, n_teams)
    events_per_session = _pilot_events_per_session(rng_pilot)
    # budget: alive users follow n0 * (1+g)^week, events follow alive users x day weights
    week_weight = ((1 + _WEEKLY_GROWTH) ** np.arange(n_weeks)
                   * np.bincount(np.arange(days) // 7, plan.day_weight, minlength=n_weeks))
    target_cum = n_events * np.cumsum(week_weight) / week_weight.sum()
    n0 = max(n_teams, 3, round(n_events / events_per_session / (_SESSIONS_PER_WEEKDAY * week_weight.sum())))
    users = _Users.empty()
    users.add(rng, np.sort(-rng.integers(1, 181, n0)), plan.team_weights)  # joined before the window
    tally = _Tally()
    bar.update()

    for w in range(n_weeks):
        bar.set_postfix_str(f"week {w + 1}/{n_weeks}")
        d0, d1 = 7 * w, min(7 * w + 7, days)
        per_session = events_per_session if tally.n_sessions == 0 else tally.n_events / tally.n_sessions
        s_user, s_day, raw_start = _week_sessions(rng, plan, users, d0, d1,
                                                  (target_cum[w] - tally.n_events) / per_session)
        feature, model, err_rate, lat_mult = _session_setup(rng, plan, users, s_user, s_day)
        batch = _simulate_sessions(rng, feature, model, err_rate, lat_mult)
        start = _push_apart(s_user, raw_start, batch.duration_ms, users.last_end)
        keep = start + batch.duration_ms < days * _DAY_MS
        users.record(s_user[keep], start[keep], batch, keep)
        tally.add(batch, keep, start, s_user, feature, model, err_rate)
        if w < n_weeks - 1:
            _churn(rng, users)
            d2 = min(d1 + 7, days)
            k = int(rng.poisson(max(n0 * (1 + _WEEKLY_GROWTH) ** (w + 1) - users.alive.sum(), 0.0)))
            p = plan.day_weight[d1:d2] / plan.day_weight[d1:d2].sum()
            users.add(rng, d1 + np.sort(rng.choice(d2 - d1, size=k, p=p)), plan.team_weights)
        bar.update()

    bar.set_postfix_str("assemble")
    events, event_user = _assemble(tally.chunks, plan.start, plan.teams, users)
    totals = {
        "total_manual_minutes_accepted": float(np.nansum(events[S.MANUAL_MINUTES].to_numpy())),
        "total_llm_cost_usd": float(events.loc[events[S.EVENT_TYPE] == "generation", S.COST_USD].sum()),
        "avoided_llm_cost_usd": tally.avoided, "n_cache_hits": tally.n_hits,
    }
    users_df = _users_frame(users, plan, events, event_user)
    n_clean = len(events)
    bar.update()

    bar.set_postfix_str("malformed")
    by_reason = {r: 0 for r in S.REASONS}
    if malformed_share > 0:
        events, by_reason = _with_malformed(rng_bad, events, malformed_share, end_ts)
    bar.update()
    bar.close()
    truth = _make_truth(plan, seed=seed, n_events_target=n_events, n_events=n_clean,
                        n_sessions=tally.n_sessions, users=users_df, reach=tally.reach,
                        malformed_share=float(malformed_share), malformed_by_reason=by_reason, **totals)
    return SampleData(events=events, truth=truth)


@dataclass(frozen=True)
class _Plan:
    """The calendar of one call and the planted dates."""

    start: pd.Timestamp
    end: pd.Timestamp
    dates: pd.DatetimeIndex
    is_holiday: np.ndarray
    day_weight: np.ndarray      # weekday factor x holiday factor per day
    teams: tuple[str, ...]
    team_weights: np.ndarray
    switch_day: int
    incident_day: int
    incident_len: int
    incident_team: int = 0                  # the largest team
    incident_model: int = _DEFAULT_AFTER    # the busiest model in the last third


def _make_plan(rng: np.random.Generator, end: pd.Timestamp, days: int, n_teams: int) -> _Plan:
    """Calendar, teams, the model-switch day and the incident (2-3 weekdays, no holiday, last third)."""
    start = end - pd.Timedelta(days=days)
    dates = pd.date_range(start, periods=days, freq="D")
    cal = _holidays.country_holidays("US", years=range(start.year, end.year + 1))
    is_holiday = np.array([d.date() in cal for d in dates])
    dow = dates.day_of_week.to_numpy()
    team_weights = 0.75 ** np.arange(n_teams)
    switch_day = int(rng.integers(days // 3, max(days // 3 + 1, 2 * days // 3)))
    inc_len = int(rng.integers(2, 4))
    lo = -(-2 * days // 3)
    quiet = (dow >= 5) | is_holiday
    candidates = [d for d in range(lo, days - inc_len + 1) if not quiet[d:d + inc_len].any()]
    inc_day = int(rng.choice(candidates)) if candidates else max(lo, days - inc_len)
    return _Plan(start, end, dates, is_holiday, _WEEKDAY_FACTORS[dow] * np.where(is_holiday, _HOLIDAY_FACTOR, 1.0),
                 tuple(f"team-{chr(ord('a') + i)}" for i in range(n_teams)), team_weights / team_weights.sum(),
                 switch_day, inc_day, inc_len)


def _pilot_events_per_session(rng: np.random.Generator) -> float:
    """Mean events per session from a pilot batch (on its own stream), to size the first week."""
    feature = np.where(rng.random(_PILOT_SESSIONS) < _MAIN_FEATURE_SHARE,
                       rng.choice(len(_FEATURES), _PILOT_SESSIONS, p=_FEATURE_WEIGHTS),
                       rng.integers(0, len(_FEATURES), _PILOT_SESSIONS))
    model = np.full(_PILOT_SESSIONS, _DEFAULT_BEFORE)
    pilot = _simulate_sessions(rng, feature, model, _ERROR_RATE[model], np.ones(_PILOT_SESSIONS))
    return len(pilot.sess) / _PILOT_SESSIONS


def _week_sessions(rng: np.random.Generator, plan: _Plan, users: _Users, d0: int, d1: int,
                   budget: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sessions of days ``[d0, d1)``: user, day and a raw start (ms since the window start).

    Counts per user-day are independent Poisson with intensity ``activity x day weight``,
    conditioned on the week's total (a multinomial draw), plus one forced session on each
    new user's join day. Start hours follow the hour profile.
    """
    wdays = np.arange(d0, d1)
    alive = np.flatnonzero(users.alive)
    join = users.join_day[alive][:, None]
    lam = users.activity[alive][:, None] * plan.day_weight[None, d0:d1] * (wdays[None, :] >= join)
    forced = (wdays[None, :] == join).ravel()
    total = int(round(max(budget - forced.sum(), 0.0))) if lam.sum() > 0 else 0
    counts = forced + (rng.multinomial(total, (lam / lam.sum()).ravel()) if total else 0)
    s_user = np.repeat(np.repeat(alive, d1 - d0), counts)
    s_day = np.repeat(np.tile(wdays, len(alive)), counts)
    n = len(s_user)
    hour_cdf = np.cumsum(_HOUR_PROFILE)
    hour = np.searchsorted(hour_cdf, rng.random(n) * hour_cdf[-1], side="right")
    return s_user, s_day, s_day * _DAY_MS + hour * 3_600_000 + rng.integers(0, 3_600_000, n)


def _session_setup(rng: np.random.Generator, plan: _Plan, users: _Users, s_user: np.ndarray,
                   s_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feature, model, error rate and latency factor per session (model switch and incident included)."""
    n = len(s_user)
    feature = np.where(rng.random(n) < _MAIN_FEATURE_SHARE, users.main_feature[s_user],
                       rng.integers(0, len(_FEATURES), n))
    default = np.where(s_day < plan.switch_day, _DEFAULT_BEFORE, _DEFAULT_AFTER)
    other = (default + 1 + rng.integers(0, len(_MODELS) - 1, n)) % len(_MODELS)
    model = np.where(rng.random(n) < _DEFAULT_MODEL_SHARE, default, other)
    incident = ((s_day >= plan.incident_day) & (s_day < plan.incident_day + plan.incident_len)
                & (users.team[s_user] == plan.incident_team) & (model == plan.incident_model))
    err_rate = np.where(incident, _INCIDENT_ERROR_RATE, _ERROR_RATE[model])
    lat_mult = users.lat_mult[s_user] * np.where(incident, _INCIDENT_LATENCY_MULT, 1.0)
    return feature, model, err_rate, lat_mult


def _churn(rng: np.random.Generator, users: _Users) -> None:
    """End-of-week churn: a logistic hazard of each active user's experience so far."""
    n_att = users.n_gen + users.n_err
    mean_lat = np.divide(users.gen_lat_s, users.n_gen, out=np.full(len(n_att), _CHURN_REF_LATENCY_S),
                         where=users.n_gen > 0)
    err_share = np.divide(users.n_err, n_att, out=np.zeros(len(n_att)), where=n_att > 0)
    mean_sat = (users.sat_sum + _CHURN_REF_SATISFACTION) / (users.n_fb + 1)
    logit = (_CHURN["intercept"] + _CHURN["mean_latency_s"] * (mean_lat - _CHURN_REF_LATENCY_S)
             + _CHURN["error_share"] * err_share
             + _CHURN["dissatisfaction"] * (_CHURN_REF_SATISFACTION - mean_sat))
    gone = users.alive & (users.n_sessions > 0) & (rng.random(len(n_att)) < special.expit(logit))
    users.alive &= ~gone
    users.churned |= gone


@dataclass
class _Tally:
    """What the weeks produced so far: event chunks and running totals."""

    chunks: list[dict[str, np.ndarray]] = field(default_factory=list)
    n_events: int = 0
    n_sessions: int = 0
    reach: np.ndarray = field(default_factory=lambda: np.zeros(4))  # expected retrieve/gen/edit/test reach
    n_hits: int = 0
    avoided: float = 0.0

    def add(self, batch: _Batch, keep: np.ndarray, start: np.ndarray, s_user: np.ndarray,
            feature: np.ndarray, model: np.ndarray, err_rate: np.ndarray) -> None:
        kept = np.flatnonzero(keep)
        ev_keep = keep[batch.sess]
        self.chunks.append({
            "sess": (np.cumsum(keep) - 1 + self.n_sessions)[batch.sess[ev_keep]],  # global numbering
            "sess_start": start[kept], "sess_user": s_user[kept], "sess_feature": feature[kept],
            "sess_model": model[kept],
            **{k: getattr(batch, k)[ev_keep] for k in (
                "etype", "offset_ms", "latency", "tokens_in", "tokens_out", "cost", "cache_hit",
                "success", "satisfaction", "manual")},
        })
        self.reach += np.r_[len(kept) * _CONTINUE[0], _funnel_reach(feature[kept], err_rate[kept]).sum(axis=1)]
        self.n_hits += int(batch.hit[kept].sum())
        self.avoided += float(batch.avoided_cost[kept].sum())
        self.n_sessions += len(kept)
        self.n_events += int(ev_keep.sum())


def _users_frame(users: _Users, plan: _Plan, events: pd.DataFrame, event_user: np.ndarray) -> pd.DataFrame:
    """The truth's per-user table; ``churn_date`` is the day of a churned user's last event."""
    n = len(users.alive)
    last = pd.Series(events[S.TS].to_numpy()).groupby(event_user).max().dt.normalize()
    last_day = pd.Series(pd.NaT, index=np.arange(n), dtype=S.DTYPES[S.TS])
    last_day.loc[last.index] = last.to_numpy()
    return pd.DataFrame({
        "user_id": _user_ids(n),
        "team": pd.Categorical.from_codes(users.team, categories=list(plan.teams)),
        "join_date": pd.DatetimeIndex(plan.start + pd.to_timedelta(users.join_day, unit="D")).as_unit("us"),
        "churned": users.churned.copy(),
        "churn_date": last_day.where(users.churned).to_numpy(),
        "activity_level": users.activity.copy(),
        "main_feature": pd.Categorical.from_codes(users.main_feature, categories=list(_FEATURES)),
    })


def _make_truth(plan: _Plan, *, reach: np.ndarray, **values: Any) -> GroundTruth:
    """Collect the planted parameters and the measured totals into a :class:`GroundTruth`."""
    def by(names: tuple[str, ...], numbers: Any) -> dict[str, float]:
        return dict(zip(names, map(float, numbers)))

    c = _CONTINUE
    conversion = (c[0], *(reach[1:] / reach[:-1]), c[4], _ACCEPT_SHARE * c[5])
    others = np.full(len(_MODELS), (1 - _DEFAULT_MODEL_SHARE) / (len(_MODELS) - 1))
    shares_before, shares_after = others.copy(), others.copy()
    shares_before[_DEFAULT_BEFORE] = shares_after[_DEFAULT_AFTER] = _DEFAULT_MODEL_SHARE
    return GroundTruth(
        start=plan.start, end=plan.end, days=len(plan.dates), n_users=len(values["users"]),
        teams=plan.teams, team_weights=by(plan.teams, plan.team_weights),
        features=_FEATURES, feature_weights=by(_FEATURES, _FEATURE_WEIGHTS),
        main_feature_share=_MAIN_FEATURE_SHARE, models=_MODELS,
        weekly_growth_rate=_WEEKLY_GROWTH, weekday_factors=tuple(map(float, _WEEKDAY_FACTORS)),
        hour_profile=tuple(map(float, _HOUR_PROFILE)),
        holiday_dates=tuple(plan.dates[plan.is_holiday]), holiday_factor=_HOLIDAY_FACTOR,
        funnel_steps=_FUNNEL_STEPS,
        step_continue_prob=tuple((a, b, float(p)) for (a, b), p in zip(_CONTINUE_NAMES, _CONTINUE)),
        funnel_step_conversion=tuple((_FUNNEL_STEPS[i][0], _FUNNEL_STEPS[i + 1][0], float(p))
                                     for i, p in enumerate(conversion)),
        cache_query_share=_CACHE_QUERY_SHARE,
        rework_prob={"after_edit": _REWORK_AFTER_EDIT, "after_failed_test": _REWORK_AFTER_FAILED_TEST},
        max_rework_loops=_MAX_REWORK_LOOPS, error_retry_prob=_ERROR_RETRY_PROB,
        max_generation_attempts=_MAX_ATTEMPTS, test_success_prob=_TEST_SUCCESS, accept_share=_ACCEPT_SHARE,
        deploy_success_prob=_DEPLOY_SUCCESS, feedback_share=_FEEDBACK_SHARE,
        cache_hit_rate_by_feature=by(_FEATURES, _CACHE_HIT_RATE),
        manual_minutes_by_feature=by(_FEATURES, _MANUAL_MINUTES),
        latency_median_ms_by_model=by(_MODELS, _LATENCY_MEDIAN_MS),
        latency_sigma_by_model=by(_MODELS, np.sqrt(_LATENCY_SIGMA_REQUEST ** 2 + _USER_LATENCY_SIGMA ** 2)),
        user_latency_sigma=_USER_LATENCY_SIGMA, error_latency_factor=_ERROR_LATENCY_FACTOR,
        price_per_1k_in=by(_MODELS, _PRICE_IN), price_per_1k_out=by(_MODELS, _PRICE_OUT),
        tokens_in_median=_TOKENS_IN_MEDIAN, tokens_in_sigma=_TOKENS_IN_SIGMA,
        tokens_out_median=_TOKENS_OUT_MEDIAN, tokens_out_sigma=_TOKENS_OUT_SIGMA,
        infra_cost_usd=dict(_INFRA_COST), error_rate_by_model=by(_MODELS, _ERROR_RATE),
        default_model_before=_MODELS[_DEFAULT_BEFORE], default_model_after=_MODELS[_DEFAULT_AFTER],
        default_model_share=_DEFAULT_MODEL_SHARE, model_switch_date=plan.dates[plan.switch_day],
        cost_per_generation_before=_median_generation_cost(shares_before),
        cost_per_generation_after=_median_generation_cost(shares_after),
        incident_start=plan.dates[plan.incident_day],
        incident_end=plan.dates[plan.incident_day] + pd.Timedelta(days=plan.incident_len),
        incident_team=plan.teams[plan.incident_team], incident_model=_MODELS[plan.incident_model],
        incident_latency_multiplier=_INCIDENT_LATENCY_MULT, incident_error_rate=_INCIDENT_ERROR_RATE,
        satisfaction_intercept=_SAT_INTERCEPT, satisfaction_latency_slope=_SAT_LATENCY_SLOPE,
        satisfaction_error_effect=_SAT_ERROR_EFFECT, satisfaction_noise_sd=_SAT_NOISE,
        churn_coefficients=dict(_CHURN), **values,
    )


def _user_ids(n: int) -> np.ndarray:
    return _padded("u", np.arange(1, n + 1), max(5, len(str(n))))


def _category(codes: np.ndarray, names: Any) -> pd.Categorical:
    """A categorical of the observed values only, categories sorted (the canonical form ``io`` keeps)."""
    values = pd.Categorical.from_codes(codes, categories=list(names)).remove_unused_categories()
    return values.reorder_categories(sorted(values.categories))


def _assemble(chunks: list[dict[str, np.ndarray]], start_ts: pd.Timestamp, teams: tuple[str, ...],
              users: _Users) -> tuple[pd.DataFrame, np.ndarray]:
    """Turn the weekly chunks into the contract frame, sorted by (ts, event_id)."""
    cat = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    sess = cat["sess"]
    ts_ms = cat["sess_start"][sess] + cat["offset_ms"]
    order = np.lexsort((cat["offset_ms"], sess, ts_ms))
    sess = sess[order]
    # session ids numbered by start time
    sess_rank = np.empty(len(cat["sess_start"]), dtype=np.int64)
    sess_rank[np.lexsort((np.arange(len(cat["sess_start"])), cat["sess_start"]))] = np.arange(len(cat["sess_start"]))
    n_sess = len(sess_rank)
    sess_ids = _padded("s", sess_rank + 1, max(6, len(str(n_sess))))
    n = len(order)
    ev_user = cat["sess_user"][sess]
    used_users, user_codes = np.unique(ev_user, return_inverse=True)
    start_us = start_ts.value // 1000
    ts = (ts_ms[order] * 1000 + start_us).astype("datetime64[us]")

    def masked_int(values: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(np.where(values < 0, 0, values), values < 0)

    def masked_bool(values: np.ndarray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(values == 1, values < 0)

    etype = cat["etype"][order]
    llm = (etype == _GEN) | (etype == _ERROR)
    model_codes = np.where(llm, cat["sess_model"][sess], -1)
    cols = {
        S.EVENT_ID: pd.array(_padded("e", np.arange(1, n + 1), max(10, len(str(n)))), dtype=S.DTYPES[S.EVENT_ID]),
        S.TS: pd.Series(ts).dt.tz_localize("UTC").array,
        S.USER_ID: _category(user_codes, _user_ids(len(users.alive))[used_users]),
        S.EVENT_TYPE: _category(etype.astype(np.int64), _EVENT_TYPES),
        S.SESSION_ID: pd.array(sess_ids, dtype=S.DTYPES[S.SESSION_ID])[sess],
        S.TEAM: _category(users.team[ev_user], teams),
        S.FEATURE: _category(cat["sess_feature"][sess], _FEATURES),
        S.MODEL: _category(model_codes, _MODELS),
        S.LATENCY_MS: cat["latency"][order],
        S.TOKENS_IN: masked_int(cat["tokens_in"][order]),
        S.TOKENS_OUT: masked_int(cat["tokens_out"][order]),
        S.COST_USD: cat["cost"][order],
        S.CACHE_HIT: masked_bool(cat["cache_hit"][order]),
        S.SUCCESS: masked_bool(cat["success"][order]),
        S.SATISFACTION: cat["satisfaction"][order],
        S.MANUAL_MINUTES: cat["manual"][order],
    }
    events = pd.DataFrame(cols, columns=list(S.COLUMNS))
    return events.astype(S.DTYPES), ev_user
