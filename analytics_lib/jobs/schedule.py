"""When jobs run: cron fire times in the job's time zone, what is due, the foreground scheduler.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Sequence, TYPE_CHECKING

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.jobs.common import _utcnow
from analytics_lib.jobs.ledger import _aware, _ledger_rows
from analytics_lib.jobs.lock import JobAlreadyRunning
from analytics_lib.jobs.notify import notify_outcome
from analytics_lib.jobs.prepare import _prepare
from analytics_lib.jobs.runner import RunResult, _Spares, mark_interrupted_runs, run_job
from analytics_lib.jobs.spec import job_variants

if TYPE_CHECKING:
    from analytics_lib.jobs.spec import JobSpec


# --------------------------------------------------------------------------------------------
# Schedules and what is due
def _tz(spec: JobSpec):
    from zoneinfo import ZoneInfo
    return ZoneInfo(spec.timezone)


def _fire_times(spec: JobSpec, start: datetime, *, forward: bool) -> Iterator[datetime]:
    """Cron times after (or before) ``start``, in UTC. When clocks go back, a time in the
    repeated hour fires once (the first time), as cron does for jobs with a fixed hour."""
    from croniter import croniter

    tz = _tz(spec)
    fixed_hour = spec.schedule.split()[1] != "*"
    it = croniter(spec.schedule, start.astimezone(tz))
    while True:
        t = (it.get_next if forward else it.get_prev)(datetime).astimezone(timezone.utc)
        if fixed_hour and t.astimezone(tz).fold == 1:
            continue
        yield t


def previous_fire_time(spec: JobSpec, now: datetime | None = None) -> datetime:
    """The last cron time of a job at or before ``now`` (UTC), read in the job's time zone.

    Examples
    --------
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> from analytics_lib.jobs.spec import find_job
    >>> from datetime import datetime, timezone
    >>> job = find_job(load_job_specs(), "weekly-forecast")  # 07:00 on Mondays, Europe/Paris
    >>> previous_fire_time(job, datetime(2025, 7, 2, tzinfo=timezone.utc)).isoformat()
    '2025-06-30T05:00:00+00:00'
    """
    now = now or _utcnow()
    return next(_fire_times(spec, now + timedelta(microseconds=1), forward=False))


def next_fire_time(spec: JobSpec, now: datetime | None = None) -> datetime:
    """The next cron time of a job after ``now`` (UTC), read in the job's time zone.

    Examples
    --------
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> from analytics_lib.jobs.spec import find_job
    >>> from datetime import datetime, timezone
    >>> job = find_job(load_job_specs(), "weekly-forecast")
    >>> next_fire_time(job, datetime(2025, 7, 2, tzinfo=timezone.utc)).isoformat()
    '2025-07-07T05:00:00+00:00'
    """
    return next(_fire_times(spec, now or _utcnow(), forward=True))


def due_runs(specs: Sequence[JobSpec], *, store: str | None = None, now: datetime | None = None):
    """What is due: each enabled job variant whose last cron time is after its last success.

    A success counts for the slot it was scheduled for (or, for a manual run, the time it
    started), so a missed slot is run once, late; a job that never succeeded is due. Failed
    runs do not count: the next ``--due`` pass tries again.

    Parameters
    ----------
    specs : sequence of JobSpec
        The jobs (:func:`load_job_specs`); disabled ones are left out.
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    now : datetime, optional
        The time the last cron slot is found for (default: the current time, UTC).

    Returns
    -------
    DataFrame
        ``job, variant, scheduled_at, last_success, due`` (UTC), one row per variant.

    Examples
    --------
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> from datetime import datetime, timezone
    >>> bool(due_runs(load_job_specs(), store="sqlite://", now=datetime(2025, 7, 2, tzinfo=timezone.utc))["due"].all())
    True
    """
    import pandas as pd

    store = store or paths.DEFAULT_DB_URL
    now = now or _utcnow()
    rows = _ledger_rows(store, status="succeeded")
    last: dict[tuple[str, str], datetime] = {}
    for r in rows:
        ref = _aware(r["scheduled_at"]) or _aware(r["started_at"])
        key = (r["job"], r["variant"])
        if key not in last or ref > last[key]:
            last[key] = ref
    out = []
    for spec in specs:
        if not spec.enabled:
            continue
        slot = previous_fire_time(spec, now)
        for v in job_variants(spec):
            done = last.get((spec.name, v.slug))
            out.append({"job": spec.name, "variant": v.slug, "scheduled_at": slot, "last_success": done,
                        "due": done is None or done < slot})
    frame = pd.DataFrame(out, columns=["job", "variant", "scheduled_at", "last_success", "due"])
    for c in ("scheduled_at", "last_success"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def run_due_jobs(specs: Sequence[JobSpec], *, store: str | None = None, reports: str | os.PathLike | None = None,
                 parallel: int = 2, now: datetime | None = None, everything: bool = False,
                 trigger: str | None = None, stop: threading.Event | None = None) -> list[RunResult]:
    """Run every due job (or, with ``everything``, every enabled job) once; for cron and timers.

    Jobs run in parallel (``parallel`` notebooks at once); one job failing does not stop the
    others. A job already running elsewhere is skipped (a ``skipped`` result, nothing
    recorded). Due runs are anchored at their cron time.

    Parameters
    ----------
    specs : sequence of JobSpec
        The jobs (:func:`load_job_specs`); disabled ones never run.
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    reports : path, optional
        The reports folder; default ``$WORKBENCH_REPORTS``, else ``reports/``
        (:func:`~analytics_lib.core.paths.reports_root`).
    parallel : int
        Notebooks running at once on this machine (shared by every runner using ``reports``;
        default 2).
    now : datetime, optional
        The time that decides what is due, and the anchor of relative dates for
        ``everything`` runs (default: the current time, UTC).
    everything : bool
        Run every enabled job, due or not (default False: only the due variants).
    trigger : str, optional
        The trigger recorded in the ledger; None (default): ``"due"``, or ``"manual"`` with
        ``everything``.
    stop : threading.Event, optional
        Set it to stop the runs (their attempts become ``interrupted``).

    Returns
    -------
    list of RunResult

    Examples
    --------
    >>> results = run_due_jobs(load_job_specs())  # doctest: +SKIP
    >>> [(r.job, r.status) for r in results]  # doctest: +SKIP
    [('daily-workflow', 'succeeded')]
    """
    store = store or paths.DEFAULT_DB_URL
    now = now or _utcnow()
    stop = stop or threading.Event()
    root = paths.reports_root(reports)
    mark_interrupted_runs(store, reports=root)
    if everything:
        plan = [(s, None, None) for s in specs if s.enabled]
    else:
        due = due_runs(specs, store=store, now=now)
        due = due[due["due"]]
        plan = [(s, list(due.loc[due["job"] == s.name, "variant"]),
                 due.loc[due["job"] == s.name, "scheduled_at"].iloc[0].to_pydatetime())
                for s in specs if (due["job"] == s.name).any()]
    if not plan:
        return []
    spares = _Spares(min(max(1, parallel), len(plan)))  # papermill imports overlap the validation below
    try:
        errors: list[str] = []
        for s, variants, sched in plan:  # validate everything before the first kernel starts
            for v in job_variants(s):
                if variants is None or v.slug in variants:
                    try:
                        _prepare(s, v, store=store, anchor=sched or now)
                    except WorkbenchError as exc:
                        errors.append(str(exc))
        if errors:
            raise WorkbenchError("\n".join(errors))

        def one(item) -> list[RunResult]:
            s, variants, sched = item
            try:
                return run_job(s, variants=variants, store=store, reports=root, scheduled_at=sched, now=now,
                               trigger=trigger or ("manual" if everything else "due"), parallel=parallel, stop=stop,
                               _spares=spares)
            except JobAlreadyRunning as exc:
                return [RunResult(job=s.name, variant="", run_id="", status="skipped", error=str(exc))]

        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(plan))), thread_name_prefix="jobs") as pool:
            futures = [pool.submit(one, item) for item in plan]
            try:
                return [r for f in futures for r in f.result()]
            except BaseException:
                stop.set()
                raise
    finally:
        spares.close()


def job_table(specs: Sequence[JobSpec], *, store: str | None = None, now: datetime | None = None):
    """One row per job: schedule, variants, last run and its status, last success, next run, due.

    Parameters
    ----------
    specs : sequence of JobSpec
        The jobs (:func:`load_job_specs`), disabled ones included.
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    now : datetime, optional
        The time ``next_run`` and ``due`` are computed for (default: the current time, UTC).

    Returns
    -------
    DataFrame
        ``job, notebook, schedule, variants, enabled, last_run, last_status, last_success,
        next_run, due`` (times UTC).

    Examples
    --------
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> job_table(load_job_specs(), store="sqlite://")["job"].tolist()[:2]
    ['daily-dashboard-marts', 'daily-kpi-alerts']
    """
    import pandas as pd

    store = store or paths.DEFAULT_DB_URL
    now = now or _utcnow()
    rows = _ledger_rows(store)
    due = due_runs(specs, store=store, now=now)
    out = []
    for spec in specs:
        mine = [r for r in rows if r["job"] == spec.name]
        last = mine[0] if mine else None
        ok = [r for r in mine if r["status"] == "succeeded"]
        out.append({
            "job": spec.name, "notebook": spec.notebook.name,
            "schedule": f"{spec.schedule} ({spec.timezone})", "variants": len(job_variants(spec)),
            "enabled": spec.enabled, "last_run": _aware(last["started_at"]) if last else None,
            "last_status": last["status"] if last else "never run",
            "last_success": _aware(ok[0]["started_at"]) if ok else None,
            "next_run": next_fire_time(spec, now) if spec.enabled else None,
            "due": bool(due.loc[due["job"] == spec.name, "due"].any())})
    frame = pd.DataFrame(out, columns=["job", "notebook", "schedule", "variants", "enabled", "last_run",
                                       "last_status", "last_success", "next_run", "due"])
    for c in ("last_run", "last_success", "next_run"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


# --------------------------------------------------------------------------------------------
# The foreground scheduler
_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(spec: JobSpec):
    """An APScheduler ``CronTrigger`` firing exactly when cron (croniter) would.

    The trigger's fields come from croniter's expansion of the schedule (APScheduler numbers
    weekdays from Monday where cron starts on Sunday, so weekdays are passed by name), and
    its next fire time is croniter's: the scheduler, ``--due`` and ``jobs list`` agree, also
    across daylight-saving changes (a time in the skipped hour runs when the hour resumes).

    Examples
    --------
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> from analytics_lib.jobs.spec import find_job
    >>> from datetime import datetime, timezone
    >>> job = find_job(load_job_specs(), "weekly-forecast")
    >>> t = cron_trigger(job)
    >>> t.get_next_fire_time(None, datetime(2025, 7, 2, tzinfo=timezone.utc)) == next_fire_time(
    ...     job, datetime(2025, 7, 2, tzinfo=timezone.utc))
    True
    """
    from apscheduler.triggers.cron import CronTrigger
    from croniter import croniter

    expanded = croniter(spec.schedule).expanded

    def field_text(values, names=None) -> str:
        if values == ["*"]:
            return "*"
        out = []
        for v in values:
            if isinstance(v, str) and v.lower() == "l":
                out.append("last")
            else:
                out.append(names[int(v) % 7] if names else str(int(v)))
        return ",".join(out)

    class _Trigger(CronTrigger):
        def get_next_fire_time(self, previous_fire_time, now):  # noqa: ANN001
            start = now if previous_fire_time is None else max(now, previous_fire_time + timedelta(microseconds=1))
            return next_fire_time(spec, start - timedelta(microseconds=1))  # UTC: unambiguous

    minute, hour, day, month, dow = expanded[:5]
    return _Trigger(minute=field_text(minute), hour=field_text(hour), day=field_text(day), month=field_text(month),
                    day_of_week=field_text(dow, _DOW), timezone=_tz(spec))


def job_scheduler(specs: Sequence[JobSpec], *, store: str | None = None, reports: str | os.PathLike | None = None,
                  parallel: int = 2, stop: threading.Event | None = None,
                  on_result: Callable[[RunResult], None] | None = None):
    """A foreground APScheduler ``BlockingScheduler`` firing each enabled job on its cron.

    Each job is added once (``max_instances=1``, missed fires coalesced, an hour of grace);
    at most ``parallel`` notebooks run at once. Call ``.start()`` to run until stopped
    (Ctrl-C or SIGTERM in ``workbench jobs schedule``).

    Parameters
    ----------
    specs : sequence of JobSpec
        The jobs (:func:`load_job_specs`); disabled ones are not scheduled.
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    reports : path, optional
        The reports folder; default ``$WORKBENCH_REPORTS``, else ``reports/``
        (:func:`~analytics_lib.core.paths.reports_root`).
    parallel : int
        Notebooks running at once on this machine (shared by every runner using ``reports``;
        default 2); the scheduler's thread pool has twice as many threads.
    stop : threading.Event, optional
        Set it to stop the runs in progress (their attempts become ``interrupted``).
    on_result : callable, optional
        Called with each :class:`RunResult` of a firing (including ``skipped`` and ``failed``
        results of runs that did not start).

    Examples
    --------
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> sched = job_scheduler(load_job_specs(), store="sqlite://")
    >>> sorted(j.id for j in sched.get_jobs())[:2]
    ['daily-dashboard-marts', 'daily-kpi-alerts']
    """
    from apscheduler.executors.pool import ThreadPoolExecutor as ApsPool
    from apscheduler.schedulers.blocking import BlockingScheduler

    store = store or paths.DEFAULT_DB_URL
    stop = stop or threading.Event()
    sched = BlockingScheduler(executors={"default": ApsPool(max_workers=max(1, parallel) * 2)}, timezone="UTC")

    def fire(spec: JobSpec) -> None:
        slot = previous_fire_time(spec)
        try:
            results = run_job(spec, store=store, reports=reports, trigger="schedule", scheduled_at=slot,
                              parallel=parallel, stop=stop)
        except JobAlreadyRunning as exc:
            results = [RunResult(job=spec.name, variant="", run_id="", status="skipped", error=str(exc))]
        except WorkbenchError as exc:
            results = [RunResult(job=spec.name, variant="", run_id="", status="failed", error=str(exc))]
            notify_outcome(spec.notify, {"job": spec.name, "status": "failed", "error": str(exc)},
                           paths.reports_root(reports), previous=None)
        for r in results:
            if on_result is not None:
                on_result(r)

    for spec in specs:
        if spec.enabled:
            sched.add_job(fire, cron_trigger(spec), args=[spec], id=spec.name, name=spec.name, max_instances=1,
                          coalesce=True, misfire_grace_time=3600)
    return sched
