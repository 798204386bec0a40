"""Building blocks of the Voilà dashboards in ``notebooks/dashboards/``: data, views and widgets.

Three layers, so that a dashboard is a thin notebook and everything but the browser is
tested with plain pytest (``tests/test_widgets.py``):

1. **Data** (I/O, verbs). A dashboard never reads raw events while a viewer waits. It reads
   small *dashboard marts*: the tables that the latest successful scheduled run published
   (``<reports>/<job>[/<variant>]/latest/``, see ``docs/jobs.md``; searched recursively for
   ``dash_<table>.parquet``), or, while no run has published them yet, tables computed once
   from the database and cached under ``data/processed/dashboards/`` (rebuilt when the
   store changes). :func:`dashboard_tables` computes them; :func:`load_overview_data` and
   :func:`load_roi_data` find or build them; :func:`published_runs` and
   :func:`published_table` read any table a run published.
2. **Views** (pure, nouns). :func:`overview_view`, :func:`forecast_view` and
   :func:`roi_view` turn a mart and the control values into everything a dashboard shows
   (frozen dataclasses). Bad control values raise :class:`~analytics_lib.errors.WorkbenchError`
   with a message that says what to change.
3. **Components** (ipywidgets). :class:`FilterBar`, :class:`ForecastBar`,
   :class:`AssumptionPanel` (controls), :class:`KpiTiles`, :class:`ChartPanel`,
   :class:`TablePanel` (outputs), :class:`MessageArea` and :class:`ProgressPanel`, wired by
   :class:`LiveView`, which calls a view function with the current control values on every
   change and hands each output the attribute of the view it shows. Callbacks live here,
   never in the notebooks; an error becomes a readable message, never a traceback.

Environment: ``WORKBENCH_REPORTS`` (where runs are published; default ``reports/``),
``WORKBENCH_DASHBOARD_CACHE`` (default ``data/processed/dashboards``) and ``WORKBENCH_DB``
(the store, see :mod:`analytics_lib.paths`).
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import html
import io as _stdio
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd

from . import paths
from . import schema as S
from .errors import WorkbenchError
from .params import TimeWindow, check_granularity, time_window
from .redaction import redact

log = logging.getLogger(__name__)

REPORTS_ENV = "WORKBENCH_REPORTS"
CACHE_ENV = "WORKBENCH_DASHBOARD_CACHE"
#: Bumped when the mart tables change shape; cached marts of another version are rebuilt.
MART_VERSION = 1
#: The session funnel of the workflow notebook (``notebooks/workflow_analysis.py``).
FUNNEL_STEPS: list = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run",
                      ["accept", "export"]]
#: Label of events without a team.
NO_TEAM = "(none)"
#: Value of the team controls meaning "all teams".
ALL_TEAMS = "all"
#: Appraisal months the ROI inputs cover (the horizon slider's maximum).
ROI_MONTHS = 120
#: The six KPI tiles of the workflow overview.
OVERVIEW_KPIS = ("active_users", "sessions", "cache_hit_rate", "latency_p95", "cost_usd", "satisfaction")
#: Tables of each dashboard mart (each stored as ``dash_<name>.parquet``).
MART_TABLES: dict[str, tuple[str, ...]] = {
    "overview": ("meta", "daily", "user_days", "session_days", "latency", "funnel", "bottlenecks", "insights"),
    "roi": ("roi_meta", "roi_daily", "roi_monthly", "roi_units", "roi_by_team", "roi_by_feature", "roi_by_month",
            "roi_forecast"),
}
_PREFIX = "dash_"
_DAY_US = 86_400_000_000
_RESPONSE_TYPES = ("search", "cache_query", "generation", "error")  # workflow.RESPONSE_TYPES

#: KPI label, unit kind and whether up is good (True), bad (False) or neither (None).
KPI_FORMATS: dict[str, tuple[str, str, bool | None]] = {
    "events": ("Events", "count", True),
    "active_users": ("Active users", "count", True),
    "sessions": ("Sessions", "count", True),
    "cache_hit_rate": ("Cache hit rate", "rate", True),
    "error_rate": ("Error rate", "rate", False),
    "latency_p95": ("p95 latency", "ms", False),
    "cost_usd": ("Cost", "usd", None),
    "satisfaction": ("Satisfaction", "score", True),
}


# ============================================================================================
# 1. Data: where published tables live, and the dashboard marts
def reports_root() -> Path:
    """The folder scheduled runs publish into: ``$WORKBENCH_REPORTS`` or ``reports/`` (absolute).

    Examples
    --------
    >>> reports_root() == paths.reports_root()
    True
    """
    return paths.reports_root()


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
    """

    job: str
    variant: str
    run_id: str
    run_dir: Path
    notebook: str | None
    parameters: dict
    finished_at: pd.Timestamp | None

    def describe(self) -> str:
        """One line for the dashboards, e.g. ``"job daily-workflow, run 20261122T0600Z-ab12cd (2026-11-22 06:03 UTC)"``.

        Examples
        --------
        >>> PublishedRun("daily", "", "r1", Path("."), None, {}, pd.Timestamp("2026-01-02 03:04", tz="UTC")).describe()
        'job daily, run r1 (finished 2026-01-02 03:04 UTC)'
        """
        job = f"{self.job}/{self.variant}" if self.variant else self.job
        when = "" if self.finished_at is None else f" (finished {self.finished_at:%Y-%m-%d %H:%M} UTC)"
        return f"job {job}, run {self.run_id}{when}"

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
                            finished_at=finished or _mtime(run_dir))
    for nb_path in sorted(run_dir.glob("*.ipynb")):
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


# --------------------------------------------------------------------------------------------
# Marts: what the dashboards read
@dataclass(frozen=True)
class OverviewMart:
    """Day x team tables from which every number of the workflow overview and the forecast
    explorer is computed exactly, for any window of whole UTC days, team and granularity.

    Attributes
    ----------
    daily : DataFrame
        One row per (``day``, ``team``): ``events, cache_queries, cache_hits, errors,
        requests, accepts, tokens_in, tokens_out, cost_usd, satisfaction_sum,
        satisfaction_n`` (sums, as :func:`analytics_lib.kpi_table` counts them).
    user_days, session_days : DataFrame
        The distinct (``day``, ``team``, ``user``) and (``day``, ``team``, ``session``)
        pairs, as integer codes: distinct users and sessions of any window.
    latency : DataFrame
        ``day, team, latency_ms`` of every response event (``search, cache_query,
        generation, error``) with a latency: exact percentiles of any window.
    funnel : DataFrame
        ``day, team, step, step_name, entities``: the session funnel
        (:func:`analytics_lib.funnel_table` with :data:`FUNNEL_STEPS`) per team and day
        of the session's entry.
    bottlenecks : DataFrame
        The step rows of ``bottleneck_table(events, period="D", by=("event_type", "model",
        "team"))`` (the workflow notebook's call) with a ``team`` column.
    insights : DataFrame
        ``insight_table(ranked_insights(events))`` (empty when not computed).
    meta : DataFrame
        One row: ``version, built_at, source, rows, first_day, last_day, notes``.
    """

    daily: pd.DataFrame
    user_days: pd.DataFrame
    session_days: pd.DataFrame
    latency: pd.DataFrame
    funnel: pd.DataFrame
    bottlenecks: pd.DataFrame
    insights: pd.DataFrame
    meta: pd.DataFrame

    @property
    def teams(self) -> list[str]:
        """The teams in the data, sorted."""
        return sorted(pd.unique(self.daily["team"].astype(str)).tolist())

    @property
    def first_day(self) -> pd.Timestamp:
        """The first day with events (UTC midnight)."""
        return pd.Timestamp(self.daily["day"].min())

    @property
    def last_day(self) -> pd.Timestamp:
        """The last day with events (UTC midnight; the day itself is included)."""
        return pd.Timestamp(self.daily["day"].max())

    @property
    def notes(self) -> list[str]:
        """Caveats recorded when the mart was built."""
        return json.loads(self.meta["notes"].iloc[0]) if len(self.meta) else []


def _progress(progress: Callable | None, step: int, total: int, label: str) -> None:
    if progress is not None:
        progress(step, total, label)


def _days(ts: pd.Series) -> pd.Series:
    """UTC midnight of each timestamp (tz-aware, microseconds)."""
    ts = ts.dt.tz_convert("UTC") if ts.dt.tz is not None else ts.dt.tz_localize("UTC")
    return ts.dt.floor("D").dt.as_unit("us")


def _team_labels(events: pd.DataFrame) -> pd.Series:
    team = events[S.TEAM] if S.TEAM in events.columns else pd.Series(np.nan, index=events.index)
    return team.astype(object).where(team.notna(), NO_TEAM).astype(str)


def _codes(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype("int32")
    return pd.factorize(values, sort=False)[0].astype("int32")


def overview_mart(events: pd.DataFrame, *, funnel_steps: Sequence = FUNNEL_STEPS, gap: str = "30min",
                  insights: bool = True, source: str = "<frame>",
                  progress: Callable[[int, int, str], None] | None = None) -> OverviewMart:
    """Compute the workflow overview's mart from validated events (the expensive step, done once).

    Parameters
    ----------
    events : DataFrame
        Validated events (:func:`analytics_lib.load_events`).
    funnel_steps : list
        The session funnel's steps.
    gap : str
        Inactivity that ends a derived session (when ``session_id`` is missing).
    insights : bool
        Also rank the insights (:func:`analytics_lib.insights.ranked_insights`; about 40 s
        on a million events).
    source : str
        Where the events came from (recorded in ``meta``; give it without a password).
    progress : callable, optional
        Called as ``progress(step, total, label)``.

    Returns
    -------
    OverviewMart

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> mart.daily.columns[:4].tolist(), len(mart.teams) > 1
    (['day', 'team', 'events', 'cache_queries'], True)
    """
    from .workflow import bottleneck_table, funnel_table, sessionize

    if events.empty:
        raise WorkbenchError("no events to build the dashboards from: load data into the store "
                             "(`workbench sample` or `workbench ingest`)")
    total = 5 if insights else 4
    _progress(progress, 1, total, "daily KPIs")
    ev = sessionize(events, gap=gap) if events[S.SESSION_ID].isna().any() else events
    day = _days(ev[S.TS])
    team = _team_labels(ev)
    et = ev[S.EVENT_TYPE]
    cache_q = (et == "cache_query").to_numpy() & ev[S.CACHE_HIT].notna().to_numpy()
    frame = pd.DataFrame({
        "day": day.to_numpy(), "team": team.to_numpy(),
        "events": 1,
        "cache_queries": cache_q,
        "cache_hits": cache_q & ev[S.CACHE_HIT].fillna(False).astype(bool).to_numpy(),
        "errors": (et == "error").to_numpy(),
        "requests": et.isin(["generation", "error"]).to_numpy(),
        "accepts": (et == "accept").to_numpy(),
        "tokens_in": ev[S.TOKENS_IN].astype("float64").to_numpy(),
        "tokens_out": ev[S.TOKENS_OUT].astype("float64").to_numpy(),
        "cost_usd": ev[S.COST_USD].astype("float64").to_numpy(),
        "satisfaction_sum": ev[S.SATISFACTION].astype("float64").fillna(0.0).to_numpy(),
        "satisfaction_n": ev[S.SATISFACTION].notna().to_numpy(),
    })
    daily = frame.groupby(["day", "team"], sort=True).sum(min_count=0).reset_index()
    for c in ("events", "cache_queries", "cache_hits", "errors", "requests", "accepts", "satisfaction_n"):
        daily[c] = daily[c].astype("int64")
    keys = pd.DataFrame({"day": day.to_numpy(), "team": team.to_numpy()})
    user_days = keys.assign(user=_codes(ev[S.USER_ID])).drop_duplicates().sort_values(
        ["day", "team", "user"], kind="stable").reset_index(drop=True)
    session_days = keys.assign(session=_codes(ev[S.SESSION_ID].astype(str))).drop_duplicates().sort_values(
        ["day", "team", "session"], kind="stable").reset_index(drop=True)
    lat_rows = (et.isin(list(_RESPONSE_TYPES)) & ev[S.LATENCY_MS].notna()).to_numpy()
    latency = pd.DataFrame({"day": day.to_numpy()[lat_rows], "team": team.to_numpy()[lat_rows],
                            "latency_ms": ev[S.LATENCY_MS].to_numpy(dtype="float64")[lat_rows]}) \
        .sort_values(["day", "team"], kind="stable").reset_index(drop=True)

    _progress(progress, 2, total, "funnel per team and day")
    day_num = (day.dt.tz_localize(None).to_numpy().view("int64") // _DAY_US)
    parts = []
    for t in sorted(pd.unique(team)):  # a handful of teams; each call is vectorized inside
        rows = (team == t).to_numpy()
        f = funnel_table(ev.loc[rows].assign(_day=day_num[rows]), funnel_steps, unit="session", by="_day", gap=gap)
        parts.append(pd.DataFrame({"day": pd.to_datetime(f["_day"].astype("int64") * _DAY_US, unit="us", utc=True),
                                   "team": t, "step": f["step"].astype("int64"),
                                   "step_name": f["step_name"].astype(str), "entities": f["entities"].astype("int64")}))
    funnel = pd.concat(parts, ignore_index=True).sort_values(["day", "team", "step"], kind="stable") \
        .reset_index(drop=True)
    teams = pd.CategoricalDtype(sorted(pd.unique(team)))
    for table in (daily, user_days, session_days, latency, funnel):  # fast team filters, small files
        table["team"] = table["team"].astype(teams)

    _progress(progress, 3, total, "bottlenecks per day")
    ev_b = ev if not ev[S.TEAM].isna().any() else ev.assign(**{S.TEAM: team.to_numpy()})
    b = bottleneck_table(ev_b, period="D", by=(S.EVENT_TYPE, S.MODEL, S.TEAM), gap=gap)
    b = b[b["kind"] == "step"].copy()
    b["team"] = b["name"].astype(str).str.rsplit(" / ", n=1).str[-1]
    b["severity"] = b["severity"].astype(str)
    bottlenecks = b[["rank", "name", "team", "period", "events", "users", "p50_ms", "p95_ms", "ratio", "impact_h",
                     "severity"]].reset_index(drop=True)

    notes: list[str] = []
    insight_frame = pd.DataFrame(columns=["rank", "kind", "severity", "confidence", "metric", "start", "end",
                                          "title", "recommendation"])
    if insights:
        _progress(progress, 4, total, "ranking insights")
        try:
            from .insights import insight_table, ranked_insights
        except ImportError as exc:  # the insights module is optional for the dashboards
            notes.append(f"insights are not available ({exc})")
        else:
            found = insight_table(ranked_insights(ev))
            insight_frame = found[[c for c in insight_frame.columns if c in found.columns]].copy()
            for c in ("kind", "severity", "metric", "title", "recommendation"):
                if c in insight_frame:
                    insight_frame[c] = insight_frame[c].astype(str)
    else:
        notes.append("insights were not computed for this mart")
    _progress(progress, total, total, "done")
    meta = pd.DataFrame({"version": [MART_VERSION], "built_at": [pd.Timestamp.now(tz="UTC")],
                         "source": [source], "rows": [len(events)], "first_day": [daily["day"].min()],
                         "last_day": [daily["day"].max()], "notes": [json.dumps(notes)]})
    return OverviewMart(daily=daily, user_days=user_days, session_days=session_days, latency=latency, funnel=funnel,
                        bottlenecks=bottlenecks, insights=insight_frame.reset_index(drop=True), meta=meta)


def roi_input_tables(inputs) -> dict[str, pd.DataFrame]:
    """:class:`analytics_lib.roi.RoiInputs` as plain tables (``roi_meta``, ``roi_daily``...),
    so a run can publish them and a dashboard rebuild them with :func:`roi_inputs_from_tables`.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib.roi import roi_inputs
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, seed=0).events, months=12, projection="flat")
    >>> sorted(roi_input_tables(inputs))[:3]
    ['roi_by_feature', 'roi_by_month', 'roi_by_team']
    """
    meta = pd.DataFrame({"start": [inputs.start], "observed_end": [inputs.observed_end], "months": [inputs.months],
                         "projection": [inputs.projection], "observed_months": [inputs.observed_months],
                         "notes": [json.dumps(list(inputs.notes))], "version": [MART_VERSION]})
    forecast = inputs.forecast if inputs.forecast is not None else pd.DataFrame()
    return {"roi_meta": meta, "roi_daily": inputs.daily, "roi_monthly": inputs.monthly,
            "roi_units": inputs.units.rename("value").rename_axis("name").reset_index(),
            "roi_by_team": inputs.by_team, "roi_by_feature": inputs.by_feature, "roi_by_month": inputs.by_month,
            "roi_forecast": forecast}


def roi_inputs_from_tables(tables: Mapping[str, pd.DataFrame]):
    """Rebuild :class:`analytics_lib.roi.RoiInputs` from :func:`roi_input_tables` output.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib.roi import roi_inputs
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, seed=0).events, months=12, projection="flat")
    >>> roi_inputs_from_tables(roi_input_tables(inputs)).months
    12
    """
    from .roi import RoiInputs

    missing = [n for n in MART_TABLES["roi"] if n not in tables]
    if missing:
        raise WorkbenchError(f"ROI inputs are missing tables {missing}: rebuild them with `workbench dashboards build`")
    m = tables["roi_meta"].iloc[0]
    units = tables["roi_units"].set_index("name")["value"].astype("float64").rename("per_session")
    units.index.name = None
    forecast = tables["roi_forecast"]
    return RoiInputs(start=pd.Timestamp(m["start"]), observed_end=pd.Timestamp(m["observed_end"]),
                     months=int(m["months"]), projection=str(m["projection"]), daily=tables["roi_daily"],
                     monthly=tables["roi_monthly"], units=units, by_team=tables["roi_by_team"],
                     by_feature=tables["roi_by_feature"], by_month=tables["roi_by_month"],
                     observed_months=float(m["observed_months"]), forecast=None if forecast.empty else forecast,
                     notes=tuple(json.loads(m["notes"])))


def overview_tables(mart: OverviewMart) -> dict[str, pd.DataFrame]:
    """The mart's tables by name (``meta``, ``daily``...), for writing.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> list(overview_tables(overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)))[:3]
    ['meta', 'daily', 'user_days']
    """
    return {name: getattr(mart, name) for name in MART_TABLES["overview"]}


def overview_mart_from_tables(tables: Mapping[str, pd.DataFrame]) -> OverviewMart:
    """Rebuild an :class:`OverviewMart` from its tables (as read from Parquet).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> overview_mart_from_tables(overview_tables(mart)).teams == mart.teams
    True
    """
    missing = [n for n in MART_TABLES["overview"] if n not in tables]
    if missing:
        raise WorkbenchError(f"the overview mart is missing tables {missing}: rebuild it with "
                             "`workbench dashboards build`")
    return OverviewMart(**{n: tables[n] for n in MART_TABLES["overview"]})


def dashboard_tables(events: pd.DataFrame, *, parts: Sequence[str] = ("overview", "roi"), insights: bool = True,
                     gap: str = "30min", source: str = "<frame>",
                     progress: Callable[[int, int, str], None] | None = None) -> dict[str, pd.DataFrame]:
    """Every dashboard mart table, named as published: ``dash_daily``, ``dash_roi_monthly``...

    This is what a scheduled run writes next to its other tables so that the dashboards open
    on it (e.g. the workflow notebook's last cell:
    ``write_tables(dashboard_tables(events), params.output_dir)``).

    Parameters
    ----------
    events : DataFrame
        Validated events (all teams).
    parts : sequence of {"overview", "roi"}
        Which marts (``overview`` feeds the workflow overview and the forecast explorer).
    insights, gap, source, progress
        As for :func:`overview_mart`.

    Returns
    -------
    dict of str to DataFrame

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> t = dashboard_tables(synthetic_events(3_000, days=28, seed=0).events, parts=["overview"], insights=False)
    >>> sorted(t)[:3]
    ['dash_bottlenecks', 'dash_daily', 'dash_funnel']
    """
    unknown = [p for p in parts if p not in MART_TABLES]
    if unknown or not parts:
        raise WorkbenchError(f"parts={list(parts)!r}: choose from {', '.join(MART_TABLES)}")
    out: dict[str, pd.DataFrame] = {}
    if "overview" in parts:
        out |= overview_tables(overview_mart(events, insights=insights, gap=gap, source=source, progress=progress))
    if "roi" in parts:
        from .roi import roi_inputs

        _progress(progress, 1, 1, "ROI inputs")
        try:
            inputs = roi_inputs(events, months=ROI_MONTHS, gap=gap)
        except WorkbenchError as exc:
            if "projection='flat'" not in str(exc):
                raise
            inputs = roi_inputs(events, months=ROI_MONTHS, gap=gap, projection="flat")
        out |= roi_input_tables(inputs)
    return {f"{_PREFIX}{k}": v for k, v in out.items()}


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
    from .io import db_connect, engine_for, is_sql_url

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
    from .jobs import _absolute  # a job records its store as an absolute location

    def where(src: str) -> str:
        return redact(_absolute(src, Path.cwd()))

    return "source" not in p or where(p["source"] or paths.DEFAULT_DB_URL) == where(source)


def _load_part(part: str, source: str | None, *, team: str | list[str] | None, reports, cache, progress,
               insights: bool, force: bool = False, use_published: bool = True) -> DashboardData:
    from .params import _check_source, _check_team

    src = _check_source(source)
    teams = _check_team(team)
    names = MART_TABLES[part]
    build = overview_mart_from_tables if part == "overview" else roi_inputs_from_tables
    if teams is None and use_published and not force:
        for run in published_runs(reports=reports):
            if not _run_covers(run, src):
                continue
            tables = _read_tables(run, names)
            if tables is not None:
                return DashboardData(part, build(tables), f"Published by {run.describe()}.", run)
    root = Path(cache) if cache is not None else cache_root()
    folder = _cache_dir(part, src, teams, root)
    stamp = hashlib.sha256(f"{MART_VERSION}:{_source_stamp(src)}".encode()).hexdigest()[:16]
    target = folder / stamp
    scope = "" if teams is None else f" for team {', '.join(teams)}"
    with _locked(folder.with_suffix(".lock")):
        if target.is_dir() and not force:
            tables = _read_tables(target, names)
            if tables is not None:
                built = pd.Timestamp(json.loads((target / "built.json").read_text())["built_at"])
                return DashboardData(part, build(tables), f"No scheduled run has published these tables yet: "
                                     f"computed from {redact(src)}{scope} at {built:%Y-%m-%d %H:%M} UTC.")
        from .io import load_events

        _progress(progress, 0, 1, f"reading the events of {redact(src)}{scope} (once; later viewers reuse it)")
        loaded = load_events(src, team=teams)
        if loaded.events.empty:
            raise WorkbenchError(f"{redact(src)} has no events{scope}: load data with `workbench sample` or "
                                 "`workbench ingest`, or check the team")
        tables = dashboard_tables(loaded.events, parts=[part], insights=insights, source=redact(src), progress=progress)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent if folder.parent.exists() else None))
        try:
            for name, frame in tables.items():
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / "built.json").write_text(json.dumps({"built_at": str(pd.Timestamp.now(tz="UTC")),
                                                         "source": redact(src), "rows": len(loaded.events)}))
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
                                          f"{redact(src)}{scope} just now.")


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
    """The ROI calculator's inputs (:class:`analytics_lib.roi.RoiInputs`), found like
    :func:`load_overview_data` (published runs hold all teams: a team is always computed).

    Examples
    --------
    >>> data = load_roi_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    return _load_part("roi", source, team=team, reports=reports, cache=cache, progress=progress, insights=False)


def build_dashboard_data(source: str | None = None, *, parts: Sequence[str] = ("overview", "roi"),
                         force: bool = False, cache: str | os.PathLike | None = None,
                         progress: Callable[[int, int, str], None] | None = None) -> list[DashboardData]:
    """Compute and cache the marts now (``workbench dashboards build``), so no viewer waits.

    Published runs are not consulted; with ``force`` an up-to-date cache is rebuilt too.

    Examples
    --------
    >>> build_dashboard_data("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    return [_load_part(p, source, team=None, reports=None, cache=cache, progress=progress, insights=True,
                       force=force, use_published=False) for p in parts]


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
    >>> from analytics_lib.datasets import synthetic_events
    >>> db = f"sqlite:///{tempfile.mkdtemp()}/w.db"
    >>> _ = write_events(validate_events(synthetic_events(3_000, days=40, seed=0).events), db)
    >>> publish_dashboard_tables(db, tempfile.mkdtemp(), insights=False)["table"].tolist()[:2]
    ['dash_meta', 'dash_daily']
    """
    from .io import load_events
    from .params import _check_output_dir, _check_source
    from .tables import write_tables

    src = _check_source(source)
    out = _check_output_dir(output_dir, "dashboards")
    _progress(progress, 0, 1, f"reading the events of {redact(src)}")
    loaded = load_events(src)
    if loaded.events.empty:
        raise WorkbenchError(f"{redact(src)} has no events: load data with `workbench sample` or `workbench ingest`")
    tables = dashboard_tables(loaded.events, insights=insights, source=redact(src), progress=progress)
    write_tables(tables, out)
    return pd.DataFrame({"table": list(tables), "rows": [len(t) for t in tables.values()],
                         "columns": [t.shape[1] for t in tables.values()]})


# ============================================================================================
# 2. Views: pure functions of a mart and the control values
def _mart(data: DashboardData | OverviewMart | Any, kind: type | str) -> Any:
    value = data.value if isinstance(data, DashboardData) else data
    name = kind if isinstance(kind, str) else kind.__name__
    if type(value).__name__ != name:
        raise WorkbenchError(f"expected the dashboard data of a {name}, got {type(value).__name__}")
    return value


def dashboard_window(start: Any, end: Any) -> TimeWindow:
    """The window of whole UTC days from a start and an end date (both included).

    Accepts dates (as date pickers give them), ISO strings and the relative forms of
    :func:`analytics_lib.params.parse_when`.

    Raises
    ------
    WorkbenchError
        When a date is missing or the range is empty.

    Examples
    --------
    >>> import datetime
    >>> str(dashboard_window(datetime.date(2026, 3, 1), datetime.date(2026, 3, 7)))
    '[2026-03-01T00:00:00+00:00, 2026-03-08T00:00:00+00:00)'
    """
    for name, v in (("start", start), ("end", end)):
        if v is None or (isinstance(v, str) and not v.strip()):
            raise WorkbenchError(f"the {name} date is empty: pick a {name} date")
    as_text = [v.isoformat() if hasattr(v, "isoformat") and not isinstance(v, pd.Timestamp) else v
               for v in (start, end)]
    w = time_window(as_text[0], as_text[1])
    lo = w.start.floor("D")
    hi = w.end.ceil("D")
    if lo >= hi:
        raise WorkbenchError(f"the date range is empty: start {start} is after end {end}; pick a start on or before "
                             "the end")
    return TimeWindow(lo, hi)


def _team_filter(team: Any, teams: Sequence[str]) -> str | None:
    if team is None or (isinstance(team, str) and team.strip().lower() in (ALL_TEAMS, "")):
        return None
    if isinstance(team, (list, tuple)) and len(team) == 1:
        team = team[0]
    if not isinstance(team, str) or team not in teams:
        raise WorkbenchError(f"team={team!r} is not in the data: choose one of {', '.join(teams)} or all teams")
    return team


def _rows(frame: pd.DataFrame, window: TimeWindow | None, team: str | None) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    if window is not None:
        day = frame["day"]
        if window.start is not None:
            keep &= (day >= window.start).to_numpy()
        if window.end is not None:
            keep &= (day < window.end).to_numpy()
    if team is not None:
        keep &= (frame["team"] == team).to_numpy()
    return keep


_KPI_COLUMNS = ["events", "active_users", "sessions", "events_per_user", "sessions_per_user", "cache_hit_rate",
                "error_rate", "latency_p50", "latency_p95", "latency_p99", "tokens_in", "tokens_out", "cost_usd",
                "accepts", "cost_per_accept", "satisfaction"]


def _period_key(day: pd.Series, granularity: str | None) -> np.ndarray:
    """Period start (naive UTC datetime64) of each day; one constant key when ``granularity`` is None."""
    from .workflow import period_start

    if granularity is None:
        return np.zeros(len(day), dtype="int64")
    naive = day.dt.tz_convert("UTC").dt.tz_localize(None) if day.dt.tz is not None else day
    codes, uniques = pd.factorize(naive, sort=False)
    if granularity == "D":
        per = pd.DatetimeIndex(uniques)
    else:
        per = pd.DatetimeIndex(period_start(pd.Series(pd.DatetimeIndex(uniques).tz_localize("UTC")), granularity))
        per = per.tz_convert("UTC").tz_localize(None)
    return np.asarray(per.as_unit("us").to_numpy())[codes] if len(codes) else np.array([], dtype="datetime64[us]")


def _kpis(mart: OverviewMart, window: TimeWindow | None, team: str | None, granularity: str | None) -> pd.DataFrame:
    d = mart.daily[_rows(mart.daily, window, team)]
    sums = d.drop(columns=["day", "team"]).groupby(_period_key(d["day"], granularity)).sum(min_count=0)
    u = mart.user_days[_rows(mart.user_days, window, team)]
    s = mart.session_days[_rows(mart.session_days, window, team)]
    lat = mart.latency[_rows(mart.latency, window, team)]
    out = pd.DataFrame(index=sums.index)
    out["events"] = sums["events"]
    out["active_users"] = u["user"].groupby(_period_key(u["day"], granularity)).nunique()
    out["sessions"] = s["session"].groupby(_period_key(s["day"], granularity)).nunique()
    out["events_per_user"] = out["events"] / out["active_users"]
    out["sessions_per_user"] = out["sessions"] / out["active_users"]
    out["cache_hit_rate"] = sums["cache_hits"] / sums["cache_queries"].where(sums["cache_queries"] > 0)
    out["error_rate"] = sums["errors"] / sums["requests"].where(sums["requests"] > 0)
    if len(lat):
        q = lat["latency_ms"].groupby(_period_key(lat["day"], granularity)).quantile([0.5, 0.95, 0.99]).unstack() \
            .reindex(columns=[0.5, 0.95, 0.99])
    else:
        q = pd.DataFrame(columns=[0.5, 0.95, 0.99], dtype="float64")
    out["latency_p50"], out["latency_p95"], out["latency_p99"] = q[0.5], q[0.95], q[0.99]
    out["tokens_in"], out["tokens_out"], out["cost_usd"] = sums["tokens_in"], sums["tokens_out"], sums["cost_usd"]
    out["accepts"] = sums["accepts"]
    out["cost_per_accept"] = out["cost_usd"] / out["accepts"].where(out["accepts"] > 0)
    out["satisfaction"] = sums["satisfaction_sum"] / sums["satisfaction_n"].where(sums["satisfaction_n"] > 0)
    return out


def _fill_counts(out: pd.DataFrame) -> pd.DataFrame:
    counts = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
    out[counts] = out[counts].fillna(0)
    for c in ("events", "active_users", "sessions", "accepts"):
        out[c] = out[c].astype("int64")
    return out[_KPI_COLUMNS]


def mart_kpis(data: DashboardData | OverviewMart, *, window: TimeWindow | None = None, team: str | None = None,
              granularity: str = "D") -> pd.DataFrame:
    """KPIs per period from the mart: the columns of :func:`analytics_lib.kpi_table` but
    ``stickiness``, equal to ``kpi_table`` on the events of that window and team.

    Parameters
    ----------
    data : DashboardData or OverviewMart
    window : TimeWindow, optional
        Whole UTC days (:func:`dashboard_window`); None: all the data.
    team : str, optional
        One team; None: all.
    granularity : {"D", "W", "M"}

    Returns
    -------
    DataFrame
        Indexed by ``period`` (UTC period start), every period from the first to the last
        with events (zero counts and NaN rates in between).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> mart_kpis(mart, granularity="W").index.day_of_week.unique().tolist()
    [0]
    """
    from .workflow import _period_index

    mart = _mart(data, OverviewMart)
    g = check_granularity(granularity)
    if not _rows(mart.daily, window, team).any():
        return pd.DataFrame(columns=_KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    out = _kpis(mart, window, team, g)
    out.index = pd.DatetimeIndex(out.index).tz_localize("UTC")
    out = _fill_counts(out.reindex(_period_index(out.index.min(), out.index.max(), g)))
    out.index.name = "period"
    return out


def kpi_totals(data: DashboardData | OverviewMart, *, window: TimeWindow, team: str | None = None) -> pd.Series:
    """The KPIs of one window taken as a single period (distinct users and sessions over the
    whole window, percentiles over all its latencies).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> events = synthetic_events(3_000, days=28, seed=0).events
    >>> int(kpi_totals(overview_mart(events, insights=False), window=TimeWindow(None, None))["events"]) == len(events)
    True
    """
    mart = _mart(data, OverviewMart)
    return _fill_counts(_kpis(mart, window, team, None).reindex([0])).iloc[0]


def format_kpi(value: Any, kind: str) -> str:
    """A KPI value as shown on a tile: ``count`` 12,345; ``rate`` 45.6%; ``usd`` $1,234 (cents
    below $1,000); ``ms`` 1,234 ms; ``score`` 4.12; ``pct`` 12.3%; ``months`` 14.2 months;
    anything missing is an en dash.

    Examples
    --------
    >>> format_kpi(12345, "count"), format_kpi(0.4567, "rate"), format_kpi(1234.5, "usd"), format_kpi(None, "ms")
    ('12,345', '45.7%', '$1,234', '–')
    """
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)) or pd.isna(value):
        return "–"
    v = float(value)
    if kind == "count":
        return f"{v:,.0f}"
    if kind == "rate":
        return f"{v:.1%}"
    if kind == "usd":
        sign = "-" if v < 0 else ""
        return f"{sign}${abs(v):,.0f}" if abs(v) >= 1000 else f"{sign}${abs(v):,.2f}"
    if kind == "ms":
        return f"{v:,.0f} ms"
    if kind == "score":
        return f"{v:.2f}"
    if kind == "pct":
        return f"{v:.1f}%"
    if kind == "months":
        return f"{v:.1f} months"
    return f"{v:,.4g}"


def kpi_change(current: Any, previous: Any, kind: str) -> tuple[float, str]:
    """The change of a KPI against the previous period and how it is written.

    Counts, money and latencies change in percent of the previous value, rates in percentage
    points, scores in points.

    Returns
    -------
    (float, str)
        The change (NaN when it cannot be computed) and its text, e.g. ``(0.052, "+5.2%")``.

    Examples
    --------
    >>> kpi_change(105, 100, "count"), kpi_change(0.50, 0.45, "rate")[1], kpi_change(4.0, 4.001, "score")[1]
    ((0.05, '+5.0%'), '+5.0 pts', '±0.00')
    """
    cur = float(current) if current is not None and not pd.isna(current) else math.nan
    prev = float(previous) if previous is not None and not pd.isna(previous) else math.nan
    if not (np.isfinite(cur) and np.isfinite(prev)):
        return math.nan, "no previous data"
    if kind == "rate":
        d = cur - prev
        return d, _signed(100 * d, "{:+.1f}", " pts")
    if kind == "score":
        d = cur - prev
        return d, _signed(d, "{:+.2f}", "")
    if prev == 0:
        return math.nan, "new" if cur else "±0"
    d = (cur - prev) / abs(prev)
    return d, _signed(100 * d, "{:+.1f}", "%")


def _signed(value: float, fmt: str, unit: str) -> str:
    text = fmt.format(value)
    return ("±" + text[1:] if float(text) == 0 else text) + unit


def kpi_tiles(current: pd.Series, previous: pd.Series | None = None, *,
              kpis: Sequence[str] = OVERVIEW_KPIS) -> pd.DataFrame:
    """Tiles of KPIs with their change against the previous period.

    Returns
    -------
    DataFrame
        One row per KPI: ``kpi, label, kind, value, previous, change, text, change_text,
        tone`` (``good``, ``bad`` or ``neutral``, from the direction that is good for the KPI).

    Examples
    --------
    >>> t = kpi_tiles(pd.Series({"active_users": 110, "cost_usd": 90.0}), pd.Series({"active_users": 100,
    ...               "cost_usd": 100.0}), kpis=["active_users", "cost_usd"])
    >>> t[["text", "change_text", "tone"]].values.tolist()
    [['110', '+10.0% vs previous period', 'good'], ['$90.00', '-10.0% vs previous period', 'neutral']]
    """
    rows = []
    for k in kpis:
        label, kind, up_good = KPI_FORMATS.get(k, (k, "number", None))
        value = current.get(k, np.nan)
        prev = previous.get(k, np.nan) if previous is not None else np.nan
        change, text = kpi_change(value, prev, kind)
        tone = "neutral" if up_good is None or not np.isfinite(change) or change == 0 else \
            ("good" if (change > 0) == up_good else "bad")
        rows.append({"kpi": k, "label": label, "kind": kind, "value": value, "previous": prev, "change": change,
                     "text": format_kpi(value, kind),
                     "change_text": text + (" vs previous period" if np.isfinite(change) else ""), "tone": tone})
    return pd.DataFrame(rows)


def mart_funnel(data: DashboardData | OverviewMart, *, window: TimeWindow | None = None,
                team: str | None = None) -> pd.DataFrame:
    """The session funnel of the sessions that start in the window (and team).

    Counts add up over days and teams, so over the whole data (or one team) this equals
    :func:`analytics_lib.funnel_table` with ``unit="session"`` on those events;
    ``median_time_s`` is not additive and is left NaN.

    Returns
    -------
    DataFrame
        ``step, step_name, entities, conversion, step_conversion, drop_off, median_time_s``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> mart_funnel(mart)["step"].tolist()
    [1, 2, 3, 4, 5, 6]
    """
    mart = _mart(data, OverviewMart)
    f = mart.funnel[_rows(mart.funnel, window, team)]
    steps = mart.funnel.drop_duplicates("step").sort_values("step")[["step", "step_name"]]
    counts = f.groupby("step")["entities"].sum().reindex(steps["step"], fill_value=0).to_numpy(dtype="int64")
    base = counts[0] if len(counts) else 0
    prev = np.concatenate([[base], counts[:-1]]) if len(counts) else counts
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(base > 0, counts / max(base, 1), np.nan)
        step_conv = np.where(prev > 0, counts / np.maximum(prev, 1), np.nan)
    return pd.DataFrame({"step": steps["step"].to_numpy(), "step_name": steps["step_name"].to_numpy(),
                         "entities": counts, "conversion": conv, "step_conversion": step_conv,
                         "drop_off": 1 - step_conv, "median_time_s": np.nan})


@dataclass(frozen=True)
class OverviewView:
    """Everything the workflow overview shows for one set of control values.

    Attributes
    ----------
    window, previous : TimeWindow
        The selected days and the same number of days just before.
    team : str or None
    granularity : str
    tiles : DataFrame
        :func:`kpi_tiles` of the window against the previous one.
    kpis : DataFrame
        :func:`mart_kpis` per period.
    funnel : DataFrame
        :func:`mart_funnel`.
    bottlenecks : DataFrame
        The top 10 step bottlenecks (day, step, p95, ratio to the step's baseline, severity,
        hours of waiting beyond the baseline median) in the window and team.
    insights : DataFrame
        Ranked insights that overlap the window (all teams).
    summary : str
        One sentence on what is shown.
    """

    window: TimeWindow
    previous: TimeWindow
    team: str | None
    granularity: str
    tiles: pd.DataFrame
    kpis: pd.DataFrame
    funnel: pd.DataFrame
    bottlenecks: pd.DataFrame
    insights: pd.DataFrame
    summary: str


def _day_text(w: TimeWindow) -> str:
    last = w.end - pd.Timedelta(days=1)
    return f"{w.start:%Y-%m-%d}" if last == w.start else f"{w.start:%Y-%m-%d} to {last:%Y-%m-%d}"


def overview_view(data: DashboardData | OverviewMart, *, start: Any, end: Any, team: Any = None,
                  granularity: str = "D") -> OverviewView:
    """The workflow overview for a date range (both days included), a team and a granularity.

    Parameters
    ----------
    data : DashboardData or OverviewMart
    start, end : date, str
        First and last day (dates, ISO strings or relative forms such as ``"-28d"``).
    team : str or None
        A team, or None / ``"all"`` for all teams.
    granularity : {"D", "W", "M"}
        Period of the trend chart.

    Returns
    -------
    OverviewView

    Raises
    ------
    WorkbenchError
        An empty or missing date, an unknown team or granularity, or a window without data.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, insights=False)
    >>> v = overview_view(mart, start="2025-06-16", end="2025-06-29", team="all", granularity="W")
    >>> v.tiles["kpi"].tolist()[:2], len(v.kpis)
    (['active_users', 'sessions'], 2)
    """
    mart = _mart(data, OverviewMart)
    window = dashboard_window(start, end)
    g = check_granularity(granularity)
    t = _team_filter(team, mart.teams)
    if not _rows(mart.daily, window, t).any():
        scope = "" if t is None else f" for {t}"
        raise WorkbenchError(f"no events from {_day_text(window)}{scope}: the data covers "
                             f"{mart.first_day:%Y-%m-%d} to {mart.last_day:%Y-%m-%d}; pick dates in that range"
                             + ("" if t is None else " or another team"))
    previous = TimeWindow(window.start - (window.end - window.start), window.start)
    current = kpi_totals(mart, window=window, team=t)
    before = kpi_totals(mart, window=previous, team=t) if _rows(mart.daily, previous, t).any() else None
    b = mart.bottlenecks[_rows(mart.bottlenecks.rename(columns={"period": "day"}), window, t)]
    bottlenecks = b.sort_values("rank", kind="stable").head(10).reset_index(drop=True)
    ins = mart.insights
    if len(ins) and "start" in ins:
        s, e = pd.to_datetime(ins["start"], utc=True), pd.to_datetime(ins["end"], utc=True)
        overlaps = (s.isna() | (s < window.end)) & (e.isna() | (e > window.start))
        ins = ins[overlaps.to_numpy()]
    days = (window.end - window.start).days
    summary = (f"{'All teams' if t is None else t}, {_day_text(window)} ({days} day{'s' if days > 1 else ''}); "
               f"changes are against {_day_text(previous)}"
               + ("" if before is not None else " (no data then)") + ".")
    return OverviewView(window=window, previous=previous, team=t, granularity=g,
                        tiles=kpi_tiles(current, before), kpis=mart_kpis(mart, window=window, team=t, granularity=g),
                        funnel=mart_funnel(mart, window=window, team=t), bottlenecks=bottlenecks,
                        insights=ins.head(10).reset_index(drop=True), summary=summary)


# --------------------------------------------------------------------------------------------
# Forecast explorer
#: Forecastable KPIs: label, mart KPI column, unit kind, and the forecasting notebook's
#: ``metric``/``agg`` with the same definition (None when the definitions differ).
FORECAST_METRICS: dict[str, tuple[str, str, str, tuple[str, str] | None]] = {
    "events": ("Events", "events", "count", ("events", "sum")),
    "users": ("Active users", "active_users", "count", ("users", "sum")),
    "sessions": ("Sessions", "sessions", "count", ("sessions", "sum")),
    "cost_usd": ("Cost (USD)", "cost_usd", "usd", ("cost_usd", "sum")),
    "latency_p95": ("p95 response latency (ms)", "latency_p95", "ms", None),
}
#: Model choices: ``auto`` backtests the default candidates and picks the best (or their median).
FORECAST_MODELS = ("auto", "ets", "theta", "arima", "lag_regressor", "seasonal_naive")
_FREQ = {"D": "D", "W": "W-MON", "M": "MS"}
_SEASON = {"D": 7, "W": 52, "M": 12}


def mart_series(data: DashboardData | OverviewMart, metric: str, *, team: str | None = None,
                granularity: str = "D") -> pd.DataFrame:
    """A KPI of the mart as a long series ``unique_id, ds, y`` for the forecasting models.

    ``unique_id`` is the team or ``"total"``; ``ds`` is the period start without time zone.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> events = synthetic_events(3_000, days=28, seed=0).events
    >>> mart_series(overview_mart(events, insights=False), "events")["y"].sum() == len(events)
    np.True_
    """
    if metric not in FORECAST_METRICS:
        raise WorkbenchError(f"metric={metric!r} is not offered: choose one of {', '.join(FORECAST_METRICS)}")
    kpis = mart_kpis(data, team=team, granularity=granularity)
    col = FORECAST_METRICS[metric][1]
    return pd.DataFrame({"unique_id": team or "total", "ds": kpis.index.tz_convert("UTC").tz_localize(None),
                         "y": kpis[col].astype("float64").to_numpy()}).reset_index(drop=True)


def parse_number(value: Any, *, name: str, minimum: float | None = None, positive: bool = False,
                 allow_empty: bool = False) -> float | None:
    """A number typed by a user, checked: text or a number; empty gives None when allowed.

    Raises
    ------
    WorkbenchError
        Naming ``name`` and what to type instead.

    Examples
    --------
    >>> parse_number(" 1,200 ", name="capacity"), parse_number("", name="capacity", allow_empty=True)
    (1200.0, None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return None
        raise WorkbenchError(f"{name} is empty: type a number")
    if isinstance(value, (bool, np.bool_)):
        raise WorkbenchError(f"{name}={value!r} is not a number")
    try:
        v = float(value.replace(",", "").replace("_", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise WorkbenchError(f"{name}={value!r} is not a number: type digits such as 12000") from None
    if not np.isfinite(v):
        raise WorkbenchError(f"{name}={value!r} is not a finite number")
    if positive and v <= 0:
        raise WorkbenchError(f"{name}={value!r} must be above 0")
    if minimum is not None and v < minimum:
        raise WorkbenchError(f"{name}={value!r} must be at least {minimum:g}")
    return v


@dataclass(frozen=True)
class ForecastView:
    """Everything the forecast explorer shows for one set of control values.

    Attributes
    ----------
    metric, label, team, model, horizon
        The selection (``team`` None: all teams; ``model`` the chosen one, the ensemble's
        members for ``auto``).
    history : DataFrame
        ``unique_id, ds, y``.
    forecast : DataFrame
        ``unique_id, ds, model, forecast, lo-<level>, hi-<level>``.
    scores : DataFrame
        Backtest scores (:func:`analytics_lib.forecast.forecast_metrics`) of the model(s)
        and the seasonal naive baseline.
    capacity : DataFrame
        :func:`analytics_lib.forecast.capacity_table` (empty when no capacity is given).
    tiles : DataFrame
        Headline figures as tiles (``kpi, label, text, change_text, tone``).
    origin : str
        Where the forecast comes from (a published run, or fitted now).
    """

    metric: str
    label: str
    team: str | None
    model: str
    horizon: int
    history: pd.DataFrame
    forecast: pd.DataFrame
    scores: pd.DataFrame
    capacity: pd.DataFrame
    tiles: pd.DataFrame
    origin: str
    capacity_value: float | None = None

    @property
    def chart(self) -> dict[str, Any]:
        """Keyword arguments of :func:`analytics_lib.plots.plot_forecast` for this view."""
        return {"history": self.history, "forecast": self.forecast, "capacity": self.capacity_value}


def _single_model(series: pd.DataFrame, model: str, *, h: int, freq: str, season: int, n_windows: int,
                  level: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .forecast import Forecaster, backtest, forecast_metrics

    pred = Forecaster(models=[model], freq=freq).fit(series).predict(h=h, level=level)
    cols = {model: "forecast", **{f"{model}-{s}-{lv}": f"{s}-{lv}" for lv in level for s in ("lo", "hi")}}
    forecast = pred.rename(columns=cols)
    forecast.insert(2, "model", model)
    models = list(dict.fromkeys([model, "seasonal_naive"]))
    # parameters estimated at the first cutoff and reused at later ones, as auto_forecast does
    cv = backtest(Forecaster(models=models, freq=freq), series, h=h, n_windows=n_windows, level=[level[0]],
                  refit=False)
    scores = forecast_metrics(cv, train=series, season=season, level=level[0])
    return forecast, scores


def forecast_view(data: DashboardData | OverviewMart, *, metric: str = "events", team: Any = None,
                  horizon: int = 28, model: str = "auto", capacity: Any = None, granularity: str = "D",
                  n_windows: int = 3, level: Sequence[int] = (80, 95), reports: str | os.PathLike | None = None,
                  memo: dict | None = None) -> ForecastView:
    """History, forecast with intervals, backtest scores and the capacity crossing for one selection.

    With ``model="auto"`` the default candidates are backtested and the best (or the median
    of the best three) forecasts, as in the forecasting notebook; when the latest published
    run of that notebook forecast the same metric for all teams at this granularity, from the
    same store, over at least ``horizon`` periods starting right after the mart's history,
    its forecast and scores are shown instead of fitting again.
    Fits are remembered in ``memo`` (a dict the caller keeps), so changing only the capacity
    or going back to an earlier selection costs nothing.

    Parameters
    ----------
    data : DashboardData or OverviewMart
    metric : str
        A key of :data:`FORECAST_METRICS`.
    team : str or None
    horizon : int
        Periods to forecast (at least 1; the backtest needs ``n_windows`` of them in the history).
    model : str
        One of :data:`FORECAST_MODELS`.
    capacity : float, str or None
        A threshold in the metric's unit (text as typed is accepted; empty: none).
    granularity : {"D", "W", "M"}
    n_windows : int
        Backtest windows.
    level : sequence of int
        Interval levels in percent.
    reports : path, optional
        Where to look for published forecasts (default :func:`reports_root`).
    memo : dict, optional
        Cache of fits across calls.

    Returns
    -------
    ForecastView

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> mart = overview_mart(synthetic_events(20_000, days=90, seed=0).events, insights=False)
    >>> v = forecast_view(mart, metric="events", horizon=14, model="theta", capacity="")
    >>> len(v.forecast), v.capacity.empty
    (14, True)
    """
    from .forecast import auto_forecast, capacity_table

    mart = _mart(data, OverviewMart)
    if metric not in FORECAST_METRICS:
        raise WorkbenchError(f"metric={metric!r} is not offered: choose one of {', '.join(FORECAST_METRICS)}")
    if model not in FORECAST_MODELS:
        raise WorkbenchError(f"model={model!r} is not offered: choose one of {', '.join(FORECAST_MODELS)}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise WorkbenchError(f"horizon={horizon!r} must be a whole number of periods, at least 1")
    g = check_granularity(granularity)
    t = _team_filter(team, mart.teams)
    cap = parse_number(capacity, name="capacity", positive=True, allow_empty=True)
    levels = sorted({int(x) for x in level})
    label, _, kind, published_as = FORECAST_METRICS[metric]
    history = mart_series(mart, metric, team=t, granularity=g)
    if history["y"].isna().any():
        n = int(history["y"].isna().sum())
        raise WorkbenchError(f"{label} is missing for {n} period(s) of this team's history (no events there): "
                             "choose another metric, team or granularity")
    need = horizon * (n_windows + 1) + _SEASON[g]
    if len(history) < need:
        raise WorkbenchError(f"the history has {len(history)} periods: a {horizon}-period horizon with {n_windows} "
                             f"backtest windows needs at least {need}; choose a shorter horizon")
    key = (metric, t, g, int(horizon), model, int(n_windows), tuple(levels), len(history),
           float(history["y"].iloc[-1]))
    memo = {} if memo is None else memo
    if key not in memo:
        origin = "Fitted now on the dashboard data."
        published = None
        if model == "auto" and t is None and published_as is not None:
            published = _published_forecast(published_as, g, int(horizon), levels, reports,
                                             source=str(mart.meta["source"].iloc[0]) if len(mart.meta) else "",
                                             after=pd.Timestamp(history["ds"].iloc[-1]))
        if published is not None:
            forecast, scores, run = published
            origin = f"Forecast and backtest published by {run.describe()}."
        elif model == "auto":
            res = auto_forecast(history, h=int(horizon), freq=_FREQ[g], n_windows=n_windows, level=levels,
                                season=_SEASON[g])
            forecast, scores = res.forecast, res.scores
        else:
            forecast, scores = _single_model(history, model, h=int(horizon), freq=_FREQ[g], season=_SEASON[g],
                                             n_windows=n_windows, level=levels)
        memo[key] = (forecast, scores, origin)
    forecast, scores, origin = memo[key]
    chosen = str(forecast["model"].iloc[0])
    caps = capacity_table(forecast, cap, level=levels[-1]) if cap is not None else pd.DataFrame()
    additive = kind in ("count", "usd") and metric != "users"
    total = float(forecast["forecast"].sum()) if additive else float(forecast["forecast"].mean())
    recent = history["y"].iloc[-int(horizon):]
    base = float(recent.sum()) if additive else float(recent.mean())
    change, change_text = kpi_change(total, base, kind)
    mase = scores.loc[scores["model"] == chosen, "mase"] if "mase" in scores else pd.Series(dtype=float)
    naive = scores.loc[scores["model"] == "seasonal_naive", "mase"] if "mase" in scores else pd.Series(dtype=float)
    rows = [{"kpi": "forecast_total", "label": f"{'Total' if additive else 'Mean'} over the next {horizon} periods",
             "text": format_kpi(total, kind), "change_text": f"{change_text} vs the last {horizon} periods",
             "tone": "neutral"},
            {"kpi": "model", "label": "Model", "text": chosen,
             "change_text": "chosen by backtest" if model == "auto" else "as selected", "tone": "neutral"},
            {"kpi": "mase", "label": "Backtest MASE (lower is better)",
             "text": format_kpi(mase.iloc[0] if len(mase) else np.nan, "score"),
             "change_text": f"seasonal naive: {format_kpi(naive.iloc[0] if len(naive) else np.nan, 'score')}",
             "tone": "good" if len(mase) and len(naive) and mase.iloc[0] < naive.iloc[0] else "neutral"}]
    if cap is not None:
        c = caps.iloc[0]
        when = "not within the horizon" if pd.isna(c["first_crossing"]) else \
            f"{pd.Timestamp(c['first_crossing']):%Y-%m-%d}"
        upper = "" if pd.isna(c["first_crossing_upper"]) else \
            f"; {levels[-1]}% upper bound: {pd.Timestamp(c['first_crossing_upper']):%Y-%m-%d}"
        rows.append({"kpi": "capacity", "label": f"Capacity {format_kpi(cap, kind)} reached", "text": when,
                     "change_text": f"probability {c['probability']:.0%} within the horizon{upper}",
                     "tone": "bad" if c["probability"] >= 0.5 else "neutral"})
    return ForecastView(metric=metric, label=label, team=t, model=chosen, horizon=int(horizon), history=history,
                        forecast=forecast, scores=scores, capacity=caps, tiles=pd.DataFrame(rows), origin=origin,
                        capacity_value=cap)


def _published_forecast(metric_agg: tuple[str, str], granularity: str, horizon: int, levels: list[int],
                        reports, *, source: str, after: pd.Timestamp
                        ) -> tuple[pd.DataFrame, pd.DataFrame, PublishedRun] | None:
    """The latest forecasting run's forecast when it is for this metric, all teams and granularity,
    read the same store as the mart, covers ``horizon`` and starts right after the mart's history."""
    metric, agg = metric_agg
    first = after + pd.tseries.frequencies.to_offset(_FREQ[granularity])
    for run in published_runs(reports=reports, notebook="forecasting"):
        p = run.parameters
        if redact(p.get("source") or paths.DEFAULT_DB_URL) != source:
            continue
        if (p.get("metric"), p.get("agg", "sum"), p.get("by"), p.get("team"), p.get("granularity", "D")) != \
                (metric, agg, None, None, granularity) or int(p.get("horizon", 0)) < horizon:
            continue
        fpath, spath = run.table_path("forecast"), run.table_path("backtest_scores")
        if fpath is None or spath is None:
            continue
        f = pd.read_parquet(fpath)
        if not all(f"{s}-{lv}" in f for lv in levels for s in ("lo", "hi")):
            continue
        f = f[f["unique_id"] == "total"].sort_values("ds").head(horizon).reset_index(drop=True)
        if not len(f) or pd.Timestamp(f["ds"].iloc[0]) != first:  # another history: fit instead
            continue
        s = pd.read_parquet(spath)
        s = s[s["unique_id"] == "total"].reset_index(drop=True)
        if len(f) == horizon:
            return f, s, run
    return None


# --------------------------------------------------------------------------------------------
# ROI calculator
#: The assumptions the ROI calculator lets people change (the ROI notebook's parameter names).
ROI_CONTROLS = ("hourly_rate", "realisation_rate", "seats", "licence_per_seat", "infra_per_month", "one_off_cost",
                "discount_rate", "horizon_months")


@dataclass(frozen=True)
class RoiView:
    """Everything the ROI calculator shows for one set of assumptions.

    Attributes
    ----------
    assumptions : Assumptions
    result : RoiResult
    simulation : RoiSimulation
    tornado : DataFrame
    scenarios : DataFrame
        :func:`analytics_lib.roi.scenario_table` on top of these assumptions.
    tiles : DataFrame
        ROI, payback, NPV and the probability of a positive ROI as tiles.
    """

    assumptions: Any
    result: Any
    simulation: Any
    tornado: pd.DataFrame
    scenarios: pd.DataFrame
    tiles: pd.DataFrame


def roi_view(data, *, hourly_rate: Any = 100.0, realisation_rate: Any = 0.7, seats: Any = None,
             licence_per_seat: Any = 20.0, infra_per_month: Any = 2_000.0, one_off_cost: Any = 50_000.0,
             discount_rate: Any = 0.10, horizon_months: Any = 36, scenarios: Mapping | None = None,
             n_simulations: int = 10_000, seed: int = 0) -> RoiView:
    """ROI, payback, NPV, P(ROI > 0), tornado, Monte Carlo and scenarios for the given assumptions.

    Values may be numbers or text as typed (``seats`` empty: the active users of each month).

    Raises
    ------
    WorkbenchError
        For a value that is not a number or out of range (e.g. a negative rate), naming it.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib.roi import roi_inputs
    >>> inputs = roi_inputs(synthetic_events(5_000, days=60, seed=0).events, months=48)
    >>> roi_view(inputs, hourly_rate=120, n_simulations=500).tiles["kpi"].tolist()
    ['roi_pct', 'payback_months', 'npv', 'prob_positive']
    """
    from .roi import Assumptions, roi_result, roi_simulation, scenario_table, tornado_table

    inputs = _mart(data, "RoiInputs")
    values = {"hourly_rate": parse_number(hourly_rate, name="hourly_rate"),
              "realisation_rate": parse_number(realisation_rate, name="realisation_rate"),
              "seats": parse_number(seats, name="seats", allow_empty=True),
              "licence_per_seat": parse_number(licence_per_seat, name="licence_per_seat"),
              "infra_per_month": parse_number(infra_per_month, name="infra_per_month"),
              "one_off_cost": parse_number(one_off_cost, name="one_off_cost"),
              "discount_rate": parse_number(discount_rate, name="discount_rate"),
              "horizon_months": parse_number(horizon_months, name="horizon_months")}
    if values["horizon_months"] is not None and values["horizon_months"] > inputs.months:
        raise WorkbenchError(f"horizon_months={values['horizon_months']:g} is beyond the {inputs.months} months the "
                             "inputs cover: choose a shorter horizon")
    a = Assumptions(**values)
    result = roi_result(inputs, a)
    sim = roi_simulation(inputs, a, n=n_simulations, seed=seed)
    tornado = tornado_table(inputs, a)
    scen = scenario_table(inputs, scenarios, base=a)
    payback = result.payback_months
    tiles = pd.DataFrame([
        {"kpi": "roi_pct", "label": f"ROI over {a.horizon_months} months", "text": format_kpi(result.roi_pct, "pct"),
         "change_text": f"net {format_kpi(result.net, 'usd')} on costs of {format_kpi(result.costs, 'usd')}",
         "tone": "good" if result.roi_pct > 0 else "bad"},
        {"kpi": "payback_months", "label": "Payback", "text": format_kpi(payback, "months") if payback is not None
         else "not within the horizon", "change_text": result.payback_reason, "tone": "neutral"},
        {"kpi": "npv", "label": f"NPV at {a.discount_rate:.0%} a year", "text": format_kpi(result.npv, "usd"),
         "change_text": "today's value of the net cash flows", "tone": "good" if result.npv > 0 else "bad"},
        {"kpi": "prob_positive", "label": "Probability ROI > 0", "text": format_kpi(sim.prob_positive, "rate"),
         "change_text": f"{sim.n:,} Monte Carlo draws", "tone": "good" if sim.prob_positive >= 0.5 else "bad"},
    ])
    return RoiView(assumptions=a, result=result, simulation=sim, tornado=tornado, scenarios=scen, tiles=tiles)


def scenario_values(base: Mapping[str, Any], scenarios: Mapping[str, Mapping[str, Any]], name: str) -> dict:
    """The control values of a scenario: the base values with the scenario's overrides.

    Examples
    --------
    >>> scenario_values({"hourly_rate": 100.0, "seats": None}, {"low": {"hourly_rate": 80.0}}, "low")
    {'hourly_rate': 80.0, 'seats': None}
    """
    if name not in scenarios:
        raise WorkbenchError(f"scenario {name!r} is not defined: choose one of {', '.join(scenarios)}")
    unknown = [k for k in scenarios[name] if k not in base]
    if unknown:
        raise WorkbenchError(f"scenario {name!r} changes {unknown}, which the calculator does not show")
    return {**base, **scenarios[name]}


# ============================================================================================
# 3. Components (ipywidgets)
#: The dashboards' style sheet (shown once per page by :class:`DashboardHeader`).
STYLE = """
<style>
.wb-header h1 {font-size: 1.6em; margin: 0.2em 0;} .wb-header p {color: #555; margin: 0.2em 0;}
.wb-tiles {display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0;}
.wb-tile {border: 1px solid #ddd; border-radius: 8px; padding: 8px 12px; min-width: 150px; background: #fafafa;}
.wb-tile-label {font-size: 0.85em; color: #555;} .wb-tile-value {font-size: 1.6em; font-weight: 600;}
.wb-tile-change {font-size: 0.8em; color: #666;} .wb-good .wb-tile-change {color: #2e7d32;}
.wb-bad .wb-tile-change {color: #c62828;}
.wb-message-error {background: #fdecea; border-left: 4px solid #c62828; padding: 8px 12px; margin: 6px 0;}
.wb-message-info {background: #e8f0fe; border-left: 4px solid #1a73e8; padding: 8px 12px; margin: 6px 0;}
.wb-table table {border-collapse: collapse; font-size: 0.9em;} .wb-table th, .wb-table td {padding: 3px 8px;
 border-bottom: 1px solid #eee; text-align: right;}
.wb-table td:first-child, .wb-table th:first-child {text-align: left;}
.wb-panel-title {font-weight: 600; margin-top: 10px;} .wb-status {color: #777; font-size: 0.8em;}
</style>
"""


class DashboardHeader(widgets.HTML):
    """The style sheet of the dashboards, an optional title and one line of context (where
    the data comes from).

    Examples
    --------
    >>> "Overview" in DashboardHeader("Overview", "what it shows").value
    True
    """

    def __init__(self, title: str = "", subtitle: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("wb-header")
        self._title, self.subtitle = title, subtitle
        self._render()

    def note(self, text: str) -> None:
        """Set the line of context (e.g. where the data comes from)."""
        self.subtitle = text
        self._render()

    def _render(self) -> None:
        title = f"<h1>{html.escape(self._title)}</h1>" if self._title else ""
        self.value = (STYLE + f'<div class="wb-header">{title}'
                      f'<p class="wb-origin">{html.escape(redact(self.subtitle))}</p></div>')


class MessageArea(widgets.HTML):
    """Readable messages instead of tracebacks: errors, notices, nothing.

    Examples
    --------
    >>> m = MessageArea()
    >>> m.error("start is after end"); "wb-message-error" in m.value
    True
    >>> m.clear(); m.value
    ''
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("wb-messages")

    def _show(self, kind: str, text: str) -> None:
        role = ' role="alert"' if kind == "error" else ""
        self.value = f'<div class="wb-message wb-message-{kind}"{role}>{html.escape(redact(text))}</div>'

    def error(self, text: str) -> None:
        """Show an error (red)."""
        self._show("error", text)

    def info(self, text: str) -> None:
        """Show a notice (blue)."""
        self._show("info", text)

    def clear(self) -> None:
        """Show nothing."""
        self.value = ""

    def explain(self, exc: BaseException) -> str:
        """Show an exception as one readable sentence and return it.

        A :class:`WorkbenchError` is shown as it is (it says what to fix); anything else as
        "Something went wrong" with its type and first line, and the traceback goes to the
        log, never to the page.
        """
        if isinstance(exc, WorkbenchError):
            text = str(exc)
        else:
            log.exception("dashboard error", exc_info=exc)
            first = (str(exc).strip().splitlines() or [""])[0]
            text = f"Something went wrong ({type(exc).__name__}{': ' + first if first else ''}). " \
                   "Try other values; if it persists, tell the workbench team."
        self.error(text)
        return text

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; on an error show it (see :meth:`explain`) and return None.

        Examples
        --------
        >>> m = MessageArea()
        >>> m.attempt(int, "12"), m.attempt(dashboard_window, None, "2026-01-01"), "start date" in m.value
        (12, None, True)
        """
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the viewer as a sentence, logged with its traceback
            self.explain(exc)
            return None


class ProgressPanel(widgets.HBox):
    """Progress of long computations and the status of the last update.

    Call it as ``progress(step, total, label)`` (the signature the loaders take); the status
    line carries ``data-refresh``, the number of updates so far (browser tests wait on it).

    Examples
    --------
    >>> p = ProgressPanel()
    >>> p(1, 4, "funnel"); p.bar.value, p.bar.max, p.bar.layout.visibility
    (1, 4, 'visible')
    >>> p.finished(0.123, ok=True); 'data-refresh="1"' in p.status.value
    True
    """

    def __init__(self, **kwargs: Any) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="240px", visibility="hidden"))
        self.status = widgets.HTML()
        super().__init__([self.bar, self.status], **kwargs)
        self.add_class("wb-progress")
        self.refreshes = 0
        self._set_status("", "idle")

    def _set_status(self, text: str, state: str) -> None:
        self.status.value = (f'<span class="wb-status" data-refresh="{self.refreshes}" data-state="{state}">'
                             f"{html.escape(text)}</span>")

    def __call__(self, step: int, total: int, label: str) -> None:
        self.bar.max = max(int(total), 1)
        self.bar.value = min(max(int(step), 0), self.bar.max)
        self.bar.layout.visibility = "visible"
        self._set_status(f"{label}…", "busy")

    def busy(self, label: str = "updating") -> None:
        """Show an indeterminate 'working' state."""
        self.bar.max, self.bar.value = 1, 1
        self.bar.bar_style = "info"
        self.bar.layout.visibility = "visible"
        self._set_status(f"{label}…", "busy")

    def finished(self, seconds: float, *, ok: bool) -> None:
        """Hide the bar and count one update (ok or failed)."""
        self.refreshes += 1
        self.bar.layout.visibility = "hidden"
        self._set_status(f"updated in {seconds:.2f} s" if ok else "not updated: see the message above",
                         "ok" if ok else "error")


def tile_html(tiles: pd.DataFrame) -> str:
    """The HTML of a row of tiles (``kpi, label, text, change_text, tone`` per row).

    Each tile is ``<div class="wb-tile wb-<tone>" data-kpi="<kpi>">`` with its label, value
    (``.wb-tile-value``) and change line, so tests and stylesheets can find them.

    Examples
    --------
    >>> tile_html(pd.DataFrame([{"kpi": "npv", "label": "NPV", "text": "$1,000", "change_text": "", "tone": "good"}]))
    '<div class="wb-tiles"><div class="wb-tile wb-good" data-kpi="npv"><div class="wb-tile-label">NPV</div><div class="wb-tile-value">$1,000</div><div class="wb-tile-change"></div></div></div>'
    """
    cells = [f'<div class="wb-tile wb-{html.escape(str(r.tone))}" data-kpi="{html.escape(str(r.kpi))}">'
             f'<div class="wb-tile-label">{html.escape(str(r.label))}</div>'
             f'<div class="wb-tile-value">{html.escape(str(r.text))}</div>'
             f'<div class="wb-tile-change">{html.escape(str(r.change_text))}</div></div>'
             for r in tiles.itertuples(index=False)]  # a handful of tiles
    return '<div class="wb-tiles">' + "".join(cells) + "</div>"


class KpiTiles(widgets.HTML):
    """KPI tiles; :meth:`show` takes a tiles frame (:func:`kpi_tiles`, a view's ``tiles``).

    Examples
    --------
    >>> t = KpiTiles()
    >>> t.show(kpi_tiles(pd.Series({"sessions": 12}), kpis=["sessions"])); 'data-kpi="sessions"' in t.value
    True
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("wb-kpi-tiles")

    def show(self, tiles: pd.DataFrame) -> None:
        """Replace the tiles."""
        self.value = tile_html(tiles)


def figure_png(fig, *, dpi: int = 72) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (no figures pile up in a kernel).

    The plots lay themselves out (constrained or tight layout), so the figure is drawn once,
    without ``bbox_inches="tight"`` (which draws it twice).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> figure_png(plt.figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    import matplotlib.pyplot as plt

    buf = _stdio.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


#: Fixed layouts (figure size, axes grid, margins) for the plots the dashboards draw: a fixed
#: layout draws in about half the time of the plots' own constrained layout.
CHART_LAYOUTS: dict[str, dict[str, Any]] = {
    "plot_kpi_trends": {"figsize": (11.0, 7.0), "grid": (3, 2),
                        "margins": {"left": 0.07, "right": 0.98, "top": 0.96, "bottom": 0.07, "hspace": 0.45,
                                    "wspace": 0.2}},
    "plot_funnel": {"figsize": (10.0, 4.2), "margins": {"left": 0.22, "right": 0.97, "top": 0.9, "bottom": 0.14}},
    "plot_forecast": {"figsize": (10.0, 3.8), "margins": {"left": 0.08, "right": 0.98, "top": 0.9, "bottom": 0.14}},
    "plot_backtest_scores": {"figsize": (8.0, 3.0),
                             "margins": {"left": 0.22, "right": 0.97, "top": 0.88, "bottom": 0.18}},
    "plot_tornado": {"figsize": (10.0, 5.0), "margins": {"left": 0.42, "right": 0.97, "top": 0.9, "bottom": 0.12}},
    "plot_roi_distribution": {"figsize": (10.0, 4.0),
                              "margins": {"left": 0.08, "right": 0.98, "top": 0.88, "bottom": 0.14}},
}


class ChartPanel(widgets.VBox):
    """A title and an Output that redraws a matplotlib figure: ``plot(value, **options)``.

    Parameters
    ----------
    plot : callable
        A function of :mod:`analytics_lib.plots` (``plot_kpi_trends``...) or any callable
        returning a Figure.
    title : str
    keywords : bool
        The shown value is a mapping of keyword arguments: ``plot(**value, **options)`` (for
        plots of several frames, e.g. :attr:`ForecastView.chart`).
    dpi : int
        Resolution of the PNG.
    figsize : (float, float), optional
        Draw into a figure of this size with a fixed layout: ``grid`` axes (rows, columns;
        default one) placed by ``margins`` (``subplots_adjust`` arguments), passed to ``plot``
        as ``ax``. Default: the plot's entry in :data:`CHART_LAYOUTS`, else the plot makes its
        own figure (constrained layout, about twice the drawing time).
    grid : (int, int), optional
    margins : dict, optional
    **options
        Passed to ``plot``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> c = ChartPanel(lambda v: plt.figure(figsize=(1, 1)), title="t")
    >>> c.show(None); c.output.outputs[0]["data"]["image/png"][:8]
    'iVBORw0K'
    """

    def __init__(self, plot: Callable[..., Any], *, title: str = "", keywords: bool = False, dpi: int = 72,
                 figsize: tuple[float, float] | None = None, grid: tuple[int, int] = (1, 1),
                 margins: Mapping[str, float] | None = None, **options: Any) -> None:
        self.plot, self.options, self.dpi, self.keywords = plot, options, dpi, keywords
        preset = CHART_LAYOUTS.get(getattr(plot, "__name__", ""), {}) if figsize is None else {}
        self.figsize = figsize if figsize is not None else preset.get("figsize")
        self.grid = tuple(preset.get("grid", grid))
        self.margins = dict(margins if margins is not None else preset.get("margins", {}))
        self.heading = widgets.HTML(f'<div class="wb-panel-title">{html.escape(title)}</div>' if title else "")
        self.output = widgets.Output()
        super().__init__([self.heading, self.output])
        self.add_class("wb-chart")

    def show(self, value: Any) -> None:
        """Draw ``plot(value, **options)`` in place of the previous figure."""
        import matplotlib.pyplot as plt

        options = dict(self.options)
        if self.figsize is not None:
            fig, axes = plt.subplots(*self.grid, figsize=self.figsize, sharex=self.grid != (1, 1), squeeze=False)
            fig.subplots_adjust(**self.margins)
            options["ax"] = axes[0, 0] if self.grid == (1, 1) else axes.ravel()
        try:
            fig = self.plot(**value, **options) if self.keywords else self.plot(value, **options)
        except BaseException:
            if self.figsize is not None:
                plt.close(fig)
            raise
        png = figure_png(fig, dpi=self.dpi)
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                         "text/plain": "<figure>"}},)


def table_html(frame: pd.DataFrame, *, formats: Mapping[str, str] | None = None, empty: str = "nothing to show",
               rename: Mapping[str, str] | None = None) -> str:
    """A frame as a small HTML table with formatted numbers (``formats``: column to format string).

    Examples
    --------
    >>> table_html(pd.DataFrame({"p95_ms": [1234.5]}), formats={"p95_ms": "{:,.0f}"})
    '<div class="wb-table"><table><thead><tr><th>p95_ms</th></tr></thead><tbody><tr><td>1,234</td></tr></tbody></table></div>'
    """
    if frame.empty:
        return f'<div class="wb-table wb-empty">{html.escape(empty)}</div>'
    shown = frame.copy()
    for c, fmt in (formats or {}).items():
        if c in shown:
            shown[c] = [("–" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT else fmt.format(v))
                        for v in shown[c]]
    for c in shown.columns:
        if isinstance(shown[c].dtype, pd.DatetimeTZDtype):
            shown[c] = shown[c].dt.strftime("%Y-%m-%d")
    shown = shown.rename(columns=dict(rename or {}))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('–' if _missing(v) else str(v))}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))  # display only: a few dozen rows
    return f'<div class="wb-table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


class TablePanel(widgets.VBox):
    """A title and a small formatted table (:func:`table_html`).

    Examples
    --------
    >>> t = TablePanel(title="Top", columns=["a"])
    >>> t.show(pd.DataFrame({"a": [1], "b": [2]})); "<th>b</th>" in t.table.value
    False
    """

    def __init__(self, *, title: str = "", columns: Sequence[str] | None = None,
                 formats: Mapping[str, str] | None = None, rename: Mapping[str, str] | None = None,
                 empty: str = "nothing to show", top: int | None = None) -> None:
        self.columns, self.formats, self.rename, self.empty, self.top = columns, formats, rename, empty, top
        self.heading = widgets.HTML(f'<div class="wb-panel-title">{html.escape(title)}</div>' if title else "")
        self.table = widgets.HTML()
        super().__init__([self.heading, self.table])
        self.add_class("wb-table-panel")

    def show(self, frame: pd.DataFrame) -> None:
        """Replace the table."""
        shown = frame if self.columns is None else frame[[c for c in self.columns if c in frame.columns]]
        shown = shown if self.top is None else shown.head(self.top)
        self.table.value = table_html(shown, formats=self.formats, empty=self.empty, rename=self.rename)


class TextPanel(widgets.HTML):
    """One paragraph of text (escaped): :meth:`show` takes a string.

    Examples
    --------
    >>> p = TextPanel(); p.show("a < b"); p.value
    '<p class="wb-text">a &lt; b</p>'
    """

    def show(self, text: str) -> None:
        """Replace the text."""
        self.value = f'<p class="wb-text">{html.escape(redact(str(text)))}</p>'


class LiveView:
    """Recompute a view on every control change and show its parts; errors become messages.

    ``compute(data, **fixed, **{name: control.value})`` is called once at creation and after
    each change of a control's value; then ``outputs[name].show(getattr(view, name))`` for
    each output. While a computation runs, ``progress`` shows it; a :class:`WorkbenchError`
    (or any other error) leaves the outputs as they were and shows a readable message.

    Parameters
    ----------
    compute : callable
        A view function (:func:`overview_view`, :func:`forecast_view`, :func:`roi_view`).
    data : object
        Its first argument (a :class:`DashboardData`); None (loading failed, the message is
        already shown) makes the view inert.
    controls : mapping of str to widget
        Keyword name to the widget whose ``value`` it takes.
    outputs : mapping of str to component or list of components
        Attribute of the view to the component(s) showing it (anything with ``show``).
    messages : MessageArea
    progress : ProgressPanel, optional
    fixed : mapping, optional
        Keyword arguments passed on every call (parameters that are not controls, a memo).

    Examples
    --------
    >>> box, out, msg = widgets.IntText(value=2), TextPanel(), MessageArea()
    >>> v = LiveView(lambda data, n: type("V", (), {"text": str(data * n)})(), 21, controls={"n": box},
    ...              outputs={"text": out}, messages=msg)
    >>> out.value
    '<p class="wb-text">42</p>'
    >>> box.value = 3; out.value
    '<p class="wb-text">63</p>'
    """

    def __init__(self, compute: Callable[..., Any], data: Any, *, controls: Mapping[str, widgets.Widget],
                 outputs: Mapping[str, Any], messages: MessageArea, progress: ProgressPanel | None = None,
                 fixed: Mapping[str, Any] | None = None, run: bool = True) -> None:
        self.compute, self.data = compute, data
        self.controls, self.outputs = dict(controls), dict(outputs)
        self.messages, self.progress, self.fixed = messages, progress, dict(fixed or {})
        self.view: Any = None
        self.seconds: float | None = None
        self._held = 0
        for w in self.controls.values():
            w.observe(self._changed, names="value")
        if data is None:
            for w in self.controls.values():
                w.disabled = True
        elif run:
            self.refresh()

    def values(self) -> dict[str, Any]:
        """The current control values by keyword."""
        return {name: w.value for name, w in self.controls.items()}

    def _changed(self, change: Mapping[str, Any]) -> None:
        if not self._held:
            self.refresh()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Change several controls at once: one refresh when the block ends."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held:
            self.refresh()

    def refresh(self) -> Any:
        """Recompute and show; returns the view (None when it failed or there is no data)."""
        if self.data is None:
            return None
        t0 = time.perf_counter()
        if self.progress is not None:
            self.progress.busy()
        try:
            with warnings.catch_warnings(record=True) as caught:  # to the log, not to the page
                warnings.simplefilter("always")
                view = self.compute(self.data, **self.fixed, **self.values())
                for name, out in self.outputs.items():
                    for component in (out if isinstance(out, (list, tuple)) else [out]):
                        component.show(getattr(view, name))
            for w in caught:
                log.info("dashboard warning: %s", w.message)
        except Exception as exc:  # noqa: BLE001 - shown as a sentence (see MessageArea.explain)
            self.messages.explain(exc)
            if self.progress is not None:
                self.progress.finished(time.perf_counter() - t0, ok=False)
            return None
        self.messages.clear()
        self.view, self.seconds = view, time.perf_counter() - t0
        if self.progress is not None:
            self.progress.finished(self.seconds, ok=True)
        return view


def _date(ts: Any):
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).date()


class FilterBar(widgets.HBox):
    """Date range, team and granularity controls of the workflow overview.

    ``controls`` maps the keywords of :func:`overview_view` (``start, end, team,
    granularity``) to the widgets. Relative dates (``"-28d"``) resolve against today and are
    clipped to the data's days.

    Examples
    --------
    >>> bar = FilterBar(teams=["team-a"], first_day="2026-01-01", last_day="2026-03-31", start="2026-03-01",
    ...                 end="2026-03-31", team=None, granularity="W")
    >>> sorted(bar.controls), str(bar.controls["start"].value), bar.controls["team"].value
    (['end', 'granularity', 'start', 'team'], '2026-03-01', 'all')
    """

    def __init__(self, *, teams: Sequence[str], first_day: Any, last_day: Any, start: Any = "-28d",
                 end: Any = "today", team: Any = None, granularity: str = "D") -> None:
        lo, hi = _date(first_day), _date(last_day)
        try:
            w = dashboard_window(start, end)
            s, e = w.start.date(), (w.end - pd.Timedelta(days=1)).date()
        except WorkbenchError:
            s, e = None, None
        if lo is not None and hi is not None:  # clip to the data's days
            s = lo if s is None or not lo <= s <= hi else s
            e = hi if e is None or not lo <= e <= hi else e
            if s > e:
                s = lo
        options = [("All teams", ALL_TEAMS)] + [(t, t) for t in teams]
        team_value = team[0] if isinstance(team, (list, tuple)) and len(team) == 1 else team
        self.start = widgets.DatePicker(description="From", value=s)
        self.end = widgets.DatePicker(description="To", value=e)
        self.team = widgets.Dropdown(description="Team", options=options,
                                     value=team_value if team_value in teams else ALL_TEAMS)
        self.granularity = widgets.ToggleButtons(options=[("Day", "D"), ("Week", "W"), ("Month", "M")],
                                                 value=check_granularity(granularity),
                                                 style={"button_width": "70px"})
        for name in ("start", "end", "team", "granularity"):
            getattr(self, name).add_class(f"wb-{name}")
        super().__init__([self.start, self.end, self.team, self.granularity],
                         layout=widgets.Layout(flex_flow="row wrap"))
        self.add_class("wb-filter-bar")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`overview_view` to widget."""
        return {"start": self.start, "end": self.end, "team": self.team, "granularity": self.granularity}

    @classmethod
    def for_data(cls, data: DashboardData | None, **values: Any) -> "FilterBar":
        """A bar over the mart's teams and days (empty and disabled when ``data`` is None)."""
        if data is None:
            return cls(teams=[], first_day=None, last_day=None, **values)
        mart = _mart(data, OverviewMart)
        return cls(teams=mart.teams, first_day=mart.first_day, last_day=mart.last_day, **values)


class ForecastBar(widgets.HBox):
    """Metric, team, horizon, model and capacity controls of the forecast explorer.

    Examples
    --------
    >>> bar = ForecastBar(teams=["team-a"], metric="events", team=None, horizon=28, models=None, capacity=None)
    >>> sorted(bar.controls)
    ['capacity', 'horizon', 'metric', 'model', 'team']
    """

    def __init__(self, *, teams: Sequence[str], metric: str = "events", team: Any = None, horizon: int = 28,
                 models: Any = None, capacity: Any = None, max_horizon: int = 120) -> None:
        if metric not in FORECAST_METRICS:
            raise WorkbenchError(f"metric={metric!r} is not offered by the forecast explorer: use one of "
                                 f"{', '.join(FORECAST_METRICS)}")
        model = "auto" if models is None else (models if isinstance(models, str) else
                                               (models[0] if len(models) == 1 else "auto"))
        if model not in FORECAST_MODELS:
            raise WorkbenchError(f"models={models!r}: the explorer offers {', '.join(FORECAST_MODELS)} (None: auto)")
        team_value = team[0] if isinstance(team, (list, tuple)) and len(team) == 1 else team
        self.metric = widgets.Dropdown(description="Metric", value=metric,
                                       options=[(v[0], k) for k, v in FORECAST_METRICS.items()])
        self.team = widgets.Dropdown(description="Team", options=[("All teams", ALL_TEAMS)] + [(t, t) for t in teams],
                                     value=team_value if team_value in teams else ALL_TEAMS)
        self.horizon = widgets.IntSlider(description="Horizon", value=int(min(max(horizon, 1), max_horizon)), min=1,
                                         max=max(max_horizon, 1), continuous_update=False)
        self.model = widgets.Dropdown(description="Model", options=list(FORECAST_MODELS), value=model)
        self.capacity = widgets.Text(description="Capacity", value="" if capacity is None else f"{capacity:g}",
                                     placeholder="e.g. 8000", continuous_update=False)
        for name in ("metric", "team", "horizon", "model", "capacity"):
            getattr(self, name).add_class(f"wb-{name}")
        super().__init__([self.metric, self.team, self.horizon, self.model, self.capacity],
                         layout=widgets.Layout(flex_flow="row wrap"))
        self.add_class("wb-forecast-bar")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`forecast_view` to widget."""
        return {"metric": self.metric, "team": self.team, "horizon": self.horizon, "model": self.model,
                "capacity": self.capacity}

    @classmethod
    def for_data(cls, data: DashboardData | None, *, granularity: str = "D", n_windows: int = 3,
                 **values: Any) -> "ForecastBar":
        """A bar over the mart's teams, the horizon bounded by what the history can backtest."""
        if data is None:
            return cls(teams=[], **values)
        mart = _mart(data, OverviewMart)
        n = len(mart_kpis(mart, granularity=granularity))
        longest = max((n - _SEASON[check_granularity(granularity)]) // (n_windows + 1), 1)
        return cls(teams=mart.teams, max_horizon=longest, **values)


class AssumptionPanel(widgets.VBox):
    """The ROI calculator's assumptions (sliders and inputs) and a scenario picker.

    Choosing a scenario sets the controls to the base values (the notebook's parameters)
    with the scenario's overrides, in one update; changing a control afterwards switches the
    picker to ``custom``.

    Examples
    --------
    >>> p = AssumptionPanel(base={"hourly_rate": 100.0, "realisation_rate": 0.7, "seats": None,
    ...     "licence_per_seat": 20.0, "infra_per_month": 2000.0, "one_off_cost": 50000.0, "discount_rate": 0.1,
    ...     "horizon_months": 36}, scenarios={"optimistic": {"hourly_rate": 130.0}}, max_horizon=60)
    >>> p.picker.value = "optimistic"; p.controls["hourly_rate"].value
    130.0
    """

    def __init__(self, *, base: Mapping[str, Any], scenarios: Mapping[str, Mapping[str, Any]] | None = None,
                 max_horizon: int = ROI_MONTHS) -> None:
        from .roi import DEFAULT_SCENARIOS

        missing = [k for k in ROI_CONTROLS if k not in base]
        if missing:
            raise WorkbenchError(f"AssumptionPanel: base values missing for {missing}")
        self.base = {k: base[k] for k in ROI_CONTROLS}
        self.scenarios = dict(DEFAULT_SCENARIOS if scenarios is None else scenarios)
        b = self.base
        num = {"continuous_update": False, "style": {"description_width": "170px"},
               "layout": widgets.Layout(width="330px")}
        self.inputs: dict[str, widgets.Widget] = {
            "hourly_rate": widgets.FloatText(description="Hourly cost (USD)", value=float(b["hourly_rate"]), **num),
            "realisation_rate": widgets.FloatSlider(description="Realisation rate", value=float(b["realisation_rate"]),
                                                    min=0.0, max=1.0, step=0.05, readout_format=".2f", **num),
            "seats": widgets.Text(description="Seats (empty: active)",
                                  value="" if b["seats"] is None else f"{b['seats']:g}", **num),
            "licence_per_seat": widgets.FloatText(description="Licence / seat / month",
                                                  value=float(b["licence_per_seat"]), **num),
            "infra_per_month": widgets.FloatText(description="Infrastructure / month",
                                                 value=float(b["infra_per_month"]), **num),
            "one_off_cost": widgets.FloatText(description="One-off cost (USD)", value=float(b["one_off_cost"]), **num),
            "discount_rate": widgets.FloatText(description="Discount rate / year", value=float(b["discount_rate"]),
                                               **num),
            "horizon_months": widgets.IntSlider(description="Horizon (months)",
                                                value=int(min(b["horizon_months"], max_horizon)), min=1,
                                                max=int(max_horizon), **num),
        }
        for name, w in self.inputs.items():
            w.add_class(f"wb-{name.replace('_', '-')}")
        self.picker = widgets.Dropdown(description="Scenario", options=["custom", *self.scenarios], value="custom",
                                       style={"description_width": "170px"})
        self.picker.add_class("wb-scenario")
        self.view: LiveView | None = None
        self._applying = False
        self.picker.observe(self._pick, names="value")
        for w in self.inputs.values():
            w.observe(self._edited, names="value")
        names = list(self.inputs)
        super().__init__([self.picker, widgets.HBox([widgets.VBox([self.inputs[n] for n in names[:4]]),
                                                     widgets.VBox([self.inputs[n] for n in names[4:]])])])
        self.add_class("wb-assumptions")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`roi_view` to widget (the scenario picker only sets them)."""
        return dict(self.inputs)

    def bind(self, view: LiveView) -> None:
        """Batch the scenario's control changes into one refresh of ``view``."""
        self.view = view

    def _pick(self, change: Mapping[str, Any]) -> None:
        if self._applying or change["new"] == "custom":
            return
        values = scenario_values(self.base, self.scenarios, change["new"])
        self._applying = True
        try:
            with self.view.hold() if self.view is not None else contextlib.nullcontext():
                for name, v in values.items():
                    w = self.inputs[name]
                    w.value = ("" if v is None else f"{v:g}") if isinstance(w, widgets.Text) else v
        finally:
            self._applying = False

    def _edited(self, change: Mapping[str, Any]) -> None:
        if not self._applying and self.picker.value != "custom":
            self.picker.value = "custom"  # _pick ignores "custom": the edit itself refreshes the view
