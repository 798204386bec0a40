"""Fixtures of the jobs tests: the shipped report jobs run once per session, and no test leaves a
kernel or a runner child behind."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for jobs_helpers.py (see tests/conftest.py)
from jobs_helpers import ENV, NOTEBOOKS, WORKBENCH, kernels_in, runner_children, wait_for  # noqa: E402


@pytest.fixture(scope="session")
def shipped_runs(sqlite_store, tmp_path_factory):
    """``run(*jobs) -> (store, reports)``: shipped jobs run as ``make run`` runs them (``workbench jobs
    run --all``, gates included, two notebooks at once: the jobs not run yet, their specs copied into
    a jobs folder of their own) on one store whose data ends today: 30k events over 130 days (the
    churn model needs 112 days) with the planted experiments and the delivery events, as ``workbench
    sample`` stores them. A job runs once per session (tests/jobs/test_report_html.py runs them all
    and test_runner.py reads the workflow job's run)."""
    import shutil
    import subprocess

    from conftest import ROOT

    state: dict = {"done": set()}

    def run(*jobs: str):
        if "store" not in state:
            from analytics_lib.data.delivery import write_delivery
            from analytics_lib.data.synthetic.delivery import synthetic_delivery

            store = sqlite_store(30_000, days=130, seed=0, experiments=True)
            write_delivery(synthetic_delivery(end="today", seed=0).data, store)
            state.update(store=store, reports=tmp_path_factory.mktemp("reports"))
        todo = [j for j in jobs if j not in state["done"]]
        if todo:
            folder = tmp_path_factory.mktemp("shipped-jobs")
            for job in todo:
                shutil.copy(ROOT / "papermill_jobs" / f"{job}.yaml", folder)
            out = subprocess.run([str(WORKBENCH), "jobs", "--jobs-dir", str(folder), "--store", state["store"],
                                  "--reports", str(state["reports"]), "run", "--all", "--parallel", "2"],
                                 capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=1500)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
            state["done"].update(todo)
        return state["store"], state["reports"]

    return run


@pytest.fixture(autouse=True)
def _no_stray_kernels():
    yield
    wait_for(lambda: not kernels_in(NOTEBOOKS) and not runner_children(), 15, "the test's kernels to exit")
