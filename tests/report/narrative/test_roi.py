"""The ROI executive summary is computed from the results."""
from __future__ import annotations

from analytics_lib.analysis.roi.assumptions import Assumptions
from analytics_lib.analysis.roi.result import break_even_table, roi_result
from analytics_lib.analysis.roi.simulation import roi_simulation
from analytics_lib.report.narrative import executive_summary


def test_executive_summary_is_computed_from_the_results(flat):
    a = Assumptions(realisation_rate=1.0, licence_per_seat=5, one_off_cost=20_000)
    r = roi_result(flat, a)
    sim = roi_simulation(flat, a, n=1_000, seed=0)
    text = executive_summary(r, sim, break_even_table(flat, a))
    assert f"an ROI of {r.roi_pct:,.0f} %" in text
    assert f"pays back after {r.payback_months:,.1f} months" in text
    assert 0.01 < sim.prob_positive < 0.99
    assert f"the probability that ROI is positive is {100 * sim.prob_positive:.0f} %" in text
    assert f"{r.cashflows['hours_saved'].sum():,.0f} hours" in text and "By team" in text
    bad = executive_summary(roi_result(flat, Assumptions(realisation_rate=0.0)))
    assert "does not pay for itself" in bad and "more in sessions" in bad and "does not pay back" in bad
