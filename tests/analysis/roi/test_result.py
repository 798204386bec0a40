"""``roi_result``: cash flows by their definitions, payback, NPV and IRR against numpy-financial,
properties of ROI in every assumption, break-even values, tornado tables and the tables to date
by team and feature."""
from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from roi_helpers import SETTINGS

from analytics_lib import WorkbenchError
from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, Assumptions
from analytics_lib.analysis.roi.result import break_even_table, roi_result, tornado_table


def test_result_payback_matches_a_loop_over_its_cash_flows(flat):
    res = roi_result(flat, Assumptions(realisation_rate=1.0, licence_per_seat=5, one_off_cost=20_000))
    cum, found = 0.0, None
    for m, net in enumerate(res.cashflows["net_usd"]):
        if cum < 0 <= cum + net and m > 0:
            found = m - 1 + (-cum) / net
            break
        cum += net
    assert found is not None and res.payback_months == pytest.approx(found)
    assert res.cashflows["cumulative_net_usd"].iloc[-1] == pytest.approx(res.net)


def test_result_npv_and_irr_match_numpy_financial(flat):
    a = Assumptions(realisation_rate=1.0, licence_per_seat=5, one_off_cost=20_000, discount_rate=0.08)
    res = roi_result(flat, a)
    net = res.cashflows["net_usd"].to_numpy()
    assert res.npv == pytest.approx(npf.npv(1.08 ** (1 / 12) - 1, net), rel=1e-9)
    assert res.cashflows["discounted_net_usd"].sum() == pytest.approx(res.npv)
    assert res.irr == pytest.approx((1 + npf.irr(net)) ** 12 - 1, rel=1e-6)
    assert res.net == pytest.approx(net.sum()) and res.costs == pytest.approx(res.cashflows["costs_usd"].sum())
    assert res.roi_pct == pytest.approx(100 * res.net / res.costs)
    no_irr = roi_result(flat, Assumptions())  # never positive: no sign change
    assert no_irr.irr is None and "never change sign" in no_irr.irr_reason


def test_cashflow_components_follow_the_definitions(flat):
    a = Assumptions(seats=100, llm_spend_per_month=500.0, avoided_cost_per_hit=0.01, horizon_months=24)
    cf = roi_result(flat, a).cashflows
    mo = flat.monthly.iloc[:24]
    manual = (mo["manual_minutes_actual"] + mo["manual_minutes_forecast"]).to_numpy()
    session = (mo["session_minutes_actual"] + mo["session_minutes_forecast"]).to_numpy()
    hits = (mo["cache_hits_actual"] + mo["cache_hits_forecast"]).to_numpy()
    np.testing.assert_allclose(cf["time_value_usd"].iloc[1:], 100.0 * (0.7 * manual - session) / 60)
    np.testing.assert_allclose(cf["cache_savings_usd"].iloc[1:], 0.01 * hits)
    assert cf["llm_usd"].iloc[1:].eq(500.0).all() and cf["licence_usd"].iloc[1:].eq(2000.0).all()
    assert cf["infra_usd"].iloc[1:].eq(2000.0).all() and cf["one_off_usd"].iloc[0] == 50_000
    assert cf["kind"].iloc[0] == "one-off" and len(cf) == 25


# ============================================================================================
# Properties of ROI in each assumption
_values = {
    "hourly_rate": st.floats(1.0, 400.0), "realisation_rate": st.floats(0.0, 1.0),
    "seats": st.integers(0, 2000), "licence_per_seat": st.floats(0.0, 100.0),
    "infra_per_month": st.floats(0.0, 20_000.0), "one_off_cost": st.floats(0.0, 500_000.0),
    "llm_spend_per_month": st.floats(0.0, 5_000.0), "avoided_cost_per_hit": st.floats(0.0, 0.5),
    "discount_rate": st.floats(0.0, 0.5), "horizon_months": st.integers(1, 48),
}


assumptions_st = st.builds(Assumptions, **{k: (st.one_of(st.none(), v) if ASSUMPTIONS[k].default is None else v)
                                           for k, v in _values.items()})
COST_LIKE = ["seats", "licence_per_seat", "infra_per_month", "one_off_cost", "llm_spend_per_month"]


def _pair(name: str, data) -> tuple[float, float]:
    x, y = data.draw(_values[name]), data.draw(_values[name])
    return min(x, y), max(x, y)


@SETTINGS
@given(assumptions_st)
def test_roi_sign_matches_benefits_minus_costs(flat, a):
    r = roi_result(flat, a)
    assume(r.costs > 0)
    assert np.sign(r.roi_pct) == np.sign(r.benefits - r.costs)
    undiscounted = roi_result(flat, a.replace(discount_rate=0.0))
    assert undiscounted.npv == pytest.approx(r.net, rel=1e-9, abs=1e-6)


@SETTINGS
@given(assumptions_st, st.data())
def test_roi_rises_with_realisation_and_cache_value(flat, a, data):
    for name in ("realisation_rate", "avoided_cost_per_hit"):
        lo, hi = _pair(name, data)
        r_lo, r_hi = roi_result(flat, a.replace(**{name: lo})), roi_result(flat, a.replace(**{name: hi}))
        assume(r_lo.costs > 0)
        assert r_hi.roi_pct >= r_lo.roi_pct - 1e-9
        assert r_hi.npv >= r_lo.npv - 1e-6


@SETTINGS
@given(assumptions_st, st.data())
def test_roi_in_the_hourly_rate_follows_the_sign_of_the_net_time_saved(flat, a, data):
    lo, hi = _pair("hourly_rate", data)
    r_lo, r_hi = roi_result(flat, a.replace(hourly_rate=lo)), roi_result(flat, a.replace(hourly_rate=hi))
    assume(r_lo.costs > 0)
    net_hours = r_lo.cashflows["hours_saved"].sum()
    assert (r_hi.roi_pct - r_lo.roi_pct) * np.sign(net_hours) >= -1e-9
    assert r_hi.costs == pytest.approx(r_lo.costs)


@SETTINGS
@given(assumptions_st, st.sampled_from(COST_LIKE), st.data())
def test_more_cost_lowers_npv_and_moves_roi_against_the_benefits(flat, a, name, data):
    lo, hi = _pair(name, data)
    r_lo, r_hi = roi_result(flat, a.replace(**{name: lo})), roi_result(flat, a.replace(**{name: hi}))
    assume(r_lo.costs > 0)
    assert r_hi.costs >= r_lo.costs - 1e-9 and r_hi.npv <= r_lo.npv + 1e-6
    assert r_hi.benefits == pytest.approx(r_lo.benefits)
    # ROI = benefits / costs - 1: falls with costs when benefits are positive, rises when negative
    assert (r_hi.roi_pct - r_lo.roi_pct) * np.sign(r_lo.benefits) <= 1e-9


@SETTINGS
@given(assumptions_st, st.data())
def test_discount_rate_changes_npv_not_roi(flat, a, data):
    lo, hi = _pair("discount_rate", data)
    r_lo, r_hi = roi_result(flat, a.replace(discount_rate=lo)), roi_result(flat, a.replace(discount_rate=hi))
    assert r_hi.roi_pct == pytest.approx(r_lo.roi_pct, nan_ok=True) and r_hi.net == pytest.approx(r_lo.net)
    if (r_lo.cashflows["net_usd"].iloc[1:] >= 0).all():
        assert r_hi.npv <= r_lo.npv + 1e-6


# ============================================================================================
# Break-even
@SETTINGS
@given(assumptions_st)
def test_break_even_values_really_give_zero_roi(flat, a):
    be = break_even_table(flat, a).set_index("assumption")
    checked = 0
    for name, row in be.iterrows():
        if not row["feasible"]:
            continue
        value = int(round(row["break_even"])) if ASSUMPTIONS[name].integer else row["break_even"]
        r = roi_result(flat, a.replace(**{name: value}))
        assert r.benefits == pytest.approx(r.costs, rel=1e-9, abs=1e-6), name
        assert abs(r.roi_pct) < 1e-7
        checked += 1
    assert set(be.index) == {"hourly_rate", "realisation_rate", "licence_per_seat"}


def test_break_even_notes_and_feasibility(flat):
    be = break_even_table(flat, Assumptions()).set_index("assumption")
    assert be["feasible"].dtype == bool
    rr = be.loc["realisation_rate"]
    assert rr["feasible"] == (0 <= rr["break_even"] <= 1) and "realisation rates above" in rr["note"]
    free = break_even_table(flat, Assumptions(realisation_rate=0.0)).set_index("assumption")
    licence = free.loc["licence_per_seat"]
    assert not licence["feasible"] and "even with free licences" in licence["note"]
    assert "lowers ROI" in free.loc["hourly_rate", "note"]  # time in sessions exceeds the realised effort


# ============================================================================================
# Tornado
def test_tornado_swings_every_assumption_one_at_a_time(forecast):
    a = Assumptions(realisation_rate=0.9)
    t = tornado_table(forecast, a)
    assert set(t["assumption"]) == set(ASSUMPTIONS) | {"usage"}
    assert t["npv_swing"].is_monotonic_decreasing
    base = roi_result(forecast, a)
    assert t.attrs["base_npv"] == pytest.approx(base.npv)
    rows = t.set_index("assumption")
    assert rows.loc["hourly_rate", "npv_low"] == pytest.approx(roi_result(forecast, a.replace(hourly_rate=70)).npv)
    assert rows.loc["realisation_rate", "roi_high_pct"] == pytest.approx(
        roi_result(forecast, a.replace(realisation_rate=1.0)).roi_pct)
    longest = roi_result(forecast, a.replace(horizon_months=48))
    assert rows.loc["horizon_months", "npv_high"] == pytest.approx(longest.npv)
    assert rows.loc["discount_rate", "roi_low_pct"] == pytest.approx(base.roi_pct)
    for name in ASSUMPTIONS:  # the base lies within each row's range
        lo, hi = rows.loc[name, ["npv_low", "npv_high"]]
        assert min(lo, hi) - 1e-6 <= base.npv <= max(lo, hi) + 1e-6 or name == "horizon_months"
    assert rows.loc["usage", "low"] < rows.loc["usage", "base"] < rows.loc["usage", "high"]


def test_tornado_ranges_can_be_overridden(flat):
    t = tornado_table(flat, Assumptions(), ranges={"hourly_rate": (0.5, 2.0), "seats": None})
    assert "seats" not in set(t["assumption"]) and "usage" not in set(t["assumption"])  # flat: no usage row
    row = t.set_index("assumption").loc["hourly_rate"]
    assert (row["low"], row["high"]) == (50.0, 200.0)
    with pytest.raises(WorkbenchError, match="ranges\\['realisation_rate'\\]"):
        tornado_table(flat, Assumptions(), ranges={"realisation_rate": (0.9, 0.1)})
    with pytest.raises(WorkbenchError, match="unknown assumption 'wage'"):
        tornado_table(flat, Assumptions(), ranges={"wage": (1, 2)})


# ============================================================================================
# To date, by team and feature
def test_to_date_and_group_tables_reconcile(flat):
    a = Assumptions(realisation_rate=0.9, seats=None)
    r = roi_result(flat, a)
    for t in (r.by_team, r.by_feature):
        assert t["benefits_usd"].sum() == pytest.approx(r.to_date["benefits"])
        assert t["costs_usd"].sum() == pytest.approx(r.to_date["costs"])
        assert t["benefits_usd"].is_monotonic_decreasing
    assert r.to_date["months"] == pytest.approx(flat.observed_months) and 2.9 < flat.observed_months < 3.0
    # the one-off cost is in the costs to date in full, licences follow seat-months
    assert r.by_team["fixed_usd"].sum() == pytest.approx(50_000 + 2_000 * flat.observed_months)
    assert r.by_team["licence_usd"].sum() == pytest.approx(20 * flat.by_team["seat_months"].sum())
