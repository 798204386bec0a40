"""The ROI assumptions: each with its unit, default, range and rationale (``docs/roi.md``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError


#: Event types whose ``cost_usd`` is LLM spend (every other event's cost is metered infrastructure).
LLM_TYPES = ("generation", "error")


_Z80 = 1.2815515655446004  # scipy.stats.norm.ppf(0.9): half-width of an 80 % normal interval in standard deviations
MAX_MONTHS = 120
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
        1, MAX_MONTHS, True, 24, 48, False, False),
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
