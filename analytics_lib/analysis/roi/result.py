"""ROI under a set of assumptions, its sensitivity (tornado) and break-even values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, Assumptions, USAGE, _Z80, _check_value
from analytics_lib.analysis.roi.finance import _irr_monthly, payback_period
from analytics_lib.analysis.roi.inputs import DRIVERS
from analytics_lib.core.errors import WorkbenchError

if TYPE_CHECKING:
    from analytics_lib.analysis.roi.inputs import RoiInputs


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
        >>> from analytics_lib.analysis.roi.inputs import roi_inputs
        >>> from analytics_lib import synthetic_events
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
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import synthetic_events
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
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import synthetic_events
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
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import synthetic_events
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
