"""The ROI dashboard's view: the ROI result for the controls' values and named scenarios.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.dashboards.views.common import _mart, format_kpi, parse_number

# --------------------------------------------------------------------------------------------
# ROI calculator
#: The assumptions the ROI calculator lets people change (the ROI notebook's parameter names).
ROI_CONTROLS = ("hourly_rate", "realisation_rate", "seats", "licence_per_seat", "infra_per_month", "one_off_cost",
                "discount_rate", "horizon_months")


@dataclass(frozen=True)
class RoiView:
    """Everything the ROI calculator shows for one set of assumptions.

    Attributes
    ----------
    assumptions : Assumptions
    result : RoiResult
    simulation : RoiSimulation
    tornado : DataFrame
    scenarios : DataFrame
        :func:`analytics_lib.analysis.roi.simulation.scenario_table` on top of these assumptions.
    tiles : DataFrame
        ROI, payback, NPV and the probability of a positive ROI as tiles.
    """

    assumptions: Any
    result: Any
    simulation: Any
    tornado: pd.DataFrame
    scenarios: pd.DataFrame
    tiles: pd.DataFrame


def roi_view(data, *, hourly_rate: Any = 100.0, realisation_rate: Any = 0.7, seats: Any = None,
             licence_per_seat: Any = 20.0, infra_per_month: Any = 2_000.0, one_off_cost: Any = 50_000.0,
             discount_rate: Any = 0.10, horizon_months: Any = 36, scenarios: Mapping | None = None,
             n_simulations: int = 10_000, seed: int = 0) -> RoiView:
    """ROI, payback, NPV, P(ROI > 0), tornado, Monte Carlo and scenarios for the given assumptions.

    Values may be numbers or text as typed (``seats`` empty: the active users of each month).

    Parameters
    ----------
    data : DashboardData or RoiInputs
        The ROI calculator's inputs (:func:`load_roi_data`).
    hourly_rate : float or str
        Loaded cost of one developer hour, USD per hour (default 100).
    realisation_rate : float or str
        Share 0-1 of the recorded manual effort that is really saved (default 0.7).
    seats : int, str or None
        Paid seats per month; None or empty (default): the active users of each month.
    licence_per_seat : float or str
        USD per seat per month (default 20).
    infra_per_month : float or str
        Fixed platform cost not in the event log, USD per month (default 2,000).
    one_off_cost : float or str
        Implementation cost at month 0, USD (default 50,000).
    discount_rate : float or str
        Annual discount rate, 0 <= rate < 1 (default 0.10).
    horizon_months : int or str
        Appraisal length in months, at most the months the inputs cover (default 36).
    scenarios : mapping, optional
        ``{name: {assumption: value}}`` applied on top of these values; None (default):
        ``DEFAULT_SCENARIOS`` (see :func:`~analytics_lib.analysis.roi.simulation.scenario_table`).
    n_simulations : int
        Monte Carlo draws (default 10,000).
    seed : int
        Seed of the draws; the same seed gives the same result (default 0).

    Raises
    ------
    WorkbenchError
        For a value that is not a number or out of range (e.g. a negative rate), naming it.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> inputs = roi_inputs(synthetic_events(5_000, days=60, seed=0).events, months=48)
    >>> roi_view(inputs, hourly_rate=120, n_simulations=500).tiles["kpi"].tolist()
    ['roi_pct', 'payback_months', 'npv', 'prob_positive']
    """
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import roi_result, tornado_table
    from analytics_lib.analysis.roi.simulation import roi_simulation, scenario_table

    inputs = _mart(data, "RoiInputs")
    values = {"hourly_rate": parse_number(hourly_rate, name="hourly_rate"),
              "realisation_rate": parse_number(realisation_rate, name="realisation_rate"),
              "seats": parse_number(seats, name="seats", allow_empty=True),
              "licence_per_seat": parse_number(licence_per_seat, name="licence_per_seat"),
              "infra_per_month": parse_number(infra_per_month, name="infra_per_month"),
              "one_off_cost": parse_number(one_off_cost, name="one_off_cost"),
              "discount_rate": parse_number(discount_rate, name="discount_rate"),
              "horizon_months": parse_number(horizon_months, name="horizon_months")}
    if values["horizon_months"] is not None and values["horizon_months"] > inputs.months:
        raise WorkbenchError(f"horizon_months={values['horizon_months']:g} is beyond the {inputs.months} months the "
                             "inputs cover: choose a shorter horizon")
    a = Assumptions(**values)
    result = roi_result(inputs, a)
    sim = roi_simulation(inputs, a, n=n_simulations, seed=seed)
    tornado = tornado_table(inputs, a)
    scen = scenario_table(inputs, scenarios, base=a)
    payback = result.payback_months
    tiles = pd.DataFrame([
        {"kpi": "roi_pct", "label": f"ROI over {a.horizon_months} months", "text": format_kpi(result.roi_pct, "pct"),
         "change_text": f"net {format_kpi(result.net, 'usd')} on costs of {format_kpi(result.costs, 'usd')}",
         "tone": "good" if result.roi_pct > 0 else "bad"},
        {"kpi": "payback_months", "label": "Payback", "text": format_kpi(payback, "months") if payback is not None
         else "not within the horizon", "change_text": result.payback_reason, "tone": "neutral"},
        {"kpi": "npv", "label": f"NPV at {a.discount_rate:.0%} a year", "text": format_kpi(result.npv, "usd"),
         "change_text": "today's value of the net cash flows", "tone": "good" if result.npv > 0 else "bad"},
        {"kpi": "prob_positive", "label": "Probability ROI > 0", "text": format_kpi(sim.prob_positive, "rate"),
         "change_text": f"{sim.n:,} Monte Carlo draws", "tone": "good" if sim.prob_positive >= 0.5 else "bad"},
    ])
    return RoiView(assumptions=a, result=result, simulation=sim, tornado=tornado, scenarios=scen, tiles=tiles)


def scenario_values(base: Mapping[str, Any], scenarios: Mapping[str, Mapping[str, Any]], name: str) -> dict:
    """The control values of a scenario: the base values with the scenario's overrides.

    Parameters
    ----------
    base : mapping of str to Any
        The calculator's control values by name.
    scenarios : mapping of str to mapping
        ``{scenario name: {control name: value}}``.
    name : str
        The scenario to apply; it may change only controls that ``base`` holds.

    Raises
    ------
    WorkbenchError
        When ``name`` is not in ``scenarios`` or its overrides name an unknown control.

    Examples
    --------
    >>> scenario_values({"hourly_rate": 100.0, "seats": None}, {"low": {"hourly_rate": 80.0}}, "low")
    {'hourly_rate': 80.0, 'seats': None}
    """
    if name not in scenarios:
        raise WorkbenchError(f"scenario {name!r} is not defined: choose one of {', '.join(scenarios)}")
    unknown = [k for k in scenarios[name] if k not in base]
    if unknown:
        raise WorkbenchError(f"scenario {name!r} changes {unknown}, which the calculator does not show")
    return {**base, **scenarios[name]}
