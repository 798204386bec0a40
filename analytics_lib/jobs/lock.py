"""One run of a job at a time (``flock``), and machine-wide slots for notebooks running at once.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
from pathlib import Path
from typing import Iterator

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.jobs.common import _alive, _proc_start, _utcnow, _write_json


# --------------------------------------------------------------------------------------------
# Locks: one per job, and machine-wide slots limiting notebooks running at once
class JobAlreadyRunning(WorkbenchError):
    """The job's lock is held: another process is running it."""


@contextlib.contextmanager
def job_lock(job: str, *, reports: str | os.PathLike | None = None) -> Iterator[Path]:
    """Hold the job's lock (``flock`` on ``<reports>/.locks/<job>.lock``) for the block.

    The lock dies with its process (even on SIGKILL), so a crash never leaves it behind.

    Raises
    ------
    JobAlreadyRunning
        At once, when another process (or thread) holds it; the message says who.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> with job_lock("demo", reports=root):
    ...     try:
    ...         with job_lock("demo", reports=root):
    ...             pass
    ...     except JobAlreadyRunning as e:
    ...         print(str(e).split(" (")[0])
    job 'demo' is already running
    """
    root = paths.reports_root(reports)
    folder = root / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job}.lock"
    holder_file = folder / f"{job}.holder.json"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobAlreadyRunning(f"job '{job}' is already running{_lock_holder(holder_file)}; this run was not "
                                    "started. Wait for it to finish (workbench jobs history) and try again") from None
        # who holds it, for the message above: written whole to a temporary file and renamed, so a
        # reader sees the previous holder's record or this one, never a half-written one
        _write_json(holder_file, {"pid": os.getpid(), "pid_start": _proc_start(os.getpid()),
                                  "host": socket.gethostname(), "thread": threading.get_ident(),
                                  "since": f"{_utcnow():%Y-%m-%d %H:%M:%S} UTC"})
        yield path
    finally:
        os.close(fd)


def _lock_holder(holder_file: Path) -> str:
    """`` (pid 12 on host, since ...)`` for a lock's holder, or a note when it is not recorded yet."""
    try:
        info = json.loads(holder_file.read_text(encoding="utf-8"))
        pid, host, since = int(info["pid"]), str(info["host"]), str(info["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return " (its holder has just taken the lock and not recorded itself yet)"
    if host == socket.gethostname() and not _alive(pid, info.get("pid_start")):
        return " (its holder has just taken the lock and not recorded itself yet)"  # the record is a former holder's
    return f" (pid {pid} on {host}, since {since})"


@contextlib.contextmanager
def _slot(root: Path, parallel: int, stop: threading.Event) -> Iterator[int]:
    """One of ``parallel`` machine-wide slots (flock files), waiting for a free one."""
    folder = root / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for i in range(max(1, parallel)):
            fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield i
            finally:
                os.close(fd)
            return
        if stop.wait(0.25):
            raise _Stopped("stopped while waiting for a free slot")


class _Stopped(Exception):
    pass
