"""The schedule: the cron trigger fires when croniter does, and the scheduler runs what is due, then
stops cleanly.
Runs are real: the ``workbench`` command in subprocesses, papermill, kernels, signals. The tiny
notebooks in ``tests/corpus/notebooks`` write a table (``quick``), raise (``raises``), sleep
(``hangs``) or kill their own kernel (``killed``). Everything is written under pytest's tmp
folders (never the repository's ``reports/``)."""
from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from jobs_helpers import Place, wait_for

from analytics_lib.jobs.schedule import cron_trigger, next_fire_time, previous_fire_time
from analytics_lib.jobs.spec import load_job_specs


def test_cron_trigger_fires_when_croniter_does():
    """APScheduler numbers weekdays from Monday, cron from Sunday: the trigger must agree with cron."""
    from dataclasses import replace

    base = load_job_specs()[0]
    for expr, tz in [("0 7 * * 0", "Europe/Paris"), ("*/20 9-17 * * 1-5", "America/New_York"), ("0 8 1 * *", "UTC"),
                     ("30 6 * * MON", "Europe/Berlin"), ("0 0 L * *", "UTC"), ("15 2 * * 7", "Europe/Paris")]:
        job = replace(base, schedule=expr, timezone=tz)
        trigger = cron_trigger(job)
        t = datetime(2025, 3, 20, 12, tzinfo=timezone.utc)  # crosses the March DST change
        prev = None
        for _ in range(40):
            ours = trigger.get_next_fire_time(prev, t + timedelta(seconds=1))
            assert ours == next_fire_time(job, t), (expr, t)
            prev, t = ours, ours
            assert previous_fire_time(job, t) == t


@pytest.mark.slow
def test_schedule_runs_what_is_due_then_stops_cleanly(tmp_path):
    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", schedule="0 3 * * *")
    proc = place.popen("schedule", "--parallel", "1")
    try:
        wait_for(lambda: (place.reports / "quick" / "latest").exists(), 90, "the catch-up run")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "scheduling 1 jobs" in out and "quick succeeded" in out and "scheduler stopped" in out
    run = place.history("quick").iloc[0]
    assert run["status"] == "succeeded" and run["trigger"] == "due"
    assert run["scheduled_at"] == pd.Timestamp(previous_fire_time(load_job_specs(place.jobs)[0], run["started_at"]))
