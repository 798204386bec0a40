"""The data commands of `workbench`: ``ingest`` (quarantine report, idempotence, structural errors
with exit code 2, the mapping of a real log, encodings), ``sample``, ``kpis``, ``run``, ``forecast``,
``roi`` and ``insights``."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import invoke
from click.testing import CliRunner
from conftest import CORPUS, NOW, REAL

from analytics_lib import load_events
from analytics_lib.cli import main


def test_ingest_reports_quarantine_and_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    qcsv = tmp_path / "q.csv"
    first = invoke("ingest", str(CORPUS / "bad_rows.csv"), "--into", url, "--quarantine-csv", str(qcsv))
    assert first.exit_code == 0, first.output
    assert "stored 8 new events" in first.output and "22 quarantined rows" in first.output
    assert "wrong_type" in first.output
    assert len(pd.read_csv(qcsv)) == 22
    second = invoke("ingest", str(CORPUS / "bad_rows.csv"), "--into", url)
    assert "stored 0 new events (8 were already there)" in second.output
    assert "0 quarantined rows" in second.output


@pytest.mark.parametrize("name, message", [
    ("missing_column.csv", "missing required columns: event_type"),
    ("empty.csv", "is empty"),
    ("naive_only.csv", "--naive-utc"),
])
def test_structural_errors_exit_2_with_a_message(tmp_path, name, message):
    res = CliRunner().invoke(main, ["ingest", str(CORPUS / name), "--into", f"sqlite:///{tmp_path / 'w.db'}"])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_ingest_with_mapping_of_a_real_log(tmp_path):
    log = REAL / "eventlogs/pm4py/receipt.csv"
    url = f"sqlite:///{tmp_path / 'w.db'}"
    res = invoke("ingest", str(log), "--into", url, "--mapping", str(CORPUS / "pm4py_mapping.yaml"))
    assert res.exit_code == 0 and "stored 8,577 new events" in res.output
    assert len(load_events(url).events) == 8577


# the CSV header of tests/data/test_files.py
HEADER = "event_id,ts,user_id,event_type,team\n"


def test_cli_ingest_takes_an_encoding(tmp_path):
    from click.testing import CliRunner

    from analytics_lib.cli import main

    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "e1,2024-03-01T00:00Z,José,search,a\n").encode("latin-1"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    bad = CliRunner().invoke(main, ["ingest", str(path), "--into", url])
    assert bad.exit_code == 2 and "--encoding latin-1" in bad.output and "Traceback" not in bad.output
    good = CliRunner().invoke(main, ["ingest", str(path), "--into", url, "--encoding", "latin-1"])
    assert good.exit_code == 0, good.output
    assert load_events(url, now=NOW).events["user_id"].astype(str).tolist() == ["José"]


def test_sample_to_parquet_with_truth_then_kpis(tmp_path):
    out = tmp_path / "raw.parquet"
    res = invoke("sample", "--into", str(out), "--events", "20000", "--days", "35", "--end", "2025-06-30",
                 "--malformed-share", "0")
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "raw.truth.json").read_text())
    raw = pd.read_parquet(out)
    assert truth["n_events"] == len(raw)
    kpi_csv = tmp_path / "k.csv"
    res = invoke("kpis", str(out), "-g", "W", "--csv", str(kpi_csv))
    assert res.exit_code == 0 and "active_users" in res.output
    assert pd.read_csv(kpi_csv)["events"].sum() == len(raw)
    # a window from a Wednesday: its first week is marked partial in the table, the note and the CSV
    res = invoke("kpis", str(out), "-g", "W", "--start", "2025-06-04", "--end", "2025-06-29", "--csv", str(kpi_csv))
    assert res.exit_code == 0, res.output
    first = next(line for line in res.output.splitlines() if "2025-06-02" in line)
    assert "5 of 7 days" in first and "1 partial period(s)" in " ".join(res.output.split())
    table = pd.read_csv(kpi_csv, index_col="period")
    assert table["coverage"].round(4).tolist() == [round(5 / 7, 4), 1.0, 1.0, 1.0]


def test_run_main_job_on_a_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert invoke("sample", "--into", url, "--events", "20000", "--days", "40").exit_code == 0
    assert (tmp_path / "w.truth.json").exists()
    res = invoke("run", "--source", url, "--weeks", "2")
    assert res.exit_code == 0, res.output
    assert "weekly KPIs" in res.output and "quarantined: wrong_type" in res.output


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'w.db'}"
    assert invoke("sample", "--into", url, "--events", "30000", "--days", "90", "--malformed-share", "0").exit_code == 0
    return url


def test_forecast_command_prints_selection_forecast_and_capacity(small_store, tmp_path):
    out = tmp_path / "f.csv"
    res = invoke("forecast", small_store, "--by", "team", "-h", "14", "--windows", "2", "--models", "ets,theta",
                 "--capacity", "1000", "--csv", str(out))
    assert res.exit_code == 0, res.output
    assert "model selection" in res.output and "forecast for total" in res.output and "capacity 1,000" in res.output
    f = pd.read_csv(out)
    assert f.groupby("unique_id").size().eq(14).all() and "total" in set(f["unique_id"])
    bad = invoke("forecast", small_store, "--models", "magic")
    assert bad.exit_code == 2 and "unknown ['magic']" in bad.output


def test_roi_command_prints_the_summary_with_computed_break_even(small_store):
    res = invoke("roi", small_store, "--hourly-rate", "150", "--simulations", "500")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # rich wraps long lines at the terminal width
    assert "break-even values" in text and "Monte Carlo draws" in text and "USD 150 per hour" in text
    from analytics_lib.data.load import load_events
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import break_even_table
    from analytics_lib.analysis.roi.inputs import roi_inputs

    be = break_even_table(roi_inputs(load_events(small_store).events), Assumptions(hourly_rate=150))
    rate = be.set_index("assumption").loc["realisation_rate", "break_even"]
    assert f"realisation_rate │ {rate:.4g}" in text  # the value the library computes, printed
    bad = invoke("roi", small_store, "--hourly-rate", "-5")
    assert bad.exit_code == 2 and "hourly_rate" in bad.output


def test_cli_insights_prints_ranked_insights_and_writes_json(tmp_path, sample_small):
    src = tmp_path / "events.parquet"
    sample_small.events.to_parquet(src, index=False)
    out = tmp_path / "insights.json"
    res = CliRunner().invoke(main, ["insights", str(src), "--json", str(out), "--top", "5"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "best first" in res.output and "critical" in res.output
    assert sample_small.truth.incident_model in res.output
    data = json.loads(out.read_text())
    assert data[0]["kind"] == "anomaly" and all({"title", "evidence", "recommendation"} <= set(d) for d in data)
    bad = CliRunner().invoke(main, ["insights", str(src), "--sensitivity", "extreme"])
    assert bad.exit_code == 2 and "sensitivity" in bad.output
    assert CliRunner().invoke(main, ["insights", "--help"]).exit_code == 0
    team = CliRunner().invoke(main, ["insights", str(src), "--team", "team-b", "--start", "2025-06-01"])
    assert team.exit_code == 0 and "insights for" in team.output


def test_anomalies_command_scores_only_new_periods_run_after_run(small_store, tmp_path):
    state, first_csv, second_csv = tmp_path / "state", tmp_path / "a.csv", tmp_path / "b.csv"
    first = invoke("anomalies", small_store, "--state", str(state), "--end", "-10d", "--csv", str(first_csv))
    assert first.exit_code == 0, first.output
    assert "first run:" in first.output and "never flagged" in first.output
    learnt = pd.read_csv(first_csv, parse_dates=["timestamp"])
    assert not learnt["is_anomaly"].any() and learnt["metric"].nunique() >= 10
    second = invoke("anomalies", small_store, "--state", str(state), "--csv", str(second_csv))
    assert second.exit_code == 0, second.output
    new = pd.read_csv(second_csv, parse_dates=["timestamp"])
    assert new["timestamp"].nunique() == 9 and new["timestamp"].min() > learnt["timestamp"].max()
    assert f"{len(new):,} new points scored" in second.output and "first run" not in second.output
    third = invoke("anomalies", small_store, "--state", str(state))
    assert third.exit_code == 0 and "no new points: 0 new points scored" in third.output
    assert f"{len(learnt) + len(new):,} already scored" in third.output
    one = invoke("anomalies", small_store, "--state", str(tmp_path / "w"), "--metric", "events", "-g", "W")
    assert one.exit_code == 0 and "(1 KPIs" in one.output


def test_anomalies_command_errors_are_one_line(small_store, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    bad = CliRunner().invoke(main, ["anomalies", small_store, "--state", str(blocker / "state")])
    assert bad.exit_code == 2 and "cannot create the monitor state folder" in bad.output
    assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) <= 2
    unknown = CliRunner().invoke(main, ["anomalies", small_store, "--state", str(tmp_path / "s"), "--metric", "nope"])
    assert unknown.exit_code == 2 and "['nope'] are not columns" in unknown.output
    assert CliRunner().invoke(main, ["anomalies", "--help"]).exit_code == 0
