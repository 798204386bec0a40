"""The sample world's constants (teams, features, models, prices, latencies, behaviour) and
its ground truth (:class:`GroundTruth`), the answers the analyses are tested against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S


# --- the planted world: fixed parameters ---------------------------------------------------
_EVENT_TYPES: tuple[str, ...] = tuple(S.EVENT_TYPES)
(_START, _SEARCH, _CACHE, _GEN, _EDIT, _TEST, _ACCEPT, _EXPORT,
 _FEEDBACK, _ERROR, _DEPLOY) = (_EVENT_TYPES.index(t) for t in (
     "session_start", "search", "cache_query", "generation", "edit", "test_run", "accept", "export",
     "feedback", "error", "deploy"))
_FEATURES = ("code_completion", "chat", "test_generation", "refactoring", "doc_search")
_FEATURE_WEIGHTS = np.array([0.28, 0.24, 0.17, 0.16, 0.15])
_CACHE_HIT_RATE = np.array([0.35, 0.25, 0.45, 0.15, 0.55])
_MANUAL_MINUTES = np.array([4.0, 8.0, 20.0, 30.0, 6.0])
_MAIN_FEATURE_SHARE = 0.7          # a session uses the user's main feature, else a uniform one
_MODELS = ("openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4", "meta/llama-3-70b")
_PRICE_IN = np.array([0.0025, 0.00015, 0.003, 0.0009])     # USD per 1k input tokens
_PRICE_OUT = np.array([0.010, 0.0006, 0.015, 0.0009])      # USD per 1k output tokens
_LATENCY_MEDIAN_MS = np.array([2200.0, 900.0, 2600.0, 1500.0])
_LATENCY_SIGMA_REQUEST = np.array([0.45, 0.40, 0.45, 0.50])  # per request, on top of the user's
_USER_LATENCY_SIGMA = 0.30          # log-sd of a user's personal latency factor (network, region)
_ERROR_RATE = np.array([0.030, 0.020, 0.025, 0.040])
_DEFAULT_BEFORE, _DEFAULT_AFTER = 0, 2
_DEFAULT_MODEL_SHARE = 0.8          # other sessions pick one of the other models uniformly
_TOKENS_IN_MEDIAN, _TOKENS_IN_SIGMA = 1200.0, 0.6
_TOKENS_OUT_MEDIAN, _TOKENS_OUT_SIGMA = 350.0, 0.7
_MAX_LATENCY_MS = 120_000.0         # requests time out at two minutes
_ERROR_LATENCY_FACTOR = 1.8         # a failed request waits longer than a successful one
_OTHER_LATENCY = {_SEARCH: (250.0, 0.5), _CACHE: (35.0, 0.4), _TEST: (4000.0, 0.5)}  # median ms, sigma
_INFRA_COST = {"search": 0.0002, "cache_query": 0.00002}
# workflow (see GroundTruth.step_continue_prob)
_CONTINUE = np.array([0.92, 0.85, 0.70, 0.75, 0.80, 0.45])
_CONTINUE_NAMES = (("session_start", "retrieve"), ("retrieve", "generation"), ("generation", "edit"),
                   ("edit", "test_run"), ("test_run", "accept_or_export"), ("accept", "deploy"))
_FUNNEL_STEPS = (("session_start", ("session_start",)), ("retrieve", ("search", "cache_query")),
                 ("generation", ("generation",)), ("edit", ("edit",)), ("test_run", ("test_run",)),
                 ("accept_or_export", ("accept", "export")), ("deploy", ("deploy",)))
_CACHE_QUERY_SHARE = 0.6            # the retrieval step is a cache_query (else a search)
_ERROR_RETRY_PROB = 0.6
_MAX_ATTEMPTS = 3
_REWORK_AFTER_EDIT = 0.20
_REWORK_AFTER_FAILED_TEST = 0.50
_MAX_REWORK_LOOPS = 2
_TEST_SUCCESS = 0.70
_ACCEPT_SHARE = 0.70                # accept vs export
_DEPLOY_SUCCESS = 0.95
_FEEDBACK_SHARE = 0.30
_SAT_INTERCEPT, _SAT_LATENCY_SLOPE, _SAT_ERROR_EFFECT, _SAT_NOISE = 4.6, -0.30, -0.7, 0.6
# calendar and growth
_WEEKDAY_FACTORS = np.array([1.00, 1.06, 1.05, 1.00, 0.89, 0.31, 0.28])
_HOLIDAY_FACTOR = 0.35
_WEEKLY_GROWTH = 0.015
_SESSIONS_PER_WEEKDAY = 1.2         # per average user on a weekday of factor 1
_ACTIVITY_SIGMA, _ACTIVITY_CLIP = 0.7, (0.1, 4.0)
_THINK_MEDIAN_S, _THINK_SIGMA, _THINK_CLIP_S = 30.0, 0.9, (2.0, 300.0)
_SESSION_GAP_MS = 46 * 60_000       # inactivity between two sessions of a user is at least this
# incident and churn
_INCIDENT_LATENCY_MULT, _INCIDENT_ERROR_RATE = 4.0, 0.30
_CHURN = {"intercept": -4.0, "mean_latency_s": 0.6, "error_share": 8.0, "dissatisfaction": 0.5}
_CHURN_REF_LATENCY_S, _CHURN_REF_SATISFACTION = 2.5, 4.0
_DAY_MS = 86_400_000
_PILOT_SESSIONS = 20_000


def _hour_profile() -> np.ndarray:
    """Share of session starts per UTC hour: office hours with a lunch dip."""
    h = np.arange(24) + 0.5
    p = 0.06 + np.exp(-(((h - 10.5) / 2.0) ** 2)) + 0.9 * np.exp(-(((h - 15.0) / 2.2) ** 2))
    return p / p.sum()


_HOUR_PROFILE = _hour_profile()


# --- results -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Everything :func:`synthetic_events` planted, plus exact totals computed from the events.

    Dates are UTC midnights (``pd.Timestamp``); "windows" are half-open ``[start, end)``.
    Per-model, per-feature and per-team mappings are plain dicts keyed by name.

    Attributes
    ----------
    seed, start, end, days : int, Timestamp, Timestamp, int
        The call's seed and the covered window ``[start, end)`` of ``days`` days.
    n_events_target, n_events, n_sessions, n_users : int
        Requested events, clean events produced, sessions and users (``users`` rows).
    teams, team_weights : tuple, dict
        Team names and each team's share of new users.
    features, feature_weights : tuple, dict
        Feature names and each feature's share of users' *main* feature; a session uses
        its user's main feature with probability ``main_feature_share``, else a uniform one.
    main_feature_share : float
    models : tuple
        All ``provider/model`` names.
    weekly_growth_rate : float
        Planned compound growth of the number of active (not churned) users per week;
        arrivals are steered so that this number follows ``A0 * (1 + g) ** week``.
    weekday_factors : tuple of 7 floats
        Session intensity Monday..Sunday (UTC).
    hour_profile : tuple of 24 floats
        Share of session starts per UTC hour (sums to 1) before the 46-minute separation
        pushes a few sessions later.
    holiday_dates, holiday_factor : tuple of Timestamps, float
        US public holidays (``holidays`` package, observed days included) in the window, on
        which session intensity (and arrivals) are multiplied by ``holiday_factor``.
    funnel_steps : tuple of (name, tuple of event types)
        The workflow steps; ``retrieve`` is ``search`` or ``cache_query``.
    step_continue_prob : tuple of (from_step, to_step, p)
        The planted probability of moving on at each step. ``retrieve -> generation`` is the
        probability of reaching the answer stage (a generation, or the cached answer on a
        cache hit); ``accept -> deploy`` applies after an ``accept`` only.
    funnel_step_conversion : tuple of (from_step, to_step, p)
        The expected session-level conversion that the mechanics imply, measured as: a
        session reaches step *k* when it has an event of step *k*'s types after its first
        event of step *k-1* (which it reached), conversion = sessions reaching *k* /
        sessions reaching *k-1*. Cache hits (no generation: such a session meets its first
        generation only in a rework loop), errors that end a session and rework loops make
        ``retrieve -> generation``, ``generation -> edit`` and ``edit -> test_run`` differ
        from the continue probabilities; the values are exact expectations given the
        simulated sessions' features, models and error rates. The other steps equal the
        continue probabilities (``accept_or_export -> deploy`` is ``accept_share`` times
        ``p(accept -> deploy)``).
    cache_query_share : float
        Probability that the retrieval step is a ``cache_query`` rather than a ``search``.
    rework_prob : dict
        ``after_edit`` (back to generation after an edit) and ``after_failed_test`` (back to
        generation after ``test_run`` with ``success=False``); at most ``max_rework_loops``
        each per session. A rework loop repeats ``[error], generation, edit[, test_run]``.
    max_rework_loops : int
    error_retry_prob, max_generation_attempts : float, int
        After an ``error`` in place of a generation the user retries with this probability,
        else the session ends; at most this many attempts.
    test_success_prob, accept_share, deploy_success_prob, feedback_share : float
        ``test_run`` success, share of ``accept`` (vs ``export``) among completions, ``deploy``
        success, and share of sessions that end with a ``feedback`` event.
    cache_hit_rate_by_feature : dict
        ``P(cache_hit | cache_query, feature)``. A hit replaces the generation: the session
        has no generation event for its first answer.
    manual_minutes_by_feature : dict
        Mean ``manual_minutes`` on ``accept``/``export`` events (log-normal, sigma 0.3,
        rounded to 0.1 minute).
    latency_median_ms_by_model, latency_sigma_by_model : dict
        Generation latency per model is log-normal with this median and (total) log-sd,
        which includes the per-user factor of log-sd ``user_latency_sigma``. Outside the
        incident only. ``error`` events take ``error_latency_factor`` times as long;
        latencies are capped at 120 s.
    user_latency_sigma, error_latency_factor : float
    price_per_1k_in, price_per_1k_out : dict
        USD per 1k tokens. A generation costs ``tokens_in/1000*pin + tokens_out/1000*pout``.
    tokens_in_median, tokens_in_sigma, tokens_out_median, tokens_out_sigma : float
        Log-normal token counts (rounded, at least 1), the same for every model and feature.
    infra_cost_usd : dict
        Flat ``cost_usd`` of ``search`` and ``cache_query`` events; other non-generation events
        cost 0 (``error`` events too).
    error_rate_by_model : dict
        Probability that a generation attempt is an ``error`` instead (outside the incident).
    default_model_before, default_model_after, default_model_share, model_switch_date
        The default model changes at ``model_switch_date`` (sessions starting on or after it);
        ``default_model_share`` of sessions use the default, the rest another model uniformly.
    cost_per_generation_before, cost_per_generation_after : float
        Median ``cost_usd`` of a generation event before/after the switch under the planted
        model mix and token distributions (computed numerically, not from the sample).
    incident_start, incident_end, incident_team, incident_model : Timestamp, Timestamp, str, str
        During ``[incident_start, incident_end)`` (2-3 weekdays in the last third) generation
        and error latency of ``incident_model`` in ``incident_team`` is multiplied by
        ``incident_latency_multiplier`` and its error rate is ``incident_error_rate``.
    incident_latency_multiplier, incident_error_rate : float
    satisfaction_intercept, satisfaction_latency_slope, satisfaction_error_effect,
    satisfaction_noise_sd : float
        ``satisfaction = intercept + slope * L + error_effect * n_errors + N(0, sd)``, rounded
        to 0.5 and clipped to 1-5, where ``L`` is the mean latency (seconds) of the session's
        generation events (0 without any) and ``n_errors`` its error events.
    churn_coefficients : dict
        Weekly churn hazard ``sigmoid(intercept + mean_latency_s * (L - 2.5) + error_share * E
        + dissatisfaction * (4 - S))`` for users with at least one session, evaluated at the end
        of every week but the last, where ``L`` is the user's mean generation latency so far
        (s), ``E`` the share of their generation attempts that were errors, and ``S`` their
        mean satisfaction shrunk towards 4 by one pseudo-observation. Churned users never return.
    users : DataFrame
        One row per user: ``user_id, team, join_date, churned, churn_date, activity_level,
        main_feature``. ``churn_date`` is the date of the user's last event if churned, else
        NaT; users of the first cohort joined before the window.
    total_manual_minutes_accepted : float
        Sum of ``manual_minutes`` (on ``accept``/``export`` events).
    total_llm_cost_usd : float
        Sum of ``cost_usd`` over ``generation`` events.
    avoided_llm_cost_usd : float
        For each cache hit, the cost of the generation it replaced: the session's model
        priced on token counts drawn from the same distributions as real generations.
    n_cache_hits : int
        ``cache_query`` events with ``cache_hit=True``.
    malformed_share, malformed_by_reason : float, dict
        Requested share and the number of extra malformed rows per quarantine reason
        (all reasons of ``schema.REASONS``; zeros when ``malformed_share == 0``).
    """

    seed: int
    start: pd.Timestamp
    end: pd.Timestamp
    days: int
    n_events_target: int
    n_events: int
    n_sessions: int
    n_users: int
    teams: tuple[str, ...]
    team_weights: dict[str, float]
    features: tuple[str, ...]
    feature_weights: dict[str, float]
    main_feature_share: float
    models: tuple[str, ...]
    weekly_growth_rate: float
    weekday_factors: tuple[float, ...]
    hour_profile: tuple[float, ...]
    holiday_dates: tuple[pd.Timestamp, ...]
    holiday_factor: float
    funnel_steps: tuple[tuple[str, tuple[str, ...]], ...]
    step_continue_prob: tuple[tuple[str, str, float], ...]
    funnel_step_conversion: tuple[tuple[str, str, float], ...]
    cache_query_share: float
    rework_prob: dict[str, float]
    max_rework_loops: int
    error_retry_prob: float
    max_generation_attempts: int
    test_success_prob: float
    accept_share: float
    deploy_success_prob: float
    feedback_share: float
    cache_hit_rate_by_feature: dict[str, float]
    manual_minutes_by_feature: dict[str, float]
    latency_median_ms_by_model: dict[str, float]
    latency_sigma_by_model: dict[str, float]
    user_latency_sigma: float
    error_latency_factor: float
    price_per_1k_in: dict[str, float]
    price_per_1k_out: dict[str, float]
    tokens_in_median: float
    tokens_in_sigma: float
    tokens_out_median: float
    tokens_out_sigma: float
    infra_cost_usd: dict[str, float]
    error_rate_by_model: dict[str, float]
    default_model_before: str
    default_model_after: str
    default_model_share: float
    model_switch_date: pd.Timestamp
    cost_per_generation_before: float
    cost_per_generation_after: float
    incident_start: pd.Timestamp
    incident_end: pd.Timestamp
    incident_team: str
    incident_model: str
    incident_latency_multiplier: float
    incident_error_rate: float
    satisfaction_intercept: float
    satisfaction_latency_slope: float
    satisfaction_error_effect: float
    satisfaction_noise_sd: float
    churn_coefficients: dict[str, float]
    users: pd.DataFrame
    total_manual_minutes_accepted: float
    total_llm_cost_usd: float
    avoided_llm_cost_usd: float
    n_cache_hits: int
    malformed_share: float
    malformed_by_reason: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return the truth as a JSON-serialisable dict (dates as ISO strings, ``users`` as records).

        Returns
        -------
        dict
            One key per field; tuples become lists, Timestamps ISO strings (``"2025-06-30"``
            for midnights), missing dates ``None``.

        Examples
        --------
        >>> from analytics_lib.data.synthetic.events import synthetic_events
        >>> import json
        >>> truth = synthetic_events(20_000, end="2025-06-30", seed=0).truth
        >>> json.loads(json.dumps(truth.to_dict()))["end"]
        '2025-06-30'
        """
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, eq=False)
class SampleData:
    """The generated events and the ground truth behind them.

    Attributes
    ----------
    events : DataFrame
        The event log (see :func:`synthetic_events` for its columns and types).
    truth : GroundTruth
        What was planted.
    """

    events: pd.DataFrame
    truth: GroundTruth


def _jsonable(value: Any) -> Any:
    """Convert a truth value into plain JSON types."""
    if isinstance(value, pd.DataFrame):
        return [{k: _jsonable(v) for k, v in row.items()} for row in value.to_dict(orient="records")]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _padded(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded decimal numbers, built digit by digit (fast for millions)."""
    n = len(numbers)
    buf = np.empty((n, len(prefix) + width), dtype=np.uint8)
    buf[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rest = numbers.astype(np.int64)
    for i in range(width - 1, -1, -1):
        buf[:, len(prefix) + i] = 48 + rest % 10
        rest //= 10
    return buf.view(f"S{len(prefix) + width}").ravel().astype(f"U{len(prefix) + width}")
