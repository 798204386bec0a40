"""Process helpers shared by the job runner and the dashboard server (Linux ``/proc``, ``prctl``).
"""
from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children before grandchildren; ``[]`` without ``/proc``.

    Examples
    --------
    >>> import os, subprocess, sys
    >>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    >>> child.pid in descendants(os.getpid())
    True
    >>> child.kill(); _ = child.wait()
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    children: dict[int, list[int]] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parts = text[text.rfind(")") + 2:].split()
        children.setdefault(int(parts[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def die_with_parent(sig: int = 15) -> None:
    """Ask Linux to send this process ``sig`` (default SIGTERM) when its parent ends.

    Call it first thing in a child (or pass it as ``preexec_fn``): a server or worker started
    by a command that is then killed (SIGKILL, a crash, a closed terminal) stops too instead of
    living on, parented to init. It fires when the *thread* that started the child ends, so
    start children from a thread that lives as long as they should. A no-op off Linux.
    """
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
