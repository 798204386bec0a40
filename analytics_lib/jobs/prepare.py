"""Before any kernel starts: relative dates resolved at the scheduled time, paths made absolute, the
source checked, the notebook's own checks run; the input fingerprint.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from analytics_lib.core import paths
from analytics_lib.core.compat import moved_modules_quietly, renamed
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.sources import absolute_source
from analytics_lib.jobs.common import _DAY_FMT, _utcnow
from analytics_lib.jobs.spec import job_variants

if TYPE_CHECKING:
    from analytics_lib.jobs.spec import JobSpec, Variant


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
    from analytics_lib.core.timewindow import RELATIVE_DATE, parse_when

    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    m = RELATIVE_DATE.match(word)
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
        return absolute_source(store, Path.cwd())
    if not isinstance(value, str):
        return value
    return absolute_source(value, paths.ROOT)


def _prepare(spec: JobSpec, variant: Variant, *, store: str, anchor: datetime) -> _Prepared:
    """Resolve relative dates (at ``anchor``) and paths, then run the spec's checks: all
    before any kernel starts."""
    from analytics_lib.core.sources import check_source
    from analytics_lib.core.timewindow import time_window

    params = dict(variant.parameters)
    declared = spec.declared
    where = f"{spec.path.name} (job {spec.name}" + (f", {variant.slug}" if variant.slug else "") + ")"
    if "source" in declared:
        params["source"] = _resolve_source(params.get("source", declared["source"].default), store)
        if isinstance(params["source"], str):  # exists and holds events (a file type or a URL): before any kernel
            try:
                check_source(params["source"], engine=str(params.get("engine") or "pandas"))
            except WorkbenchError as exc:
                raise WorkbenchError(f"{where}: {exc}") from None
    if spec.alerts:  # the spec's KPI alert rules (checked when it was loaded) reach the notebook as `rules`
        params["rules"] = [r.as_dict() for r in spec.alerts]
    for name in ("start", "end", "cutoff", "at"):  # relative dates resolve at the scheduled time
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
    spec's ``checks`` (e.g. ``analytics_lib.report.params:workflow_parameters``) for every variant.

    Relative dates are resolved at ``now``; ``source: null`` means ``store``.

    Parameters
    ----------
    spec : JobSpec
        The job (:func:`find_job`).
    overrides : mapping, optional
        Parameter values replacing the spec's (:func:`parse_overrides`); default none.
    store : str, optional
        SQLAlchemy URL of the workbench store: the ``source`` of notebooks whose ``source`` is
        not set (default ``paths.DEFAULT_DB_URL``).
    now : datetime, optional
        The anchor of relative dates (default: the current time, UTC).

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
    >>> from analytics_lib.jobs.spec import load_job_specs
    >>> from analytics_lib.jobs.spec import find_job
    >>> job = find_job(load_job_specs(), "weekly-forecast")
    >>> check_job(job, overrides={"granularity": "Q"}, store="sqlite://")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: weekly-forecast.yaml (job weekly-forecast): granularity='Q' is not supported: ...
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
        with moved_modules_quietly():  # checks written for the 0.1 layout (analytics_lib.params:...) still work
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


@renamed(window='dates')
def input_fingerprint(source: str, *, dates: Any = None, team: Sequence[str] | None = None) -> Fingerprint:
    """Fingerprint the data a run reads: rows, first and last timestamp of the window.

    For a SQL store: one ``COUNT``/``MIN``/``MAX`` query on ``events`` over the window and
    teams (the ``ts`` index answers it). For a CSV/Parquet file: the SHA-256 of its bytes.

    Parameters
    ----------
    source : str
        A SQLAlchemy URL or a file path.
    dates : TimeWindow, optional
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
    from analytics_lib.core.sources import is_sql_url
    start = getattr(dates, "start", None)
    end = getattr(dates, "end", None)
    h = hashlib.sha256(json.dumps([redact(source), str(start), str(end), team or []]).encode())
    from analytics_lib.core.sources import FILE_SCHEMES

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

    from analytics_lib.data.sql import db_connect, engine_for

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
