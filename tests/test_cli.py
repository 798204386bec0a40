"""The `workbench` command line: help everywhere, exit codes, and the real entry point."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CORPUS

from analytics_lib import load_events
from analytics_lib.cli import main

SUBCOMMANDS = ["sample", "ingest", "kpis", "forecast", "roi", "run", "insights", "jobs", "jobs list", "jobs run",
               "jobs schedule", "jobs history", "jobs prune", "dashboards", "dashboards serve", "dashboards build"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("cmd", [[], *[c.split() for c in SUBCOMMANDS]])
def test_every_command_has_help(cmd):
    res = invoke(*cmd, "--help")
    assert res.exit_code == 0 and "Usage:" in res.output and len(res.output.splitlines()) > 4


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
    log = Path(__file__).parents[2] / "shared/data/real/eventlogs/pm4py/receipt.csv"
    url = f"sqlite:///{tmp_path / 'w.db'}"
    res = invoke("ingest", str(log), "--into", url, "--mapping", str(CORPUS / "pm4py_mapping.yaml"))
    assert res.exit_code == 0 and "stored 8,577 new events" in res.output
    assert len(load_events(url).events) == 8577


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


def test_installed_entry_point():
    exe = Path(sys.executable).with_name("workbench")
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ingest" in res.stdout
    res = subprocess.run([str(exe), "kpis", "no_such_file.csv"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "does not exist" in res.stderr
