"""Return on investment of the assistant: measured value and spend, cash flows, payback, NPV and
IRR, sensitivity, Monte Carlo uncertainty and scenarios.

The chain (each step's output is the next step's input)::

    inputs = roi_inputs(events, months=48)                       # measured drivers + usage forecast
    result = roi_result(inputs, Assumptions(hourly_rate=110))    # cash flows, ROI, payback, NPV, IRR
    tornado_table(inputs, assumptions); break_even_table(inputs, assumptions)
    roi_simulation(inputs, assumptions, n=10_000, seed=0)        # P10/P50/P90, P(ROI > 0)
    scenario_table(inputs, DEFAULT_SCENARIOS, base=assumptions)

Definitions (``docs/roi.md`` has them with every assumption's rationale):

- **time saved** = manual minutes the accepted work replaced (``manual_minutes``, summed over
  all events) minus the time actually spent in sessions (each session's last minus first
  event time, every session counted, also those that were abandoned). Valued:
  ``hourly_rate * (realisation_rate * manual_minutes - session_minutes) / 60``; the
  realisation rate applies to the estimated manual effort only.
- **cache savings** = cache hits (``cache_hit`` true) times the price of the generation a hit
  avoided: by default the mean ``cost_usd`` of ``generation`` events in the same calendar month.
- **spend** = ``cost_usd`` of LLM requests (``generation``, ``error``: the LLM spend) plus that of
  all other events (metered infrastructure such as search and cache lookups).
- **benefits** = value of time saved + cache savings; **costs** = LLM spend + metered spend +
  licences (seats x price) + fixed infrastructure + the one-off cost at month 0.
- **ROI %** = 100 * (benefits - costs) / costs over the horizon, undiscounted. **NPV**
  discounts month *m* by ``(1 + discount_rate) ** (m / 12)``; flows fall at the end of each
  month, the one-off cost at month 0. **IRR** is the annualised monthly IRR. **Payback** is
  the first time the cumulative net cash flow reaches zero, interpolated within the month.

Months are appraisal months: month 1 starts on the first day with data (go-live) and each
month is a calendar month long from there (``start + k months``). Months after the data are
projected from a forecast of daily sessions (:class:`~analytics_lib.forecast.Forecaster`, ETS)
times the recent value and spend per session.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import schema as S
from .errors import WorkbenchError
from .params import (_check_output_dir, _check_source, _check_team, check_granularity, time_window,
                     TimeWindow)
from .redaction import redact
from .workflow import ACCEPT_TYPES, period_start, session_table

__all__ = [
    "ASSUMPTIONS", "AssumptionSpec", "Assumptions", "DEFAULT_SCENARIOS", "Payback", "RoiInputs", "RoiParams",
    "RoiResult", "RoiSimulation", "break_even_table", "executive_summary", "internal_rate_of_return",
    "net_present_value", "payback_period", "roi_inputs", "roi_measures", "roi_parameters", "roi_result",
    "roi_simulation", "scenario_table", "tornado_table",
]

#: Event types whose ``cost_usd`` is LLM spend (every other event's cost is metered infrastructure).
LLM_TYPES = ("generation", "error")
_DAY_US = 86_400 * 1_000_000
_Z80 = 1.2815515655446004  # scipy.stats.norm.ppf(0.9): half-width of an 80 % normal interval in standard deviations
_MAX_MONTHS = 120
_CHUNK = 25_000  # Monte Carlo draws evaluated at once (bounds memory; still fully vectorized)


# ============================================================================================
# Assumptions
@dataclass(frozen=True)
class AssumptionSpec:
    """How one assumption is measured, checked and varied.

    Attributes
    ----------
    unit : str
        The unit of the value.
    default : float, int or None
        The default; ``None`` means "measured from the data".
    meaning : str
        One line: what the number is.
    rationale : str
        Why the default and the range are what they are.
    minimum, maximum : float
        Allowed values (inclusive unless ``open_max``); checked by :class:`Assumptions`.
    integer : bool
        The value must be a whole number.
    low, high : float
        The stated range used by the tornado (one-at-a-time swings) and, when
        ``uncertain``, by the Monte Carlo triangular distribution (mode: the value).
    relative : bool
        ``low``/``high`` are factors of the value (or of the measured figure when the
        value is ``None``) rather than values.
    uncertain : bool
        Drawn in the Monte Carlo; otherwise held at its value (a decision or a contract, not
        an estimate).
    open_max : bool
        ``maximum`` itself is not allowed.
    """

    unit: str
    default: float | int | None
    meaning: str
    rationale: str
    minimum: float
    maximum: float
    integer: bool
    low: float
    high: float
    relative: bool
    uncertain: bool
    open_max: bool = False

    def range_text(self) -> str:
        """The stated range in words, e.g. ``"x0.7 to x1.5 of the value"`` or ``"0.4 to 1"``."""
        if self.relative:
            return f"x{self.low:g} to x{self.high:g} of the value"
        return f"{self.low:g} to {self.high:g}"


#: Every assumption: unit, default, rationale, validation, tornado range and Monte Carlo treatment.
ASSUMPTIONS: dict[str, AssumptionSpec] = {
    "hourly_rate": AssumptionSpec(
        "USD per hour", 100.0, "loaded cost of one developer hour",
        "Salary, benefits, payroll taxes, equipment and office of one developer (about USD 150k-200k a "
        "year) over about 1,700 productive hours. Use your finance team's figure.",
        0.0, math.inf, False, 0.7, 1.5, True, True, open_max=True),
    "realisation_rate": AssumptionSpec(
        "share (0-1)", 0.7, "share of the recorded manual effort (manual_minutes) that is really saved",
        "manual_minutes are estimates of the effort an accepted change replaced; estimates are optimistic "
        "and part of the time goes into review and rework outside the assistant. Controlled trials report "
        "large speed-ups on well-defined tasks, field studies smaller ones: 0.7 sits between, 0.4-1.0 spans them.",
        0.0, 1.0, False, 0.4, 1.0, False, True),
    "seats": AssumptionSpec(
        "seats", None, "paid seats per month (None: the users active in each month)",
        "None lets licences follow usage: the distinct active users of each month, and after the data the "
        "recent users per session times the forecast sessions. Give the number of seats bought when "
        "licences are paid in advance.",
        0.0, math.inf, True, 0.8, 1.2, True, False),
    "licence_per_seat": AssumptionSpec(
        "USD per seat per month", 20.0, "licence price per seat and month",
        "Business tiers of commercial AI coding assistants list at USD 19-39 per user and month; for an "
        "internal platform use the platform team's charge-back rate. A contract price, so not drawn.",
        0.0, math.inf, False, 0.5, 2.0, True, False),
    "infra_per_month": AssumptionSpec(
        "USD per month", 2_000.0, "fixed platform running cost not in the event log",
        "Hosting of the gateway and cache, vector store, monitoring and a share of on-call. Per-event "
        "metered costs are in the data (cost_usd) and counted separately.",
        0.0, math.inf, False, 0.5, 2.0, True, True),
    "one_off_cost": AssumptionSpec(
        "USD (at month 0)", 50_000.0, "implementation cost before go-live",
        "Integration, security and legal review, rollout and training: about two engineers for two months "
        "plus training time. Charged once at month 0 (not discounted); overruns are common, hence the "
        "range up to x2.",
        0.0, math.inf, False, 0.5, 2.0, True, True),
    "llm_spend_per_month": AssumptionSpec(
        "USD per month", None, "LLM spend per month (None: from the data)",
        "None takes the cost_usd of generation and error events for the days with data, and the recent "
        "LLM spend per session times the forecast sessions after. Give a figure (e.g. a committed "
        "provider contract) to replace it in every month. Prices and model mix change, hence drawn.",
        0.0, math.inf, False, 0.5, 2.0, True, True),
    "avoided_cost_per_hit": AssumptionSpec(
        "USD per cache hit", None, "LLM cost a cache hit avoids (None: the data's prices)",
        "A cache hit answers without a generation, so it saves a generation's cost. None uses the data's "
        "own price: the mean cost_usd of generation events in the same calendar month (prices move with "
        "the model mix).",
        0.0, math.inf, False, 0.5, 1.5, True, True),
    "discount_rate": AssumptionSpec(
        "per year", 0.10, "annual discount rate for the NPV",
        "The company's hurdle rate or cost of capital; 8-12 % is common. A policy figure, so not drawn. "
        "Month m is discounted by (1 + rate) ** (m / 12).",
        0.0, 1.0, False, 0.05, 0.15, False, False, open_max=True),
    "horizon_months": AssumptionSpec(
        "months", 36, "length of the appraisal from go-live",
        "Software investments are usually judged over three years; beyond that product, prices and teams "
        "change too much. A decision, so not drawn.",
        1, _MAX_MONTHS, True, 24, 48, False, False),
}
#: The usage forecast's row in the tornado and the Monte Carlo (not an attribute of :class:`Assumptions`).
USAGE = "usage"


def _check_value(name: str, value: Any) -> float | int | None:
    spec = ASSUMPTIONS[name]
    what = f"{name} ({spec.meaning}, {spec.unit})"
    if value is None:
        if spec.default is None:
            return None
        raise WorkbenchError(f"{name}=None is not allowed: give the {what}; the default is {spec.default!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise WorkbenchError(f"{name}={value!r} is not a number: give the {what}")
    v = float(value)
    if not math.isfinite(v):
        raise WorkbenchError(f"{name}={value!r} is not a finite number: give the {what}")
    positive = name == "hourly_rate"
    too_low = v <= 0 if positive else v < spec.minimum
    too_high = v >= spec.maximum if spec.open_max else v > spec.maximum
    if too_low or too_high:
        allowed = "above 0" if positive else f"at least {spec.minimum:g}"
        if math.isfinite(spec.maximum):
            allowed += f" and {'below' if spec.open_max else 'at most'} {spec.maximum:g}"
        why = "a negative value would give a meaningless ROI" if v < 0 else "fix the value"
        raise WorkbenchError(f"{name}={value!r} is out of range: the {spec.meaning} must be {allowed} "
                             f"({spec.unit}); {why}")
    if spec.integer:
        if v != int(v):
            raise WorkbenchError(f"{name}={value!r} must be a whole number ({spec.unit})")
        return int(v)
    return v


@dataclass(frozen=True)
class Assumptions:
    """The economic assumptions of the appraisal, each with a unit, a default and a rationale.

    Every value is checked on creation: a bad one raises :class:`WorkbenchError` naming it,
    its unit and the allowed range. ``ASSUMPTIONS[name]`` holds the unit, the rationale, the
    stated sensitivity range and whether the Monte Carlo draws it; :meth:`table` shows them.

    Attributes
    ----------
    hourly_rate : float
        Loaded cost of one developer hour, USD per hour (default 100).
    realisation_rate : float
        Share 0-1 of the recorded manual effort that is really saved (default 0.7).
    seats : int or None
        Paid seats per month; None: the active users of each month (default).
    licence_per_seat : float
        USD per seat per month (default 20).
    infra_per_month : float
        Fixed platform cost not in the event log, USD per month (default 2,000).
    one_off_cost : float
        Implementation cost at month 0, USD (default 50,000).
    llm_spend_per_month : float or None
        LLM spend, USD per month; None: from the data (default).
    avoided_cost_per_hit : float or None
        LLM cost avoided per cache hit, USD; None: the data's generation prices (default).
    discount_rate : float
        Annual discount rate, 0 <= rate < 1 (default 0.10).
    horizon_months : int
        Appraisal length in months, 1-120 (default 36).

    Examples
    --------
    >>> a = Assumptions(hourly_rate=120)
    >>> a.hourly_rate, a.replace(realisation_rate=0.5).realisation_rate
    (120.0, 0.5)
    >>> try:
    ...     Assumptions(hourly_rate=-5)
    ... except WorkbenchError as e:
    ...     print(e)
    hourly_rate=-5 is out of range: the loaded cost of one developer hour must be above 0 (USD per hour); a negative value would give a meaningless ROI
    """

    hourly_rate: float = 100.0
    realisation_rate: float = 0.7
    seats: int | None = None
    licence_per_seat: float = 20.0
    infra_per_month: float = 2_000.0
    one_off_cost: float = 50_000.0
    llm_spend_per_month: float | None = None
    avoided_cost_per_hit: float | None = None
    discount_rate: float = 0.10
    horizon_months: int = 36

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _check_value(f.name, getattr(self, f.name)))

    def replace(self, **changes: Any) -> "Assumptions":
        """A copy with some values changed (checked like the constructor).

        Examples
        --------
        >>> Assumptions().replace(horizon_months=24).horizon_months
        24
        """
        unknown = sorted(set(changes) - set(ASSUMPTIONS))
        if unknown:
            raise WorkbenchError(f"unknown assumption(s) {', '.join(unknown)}: use {', '.join(ASSUMPTIONS)}")
        return replace(self, **changes)

    def table(self) -> pd.DataFrame:
        """One row per assumption: ``assumption, value, unit, default, range, monte_carlo, meaning, rationale``.

        ``value`` and ``default`` are text (``"from data"`` for a measured assumption); ``range``
        is the stated sensitivity range; ``monte_carlo`` says how the simulation treats it.

        Examples
        --------
        >>> Assumptions().table()[["assumption", "value", "unit"]].head(2).values.tolist()
        [['hourly_rate', '100', 'USD per hour'], ['realisation_rate', '0.7', 'share (0-1)']]
        """
        rows = []
        for name, spec in ASSUMPTIONS.items():
            value = getattr(self, name)
            rows.append({
                "assumption": name, "value": "from data" if value is None else f"{value:,.6g}", "unit": spec.unit,
                "default": "from data" if spec.default is None else f"{spec.default:,.6g}", "range": spec.range_text(),
                "monte_carlo": "triangular over the range, mode at the value" if spec.uncertain else "held fixed",
                "meaning": spec.meaning, "rationale": spec.rationale})
        return pd.DataFrame(rows)


# ============================================================================================
# Measurement
def _micros(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)


def _floats(events: pd.DataFrame, col: str) -> np.ndarray:
    if col not in events.columns:
        return np.zeros(len(events))
    return pd.to_numeric(events[col], errors="raise").to_numpy(dtype="float64", na_value=np.nan)


def _whole(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_events(events: pd.DataFrame) -> None:
    if not isinstance(events, pd.DataFrame):
        raise WorkbenchError(f"events must be a DataFrame of validated events, got {type(events).__name__}")
    need = [S.TS, S.USER_ID, S.EVENT_TYPE, S.MANUAL_MINUTES, S.COST_USD]
    missing = [c for c in need if c not in events.columns]
    if missing:
        raise WorkbenchError(
            f"ROI needs the columns {', '.join(missing)}: manual_minutes (effort each event replaced) and "
            "cost_usd (direct cost) come from the event contract; map your columns onto them when loading")
    if events.empty:
        raise WorkbenchError("there are no events: the ROI needs at least one day of usage")
    if not isinstance(events[S.TS].dtype, pd.DatetimeTZDtype):
        raise WorkbenchError("events.ts must be timezone-aware UTC timestamps: load the events with load_events "
                             "or check them with validate_events first")
    for col in (S.MANUAL_MINUTES, S.COST_USD):
        try:
            v = _floats(events, col)
        except (ValueError, TypeError) as exc:
            raise WorkbenchError(f"events.{col} holds values that are not numbers: validate the events first "
                                 "(validate_events quarantines such rows)") from exc
        if (v < 0).any():
            raise WorkbenchError(f"events.{col} has {int((v < 0).sum())} negative values: validate the events "
                                 "first (validate_events quarantines such rows)")


@dataclass(frozen=True)
class _Prepared:
    """Event- and session-level arrays the measurements aggregate (built once per call)."""

    ev: pd.DataFrame     # day, team, feature, user (code), manual, llm, metered, hit, avoided, accept
    sess: pd.DataFrame   # day (of the session start), team, feature (of its first event with one), minutes
    first_day: int       # days since the epoch
    last_day: int


def _group_values(values: pd.Series | None, n: int) -> pd.Categorical:
    """A team/feature column as a categorical whose missing values are the group ``"(none)"``."""
    if values is None:
        return pd.Categorical(np.full(n, "(none)", dtype=object))
    cat = values.astype("category")
    if cat.isna().any():
        cat = cat.cat.add_categories(["(none)"]).fillna("(none)") if "(none)" not in cat.cat.categories \
            else cat.fillna("(none)")
    return pd.Categorical(cat.cat.remove_unused_categories())


def _prepare(events: pd.DataFrame, gap: str) -> _Prepared:
    _check_events(events)
    absent = [c for c in (S.SESSION_ID, S.TEAM, S.FEATURE, S.MODEL) if c not in events.columns]
    if absent:  # optional contract columns (a validated frame has them all): absent means unknown
        events = events.assign(**{c: pd.Series(pd.NA, index=events.index, dtype="str" if c == S.SESSION_ID
                                               else "category") for c in absent})
    ts = events[S.TS]
    day = _micros(ts) // _DAY_US
    et = events[S.EVENT_TYPE]
    is_llm = et.isin(LLM_TYPES).to_numpy()
    is_gen = et.isin(["generation"]).to_numpy()
    raw_cost = _floats(events, S.COST_USD)
    cost = np.nan_to_num(raw_cost)
    manual = np.nan_to_num(_floats(events, S.MANUAL_MINUTES))
    hit = (events[S.CACHE_HIT].to_numpy(dtype=bool, na_value=False) if S.CACHE_HIT in events.columns
           else np.zeros(len(events), dtype=bool))
    # the data's price of a generation: mean cost of generation events per calendar month (UTC)
    cal = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    priced = is_gen & ~np.isnan(raw_cost)
    price = pd.Series(cost[priced]).groupby(cal[priced]).mean()
    overall = float(cost[priced].mean()) if priced.any() else 0.0
    per_event_price = price.reindex(cal).fillna(overall).to_numpy()
    user_codes, user_names = pd.factorize(events[S.USER_ID].astype("str"))
    ev = pd.DataFrame({
        "day": day, "team": _group_values(events.get(S.TEAM), len(events)),
        "feature": _group_values(events.get(S.FEATURE), len(events)),
        "user": user_codes, "manual": manual, "llm": np.where(is_llm, cost, 0.0),
        "metered": np.where(is_llm, 0.0, cost), "hit": hit, "avoided": np.where(hit, per_event_price, 0.0),
        "accept": et.isin(ACCEPT_TYPES).to_numpy(),
    })
    st = session_table(events, gap=gap)
    sess = pd.DataFrame({
        "day": _micros(st["start"]) // _DAY_US,
        "team": _group_values(st[S.TEAM], len(st)), "feature": _group_values(st[S.FEATURE], len(st)),
        "minutes": st["duration_s"].to_numpy(dtype="float64") / 60.0,
    })
    for col in ("team", "feature"):  # one category list for events and sessions, so their groups line up
        cats = sorted(set(ev[col].cat.categories) | set(sess[col].cat.categories))
        ev[col] = ev[col].cat.set_categories(cats)
        sess[col] = sess[col].cat.set_categories(cats)
    return _Prepared(ev, sess, int(day.min()), int(day.max()))


_MEASURE_COLUMNS = ["sessions", "active_users", "accepted", "manual_minutes", "session_minutes", "time_saved_minutes",
                    "cache_hits", "avoided_llm_usd", "llm_usd", "metered_usd", "spend_usd"]


def _aggregate(p: _Prepared, ev_keys: list, sess_keys: list, names: list[str]) -> pd.DataFrame:
    """Sum the measures over keys (arrays aligned with ``p.ev`` and ``p.sess``); the key combinations seen."""
    e = pd.DataFrame(dict(zip(names, ev_keys)))
    for c in ("manual", "llm", "metered", "hit", "avoided", "accept", "user"):
        e[c] = p.ev[c].to_numpy()
    g = e.groupby(names, sort=True, observed=True)
    out = g[["manual", "llm", "metered", "avoided", "hit", "accept"]].sum()
    out["active_users"] = g["user"].nunique()
    s = pd.DataFrame(dict(zip(names, sess_keys)))
    s["minutes"] = p.sess["minutes"].to_numpy()
    sg = s.groupby(names, sort=True, observed=True)["minutes"].agg(["size", "sum"])
    out = out.join(sg, how="outer").fillna(0.0)
    res = pd.DataFrame({
        "sessions": out["size"].astype("int64"), "active_users": out["active_users"].astype("int64"),
        "accepted": out["accept"].astype("int64"), "manual_minutes": out["manual"],
        "session_minutes": out["sum"], "time_saved_minutes": out["manual"] - out["sum"],
        "cache_hits": out["hit"].astype("int64"), "avoided_llm_usd": out["avoided"],
        "llm_usd": out["llm"], "metered_usd": out["metered"], "spend_usd": out["llm"] + out["metered"],
    }, index=out.index)
    return res.reset_index()


def roi_measures(events: pd.DataFrame, *, by: str | None = None, granularity: str | None = "M",
                 gap: str = "30min") -> pd.DataFrame:
    """What the assistant measurably saved and cost, per period and optionally per team or feature.

    Definitions: ``manual_minutes`` sums the events' ``manual_minutes`` (effort the accepted
    work replaced; set on ``accept``/``export`` events); ``session_minutes`` sums session
    durations (last minus first event, all sessions, by the session's start and its first
    team/feature, see :func:`~analytics_lib.session_table`); ``time_saved_minutes`` is their
    difference. ``cache_hits`` counts events with ``cache_hit`` true; ``avoided_llm_usd``
    prices each hit at the mean ``cost_usd`` of ``generation`` events in its calendar month.
    ``llm_usd`` is the ``cost_usd`` of ``generation`` and ``error`` events, ``metered_usd``
    that of all other events, ``spend_usd`` their sum. ``accepted`` counts ``accept`` and
    ``export`` events. Missing team or feature values form the group ``"(none)"``.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``); ``manual_minutes`` and ``cost_usd`` are required.
    by : {"team", "feature"}, optional
        Split by this column.
    granularity : {"D", "W", "M"} or None
        UTC periods (``W`` starts on Monday, ``M`` is the calendar month); None gives one row
        (per group) for the whole window.
    gap : str
        Inactivity that ends a derived session (when ``session_id`` is absent).

    Returns
    -------
    DataFrame
        ``[period], [by], sessions, active_users, accepted, manual_minutes, session_minutes,
        time_saved_minutes, cache_hits, avoided_llm_usd, llm_usd, metered_usd, spend_usd``;
        only periods and groups that have events or sessions.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> data = synthetic_events(3_000, days=28, end="2025-06-30", seed=0)
    >>> m = roi_measures(data.events, granularity=None)
    >>> bool(abs(m["manual_minutes"].iloc[0] - data.truth.total_manual_minutes_accepted) < 1e-6)
    True
    """
    if by not in (None, S.TEAM, S.FEATURE):
        raise WorkbenchError(f"by={by!r} is not supported: use None, 'team' or 'feature'")
    p = _prepare(events, gap)
    ev_keys, sess_keys, names = [], [], []
    if granularity is not None:
        g = check_granularity(granularity)
        ev_keys.append(_period_codes(p.ev["day"].to_numpy(), g))
        sess_keys.append(_period_codes(p.sess["day"].to_numpy(), g))
        names.append("period")
    if by is not None:
        ev_keys.append(p.ev[by].array)
        sess_keys.append(p.sess[by].array)
        names.append(by)
    if not names:
        ev_keys, sess_keys = [np.zeros(len(p.ev), dtype=np.int8)], [np.zeros(len(p.sess), dtype=np.int8)]
        names = ["_all"]
    out = _aggregate(p, ev_keys, sess_keys, names)
    if "_all" in out.columns:
        out = out.drop(columns="_all")
    if by is not None:
        out[by] = out[by].astype("str")
    return out


def _period_codes(day: np.ndarray, granularity: str) -> pd.DatetimeIndex:
    ts = pd.Series(pd.to_datetime(day * _DAY_US, unit="us", utc=True))
    return pd.DatetimeIndex(period_start(ts, granularity))


# ============================================================================================
# Inputs: measured drivers per day, projected per appraisal month
DRIVERS = ("sessions", "manual_minutes", "session_minutes", "cache_hits", "avoided_llm_usd", "llm_usd", "metered_usd",
           "seats")


@dataclass(frozen=True)
class RoiInputs:
    """Measured drivers and their projection over the appraisal months; the input of every ROI result.

    Attributes
    ----------
    start : Timestamp
        Go-live: the first day with data (UTC midnight); month 1 starts here.
    observed_end : Timestamp
        End of the observation (exclusive, UTC midnight).
    months : int
        Appraisal months covered (the largest horizon these inputs can value).
    projection : str
        ``"forecast"`` (ETS forecast of daily sessions with 80 % intervals) or ``"flat"``
        (the base period's mean sessions per day, no usage uncertainty).
    daily : DataFrame
        One row per observed day: ``day, sessions, active_users, accepted, manual_minutes,
        session_minutes, time_saved_minutes, cache_hits, avoided_llm_usd, llm_usd, metered_usd,
        spend_usd`` (days without events are zeros).
    monthly : DataFrame
        One row per appraisal month: ``month`` (1..months), ``start``, ``end``, ``days``,
        ``actual_days``, ``forecast_days``, ``kind`` (actual / mixed / forecast), and for each
        driver in ``DRIVERS`` an ``<driver>_actual`` part (observed days) and an
        ``<driver>_forecast`` part (projected days at the mean forecast), plus
        ``sessions_forecast_sd`` (standard deviation of the month's forecast sessions: the
        day-level standard deviations from the 80 % interval, added up, i.e. days of a month
        move together). ``seats_actual`` counts the month's distinct active users.
    units : Series
        Per-session values of the base period that the projection uses (``manual_minutes``,
        ``session_minutes``, ``cache_hits``, ``avoided_llm_usd``, ``llm_usd``, ``metered_usd``
        per session; ``users_per_daily_session``), with ``base_days`` and ``base_sessions``.
    by_team, by_feature : DataFrame
        The measures over the observed window per group (``group`` plus the columns of
        :func:`roi_measures`), with ``seat_months`` (team: the group's active users per
        appraisal month times the observed share of the month; feature: the total split by
        sessions) and ``allocation_share`` (team: share of seat-months; feature: share of
        sessions), which splits licences, fixed infrastructure and the one-off cost.
    by_month : DataFrame
        The measures per calendar month (UTC), as ``roi_measures(events, granularity="M")``.
    observed_months : float
        Observed appraisal months (whole months count 1, the last partial month its share).
    forecast : DataFrame or None
        The daily forecast (``unique_id, ds, ets, ets-lo-80, ets-hi-80``) or None.
    notes : tuple of str
        Caveats found in the data, in sentences.
    """

    start: pd.Timestamp
    observed_end: pd.Timestamp
    months: int
    projection: str
    daily: pd.DataFrame
    monthly: pd.DataFrame
    units: pd.Series
    by_team: pd.DataFrame
    by_feature: pd.DataFrame
    by_month: pd.DataFrame
    observed_months: float
    forecast: pd.DataFrame | None
    notes: tuple[str, ...]

    @property
    def forecast_months(self) -> int:
        """Appraisal months with at least one projected day."""
        return int((self.monthly["forecast_days"] > 0).sum())


def roi_inputs(events: pd.DataFrame, *, months: int = 60, projection: str = "forecast", base_days: int = 28,
               gap: str = "30min", end: str | pd.Timestamp | None = None) -> RoiInputs:
    """Measure the value drivers from events and project them over ``months`` appraisal months.

    Observed days run from the first event's UTC day to ``end`` (default: the day after the last
    event). Each appraisal month's observed days use the measured totals; later days are
    projected: daily sessions from an ETS forecast
    (``Forecaster(models=["ets"], freq="D").predict(h, level=[80])``, negative means clipped to
    0) or, with ``projection="flat"``, the base period's mean; every other driver as sessions
    times its per-session value over the last ``base_days`` observed days (recent prices,
    model mix and habits). Seats after the data: ``sessions * users_per_daily_session / days``
    (the base period's active users per daily session, i.e. users grow with usage).

    Parameters
    ----------
    events : DataFrame
        Validated events with ``manual_minutes`` and ``cost_usd``.
    months : int
        Appraisal months to cover, 1-120: at least the largest horizon to value (the tornado
        swings the horizon up to 48 months, capped at ``months``).
    projection : {"forecast", "flat"}
    base_days : int
        Length of the recent window for per-session values (>= 7).
    gap : str
        Inactivity that ends a derived session.
    end : str or Timestamp, optional
        End of the observation (exclusive); days up to it without events count as zero usage.

    Returns
    -------
    RoiInputs

    Raises
    ------
    WorkbenchError
        For missing columns, no events, events after ``end``, or a history too short to forecast
        (fewer than 14 days: use ``projection="flat"``).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=12,
    ...                     projection="flat")
    >>> inputs.monthly["kind"].tolist()[:3], len(inputs.monthly)
    (['mixed', 'forecast', 'forecast'], 12)
    """
    if not _whole(months) or not 1 <= months <= _MAX_MONTHS:
        raise WorkbenchError(f"months={months!r} must be a whole number of appraisal months from 1 to {_MAX_MONTHS}")
    if projection not in ("forecast", "flat"):
        raise WorkbenchError(f"projection={projection!r} is not supported: use 'forecast' or 'flat'")
    if not _whole(base_days) or base_days < 7:
        raise WorkbenchError(f"base_days={base_days!r} must be a whole number of days, at least 7")
    p = _prepare(events, gap)
    first = p.first_day
    if end is None:
        stop = p.last_day + 1
    else:
        e = pd.Timestamp(end)
        e = e.tz_localize("UTC") if e.tzinfo is None else e.tz_convert("UTC")
        stop = int(math.ceil(e.value / 1000 / _DAY_US))  # a partial day counts as observed
        if stop <= p.last_day:
            raise WorkbenchError(f"end={end!r} is before the last event ({_day_ts(p.last_day).date()}): events after "
                                 "the end of the observation would be ignored; give a later end or filter the events")
    n_obs = stop - first
    start = _day_ts(first)
    notes: list[str] = []

    # --- daily measures over the observed days ---------------------------------------------
    days = np.arange(first, stop)
    daily = _aggregate(p, [p.ev["day"].to_numpy()], [p.sess["day"].to_numpy()], ["d"]).set_index("d")
    daily = daily.reindex(days, fill_value=0)
    daily.insert(0, "day", pd.to_datetime(days * _DAY_US, unit="us", utc=True))
    daily = daily.reset_index(drop=True)

    # --- appraisal months (bounds also cover observed days beyond the horizon) ---------------
    n_bounds = months
    while (start + pd.DateOffset(months=n_bounds)).value // 1000 // _DAY_US < stop:
        n_bounds += 1
    bounds = pd.DatetimeIndex([start + pd.DateOffset(months=k) for k in range(n_bounds + 1)]).as_unit("us")
    bound_days = bounds.asi8 // _DAY_US
    month_len_all = np.diff(bound_days)
    actual_all = np.clip(np.minimum(bound_days[1:], stop) - bound_days[:-1], 0, None)
    month_len, actual_days = month_len_all[:months], actual_all[:months]
    forecast_days = month_len - actual_days
    month_of_day = np.searchsorted(bound_days, days, side="right") - 1
    in_horizon = month_of_day < months
    if not in_horizon.all():
        notes.append(f"{int((~in_horizon).sum())} observed days lie beyond the {months} appraisal months and are "
                     "left out of the cash flows (they still count in the team and feature tables)")
    mo = pd.DataFrame({"month": np.arange(1, months + 1), "start": bounds[:months], "end": bounds[1:months + 1],
                       "days": month_len, "actual_days": actual_days, "forecast_days": forecast_days})
    mo["kind"] = np.where(forecast_days == 0, "actual", np.where(actual_days == 0, "forecast", "mixed"))
    sums = daily.iloc[np.flatnonzero(in_horizon)].groupby(month_of_day[in_horizon])
    for d in DRIVERS[:-1]:
        mo[f"{d}_actual"] = sums[d].sum().reindex(range(months), fill_value=0).to_numpy(dtype="float64")
    ev_month = np.searchsorted(bound_days, p.ev["day"].to_numpy(), side="right") - 1
    seats = pd.Series(p.ev["user"].to_numpy()).groupby(ev_month).nunique()
    mo["seats_actual"] = seats.reindex(range(months), fill_value=0).to_numpy(dtype="float64")

    # --- per-session values of the base period ---------------------------------------------
    b0 = max(first, stop - base_days)
    base = daily.iloc[b0 - first:]
    base_sessions = float(base["sessions"].sum())
    base_users = int(p.ev.loc[p.ev["day"].to_numpy() >= b0, "user"].nunique())
    per = {d: (float(base[d].sum()) / base_sessions if base_sessions else 0.0) for d in DRIVERS[1:-1]}
    users_per_daily_session = base_users * (stop - b0) / base_sessions if base_sessions else 0.0
    units = pd.Series({**per, "users_per_daily_session": users_per_daily_session, "base_days": float(stop - b0),
                       "base_sessions": base_sessions}, name="per_session")
    if base_sessions == 0:
        notes.append(f"the last {stop - b0} observed days have no sessions: projected months carry no usage")
    if stop - b0 < base_days:
        notes.append(f"only {stop - b0} observed days: per-session values come from all of them")

    # --- projected daily sessions ----------------------------------------------------------
    horizon_end = int(bound_days[months])
    h = horizon_end - stop
    forecast = None
    if h > 0:
        if projection == "forecast":
            if n_obs < 14:
                raise WorkbenchError(f"only {n_obs} days of history: a forecast needs at least 14; "
                                     "use projection='flat' or a longer window")
            from .forecast import Forecaster

            series = pd.DataFrame({"unique_id": "sessions",
                                   "ds": pd.to_datetime(days * _DAY_US, unit="us"),
                                   "y": daily["sessions"].to_numpy(dtype="float64")})
            forecast = Forecaster(models=["ets"], freq="D").fit(series).predict(h=h, level=[80])
            mean = forecast["ets"].to_numpy(dtype="float64")
            sd = (forecast["ets-hi-80"] - forecast["ets-lo-80"]).to_numpy(dtype="float64") / (2 * _Z80)
            if (mean < 0).any():
                notes.append(f"the sessions forecast is negative on {int((mean < 0).sum())} days: counted as 0")
            mean = np.clip(mean, 0, None)
        else:
            mean = np.full(h, base_sessions / (stop - b0))
            sd = np.zeros(h)
        fdays = np.arange(stop, horizon_end)
        fmonth = np.searchsorted(bound_days, fdays, side="right") - 1
        f_sessions = np.bincount(fmonth, mean, minlength=months)
        f_sd = np.bincount(fmonth, sd, minlength=months)
    else:
        f_sessions = f_sd = np.zeros(months)
    mo["sessions_forecast"] = f_sessions
    mo["sessions_forecast_sd"] = f_sd
    for d in DRIVERS[1:-1]:
        mo[f"{d}_forecast"] = f_sessions * per[d]
    mo["seats_forecast"] = f_sessions * users_per_daily_session / month_len
    order = ["month", "start", "end", "days", "actual_days", "forecast_days", "kind"] + \
        [f"{d}_{k}" for d in DRIVERS for k in ("actual", "forecast")] + ["sessions_forecast_sd"]
    mo = mo[order]

    # --- where the value comes from (observed window) --------------------------------------
    frac = actual_all / month_len_all
    observed_months = float(frac.sum())
    team_users = pd.DataFrame({"m": ev_month, "team": p.ev["team"].to_numpy(), "u": p.ev["user"].to_numpy()}) \
        .groupby(["team", "m"], sort=True, observed=True)["u"].nunique()
    team_seat_months = (team_users * frac[team_users.index.get_level_values("m")]).groupby(level="team",
                                                                                          observed=True).sum()
    by_team = _group_table(p, "team")
    by_team["seat_months"] = team_seat_months.reindex(by_team["group"]).fillna(0.0).to_numpy()
    by_team["allocation_share"] = _share(by_team["seat_months"])
    by_feature = _group_table(p, "feature")
    by_feature["allocation_share"] = _share(by_feature["sessions"].astype("float64"))
    by_feature["seat_months"] = float(by_team["seat_months"].sum()) * by_feature["allocation_share"]
    by_month = _aggregate(p, [_period_codes(p.ev["day"].to_numpy(), "M")],
                          [_period_codes(p.sess["day"].to_numpy(), "M")], ["period"])
    return RoiInputs(start=start, observed_end=_day_ts(stop), months=months, projection=projection, daily=daily,
                     monthly=mo, units=units, by_team=by_team, by_feature=by_feature, by_month=by_month,
                     observed_months=observed_months, forecast=forecast, notes=tuple(notes))


def _share(x: pd.Series) -> pd.Series:
    total = float(x.sum())
    return x / total if total > 0 else pd.Series(1.0 / len(x), index=x.index) if len(x) else x


def _group_table(p: _Prepared, col: str) -> pd.DataFrame:
    out = _aggregate(p, [p.ev[col]], [p.sess[col]], ["group"])
    out["group"] = out["group"].astype("str")
    return out


def _day_ts(day: int) -> pd.Timestamp:
    return pd.Timestamp(int(day) * _DAY_US, unit="us", tz="UTC")


# ============================================================================================
# Financial helpers
@dataclass(frozen=True)
class Payback:
    """When the cumulative net cash flow first reaches zero.

    Attributes
    ----------
    months : float or None
        Months from month 0 (interpolated within the month, flows spread evenly); None when
        it does not pay back within the flows given.
    reason : str
        How it was found, or why there is no payback, in a sentence.
    """

    months: float | None
    reason: str


def payback_period(cashflows: Sequence[float]) -> Payback:
    """Payback of monthly net cash flows ``[month 0, month 1, ...]``.

    The cumulative sum is followed from month 0; payback is the first month *k* in which it
    turns from negative to >= 0, at ``k - 1 + (-cumulative[k-1]) / cashflows[k]``. Without an
    initial outlay and a first month that is not negative, payback is 0.

    Examples
    --------
    >>> payback_period([-1000, 300, 300, 300, 300]).months
    3.3333333333333335
    >>> print(payback_period([-1000, 100, 100]).reason)
    cumulative net cash flow is still -800 after 2 months; at the last month's net of +100 it would take about 8.0 more months
    """
    v = _flows(cashflows)
    cum = np.cumsum(v)
    if cum[0] >= 0 and (len(v) == 1 or v[1] >= 0):
        return Payback(0.0, "no upfront outlay and the first month is not negative: nothing to pay back")
    ok = (cum[1:] >= 0) & (cum[:-1] < 0)
    if ok.any():
        k = int(np.argmax(ok)) + 1
        months = (k - 1) + (-cum[k - 1]) / v[k]
        return Payback(float(months), f"cumulative net cash flow turns positive in month {k}")
    last = v[-1]
    tail = (f"at the last month's net of {last:+,.0f} it would take about {-cum[-1] / last:,.1f} more months"
            if last > 0 else f"the last month's net is {last:+,.0f}, so it does not pay back at this rate")
    return Payback(None, f"cumulative net cash flow is still {cum[-1]:,.0f} after {len(v) - 1} months; {tail}")


def _flows(cashflows: Sequence[float]) -> np.ndarray:
    v = np.asarray(cashflows, dtype="float64")
    if v.ndim != 1 or len(v) < 1 or not np.isfinite(v).all():
        raise WorkbenchError("cash flows must be a non-empty 1-D sequence of finite numbers (month 0 first)")
    return v


def net_present_value(cashflows: Sequence[float], *, annual_rate: float) -> float:
    """NPV of monthly cash flows ``[month 0, month 1, ...]``: month *m* is divided by ``(1 + annual_rate) ** (m / 12)``.

    Equals ``numpy_financial.npv((1 + annual_rate) ** (1 / 12) - 1, cashflows)``.

    Examples
    --------
    >>> round(net_present_value([-1000, 600, 600], annual_rate=0.0), 6)
    200.0
    """
    v = _flows(cashflows)
    r = _check_value("discount_rate", annual_rate)
    return float(np.sum(v * (1.0 + r) ** (-np.arange(len(v)) / 12.0)))


def _irr_monthly(v: np.ndarray) -> tuple[float | None, str]:
    from scipy import optimize

    if not ((v > 0).any() and (v < 0).any()):
        return None, "the net cash flows never change sign, so there is no IRR"
    # NPV as a polynomial in x = 1 / (1 + r); scan r from -99 % to +10,000 % a month for sign changes
    r = np.expm1(np.linspace(np.log(0.01), np.log(101.0), 6001))
    x = 1.0 / (1.0 + r)
    coeffs = v[::-1]
    f = np.polyval(coeffs, x)
    sign = np.sign(f)
    idx = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    roots = [float(r[i]) for i in np.flatnonzero(f == 0)]
    for i in idx:
        roots.append(optimize.brentq(lambda rr: float(np.polyval(coeffs, 1.0 / (1.0 + rr))), r[i], r[i + 1],
                                     xtol=1e-14, rtol=1e-12))
    if not roots:
        return None, "no rate between -99 % and +10,000 % a month makes the NPV zero"
    best = min(roots, key=abs)  # as numpy-financial: the root closest to zero
    note = "" if len(roots) == 1 else f" ({len(roots)} rates make the NPV zero: the one closest to 0 is shown)"
    return best, f"the monthly rate that makes the NPV zero, compounded over 12 months{note}"


def internal_rate_of_return(cashflows: Sequence[float]) -> float | None:
    """Annualised IRR of monthly cash flows ``[month 0, month 1, ...]``, or None when there is none.

    The monthly rate *r* solves ``sum(v[m] / (1 + r) ** m) = 0`` (as ``numpy_financial.irr``,
    taking the root closest to 0 when there are several); the result is ``(1 + r) ** 12 - 1``.

    Examples
    --------
    >>> round(internal_rate_of_return([-1000] + [100] * 12), 4)
    0.413
    >>> internal_rate_of_return([100, 100]) is None
    True
    """
    r, _ = _irr_monthly(_flows(cashflows))
    return None if r is None else float((1.0 + r) ** 12 - 1.0)


# ============================================================================================
# The vectorized engine: any number of assumption draws at once
@dataclass(frozen=True)
class _Arrays:
    """The projection as arrays of shape (1, months)."""

    a: dict[str, np.ndarray]   # <driver>_actual
    f: dict[str, np.ndarray]   # <driver>_forecast
    sd: np.ndarray             # sessions_forecast_sd


def _arrays(inputs: RoiInputs, months: int) -> _Arrays:
    if months > inputs.months:
        raise WorkbenchError(f"horizon of {months} months is longer than the {inputs.months} months the inputs cover: "
                             f"build them with roi_inputs(..., months={months}) or more")
    m = inputs.monthly.iloc[:months]
    get = lambda c: m[c].to_numpy(dtype="float64")[None, :]  # noqa: E731
    return _Arrays({d: get(f"{d}_actual") for d in DRIVERS}, {d: get(f"{d}_forecast") for d in DRIVERS},
                   get("sessions_forecast_sd"))


def _value(a: Assumptions, draws: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """The drawn values of an assumption as an (n, 1) column (factor for data-based relative ones)."""
    spec = ASSUMPTIONS[name]
    base = getattr(a, name)
    d = draws.get(name)
    if d is None:
        return np.asarray([[1.0 if base is None else float(base)]])
    d = np.asarray(d, dtype="float64").reshape(-1, 1)
    if spec.relative:
        return d * (1.0 if base is None else float(base))
    return d


@dataclass(frozen=True)
class _Flows:
    parts: dict[str, np.ndarray] | None  # per-month components (n, H) when kept
    benefits: np.ndarray
    costs: np.ndarray
    roi: np.ndarray
    npv: np.ndarray
    payback: np.ndarray                  # NaN: no payback within the horizon


def _evaluate(inputs: RoiInputs, a: Assumptions, draws: Mapping[str, np.ndarray], *, keep: bool = False) -> _Flows:
    """Cash flows for ``n`` draws; ``draws`` maps assumption names (and ``"usage"``, a standard
    normal quantile of the forecast) to arrays of length n; absent names take ``a``'s value."""
    n = max([len(np.atleast_1d(v)) for v in draws.values()] + [1])
    horizon = _value(a, draws, "horizon_months")
    H = int(horizon.max())
    arr = _arrays(inputs, H)
    k = np.arange(1, H + 1)[None, :]
    live = k <= horizon                                                     # (n, H)
    z = np.asarray(draws.get(USAGE, 0.0), dtype="float64").reshape(-1, 1)
    mean = arr.f["sessions"]
    safe = np.where(mean > 0, mean, 1.0)
    u = np.where(mean > 0, np.maximum(mean + z * arr.sd, 0.0) / safe, 1.0)  # usage factor of the forecast part

    def driver(d: str) -> np.ndarray:
        return arr.a[d] + arr.f[d] * u

    rate, real = _value(a, draws, "hourly_rate"), _value(a, draws, "realisation_rate")
    time_value = rate * (real * driver("manual_minutes") - driver("session_minutes")) / 60.0
    hits_factor = _value(a, draws, "avoided_cost_per_hit")
    cache = (driver("avoided_llm_usd") * hits_factor if a.avoided_cost_per_hit is None
             else driver("cache_hits") * hits_factor)
    llm_f = _value(a, draws, "llm_spend_per_month")
    llm = driver("llm_usd") * llm_f if a.llm_spend_per_month is None else np.broadcast_to(llm_f, (llm_f.shape[0], H))
    metered = driver("metered_usd")
    seats_f = _value(a, draws, "seats")
    seats = driver("seats") * seats_f if a.seats is None else np.broadcast_to(seats_f, (seats_f.shape[0], H))
    licence = seats * _value(a, draws, "licence_per_seat")
    infra = np.broadcast_to(_value(a, draws, "infra_per_month"), (n, H))
    one_off = np.broadcast_to(_value(a, draws, "one_off_cost"), (n, 1))[:, 0]
    shape = (n, H)
    parts = {"time_value_usd": time_value, "cache_savings_usd": cache, "llm_usd": llm, "metered_usd": metered,
             "licence_usd": licence, "infra_usd": infra}
    if keep:
        parts.update({"seats": seats, "sessions": driver("sessions"), "manual_minutes": driver("manual_minutes"),
                      "session_minutes": driver("session_minutes")})
    if not live.all():  # draws with a shorter horizon: months beyond it carry nothing
        parts = {key: np.where(live, v, 0.0) for key, v in parts.items()}
    benefit_m = np.broadcast_to(parts["time_value_usd"] + parts["cache_savings_usd"], shape)
    cost_m = np.broadcast_to(parts["llm_usd"] + parts["metered_usd"] + parts["licence_usd"] + parts["infra_usd"], shape)
    net_m = benefit_m - cost_m
    benefits = benefit_m.sum(axis=1)
    costs = cost_m.sum(axis=1) + one_off
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(costs > 0, 100.0 * (benefits - costs) / np.where(costs > 0, costs, 1.0), np.nan)
    disc = _value(a, draws, "discount_rate")
    npv = -one_off + (net_m * (1.0 + disc) ** (-k / 12.0)).sum(axis=1)
    cum = np.cumsum(np.concatenate([-one_off[:, None], net_m], axis=1), axis=1)   # (n, H + 1)
    cross = (cum[:, 1:] >= 0) & (cum[:, :-1] < 0) & live
    has = cross.any(axis=1)
    kk = np.argmax(cross, axis=1) + 1
    rows = np.arange(n)
    prev = cum[rows, kk - 1]
    step = net_m[rows, kk - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        payback = np.where(has, (kk - 1) + (-prev) / np.where(step > 0, step, 1.0), np.nan)
    zero = (cum[:, 0] >= 0) & (net_m[:, 0] >= 0)
    payback = np.where(zero, 0.0, payback)
    return _Flows(parts if keep else None, benefits, costs, roi, npv, payback)


# ============================================================================================
# Results
@dataclass(frozen=True)
class RoiResult:
    """The appraisal under one set of assumptions.

    Attributes
    ----------
    assumptions : Assumptions
    cashflows : DataFrame
        One row per month 0..horizon: ``month, start, kind`` (``one-off``, ``actual``, ``mixed``,
        ``forecast``), ``sessions, hours_saved`` (realised net hours), ``time_value_usd,
        cache_savings_usd, benefits_usd, llm_usd, metered_usd, seats, licence_usd, infra_usd,
        one_off_usd, costs_usd, net_usd, cumulative_net_usd, discount_factor,
        discounted_net_usd, cumulative_discounted_usd``.
    benefits, costs, net : float
        Horizon totals in USD (undiscounted; costs include the one-off cost).
    roi_pct : float
        ``100 * net / costs`` (NaN when there are no costs).
    payback_months : float or None
    payback_reason : str
    npv : float
        USD at month 0.
    irr : float or None
        Annualised; None when there is none.
    irr_reason : str
    to_date : Series
        The observed days only: ``months, benefits, costs, net, roi_pct, hours_saved, cache_savings_usd,
        spend_usd`` (licences and fixed infrastructure pro rata, the one-off cost in full).
    by_team, by_feature : DataFrame
        Observed window per group: ``group, sessions, active_users, manual_hours, session_hours,
        hours_saved, time_value_usd, cache_savings_usd, benefits_usd, usage_spend_usd, licence_usd,
        fixed_usd, costs_usd, net_usd, roi_pct, benefit_share``; licences, fixed infrastructure and
        the one-off cost are split by ``allocation_share`` (see :class:`RoiInputs`). Rows add up
        to ``to_date``. Sorted by benefits, largest first.
    notes : tuple of str
    """

    assumptions: Assumptions
    cashflows: pd.DataFrame
    benefits: float
    costs: float
    net: float
    roi_pct: float
    payback_months: float | None
    payback_reason: str
    npv: float
    irr: float | None
    irr_reason: str
    to_date: pd.Series
    by_team: pd.DataFrame
    by_feature: pd.DataFrame
    notes: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        """The headline figures as ``metric, value, unit`` rows for display or export.

        Examples
        --------
        >>> from analytics_lib.datasets import synthetic_events
        >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=12,
        ...                     projection="flat")
        >>> roi_result(inputs, Assumptions(horizon_months=12)).summary()["metric"].tolist()[:3]
        ['benefits', 'costs', 'net benefit']
        """
        rows = [("benefits", self.benefits, "USD"), ("costs", self.costs, "USD"), ("net benefit", self.net, "USD"),
                ("ROI", self.roi_pct, "%"), ("NPV", self.npv, "USD"),
                ("IRR", np.nan if self.irr is None else 100 * self.irr, "% per year"),
                ("payback", np.nan if self.payback_months is None else self.payback_months, "months"),
                ("horizon", float(self.assumptions.horizon_months), "months"),
                ("hours saved", float(self.cashflows["hours_saved"].sum()), "hours")]
        return pd.DataFrame(rows, columns=["metric", "value", "unit"])


def _check_assumptions(assumptions: Assumptions | None) -> Assumptions:
    if assumptions is None:
        return Assumptions()
    if not isinstance(assumptions, Assumptions):
        raise WorkbenchError(f"assumptions must be an Assumptions object, got {type(assumptions).__name__}: "
                             "build one with Assumptions(hourly_rate=..., ...)")
    return assumptions


def roi_result(inputs: RoiInputs, assumptions: Assumptions | None = None) -> RoiResult:
    """Cash flows, ROI, payback, NPV and IRR over the horizon, and where the value comes from.

    Parameters
    ----------
    inputs : RoiInputs
        From :func:`roi_inputs` (covering at least ``horizon_months``).
    assumptions : Assumptions, optional
        Defaults to ``Assumptions()``.

    Returns
    -------
    RoiResult

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=12,
    ...                     projection="flat")
    >>> res = roi_result(inputs, Assumptions(horizon_months=12, one_off_cost=0))
    >>> len(res.cashflows), bool(abs(res.net - res.cashflows["net_usd"].sum()) < 1e-6)
    (13, True)
    """
    a = _check_assumptions(assumptions)
    fl = _evaluate(inputs, a, {}, keep=True)
    H = a.horizon_months
    mo = inputs.monthly.iloc[:H]
    parts = {key: v[0] for key, v in fl.parts.items()}
    cf = pd.DataFrame({
        "month": np.arange(H + 1), "start": np.r_[inputs.start, mo["start"].to_numpy()],
        "kind": ["one-off"] + mo["kind"].tolist(), "sessions": np.r_[0.0, parts["sessions"]],
        "hours_saved": np.r_[0.0, (a.realisation_rate * parts["manual_minutes"] - parts["session_minutes"]) / 60.0],
        "time_value_usd": np.r_[0.0, parts["time_value_usd"]],
        "cache_savings_usd": np.r_[0.0, parts["cache_savings_usd"]],
    })
    cf["benefits_usd"] = cf["time_value_usd"] + cf["cache_savings_usd"]
    cf["llm_usd"] = np.r_[0.0, parts["llm_usd"]]
    cf["metered_usd"] = np.r_[0.0, parts["metered_usd"]]
    cf["seats"] = np.r_[0.0, parts["seats"]]
    cf["licence_usd"] = np.r_[0.0, parts["licence_usd"]]
    cf["infra_usd"] = np.r_[0.0, parts["infra_usd"]]
    cf["one_off_usd"] = np.r_[a.one_off_cost, np.zeros(H)]
    cf["costs_usd"] = cf[["llm_usd", "metered_usd", "licence_usd", "infra_usd", "one_off_usd"]].sum(axis=1)
    cf["net_usd"] = cf["benefits_usd"] - cf["costs_usd"]
    cf["cumulative_net_usd"] = cf["net_usd"].cumsum()
    cf["discount_factor"] = (1.0 + a.discount_rate) ** (-cf["month"].to_numpy() / 12.0)
    cf["discounted_net_usd"] = cf["net_usd"] * cf["discount_factor"]
    cf["cumulative_discounted_usd"] = cf["discounted_net_usd"].cumsum()
    pb = payback_period(cf["net_usd"].to_numpy())
    irr_m, irr_reason = _irr_monthly(cf["net_usd"].to_numpy())
    by_team, by_feature, to_date = _valued_groups(inputs, a)
    notes = list(inputs.notes)
    n_fc = int((mo["forecast_days"] > 0).sum())
    if n_fc:
        notes.append(f"{n_fc} of the {H} months are projected from the {inputs.projection} of daily sessions "
                     f"after {(inputs.observed_end - pd.Timedelta(days=1)).date()}")
    return RoiResult(
        assumptions=a, cashflows=cf, benefits=float(fl.benefits[0]), costs=float(fl.costs[0]),
        net=float(fl.benefits[0] - fl.costs[0]), roi_pct=float(fl.roi[0]), payback_months=pb.months,
        payback_reason=pb.reason, npv=float(fl.npv[0]),
        irr=None if irr_m is None else float((1 + irr_m) ** 12 - 1), irr_reason=irr_reason,
        to_date=to_date, by_team=by_team, by_feature=by_feature, notes=tuple(notes))


def _valued_groups(inputs: RoiInputs, a: Assumptions) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    months = inputs.observed_months
    total_seat_months = float(inputs.by_team["seat_months"].sum())
    licence_total = a.licence_per_seat * (total_seat_months if a.seats is None else a.seats * months)
    fixed_total = a.infra_per_month * months + a.one_off_cost
    llm_total_data = float(inputs.by_team["llm_usd"].sum())
    out = []
    for table in (inputs.by_team, inputs.by_feature):
        t = table
        share = t["allocation_share"]
        manual_h, session_h = t["manual_minutes"] / 60.0, t["session_minutes"] / 60.0
        hours = a.realisation_rate * manual_h - session_h
        time_value = a.hourly_rate * hours
        cache = t["avoided_llm_usd"] if a.avoided_cost_per_hit is None else t["cache_hits"] * a.avoided_cost_per_hit
        if a.llm_spend_per_month is None:
            llm = t["llm_usd"]
        else:
            llm_share = t["llm_usd"] / llm_total_data if llm_total_data > 0 else share
            llm = a.llm_spend_per_month * months * llm_share
        licence = licence_total * (t["seat_months"] / total_seat_months if total_seat_months > 0 else share)
        benefits = time_value + cache
        costs = llm + t["metered_usd"] + licence + fixed_total * share
        v = pd.DataFrame({
            "group": t["group"], "sessions": t["sessions"], "active_users": t["active_users"],
            "manual_hours": manual_h, "session_hours": session_h, "hours_saved": hours,
            "time_value_usd": time_value, "cache_savings_usd": cache, "benefits_usd": benefits,
            "usage_spend_usd": llm + t["metered_usd"], "licence_usd": licence, "fixed_usd": fixed_total * share,
            "costs_usd": costs, "net_usd": benefits - costs,
        })
        with np.errstate(divide="ignore", invalid="ignore"):
            v["roi_pct"] = np.where(costs > 0, 100 * (benefits - costs) / costs.where(costs > 0, 1.0), np.nan)
        total_b = float(benefits.sum())
        v["benefit_share"] = benefits / total_b if total_b != 0 else np.nan
        out.append(v.sort_values("benefits_usd", ascending=False, kind="stable").reset_index(drop=True))
    t = out[0]
    b, c = float(t["benefits_usd"].sum()), float(t["costs_usd"].sum())
    to_date = pd.Series({"months": months, "benefits": b, "costs": c, "net": b - c,
                         "roi_pct": 100 * (b - c) / c if c > 0 else np.nan,
                         "hours_saved": float(t["hours_saved"].sum()),
                         "cache_savings_usd": float(t["cache_savings_usd"].sum()),
                         "spend_usd": float(t["usage_spend_usd"].sum())}, name="to_date")
    return out[0], out[1], to_date


# ============================================================================================
# Sensitivity
def _ranges(a: Assumptions, ranges: Mapping[str, tuple[float, float]] | None,
            inputs: RoiInputs) -> dict[str, tuple[float, float]]:
    """Stated (low, high) per assumption in spec semantics (factors for relative ones), checked."""
    out = {name: (spec.low, spec.high) for name, spec in ASSUMPTIONS.items()}
    h = ASSUMPTIONS["horizon_months"]
    out["horizon_months"] = (min(h.low, a.horizon_months), max(h.high, a.horizon_months))
    for name, rng in (ranges or {}).items():
        if name not in ASSUMPTIONS:
            raise WorkbenchError(f"ranges: unknown assumption {name!r}: use {', '.join(ASSUMPTIONS)}")
        if rng is None:
            out.pop(name)
            continue
        if not isinstance(rng, (tuple, list)) or len(rng) != 2 or not all(
                isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)
                for x in rng) or rng[0] > rng[1]:
            terms = "factors of the value" if ASSUMPTIONS[name].relative else ASSUMPTIONS[name].unit
            raise WorkbenchError(f"ranges[{name!r}]={rng!r} must be (low, high) numbers with low <= high ({terms})")
        out[name] = (float(rng[0]), float(rng[1]))
    for name, (lo, hi) in out.items():
        spec = ASSUMPTIONS[name]
        if spec.relative:
            if lo < 0:
                raise WorkbenchError(f"ranges[{name!r}]: factors must be >= 0, got {lo:g}")
        else:
            _check_value(name, lo)
            _check_value(name, hi)
    if "horizon_months" in out:
        lo, hi = out["horizon_months"]
        out["horizon_months"] = (lo, min(hi, inputs.months))
    return out


def tornado_table(inputs: RoiInputs, assumptions: Assumptions | None = None, *,
                  ranges: Mapping[str, tuple[float, float] | None] | None = None) -> pd.DataFrame:
    """One-at-a-time swings of every assumption (and the usage forecast) over its stated range.

    Each assumption is set to the low and the high end of its range (``ASSUMPTIONS[name].low``
    /``.high``; factors of the value for relative ones, for a measured value of the measured
    figure) while all others keep their values. The usage row moves the projected sessions to
    the 80 % interval's bounds (only when months are forecast). The horizon's range is capped at
    the months the inputs cover.

    Parameters
    ----------
    inputs : RoiInputs
    assumptions : Assumptions, optional
    ranges : dict, optional
        ``{name: (low, high)}`` replacing stated ranges (in the same terms: factors for
        relative assumptions), or ``{name: None}`` to leave an assumption out.

    Returns
    -------
    DataFrame
        ``assumption, unit, base, low, high, range, roi_low_pct, roi_high_pct, npv_low, npv_high,
        npv_swing, roi_swing_pct``; ``base/low/high`` are values in the unit (the monthly mean of
        a measured one); sorted by ``npv_swing`` descending. ``attrs["base_npv"]`` and
        ``attrs["base_roi_pct"]`` hold the base case.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=48,
    ...                     projection="flat")
    >>> t = tornado_table(inputs)
    >>> sorted(t["assumption"]) == sorted(ASSUMPTIONS)
    True
    """
    a = _check_assumptions(assumptions)
    rng = _ranges(a, ranges, inputs)
    names, draws = [], {}
    base = _evaluate(inputs, a, {})
    rows = []
    for name, (lo, hi) in rng.items():
        names.append(name)
    n = 2 * len(names)
    sd_total = float(inputs.monthly["sessions_forecast_sd"].iloc[:a.horizon_months].sum())
    has_usage = inputs.projection == "forecast" and sd_total > 0
    if has_usage:
        n += 2
    for i, name in enumerate(names):
        spec = ASSUMPTIONS[name]
        col = np.full(n, 1.0 if spec.relative else float(getattr(a, name)))
        col[2 * i], col[2 * i + 1] = rng[name]
        draws[name] = col
    if has_usage:
        u = np.zeros(n)
        u[-2], u[-1] = -_Z80, _Z80
        draws[USAGE] = u
    fl = _evaluate(inputs, a, draws)
    shown = _shown_values(inputs, a)
    for i, name in enumerate(names):
        spec = ASSUMPTIONS[name]
        lo, hi = rng[name]
        b = shown[name]
        rows.append({"assumption": name, "unit": spec.unit, "base": b,
                     "low": b * lo if spec.relative else lo, "high": b * hi if spec.relative else hi,
                     "range": (f"x{lo:g} to x{hi:g}" + (" of the measured value" if getattr(a, name) is None else ""))
                     if spec.relative else f"{lo:g} to {hi:g}",
                     "roi_low_pct": fl.roi[2 * i], "roi_high_pct": fl.roi[2 * i + 1],
                     "npv_low": fl.npv[2 * i], "npv_high": fl.npv[2 * i + 1]})
    if has_usage:
        total = float((inputs.monthly["sessions_forecast"].iloc[:a.horizon_months]).sum())
        sd = float(inputs.monthly["sessions_forecast_sd"].iloc[:a.horizon_months].sum())
        rows.append({"assumption": USAGE, "unit": "forecast sessions over the horizon", "base": total,
                     "low": max(total - _Z80 * sd, 0.0), "high": total + _Z80 * sd, "range": "80 % forecast interval",
                     "roi_low_pct": fl.roi[-2], "roi_high_pct": fl.roi[-1],
                     "npv_low": fl.npv[-2], "npv_high": fl.npv[-1]})
    t = pd.DataFrame(rows)
    t["npv_swing"] = (t["npv_high"] - t["npv_low"]).abs()
    t["roi_swing_pct"] = (t["roi_high_pct"] - t["roi_low_pct"]).abs()
    t = t.sort_values("npv_swing", ascending=False, kind="stable").reset_index(drop=True)
    t.attrs["base_npv"] = float(base.npv[0])
    t.attrs["base_roi_pct"] = float(base.roi[0])
    return t


def _shown_values(inputs: RoiInputs, a: Assumptions) -> dict[str, float]:
    """Each assumption's value in its unit; measured ones as their mean per month (or per hit)."""
    H = a.horizon_months
    mo = inputs.monthly.iloc[:H]
    out = {name: float(getattr(a, name)) for name in ASSUMPTIONS if getattr(a, name) is not None}
    if a.seats is None:
        out["seats"] = float((mo["seats_actual"] + mo["seats_forecast"]).mean())
    if a.llm_spend_per_month is None:
        out["llm_spend_per_month"] = float((mo["llm_usd_actual"] + mo["llm_usd_forecast"]).mean())
    if a.avoided_cost_per_hit is None:
        hits = float((mo["cache_hits_actual"] + mo["cache_hits_forecast"]).sum())
        avoided = float((mo["avoided_llm_usd_actual"] + mo["avoided_llm_usd_forecast"]).sum())
        out["avoided_cost_per_hit"] = avoided / hits if hits > 0 else 0.0
    return out


def break_even_table(inputs: RoiInputs, assumptions: Assumptions | None = None) -> pd.DataFrame:
    """The hourly rate, realisation rate and licence price at which the horizon's ROI is exactly zero.

    ROI is zero when benefits equal costs. Benefits are linear in the hourly rate and the
    realisation rate and costs in the licence price, so each break-even value is solved in
    closed form with the other assumptions at their values:
    ``rate* = (costs - cache savings) / net hours``,
    ``realisation* = ((costs - cache savings) * 60 / rate + session minutes) / manual minutes``,
    ``licence* = (benefits - costs without licences) / seat-months``.

    Returns
    -------
    DataFrame
        ``assumption, break_even, unit, current, feasible, note``: ``break_even`` is NaN when no
        value solves it; ``feasible`` says whether the value is allowed (e.g. a realisation
        rate within 0-1); ``note`` says which side is better.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> break_even_table(inputs)["assumption"].tolist()
    ['hourly_rate', 'realisation_rate', 'licence_per_seat']
    """
    a = _check_assumptions(assumptions)
    fl = _evaluate(inputs, a, {}, keep=True)
    p = {k: float(v.sum()) for k, v in fl.parts.items()}
    costs, benefits = float(fl.costs[0]), float(fl.benefits[0])
    cache = p["cache_savings_usd"]
    # manual and session minutes over the horizon (time value = rate * (r * M - T) / 60)
    M, T = p["manual_minutes"], p["session_minutes"]
    net_hours = (a.realisation_rate * M - T) / 60.0
    rows = []
    # hourly rate
    if net_hours > 0:
        v = (costs - cache) / net_hours
        rows.append(("hourly_rate", v, v > 0, f"ROI is positive above USD {v:,.2f} per hour" if v > 0 else
                     "cache savings alone exceed the costs: ROI is positive at any hourly rate"))
    elif net_hours < 0:
        v = (costs - cache) / net_hours
        tail = f"; ROI is positive below USD {v:,.2f} per hour" if v > 0 else "; ROI is negative at any rate"
        rows.append(("hourly_rate", v, v > 0, "the net time saved is negative: a higher hourly rate lowers ROI" + tail))
    else:
        rows.append(("hourly_rate", np.nan, False, "no net time is saved: the hourly rate does not change ROI"))
    # realisation rate
    if M > 0:
        v = ((costs - cache) * 60.0 / a.hourly_rate + T) / M
        ok = 0.0 <= v <= 1.0
        note = (f"ROI is positive for realisation rates above {v:.3f}" if ok else
                "ROI stays positive even with nothing realised" if v < 0 else
                "ROI stays negative even if all recorded manual effort is saved")
        rows.append(("realisation_rate", v, ok, note))
    else:
        rows.append(("realisation_rate", np.nan, False,
                     "no manual minutes recorded: the realisation rate does not change ROI"))
    # licence price
    seat_months = p["seats"]
    if seat_months > 0:
        v = (benefits - (costs - p["licence_usd"])) / seat_months
        rows.append(("licence_per_seat", v, v >= 0, f"ROI is positive below USD {v:,.2f} per seat and month" if v >= 0
                     else "ROI is negative even with free licences"))
    else:
        rows.append(("licence_per_seat", np.nan, False, "no seats: the licence price does not change ROI"))
    out = pd.DataFrame(rows, columns=["assumption", "break_even", "feasible", "note"])
    out.insert(2, "unit", [ASSUMPTIONS[n].unit for n in out["assumption"]])
    out.insert(3, "current", [float(getattr(a, n)) for n in out["assumption"]])
    return out


# ============================================================================================
# Uncertainty
@dataclass(frozen=True)
class RoiSimulation:
    """Monte Carlo of the appraisal.

    Attributes
    ----------
    draws : DataFrame
        One row per draw: the drawn value of every varied assumption (in its unit; factors of
        the measured value for measured ones, column ``<name>_factor``), ``usage_z`` (the
        forecast's standard-normal quantile), and ``roi_pct, npv, benefits, costs,
        payback_months`` (NaN: no payback within the horizon).
    summary : DataFrame
        ``metric, p10, p50, p90, mean`` for ``roi_pct``, ``npv`` and ``payback_months``
        (payback quantiles over the draws that pay back; ``share_paying_back`` in attrs).
    prob_positive : float
        Share of draws with ROI > 0.
    distributions : DataFrame
        What was drawn and how: ``assumption, distribution, low, mode, high, unit``.
    n, seed : int
    """

    draws: pd.DataFrame
    summary: pd.DataFrame
    prob_positive: float
    distributions: pd.DataFrame
    n: int
    seed: int


def roi_simulation(inputs: RoiInputs, assumptions: Assumptions | None = None, *, n: int = 10_000, seed: int = 0,
                   distributions: Mapping[str, tuple[float, float] | None] | None = None) -> RoiSimulation:
    """Monte Carlo over the uncertain assumptions and the usage forecast, fully vectorized and seeded.

    Each uncertain assumption (``ASSUMPTIONS[name].uncertain``) is drawn from a triangular
    distribution over its stated range with the mode at its value (the range is widened to
    include the value). The usage of projected months follows the forecast: one standard
    normal ``z`` per draw moves every projected month to ``max(0, mean + z * sd)`` (a path
    that runs high stays high). Fixed assumptions keep their value.

    Parameters
    ----------
    inputs : RoiInputs
    assumptions : Assumptions, optional
    n : int
        Number of draws (1 to 10 million).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same draws.
    distributions : dict, optional
        ``{name: (low, high)}`` to draw an assumption over another range (in the terms of its
        ``ASSUMPTIONS`` entry: factors for relative ones), ``{name: None}`` to hold it fixed;
        ``{"usage": None}`` holds usage at the forecast mean.

    Returns
    -------
    RoiSimulation

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> sim = roi_simulation(inputs, n=1_000, seed=1)
    >>> sim.summary["metric"].tolist(), 0 <= sim.prob_positive <= 1
    (['roi_pct', 'npv', 'payback_months'], True)
    """
    a = _check_assumptions(assumptions)
    if not _whole(n) or not 1 <= n <= 10_000_000:
        raise WorkbenchError(f"n={n!r} must be a whole number of draws from 1 to 10,000,000")
    if not _whole(seed) or seed < 0:
        raise WorkbenchError(f"seed={seed!r} must be a non-negative whole number")
    dist = dict(distributions or {})
    usage_on = dist.pop(USAGE, True) is not None
    unknown = sorted(set(dist) - set(ASSUMPTIONS))
    if unknown:
        raise WorkbenchError(f"distributions: unknown assumption(s) {', '.join(unknown)}: use {', '.join(ASSUMPTIONS)} "
                             f"or {USAGE!r}")
    uncertain = {name: (s.low, s.high) for name, s in ASSUMPTIONS.items() if s.uncertain}
    for name, rng in dist.items():
        if rng is None:
            uncertain.pop(name, None)
        else:
            uncertain[name] = rng
    rng_checked = _ranges(a, {k: v for k, v in uncertain.items()}, inputs)
    uncertain = {k: rng_checked[k] for k in uncertain}
    gen = np.random.default_rng(seed)
    draws: dict[str, np.ndarray] = {}
    rows = []
    shown = _shown_values(inputs, a)
    for name, (lo, hi) in uncertain.items():
        spec = ASSUMPTIONS[name]
        mode = 1.0 if spec.relative else float(getattr(a, name))
        lo, hi = min(lo, mode), max(hi, mode)
        draws[name] = gen.triangular(lo, mode, hi, size=n) if hi > lo else np.full(n, mode)
        scale = shown[name] if spec.relative else 1.0
        rows.append((name, "triangular", lo * scale, mode * scale, hi * scale, spec.unit))
    H = a.horizon_months
    sd_total = float(inputs.monthly["sessions_forecast_sd"].iloc[:H].sum())
    if usage_on and sd_total > 0:
        draws[USAGE] = gen.standard_normal(n)
        total = float(inputs.monthly["sessions_forecast"].iloc[:H].sum())
        rows.append((USAGE, "normal, one quantile per path", max(total - _Z80 * sd_total, 0.0), total,
                     total + _Z80 * sd_total, "forecast sessions over the horizon (80 % interval)"))
    res = {k: np.empty(n) for k in ("roi_pct", "npv", "benefits", "costs", "payback_months")}
    for lo_i in range(0, n, _CHUNK):
        sl = slice(lo_i, min(lo_i + _CHUNK, n))
        fl = _evaluate(inputs, a, {k: v[sl] for k, v in draws.items()})
        res["roi_pct"][sl], res["npv"][sl] = fl.roi, fl.npv
        res["benefits"][sl], res["costs"][sl], res["payback_months"][sl] = fl.benefits, fl.costs, fl.payback
    table = {}
    for name, v in draws.items():
        if name == USAGE:
            table["usage_z"] = v
        elif ASSUMPTIONS[name].relative:
            base = getattr(a, name)
            table[f"{name}_factor" if base is None else name] = v if base is None else v * float(base)
        else:
            table[name] = v
    frame = pd.DataFrame({**table, **res})
    q = [10, 50, 90]
    summ = []
    for metric in ("roi_pct", "npv", "payback_months"):
        v = res[metric]
        v = v[np.isfinite(v)]
        p = np.percentile(v, q) if len(v) else [np.nan] * 3
        summ.append((metric, *p, float(v.mean()) if len(v) else np.nan))
    summary = pd.DataFrame(summ, columns=["metric", "p10", "p50", "p90", "mean"])
    summary.attrs["share_paying_back"] = float(np.isfinite(res["payback_months"]).mean())
    dists = pd.DataFrame(rows, columns=["assumption", "distribution", "low", "mode", "high", "unit"])
    return RoiSimulation(draws=frame, summary=summary, prob_positive=float((res["roi_pct"] > 0).mean()),
                         distributions=dists, n=int(n), seed=int(seed))


# ============================================================================================
# Scenarios
#: Named assumption overrides compared side by side; ``expected`` is the base case as given.
DEFAULT_SCENARIOS: dict[str, dict[str, float]] = {
    "conservative": {"hourly_rate": 80.0, "realisation_rate": 0.5, "infra_per_month": 3_000.0,
                     "one_off_cost": 75_000.0},
    "expected": {},
    "optimistic": {"hourly_rate": 130.0, "realisation_rate": 0.9, "infra_per_month": 1_500.0,
                   "one_off_cost": 40_000.0},
}


def _check_scenarios(scenarios: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    if scenarios is None:
        return {k: dict(v) for k, v in DEFAULT_SCENARIOS.items()}
    if not isinstance(scenarios, Mapping) or not scenarios:
        raise WorkbenchError(f"scenarios={scenarios!r} must be a non-empty dict of {{name: {{assumption: value}}}}, "
                             "e.g. {'conservative': {'realisation_rate': 0.5}, 'expected': {}}")
    out = {}
    for name, changes in scenarios.items():
        if not isinstance(name, str) or not name.strip():
            raise WorkbenchError(f"scenario name {name!r} must be a non-empty string")
        if not isinstance(changes, Mapping):
            raise WorkbenchError(f"scenario {name!r}: {changes!r} must be a dict of {{assumption: value}}")
        unknown = sorted(set(changes) - set(ASSUMPTIONS))
        if unknown:
            raise WorkbenchError(f"scenario {name!r}: unknown assumption(s) {', '.join(unknown)}: use "
                                 f"{', '.join(ASSUMPTIONS)}")
        out[name.strip()] = dict(changes)
    return out


def scenario_table(inputs: RoiInputs, scenarios: Mapping[str, Mapping[str, Any]] | None = None, *,
                   base: Assumptions | None = None) -> pd.DataFrame:
    """Named sets of assumption overrides on top of ``base``, appraised side by side.

    Parameters
    ----------
    inputs : RoiInputs
    scenarios : dict, optional
        ``{name: {assumption: value}}``; default :data:`DEFAULT_SCENARIOS`. Values are
        checked like :class:`Assumptions`.
    base : Assumptions, optional
        The assumptions a scenario does not change.

    Returns
    -------
    DataFrame
        One row per scenario, in order: ``scenario, changes`` (text), every assumption's value,
        then ``benefits, costs, net, roi_pct, npv, irr_pct, payback_months`` (NaN when it does
        not pay back).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> scenario_table(inputs)["scenario"].tolist()
    ['conservative', 'expected', 'optimistic']
    """
    b = _check_assumptions(base)
    rows = []
    for name, changes in _check_scenarios(scenarios).items():
        try:
            a = b.replace(**changes)
        except WorkbenchError as exc:
            raise WorkbenchError(f"scenario {name!r}: {exc}") from exc
        r = roi_result(inputs, a)
        changed = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in changes.items())
        row = {"scenario": name, "changes": changed or "none (base)"}
        row.update({k: getattr(a, k) for k in ASSUMPTIONS})
        row.update({"benefits": r.benefits, "costs": r.costs, "net": r.net, "roi_pct": r.roi_pct, "npv": r.npv,
                    "irr_pct": np.nan if r.irr is None else 100 * r.irr,
                    "payback_months": np.nan if r.payback_months is None else r.payback_months})
        rows.append(row)
    return pd.DataFrame(rows)


# ============================================================================================
# Narrative
def _usd(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}USD {x / 1e6:,.2f} million"
    return f"{sign}USD {x:,.0f}"


def _pct(p: float) -> str:
    """A probability as a percentage that never rounds a rare event to 0 % or a near-certain one to 100 %."""
    if 0 < p < 0.001:
        return "below 0.1 %"
    if 0.999 < p < 1:
        return "above 99.9 %"
    return f"{100 * p:.1f} %" if p < 0.01 or p > 0.99 else f"{100 * p:.0f} %"


def executive_summary(result: RoiResult, simulation: RoiSimulation | None = None,
                      break_even: pd.DataFrame | None = None) -> str:
    """The headline in plain sentences (Markdown), every number taken from the results.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> executive_summary(roi_result(inputs)).startswith("Over 36 months the assistant")
    True
    """
    a = result.assumptions
    H = a.horizon_months
    verdict = "pays for itself" if result.net > 0 else "does not pay for itself"
    parts = [f"Over {H} months the assistant {verdict}: benefits of {_usd(result.benefits)} against costs of "
             f"{_usd(result.costs)}, a net benefit of {_usd(result.net)} and an ROI of {result.roi_pct:,.0f} %."]
    cf = result.cashflows
    hours = float(cf["hours_saved"].sum())
    time_value, cache = float(cf["time_value_usd"].sum()), float(cf["cache_savings_usd"].sum())
    if hours >= 0:
        parts.append(f"Developers save {hours:,.0f} hours net of the time they spend in sessions (with "
                     f"{100 * a.realisation_rate:g} % of the recorded manual effort realised), worth "
                     f"{_usd(time_value)} at USD {a.hourly_rate:,.0f} per hour; the cache avoids {_usd(cache)} "
                     "of LLM cost.")
    else:
        parts.append(f"Developers spend {-hours:,.0f} hours more in sessions than the realised manual effort the "
                     f"accepted work replaced ({100 * a.realisation_rate:g} % of the recorded effort), a cost of "
                     f"{_usd(-time_value)} at USD {a.hourly_rate:,.0f} per hour; the cache avoids {_usd(cache)} "
                     "of LLM cost.")
    usage = float((cf["llm_usd"] + cf["metered_usd"]).sum())
    parts.append(f"Licences cost {_usd(float(cf['licence_usd'].sum()))}, fixed infrastructure "
                 f"{_usd(float(cf['infra_usd'].sum()))}, LLM and metered usage {_usd(usage)} "
                 f"and the implementation {_usd(a.one_off_cost)}.")
    if result.payback_months is not None:
        parts.append(f"It pays back after {result.payback_months:,.1f} months.")
    else:
        end, last = float(cf["cumulative_net_usd"].iloc[-1]), float(cf["net_usd"].iloc[-1])
        tail = (f"at the last month's net of {_usd(last)} it would need about {-end / last:,.0f} more months"
                if last > 0 and end < 0 else "the monthly net is still negative at the end, so it never pays back "
                "at this rate" if last <= 0 else "")
        parts.append(f"It does not pay back within {H} months: the cumulative net cash flow ends at {_usd(end)}"
                     + (f"; {tail}." if tail else "."))
    irr = "" if result.irr is None else f", with an internal rate of return of {100 * result.irr:,.0f} % a year"
    parts.append(f"Discounted at {100 * a.discount_rate:g} % a year, the NPV is {_usd(result.npv)}{irr}.")
    if simulation is not None:
        s = simulation.summary.set_index("metric")
        parts.append(f"Across {simulation.n:,} Monte Carlo draws of the uncertain assumptions"
                     f"{' and the usage forecast' if (simulation.distributions['assumption'] == USAGE).any() else ''}, "
                     f"the probability that ROI is positive is {_pct(simulation.prob_positive)}; "
                     f"the NPV is between {_usd(s.loc['npv', 'p10'])} (P10) and {_usd(s.loc['npv', 'p90'])} (P90), "
                     f"median {_usd(s.loc['npv', 'p50'])}.")
    if break_even is not None and len(break_even):
        be = break_even.set_index("assumption")
        bits = []
        if "hourly_rate" in be.index and bool(be.loc["hourly_rate", "feasible"]):
            bits.append(f"an hourly rate of USD {be.loc['hourly_rate', 'break_even']:,.2f}")
        if "realisation_rate" in be.index and bool(be.loc["realisation_rate", "feasible"]):
            bits.append(f"a realisation rate of {be.loc['realisation_rate', 'break_even']:.2f}")
        if bits:
            parts.append("ROI is exactly zero at " + " or ".join(bits) + " (other assumptions unchanged).")
    for table, what in ((result.by_team, "team"), (result.by_feature, "feature")):
        if len(table) < 2 or float(table["benefits_usd"].iloc[0]) <= 0:
            continue
        top, bottom = table.iloc[0], table.iloc[-1]
        share = (f", {100 * top['benefit_share']:.0f} % of the total" if (table["benefits_usd"] >= 0).all() else "")
        text = f"By {what}, {top['group']} brings the most value to date ({_usd(float(top['benefits_usd']))}{share})"
        if float(bottom["benefits_usd"]) < 0:
            text += (f", while {bottom['group']} loses value ({_usd(float(bottom['benefits_usd']))}): its session time "
                     "exceeds the realised effort saved")
        parts.append(text + ".")
    return " ".join(parts)


# ============================================================================================
# Notebook parameters
@dataclass(frozen=True)
class RoiParams:
    """The checked parameters of ``notebooks/roi.ipynb``.

    Attributes
    ----------
    source : str
    window : TimeWindow
    team : list of str or None
    assumptions : Assumptions
    scenarios : dict
        ``{name: {assumption: value}}``, each checked against ``assumptions``.
    n_simulations : int
    seed : int
    output_dir : pathlib.Path
    months : int
        Appraisal months the inputs must cover: the largest horizon among the assumptions,
        the scenarios and the tornado's range (48 by default).
    """

    source: str
    window: TimeWindow
    team: list[str] | None
    assumptions: Assumptions
    scenarios: dict
    n_simulations: int
    seed: int
    output_dir: Path
    months: int

    def table(self) -> pd.DataFrame:
        """The parameters as ``parameter, value`` rows for display.

        Examples
        --------
        >>> import tempfile
        >>> p = roi_parameters(source="sqlite://", start=None, end="today", team=None,
        ...                    output_dir=tempfile.gettempdir())
        >>> p.table()["parameter"].tolist()[:3]
        ['source', 'window', 'team']
        """
        rows = [("source", redact(self.source)), ("window", str(self.window)),
                ("team", "all" if self.team is None else ", ".join(self.team))]
        for name, spec in ASSUMPTIONS.items():
            v = getattr(self.assumptions, name)
            rows.append((name, "from data" if v is None else f"{v:,.6g} {spec.unit}"))
        rows += [("scenarios", ", ".join(self.scenarios)), ("n_simulations", f"{self.n_simulations:,}"),
                 ("seed", str(self.seed)), ("output_dir", str(self.output_dir))]
        return pd.DataFrame(rows, columns=["parameter", "value"])


def roi_parameters(*, source: str | None, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None,
                   team: str | list[str] | None, hourly_rate: float = 100.0, realisation_rate: float = 0.7,
                   seats: int | None = None, licence_per_seat: float = 20.0, infra_per_month: float = 2_000.0,
                   one_off_cost: float = 50_000.0, llm_spend_per_month: float | None = None,
                   avoided_cost_per_hit: float | None = None, discount_rate: float = 0.10, horizon_months: int = 36,
                   scenarios: Mapping[str, Mapping[str, Any]] | None = None, n_simulations: int = 10_000,
                   seed: int = 0, output_dir: str | Path | None = None,
                   now: pd.Timestamp | str | None = None) -> RoiParams:
    """Check every parameter of the ROI notebook up front.

    ``source``, ``start``/``end``, ``team`` and ``output_dir`` are checked as for the workflow
    notebook (:func:`analytics_lib.params.workflow_parameters`; ``output_dir=None`` means
    ``reports/roi``); the assumptions by :class:`Assumptions`; each scenario's overrides on top
    of them; ``n_simulations`` must be 100 to 10 million.

    Returns
    -------
    RoiParams

    Raises
    ------
    WorkbenchError
        For the first bad parameter, naming it.

    Examples
    --------
    >>> import tempfile
    >>> p = roi_parameters(source="sqlite://", start=None, end="today", team="team-a", hourly_rate=120,
    ...                    output_dir=tempfile.gettempdir())
    >>> p.assumptions.hourly_rate, p.team, p.months
    (120.0, ['team-a'], 48)
    """
    from . import paths

    src = _check_source(source)
    window = time_window(start, end, now=now)
    teams = _check_team(team)
    a = Assumptions(hourly_rate=hourly_rate, realisation_rate=realisation_rate, seats=seats,
                    licence_per_seat=licence_per_seat, infra_per_month=infra_per_month, one_off_cost=one_off_cost,
                    llm_spend_per_month=llm_spend_per_month, avoided_cost_per_hit=avoided_cost_per_hit,
                    discount_rate=discount_rate, horizon_months=horizon_months)
    sc = _check_scenarios(scenarios)
    horizons = [a.horizon_months, int(ASSUMPTIONS["horizon_months"].high)]
    for name, changes in sc.items():
        try:
            horizons.append(a.replace(**changes).horizon_months)
        except WorkbenchError as exc:
            raise WorkbenchError(f"scenarios: scenario {name!r}: {exc}") from exc
    if not _whole(n_simulations) or not 100 <= n_simulations <= 10_000_000:
        raise WorkbenchError(f"n_simulations={n_simulations!r} must be a whole number from 100 to 10,000,000 "
                             "(10,000 gives percentiles to about 1 %)")
    if not _whole(seed) or seed < 0:
        raise WorkbenchError(f"seed={seed!r} must be a non-negative whole number")
    out = _check_output_dir(paths.REPORTS / "roi" if output_dir is None else output_dir)
    return RoiParams(source=src, window=window, team=teams, assumptions=a, scenarios=sc,
                     n_simulations=int(n_simulations), seed=int(seed), output_dir=out,
                     months=min(max(horizons), _MAX_MONTHS))
