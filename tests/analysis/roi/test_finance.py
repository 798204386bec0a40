"""Financial helpers against numpy-financial (NPV, IRR) and a hand-computed table (payback)."""
from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from roi_helpers import SETTINGS

from analytics_lib.analysis.roi.finance import internal_rate_of_return, net_present_value, payback_period


def test_payback_against_a_hand_computed_table():
    flows = [-1000, 200, 300, 400, 500]
    # cumulative: -1000, -800, -500, -100, +400 -> crosses in month 4: 3 + 100 / 500
    pb = payback_period(flows)
    assert pb.months == pytest.approx(3.2) and "month 4" in pb.reason
    assert payback_period([-1000, 1000]).months == pytest.approx(1.0)
    assert payback_period([0, 50, 50]).months == 0.0
    late = payback_period([0, -100, 50, 100])  # no outlay, but the first month loses: 1 + 50 / 100
    assert late.months == pytest.approx(2.5)
    never = payback_period([-1000, 100, 100])
    assert never.months is None and "-$800" in never.reason and "8.0 more months" in never.reason
    assert "does not pay back at this rate" in payback_period([-1000, 100, -10]).reason


@SETTINGS
@given(st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=2, max_size=40),
       st.floats(0.0, 0.5))
def test_npv_matches_numpy_financial(flows, rate):
    expected = npf.npv((1 + rate) ** (1 / 12) - 1, flows)
    assert net_present_value(flows, annual_rate=rate) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@SETTINGS
@given(st.floats(1e3, 1e6), st.lists(st.one_of(st.just(0.0), st.floats(1.0, 1e5)), min_size=3, max_size=48))
def test_irr_matches_numpy_financial_on_conventional_flows(outlay, inflows):
    flows = [-outlay] + inflows
    monthly = npf.irr(flows)
    # within the scanned range (up to +10,000 % a month); below -50 % a month the annualised rate
    # is -1 to within rounding, so the monthly rate cannot be compared after annualising
    assume(np.isfinite(monthly) and -0.5 < monthly < 100)
    ours = internal_rate_of_return(flows)
    assert ours is not None
    ours_monthly = (1 + ours) ** (1 / 12) - 1
    npv = lambda r: sum(v / (1 + r) ** t for t, v in enumerate(flows))  # noqa: E731
    # the same root; np.roots (numpy-financial) loses digits on high-degree polynomials, so ours
    # must be at least as good a root as theirs and agree to 1e-4
    assert ours_monthly == pytest.approx(monthly, rel=1e-4, abs=1e-6)
    assert abs(npv(ours_monthly)) <= abs(npv(monthly)) + 1e-6 * outlay
