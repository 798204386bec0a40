"""Parameter parsing and validation shared by the library, the notebooks, the jobs and the CLI.

Notebook parameters arrive as literals from papermill or widgets; every notebook calls
these functions in its first cell so that a bad value stops the run with one clear
message instead of a stack trace many cells later.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import WorkbenchError
from .redaction import redact

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+)\s*(min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
GRANULARITIES = {"D": "day", "W": "week (Monday start)", "M": "month"}


def _now(now: pd.Timestamp | str | None) -> pd.Timestamp:
    ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_when(value: str | pd.Timestamp | None, *, now: pd.Timestamp | str | None = None,
               name: str = "date") -> pd.Timestamp | None:
    """Turn a user's date parameter into a UTC timestamp.

    Accepted forms: ``None`` (no bound), ISO dates or date-times (``"2024-03-01"``,
    ``"2024-03-01T12:00+01:00"``; times without an offset are UTC), ``"today"``,
    ``"yesterday"`` and ``"now"``, and relative offsets from the start of today such as
    ``"-28d"``, ``"-4w"``, ``"+1d"`` (units ``min``, ``h``, ``d``, ``w``). Day-valued
    forms resolve to midnight UTC.

    Parameters
    ----------
    value : str, Timestamp or None
        The parameter as given.
    now : Timestamp or str, optional
        The reference "now" (defaults to the current time); tests pin it.
    name : str
        The parameter's name, used in the error message.

    Returns
    -------
    pandas.Timestamp or None
        A timezone-aware UTC timestamp.

    Examples
    --------
    >>> parse_when("-7d", now="2024-03-15 10:00")
    Timestamp('2024-03-08 00:00:00+0000', tz='UTC')
    >>> parse_when("2024-03-01")
    Timestamp('2024-03-01 00:00:00+0000', tz='UTC')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    ref = _now(now)
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "now":
            return ref
        if word in ("today", "yesterday"):
            return ref.normalize() - pd.Timedelta(days=1 if word == "yesterday" else 0)
        m = _RELATIVE.match(word)
        if m:
            sign = -1 if m.group(1) == "-" else 1
            delta = pd.Timedelta(**{_UNITS[m.group(3).lower()]: int(m.group(2))})
            base = ref if m.group(3).lower() in ("min", "h") else ref.normalize()
            return base + sign * delta
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(
            f"{name}={value!r} is not a date: use an ISO date such as '2024-03-01', "
            f"'today', 'yesterday', 'now' or a relative form such as '-28d' or '-4w'"
        ) from exc
    if pd.isna(ts):
        raise WorkbenchError(f"{name}={value!r} is not a date")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval ``[start, end)``; either side may be open (``None``)."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def mask(self, ts: pd.Series) -> pd.Series:
        """Boolean mask of the timestamps inside the window."""
        keep = pd.Series(True, index=ts.index)
        if self.start is not None:
            keep &= ts >= self.start
        if self.end is not None:
            keep &= ts < self.end
        return keep

    def __str__(self) -> str:
        fmt = lambda t: "open" if t is None else t.isoformat()  # noqa: E731
        return f"[{fmt(self.start)}, {fmt(self.end)})"


def time_window(start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None, *,
                now: pd.Timestamp | str | None = None) -> TimeWindow:
    """Resolve ``start``/``end`` parameters into a :class:`TimeWindow`.

    ``end`` is exclusive, except that a *day-valued* end (an ISO date without a time,
    ``"today"``, ``"yesterday"``, ``"-1d"``) includes that whole day, which is what
    people mean by ``end="2024-03-31"``. ``start`` must be before ``end``.

    Examples
    --------
    >>> w = time_window("2024-03-01", "2024-03-31")
    >>> str(w)
    '[2024-03-01T00:00:00+00:00, 2024-04-01T00:00:00+00:00)'
    """
    lo = parse_when(start, now=now, name="start")
    hi = parse_when(end, now=now, name="end")
    if hi is not None and _is_day_valued(end):
        hi = hi + pd.Timedelta(days=1)
    if lo is not None and hi is not None and lo >= hi:
        raise WorkbenchError(
            f"the time window is empty: start={start!r} ({lo.date()}) is not before end={end!r} "
            f"({(hi - pd.Timedelta(days=1)).date() if _is_day_valued(end) else hi}); give a start before the end"
        )
    return TimeWindow(lo, hi)


def _is_day_valued(value: object) -> bool:
    if not isinstance(value, str):
        return False
    word = value.strip().lower()
    if word in ("today", "yesterday"):
        return True
    m = _RELATIVE.match(word)
    if m:
        return m.group(3).lower() in ("d", "w")
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", word))


def check_granularity(granularity: str) -> str:
    """Validate a period granularity (``"D"``, ``"W"`` or ``"M"``) and return it upper-cased.

    Examples
    --------
    >>> check_granularity("w")
    'W'
    """
    g = str(granularity).strip().upper()
    if g not in GRANULARITIES:
        raise WorkbenchError(
            f"granularity={granularity!r} is not supported: use one of "
            + ", ".join(f"'{k}' ({v})" for k, v in GRANULARITIES.items())
        )
    return g


def check_duration(value: str, *, name: str) -> pd.Timedelta:
    """Parse a positive pandas duration string such as ``"30min"`` or ``"7D"``.

    Examples
    --------
    >>> check_duration("30min", name="session_gap")
    Timedelta('0 days 00:30:00')
    """
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{name}={value!r} is not a duration: use a form such as '30min', '2h' or '14D'") from exc
    if td <= pd.Timedelta(0):
        raise WorkbenchError(f"{name}={value!r} must be a positive duration")
    return td


# --------------------------------------------------------------------------------------------
# The workflow-analysis notebook's parameters, checked together before anything is loaded.
from pathlib import Path  # noqa: E402


@dataclass(frozen=True)
class WorkflowParams:
    """The checked parameters of ``notebooks/workflow_analysis.ipynb``.

    Attributes
    ----------
    source : str
        Where the events come from: a SQLAlchemy URL or a CSV/Parquet path.
    window : TimeWindow
        The resolved UTC window ``[start, end)``.
    team : list of str or None
        Teams to keep; ``None`` keeps all.
    granularity : str
        ``"D"``, ``"W"`` or ``"M"``.
    session_gap : str
        The inactivity that ends a derived session (a pandas duration string).
    funnel_steps : list
        At least two steps, each an event type or a list of alternative event types.
    output_dir : pathlib.Path
        Where the notebook writes its tables (exists).
    engine : str
        ``"pandas"`` (in the notebook's process) or ``"dask"`` (see :mod:`analytics_lib.engine`).
    cluster : str or None
        Dask only: the scheduler's address, or ``None`` for a local cluster.
    """

    source: str
    window: TimeWindow
    team: list[str] | None
    granularity: str
    session_gap: str
    funnel_steps: list
    output_dir: Path
    engine: str = "pandas"
    cluster: str | None = None

    def table(self) -> pd.DataFrame:
        """The parameters as a two-column frame (``parameter``, ``value``) for display.

        Examples
        --------
        >>> p = workflow_parameters(source="sqlite://", start="-28d", end="today", team=None, granularity="D",
        ...     session_gap="30min", funnel_steps=["a", "b"], output_dir=__import__("tempfile").gettempdir())
        >>> p.table()["parameter"].tolist()
        ['source', 'window', 'team', 'granularity', 'session_gap', 'funnel_steps', 'output_dir', 'engine']
        """
        steps = " > ".join(s if isinstance(s, str) else "|".join(s) for s in self.funnel_steps)
        where = self.engine if self.engine == "pandas" else \
            f"dask, {'a local cluster' if self.cluster is None else 'the cluster at ' + self.cluster}"
        rows = [("source", redact(self.source)), ("window", str(self.window)),
                ("team", "all" if self.team is None else ", ".join(self.team)),
                ("granularity", f"{self.granularity} ({GRANULARITIES[self.granularity]})"),
                ("session_gap", self.session_gap), ("funnel_steps", steps), ("output_dir", str(self.output_dir)),
                ("engine", where)]
        return pd.DataFrame(rows, columns=["parameter", "value"])


def workflow_parameters(*, source: str | Path | None, start: str | pd.Timestamp | None,
                        end: str | pd.Timestamp | None, team: str | list[str] | None, granularity: str,
                        session_gap: str, funnel_steps: list, output_dir: str | Path | None,
                        engine: str = "pandas", cluster: str | None = None,
                        now: pd.Timestamp | str | None = None) -> WorkflowParams:
    """Check every parameter of the workflow notebook up front and resolve the defaults.

    Each bad value raises :class:`WorkbenchError` with a message that names the parameter
    and says what to give instead, so a run stops in its first cell.

    Parameters
    ----------
    source : str, path or None
        A SQLAlchemy URL or a CSV/Parquet path; ``None`` means the workbench store
        (``analytics_lib.paths.DEFAULT_DB_URL``, an absolute path). A SQLite file and a
        file path must exist. Relative paths are relative to the working directory.
    start, end : str or Timestamp
        The window, as for :func:`time_window` (``"-28d"``, ``"today"``, ISO dates).
    team : str, list of str or None
        One team, several, or ``None`` for all.
    granularity : {"D", "W", "M"}
        Period of the KPI and cost tables.
    session_gap : str
        Inactivity that ends a derived session, a positive pandas duration (``"30min"``).
    funnel_steps : list
        At least two steps; each an event type or a non-empty list of event types.
    output_dir : str, path or None
        Folder for the written tables, created if missing; ``None`` means
        ``analytics_lib.paths.REPORTS / "workflow"``.
    engine : {"pandas", "dask"}
        Where the analyses compute (:func:`analytics_lib.engine.open_engine`). With
        ``"dask"`` the source may also be an object store's URL (``s3://bucket/events/``),
        read by the workers; CSV files are not read by the Dask engine.
    cluster : str or None
        Dask only: a scheduler address (``tcp://host:8786``); ``None`` starts a local cluster.
    now : Timestamp or str, optional
        Pins "now" for relative dates (tests).

    Returns
    -------
    WorkflowParams

    Raises
    ------
    WorkbenchError
        For the first bad parameter, naming it.

    Examples
    --------
    >>> import tempfile
    >>> p = workflow_parameters(source="sqlite://", start="2024-03-01", end="2024-03-31", team="team-a",
    ...     granularity="w", session_gap="30min", funnel_steps=["a", ["b", "c"]], output_dir=tempfile.gettempdir())
    >>> p.granularity, p.team, str(p.window)
    ('W', ['team-a'], '[2024-03-01T00:00:00+00:00, 2024-04-01T00:00:00+00:00)')
    """
    name, address = check_engine_options(engine, cluster)
    src = _check_source(source, engine=name)
    window = time_window(start, end, now=now)
    teams = _check_team(team)
    g = check_granularity(granularity)
    if not isinstance(session_gap, str):
        raise WorkbenchError(f"session_gap={session_gap!r} must be a duration string such as '30min' or '1h'")
    check_duration(session_gap, name="session_gap")
    steps = _check_funnel_steps(funnel_steps)
    out = _check_output_dir(output_dir)
    return WorkflowParams(source=src, window=window, team=teams, granularity=g, session_gap=session_gap.strip(),
                          funnel_steps=steps, output_dir=out, engine=name, cluster=address)


def check_engine_options(engine: str, cluster: str | None) -> tuple[str, str | None]:
    """The ``engine`` and ``cluster`` parameters of a notebook or job, checked together.

    Examples
    --------
    >>> check_engine_options("Dask", "10.0.0.5:8786")
    ('dask', 'tcp://10.0.0.5:8786')
    >>> check_engine_options("pandas", "tcp://10.0.0.5:8786")
    Traceback (most recent call last):
    ...
    analytics_lib.errors.WorkbenchError: cluster='tcp://10.0.0.5:8786' is for engine='dask'; with engine='pandas' everything runs in the notebook's process: set engine='dask' or cluster=None
    """
    from .engine import check_cluster, check_engine  # engine imports pandas' workflow: only when called

    name, address = check_engine(engine), check_cluster(cluster)
    if name == "pandas" and address is not None:
        raise WorkbenchError(f"cluster={address!r} is for engine='dask'; with engine='pandas' everything runs in "
                             "the notebook's process: set engine='dask' or cluster=None")
    return name, address


@dataclass(frozen=True)
class ForecastParams:
    """The checked parameters of ``notebooks/forecasting.ipynb`` (see :func:`forecast_parameters`)."""

    source: str
    window: TimeWindow
    team: list[str] | None
    metric: str
    agg: str
    by: str | None
    granularity: str
    horizon: int
    models: list[str]
    n_windows: int
    level: list[int]
    capacity: float | None
    output_dir: Path
    engine: str = "pandas"
    cluster: str | None = None

    @property
    def freq(self) -> str:
        """The pandas frequency of the series: ``D``, ``W-MON`` (weeks start on Monday) or ``MS``."""
        return {"D": "D", "W": "W-MON", "M": "MS"}[self.granularity]

    def table(self) -> pd.DataFrame:
        """The parameters as a two-column frame (``parameter``, ``value``) for display."""
        rows = [("source", redact(self.source)), ("window", str(self.window)),
                ("team", "all" if self.team is None else ", ".join(self.team)),
                ("metric", f"{self.metric} ({self.agg})"), ("by", self.by or "total"),
                ("granularity", self.granularity), ("horizon", f"{self.horizon} periods"),
                ("models", ", ".join(self.models)), ("backtest windows", str(self.n_windows)),
                ("level", ", ".join(f"{lv}%" for lv in self.level)),
                ("capacity", "none" if self.capacity is None else f"{self.capacity:,}"),
                ("output_dir", str(self.output_dir)),
                ("fits", "worker processes on this machine" if self.engine == "pandas" else
                 f"dask, {'a local cluster' if self.cluster is None else 'the cluster at ' + self.cluster}")]
        return pd.DataFrame(rows, columns=["parameter", "value"])


FORECAST_METRICS = ("events", "users", "sessions", "cost_usd", "latency_ms", "tokens_in", "tokens_out",
                    "satisfaction", "manual_minutes")


def forecast_parameters(*, source: str | Path | None, start: str | pd.Timestamp | None,
                        end: str | pd.Timestamp | None, team: str | list[str] | None, metric: str, agg: str,
                        by: str | None, granularity: str, horizon: int, models: Sequence[str] | None,
                        n_windows: int, level: int | Sequence[int], capacity: float | None,
                        output_dir: str | Path | None, engine: str = "pandas", cluster: str | None = None,
                        now: pd.Timestamp | str | None = None) -> ForecastParams:
    """Check every parameter of the forecasting notebook up front and resolve the defaults.

    Parameters
    ----------
    source, start, end, team
        As for :func:`workflow_parameters` (the history window).
    metric : str
        ``events``, ``users``, ``sessions`` or a numeric event column (``cost_usd``,
        ``latency_ms``, ``tokens_out``...).
    agg : str
        How the metric is aggregated per period (``sum``, ``mean``, ``p95``...).
    by : {None, "team", "model", "feature", "event_type"}
        One series per group (plus the total), or only the total.
    granularity : {"D", "W", "M"}
    horizon : int
        Periods to forecast (positive).
    models : list of str or None
        Candidates from ``analytics_lib.forecast.MODELS``; ``None`` for the default set.
    n_windows : int
        Backtest windows (at least 1).
    level : int or list of int
        Interval levels in percent, each between 1 and 99.
    capacity : float or None
        A threshold to plan for (same unit as the metric), or ``None``.
    output_dir : str, path or None
        ``None`` means ``reports/forecast``.
    engine, cluster
        Where the per-series fits run: ``"pandas"`` (worker processes here) or ``"dask"`` (on
        the cluster at ``cluster``, or a local one); checked by :func:`check_engine_options`.

    Examples
    --------
    >>> import tempfile
    >>> p = forecast_parameters(source="sqlite://", start="2024-01-01", end="2024-06-30", team=None, metric="events",
    ...     agg="sum", by="model", granularity="d", horizon=28, models=None, n_windows=3, level=[80, 95],
    ...     capacity=None, output_dir=tempfile.gettempdir())
    >>> p.freq, p.models[:2]
    ('D', ['ets', 'theta'])
    """
    from .forecast import DEFAULT_AUTO_MODELS, MODELS
    from .workflow import AGGREGATIONS

    engine, cluster = check_engine_options(engine, cluster)
    src = _check_source(source)
    window = time_window(start, end, now=now)
    teams = _check_team(team)
    if metric not in FORECAST_METRICS:
        raise WorkbenchError(f"metric={metric!r} is not forecastable: use one of {', '.join(FORECAST_METRICS)}")
    if agg not in AGGREGATIONS:
        raise WorkbenchError(f"agg={agg!r} is not supported: use one of {', '.join(AGGREGATIONS)}")
    if by not in (None, "team", "model", "feature", "event_type"):
        raise WorkbenchError(f"by={by!r}: use None (total only), 'team', 'model', 'feature' or 'event_type'")
    g = check_granularity(granularity)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise WorkbenchError(f"horizon={horizon!r} must be a positive whole number of periods (e.g. 28 days)")
    chosen = list(DEFAULT_AUTO_MODELS) if models is None else ([models] if isinstance(models, str) else list(models))
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or not chosen:
        raise WorkbenchError(f"models={models!r}: unknown {unknown}; choose from {', '.join(MODELS)} (or None)")
    if isinstance(n_windows, bool) or not isinstance(n_windows, (int, np.integer)) or n_windows < 1:
        raise WorkbenchError(f"n_windows={n_windows!r} must be a whole number of backtest windows, at least 1")
    levels = [level] if isinstance(level, (int, float)) else list(level)
    if not levels or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 < v < 100 for v in levels):
        raise WorkbenchError(f"level={level!r} must be whole percentages between 1 and 99, e.g. [80, 95]")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, (int, float))
                                 or not np.isfinite(capacity) or capacity <= 0):
        raise WorkbenchError(f"capacity={capacity!r} must be a positive number in the metric's unit, or None")
    out = _check_output_dir(output_dir, "forecast")
    return ForecastParams(source=src, window=window, team=teams, metric=metric, agg=agg, by=by, granularity=g,
                          horizon=int(horizon), models=chosen, n_windows=int(n_windows), level=sorted(set(levels)),
                          capacity=None if capacity is None else float(capacity), output_dir=out, engine=engine,
                          cluster=cluster)


def require_events(result, params: "WorkflowParams | ForecastParams | RoiParams") -> pd.DataFrame:
    """The loaded events, or a :class:`WorkbenchError` naming the parameters to change when there are none.

    Parameters
    ----------
    result : ValidatedEvents
        What :func:`analytics_lib.load_events` returned for ``params``.
    params : WorkflowParams

    Returns
    -------
    DataFrame
        ``result.events`` (at least one row).

    Examples
    --------
    >>> loaded = load_events(params.source, start=params.window.start, end=params.window.end)  # doctest: +SKIP
    >>> events = require_events(loaded, params)  # doctest: +SKIP
    """
    events = result.events
    if (len(events) if isinstance(events, pd.DataFrame) else result.summary.rows_kept):  # Dask: the counts only
        return events
    s = result.summary
    scope = "" if params.team is None else f" for team={params.team!r}"
    raise WorkbenchError(
        f"no events in the window {params.window}{scope} from {redact(params.source)} "
        f"({s.rows_read:,} rows read, {s.rows_outside_window:,} outside the window or team filter, "
        f"{s.rows_quarantined:,} quarantined): widen start/end, check team, or load data into the source")


def _check_source(source: object, *, engine: str = "pandas") -> str:
    from . import paths

    if source is None:
        return paths.DEFAULT_DB_URL
    if isinstance(source, Path):
        source = str(source)
    if not isinstance(source, str) or not source.strip():
        raise WorkbenchError(
            f"source={source!r} is empty: give a database URL such as 'sqlite:///data/workbench.db', "
            "a CSV or Parquet path, or None for the workbench store")
    source = source.strip()
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    if engine == "dask":
        from .engine import FILE_SCHEMES

        if scheme in FILE_SCHEMES and scheme != "file":
            return source  # shared storage or an object store: the workers read it, with their credentials
        if source.lower().removesuffix(".gz").endswith(".csv"):
            raise WorkbenchError(f"source={source!r}: the Dask engine reads Parquet files and datasets and SQL "
                                 "sources, not CSV: load it into a store with `workbench ingest`, or convert it to "
                                 "Parquet")
    from .io import is_sql_url, parse_db_url  # io imports this module: import at call time

    if is_sql_url(source):
        try:
            url = parse_db_url(source)
        except WorkbenchError as exc:
            raise WorkbenchError(f"source={exc}") from exc
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_file():
            raise WorkbenchError(
                f"source={redact(source)!r}: the SQLite file {Path(url.database).resolve()} does not exist; "
                "create it with `workbench sample`, or pass an absolute URL (sqlite:////abs/path.db; relative "
                "ones are relative to the working directory)")
        return source
    path = Path(source.removeprefix("file://")).expanduser()
    if not path.exists():
        raise WorkbenchError(
            f"source={source!r}: {path.resolve()} does not exist; give a CSV or Parquet path, a database URL, "
            "or None for the workbench store")
    suffixes = "".join(path.suffixes).lower()
    data = (next(path.rglob("*.parquet"), None) is not None) if path.is_dir() \
        else suffixes.endswith((".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".pq"))
    if not data:
        raise WorkbenchError(
            f"source={source!r} is not an events source: give a .csv, .csv.gz or .parquet file, a folder of "
            "Parquet files, or a database URL such as sqlite:///data/workbench.db")
    return str(path)


def _check_team(team: object) -> list[str] | None:
    if team is None:
        return None
    teams = [team] if isinstance(team, str) else team
    if not isinstance(teams, (list, tuple)) or not teams \
            or not all(isinstance(t, str) and t.strip() for t in teams):
        raise WorkbenchError(
            f"team={team!r} is not valid: give None for all teams, a team name such as 'team-a', "
            "or a non-empty list of team names")
    return [t.strip() for t in teams]


def _check_funnel_steps(steps: object) -> list:
    hint = ("give a list of at least two steps, each an event type or a list of alternatives, e.g. "
            "['session_start', ['search', 'cache_query'], 'generation']")
    if isinstance(steps, str) or not isinstance(steps, (list, tuple)) or len(steps) < 2:
        raise WorkbenchError(f"funnel_steps={steps!r} is not valid: {hint}")
    out: list = []
    for i, st in enumerate(steps, start=1):
        if isinstance(st, str) and st.strip():
            out.append(st.strip())
        elif isinstance(st, (list, tuple)) and st and all(isinstance(t, str) and t.strip() for t in st):
            out.append([t.strip() for t in st])
        else:
            raise WorkbenchError(f"funnel_steps: step {i} ({st!r}) is not an event type or a list of event types; {hint}")
    return out


def _check_output_dir(output_dir: object, default: str = "workflow") -> Path:
    from . import paths

    if output_dir is None:
        out = paths.REPORTS / default
    elif isinstance(output_dir, (str, Path)) and str(output_dir).strip():
        out = Path(str(output_dir).strip()).expanduser()
    else:
        raise WorkbenchError(f"output_dir={output_dir!r} is not a folder path: give a path such as "
                             f"'reports/{default}', or None for reports/{default}")
    if out.exists() and not out.is_dir():
        raise WorkbenchError(f"output_dir={str(output_dir)!r}: {out} exists and is not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"output_dir={str(output_dir)!r}: cannot create {out} ({exc.strerror}); "
                             "give a writable folder") from exc
    return out.resolve()
