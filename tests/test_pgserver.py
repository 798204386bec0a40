"""Tests for the throwaway PostgreSQL helper (tests/pgserver.py) and scripts/ensure_system_deps.py.

Everything here is real: real initdb/pg_ctl, real TCP connections, real subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).parent))

import pytest
from sqlalchemy import create_engine, make_url, text

from pgserver import PostgresUnavailable, find_pg_bin, postgres_server

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


@contextmanager
def server_or_skip(**kwargs) -> Iterator[str]:
    """postgres_server(), skipping (failing under CI=true) only if the server cannot be started."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server(**kwargs))
        except PostgresUnavailable as e:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"PostgreSQL could not be started: {e}")
            pytest.skip(f"PostgreSQL could not be started: {e}")
        yield url


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    """True if pid is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def processes_using(path: str) -> str:
    """pgrep -af output for processes whose command line mentions `path` ('' if none)."""
    r = subprocess.run(["pgrep", "-af", path], capture_output=True, text=True)
    return r.stdout.strip()


def server_facts(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            postmaster = parent_pid(backend)  # while the backend still exists
    finally:
        engine.dispose()
    return {"data_dir": data_dir, "base": str(Path(data_dir).parent), "backend": backend,
            "postmaster": postmaster, "port": make_url(url).port}


def assert_gone(facts: dict) -> None:
    assert not port_open(facts["port"]), "port still accepts connections after the server was stopped"
    assert not Path(facts["base"]).exists(), f"temp dir {facts['base']} was not removed"
    assert processes_using(facts["data_dir"]) == ""
    assert not alive(facts["postmaster"]), "postmaster still running"
    assert not alive(facts["backend"]), "backend still running"


@pytest.mark.postgres
def test_server_roundtrip_and_cleanup():
    t0 = time.perf_counter()
    with server_or_skip() as url:
        started = time.perf_counter() - t0
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:") and url.endswith("/test")
        facts = server_facts(url)
        assert facts["base"].startswith("/tmp/pgtest-")
        assert port_open(facts["port"])
        assert alive(facts["postmaster"])

        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                assert "PostgreSQL" in conn.execute(text("SELECT version()")).scalar_one()
                assert conn.execute(text("SELECT current_database()")).scalar_one() == "test"
                conn.execute(text("CREATE TABLE events (id int PRIMARY KEY, name text NOT NULL, t timestamptz)"))
                conn.execute(text("INSERT INTO events VALUES (:id, :name, now())"),
                             [{"id": i, "name": f"ev-{i}"} for i in range(100)])
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, name FROM events WHERE id < 3 ORDER BY id")).all()
                assert [tuple(r) for r in rows] == [(0, "ev-0"), (1, "ev-1"), (2, "ev-2")]
                assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 100
                assert conn.execute(text("SHOW fsync")).scalar_one() == "off"
        finally:
            engine.dispose()
        t1 = time.perf_counter()
    stopped = time.perf_counter() - t1
    print(f"\nPostgreSQL start {started:.2f} s, stop {stopped:.2f} s")
    assert_gone(facts)
    assert started < 60 and stopped < 30


@pytest.mark.postgres
def test_cleanup_when_body_raises():
    engine = conn = None
    try:
        with pytest.raises(ZeroDivisionError):
            with server_or_skip() as url:
                facts = server_facts(url)
                # a connection still open when the block is left must not prevent the stop
                engine = create_engine(url)
                conn = engine.connect()
                conn.execute(text("SELECT 1"))
                1 / 0
        assert_gone(facts)
    finally:
        # Close explicitly. Left to the garbage collector, its finalizer ran at a random later
        # point and crashed pytest's session end here (CPython 3.11.7: "SystemError: AST
        # constructor recursion depth mismatch" in a later ast.parse, see CPython gh-106905).
        if conn is not None:
            conn.invalidate()  # the server is gone: drop the connection without a ROLLBACK
            conn.close()
        if engine is not None:
            engine.dispose()


@pytest.mark.postgres
def test_port_clash_retries_on_another_port():
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        with server_or_skip(port=taken) as url:
            port = make_url(url).port
            assert port != taken
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    assert conn.execute(text("SELECT 41 + 1")).scalar_one() == 42
            finally:
                engine.dispose()
    assert not port_open(port)


def test_missing_binaries_raise(tmp_path):
    with pytest.raises(PostgresUnavailable, match="no PostgreSQL server binaries"):
        with postgres_server(pg_bin=tmp_path / "nope"):
            pytest.fail("the body must not run")


@pytest.mark.postgres
def test_startup_failure_reports_log_and_cleans_up():
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL binaries not installed")
    # A server that refuses to start: the error carries the server log (not retried: no port clash).
    with pytest.raises(PostgresUnavailable) as err:
        with postgres_server(options="-c no_such_setting=1"):
            pytest.fail("the body must not run")
    msg = str(err.value)
    assert "pg_ctl start failed" in msg and 'unrecognized configuration parameter "no_such_setting"' in msg
    base = re.search(r"/tmp/pgtest-[^/\s]+", msg)
    assert base, msg
    assert not Path(base.group()).exists(), "temp dir of the failed server was not removed"
    assert processes_using(base.group()) == ""


CHILD = """
import os, sys, json
sys.path.insert(0, {tests!r})
from pgserver import postgres_server
from sqlalchemy import create_engine, text, make_url
cm = postgres_server()
url = cm.__enter__()
e = create_engine(url)
with e.connect() as c:
    dd = c.execute(text("SHOW data_directory")).scalar_one()
e.dispose()
print(json.dumps({{"url": url, "data_dir": dd, "port": make_url(url).port}}), flush=True)
{ending}
"""


def run_child(ending: str) -> dict:
    """Run CHILD in a fresh interpreter: it starts a server, prints its facts, then ends with `ending`."""
    r = subprocess.run([sys.executable, "-c", CHILD.format(tests=str(TESTS), ending=ending)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode not in (0, 3) or not r.stdout.strip():
        if "PostgresUnavailable" in r.stderr and os.environ.get("CI", "").lower() != "true":
            pytest.skip(f"PostgreSQL could not be started: {r.stderr.strip().splitlines()[-1]}")
        pytest.fail(f"child failed (exit {r.returncode}):\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_atexit_stops_a_server_left_running():
    # The with-block is never left; the interpreter exits normally: atexit must clean up,
    # synchronously, before the process is gone.
    info = run_child("sys.exit(3)")
    assert not port_open(info["port"])
    assert not Path(info["data_dir"]).parent.exists()
    assert processes_using(info["data_dir"]) == ""


@pytest.mark.postgres
def test_watchdog_stops_server_of_a_crashed_process():
    # os._exit skips atexit (like pytest-timeout's thread method, SIGKILL or a segfault):
    # the watchdog process notices the closed pipe and stops the server.
    info = run_child("os._exit(3)")
    base = Path(info["data_dir"]).parent
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (base.exists() or port_open(info["port"])):
        time.sleep(0.1)
    assert not port_open(info["port"])
    assert not base.exists()
    assert processes_using(info["data_dir"]) == ""


def test_ensure_system_deps_check_reports():
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "ensure_system_deps.py"), "--check"],
                       capture_output=True, text=True, timeout=60, env=env)
    elapsed = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for pkg in ("postgresql", "chromium"):
        status = [ln for ln in lines if ln.startswith(f"{pkg}: ")]
        assert len(status) == 1, r.stdout
        assert status[0].startswith((f"{pkg}: found", f"{pkg}: MISSING")), status[0]
    assert not any(ln.endswith("installing ...") for ln in lines), r.stdout  # --check installs nothing
    assert elapsed < 10, f"--check took {elapsed:.1f} s"
