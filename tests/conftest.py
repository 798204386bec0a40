"""Shared fixtures. Data comes from the seeded generator or small inline frames.

The tests mirror the package tree (``tests/<package>/[<subpackage>/]test_<module>.py``) and run
with ``--import-mode=importlib`` (no ``__init__.py`` files): fixtures used by several packages
live here, those of one package in that package's ``conftest.py``, and plain helpers shared by
the files of one package in a distinctly named ``<package>_helpers.py`` beside them. Test files
import the names below with ``from conftest import ROOT, CORPUS, ...``.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
CORPUS = TESTS / "corpus"
REAL = ROOT.parent / "shared" / "data" / "real"
sys.path.insert(0, str(TESTS))  # for tests/pgserver.py


class _ThisConftest(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import conftest`` gives this very module, from any test folder.

    Under ``--import-mode=importlib`` pytest imports this file as ``tests.conftest`` (and the
    package folders' ``conftest.py`` files as ``tests.<package>.conftest``), and it drops
    ``sys.modules["conftest"]`` before loading each of them. A plain ``from conftest import ROOT``
    would then find whichever ``conftest.py`` comes first on ``sys.path`` (the package folders that
    hold helpers are on it) or execute this file a second time, with a new session mark below."""

    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname == "conftest" else None

    def create_module(self, spec):
        return _THIS

    def exec_module(self, module):
        pass


_THIS = sys.modules[__name__]
if __name__ != "conftest":  # imported by path (importlib mode), not as the top-level module "conftest"
    sys.meta_path.insert(0, _ThisConftest())

NOW = "2025-07-01T00:00:00Z"  # pinned "now" for validation of fixed-date data


@pytest.fixture(scope="session")
def pg_url():
    """A throwaway PostgreSQL server on 127.0.0.1 for the whole session.

    Skips loudly if it cannot start; under CI=true that is a failure (CI must run these tests)."""
    from pgserver import PostgresUnavailable, postgres_server

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except PostgresUnavailable as exc:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"PostgreSQL could not be started: {exc}")
            pytest.skip(f"PostgreSQL could not be started: {exc}")
        yield url


@pytest.fixture(scope="session")
def sample_small():
    """~60k clean events with ground truth, fixed end date (fast)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    return synthetic_events(60_000, days=90, end="2025-06-30", seed=0)


@pytest.fixture(scope="session")
def sample_dirty():
    """The same world with malformed rows mixed in, as a CSV source would deliver them."""
    from analytics_lib.data.synthetic.events import synthetic_events

    return synthetic_events(60_000, days=90, end="2025-06-30", seed=0, malformed_share=0.01)


@pytest.fixture(scope="module")
def events_20k():
    """20k clean events over the 42 days to 2025-06-30 (seed 0): figures, tables and experience."""
    from analytics_lib.data.synthetic.events import synthetic_events

    return synthetic_events(20_000, days=42, end="2025-06-30", seed=0).events


@pytest.fixture(scope="module")
def kpis(sample_small):
    """Daily ``kpi_table`` of ``sample_small`` (anomaly detection and its figure)."""
    from analytics_lib import kpi_table

    return kpi_table(sample_small.events)


@pytest.fixture(scope="module")
def flat(sample_small):
    """ROI inputs without usage uncertainty (flat projection of the last 28 days of ``sample_small``)."""
    from analytics_lib.analysis.roi.inputs import roi_inputs

    return roi_inputs(sample_small.events, months=48, projection="flat")


# --------------------------------------------------------------------------------------------
# SQLite stores of synthetic events
@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory):
    """Factory ``sqlite_store(n_events, days, seed, end=None, experiments=False) -> URL`` of a SQLite
    store holding ``validate_events(synthetic_events(n_events, days=days, seed=seed, end=end).events)``
    (with ``experiments``: the planted experiments and their ``experiment_assignments`` table).

    Each store is generated once per session (``end=None`` means "ending today", as the
    generator reads it, and is part of the cache key) and every call returns a fresh copy of
    it in its own tmp folder, so a test may write to its store (jobs record runs in it) without
    affecting another module's."""
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    cache: dict[tuple, Path] = {}

    def make(n_events: int, days: int, seed: int, end: str | None = None, experiments: bool = False) -> str:
        import dataclasses

        import pandas as pd

        key = (n_events, days, seed, end or pd.Timestamp.now("UTC").strftime("today=%Y-%m-%d"), experiments)
        if key not in cache:
            db = tmp_path_factory.mktemp("store-cache") / "events.db"
            valid = validate_events(synthetic_events(n_events, days=days, seed=seed, end=end).events)
            if experiments:  # as `workbench sample` does: planted experiments and their assignment table
                from analytics_lib.data.assignments import write_assignments
                from analytics_lib.data.synthetic.experiments import plant_experiments

                planted = plant_experiments(valid.events, seed=seed)
                valid = dataclasses.replace(valid, events=planted.events)
                write_assignments(planted.assignments, f"sqlite:///{db}")
            write_events(valid, f"sqlite:///{db}")
            cache[key] = db
        copy = tmp_path_factory.mktemp("store") / "events.db"
        shutil.copyfile(cache[key], copy)
        return f"sqlite:///{copy}"

    return make


@pytest.fixture(scope="module")
def store(sqlite_store) -> str:
    """30k events over the 60 days up to today (seed 0): the notebooks' default window has data."""
    return sqlite_store(30_000, days=60, seed=0)


@pytest.fixture(scope="module")
def dashboard_store(sqlite_store) -> str:
    """30k events over the 60 days to 2025-06-30 (seed 0): the dashboards' ``events``, stored."""
    return sqlite_store(30_000, days=60, seed=0, end="2025-06-30")


@pytest.fixture(scope="module")
def experiment_store(sqlite_store) -> str:
    """The dashboards' store with the planted experiments and their assignment table."""
    return sqlite_store(30_000, days=60, seed=0, end="2025-06-30", experiments=True)


@pytest.fixture
def isolated_dashboards(tmp_path, monkeypatch):
    """Never read the repository's published runs or cache."""
    monkeypatch.setenv("WORKBENCH_REPORTS", str(tmp_path / "no-runs"))
    monkeypatch.setenv("WORKBENCH_DASHBOARD_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------
# Nothing a test starts may outlive the suite. Every process started by this session carries
# WORKBENCH_TEST_SESSION in its environment (children inherit it, even when they are detached
# into their own session or reparented to init); at the end, any such process still running,
# and any new server, kernel or browser process below this one, fails the session and is killed.
# Processes of anyone else (another test run, a user's browser on the same machine) are never
# counted, let alone killed.
_SESSION_MARK = f"WORKBENCH_TEST_SESSION={os.getpid()}-{os.urandom(4).hex()}"
os.environ["WORKBENCH_TEST_SESSION"] = _SESSION_MARK.split("=", 1)[1]
_WATCHED = ("voila", "ipykernel_launcher", "postgres", "distributed.cli", "dask-worker", "dask-scheduler",
            "dask scheduler", "dask worker", "chromium", "chrome", "_child_main", "jupyter-lab", "jupyter lab")


def _processes() -> dict[int, tuple[str, bool]]:
    """pid -> (command line, carries this session's mark), for every process we may read."""
    out = {}
    me = os.getpid()
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == me:
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            if not cmd or (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
        except (OSError, IndexError):
            continue
        try:
            marked = _SESSION_MARK.encode() in (proc / "environ").read_bytes()
        except OSError:
            marked = False
        out[pid] = (cmd, marked)
    return out


_BEFORE = set(_processes())


#: multiprocessing's helpers of this very process (the forecasts' forkserver): they end with it.
_OWN_HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _descends_from_me(pid: int) -> bool:
    me, seen = os.getpid(), set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        pid = _parent(pid)
        if pid == me:
            return True
    return False


def _leftovers() -> dict[int, str]:
    now = _processes()
    return {pid: cmd for pid, (cmd, marked) in now.items()
            if pid not in _BEFORE and (marked or (any(w in cmd for w in _WATCHED) and _descends_from_me(pid)))
            and not (any(h in cmd for h in _OWN_HELPERS) and _parent(pid) == os.getpid())}


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a process the suite started is still alive once every fixture is torn down."""
    import signal
    import time

    if not Path("/proc").is_dir():
        return
    deadline = time.monotonic() + 20  # servers and kernels stop asynchronously: give them time
    left = _leftovers()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _leftovers()
    if not left:
        return
    lines = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in sorted(left.items()))
    session.config.get_terminal_writer().line(
        f"\nERROR: {len(left)} process(es) started by the tests are still running after the suite:\n{lines}",
        red=True)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --------------------------------------------------------------------------------------------
# Accessibility: axe-core (the npm package), run in the browser tests through Playwright
AXE_VERSION = "4.14.1"


@pytest.fixture(scope="session")
def axe_js() -> str:
    """The source of axe-core's ``axe.min.js``, fetched once with ``npm pack`` into ``data/cache``."""
    import subprocess
    import tarfile

    cached = ROOT / "data" / "cache" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
    if not cached.is_file():
        import shutil
        import tempfile

        if shutil.which("npm") is None:
            message = "npm is missing: the accessibility checks fetch axe-core with it (Debian: apt install npm)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=tmp, check=True,
                           capture_output=True, timeout=300)
            with tarfile.open(Path(tmp) / f"axe-core-{AXE_VERSION}.tgz") as tar:
                data = tar.extractfile("package/axe.min.js").read()
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = cached.with_suffix(".tmp")
        tmp_file.write_bytes(data)
        os.replace(tmp_file, cached)
    return cached.read_text(encoding="utf-8")


def axe_violations(page, axe_source: str, impacts=("serious", "critical")) -> list:
    """axe-core's violations on the page at ``impacts``: (rule, impact, nodes, first node's HTML)."""
    page.add_script_tag(content=axe_source)
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".map(v => [v.id, v.impact, v.nodes.length, v.nodes[0].html.slice(0, 160)])")
    return [v for v in found if v[1] in impacts]


# --------------------------------------------------------------------------------------------
# The browser every browser test drives: Debian's Chromium (scripts/ensure_system_deps.py), never
# `playwright install`
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Skip (fail under CI=true) when Chromium or Playwright is missing."""
    problem = None
    if not CHROMIUM.is_file():
        problem = f"{CHROMIUM} is missing (scripts/ensure_system_deps.py installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            problem = f"playwright is not installed ({exc})"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
