"""The dashboards' small tables (marts): computed from events (``dashboard_tables``) so that every
number is exact for any window of whole days, team and granularity. No ipywidgets here: the
scheduled marts job imports this.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import DAY_US

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
    "experiments": ("experiment_status", "experiment_effects", "experiment_looks"),
}
#: The experiments dashboard's metrics: primary metrics and guardrails (analysis.experiments.EXPERIMENT_METRICS).
EXPERIMENT_PRIMARY = ("accept_rate", "satisfaction", "cost_per_accept")
EXPERIMENT_GUARDRAILS = ("latency_ms", "error_rate")
_PREFIX = "dash_"


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
        The step rows of ``bottleneck_table(events, granularity="D", by=("event_type", "model",
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
        Also rank the insights (:func:`analytics_lib.analysis.insights.ranking.ranked_insights`; about 40 s
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
    >>> from analytics_lib import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> mart.daily.columns[:4].tolist(), len(mart.teams) > 1
    (['day', 'team', 'events', 'cache_queries'], True)
    """
    from analytics_lib.analysis.workflow.bottlenecks import bottleneck_table
    from analytics_lib.analysis.workflow.funnels import funnel_table
    from analytics_lib.analysis.workflow.sessions import sessionize

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
    day_num = (day.dt.tz_localize(None).to_numpy().view("int64") // DAY_US)
    parts = []
    for t in sorted(pd.unique(team)):  # a handful of teams; each call is vectorized inside
        rows = (team == t).to_numpy()
        f = funnel_table(ev.loc[rows].assign(_day=day_num[rows]), funnel_steps, unit="session", by="_day", gap=gap)
        parts.append(pd.DataFrame({"day": pd.to_datetime(f["_day"].astype("int64") * DAY_US, unit="us", utc=True),
                                   "team": t, "step": f["step"].astype("int64"),
                                   "step_name": f["step_name"].astype(str), "entities": f["entities"].astype("int64")}))
    funnel = pd.concat(parts, ignore_index=True).sort_values(["day", "team", "step"], kind="stable") \
        .reset_index(drop=True)
    teams = pd.CategoricalDtype(sorted(pd.unique(team)))
    for table in (daily, user_days, session_days, latency, funnel):  # fast team filters, small files
        table["team"] = table["team"].astype(teams)

    _progress(progress, 3, total, "bottlenecks per day")
    ev_b = ev if not ev[S.TEAM].isna().any() else ev.assign(**{S.TEAM: team.to_numpy()})
    b = bottleneck_table(ev_b, granularity="D", by=(S.EVENT_TYPE, S.MODEL, S.TEAM), gap=gap)
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
            from analytics_lib.analysis.insights.model import insight_table
            from analytics_lib.analysis.insights.ranking import ranked_insights
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
    """:class:`analytics_lib.analysis.roi.inputs.RoiInputs` as plain tables (``roi_meta``, ``roi_daily``...),
    so a run can publish them and a dashboard rebuild them with :func:`roi_inputs_from_tables`.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
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
    """Rebuild :class:`analytics_lib.analysis.roi.inputs.RoiInputs` from :func:`roi_input_tables` output.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib.analysis.roi.inputs import roi_inputs
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, seed=0).events, months=12, projection="flat")
    >>> roi_inputs_from_tables(roi_input_tables(inputs)).months
    12
    """
    from analytics_lib.analysis.roi.inputs import RoiInputs

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
    >>> from analytics_lib import synthetic_events
    >>> list(overview_tables(overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)))[:3]
    ['meta', 'daily', 'user_days']
    """
    return {name: getattr(mart, name) for name in MART_TABLES["overview"]}


def overview_mart_from_tables(tables: Mapping[str, pd.DataFrame]) -> OverviewMart:
    """Rebuild an :class:`OverviewMart` from its tables (as read from Parquet).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> mart = overview_mart(synthetic_events(3_000, days=28, seed=0).events, insights=False)
    >>> overview_mart_from_tables(overview_tables(mart)).teams == mart.teams
    True
    """
    missing = [n for n in MART_TABLES["overview"] if n not in tables]
    if missing:
        raise WorkbenchError(f"the overview mart is missing tables {missing}: rebuild it with "
                             "`workbench dashboards build`")
    return OverviewMart(**{n: tables[n] for n in MART_TABLES["overview"]})


@dataclass(frozen=True)
class ExperimentMart:
    """Every experiment of the assignment table, analysed once for the experiments dashboard.

    Attributes
    ----------
    status : DataFrame
        One row per experiment: ``experiment, users, srm_p, control, message`` (``message`` says
        why an experiment has no effects, e.g. a sample ratio mismatch; empty otherwise).
    effects : DataFrame
        :func:`~analytics_lib.analysis.experiments.experiment_results`' effects of each, with ``experiment``.
    looks : DataFrame
        :func:`~analytics_lib.analysis.experiments.experiment_looks` of each, with ``experiment``.
    """

    status: pd.DataFrame
    effects: pd.DataFrame
    looks: pd.DataFrame

    @property
    def experiments(self) -> list[str]:
        """The experiments' names, in the table's order."""
        return self.status["experiment"].astype(str).tolist()


def experiment_mart(events: pd.DataFrame, assignments: pd.DataFrame, *,
                    progress: Callable[[int, int, str], None] | None = None) -> ExperimentMart:
    """Analyse every experiment of ``assignments`` on ``events`` (:data:`EXPERIMENT_PRIMARY`,
    :data:`EXPERIMENT_GUARDRAILS`); an experiment that cannot be analysed keeps its reason.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    assignments : DataFrame
        The assignment table.
    progress : callable, optional
        ``progress(step, total, label)``.
    """
    from analytics_lib.analysis.experiments import experiment_looks, experiment_results, validate_assignments

    names = list(dict.fromkeys(validate_assignments(assignments).assignments["experiment"]))
    status, effects, looks = [], [], []
    for i, name in enumerate(names):
        _progress(progress, i, len(names), f"experiment {name}")
        try:
            r = experiment_results(events, assignments, name, metrics=EXPERIMENT_PRIMARY,
                                   guardrails=EXPERIMENT_GUARDRAILS)
            lk = experiment_looks(events, assignments, name, metrics=[*EXPERIMENT_PRIMARY, *EXPERIMENT_GUARDRAILS],
                                  control=r.control)
        except WorkbenchError as exc:
            status.append({"experiment": name, "users": 0, "srm_p": np.nan, "control": "", "message": str(exc)})
            continue
        status.append({"experiment": name, "users": sum(r.users.values()), "srm_p": r.srm_p, "control": r.control,
                       "message": ""})
        effects.append(r.effects.assign(experiment=name))
        looks.append(lk.assign(experiment=name))
    if not names:
        raise WorkbenchError("the assignment table holds no usable row: nothing to analyse")
    return ExperimentMart(pd.DataFrame(status), pd.concat(effects, ignore_index=True) if effects else pd.DataFrame(),
                          pd.concat(looks, ignore_index=True) if looks else pd.DataFrame())


def experiment_mart_from_tables(tables: Mapping[str, pd.DataFrame]) -> ExperimentMart:
    """The mart from its tables (``experiment_status``, ``experiment_effects``, ``experiment_looks``)."""
    missing = [n for n in MART_TABLES["experiments"] if n not in tables]
    if missing:
        raise WorkbenchError(f"the experiments mart lacks the table(s) {', '.join(missing)}")
    return ExperimentMart(tables["experiment_status"], tables["experiment_effects"], tables["experiment_looks"])


@dataclass(frozen=True)
class DeliveryMart:
    """Validated delivery events, their weekly four keys per team, and the adoption effect
    (``effect`` None with ``effect_message`` saying why when it cannot be estimated)."""

    data: Any
    weekly: pd.DataFrame
    effect: Any
    effect_message: str

    @property
    def teams(self) -> list[str]:
        """The teams with deployments."""
        return sorted(set(self.data.deployments["team"]))


def delivery_mart(data, *, usage: pd.DataFrame | None = None) -> DeliveryMart:
    """The delivery dashboard's mart: the weekly four keys per team and the effect, computed once.

    Parameters
    ----------
    data : DeliveryData
        Validated delivery events (:func:`~analytics_lib.data.delivery.read_delivery`).
    usage : DataFrame, optional
        Usage events: adoption dates when the delivery events carry none.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> m = delivery_mart(synthetic_delivery(seed=0).data)
    >>> len(m.teams), m.effect_message
    (10, '')
    """
    from analytics_lib.analysis.delivery import adoption_effect, dora_metrics

    weekly = dora_metrics(data, granularity="W")
    try:
        effect, message = adoption_effect(data, usage=usage), ""
    except WorkbenchError as exc:
        effect, message = None, str(exc)
    return DeliveryMart(data, weekly, effect, message)


def dashboard_tables(events: pd.DataFrame, *, parts: Sequence[str] = ("overview", "roi"), insights: bool = True,
                     gap: str = "30min", source: str = "<frame>",
                     progress: Callable[[int, int, str], None] | None = None,
                     assignments: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every dashboard mart table, named as published: ``dash_daily``, ``dash_roi_monthly``...

    This is what a scheduled run writes next to its other tables so that the dashboards open
    on it (e.g. the workflow notebook's last cell:
    ``write_tables(dashboard_tables(events), params.output_dir)``).

    Parameters
    ----------
    events : DataFrame
        Validated events (all teams).
    parts : sequence of {"overview", "roi", "experiments"}
        Which marts (``overview`` feeds the workflow overview and the forecast explorer).
    insights, gap, source, progress
        As for :func:`overview_mart`.
    assignments : DataFrame, optional
        The experiment assignment table (needed by the ``experiments`` part).

    Returns
    -------
    dict of str to DataFrame

    Examples
    --------
    >>> from analytics_lib import synthetic_events
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
        from analytics_lib.analysis.roi.inputs import roi_inputs

        _progress(progress, 1, 1, "ROI inputs")
        try:
            inputs = roi_inputs(events, months=ROI_MONTHS, gap=gap)
        except WorkbenchError as exc:
            if "projection='flat'" not in str(exc):
                raise
            inputs = roi_inputs(events, months=ROI_MONTHS, gap=gap, projection="flat")
        out |= roi_input_tables(inputs)
    if "experiments" in parts:
        if assignments is None:
            raise WorkbenchError("the experiments mart needs the experiment assignment table (assignments=...)")
        m = experiment_mart(events, assignments, progress=progress)
        out |= {"experiment_status": m.status, "experiment_effects": m.effects, "experiment_looks": m.looks}
    return {f"{_PREFIX}{k}": v for k, v in out.items()}
