"""The views compute what the dashboards show (the period before, forecasts, published forecasts,
the ROI appraisal) and turn bad control values into readable messages; formatting helpers."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dashboards_helpers import _publish

from analytics_lib import WorkbenchError
from analytics_lib.dashboards.marts import ALL_TEAMS
from analytics_lib.dashboards.views import (forecast_view, format_kpi, kpi_change, kpi_tiles, kpi_totals, mart_series,
                                            overview_view, parse_number, roi_view, scenario_values)

pytestmark = pytest.mark.usefixtures("isolated_dashboards")  # never the repository's runs or cache


def test_overview_view_compares_with_the_period_before(mart):
    v = overview_view(mart, start=dt.date(2025, 6, 15), end=dt.date(2025, 6, 28), team="team-a", granularity="D")
    assert str(v.previous) == "[2025-06-01T00:00:00+00:00, 2025-06-15T00:00:00+00:00)"
    tiles = v.tiles.set_index("kpi")
    now = kpi_totals(mart, dates=v.window, team="team-a")
    before = kpi_totals(mart, dates=v.previous, team="team-a")
    assert tiles.loc["active_users", "value"] == now["active_users"]
    assert tiles.loc["active_users", "change"] == pytest.approx(now["active_users"] / before["active_users"] - 1)
    assert tiles.loc["cache_hit_rate", "change"] == pytest.approx(now["cache_hit_rate"] - before["cache_hit_rate"])
    assert len(v.kpis) == 14 and v.funnel["entities"].iloc[0] > 0
    assert (v.bottlenecks["team"] == "team-a").all() and v.bottlenecks["rank"].is_monotonic_increasing
    assert "team-a, 2025-06-15 to 2025-06-28 (14 days)" in v.summary


def test_overview_view_marks_what_the_data_covers_only_in_part(mart):
    # the data ends on 2025-06-29 (a Sunday): a window to 2025-07-05 has 7 days without data
    v = overview_view(mart, start=dt.date(2025, 6, 16), end=dt.date(2025, 7, 5), team=ALL_TEAMS, granularity="W")
    assert "(20 days, 14 with data)" in v.summary
    tiles = v.tiles.set_index("kpi")
    assert "partial: data on 14 of 20 days" in tiles.loc["sessions", "change_text"]
    assert tiles.loc["sessions", "tone"] == "neutral" and tiles.loc["cost_usd", "tone"] == "neutral"
    assert "partial" not in tiles.loc["cache_hit_rate", "change_text"]  # a rate stays comparable
    assert v.kpis["coverage"].tolist() == [1.0, 1.0]  # the weeks shown are whole
    # a window from a Wednesday: its first week is partial
    w = overview_view(mart, start=dt.date(2025, 6, 11), end=dt.date(2025, 6, 29), team=ALL_TEAMS, granularity="W")
    assert w.kpis["coverage"].round(4).tolist() == [round(5 / 7, 4), 1.0, 1.0]
    assert "partial" not in w.tiles["change_text"].str.cat()


@pytest.mark.parametrize("controls, message", [
    ({"start": "2025-06-20", "end": "2025-06-10"}, "empty"),
    ({"start": None, "end": "2025-06-10"}, "start date is empty"),
    ({"start": "2025-06-01", "end": "2025-06-10", "team": "team-z"}, "team='team-z' is not in the data"),
    ({"start": "2024-01-01", "end": "2024-01-31"},
     r"no events from 2024-01-01 to 2024-01-31: the data covers \d{4}-\d\d-\d\d to 2025-06-29"),
    ({"start": "2025-06-01", "end": "2025-06-10", "granularity": "Q"}, "granularity='Q'"),
])
def test_overview_view_explains_bad_controls(mart, controls, message):
    with pytest.raises(WorkbenchError, match=message):
        overview_view(mart, **{"team": ALL_TEAMS, "granularity": "D", **controls})


def test_forecast_view_single_model_is_the_library_forecast(mart):
    from analytics_lib.forecast.estimator import Forecaster
    from analytics_lib.forecast.planning import capacity_table

    memo: dict = {}
    v = forecast_view(mart, metric="sessions", team="team-b", horizon=7, model="theta", capacity="40", memo=memo)
    series = mart_series(mart, "sessions", team="team-b")
    expected = Forecaster(models=["theta"], granularity="D").fit(series).predict(horizon=7, level=[80, 95])
    np.testing.assert_allclose(v.forecast["forecast"], expected["theta"])
    np.testing.assert_allclose(v.forecast["hi-95"], expected["theta-hi-95"])
    cap = capacity_table(v.forecast, 40.0, level=95)
    pd.testing.assert_frame_equal(v.capacity, cap)
    tiles = v.tiles.set_index("kpi")
    assert tiles.loc["forecast_total", "text"] == format_kpi(expected["theta"].sum(), "count")
    assert set(v.scores["model"]) == {"theta", "seasonal_naive"}
    again = forecast_view(mart, metric="sessions", team="team-b", horizon=7, model="theta", capacity="", memo=memo)
    assert len(memo) == 1 and again.forecast is v.forecast and again.capacity.empty  # no refit


def test_forecast_view_auto_picks_by_backtest(mart):
    v = forecast_view(mart, metric="events", horizon=7, model="auto")
    assert v.model in set(v.scores["model"]) and len(v.forecast) == 7
    assert "Fitted now" in v.origin


@pytest.mark.parametrize("controls, message", [
    ({"horizon": 40}, "choose a shorter horizon"),
    ({"capacity": "-5"}, "capacity='-5' must be above 0"),
    ({"capacity": "lots"}, "capacity='lots' is not a number"),
    ({"model": "oracle"}, "model='oracle' is not offered"),
    ({"metric": "vibes"}, "metric='vibes' is not offered"),
])
def test_forecast_view_explains_bad_controls(mart, controls, message):
    with pytest.raises(WorkbenchError, match=message):
        forecast_view(mart, **{"metric": "events", "horizon": 7, "model": "theta", **controls})


def test_forecast_view_shows_a_matching_published_forecast(mart, tmp_path):
    from analytics_lib.forecast.selection import auto_forecast

    import dataclasses

    store = "sqlite:////data/store.db"
    mart = dataclasses.replace(mart, meta=mart.meta.assign(source=store))  # as if built from that store
    series = mart_series(mart, "events")
    res = auto_forecast(series, horizon=7, models=["theta", "seasonal_naive"], n_windows=2)
    run = _publish(tmp_path, "weekly-forecast", "r1", {"forecast": res.forecast, "backtest_scores": res.scores},
                   notebook="notebooks/forecasting.ipynb",
                   parameters={"source": store, "metric": "events", "agg": "sum", "granularity": "D", "horizon": 7})
    v = forecast_view(mart, metric="events", horizon=5, model="auto", reports=tmp_path)
    assert "published by job weekly-forecast, run r1" in v.origin
    np.testing.assert_allclose(v.forecast["forecast"], res.forecast["forecast"].head(5))
    assert v.scores["model"].tolist() == res.scores["model"].tolist()
    longer = forecast_view(mart, metric="events", horizon=10, model="auto", reports=tmp_path)  # beyond the run
    assert "Fitted now" in longer.origin and run.exists()
    other = forecast_view(dataclasses.replace(mart, meta=mart.meta.assign(source="sqlite:////other.db")),
                          metric="events", horizon=5, model="auto", reports=tmp_path)
    assert "Fitted now" in other.origin  # a forecast of another store is not shown


def test_roi_view_is_the_library_appraisal(inputs):
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import roi_result
    from analytics_lib.analysis.roi.simulation import roi_simulation

    v = roi_view(inputs, hourly_rate="150", realisation_rate=0.6, seats="", horizon_months=24, n_simulations=2000,
                 seed=3)
    a = Assumptions(hourly_rate=150.0, realisation_rate=0.6, horizon_months=24)
    r, s = roi_result(inputs, a), roi_simulation(inputs, a, n=2000, seed=3)
    tiles = v.tiles.set_index("kpi")
    assert tiles.loc["roi_pct", "text"] == format_kpi(r.roi_pct, "pct")
    assert tiles.loc["npv", "text"] == format_kpi(r.npv, "usd")
    assert tiles.loc["prob_positive", "text"] == format_kpi(s.prob_positive, "rate")
    assert v.scenarios["scenario"].tolist() == ["conservative", "expected", "optimistic"]


@pytest.mark.parametrize("controls, message", [
    ({"hourly_rate": -10}, "hourly_rate=-10.0 is out of range"),
    ({"discount_rate": "-0.05"}, "discount_rate=-0.05 is out of range"),
    ({"realisation_rate": 1.5}, "realisation_rate=1.5 is out of range"),
    ({"seats": "many"}, "seats='many' is not a number"),
    ({"horizon_months": 90}, "beyond the 60 months"),
])
def test_roi_view_explains_bad_assumptions(inputs, controls, message):
    with pytest.raises(WorkbenchError, match=message):
        roi_view(inputs, n_simulations=200, **controls)


def test_formatting_helpers():
    assert [format_kpi(v, k) for v, k in [(1234.4, "count"), (0.1234, "rate"), (999.5, "usd"), (-2500, "usd"),
                                          (np.nan, "ms"), (3.14159, "score")]] == \
        ["1,234", "12.3%", "$999.50", "-$2,500", "–", "3.14"]
    assert kpi_change(5, 0, "count") == (pytest.approx(np.nan, nan_ok=True), "new")
    assert kpi_change(1, None, "count")[1] == "no previous data"
    tiles = kpi_tiles(pd.Series({"latency_p95": 120.0}), pd.Series({"latency_p95": 100.0}), kpis=["latency_p95"])
    assert tiles["tone"].tolist() == ["bad"]  # latency going up is bad
    assert parse_number("1,500", name="x") == 1500.0
    with pytest.raises(WorkbenchError, match="x is empty"):
        parse_number(" ", name="x")
    assert scenario_values({"a": 1, "b": 2}, {"s": {"b": 3}}, "s") == {"a": 1, "b": 3}
    with pytest.raises(WorkbenchError, match="not defined"):
        scenario_values({"a": 1}, {}, "s")


@pytest.fixture(scope="module")
def experiments(events):
    from analytics_lib.dashboards.marts import experiment_mart
    from analytics_lib.data.synthetic.experiments import plant_experiments

    p = plant_experiments(events)
    broken = p.assignments[~((p.assignments["experiment"] == "cache-aa") & (p.assignments["variant"] == "b"))
                           | (p.assignments.index % 3 == 0)]  # two thirds of cache-aa's b lost: a mismatch
    return p, experiment_mart(p.events, broken)


def test_experiment_view_shows_the_effects_of_the_chosen_experiment(experiments):
    from analytics_lib.analysis.experiments import experiment_results
    from analytics_lib.dashboards.marts import EXPERIMENT_GUARDRAILS, EXPERIMENT_PRIMARY
    from analytics_lib.dashboards.views import experiment_view

    planted, mart = experiments
    assert mart.experiments == ["prompt-v2", "cache-aa"]
    assert "sample ratio mismatch" in mart.status.set_index("experiment").loc["cache-aa", "message"]
    v = experiment_view(mart)  # the first experiment by default
    direct = experiment_results(planted.events, planted.assignments, "prompt-v2", metrics=EXPERIMENT_PRIMARY,
                                guardrails=EXPERIMENT_GUARDRAILS).effects
    assert v.experiment == "prompt-v2" and v.effects["decision"].tolist() == direct["decision"].tolist()
    tiles = v.tiles.set_index("kpi")
    assert tiles.loc["users", "text"] == f"{sum(len(g) for _, g in planted.assignments[planted.assignments['experiment'] == 'prompt-v2'].groupby('variant')):,}"
    assert set(v.looks["metric"]) == {*EXPERIMENT_PRIMARY, *EXPERIMENT_GUARDRAILS}
    with pytest.raises(WorkbenchError, match="sample ratio mismatch"):
        experiment_view(mart, experiment="cache-aa")
    with pytest.raises(WorkbenchError, match="is not in the assignment table: choose one of prompt-v2, cache-aa"):
        experiment_view(mart, experiment="nope")


def test_delivery_view_shows_the_four_keys_their_tiers_and_the_effect():
    from analytics_lib.analysis.delivery import dora_summary
    from analytics_lib.dashboards.marts import delivery_mart
    from analytics_lib.dashboards.views import delivery_view
    from analytics_lib.data.synthetic.delivery import synthetic_delivery

    s = synthetic_delivery(end="2025-06-30", seed=0)
    mart = delivery_mart(s.data)
    v = delivery_view(mart, team="team-b", metric="lead_time_hours", days=56)
    want = dora_summary(s.data, start="2025-05-04", end="2025-06-29").set_index("team").loc["team-b"]
    tiles = v.tiles.set_index("kpi")
    assert tiles.loc["lead_time", "text"] == f"{want['lead_time_hours']:,.1f} h"
    assert tiles.loc["lead_time", "change_text"] == f"DORA tier: {want['lead_time_tier']}"
    assert tiles.loc["change_failure_rate", "text"] == f"{want['change_failure_rate']:.1%}"
    effect = mart.effect.effects.set_index("metric").loc["lead_time"]
    assert tiles.loc["effect", "text"] == f"{effect['relative']:+.1%}" and tiles.loc["effect", "tone"] == "good"
    assert set(v.trend["team"]) == {"team-b"} and v.trend_plot["metric"] == "lead_time_hours"
    assert set(v.event_study["metric"]) == {"lead_time"} and len(v.tiers) == 10
    v2 = delivery_view(mart, metric="change_failure_rate")
    assert "no significant effect" in v2.tiles.set_index("kpi").loc["effect", "change_text"]
    for bad, match in (({"team": "nope"}, "has no deployments"), ({"metric": "speed"}, "choose one of"),
                       ({"days": 3}, "at least 7 days")):
        with pytest.raises(WorkbenchError, match=match):
            delivery_view(mart, **bad)
