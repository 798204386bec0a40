"""ROI measurement and inputs: ``roi_measures`` against the generator's ground truth, by team, feature
and month; missing groups and optional columns; clear errors; ``roi_inputs`` reconciling with the
measures and carrying the forecast and its interval."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.roi.assumptions import Assumptions
from analytics_lib.analysis.roi.inputs import roi_inputs, roi_measures
from analytics_lib.analysis.roi.result import roi_result


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
