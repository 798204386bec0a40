"""Running a job: the papermill child under a watchdog, retries with backoff, the ledger row of
each attempt, publishing, notification.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping, Sequence, TYPE_CHECKING

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.procs import descendants
from analytics_lib.core.redaction import SECRETS_ENV, redact, secret_references
from analytics_lib.jobs.common import (
    _add_banner, _alive, _clock, _job_dir, _jsonable, _proc_start, _utcnow, _write_json)
from analytics_lib.jobs.index import write_index
from analytics_lib.jobs.diff import previous_success
from analytics_lib.jobs.gates import blocked_reason, check_gates, data_stats, gate_rows, gates_text
from analytics_lib.jobs.ledger import (
    _aware, _ledger_insert, _ledger_rows, _ledger_update, _previous_status, _success_counts)
from analytics_lib.jobs.lock import _Stopped, _slot, job_lock
from analytics_lib.jobs.hooks import _ingest_first, _tell_rule_changes
from analytics_lib.jobs.notify import _outcome_payload, notify_outcome
from analytics_lib.jobs.prepare import _prepare, input_fingerprint
from analytics_lib.jobs.publish import _publish_tables, _switch_latest
from analytics_lib.jobs.spec import NotifySpec, job_variants, load_job_spec

if TYPE_CHECKING:
    from analytics_lib.jobs.prepare import Fingerprint, _Prepared
    from analytics_lib.jobs.spec import JobSpec, Variant


#: Seconds between the polite stop (SIGTERM, the partial notebook is saved) and SIGKILL.
KILL_GRACE_S = 5.0


def mark_interrupted_runs(store: str | None = None, *, reports: str | os.PathLike | None = None,
                          now: datetime | None = None) -> list[dict]:
    """Turn ``running`` rows whose runner is gone into ``interrupted``; return those rows.

    A row is stale when its runner process (pid and start time, on this host) no longer
    exists, or, for a row from another host, when its deadline (start + timeout + grace)
    has passed. Its partial notebook stays in its run folder; the failure notification is
    sent and ``reports/index.html`` rewritten.

    Parameters
    ----------
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    reports : path, optional
        The reports folder, whose ``index.html`` is rewritten. Default ``$WORKBENCH_REPORTS``,
        else ``reports/`` (:func:`~analytics_lib.core.paths.reports_root`).
    now : datetime, optional
        The time deadlines are compared with (default: the current time, UTC).

    Returns
    -------
    list of dict
        The ledger rows marked ``interrupted``, as updated.

    Examples
    --------
    >>> mark_interrupted_runs("sqlite://")
    []
    """
    store = store or paths.DEFAULT_DB_URL
    now = now or _utcnow()
    host = socket.gethostname()
    stale = []
    for row in _ledger_rows(store, status="running"):
        if row["host"] == host:
            gone = not _alive(row["pid"], row["pid_start"])
        else:
            gone = row["deadline_at"] is not None and _aware(row["deadline_at"]) < now
        if gone:
            error = (f"interrupted: the runner (pid {row['pid']} on {row['host']}) stopped while the run was in "
                     f"progress (killed, crashed or the machine restarted); detected at {now:%Y-%m-%d %H:%M:%S} UTC. "
                     "The partial notebook is in the run folder; the previous report stays published.")
            _ledger_update(store, row["id"], status="interrupted", error=error)
            row = {**row, "status": "interrupted", "error": error}
            stale.append(row)
            run_dir = Path(row["run_dir"]) if row["run_dir"] else None
            if run_dir is not None and (run_dir / "notebook.ipynb").is_file():
                _add_banner(run_dir / "notebook.ipynb", f"This run was interrupted. {error}")
    if stale:
        root = paths.reports_root(reports)
        for row in stale:
            notify = NotifySpec(command=os.environ.get("WORKBENCH_NOTIFY_COMMAND") or None)
            with contextlib.suppress(WorkbenchError, ValueError, KeyError, TypeError):
                notify = load_job_spec(json.loads(row["spec"] or "{}")["file"]).notify
            notify_outcome(notify, _outcome_payload(row), root,
                           previous=_previous_status(store, row["job"], row["variant"] or "", row["run_id"]))
        write_index(store, reports=root)
    return stale


_PRELOADED = threading.Event()


def _preload_publishing() -> None:
    """Import what publishing needs (pandas' Excel and Parquet writers) in a background
    thread, once per process, while a notebook runs."""
    if _PRELOADED.is_set():
        return
    _PRELOADED.set()

    def load() -> None:
        with contextlib.suppress(Exception):
            import openpyxl  # noqa: F401
            import pandas  # noqa: F401
            import pyarrow.parquet  # noqa: F401

    threading.Thread(target=load, daemon=True).start()


class _Spares:
    """Papermill children started ahead of need, so their imports overlap the runner's work."""

    def __init__(self, n: int = 0) -> None:
        self._lock = threading.Lock()
        self._idle: list[subprocess.Popen] = []
        for _ in range(n):
            self._idle.append(self._spawn())

    @staticmethod
    def _spawn() -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("MPLBACKEND", "Agg")
        early = tempfile.TemporaryFile()  # what it prints before it has a run log (import errors, crashes)
        proc = subprocess.Popen([sys.executable, "-c", "from analytics_lib.jobs.child import _child_main; _child_main()"],
                                stdin=subprocess.PIPE, stdout=early, stderr=early, start_new_session=True, env=env,
                                cwd=str(paths.ROOT), text=True)
        proc.early_output = early
        return proc

    def take(self) -> subprocess.Popen:
        with self._lock:
            while self._idle:
                proc = self._idle.pop(0)
                if proc.poll() is None:
                    return proc
        return self._spawn()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for proc in idle:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # EOF: the spare exits at once
        for proc in idle:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# --------------------------------------------------------------------------------------------
# Running
@dataclass(frozen=True)
class RunResult:
    """The outcome of one run (all its attempts) of a job variant.

    Attributes
    ----------
    job, variant, run_id : str
    status : str
        ``succeeded``, ``failed``, ``timed_out``, ``interrupted``, or ``blocked`` when a data
        gate failed (no kernel started; ``latest`` kept); ``skipped`` when the job was already
        running (nothing was started or recorded).
    attempts : int
    run_dir : Path or None
        ``<reports>/<job>[/<variant>]/<run_id>``.
    report : Path or None
        The published HTML report (succeeded runs with ``html`` in outputs).
    error : str or None
        The last attempt's error summary: failing cell and exception.
    started_at, ended_at : datetime or None
    published : bool
        Whether ``latest`` now points at this run.
    """

    job: str
    variant: str
    run_id: str
    status: str
    attempts: int = 0
    run_dir: Path | None = None
    report: Path | None = None
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    published: bool = False

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "succeeded"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("analytics-workbench")
    except PackageNotFoundError:
        ours = "unknown"
    sha = _git_commit()
    try:
        pm = version("papermill")
    except PackageNotFoundError:
        pm = "?"
    return f"analytics-workbench {ours}" + (f" (git {sha})" if sha else "") + f", papermill {pm}"


def _git_commit() -> str | None:
    """The checked-out commit, read from .git without running git."""
    git = paths.ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:10]
        ref = head.split(None, 1)[1]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()[:10]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:10]
    except OSError:
        return None
    return None


def _new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _kill_tree(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the child (papermill saves the partial notebook), then SIGKILL what is left."""
    tree = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    for pid in [proc.pid, *tree]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        _kill_tree(proc, 1.0)


def _cell_in_progress(notebook: Path) -> str:
    """Which cell a stopped run was in: the last one papermill started."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "before the first cell (the kernel had not started)"
    started = [(i, c) for i, c in enumerate(nb["cells"])
               if c.get("cell_type") == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "before the first cell (the kernel had not started)"
    i, cell = started[-1]
    return f"in cell {i + 1} (In [{cell.get('execution_count') or '?'}]: {_first_line(cell.get('source'))})"


def _first_line(source: Any) -> str:
    """The cell in a few words: its first code line, and its last one when it has more."""
    text = source if isinstance(source, str) else "".join(source or [])
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]

    def cut(line: str) -> str:
        return line if len(line) <= 60 else line[:57] + "..."
    if not lines:
        return ""
    return cut(lines[0]) if len(lines) == 1 else f"{cut(lines[0])} ... {cut(lines[-1])}"


def _error_summary(result: Mapping[str, Any], notebook: Path, *, timed_out_by_runner: bool, timeout_s: float,
                   returncode: int | None) -> str:
    kind = result.get("kind")
    if timed_out_by_runner:
        return f"timed out: the run exceeded timeout_s={timeout_s:g} s {_cell_in_progress(notebook)}; stopped"
    if kind == "exception":
        where = "?"
        with contextlib.suppress(OSError, ValueError, StopIteration):
            nb = json.loads(notebook.read_text(encoding="utf-8"))
            cells = [c for c in nb["cells"] if not {"papermill-error-cell-tag", "workbench-run-status"}
                     & set(c.get("metadata", {}).get("tags", []))]  # papermill's and our banners
            where = next(str(i + 1) for i, c in enumerate(cells) if any(o.get("output_type") == "error"
                                                                       for o in c.get("outputs", [])))
        return (f"{result['ename']}: {result['evalue']} (cell {where}, In [{result.get('exec_count')}]: "
                f"{_first_line(result.get('source'))})")
    if kind == "cell_timeout":
        return f"timed out: a cell ran longer than cell_timeout_s {_cell_in_progress(notebook)}"
    if kind == "dead_kernel":
        return f"the kernel died {_cell_in_progress(notebook)} (killed, out of memory or crashed)"
    if kind == "html":
        return f"the notebook ran, but its HTML report could not be written: {result.get('message')}"
    if kind in ("terminated", "error"):
        return f"{result.get('message')} {_cell_in_progress(notebook)}"
    return (f"the papermill process ended without a result (exit status {returncode}) "
            f"{_cell_in_progress(notebook)}")


@dataclass
class _Run:
    """Mutable bookkeeping of one run while its attempts execute (internal)."""

    spec: JobSpec
    variant: Variant
    prepared: _Prepared
    run_id: str
    run_dir: Path
    trigger: str
    scheduled_at: datetime | None
    store: str
    root: Path
    stop: threading.Event
    spares: _Spares
    anchor: datetime | None = None
    attempts: list = field(default_factory=list)
    gates: list = field(default_factory=list)
    output_problems: dict = field(default_factory=dict)


def _window_text(w: Any) -> str:
    """``2025-06-03 .. 2025-06-30 (whole days, UTC)``, or the window's ISO bounds."""
    if w is None:
        return "-"
    start, end = getattr(w, "start", None), getattr(w, "end", None)
    midnight = all(t is None or t == t.normalize() for t in (start, end))
    if midnight:
        lo = "first event" if start is None else f"{start:%Y-%m-%d}"
        hi = "last event" if end is None else f"{end - timedelta(days=1):%Y-%m-%d}"
        return f"{lo} .. {hi} (whole days, UTC)"
    return str(w)


def _header(run: _Run, fp: Fingerprint | None, started: datetime, attempt: int) -> list:
    w = run.prepared.window
    shown = redact({k: v for k, v in run.prepared.parameters.items() if k != "output_dir"})
    window = _window_text(w)
    return [["Job", f"{run.spec.name}" + (f" ({run.variant.slug})" if run.variant.slug else "")
             + (f" — {run.spec.description}" if run.spec.description else "")],
            ["Run", f"{run.run_id}, attempt {attempt}, {run.trigger}"
             + (f", scheduled for {run.scheduled_at:%Y-%m-%d %H:%M} UTC" if run.scheduled_at else "")],
            ["Parameters", ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in shown.items()) or "-"],
            ["Data window", window],
            ["Data fingerprint", fp.text() if fp is not None else "-"],
            ["Data gates", gates_text(run.gates)],
            ["Data as of", _data_as_of(fp)],
            ["Started", f"{started:%Y-%m-%d %H:%M:%S} UTC"],
            ["Version", _version()]]


def _data_as_of(fp: Fingerprint | None) -> str:
    """The newest event the run reads, or ``-`` when the source does not say (a file)."""
    return f"{fp.max_ts} UTC (newest event in the window)" if fp is not None and fp.max_ts else "-"


def _record_start(run: _Run, attempt: int, started: datetime, fp: Fingerprint | None) -> int:
    spec, w = run.spec, run.prepared.window
    return _ledger_insert(run.store, {
        "run_id": run.run_id, "attempt": attempt, "job": spec.name, "variant": run.variant.slug,
        "trigger": run.trigger, "status": "running",
        "parameters": json.dumps(_jsonable(run.prepared.parameters)), "scheduled_at": run.scheduled_at,
        "started_at": started, "deadline_at": started + timedelta(seconds=spec.timeout_s + 120),
        "notebook": str(spec.notebook), "run_dir": str(run.run_dir),
        "window_start": getattr(w, "start", None), "window_end": getattr(w, "end", None),
        "input_rows": fp.rows if fp else None, "input_min_ts": fp.min_ts if fp else None,
        "input_max_ts": fp.max_ts if fp else None, "fingerprint": fp.digest if fp else None,
        "version": _version(), "host": socket.gethostname(), "pid": os.getpid(),
        "pid_start": _proc_start(os.getpid()), "spec": json.dumps(_jsonable(spec.summary()))})


def _log(run_dir: Path, text: str) -> None:
    """Append a line to the run's log; a full or read-only disk is reported elsewhere, not here."""
    with contextlib.suppress(OSError):
        with open(run_dir / "run.log", "a", encoding="utf-8") as log:
            log.write(redact(text) + "\n")


def _attempt(run: _Run, attempt: int, parallel: int) -> tuple[str, str | None, list[Path]]:
    """One attempt: ledger row, papermill child under the watchdog, publish on success."""
    run_dir = run.run_dir
    with _slot(run.root, parallel, run.stop):
        proc = run.spares.take()  # imports papermill while the fingerprint and the ledger row are made
        try:
            started = _utcnow()
            fp, unreadable = _fingerprint(run)
            row_id = _record_start(run, attempt, started, fp)
        except BaseException:
            _kill_tree(proc, 1.0)
            raise
        if unreadable is not None:
            _kill_tree(proc, 1.0)
            _close_early_output(proc)
            _log(run_dir, f"--- {_clock()} attempt {attempt}: the source could not be read: {unreadable}")
            return _finish(run, attempt, row_id, started, fp, "failed",
                           f"the source could not be read, no kernel was started: {unreadable}")
        if attempt > 1:
            _keep_previous_attempt(run_dir, attempt - 1)
        task = _task(run, attempt, started, fp)
        _log(run_dir, f"--- {_clock()} attempt {attempt} started (run {run.run_id}, UTC times)")
        try:
            proc.stdin.write(json.dumps(task, default=str))
            proc.stdin.close()
        except OSError:  # the child died before its task arrived: the result says so below
            pass
        _preload_publishing()  # in the background, while the notebook runs
        timed_out, stopped = _watch(run, proc, attempt, row_id, Path(task["result"]))
        status, error = _outcome(run, proc, attempt, Path(task["result"]), timed_out=timed_out, stopped=stopped)
        _close_early_output(proc)
        if proc.poll() is None:  # its result is in: it only has to exit (reaped, or killed, meanwhile)
            threading.Thread(target=_reap, args=(proc,), daemon=True).start()
        return _finish(run, attempt, row_id, started, fp, status, error)


def _fingerprint(run: _Run) -> tuple[Fingerprint | None, str | None]:
    """The input's fingerprint, or why the source cannot be read (then no kernel starts)."""
    if not run.prepared.source:
        return None, None
    try:
        return input_fingerprint(run.prepared.source, dates=run.prepared.window, team=run.prepared.team), None
    except WorkbenchError as exc:
        return None, str(exc)


def _keep_previous_attempt(run_dir: Path, attempt: int) -> None:
    """Move a failed attempt's notebook and tables to ``attempt-<n>/``, next to the new attempt's."""
    keep = run_dir / f"attempt-{attempt}"
    with contextlib.suppress(OSError):
        keep.mkdir(exist_ok=True)
        for name in ("notebook.ipynb", "tables"):
            if (run_dir / name).exists():
                os.replace(run_dir / name, keep / name)


def _task(run: _Run, attempt: int, started: datetime, fp: Fingerprint | None) -> dict:
    """What the papermill child runs. The notebook gets redacted values; its kernel finds the real
    ones in its environment."""
    spec, run_dir = run.spec, run.run_dir
    return {"input": str(spec.notebook), "output": str(run_dir / "notebook.ipynb"),
            "parameters": redact(run.prepared.parameters),
            "env": {SECRETS_ENV: json.dumps(secret_references(run.prepared.parameters))},
            "kernel": spec.kernel, "cwd": str(spec.notebook.parent),
            "cell_timeout": math.ceil(spec.cell_timeout_s or spec.timeout_s), "start_timeout": 120,
            "html": str(run_dir / "report.html") if "html" in spec.outputs else None,
            "header": _header(run, fp, started, attempt), "result": str(run_dir / f".result-{attempt}.json"),
            "log": str(run_dir / "run.log"), "compare": _compare_task(run, fp)}


def _facts(run: _Run, fp: Fingerprint | None) -> dict:
    """What ``run.json`` and the comparison with the previous run say about the method and the data."""
    spec = run.spec
    return {"job": spec.name, "variant": run.variant.slug, "run_id": run.run_id, "trigger": run.trigger,
            "scheduled_at": run.scheduled_at, "parameters": redact(run.prepared.parameters),
            "window": _window_text(run.prepared.window),
            "fingerprint": None if fp is None else {"rows": fp.rows, "min_ts": fp.min_ts, "max_ts": fp.max_ts,
                                                     "digest": fp.digest},
            "data_as_of": None if fp is None else fp.max_ts, "gates": gate_rows(run.gates),
            "spec": _jsonable(spec.summary()), "version": _version(), "notebook": str(spec.notebook)}


def _compare_task(run: _Run, fp: Fingerprint | None) -> dict | None:
    """The report's "what changed" section: this run's facts and the previous successful run's folder."""
    previous = previous_success(run.run_dir.parent, run.run_id)
    if previous is None or "html" not in run.spec.outputs:
        return None
    return {"previous": str(previous), "facts": _jsonable(_facts(run, fp)), "tables": str(run.run_dir / "tables")}


def _watch(run: _Run, proc: subprocess.Popen, attempt: int, row_id: int, result_path: Path) -> tuple[bool, bool]:
    """Wait for the child's result, its exit, a stop request or the deadline: ``(timed_out, stopped)``.

    Ctrl-C or SIGTERM of the runner stops the child, records the attempt as interrupted and goes on up.
    """
    deadline = time.monotonic() + run.spec.timeout_s
    try:
        while True:
            try:
                proc.wait(timeout=0.1)
                return False, False
            except subprocess.TimeoutExpired:
                pass
            if result_path.is_file():  # done: publish while the child's interpreter shuts down
                return False, False
            if run.stop.is_set():
                _kill_tree(proc, KILL_GRACE_S)
                return False, True
            if time.monotonic() > deadline:
                _kill_tree(proc, KILL_GRACE_S)
                return True, False
    except BaseException as exc:
        _kill_tree(proc, KILL_GRACE_S)
        notebook = run.run_dir / "notebook.ipynb"
        error = (f"interrupted: the runner was stopped ({type(exc).__name__}) {_cell_in_progress(notebook)}; "
                 "the partial notebook is kept")
        with contextlib.suppress(OSError):
            _add_banner(notebook, f"Run {run.run_id} attempt {attempt} interrupted: {error}")
        _ledger_update(run.store, row_id, status="interrupted", ended_at=_utcnow(), error=error)
        raise


def _outcome(run: _Run, proc: subprocess.Popen, attempt: int, result_path: Path, *, timed_out: bool,
             stopped: bool) -> tuple[str, str | None]:
    """The attempt's status and error line, from the child's result file and how the watch ended."""
    notebook = run.run_dir / "notebook.ipynb"
    result = {}
    with contextlib.suppress(OSError, ValueError):
        result = json.loads(result_path.read_text()) if result_path.is_file() else {}
        result_path.unlink()
    if not result:
        _log(run.run_dir, f"--- {_clock()} attempt {attempt}: the papermill child ended without a result "
                          f"(exit status {proc.returncode})" + _early_output(proc))
    if stopped:
        return "interrupted", (f"interrupted: the runner was stopped {_cell_in_progress(notebook)}; the partial "
                               "notebook is kept")
    status = "timed_out" if timed_out else result.get("status", "failed")
    if status == "succeeded":
        return status, None
    return status, _error_summary(result, notebook, timed_out_by_runner=timed_out, timeout_s=run.spec.timeout_s,
                                  returncode=proc.returncode)


def _early_output(proc: subprocess.Popen) -> str:
    """What the papermill child printed before it had a run log (an import error, a crash), for the log."""
    f = getattr(proc, "early_output", None)
    if f is None:
        return ""
    with contextlib.suppress(OSError, ValueError):
        f.seek(0)
        text = f.read().decode("utf-8", "replace").strip()
        if text:
            return ":\n" + text[-4000:]
    return ""


def _close_early_output(proc: subprocess.Popen) -> None:
    with contextlib.suppress(Exception):
        proc.early_output.close()


def _finish(run: _Run, attempt: int, row_id: int, started: datetime, fp: Fingerprint | None, status: str,
            error: str | None) -> tuple[str, str | None, list[Path]]:
    """Publish a succeeded attempt and record any attempt: tables, ``run.json``, ``latest``, the ledger.

    Whatever the disk does (full, read-only, permission denied), the ledger row ends with a
    status and the reason, and ``latest`` moves only when everything was written.
    """
    spec, run_dir, w = run.spec, run.run_dir, run.prepared.window
    notebook = run_dir / "notebook.ipynb"
    ended = _utcnow()
    written: list[Path] = []
    if status == "succeeded":
        info = {"job": spec.name, "variant": run.variant.slug, "run_id": run.run_id, "attempt": attempt,
                "trigger": run.trigger, "scheduled_at": run.scheduled_at, "started_at": started,
                "finished_at": ended, "parameters": redact(run.prepared.parameters),
                "window": _window_text(w), "fingerprint": None if fp is None else fp.text(),
                "data_as_of": None if fp is None else fp.max_ts, "gates": gates_text(run.gates),
                "version": _version(), "notebook": str(spec.notebook)}
        t1 = time.monotonic()
        try:
            written, run.output_problems = _publish_tables(spec, run_dir, info)
        except Exception as exc:  # a broken table or a full disk is a failed run, and latest does not move
            status, error = "failed", f"publishing failed: {type(exc).__name__}: {exc}"
        _log(run_dir, f"--- {_clock()} outputs published in {time.monotonic() - t1:.1f} s" + (f": {error}" if error else "")
             + "".join(f"\n--- output {k} failed (the others are published): {v}" for k, v in run.output_problems.items()))
    if error and notebook.is_file():
        with contextlib.suppress(OSError):
            _add_banner(notebook, f"Run {run.run_id} attempt {attempt} {status.replace('_', ' ')}: {error}")
    outputs = [p for p in [notebook, run_dir / "report.html", *written] if p.exists()]
    run.attempts.append({"attempt": attempt, "status": status, "started_at": started, "ended_at": ended,
                         "error": error})
    manifest = {**_facts(run, fp), "status": status, "attempts": run.attempts,
                "outputs": [str(p.relative_to(run_dir)) for p in outputs], "output_problems": run.output_problems}
    try:
        _write_json(run_dir / "run.json", manifest)
        if status == "succeeded":
            _switch_latest(run_dir)
    except OSError as exc:
        if status == "succeeded":  # not published: latest stays on the last good run
            status, error = "failed", f"publishing failed: {type(exc).__name__}: {exc}"
            run.attempts[-1].update(status=status, error=error)
    _ledger_update(run.store, row_id, status=status, ended_at=ended,
                   duration_s=(ended - started).total_seconds(), error=error,
                   outputs=json.dumps([str(p) for p in outputs]))
    return status, error, outputs


def _gates(run: _Run) -> tuple[str, str | None]:
    """Check the spec's data gates (before any kernel): ``("blocked", reason)``, ``("failed",
    why they could not be checked)`` or ``("", None)`` to go on. Verdicts go to ``run.gates``."""
    spec, p = run.spec, run.prepared
    if not spec.gates or not p.source:
        return "", None
    try:
        stats = data_stats(p.source, window=p.window, team=p.team)
        history = (_success_counts(run.store, spec.name, run.variant.slug, spec.gates.row_count["runs"])
                   if spec.gates.row_count else [])
    except WorkbenchError as exc:
        _log(run.run_dir, f"--- {_clock()} the data gates could not be checked: {exc}")
        return "failed", f"the data gates could not be checked, no kernel was started: {exc}"
    run.gates = check_gates(spec.gates, stats, at=run.anchor or _utcnow(), window=p.window, history=history)
    _log(run.run_dir, f"--- {_clock()} data gates ({stats.seconds:.2f} s): {gates_text(run.gates)}")
    reason = blocked_reason(run.gates)
    return ("blocked", reason) if reason else ("", None)


def _stopped_by_gates(run: _Run, attempt: int, status: str, error: str) -> tuple[str, str | None, list[Path]]:
    """Record an attempt stopped by the gates: a ledger row, ``run.json``, no kernel, ``latest`` kept."""
    started = _utcnow()
    fp, _ = _fingerprint(run)
    row_id = _record_start(run, attempt, started, fp)
    return _finish(run, attempt, row_id, started, fp, status, error)


def _attempts(run: _Run, parallel: int) -> tuple[str, str | None, list[Path], int]:
    """The attempts of a run: the first, then retries after a failure with a doubling delay. Each
    attempt checks the data gates first; a blocked run is not retried."""
    status, error, outputs, attempt = "failed", None, [], 0
    for attempt in range(1, run.spec.retries + 2):
        if attempt > 1:
            delay = run.spec.retry_delay_s * 2 ** (attempt - 2)
            if run.stop.wait(delay):
                break
        gate_status, gate_error = _gates(run)
        if gate_status:  # blocked by a gate (final), or the gates could not be checked (retried)
            status, error, outputs = _stopped_by_gates(run, attempt, gate_status, gate_error)
            if status == "blocked":
                break
            continue
        try:
            status, error, outputs = _attempt(run, attempt, parallel)
        except _Stopped:
            break
        if status in ("succeeded", "interrupted"):
            break
    return status, error, outputs, attempt


def _run_variant(spec: JobSpec, variant: Variant, prepared: _Prepared, *, store: str, root: Path, trigger: str,
                 scheduled_at: datetime | None, parallel: int, stop: threading.Event, spares: _Spares,
                 anchor: datetime | None = None) -> RunResult:
    started = _utcnow()
    run_id = _new_run_id(started)
    run_dir = _job_dir(root, spec.name, variant.slug) / run_id
    params = dict(prepared.parameters)
    if "output_dir" in spec.declared:
        params["output_dir"] = str(run_dir / "tables")
    run = _Run(spec, variant, replace(prepared, parameters=params), run_id, run_dir, trigger, scheduled_at, store,
               root, stop, spares, anchor=anchor)
    status, error, outputs = "failed", None, []
    attempt = 0
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:  # no room, read-only or not ours: recorded and notified, like any failed run
        attempt, error = 1, f"the run folder {run_dir} could not be created: {type(exc).__name__}: {exc}"
        row_id = _record_start(run, attempt, started, None)
        _ledger_update(store, row_id, status="failed", ended_at=_utcnow(), error=error)
    else:
        status, error, outputs, attempt = _attempts(run, parallel)
    result = RunResult(job=spec.name, variant=variant.slug, run_id=run_id, status=status, attempts=attempt,
                       run_dir=run_dir, report=(run_dir / "report.html") if status == "succeeded"
                       and (run_dir / "report.html").is_file() else None, error=error, started_at=started,
                       ended_at=_utcnow(), published=status == "succeeded")
    if status == "succeeded" and spec.alerts:
        _tell_rule_changes(spec, run_dir, result.report, root)
    notify_outcome(spec.notify, _outcome_payload({
        "job": spec.name, "variant": variant.slug, "run_id": run_id, "status": status, "attempt": attempt,
        "error": error, "run_dir": str(run_dir), "started_at": started, "ended_at": result.ended_at,
        "parameters": json.dumps(_jsonable(params)), "outputs": json.dumps([str(p) for p in outputs])}), root,
        previous=_previous_status(store, spec.name, variant.slug, run_id))
    try:
        write_index(store, reports=root)
    except OSError as exc:
        print(f"reports index not written: {exc}", file=sys.stderr)
    return result


def run_job(spec: JobSpec, *, overrides: Mapping[str, Any] | None = None, variants: Sequence[str] | None = None,
            store: str | None = None, reports: str | os.PathLike | None = None, trigger: str = "manual",
            scheduled_at: datetime | None = None, parallel: int = 2, now: datetime | None = None,
            stop: threading.Event | None = None, _spares: _Spares | None = None) -> list[RunResult]:
    """Run a job now: every grid variant, each with its retries; publish what succeeds.

    Everything is validated first (overrides, relative dates resolved at ``scheduled_at``
    or now, the spec's ``checks``), so a bad value stops here before any kernel starts.
    Then, holding the job's lock, the variants run (at most ``parallel`` notebooks at once
    on this machine); each attempt is one ledger row. A succeeded run moves
    ``<reports>/<job>[/<variant>]/latest``; a failed, timed-out or interrupted one keeps its
    partial notebook in its run folder and changes nothing else.

    Parameters
    ----------
    spec : JobSpec
    overrides : mapping, optional
        Parameter values replacing the spec's (:func:`parse_overrides`).
    variants : list of str, optional
        Only these grid variants (slugs).
    store : str, optional
        The workbench store: the ledger's home and the ``source`` of notebooks whose
        ``source`` is not set. Default ``paths.DEFAULT_DB_URL``.
    reports : path, optional
        The reports folder; default ``paths.REPORTS``.
    trigger : {"manual", "due", "schedule"}
    scheduled_at : datetime, optional
        The cron time this run is for (relative dates are anchored there).
    parallel : int
        Notebooks running at once on this machine (shared by every runner using ``reports``).
    now : datetime, optional
        The anchor of relative dates for manual runs (default: the current time).
    stop : threading.Event, optional
        Set it to stop the runs (their attempts become ``interrupted``).
    _spares : _Spares, optional
        Internal (tests, and :func:`run_due_jobs` sharing its pool): papermill child processes
        started ahead; None (default) starts and closes a pool for this call.

    Returns
    -------
    list of RunResult
        One per variant.

    Raises
    ------
    WorkbenchError
        For a bad override or a parameter the notebook's checks reject (before any kernel).
    JobAlreadyRunning
        When another process is running this job.

    Examples
    --------
    >>> results = run_job(find_job(load_job_specs(), "daily-workflow"))  # doctest: +SKIP
    >>> results[0].status, results[0].report  # doctest: +SKIP
    ('succeeded', PosixPath('.../reports/daily-workflow/20251122T060000Z-1a2b3c/report.html'))
    """
    store = store or paths.DEFAULT_DB_URL
    root = paths.reports_root(reports)
    anchor = scheduled_at or now or _utcnow()
    chosen = job_variants(spec, overrides)
    if variants is not None:
        chosen = [v for v in chosen if v.slug in set(variants)]
    if not chosen:
        return []
    spares = _spares or _Spares(min(max(1, parallel), len(chosen)))  # no kernel: imports only
    try:
        # validated before the lock (a bad value fails at once, even while the job runs), except
        # for a job that ingests first: its source may be what the ingest brings up to date
        prepared = None if spec.ingest else [(v, _prepare(spec, v, store=store, anchor=anchor)) for v in chosen]
        stop = stop or threading.Event()
        kw = dict(store=store, root=root, trigger=trigger, scheduled_at=scheduled_at, parallel=parallel, stop=stop,
                  spares=spares, anchor=anchor)
        with job_lock(spec.name, reports=root):
            mark_interrupted_runs(store, reports=root)
            root.mkdir(parents=True, exist_ok=True)
            if prepared is None:
                _ingest_first(spec, store)
                prepared = [(v, _prepare(spec, v, store=store, anchor=anchor)) for v in chosen]
            if len(prepared) == 1:
                return [_run_variant(spec, *prepared[0], **kw)]
            with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix=f"job-{spec.name}") as pool:
                futures = [pool.submit(_run_variant, spec, v, p, **kw) for v, p in prepared]
                try:
                    return [f.result() for f in futures]
                except BaseException:  # stop the other variants before the pool waits for them
                    stop.set()
                    raise
    finally:
        if _spares is None:
            spares.close()
