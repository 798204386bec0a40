"""Where the dashboards' marts come from: the latest successful scheduled run that published them,
else a cache computed from the store (rebuilt when the store changes).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import pandas as pd

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.paths import reports_root
from analytics_lib.core.redaction import redact
from analytics_lib.dashboards.marts import (
    _PREFIX,
    CACHE_ENV,
    MART_TABLES,
    MART_VERSION,
    _progress,
    dashboard_tables,
    experiment_mart_from_tables,
    overview_mart_from_tables,
    roi_inputs_from_tables,
)


def cache_root() -> Path:
    """Where marts computed from the database are cached: ``$WORKBENCH_DASHBOARD_CACHE`` or
    ``data/processed/dashboards``.

    Examples
    --------
    >>> isinstance(cache_root(), Path)
    True
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() if env else paths.PROCESSED / "dashboards"


@dataclass(frozen=True, eq=False)
class PublishedRun:
    """The run a ``latest`` pointer of the reports folder designates.

    Attributes
    ----------
    job, variant, run_id : str
        The job, its grid variant (``""`` when none) and the run's id.
    run_dir : pathlib.Path
        The run's folder (``latest`` resolved).
    notebook : str or None
        The notebook the run executed (from ``run.json`` or the executed notebook's metadata).
    parameters : dict
        The parameters it ran with.
    finished_at : Timestamp or None
        When it finished (UTC).
    data_as_of : Timestamp or None
        The newest event the run read (UTC), from ``run.json``.
    """

    job: str
    variant: str
    run_id: str
    run_dir: Path
    notebook: str | None
    parameters: dict
    finished_at: pd.Timestamp | None
    data_as_of: pd.Timestamp | None = None

    def describe(self) -> str:
        """One line for the dashboards, e.g. ``"job daily-workflow, run 20261122T0600Z-ab12cd (2026-11-22 06:03 UTC)"``.

        Examples
        --------
        >>> PublishedRun("daily", "", "r1", Path("."), None, {}, pd.Timestamp("2026-01-02 03:04", tz="UTC")).describe()
        'job daily, run r1 (finished 2026-01-02 03:04 UTC)'
        >>> PublishedRun("daily", "", "r1", Path("."), None, {}, pd.Timestamp("2026-01-02 03:04", tz="UTC"),
        ...              pd.Timestamp("2026-01-01 23:58", tz="UTC")).describe()
        'job daily, run r1 (finished 2026-01-02 03:04 UTC, data as of 2026-01-01 23:58 UTC)'
        """
        job = f"{self.job}/{self.variant}" if self.variant else self.job
        facts = [] if self.finished_at is None else [f"finished {self.finished_at:%Y-%m-%d %H:%M} UTC"]
        if self.data_as_of is not None:
            facts.append(f"data as of {self.data_as_of:%Y-%m-%d %H:%M} UTC")
        return f"job {job}, run {self.run_id}" + (f" ({', '.join(facts)})" if facts else "")

    def table_path(self, name: str) -> Path | None:
        """The run's ``<name>.parquet`` (searched recursively: ``marts/`` before ``tables/``), or None.

        Examples
        --------
        >>> PublishedRun("j", "", "r", Path(tempfile.mkdtemp()), None, {}, None).table_path("kpis") is None
        True
        """
        found = sorted(p for p in self.run_dir.rglob(f"{name}.parquet")
                       if not any(part.startswith(".") for part in p.relative_to(self.run_dir).parts))
        return found[0] if found else None


def _resolve_latest(link: Path) -> Path | None:
    """A ``latest`` symlink resolved, or the run folder a pointer file names (relative to the job folder)."""
    try:
        if link.is_symlink() or link.is_dir():
            target = link.resolve(strict=True)
            return target if target.is_dir() else None
        if link.is_file():
            text = link.read_text(encoding="utf-8").strip().splitlines()[0].strip() if link.stat().st_size else ""
            if not text:
                return None
            target = Path(text)
            target = target if target.is_absolute() else link.parent / target
            return target.resolve() if target.is_dir() else None
    except (OSError, RuntimeError, IndexError):  # a dangling link or a loop: no run there
        return None
    return None


def _timestamp(value: Any) -> pd.Timestamp | None:
    if value in (None, ""):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _run_meta(run_dir: Path, job: str, variant: str) -> PublishedRun | None:
    """Metadata of a published run: ``run.json`` (written by analytics_lib.jobs), else the executed
    notebook's papermill metadata, else the folder itself. A run whose ``run.json`` says it did not
    succeed is not a published run."""
    manifest = run_dir / "run.json"
    if manifest.is_file():
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        if info.get("status") not in (None, "succeeded"):
            return None
        attempts = info.get("attempts") or [{}]
        finished = _timestamp(info.get("finished_at") or attempts[-1].get("ended_at"))
        return PublishedRun(job=str(info.get("job", job)), variant=str(info.get("variant") or variant),
                            run_id=str(info.get("run_id", run_dir.name)), run_dir=run_dir,
                            notebook=info.get("notebook"), parameters=dict(info.get("parameters") or {}),
                            finished_at=finished or _mtime(run_dir), data_as_of=_timestamp(info.get("data_as_of")))
    for nb_path in sorted(p for p in run_dir.glob("*.ipynb") if not p.name.startswith(".")):  # not a temporary
        try:
            meta = json.loads(nb_path.read_text(encoding="utf-8")).get("metadata", {}).get("papermill", {})
        except (OSError, ValueError):
            continue
        if meta:
            return PublishedRun(job=job, variant=variant, run_id=run_dir.name, run_dir=run_dir,
                                notebook=meta.get("input_path"), parameters=dict(meta.get("parameters") or {}),
                                finished_at=_timestamp(meta.get("end_time")) or _mtime(run_dir))
    return PublishedRun(job=job, variant=variant, run_id=run_dir.name, run_dir=run_dir, notebook=None,
                        parameters={}, finished_at=_mtime(run_dir))


def _mtime(p: Path) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(p.stat().st_mtime, unit="s", tz="UTC")
    except OSError:
        return None


def published_runs(*, reports: str | os.PathLike | None = None, notebook: str | None = None) -> list[PublishedRun]:
    """The latest successful run of every job (and grid variant), newest first.

    Every ``<reports>/<job>/latest`` and ``<reports>/<job>/<variant>/latest`` is followed: a
    symlink (what :mod:`analytics_lib.jobs` writes) or a text file naming the run folder
    (absolute, or relative to the job folder). A run is described by its ``run.json`` when
    there is one, else by its executed notebook's papermill metadata.

    Parameters
    ----------
    reports : path, optional
        The reports folder; default :func:`reports_root`.
    notebook : str, optional
        Keep only runs of this notebook (its file stem, e.g. ``"workflow_analysis"``).

    Returns
    -------
    list of PublishedRun

    Examples
    --------
    >>> published_runs(reports=tempfile.mkdtemp())
    []
    """
    root = Path(reports) if reports is not None else reports_root()
    if not root.is_dir():
        return []
    runs: list[PublishedRun] = []
    for link in sorted([*root.glob("*/latest"), *root.glob("*/*/latest")]):
        run_dir = _resolve_latest(link)
        if run_dir is None:
            continue
        rel = link.parent.relative_to(root).parts
        run = _run_meta(run_dir, rel[0], "/".join(rel[1:]))
        if run is None:
            continue
        if notebook is not None and (run.notebook is None or Path(run.notebook).stem != Path(notebook).stem):
            continue
        runs.append(run)
    oldest = pd.Timestamp.min.tz_localize("UTC")
    return sorted(runs, key=lambda r: r.finished_at or oldest, reverse=True)


@dataclass(frozen=True)
class PublishedTable:
    """A table a run published: the frame, its file and the run."""

    frame: pd.DataFrame
    path: Path
    run: PublishedRun


def published_table(name: str, *, notebook: str | None = None, where: Mapping[str, Any] | None = None,
                    reports: str | os.PathLike | None = None) -> PublishedTable | None:
    """The newest published ``<name>.parquet`` among the latest successful runs, or None.

    Parameters
    ----------
    name : str
        The table's file stem (``"kpis"``, ``"forecast"``...).
    notebook : str, optional
        Only runs of this notebook (file stem).
    where : mapping, optional
        Only runs whose parameters have these values (e.g. ``{"metric": "events"}``); a
        parameter the run does not record counts as its notebook default, i.e. unknown, and
        does not match.
    reports : path, optional
        The reports folder; default :func:`reports_root`.

    Returns
    -------
    PublishedTable or None

    Examples
    --------
    >>> published_table("kpis", reports=tempfile.mkdtemp()) is None
    True
    """
    for run in published_runs(reports=reports, notebook=notebook):
        if where and any(k not in run.parameters or run.parameters[k] != v for k, v in where.items()):
            continue
        path = run.table_path(name)
        if path is not None:
            return PublishedTable(pd.read_parquet(path), path, run)
    return None


@dataclass(frozen=True)
class DashboardData:
    """A dashboard's mart and where it came from.

    Attributes
    ----------
    part : str
        ``"overview"`` or ``"roi"``.
    value : OverviewMart or RoiInputs
    origin : str
        One sentence for the page: the published run, or the store it was computed from.
    published : PublishedRun or None
        The run the tables come from (None: computed from the database).
    """

    part: str
    value: Any
    origin: str
    published: PublishedRun | None = None


def _read_tables(folder_or_run: Path | PublishedRun, names: Sequence[str]) -> dict[str, pd.DataFrame] | None:
    out = {}
    for name in names:
        if isinstance(folder_or_run, PublishedRun):
            path = folder_or_run.table_path(f"{_PREFIX}{name}")
        else:
            path = folder_or_run / f"{_PREFIX}{name}.parquet"
            path = path if path.is_file() else None
        if path is None:
            return None
        out[name] = pd.read_parquet(path)
    return out


def _source_stamp(source: str) -> str:
    """A cheap fingerprint of the store: newest ``ts`` (and, in SQLite, the largest rowid), or a
    file's size and modification time. Changes when events are added."""
    from analytics_lib.core.sources import is_sql_url
    from analytics_lib.data.sql import db_connect, engine_for

    if not is_sql_url(source):
        st = Path(source).stat()
        return f"file:{st.st_size}:{st.st_mtime_ns}"
    import sqlalchemy as sa

    engine = engine_for(source)
    try:
        with db_connect(engine, source) as conn:
            try:
                newest = conn.execute(sa.text("SELECT MAX(ts) FROM events")).scalar()
                rowid = conn.execute(sa.text("SELECT MAX(rowid) FROM events")).scalar() \
                    if engine.dialect.name == "sqlite" else None
            except sa.exc.SQLAlchemyError as exc:
                raise WorkbenchError(f"cannot read the events table of {redact(source)}: "
                                     f"{str(exc).splitlines()[0]}; load data with `workbench sample` or "
                                     "`workbench ingest`") from exc
    finally:
        engine.dispose()
    return f"sql:{newest}:{rowid}"


def _assignments_stamp(a: pd.DataFrame) -> str:
    """What changes when assignments are added: their number and the newest ``assigned_at``."""
    return f":assign:{len(a)}:{a['assigned_at'].max() if len(a) else ''}"


def _cache_dir(part: str, source: str, team: list[str] | None, cache: Path) -> Path:
    key = hashlib.sha256(json.dumps([redact(source), source, team or []]).encode()).hexdigest()[:16]
    return cache / f"{part}-{key}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_covers(run: PublishedRun, source: str) -> bool:
    """A run's tables stand for this store and all teams: it read the same store (when it says
    which) and was not restricted to a team."""
    p = run.parameters
    if p.get("team") not in (None, [], ""):
        return False
    from analytics_lib.core.sources import (
        absolute_source,  # a job records its store as an absolute location
    )

    def where(src: str) -> str:
        return redact(absolute_source(src, Path.cwd()))

    return "source" not in p or where(p["source"] or paths.DEFAULT_DB_URL) == where(source)


def _load_part(part: str, source: str | None, *, team: str | list[str] | None, reports, cache, progress,
               insights: bool, force: bool = False, use_published: bool = True) -> DashboardData:
    from analytics_lib.core.sources import check_source, check_team

    src = check_source(source)
    teams = check_team(team)
    names = MART_TABLES[part]
    build = {"overview": overview_mart_from_tables, "roi": roi_inputs_from_tables,
             "experiments": experiment_mart_from_tables}[part]
    if teams is None and use_published and not force:
        for run in published_runs(reports=reports):
            if not _run_covers(run, src):
                continue
            tables = _read_tables(run, names)
            if tables is not None:
                return DashboardData(part, build(tables), f"Published by {run.describe()}.", run)
    root = Path(cache) if cache is not None else cache_root()
    folder = _cache_dir(part, src, teams, root)
    assignments = None  # read once: for the cache key and, on a miss, for the mart
    if part == "experiments":
        from analytics_lib.data.assignments import load_assignments

        assignments = load_assignments(src)
    extra = _assignments_stamp(assignments) if assignments is not None else ""
    stamp = hashlib.sha256(f"{MART_VERSION}:{_source_stamp(src)}{extra}".encode()).hexdigest()[:16]
    target = folder / stamp
    scope = "" if teams is None else f" for team {', '.join(teams)}"
    with _locked(folder.with_suffix(".lock")):
        if target.is_dir() and not force:
            tables = _read_tables(target, names)
            if tables is not None:
                info = json.loads((target / "built.json").read_text())
                built = pd.Timestamp(info["built_at"])
                return DashboardData(part, build(tables), f"No scheduled run has published these tables yet: "
                                     f"computed from {redact(src)}{scope} at {built:%Y-%m-%d %H:%M} UTC"
                                     f"{_as_of(info.get('data_as_of'))}.")
        from analytics_lib.data.load import load_events

        _progress(progress, 0, 1, f"reading the events of {redact(src)}{scope} (once; later viewers reuse it)")
        loaded = load_events(src, team=teams)
        if loaded.events.empty:
            raise WorkbenchError(f"{redact(src)} has no events{scope}: load data with `workbench sample` or "
                                 "`workbench ingest`, or check the team")
        tables = dashboard_tables(loaded.events, parts=[part], insights=insights, source=redact(src), progress=progress,
                                  assignments=assignments)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent if folder.parent.exists() else None))
        try:
            for name, frame in tables.items():
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
            newest = str(loaded.events["ts"].max())
            (tmp / "built.json").write_text(json.dumps({"built_at": str(pd.Timestamp.now(tz="UTC")),
                                                         "source": redact(src), "rows": len(loaded.events),
                                                         "data_as_of": newest}))
            folder.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        for old in folder.iterdir():  # older stamps are out of date
            if old != target and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        value = build({n[len(_PREFIX):]: f for n, f in tables.items()})
        return DashboardData(part, value, f"No scheduled run has published these tables yet: computed from "
                                          f"{redact(src)}{scope} just now{_as_of(newest)}.")


def _as_of(value: Any) -> str:
    """``", data as of 2025-06-30 23:58 UTC"`` (the newest event), or nothing when unknown."""
    ts = _timestamp(value)
    return "" if ts is None else f", data as of {ts:%Y-%m-%d %H:%M} UTC"


def load_overview_data(source: str | None = None, *, reports: str | os.PathLike | None = None,
                       cache: str | os.PathLike | None = None, insights: bool = True,
                       progress: Callable[[int, int, str], None] | None = None) -> DashboardData:
    """The workflow overview's mart: published by the latest run, cached, or computed now.

    Order: (1) the newest latest successful run under the reports folder that published all
    ``dash_*`` overview tables, read this store and was not restricted to a team; (2) the cache for this store, if the store has not changed
    since (its newest event and, in SQLite, its largest rowid); (3) computed from the store
    and cached (one viewer computes while the others wait on a file lock).

    Parameters
    ----------
    source : str, optional
        The store (a SQLAlchemy URL or a file); None: the workbench store.
    reports, cache : path, optional
        Defaults :func:`reports_root` and :func:`cache_root`.
    insights : bool
        Rank the insights when computing (slow on large data).
    progress : callable, optional
        ``progress(step, total, label)`` while computing.

    Returns
    -------
    DashboardData
        ``value`` is an :class:`OverviewMart`.

    Examples
    --------
    >>> data = load_overview_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    return _load_part("overview", source, team=None, reports=reports, cache=cache, progress=progress,
                      insights=insights)


def load_roi_data(source: str | None = None, *, team: str | list[str] | None = None,
                  reports: str | os.PathLike | None = None, cache: str | os.PathLike | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> DashboardData:
    """The ROI calculator's inputs (:class:`analytics_lib.analysis.roi.inputs.RoiInputs`), found like
    :func:`load_overview_data` (published runs hold all teams: a team is always computed).

    Parameters
    ----------
    source : str, optional
        The store (a SQLAlchemy URL or a file); None: the workbench store.
    team : str or list of str, optional
        Only these teams' events: published runs are skipped and the inputs are computed (and
        cached per team set); None (default): all teams.
    reports, cache : path, optional
        Defaults :func:`reports_root` and :func:`cache_root`.
    progress : callable, optional
        ``progress(step, total, label)`` while computing.

    Returns
    -------
    DashboardData
        ``value`` is a :class:`~analytics_lib.analysis.roi.inputs.RoiInputs`.

    Examples
    --------
    >>> data = load_roi_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    return _load_part("roi", source, team=team, reports=reports, cache=cache, progress=progress, insights=False)


def load_experiment_data(source: str | None = None, *, reports: str | os.PathLike | None = None,
                         cache: str | os.PathLike | None = None,
                         progress: Callable[[int, int, str], None] | None = None) -> DashboardData:
    """The experiments dashboard's mart (:class:`~analytics_lib.dashboards.marts.ExperimentMart`):
    every experiment of the store's assignment table analysed once, found like
    :func:`load_overview_data` (published tables first, else computed and cached until the
    events or the assignments change).

    Parameters
    ----------
    source : str, optional
        The store; None: the workbench store. It needs the ``experiment_assignments`` table.
    reports, cache : path, optional
        Defaults :func:`reports_root` and :func:`cache_root`.
    progress : callable, optional
        ``progress(step, total, label)`` while computing.

    Examples
    --------
    >>> data = load_experiment_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    return _load_part("experiments", source, team=None, reports=reports, cache=cache, progress=progress,
                      insights=False)


def load_delivery_data(source: str | None = None, *,
                       progress: Callable[[int, int, str], None] | None = None) -> DashboardData:
    """The delivery dashboard's mart (:class:`~analytics_lib.dashboards.marts.DeliveryMart`): the
    store's delivery events, their weekly four keys and the assistant's effect, computed now
    (a few seconds: the delivery tables are small).

    Parameters
    ----------
    source : str, optional
        The store; None: the workbench store. It needs the ``delivery_*`` tables
        (``workbench delivery-ingest`` or ``workbench sample``).
    progress : callable, optional
        ``progress(step, total, label)``.

    Examples
    --------
    >>> data = load_delivery_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    from analytics_lib.core.sources import check_source
    from analytics_lib.dashboards.marts import delivery_mart
    from analytics_lib.data.delivery import adoption_usage, read_delivery

    src = check_source(source)
    _progress(progress, 0, 2, f"reading the delivery events of {redact(src)}")
    data = read_delivery(src)
    usage = adoption_usage(src, data)
    _progress(progress, 1, 2, "the four keys and the assistant's effect")
    mart = delivery_mart(data, usage=usage)
    last = data.deployments["deployed_at"].max()
    return DashboardData("delivery", mart, f"Computed from {redact(src)} at "
                         f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC (deployments up to {last:%Y-%m-%d}).")


def build_dashboard_data(source: str | None = None, *, parts: Sequence[str] = ("overview", "roi", "experiments"),
                         force: bool = False, cache: str | os.PathLike | None = None,
                         progress: Callable[[int, int, str], None] | None = None) -> list[DashboardData]:
    """Compute and cache the marts now (``workbench dashboards build``), so no viewer waits.

    Published runs are not consulted; with ``force`` an up-to-date cache is rebuilt too.

    Parameters
    ----------
    source : str, optional
        The store (a SQLAlchemy URL or a file); None: the workbench store.
    parts : sequence of {"overview", "roi", "experiments"}
        The marts to build, in this order (default all; ``experiments`` only when the store has
        an assignment table).
    force : bool
        Rebuild a mart whose cache is up to date (default False: reuse it).
    cache : path, optional
        The cache folder; default :func:`cache_root`.
    progress : callable, optional
        ``progress(step, total, label)`` while computing.

    Returns
    -------
    list of DashboardData
        One per part, in the order of ``parts``.

    Examples
    --------
    >>> build_dashboard_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    return [_load_part(p, source, team=None, reports=None, cache=cache, progress=progress, insights=True,
                       force=force, use_published=False) for p in parts
            if p != "experiments" or _has_assignments(source)]


def _has_assignments(source: str | None) -> bool:
    from analytics_lib.core.sources import check_source
    from analytics_lib.data.assignments import has_assignments

    return has_assignments(check_source(source))


def publish_dashboard_tables(source: str | None = None, output_dir: str | os.PathLike | None = None, *,
                             insights: bool = True,
                             progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Compute every dashboard mart from the whole store and write it (CSV and Parquet) to a folder.

    What the scheduled job ``daily-dashboard-marts`` runs (``notebooks/dashboard_marts.ipynb``):
    the runner points ``output_dir`` at the run's tables folder, and once the run is published
    the dashboards open on its ``latest`` tables instead of computing from the store.

    Parameters
    ----------
    source : str, optional
        The store; None: the workbench store.
    output_dir : path, optional
        Target folder; None: ``reports/dashboards``.
    insights : bool
        Rank the insights too (about 15 s on the 1M-event sample).
    progress : callable, optional
        ``progress(step, total, label)``.

    Returns
    -------
    DataFrame
        One row per table written: ``table``, ``rows``, ``columns``.

    Examples
    --------
    >>> import tempfile
    >>> from analytics_lib import validate_events, write_events
    >>> from analytics_lib import synthetic_events
    >>> db = f"sqlite:///{tempfile.mkdtemp()}/w.db"
    >>> _ = write_events(validate_events(synthetic_events(3_000, days=40, seed=0).events), db)
    >>> publish_dashboard_tables(db, tempfile.mkdtemp(), insights=False)["table"].tolist()[:2]
    ['dash_meta', 'dash_daily']
    """
    from analytics_lib.core.sources import check_output_dir, check_source
    from analytics_lib.data.load import load_events
    from analytics_lib.report.tables import write_tables

    src = check_source(source)
    out = check_output_dir(output_dir, "dashboards")
    _progress(progress, 0, 1, f"reading the events of {redact(src)}")
    loaded = load_events(src)
    if loaded.events.empty:
        raise WorkbenchError(f"{redact(src)} has no events: load data with `workbench sample` or `workbench ingest`")
    tables = dashboard_tables(loaded.events, insights=insights, source=redact(src), progress=progress)
    write_tables(tables, out)
    return pd.DataFrame({"table": list(tables), "rows": [len(t) for t in tables.values()],
                         "columns": [t.shape[1] for t in tables.values()]})
