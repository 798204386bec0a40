"""The forecasting models behind one signature, in a registry plug-ins can extend.

A model is a function ``model(y, ds, future, ctx, memo=None) -> ModelFit``: ``y`` the history (a
float array, gaps possible), ``ds`` its timestamps, ``future`` the timestamps to forecast, ``ctx``
the :class:`ModelContext` (frequency, season length, holidays, seed...), ``memo`` a dict the model
may fill with what it estimated (to reuse at later backtest cutoffs, see ``forecast.selection``).
It returns the point forecast and either a standard deviation per step (normal intervals) or
simulated paths (empirical quantiles).

Built in: seasonal naive, the seasonal median ("similar days"), ETS, ARIMA, Theta, Prophet, a lag
regressor and two intermittent-demand models (SBA, TSB), with long seasons by Fourier terms.
:data:`MODELS` finds them and any plug-in's (entry-point group
``analytics_workbench.forecast_models``); metadata ``auto=True`` makes a model a default candidate
of ``auto_forecast`` (``coarsest``: only at steps that fine), ``complexity`` (a number) ranks it among
the others when backtest scores tie.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.registry import Registry

#: The built-in candidates of ``auto_forecast`` (seasonal naive is always scored as the baseline);
#: plug-in models registered with ``auto=True`` join them.
DEFAULT_AUTO_MODELS = ("seasonal_median", "ets", "theta", "arima", "lag_regressor")
_LOCAL_MAX_STEPS = 500  # history used by the local models (ets, theta, arima): recent behaviour matters
#: Multiplicative ETS seasonality is chosen only when its AICc is lower than the additive model's by
#: more than this (Burnham & Anderson: a difference under 2 is no evidence). Ties go to the simpler,
#: better-conditioned additive model, so the choice cannot flip on rounding: a multiplicative fit
#: that the optimiser leaves near its start values differs between CPUs' floating-point paths.
_MUL_AICC_MARGIN = 2.0


# --------------------------------------------------------------------------------------------
# Models: fit on one series (a float array without gaps), return mean and either a standard
# deviation per step (normal intervals) or simulated paths (empirical quantiles).
@dataclass(frozen=True)
class ModelFit:
    """What a model returns for one series.

    Attributes
    ----------
    mean : ndarray
        The point forecast, one value per future step.
    sd : ndarray, optional
        The forecast error's standard deviation per step (normal intervals).
    paths : ndarray, optional
        Simulated future paths, shape ``(n_paths, h)`` (empirical quantiles); give ``sd`` or ``paths``.
    components : DataFrame, optional
        In-sample components (trend, seasonal...) indexed like the training timestamps.
    """

    mean: np.ndarray
    sd: np.ndarray | None = None
    paths: np.ndarray | None = None  # shape (n_paths, h)
    components: pd.DataFrame | None = None  # in-sample trend / seasonal, indexed like the training ds


@dataclass(frozen=True)
class ModelContext:
    """What a model knows besides the series: its frequency and season, holidays, paths, seed."""

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


def _seasonal_naive(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
                    memo: dict | None = None) -> ModelFit:
    y, h = _fill(y), len(future)
    m = ctx.season if len(y) > ctx.season else 1
    last = y[-m:]
    mean = last[np.arange(h) % m]
    resid = y[m:] - y[:-m]
    # one difference (a 2-point history) has no spread: its size is the only hint of the noise;
    # a single observation says nothing about it (no interval)
    sigma = np.nanstd(resid, ddof=1) if len(resid) > 1 else float(np.abs(resid[0])) if len(resid) else np.nan
    k = np.floor(np.arange(h) / m) + 1  # complete seasons ahead (Hyndman & Athanasopoulos, 5.5)
    return ModelFit(mean, sd=sigma * np.sqrt(k))


#: Seasons whose same-phase values ``seasonal_median`` takes the median of (a week of days for hourly data).
_MEDIAN_SEASONS = 7
#: ``seasonal_median`` drops the seasons before a level shift: a season whose median level is further
#: from the last season's than this many robust standard deviations of the level's season-to-season
#: change (1.4826 x their median absolute value). Measured on the panel at 3 and 6: at 3, ordinary
#: weekday-to-weekend swings counted as shifts.
_SHIFT_NOISE = 6.0


def _seasonal_median(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
                     memo: dict | None = None) -> ModelFit:
    """The median of the last seven seasons at the same phase ("similar days": each hour of the next
    days is the median of that hour over the last seven days).

    Seasonal naive repeats the last season with its noise and one-off bursts; the median of seven
    seasons keeps the profile and drops a burst or an outage unless it recurs. After a level shift
    (the last season's level far from an earlier one's, see :data:`_SHIFT_NOISE`) only the seasons
    since the shift count, down to the last one (seasonal naive). With fewer than two seasons of
    history it is the median of the last seven values. Intervals: the empirical quantiles of the same
    rule's errors one season ahead in the recent history (a few bursts widen the tails only). Daily
    or weekly steps with two years of history get their yearly pattern and trend removed first
    (:func:`_long_season_adjusted`).
    """
    y, h = _fill(y), len(future)
    m = ctx.season if ctx.season > 1 and len(y) >= 2 * ctx.season else 1
    k = min(_MEDIAN_SEASONS, len(y) // m)
    recent = y[len(y) - k * m:].reshape(k, m)
    if k >= 3:
        levels = np.median(recent, axis=1)
        noise = 1.4826 * np.median(np.abs(np.diff(levels)))
        far = np.flatnonzero(np.abs(levels - levels[-1]) > _SHIFT_NOISE * noise)
        if len(far):
            recent = recent[far[-1] + 1:]  # the seasons since the last one far from the current level
    mean = np.median(recent, axis=0)[np.arange(h) % m]
    y = y[-(_LOCAL_MAX_STEPS + k * m):]
    n = len(y)
    lags = min(k, (n - 1) // m)
    if lags >= 1 and n - lags * m >= 2:
        past = np.stack([y[lags * m - j * m:n - j * m] for j in range(1, lags + 1)])
        errors = y[lags * m:] - np.median(past, axis=0)
    else:
        errors = np.diff(y)
    growth = np.sqrt(1 + np.floor(np.arange(h) / m) / len(recent))  # each further season adds drift
    if len(errors) < 2:  # one difference: its size is the only hint of the noise
        return ModelFit(mean, sd=np.abs(errors[0]) * growth if len(errors) else np.full(h, np.nan))
    # intervals from the errors' empirical quantiles (evenly spaced "paths", no sampling noise): a few
    # bursts in the history widen the tails, not every quantile
    spread = np.quantile(errors - np.median(errors), (np.arange(ctx.n_paths) + 0.5) / ctx.n_paths)
    return ModelFit(mean, paths=mean + spread[:, None] * growth)


def _ets(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
         memo: dict | None = None) -> ModelFit:
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
        elif memo and (memo["seasonal"] != "mul" or "mul" in seasonals):
            # the parameters of an earlier cutoff: only the states are updated with the new data (unless
            # the new data rules the earlier structure out: multiplicative seasonality after a zero)
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
    return ModelFit(mean, sd=np.sqrt(var), components=components)


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


def _arima(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
           memo: dict | None = None) -> ModelFit:
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
                  sigma2: float) -> ModelFit:
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
    return ModelFit(*_integrate(y, mean, res, d, D, m))


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


def _ses(y: np.ndarray, alpha: float, start: float | None = None) -> np.ndarray:
    """Simple exponential smoothing levels ``l_t = l_{t-1} + alpha (y_t - l_{t-1})`` from
    ``l_{-1} = start`` (default ``y[0]``), as one linear filter."""
    from scipy.signal import lfilter

    return lfilter([alpha], [1.0, alpha - 1.0], y, zi=[(1 - alpha) * (y[0] if start is None else start)])[0]


def _theta(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
           memo: dict | None = None) -> ModelFit:
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
        return ModelFit(mean, sd=np.abs(mean) * np.sqrt(sse(alpha) / (n - 1) / np.mean(level) ** 2
                                                  * (1 + np.arange(h) * (1 + (alpha - 1) ** 2))))
    return ModelFit(mean, sd=np.sqrt(sse(alpha) / (n - 1) * (1 + np.arange(h) * (1 + (alpha - 1) ** 2))))


# --------------------------------------------------------------------------------------------
# Intermittent demand: counts that are mostly zero (a rarely used feature, incidents)
#: Share of zero observations from which ``auto_forecast`` adds the intermittent models to a
#: series' candidates (Syntetos & Boylan's classification puts "intermittent" at an average
#: inter-demand interval above 1.32, i.e. about 25 % zeros; 30 % leaves smooth counts alone).
INTERMITTENT_ZERO_SHARE = 0.3
_SMOOTHING_GRID = (0.05, 0.1, 0.2, 0.3)


def _intermittent(y: np.ndarray, future: pd.DatetimeIndex, ctx: ModelContext, kind: str) -> ModelFit:
    """TSB or SBA on a non-negative series: smoothing weights from a small grid by one-step squared
    error; intervals from simulated paths (Bernoulli demand occurrence, sizes resampled from the
    recent demands and scaled to the smoothed size), so bounds are never negative."""
    h = len(future)
    y = _fill(y)[-_LOCAL_MAX_STEPS:]
    if (y < 0).any():
        raise WorkbenchError(f"the {kind} model forecasts counts: the series has negative values")
    demand = y > 0
    if not demand.any():
        return ModelFit(np.zeros(h), sd=np.zeros(h))
    t_demand = np.flatnonzero(demand)
    sizes = y[demand]
    last_before = np.maximum.accumulate(np.where(demand, np.arange(len(y)), -1))  # last demand at or before t
    best = None
    for a in _SMOOTHING_GRID:
        z = _ses(sizes, a, sizes.mean())
        if kind == "tsb":  # Teunter, Syntetos & Babai (2011): probability smoothed every step
            for b in _SMOOTHING_GRID:
                p = _ses(demand.astype("float64"), b, demand.mean())
                level = p * np.where(last_before >= 0, z[np.searchsorted(t_demand, np.maximum(last_before, 0))],
                                     sizes.mean())
                err = float(np.mean((y[1:] - level[:-1]) ** 2))
                if best is None or err < best[0]:
                    best = (err, float(p[-1]), float(z[-1]))
        else:  # Croston with the Syntetos-Boylan bias correction (1 - alpha / 2)
            gaps = np.diff(np.r_[-1, t_demand]).astype("float64")
            q = _ses(gaps, a, gaps.mean())
            rate = (1 - a / 2) * z / q
            level = np.where(last_before >= 0, rate[np.searchsorted(t_demand, np.maximum(last_before, 0))], 0.0)
            err = float(np.mean((y[1:] - level[:-1]) ** 2))
            if best is None or err < best[0]:
                best = (err, float(min(1.0, 1 / q[-1])), float(z[-1] * (1 - a / 2)))
    _, prob, size = best
    rng = np.random.default_rng(ctx.seed)
    recent = sizes[-50:]
    draws = rng.choice(recent, size=(ctx.n_paths, h)) * (size / recent.mean())
    paths = (rng.random((ctx.n_paths, h)) < prob) * draws
    return ModelFit(np.full(h, prob * size), paths=paths)


def _tsb(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
         memo: dict | None = None) -> ModelFit:
    """TSB (Teunter-Syntetos-Babai) for intermittent counts: the demand probability (every step)
    and the demand size (at demands) smoothed separately; the forecast is their product, so a
    series whose demand dies out is forecast towards zero (Croston's method never is)."""
    return _intermittent(y, future, ctx, "tsb")


def _sba(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
         memo: dict | None = None) -> ModelFit:
    """SBA (Syntetos-Boylan approximation) for intermittent counts: Croston's smoothed demand size
    over smoothed inter-demand interval, times ``1 - alpha / 2`` (Croston's method is biased up)."""
    return _intermittent(y, future, ctx, "sba")


def zero_share(y) -> float:
    """Share of zeros among the non-missing values (``auto_forecast`` adds ``INTERMITTENT_MODELS`` to a
    never-negative series from :data:`INTERMITTENT_ZERO_SHARE`).

    Examples
    --------
    >>> zero_share([0, 0, 3, np.nan, 0, 1])
    0.6
    """
    v = np.asarray(y, dtype="float64")
    v = v[~np.isnan(v)]
    return float(np.mean(v == 0)) if len(v) else 0.0


def _prophet(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
             memo: dict | None = None) -> ModelFit:
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
    return ModelFit(mean, paths=paths, components=components)


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


def _lag_regressor(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
                   memo: dict | None = None) -> ModelFit:
    from sklearn.linear_model import RidgeCV

    y, h, m = _fill(y), len(future), max(ctx.season, 1)
    n_lags = min(max(2 * m, 7), max(len(y) // 3, 1))
    if len(y) < n_lags + 10:  # under 15 steps (min_length): no regression, so no forecast from it
        return ModelFit(np.full(h, np.nan), sd=np.full(h, np.nan))
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
    return ModelFit(out[0], paths=out[1:])


#: Long seasons the local models (seasonal period: a week of days, a day of hours...) do not see,
#: removed as Fourier terms: (period in days, harmonics, least history in days). Yearly for
#: daily and weekly steps (Prophet's 10 pairs); weekly for hourly and finer steps, harmonics
#: 1-10 but 7 (the daily cycle is the model's own season; 6 and 8 let the day's shape change
#: between weekdays and weekends).
LONG_SEASONS = {"yearly": (365.25, tuple(range(1, 11)), 730.0), "weekly": (7.0, (1, 2, 3, 4, 5, 6, 8, 9, 10), 21.0)}


def _fourier(ds: pd.DatetimeIndex, period_days: float, harmonics: Sequence[int]) -> np.ndarray:
    days = np.asarray((ds - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1), dtype="float64")
    arg = 2 * np.pi * np.outer(days / period_days, np.asarray(harmonics, dtype="float64"))
    return np.hstack([np.sin(arg), np.cos(arg)])


_SEASON_LAST: dict = {}  # the last series' long-season pattern: the local models are fitted one after another on it


def _huber_lstsq(X: np.ndarray, y: np.ndarray, iterations: int = 5, c: float = 1.345) -> np.ndarray:
    """Least squares with Huber weights (iteratively reweighted, ``iterations`` passes): residuals beyond
    ``c`` robust standard deviations (1.4826 MAD) count linearly, so a few spikes or outages do not
    shape the fit."""
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(iterations):
        r = y - X @ beta
        s = 1.4826 * np.median(np.abs(r - np.median(r)))
        if not s > 0:
            break
        w = np.minimum(1.0, c * s / np.maximum(np.abs(r), np.finfo(float).tiny))
        Xw = X * w[:, None]  # weighted normal equations: a few columns, so a small solve
        try:
            beta = np.linalg.solve(Xw.T @ X, Xw.T @ y)
        except np.linalg.LinAlgError:
            break
    return beta


def _long_pattern(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex,
                  season: str) -> tuple[np.ndarray, np.ndarray]:
    """A long season's Fourier pattern (with a linear trend, by robust least squares: :func:`_huber_lstsq`)
    over the history and the future."""
    key = (season, ds[0], ds[-1], len(ds), future[0], len(future), y.tobytes())
    pattern = _SEASON_LAST.get(key)
    if pattern is None:
        period, harmonics, _ = LONG_SEASONS[season]
        f_past, f_future = _fourier(ds, period, harmonics), _fourier(future, period, harmonics)
        t = np.arange(len(ds), dtype="float64") / len(ds)
        ok = ~np.isnan(y)
        X = np.column_stack([np.ones(len(ds)), t, f_past])
        beta = _huber_lstsq(X[ok], y[ok])
        pattern = (f_past @ beta[2:], f_future @ beta[2:])
        _SEASON_LAST.clear()  # one entry (threads of a Dask worker may replace it: `pattern` is ours)
        _SEASON_LAST[key] = pattern
    return pattern


def long_season(freq: str, span: pd.Timedelta) -> str | None:
    """The long season a local model at ``freq`` misses and the history is long enough to estimate:
    ``"yearly"`` (daily or weekly steps, two years), ``"weekly"`` (hourly or finer steps, three
    weeks) or None.

    Parameters
    ----------
    freq : str
        The series' pandas frequency.
    span : Timedelta
        From the first to the last observation.

    Examples
    --------
    >>> long_season("h", pd.Timedelta(days=60)), long_season("D", pd.Timedelta(days=800)), long_season("MS", pd.Timedelta(days=3000))
    ('weekly', 'yearly', None)
    """
    step = pd.tseries.frequencies.to_offset(freq)
    if isinstance(step, pd.offsets.Tick) and step.nanos < pd.Timedelta(days=1).value:
        season = "weekly"
    elif isinstance(step, pd.offsets.Tick) or step.rule_code.split("-")[0] in ("D", "W", "B"):
        season = "yearly"
    else:
        return None
    return season if span >= pd.Timedelta(days=LONG_SEASONS[season][2]) else None


def _long_season_adjusted(fn: Callable, only: tuple[str, ...] | None = None) -> Callable:
    """Give a local model the long season it misses (:func:`long_season`): yearly for daily and
    weekly steps, weekly (24 x 7) for hourly ones.

    The pattern (Fourier terms, :data:`LONG_SEASONS`) is estimated by robust least squares
    (:func:`_huber_lstsq`) together with a linear trend on the whole history, removed before the model is fitted on the (possibly
    shorter) recent history, and added back to its forecast and paths. ``only``: the long seasons
    given (default: both).
    """
    def model(y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, ctx: ModelContext,
              memo: dict | None = None) -> ModelFit:
        season = long_season(ctx.freq, ds[-1] - ds[0])
        if season == "weekly" and ctx.season >= 168:  # the model's own season is already the week (or longer)
            season = None
        if season is None or (only is not None and season not in only):
            return fn(y, ds, future, ctx, memo)
        past_season, future_season = _long_pattern(y, ds, future, season)
        fit = fn(y - past_season, ds, future, ctx, memo)
        comps = fit.components.assign(**{season: past_season[-len(fit.components):]}) \
            if fit.components is not None else None
        paths = fit.paths + future_season if fit.paths is not None else None
        return ModelFit(fit.mean + future_season, sd=fit.sd, paths=paths, components=comps)

    model.__doc__ = fn.__doc__
    return model


def _check_model(name: str, model: Callable) -> None:
    if not callable(model):
        raise WorkbenchError(f"the forecast model {name!r} is not callable: register a function "
                             "model(y, ds, future, ctx, memo=None) -> ModelFit")


#: Forecast models by name: ``model(y, ds, future, ctx, memo=None) -> ModelFit``.
MODELS = Registry("forecast model", "analytics_workbench.forecast_models", check=_check_model)
#: The built-in models from the simplest to the most complex (their ``complexity`` metadata): among
#: candidates whose backtest scores tie, the simplest is chosen (plug-ins without a rank after these).
COMPLEXITY = ("seasonal_naive", "seasonal_median", "sba", "tsb", "theta", "ets", "arima", "lag_regressor", "prophet")
#: The intermittent-demand models ``auto_forecast`` adds to mostly-zero count series.
INTERMITTENT_MODELS = ("sba", "tsb")
_BUILT_IN = {"seasonal_naive": _seasonal_naive,
             "seasonal_median": _long_season_adjusted(_seasonal_median, only=("yearly",)),
             "theta": _long_season_adjusted(_theta), "ets": _long_season_adjusted(_ets),
             "arima": _long_season_adjusted(_arima), "lag_regressor": _lag_regressor, "prophet": _prophet,
             "sba": _sba, "tsb": _tsb}
#: Fewest observations a built-in model is fitted on (metadata ``min_length``; default 2): with
#: fewer, its columns are NaN for that series and ``auto_forecast`` says so in ``selection.fallback``.
_MIN_LENGTH = {"seasonal_naive": 1, "arima": 8, "lag_regressor": 15}
#: The coarsest step at which a built-in model is a default candidate (metadata ``coarsest``; None or
#: absent: every step). Seven seasons of a daily or finer series are seven days or weeks; of a weekly,
#: monthly or yearly one, seven years, over which trends make a median stale (on the panel, offering
#: ``seasonal_median`` at those steps made them worse: share better than seasonal naive 0.81 -> 0.72).
_COARSEST = {"seasonal_median": "D"}
for _rank, _name in enumerate(COMPLEXITY):
    MODELS.register(_name, _BUILT_IN[_name], complexity=_rank, auto=_name in DEFAULT_AUTO_MODELS,
                    min_length=_MIN_LENGTH.get(_name, 2), coarsest=_COARSEST.get(_name))
del _rank, _name


def min_length(name: str) -> int:
    """Fewest (non-missing) observations the model ``name`` is fitted on; 2 for plug-ins that do not say.

    Examples
    --------
    >>> min_length("arima"), min_length("theta"), min_length("seasonal_naive")
    (8, 2, 1)
    """
    try:
        return int(MODELS.meta(name).get("min_length", 2))
    except WorkbenchError:
        return 2


def _step(freq: str) -> pd.Timedelta:
    start = pd.Timestamp("2001-01-01")
    return (start + pd.tseries.frequencies.to_offset(freq)) - start


def auto_candidates(granularity: str | None = None) -> list[str]:
    """The default candidates of ``auto_forecast``: built-in and plug-in models marked ``auto``; with
    ``granularity``, only those whose metadata ``coarsest`` (a step, e.g. ``"D"``) is not finer than it.

    Examples
    --------
    >>> auto_candidates("h")[:5]
    ['seasonal_median', 'theta', 'ets', 'arima', 'lag_regressor']
    >>> auto_candidates("MS")[:4]
    ['theta', 'ets', 'arima', 'lag_regressor']
    """
    names = MODELS.names(auto=True)
    if granularity is None:
        return names
    try:
        step = _step(granularity)
    except ValueError:  # not a frequency: the Forecaster says so in its own words
        return names
    coarsest = {n: MODELS.meta(n).get("coarsest") for n in names}
    return [n for n in names if coarsest[n] is None or step <= _step(coarsest[n])]


def complexity(name: str) -> float:
    """A model's rank for ties in backtest scores (lower: simpler); unranked plug-ins after the built-ins.

    Examples
    --------
    >>> complexity("seasonal_naive") < complexity("ets") < complexity("prophet")
    True
    """
    try:
        return float(MODELS.meta(name).get("complexity", 100))
    except WorkbenchError:
        return 100.0


def _intervals(fit: ModelFit, name: str, level: Sequence[int]) -> dict[str, np.ndarray]:
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
