"""Dashboard building blocks without a browser: published runs, marts, views, components.

The marts must give the same numbers as the library on the raw events (``kpi_table``,
``funnel_table``, ``series_from_events``, ``roi_result``...) for any window, team and
granularity; the views must turn bad control values into readable messages; the
components must show what the views computed. The dashboards themselves are driven in a
real browser by ``tests/test_dashboards.py``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError, funnel_table, kpi_table
from analytics_lib.core.timewindow import TimeWindow
from analytics_lib.dashboards.marts import (
    ALL_TEAMS, FUNNEL_STEPS, MART_TABLES, dashboard_tables, overview_mart, overview_mart_from_tables,
    roi_input_tables, roi_inputs_from_tables)
from analytics_lib.dashboards.widgets import (
    AssumptionPanel, ChartPanel, FilterBar, ForecastBar, KpiTiles, LiveView, MessageArea, ProgressPanel, TablePanel,
    TextPanel, table_html, tile_html)
from analytics_lib.dashboards.published import (
    PublishedRun, load_overview_data, load_roi_data, published_runs, published_table)
from analytics_lib.dashboards.views import (
    dashboard_window, format_kpi, forecast_view, kpi_change, kpi_tiles, kpi_totals, mart_funnel, mart_kpis,
    mart_series, overview_view, parse_number, roi_view, scenario_values)
from analytics_lib.core.redaction import redact

KPI_COLUMNS = ["events", "active_users", "sessions", "cache_hit_rate", "error_rate", "latency_p50", "latency_p95",
               "latency_p99", "tokens_in", "tokens_out", "cost_usd", "accepts", "cost_per_accept", "satisfaction"]


@pytest.fixture(scope="module")
def events():
    from analytics_lib import validate_events
    from analytics_lib.data.synthetic.events import synthetic_events

    return validate_events(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events).events


@pytest.fixture(scope="module")
def mart(events):
    return overview_mart(events, insights=False)


@pytest.fixture(scope="module")
def inputs(events):
    from analytics_lib.analysis.roi.inputs import roi_inputs

    return roi_inputs(events, months=60)


@pytest.fixture(scope="module")
def store(events, tmp_path_factory) -> str:
    from analytics_lib import validate_events, write_events

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    write_events(validate_events(events), url)
    return url


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Never read the repository's published runs or cache."""
    monkeypatch.setenv("WORKBENCH_REPORTS", str(tmp_path / "no-runs"))
    monkeypatch.setenv("WORKBENCH_DASHBOARD_CACHE", str(tmp_path / "cache"))


def _window_events(events: pd.DataFrame, window: TimeWindow) -> pd.DataFrame:
    return events[(events["ts"] >= window.start) & (events["ts"] < window.end)]


# --------------------------------------------------------------------------------------------
# The mart gives the library's numbers
@pytest.mark.parametrize("granularity", ["D", "W", "M"])
@pytest.mark.parametrize("team", [None, "team-b"])
def test_mart_kpis_equal_kpi_table_on_the_raw_events(mart, events, granularity, team):
    sub = events if team is None else events[events["team"] == team]
    expected = kpi_table(sub, granularity=granularity)[KPI_COLUMNS]
    got = mart_kpis(mart, team=team, granularity=granularity)[KPI_COLUMNS]
    pd.testing.assert_frame_equal(got, expected, check_freq=False, check_dtype=False, rtol=1e-9)


def test_mart_kpis_of_a_window_equal_kpi_table_on_the_window(mart, events):
    window = dashboard_window("2025-05-07", "2025-06-02")
    sub = _window_events(events, window)
    sub = sub[sub["team"] == "team-a"]
    expected = kpi_table(sub, granularity="W")[KPI_COLUMNS]
    got = mart_kpis(mart, window=window, team="team-a", granularity="W")[KPI_COLUMNS]
    pd.testing.assert_frame_equal(got, expected, check_freq=False, check_dtype=False, rtol=1e-9)


def test_kpi_totals_take_the_window_as_one_period(mart, events):
    window = dashboard_window("2025-06-01", "2025-06-14")
    sub = _window_events(events, window)
    sub = sub[sub["team"] == "team-c"]
    got = kpi_totals(mart, window=window, team="team-c")
    et = sub["event_type"].astype(str)
    cache = sub[(et == "cache_query") & sub["cache_hit"].notna()]
    responses = sub.loc[et.isin(["search", "cache_query", "generation", "error"]), "latency_ms"].dropna()
    assert got["events"] == len(sub)
    assert got["active_users"] == sub["user_id"].nunique()
    assert got["sessions"] == sub["session_id"].nunique()
    assert got["cache_hit_rate"] == pytest.approx(cache["cache_hit"].astype(bool).mean(), rel=1e-12)
    assert got["latency_p95"] == pytest.approx(np.quantile(responses.to_numpy(), 0.95), rel=1e-12)
    assert got["cost_usd"] == pytest.approx(sub["cost_usd"].sum(), rel=1e-9)
    assert got["satisfaction"] == pytest.approx(sub["satisfaction"].mean(), rel=1e-12)


@pytest.mark.parametrize("team", [None, "team-d"])
def test_mart_funnel_equals_funnel_table(mart, events, team):
    sub = events if team is None else events[events["team"] == team]
    expected = funnel_table(sub, FUNNEL_STEPS, unit="session")
    got = mart_funnel(mart, team=team)
    pd.testing.assert_frame_equal(got[["step", "step_name", "entities", "conversion", "step_conversion", "drop_off"]],
                                  expected[["step", "step_name", "entities", "conversion", "step_conversion",
                                            "drop_off"]], check_dtype=False)


def test_mart_funnel_of_a_window_counts_the_sessions_starting_in_it(mart, events):
    window = dashboard_window("2025-06-03", "2025-06-09")
    starts = events[events["event_type"] == "session_start"].groupby("session_id")["ts"].min()
    entered = starts[(starts >= window.start) & (starts < window.end)].index
    expected = funnel_table(events[events["session_id"].isin(entered)], FUNNEL_STEPS, unit="session")
    got = mart_funnel(mart, window=window)
    assert got["entities"].tolist() == expected["entities"].tolist()
    assert got["entities"].iloc[0] == len(entered)


def test_mart_bottlenecks_are_the_notebook_table_per_team(mart, events):
    from analytics_lib import bottleneck_table

    expected = bottleneck_table(events, period="D", by=("event_type", "model", "team"))
    expected = expected[expected["kind"] == "step"]
    assert mart.bottlenecks["name"].tolist() == expected["name"].tolist()
    assert [n.endswith(" / " + t) for n, t in zip(mart.bottlenecks["name"], mart.bottlenecks["team"])] == \
        [True] * len(mart.bottlenecks)


def test_mart_series_equals_series_from_events(mart, events):
    from analytics_lib.forecast.series import series_from_events

    sub = events[events["team"] == "team-a"]
    for metric, (name, agg) in {"events": ("events", "sum"), "users": ("users", "sum"),
                                "sessions": ("sessions", "sum"), "cost_usd": ("cost_usd", "sum")}.items():
        expected = series_from_events(sub, name, agg=agg, granularity="W")
        got = mart_series(mart, metric, team="team-a", granularity="W")
        np.testing.assert_allclose(got["y"].to_numpy(), expected["y"].to_numpy(), rtol=1e-9, err_msg=metric)
        assert (got["ds"].to_numpy() == expected["ds"].to_numpy()).all()


def test_mart_tables_survive_parquet(mart, tmp_path):
    for name in MART_TABLES["overview"]:
        getattr(mart, name).to_parquet(tmp_path / f"{name}.parquet", index=False)
    back = overview_mart_from_tables({n: pd.read_parquet(tmp_path / f"{n}.parquet") for n in MART_TABLES["overview"]})
    pd.testing.assert_frame_equal(mart_kpis(back, team="team-b", granularity="W"),
                                  mart_kpis(mart, team="team-b", granularity="W"))
    assert back.teams == mart.teams and back.last_day == mart.last_day


def test_roi_inputs_survive_parquet(inputs, tmp_path):
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import roi_result
    from analytics_lib.analysis.roi.simulation import roi_simulation

    for name, frame in roi_input_tables(inputs).items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    back = roi_inputs_from_tables({n: pd.read_parquet(tmp_path / f"{n}.parquet") for n in MART_TABLES["roi"]})
    a = Assumptions(hourly_rate=120.0, horizon_months=48)
    r1, r2 = roi_result(inputs, a), roi_result(back, a)
    assert (r1.npv, r1.roi_pct, r1.payback_months) == pytest.approx((r2.npv, r2.roi_pct, r2.payback_months))
    assert roi_simulation(back, a, n=500, seed=1).prob_positive == \
        roi_simulation(inputs, a, n=500, seed=1).prob_positive
    assert back.notes == inputs.notes and back.months == inputs.months


def test_dashboard_tables_names_are_prefixed_and_complete(events):
    tables = dashboard_tables(events.head(5000), parts=["overview"], insights=False)
    assert sorted(tables) == sorted(f"dash_{n}" for n in MART_TABLES["overview"])
    with pytest.raises(WorkbenchError, match="parts"):
        dashboard_tables(events, parts=["nope"])


# --------------------------------------------------------------------------------------------
# Views and what they do with bad input
def test_overview_view_compares_with_the_period_before(mart):
    v = overview_view(mart, start=dt.date(2025, 6, 15), end=dt.date(2025, 6, 28), team="team-a", granularity="D")
    assert str(v.previous) == "[2025-06-01T00:00:00+00:00, 2025-06-15T00:00:00+00:00)"
    tiles = v.tiles.set_index("kpi")
    now = kpi_totals(mart, window=v.window, team="team-a")
    before = kpi_totals(mart, window=v.previous, team="team-a")
    assert tiles.loc["active_users", "value"] == now["active_users"]
    assert tiles.loc["active_users", "change"] == pytest.approx(now["active_users"] / before["active_users"] - 1)
    assert tiles.loc["cache_hit_rate", "change"] == pytest.approx(now["cache_hit_rate"] - before["cache_hit_rate"])
    assert len(v.kpis) == 14 and v.funnel["entities"].iloc[0] > 0
    assert (v.bottlenecks["team"] == "team-a").all() and v.bottlenecks["rank"].is_monotonic_increasing
    assert "team-a, 2025-06-15 to 2025-06-28 (14 days)" in v.summary


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
    expected = Forecaster(models=["theta"], freq="D").fit(series).predict(h=7, level=[80, 95])
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
    res = auto_forecast(series, h=7, models=["theta", "seasonal_naive"], n_windows=2)
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


def test_redact_hides_passwords_everywhere():
    text = "postgresql+psycopg://ana:s3cr@t@db/x and mysql://bob:pw@h/y and sqlite:////tmp/a.db"
    out = redact(text)
    assert "s3cr" not in out and ":pw@" not in out and "sqlite:////tmp/a.db" in out
    m = MessageArea()
    m.error("cannot connect to postgresql://ana:hunter2@db:5432/x")
    assert "hunter2" not in m.value and "ana:***@db" in m.value


# --------------------------------------------------------------------------------------------
# Published runs and loading
def _publish(root: Path, job: str, run_id: str, tables: dict, *, notebook: str, parameters: dict,
             status: str = "succeeded", variant: str = "", pointer: bool = False,
             finished: str = "2026-01-02T03:04:00+00:00") -> Path:
    job_dir = root / job / variant if variant else root / job
    run_dir = job_dir / run_id
    (run_dir / "tables").mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(run_dir / "tables" / f"{name}.parquet", index=False)
    (run_dir / "run.json").write_text(json.dumps({
        "job": job, "variant": variant, "run_id": run_id, "status": status, "parameters": parameters,
        "notebook": notebook, "attempts": [{"attempt": 1, "status": status, "ended_at": finished}]}))
    link = job_dir / "latest"
    if pointer:
        link.write_text(run_id + "\n")
    else:
        link.symlink_to(run_id)
    return run_dir


def test_published_runs_follow_latest_links_and_pointer_files(tmp_path):
    kpis = pd.DataFrame({"events": [1, 2]})
    _publish(tmp_path, "daily", "r1", {"kpis": kpis}, notebook="notebooks/workflow_analysis.ipynb",
             parameters={"start": "-28d"}, finished="2026-01-01T00:00:00+00:00")
    _publish(tmp_path, "team", "r2", {"kpis": kpis * 10}, notebook="notebooks/workflow_analysis.ipynb",
             parameters={"team": "team-a"}, variant="team-a", pointer=True, finished="2026-01-03T00:00:00+00:00")
    _publish(tmp_path, "broken", "r3", {"kpis": kpis}, notebook="notebooks/workflow_analysis.ipynb",
             parameters={}, status="failed")
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "latest").symlink_to("nowhere")
    runs = published_runs(reports=tmp_path)
    assert [(r.job, r.variant, r.run_id) for r in runs] == [("team", "team-a", "r2"), ("daily", "", "r1")]
    assert runs[0].parameters == {"team": "team-a"} and runs[1].finished_at == pd.Timestamp("2026-01-01", tz="UTC")
    assert published_runs(reports=tmp_path, notebook="forecasting") == []
    newest = published_table("kpis", reports=tmp_path)
    assert newest.run.run_id == "r2" and newest.frame["events"].tolist() == [10, 20]
    daily = published_table("kpis", reports=tmp_path, where={"start": "-28d"})
    assert daily.run.job == "daily" and daily.path.name == "kpis.parquet"
    assert published_table("kpis", reports=tmp_path, where={"start": "-7d"}) is None


def test_published_run_from_an_executed_notebook_without_run_json(tmp_path):
    run_dir = tmp_path / "adhoc" / "20260101"
    run_dir.mkdir(parents=True)
    (run_dir / "out.ipynb").write_text(json.dumps({"metadata": {"papermill": {
        "input_path": "notebooks/roi.ipynb", "parameters": {"hourly_rate": 90}, "end_time": "2026-01-01T10:00:00"}},
        "cells": [], "nbformat": 4, "nbformat_minor": 5}))
    (tmp_path / "adhoc" / "latest").symlink_to(run_dir)  # absolute links work too
    (run := published_runs(reports=tmp_path, notebook="roi")[0])
    assert (run.parameters, run.finished_at) == ({"hourly_rate": 90}, pd.Timestamp("2026-01-01 10:00", tz="UTC"))


def test_load_overview_data_prefers_the_published_run(mart, tmp_path, store):
    tables = {f"dash_{n}": getattr(mart, n) for n in MART_TABLES["overview"]}
    _publish(tmp_path / "reports", "daily", "r9", tables, notebook="notebooks/workflow_analysis.ipynb", parameters={})
    data = load_overview_data(store, reports=tmp_path / "reports", cache=tmp_path / "cache")
    assert data.published.run_id == "r9" and data.origin.startswith("Published by job daily, run r9")
    pd.testing.assert_frame_equal(mart_kpis(data), mart_kpis(mart))
    assert not (tmp_path / "cache").exists()  # nothing computed


@pytest.mark.slow
def test_the_marts_job_publishes_what_the_dashboards_open_on(store, tmp_path, monkeypatch):
    """The shipped job runs its notebook with papermill; the dashboards then read its run, even
    when they name the store by a relative path (the job records it as an absolute one)."""
    from analytics_lib.jobs.spec import find_job, load_job_specs
    from analytics_lib.jobs.runner import run_job

    [result] = run_job(find_job(load_job_specs(), "daily-dashboard-marts"), store=store,
                       reports=tmp_path / "reports", overrides={"insights": False})
    assert result.status == "succeeded", result.error
    monkeypatch.chdir(Path(store.removeprefix("sqlite:///")).parent)
    for load in (load_overview_data, load_roi_data):
        data = load("sqlite:///events.db", reports=tmp_path / "reports", cache=tmp_path / "cache")
        assert data.published is not None and data.published.job == "daily-dashboard-marts", data.origin
    computed = load_overview_data(store, reports=tmp_path / "none", cache=tmp_path / "cache", insights=False)
    pd.testing.assert_frame_equal(mart_kpis(load_overview_data(store, reports=tmp_path / "reports")),
                                  mart_kpis(computed))
    assert computed.published is None


def test_load_data_skips_runs_of_one_team_or_another_store(mart, tmp_path, store):
    tables = {f"dash_{n}": getattr(mart, n) for n in MART_TABLES["overview"]}
    _publish(tmp_path / "reports", "team", "r1", tables, notebook="notebooks/workflow_analysis.ipynb",
             parameters={"team": "team-a", "source": store}, variant="team-a")
    _publish(tmp_path / "reports", "other", "r2", tables, notebook="notebooks/workflow_analysis.ipynb",
             parameters={"team": None, "source": "sqlite:////elsewhere.db"})
    data = load_overview_data(store, reports=tmp_path / "reports", cache=tmp_path / "cache", insights=False)
    assert data.published is None and "computed from" in data.origin


def test_load_data_computes_once_then_reuses_the_cache_until_the_store_changes(store, events, tmp_path):
    from analytics_lib import validate_events, write_events

    cache, reports = tmp_path / "cache", tmp_path / "no-runs"
    steps: list = []
    first = load_overview_data(store, reports=reports, cache=cache, insights=False,
                               progress=lambda i, n, label: steps.append(label))
    assert "computed from" in first.origin and "just now" in first.origin and steps
    again = load_overview_data(store, reports=reports, cache=cache, insights=False)
    assert "computed from" in again.origin and "just now" not in again.origin
    pd.testing.assert_frame_equal(mart_kpis(again, granularity="W"), mart_kpis(first, granularity="W"))
    roi = load_roi_data(store, reports=reports, cache=cache)
    assert roi.value.months == 120
    # new events: the cache is out of date and rebuilt
    extra = events.head(3).assign(event_id=lambda d: d["event_id"] + "-new", ts=pd.Timestamp("2025-06-30 12:00",
                                                                                               tz="UTC"))
    write_events(validate_events(extra), store)
    rebuilt = load_overview_data(store, reports=reports, cache=cache, insights=False)
    assert "just now" in rebuilt.origin
    assert int(mart_kpis(rebuilt)["events"].sum()) == int(mart_kpis(first)["events"].sum()) + 3
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2  # one folder per mart, old stamps removed
    for folder in (p for p in cache.iterdir() if p.is_dir()):
        assert len([p for p in folder.iterdir() if p.is_dir()]) == 1


def test_load_data_names_a_missing_store(tmp_path):
    with pytest.raises(WorkbenchError, match="does not exist"):
        load_overview_data(f"sqlite:///{tmp_path / 'none.db'}", reports=tmp_path, cache=tmp_path / "c")


# --------------------------------------------------------------------------------------------
# Components
def test_tiles_and_tables_render_escaped_html():
    html_ = tile_html(pd.DataFrame([{"kpi": "x", "label": "<b>", "text": "1", "change_text": "", "tone": "good"}]))
    assert "&lt;b&gt;" in html_ and 'data-kpi="x"' in html_
    t = table_html(pd.DataFrame({"a": [1.23456, np.nan], "when": pd.to_datetime(["2025-01-02", None], utc=True)}),
                   formats={"a": "{:.2f}"}, rename={"a": "A"})
    assert "<th>A</th>" in t and "<td>1.23</td>" in t and "<td>2025-01-02</td>" in t and t.count("–") == 2
    assert "wb-empty" in table_html(pd.DataFrame(), empty="none")
    k = KpiTiles()
    k.show(kpi_tiles(pd.Series({"sessions": 3}), kpis=["sessions"]))
    assert '<div class="wb-tile-value">3</div>' in k.value


def test_chart_panel_redraws_and_closes_figures():
    import matplotlib.pyplot as plt

    panel = ChartPanel(lambda v, color: plt.subplots(figsize=(2, 1))[0], color="red")
    before = len(plt.get_fignums())
    panel.show(1)
    panel.show(2)
    assert len(panel.output.outputs) == 1 and panel.output.outputs[0]["data"]["image/png"].startswith("iVBOR")
    assert len(plt.get_fignums()) == before


def test_live_view_shows_errors_as_messages_and_keeps_the_last_view(mart):
    bar = FilterBar.for_data(mart, start="2025-06-01", end="2025-06-14", team=None, granularity="D")
    tiles, msg, progress, summary = KpiTiles(), MessageArea(), ProgressPanel(), TextPanel()
    view = LiveView(overview_view, mart, controls=bar.controls, outputs={"tiles": tiles, "summary": summary},
                    messages=msg, progress=progress)
    first = tiles.value
    assert msg.value == "" and 'data-refresh="1"' in progress.status.value and view.seconds < 5
    bar.controls["team"].value = "team-b"
    assert tiles.value != first and "team-b" in summary.value and 'data-refresh="2"' in progress.status.value
    shown = tiles.value
    bar.controls["end"].value = dt.date(2025, 5, 20)  # before the start
    assert "wb-message-error" in msg.value and "empty" in msg.value and "Traceback" not in msg.value
    assert tiles.value == shown and 'data-state="error"' in progress.status.value
    with view.hold():
        bar.controls["start"].value = dt.date(2025, 5, 10)
        bar.controls["team"].value = ALL_TEAMS
        assert 'data-refresh="3"' in progress.status.value  # nothing recomputed inside the block
    assert msg.value == "" and 'data-refresh="4"' in progress.status.value and "All teams" in summary.value


def test_live_view_turns_unexpected_errors_into_a_sentence():
    box, msg = widgets.IntText(value=1), MessageArea()
    LiveView(lambda data, n: 1 / (n - 1), 0, controls={"n": box}, outputs={}, messages=msg)
    assert "Something went wrong (ZeroDivisionError: division by zero)" in msg.value


def test_live_view_without_data_is_inert():
    box, msg = widgets.IntText(value=1), MessageArea()
    LiveView(lambda data, n: pytest.fail("must not compute"), None, controls={"n": box}, outputs={}, messages=msg)
    assert box.disabled


def test_message_area_attempt_returns_none_and_explains():
    m = MessageArea()
    assert m.attempt(load_overview_data, "sqlite:////nonexistent/x.db") is None
    assert "does not exist" in m.value


def test_filter_bar_clips_to_the_data():
    bar = FilterBar(teams=["a", "b"], first_day="2025-01-01", last_day="2025-01-31", start="2024-12-01",
                    end="2025-03-01", team="b", granularity="m")
    assert (bar.start.value, bar.end.value, bar.team.value, bar.granularity.value) == \
        (dt.date(2025, 1, 1), dt.date(2025, 1, 31), "b", "M")
    assert FilterBar(teams=[], first_day=None, last_day=None).team.options == (("All teams", ALL_TEAMS),)


def test_forecast_bar_bounds_the_horizon_by_the_history(mart):
    bar = ForecastBar.for_data(mart, granularity="D", n_windows=3, horizon=999, models=["ets"], capacity=500)
    n_days = len(mart_kpis(mart))
    assert bar.horizon.max == (n_days - 7) // 4 and bar.horizon.value == bar.horizon.max
    assert bar.model.value == "ets" and bar.capacity.value == "500"
    with pytest.raises(WorkbenchError, match="metric='nope'"):
        ForecastBar(teams=[], metric="nope")


def test_assumption_panel_scenarios_set_the_controls_in_one_refresh(inputs):
    base = {"hourly_rate": 100.0, "realisation_rate": 0.7, "seats": None, "licence_per_seat": 20.0,
            "infra_per_month": 2000.0, "one_off_cost": 50000.0, "discount_rate": 0.1, "horizon_months": 36}
    scenarios = {"optimistic": {"hourly_rate": 130.0, "realisation_rate": 0.9}, "expected": {}}
    panel = AssumptionPanel(base=base, scenarios=scenarios, max_horizon=inputs.months)
    tiles, msg, progress = KpiTiles(), MessageArea(), ProgressPanel()
    view = LiveView(roi_view, inputs, controls=panel.controls, outputs={"tiles": tiles}, messages=msg,
                    progress=progress, fixed={"n_simulations": 300})
    panel.bind(view)
    panel.picker.value = "optimistic"
    assert panel.controls["hourly_rate"].value == 130.0 and panel.controls["realisation_rate"].value == 0.9
    assert 'data-refresh="2"' in progress.status.value  # the initial one and one for the whole scenario
    assert view.view.assumptions.hourly_rate == 130.0
    panel.controls["hourly_rate"].value = -1.0
    assert panel.picker.value == "custom" and "hourly_rate=-1.0 is out of range" in msg.value
    panel.picker.value = "expected"
    assert panel.controls["hourly_rate"].value == 100.0 and msg.value == ""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["workflow_overview", "forecast_explorer", "roi_calculator"])
def test_dashboard_notebook_runs_under_papermill(name, store, tmp_path_factory, monkeypatch):
    """Each dashboard runs top to bottom as a plain notebook (no Voilà) against a small store."""
    import nbformat
    import papermill

    root = Path(__file__).resolve().parents[1] / "notebooks" / "dashboards"
    cache = tmp_path_factory.getbasetemp() / "papermill-cache"
    monkeypatch.setenv("WORKBENCH_DASHBOARD_CACHE", str(cache))
    monkeypatch.setenv("WORKBENCH_REPORTS", str(tmp_path_factory.getbasetemp() / "no-reports"))
    out = tmp_path_factory.mktemp("nb") / f"{name}.ipynb"
    papermill.execute_notebook(str(root / f"{name}.ipynb"), str(out), parameters={"source": store},
                               kernel_name="python3", cwd=str(root), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 6
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    html_values = " ".join(str(m["state"].get("value", "")) for m in state.values())
    assert "data-kpi=" in html_values and "wb-message wb-message-error" not in html_values


def test_cli_build_computes_then_reuses(store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from analytics_lib.cli import main

    monkeypatch.setenv("WORKBENCH_DASHBOARD_CACHE", str(tmp_path / "cache"))
    first = CliRunner().invoke(main, ["dashboards", "build", "--source", store])
    assert first.exit_code == 0, first.output
    assert "overview: No scheduled run has published these tables yet: computed from" in first.output
    assert "just now" in first.output and "ROI inputs" in first.output
    again = CliRunner().invoke(main, ["dashboards", "build", "--source", store])
    assert again.exit_code == 0 and "just now" not in again.output
    missing = CliRunner().invoke(main, ["dashboards", "build", "--source", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
