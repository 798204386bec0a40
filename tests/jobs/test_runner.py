"""The job runner: real runs of the quick notebook (outputs, publishing, index, history, due, prune),
a --due pass where things go wrong (an exception with retries, hangs, a dying kernel; the others
still run), a runner killed mid-run, a shipped job's run (shared with test_report_html.py) compared
with the plain ``papermill`` command, passwords kept out of every file, relative reports folders and
a child that dies before its log.
Runs are real: the ``workbench`` command in subprocesses, papermill, kernels, signals. The tiny
notebooks in ``tests/corpus/notebooks`` write a table (``quick``), raise (``raises``), sleep
(``hangs``) or kill their own kernel (``killed``). Everything is written under pytest's tmp
folders (never the repository's ``reports/``)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT
from jobs_helpers import (ENV, NOTEBOOKS, PAPERMILL, SECRET, WORKBENCH, Place, _files_holding, _ledger_text,
                          kernels_in, runner_children, table_of, wait_for)

from analytics_lib.jobs.index import prune_runs
from analytics_lib.jobs.ledger import run_history
from analytics_lib.jobs.prepare import check_job
from analytics_lib.jobs.schedule import due_runs, previous_fire_time
from analytics_lib.jobs.spec import find_job, load_job_specs


# --------------------------------------------------------------------------------------------
# Real runs of the quick notebook: outputs, publishing, index, history, due, prune
@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    place = Place(tmp_path_factory.mktemp("quick"))
    place.spec("quick", "quick.ipynb", description="the quick test job", parameters={"label": "first"},
               outputs=["html", "xlsx", "csv", "marts"], marts=["numbers"], retries=0,
               notify={"on": ["success", "failure"], "log": "notes.log"})
    first = place.cli("run", "quick", "-p", "rows=3")
    second = place.cli("run", "quick", "-p", "rows=6", "-p", "scale=0.5", "-p", "label=123")
    return place, first, second


@pytest.mark.slow
def test_a_run_publishes_notebook_html_tables_and_marts(quick):
    place, first, second = quick
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    runs = place.run_dirs("quick")
    assert len(runs) == 2
    latest = place.reports / "quick" / "latest"
    assert latest.is_symlink() and os.readlink(latest) == runs[1].name  # relative link to the newest
    run = latest.resolve()
    numbers = table_of(run, "numbers")
    expected = pd.DataFrame({"i": range(6), "label": [123] * 6, "color": ["red", "green"] * 3,
                             "value": [i * i * 0.5 for i in range(6)]})
    pd.testing.assert_frame_equal(numbers, expected)
    assert table_of(runs[0], "numbers")["value"].tolist() == [0.0, 1.0, 4.0]
    # the executed notebook carries the injected parameters; the label stayed text ('123', not 123)
    nb = json.loads((run / "notebook.ipynb").read_text())
    injected = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert 'label = "123"' in "".join(injected["source"]) and "rows = 6" in "".join(injected["source"])
    # HTML for stakeholders: no code, a header with parameters, run time and version
    html = (run / "report.html").read_text()
    assert "import csv" not in html and "time.sleep" not in html
    for text in ("scheduled report", "the quick test job", "Parameters", "rows=6",
                 "Data window", "Data fingerprint", "Run time", "analytics-workbench 0.1.0", run.name):
        assert text in html, text
    assert "numbers.csv: 6 rows" in html  # the notebook's output is there
    # tables as XLSX (a sheet per table plus the run's facts) and the marts dashboards read
    sheets = pd.read_excel(run / "tables.xlsx", sheet_name=None)
    assert list(sheets) == ["run", "numbers", "summary"]
    pd.testing.assert_frame_equal(sheets["numbers"], numbers)
    assert sheets["run"].set_index("item").loc["run_id", "value"] == run.name
    pd.testing.assert_frame_equal(pd.read_parquet(run / "marts" / "numbers.parquet"), numbers)
    manifest = json.loads((run / "marts" / "manifest.json").read_text())
    assert manifest["tables"]["numbers"]["rows"] == 6 and manifest["run_id"] == run.name
    assert not (run / "marts" / "summary.parquet").exists()  # only the marts the spec lists
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "succeeded" and meta["parameters"]["rows"] == 6 and "report.html" in meta["outputs"]
    assert "HTML reports:" in second.stdout and str(run / "report.html") in second.stdout


@pytest.mark.slow
def test_ledger_index_history_and_notifications_agree(quick):
    place, _, _ = quick
    h = place.history("quick")
    assert len(h) == 2 and (h["status"] == "succeeded").all() and (h["attempt"] == 1).all()
    assert [json.loads(p)["rows"] for p in h["parameters"]] == [6, 3]  # newest first
    assert (h["ended_at"] > h["started_at"]).all() and h["version"].str.contains("papermill").all()
    assert h["trigger"].eq("manual").all() and h["run_dir"].map(lambda d: Path(d).is_dir()).all()
    index = (place.reports / "index.html").read_text()
    for run_id in h["run_id"]:
        assert f"quick/{run_id}/report.html" in index
    assert 'href="quick/latest/report.html"' in index and "the quick test job" in index
    notes = [json.loads(x) for x in (place.reports / "notes.log").read_text().splitlines()]
    assert [n["status"] for n in notes] == ["succeeded", "succeeded"]
    assert notes[-1]["report"].endswith("report.html") and notes[-1]["run_id"] == h["run_id"].iloc[0]
    out = place.cli("history", "quick")
    assert out.returncode == 0 and h["run_id"].iloc[0] in out.stdout and "succeeded" in out.stdout
    listing = place.cli("list")
    assert listing.returncode == 0 and "succeeded" in listing.stdout and "*/5 * * * *" in listing.stdout


@pytest.mark.slow
def test_due_follows_the_last_success(quick):
    place, _, _ = quick
    job = load_job_specs(place.jobs)
    last = place.history("quick")["started_at"].max().to_pydatetime()
    at = due_runs(job, store=place.store, now=last + timedelta(seconds=1))
    assert not at["due"].any()  # the last success is after the last */5 slot
    later = last + timedelta(minutes=10)
    at = due_runs(job, store=place.store, now=later)
    assert at["due"].all() and at["scheduled_at"].iloc[0] == pd.Timestamp(previous_fire_time(job[0], later))


@pytest.mark.slow
def test_prune_keeps_the_newest_and_latest(quick):
    place, _, _ = quick
    before = place.run_dirs("quick")
    pruned = place.cli("prune", "--keep", "1")
    assert pruned.returncode == 0 and "1 run(s) pruned" in pruned.stdout
    assert place.run_dirs("quick") == before[1:] and (place.reports / "quick" / "latest").resolve() == before[1]
    assert list(place.history("quick")["run_id"]) == [before[1].name]
    assert before[0].name not in (place.reports / "index.html").read_text()
    assert prune_runs(keep=1, store=place.store, reports=place.reports).empty


# --------------------------------------------------------------------------------------------
# A --due pass where things go wrong: an exception, hangs, a dying kernel; the others still run
@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    place = Place(tmp_path_factory.mktemp("troubled"))
    hook = place.root / "hook.jsonl"
    place.spec("raises", "raises.ipynb", retries=2, retry_delay_s=1, parameters={"message": "boom"},
               notify={"on": ["failure"], "log": "notes.log",
                       "command": f"{sys.executable} -c \"import sys; open('{hook}', 'a').write(sys.stdin.read() + "
                                  f"chr(10))\""})
    place.spec("hang-run", "hangs.ipynb", timeout_s=12, parameters={"seconds": 600.0})
    place.spec("hang-cell", "hangs.ipynb", timeout_s=120, cell_timeout_s=3, parameters={"seconds": 600.0})
    place.spec("killed", "killed.ipynb", retries=0)
    place.spec("quick", "quick.ipynb", parameters={"rows": 4})
    t0 = time.monotonic()
    res = place.cli("run", "--due", "--parallel", "3", timeout=180)
    return place, res, time.monotonic() - t0, hook


@pytest.mark.slow
def test_raising_notebook_fails_with_cell_and_exception_after_retries_with_backoff(troubled):
    place, res, _, hook = troubled
    assert res.returncode == 1
    h = place.history("raises").sort_values("attempt")
    assert h["attempt"].tolist() == [1, 2, 3] and h["status"].eq("failed").all() and h["run_id"].nunique() == 1
    err = h["error"].iloc[-1]
    assert err == "ValueError: boom (cell 4, In [4]: raise ValueError(message))"  # after the injected parameters
    gaps = (h["started_at"].iloc[1:].to_numpy() - h["ended_at"].iloc[:-1].to_numpy()) / pd.Timedelta(seconds=1)
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0  # 1 s, then twice as long
    run = Path(h["run_dir"].iloc[0])
    assert (run / "tables" / "partial.csv").is_file() and (run / "attempt-1" / "tables" / "partial.csv").is_file()
    nb = json.loads((run / "notebook.ipynb").read_text())
    assert "failed" in "".join(nb["cells"][0]["source"])  # our banner on top of the partial notebook
    assert any(o.get("ename") == "ValueError" for c in nb["cells"] for o in c.get("outputs", []))
    assert not (place.reports / "raises" / "latest").exists() and not (run / "report.html").exists()
    note = json.loads((place.reports / "notes.log").read_text().splitlines()[-1])
    sent = json.loads(hook.read_text().splitlines()[-1])
    assert note["status"] == sent["status"] == "failed" and sent["error"] == err and sent["attempt"] == 3
    assert "raises failed" in res.stderr


@pytest.mark.slow
def test_other_jobs_in_the_pass_still_run(troubled):
    place, res, took, _ = troubled
    assert place.history("quick")["status"].tolist() == ["succeeded"]
    assert (place.reports / "quick" / "latest" / "report.html").is_file()
    assert set(place.history()["trigger"]) == {"due"}
    assert took < 90, took  # the jobs ran side by side


@pytest.mark.slow
def test_a_hanging_run_is_stopped_at_its_timeout(troubled):
    place, _, _, _ = troubled
    run = place.history("hang-run").iloc[0]
    assert run["status"] == "timed_out" and "exceeded timeout_s=12 s in cell" in run["error"]
    assert "time.sleep(seconds)" in run["error"]
    assert 12 <= run["duration_s"] < 12 + 30
    cell = place.history("hang-cell").iloc[0]
    assert cell["status"] == "timed_out" and "a cell ran longer than cell_timeout_s" in cell["error"]
    assert cell["duration_s"] < 60
    for job in ("hang-run", "hang-cell"):
        assert (Path(place.history(job)["run_dir"].iloc[0]) / "notebook.ipynb").is_file()
        assert not (place.reports / job / "latest").exists()


@pytest.mark.slow
def test_a_dead_kernel_is_a_failure(troubled):
    place, _, _, _ = troubled
    run = place.history("killed").iloc[0]
    assert run["status"] == "failed" and run["error"].startswith("the kernel died in cell")
    assert "os.kill(os.getpid(), signal_number)" in run["error"]
    assert not (place.reports / "killed" / "latest").exists()


# --------------------------------------------------------------------------------------------
# Killed runner, a shipped job on a small store, credentials, paths
@pytest.mark.slow
def test_sigkill_mid_run_keeps_latest_and_is_interrupted_at_next_start(tmp_path):
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", timeout_s=120)
    assert place.cli("run", "quick").returncode == 0
    good = (place.reports / "quick" / "latest").resolve()
    before = {p.name: p.read_bytes() for p in good.rglob("*") if p.is_file()}
    proc = place.popen("run", "quick", "-p", "sleep_s=60")

    def sleeping():  # the run is inside its sleeping cell
        for d in place.run_dirs("quick"):
            nb = d / "notebook.ipynb"
            if d != good and nb.is_file():
                try:
                    cells = json.loads(nb.read_text())["cells"]
                except ValueError:
                    return None
                if any(c["metadata"].get("papermill", {}).get("status") == "running"
                       and "time.sleep" in "".join(c["source"]) for c in cells):
                    return d
        return None

    killed = wait_for(sleeping, 60, "the second run to reach its sleep")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert place.history("quick")["status"].tolist() == ["running", "succeeded"]  # nobody updated it
    assert (place.reports / "quick" / "latest").resolve() == good
    assert {p.name: p.read_bytes() for p in good.rglob("*") if p.is_file()} == before
    wait_for(lambda: not kernels_in(NOTEBOOKS) and not runner_children(), 20,
             "the orphaned papermill child and its kernel to exit (they die with the runner)")
    listing = place.cli("list")  # the next start
    assert listing.returncode == 0 and "interrupted" in listing.stdout
    h = place.history("quick")
    assert h["status"].tolist() == ["interrupted", "succeeded"] and "runner (pid" in h["error"].iloc[0]
    assert (killed / "notebook.ipynb").is_file() and not (killed / "report.html").exists()
    assert "interrupted" in "".join(json.loads((killed / "notebook.ipynb").read_text())["cells"][0]["source"])
    assert "interrupted" in (place.reports / "index.html").read_text()


@pytest.mark.slow
def test_shipped_workflow_job_runs_and_matches_plain_papermill(shipped_runs, tmp_path):
    """The workflow job's run by ``workbench jobs run`` (tests/jobs/conftest.py's ``shipped_runs``,
    shared with test_report_html.py), then the plain papermill command with its parameters."""
    from analytics_lib import load_events

    store, reports = shipped_runs("daily-workflow")
    spec = find_job(load_job_specs(), "daily-workflow")
    assert check_job(spec, store=store)
    h = run_history(store, job="daily-workflow")
    assert h["status"].tolist() == ["succeeded"], h["error"].tolist()
    run = (reports / "daily-workflow" / "latest").resolve()
    assert Path(h["run_dir"].iloc[0]) == run
    meta = json.loads((run / "run.json").read_text())
    params = meta["parameters"]
    assert params["source"] == store and params["output_dir"] == str(run / "tables")
    started = pd.Timestamp(h["started_at"].iloc[0])  # relative dates are resolved when the run starts
    today = (started.tz_convert("UTC") if started.tzinfo else started.tz_localize("UTC")).normalize()
    assert params["start"] == (today - pd.Timedelta(days=28)).strftime("%Y-%m-%d")  # resolved at run time
    assert params["end"] == (today - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    loaded = load_events(store, start=params["start"], end=params["end"])
    assert meta["fingerprint"]["rows"] == loaded.summary.rows_kept > 0
    assert meta["fingerprint"]["max_ts"] == loaded.events["ts"].max().strftime("%Y-%m-%d %H:%M:%S")
    html = (run / "report.html").read_text()
    assert "load_events(" not in html and "workflow_parameters(" not in html  # no code
    assert f"{loaded.summary.rows_kept:,} events" in html and "Data window" in html
    assert set(pd.read_excel(run / "tables.xlsx", sheet_name=None)) >= {"run", "kpis", "funnel", "retention"}
    assert sorted(p.name for p in (run / "marts").glob("*.parquet")) == [
        "bottlenecks.parquet", "funnel.parquet", "kpis.parquet", "retention.parquet"]
    assert h["input_rows"].iloc[0] == loaded.summary.rows_kept
    # the same notebook, same parameters, plain papermill command line: the same tables
    out = tmp_path / "plain"
    out.mkdir()
    args = [str(PAPERMILL), str(spec.notebook), str(out / "executed.ipynb"), "-k", "python3", "--no-progress-bar",
            "--cwd", str(spec.notebook.parent)]
    for k, v in {**params, "output_dir": str(out / "tables")}.items():
        args += ["-y", yaml.safe_dump({k: v})]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ours = sorted(p.name for p in (run / "tables").iterdir())
    assert ours == sorted(p.name for p in (out / "tables").iterdir()) and "kpis.csv" in ours
    for name in ours:
        if name.endswith(".csv"):
            pd.testing.assert_frame_equal(pd.read_csv(run / "tables" / name), pd.read_csv(out / "tables" / name),
                                          obj=name)
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(run / "tables" / name),
                                          pd.read_parquet(out / "tables" / name), obj=name)


@pytest.mark.slow
def test_a_failing_run_with_a_password_writes_it_nowhere(tmp_path):
    """source=postgresql+psycopg://u:SECRET@127.0.0.1:9/db (nothing listens): the run fails without a
    kernel, and no file under reports/, no ledger row, no log and no notification holds the password."""
    from dataclasses import replace as _replace

    from analytics_lib.jobs.runner import run_job

    source = f"postgresql+psycopg://ana:{SECRET}@127.0.0.1:9/analytics?sslpassword={SECRET}x"
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    spec = _replace(find_job(load_job_specs(), "daily-workflow"), retries=1, retry_delay_s=0)
    [r] = run_job(spec, overrides={"source": source}, store=store, reports=tmp_path / "reports", parallel=1)
    assert r.status == "failed" and r.attempts == 2
    assert "cannot connect to postgresql+psycopg://ana:***@127.0.0.1:9/analytics" in r.error
    assert "no kernel was started" in r.error and SECRET not in r.error
    assert _files_holding(tmp_path / "reports", SECRET) == []
    assert (tmp_path / "reports" / "notifications.log").is_file()  # the failure was notified, redacted
    assert "ana:***@" in (tmp_path / "reports" / "notifications.log").read_text()
    ledger = _ledger_text(store)
    assert SECRET not in ledger and "ana:***@" in ledger
    out = subprocess.run([str(WORKBENCH), "jobs", "--store", store, "--reports", str(tmp_path / "reports"), "history"],
                         capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0 and SECRET not in out.stdout + out.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_a_run_on_a_store_with_a_password_keeps_it_out_of_every_file(pg_url, tmp_path):
    """The real thing: the workflow job on PostgreSQL with a password in the URL (and in the ledger's
    store). The notebook gets the redacted URL, its kernel connects with the real one (the report
    has the data), and nothing published or recorded holds the password."""
    from pgserver import fresh_database

    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events
    from analytics_lib.jobs.runner import run_job

    source = fresh_database(pg_url, f"jobs_secret_{os.getpid()}", password=SECRET)
    write_events(validate_events(synthetic_events(20_000, days=60, seed=2).events), source)
    reports = tmp_path / "reports"
    [r] = run_job(find_job(load_job_specs(), "daily-workflow"), store=source, reports=reports, parallel=1)
    assert r.ok, r.error
    meta = json.loads((r.run_dir / "run.json").read_text())
    assert meta["parameters"]["source"] == source.replace(SECRET, "***")
    assert meta["fingerprint"]["rows"] > 0
    assert len(pd.read_csv(r.run_dir / "tables" / "kpis.csv")) > 0  # the kernel read the data for real
    nb = (r.run_dir / "notebook.ipynb").read_text()
    assert "postgres:***@" in nb
    assert _files_holding(reports, SECRET) == []
    assert SECRET not in _ledger_text(source)


def test_relative_reports_folder_from_another_directory(tmp_path):
    """`--reports out` given in another directory than the project: the run works and publishes there."""
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", parameters={"rows": 2}, outputs=["html"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([str(WORKBENCH), "jobs", "--jobs-dir", str(place.jobs), "--reports", "out", "--store",
                           place.store, "run", "quick"], capture_output=True, text=True, env=ENV, cwd=elsewhere,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (elsewhere / "out" / "quick" / "latest" / "report.html").is_file()


def test_a_child_that_dies_before_its_log_leaves_its_words_in_the_run_log(tmp_path):
    """The papermill child fails at start-up (here: a sitecustomize that exits): the run log keeps what
    it printed, and the error says it ended without a result."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\nif sys.argv[:1] == ['-c']:\n    print('child start-up failed: boom', file=sys.stderr)\n"
        "    sys.stderr.flush()\n    import os\n    os._exit(7)\n")
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", retries=0)
    env = {**ENV, "PYTHONPATH": str(site)}
    proc = subprocess.run(place.args("run", "quick"), capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode != 0
    h = place.history("quick")
    assert h["status"].tolist() == ["failed"] and "ended without a result (exit status 7)" in h["error"].iloc[0]
    log = (Path(h["run_dir"].iloc[0]) / "run.log").read_text()
    assert "child start-up failed: boom" in log
