"""Scheduled papermill jobs: specs, runs, the run ledger, atomic publishing and the schedule.

A job is one YAML file in ``papermill_jobs/`` naming a notebook, a cron schedule and the
notebook's parameters (docs/jobs.md). Running it is a thin layer around
``papermill.execute_notebook``: this module adds what papermill does not do, nothing else.

* **Validation before any kernel starts**: unknown keys, a bad cron expression or time
  zone, a missing notebook, a parameter the notebook does not declare, a value of the wrong
  type (types come from the notebook's ``parameters`` cell), and the notebook's own
  parameter checks (``checks:``), each a :class:`~analytics_lib.errors.WorkbenchError`
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
"""
from __future__ import annotations

import ast
import contextlib
import difflib
import fcntl
import hashlib
import html
import io as _stdio
import itertools
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import paths
from .errors import WorkbenchError
from .markup import md_escape, sanitize_html
from .procs import descendants, die_with_parent
from .redaction import SECRETS_ENV, redact, secret_references

#: Statuses of a run attempt in the ledger.
STATUSES = ("running", "succeeded", "failed", "timed_out", "interrupted")
#: What a run publishes besides the executed notebook (always kept).
OUTPUTS = ("html", "xlsx", "csv", "marts")
#: Keys a job spec may hold.
SPEC_KEYS = ("name", "description", "notebook", "schedule", "timezone", "enabled", "parameters", "grid",
             "timeout_s", "cell_timeout_s", "retries", "retry_delay_s", "outputs", "marts", "notify", "kernel",
             "checks")
NOTIFY_KEYS = ("on", "command", "log")
LEDGER = "job_runs"
#: Seconds between the polite stop (SIGTERM, the partial notebook is saved) and SIGKILL.
KILL_GRACE_S = 5.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DAY_FMT = "%Y-%m-%d"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _clock() -> str:
    return f"{_utcnow():%H:%M:%S.%f}"[:-3]


# --------------------------------------------------------------------------------------------
# YAML as people mean it (YAML 1.2 style): no implicit timestamps (`start: 2025-01-01` stays the
# text the notebook expects) and only true/false are booleans (`on:`, `no`, `off` stay text).
def _yaml_loader():
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    resolvers = {k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
                 for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    _Loader.yaml_implicit_resolvers = resolvers
    _Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))
    return _Loader


def _yaml_load(text: str, *, where: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise WorkbenchError(f"{where}: not valid YAML ({str(exc).splitlines()[0]}"
                             + (f", line {exc.problem_mark.line + 1}" if getattr(exc, "problem_mark", None) else "")
                             + ")") from exc


# --------------------------------------------------------------------------------------------
# Notebook parameters
@dataclass(frozen=True)
class NotebookParameter:
    """One parameter declared in a notebook's ``parameters`` cell.

    Attributes
    ----------
    name : str
    default : object
        The literal default value.
    type_name : str
        ``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``, a union such as
        ``int | None`` (from an annotation), or ``any`` when the default is ``None`` or not
        a literal (any value is accepted; the notebook's checks judge it).
    help : str
        The comment at the end of the line, if any.
    """

    name: str
    default: Any
    type_name: str
    help: str = ""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this parameter's type (ints are accepted for floats).

        Examples
        --------
        >>> NotebookParameter("horizon", 28, "int").accepts(14), NotebookParameter("horizon", 28, "int").accepts("14")
        (True, False)
        """
        return any(_is_type(value, t) for t in _type_parts(self.type_name))


_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "list": "list", "dict": "dict",
          "None": "None", "NoneType": "None", "Any": "any", "any": "any", "tuple": "list", "Sequence": "list",
          "Mapping": "dict", "object": "any"}


def _type_parts(type_name: str) -> list[str]:
    text = type_name.replace("Optional[", "None|").replace("Union[", "").replace("]", "|").replace(",", "|")
    parts = []
    for p in (x.strip() for x in text.split("|")):
        if not p:
            continue
        parts.append(_TYPES.get(p.split("[")[0].split(".")[-1], "any"))
    return parts or ["any"]


def _is_type(value: Any, t: str) -> bool:
    if t == "any":
        return True
    if t == "None":
        return value is None
    if t == "bool":
        return isinstance(value, bool)
    if t == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "list": (list, tuple), "dict": dict}[t])


def _type_of_default(value: Any) -> str:
    if value is None:
        return "any"
    for t in ("bool", "int", "float", "str", "list", "dict"):
        if _is_type(value, t):
            return t
    return "any"


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, NotebookParameter]:
    """The parameters a notebook declares in its cell tagged ``parameters``.

    Reads the notebook as JSON and the cell with :mod:`ast` (no kernel, no papermill
    import): plain and annotated assignments, and tuple assignments such as
    ``start, end = "-28d", "today"``. Gives the same names and defaults as
    ``papermill.inspect_notebook``.

    Parameters
    ----------
    notebook : path
        An ``.ipynb`` file.

    Returns
    -------
    dict of str to NotebookParameter
        In the order of the cell; empty when the notebook has no ``parameters`` cell.

    Raises
    ------
    WorkbenchError
        When the file is not a readable notebook or its parameters cell is not Python.

    Examples
    --------
    >>> from analytics_lib import paths
    >>> p = notebook_parameters(paths.NOTEBOOKS / "forecasting.ipynb")
    >>> p["horizon"].default, p["horizon"].type_name, p["source"].type_name
    (28, 'int', 'any')
    """
    path = Path(notebook)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkbenchError(f"{path}: not a readable notebook ({exc})") from exc
    cell = next((c for c in cells if c.get("cell_type") == "code"
                 and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise WorkbenchError(f"{path}: the parameters cell is not valid Python ({exc.msg}, line {exc.lineno})") from exc
    comments = {}
    with contextlib.suppress(tokenize.TokenError, IndentationError):
        for tok in tokenize.generate_tokens(_stdio.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out: dict[str, NotebookParameter] = {}

    def literal(node):
        try:
            return ast.literal_eval(node), True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None, False

    for stmt in tree.body:
        note = comments.get(stmt.end_lineno, "")
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            value, ok = literal(stmt.value) if stmt.value is not None else (None, False)
            out[stmt.target.id] = NotebookParameter(stmt.target.id, value, ast.unparse(stmt.annotation), note)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    value, ok = literal(stmt.value)
                    out[target.id] = NotebookParameter(target.id, value, _type_of_default(value) if ok else "any", note)
                elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(stmt.value, (ast.Tuple, ast.List)) \
                        and len(target.elts) == len(stmt.value.elts):
                    for t, v in zip(target.elts, stmt.value.elts):
                        if isinstance(t, ast.Name):
                            value, ok = literal(v)
                            out[t.id] = NotebookParameter(t.id, value, _type_of_default(value) if ok else "any", note)
    return out


# --------------------------------------------------------------------------------------------
# Job specs
@dataclass(frozen=True)
class NotifySpec:
    """Where a job reports its outcome: a command and/or a log file, on failure and/or success.

    ``on`` holds ``failure`` (a final ``failed``, ``timed_out`` or ``interrupted``) and/or
    ``success``. ``command`` is run without a shell (``sh -c '...'`` for shell syntax) with
    the outcome as JSON on stdin and ``WORKBENCH_*`` variables; ``log`` gets one JSON line
    per outcome (relative paths are relative to the reports folder).

    Examples
    --------
    >>> NotifySpec().on, NotifySpec().log
    (('failure',), 'notifications.log')
    """

    on: tuple[str, ...] = ("failure",)
    command: str | None = None
    log: str | None = "notifications.log"


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec (one ``papermill_jobs/*.yaml`` file); see :func:`load_job_spec`.

    Attributes
    ----------
    name, path, notebook : str, Path, Path
        The job's name, its YAML file and the absolute notebook path.
    schedule, timezone : str
        A 5-field cron expression, read in the IANA time zone ``timezone``.
    parameters : dict
        Values given to every run.
    grid : dict of str to list
        One run per combination of these values (empty: one run).
    declared : dict of str to NotebookParameter
        What the notebook declares.
    timeout_s, cell_timeout_s : float, float or None
        The whole run's limit (from the start of the child process) and an optional
        per-cell limit.
    retries, retry_delay_s : int, float
        Extra attempts after a failure, the first after ``retry_delay_s`` and each next one
        after twice the previous delay.
    outputs : tuple of str
        What to publish besides the notebook: ``html``, ``xlsx``, ``csv``, ``marts``.
    marts : tuple of str or None
        Tables copied to ``marts/`` for dashboards; ``None``: every table.
    notify : NotifySpec
    kernel : str
    checks : tuple of str
        ``module:function`` callables run on the parameters before the kernel starts.
    enabled : bool
        Disabled jobs are neither due nor scheduled (``jobs run NAME`` still runs them).
    """

    name: str
    path: Path
    notebook: Path
    schedule: str
    timezone: str = "UTC"
    description: str = ""
    enabled: bool = True
    parameters: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    declared: dict = field(default_factory=dict, repr=False)
    timeout_s: float = 3600.0
    cell_timeout_s: float | None = None
    retries: int = 0
    retry_delay_s: float = 30.0
    outputs: tuple[str, ...] = OUTPUTS
    marts: tuple[str, ...] | None = None
    notify: NotifySpec = NotifySpec()
    kernel: str = "python3"
    checks: tuple[str, ...] = ()

    def summary(self) -> dict:
        """The spec as plain values (stored with each run in the ledger)."""
        return {"name": self.name, "file": str(self.path), "notebook": str(self.notebook),
                "description": self.description, "schedule": self.schedule, "timezone": self.timezone,
                "grid": self.grid, "timeout_s": self.timeout_s, "retries": self.retries}


def _spec_error(path: Path, key: str | None, message: str) -> WorkbenchError:
    where = f"{path}" + (f": key '{key}'" if key else "")
    return WorkbenchError(f"{where}: {message}")


def _check_cron(path: Path, expr: Any) -> str:
    from croniter import croniter

    if not isinstance(expr, str) or len(expr.split()) != 5 or not croniter.is_valid(expr):
        raise _spec_error(path, "schedule", f"{expr!r} is not a valid 5-field cron expression "
                          "(minute hour day-of-month month day-of-week), e.g. '0 7 * * MON'")
    dom, dow = expr.split()[2], expr.split()[4]
    if dom not in ("*", "?") and dow not in ("*", "?"):
        raise _spec_error(path, "schedule", f"{expr!r} restricts both the day of the month and the day of the week; "
                          "cron then runs on either (OR), which is rarely meant: restrict only one")
    return " ".join(expr.split())


def _check_timezone(path: Path, tz: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(tz, str):
            raise ValueError
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _spec_error(path, "timezone", f"{tz!r} is not an IANA time zone such as 'UTC' or 'Europe/Paris'") from None
    return tz


def _number(path: Path, key: str, value: Any, *, minimum: float, integer: bool = False,
            allow_zero: bool = True) -> float | int:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or value < minimum or (not allow_zero and value == 0):
        kind = "a whole number" if integer else "a number"
        raise _spec_error(path, key, f"{value!r} must be {kind} >= {minimum}" + ("" if allow_zero else ", not 0"))
    return int(value) if integer else float(value)


def _check_value(param: NotebookParameter, value: Any, *, where: str) -> None:
    if not param.accepts(value):
        hint = f" (its default is {param.default!r})" if param.default is not None else ""
        raise WorkbenchError(f"{where}: {value!r} is a {type(value).__name__}, but the notebook's parameter "
                             f"'{param.name}' is {param.type_name}{hint}")


def _undeclared(name: str, declared: Mapping[str, NotebookParameter], notebook: Path) -> str:
    near = difflib.get_close_matches(name, list(declared), n=1)
    known = ", ".join(declared) or "none"
    return (f"the notebook {notebook.name} does not declare a parameter '{name}'"
            + (f" (did you mean '{near[0]}'?)" if near else "") + f"; it declares: {known}")


def load_job_spec(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> JobSpec:
    """Read and validate one job spec, before anything runs.

    Relative ``notebook`` paths are relative to ``root`` (the project folder). Parameter
    types come from the notebook's ``parameters`` cell (:func:`notebook_parameters`).

    Parameters
    ----------
    path : path
        The YAML file.
    root : path, optional
        Base of relative notebook paths; default the project folder.

    Returns
    -------
    JobSpec

    Raises
    ------
    WorkbenchError
        Naming the file and the key: unknown keys, missing ``notebook``/``schedule``, a bad
        cron expression or time zone, a notebook that does not exist, a parameter the
        notebook does not declare, a value of the wrong type, ``output_dir`` (the runner
        sets it), bad limits, outputs, grid or notify settings.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> spec = pathlib.Path(tempfile.mkdtemp()) / "fc.yaml"
    >>> _ = spec.write_text("notebook: notebooks/forecasting.ipynb\\nschedule: '0 7 * * MON'\\n"
    ...                     "parameters: {horizon: 14}\\n")
    >>> job = load_job_spec(spec)
    >>> job.name, job.parameters, job.timezone
    ('fc', {'horizon': 14}, 'UTC')
    >>> _ = spec.write_text("notebook: notebooks/forecasting.ipynb\\nschedule: '0 7 * * MON'\\n"
    ...                     "parameters: {horizon: '14'}\\n")
    >>> load_job_spec(spec)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.errors.WorkbenchError: .../fc.yaml: key 'parameters.horizon': '14' is a str, but the notebook's parameter 'horizon' is int (its default is 28)
    """
    path = Path(path)
    base = Path(root) if root is not None else paths.ROOT
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot read the job spec ({exc.strerror})") from exc
    raw = _yaml_load(text, where=str(path))
    if not isinstance(raw, dict):
        raise _spec_error(path, None, "a job spec is a mapping of keys (name, notebook, schedule, parameters...)")
    unknown = [k for k in raw if k not in SPEC_KEYS]
    if unknown:
        k = unknown[0]
        near = difflib.get_close_matches(str(k), SPEC_KEYS, n=1)
        raise _spec_error(path, str(k), "unknown key" + (f" (did you mean '{near[0]}'?)" if near else "")
                          + f"; allowed keys: {', '.join(SPEC_KEYS)}")
    for required in ("notebook", "schedule"):
        if raw.get(required) in (None, ""):
            raise _spec_error(path, required, "is required")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise _spec_error(path, "name", f"{name!r} must be lower-case letters, digits, '-' or '_' (a folder name)")
    nb_value = raw["notebook"]
    if not isinstance(nb_value, str):
        raise _spec_error(path, "notebook", f"{nb_value!r} must be a path to an .ipynb file")
    notebook = Path(nb_value).expanduser()
    notebook = (notebook if notebook.is_absolute() else base / notebook).resolve()
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise _spec_error(path, "notebook", f"{nb_value!r}: {notebook} does not exist or is not an .ipynb file")
    try:
        declared = notebook_parameters(notebook)
    except WorkbenchError as exc:
        raise _spec_error(path, "notebook", str(exc)) from exc
    schedule = _check_cron(path, raw["schedule"])
    tz = _check_timezone(path, raw.get("timezone", "UTC"))

    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise _spec_error(path, "parameters", "must be a mapping of notebook parameter names to values")
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict):
        raise _spec_error(path, "grid", "must be a mapping of parameter names to lists of values, e.g. "
                          "{team: [team-a, team-b]}")
    for section, values in (("parameters", params), ("grid", grid)):
        for k, v in values.items():
            key = f"{section}.{k}"
            if not isinstance(k, str) or k not in declared:
                raise _spec_error(path, key, _undeclared(str(k), declared, notebook))
            if k == "output_dir":
                raise _spec_error(path, key, "is set by the runner (the run's tables folder); remove it")
            if section == "grid":
                if not isinstance(v, list) or not v:
                    raise _spec_error(path, key, f"{v!r} must be a non-empty list of values, one run each")
                if k in params:
                    raise _spec_error(path, key, f"'{k}' is in both parameters and grid; keep it in one")
                if len({json.dumps(x, sort_keys=True, default=str) for x in v}) != len(v):
                    raise _spec_error(path, key, f"{v!r} repeats a value")
                for i, x in enumerate(v):
                    _check_value(declared[k], x, where=f"{path}: key '{key}[{i}]'")
            else:
                _check_value(declared[k], v, where=f"{path}: key '{key}'")
    if grid:
        slugs = [_variant_slug(dict(zip(grid, combo))) for combo in itertools.product(*grid.values())]
        if len(set(slugs)) != len(slugs):
            raise _spec_error(path, "grid", "two grid values give the same folder name; make them differ in "
                              "letters or digits")

    timeout_s = _number(path, "timeout_s", raw.get("timeout_s", 3600), minimum=1)
    cell_timeout = raw.get("cell_timeout_s")
    cell_timeout = None if cell_timeout is None else _number(path, "cell_timeout_s", cell_timeout, minimum=1)
    retries = _number(path, "retries", raw.get("retries", 0), minimum=0, integer=True)
    delay = _number(path, "retry_delay_s", raw.get("retry_delay_s", 30), minimum=0)
    outputs = raw.get("outputs", list(OUTPUTS))
    if not isinstance(outputs, list) or any(o not in OUTPUTS for o in outputs):
        raise _spec_error(path, "outputs", f"{outputs!r}: a list of {', '.join(OUTPUTS)} "
                          "(the executed notebook is always kept)")
    marts = raw.get("marts")
    if marts is not None:
        if not isinstance(marts, list) or not all(isinstance(m, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", m)
                                                   for m in marts):
            raise _spec_error(path, "marts", f"{marts!r}: a list of table names the notebook writes, e.g. [kpis, funnel]")
        if "marts" not in outputs:
            raise _spec_error(path, "marts", "lists tables but 'marts' is not in outputs")
    notify = _check_notify(path, raw.get("notify"))
    kernel = raw.get("kernel", "python3")
    if not isinstance(kernel, str) or not kernel.strip():
        raise _spec_error(path, "kernel", f"{kernel!r} must be a kernel name such as 'python3'")
    checks = raw.get("checks") or []
    if not isinstance(checks, list) or not all(isinstance(c, str) and re.fullmatch(r"[\w.]+:\w+", c) for c in checks):
        raise _spec_error(path, "checks", f"{checks!r}: a list of 'module:function' names, e.g. "
                          "['analytics_lib.params:workflow_parameters']")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _spec_error(path, "enabled", f"{enabled!r} must be true or false")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _spec_error(path, "description", "must be text")
    return JobSpec(name=name, path=path.resolve(), notebook=notebook, schedule=schedule, timezone=tz,
                   description=description.strip(), enabled=enabled, parameters=params, grid=grid,
                   declared=declared, timeout_s=timeout_s, cell_timeout_s=cell_timeout, retries=retries,
                   retry_delay_s=delay, outputs=tuple(outputs), marts=None if marts is None else tuple(marts),
                   notify=notify, kernel=kernel.strip(), checks=tuple(checks))


def _check_notify(path: Path, raw: Any) -> NotifySpec:
    if raw is None:
        return NotifySpec(command=os.environ.get("WORKBENCH_NOTIFY_COMMAND") or None)
    if not isinstance(raw, dict):
        raise _spec_error(path, "notify", "must be a mapping with 'on', 'command' and/or 'log'")
    for k in raw:
        if k not in NOTIFY_KEYS:
            raise _spec_error(path, f"notify.{k}", f"unknown key; allowed: {', '.join(NOTIFY_KEYS)}")
    on = raw.get("on", ["failure"])
    on = [on] if isinstance(on, str) else on
    if not isinstance(on, list) or not on or any(x not in ("failure", "success") for x in on):
        raise _spec_error(path, "notify.on", f"{on!r}: a list of 'failure' and/or 'success'")
    command, log = raw.get("command"), raw.get("log")
    for key, value in (("command", command), ("log", log)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _spec_error(path, f"notify.{key}", f"{value!r} must be text")
    if command is not None:
        try:
            shlex.split(command)
        except ValueError as exc:
            raise _spec_error(path, "notify.command", f"cannot be split into words ({exc})") from exc
    if command is None and log is None:
        raise _spec_error(path, "notify", "give a 'command', a 'log' file or both")
    return NotifySpec(on=tuple(dict.fromkeys(on)), command=command, log=log)


def load_job_specs(folder: str | os.PathLike | None = None, *, root: str | os.PathLike | None = None) -> list[JobSpec]:
    """Every job spec (``*.yaml``, ``*.yml``) in a folder, validated, sorted by name.

    All problems are reported at once (one line per file); two files with the same job
    name are an error.

    Examples
    --------
    >>> [s.name for s in load_job_specs()][:2]  # the shipped jobs in papermill_jobs/
    ['daily-dashboard-marts', 'daily-workflow']
    """
    folder = Path(folder) if folder is not None else paths.JOBS
    if not folder.is_dir():
        raise WorkbenchError(f"{folder}: the jobs folder does not exist (create it, or give --jobs-dir)")
    specs, errors = [], []
    for p in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            specs.append(load_job_spec(p, root=root))
        except WorkbenchError as exc:
            errors.append(str(exc))
    seen: dict[str, Path] = {}
    for s in specs:
        if s.name in seen:
            errors.append(f"{s.path}: key 'name': job '{s.name}' is also defined in {seen[s.name]}")
        seen.setdefault(s.name, s.path)
    if errors:
        raise WorkbenchError("invalid job specs:\n  " + "\n  ".join(errors) if len(errors) > 1 else errors[0])
    return sorted(specs, key=lambda s: s.name)


def find_job(specs: Sequence[JobSpec], name: str) -> JobSpec:
    """The spec named ``name``, or a WorkbenchError listing the jobs there are.

    Examples
    --------
    >>> find_job(load_job_specs(), "weekly-forecast").notebook.name
    'forecasting.ipynb'
    """
    for s in specs:
        if s.name == name:
            return s
    near = difflib.get_close_matches(name, [s.name for s in specs], n=1)
    raise WorkbenchError(f"no job named {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                         + f"; jobs: {', '.join(s.name for s in specs) or 'none'}")


# --------------------------------------------------------------------------------------------
# Overrides and grid variants
def parse_overrides(items: Sequence[str], *, spec: JobSpec | None = None) -> dict[str, Any]:
    """Parse ``-p key=value`` items; values are read as YAML (``14``, ``1.5``, ``null``, ``[a, b]``).

    Dates stay text, and with ``spec`` a text parameter keeps exactly what was typed
    (``-p label=123`` is the text ``'123'``). Whether a key exists and its type is right is
    checked by :func:`job_variants`.

    Examples
    --------
    >>> parse_overrides(["horizon=14", "team=team-a", "models=[ets, theta]", "start=2025-01-01", "capacity=null"])
    {'horizon': 14, 'team': 'team-a', 'models': ['ets', 'theta'], 'start': '2025-01-01', 'capacity': None}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise WorkbenchError(f"-p {item!r}: write parameters as key=value, e.g. -p start=-7d")
        value = _yaml_load(text, where=f"-p {item}") if text.strip() else ""
        declared = spec.declared.get(key) if spec is not None else None
        if declared is not None and not isinstance(value, str) and not declared.accepts(value) \
                and "str" in _type_parts(declared.type_name):
            value = text
        out[key] = value
    return out


@dataclass(frozen=True)
class Variant:
    """One run of a job: its grid values (``slug`` names its folder; ``""`` without a grid)
    and the parameters given to the notebook (before the runner resolves dates and paths)."""

    job: str
    slug: str
    parameters: dict


def _variant_slug(values: Mapping[str, Any]) -> str:
    parts = []
    for v in values.values():
        text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
        parts.append(re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x")
    return "__".join(parts)


def job_variants(spec: JobSpec, overrides: Mapping[str, Any] | None = None) -> list[Variant]:
    """The runs of a job: one per combination of its grid, with ``overrides`` applied.

    An override of a grid key replaces that grid axis by the one value given. Every
    override must be a declared parameter of the right type (the message names ``-p key``).

    Parameters
    ----------
    spec : JobSpec
    overrides : mapping, optional
        From :func:`parse_overrides`.

    Returns
    -------
    list of Variant

    Examples
    --------
    >>> spec = find_job(load_job_specs(), "weekly-team-workflow")
    >>> [v.slug for v in job_variants(spec)]
    ['team-a', 'team-b', 'team-c']
    >>> [v.parameters["team"] for v in job_variants(spec, {"team": "team-f"})]
    ['team-f']
    """
    checked = {}
    for k, v in (overrides or {}).items():
        if k not in spec.declared:
            raise WorkbenchError(f"-p {k}: {_undeclared(k, spec.declared, spec.notebook)} (job {spec.name})")
        if k == "output_dir":
            raise WorkbenchError(f"-p {k}: the runner sets output_dir to the run's tables folder (job {spec.name})")
        _check_value(spec.declared[k], v, where=f"-p {k} (job {spec.name})")
        checked[k] = v
    grid = {k: ([checked[k]] if k in checked else v) for k, v in spec.grid.items()}
    base = {**spec.parameters, **{k: v for k, v in checked.items() if k not in grid}}
    if not grid:
        return [Variant(spec.name, "", base)]
    out = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        out.append(Variant(spec.name, _variant_slug(values), {**base, **values}))
    return out


# --------------------------------------------------------------------------------------------
# Resolution of dates and paths, the notebook's own checks, the input fingerprint
@dataclass(frozen=True)
class Fingerprint:
    """What the run read: rows and time range of the window in the source, and a digest.

    ``rows``/``min_ts``/``max_ts`` come from the events table of a SQL source (``None`` for
    files, whose digest is their content's SHA-256). ``digest`` changes when any of these
    or the window change."""

    source: str
    rows: int | None
    min_ts: str | None
    max_ts: str | None
    digest: str

    def text(self) -> str:
        """One line for headers and tables.

        Examples
        --------
        >>> Fingerprint("db", 10, "2025-01-01 00:00", "2025-01-02 00:00", "ab12").text()
        '10 events, 2025-01-01 00:00 .. 2025-01-02 00:00 UTC (ab12)'
        """
        if self.rows is None:
            return f"{self.source} ({self.digest})"
        return f"{self.rows:,} events, {self.min_ts or '-'} .. {self.max_ts or '-'} UTC ({self.digest})"


@dataclass(frozen=True)
class _Prepared:
    parameters: dict
    window: Any  # TimeWindow or None
    source: str | None
    team: list | None


def _resolve_date(value: Any, name: str, anchor: datetime) -> Any:
    from .params import _RELATIVE, parse_when

    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    m = _RELATIVE.match(word)
    if word not in ("today", "yesterday", "now") and not m:
        return value
    ts = parse_when(value, now=anchor.isoformat(), name=name)
    day_valued = word in ("today", "yesterday") or (m is not None and m.group(3).lower() in ("d", "w"))
    return ts.strftime(_DAY_FMT) if day_valued else ts.isoformat()


def _resolve_source(value: Any, store: str) -> Any:
    """``None`` -> the store (relative SQLite paths of the store are relative to the working
    directory, as for any command-line path); relative paths in a spec -> the project folder.
    The notebook then gets an absolute location whatever its own working directory."""
    if value is None:
        return _absolute(store, Path.cwd())
    if not isinstance(value, str):
        return value
    return _absolute(value, paths.ROOT)


def _absolute(value: str, base: Path) -> str:
    from .io import is_sql_url, parse_db_url

    if is_sql_url(value):
        url = parse_db_url(value)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_absolute():
            return url.set(database=str((base / url.database).resolve())).render_as_string(hide_password=False)
        return value
    p = Path(value.removeprefix("file://")).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _prepare(spec: JobSpec, variant: Variant, *, store: str, anchor: datetime) -> _Prepared:
    """Resolve relative dates (at ``anchor``) and paths, then run the spec's checks: all
    before any kernel starts."""
    from .params import _check_source, time_window

    params = dict(variant.parameters)
    declared = spec.declared
    where = f"{spec.path.name} (job {spec.name}" + (f", {variant.slug}" if variant.slug else "") + ")"
    if "source" in declared:
        params["source"] = _resolve_source(params.get("source", declared["source"].default), store)
        if isinstance(params["source"], str):  # exists and holds events (a file type or a URL): before any kernel
            try:
                _check_source(params["source"], engine=str(params.get("engine") or "pandas"))
            except WorkbenchError as exc:
                raise WorkbenchError(f"{where}: {exc}") from None
    for name in ("start", "end", "cutoff"):  # relative dates resolve at the scheduled time
        if name in declared:
            params[name] = _resolve_date(params.get(name, declared[name].default), name, anchor)
    window = None
    if "start" in declared and "end" in declared:
        try:
            window = time_window(params["start"], params["end"], now=anchor.isoformat())
        except WorkbenchError as exc:
            raise WorkbenchError(f"{where}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="workbench-check-") as tmp:
        full = {name: p.default for name, p in declared.items()} | params
        if "output_dir" in declared:
            full["output_dir"] = tmp
        for check in spec.checks:
            _run_check(check, full, anchor=anchor, where=where)
    team = params.get("team", declared["team"].default) if "team" in declared else None
    team = [team] if isinstance(team, str) else (list(team) if isinstance(team, (list, tuple)) else None)
    source = params.get("source") if isinstance(params.get("source"), str) else None
    return _Prepared(params, window, source, team)


def check_job(spec: JobSpec, *, overrides: Mapping[str, Any] | None = None, store: str | None = None,
              now: datetime | None = None) -> list[Variant]:
    """Validate a run of a job without starting anything: overrides, dates, paths and the
    spec's ``checks`` (e.g. ``analytics_lib.params:workflow_parameters``) for every variant.

    Relative dates are resolved at ``now``; ``source: null`` means ``store``.

    Returns
    -------
    list of Variant
        The runs that would start.

    Raises
    ------
    WorkbenchError
        The first problem, naming the spec file, the job and the parameter.

    Examples
    --------
    >>> job = find_job(load_job_specs(), "weekly-forecast")
    >>> check_job(job, overrides={"granularity": "Q"}, store="sqlite://")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.errors.WorkbenchError: weekly-forecast.yaml (job weekly-forecast): granularity='Q' is not supported: ...
    """
    store = store or paths.DEFAULT_DB_URL
    variants = job_variants(spec, overrides)
    for v in variants:
        _prepare(spec, v, store=store, anchor=now or _utcnow())
    return variants


def _run_check(check: str, values: Mapping[str, Any], *, anchor: datetime, where: str) -> None:
    import importlib
    import inspect

    module, _, func = check.partition(":")
    try:
        fn = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise WorkbenchError(f"{where}: key 'checks': cannot import {check} ({exc})") from exc
    sig = inspect.signature(fn)
    kwargs = {k: v for k, v in values.items() if k in sig.parameters}
    if "now" in sig.parameters and "now" not in values:
        kwargs["now"] = anchor.isoformat()
    try:
        fn(**kwargs)
    except WorkbenchError as exc:
        raise WorkbenchError(f"{where}: {exc}") from exc
    except TypeError as exc:
        raise WorkbenchError(f"{where}: key 'checks': {check} cannot be called with the notebook's parameters "
                             f"({exc})") from exc


def input_fingerprint(source: str, *, window: Any = None, team: Sequence[str] | None = None) -> Fingerprint:
    """Fingerprint the data a run reads: rows, first and last timestamp of the window.

    For a SQL store: one ``COUNT``/``MIN``/``MAX`` query on ``events`` over the window and
    teams (the ``ts`` index answers it). For a CSV/Parquet file: the SHA-256 of its bytes.

    Parameters
    ----------
    source : str
        A SQLAlchemy URL or a file path.
    window : TimeWindow, optional
    team : list of str, optional

    Returns
    -------
    Fingerprint

    Examples
    --------
    >>> input_fingerprint("sqlite://").rows  # an empty in-memory database has no events table
    >>> input_fingerprint(str(paths.NOTEBOOKS / "roi.py")).rows is None
    True
    """
    from .io import is_sql_url
    start = getattr(window, "start", None)
    end = getattr(window, "end", None)
    h = hashlib.sha256(json.dumps([redact(source), str(start), str(end), team or []]).encode())
    from .engine import FILE_SCHEMES

    if "://" in source and source.split("://", 1)[0].lower() in set(FILE_SCHEMES) - {"file"}:
        return Fingerprint(source, None, None, None, h.hexdigest()[:16])  # an object store (engine: dask): not read here
    if not is_sql_url(source):
        p = Path(source)
        if p.is_file():
            with p.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        return Fingerprint(str(p), None, None, None, h.hexdigest()[:16])
    import sqlalchemy as sa

    from .io import db_connect, engine_for

    engine = engine_for(source)
    try:
        ts, tm = sa.column("ts"), sa.column("team")
        query = sa.select(sa.func.count(), sa.func.min(ts), sa.func.max(ts)).select_from(sa.table("events"))
        sqlite = engine.dialect.name == "sqlite"
        for bound, op in ((start, "ge"), (end, "lt")):
            if bound is not None:
                value = bound.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") if sqlite else bound.to_pydatetime()
                query = query.where(ts >= value if op == "ge" else ts < value)
        if team:
            query = query.where(tm.in_(list(team)))
        conn = db_connect(engine, source)  # not reachable: a WorkbenchError, the attempt starts no kernel
        try:
            with conn:
                rows, lo, hi = conn.execute(query).one()
        except sa.exc.SQLAlchemyError:  # reachable, no events table (yet): the notebook says what is missing
            return Fingerprint(redact(source), None, None, None, h.hexdigest()[:16])
    finally:
        engine.dispose()
    lo_s, hi_s = (None if v is None else str(v)[:19].replace("T", " ") for v in (lo, hi))
    h.update(json.dumps([rows, str(lo), str(hi)]).encode())
    return Fingerprint(redact(source), int(rows), lo_s, hi_s, h.hexdigest()[:16])


# --------------------------------------------------------------------------------------------
# The run ledger
_LEDGERS: dict[str, Any] = {}
_LEDGER_LOCK = threading.Lock()


def _ledger_table(meta):
    import sqlalchemy as sa

    when = sa.DateTime(timezone=True)
    return sa.Table(
        LEDGER, meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("job", sa.String(128), nullable=False, index=True),
        sa.Column("variant", sa.String(256), nullable=False, default=""),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("scheduled_at", when),
        sa.Column("started_at", when, nullable=False),
        sa.Column("ended_at", when),
        sa.Column("deadline_at", when),
        sa.Column("duration_s", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("notebook", sa.Text),
        sa.Column("run_dir", sa.Text),
        sa.Column("outputs", sa.Text),
        sa.Column("window_start", when),
        sa.Column("window_end", when),
        sa.Column("input_rows", sa.BigInteger),
        sa.Column("input_min_ts", sa.String(32)),
        sa.Column("input_max_ts", sa.String(32)),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("version", sa.String(160)),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("pid_start", sa.String(32)),
        sa.Column("spec", sa.Text),
        sa.UniqueConstraint("run_id", "attempt", name="uq_job_runs_run_attempt"),
    )


def _ledger(store: str):
    """(engine, table) for a store, created once per process; the table is created if missing.

    SQLite stores get WAL journaling (readers and the ledger's short writes do not block
    each other while notebooks read events) and a 60 s busy timeout."""
    with _LEDGER_LOCK:
        if store in _LEDGERS:
            return _LEDGERS[store]
        import sqlalchemy as sa

        from .io import db_connect, db_error, engine_for

        engine = engine_for(store, create=True)  # a new ledger may start in a new SQLite file
        if engine.dialect.name == "sqlite":
            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout = 60000")
                with contextlib.suppress(Exception):
                    cur.execute("PRAGMA journal_mode = WAL")
                cur.close()
        meta = sa.MetaData()
        table = _ledger_table(meta)
        db_connect(engine, store).close()  # unreachable: one line that says what to check
        try:
            meta.create_all(engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:
            raise WorkbenchError(f"cannot create the run ledger in {redact(store)}: {db_error(exc)}") from None
        _LEDGERS[store] = (engine, table)
        return _LEDGERS[store]


def _ledger_insert(store: str, row: Mapping[str, Any]) -> int:
    engine, table = _ledger(store)
    with engine.begin() as conn:  # no credential is ever stored (parameters, errors, the spec)
        return int(conn.execute(table.insert().values(**redact(dict(row)))).inserted_primary_key[0])


def _ledger_update(store: str, row_id: int, **values: Any) -> None:
    engine, table = _ledger(store)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(**redact(values)))


def _ledger_rows(store: str, *, job: str | None = None, status: str | None = None, limit: int | None = None):
    import sqlalchemy as sa

    engine, table = _ledger(store)
    q = sa.select(table).order_by(table.c.started_at.desc(), table.c.id.desc())
    if job is not None:
        q = q.where(table.c.job == job)
    if status is not None:
        q = q.where(table.c.status == status)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def run_history(store: str | None = None, *, job: str | None = None, limit: int | None = 50):
    """The run ledger, newest first: one row per attempt.

    Parameters
    ----------
    store : str, optional
        SQLAlchemy URL of the workbench store (default ``paths.DEFAULT_DB_URL``).
    job : str, optional
        Only this job.
    limit : int or None
        At most this many rows.

    Returns
    -------
    DataFrame
        ``run_id, job, variant, attempt, status, trigger, scheduled_at, started_at, ended_at,
        duration_s, input_rows, input_max_ts, fingerprint, error, run_dir, outputs, parameters,
        version`` (times are UTC).

    Examples
    --------
    >>> run_history("sqlite://").columns[:5].tolist()
    ['run_id', 'job', 'variant', 'attempt', 'status']
    """
    import pandas as pd

    cols = ["run_id", "job", "variant", "attempt", "status", "trigger", "scheduled_at", "started_at", "ended_at",
            "duration_s", "input_rows", "input_max_ts", "fingerprint", "error", "run_dir", "outputs", "parameters",
            "version"]
    rows = _ledger_rows(store or paths.DEFAULT_DB_URL, job=job, limit=limit)
    frame = pd.DataFrame(rows, columns=[*cols, "id"]) if rows else pd.DataFrame(columns=[*cols, "id"])
    for c in ("scheduled_at", "started_at", "ended_at"):
        frame[c] = pd.to_datetime(frame[c].map(_aware), utc=True)
    return frame[cols].reset_index(drop=True)


def _proc_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time in clock ticks since boot


def _alive(pid: int | None, start: str | None) -> bool:
    if not pid:
        return False
    if Path("/proc").is_dir():
        now = _proc_start(pid)
        return now is not None and (start is None or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted_runs(store: str | None = None, *, reports: str | os.PathLike | None = None,
                          now: datetime | None = None) -> list[dict]:
    """Turn ``running`` rows whose runner is gone into ``interrupted``; return those rows.

    A row is stale when its runner process (pid and start time, on this host) no longer
    exists, or, for a row from another host, when its deadline (start + timeout + grace)
    has passed. Its partial notebook stays in its run folder; the failure notification is
    sent and ``reports/index.html`` rewritten.

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
            if "failure" in notify.on:
                _notify(notify, _outcome_payload(row), root)
        write_index(store, reports=root)
    return stale


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


# --------------------------------------------------------------------------------------------
# The child process: papermill (and the HTML export) outside the runner
class _Terminated(BaseException):
    pass


def _child_main() -> None:  # pragma: no cover - runs in the child process (tests exercise it for real)
    """Entry point of the papermill child (``python -c "...; _child_main()"``).

    It imports papermill at once, then waits for its task (JSON on stdin): the runner starts
    it before validating and recording the run, so both happen at the same time. An empty
    stdin means the runner did not need it. It dies with the runner (PR_SET_PDEATHSIG).
    """
    parent = os.getppid()
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(3)

    def _terminate(signum, frame):  # noqa: ANN001
        raise _Terminated(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload: Exception | None = None
    # nbformat's schemas use no IRI string formats; jsonschema imports the optional
    # rfc3987_syntax only to check those, compiling a grammar at import (about 1 s here), and
    # does without it when it is missing. This child validates notebooks only.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        try:
            import papermill as pm
            from nbclient.exceptions import CellTimeoutError, DeadKernelError
        except Exception as exc:  # reported in the result once the task is known
            preload = exc
        ready = _clock()
        text = sys.stdin.read()
    except _Terminated:
        sys.exit(0)
    if not text.strip():
        sys.exit(0)
    task = json.loads(text)
    os.environ.update(task.get("env") or {})  # e.g. the real source URL behind the redacted parameter (kernel)
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(task["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    print(f"--- {_clock()} papermill child {os.getpid()}: imported at {ready}, task received", flush=True)
    result: dict[str, Any] = {"status": "failed"}
    t0 = time.monotonic()
    try:
        if preload is not None:
            raise preload
        if task.get("html"):  # import nbconvert while the kernel works (the child mostly waits)
            threading.Thread(target=_preload_nbconvert, daemon=True).start()
        try:
            pm.execute_notebook(task["input"], task["output"], parameters=task["parameters"],
                                kernel_name=task["kernel"], cwd=task["cwd"], progress_bar=False,
                                execution_timeout=task["cell_timeout"], start_timeout=task["start_timeout"],
                                request_save_on_cell_execute=True, autosave_cell_every=10)
            result = {"status": "succeeded"}
        except pm.PapermillExecutionError as exc:
            result = {"status": "failed", "kind": "exception", "ename": exc.ename, "evalue": exc.evalue,
                      "exec_count": exc.exec_count, "source": exc.source}
        except CellTimeoutError as exc:
            result = {"status": "timed_out", "kind": "cell_timeout", "message": str(exc)}
        except DeadKernelError as exc:
            result = {"status": "failed", "kind": "dead_kernel", "message": str(exc)}
        result["duration_s"] = time.monotonic() - t0
        print(f"--- {_clock()} papermill finished in {result['duration_s']:.1f} s: {result['status']}", flush=True)
        if result["status"] == "succeeded" and task.get("html"):
            t1 = time.monotonic()
            try:
                _export_html(Path(task["output"]), Path(task["html"]), task["header"], result["duration_s"])
                print(f"--- {_clock()} report.html written in {time.monotonic() - t1:.1f} s", flush=True)
            except Exception as exc:
                result = {"status": "failed", "kind": "html", "message": f"{type(exc).__name__}: {exc}",
                          "duration_s": result["duration_s"]}
    except _Terminated as exc:
        result = {"status": "failed", "kind": "terminated", "message": f"stopped by {exc}"}
    except Exception as exc:  # kernel missing, unreadable notebook...: reported, never "succeeded"
        result = {"status": "failed", "kind": "error", "message": f"{type(exc).__name__}: {exc}"}
    result.setdefault("duration_s", time.monotonic() - t0)
    tmp = Path(task["result"]).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=str))
    os.replace(tmp, task["result"])


def _preload_nbconvert() -> None:
    with contextlib.suppress(Exception):
        from nbconvert import HTMLExporter

        HTMLExporter(exclude_input=True).template  # noqa: B018 - loads the template files


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
        proc = subprocess.Popen([sys.executable, "-c", "from analytics_lib.jobs import _child_main; _child_main()"],
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


def _export_html(notebook: Path, target: Path, header: list, duration_s: float) -> None:
    """The stakeholders' report: no code, no stderr, a header with the run's facts."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    rows = [*header, ["Run time", f"{duration_s:,.1f} s of notebook execution"]]
    table = "\n".join(f"| {k} | {_md(v)} |" for k, v in rows)
    title = next((c.source.splitlines()[0].lstrip("# ").strip() for c in nb.cells
                  if c.cell_type == "markdown" and c.source.startswith("# ")), notebook.stem)
    head = nbformat.v4.new_markdown_cell(f"**{_md(title)}** — scheduled report\n\n| | |\n|---|---|\n{table}")
    cells = [head]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream"
                                                                        and o.get("name") == "stderr")]
            if not cell.outputs:
                continue
        cells.append(cell)
    nb.cells = cells
    # every Markdown cell and HTML/Markdown output passes the report sanitizer (names from the data
    # can hold markup: a team called <img onerror=...> must not run in a stakeholder's browser)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            sanitize_html=True, filters={"clean_html": sanitize_html})
    body, _ = exporter.from_notebook_node(nb)
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, target)


def _md(value: Any) -> str:
    return md_escape(redact(str(value))).replace("\n", " ")


# --------------------------------------------------------------------------------------------
# Running
@dataclass(frozen=True)
class RunResult:
    """The outcome of one run (all its attempts) of a job variant.

    Attributes
    ----------
    job, variant, run_id : str
    status : str
        ``succeeded``, ``failed``, ``timed_out`` or ``interrupted``; ``skipped`` when the job
        was already running (nothing was started or recorded).
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


def _job_dir(root: Path, job: str, variant: str) -> Path:
    return root / job / variant if variant else root / job


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


def _add_banner(notebook: Path, text: str) -> None:
    """Put a red note at the top of a (partial) notebook saying why it stopped."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    cell = {"cell_type": "markdown", "id": "workbench-" + secrets.token_hex(4),
            "metadata": {"tags": ["workbench-run-status"]},
            "source": f'<span style="color:red">{html.escape(redact(text))}</span>'}
    nb["cells"] = [c for c in nb["cells"] if "workbench-run-status" not in c.get("metadata", {}).get("tags", [])]
    nb["cells"].insert(0, cell)
    tmp = notebook.with_suffix(".banner.tmp")
    tmp.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    os.replace(tmp, notebook)


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


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(redact(_jsonable(data)), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _tables(folder: Path) -> dict[str, Path]:
    """Table name -> best file (Parquet keeps types, else CSV) in a notebook's output folder."""
    found: dict[str, Path] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix in (".parquet", ".csv") and not p.name.startswith("."):
                if p.stem not in found or p.suffix == ".parquet":
                    found[p.stem] = p
    return found


def _read_table(path: Path):
    import pandas as pd

    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _publish_tables(spec: JobSpec, run_dir: Path, info: Mapping[str, Any]) -> list[Path]:
    """CSV twins, the XLSX workbook and the marts of a succeeded run."""
    import pandas as pd

    tables_dir = run_dir / "tables"
    tables = _tables(tables_dir)
    written: list[Path] = []
    frames = {name: _read_table(p) for name, p in tables.items()}
    if "csv" in spec.outputs:
        for name, frame in frames.items():
            target = tables_dir / f"{name}.csv"
            if not target.exists():
                frame.to_csv(target, index=False)
            written.append(target)
    if "xlsx" in spec.outputs and frames:
        target = run_dir / "tables.xlsx"
        tmp = run_dir / ".tables.xlsx.tmp"
        about = pd.DataFrame([(k, json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v))
                              for k, v in info.items()], columns=["item", "value"])
        book = _stdio.BytesIO()  # built in memory: a full disk fails one plain write, not a half-zipped file
        with pd.ExcelWriter(book, engine="openpyxl") as xl:
            about.to_excel(xl, sheet_name="run", index=False)
            used = {"run"}
            for name, frame in frames.items():
                sheet = _sheet_name(name, used)
                if len(frame) >= 1_048_575:
                    pd.DataFrame({"note": [f"{name} has {len(frame):,} rows, more than a sheet holds: see "
                                           f"tables/{name}.csv"]}).to_excel(xl, sheet_name=sheet, index=False)
                    continue
                _excel_safe(frame).to_excel(xl, sheet_name=sheet, index=False)
        try:
            tmp.write_bytes(book.getvalue())
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.replace(tmp, target)
        written.append(target)
    if "marts" in spec.outputs:
        wanted = list(spec.marts) if spec.marts is not None else list(frames)
        missing = [m for m in wanted if m not in frames]
        if missing:
            raise WorkbenchError(f"marts {missing} were not written by the notebook (its tables: "
                                 f"{', '.join(frames) or 'none'}); fix 'marts' in {spec.path.name}")
        marts_dir = run_dir / "marts"
        marts_dir.mkdir(exist_ok=True)
        manifest = {"job": spec.name, **{k: info[k] for k in ("variant", "run_id", "window", "fingerprint",
                                                               "finished_at") if k in info}, "tables": {}}
        for name in wanted:
            target = marts_dir / f"{name}.parquet"
            frame = frames[name]
            if tables[name].suffix == ".parquet":
                shutil.copyfile(tables[name], target)
            else:
                frame.to_parquet(target, index=False)
            manifest["tables"][name] = {"file": target.name, "rows": int(len(frame)),
                                        "columns": {str(c): str(t) for c, t in frame.dtypes.items()}}
            written.append(target)
        _write_json(marts_dir / "manifest.json", manifest)
        written.append(marts_dir / "manifest.json")
    return written


def _sheet_name(name: str, used: set) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "table"
    sheet, i = base, 1
    while sheet.lower() in {u.lower() for u in used}:
        i += 1
        sheet = f"{base[:28]}~{i}"
    used.add(sheet)
    return sheet


def _excel_safe(frame):
    import pandas as pd

    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC").dt.tz_localize(None)
        elif out[c].dtype == object:
            out[c] = out[c].map(lambda v: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v)
    return out


def _switch_latest(run_dir: Path) -> Path:
    """Point ``<job dir>/latest`` at ``run_dir`` atomically (a relative symlink swapped with os.replace)."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}.{threading.get_ident()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(run_dir.name, tmp)
    os.replace(tmp, link)
    return link


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
    attempts: list = field(default_factory=list)


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
            ["Started", f"{started:%Y-%m-%d %H:%M:%S} UTC"],
            ["Version", _version()]]


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
    spec, run_dir = run.spec, run.run_dir
    with _slot(run.root, parallel, run.stop):
        proc = run.spares.take()  # imports papermill while the fingerprint and the ledger row are made
        try:
            started = _utcnow()
            unreadable = None
            try:
                fp = input_fingerprint(run.prepared.source, window=run.prepared.window, team=run.prepared.team) \
                    if run.prepared.source else None
            except WorkbenchError as exc:  # the source cannot be reached: no kernel for this attempt
                fp, unreadable = None, str(exc)
            row_id = _record_start(run, attempt, started, fp)
        except BaseException:
            _kill_tree(proc, 1.0)
            raise
        notebook = run_dir / "notebook.ipynb"
        if unreadable is not None:
            _kill_tree(proc, 1.0)
            _close_early_output(proc)
            _log(run_dir, f"--- {_clock()} attempt {attempt}: the source could not be read: {unreadable}")
            return _finish(run, attempt, row_id, started, fp, "failed",
                           f"the source could not be read, no kernel was started: {unreadable}")
        if attempt > 1:  # keep the failed attempt's evidence next to the new one
            keep = run_dir / f"attempt-{attempt - 1}"
            with contextlib.suppress(OSError):
                keep.mkdir(exist_ok=True)
                for name in ("notebook.ipynb", "tables"):
                    if (run_dir / name).exists():
                        os.replace(run_dir / name, keep / name)
        # the notebook gets redacted values; its kernel finds the real ones in its environment
        task = {"input": str(spec.notebook), "output": str(notebook), "parameters": redact(run.prepared.parameters),
                "env": {SECRETS_ENV: json.dumps(secret_references(run.prepared.parameters))},
                "kernel": spec.kernel, "cwd": str(spec.notebook.parent),
                "cell_timeout": math.ceil(spec.cell_timeout_s or spec.timeout_s), "start_timeout": 120,
                "html": str(run_dir / "report.html") if "html" in spec.outputs else None,
                "header": _header(run, fp, started, attempt), "result": str(run_dir / f".result-{attempt}.json"),
                "log": str(run_dir / "run.log")}
        _log(run_dir, f"--- {_clock()} attempt {attempt} started (run {run.run_id}, UTC times)")
        try:
            proc.stdin.write(json.dumps(task, default=str))
            proc.stdin.close()
        except OSError:  # the child died before its task arrived: the result says so below
            pass
        _preload_publishing()  # in the background, while the notebook runs
        deadline = time.monotonic() + spec.timeout_s
        result_path = Path(task["result"])
        timed_out = stopped = False
        try:
            while True:
                try:
                    proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if result_path.is_file():  # done: publish while the child's interpreter shuts down
                    break
                if run.stop.is_set():
                    stopped = True
                    _kill_tree(proc, KILL_GRACE_S)
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    _kill_tree(proc, KILL_GRACE_S)
                    break
        except BaseException as exc:  # Ctrl-C or SIGTERM of the runner: stop the child, record it, go on up
            _kill_tree(proc, KILL_GRACE_S)
            error = (f"interrupted: the runner was stopped ({type(exc).__name__}) {_cell_in_progress(notebook)}; "
                     "the partial notebook is kept")
            with contextlib.suppress(OSError):
                _add_banner(notebook, f"Run {run.run_id} attempt {attempt} interrupted: {error}")
            _ledger_update(run.store, row_id, status="interrupted", ended_at=_utcnow(), error=error)
            raise
        result = {}
        with contextlib.suppress(OSError, ValueError):
            result = json.loads(result_path.read_text()) if result_path.is_file() else {}
            result_path.unlink()
        if not result:
            _log(run_dir, f"--- {_clock()} attempt {attempt}: the papermill child ended without a result "
                          f"(exit status {proc.returncode})" + _early_output(proc))
        if timed_out:
            status = "timed_out"
        elif stopped:
            status = "interrupted"
        else:
            status = result.get("status", "failed")
        error = None
        if stopped:
            error = (f"interrupted: the runner was stopped {_cell_in_progress(notebook)}; the partial notebook "
                     "is kept")
        elif status != "succeeded":
            error = _error_summary(result, notebook, timed_out_by_runner=timed_out, timeout_s=spec.timeout_s,
                                   returncode=proc.returncode)
        _close_early_output(proc)
        if proc.poll() is None:  # its result is in: it only has to exit (reaped, or killed, meanwhile)
            threading.Thread(target=_reap, args=(proc,), daemon=True).start()
        return _finish(run, attempt, row_id, started, fp, status, error)


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
                "version": _version(), "notebook": str(spec.notebook)}
        t1 = time.monotonic()
        try:
            written = _publish_tables(spec, run_dir, info)
        except Exception as exc:  # a broken table or a full disk is a failed run, and latest does not move
            status, error = "failed", f"publishing failed: {type(exc).__name__}: {exc}"
        _log(run_dir, f"--- {_clock()} tables published in {time.monotonic() - t1:.1f} s" + (f": {error}" if error else ""))
    if error and notebook.is_file():
        with contextlib.suppress(OSError):
            _add_banner(notebook, f"Run {run.run_id} attempt {attempt} {status.replace('_', ' ')}: {error}")
    outputs = [p for p in [notebook, run_dir / "report.html", *written] if p.exists()]
    run.attempts.append({"attempt": attempt, "status": status, "started_at": started, "ended_at": ended,
                         "error": error})
    manifest = {"job": spec.name, "variant": run.variant.slug, "run_id": run.run_id, "status": status,
                "trigger": run.trigger, "scheduled_at": run.scheduled_at,
                "parameters": run.prepared.parameters, "window": _window_text(w),
                "fingerprint": None if fp is None else {"rows": fp.rows, "min_ts": fp.min_ts,
                                                         "max_ts": fp.max_ts, "digest": fp.digest},
                "version": _version(), "notebook": str(spec.notebook), "attempts": run.attempts,
                "outputs": [str(p.relative_to(run_dir)) for p in outputs]}
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


def _run_variant(spec: JobSpec, variant: Variant, prepared: _Prepared, *, store: str, root: Path, trigger: str,
                 scheduled_at: datetime | None, parallel: int, stop: threading.Event, spares: _Spares) -> RunResult:
    started = _utcnow()
    run_id = _new_run_id(started)
    run_dir = _job_dir(root, spec.name, variant.slug) / run_id
    params = dict(prepared.parameters)
    if "output_dir" in spec.declared:
        params["output_dir"] = str(run_dir / "tables")
    run = _Run(spec, variant, replace(prepared, parameters=params), run_id, run_dir, trigger, scheduled_at, store,
               root, stop, spares)
    status, error, outputs = "failed", None, []
    attempt = 0
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:  # no room, read-only or not ours: recorded and notified, like any failed run
        attempt, error = 1, f"the run folder {run_dir} could not be created: {type(exc).__name__}: {exc}"
        row_id = _record_start(run, attempt, started, None)
        _ledger_update(store, row_id, status="failed", ended_at=_utcnow(), error=error)
    else:
        for attempt in range(1, spec.retries + 2):
            if attempt > 1:
                delay = spec.retry_delay_s * 2 ** (attempt - 2)
                if stop.wait(delay):
                    break
            try:
                status, error, outputs = _attempt(run, attempt, parallel)
            except _Stopped:
                break
            if status in ("succeeded", "interrupted"):
                break
    result = RunResult(job=spec.name, variant=variant.slug, run_id=run_id, status=status, attempts=attempt,
                       run_dir=run_dir, report=(run_dir / "report.html") if status == "succeeded"
                       and (run_dir / "report.html").is_file() else None, error=error, started_at=started,
                       ended_at=_utcnow(), published=status == "succeeded")
    final = "success" if status == "succeeded" else "failure"
    if final in spec.notify.on:
        _notify(spec.notify, _outcome_payload({
            "job": spec.name, "variant": variant.slug, "run_id": run_id, "status": status, "attempt": attempt,
            "error": error, "run_dir": str(run_dir), "started_at": started, "ended_at": result.ended_at,
            "parameters": json.dumps(_jsonable(params)),
            "outputs": json.dumps([str(p) for p in outputs])}), root)
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
        prepared = [(v, _prepare(spec, v, store=store, anchor=anchor)) for v in chosen]
        stop = stop or threading.Event()
        kw = dict(store=store, root=root, trigger=trigger, scheduled_at=scheduled_at, parallel=parallel, stop=stop,
                  spares=spares)
        with job_lock(spec.name, reports=root):
            mark_interrupted_runs(store, reports=root)
            root.mkdir(parents=True, exist_ok=True)
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

    Returns
    -------
    DataFrame
        ``job, variant, scheduled_at, last_success, due`` (UTC), one row per variant.

    Examples
    --------
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


# --------------------------------------------------------------------------------------------
# Notifications
def _outcome_payload(row: Mapping[str, Any]) -> dict:
    outputs = json.loads(row.get("outputs") or "[]") if isinstance(row.get("outputs"), str) else []
    report = next((o for o in outputs if o.endswith("report.html")), None)
    return {"job": row["job"], "variant": row.get("variant") or "", "run_id": row["run_id"],
            "status": row["status"], "attempt": row.get("attempt"), "error": row.get("error"),
            "run_dir": row.get("run_dir"), "report": report,
            "started_at": str(row.get("started_at")), "ended_at": str(row.get("ended_at")),
            "parameters": json.loads(row["parameters"]) if isinstance(row.get("parameters"), str) else None}


def _notify(notify: NotifySpec, payload: Mapping[str, Any], root: Path) -> None:
    """Append to the log file and/or run the command; a failing hook never fails the run."""
    payload = redact(_jsonable(dict(payload)))
    line = json.dumps({"at": f"{_utcnow():%Y-%m-%dT%H:%M:%SZ}", **payload}, default=str)
    if notify.log:
        log = Path(notify.log).expanduser()
        log = log if log.is_absolute() else root / log
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            print(f"notification log {log} not written: {exc}", file=sys.stderr)
    if notify.command:
        env = {**os.environ, **{f"WORKBENCH_{k.upper()}": "" if v is None else str(v) for k, v in payload.items()
                                if not isinstance(v, (dict, list))}}
        try:
            proc = subprocess.run(shlex.split(notify.command), input=line, text=True, env=env, timeout=60,
                                  capture_output=True)
            if proc.returncode != 0:
                print(f"notification command exited with {proc.returncode}: {proc.stderr.strip()[-500:]}",
                      file=sys.stderr)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"notification command failed: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# reports/index.html, pruning, the job table
def _under(run_dir: str | None, root: Path) -> bool:
    return bool(run_dir) and Path(os.path.abspath(run_dir)).is_relative_to(os.path.abspath(root))


def write_index(store: str | None = None, *, reports: str | os.PathLike | None = None, per_job: int = 30) -> Path:
    """Rewrite ``<reports>/index.html``: every job's runs with status, time and links.

    One section per job and variant, newest run first (the latest ``per_job`` runs of this
    reports folder), with links to the HTML report, notebook, workbook and folder of each run.
    Written to a temporary file and renamed, so a browser never sees half a page.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> write_index("sqlite://", reports=tempfile.mkdtemp()).name
    'index.html'
    """
    store = store or paths.DEFAULT_DB_URL
    root = paths.reports_root(reports)
    root.mkdir(parents=True, exist_ok=True)
    rows = [r for r in _ledger_rows(store) if _under(r["run_dir"], root)]  # this folder's runs only
    runs: dict[tuple[str, str], dict[str, list]] = {}
    for r in rows:
        runs.setdefault((r["job"], r["variant"]), {}).setdefault(r["run_id"], []).append(r)
    e = html.escape

    def link(path: Path, text: str) -> str:
        if not path.exists():
            return ""
        target = Path(os.path.abspath(path))  # not resolved: links through `latest` stay valid
        try:
            href = target.relative_to(os.path.abspath(root)).as_posix()
        except ValueError:
            href = target.as_uri()
        return f'<a href="{e(href)}">{e(text)}</a>'

    sections = []
    for (job, variant), by_run in sorted(runs.items()):
        spec = json.loads(next(iter(by_run.values()))[0]["spec"] or "{}")
        job_dir = _job_dir(root, job, variant)
        latest = job_dir / "latest"
        head = (f"<h2>{e(job)}" + (f" <small>{e(variant)}</small>" if variant else "") + "</h2>"
                + (f"<p>{e(spec.get('description', ''))}</p>" if spec.get("description") else "")
                + f"<p>schedule <code>{e(spec.get('schedule', '?'))}</code> ({e(spec.get('timezone', 'UTC'))}) · "
                + (f"latest: {link(latest / 'report.html', 'report')} {link(latest / 'notebook.ipynb', 'notebook')} "
                   f"({e(os.readlink(latest))})" if latest.is_symlink() else "no successful run yet") + "</p>")
        body = []
        for run_id, attempts in list(by_run.items())[:per_job]:
            last = max(attempts, key=lambda a: a["attempt"])
            run_dir = Path(last["run_dir"]) if last["run_dir"] else job_dir / run_id
            started, ended = _aware(min(a["started_at"] for a in attempts)), _aware(last["ended_at"])
            took = f"{(ended - started).total_seconds():,.0f} s" if ended else ""
            links = " ".join(x for x in (link(run_dir / "report.html", "report"),
                                         link(run_dir / "notebook.ipynb", "notebook"),
                                         link(run_dir / "tables.xlsx", "xlsx"), link(run_dir, "folder")) if x)
            fp = f"{last['input_rows']:,} events" if last["input_rows"] is not None else ""
            body.append(
                f'<tr class="{e(last["status"])}"><td><code>{e(run_id)}</code></td>'
                f'<td><span class="badge">{e(last["status"].replace("_", " "))}</span></td>'
                f"<td>{e(last['trigger'])}</td><td>{started:%Y-%m-%d %H:%M} UTC</td><td>{took}</td>"
                f"<td>{len(attempts)}</td><td>{e(fp)}</td><td>{links or 'pruned'}</td>"
                f"<td class=err>{e((last['error'] or '')[:300])}</td></tr>")
        sections.append(head + "<table><tr><th>run</th><th>status</th><th>trigger</th><th>started</th>"
                        "<th>took</th><th>attempts</th><th>input</th><th>links</th><th>error</th></tr>"
                        + "".join(body) + "</table>")
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Workbench reports</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}
.badge{{padding:.1em .5em;border-radius:.6em;background:#ccc}}.succeeded .badge{{background:#b7e4c7}}
.failed .badge,.timed_out .badge,.interrupted .badge{{background:#f4b6b6}}.running .badge{{background:#ffe08a}}
.err{{color:#a00;font-size:.85em;max-width:40em}}small{{color:#666}}</style></head><body>
<h1>Workbench reports</h1><p>{len(runs)} job(s) · generated {_utcnow():%Y-%m-%d %H:%M:%S} UTC from the run ledger</p>
{''.join(sections) or '<p>No runs yet: <code>workbench jobs run --all</code>.</p>'}</body></html>
"""
    target = root / "index.html"
    tmp = root / f".index.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target


def prune_runs(*, keep: int, store: str | None = None, reports: str | os.PathLike | None = None,
               job: str | None = None):
    """Expire old runs: keep the newest ``keep`` runs of each job variant, delete the rest.

    The run ``latest`` points at is always kept (even if older), and so is anything still
    running; a job whose lock is held is left alone. Only runs published under ``reports``
    are considered. Deleted runs lose their folder and their ledger rows, so ``history`` and
    ``index.html`` agree with the disk.

    Returns
    -------
    DataFrame
        ``job, variant, run_id, status, run_dir`` of the pruned runs.

    Examples
    --------
    >>> import tempfile
    >>> prune_runs(keep=5, store="sqlite://", reports=tempfile.mkdtemp()).empty
    True
    """
    import pandas as pd

    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise WorkbenchError(f"keep={keep!r} must be a whole number of runs, at least 1")
    store = store or paths.DEFAULT_DB_URL
    root = paths.reports_root(reports)
    rows = [r for r in _ledger_rows(store, job=job) if _under(r["run_dir"], root)]
    by_job: dict[str, dict[tuple[str, str], list]] = {}
    for r in rows:
        runs = by_job.setdefault(r["job"], {})
        key = (r["variant"], r["run_id"])
        runs.setdefault(key, []).append(r)
    pruned = []
    engine, table = _ledger(store)
    for name, runs in by_job.items():
        try:
            with job_lock(name, reports=root):
                per_variant: dict[str, list] = {}
                for (variant, run_id), attempts in runs.items():
                    per_variant.setdefault(variant, []).append((run_id, attempts))
                for variant, items in per_variant.items():
                    latest = _job_dir(root, name, variant) / "latest"
                    target = os.readlink(latest) if latest.is_symlink() else None
                    items.sort(key=lambda it: max(_aware(a["started_at"]) for a in it[1]), reverse=True)
                    for run_id, attempts in items[keep:]:
                        if run_id == target or any(a["status"] == "running" for a in attempts):
                            continue
                        run_dir = Path(attempts[0]["run_dir"])
                        if run_dir.is_dir():
                            shutil.rmtree(run_dir)
                        with engine.begin() as conn:
                            conn.execute(table.delete().where(table.c.run_id == run_id))
                        last = max(attempts, key=lambda a: a["attempt"])
                        pruned.append({"job": name, "variant": variant, "run_id": run_id, "status": last["status"],
                                       "run_dir": str(run_dir)})
        except JobAlreadyRunning:
            continue
    if pruned:
        write_index(store, reports=root)
    return pd.DataFrame(pruned, columns=["job", "variant", "run_id", "status", "run_dir"])


def job_table(specs: Sequence[JobSpec], *, store: str | None = None, now: datetime | None = None):
    """One row per job: schedule, variants, last run and its status, last success, next run, due.

    Returns
    -------
    DataFrame
        ``job, notebook, schedule, variants, enabled, last_run, last_status, last_success,
        next_run, due`` (times UTC).

    Examples
    --------
    >>> job_table(load_job_specs(), store="sqlite://")["job"].tolist()[:2]
    ['daily-dashboard-marts', 'daily-workflow']
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

    Examples
    --------
    >>> sched = job_scheduler(load_job_specs(), store="sqlite://")
    >>> sorted(j.id for j in sched.get_jobs())[:2]
    ['daily-dashboard-marts', 'daily-workflow']
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
            _notify(spec.notify, {"job": spec.name, "status": "failed", "error": str(exc)},
                    paths.reports_root(reports))
        for r in results:
            if on_result is not None:
                on_result(r)

    for spec in specs:
        if spec.enabled:
            sched.add_job(fire, cron_trigger(spec), args=[spec], id=spec.name, name=spec.name, max_instances=1,
                          coalesce=True, misfire_grace_time=3600)
    return sched


__all__ = ["JobAlreadyRunning", "JobSpec", "NotebookParameter", "NotifySpec", "RunResult", "Variant",
           "Fingerprint", "check_job", "cron_trigger", "due_runs", "find_job", "input_fingerprint", "job_lock",
           "job_scheduler", "job_table", "job_variants", "load_job_spec", "load_job_specs",
           "mark_interrupted_runs", "next_fire_time", "notebook_parameters", "parse_overrides",
           "previous_fire_time", "prune_runs", "run_due_jobs", "run_history", "run_job", "write_index"]
