"""Job locks: exclusive and released, two concurrent runs of a job (exactly one runs), threads of one
process, and a lock taken but not yet recorded.
Runs are real: the ``workbench`` command in subprocesses, papermill, kernels, signals. The tiny
notebooks in ``tests/corpus/notebooks`` write a table (``quick``), raise (``raises``), sleep
(``hangs``) or kill their own kernel (``killed``). Everything is written under pytest's tmp
folders (never the repository's ``reports/``)."""
from __future__ import annotations

import json
import os
import threading

import pytest
from jobs_helpers import Place

from analytics_lib.jobs.lock import JobAlreadyRunning, job_lock


def test_job_lock_is_exclusive_and_released(tmp_path):
    with job_lock("j", reports=tmp_path):
        with pytest.raises(JobAlreadyRunning, match=r"job 'j' is already running \(pid \d+"):
            with job_lock("j", reports=tmp_path):
                pass
    with job_lock("j", reports=tmp_path):
        pass


@pytest.mark.slow
def test_two_concurrent_runs_of_a_job_exactly_one_runs(tmp_path):
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", parameters={"sleep_s": 3.0})
    procs = [place.popen("run", "quick") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], outs
    loser = outs[[p.returncode for p in procs].index(3)]
    assert "job 'quick' is already running (pid" in loser[1]
    assert len(place.run_dirs("quick")) == 1 and place.history("quick")["status"].tolist() == ["succeeded"]


def test_threads_of_one_process_share_nothing_but_the_lock(tmp_path):
    """Two threads asking for the same job: one gets the lock, the other is told it is running."""
    results = []
    refused = threading.Event()
    barrier = threading.Barrier(2)

    def grab():
        barrier.wait()
        try:
            with job_lock("t", reports=tmp_path):
                results.append("ran")
                refused.wait(10)  # hold it until the other thread has tried
        except JobAlreadyRunning:
            results.append("refused")
            refused.set()

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ran", "refused"]


def test_a_lock_taken_but_not_yet_recorded_refuses_with_a_message(tmp_path):
    """A second runner arriving between the holder's flock and its record gets "already running", not KeyError."""
    import fcntl

    folder = tmp_path / ".locks"
    folder.mkdir()
    fd = os.open(folder / "t.lock", os.O_RDWR | os.O_CREAT)  # the holder: locked, nothing recorded yet
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(JobAlreadyRunning, match="already running .*not recorded itself yet"):
            with job_lock("t", reports=tmp_path):
                pass
        # a record left by a former holder that is gone is not shown as the holder
        (folder / "t.holder.json").write_text(json.dumps({"pid": 2 ** 22 + 7, "pid_start": "1", "host": os.uname()[1],
                                                          "since": "2020-01-01 00:00:00 UTC"}))
        with pytest.raises(JobAlreadyRunning, match="not recorded itself yet"):
            with job_lock("t", reports=tmp_path):
                pass
    finally:
        os.close(fd)
    with job_lock("t", reports=tmp_path):  # released: taken, and the holder recorded
        info = json.loads((folder / "t.holder.json").read_text())
        assert info["pid"] == os.getpid()
        with pytest.raises(JobAlreadyRunning, match=f"pid {os.getpid()} on "):
            with job_lock("t", reports=tmp_path):
                pass
