"""Helpers shared by the jobs tests: a jobs folder, a reports folder and a store in a tmp folder
(``Place``), the processes a run leaves, and what holds a password."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from click.testing import CliRunner
from conftest import CORPUS, ROOT

from analytics_lib.cli import main
from analytics_lib.jobs.ledger import run_history


NOTEBOOKS = CORPUS / "notebooks"
BIN = Path(sys.executable).parent
WORKBENCH, PAPERMILL = BIN / "workbench", BIN / "papermill"
# the caller's WORKBENCH_* settings stay out, except the test session's mark (tests/conftest.py):
# what the runner starts must stay recognisable as this session's
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_") or k == "WORKBENCH_TEST_SESSION"},
       "MPLBACKEND": "Agg"}


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
