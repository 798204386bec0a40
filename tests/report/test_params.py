"""Notebook parameters (``workflow_parameters``, ``forecast_parameters``, ``roi_parameters``,
``prediction_parameters``, ``require_events``): every bad value stops with a WorkbenchError that
names the parameter."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.core import paths
from analytics_lib.report.params import (WorkflowParams, prediction_parameters, require_events, roi_parameters,
                                         workflow_parameters)


STEPS = ["session_start", ["search", "cache_query"], "generation"]


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    """A SQLite file that exists (the check is on existence; the content does not matter here).

    Not tests/conftest.py's ``store`` of synthetic events: an empty file is all the checks need."""
    db = tmp_path / "store.db"
    db.touch()
    return f"sqlite:///{db}"


@pytest.fixture
def good(empty_store: str, tmp_path: Path) -> dict:
    return dict(source=empty_store, start="2025-06-01", end="2025-06-30", team=None, granularity="D",
                session_gap="30min", funnel_steps=STEPS, output_dir=str(tmp_path / "out"))


def test_good_parameters_resolve(good, tmp_path):
    p = workflow_parameters(**{**good, "granularity": "w", "team": "team-a", "session_gap": " 1h "})
    assert isinstance(p, WorkflowParams)
    assert (p.granularity, p.team, p.session_gap) == ("W", ["team-a"], "1h")
    assert p.window.start == pd.Timestamp("2025-06-01", tz="UTC")
    assert p.window.end == pd.Timestamp("2025-07-01", tz="UTC")  # a date-valued end includes that day
    assert p.funnel_steps == STEPS
    assert p.output_dir == (tmp_path / "out").resolve() and p.output_dir.is_dir()
    assert p.table()["parameter"].tolist() == ["source", "window", "team", "granularity", "session_gap",
                                               "funnel_steps", "output_dir", "engine"]
    assert (p.engine, p.cluster) == ("pandas", None)


def test_relative_window_uses_now(good):
    p = workflow_parameters(**{**good, "start": "-28d", "end": "today"}, now="2025-07-01 10:00")
    assert str(p.window) == "[2025-06-03T00:00:00+00:00, 2025-07-02T00:00:00+00:00)"


def test_none_defaults_are_absolute(good, monkeypatch, tmp_path):
    db = tmp_path / "default.db"
    db.touch()
    monkeypatch.setattr(paths, "DEFAULT_DB_URL", f"sqlite:///{db}")
    monkeypatch.setattr(paths, "REPORTS", tmp_path / "reports")
    p = workflow_parameters(**{**good, "source": None, "output_dir": None})
    assert p.source == f"sqlite:///{db}"
    assert p.output_dir == (tmp_path / "reports" / "workflow").resolve() and p.output_dir.is_dir()


def test_team_list_and_file_source(good, tmp_path):
    csv = tmp_path / "events.csv"
    csv.write_text("event_id,ts,user_id,event_type\n")
    p = workflow_parameters(**{**good, "source": str(csv), "team": ("team-a", "team-b")})
    assert p.source == str(csv) and p.team == ["team-a", "team-b"]


@pytest.mark.parametrize("name, value, message", [
    ("source", "", r"source='' is empty"),
    ("source", "   ", r"source='   ' is empty"),
    ("source", 42, r"source=42 is empty"),
    ("source", "sqlite:///no/such/dir/x.db", r"source=.*SQLite file .* does not exist"),
    ("source", "postgresql://user:secret@host:notaport/db", r"source=.* is not a database URL"),
    ("source", "no_such_file.csv", r"source='no_such_file.csv'.* does not exist"),
    ("start", "2025-07-01", r"time window is empty: start='2025-07-01'"),
    ("start", "yesterday-ish", r"start='yesterday-ish' is not a date"),
    ("end", "2025-05-01", r"time window is empty"),
    ("granularity", "Q", r"granularity='Q' is not supported: use one of 'D'"),
    ("granularity", "", r"granularity='' is not supported"),
    ("session_gap", "soon", r"session_gap='soon' is not a duration"),
    ("session_gap", "-5min", r"session_gap='-5min' must be a positive duration"),
    ("session_gap", 30, r"session_gap=30 must be a duration string"),
    ("funnel_steps", "session_start", r"funnel_steps='session_start' is not valid: give a list of at least two"),
    ("funnel_steps", ["session_start"], r"funnel_steps=\['session_start'\] is not valid"),
    ("funnel_steps", None, r"funnel_steps=None is not valid"),
    ("funnel_steps", ["session_start", 3], r"funnel_steps: step 2 \(3\) is not an event type"),
    ("funnel_steps", ["session_start", []], r"funnel_steps: step 2 \(\[\]\)"),
    ("funnel_steps", ["session_start", ["search", ""]], r"funnel_steps: step 2"),
    ("funnel_steps", [" ", "generation"], r"funnel_steps: step 1"),
    ("team", "", r"team='' is not valid: give None for all teams"),
    ("team", [], r"team=\[\] is not valid"),
    ("team", ["team-a", 7], r"team=\['team-a', 7\] is not valid"),
    ("team", 3, r"team=3 is not valid"),
    ("output_dir", "", r"output_dir='' is not a folder path"),
    ("output_dir", 5, r"output_dir=5 is not a folder path"),
    ("engine", "spark", r"engine='spark' is not an engine: use 'pandas'"),
    ("engine", None, r"engine=None is not an engine"),
    ("cluster", "tcp://127.0.0.1:8786", r"cluster='tcp://127.0.0.1:8786' is for engine='dask'"),
])
def test_bad_parameter_is_named(good, name, value, message):
    with pytest.raises(WorkbenchError, match=message):
        workflow_parameters(**{**good, name: value})


def test_password_is_hidden(good):
    with pytest.raises(WorkbenchError) as exc:
        workflow_parameters(**{**good, "source": "sqlite:///no/such.db", "granularity": "D"})
    assert "does not exist" in str(exc.value)
    p = workflow_parameters(**{**good, "source": "postgresql+psycopg://me:s3cret@db.example/x"})
    assert "s3cret" not in p.table().to_string()


def test_output_dir_that_is_a_file(good, tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    with pytest.raises(WorkbenchError, match=r"output_dir=.*exists and is not a folder"):
        workflow_parameters(**{**good, "output_dir": str(f)})


def test_output_dir_that_cannot_be_created(good, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(WorkbenchError, match=r"output_dir=.*cannot create"):
        workflow_parameters(**{**good, "output_dir": str(f / "sub")})


def test_require_events(good, sample_small):
    from analytics_lib import time_window, validate_events

    p = workflow_parameters(**{**good, "team": "team-z"})
    loaded = validate_events(sample_small.events.head(100), dates=time_window("2030-01-01", "2030-02-01"))
    assert len(loaded.events) == 0
    with pytest.raises(WorkbenchError, match=r"no events in the window \[2025-06-01.*team=\['team-z'\].*100 outside.*widen"):
        require_events(loaded, p)
    full = validate_events(sample_small.events.head(100))
    assert len(require_events(full, p)) == 100


def test_engine_and_cluster(good, tmp_path):
    p = workflow_parameters(**{**good, "engine": "Dask", "cluster": "127.0.0.1:8786"})
    assert (p.engine, p.cluster) == ("dask", "tcp://127.0.0.1:8786")
    assert p.table().set_index("parameter").loc["engine", "value"] == "dask, the cluster at tcp://127.0.0.1:8786"
    local = workflow_parameters(**{**good, "engine": "dask"})
    assert local.cluster is None and local.table().set_index("parameter").loc["engine", "value"] == "dask, a local cluster"
    # the workers read object stores with their own credentials: no existence check from here
    assert workflow_parameters(**{**good, "engine": "dask", "source": "s3://bucket/events/"}).source == \
        "s3://bucket/events/"
    with pytest.raises(WorkbenchError, match=r"cluster='nohost' is not a scheduler address"):
        workflow_parameters(**{**good, "engine": "dask", "cluster": "nohost"})
    csv = tmp_path / "events.csv"
    csv.write_text("event_id,ts,user_id,event_type\n")
    with pytest.raises(WorkbenchError, match=r"the Dask engine reads Parquet files and datasets and SQL sources, not CSV"):
        workflow_parameters(**{**good, "engine": "dask", "source": str(csv)})


def test_forecast_parameters_take_the_engine_and_check_it(tmp_path):
    from analytics_lib.report.params import forecast_parameters

    base = dict(source="sqlite://", start="2024-01-01", end="2024-06-30", team=None, metric="events", agg="sum",
                by=None, granularity="D", horizon=28, models=None, n_windows=3, level=[80], capacity=None,
                output_dir=str(tmp_path))
    p = forecast_parameters(**base, engine="Dask", cluster="10.0.0.5:8786")
    assert (p.engine, p.cluster) == ("dask", "tcp://10.0.0.5:8786")
    assert p.table().set_index("parameter").loc["fits", "value"] == "dask, the cluster at tcp://10.0.0.5:8786"
    assert forecast_parameters(**base).engine == "pandas"
    with pytest.raises(WorkbenchError, match="is for engine='dask'"):
        forecast_parameters(**base, cluster="tcp://10.0.0.5:8786")


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


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


@pytest.mark.parametrize("changes, message", [
    ({"cutoff": "2025-07-02"}, "is in the future"),
    ({"cutoff": "2025-06-01T12:00"}, "has a time of day"),
    ({"cutoff": "last tuesday"}, "is not a date"),
    ({"cutoff": None}, "cutoff is empty"),
    ({"churn_window_days": 0}, "churn_window_days=0 must be a whole number from 1 to 365"),
    ({"churn_window_days": "28"}, "churn_window_days='28' must be a whole number"),
    ({"churn_window_days": True}, "churn_window_days=True must be a whole number"),
    ({"top_k": 0}, "top_k=0 must be a whole number from 1 to 100,000"),
    ({"team": []}, "team=\\[\\] is not valid"),
    ({"source": "/nowhere/events.csv"}, "does not exist"),
    ({"output_dir": 3}, "is not a folder path"),
])
def test_prediction_parameters_refuse_bad_values(changes, message, tmp_path):
    good = dict(source="sqlite://", cutoff="2025-06-30", churn_window_days=28, team=None, top_k=50,
                output_dir=tmp_path, now="2025-07-01T08:00:00Z")
    p = prediction_parameters(**good)
    assert p.cutoff == _ts("2025-06-30") and p.window.end == p.cutoff
    with pytest.raises(WorkbenchError, match=message):
        prediction_parameters(**{**good, **changes})
