"""Throwaway PostgreSQL servers for tests (a helper module, not a test file).

``postgres_server()`` runs initdb in a fresh temp dir, starts a server on a random free
loopback port with durability turned off, creates database ``test`` and yields its SQLAlchemy
URL ``postgresql+psycopg://postgres@127.0.0.1:PORT/test`` (trust auth, no password). On exit
-- normal or by exception -- the server is stopped (``pg_ctl -m immediate stop``, killing the
postmaster if that fails) and the temp dir removed. initdb + start + createdb + stop takes
about a second.

Safety nets, so that no server survives a crashed run:

* an ``atexit`` handler stops servers whose ``with`` block was never left;
* a small watchdog process per server (this file run with ``--watchdog``) holds a pipe to
  the test process; if the test process dies without cleaning up (SIGKILL, ``os._exit`` --
  e.g. pytest-timeout's thread method -- or a segfault) the pipe closes and the watchdog
  stops the server and removes its dir.

Binaries come from the newest ``/usr/lib/postgresql/<ver>/bin`` (Debian's ``postgresql``
package; ``scripts/ensure_system_deps.py`` installs it). initdb refuses to run as root, so
as root the server binaries run via ``runuser -u postgres --`` and the temp dir (made under
/tmp, not pytest's 0700 tmp dirs) is chmod 755 and chowned to postgres.

Use from conftest.py -- skip only if *startup* fails; the ``yield`` must stay outside the
``try`` so that teardown errors are never turned into skips::

    import contextlib, os, sys
    from pathlib import Path
    import pytest

    sys.path.insert(0, str(Path(__file__).parent))
    from pgserver import PostgresUnavailable, postgres_server

    @pytest.fixture(scope="session")
    def pg_url():
        with contextlib.ExitStack() as stack:
            try:
                url = stack.enter_context(postgres_server())
            except PostgresUnavailable as e:
                if os.environ.get("CI", "").lower() == "true":
                    pytest.fail(f"PostgreSQL could not be started: {e}")
                pytest.skip(f"PostgreSQL could not be started: {e}")
            yield url
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["PostgresUnavailable", "find_pg_bin", "postgres_server"]

SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
START_ATTEMPTS = 5  # new random port each time, if the previous one turned out to be taken


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be started here; the message says why (with the log tail)."""


# One rule for finding the server binaries, shared with the installer script.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from ensure_system_deps import find_pg_bin  # noqa: E402


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(text: str, n: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _env() -> dict[str, str]:
    # No PGDATA/PGPORT/PGHOST... from the caller's environment may leak into the binaries.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    return env


def _wrap(cmd: list[str], as_postgres: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if as_postgres else cmd


# --- stopping (shared by the normal path, atexit and the watchdog) -------------------------

def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            # field 4 (ppid) comes after the ")" that closes the command name
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _kill_postmaster(data: Path) -> None:
    """SIGKILL the postmaster of `data` (checked against its command line) and its children."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if str(data) not in _proc_cmdline(pid):  # stale pid file, or pid reused by something else
        return
    for p in [pid, *_children(pid)]:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while _proc_cmdline(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _stop_and_remove(base: Path, pg_bin: Path, as_postgres: bool) -> None:
    """Stop the server of `base` if it runs, then delete `base`. Idempotent, never raises."""
    data = base / "data"
    try:
        if (data / "postmaster.pid").exists():
            try:
                r = subprocess.run(
                    _wrap([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "20", "stop"],
                          as_postgres),
                    cwd=base, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
                failed = r.returncode != 0
            except (OSError, subprocess.TimeoutExpired):
                failed = True
            if failed or (data / "postmaster.pid").exists():
                _kill_postmaster(data)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- the server -----------------------------------------------------------------------------

_live: dict[int, "_Server"] = {}
_live_lock = threading.Lock()


class _Server:
    def __init__(self, pg_bin: Path | None, port: int | None, options: str) -> None:
        self.pg_bin = pg_bin
        self.first_port = port
        self.options = options
        self.owner_pid = os.getpid()
        self.as_postgres = os.geteuid() == 0
        self.base: Path | None = None
        self.url = ""
        self._watchdog: subprocess.Popen[bytes] | None = None

    def _run(self, cmd: list[str], what: str, timeout: float, wrap: bool = True) -> None:
        assert self.base is not None
        try:
            r = subprocess.run(_wrap(cmd, self.as_postgres and wrap), cwd=self.base, env=_env(),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise PostgresUnavailable(f"{what} failed: {e}") from None
        if r.returncode != 0:
            raise PostgresUnavailable(f"{what} failed (exit {r.returncode}):\n{_tail(r.stdout + r.stderr)}")

    def start(self) -> None:
        pg_bin = self.pg_bin or find_pg_bin()
        if pg_bin is None or not (pg_bin / "initdb").is_file() or not (pg_bin / "pg_ctl").is_file():
            where = pg_bin or "/usr/lib/postgresql/*/bin"
            raise PostgresUnavailable(
                f"no PostgreSQL server binaries (initdb, pg_ctl) in {where}; "
                "install them with: apt-get install -y --no-install-recommends postgresql "
                "(or run: python scripts/ensure_system_deps.py)")
        self.pg_bin = pg_bin
        if self.as_postgres:
            if not shutil.which("runuser"):
                raise PostgresUnavailable("running as root but `runuser` is missing (initdb refuses root)")
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root but there is no `postgres` user "
                                          "(initdb refuses root)") from None

        self.base = Path(tempfile.mkdtemp(prefix="pgtest-", dir="/tmp"))
        with _live_lock:
            _live[id(self)] = self
        try:
            os.chmod(self.base, 0o755)  # pytest's tmp dirs are 0700: the postgres user could not enter
            if self.as_postgres:
                os.chown(self.base, pw.pw_uid, pw.pw_gid)
        except OSError as e:
            raise PostgresUnavailable(f"cannot prepare {self.base} for the postgres user: {e}") from None
        self._start_watchdog()

        data = self.base / "data"
        self._run([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"], "initdb", timeout=180)

        log = self.base / "server.log"
        port = self.first_port or _free_port()
        for attempt in range(1, START_ATTEMPTS + 1):
            log_size = log.stat().st_size if log.exists() else 0
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {shlex.quote(str(self.base))} "
                    f"{SERVER_OPTIONS} {self.options}")
            try:
                self._run([str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                           "-o", opts, "start"], "pg_ctl start", timeout=90)
                break
            except PostgresUnavailable as e:
                new_log = log.read_text(errors="replace")[log_size:] if log.exists() else ""
                # pg_ctl -w may have given up on a postmaster that still runs: make sure it is gone.
                _kill_postmaster(data)
                if attempt < START_ATTEMPTS and re.search(r"could not bind|already in use", new_log):
                    port = _free_port()
                    continue
                raise PostgresUnavailable(
                    f"{e}\nlast lines of {log} (removed with its temp dir):\n{_tail(new_log)}") from None

        self._run([str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"],
                  "createdb", timeout=60, wrap=False)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"

    def _start_watchdog(self) -> None:
        # If this process dies without cleaning up, the pipe closes and the watchdog cleans up.
        # -I: isolated mode, so the tests dir is not put on the watchdog's sys.path.
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).resolve()), "--watchdog",
                 str(self.base), str(self.pg_bin), "1" if self.as_postgres else "0"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)  # Ctrl-C on the terminal must not kill it before it cleans up
        except OSError:
            self._watchdog = None  # atexit and the context manager still clean up

    def stop(self) -> None:
        if os.getpid() != self.owner_pid:  # a forked child (its atexit too) must not stop our server
            return
        with _live_lock:
            if _live.pop(id(self), None) is None:
                return
        if self.base is not None and self.pg_bin is not None:
            _stop_and_remove(self.base, self.pg_bin, self.as_postgres)
        if self._watchdog is not None:
            try:
                self._watchdog.stdin.write(b"done\n")  # type: ignore[union-attr]
                self._watchdog.stdin.close()  # type: ignore[union-attr]
                self._watchdog.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._watchdog.kill()
                self._watchdog.wait()


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        servers = list(_live.values())
    for s in servers:
        s.stop()


@contextmanager
def postgres_server(*, pg_bin: Path | None = None, port: int | None = None,
                    options: str = "") -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield ``postgresql+psycopg://postgres@127.0.0.1:PORT/test``.

    pg_bin: directory with initdb/pg_ctl/createdb (default: find_pg_bin()).
    port:   port to try first (default: a random free one); on a clash another random port is used.
    options: extra server options for ``pg_ctl -o``, e.g. ``"-c max_connections=200"``.
    Raises PostgresUnavailable (with the stderr / server log tail) if the server cannot be started.
    The server is always stopped and its temp dir removed when the block is left.
    """
    server = _Server(pg_bin, port, options)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def _watchdog_main(base: str, pg_bin: str, as_postgres: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if sys.stdin.readline().strip() == "done":  # the owner cleaned up itself
        return
    _stop_and_remove(Path(base), Path(pg_bin), as_postgres == "1")


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--watchdog":
    _watchdog_main(*sys.argv[2:])


def fresh_database(pg_url: str, name: str, *, password: str | None = None) -> str:
    """Drop and create database ``name`` on the server of ``pg_url``; its URL, with ``password`` in it.

    The test server trusts every loopback connection, so any password is accepted: tests use one
    to check that it never reaches a page, a report or the ledger.
    """
    import sqlalchemy as sa

    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = sa.engine.make_url(pg_url).set(database=name)
    if password is not None:
        url = url.set(username=url.username or "postgres", password=password)
    return url.render_as_string(hide_password=False)
