"""Scheduled papermill jobs: specs, runs, the run ledger, atomic publishing and the schedule.

A job is one YAML file in ``papermill_jobs/`` naming a notebook, a cron schedule and the
notebook's parameters (docs/jobs.md). Running it is a thin layer around
``papermill.execute_notebook``: this module adds what papermill does not do, nothing else.

* **Validation before any kernel starts**: unknown keys, a bad cron expression or time
  zone, a missing notebook, a parameter the notebook does not declare, a value of the wrong
  type (types come from the notebook's ``parameters`` cell), and the notebook's own
  parameter checks (``checks:``), each a :class:`~analytics_lib.core.errors.WorkbenchError`
  naming the file and the key.
* **Isolation and time limits**: each attempt runs papermill in a child process (its own
  session) watched by the runner: the whole run is stopped at ``timeout_s`` (and a cell at
  ``cell_timeout_s``); a kernel that dies or hangs gives ``failed`` or ``timed_out``, never
  ``succeeded``. Failed attempts are retried with exponential backoff.
* **Run ledger**: table ``job_runs`` in the workbench store (SQLAlchemy; SQLite by
  default), one row per attempt; a ``running`` row whose runner process is gone becomes
  ``interrupted`` at the next start.
* **Atomic publishing**: a run writes into ``<reports>/<job>/<run-id>/`` and, only when it
  succeeded, the symlink ``<reports>/<job>/latest`` is switched to it with ``os.replace``;
  ``<reports>/index.html`` is rewritten after every run.
* **Concurrency**: a per-job ``flock`` lock (a second run of the same job stops with
  :class:`JobAlreadyRunning`) and a machine-wide limit on notebooks running at once.

Top-level imports are standard library only: the papermill child process imports this
module, and pandas, SQLAlchemy, papermill and nbconvert load where they are used.

Modules: ``child``, ``common``, ``index``, ``ledger``, ``lock``, ``notify``, ``prepare``, ``publish``, ``runner``, ``schedule``, ``spec``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'index': [
        'write_index',
        'prune_runs',
    ],
    'ledger': [
        'LEDGER',
        'run_history',
    ],
    'lock': [
        'JobAlreadyRunning',
        'job_lock',
    ],
    'prepare': [
        'Fingerprint',
        'check_job',
        'input_fingerprint',
    ],
    'publish': [
        'PublishContext',
        'OUTPUT_WRITERS',
    ],
    'runner': [
        'KILL_GRACE_S',
        'mark_interrupted_runs',
        'RunResult',
        'run_job',
    ],
    'schedule': [
        'previous_fire_time',
        'next_fire_time',
        'due_runs',
        'run_due_jobs',
        'job_table',
        'cron_trigger',
        'job_scheduler',
    ],
    'spec': [
        'STATUSES',
        'OUTPUTS',
        'SPEC_KEYS',
        'NOTIFY_KEYS',
        'NotebookParameter',
        'notebook_parameters',
        'NotifySpec',
        'JobSpec',
        'load_job_spec',
        'load_job_specs',
        'find_job',
        'parse_overrides',
        'Variant',
        'job_variants',
    ],
})
