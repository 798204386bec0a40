"""The session-end guard (``tests/conftest.py``): a process this session started is caught even
when it is detached and reparented to init; a process of anyone else is never counted (nor
killed), even when its command looks like one of ours."""
from __future__ import annotations

import os
import signal
import subprocess

import conftest


def _detached(env: dict[str, str], tag: str) -> int:
    """A ``sleep`` whose command line reads like a Voilà server, double-forked so init adopts it."""
    out = subprocess.run(["bash", "-c", f'(exec -a "python -m voila {tag}" sleep 60) >/dev/null 2>&1 & echo $!'],
                         env=env, capture_output=True, text=True, check=True, start_new_session=True)
    return int(out.stdout.split()[-1])


def test_the_guard_catches_our_detached_processes_and_ignores_everyone_elses():
    ours_env = dict(os.environ)
    foreign_env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_TEST_SESSION"}
    ours, foreign = _detached(ours_env, "ours"), _detached(foreign_env, "foreign")
    try:
        assert not conftest._descends_from_me(ours)  # the shell is gone: init (or a subreaper) adopted it
        left = conftest._leftovers()
        assert ours in left and "voila ours" in left[ours]
        assert foreign not in left
    finally:
        for pid in (ours, foreign):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
