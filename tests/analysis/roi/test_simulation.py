"""Monte Carlo (vectorized = per-draw loop), its summary and seed, usage draws, single assumptions,
errors, and scenarios side by side."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, Assumptions
from analytics_lib.analysis.roi.result import roi_result
from analytics_lib.analysis.roi.simulation import DEFAULT_SCENARIOS, roi_simulation, scenario_table


def test_vectorized_simulation_equals_a_per_draw_loop(flat):
    a = Assumptions(seats=120, llm_spend_per_month=60.0, avoided_cost_per_hit=0.01, realisation_rate=0.9)
    sim = roi_simulation(flat, a, n=2_000, seed=3)
    drawn = [c for c in sim.draws.columns if c in ASSUMPTIONS]
    assert set(drawn) == {n for n, s in ASSUMPTIONS.items() if s.uncertain}
    for _, row in sim.draws.head(15).iterrows():
        r = roi_result(flat, a.replace(**{c: float(row[c]) for c in drawn}))
        assert row["roi_pct"] == pytest.approx(r.roi_pct, rel=1e-9, abs=1e-9)
        assert row["npv"] == pytest.approx(r.npv, rel=1e-9)
        assert (np.isnan(row["payback_months"]) and r.payback_months is None) or \
            row["payback_months"] == pytest.approx(r.payback_months)
    for name in drawn:  # triangular over the stated range
        spec, base = ASSUMPTIONS[name], getattr(a, name)
        lo, hi = (spec.low * base, spec.high * base) if spec.relative else (min(spec.low, base), max(spec.high, base))
        assert sim.draws[name].between(lo, hi).all() and sim.draws[name].std() > 0


def test_simulation_summary_and_seed(forecast):
    sim = roi_simulation(forecast, n=5_000, seed=7)
    again = roi_simulation(forecast, n=5_000, seed=7)
    other = roi_simulation(forecast, n=5_000, seed=8)
    pd.testing.assert_frame_equal(sim.draws, again.draws)
    assert not sim.draws["npv"].equals(other.draws["npv"])
    s = sim.summary.set_index("metric")
    assert list(s.index) == ["roi_pct", "npv", "payback_months"]
    np.testing.assert_allclose(s.loc["npv", ["p10", "p50", "p90"]], np.percentile(sim.draws["npv"], [10, 50, 90]))
    assert (s["p10"] <= s["p50"]).all() and (s["p50"] <= s["p90"]).fillna(True).all()
    assert sim.prob_positive == pytest.approx((sim.draws["roi_pct"] > 0).mean())
    assert "usage" in set(sim.distributions["assumption"]) and sim.draws["usage_z"].std() == pytest.approx(1, abs=0.05)


def test_usage_draws_move_value_with_the_forecast(forecast):
    """Only usage varies: NPV is monotone in the drawn quantile, in the direction of the value per session."""
    fixed = {name: None for name in ASSUMPTIONS}
    a = Assumptions(realisation_rate=1.0, licence_per_seat=0.0)
    sim = roi_simulation(forecast, a, n=500, seed=0, distributions=fixed)
    d = sim.draws.sort_values("usage_z")
    assert np.all(np.diff(d["npv"].to_numpy()) >= -1e-6)
    still = roi_simulation(forecast, a, n=50, seed=0, distributions={**fixed, "usage": None})
    assert still.draws["npv"].nunique() == 1
    assert still.draws["npv"].iloc[0] == pytest.approx(roi_result(forecast, a).npv)


def test_simulation_of_a_single_cost_assumption(flat):
    only = {name: None for name in ASSUMPTIONS if name != "one_off_cost"}
    sim = roi_simulation(flat, Assumptions(), n=300, seed=0, distributions=only)
    base = roi_result(flat, Assumptions())
    # NPV falls one for one with the one-off cost (month 0 is not discounted)
    np.testing.assert_allclose(sim.draws["npv"], base.npv - (sim.draws["one_off_cost"] - 50_000), rtol=1e-9)
    assert sim.draws["one_off_cost"].between(25_000, 100_000).all()
    assert list(sim.distributions["assumption"]) == ["one_off_cost"]


def test_simulation_errors(flat):
    with pytest.raises(WorkbenchError, match="n=0"):
        roi_simulation(flat, n=0)
    with pytest.raises(WorkbenchError, match="seed=-1"):
        roi_simulation(flat, seed=-1)
    with pytest.raises(WorkbenchError, match="unknown assumption\\(s\\) wage"):
        roi_simulation(flat, distributions={"wage": (1, 2)})


def test_scenarios_side_by_side(flat):
    base = Assumptions(realisation_rate=0.9)
    table = scenario_table(flat, base=base)
    assert table["scenario"].tolist() == list(DEFAULT_SCENARIOS)
    expected = table.set_index("scenario").loc["expected"]
    r = roi_result(flat, base)
    assert expected["npv"] == pytest.approx(r.npv) and expected["changes"] == "none (base)"
    cons = table.set_index("scenario").loc["conservative"]
    assert cons["hourly_rate"] == 80 and cons["npv"] == pytest.approx(
        roi_result(flat, base.replace(**DEFAULT_SCENARIOS["conservative"])).npv)
    assert table.set_index("scenario").loc["optimistic", "npv"] > expected["npv"] > cons["npv"]
    with pytest.raises(WorkbenchError, match="scenario 'x': unknown assumption\\(s\\) wage"):
        scenario_table(flat, {"x": {"wage": 1}})
    with pytest.raises(WorkbenchError, match="scenario 'x': realisation_rate=2"):
        scenario_table(flat, {"x": {"realisation_rate": 2}})
