"""Job specs (``papermill_jobs/*.yaml``): YAML as people mean it, the notebook's declared parameters,
validation that names the file and the key, overrides and grid variants.
"""
from __future__ import annotations

import ast
import contextlib
import difflib
import io as _stdio
import itertools
import json
import math
import os
import re
import shlex
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.jobs.gates import GateSpec, parse_gates
from analytics_lib.jobs.notify import GLOBAL_CHANNELS_ENV, check_channel, global_channels
from analytics_lib.jobs.publish import OUTPUT_WRITERS


#: Statuses of a run attempt in the ledger.
STATUSES = ("running", "succeeded", "failed", "timed_out", "interrupted", "blocked")
#: The outputs a job publishes when its spec does not say (the registry ``jobs.publish.OUTPUT_WRITERS``
#: holds every one a spec may name).
OUTPUTS = ("html", "xlsx", "csv", "marts")
#: Keys a job spec may hold.
SPEC_KEYS = ("name", "description", "notebook", "schedule", "timezone", "enabled", "parameters", "grid",
             "timeout_s", "cell_timeout_s", "retries", "retry_delay_s", "outputs", "marts", "notify", "kernel",
             "checks", "gates", "ingest", "alerts")
#: Keys of one ``ingest:`` entry (an incremental ingest run before the job's gates and notebook).
INGEST_KEYS = ("source", "into", "mapping", "encoding", "table", "watermark")
NOTIFY_KEYS = ("on", "command", "log", "channels")


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


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
    >>> from analytics_lib.core import paths
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
    """Where a job reports its outcome: a command, a log file and/or apprise channels.

    ``on`` holds ``failure`` (a final ``failed``, ``timed_out``, ``interrupted`` or
    ``blocked``) and/or ``success``. Failures are told once per **change of state**
    (succeeded -> failed, failed -> blocked, and the recovery failed -> succeeded), never once
    per attempt or per repeated failure; ``success`` tells every success. ``command`` is run
    without a shell (``sh -c '...'`` for shell syntax) with the outcome as JSON on stdin and
    ``WORKBENCH_*`` variables; ``log`` gets one JSON line per message (relative paths are
    relative to the reports folder); ``channels`` are apprise URLs (``mailto://``,
    ``json://``, ``slack://`` ...) in which ``${VAR}`` is read from the environment when the
    message is sent, so secrets stay out of every file.

    Examples
    --------
    >>> NotifySpec().on, NotifySpec().log
    (('failure',), 'notifications.log')
    """

    on: tuple[str, ...] = ("failure",)
    command: str | None = None
    log: str | None = "notifications.log"
    channels: tuple[str, ...] = ()


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
    gates : GateSpec
        Data gates checked before any kernel starts (:mod:`analytics_lib.jobs.gates`).
    ingest : tuple of dict
        Incremental ingests run (once per run of the job, before its gates) to bring the
        store up to date: ``source`` and optionally ``into`` (default: the store), ``mapping``,
        ``encoding``, ``table``, ``watermark``.
    alerts : tuple of Rule
        KPI alert rules (:mod:`analytics_lib.analysis.anomaly.rules`), given to the notebook as
        its ``rules`` parameter; a change of a rule's state is told on the job's channels.
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
    gates: GateSpec = GateSpec()
    ingest: tuple = ()
    alerts: tuple = ()

    def summary(self) -> dict:
        """The spec as plain values (stored with each run in the ledger)."""
        return {"name": self.name, "file": str(self.path), "notebook": str(self.notebook),
                "description": self.description, "schedule": self.schedule, "timezone": self.timezone,
                "grid": self.grid, "timeout_s": self.timeout_s, "retries": self.retries,
                "gates": self.gates.summary()}


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
    analytics_lib.core.errors.WorkbenchError: .../fc.yaml: key 'parameters.horizon': '14' is a str, but the notebook's parameter 'horizon' is int (its default is 28)
    """
    path = Path(path)
    raw = _read_spec(path)
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise _spec_error(path, "name", f"{name!r} must be lower-case letters, digits, '-' or '_' (a folder name)")
    notebook, declared = _check_notebook(path, raw["notebook"], Path(root) if root is not None else paths.ROOT)
    schedule = _check_cron(path, raw["schedule"])
    timezone = _check_timezone(path, raw.get("timezone", "UTC"))
    params, grid = _check_parameters(path, raw, declared, notebook)
    limits = _check_limits(path, raw)
    outputs, marts = _check_outputs(path, raw)
    notify = _check_notify(path, raw.get("notify"))
    gates = parse_gates(raw.get("gates"), where=f"{path}: key 'gates'")
    return JobSpec(name=name, path=path.resolve(), notebook=notebook, schedule=schedule, timezone=timezone,
                   parameters=params, grid=grid, declared=declared, outputs=outputs, marts=marts, notify=notify,
                   gates=gates, ingest=_check_ingest(path, raw.get("ingest")),
                   alerts=_check_alerts(path, raw.get("alerts"), declared, notebook), **limits,
                   **_check_settings(path, raw))


def _check_alerts(path: Path, raw: Any, declared: Mapping[str, NotebookParameter], notebook: Path) -> tuple:
    """``alerts:``: KPI alert rules, validated now (an unknown metric stops here, at ``jobs list``)."""
    if raw is None:
        return ()
    from analytics_lib.analysis.anomaly.rules import parse_rules

    if "rules" not in declared:
        raise _spec_error(path, "alerts", f"the notebook {notebook.name} has no 'rules' parameter to receive them; "
                          "use notebooks/kpi_alerts.ipynb")
    try:
        return tuple(parse_rules(raw, where="rules"))
    except WorkbenchError as exc:
        raise _spec_error(path, "alerts", str(exc).replace("rules[", "alerts[", 1)) from None


def _check_ingest(path: Path, raw: Any) -> tuple:
    """``ingest:``: a list of {source, into?, mapping?, encoding?, table?, watermark?}; relative paths
    are made absolute against the project folder."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _spec_error(path, "ingest", "must be a list of {source: ..., into: ...} entries")
    out = []
    for i, entry in enumerate(raw):
        key = f"ingest[{i}]"
        if isinstance(entry, str):
            entry = {"source": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str) or not entry["source"].strip():
            raise _spec_error(path, key, "needs a 'source' (a folder, a file or a database URL)")
        for k, v in entry.items():
            if k not in INGEST_KEYS:
                near = difflib.get_close_matches(str(k), INGEST_KEYS, n=1)
                raise _spec_error(path, f"{key}.{k}", "unknown key" + (f" (did you mean '{near[0]}'?)" if near else "")
                                  + f"; allowed: {', '.join(INGEST_KEYS)}")
            if v is not None and not isinstance(v, str):
                raise _spec_error(path, f"{key}.{k}", f"{v!r} must be text")
        from analytics_lib.core.sources import absolute_source

        out.append({k: (absolute_source(v, paths.ROOT) if k in ("source", "into", "mapping") and v else v)
                    for k, v in entry.items() if v is not None})
    return tuple(out)


def _read_spec(path: Path) -> dict:
    """The spec's YAML mapping, with only known keys and the required ones present."""
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
    return raw


def _check_notebook(path: Path, value: Any, base: Path) -> tuple[Path, dict[str, NotebookParameter]]:
    """The notebook's resolved path and the parameters its ``parameters`` cell declares."""
    if not isinstance(value, str):
        raise _spec_error(path, "notebook", f"{value!r} must be a path to an .ipynb file")
    notebook = Path(value).expanduser()
    notebook = (notebook if notebook.is_absolute() else base / notebook).resolve()
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise _spec_error(path, "notebook", f"{value!r}: {notebook} does not exist or is not an .ipynb file")
    try:
        return notebook, notebook_parameters(notebook)
    except WorkbenchError as exc:
        raise _spec_error(path, "notebook", str(exc)) from exc


def _check_parameters(path: Path, raw: dict, declared: Mapping[str, NotebookParameter],
                      notebook: Path) -> tuple[dict, dict]:
    """``parameters`` and ``grid``: declared by the notebook, of its types, grid values distinct."""
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
            if section == "parameters":
                _check_value(declared[k], v, where=f"{path}: key '{key}'")
                continue
            if not isinstance(v, list) or not v:
                raise _spec_error(path, key, f"{v!r} must be a non-empty list of values, one run each")
            if k in params:
                raise _spec_error(path, key, f"'{k}' is in both parameters and grid; keep it in one")
            if len({json.dumps(x, sort_keys=True, default=str) for x in v}) != len(v):
                raise _spec_error(path, key, f"{v!r} repeats a value")
            for i, x in enumerate(v):
                _check_value(declared[k], x, where=f"{path}: key '{key}[{i}]'")
    if grid:
        slugs = [_variant_slug(dict(zip(grid, combo))) for combo in itertools.product(*grid.values())]
        if len(set(slugs)) != len(slugs):
            raise _spec_error(path, "grid", "two grid values give the same folder name; make them differ in "
                              "letters or digits")
    return params, grid


def _check_limits(path: Path, raw: dict) -> dict:
    """Time limits and retries."""
    cell_timeout = raw.get("cell_timeout_s")
    return {"timeout_s": _number(path, "timeout_s", raw.get("timeout_s", 3600), minimum=1),
            "cell_timeout_s": None if cell_timeout is None else _number(path, "cell_timeout_s", cell_timeout,
                                                                         minimum=1),
            "retries": _number(path, "retries", raw.get("retries", 0), minimum=0, integer=True),
            "retry_delay_s": _number(path, "retry_delay_s", raw.get("retry_delay_s", 30), minimum=0)}


def _check_outputs(path: Path, raw: dict) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """``outputs`` (registered writers) and the ``marts`` tables."""
    outputs = raw.get("outputs", list(OUTPUTS))
    if not isinstance(outputs, list) or any(not isinstance(o, str) or o not in OUTPUT_WRITERS for o in outputs):
        raise _spec_error(path, "outputs", f"{outputs!r}: a list of {', '.join(OUTPUT_WRITERS.names())} "
                          "(the executed notebook is always kept)")
    if "pdf" in outputs and "html" not in outputs:
        raise _spec_error(path, "outputs", "'pdf' is made from the HTML report: add 'html' to outputs")
    marts = raw.get("marts")
    if marts is not None:
        if not isinstance(marts, list) or not all(isinstance(m, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", m)
                                                   for m in marts):
            raise _spec_error(path, "marts", f"{marts!r}: a list of table names the notebook writes, e.g. [kpis, funnel]")
        if "marts" not in outputs:
            raise _spec_error(path, "marts", "lists tables but 'marts' is not in outputs")
    return tuple(outputs), None if marts is None else tuple(marts)


def _check_settings(path: Path, raw: dict) -> dict:
    """The kernel, checks, enabled flag and description."""
    kernel = raw.get("kernel", "python3")
    if not isinstance(kernel, str) or not kernel.strip():
        raise _spec_error(path, "kernel", f"{kernel!r} must be a kernel name such as 'python3'")
    checks = raw.get("checks") or []
    if not isinstance(checks, list) or not all(isinstance(c, str) and re.fullmatch(r"[\w.]+:\w+", c) for c in checks):
        raise _spec_error(path, "checks", f"{checks!r}: a list of 'module:function' names, e.g. "
                          "['analytics_lib.report.params:workflow_parameters']")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _spec_error(path, "enabled", f"{enabled!r} must be true or false")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _spec_error(path, "description", "must be text")
    return {"kernel": kernel.strip(), "checks": tuple(checks), "enabled": enabled, "description": description.strip()}


def _check_notify(path: Path, raw: Any) -> NotifySpec:
    try:
        global_channels()  # $WORKBENCH_NOTIFY_URLS: every job's channels, checked with every spec
    except WorkbenchError as exc:
        raise _spec_error(path, "notify", f"${GLOBAL_CHANNELS_ENV}: {exc}") from None
    if raw is None:
        return NotifySpec(command=os.environ.get("WORKBENCH_NOTIFY_COMMAND") or None)
    if not isinstance(raw, dict):
        raise _spec_error(path, "notify", "must be a mapping with 'on', 'command', 'log' and/or 'channels'")
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
    channels = raw.get("channels") or []
    if not isinstance(channels, list):
        raise _spec_error(path, "notify.channels", f"{channels!r} must be a list of apprise URLs, e.g. "
                          "['mailto://smtp.example.com?to=ops@example.com', '${SLACK_URL}']")
    for i, url in enumerate(channels):
        try:
            check_channel(url)
        except WorkbenchError as exc:
            raise _spec_error(path, f"notify.channels[{i}]", str(exc)) from None
    if command is None and log is None and not channels:
        raise _spec_error(path, "notify", "give a 'command', a 'log' file, 'channels' or several")
    return NotifySpec(on=tuple(dict.fromkeys(on)), command=command, log=log, channels=tuple(channels))


def load_job_specs(folder: str | os.PathLike | None = None, *, root: str | os.PathLike | None = None) -> list[JobSpec]:
    """Every job spec (``*.yaml``, ``*.yml``) in a folder, validated, sorted by name.

    All problems are reported at once (one line per file); two files with the same job
    name are an error.

    Examples
    --------
    >>> [s.name for s in load_job_specs()][:2]  # the shipped jobs in papermill_jobs/
    ['daily-dashboard-marts', 'daily-kpi-alerts']
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
