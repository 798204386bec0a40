"""Uncertainty: Monte Carlo over the assumptions and named scenarios side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, USAGE, _CHUNK, _Z80
from analytics_lib.analysis.roi.result import _check_assumptions, _evaluate, _ranges, _shown_values, roi_result
from analytics_lib.core.checks import is_whole
from analytics_lib.core.errors import WorkbenchError

if TYPE_CHECKING:
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.inputs import RoiInputs


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
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> sim = roi_simulation(inputs, n=1_000, seed=1)
    >>> sim.summary["metric"].tolist(), 0 <= sim.prob_positive <= 1
    (['roi_pct', 'npv', 'payback_months'], True)
    """
    a = _check_assumptions(assumptions)
    if not is_whole(n) or not 1 <= n <= 10_000_000:
        raise WorkbenchError(f"n={n!r} must be a whole number of draws from 1 to 10,000,000")
    if not is_whole(seed) or seed < 0:
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


def check_scenarios(scenarios: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
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
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> from analytics_lib import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> scenario_table(inputs)["scenario"].tolist()
    ['conservative', 'expected', 'optimistic']
    """
    b = _check_assumptions(base)
    rows = []
    for name, changes in check_scenarios(scenarios).items():
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
