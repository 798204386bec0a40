"""The forecast dashboard's view: a metric's series from the mart, a forecast with intervals by the
chosen model, or the published forecast of the last scheduled run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.timewindow import SERIES_FREQ, check_granularity, season_length
from analytics_lib.dashboards.marts import OverviewMart
from analytics_lib.dashboards.published import DashboardData, published_runs

if TYPE_CHECKING:
    from analytics_lib.dashboards.published import PublishedRun
from analytics_lib.dashboards.views.common import (
    _mart,
    _team_filter,
    format_kpi,
    kpi_change,
    parse_number,
)
from analytics_lib.dashboards.views.overview import mart_kpis

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
FORECAST_MODELS = ("auto", "ets", "theta", "arima", "lag_regressor", "seasonal_median", "seasonal_naive")




def mart_series(data: DashboardData | OverviewMart, metric: str, *, team: str | None = None,
                granularity: str = "D") -> pd.DataFrame:
    """A KPI of the mart as a long series ``unique_id, ds, y`` for the forecasting models.

    ``unique_id`` is the team or ``"total"``; ``ds`` is the period start without time zone.

    Parameters
    ----------
    data : DashboardData or OverviewMart
        The overview's mart.
    metric : str
        A key of ``FORECAST_METRICS``: ``"events"``, ``"users"``, ``"sessions"``, ``"cost_usd"``
        or ``"latency_p95"``.
    team : str, optional
        One team; None (default): all teams, as ``unique_id="total"``.
    granularity : {"D", "W", "M"}
        The period (default ``"D"``).

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import overview_mart
    >>> from analytics_lib import synthetic_events
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
        """Keyword arguments of :func:`analytics_lib.report.plots.forecast.plot_forecast` for this view."""
        return {"history": self.history, "forecast": self.forecast, "capacity": self.capacity_value}


def _single_model(series: pd.DataFrame, model: str, *, h: int, freq: str, season: int, n_windows: int,
                  level: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from analytics_lib.forecast.estimator import Forecaster
    from analytics_lib.forecast.metrics import forecast_metrics
    from analytics_lib.forecast.selection import backtest

    pred = Forecaster(models=[model], granularity=freq).fit(series).predict(horizon=h, level=level)
    cols = {model: "forecast", **{f"{model}-{s}-{lv}": f"{s}-{lv}" for lv in level for s in ("lo", "hi")}}
    forecast = pred.rename(columns=cols)
    forecast.insert(2, "model", model)
    models = list(dict.fromkeys([model, "seasonal_naive"]))
    # parameters estimated at the first cutoff and reused at later ones, as auto_forecast does
    cv = backtest(Forecaster(models=models, granularity=freq), series, horizon=h, n_windows=n_windows, level=[level[0]],
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
    >>> from analytics_lib.forecast.estimator import Forecaster
    >>> from analytics_lib.forecast.estimator import Forecaster
    >>> from analytics_lib.dashboards.marts import overview_mart
    >>> from analytics_lib import synthetic_events
    >>> mart = overview_mart(synthetic_events(20_000, days=90, seed=0).events, insights=False)
    >>> v = forecast_view(mart, metric="events", horizon=14, model="theta", capacity="")
    >>> len(v.forecast), v.capacity.empty
    (14, True)
    """
    from analytics_lib.forecast.planning import capacity_table
    from analytics_lib.forecast.selection import auto_forecast

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
    need = horizon * (n_windows + 1) + season_length(SERIES_FREQ[g])
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
            res = auto_forecast(history, horizon=int(horizon), granularity=SERIES_FREQ[g], n_windows=n_windows, level=levels,
                                season=season_length(SERIES_FREQ[g]))
            forecast, scores = res.forecast, res.scores
        else:
            forecast, scores = _single_model(history, model, h=int(horizon), freq=SERIES_FREQ[g], season=season_length(SERIES_FREQ[g]),
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
