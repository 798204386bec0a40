"""Anomaly scores per point: robust rolling z, IQR fences, seasonal and STL residuals, forecast
residuals, flat lines (``anomaly_scores``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from analytics_lib.analysis.anomaly.series import (
    ANOMALY_COLUMNS, EXTENSIVE_KPIS, SEVERITY, SEVERITY_LEVELS, _BLOCK_CELLS, _IQR_TO_SD, _MAD_TO_SD, _Q3_Z,
    _auto_periods, _grid, _on_grid, _steps, metric_series, score_threshold)
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.registry import Registry

if TYPE_CHECKING:
    from analytics_lib.analysis.anomaly.series import MetricSeries


# ============================================================================================
# Scoring: every method gives expected, lower/upper bands and a signed score per observation
@dataclass(frozen=True)
class Scores:
    """What a detector returns for one :class:`~analytics_lib.analysis.anomaly.series.MetricSeries`:
    per observation the expected value, the band, a signed score (robust z units: comparable to
    :func:`~analytics_lib.analysis.anomaly.series.score_threshold`) and whether it is flagged."""

    expected: np.ndarray
    score: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    flag: np.ndarray


def _robust_scale(values: np.ndarray) -> float:
    """1.4826 x MAD of the finite values; falls back to the mean absolute deviation (x 1.2533)
    when more than half the values are equal, and to 1e-12 for a constant series."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return float("nan")
    mad = _MAD_TO_SD * float(np.median(np.abs(v - np.median(v))))
    if mad > 0:
        return mad
    mean_ad = 1.2533 * float(np.mean(np.abs(v - np.mean(v))))
    return mean_ad if mean_ad > 0 else 1e-12


#: Efficiency of the MAD as a scale estimate for normal data: a robust z computed from k values
#: behaves like a Student t with about 0.37 (k - 1) degrees of freedom.
_MAD_EFFICIENCY = 0.37


def _from_scale(y: np.ndarray, expected: np.ndarray, scale: np.ndarray, thr: float,
                n_ref: np.ndarray | float = np.inf) -> Scores:
    """Score = robust z; flagged outside the band ``expected +- c x scale`` where ``c`` is the
    Student-t quantile (``0.37 (n_ref - 1)`` degrees of freedom) with the tail probability of a
    normal at the threshold: a scale estimated from few values earns a wider band."""
    nu = np.maximum(1.0, _MAD_EFFICIENCY * (np.asarray(n_ref, dtype="float64") - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (y - expected) / scale
        c = np.where(nu < 1e6, stats.t.isf(stats.norm.sf(thr), nu), thr)
        width = c * scale
        flag = np.abs(score) >= c
    return Scores(expected, score, expected - width, expected + width, flag & np.isfinite(score))


def _window_rows(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """values[idx] with NaN where idx < 0 (idx is a 2-D array of positions)."""
    padded = np.concatenate([[np.nan], values])
    return padded[np.where(idx >= 0, idx + 1, 0)]


def _blocked(n: int, width: int):
    rows = max(1, _BLOCK_CELLS // max(width, 1))
    for lo in range(0, n, rows):
        yield lo, min(n, lo + rows)


def _rolling_z(m: MetricSeries, thr: float, *, window: str | int | None, min_periods: int | None,
               season: int | None, center: bool = False) -> Scores:
    g = _grid(m.ts)
    ok = ~np.isnan(m.y)
    n = len(m.y)
    wt = m.weights
    expected = np.full(n, np.nan)
    spread = np.full(n, np.nan)   # 1.4826 x weighted MAD: the noise sd at unit weight
    n_ref = np.ones(n)
    if season is None:
        # count-based window over the previous observations (works for irregular series)
        w = _steps(window, g, "window") or _DEFAULT_WINDOW
        mp = max(3, w // 4) if min_periods is None else int(min_periods)
        if not 1 <= mp <= w:
            raise WorkbenchError(f"min_periods={min_periods} must be between 1 and the window ({w} observations)")
        pos_obs = np.flatnonzero(ok)
        k = len(pos_obs)
        if center:  # w // 2 observations on each side, the point itself left out
            half = max(1, w // 2)
            pad = np.full(half, np.nan)
            v_views = sliding_window_view(np.concatenate([pad, m.y[ok], pad]), 2 * half + 1)
            w_views = sliding_window_view(np.concatenate([pad, wt[ok], pad]), 2 * half + 1)
            idx = np.arange(k)
            counts = np.minimum(idx, half) + np.minimum(k - 1 - idx, half)
            width = 2 * half + 1
        else:     # the previous w observations
            pad = np.full(w, np.nan)
            v_views = sliding_window_view(np.concatenate([pad, m.y[ok]])[:-1], w) if k else np.empty((0, w))
            w_views = sliding_window_view(np.concatenate([pad, wt[ok]])[:-1], w) if k else np.empty((0, w))
            counts = np.minimum(np.arange(k), w)
            width, half = w, None
        n_ref[pos_obs] = counts
        med, mad = np.full(k, np.nan), np.full(k, np.nan)
        for lo, hi in _blocked(k, width):
            enough = counts[lo:hi] >= mp
            if enough.any():
                block, wb = v_views[lo:hi][enough], w_views[lo:hi][enough]
                if half is not None:
                    block = block.copy()
                    block[:, half] = np.nan
                    # remove the local linear trend: the median of the symmetric pair slopes
                    # (y[t+j] - y[t-j]) / 2j, so a point on a ramp is compared with the ramp
                    j = np.arange(1, half + 1)
                    pairs = (block[:, half + j] - block[:, half - j]) / (2 * j)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        slope = np.nan_to_num(np.nanmedian(pairs, axis=1))
                    # near the ends only a few pairs exist: too few to trust, keep the plain median there
                    slope[np.sum(~np.isnan(pairs), axis=1) < max(3, half // 2)] = 0.0
                    block = block - slope[:, None] * (np.arange(width) - half)[None, :]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    bm = np.nanmedian(block, axis=1)
                    med[lo:hi][enough] = bm
                    mad[lo:hi][enough] = np.nanmedian(np.abs(block - bm[:, None]) * wb, axis=1)
        expected[pos_obs] = med
        spread[pos_obs] = _MAD_TO_SD * mad
    else:
        # same phase of the previous `seasons` cycles on the regular grid
        if center:
            raise WorkbenchError("center=True works without season: use seasonal_anomalies for seasonal series")
        if not g.regular:
            raise WorkbenchError(f"metric {m.name!r}: season={season} needs timestamps on a regular grid; "
                                 "use seasonal_anomalies for irregular series")
        if season < 2:
            raise WorkbenchError(f"season={season} must be at least 2 steps")
        seasons = _steps(window, g, "window") or 8
        mp = max(3, seasons // 2) if min_periods is None else int(min_periods)
        if not 1 <= mp <= seasons:
            raise WorkbenchError(f"min_periods={min_periods} must be between 1 and the {seasons} seasons")
        on, w_on = _on_grid(g, m.y), _on_grid(g, wt)
        lags = season * np.arange(1, seasons + 1)
        idx = g.pos[ok][:, None] - lags[None, :]
        rows, w_rows = _window_rows(on, idx), _window_rows(w_on, idx)
        cnt = np.sum(~np.isnan(rows), axis=1)
        n_ref[ok] = cnt
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(rows, axis=1)
            mad = np.nanmedian(np.abs(rows - med[:, None]) * w_rows, axis=1)
        med[cnt < mp] = np.nan
        expected[ok] = med
        spread[ok] = _MAD_TO_SD * mad
    floor = 0.25 * _robust_scale((m.y - np.nanmedian(m.y)) * wt)
    scale = np.maximum(spread, floor) / wt
    return _from_scale(m.y, expected, scale, thr, n_ref)


#: Default rolling window in observations: four weeks of daily data, 2 h 20 min of 5-minute data.
_DEFAULT_WINDOW = 28


def _iqr(m: MetricSeries, thr: float, *, window: str | int | None) -> Scores:
    g = _grid(m.ts)
    ok = ~np.isnan(m.y)
    n = len(m.y)
    k = (thr - _Q3_Z) / _IQR_TO_SD   # fences at Q1 - k IQR, Q3 + k IQR (1.5 at thr = 2.7)
    q1, med, q3 = (np.full(n, np.nan) for _ in range(3))
    if window is None:
        v = m.y[ok]
        if len(v):
            a, b, c = np.percentile(v, [25, 50, 75])
            q1[ok], med[ok], q3[ok] = a, b, c
    else:
        w = _steps(window, g, "window")
        vals = m.y[ok]
        half = w // 2
        padded = np.concatenate([np.full(half, np.nan), vals, np.full(w - half - 1, np.nan)])
        views = sliding_window_view(padded, w)  # centered window over observations
        res = np.full((len(vals), 3), np.nan)
        for lo, hi in _blocked(len(vals), w):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res[lo:hi] = np.nanpercentile(views[lo:hi], [25, 50, 75], axis=1).T
        q1[ok], med[ok], q3[ok] = res[:, 0], res[:, 1], res[:, 2]
    iqr = np.maximum(q3 - q1, 1e-12)
    unit = iqr / _IQR_TO_SD
    y = m.y
    with np.errstate(invalid="ignore"):
        inside = (y - med) / unit
        score = np.where(y > q3, (y - q3) / unit + _Q3_Z, np.where(y < q1, -((q1 - y) / unit + _Q3_Z), inside))
    lower, upper = q1 - k * iqr, q3 + k * iqr
    with np.errstate(invalid="ignore"):
        flag = (y < lower) | (y > upper)
    return Scores(med, score, lower, upper, flag)


#: Fewer full cycles than this and the seasonal component comes from leave-one-out phase
#: medians instead of STL (loess over 4 values per phase follows the noise; see _seasonal_fit).
_MIN_STL_CYCLES = 10


def _phase_medians(on: np.ndarray, period: int) -> np.ndarray:
    """Seasonal component from leave-one-out phase medians: the series less a centered rolling
    median over one period, then at each point the median of the same phase in every *other*
    cycle (the point itself never shapes its own expected value)."""
    filled = pd.Series(on).interpolate(limit_direction="both")
    level = filled.rolling(_next_odd(period), center=True, min_periods=1).median().to_numpy()
    d = on - level
    n = len(d)
    k = n // period + 1
    lags = period * np.r_[-np.arange(1, k + 1), np.arange(1, k + 1)]
    idx = np.arange(n)[:, None] + lags[None, :]
    rows = _window_rows(d, np.where((idx >= 0) & (idx < n), idx, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(np.nanmedian(rows, axis=1))


def _seasonal_fit(on: np.ndarray, periods: tuple[int, ...], robust: bool) -> np.ndarray:
    """The total seasonal component of a robust STL (one period) or MSTL (several) fit.

    When a period has fewer than ``_MIN_STL_CYCLES`` cycles, every component comes from
    leave-one-out phase medians instead (:func:`_phase_medians`, shortest period first): on four weeks of
    daily data a robust loess per weekday has four values to work with, zeroes the weight
    of whichever deviates and ends up following the noise, which shrinks the residuals
    (measured: a scale 2.6 times too small on a 28-day cache-hit-rate series).

    Gaps are filled by linear interpolation for the fit only. The seasonal smoother is
    local-constant over about twice as many cycles as the data hold (at least 7, at most
    35), so each phase's seasonal value is a stable, robust average rather than a value
    that follows the noise; the loess smoothers are evaluated every ``jump`` points (about
    a tenth of each window) and interpolated, which keeps 5-minute data fast."""
    from statsmodels.tsa.seasonal import MSTL, STL

    short = [p for p in periods if len(on) // p < _MIN_STL_CYCLES]
    if short:
        total = np.zeros(len(on))
        rest = on.copy()
        for p in sorted(periods):  # shortest period first, each on what the previous left
            comp = _phase_medians(rest, p)
            total += comp
            rest = rest - comp
        return total
    filled = pd.Series(on).interpolate(limit_direction="both").to_numpy()

    def windows(period: int) -> tuple[int, int, int]:
        seasonal = _next_odd(max(7, min(35, 2 * (len(filled) // period))))
        trend = _next_odd(1.5 * period / (1 - 1.5 / seasonal))
        return seasonal, trend, _next_odd(period + 1)

    def jumps(seasonal: int, trend: int, low_pass: int) -> dict[str, int]:
        return dict(seasonal_jump=max(1, math.ceil(seasonal / 10)), trend_jump=max(1, math.ceil(trend / 10)),
                    low_pass_jump=max(1, math.ceil(low_pass / 10)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(periods) == 1:
            seasonal, trend, low_pass = windows(periods[0])
            res = STL(filled, period=periods[0], seasonal=seasonal, trend=trend, low_pass=low_pass,
                      seasonal_deg=0, robust=robust, **jumps(seasonal, trend, low_pass)).fit()
            return np.asarray(res.seasonal)
        ws = [windows(p) for p in periods]
        kw = dict(seasonal_deg=0, robust=robust, **jumps(*max(ws, key=lambda w: w[1])))
        res = MSTL(filled, periods=list(periods), windows=[w[0] for w in ws], stl_kwargs=kw).fit()
        seasonal = np.asarray(res.seasonal)
        return seasonal.sum(axis=1) if seasonal.ndim == 2 else seasonal


def _next_odd(x: float) -> int:
    n = int(math.ceil(x))
    return n if n % 2 == 1 else n + 1


def _loo_median(d: np.ndarray, width: int) -> np.ndarray:
    """Centered rolling median over ``width`` (odd) grid steps, leaving the point itself out."""
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), d, np.full(half, np.nan)])
    views = sliding_window_view(padded, 2 * half + 1)
    out = np.full(len(d), np.nan)
    for lo, hi in _blocked(len(d), 2 * half + 1):
        block = views[lo:hi].copy()
        block[:, half] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[lo:hi] = np.nanmedian(block, axis=1)
    return out


def _stl_periods(m: MetricSeries, opts: Mapping[str, Any]) -> tuple[int, ...]:
    if opts.get("periods") is not None:
        return tuple(int(p) for p in opts["periods"])
    return _auto_periods(_grid(m.ts), int((~np.isnan(m.y)).sum()))


def _stl(m: MetricSeries, thr: float, *, periods: Sequence[int] | None, robust: bool, trend: int | None,
         required: bool = True, multiplicative: bool | None = None) -> tuple[Scores, float] | None:
    g = _grid(m.ts)
    ok = ~np.isnan(m.y)
    positive = bool(ok.any() and (m.y[ok] > 0).all())
    if multiplicative is None:
        multiplicative = positive and m.name in EXTENSIVE_KPIS
    if multiplicative and not positive:
        raise WorkbenchError(f"metric {m.name!r}: multiplicative=True needs values above 0 (it works on logs)")
    per = tuple(int(p) for p in periods) if periods is not None else _auto_periods(g, int(ok.sum()))
    if not per:
        if not required:
            return None
        raise WorkbenchError(
            f"metric {m.name!r} is too short for a seasonal decomposition ({int(ok.sum())} observations, "
            f"step {g.step}): it needs two full days (sub-daily steps), two weeks (daily) or two years "
            "(weekly, monthly) of data; pass periods=[...] or use rolling_zscore_anomalies")
    bad = [p for p in per if p < 2 or g.n < 2 * p]
    if bad:
        raise WorkbenchError(f"metric {m.name!r}: periods {bad} need at least two full cycles "
                             f"({g.n} grid steps available) and must be at least 2")
    width = _next_odd(trend if trend is not None else 2 * min(per) + 1)
    if width < 3:
        raise WorkbenchError(f"trend={trend} must be at least 3 steps")
    y = np.log(m.y) if multiplicative else m.y
    weights = m.weights
    if multiplicative and m.name in EXTENSIVE_KPIS:
        # a count's log has sampling noise ~ 1 / sqrt(count): quiet days (weekends) are noisier
        weights = np.sqrt(np.where(ok, m.y, np.nan) / np.nanmedian(m.y[ok]))
        weights = np.where(np.isfinite(weights), weights, 1.0)
    on = _on_grid(g, y)
    seasonal = _seasonal_fit(on, per, robust)
    level = _loo_median(on - seasonal, width)
    fit = (seasonal + level)[g.pos]
    resid = y - fit
    unit = _robust_scale((resid * weights)[ok])   # noise sd at unit weight
    scale = unit / weights
    # strength of seasonality (Hyndman & Athanasopoulos 6.7), robustly: 1 - var(R) / var(S + R)
    has = ~np.isnan(on)
    detrended = (on - level)[has]
    strength = max(0.0, 1 - (_robust_scale(resid[ok]) / max(_robust_scale(detrended), 1e-12)) ** 2)
    sc = _from_scale(y, fit, scale, thr, float(ok.sum()))
    if multiplicative:  # scores stay on the log scale; expected value and band go back to units
        sc = Scores(np.exp(sc.expected), sc.score, np.exp(sc.lower), np.exp(sc.upper), sc.flag)
    return sc, strength


def _forecast(m: MetricSeries, thr: float, *, model: str, h: int | None, n_windows: int | None,
              season: int | None) -> Scores:
    g = _grid(m.ts)
    if g.regular:
        expected, scale = _forecast_band(m.name, m.ts, m.y, g, model=model, h=h, n_windows=n_windows, season=season)
    else:
        # irregular timestamps: forecast the series snapped to its step (the mean of each bin, the
        # bins aligned to whole steps, as a pandas frequency is) and score every observation
        # against its bin's forecast
        cells = np.unique(g.pos)
        ts = m.ts[0].floor(g.step) + pd.to_timedelta(cells * g.step.value, unit="ns")
        band = _forecast_band(m.name, ts, _on_grid(g, m.y)[cells], _grid(ts), model=model, h=h,
                              n_windows=n_windows, season=season)
        cell = np.searchsorted(cells, g.pos)
        expected, scale = band[0][cell], band[1][cell]
    return _from_scale(m.y, expected, scale, thr)


def _forecast_band(name: str, ts: pd.DatetimeIndex, y: np.ndarray, g, *, model: str, h: int | None,
                   n_windows: int | None, season: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample forecasts of backtest windows and their sd (from the 80 % interval) on a
    regular grid (gaps allowed); NaN before the first cutoff."""
    from analytics_lib.forecast.estimator import Forecaster
    from analytics_lib.forecast.selection import backtest

    ok = ~np.isnan(y)
    per = _auto_periods(g, int(ok.sum()))
    season = season or (per[0] if per else 1)
    h = int(h or max(1, min(season, 28)))
    n_obs = g.n
    n_windows = int(n_windows or max(1, min(20, (n_obs // 3) // h)))
    if n_obs - h * n_windows < max(3, season + 1):
        raise WorkbenchError(f"metric {name!r} has {n_obs} steps: too short for {n_windows} backtest windows "
                             f"of h={h} after a history of {season + 1} (use fewer windows or a smaller h)")
    t = ts if ts.tz is None else ts.tz_convert("UTC").tz_localize(None)
    long = pd.DataFrame({"unique_id": name, "ds": t, "y": y})
    level = 80
    cv = backtest(Forecaster(models=[model], granularity=g.freq, season=season), long, horizon=h, n_windows=n_windows,
                  level=[level])
    z80 = stats.norm.ppf(0.5 + level / 200)
    sd = (cv[f"{model}-hi-{level}"] - cv[f"{model}-lo-{level}"]).to_numpy(dtype="float64") / (2 * z80)
    at = pd.DatetimeIndex(cv["ds"]).as_unit("ns").asi8
    idx = pd.Index(t.as_unit("ns").asi8).get_indexer(at)
    expected = np.full(len(y), np.nan)
    scale = np.full(len(y), np.nan)
    keep = idx >= 0
    expected[idx[keep]] = cv[model].to_numpy(dtype="float64")[keep]
    floor = 0.05 * _robust_scale(y)
    scale[idx[keep]] = np.maximum(sd[keep], floor)
    return expected, scale


def _flatline(m: MetricSeries, thr: float, *, min_run: int) -> Scores:
    """Runs of one repeated value, scored by how improbable the run is given the series' own
    rate of exact repeats: P(run of length L) ~ p^(L-1) with p the share of consecutive
    observed pairs that are equal (Laplace-smoothed), Bonferroni-adjusted over the pairs."""
    n = len(m.y)
    y = m.y
    ok = ~np.isnan(y)
    vals = y[ok]
    idx = np.flatnonzero(ok)
    expected = np.full(n, np.nan)
    score = np.full(n, np.nan)
    k = len(vals)
    if k < 3:
        return Scores(expected, score, expected.copy(), expected.copy(), np.zeros(n, dtype=bool))
    same = vals[1:] == vals[:-1]
    p = (same.sum() + 1) / (len(same) + 2)
    starts = np.r_[0, np.flatnonzero(~same) + 1]
    lengths = np.diff(np.r_[starts, k])
    run_id = np.repeat(np.arange(len(starts)), lengths)
    run_len = lengths[run_id]
    log_p = (run_len - 1) * math.log(p) + math.log(len(same))
    p_adj = np.exp(np.minimum(log_p, 0.0))
    z = stats.norm.isf(np.clip(p_adj, 1e-300, 1.0) / 2)
    z = np.where(p_adj >= 1.0, 0.0, z)
    z = np.where(run_len >= min_run, z, 0.0)
    # expected: the median of as many observations before and after the run as the run is long
    flagged_runs = np.flatnonzero((lengths >= min_run) & (z[starts] >= thr))
    exp_obs = np.full(k, np.nan)
    for r in flagged_runs:  # one small slice per flagged run (few)
        a, b, L = starts[r], starts[r] + lengths[r], lengths[r]
        around = np.r_[vals[max(0, a - L):a], vals[b:b + L]]
        exp_obs[a:b] = np.median(around) if len(around) else np.nan
    sign = np.sign(vals - exp_obs)
    sign = np.where(np.isnan(sign) | (sign == 0), 1.0, sign)
    expected[idx] = np.where(np.isnan(exp_obs), vals, exp_obs)
    score[idx] = sign * z
    with np.errstate(invalid="ignore"):
        flag = np.abs(score) >= thr
    return Scores(expected, score, np.full(n, np.nan), np.full(n, np.nan), flag)


# ============================================================================================
# Results
def _severity(abs_score: np.ndarray) -> pd.Categorical:
    return SEVERITY.grade(np.asarray(abs_score, dtype="float64"))


def _frame(m: MetricSeries, method: str, sc: Scores, flagged: np.ndarray | None) -> pd.DataFrame:
    keep = np.ones(len(m.y), dtype=bool) if flagged is None else flagged
    score = sc.score[keep]
    out = pd.DataFrame({
        "timestamp": m.ts[keep], "metric": m.name, "method": method, "observed": m.y[keep],
        "expected": sc.expected[keep], "lower": sc.lower[keep], "upper": sc.upper[keep], "score": score,
    })
    out["severity"] = _severity(np.abs(score))
    out["direction"] = pd.Categorical(np.where(score >= 0, "spike", "drop"), categories=["spike", "drop"])
    return out


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="float64") for c in ANOMALY_COLUMNS})
    out["timestamp"] = pd.Series(dtype="datetime64[ns]")
    out["metric"] = out["method"] = pd.Series(dtype="str")
    out["severity"] = pd.Categorical([], categories=SEVERITY_LEVELS, ordered=True)
    out["direction"] = pd.Categorical([], categories=["spike", "drop"])
    return out


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out["severity"] = pd.Categorical(out["severity"].astype(str), categories=SEVERITY_LEVELS, ordered=True)
    out["direction"] = pd.Categorical(out["direction"].astype(str), categories=["spike", "drop"])
    return out.sort_values(["timestamp", "metric", "method"], kind="stable").reset_index(drop=True)


def _flag(sc: Scores, thr: float) -> np.ndarray:
    del thr  # each method decided its flags with the threshold already
    return np.asarray(sc.flag, dtype=bool)


def _rolling_z_detector(m: MetricSeries, thr: float, *, window=None, min_periods=None, season=None,
                        center: bool = False) -> Scores:
    return _rolling_z(m, thr, window=window, min_periods=min_periods, season=season, center=bool(center))


def _iqr_detector(m: MetricSeries, thr: float, *, window=None) -> Scores:
    return _iqr(m, thr, window=window)


def _stl_detector(m: MetricSeries, thr: float, *, periods=None, robust: bool = True, trend=None,
                  multiplicative=None) -> Scores:
    return _stl(m, thr, periods=periods, robust=robust, trend=trend, multiplicative=multiplicative)[0]


def _forecast_detector(m: MetricSeries, thr: float, *, model: str = "ets", h=None, n_windows=None,
                       season=None) -> Scores:
    return _forecast(m, thr, model=model, h=h, n_windows=n_windows, season=season)


def _flatline_detector(m: MetricSeries, thr: float, *, min_run: int = 3) -> Scores:
    return _flatline(m, thr, min_run=int(min_run))


def _check_detector(name: str, detector: Any) -> None:
    if not callable(detector):
        raise WorkbenchError(f"the anomaly detector {name!r} is not callable: register a function "
                             "detector(series: MetricSeries, threshold: float, **options) -> Scores")


#: Anomaly detectors by name: ``detector(series: MetricSeries, threshold: float, **options) -> Scores``.
#: Built in: the :data:`~analytics_lib.analysis.anomaly.series.METHODS`; a plug-in adds its own under
#: the entry-point group ``analytics_workbench.anomaly_detectors`` and is then a method of
#: :func:`anomaly_scores` and ``detect_anomalies(methods=[...])``. Each entry's metadata says how it
#: scores (``DETECTORS.meta(name)["scoring"]``): ``"causal"`` (each point from earlier points only:
#: what a scheduled or streaming job can reproduce point by point) or ``"look-back"`` (a batch
#: method that also uses later points: centered windows, whole-series fits).
DETECTORS = Registry("anomaly detector", "analytics_workbench.anomaly_detectors", check=_check_detector)
# rolling_z: the expected value and the spread come from earlier points (center=False), but the
# scale's floor (a quarter of the series' robust sd) from the whole series
for _name, _detector, _scoring in [("rolling_z", _rolling_z_detector, "look-back"),
                                   ("iqr", _iqr_detector, "look-back"), ("stl", _stl_detector, "look-back"),
                                   ("forecast", _forecast_detector, "causal"),    # out-of-sample backtests
                                   ("flatline", _flatline_detector, "look-back")]:
    DETECTORS.register(_name, _detector, scoring=_scoring)
del _name, _detector, _scoring
#: causal given its value range: NoveltyDetector.fit on history, then update (the method's default
#: range is the series' own min and max, as NAB gives its detectors)
DETECTORS.register("novelty", "analytics_lib.analysis.anomaly.online:_novelty_detector", scoring="causal")


def _score_one(m: MetricSeries, method: str, thr: float, options: Mapping[str, Any]) -> Scores:
    detector = DETECTORS.get(method)
    try:
        scores = detector(m, thr, **options)
    except TypeError as exc:
        if DETECTORS.origin(method) == "analytics_lib" and "unexpected keyword" in str(exc):
            raise WorkbenchError(f"method={method!r} takes no option {str(exc).split('argument')[-1].strip()}") from None
        raise
    if not isinstance(scores, Scores) or len(scores.score) != len(m.y):
        raise WorkbenchError(f"the anomaly detector {method!r} ({DETECTORS.origin(method)}) did not return Scores "
                             f"with one value per observation of {m.name!r}")
    return scores


def anomaly_scores(series: Any, *, method: str = "rolling_z", metrics: Sequence[str] | str | None = None,
                   sensitivity: str | float = "medium", volume: str | pd.Series | None = None,
                   calibrated: bool = False, **options: Any) -> pd.DataFrame:
    """Every observation with its expected value, band and score under one method.

    Use it to draw a band around a series, or to sweep thresholds in an evaluation; the
    ``*_anomalies`` functions return the flagged rows of the same frame.

    Parameters
    ----------
    series : DataFrame or Series
        KPI series in one of the shapes of the module docstring.
    method : {"rolling_z", "iqr", "stl", "forecast", "flatline", "novelty"} or a plug-in's name
        See the corresponding ``*_anomalies`` function for the options it takes.
    metrics : str or list of str, optional
        The metrics to score (default: every numeric column or series).
    sensitivity : str or float
        Sets the band (see :func:`score_threshold`).
    volume : str or Series, optional
        Events (or requests) behind each period: a column of the KPI frame or a Series
        indexed by time. Rates, means and percentiles over fewer events are noisier (by
        ``1 / sqrt(n)``), so each observation's scale is divided by
        ``sqrt(volume / median volume)``: quiet periods (weekends, holidays) get wider
        bands. Counts and sums (``EXTENSIVE_KPIS``) and the volume column itself are not
        weighted.
    calibrated : bool
        Add ``probability``, the calibrated anomaly probability of each observation
        (:func:`~analytics_lib.analysis.anomaly.calibration.anomaly_probability` of ``|score|``:
        its rank among the metric's previous scores), and flag from
        :func:`~analytics_lib.analysis.anomaly.calibration.probability_threshold` of the sensitivity
        instead: the same false-alarm rate on every series (about 1 in 1,000 normal points at
        ``"medium"``), however heavy its tails. Needs history: an observation can reach
        probability ``q`` only after ``q / (1 - q)`` scored ones (999 at ``"medium"``).
    **options
        Passed to the method (``window``, ``min_periods``, ``season``, ``periods``,
        ``robust``, ``trend``, ``model``, ``h``, ``n_windows``, ``min_run``).

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS`` plus ``is_anomaly`` (and ``probability`` when ``calibrated``), one
        row per observation (missing values and the warm-up have NaN ``expected``/``score``
        and are never anomalies).

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(10, 1, 40)
    >>> y[30] = 20.0
    >>> s = pd.Series(y, index=pd.date_range("2024-01-01", periods=40, freq="D"), name="x")
    >>> scores = anomaly_scores(s, method="rolling_z")
    >>> scores.loc[scores["is_anomaly"], "timestamp"].dt.strftime("%Y-%m-%d").tolist()
    ['2024-01-31']
    """
    thr = score_threshold(sensitivity)
    parts = []
    for m in metric_series(series, metrics, volume):
        sc = _score_one(m, method, thr, options)
        f = _frame(m, method, sc, None)
        f["is_anomaly"] = _flag(sc, thr)
        if calibrated:
            from analytics_lib.analysis.anomaly.calibration import anomaly_probability, probability_threshold

            f["probability"] = anomaly_probability(np.abs(sc.score))
            f["is_anomaly"] = (f["probability"] >= probability_threshold(sensitivity)).to_numpy()
        parts.append(f)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["metric", "timestamp"], kind="stable").reset_index(drop=True)
