"""Scheduled papermill jobs: spec validation, the runner, the ledger, publishing, locks, the schedule.

Runs are real: the ``workbench`` command in subprocesses, papermill, kernels, signals. The
tiny notebooks in ``tests/corpus/notebooks`` write a table (``quick``), raise (``raises``),
sleep (``hangs``) or kill their own kernel (``killed``). One shipped job runs against a small
seeded SQLite store and is compared with the plain ``papermill`` command. Everything is
written under pytest's tmp folders (never the repository's ``reports/``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import CORPUS, ROOT

from analytics_lib import WorkbenchError
from analytics_lib.cli import main
from analytics_lib.jobs.prepare import check_job
from analytics_lib.jobs.schedule import cron_trigger, due_runs, next_fire_time, previous_fire_time
from analytics_lib.jobs.spec import (
    find_job, job_variants, load_job_spec, load_job_specs, notebook_parameters, parse_overrides)
from analytics_lib.jobs.lock import job_lock, JobAlreadyRunning
from analytics_lib.jobs.index import prune_runs
from analytics_lib.jobs.ledger import run_history

NOTEBOOKS = CORPUS / "notebooks"
BIN = Path(sys.executable).parent
WORKBENCH, PAPERMILL = BIN / "workbench", BIN / "papermill"
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}, "MPLBACKEND": "Agg"}


# --------------------------------------------------------------------------------------------
# helpers
class Place:
    """A jobs folder, a reports folder and a SQLite store, all in a tmp folder."""

    def __init__(self, root: Path):
        self.root = root
        self.jobs = root / "jobs"
        self.reports = root / "reports"
        self.store = f"sqlite:///{root / 'store.db'}"
        self.jobs.mkdir(parents=True, exist_ok=True)

    def spec(self, name: str, nb: str, **keys) -> Path:
        path = self.jobs / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"notebook": str(NOTEBOOKS / nb), "schedule": "*/5 * * * *", **keys},
                                       sort_keys=False))
        return path

    def args(self, *args: str) -> list[str]:
        return [str(WORKBENCH), "jobs", "--jobs-dir", str(self.jobs), "--reports", str(self.reports),
                "--store", self.store, *args]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.args(*args), capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.args(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                                cwd=ROOT)

    def invoke(self, *args: str):
        """In-process CLI (for rejections that must happen before anything runs)."""
        return CliRunner().invoke(main, ["jobs", "--jobs-dir", str(self.jobs), "--reports", str(self.reports),
                                         "--store", self.store, *args])

    def history(self, job: str | None = None) -> pd.DataFrame:
        return run_history(self.store, job=job, limit=None)

    def run_dirs(self, job: str) -> list[Path]:
        d = self.reports / job
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink()) if d.is_dir() else []


def runner_children() -> list[int]:
    """Live papermill children of the job runner."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"_child_main" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def kernels_in(folder: Path) -> list[int]:
    """Live processes working in ``folder`` (kernels run with the notebook's folder as cwd)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(proc / "cwd") == str(folder) and b"ipykernel" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def wait_for(predicate, timeout: float, what: str):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def table_of(run_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / "tables" / f"{name}.csv")


@pytest.fixture(autouse=True)
def _no_stray_kernels():
    yield
    wait_for(lambda: not kernels_in(NOTEBOOKS) and not runner_children(), 15, "the test's kernels to exit")


# --------------------------------------------------------------------------------------------
# Specs (no kernel)
def test_shipped_jobs_load_and_declare_what_papermill_sees():
    import ast

    import papermill

    specs = load_job_specs()  # every spec in papermill_jobs/ is valid
    ours = [s for s in specs if s.name in ("daily-workflow", "monthly-roi", "weekly-forecast", "weekly-team-workflow",
                                           "weekly-user-predictions", "daily-dashboard-marts")]
    assert len(ours) == 6
    assert {s.notebook.name for s in ours} == {"workflow_analysis.ipynb", "forecasting.ipynb", "roi.ipynb",
                                               "user_predictions.ipynb", "dashboard_marts.ipynb"}
    for nb in sorted({s.notebook for s in specs}):
        ours, theirs = notebook_parameters(nb), papermill.inspect_notebook(str(nb))
        assert list(ours) == list(theirs)
        assert all(ours[k].default == ast.literal_eval(theirs[k]["default"]) for k in ours)
    grid = find_job(specs, "weekly-team-workflow")
    assert [v.parameters["team"] for v in job_variants(grid)] == ["team-a", "team-b", "team-c"]


def test_parameter_types_come_from_the_parameters_cell():
    p = notebook_parameters(NOTEBOOKS / "quick.ipynb")
    assert {k: v.type_name for k, v in p.items()} == {"rows": "int", "label": "str", "scale": "float",
                                                      "sleep_s": "float", "colors": "list", "output_dir": "any"}
    assert p["rows"].help == "rows of the table"
    assert p["scale"].accepts(2) and not p["rows"].accepts(2.0) and not p["rows"].accepts(True)
    assert p["output_dir"].accepts(None) and p["output_dir"].accepts("x")


@pytest.mark.parametrize("keys, key, message", [
    ({"schedul": "0 6 * * *"}, "schedul", "unknown key (did you mean 'schedule'?)"),
    ({"schedule": "61 * * * *"}, "schedule", "is not a valid 5-field cron expression"),
    ({"schedule": "0 6 * *"}, "schedule", "is not a valid 5-field cron expression"),
    ({"schedule": "0 6 1 * MON"}, "schedule", "restricts both the day of the month and the day of the week"),
    ({"timezone": "Mars/Olympus"}, "timezone", "is not an IANA time zone"),
    ({"notebook": "notebooks/nope.ipynb"}, "notebook", "does not exist"),
    ({"parameters": {"colour": ["red"]}}, "parameters.colour", "does not declare a parameter 'colour' (did you mean "
                                                               "'colors'?)"),
    ({"parameters": {"rows": "five"}}, "parameters.rows", "'five' is a str, but the notebook's parameter 'rows' is int"),
    ({"parameters": {"scale": True}}, "parameters.scale", "is a bool, but the notebook's parameter 'scale' is float"),
    ({"parameters": {"output_dir": "/tmp/x"}}, "parameters.output_dir", "is set by the runner"),
    ({"grid": {"rows": 3}}, "grid.rows", "must be a non-empty list of values"),
    ({"grid": {"rows": [1, "two"]}}, "grid.rows[1]", "'two' is a str"),
    ({"parameters": {"rows": 2}, "grid": {"rows": [1, 3]}}, "grid.rows", "in both parameters and grid"),
    ({"timeout_s": 0}, "timeout_s", "must be a number >= 1"),
    ({"retries": 1.5}, "retries", "must be a whole number"),
    ({"outputs": ["pdf"]}, "outputs", "a list of html, xlsx, csv, marts"),
    ({"notify": {"on": ["failure"], "email": "x@example.com"}}, "notify.email", "unknown key"),
    ({"notify": {"on": ["always"], "log": "n.log"}}, "notify.on", "'failure' and/or 'success'"),
    ({"checks": ["not a function"]}, "checks", "'module:function'"),
])
def test_bad_spec_names_the_file_and_the_key(tmp_path, keys, key, message):
    place = Place(tmp_path)
    spec = place.spec("bad", "quick.ipynb", **keys)
    with pytest.raises(WorkbenchError) as exc:
        load_job_spec(spec)
    assert str(exc.value).startswith(f"{spec}: key '{key}'")
    assert message in str(exc.value)


def test_yaml_reads_dates_as_text_and_on_as_a_key(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text(f"notebook: {NOTEBOOKS / 'quick.ipynb'}\nschedule: '0 6 * * *'\nparameters: {{label: 2025-01-01}}\n"
                    "notify:\n  on: [failure, success]\n  log: n.log\n")
    job = load_job_spec(spec)
    assert job.parameters == {"label": "2025-01-01"} and job.notify.on == ("failure", "success")
    spec.write_text("notebook: [unclosed\n")
    with pytest.raises(WorkbenchError, match=r"d.yaml: not valid YAML .*line"):
        load_job_spec(spec)


def test_overrides_are_typed_by_the_notebook(tmp_path):
    job = load_job_spec(Place(tmp_path).spec("q", "quick.ipynb"))
    assert parse_overrides(["rows=7", "scale=2", "label=123", "colors=[a, b]"], spec=job) == \
        {"rows": 7, "scale": 2, "label": "123", "colors": ["a", "b"]}
    assert job_variants(job, parse_overrides(["rows=7"], spec=job))[0].parameters == {"rows": 7}
    with pytest.raises(WorkbenchError, match=r"-p rows \(job q\): 'seven' is a str, but .* 'rows' is int"):
        job_variants(job, parse_overrides(["rows=seven"], spec=job))
    with pytest.raises(WorkbenchError, match=r"-p colour: .*did you mean 'colors'"):
        job_variants(job, {"colour": ["red"]})
    with pytest.raises(WorkbenchError, match="key=value"):
        parse_overrides(["rows"])


def test_bad_spec_and_bad_parameter_stop_the_cli_before_any_kernel(tmp_path):
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb")
    bad = place.spec("broken", "quick.ipynb", parameters={"rows": "many"})
    res = place.invoke("run", "quick")
    assert res.exit_code == 2 and f"{bad}: key 'parameters.rows'" in res.output
    bad.unlink()
    for args, message in [(["-p", "rows=many"], "-p rows (job quick): 'many' is a str"),
                          (["-p", "colour=red"], "did you mean 'colors'?"),
                          (["-p", "output_dir=/tmp"], "the runner sets output_dir")]:
        res = place.invoke("run", "quick", *args)
        assert res.exit_code == 2 and message in res.output, res.output
    # the shipped workflow job: the notebook's own checks reject a bad value before a kernel starts
    wf = Place(tmp_path / "wf")
    (wf.jobs / "daily-workflow.yaml").write_text((ROOT / "papermill_jobs" / "daily-workflow.yaml").read_text())
    wf.store = f"sqlite:///{ROOT / 'tests' / 'corpus' / 'missing.db'}"
    res = wf.invoke("run", "daily-workflow", "-p", "granularity=Q")
    assert res.exit_code == 2 and "the SQLite file" in res.output and "does not exist" in res.output
    res = wf.invoke("run", "daily-workflow", "-p", "granularity=Q", "-p", "source=" + str(CORPUS / "bad_rows.csv"))
    assert res.exit_code == 2 and "granularity='Q' is not supported" in res.output, res.output
    assert not place.run_dirs("quick") and not (wf.reports / "daily-workflow").exists()
    assert not kernels_in(NOTEBOOKS)
    assert place.invoke("run").exit_code == 2 and place.invoke("run", "--due", "-p", "rows=1").exit_code == 2


def test_cron_trigger_fires_when_croniter_does():
    """APScheduler numbers weekdays from Monday, cron from Sunday: the trigger must agree with cron."""
    from dataclasses import replace

    base = load_job_specs()[0]
    for expr, tz in [("0 7 * * 0", "Europe/Paris"), ("*/20 9-17 * * 1-5", "America/New_York"), ("0 8 1 * *", "UTC"),
                     ("30 6 * * MON", "Europe/Berlin"), ("0 0 L * *", "UTC"), ("15 2 * * 7", "Europe/Paris")]:
        job = replace(base, schedule=expr, timezone=tz)
        trigger = cron_trigger(job)
        t = datetime(2025, 3, 20, 12, tzinfo=timezone.utc)  # crosses the March DST change
        prev = None
        for _ in range(40):
            ours = trigger.get_next_fire_time(prev, t + timedelta(seconds=1))
            assert ours == next_fire_time(job, t), (expr, t)
            prev, t = ours, ours
            assert previous_fire_time(job, t) == t


def test_job_lock_is_exclusive_and_released(tmp_path):
    with job_lock("j", reports=tmp_path):
        with pytest.raises(JobAlreadyRunning, match=r"job 'j' is already running \(pid \d+"):
            with job_lock("j", reports=tmp_path):
                pass
    with job_lock("j", reports=tmp_path):
        pass


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
# Killed runner, concurrent runs, the scheduler
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
def test_two_concurrent_runs_of_a_job_exactly_one_runs(tmp_path):
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", parameters={"sleep_s": 3.0})
    procs = [place.popen("run", "quick") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], outs
    loser = outs[[p.returncode for p in procs].index(3)]
    assert "job 'quick' is already running (pid" in loser[1]
    assert len(place.run_dirs("quick")) == 1 and place.history("quick")["status"].tolist() == ["succeeded"]


@pytest.mark.slow
def test_schedule_runs_what_is_due_then_stops_cleanly(tmp_path):
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", schedule="0 3 * * *")
    proc = place.popen("schedule", "--parallel", "1")
    try:
        wait_for(lambda: (place.reports / "quick" / "latest").exists(), 90, "the catch-up run")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "scheduling 1 jobs" in out and "quick succeeded" in out and "scheduler stopped" in out
    run = place.history("quick").iloc[0]
    assert run["status"] == "succeeded" and run["trigger"] == "due"
    assert run["scheduled_at"] == pd.Timestamp(previous_fire_time(load_job_specs(place.jobs)[0], run["started_at"]))


# --------------------------------------------------------------------------------------------
# A shipped job on a small store, and the same notebook under the plain papermill command
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    write_events(validate_events(synthetic_events(30_000, days=60, seed=0).events), url)
    return url


@pytest.mark.slow
def test_shipped_workflow_job_runs_and_matches_plain_papermill(store, tmp_path):
    from analytics_lib import load_events
    from analytics_lib.jobs.runner import run_job

    spec = find_job(load_job_specs(), "daily-workflow")
    assert check_job(spec, store=store)
    [result] = run_job(spec, store=store, reports=tmp_path / "reports", parallel=1)
    assert result.ok, result.error
    run = result.run_dir
    assert (tmp_path / "reports" / "daily-workflow" / "latest").resolve() == run
    meta = json.loads((run / "run.json").read_text())
    params = meta["parameters"]
    assert params["source"] == store and params["output_dir"] == str(run / "tables")
    today = pd.Timestamp.now(tz="UTC").normalize()
    assert params["start"] == (today - pd.Timedelta(days=28)).strftime("%Y-%m-%d")  # resolved at run time
    assert params["end"] == (today - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    loaded = load_events(store, start=params["start"], end=params["end"])
    assert meta["fingerprint"]["rows"] == loaded.summary.rows_kept > 0
    assert meta["fingerprint"]["max_ts"] == loaded.events["ts"].max().strftime("%Y-%m-%d %H:%M:%S")
    html = result.report.read_text()
    assert "load_events(" not in html and "workflow_parameters(" not in html  # no code
    assert f"{loaded.summary.rows_kept:,} events" in html and "Data window" in html
    assert set(pd.read_excel(run / "tables.xlsx", sheet_name=None)) >= {"run", "kpis", "funnel", "retention"}
    assert sorted(p.name for p in (run / "marts").glob("*.parquet")) == [
        "bottlenecks.parquet", "funnel.parquet", "kpis.parquet", "retention.parquet"]
    h = run_history(store, job="daily-workflow")
    assert h["input_rows"].iloc[0] == loaded.summary.rows_kept and h["status"].iloc[0] == "succeeded"
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


def test_jobs_commands_have_help():
    for cmd in ([], ["list"], ["run"], ["schedule"], ["history"], ["prune"]):
        res = CliRunner().invoke(main, ["jobs", *cmd, "--help"])
        assert res.exit_code == 0 and "Usage:" in res.output


def test_threads_of_one_process_share_nothing_but_the_lock(tmp_path):
    """Two threads asking for the same job: one gets the lock, the other is told it is running."""
    results = []
    refused = threading.Event()
    barrier = threading.Barrier(2)

    def grab():
        barrier.wait()
        try:
            with job_lock("t", reports=tmp_path):
                results.append("ran")
                refused.wait(10)  # hold it until the other thread has tried
        except JobAlreadyRunning:
            results.append("refused")
            refused.set()

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ran", "refused"]


def test_a_lock_taken_but_not_yet_recorded_refuses_with_a_message(tmp_path):
    """A second runner arriving between the holder's flock and its record gets "already running", not KeyError."""
    import fcntl

    folder = tmp_path / ".locks"
    folder.mkdir()
    fd = os.open(folder / "t.lock", os.O_RDWR | os.O_CREAT)  # the holder: locked, nothing recorded yet
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(JobAlreadyRunning, match="already running .*not recorded itself yet"):
            with job_lock("t", reports=tmp_path):
                pass
        # a record left by a former holder that is gone is not shown as the holder
        (folder / "t.holder.json").write_text(json.dumps({"pid": 2 ** 22 + 7, "pid_start": "1", "host": os.uname()[1],
                                                          "since": "2020-01-01 00:00:00 UTC"}))
        with pytest.raises(JobAlreadyRunning, match="not recorded itself yet"):
            with job_lock("t", reports=tmp_path):
                pass
    finally:
        os.close(fd)
    with job_lock("t", reports=tmp_path):  # released: taken, and the holder recorded
        info = json.loads((folder / "t.holder.json").read_text())
        assert info["pid"] == os.getpid()
        with pytest.raises(JobAlreadyRunning, match=f"pid {os.getpid()} on "):
            with job_lock("t", reports=tmp_path):
                pass


@pytest.mark.slow
@pytest.mark.postgres
def test_the_ledger_works_in_postgresql(pg_url, tmp_path):
    """The same ledger in a PostgreSQL store: timestamps keep their time zone, due and index agree."""
    from analytics_lib.jobs.runner import run_job

    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", parameters={"rows": 2})
    job = load_job_specs(place.jobs)
    [r] = run_job(job[0], store=pg_url, reports=place.reports, parallel=1)
    assert r.ok, r.error
    h = run_history(pg_url, job="quick")
    assert h["status"].tolist() == ["succeeded"] and str(h["started_at"].dt.tz) == "UTC"
    assert abs(h["started_at"].iloc[0] - pd.Timestamp(r.started_at)) < pd.Timedelta(seconds=5)
    assert not due_runs(job, store=pg_url, now=r.ended_at)["due"].any()
    assert f"quick/{r.run_id}/report.html" in (place.reports / "index.html").read_text()


# --------------------------------------------------------------------------------------------
# Hardening: credentials, script in reports, paths, full disks, unreachable sources
SECRET = "SECRET-pw-7f3a"


def _files_holding(root: Path, text: str) -> list[str]:
    """Every file under ``root`` whose bytes hold ``text`` (workbooks are unzipped and read too)."""
    import zipfile

    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        if text.encode() in data:
            found.append(str(path.relative_to(root)))
    return found


def _ledger_text(store: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(store)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM job_runs")).fetchall()
    engine.dispose()
    return json.dumps([list(map(str, r)) for r in rows])


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


def _hostile_store(path: Path) -> tuple[str, str]:
    """A store whose team, model and feature names are markup (as an attacker could name a segment)."""
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    team = "<img src=x onerror=alert(document.domain)>"
    ev = synthetic_events(30_000, days=60, seed=0).events
    ev["team"] = ev["team"].cat.rename_categories({"team-a": team})
    models = {m: f"<script>alert('{i}')</script>{m}" for i, m in enumerate(ev["model"].cat.categories[:1])}
    ev["model"] = ev["model"].cat.rename_categories(models)
    url = f"sqlite:///{path}"
    write_events(validate_events(ev), url)
    return url, team


@pytest.mark.slow
def test_names_from_the_data_cannot_run_script_in_a_report(tmp_path):
    """A team called <img onerror=...> and a model called <script>...: the published report shows the
    names as text (escaped) and carries no event handler and no script of theirs."""
    from html.parser import HTMLParser

    from analytics_lib.jobs.runner import run_job

    store, team = _hostile_store(tmp_path / "hostile.db")
    [r] = run_job(find_job(load_job_specs(), "daily-workflow"), store=store, reports=tmp_path / "reports", parallel=1)
    assert r.ok, r.error
    html = r.report.read_text()

    class Audit(HTMLParser):
        handlers, scripts, in_script = [], [], False

        def handle_starttag(self, tag, attrs):
            self.handlers += [(tag, k) for k, _ in attrs if k.lower().startswith("on")]
            self.in_script = tag == "script"

        def handle_data(self, data):
            if self.in_script:
                self.scripts.append(data)

    audit = Audit()
    audit.feed(html)
    assert audit.handlers == []
    assert not [s for s in audit.scripts if "alert(" in s]
    assert "&lt;img src=x onerror=alert(document.domain)&gt;" in html  # shown, as text
    assert "<img src=x" not in html and "<img src=\"x\"" not in html


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


def _small_filesystem(script: str, env: dict) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace (user namespace: no root needed) where it can
    mount a small tmpfs, as a disk that fills up."""
    import shutil

    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is missing")
    return subprocess.run([unshare, "--map-root-user", "--mount", "sh", "-ec", script], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.mark.slow
def test_a_full_disk_at_publish_fails_the_run_keeps_latest_and_notifies(tmp_path):
    """The disk fills up while a run executes: publishing its workbook fails with ENOSPC; the run is
    `failed` with the reason (not left `running`), `latest` still shows the last good run, and the
    failure is notified."""
    place = Place(tmp_path)
    notified = tmp_path / "notified.jsonl"
    place.spec("full", "fills_disk.ipynb", outputs=["xlsx"], retries=0,
               notify={"on": ["failure"], "command": f"sh -c 'cat >> {notified}; echo >> {notified}'"})
    reports = place.reports
    reports.mkdir()
    copy = tmp_path / "copy"
    args = " ".join(f"'{a}'" for a in place.args())
    script = (f"mount -t tmpfs -o size=4m tmpfs '{reports}'\n"
              f"{args} run full -p fill=false\n"
              f"{args} run full -p fill=true -p leave_bytes=8192 || echo second-run-status=$?\n"
              f"cp -a '{reports}' '{copy}'\n")
    proc = _small_filesystem(script, ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "second-run-status=1" in proc.stdout, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    h = place.history("full")
    assert h["status"].tolist() == ["failed", "succeeded"]  # newest first
    error = h["error"].iloc[0]
    assert "publishing failed" in error and "No space left on device" in error
    good, bad = h["run_id"].iloc[1], h["run_id"].iloc[0]
    assert os.readlink(copy / "full" / "latest") == good
    assert json.loads((copy / "full" / bad / "run.json").read_text())["status"] == "failed"
    notes = [json.loads(x) for x in notified.read_text().split("\n") if x.strip()]
    assert [n["status"] for n in notes] == ["failed"] and "No space left on device" in notes[0]["error"]


def test_unreachable_or_missing_sources_get_one_line(tmp_path):
    """No traceback, no password, no empty SQLite file created; a job source that is not data is
    refused before any kernel."""
    bad_pg = f"postgresql+psycopg://ana:{SECRET}@127.0.0.1:9/analytics"
    missing = tmp_path / "no" / "such.db"
    for args in (["run", "--source", bad_pg], ["dashboards", "build", "--source", bad_pg],
                 ["kpis", f"sqlite:///{missing}"], ["run", "--source", f"sqlite:///{missing}"]):
        proc = subprocess.run([str(WORKBENCH), *args], capture_output=True, text=True, env=ENV, timeout=120,
                              cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, (args, out)
        assert "Traceback" not in out and SECRET not in out, (args, out)
        assert ("cannot connect to postgresql+psycopg://ana:***@127.0.0.1:9/analytics" in out
                or "does not exist" in out), (args, out)
    assert not missing.exists() and not missing.parent.exists()
    place = Place(tmp_path)
    place.spec("notdata", "quick.ipynb")
    spec = find_job(load_job_specs(), "daily-workflow")
    with pytest.raises(WorkbenchError, match="not an events source"):
        check_job(spec, overrides={"source": str(ROOT / "README.md")}, store=place.store)
