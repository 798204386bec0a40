"""Checks before any kernel starts: a bad spec or parameter stops the command, the engine and cluster
are checked, and unreachable or missing sources get one line (no traceback, no password).
Runs are real: the ``workbench`` command in subprocesses, papermill, kernels, signals. The tiny
notebooks in ``tests/corpus/notebooks`` write a table (``quick``), raise (``raises``), sleep
(``hangs``) or kill their own kernel (``killed``). Everything is written under pytest's tmp
folders (never the repository's ``reports/``)."""
from __future__ import annotations

import subprocess

import pytest
from conftest import CORPUS, ROOT
from jobs_helpers import ENV, NOTEBOOKS, SECRET, WORKBENCH, Place, kernels_in

from analytics_lib import WorkbenchError
from analytics_lib.jobs.prepare import check_job
from analytics_lib.jobs.spec import find_job, load_job_specs


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


def test_jobs_take_the_engine_and_check_it_before_any_kernel(tmp_path):
    from analytics_lib import check_job, find_job, load_job_specs

    job = find_job(load_job_specs(), "daily-workflow")
    assert {"engine", "cluster"} <= set(job.declared)
    store = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "store.db").touch()
    assert check_job(job, overrides={"engine": "dask", "cluster": "tcp://127.0.0.1:8786"}, store=store)
    with pytest.raises(WorkbenchError, match=r"daily-workflow.*cluster='nohost' is not a scheduler address"):
        check_job(job, overrides={"engine": "dask", "cluster": "nohost"}, store=store)
    with pytest.raises(WorkbenchError, match=r"daily-workflow.*cluster='tcp://127.0.0.1:8786' is for engine='dask'"):
        check_job(job, overrides={"cluster": "tcp://127.0.0.1:8786"}, store=store)


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
