"""Forecasting: long-format series, models with prediction intervals, backtests and metrics.

Series are long frames ``unique_id, ds, y`` (many series at once). Models follow
scikit-learn: ``Forecaster(models=[...], freq="D").fit(series).predict(h=28, level=[80, 95])``
returns ``unique_id, ds, <model>, <model>-lo-80, <model>-hi-80, ...``. Evaluation chains like
Prophet's diagnostics: ``forecast_metrics(backtest(fc, series, h=28, n_windows=3))``.

This module is the first slice of the forecasting issue: seasonal naive (the baseline every
forecast is compared with) and ETS from statsmodels; more models plug into ``MODELS``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .errors import WorkbenchError

SERIES_COLUMNS = ("unique_id", "ds", "y")
_SEASON = {"D": 7, "W": 52, "MS": 12, "M": 12, "h": 24, "H": 24}


def series_from_metric(metric: pd.DataFrame, *, by: str | None = None, value: str = "value") -> pd.DataFrame:
    """Turn a :func:`~analytics_lib.workflow.metric_table` result into long series ``unique_id, ds, y``.

    ``ds`` is the period start without time zone (UTC), as forecasting libraries expect.

    Examples
    --------
    >>> from analytics_lib import metric_table
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(20_000, days=56, seed=0).events
    >>> series_from_metric(metric_table(ev, "cost_usd", by="team")).columns.tolist()
    ['unique_id', 'ds', 'y']
    """
    uid = metric[by].astype(str) if by is not None else pd.Series("total", index=metric.index)
    ds = pd.to_datetime(metric["period"])
    ds = ds.dt.tz_convert("UTC").dt.tz_localize(None) if ds.dt.tz is not None else ds
    out = pd.DataFrame({"unique_id": uid.to_numpy(), "ds": ds.to_numpy(), "y": metric[value].astype("float64").to_numpy()})
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def check_series(series: pd.DataFrame, *, freq: str, min_length: int = 1) -> pd.DataFrame:
    """Validate long series and put them on a regular ``freq`` grid.

    Duplicated timestamps are summed (stated rule: values at one ``ds`` add up); missing
    steps inside a series become NaN (models that cannot take gaps fill them by linear
    interpolation); each series must have at least ``min_length`` observations.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2024-01-01", "2024-01-03"]), "y": [1.0, 3.0]})
    >>> len(check_series(s, freq="D"))
    3
    """
    missing = [c for c in SERIES_COLUMNS if c not in series.columns]
    if missing:
        raise WorkbenchError(f"series are missing columns: {', '.join(missing)} (expected unique_id, ds, y)")
    if series.empty:
        raise WorkbenchError("series are empty: there is nothing to forecast")
    df = series.loc[:, list(SERIES_COLUMNS)].copy()
    df["ds"] = pd.to_datetime(df["ds"])
    df["y"] = pd.to_numeric(df["y"], errors="coerce").astype("float64")
    df = df.groupby(["unique_id", "ds"], as_index=False, sort=True)["y"].sum(min_count=1)
    parts = []
    for uid, g in df.groupby("unique_id", sort=True):  # one pass per series (not per row)
        grid = pd.date_range(g["ds"].min(), g["ds"].max(), freq=freq)
        g = g.set_index("ds").reindex(grid)
        g.index.name = "ds"
        n_obs = int(g["y"].notna().sum())
        if n_obs < min_length:
            raise WorkbenchError(
                f"series {uid!r} has {n_obs} observations; the requested models need at least {min_length} "
                "(use a shorter horizon, fewer backtest windows, or a longer history)")
        parts.append(g.assign(unique_id=uid).reset_index())
    return pd.concat(parts, ignore_index=True)[list(SERIES_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Models: fit on one series (a float array without gaps), return mean and interval bounds.
@dataclass(frozen=True)
class _Fit:
    mean: np.ndarray
    sd: np.ndarray  # standard deviation of the forecast error per step (normal intervals)


def _fill(y: np.ndarray) -> np.ndarray:
    s = pd.Series(y)
    return s.interpolate(limit_direction="both").to_numpy() if s.isna().any() else y


def _seasonal_naive(y: np.ndarray, h: int, season: int) -> _Fit:
    y = _fill(y)
    m = season if len(y) > season else 1
    last = y[-m:]
    mean = np.array([last[i % m] for i in range(h)])
    resid = y[m:] - y[:-m]
    sigma = np.nanstd(resid, ddof=1) if len(resid) > 1 else 0.0
    k = np.floor(np.arange(h) / m) + 1  # complete seasons ahead (Hyndman & Athanasopoulos, 5.5)
    return _Fit(mean, sigma * np.sqrt(k))


def _ets(y: np.ndarray, h: int, season: int) -> _Fit:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = _fill(y)
    seasonal = "add" if len(y) >= 2 * season and season > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal=seasonal,
                                     seasonal_periods=season if seasonal else None,
                                     initialization_method="estimated").fit()
    mean = np.asarray(model.forecast(h), dtype="float64")
    resid = y - np.asarray(model.fittedvalues)
    sigma = np.nanstd(resid, ddof=1)
    # one-step error grows with the horizon; a random-walk-like widening is a conservative, stated rule
    return _Fit(mean, sigma * np.sqrt(np.arange(1, h + 1)))


MODELS: dict[str, Callable[[np.ndarray, int, int], _Fit]] = {"seasonal_naive": _seasonal_naive, "ets": _ets}


class Forecaster:
    """Fit several models per series and forecast with prediction intervals.

    Parameters
    ----------
    models : sequence of str
        Names from ``MODELS`` (``"seasonal_naive"``, ``"ets"``).
    freq : str
        pandas frequency of the series (``"D"``, ``"W-MON"``, ``"MS"``...).
    season : int, optional
        Season length; default from ``freq`` (7 for daily, 52 weekly, 12 monthly).

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> fc = Forecaster(models=["seasonal_naive"], freq="D").fit(s)
    >>> fc.predict(h=3, level=[80]).columns.tolist()
    ['unique_id', 'ds', 'seasonal_naive', 'seasonal_naive-lo-80', 'seasonal_naive-hi-80']
    """

    def __init__(self, models: Sequence[str] = ("seasonal_naive", "ets"), freq: str = "D", season: int | None = None):
        self.models = models
        self.freq = freq
        self.season = season

    def fit(self, series: pd.DataFrame) -> "Forecaster":
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise WorkbenchError(f"unknown models {unknown}: choose from {', '.join(MODELS)}")
        self.season_ = self.season or _SEASON.get(pd.tseries.frequencies.to_offset(self.freq).rule_code.split("-")[0], 1)
        self.series_ = check_series(series, freq=self.freq, min_length=max(3, self.season_ + 1))
        return self

    def predict(self, h: int, level: Sequence[int] = (80, 95)) -> pd.DataFrame:
        if h < 1:
            raise WorkbenchError(f"h={h} must be a positive number of steps")
        bad = [lv for lv in level if not 0 < lv < 100]
        if bad:
            raise WorkbenchError(f"level {bad} must be between 0 and 100 (percent)")
        parts = []
        for uid, g in self.series_.groupby("unique_id", sort=True):  # one fit per series and model
            y = g["y"].to_numpy(dtype="float64")
            future = pd.date_range(g["ds"].iloc[-1], periods=h + 1, freq=self.freq)[1:]
            out = pd.DataFrame({"unique_id": uid, "ds": future})
            for name in self.models:
                fit = MODELS[name](y, h, self.season_)
                out[name] = fit.mean
                for lv in level:
                    z = stats.norm.ppf(0.5 + lv / 200)
                    out[f"{name}-lo-{lv}"] = fit.mean - z * fit.sd
                    out[f"{name}-hi-{lv}"] = fit.mean + z * fit.sd
            parts.append(out)
        return pd.concat(parts, ignore_index=True)


def backtest(forecaster: Forecaster, series: pd.DataFrame, *, h: int, n_windows: int = 3, step: int | None = None,
             level: Sequence[int] = (80,)) -> pd.DataFrame:
    """Rolling-origin cross-validation: refit at each cutoff and forecast the next ``h`` steps.

    The last window ends at the last observation; earlier cutoffs are ``step`` (default
    ``h``) steps apart. Returns ``unique_id, ds, cutoff, y, <model>..., <model>-lo/hi-<level>``.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> cv = backtest(Forecaster(models=["seasonal_naive"], freq="D"), s, h=7, n_windows=2)
    >>> sorted(cv["cutoff"].dt.strftime("%Y-%m-%d").unique())
    ['2024-02-15', '2024-02-22']
    """
    step = step or h
    full = check_series(series, freq=forecaster.freq)
    parts = []
    for uid, g in full.groupby("unique_id", sort=True):
        n = len(g)
        for w in range(n_windows, 0, -1):  # n_windows refits per series
            end = n - h - (w - 1) * step
            if end < 2:
                raise WorkbenchError(f"series {uid!r} is too short for {n_windows} windows of h={h} (step {step})")
            train, test = g.iloc[:end], g.iloc[end:end + h]
            pred = Forecaster(forecaster.models, forecaster.freq, forecaster.season).fit(train).predict(len(test), level)
            pred = pred.assign(cutoff=train["ds"].iloc[-1]).merge(test[["ds", "y"]], on="ds")
            parts.append(pred)
    out = pd.concat(parts, ignore_index=True)
    first = ["unique_id", "ds", "cutoff", "y"]
    return out[first + [c for c in out.columns if c not in first]]


def _model_columns(cv: pd.DataFrame) -> list[str]:
    return [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y") and "-lo-" not in c and "-hi-" not in c]


def forecast_metrics(cv: pd.DataFrame, *, train: pd.DataFrame | None = None, season: int = 7,
                     level: int = 80) -> pd.DataFrame:
    """Accuracy of backtest forecasts per series and model.

    MAE, RMSE, sMAPE (in %, 0-200), MASE (MAE scaled by the in-sample MAE of the seasonal
    naive forecast on ``train``, or on the actuals when ``train`` is None), interval
    ``coverage`` and mean ``width`` at ``level``, and the pinball loss averaged over the
    interval's two quantiles.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> cv = backtest(Forecaster(models=["seasonal_naive"], freq="D"), s, h=7, n_windows=2)
    >>> forecast_metrics(cv).columns.tolist()[:4]
    ['unique_id', 'model', 'mae', 'rmse']
    """
    rows = []
    for uid, g in cv.groupby("unique_id", sort=True):
        base = (train[train["unique_id"] == uid]["y"] if train is not None else g["y"]).to_numpy(dtype="float64")
        scale = np.nanmean(np.abs(base[season:] - base[:-season])) if len(base) > season else np.nan
        y = g["y"].to_numpy(dtype="float64")
        for m in _model_columns(cv):
            f = g[m].to_numpy(dtype="float64")
            err = y - f
            row = {"unique_id": uid, "model": m, "mae": np.nanmean(np.abs(err)), "rmse": np.sqrt(np.nanmean(err ** 2)),
                   "smape": np.nanmean(200 * np.abs(err) / (np.abs(y) + np.abs(f)))}
            row["mase"] = row["mae"] / scale if scale and scale > 0 else np.nan
            lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
            if lo in g and hi in g:
                a, b = g[lo].to_numpy(dtype="float64"), g[hi].to_numpy(dtype="float64")
                row["coverage"] = float(np.mean((y >= a) & (y <= b)))
                row["width"] = float(np.mean(b - a))
                q_lo, q_hi = (1 - level / 100) / 2, 1 - (1 - level / 100) / 2
                pin = lambda q, pred: np.mean(np.maximum(q * (y - pred), (q - 1) * (y - pred)))  # noqa: E731
                row["pinball"] = float((pin(q_lo, a) + pin(q_hi, b)) / 2)
            rows.append(row)
    return pd.DataFrame(rows)
