"""Shared fixtures. Data comes from the seeded generator or small inline frames."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
CORPUS = TESTS / "corpus"
REAL = ROOT.parent / "shared" / "data" / "real"
sys.path.insert(0, str(TESTS))  # for tests/pgserver.py

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


# --------------------------------------------------------------------------------------------
# Nothing a test starts may outlive the suite. Every process started by this session carries
# WORKBENCH_TEST_SESSION in its environment (children inherit it, even when they are detached
# into their own session or reparented to init); at the end, any such process still running,
# and any new server, kernel or browser process, fails the session and is killed.
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


def _leftovers() -> dict[int, str]:
    now = _processes()
    return {pid: cmd for pid, (cmd, marked) in now.items()
            if pid not in _BEFORE and (marked or any(w in cmd for w in _WATCHED))
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
