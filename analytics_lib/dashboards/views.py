"""Pure view functions: the numbers, tables and figures a dashboard shows for given control values
(``overview_view``, ``forecast_view``, ``roi_view``), and their formatting.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics_lib.analysis.workflow.kpis import KPI_COLUMNS
from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.timewindow import SERIES_FREQ, TimeWindow, check_granularity, time_window
from analytics_lib.dashboards.marts import ALL_TEAMS, KPI_FORMATS, OVERVIEW_KPIS, OverviewMart
from analytics_lib.dashboards.published import DashboardData, published_runs

if TYPE_CHECKING:
    from analytics_lib.dashboards.published import PublishedRun


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


def _period_key(day: pd.Series, granularity: str | None) -> np.ndarray:
    """Period start (naive UTC datetime64) of each day; one constant key when ``granularity`` is None."""
    from analytics_lib.core.timewindow import period_start

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
    return out[KPI_COLUMNS]


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
    from analytics_lib.core.timewindow import period_index

    mart = _mart(data, OverviewMart)
    g = check_granularity(granularity)
    if not _rows(mart.daily, window, team).any():
        return pd.DataFrame(columns=KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    out = _kpis(mart, window, team, g)
    out.index = pd.DatetimeIndex(out.index).tz_localize("UTC")
    out = _fill_counts(out.reindex(period_index(out.index.min(), out.index.max(), g)))
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
    from analytics_lib.forecast.estimator import Forecaster
    from analytics_lib.forecast.selection import backtest
    from analytics_lib.forecast.metrics import forecast_metrics

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
    from analytics_lib.forecast.selection import auto_forecast
    from analytics_lib.forecast.planning import capacity_table

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
            res = auto_forecast(history, h=int(horizon), freq=SERIES_FREQ[g], n_windows=n_windows, level=levels,
                                season=_SEASON[g])
            forecast, scores = res.forecast, res.scores
        else:
            forecast, scores = _single_model(history, model, h=int(horizon), freq=SERIES_FREQ[g], season=_SEASON[g],
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
    first = after + pd.tseries.frequencies.to_offset(SERIES_FREQ[granularity])
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
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import roi_result, tornado_table
    from analytics_lib.analysis.roi.simulation import roi_simulation, scenario_table

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
