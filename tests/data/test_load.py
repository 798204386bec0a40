"""``load_events`` and column mappings: mappings from YAML and their errors, real pm4py event logs
loaded without loss, a relative window against a pinned now, and an empty window that says so."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import CORPUS, NOW, REAL

from analytics_lib import WorkbenchError, load_events, read_mapping, validate_events, write_events


PM4PY = REAL / "eventlogs" / "pm4py"


def test_relative_window_against_pinned_now(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    got = load_events(sqlite_url, start="-7d", end="today", now="2025-06-30T12:00Z")
    assert got.events["ts"].min() >= pd.Timestamp("2025-06-23T00:00Z")
    assert got.events["ts"].max() < pd.Timestamp("2025-07-01T00:00Z")
    assert len(got.events) == int(((sample_small.events["ts"] >= "2025-06-23T00:00Z")).sum())


def test_empty_window_says_so(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    with pytest.raises(WorkbenchError, match="no events in .* for the window"):
        load_events(sqlite_url, start="2030-01-01", end="2030-01-31", now=NOW)


# --- mapping ---------------------------------------------------------------------------------
def test_mapping_from_yaml_and_errors(tmp_path):
    assert read_mapping(CORPUS / "pm4py_mapping.yaml")["ts"] == "time:timestamp"
    with pytest.raises(WorkbenchError, match="unknown contract columns: when"):
        read_mapping({"when": "time"})
    bad = tmp_path / "m.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(WorkbenchError, match="must hold"):
        read_mapping(bad)
    with pytest.raises(WorkbenchError, match="does not exist"):
        read_mapping(tmp_path / "nope.yaml")
    with pytest.raises(WorkbenchError, match="does not have: no_such_column"):
        load_events(PM4PY / "running-example.csv", mapping={"ts": "no_such_column"})


@pytest.mark.parametrize("name, cases, activities", [
    ("running-example.csv", 6, 8), ("receipt.csv", 1434, 27), ("roadtraffic100traces.csv", 100, 10)])
def test_real_pm4py_logs_load_without_loss(name, cases, activities):
    raw = pd.read_csv(PM4PY / name)
    v = load_events(PM4PY / name, mapping=CORPUS / "pm4py_mapping.yaml")
    assert v.summary.rows_read == len(raw) == v.summary.rows_kept
    assert v.summary.rows_quarantined == 0
    assert v.events["user_id"].nunique() == cases == raw["case:concept:name"].nunique()
    assert v.events["event_type"].nunique() == activities
    # every activity count survives, and times are converted to UTC
    assert v.events["event_type"].astype(str).value_counts().sort_index().tolist() == \
        raw["concept:name"].value_counts().sort_index().tolist()
    want = pd.to_datetime(raw["time:timestamp"], utc=True, format="ISO8601").sort_values().reset_index(drop=True)
    pd.testing.assert_series_equal(v.events["ts"].reset_index(drop=True), want.dt.as_unit("us"), check_names=False)
