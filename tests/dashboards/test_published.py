"""Published runs and loading the dashboards' data: ``latest`` links and pointer files, executed
notebooks without run.json, the published run preferred (the shipped marts job publishes what the
dashboards open on), runs of one team or another store skipped, a cache reused until the store
changes, and a missing store named."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from dashboards_helpers import _publish

from analytics_lib import WorkbenchError
from analytics_lib.dashboards.marts import MART_TABLES
from analytics_lib.dashboards.published import load_overview_data, load_roi_data, published_runs, published_table
from analytics_lib.dashboards.views import mart_kpis

pytestmark = pytest.mark.usefixtures("isolated_dashboards")  # never the repository's runs or cache


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


def test_load_overview_data_prefers_the_published_run(mart, tmp_path, dashboard_store):
    tables = {f"dash_{n}": getattr(mart, n) for n in MART_TABLES["overview"]}
    _publish(tmp_path / "reports", "daily", "r9", tables, notebook="notebooks/workflow_analysis.ipynb", parameters={})
    data = load_overview_data(dashboard_store, reports=tmp_path / "reports", cache=tmp_path / "cache")
    assert data.published.run_id == "r9" and data.origin.startswith("Published by job daily, run r9")
    pd.testing.assert_frame_equal(mart_kpis(data), mart_kpis(mart))
    assert not (tmp_path / "cache").exists()  # nothing computed


@pytest.mark.slow
def test_the_marts_job_publishes_what_the_dashboards_open_on(dashboard_store, tmp_path, monkeypatch):
    """The shipped job runs its notebook with papermill; the dashboards then read its run, even
    when they name the store by a relative path (the job records it as an absolute one)."""
    from analytics_lib.jobs.spec import find_job, load_job_specs
    from analytics_lib.jobs.runner import run_job

    from datetime import datetime, timezone

    # scheduled on the morning after the store's last day: its data gates (max_age 36h) pass
    [result] = run_job(find_job(load_job_specs(), "daily-dashboard-marts"), store=dashboard_store,
                       reports=tmp_path / "reports", overrides={"insights": False},
                       scheduled_at=datetime(2025, 7, 1, 5, 30, tzinfo=timezone.utc))
    assert result.status == "succeeded", result.error
    monkeypatch.chdir(Path(dashboard_store.removeprefix("sqlite:///")).parent)
    for load in (load_overview_data, load_roi_data):
        data = load("sqlite:///events.db", reports=tmp_path / "reports", cache=tmp_path / "cache")
        assert data.published is not None and data.published.job == "daily-dashboard-marts", data.origin
        assert "data as of 2025-06-29 " in data.origin  # the newest event the run read, next to its run time
    computed = load_overview_data(dashboard_store, reports=tmp_path / "none", cache=tmp_path / "cache", insights=False)
    assert "data as of 2025-06-29 " in computed.origin
    pd.testing.assert_frame_equal(mart_kpis(load_overview_data(dashboard_store, reports=tmp_path / "reports")),
                                  mart_kpis(computed))
    assert computed.published is None


def test_load_data_skips_runs_of_one_team_or_another_store(mart, tmp_path, dashboard_store):
    tables = {f"dash_{n}": getattr(mart, n) for n in MART_TABLES["overview"]}
    _publish(tmp_path / "reports", "team", "r1", tables, notebook="notebooks/workflow_analysis.ipynb",
             parameters={"team": "team-a", "source": dashboard_store}, variant="team-a")
    _publish(tmp_path / "reports", "other", "r2", tables, notebook="notebooks/workflow_analysis.ipynb",
             parameters={"team": None, "source": "sqlite:////elsewhere.db"})
    data = load_overview_data(dashboard_store, reports=tmp_path / "reports", cache=tmp_path / "cache", insights=False)
    assert data.published is None and "computed from" in data.origin


def test_load_data_computes_once_then_reuses_the_cache_until_the_store_changes(dashboard_store, events, tmp_path):
    from analytics_lib import validate_events, write_events

    cache, reports = tmp_path / "cache", tmp_path / "no-runs"
    steps: list = []
    first = load_overview_data(dashboard_store, reports=reports, cache=cache, insights=False,
                               progress=lambda i, n, label: steps.append(label))
    assert "computed from" in first.origin and "just now" in first.origin and steps
    again = load_overview_data(dashboard_store, reports=reports, cache=cache, insights=False)
    assert "computed from" in again.origin and "just now" not in again.origin
    pd.testing.assert_frame_equal(mart_kpis(again, granularity="W"), mart_kpis(first, granularity="W"))
    roi = load_roi_data(dashboard_store, reports=reports, cache=cache)
    assert roi.value.months == 120
    # new events: the cache is out of date and rebuilt
    extra = events.head(3).assign(event_id=lambda d: d["event_id"] + "-new", ts=pd.Timestamp("2025-06-30 12:00",
                                                                                               tz="UTC"))
    write_events(validate_events(extra), dashboard_store)
    rebuilt = load_overview_data(dashboard_store, reports=reports, cache=cache, insights=False)
    assert "just now" in rebuilt.origin
    assert int(mart_kpis(rebuilt)["events"].sum()) == int(mart_kpis(first)["events"].sum()) + 3
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2  # one folder per mart, old stamps removed
    for folder in (p for p in cache.iterdir() if p.is_dir()):
        assert len([p for p in folder.iterdir() if p.is_dir()]) == 1


def test_load_data_names_a_missing_store(tmp_path):
    with pytest.raises(WorkbenchError, match="does not exist"):
        load_overview_data(f"sqlite:///{tmp_path / 'none.db'}", reports=tmp_path, cache=tmp_path / "c")
