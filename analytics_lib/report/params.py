"""The notebooks' parameter bundles: every parameter checked, with a clear message, before any work
(job specs name these functions in ``checks:``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, Assumptions, MAX_MONTHS
from analytics_lib.analysis.roi.simulation import check_scenarios
from analytics_lib.core.checks import check_positive_int, is_whole
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.sources import check_output_dir, check_source, check_team
from analytics_lib.core.timewindow import (
    GRANULARITIES, SERIES_FREQ, TimeWindow, check_duration, check_granularity, parse_when, time_window)


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
        ``"pandas"`` (in the notebook's process) or ``"dask"`` (see :mod:`analytics_lib.compute.engine`).
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
        (``analytics_lib.core.paths.DEFAULT_DB_URL``, an absolute path). A SQLite file and a
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
        ``analytics_lib.core.paths.REPORTS / "workflow"``.
    engine : {"pandas", "dask"}
        Where the analyses compute (:func:`analytics_lib.compute.engine.open_engine`). With
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
    src = check_source(source, engine=name)
    window = time_window(start, end, now=now)
    teams = check_team(team)
    g = check_granularity(granularity)
    if not isinstance(session_gap, str):
        raise WorkbenchError(f"session_gap={session_gap!r} must be a duration string such as '30min' or '1h'")
    check_duration(session_gap, name="session_gap")
    steps = _check_funnel_steps(funnel_steps)
    out = check_output_dir(output_dir)
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
    analytics_lib.core.errors.WorkbenchError: cluster='tcp://10.0.0.5:8786' is for engine='dask'; with engine='pandas' everything runs in the notebook's process: set engine='dask' or cluster=None
    """
    from analytics_lib.compute.dask.cluster import check_cluster  # the compute layer: only when called
    from analytics_lib.compute.engine import check_engine

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
        return SERIES_FREQ[self.granularity]

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
        Candidates from ``analytics_lib.forecast.MODELS``; ``None`` for the default ones at this granularity
        (``auto_candidates``).
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
    now : Timestamp or str, optional
        Pins "now" for relative dates (tests).

    Examples
    --------
    >>> import tempfile
    >>> p = forecast_parameters(source="sqlite://", start="2024-01-01", end="2024-06-30", team=None, metric="events",
    ...     agg="sum", by="model", granularity="d", horizon=28, models=None, n_windows=3, level=[80, 95],
    ...     capacity=None, output_dir=tempfile.gettempdir())
    >>> p.freq, p.models[:2]
    ('D', ['seasonal_median', 'theta'])
    """
    from analytics_lib.forecast.models import MODELS, auto_candidates
    from analytics_lib.analysis.workflow.kpis import AGGREGATIONS

    engine, cluster = check_engine_options(engine, cluster)
    src = check_source(source)
    window = time_window(start, end, now=now)
    teams = check_team(team)
    if metric not in FORECAST_METRICS:
        raise WorkbenchError(f"metric={metric!r} is not forecastable: use one of {', '.join(FORECAST_METRICS)}")
    if agg not in AGGREGATIONS:
        raise WorkbenchError(f"agg={agg!r} is not supported: use one of {', '.join(AGGREGATIONS)}")
    if by not in (None, "team", "model", "feature", "event_type"):
        raise WorkbenchError(f"by={by!r}: use None (total only), 'team', 'model', 'feature' or 'event_type'")
    g = check_granularity(granularity)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise WorkbenchError(f"horizon={horizon!r} must be a positive whole number of periods (e.g. 28 days)")
    chosen = auto_candidates(SERIES_FREQ[g]) if models is None else ([models] if isinstance(models, str) else list(models))
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
    out = check_output_dir(output_dir, "forecast")
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


# ============================================================================================
# Notebook parameters
@dataclass(frozen=True)
class RoiParams:
    """The checked parameters of ``notebooks/roi.ipynb``.

    Attributes
    ----------
    source : str
    window : TimeWindow
    team : list of str or None
    assumptions : Assumptions
    scenarios : dict
        ``{name: {assumption: value}}``, each checked against ``assumptions``.
    n_simulations : int
    seed : int
    output_dir : pathlib.Path
    months : int
        Appraisal months the inputs must cover: the largest horizon among the assumptions,
        the scenarios and the tornado's range (48 by default).
    """

    source: str
    window: TimeWindow
    team: list[str] | None
    assumptions: Assumptions
    scenarios: dict
    n_simulations: int
    seed: int
    output_dir: Path
    months: int

    def table(self) -> pd.DataFrame:
        """The parameters as ``parameter, value`` rows for display.

        Examples
        --------
        >>> import tempfile
        >>> p = roi_parameters(source="sqlite://", start=None, end="today", team=None,
        ...                    output_dir=tempfile.gettempdir())
        >>> p.table()["parameter"].tolist()[:3]
        ['source', 'window', 'team']
        """
        rows = [("source", redact(self.source)), ("window", str(self.window)),
                ("team", "all" if self.team is None else ", ".join(self.team))]
        for name, spec in ASSUMPTIONS.items():
            v = getattr(self.assumptions, name)
            rows.append((name, "from data" if v is None else f"{v:,.6g} {spec.unit}"))
        rows += [("scenarios", ", ".join(self.scenarios)), ("n_simulations", f"{self.n_simulations:,}"),
                 ("seed", str(self.seed)), ("output_dir", str(self.output_dir))]
        return pd.DataFrame(rows, columns=["parameter", "value"])


def with_measured_effect(params: RoiParams, inputs, delivery_effect, *,
                         effort_share: float = 0.5) -> tuple[RoiParams, str]:
    """The ROI parameters with the realisation rate a measured delivery effect implies
    (:func:`~analytics_lib.analysis.roi.measured.realisation_from_effect`), and the sentence
    that says so; without an effect (None) the parameters unchanged and ``""``.

    Parameters
    ----------
    params : RoiParams
    inputs : RoiInputs
        ``roi_inputs`` of the same events.
    delivery_effect : float, str, path or None
        The measured relative change of lead time, or the delivery notebook's table folder
        (:func:`~analytics_lib.analysis.roi.measured.lead_time_effect`).
    effort_share : float
        Share of lead time that is developer work.

    Examples
    --------
    >>> with_measured_effect("any parameters", None, None)
    ('any parameters', '')
    """
    if delivery_effect is None:
        return params, ""
    import dataclasses

    from analytics_lib.analysis.roi.measured import lead_time_effect, realisation_from_effect

    measured = realisation_from_effect(inputs, lead_time_effect(delivery_effect), effort_share=effort_share)
    return (dataclasses.replace(params, assumptions=params.assumptions.replace(realisation_rate=measured.rate)),
            measured.note())


def roi_parameters(*, source: str | None, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None,
                   team: str | list[str] | None, hourly_rate: float = 100.0, realisation_rate: float = 0.7,
                   seats: int | None = None, licence_per_seat: float = 20.0, infra_per_month: float = 2_000.0,
                   one_off_cost: float = 50_000.0, llm_spend_per_month: float | None = None,
                   avoided_cost_per_hit: float | None = None, discount_rate: float = 0.10, horizon_months: int = 36,
                   scenarios: Mapping[str, Mapping[str, Any]] | None = None, n_simulations: int = 10_000,
                   seed: int = 0, output_dir: str | Path | None = None,
                   now: pd.Timestamp | str | None = None) -> RoiParams:
    """Check every parameter of the ROI notebook up front.

    ``source``, ``start``/``end``, ``team`` and ``output_dir`` are checked as for the workflow
    notebook (:func:`analytics_lib.report.params.workflow_parameters`; ``output_dir=None`` means
    ``reports/roi``); the assumptions by :class:`Assumptions`; each scenario's overrides on top
    of them; ``n_simulations`` must be 100 to 10 million.

    Parameters
    ----------
    source, start, end, team
        As for :func:`workflow_parameters` (the events the inputs are computed from).
    hourly_rate : float
        Loaded cost of one developer hour, USD per hour (default 100).
    realisation_rate : float
        Share 0-1 of the recorded manual effort that is really saved (default 0.7).
    seats : int, optional
        Paid seats per month; None (default): the active users of each month.
    licence_per_seat : float
        USD per seat per month (default 20).
    infra_per_month : float
        Fixed platform cost not in the event log, USD per month (default 2,000).
    one_off_cost : float
        Implementation cost at month 0, USD (default 50,000).
    llm_spend_per_month : float, optional
        LLM spend, USD per month; None (default): from the data.
    avoided_cost_per_hit : float, optional
        LLM cost avoided per cache hit, USD; None (default): the data's generation prices.
    discount_rate : float
        Annual discount rate, 0 <= rate < 1 (default 0.10).
    horizon_months : int
        Appraisal length in months, 1-120 (default 36).
    scenarios : mapping, optional
        ``{name: {assumption: value}}`` applied on top of the assumptions above; None
        (default): ``DEFAULT_SCENARIOS``.
    n_simulations : int
        Monte Carlo draws, 100 to 10,000,000 (default 10,000).
    seed : int
        Seed of the draws, a non-negative whole number (default 0).
    output_dir : str, path or None
        Folder for the written tables, created if missing; ``None`` means
        ``analytics_lib.core.paths.REPORTS / "roi"``.
    now : Timestamp or str, optional
        Pins "now" for relative dates (tests).

    Returns
    -------
    RoiParams

    Raises
    ------
    WorkbenchError
        For the first bad parameter, naming it.

    Examples
    --------
    >>> import tempfile
    >>> p = roi_parameters(source="sqlite://", start=None, end="today", team="team-a", hourly_rate=120,
    ...                    output_dir=tempfile.gettempdir())
    >>> p.assumptions.hourly_rate, p.team, p.months
    (120.0, ['team-a'], 48)
    """
    from analytics_lib.core import paths

    src = check_source(source)
    window = time_window(start, end, now=now)
    teams = check_team(team)
    a = Assumptions(hourly_rate=hourly_rate, realisation_rate=realisation_rate, seats=seats,
                    licence_per_seat=licence_per_seat, infra_per_month=infra_per_month, one_off_cost=one_off_cost,
                    llm_spend_per_month=llm_spend_per_month, avoided_cost_per_hit=avoided_cost_per_hit,
                    discount_rate=discount_rate, horizon_months=horizon_months)
    sc = check_scenarios(scenarios)
    horizons = [a.horizon_months, int(ASSUMPTIONS["horizon_months"].high)]
    for name, changes in sc.items():
        try:
            horizons.append(a.replace(**changes).horizon_months)
        except WorkbenchError as exc:
            raise WorkbenchError(f"scenarios: scenario {name!r}: {exc}") from exc
    if not is_whole(n_simulations) or not 100 <= n_simulations <= 10_000_000:
        raise WorkbenchError(f"n_simulations={n_simulations!r} must be a whole number from 100 to 10,000,000 "
                             "(10,000 gives percentiles to about 1 %)")
    if not is_whole(seed) or seed < 0:
        raise WorkbenchError(f"seed={seed!r} must be a non-negative whole number")
    out = check_output_dir(paths.REPORTS / "roi" if output_dir is None else output_dir)
    return RoiParams(source=src, window=window, team=teams, assumptions=a, scenarios=sc,
                     n_simulations=int(n_simulations), seed=int(seed), output_dir=out,
                     months=min(max(horizons), MAX_MONTHS))


# ============================================================================================
# Notebook parameters
@dataclass(frozen=True)
class PredictionParams:
    """The checked parameters of ``notebooks/user_predictions.ipynb``.

    Attributes
    ----------
    source : str
    cutoff : Timestamp
        The day the at-risk list is made for (a UTC midnight); events before it are loaded.
    churn_window_days : int
    team : list of str or None
        Teams whose users are listed; models are trained on all teams.
    top_k : int
    output_dir : pathlib.Path
    """

    source: str
    cutoff: pd.Timestamp
    churn_window_days: int
    team: list[str] | None
    top_k: int
    output_dir: Path

    @property
    def window(self) -> TimeWindow:
        """The events loaded: everything before the cutoff."""
        return TimeWindow(None, self.cutoff)

    def table(self) -> pd.DataFrame:
        """The parameters as ``parameter, value`` rows for display.

        Examples
        --------
        >>> import tempfile
        >>> p = prediction_parameters(source="sqlite://", cutoff="2025-06-30", churn_window_days=28, team=None,
        ...                           top_k=50, output_dir=tempfile.gettempdir())
        >>> p.table()["parameter"].tolist()
        ['source', 'cutoff', 'churn_window_days', 'team', 'top_k', 'output_dir']
        """
        rows = [("source", redact(self.source)), ("cutoff", self.cutoff.date().isoformat()),
                ("churn_window_days", f"{self.churn_window_days} days"),
                ("team", "all" if self.team is None else ", ".join(self.team)), ("top_k", f"{self.top_k:,}"),
                ("output_dir", str(self.output_dir))]
        return pd.DataFrame(rows, columns=["parameter", "value"])


def prediction_parameters(*, source: str | Path | None, cutoff: str | pd.Timestamp, churn_window_days: int,
                          team: str | list[str] | None, top_k: int, output_dir: str | Path | None,
                          now: pd.Timestamp | str | None = None) -> PredictionParams:
    """Check every parameter of the user-predictions notebook up front.

    Parameters
    ----------
    source : str, path or None
        As for :func:`analytics_lib.report.params.workflow_parameters` (``None``: the workbench store).
    cutoff : str or Timestamp
        A day: an ISO date, ``"today"``, ``"yesterday"`` or ``"-7d"``; not in the future.
    churn_window_days : int
        1 to 365.
    team : str, list of str or None
        Teams to list (``None``: all).
    top_k : int
        Users in the at-risk list, 1 to 100,000.
    output_dir : str, path or None
        ``None`` means ``reports/predictions``; created if missing.
    now : Timestamp or str, optional
        Pins "now" (tests).

    Returns
    -------
    PredictionParams

    Raises
    ------
    WorkbenchError
        For the first bad parameter, naming it.

    Examples
    --------
    >>> import tempfile
    >>> p = prediction_parameters(source="sqlite://", cutoff="today", churn_window_days=14, team="team-a", top_k=20,
    ...                           output_dir=tempfile.gettempdir(), now="2025-07-01 10:00")
    >>> p.cutoff.date().isoformat(), p.team, p.window.end == p.cutoff
    ('2025-07-01', ['team-a'], True)
    """
    from analytics_lib.core import paths

    src = check_source(source)
    if cutoff is None or (isinstance(cutoff, str) and not cutoff.strip()):
        raise WorkbenchError("cutoff is empty: give a day such as 'today' or '2025-06-30'")
    ts = parse_when(cutoff, now=now, name="cutoff")
    if ts != ts.normalize():
        raise WorkbenchError(f"cutoff={cutoff!r} has a time of day: give a day such as "
                             f"{ts.normalize().date().isoformat()!r} (predictions are made as of midnight UTC)")
    ref = parse_when("today", now=now)
    if ts > ref:
        raise WorkbenchError(f"cutoff={cutoff!r} ({ts.date().isoformat()}) is in the future: give today or an earlier day")
    window = check_positive_int(churn_window_days, "churn_window_days", high=365,
                           hint=" (churn = no activity in that many days after the cutoff; 28 is usual)")
    teams = check_team(team)
    k = check_positive_int(top_k, "top_k", high=100_000, hint=" (users in the at-risk list)")
    out = check_output_dir(paths.REPORTS / "predictions" if output_dir is None else output_dir)
    return PredictionParams(source=src, cutoff=ts.as_unit("us"), churn_window_days=window, team=teams, top_k=k,
                            output_dir=out)
