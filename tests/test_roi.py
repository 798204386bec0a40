"""ROI: assumptions, measurement against the generator's ground truth, cash flows, NPV/IRR against
numpy-financial, payback by hand, properties of ROI in every assumption, break-even, tornado,
Monte Carlo (vectorized = per-draw loop), scenarios, the ROI figures and the notebook."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import numpy_financial as npf  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import ROOT  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analytics_lib import WorkbenchError  # noqa: E402
from analytics_lib.report import plots  # noqa: E402
from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, Assumptions  # noqa: E402
from analytics_lib.analysis.roi.simulation import DEFAULT_SCENARIOS, roi_simulation, scenario_table
from analytics_lib.analysis.roi.result import break_even_table, roi_result, tornado_table
from analytics_lib.report.narrative import executive_summary
from analytics_lib.analysis.roi.finance import internal_rate_of_return, net_present_value, payback_period
from analytics_lib.analysis.roi.inputs import roi_inputs, roi_measures
from analytics_lib.report.params import roi_parameters

ROI_NOTEBOOK = ROOT / "notebooks" / "roi.ipynb"
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)  # the same examples on every run


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def flat(sample_small):
    """Inputs without usage uncertainty (flat projection of the last 28 days)."""
    return roi_inputs(sample_small.events, months=48, projection="flat")


@pytest.fixture(scope="module")
def forecast(sample_small):
    return roi_inputs(sample_small.events, months=48)


# ============================================================================================
# Assumptions
def test_every_assumption_has_unit_default_rationale_and_range():
    a = Assumptions()
    assert list(ASSUMPTIONS) == [f for f in a.__dataclass_fields__]
    for name, spec in ASSUMPTIONS.items():
        assert spec.unit and spec.meaning and len(spec.rationale) > 40, name
        assert getattr(a, name) == spec.default, name
        assert spec.low <= spec.high, name
    table = a.table()
    assert table["assumption"].tolist() == list(ASSUMPTIONS)
    assert table[["unit", "default", "range", "monte_carlo", "rationale"]].ne("").all().all()
    assert table.set_index("assumption").loc["seats", "value"] == "from data"


@pytest.mark.parametrize("changes, message", [
    ({"hourly_rate": -5}, r"hourly_rate=-5 is out of range: .* must be above 0 .*negative value would give a mean"),
    ({"hourly_rate": 0}, r"hourly_rate=0 is out of range"),
    ({"hourly_rate": "100"}, r"hourly_rate='100' is not a number"),
    ({"hourly_rate": True}, r"hourly_rate=True is not a number"),
    ({"hourly_rate": float("nan")}, r"not a finite number"),
    ({"hourly_rate": None}, r"hourly_rate=None is not allowed"),
    ({"realisation_rate": 1.2}, r"realisation_rate=1.2 is out of range: .* at most 1"),
    ({"discount_rate": 1.0}, r"discount_rate=1.0 is out of range: .* below 1"),
    ({"horizon_months": 0}, r"horizon_months=0 is out of range"),
    ({"horizon_months": 12.5}, r"horizon_months=12.5 must be a whole number"),
    ({"horizon_months": 121}, r"at most 120"),
    ({"seats": -1}, r"seats=-1 is out of range"),
    ({"one_off_cost": -1.0}, r"one_off_cost=-1.0 is out of range"),
    ({"avoided_cost_per_hit": -0.01}, r"avoided_cost_per_hit=-0.01 is out of range"),
])
def test_bad_assumptions_are_clear_errors(changes, message):
    with pytest.raises(WorkbenchError, match=message):
        Assumptions(**changes)


def test_the_user_documentation_lists_every_assumption_with_unit_and_default():
    text = (ROOT / "docs" / "roi.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")}
    for name, spec in ASSUMPTIONS.items():
        assert f"`{name}`" in rows, f"docs/roi.md has no row for {name}"
        cells = [c.strip() for c in rows[f"`{name}`"].split("|")]
        assert cells[2] == spec.unit, name
        default = "from data" if spec.default is None else spec.default
        assert cells[3] == "from data" if default == "from data" else float(cells[3].replace(",", "")) == default, name
        assert cells[4] == spec.range_text(), name
        assert cells[5] == ("triangular" if spec.uncertain else "fixed"), name
    for fn in ("roi_inputs", "roi_result", "tornado_table", "break_even_table", "roi_simulation", "scenario_table",
               "roi_measures", "executive_summary", "plot_cashflows", "plot_tornado", "plot_roi_distribution"):
        assert fn in text, fn


def test_replace_checks_names_and_values():
    a = Assumptions()
    assert a.replace(seats=250, horizon_months=24.0).horizon_months == 24
    with pytest.raises(WorkbenchError, match="unknown assumption.*hourly_wage"):
        a.replace(hourly_wage=10)
    with pytest.raises(WorkbenchError, match="licence_per_seat=-3"):
        a.replace(licence_per_seat=-3)


# ============================================================================================
# Measurement
def test_measures_match_the_ground_truth(sample_small):
    ev, truth = sample_small.events, sample_small.truth
    m = roi_measures(ev, granularity=None).iloc[0]
    assert m["manual_minutes"] == pytest.approx(truth.total_manual_minutes_accepted, rel=0.01)
    assert m["cache_hits"] == truth.n_cache_hits
    assert m["avoided_llm_usd"] == pytest.approx(truth.avoided_llm_cost_usd, rel=0.01)
    assert m["llm_usd"] == pytest.approx(truth.total_llm_cost_usd, rel=1e-9)
    assert m["spend_usd"] == pytest.approx(ev["cost_usd"].sum(), rel=1e-9)
    assert m["accepted"] == ev["event_type"].isin(["accept", "export"]).sum()
    # time in sessions, computed independently from the generator's session ids
    span = ev.groupby("session_id")["ts"].agg(["min", "max"])
    minutes = (span["max"] - span["min"]).dt.total_seconds().sum() / 60
    assert m["sessions"] == truth.n_sessions
    assert m["session_minutes"] == pytest.approx(minutes, rel=1e-9)
    assert m["time_saved_minutes"] == pytest.approx(m["manual_minutes"] - minutes, rel=1e-9)


def test_measures_by_team_feature_and_month_add_up(sample_small):
    ev = sample_small.events
    total = roi_measures(ev, granularity=None).iloc[0]
    cols = ["sessions", "accepted", "manual_minutes", "session_minutes", "cache_hits", "avoided_llm_usd", "llm_usd",
            "metered_usd"]
    for by, g in ((None, "M"), ("team", None), ("feature", "W"), ("team", "D")):
        part = roi_measures(ev, by=by, granularity=g)
        np.testing.assert_allclose(part[cols].sum().to_numpy(dtype=float), total[cols].to_numpy(dtype=float), rtol=1e-9)
        if by:
            assert set(part[by]) == set(ev[by].astype(str))
    monthly = roi_measures(ev, granularity="M")
    assert monthly["period"].dt.day.eq(1).all() and len(monthly) == 3


def test_missing_groups_are_kept_as_none(sample_small):
    ev = sample_small.events.copy()
    ev.loc[ev.index[:500], "team"] = pd.NA
    part = roi_measures(ev, by="team", granularity=None)
    assert "(none)" in set(part["team"])
    assert part["manual_minutes"].sum() == pytest.approx(ev["manual_minutes"].sum())


def test_optional_columns_may_be_absent(sample_small):
    """No session ids (derived with the 30-minute gap), no team, feature, model or cache flag."""
    ev = sample_small.events.iloc[:8000]
    bare = ev.drop(columns=["session_id", "team", "feature", "model", "cache_hit"])
    full, m = roi_measures(ev, granularity=None).iloc[0], roi_measures(bare, by="team", granularity=None)
    assert m["team"].tolist() == ["(none)"] and m["cache_hits"].iloc[0] == 0
    assert m["sessions"].iloc[0] == full["sessions"]  # the generator's sessions are recovered exactly
    assert m["session_minutes"].iloc[0] == pytest.approx(full["session_minutes"])


@pytest.mark.parametrize("mutate, message", [
    (lambda ev: ev.drop(columns="manual_minutes"), "ROI needs the columns manual_minutes"),
    (lambda ev: ev.assign(cost_usd=-ev["cost_usd"]), "negative values"),
    (lambda ev: ev.assign(ts=ev["ts"].dt.tz_localize(None)), "timezone-aware"),
    (lambda ev: ev.iloc[:0], "no events"),
])
def test_bad_events_are_clear_errors(sample_small, mutate, message):
    with pytest.raises(WorkbenchError, match=message):
        roi_measures(mutate(sample_small.events.iloc[:2000]))


def test_bad_measure_options(sample_small):
    with pytest.raises(WorkbenchError, match="by='model' is not supported"):
        roi_measures(sample_small.events, by="model")
    with pytest.raises(WorkbenchError, match="granularity='Q'"):
        roi_measures(sample_small.events, granularity="Q")


# ============================================================================================
# Inputs
def test_inputs_reconcile_with_the_measures(flat, forecast, sample_small):
    total = roi_measures(sample_small.events, granularity=None).iloc[0]
    for inputs in (flat, forecast):
        mo = inputs.monthly
        assert len(mo) == 48 and mo["month"].tolist() == list(range(1, 49))
        assert inputs.start == pd.Timestamp("2025-04-01", tz="UTC")
        assert mo["start"].iloc[1] == pd.Timestamp("2025-05-01", tz="UTC")
        assert mo["kind"].tolist()[:4] == ["actual", "actual", "mixed", "forecast"]
        for d in ("sessions", "manual_minutes", "session_minutes", "cache_hits", "llm_usd", "avoided_llm_usd"):
            assert mo[f"{d}_actual"].sum() == pytest.approx(total[d], rel=1e-9), d
        assert (mo["actual_days"] + mo["forecast_days"]).eq(mo["days"]).all()
        assert inputs.by_team["manual_minutes"].sum() == pytest.approx(total["manual_minutes"])
        assert inputs.by_feature["seat_months"].sum() == pytest.approx(inputs.by_team["seat_months"].sum())
        assert inputs.by_team["allocation_share"].sum() == pytest.approx(1.0)
        assert len(inputs.by_month) == 3
    # flat: the base period's mean sessions per day on every projected day, no uncertainty
    per_day = flat.units["base_sessions"] / flat.units["base_days"]
    np.testing.assert_allclose(flat.monthly["sessions_forecast"], per_day * flat.monthly["forecast_days"])
    assert flat.monthly["sessions_forecast_sd"].eq(0).all() and flat.forecast is None


def test_forecast_inputs_use_the_forecast_and_its_interval(forecast):
    fc = forecast.forecast
    assert fc["ds"].iloc[0] == pd.Timestamp("2025-06-30")  # the day after the last observed day
    bounds = forecast.monthly[["start", "end"]].apply(lambda c: c.dt.tz_localize(None))
    for _, row in forecast.monthly.iloc[2:6].iterrows():
        m = bounds.loc[row.name]
        days = fc[(fc["ds"] >= m["start"]) & (fc["ds"] < m["end"])]
        assert row["sessions_forecast"] == pytest.approx(days["ets"].clip(lower=0).sum())
        sd = (days["ets-hi-80"] - days["ets-lo-80"]).sum() / (2 * 1.2815515655446004)
        assert row["sessions_forecast_sd"] == pytest.approx(sd)
        per_session = forecast.units["manual_minutes"]
        assert row["manual_minutes_forecast"] == pytest.approx(row["sessions_forecast"] * per_session)
    assert (forecast.monthly["sessions_forecast_sd"].iloc[3:] > 0).all()


def test_inputs_errors(sample_small):
    ev = sample_small.events
    with pytest.raises(WorkbenchError, match="months=0"):
        roi_inputs(ev, months=0)
    with pytest.raises(WorkbenchError, match="projection='prophet'"):
        roi_inputs(ev, projection="prophet")
    with pytest.raises(WorkbenchError, match="is before the last event"):
        roi_inputs(ev, end="2025-05-01")
    short = ev[ev["ts"] < pd.Timestamp("2025-04-08", tz="UTC")]
    with pytest.raises(WorkbenchError, match="a forecast needs at least 14; use projection='flat'"):
        roi_inputs(short, months=12)
    assert roi_inputs(short, months=12, projection="flat").monthly["sessions_forecast"].iloc[1] > 0
    with pytest.raises(WorkbenchError, match="longer than the 48 months"):
        roi_result(roi_inputs(short, months=48, projection="flat"), Assumptions(horizon_months=60))


def test_an_end_after_the_last_event_counts_empty_days(sample_small):
    inputs = roi_inputs(sample_small.events, months=12, projection="flat", end="2025-07-15")
    assert inputs.observed_end == pd.Timestamp("2025-07-15", tz="UTC")
    assert inputs.daily["sessions"].iloc[-14:].eq(0).all()
    assert inputs.monthly["kind"].tolist()[:5] == ["actual", "actual", "actual", "mixed", "forecast"]


# ============================================================================================
# Financial helpers against numpy-financial and hand-computed tables
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
    assert never.months is None and "-800" in never.reason and "8.0 more months" in never.reason
    assert "does not pay back at this rate" in payback_period([-1000, 100, -10]).reason


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
# Monte Carlo
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


# ============================================================================================
# Scenarios, summary, parameters
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


def test_roi_parameters_check_everything_up_front(tmp_path):
    p = roi_parameters(source="sqlite://", start="2025-04-01", end="2025-06-30", team=["team-a"], hourly_rate=120,
                       scenarios={"long": {"horizon_months": 60}}, n_simulations=1000, output_dir=tmp_path / "out")
    assert p.assumptions.hourly_rate == 120 and p.months == 60 and p.output_dir.is_dir()
    assert "hourly_rate" in set(p.table()["parameter"])
    bad = [({"hourly_rate": -1}, "hourly_rate=-1 is out of range"),
           ({"n_simulations": 10}, "n_simulations=10 must be"),
           ({"scenarios": {"x": {"wage": 2}}}, "scenario 'x': unknown"),
           ({"scenarios": {"x": {"realisation_rate": 3}}}, "scenario 'x': realisation_rate=3"),
           ({"scenarios": []}, "scenarios=\\[\\] must be a non-empty dict"),
           ({"team": ""}, "team='' is not valid"),
           ({"start": "not a date"}, "start='not a date' is not a date"),
           ({"seed": -2}, "seed=-2")]
    for changes, message in bad:
        kw = {"source": "sqlite://", "start": None, "end": "today", "team": None, "output_dir": tmp_path, **changes}
        with pytest.raises(WorkbenchError, match=message):
            roi_parameters(**kw)


# ============================================================================================
# Figures
def test_roi_figures_draw_the_results(flat):
    a = Assumptions(realisation_rate=1.0, licence_per_seat=5, one_off_cost=20_000)
    r = roi_result(flat, a)
    sim = roi_simulation(flat, a, n=500, seed=0)
    figs = {"cashflows": plots.plot_cashflows(r), "cashflows_frame": plots.plot_cashflows(r.cashflows),
            "tornado": plots.plot_tornado(tornado_table(flat, a)),
            "tornado_roi": plots.plot_tornado(tornado_table(flat, a), metric="roi"),
            "distribution": plots.plot_roi_distribution(sim), "npv": plots.plot_roi_distribution(sim, metric="npv"),
            "by_team": plots.plot_value_by(r.by_team), "by_feature": plots.plot_value_by(r.by_feature),
            "scenarios": plots.plot_scenarios(scenario_table(flat, base=a))}
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
    cf_ax = figs["cashflows"].axes[0]
    assert len(cf_ax.patches) == len(r.cashflows)  # one bar per month
    assert any("payback" in t.get_text() for t in cf_ax.get_legend().get_texts())
    assert len(figs["tornado"].axes[0].patches) == 2 * len(tornado_table(flat, a))
    assert len(figs["by_team"].axes[0].get_yticklabels()) == len(r.by_team)


def test_roi_figures_survive_empty_frames_and_reject_bad_options(flat):
    r = roi_result(flat)
    for fn, frame in ((plots.plot_cashflows, r.cashflows.iloc[:0]), (plots.plot_value_by, r.by_team.iloc[:0]),
                      (plots.plot_scenarios, scenario_table(flat).iloc[:0])):
        fig = fn(frame)
        assert any(t.get_text() == "no data" for t in fig.axes[0].texts)
    with pytest.raises(WorkbenchError, match="metric='irr'"):
        plots.plot_tornado(tornado_table(flat), metric="irr")
    with pytest.raises(WorkbenchError, match="plot_value_by needs the columns"):
        plots.plot_value_by(pd.DataFrame({"group": ["a"]}))


# ============================================================================================
# The notebook, run with papermill on a small store
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{tmp_path_factory.mktemp('roi_store') / 'events.db'}"
    write_events(validate_events(synthetic_events(20_000, days=60, seed=1).events), url)
    return url


def test_notebook_is_clean_and_paired():
    import jupytext

    nb = nbformat.read(ROI_NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and all(c.outputs == [] for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)
    assert all(c.get("execution_count") is None for c in code)
    for c in code:  # thin: no definitions in the notebook
        assert not any(line.lstrip().startswith(("def ", "class ")) for line in c.source.splitlines())
    script = jupytext.read(ROI_NOTEBOOK.with_suffix(".py"))
    strip = lambda n: [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", [])))  # noqa: E731
                       for c in n.cells]
    assert strip(script) == strip(nb)
    header = lambda p: p.read_text().split("# ---", 2)[1]  # noqa: E731
    assert header(ROI_NOTEBOOK.with_suffix(".py")) == header(ROOT / "notebooks" / "workflow_analysis.py")


@pytest.mark.slow
def test_notebook_runs_and_writes_its_tables(store, tmp_path):
    import papermill

    from analytics_lib import load_events

    out_nb, out_dir = tmp_path / "roi.ipynb", tmp_path / "out"
    papermill.execute_notebook(str(ROI_NOTEBOOK), str(out_nb),
                               parameters={"source": store, "output_dir": str(out_dir), "hourly_rate": 120.0,
                                           "n_simulations": 2000, "end": "today"},
                               kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    nb = nbformat.read(out_nb, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    summary_md = [o["data"]["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
                  if "text/markdown" in o.get("data", {})]
    assert summary_md[0].startswith("Over 36 months the assistant")
    for name in ("roi_summary", "cashflows", "value_by_team", "value_by_feature", "measures_by_month", "assumptions",
                 "tornado", "break_even", "monte_carlo_summary", "scenarios"):
        assert (out_dir / f"{name}.csv").is_file() and (out_dir / f"{name}.parquet").is_file(), name
    # the written cash flows are the library's result on the same data and assumptions
    events = load_events(store, end="today").events
    expected = roi_result(roi_inputs(events, months=48), Assumptions(hourly_rate=120.0))
    written = pd.read_csv(out_dir / "cashflows.csv")
    np.testing.assert_allclose(written["net_usd"], expected.cashflows["net_usd"], rtol=1e-9)
    summary = pd.read_csv(out_dir / "roi_summary.csv").set_index("metric")["value"]
    assert summary["NPV"] == pytest.approx(expected.npv) and summary["ROI"] == pytest.approx(expected.roi_pct)
    assert expected.payback_reason and math.isfinite(expected.npv)


@pytest.mark.slow
def test_notebook_stops_in_its_first_cell_on_a_bad_assumption(store, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(ROI_NOTEBOOK), str(tmp_path / "failed.ipynb"),
                                   parameters={"source": store, "output_dir": str(tmp_path / "out"),
                                               "hourly_rate": -50.0},
                                   kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "hourly_rate=-50.0 is out of range" in str(exc.value)
    nb = nbformat.read(tmp_path / "failed.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    injected = next(i for i, c in enumerate(code) if "injected-parameters" in c.metadata.get("tags", []))
    failed = [i for i, c in enumerate(code) if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert failed == [injected + 1] and not (tmp_path / "out").exists()
