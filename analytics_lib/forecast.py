"""Forecasting: long-format series, models with prediction intervals, backtests, selection, capacity.

Series are long frames ``unique_id, ds, y`` (many series at once). Models follow
scikit-learn: ``Forecaster(models=[...], freq="D").fit(series).predict(h=28, level=[80, 95])``
returns ``unique_id, ds, <model>, <model>-lo-80, <model>-hi-80, ...``. Evaluation chains like
Prophet's diagnostics: ``forecast_metrics(backtest(fc, series, h=28, n_windows=3))``.
:func:`auto_forecast` backtests every candidate per series, adds a median ensemble of the
best ``k``, picks the best by a backtest score and returns the forecast together with the
scores that justify it; :func:`capacity_table` turns a forecast into crossing dates and
probabilities.

Models (``MODELS``), each fitted per series on a gap-free float array (gaps are filled by
linear interpolation for fitting; metrics ignore them):

``seasonal_naive``
    The last season repeated; the baseline every forecast is compared with.
``ets``
    Holt-Winters exponential smoothing (statsmodels) with a damped additive trend and
    additive or multiplicative seasonality chosen by AICc; analytic ETS(A,Ad,A) variance.
``arima``
    SARIMA (statsmodels state space): seasonal differencing when STL seasonal strength is
    above 0.64, a KPSS test for the first difference, (p, q) from a small grid by AICc.
``theta``
    The Theta method (statsmodels ``ThetaModel``, deseasonalized when a seasonality test
    says so) with its analytic intervals.
``prophet``
    Prophet with default settings plus optional country holidays and event dates (e.g.
    planted holidays or incidents) as holidays; intervals from its simulated paths.
``lag_regressor``
    scikit-learn ridge regression on lags, a seasonal mean, calendar dummies and a trend,
    forecast recursively; intervals from residual-bootstrapped simulated paths.
"""
from __future__ import annotations

import logging
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .errors import WorkbenchError

SERIES_COLUMNS = ("unique_id", "ds", "y")
_SEASON = {"D": 7, "B": 5, "W": 52, "MS": 12, "M": 12, "ME": 12, "QS": 4, "Q": 4, "h": 24, "H": 24}
DEFAULT_AUTO_MODELS = ("ets", "theta", "arima", "lag_regressor")  # seasonal naive is always scored
_LOCAL_MAX_STEPS = 500  # history used by the local models (ets, theta, arima): recent behaviour matters
#: Multiplicative ETS seasonality is chosen only when its AICc is lower than the additive model's by
#: more than this (Burnham & Anderson: a difference under 2 is no evidence). Ties go to the simpler,
#: better-conditioned additive model, so the choice cannot flip on rounding: a multiplicative fit
#: that the optimiser leaves near its start values differs between CPUs' floating-point paths.
_MUL_AICC_MARGIN = 2.0

AGG_RULES = ("sum", "mean", "median", "max", "min", "last")


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


def series_from_events(events: pd.DataFrame, metric: str = "events", *, agg: str = "sum", granularity: str = "D",
                       by: str | None = None, filters: dict | None = None, total: bool = False) -> pd.DataFrame:
    """Long series of any KPI of the workflow metric query, per group or in total.

    Parameters
    ----------
    metric, agg, granularity, filters
        As in :func:`~analytics_lib.workflow.metric_table` (``"events"``, ``"users"``,
        ``"cost_usd"`` with ``agg="sum"``, ``"latency_ms"`` with ``agg="p95"``...).
    by : str, optional
        ``team``, ``model``, ``feature``...: one series per value.
    total : bool
        With ``by``, also add the all-groups series as ``unique_id="total"``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(20_000, days=56, seed=0).events
    >>> s = series_from_events(ev, "cost_usd", by="model", total=True)
    >>> "total" in set(s["unique_id"])
    True
    """
    from .workflow import metric_table

    out = series_from_metric(metric_table(events, metric, agg=agg, granularity=granularity, by=by, filters=filters), by=by)
    if by is not None and total:
        whole = series_from_metric(metric_table(events, metric, agg=agg, granularity=granularity, filters=filters))
        out = pd.concat([out, whole], ignore_index=True)
    return out


def _floor_to(ds: pd.Series, freq: str) -> np.ndarray:
    """Start of the ``freq`` period that holds each timestamp (vectorized, any pandas offset)."""
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return ds.dt.floor(off).to_numpy()
    day = ds.dt.normalize()
    grid = pd.date_range(off.rollback(day.min()), day.max(), freq=off)
    return grid[grid.searchsorted(day.to_numpy(), side="right") - 1].to_numpy()


def check_series(series: pd.DataFrame, *, freq: str, min_length: int = 1, agg: str = "sum") -> pd.DataFrame:
    """Validate long series and put them on a regular ``freq`` grid.

    Stated resampling rule: every timestamp is floored to the start of its ``freq`` period
    and values within one period (irregular timestamps, duplicated timestamps) are combined
    with ``agg`` (``"sum"`` for counts and cost; use ``"mean"`` for rates and latencies).
    Missing periods inside a series become NaN (models that cannot take gaps fill them by
    linear interpolation; metrics skip them); zeros stay zeros. Each series must have at
    least ``min_length`` observations.

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
    if agg not in AGG_RULES:
        raise WorkbenchError(f"agg={agg!r} is not a resampling rule: use one of {', '.join(AGG_RULES)}")
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise WorkbenchError(f"freq={freq!r} is not a pandas frequency (e.g. 'D', 'W-MON', 'MS', 'h', '5min')") from exc
    df = series.loc[:, list(SERIES_COLUMNS)].copy()
    ds = pd.to_datetime(df["ds"])
    if ds.isna().any():
        raise WorkbenchError(f"{int(ds.isna().sum())} series rows have no timestamp in 'ds': fix or remove them")
    df["ds"] = _floor_to(ds.dt.tz_convert("UTC").dt.tz_localize(None) if ds.dt.tz is not None else ds, freq)
    df["y"] = pd.to_numeric(df["y"], errors="coerce").astype("float64")
    grouped = df.groupby(["unique_id", "ds"], sort=True)["y"]
    df = (grouped.sum(min_count=1) if agg == "sum" else grouped.agg(agg)).reset_index()
    bounds = df.groupby("unique_id", sort=True)["ds"].agg(["min", "max"])
    grids = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(lo, hi, freq=freq)})  # one grid per series
             for uid, lo, hi in bounds.itertuples()]
    out = pd.concat(grids, ignore_index=True).merge(df, on=["unique_id", "ds"], how="left")
    n_obs = out.groupby("unique_id", sort=True)["y"].count()
    short = n_obs[n_obs < min_length]
    if len(short):
        raise WorkbenchError(
            f"series {short.index[0]!r} has {int(short.iloc[0])} observations; the requested models need at least "
            f"{min_length} (use a shorter horizon, fewer backtest windows, a coarser model list, or a longer history)")
    return out[list(SERIES_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Models: fit on one series (a float array without gaps), return mean and either a standard
# deviation per step (normal intervals) or simulated paths (empirical quantiles).
@dataclass(frozen=True)
class _Fit:
    mean: np.ndarray
    sd: np.ndarray | None = None
    paths: np.ndarray | None = None  # shape (n_paths, h)
    components: pd.DataFrame | None = None  # in-sample trend / seasonal, indexed like the training ds


@dataclass(frozen=True)
class _Context:
    freq: str
    season: int
    holidays: pd.DataFrame | None = None  # Prophet-style ``holiday, ds``
    country_holidays: str | None = None
    n_paths: int = 500
    seed: int = 0
    refit: bool = True  # backtests: re-estimate at every cutoff, or reuse the first cutoff's parameters


def _fill(y: np.ndarray) -> np.ndarray:
    s = pd.Series(y)
    return s.interpolate(limit_direction="both").to_numpy() if s.isna().any() else y


def _seasonal_naive(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
                    memo: dict | None = None) -> _Fit:
    y, h = _fill(y), len(future)
    m = ctx.season if len(y) > ctx.season else 1
    last = y[-m:]
    mean = last[np.arange(h) % m]
    resid = y[m:] - y[:-m]
    sigma = np.nanstd(resid, ddof=1) if len(resid) > 1 else 0.0
    k = np.floor(np.arange(h) / m) + 1  # complete seasons ahead (Hyndman & Athanasopoulos, 5.5)
    return _Fit(mean, sd=sigma * np.sqrt(k))


def _ets(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
         memo: dict | None = None) -> _Fit:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    h, m = len(future), ctx.season
    y, ds = _fill(y)[-max(_LOCAL_MAX_STEPS, 10 * m):], ds[-max(_LOCAL_MAX_STEPS, 10 * m):]
    seasonals = (["add", "mul"] if (y > 0).all() else ["add"]) if m > 1 and len(y) >= 2 * m + 2 else [None]
    # initial states matter on short series (estimate them) and are forgotten on long ones
    # (a decomposition heuristic is 3x faster there, with the same forecasts)
    init = "estimated" if len(y) < 300 else "heuristic"
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if memo and memo.get("structure_only"):  # a fresh fit of the seasonality chosen at an earlier cutoff
            # (multiplicative must win against additive again on the whole series: see _MUL_AICC_MARGIN)
            hinted = memo["seasonal"]
            seasonals = (["add", "mul"] if hinted == "mul" else [hinted]) if hinted in seasonals else seasonals
        elif memo:  # the parameters of an earlier cutoff: only the states are updated with the new data
            seasonal, fixed = memo["seasonal"], memo["params"]
            best = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal=seasonal,
                                        seasonal_periods=m if seasonal else None,
                                        initialization_method="heuristic" if len(y) >= 2 * m + 10 else "estimated"
                                        ).fit(optimized=False, **fixed)
        for seasonal in seasonals if best is None else []:  # AICc decides between additive and multiplicative
            res = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal=seasonal,
                                       seasonal_periods=m if seasonal else None,
                                       initialization_method=init).fit(use_brute=False)
            if best is None or (np.isfinite(res.aicc) and res.aicc < best.aicc - _MUL_AICC_MARGIN):
                best = res
        if memo is not None and not memo:
            keys = ["smoothing_level", "smoothing_trend", "damping_trend"] + (["smoothing_seasonal"]
                                                                              if best.model.seasonal else [])
            memo.update(seasonal=best.model.seasonal, params={k: float(best.params[k]) for k in keys})
    mean = np.asarray(best.forecast(h), dtype="float64")
    resid = y - np.asarray(best.fittedvalues)
    sigma = np.sqrt(np.nanmean(resid ** 2))
    p = best.params
    alpha, beta, phi = p["smoothing_level"], p.get("smoothing_trend", 0.0) or 0.0, p.get("damping_trend", 1.0) or 1.0
    gamma = (p.get("smoothing_seasonal", 0.0) or 0.0) if best.model.seasonal else 0.0
    j = np.arange(1, h)
    phi_j = np.cumsum(phi ** np.arange(1, h + 1))[:-1] if h > 1 else np.array([])
    c = alpha * (1 + beta * phi_j) + gamma * ((j % m) == 0 if m > 1 else 0)
    var = sigma ** 2 * np.concatenate([[1.0], 1 + np.cumsum(c ** 2)])  # ETS(A,Ad,A), Hyndman et al. (2008) 6.1
    if best.model.seasonal == "mul":  # multiplicative seasonality scales the error with the level
        var = var * (mean / np.nanmean(np.asarray(best.fittedvalues)[-m:])) ** 2
    components = pd.DataFrame({"trend": np.asarray(best.level), "seasonal": np.asarray(best.season)
                               if best.model.seasonal else 0.0}, index=ds)
    return _Fit(mean, sd=np.sqrt(var), components=components)


def _seasonal_strength(y: np.ndarray, m: int) -> float:
    from statsmodels.tsa.seasonal import STL

    res = STL(y, period=m, robust=False).fit()
    rem = np.var(res.resid)
    return float(max(0.0, 1 - rem / np.var(res.seasonal + res.resid))) if rem > 0 else 1.0


def _hannan_rissanen(w: np.ndarray, p: int, q: int, seasonal_q: int, m: int) -> np.ndarray:
    """Hannan-Rissanen start values: a long AR by least squares estimates the innovations,
    then one regression of ``w`` on its lags and the lagged innovations (two ``lstsq`` calls)."""
    k = int(min(max(2 * m, 10), len(w) // 4))
    lagged = lambda x, lags: np.column_stack([x[k + m + 1 - j:len(x) - j] for j in lags])  # noqa: E731
    X = np.column_stack([w[k - j:len(w) - j] for j in range(1, k + 1)])
    e = np.r_[np.zeros(k), w[k:] - X @ np.linalg.lstsq(X, w[k:], rcond=None)[0]]
    cols = [lagged(w, range(1, p + 1))] if p else []
    cols += [lagged(e, range(1, q + 1))] if q else []
    cols += [lagged(e, [m])] if seasonal_q else []
    if not cols:
        return np.empty(0)
    return np.linalg.lstsq(np.column_stack(cols), w[k + m + 1:], rcond=None)[0]


def _css_arma(w: np.ndarray, p: int, q: int, seasonal_q: int, m: int, mean: bool, *, refine: bool = True):
    """Conditional-sum-of-squares ARMA estimates (R's ``arima(method="CSS")``), vectorized.

    The residuals of ``phi(B) (w - mu) = theta(B) Theta(B^m) e`` are one linear filter
    (``scipy.signal.lfilter``), so each objective evaluation is a C loop, not a Kalman pass.
    Starts from Hannan-Rissanen estimates; ``refine=False`` stops there (used to rank the
    candidate orders cheaply). Returns ``(params, sigma2, aicc)`` with params ordered as
    statsmodels' SARIMAX (``[mean], ar, ma, seasonal ma``) or None when the fit is not
    stationary.
    """
    from scipy.optimize import minimize
    from scipy.signal import lfilter

    burn = p + q + seasonal_q * m
    k_mean = int(mean)

    def residuals(theta: np.ndarray) -> np.ndarray:
        mu = theta[0] if mean else 0.0
        ar = np.r_[1.0, -theta[k_mean:k_mean + p]]
        ma = np.r_[1.0, theta[k_mean + p:k_mean + p + q]]
        if seasonal_q:
            sma = np.zeros(m + 1)
            sma[0], sma[m] = 1.0, theta[-1]
            ma = np.convolve(ma, sma)
        return lfilter(ar, ma, w - mu)[burn:]

    bounds = [(None, None)] * k_mean + [(-0.98, 0.98)] * (p + q + seasonal_q)
    x = np.r_[[w.mean()] if mean else [], _hannan_rissanen(w - w.mean() if mean else w, p, q, seasonal_q, m)]
    x = np.clip(x, [-np.inf] * k_mean + [-0.98] * (p + q + seasonal_q), [np.inf] * k_mean + [0.98] * (p + q + seasonal_q))
    if refine:
        x = minimize(lambda t: float(np.sum(residuals(t) ** 2)), x, method="L-BFGS-B", bounds=bounds).x
    ar = x[k_mean:k_mean + p]
    if p and np.any(np.abs(np.roots(np.r_[1.0, -ar][::-1])) <= 1.0):  # AR roots must lie outside the unit circle
        return None
    e = residuals(x)
    n, k = len(e), len(x) + 1
    sigma2 = float(np.mean(e ** 2))
    if not np.isfinite(sigma2):
        return None
    aic = n * (np.log(2 * np.pi * sigma2) + 1) + 2 * k
    return x, sigma2, aic + 2 * k * (k + 1) / max(n - k - 1, 1)


def _arima(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
           memo: dict | None = None) -> _Fit:
    from statsmodels.tsa.stattools import kpss

    h, m = len(future), ctx.season
    y = _fill(y)[-max(_LOCAL_MAX_STEPS, 10 * m):]  # older history adds cost, not accuracy, to a local model
    if memo and not memo.get("structure_only"):  # the order and parameters of an earlier cutoff: only the filter runs
        return _arima_filter(y, h, m, **{k: memo[k] for k in ("d", "D", "p", "q", "params", "sigma2")})
    best = None
    if memo:  # a fresh estimate of the orders chosen at an earlier cutoff (the search below if not stationary)
        d, D, p, q = memo["d"], memo["D"], memo["p"], memo["q"]
        best = _css_arma(_differenced(y, d, D, m), p, q, D, m, mean=d + D == 0)
    if best is None:
        D = int(m > 1 and len(y) >= 3 * m and _seasonal_strength(y, m) > 0.64)  # Wang, Smith & Hyndman (2006)
        z = _differenced(y, 0, D, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = int(np.ptp(z) > 0 and kpss(z, regression="c", nlags="auto")[1] < 0.05)
        w = _differenced(z, d, 0, m)
        ranked = []  # a small grid, ranked by AICc at the Hannan-Rissanen estimates; CSS refines the best
        for p, q in ((1, 1), (2, 0), (0, 1), (2, 1)):
            start = _css_arma(w, p, q, D, m, mean=d + D == 0, refine=False)
            if start is not None:
                ranked.append((start[2], p, q))
        for _, p, q in sorted(ranked):  # the first order whose refined fit is stationary
            best = _css_arma(w, p, q, D, m, mean=d + D == 0)
            if best is not None:
                break
    if best is None:
        raise WorkbenchError("arima: no stationary candidate model could be estimated on this series")
    params, sigma2, _ = best
    if memo is not None and not memo:
        memo.update(d=d, D=D, p=p, q=q, params=params, sigma2=sigma2)
    return _arima_filter(y, h, m, d=d, D=D, p=p, q=q, params=params, sigma2=sigma2)


def _differenced(y: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    """``(1-B)^d (1-B^m)^D y``: one seasonal difference at most, then ``d`` ordinary ones."""
    z = y[m:] - y[:-m] if D else y
    return np.diff(z, n=d) if d else z


def _arima_filter(y: np.ndarray, h: int, m: int, *, d: int, D: int, p: int, q: int, params: np.ndarray,
                  sigma2: float) -> _Fit:
    """statsmodels' SARIMAX with given (CSS) estimates: exact-likelihood state, forecasts, errors."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    model = SARIMAX(_differenced(y, d, D, m), order=(p, 0, q),
                    seasonal_order=(0, 0, D, m) if D else (0, 0, 0, 0),
                    trend="c" if d + D == 0 else "n", enforce_stationarity=False, enforce_invertibility=False)
    params = np.r_[params, sigma2]
    if d + D == 0:  # SARIMAX's "c" is the intercept of the AR equation, not the mean
        params[0] = params[0] * (1 - params[1:1 + p].sum())
    res = model.filter(params, cov_type="none")  # the parameters' covariance is not used (and is half the cost)
    mean = np.asarray(res.get_forecast(h).predicted_mean, dtype="float64")
    return _Fit(*_integrate(y, mean, res, d, D, m))


def _integrate(y: np.ndarray, w: np.ndarray, res, d: int, D: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Undo ``(1-B)^d (1-B^m)^D`` on the forecasts ``w`` of the differenced series.

    The forecast error sd comes from the psi weights of the whole model: the fitted ARMA's
    weights convolved with the integration operator's, ``var_h = sigma2 * sum(psi_j^2)``.
    """
    from statsmodels.tsa.arima_process import arma2ma

    h = len(w)
    diff = np.array([1.0])
    for op in [np.r_[1.0, -1.0]] * d + [np.r_[1.0, np.zeros(m - 1), -1.0]] * D:
        diff = np.convolve(diff, op)
    hist = np.r_[y[-(len(diff) - 1):] if len(diff) > 1 else [], np.zeros(h)]
    k0 = len(diff) - 1
    for t in range(h):  # y_t = w_t - sum_k diff[k] y_{t-k}; a loop over horizon steps
        hist[k0 + t] = w[t] - np.dot(diff[1:], hist[k0 + t - 1::-1][:k0]) if k0 else w[t]
    ar = np.r_[1.0, -np.asarray(res.arparams)] if len(getattr(res, "arparams", [])) else np.array([1.0])
    ma = np.r_[1.0, np.asarray(res.maparams)] if len(getattr(res, "maparams", [])) else np.array([1.0])
    if D and len(getattr(res, "seasonalmaparams", [])):
        sma = np.zeros(m + 1)
        sma[0], sma[m] = 1.0, res.seasonalmaparams[0]
        ma = np.convolve(ma, sma)
    psi = arma2ma(np.convolve(ar, diff), ma, lags=h)  # integration as a unit-root AR factor
    sigma2 = float(res.params[-1]) if "sigma2" in res.model.param_names else float(res.scale)
    return hist[k0:], np.sqrt(sigma2 * np.cumsum(psi ** 2))


def _ses(y: np.ndarray, alpha: float) -> np.ndarray:
    """Simple exponential smoothing levels with initial level ``y[0]`` (one linear filter)."""
    from scipy.signal import lfilter

    return lfilter([alpha], [1.0, alpha - 1.0], y, zi=[(1 - alpha) * y[0]])[0]


def _theta(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
           memo: dict | None = None) -> _Fit:
    """The Theta method as statsmodels' ``ThetaModel`` (theta = 2, two-step OLS/SES fit):
    the same seasonality test, classical decomposition, drift ``b0`` and forecast formula,
    with the SES smoothing weight found by a bounded 1-D search over linear filters instead
    of a state-space fit (20x faster; the tests compare it with statsmodels)."""
    from scipy.optimize import minimize_scalar
    from statsmodels.tsa.seasonal import seasonal_decompose
    from statsmodels.tsa.stattools import acf

    h, m = len(future), ctx.season
    y = _fill(y)[-max(_LOCAL_MAX_STEPS, 10 * m):]
    n = len(y)
    method = "mul" if (y > 0).all() else "add"
    seasonal = None
    if m > 1 and n >= 2 * m:
        rho = acf(y, nlags=m, fft=True)
        if n * rho[-1] ** 2 / np.sum(rho[:-1] ** 2) > 2.705543454095404:  # 10% chi2(1), as statsmodels
            dec = seasonal_decompose(y, model=method, period=m).seasonal
            if method == "mul" and dec.min() <= 0:
                method, dec = "add", seasonal_decompose(y, model="add", period=m).seasonal
            seasonal = dec[:m]
            y = y / dec if method == "mul" else y - dec
    b0 = np.linalg.lstsq(np.column_stack([np.ones(n), np.arange(n)]), y, rcond=None)[0][1]
    sse = lambda a: float(np.sum((y[1:] - _ses(y, a)[:-1]) ** 2))  # noqa: E731 - one-step SES errors
    alpha = float(minimize_scalar(sse, bounds=(1e-4, 1.0), method="bounded", options={"xatol": 1e-6}).x)
    level = _ses(y, alpha)
    steps = np.arange(h, dtype="float64") + 1 / alpha - (1 - alpha) ** n / alpha
    mean = 0.5 * b0 * steps + level[-1]
    if seasonal is not None:
        season = seasonal[(n + np.arange(h)) % m]
        mean = mean * season if method == "mul" else mean + season
    # the interval of statsmodels' ThetaModel: sigma2 * (1 + (h-1)(1 + (alpha-1)^2)), with sigma2
    # of the one-step SES errors (here of the deseasonalized data, in its units)
    if seasonal is not None and method == "mul":
        return _Fit(mean, sd=np.abs(mean) * np.sqrt(sse(alpha) / (n - 1) / np.mean(level) ** 2
                                                  * (1 + np.arange(h) * (1 + (alpha - 1) ** 2))))
    return _Fit(mean, sd=np.sqrt(sse(alpha) / (n - 1) * (1 + np.arange(h) * (1 + (alpha - 1) ** 2))))


def _prophet(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
             memo: dict | None = None) -> _Fit:
    from prophet import Prophet

    for name in ("cmdstanpy", "prophet"):  # quiet; set after the import, which installs handlers
        logging.getLogger(name).setLevel(logging.WARNING)

    model = Prophet(holidays=ctx.holidays, uncertainty_samples=ctx.n_paths)
    if ctx.country_holidays:
        model.add_country_holidays(country_name=ctx.country_holidays)
    model.fit(pd.DataFrame({"ds": ds, "y": y}))  # Prophet takes gaps (NaN rows are dropped by it)
    fut = pd.DataFrame({"ds": future})
    np.random.seed(ctx.seed)  # Prophet draws its paths from numpy's global generator
    mean = model.predict(fut)["yhat"].to_numpy()
    paths = model.predictive_samples(fut)["yhat"].T  # (n_paths, h)
    comp = model.predict(pd.DataFrame({"ds": ds}))
    components = pd.DataFrame({"trend": comp["trend"].to_numpy(),
                               "seasonal": (comp["additive_terms"] - comp.get("holidays", 0)).to_numpy(),
                               "holidays": comp["holidays"].to_numpy() if "holidays" in comp else 0.0}, index=ds)
    return _Fit(mean, paths=paths, components=components)


def _calendar(ds: pd.DatetimeIndex, freq: str, holidays: set, span_days: float) -> np.ndarray:
    """Calendar features: weekday (daily and finer) or month dummies, yearly Fourier terms
    (10 pairs, as Prophet's default) for steps shorter than a month when the history covers
    two years, and a holiday flag."""
    rule = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0]
    parts = []
    if rule in ("D", "B", "h", "H", "min", "T", "s", "S"):
        parts.append(np.eye(7)[ds.day_of_week][:, 1:])
    elif rule in ("MS", "M", "ME"):
        parts.append(np.eye(12)[ds.month - 1][:, 1:])
    if rule not in ("MS", "M", "ME", "QS", "Q", "YS", "Y") and span_days >= 730:
        days = (ds - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1)
        arg = 2 * np.pi * np.outer(np.asarray(days, dtype="float64") / 365.25, np.arange(1, 11))
        parts += [np.sin(arg), np.cos(arg)]
    if holidays:
        parts.append(np.isin(ds.normalize(), list(holidays)).astype(float)[:, None])
    return np.hstack(parts) if parts else np.empty((len(ds), 0))


def _lag_regressor(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
                   memo: dict | None = None) -> _Fit:
    from sklearn.linear_model import RidgeCV

    y, h, m = _fill(y), len(future), max(ctx.season, 1)
    n_lags = min(max(2 * m, 7), max(len(y) // 3, 1))
    if len(y) < n_lags + 10:
        return _seasonal_naive(y, ds, future, ctx)
    hol = set(pd.to_datetime(ctx.holidays["ds"]).dt.normalize()) if ctx.holidays is not None else set()
    cal = _calendar(ds.append(future), ctx.freq, hol, (ds[-1] - ds[0]) / pd.Timedelta(days=1))
    t = np.arange(len(y) + h, dtype="float64") / len(y)
    # positive series are modelled on the log scale: growth and seasonal swings that scale with
    # the level (counts, spend) become additive; forecasts are medians (exp of the log mean)
    log = bool((y > 0).all())
    work = np.log(y) if log else y
    scale = np.nanstd(work) or 1.0
    level = np.nanmean(work)
    z = (work - level) / scale

    def features(lags: np.ndarray, i: int | np.ndarray) -> np.ndarray:  # lags: (rows, n_lags), newest first
        return np.hstack([lags, lags[:, :m].mean(axis=1, keepdims=True), cal[i], t[i][:, None]])

    rows = np.arange(n_lags, len(y))
    lag_matrix = np.stack([z[rows - k] for k in range(1, n_lags + 1)], axis=1)
    model = RidgeCV(alphas=np.logspace(-2, 3, 12), store_cv_results=True).fit(features(lag_matrix, rows), z[rows])
    # leave-one-out errors (free with RidgeCV) are honest about overfitting; in-sample ones are not
    loo = np.sqrt(model.cv_results_[:, list(model.alphas).index(model.alpha_)])
    resid = np.sign(z[rows] - model.predict(features(lag_matrix, rows))) * loo
    # the linear model folded into lag weights and a per-step exogenous part, so the recursion
    # over the horizon is one small matrix-vector product per step for all paths at once
    w_lag = model.coef_[:n_lags].copy()
    w_lag[:m] += model.coef_[n_lags] / m
    steps = np.arange(len(y), len(y) + h)
    exog = np.hstack([cal[steps], t[steps][:, None]]) @ model.coef_[n_lags + 1:] + model.intercept_
    rng = np.random.default_rng(ctx.seed)
    n = ctx.n_paths + 1  # path 0 is the noise-free recursion: the point forecast
    noise = rng.choice(resid, size=(n, h))
    noise[0] = 0.0
    state = np.tile(z[-n_lags:][::-1], (n, 1))
    out = np.empty((n, h))
    for step in range(h):  # recursive over the horizon (h steps), vectorized over all paths
        pred = state @ w_lag + exog[step] + noise[:, step]
        out[:, step] = pred
        state = np.hstack([pred[:, None], state[:, :-1]])
    out = out * scale + level
    out = np.exp(out) if log else out
    return _Fit(out[0], paths=out[1:])


def _fourier_yearly(ds: pd.DatetimeIndex, k: int = 10) -> np.ndarray:
    days = np.asarray((ds - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1), dtype="float64")
    arg = 2 * np.pi * np.outer(days / 365.25, np.arange(1, k + 1))
    return np.hstack([np.sin(arg), np.cos(arg)])


_YEARLY_LAST: dict = {}  # the last series' yearly pattern: the local models are fitted one after another on it


def _yearly_pattern(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Yearly Fourier pattern (with a linear trend, by least squares) over the history and the future."""
    key = (ds[0], ds[-1], len(ds), future[0], len(future), y.tobytes())
    pattern = _YEARLY_LAST.get(key)
    if pattern is None:
        f_past, f_future = _fourier_yearly(ds), _fourier_yearly(future)
        t = np.arange(len(ds), dtype="float64") / len(ds)
        ok = ~np.isnan(y)
        X = np.column_stack([np.ones(len(ds)), t, f_past])
        beta = np.linalg.lstsq(X[ok], y[ok], rcond=None)[0]
        pattern = (f_past @ beta[2:], f_future @ beta[2:])
        _YEARLY_LAST.clear()  # one entry (threads of a Dask worker may replace it: `pattern` is ours)
        _YEARLY_LAST[key] = pattern
    return pattern


def _yearly_adjusted(fn: Callable) -> Callable:
    """Give a local model yearly seasonality (daily or weekly steps, two years of history).

    The yearly pattern (10 Fourier pairs, Prophet's default) is estimated by least squares
    together with a linear trend on the whole history, removed before the model is fitted on
    the (possibly shorter) recent history, and added back to its forecast and paths.
    """
    def model(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: _Context,
              memo: dict | None = None) -> _Fit:
        step = pd.tseries.frequencies.to_offset(ctx.freq)
        short_step = isinstance(step, pd.offsets.Tick) or step.rule_code.split("-")[0] in ("D", "W", "B")
        if not short_step or (ds[-1] - ds[0]) < pd.Timedelta(days=730):
            return fn(y, ds, future, ctx, memo)
        past_season, future_season = _yearly_pattern(y, ds, future)
        fit = fn(y - past_season, ds, future, ctx, memo)
        comps = fit.components.assign(yearly=past_season[-len(fit.components):]) if fit.components is not None else None
        paths = fit.paths + future_season if fit.paths is not None else None
        return _Fit(fit.mean + future_season, sd=fit.sd, paths=paths, components=comps)

    model.__doc__ = fn.__doc__
    return model


MODELS: dict[str, Callable[[np.ndarray, pd.DatetimeIndex, pd.DatetimeIndex, _Context], _Fit]] = {
    "seasonal_naive": _seasonal_naive, "ets": _yearly_adjusted(_ets), "arima": _yearly_adjusted(_arima),
    "theta": _yearly_adjusted(_theta), "prophet": _prophet,
    "lag_regressor": _lag_regressor}


def _intervals(fit: _Fit, name: str, level: Sequence[int]) -> dict[str, np.ndarray]:
    cols = {name: fit.mean}
    for lv in level:
        if fit.paths is not None:
            lo, hi = np.quantile(fit.paths, [0.5 - lv / 200, 0.5 + lv / 200], axis=0)
        else:
            z = stats.norm.ppf(0.5 + lv / 200)
            lo, hi = fit.mean - z * fit.sd, fit.mean + z * fit.sd
        cols[f"{name}-lo-{lv}"], cols[f"{name}-hi-{lv}"] = lo, hi
    return cols


def _check_level(level: Sequence[int]) -> list[int]:
    level = [level] if isinstance(level, (int, float)) else list(level)
    bad = [lv for lv in level if not 0 < lv < 100]
    if bad:
        raise WorkbenchError(f"level {bad} must be between 0 and 100 (percent)")
    return level


def _season_for(freq: str, season: int | None) -> int:
    if season is not None:
        return int(season)
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick) and off.nanos < 86_400 * 10 ** 9:  # sub-daily: one day of steps
        return int(86_400 * 10 ** 9 // off.nanos)
    return _SEASON.get(off.rule_code.split("-")[0], 1)


class Forecaster:
    """Fit several models per series and forecast with prediction intervals.

    Parameters
    ----------
    models : sequence of str
        Names from ``MODELS``: ``seasonal_naive``, ``ets``, ``arima``, ``theta``,
        ``prophet``, ``lag_regressor``.
    freq : str
        pandas frequency of the series (``"D"``, ``"W-MON"``, ``"MS"``, ``"h"``...).
    season : int, optional
        Season length; default from ``freq`` (7 daily, 52 weekly, 12 monthly, a day of steps
        for sub-daily data).
    holidays : DataFrame, optional
        Special dates ``holiday, ds`` (e.g. planted holidays or incidents): Prophet holidays
        and a binary feature of ``lag_regressor``.
    country_holidays : str, optional
        Country code for Prophet's built-in holidays (``"US"``).
    agg : str
        Resampling rule of :func:`check_series` for irregular or duplicated timestamps.
    seed : int
        Seed of simulated paths (Prophet, ``lag_regressor``).

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> fc = Forecaster(models=["seasonal_naive"], freq="D").fit(s)
    >>> fc.predict(h=3, level=[80]).columns.tolist()
    ['unique_id', 'ds', 'seasonal_naive', 'seasonal_naive-lo-80', 'seasonal_naive-hi-80']
    """

    def __init__(self, models: Sequence[str] = ("seasonal_naive", "ets"), freq: str = "D", season: int | None = None,
                 holidays: pd.DataFrame | None = None, country_holidays: str | None = None, agg: str = "sum",
                 seed: int = 0):
        self.models = models
        self.freq = freq
        self.season = season
        self.holidays = holidays
        self.country_holidays = country_holidays
        self.agg = agg
        self.seed = seed

    def _context(self) -> _Context:
        return _Context(self.freq, _season_for(self.freq, self.season), self.holidays, self.country_holidays,
                        seed=self.seed)

    def _check_models(self) -> list[str]:
        models = [self.models] if isinstance(self.models, str) else list(self.models)
        unknown = [m for m in models if m not in MODELS]
        if unknown or not models:
            raise WorkbenchError(f"unknown models {unknown}: choose from {', '.join(MODELS)}")
        return models

    def fit(self, series: pd.DataFrame) -> "Forecaster":
        """Validate and store the series (models are fitted per series in :meth:`predict`)."""
        self.models_ = self._check_models()
        self.context_ = self._context()
        self.season_ = self.context_.season
        self.series_ = check_series(series, freq=self.freq, min_length=max(3, self.season_ + 1), agg=self.agg)
        return self

    def predict(self, h: int, level: Sequence[int] = (80, 95)) -> pd.DataFrame:
        """Forecast ``h`` steps after each series' last observation.

        Returns ``unique_id, ds`` and per model ``<model>`` plus ``<model>-lo-<level>`` and
        ``<model>-hi-<level>``; the fitted in-sample components (where a model has them)
        are kept in ``components_``: ``unique_id, ds, model, trend, seasonal[, holidays]``.
        """
        h = _check_h(h)
        level = _check_level(level)
        parts, comps = [], []
        for uid, g in self.series_.groupby("unique_id", sort=True):  # one fit per series and model
            frame, comp = _predict_one(uid, g, self.models_, h, level, self.context_)
            parts.append(frame)
            comps.extend(comp)
        self.components_ = pd.concat(comps, ignore_index=True) if comps else pd.DataFrame()
        return pd.concat(parts, ignore_index=True)


def _check_h(h: int) -> int:
    if not isinstance(h, (int, np.integer)) or h < 1:
        raise WorkbenchError(f"h={h!r} must be a positive whole number of steps")
    return int(h)


def _predict_one(uid, g: pd.DataFrame, models: Sequence[str], h: int, level: Sequence[int], ctx: _Context,
                 memo: dict | None = None):
    ds = pd.DatetimeIndex(g["ds"])
    y = g["y"].to_numpy(dtype="float64")
    future = pd.date_range(ds[-1], periods=h + 1, freq=ctx.freq)[1:]
    out = {"unique_id": np.repeat(uid, h), "ds": future}
    comps = []
    for name in models:
        fit = MODELS[name](y, ds, future, ctx, None if memo is None else memo.setdefault(name, {}))
        out.update(_intervals(fit, name, level))
        if fit.components is not None:
            comps.append(fit.components.rename_axis("ds").reset_index().assign(unique_id=uid, model=name))
    return pd.DataFrame(out), comps


# --------------------------------------------------------------------------------------------
# Backtests, run per series (optionally in worker processes).
def _backtest_one(args) -> pd.DataFrame:
    return _backtest_series(args)[0]


def _backtest_series(args) -> tuple[pd.DataFrame, dict | None]:
    """The backtest frame of one series and, without refits, the estimates of its first window."""
    uid, g, models, h, n_windows, step, level, ctx = args
    n = len(g)
    parts = []
    memo = None if ctx.refit else {}  # without refits, the first (earliest) window's estimates are reused
    for w in range(n_windows, 0, -1):  # n_windows fits per series
        end = n - h - (w - 1) * step
        if end < max(3, ctx.season + 1):
            raise WorkbenchError(f"series {uid!r} ({n} steps) is too short for {n_windows} windows of h={h} "
                                 f"(step {step}): use fewer windows, a shorter horizon, or a longer history")
        train, test = g.iloc[:end], g.iloc[end:end + h]
        pred, _ = _predict_one(uid, train, models, len(test), level, ctx, memo)
        parts.append(pred.assign(cutoff=train["ds"].iloc[-1], y=test["y"].to_numpy()))
    return pd.concat(parts, ignore_index=True), memo


def _auto_one(args) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    uid, g, models, h, n_windows, step, level, ctx = args
    cv, memo = _backtest_series(args)
    # the final fit re-estimates every parameter on the whole series; without refits it keeps the
    # structure the backtest estimated and scored (ETS seasonality type, ARIMA orders)
    hints = None if memo is None else {name: {**fitted, "structure_only": True} for name, fitted in memo.items()
                                        if fitted}
    fc, comps = _predict_one(uid, g, models, h, level, ctx, hints)
    return cv, fc, comps


def _init_worker() -> None:
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    threadpool_limits(1)  # one BLAS thread per worker process: the processes are the parallelism


_PRELOAD = ["analytics_lib.forecast", "statsmodels.tsa.holtwinters", "statsmodels.tsa.statespace.sarimax",
            "statsmodels.tsa.forecasting.theta", "statsmodels.tsa.seasonal", "statsmodels.tsa.stattools",
            "sklearn.linear_model"]


def _pool_context():
    """A forkserver that imported the models once: workers fork from it in milliseconds.

    Fork from the (threaded) parent is unsafe and spawn re-imports pandas, statsmodels and
    scikit-learn in every worker (~5 s each on a small machine); the forkserver pays that once
    per Python process and is reused by every later pool.
    """
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _run_per_series(fn, tasks: list, n_jobs: int | None, progress: bool, desc: str) -> list:
    from .engine import current_client

    client = current_client()  # set inside engine.dask_client(...) or an Engine("dask") call
    if client is not None:  # the same per-series tasks, in batches, on that Dask cluster
        from .engine import per_series_results

        return per_series_results(client, fn, tasks, progress=progress, desc=desc)
    n_jobs = os.cpu_count() or 1 if n_jobs in (None, -1) else max(1, int(n_jobs))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc=desc, unit="series")
    results = []
    try:
        if n_jobs == 1 or len(tasks) == 1:
            from threadpoolctl import threadpool_limits

            # the models' matrices are tiny: a multi-threaded BLAS only spins (10x slower under load)
            with threadpool_limits(1):
                for t in tasks:
                    results.append(fn(t))
                    bar is not None and bar.update()
        else:
            results = _pool_with_parent(fn, tasks, n_jobs, bar)
    finally:
        if bar is not None:
            bar.close()
    return results


def _run_chunk(fn, chunk: list) -> list:
    return [fn(t) for t in chunk]


def _pool_with_parent(fn, tasks: list, n_jobs: int, bar) -> list:
    """``[fn(t) for t in tasks]`` in ``n_jobs`` worker processes, with this process helping.

    The workers start from a forkserver that imports the models first (about 4 s on a small
    machine, once per Python process); this process has imported them already. So chunks are
    handed to the pool from the front by a thread (whose first hand-over waits for the workers)
    while this process takes chunks from the back, those no worker has started, until the two
    meet. Results come back in the order of ``tasks``.
    """
    import threading

    from threadpoolctl import threadpool_limits

    size = max(1, len(tasks) // (8 * n_jobs))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    futures: list = [None] * len(chunks)
    mine: set[int] = set()
    lock = threading.Lock()
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(chunks)), mp_context=_pool_context(),
                               initializer=_init_worker)

    def count(f, n: int) -> None:
        if bar is not None and not f.cancelled() and f.exception() is None:
            bar.update(n)

    failure: list = []

    def hand_over() -> None:
        try:
            for i, c in enumerate(chunks):
                with lock:
                    if i in mine:
                        return  # this process took the rest
                    futures[i] = f = pool.submit(_run_chunk, fn, c)
                f.add_done_callback(lambda f, n=len(c): count(f, n))
        except BaseException as exc:  # e.g. the workers could not start: raised below
            failure.append(exc)

    feeder = threading.Thread(target=hand_over, name="forecast-pool-feeder", daemon=True)
    done: list = [None] * len(chunks)
    try:
        feeder.start()
        with threadpool_limits(1):  # tiny matrices: a multi-threaded BLAS only spins
            for i in range(len(chunks) - 1, -1, -1):
                with lock:
                    if futures[i] is not None and not futures[i].cancel():
                        break  # a worker has it (or it is queued for one): we have met
                    mine.add(i)
                done[i] = _run_chunk(fn, chunks[i])
                bar is not None and bar.update(len(chunks[i]))
        feeder.join()
        if failure:
            raise failure[0]
        for i, f in enumerate(futures):
            if i not in mine:
                done[i] = f.result()
    except BaseException:
        with lock:
            mine.update(range(len(chunks)))  # the feeder stops handing over
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [r for part in done for r in part]


def _tasks(fc: Forecaster, series: pd.DataFrame, h: int, n_windows: int, step: int, level: list[int],
           refit: bool = True) -> list:
    from dataclasses import replace

    full = check_series(series, freq=fc.freq, min_length=max(3, fc._context().season + 1), agg=fc.agg)
    ctx, models = replace(fc._context(), refit=bool(refit)), fc._check_models()
    return [(uid, g.reset_index(drop=True), models, h, n_windows, step, level, ctx)
            for uid, g in full.groupby("unique_id", sort=True)]


def backtest(forecaster: Forecaster, series: pd.DataFrame, *, h: int, n_windows: int = 3, step: int | None = None,
             level: Sequence[int] = (80,), refit: bool = True, n_jobs: int | None = 1,
             progress: bool = False) -> pd.DataFrame:
    """Rolling-origin cross-validation: fit at each cutoff and forecast the next ``h`` steps.

    The last window ends at the last observation; earlier cutoffs are ``step`` (default
    ``h``) steps apart. With ``refit=False`` the models' parameters (and ETS/ARIMA structure)
    are estimated at the first cutoff only; later cutoffs run the same model over the longer
    history (states updated, no re-estimation), as statsforecast's ``refit=False``. Series
    run in ``n_jobs`` worker processes (``-1``: all cores).
    Returns ``unique_id, ds, cutoff, y, <model>..., <model>-lo/hi-<level>``.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> cv = backtest(Forecaster(models=["seasonal_naive"], freq="D"), s, h=7, n_windows=2)
    >>> sorted(cv["cutoff"].dt.strftime("%Y-%m-%d").unique())
    ['2024-02-15', '2024-02-22']
    """
    h, level = _check_h(h), _check_level(level)
    step = _check_h(step or h)
    if n_windows < 1:
        raise WorkbenchError(f"n_windows={n_windows} must be at least 1")
    parts = _run_per_series(_backtest_one, _tasks(forecaster, series, h, n_windows, step, level, refit), n_jobs,
                            progress, "backtest")
    return _order_cv(pd.concat(parts, ignore_index=True))


def _order_cv(out: pd.DataFrame) -> pd.DataFrame:
    first = ["unique_id", "ds", "cutoff", "y"]
    return out[first + [c for c in out.columns if c not in first]]


def _model_columns(cv: pd.DataFrame) -> list[str]:
    return [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y", "model")
            and "-lo-" not in c and "-hi-" not in c]


def forecast_metrics(cv: pd.DataFrame, *, train: pd.DataFrame | None = None, season: int = 7,
                     level: int = 80) -> pd.DataFrame:
    """Accuracy of backtest forecasts per series and model.

    MAE, RMSE, sMAPE (in %, 0-200), MASE (MAE scaled by the in-sample MAE of the seasonal
    naive forecast on ``train``, or on the actuals when ``train`` is None), interval
    ``coverage`` and mean ``width`` at ``level``, and the pinball loss averaged over the
    interval's two quantiles. Missing actuals (gaps) are skipped.

    Returns
    -------
    DataFrame
        ``unique_id, model, mae, rmse, smape, mase[, coverage, width, pinball], n``.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> cv = backtest(Forecaster(models=["seasonal_naive"], freq="D"), s, h=7, n_windows=2)
    >>> forecast_metrics(cv).columns.tolist()[:4]
    ['unique_id', 'model', 'mae', 'rmse']
    """
    cv = cv[cv["y"].notna()]
    codes, uids = pd.factorize(cv["unique_id"], sort=True)
    count = np.bincount(codes, minlength=len(uids)).astype("float64")

    def mean(values: np.ndarray) -> np.ndarray:  # per series; a NaN anywhere makes the mean NaN, as np.mean
        return np.bincount(codes, weights=values, minlength=len(uids)) / count

    base = train if train is not None else cv  # seasonal naive in-sample errors scale MASE
    by = base["unique_id"]
    naive = base["y"].astype("float64").groupby(by).diff(season).abs().groupby(by).mean()
    scale = naive.reindex(uids).to_numpy(dtype="float64")
    scale = np.where(scale > 0, scale, np.nan)
    y = cv["y"].to_numpy(dtype="float64")
    parts = []
    for m in _model_columns(cv):
        f = cv[m].to_numpy(dtype="float64")
        err = y - f
        denom = np.abs(y) + np.abs(f)
        mae = mean(np.abs(err))
        cols = {"unique_id": uids, "model": m, "mae": mae, "rmse": np.sqrt(mean(err ** 2)),
                "smape": mean(np.where(denom > 0, 200 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0)),
                "mase": mae / scale}
        lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
        if lo in cv and hi in cv:
            a, b = cv[lo].to_numpy(dtype="float64"), cv[hi].to_numpy(dtype="float64")
            q_lo, q_hi = (1 - level / 100) / 2, 1 - (1 - level / 100) / 2
            cols.update(coverage=mean(((y >= a) & (y <= b)).astype("float64")), width=mean(b - a),
                        pinball=mean((_pinball(y, a, q_lo) + _pinball(y, b, q_hi)) / 2))
        cols["n"] = count.astype("int64")
        parts.append(pd.DataFrame(cols))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["unique_id", "model", "mae", "rmse", "smape", "mase", "n"])
    order = np.argsort(pd.factorize(out["unique_id"], sort=True)[0], kind="stable")  # series, then models
    out = out.iloc[order].reset_index(drop=True)
    return out[[c for c in ("unique_id", "model", "mae", "rmse", "smape", "mase", "coverage", "width", "pinball", "n")
                if c in out]]


def _pinball(y: np.ndarray, pred: np.ndarray, q: float) -> np.ndarray:
    """Pinball (quantile) loss of each forecast."""
    d = y - pred
    return np.maximum(q * d, (q - 1) * d)


# --------------------------------------------------------------------------------------------
# Automatic selection and ensembles.
@dataclass(frozen=True)
class AutoForecast:
    """What :func:`auto_forecast` returns.

    Attributes
    ----------
    forecast : DataFrame
        ``unique_id, ds, model, forecast, lo-<level>, hi-<level>...`` and the chosen model's
        backtest scores on every row: ``backtest_mase, backtest_smape, backtest_coverage``.
    selection : DataFrame
        One row per series: ``unique_id, model, members`` (ensemble members or the model),
        the chosen model's backtest ``mae, rmse, smape, mase, coverage, width, pinball``,
        ``baseline_mase`` (seasonal naive) and ``improvement_vs_baseline`` (share).
    scores : DataFrame
        Backtest metrics of every candidate and the ensemble (:func:`forecast_metrics`).
    cv : DataFrame
        The backtest frame with an ``ensemble`` column.
    candidates : DataFrame
        The final forecast of every candidate (``Forecaster.predict`` format + ``ensemble``).
    components : DataFrame
        In-sample components of the models that have them.
    """

    forecast: pd.DataFrame
    selection: pd.DataFrame
    scores: pd.DataFrame
    cv: pd.DataFrame
    candidates: pd.DataFrame
    components: pd.DataFrame = field(repr=False)
    metric: str = "mase"
    level: tuple = (80, 95)


#: From the simplest to the most complex: among candidates whose backtest scores are equal within
#: :data:`SELECTION_RTOL`, the simplest is chosen (unknown names rank after these, the ensemble last).
COMPLEXITY = ("seasonal_naive", "theta", "ets", "arima", "lag_regressor", "prophet")
#: Relative tolerance under which two backtest scores count as a tie (see :func:`auto_forecast`).
SELECTION_RTOL = 1e-6


def _simplest_within(pool: pd.DataFrame, metric: str, rtol: float = SELECTION_RTOL) -> pd.DataFrame:
    """Per series, the simplest candidate whose ``metric`` is within ``rtol`` of the best one.

    Scores that differ by floating-point noise (another CPU, another BLAS) must not change the
    choice: a tie goes to the simpler model (:data:`COMPLEXITY`), not to the last digits.
    """
    order = {name: i for i, name in enumerate(COMPLEXITY)}
    frame = pool.assign(_rank=pool["model"].map(lambda m: order.get(m, len(order) + (m == "ensemble"))))
    best = frame.groupby("unique_id")[metric].transform("min")
    close = frame[metric].le(best + rtol * best.abs()) | best.isna()
    picked = frame[close].sort_values(["unique_id", "_rank", "model"]).groupby("unique_id").head(1)
    return picked.drop(columns="_rank")


def _ensemble_columns(frame: pd.DataFrame, members: dict, level: Sequence[int]) -> pd.DataFrame:
    """Median of the member models per series (point and bounds), vectorized per member set."""
    out = frame.copy()
    cols = ["ensemble"] + [f"ensemble-{s}-{lv}" for lv in level for s in ("lo", "hi")]
    for c in cols:
        out[c] = np.nan
    for key, uids in pd.Series(list(members)).groupby(pd.Series([tuple(members[u]) for u in members])):
        mask = out["unique_id"].isin(list(uids)).to_numpy()
        for c in cols:
            src = [c.replace("ensemble", m, 1) for m in key]
            out.loc[mask, c] = np.median(out.loc[mask, src].to_numpy(dtype="float64"), axis=1)
    return out


def _interval_scale(cv: pd.DataFrame, chosen: dict, level: int) -> dict:
    """Per series, the factor that makes the chosen model's backtest interval at ``level`` cover
    ``level`` percent of its backtest errors (split-conformal calibration of the interval
    half-widths; 1.0 when the backtest has too few points to say)."""
    out = {}
    for uid, g in cv.groupby("unique_id", sort=True):
        m = chosen[uid]
        g = g[g["y"].notna()]
        lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
        f = g[m].to_numpy(dtype="float64")
        half = np.where(g["y"] >= f, g[hi] - f, f - g[lo]).astype("float64")
        ok = half > 0
        ratio = np.abs(g["y"].to_numpy(dtype="float64") - f)[ok] / half[ok]
        out[uid] = float(np.quantile(ratio, level / 100)) if ok.sum() >= 10 else 1.0
    return out


def auto_forecast(series: pd.DataFrame, *, h: int, freq: str = "D", models: Sequence[str] = DEFAULT_AUTO_MODELS,
                  n_windows: int = 3, step: int | None = None, level: Sequence[int] = (80, 95), metric: str = "mase",
                  k: int = 3, season: int | None = None, holidays: pd.DataFrame | None = None,
                  country_holidays: str | None = None, agg: str = "sum", n_jobs: int | None = 1,
                  progress: bool = False, seed: int = 0, calibrate: bool = True, refit: bool = False) -> AutoForecast:
    """Backtest every candidate per series, add a median ensemble, choose the best, forecast.

    For each series, all ``models`` are backtested over ``n_windows`` rolling origins of
    ``h`` steps; the ``k`` best by ``metric`` form a median ensemble (point and bounds are
    medians of the members'), which is scored on the same windows. The candidate or
    ensemble with the lowest backtest ``metric`` is refitted on the whole series and
    forecasts ``h`` steps; scores equal within a relative ``1e-6`` (:data:`SELECTION_RTOL`)
    are a tie, won by the simpler model (:data:`COMPLEXITY`), so that the choice does not
    depend on a CPU's floating-point path. The ensemble's members are chosen on the same windows it is
    scored on, so its backtest score is slightly optimistic; the seasonal naive baseline
    is always scored for comparison (add it to ``models`` to make it eligible).

    Parameters
    ----------
    series : DataFrame
        ``unique_id, ds, y``.
    metric : {"mase", "mae", "rmse", "smape", "pinball"}
        Selection score (lower is better); ``mase`` compares across series.
    n_jobs : int, optional
        Worker processes over series (``-1``: all cores).
    progress : bool
        Show a progress bar over series.
    refit : bool
        Re-estimate every model at every backtest cutoff (``True``), or estimate at the first
        cutoff and reuse the parameters at later ones (``False``, the default: about half
        the work). The final forecast is always a fresh estimate on the whole series; without
        refits it keeps the structure estimated at the first cutoff (ETS seasonality type,
        ARIMA orders), the one the backtest scored.
    calibrate : bool
        Rescale the chosen model's interval half-widths so that, in the backtest, the
        interval at the first ``level`` covers that share of the errors (conformal
        calibration; the factor is ``selection.interval_scale``). Models' own intervals
        assume the model is right; backtest errors show how wrong it has been.

    Series whose history is never negative (counts, spend, tokens) get forecasts and bounds
    floored at zero, in the backtest as in the forecast.

    Notes
    -----
    With ``n_jobs`` > 1 in a script, call it under ``if __name__ == "__main__":`` (worker
    processes start from a forkserver, which re-imports the main script).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(20_000, days=120, seed=0).events
    >>> res = auto_forecast(series_from_events(ev, "events"), h=14, models=["seasonal_naive", "theta"], n_windows=2)
    >>> res.forecast.columns.tolist()[:4], len(res.forecast)
    (['unique_id', 'ds', 'model', 'forecast'], 14)
    """
    if metric not in ("mase", "mae", "rmse", "smape", "pinball"):
        raise WorkbenchError(f"metric={metric!r}: choose one of mase, mae, rmse, smape, pinball")
    h, level = _check_h(h), _check_level(level)
    if k < 1:
        raise WorkbenchError(f"k={k} must be at least 1 (models in the ensemble)")
    models = list(dict.fromkeys([models] if isinstance(models, str) else models))
    fc = Forecaster(models=list(dict.fromkeys(["seasonal_naive", *models])), freq=freq, season=season,
                    holidays=holidays, country_holidays=country_holidays, agg=agg, seed=seed)
    tasks = _tasks(fc, series, h, n_windows, _check_h(step or h), level, refit)
    results = _run_per_series(_auto_one, tasks, n_jobs, progress, "auto_forecast")
    full = pd.concat([t[1] for t in tasks], ignore_index=True)
    nonneg = full.groupby("unique_id")["y"].min().ge(0)  # counts, spend, tokens: never below zero
    cv = _floor_at_zero(_order_cv(pd.concat([r[0] for r in results], ignore_index=True)), nonneg)
    candidates = _floor_at_zero(pd.concat([r[1] for r in results], ignore_index=True), nonneg)
    comps = [c for r in results for c in r[2]]
    season_ = fc._context().season
    metric_level = level[0]
    scores = forecast_metrics(cv, train=full, season=season_, level=metric_level)
    eligible = scores[scores["model"].isin(models)]
    ranked = eligible.sort_values(["unique_id", metric, "model"], na_position="last")
    members = {uid: sorted(g["model"].head(min(k, len(g))).tolist()) for uid, g in ranked.groupby("unique_id")}
    if len(models) > 1 and k > 1:
        cv = _ensemble_columns(cv, members, level)
        candidates = _ensemble_columns(candidates, members, level)
        scores = forecast_metrics(cv, train=full, season=season_, level=metric_level)
        pool = scores[scores["model"].isin(models + ["ensemble"])]
    else:
        pool = eligible
    best = _simplest_within(pool, metric)
    base = scores[scores["model"] == "seasonal_naive"].set_index("unique_id")["mase"]
    selection = best.set_index("unique_id").assign(
        members=lambda d: [", ".join(members[u]) if m == "ensemble" else m for u, m in zip(d.index, d["model"])],
        baseline_mase=base, improvement_vs_baseline=lambda d: 1 - d["mase"] / d["baseline_mase"]).reset_index()
    chosen = dict(zip(selection["unique_id"], selection["model"]))
    scale = _interval_scale(cv, chosen, metric_level) if calibrate else {u: 1.0 for u in chosen}
    selection["interval_scale"] = selection["unique_id"].map(scale)
    parts = []
    for uid, g in candidates.groupby("unique_id", sort=True):  # pick the chosen model's columns per series
        m, c = chosen[uid], scale[uid]
        f = g[m].to_numpy()
        cols = {"unique_id": g["unique_id"], "ds": g["ds"], "model": m, "forecast": f}
        for lv in level:
            cols[f"lo-{lv}"] = f - c * (f - g[f"{m}-lo-{lv}"].to_numpy())
            cols[f"hi-{lv}"] = f + c * (g[f"{m}-hi-{lv}"].to_numpy() - f)
        parts.append(pd.DataFrame(cols))
    forecast = pd.concat(parts, ignore_index=True).merge(
        selection[["unique_id", "mase", "smape", "coverage"]].rename(
            columns={"mase": "backtest_mase", "smape": "backtest_smape", "coverage": "backtest_coverage"}),
        on="unique_id")
    components = pd.concat(comps, ignore_index=True) if comps else pd.DataFrame()
    return AutoForecast(forecast, selection, scores, cv, candidates, components, metric, tuple(level))


def _floor_at_zero(frame: pd.DataFrame, nonneg: pd.Series) -> pd.DataFrame:
    """Forecast columns (points and bounds) of series whose history is never negative, floored at 0."""
    rows = frame["unique_id"].map(nonneg).fillna(False).to_numpy(bool)
    if not rows.any():
        return frame
    cols = [c for c in frame.columns if c != "y" and pd.api.types.is_float_dtype(frame[c])]
    out = frame.copy()
    out.loc[rows, cols] = out.loc[rows, cols].clip(lower=0)
    return out


def country_holidays(country: str, start, end) -> pd.DataFrame:
    """Public holidays of ``country`` between two dates as a Prophet-style ``holiday, ds`` frame.

    From the ``holidays`` package (observed days included), for the ``holidays=`` option of
    :class:`Forecaster` and :func:`auto_forecast` (history and horizon alike).

    Examples
    --------
    >>> country_holidays("US", "2025-07-01", "2025-07-31")["ds"].dt.strftime("%m-%d").tolist()
    ['07-04']
    """
    import holidays as hd

    start, end = pd.Timestamp(start), pd.Timestamp(end)
    try:
        cal = hd.country_holidays(country, years=range(start.year, end.year + 1), observed=True)
    except NotImplementedError as exc:
        raise WorkbenchError(f"country={country!r} is not known to the holidays package (use e.g. 'US', 'DE')") from exc
    rows = sorted((pd.Timestamp(d), name) for d, name in cal.items() if start <= pd.Timestamp(d) <= end)
    return pd.DataFrame({"holiday": [n for _, n in rows], "ds": pd.to_datetime([d for d, _ in rows])})


# --------------------------------------------------------------------------------------------
# Growth and seasonality.
def trend_summary(series: pd.DataFrame, *, freq: str = "D", holidays: Sequence | None = None,
                  level: int = 95) -> pd.DataFrame:
    """Growth rate per week and weekday profile of daily series, with confidence intervals.

    A log-linear regression per series, ``log(y) = a + b t + weekday + holiday``, fitted by
    least squares on the positive observations: ``weekly_growth = exp(7 b) - 1`` (compound
    growth per week) with a ``level`` % interval from the slope's standard error, ``r2`` of
    the fit, and the weekday factors ``mon..sun`` (multiplicative, normalized to mean 1).
    ``holidays`` are dates whose level is estimated separately (they do not bias the rest).

    Returns
    -------
    DataFrame
        ``unique_id, weekly_growth, growth_lo, growth_hi, r2, n, mon, tue, wed, thu, fri, sat, sun``.

    Examples
    --------
    >>> ds = pd.date_range("2025-01-06", periods=140)
    >>> y = 100 * 1.02 ** (np.arange(140) / 7) * np.where(ds.day_of_week >= 5, 0.5, 1.0)
    >>> round(float(trend_summary(pd.DataFrame({"unique_id": "a", "ds": ds, "y": y}))["weekly_growth"].iloc[0]), 4)
    0.02
    """
    if pd.tseries.frequencies.to_offset(freq).rule_code != "D":
        raise WorkbenchError(f"trend_summary needs daily series (freq='D'), not {freq!r}")
    full = check_series(series, freq=freq, min_length=15)
    hol = pd.DatetimeIndex(pd.to_datetime(list(holidays) if holidays is not None else [])).normalize()
    hol = hol.tz_convert(None) if hol.tz is not None else hol
    z = stats.norm.ppf(0.5 + _check_level([level])[0] / 200)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    rows = []
    for uid, g in full.groupby("unique_id", sort=True):  # one least-squares fit per series
        g = g[g["y"] > 0]
        ds = pd.DatetimeIndex(g["ds"])
        t = np.asarray((ds - ds[0]) / pd.Timedelta(days=1), dtype="float64")
        is_hol = np.isin(ds.normalize(), hol).astype(float)
        X = np.column_stack([np.ones(len(t)), t, np.eye(7)[ds.day_of_week][:, 1:]] + ([is_hol] if is_hol.any() else []))
        ly = np.log(g["y"].to_numpy(dtype="float64"))
        beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
        resid = ly - X @ beta
        dof = max(len(ly) - X.shape[1], 1)
        cov = (resid @ resid / dof) * np.linalg.pinv(X.T @ X)
        b, se = beta[1], np.sqrt(cov[1, 1])
        wd = np.exp(np.r_[0.0, beta[2:8]])
        rows.append({"unique_id": uid, "weekly_growth": np.expm1(7 * b), "growth_lo": np.expm1(7 * (b - z * se)),
                     "growth_hi": np.expm1(7 * (b + z * se)), "r2": 1 - resid.var() / ly.var(), "n": len(ly),
                     **dict(zip(days, wd / wd.mean()))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Capacity planning.
def capacity_table(forecast: pd.DataFrame, capacity: float | dict, *, column: str = "forecast",
                   level: int | None = None) -> pd.DataFrame:
    """When does each series cross a capacity threshold, and how likely is it within the horizon?

    ``first_crossing`` is the first ``ds`` where the point forecast reaches ``capacity``;
    ``first_crossing_upper`` the first where the upper bound at ``level`` does (the early
    warning date). ``probability`` is the chance that the series reaches ``capacity`` at
    least once within the horizon, from a normal approximation per step fitted to the
    interval at ``level`` (sd = interval width / (2 z)): the largest per-step probability.
    That is exact when forecast errors are fully correlated across steps (a level shift, the
    usual case for trend uncertainty) and a lower bound otherwise.

    Parameters
    ----------
    forecast : DataFrame
        :attr:`AutoForecast.forecast` (columns ``forecast, lo-<level>, hi-<level>``) or a
        ``Forecaster.predict`` frame with ``column=<model>`` (``<model>-lo-<level>``...).
    capacity : float or dict
        One threshold, or ``{unique_id: threshold}``.
    level : int, optional
        Interval level to use; default the widest available.

    Returns
    -------
    DataFrame
        ``unique_id, capacity, first_crossing, first_crossing_upper, probability, peak_forecast``.

    Examples
    --------
    >>> f = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2025-01-01", periods=3),
    ...                   "forecast": [8.0, 9.0, 11.0], "lo-80": [7.0, 7.5, 9.0], "hi-80": [9.0, 10.5, 13.0]})
    >>> capacity_table(f, 10.0)[["first_crossing", "first_crossing_upper"]].iloc[0].dt.strftime("%m-%d").tolist()
    ['01-03', '01-02']
    """
    prefix = "" if column == "forecast" else f"{column}-"
    levels = sorted(int(c.rsplit("-", 1)[1]) for c in forecast.columns if c.startswith(f"{prefix}hi-")
                    and c[len(prefix) + 3:].isdigit())
    if column not in forecast.columns or not levels:
        raise WorkbenchError(f"capacity_table needs the columns {column!r} and {prefix}lo-/hi-<level> (a forecast)")
    level = level or levels[-1]
    if level not in levels:
        raise WorkbenchError(f"level={level} is not in the forecast: available {levels}")
    caps = capacity if isinstance(capacity, dict) else None
    cap = forecast["unique_id"].map(caps) if caps is not None else pd.Series(float(capacity), index=forecast.index)
    if cap.isna().any() or not np.isfinite(cap.to_numpy(dtype="float64")).all():
        raise WorkbenchError("capacity must be a finite number (or a dict with one for every unique_id)")
    mean = forecast[column].to_numpy(dtype="float64")
    hi = forecast[f"{prefix}hi-{level}"].to_numpy(dtype="float64")
    lo = forecast[f"{prefix}lo-{level}"].to_numpy(dtype="float64")
    sd = (hi - lo) / (2 * stats.norm.ppf(0.5 + level / 200))
    c = cap.to_numpy(dtype="float64")
    p = np.where(sd > 0, stats.norm.sf((c - mean) / np.where(sd > 0, sd, 1)), (mean >= c).astype(float))
    df = pd.DataFrame({"unique_id": forecast["unique_id"].to_numpy(), "ds": forecast["ds"].to_numpy(),
                       "capacity": c, "cross": mean >= c, "cross_hi": hi >= c, "p": p, "mean": mean})
    g = df.groupby("unique_id", sort=True)
    out = pd.DataFrame({
        "capacity": g["capacity"].first(),
        "first_crossing": df[df["cross"]].groupby("unique_id")["ds"].min(),
        "first_crossing_upper": df[df["cross_hi"]].groupby("unique_id")["ds"].min(),
        "probability": g["p"].max(),
        "peak_forecast": g["mean"].max(),
    })
    return out.rename_axis("unique_id").reset_index()


def cost_forecast(events: pd.DataFrame, *, h: int = 90, granularity: str = "D", by: str = "model",
                  **auto_options) -> AutoForecast:
    """Forecast LLM spend (``cost_usd`` of generation events) per ``by`` group and in total.

    A thin wrapper: :func:`series_from_events` with ``filters={"event_type": "generation"}``
    and ``total=True``, then :func:`auto_forecast` (options passed through).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(20_000, days=120, seed=0).events
    >>> res = cost_forecast(ev, h=14, models=["seasonal_naive", "theta"], n_windows=2)
    >>> "total" in set(res.forecast["unique_id"])
    True
    """
    freq = {"D": "D", "W": "W-MON", "M": "MS"}[granularity.upper()] if granularity.upper() in "DWM" else granularity
    series = series_from_events(events, "cost_usd", granularity=granularity, by=by,
                                filters={"event_type": "generation"}, total=True)
    return auto_forecast(series, h=h, freq=freq, **auto_options)
