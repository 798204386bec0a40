"""Anomalies in KPI series: detectors, drill-down attribution and an evaluation harness.

Detectors take KPI series in one of these shapes:

- a frame indexed by time with one column per metric (what :func:`~analytics_lib.kpi_table`
  returns); ``metrics=`` picks columns, by default every numeric one;
- a long frame ``unique_id, ds, y`` (the forecasting shape; ``unique_id`` is the metric);
- a two-column frame ``ds, y`` or ``timestamp, value`` (Prophet and NAB files), or a Series
  indexed by time.

Rows may come in any order (they are sorted), timestamps may be irregular and have gaps,
and missing values (NaN) are allowed: they are never scored and never flagged. Text in a
value column, infinite values, missing or repeated timestamps raise :class:`WorkbenchError`.

Every detector returns one row per anomalous observation, with the columns of
``ANOMALY_COLUMNS``::

    timestamp, metric, method, observed, expected, lower, upper, score, severity, direction

``score`` is a signed deviation in *robust z units* (how many robust standard deviations
the observation lies from ``expected``; the scale is 1.4826 x the median absolute
deviation, which equals the standard deviation for normal data), so the scores of all
detectors compare. ``lower``/``upper`` is the band outside which an observation is
flagged. ``sensitivity`` sets the threshold on ``|score|`` (see :func:`score_threshold`):
``"low"`` 4.5, ``"medium"`` 3.5 (the default), ``"high"`` 2.5; when the scale comes from
few values (a rolling window) the band is widened as a Student t with ``0.37 (k - 1)``
degrees of freedom for ``k`` values (the MAD's efficiency), so a 28-value window flags
from ``|score|`` 5.1 and false alarms on white noise stay near the nominal
``2 Phi(-3.5)`` = 0.05 %. ``severity`` grades
``|score|`` with fixed bands, the same at every sensitivity (``SEVERITY``: medium from 5,
high from 8, critical from 12, otherwise low). ``direction`` is ``spike`` (above
expected) or ``drop``.

The detectors: :func:`rolling_zscore_anomalies` (trailing or centered median/MAD, with a warm-up),
:func:`iqr_anomalies` (Tukey fences), :func:`seasonal_anomalies` (residuals from robust
STL/MSTL seasonal components and a leave-one-out level), :func:`forecast_anomalies` (out-of-sample residuals of
:class:`~analytics_lib.forecast.Forecaster` backtests), :func:`flatline_anomalies` (runs of
one repeated value: stuck sensors, default-filled rows) and :func:`multivariate_anomalies`
(an IsolationForest over several KPIs at once); :func:`detect_anomalies` runs several and
merges them. :func:`incident_table` groups anomalies into incidents and :func:`drill_down`
finds the team / model / feature / event type behind an incident. :func:`detection_scores`
evaluates detections against labelled windows (event-level precision/recall/F1, point
level, and a NAB standard-profile score); :func:`read_nab` reads NAB-format files.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from . import schema as S
from .errors import WorkbenchError
from .workflow import RESPONSE_TYPES, SeverityThresholds

__all__ = [
    "ANOMALY_COLUMNS", "EXTENSIVE_KPIS", "SENSITIVITIES", "SEVERITY", "Attribution", "DetectionScores", "NabData",
    "anomaly_scores", "detect_anomalies", "detection_scores", "drill_down", "flatline_anomalies",
    "forecast_anomalies", "incident_table", "iqr_anomalies", "label_windows", "multivariate_anomalies",
    "read_nab", "rolling_zscore_anomalies", "score_threshold", "seasonal_anomalies",
]

#: Columns of every detector's result, in order.
ANOMALY_COLUMNS = ["timestamp", "metric", "method", "observed", "expected", "lower", "upper", "score", "severity",
                   "direction"]
#: Named sensitivities and the number in [0, 1] each stands for (threshold = 5.5 - 4 x sensitivity).
SENSITIVITIES: dict[str, float] = {"low": 0.25, "medium": 0.5, "high": 0.75}
#: Severity bands on ``|score|`` (robust z units): below 5 low, from 5 medium, from 8 high, from 12 critical.
SEVERITY = SeverityThresholds(medium=5.0, high=8.0, critical=12.0)
SEVERITY_LEVELS = ("low", "medium", "high", "critical")
#: Methods :func:`anomaly_scores` and :func:`detect_anomalies` know.
METHODS = ("rolling_z", "iqr", "stl", "forecast", "flatline")

_MAD_TO_SD = 1.4826            # scale factor of the MAD for normal data
_Q3_Z = stats.norm.ppf(0.75)   # 0.6745: the upper quartile of a standard normal in z units
_IQR_TO_SD = 2 * _Q3_Z         # 1.349: IQR of a standard normal
_BLOCK_CELLS = 4_000_000       # sliding windows are evaluated in blocks of at most this many cells


# ============================================================================================
# Parameters
def score_threshold(sensitivity: str | float = "medium") -> float:
    """The ``|score|`` threshold (robust z units) for a sensitivity.

    Parameters
    ----------
    sensitivity : {"low", "medium", "high"} or float
        A name, or a number strictly between 0 (flag almost nothing) and 1 (flag a lot).
        The threshold is ``5.5 - 4 * sensitivity``: low (0.25) 4.5, medium (0.5) 3.5,
        high (0.75) 2.5.

    Returns
    -------
    float

    Raises
    ------
    WorkbenchError
        For anything else, naming the accepted values.

    Examples
    --------
    >>> score_threshold("medium"), score_threshold("high"), score_threshold(0.4)
    (3.5, 2.5, 3.9)
    """
    value: Any = sensitivity
    if isinstance(value, str):
        key = value.strip().lower()
        if key not in SENSITIVITIES:
            raise WorkbenchError(f"sensitivity={sensitivity!r} is not valid: use 'low', 'medium', 'high' "
                                 "or a number between 0 and 1 (higher flags more)")
        value = SENSITIVITIES[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < float(value) < 1:
        raise WorkbenchError(f"sensitivity={sensitivity!r} is not valid: use 'low', 'medium', 'high' "
                             "or a number strictly between 0 and 1 (higher flags more)")
    return round(5.5 - 4.0 * float(value), 10)


# ============================================================================================
# Input: KPI series in any of the accepted shapes -> one (metric, timestamps, values) per metric
@dataclass(frozen=True)
class _Metric:
    name: str
    ts: pd.DatetimeIndex   # sorted, unique
    y: np.ndarray          # float64, NaN = missing value
    weights: np.ndarray    # precision weight per observation: sqrt(volume / median volume), 1 without volume


def _numeric(values: pd.Series, name: str) -> np.ndarray:
    """Values as float64; text, objects that are not numbers, and infinities raise."""
    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("float64")
    if not pd.api.types.is_numeric_dtype(s.dtype):
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna() & s.notna()
        if bad.any():
            example = s[bad].iloc[0]
            raise WorkbenchError(f"metric {name!r} holds {int(bad.sum())} value(s) that are not numbers "
                                 f"(e.g. {example!r}): clean or drop that column before detecting anomalies")
        s = num
    out = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(out).any():
        raise WorkbenchError(f"metric {name!r} holds {int(np.isinf(out).sum())} infinite value(s): "
                             "replace them (e.g. by NaN for a rate with a zero denominator)")
    return out


def _times(values: Any, name: str) -> pd.DatetimeIndex:
    try:
        ts = pd.DatetimeIndex(pd.to_datetime(values))
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"the timestamps of {name!r} are not date-times ({exc}); give ISO dates or "
                             "a DatetimeIndex") from exc
    if ts.isna().any():
        raise WorkbenchError(f"{int(ts.isna().sum())} timestamp(s) of {name!r} are missing: drop or fix those rows")
    return ts


def _one(name: str, ts: Any, y: Any) -> _Metric:
    t = _times(ts, name)
    v = _numeric(pd.Series(y), name)
    order = np.argsort(t.asi8, kind="stable")
    t, v = t[order], v[order]
    dup = t.duplicated()
    if dup.any():
        raise WorkbenchError(f"metric {name!r} has {int(dup.sum())} repeated timestamp(s) (first: {t[dup][0]}): "
                             "aggregate to one value per timestamp first")
    return _Metric(str(name), t, v, np.ones(len(v)))


#: KPIs that are counts or sums (extensive): they are never weighted by ``volume``.
EXTENSIVE_KPIS = ("events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts")


def _metrics(data: Any, metrics: Sequence[str] | str | None = None, volume: Any = None) -> list[_Metric]:
    """Split the accepted input shapes into one series per metric (see the module docstring)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    vol: pd.Series | None = None
    if isinstance(data, pd.Series):
        if not isinstance(data.index, pd.DatetimeIndex):
            raise WorkbenchError("a Series of values needs a DatetimeIndex (the timestamps)")
        out = [_one(data.name if data.name is not None else "value", data.index, data.to_numpy())]
    elif not isinstance(data, pd.DataFrame):
        raise WorkbenchError(f"expected a DataFrame or Series of KPI values, got {type(data).__name__}")
    elif {"unique_id", "ds", "y"} <= set(data.columns):
        out = [_one(str(k), g["ds"], g["y"]) for k, g in data.groupby("unique_id", sort=True, observed=True)]
    elif {"ds", "y"} <= set(data.columns):
        out = [_one("y", data["ds"], data["y"])]
    elif {"timestamp", "value"} <= set(data.columns):
        out = [_one("value", data["timestamp"], data["value"])]
    elif isinstance(data.index, pd.DatetimeIndex):
        cols = list(data.columns) if metrics is None else list(metrics)
        missing = [c for c in cols if c not in data.columns]
        if missing:
            raise WorkbenchError(f"metrics {missing} are not columns; choose from {list(data.columns)}")
        if metrics is None:
            cols = [c for c in cols if pd.api.types.is_numeric_dtype(data[c].dtype)
                    and not pd.api.types.is_bool_dtype(data[c].dtype)]
        out = [_one(str(c), data.index, data[c].to_numpy()) for c in cols]
        if isinstance(volume, str):
            if volume not in data.columns:
                raise WorkbenchError(f"volume={volume!r} is not a column; choose from {list(data.columns)}")
            vol = pd.Series(_numeric(data[volume], volume), index=data.index)
    else:
        raise WorkbenchError("KPI series must be a frame indexed by time (one column per metric, as kpi_table "
                             "returns), a long frame with columns unique_id, ds, y, a frame with ds, y or "
                             "timestamp, value, or a Series indexed by time")
    if metrics is not None and not isinstance(data, pd.Series) and not isinstance(data.index, pd.DatetimeIndex):
        names = {m.name for m in out}
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise WorkbenchError(f"metrics {unknown} are not in the series; choose from {sorted(names)}")
        out = [m for m in out if m.name in set(metrics)]
    if not out:
        raise WorkbenchError("there is no numeric metric to check: pass metrics=[...] naming value columns")
    for m in out:
        if len(m.y) == 0:
            raise WorkbenchError(f"metric {m.name!r} has no rows")
    if volume is None:
        return out
    if vol is None:
        if not isinstance(volume, pd.Series) or not isinstance(volume.index, pd.DatetimeIndex):
            raise WorkbenchError("volume must be a column of the KPI frame or a Series indexed by time "
                                 "(e.g. kpis['events'])")
        vol = pd.Series(_numeric(volume, "volume"), index=volume.index)
    if vol.index.duplicated().any():
        raise WorkbenchError("volume has repeated timestamps: give one value per period")
    vol_name = volume if isinstance(volume, str) else None
    return [m if m.name in EXTENSIVE_KPIS or m.name == vol_name else _weighted(m, vol) for m in out]


def _weighted(m: _Metric, vol: pd.Series) -> _Metric:
    """Precision weights sqrt(volume / median volume): a rate or percentile over n events has
    sampling noise proportional to 1 / sqrt(n), so quiet periods (weekends) get wider bands."""
    v = vol.reindex(m.ts).to_numpy(dtype="float64")
    missing = np.isnan(v) & ~np.isnan(m.y)
    if missing.any():
        raise WorkbenchError(f"volume has no value at {int(missing.sum())} timestamp(s) of metric {m.name!r} "
                             f"(first: {m.ts[missing][0]})")
    if (v < 0).any():
        raise WorkbenchError("volume must not be negative")
    ref = np.nanmedian(v[~np.isnan(m.y)]) if (~np.isnan(m.y)).any() else 1.0
    w = np.sqrt(np.maximum(np.nan_to_num(v, nan=ref), 0.5) / max(ref, 0.5))
    return _Metric(m.name, m.ts, m.y, w)


# ============================================================================================
# Time grid: regular (with gaps), monthly, or irregular (snapped to bins of the median step)
@dataclass(frozen=True)
class _Grid:
    pos: np.ndarray          # grid position of each observation (int64)
    n: int                   # grid length
    step: pd.Timedelta       # median step (a month counts as 30.44 days)
    regular: bool            # every timestamp sits exactly on the grid
    monthly: bool
    freq: str                # pandas frequency string of the grid


def _grid(ts: pd.DatetimeIndex) -> _Grid:
    if len(ts) < 2:
        return _Grid(np.zeros(len(ts), dtype=np.int64), len(ts), pd.Timedelta("1D"), True, False, "D")
    ns = ts.as_unit("ns").asi8
    diffs = np.diff(ns)
    day = 86_400 * 10**9
    if diffs.min() >= 28 * day and diffs.max() <= 31 * day * 1.0001 and (ts.day == ts.day[0]).all() \
            and (ts.normalize() == ts).all():
        months = (ts.year.to_numpy() - ts.year[0]) * 12 + ts.month.to_numpy() - ts.month[0]
        return _Grid(months.astype(np.int64), int(months[-1]) + 1, pd.Timedelta(days=30.44), True, True, "MS")
    step = int(np.median(diffs))
    rel = (ns - ns[0]) / step
    pos = np.rint(rel).astype(np.int64)
    regular = bool(np.all(np.abs(rel - pos) < 1e-6))
    if not regular:
        step = _nice_step(step)   # a jittered 5-minute series has a median step of 5 min 0.4 s
        rel = (ns - ns[0]) / step
        pos = np.rint(rel).astype(np.int64)  # jittered timestamps snap to the nearest step
    td = pd.Timedelta(step, unit="ns")
    return _Grid(pos, int(pos[-1]) + 1, td, regular, False, pd.tseries.frequencies.to_offset(td).freqstr)


_NICE_STEPS = [pd.Timedelta(x).value for x in (
    "1s", "2s", "5s", "10s", "15s", "30s", "1min", "2min", "5min", "10min", "15min", "20min", "30min", "1h", "2h",
    "3h", "4h", "6h", "8h", "12h", "1D", "7D")]


def _nice_step(step_ns: int) -> int:
    """The nearest round step (1 s ... 7 days) when within 3 %, else the step itself."""
    ratios = np.abs(np.log(np.array(_NICE_STEPS, dtype="float64") / step_ns))
    best = int(np.argmin(ratios))
    return _NICE_STEPS[best] if ratios[best] < 0.03 else step_ns


def _on_grid(g: _Grid, y: np.ndarray) -> np.ndarray:
    """Values on the grid (mean of the observations in a bin; NaN where none)."""
    ok = ~np.isnan(y)
    sums = np.bincount(g.pos[ok], weights=y[ok], minlength=g.n)
    counts = np.bincount(g.pos[ok], minlength=g.n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _steps(duration: str | int | None, g: _Grid, name: str) -> int | None:
    """A window given as a number of observations or a duration string, in grid steps."""
    if duration is None or isinstance(duration, (int, np.integer)) and not isinstance(duration, bool):
        if duration is not None and duration < 1:
            raise WorkbenchError(f"{name}={duration} must be a positive number of observations or a duration")
        return None if duration is None else int(duration)
    try:
        td = pd.Timedelta(duration)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{name}={duration!r} is neither a number of observations nor a duration "
                             "such as '28D' or '6h'") from exc
    if td <= pd.Timedelta(0):
        raise WorkbenchError(f"{name}={duration!r} must be a positive duration")
    return max(1, int(round(td / g.step)))


def _auto_periods(g: _Grid, n_observed: int) -> tuple[int, ...]:
    """Seasonal periods in steps that fit at least two full cycles: day and week for sub-daily
    steps, week (and year from two years on) for daily steps, year for weekly and monthly ones."""
    if g.monthly:
        return (12,) if g.n >= 24 and n_observed >= 24 else ()
    out = []
    for span in ("1D", "7D", "365D"):
        p = pd.Timedelta(span) / g.step
        if p < 2 or abs(p - round(p)) > 0.02 * p:
            if span == "365D" and g.step >= pd.Timedelta("7D") and p >= 2:
                p = round(p)  # 52.14 weeks
            else:
                continue
        p = int(round(p))
        if g.n >= 2 * p and n_observed >= 2 * p:
            out.append(p)
    return tuple(out)


# ============================================================================================
# Scoring: every method gives expected, lower/upper bands and a signed score per observation
@dataclass(frozen=True)
class _Scored:
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
                n_ref: np.ndarray | float = np.inf) -> _Scored:
    """Score = robust z; flagged outside the band ``expected +- c x scale`` where ``c`` is the
    Student-t quantile (``0.37 (n_ref - 1)`` degrees of freedom) with the tail probability of a
    normal at the threshold: a scale estimated from few values earns a wider band."""
    nu = np.maximum(1.0, _MAD_EFFICIENCY * (np.asarray(n_ref, dtype="float64") - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (y - expected) / scale
        c = np.where(nu < 1e6, stats.t.isf(stats.norm.sf(thr), nu), thr)
        width = c * scale
        flag = np.abs(score) >= c
    return _Scored(expected, score, expected - width, expected + width, flag & np.isfinite(score))


def _window_rows(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """values[idx] with NaN where idx < 0 (idx is a 2-D array of positions)."""
    padded = np.concatenate([[np.nan], values])
    return padded[np.where(idx >= 0, idx + 1, 0)]


def _blocked(n: int, width: int):
    rows = max(1, _BLOCK_CELLS // max(width, 1))
    for lo in range(0, n, rows):
        yield lo, min(n, lo + rows)


def _rolling_z(m: _Metric, thr: float, *, window: str | int | None, min_periods: int | None,
               season: int | None, center: bool = False) -> _Scored:
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


def _iqr(m: _Metric, thr: float, *, window: str | int | None) -> _Scored:
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
    return _Scored(med, score, lower, upper, flag)


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


def _stl_periods(m: _Metric, opts: Mapping[str, Any]) -> tuple[int, ...]:
    if opts.get("periods") is not None:
        return tuple(int(p) for p in opts["periods"])
    return _auto_periods(_grid(m.ts), int((~np.isnan(m.y)).sum()))


def _stl(m: _Metric, thr: float, *, periods: Sequence[int] | None, robust: bool, trend: int | None,
         required: bool = True, multiplicative: bool | None = None) -> tuple[_Scored, float] | None:
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
        sc = _Scored(np.exp(sc.expected), sc.score, np.exp(sc.lower), np.exp(sc.upper), sc.flag)
    return sc, strength


def _forecast(m: _Metric, thr: float, *, model: str, h: int | None, n_windows: int | None,
              season: int | None) -> _Scored:
    from .forecast import Forecaster, backtest

    g = _grid(m.ts)
    if not g.regular:
        raise WorkbenchError(f"metric {m.name!r}: forecast residuals need timestamps on a regular grid "
                             "(aggregate the series to a fixed step first)")
    ok = ~np.isnan(m.y)
    per = _auto_periods(g, int(ok.sum()))
    season = season or (per[0] if per else 1)
    h = int(h or max(1, min(season, 28)))
    n_obs = g.n
    n_windows = int(n_windows or max(1, min(20, (n_obs // 3) // h)))
    if n_obs - h * n_windows < max(3, season + 1):
        raise WorkbenchError(f"metric {m.name!r} has {n_obs} steps: too short for {n_windows} backtest windows "
                             f"of h={h} after a history of {season + 1} (use fewer windows or a smaller h)")
    t = m.ts if m.ts.tz is None else m.ts.tz_convert("UTC").tz_localize(None)
    long = pd.DataFrame({"unique_id": m.name, "ds": t, "y": m.y})
    level = 80
    cv = backtest(Forecaster(models=[model], freq=g.freq, season=season), long, h=h, n_windows=n_windows,
                  level=[level])
    z80 = stats.norm.ppf(0.5 + level / 200)
    sd = (cv[f"{model}-hi-{level}"] - cv[f"{model}-lo-{level}"]).to_numpy(dtype="float64") / (2 * z80)
    at = pd.DatetimeIndex(cv["ds"]).as_unit("ns").asi8
    idx = pd.Index(t.as_unit("ns").asi8).get_indexer(at)
    expected = np.full(len(m.y), np.nan)
    scale = np.full(len(m.y), np.nan)
    keep = idx >= 0
    expected[idx[keep]] = cv[model].to_numpy(dtype="float64")[keep]
    floor = 0.05 * _robust_scale(m.y)
    scale[idx[keep]] = np.maximum(sd[keep], floor)
    return _from_scale(m.y, expected, scale, thr)


def _flatline(m: _Metric, thr: float, *, min_run: int) -> _Scored:
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
        return _Scored(expected, score, expected.copy(), expected.copy(), np.zeros(n, dtype=bool))
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
    return _Scored(expected, score, np.full(n, np.nan), np.full(n, np.nan), flag)


# ============================================================================================
# Results
def _severity(abs_score: np.ndarray) -> pd.Categorical:
    return SEVERITY.grade(np.asarray(abs_score, dtype="float64"))


def _frame(m: _Metric, method: str, sc: _Scored, flagged: np.ndarray | None) -> pd.DataFrame:
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


def _flag(sc: _Scored, thr: float) -> np.ndarray:
    del thr  # each method decided its flags with the threshold already
    return np.asarray(sc.flag, dtype=bool)


def _score_one(m: _Metric, method: str, thr: float, options: Mapping[str, Any]) -> _Scored:
    if method == "rolling_z":
        return _rolling_z(m, thr, window=options.get("window"), min_periods=options.get("min_periods"),
                          season=options.get("season"), center=bool(options.get("center", False)))
    if method == "iqr":
        return _iqr(m, thr, window=options.get("window"))
    if method == "stl":
        return _stl(m, thr, periods=options.get("periods"), robust=options.get("robust", True),
                    trend=options.get("trend"), multiplicative=options.get("multiplicative"))[0]
    if method == "forecast":
        return _forecast(m, thr, model=options.get("model", "ets"), h=options.get("h"),
                         n_windows=options.get("n_windows"), season=options.get("season"))
    if method == "flatline":
        return _flatline(m, thr, min_run=int(options.get("min_run", 3)))
    raise WorkbenchError(f"method={method!r} is not known: use one of {', '.join(METHODS)}")


def anomaly_scores(series: Any, *, method: str = "rolling_z", metrics: Sequence[str] | str | None = None,
                   sensitivity: str | float = "medium", volume: str | pd.Series | None = None,
                   **options: Any) -> pd.DataFrame:
    """Every observation with its expected value, band and score under one method.

    Use it to draw a band around a series, or to sweep thresholds in an evaluation; the
    ``*_anomalies`` functions return the flagged rows of the same frame.

    Parameters
    ----------
    series : DataFrame or Series
        KPI series in one of the shapes of the module docstring.
    method : {"rolling_z", "iqr", "stl", "forecast", "flatline"}
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
    **options
        Passed to the method (``window``, ``min_periods``, ``season``, ``periods``,
        ``robust``, ``trend``, ``model``, ``h``, ``n_windows``, ``min_run``).

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS`` plus ``is_anomaly``, one row per observation (missing values
        and the warm-up have NaN ``expected``/``score`` and are never anomalies).

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
    for m in _metrics(series, metrics, volume):
        sc = _score_one(m, method, thr, options)
        f = _frame(m, method, sc, None)
        f["is_anomaly"] = _flag(sc, thr)
        parts.append(f)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["metric", "timestamp"], kind="stable").reset_index(drop=True)


def _detect(series: Any, method: str, metrics: Any, sensitivity: Any, options: Mapping[str, Any],
            volume: Any = None) -> pd.DataFrame:
    thr = score_threshold(sensitivity)
    parts = []
    for m in _metrics(series, metrics, volume):
        sc = _score_one(m, method, thr, options)
        parts.append(_frame(m, method, sc, _flag(sc, thr)))
    return _concat(parts)


def rolling_zscore_anomalies(series: Any, *, window: str | int | None = None, min_periods: int | None = None,
                             season: int | None = None, center: bool = False,
                             metrics: Sequence[str] | str | None = None, sensitivity: str | float = "medium",
                             volume: str | pd.Series | None = None) -> pd.DataFrame:
    """Observations far from the median of the observations before them (robust rolling z-score).

    ``expected`` is the median of the previous ``window`` observations (the current one is
    left out, so a spike cannot hide itself) and the scale is 1.4826 x their median absolute
    deviation, floored at a quarter of the whole series' robust scale so that a flat stretch
    does not make every small wiggle infinite. The window counts observations, so irregular
    and gappy series work as they are. With ``season=m`` the window holds instead the same
    phase of the previous ``window`` cycles (``y[t-m], y[t-2m], ...``, e.g. the last 8
    Mondays for ``season=7`` on daily data), which needs a regular grid.

    Parameters
    ----------
    series : DataFrame or Series
    window : int or str, optional
        Observations (or a duration such as ``"28D"``, converted with the median step) in the
        window; with ``season``, the number of cycles. Default 28 observations (four weeks of
        daily data, 2 h 20 min of 5-minute data: short enough to follow a daily cycle); 8
        cycles.
    min_periods : int, optional
        Warm-up: observations with fewer previous values in their window are not scored
        (``expected`` NaN). Default a quarter of the window (at least 3); half the cycles
        with ``season``.
    season : int, optional
        Seasonal period in steps.
    center : bool
        Use ``window // 2`` observations on each side instead of the previous ``window``
        (the point itself still left out): for looking back at a finished period, where
        the first days have no warm-up problem. The window is first detrended by the median
        of its symmetric pair slopes ``(y[t+j] - y[t-j]) / 2j``, so a point on a ramp (a
        morning rise, a growth phase) is compared with the ramp (not near the ends of the
        series, where fewer than ``max(3, window // 4)`` pairs exist). Not with ``season``.
    metrics : str or list of str, optional
    sensitivity : str or float
    volume : str or Series, optional
        Events (or requests) behind each period: a column of the KPI frame or a Series
        indexed by time. Rates, means and percentiles over fewer events are noisier (by
        ``1 / sqrt(n)``), so each observation's scale is divided by
        ``sqrt(volume / median volume)``: quiet periods (weekends, holidays) get wider
        bands. Counts and sums (``EXTENSIVE_KPIS``) and the volume column itself are not
        weighted.

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS``, one row per anomaly, ``method="rolling_z"``.

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(10, 1, 40)
    >>> y[30] = 20.0
    >>> s = pd.Series(y, index=pd.date_range("2024-01-01", periods=40, freq="D"), name="x")
    >>> rolling_zscore_anomalies(s)[["metric", "observed", "direction"]].to_dict("records")
    [{'metric': 'x', 'observed': 20.0, 'direction': 'spike'}]
    """
    return _detect(series, "rolling_z", metrics, sensitivity,
                   {"window": window, "min_periods": min_periods, "season": season, "center": center}, volume)


def iqr_anomalies(series: Any, *, window: str | int | None = None, metrics: Sequence[str] | str | None = None,
                  sensitivity: str | float = "medium") -> pd.DataFrame:
    """Observations outside Tukey's fences ``Q1 - k IQR`` and ``Q3 + k IQR``.

    ``k = (threshold - 0.6745) / 1.349`` so that for normal data the fences sit at
    ``threshold`` standard deviations (``k`` = 2.09 at the default sensitivity; Tukey's 1.5
    is a threshold of 2.7). The quartiles come from the whole series, or from a centered
    window of ``window`` observations (for series with a trend). ``expected`` is the median;
    ``score`` is the distance beyond the nearer quartile in ``IQR / 1.349`` units plus 0.6745
    (so it equals the z-score for normal data; inside the quartiles it is the distance to the
    median in the same units).

    Parameters
    ----------
    series : DataFrame or Series
    window : int or str, optional
        Centered window in observations or as a duration; default the whole series.
    metrics : str or list of str, optional
    sensitivity : str or float

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS``, ``method="iqr"``.

    Examples
    --------
    >>> s = pd.Series([1.0, 1.2, 0.9, 1.1, 1.0, 5.0, 1.05, 0.95],
    ...               index=pd.date_range("2024-01-01", periods=8, freq="h"), name="x")
    >>> iqr_anomalies(s)["observed"].tolist()
    [5.0]
    """
    return _detect(series, "iqr", metrics, sensitivity, {"window": window})


def seasonal_anomalies(series: Any, *, periods: Sequence[int] | None = None, robust: bool = True,
                       trend: int | None = None, multiplicative: bool | None = None,
                       metrics: Sequence[str] | str | None = None, sensitivity: str | float = "medium",
                       volume: str | pd.Series | None = None) -> pd.DataFrame:
    """Observations far from a seasonal decomposition: STL seasonal(s) plus a robust local level.

    The series is put on its regular grid (irregular timestamps snap to the nearest multiple
    of the median step, rounded to a round step such as 5 minutes or 1 hour when within 3 %;
    observations sharing a step are averaged for the fit; gaps are interpolated for the fit
    only). statsmodels'
    ``STL`` (one period) or ``MSTL`` (several), with robust loess and a local-constant
    seasonal smoother, gives the seasonal component (when a period has fewer than 10 full
    cycles, where a loess per phase has too few values and follows the noise, leave-one-out
    medians of each phase in the other cycles do instead, for every period); the level is a
    centered rolling median
    of the deseasonalized series over ``trend`` steps that leaves the point itself out.
    ``expected`` = seasonal + level, and the scale is the robust scale (1.4826 x MAD) of all
    residuals. STL's own loess trend is not used for the expected value: it absorbs part of
    a multi-day incident, and its fitted residuals understate the noise, so on seasonal white
    noise it flagged 2.9 % of points at the default threshold instead of 0.2 % (see
    ``docs/insights.md``). Periods default to the day and the week for sub-daily steps, the
    week (and the year from two years of data on) for daily steps and the year for weekly
    and monthly steps, keeping those with two full cycles of data.

    Parameters
    ----------
    series : DataFrame or Series
    periods : list of int, optional
        Seasonal periods in steps (``[288, 2016]`` for 5-minute data).
    robust : bool
        Robust loess (outliers get no weight in the fit); keep it on for detection.
    trend : int, optional
        Width in steps of the level's rolling median (made odd); longer resists longer
        incidents. Default: twice the shortest period plus one (15 days for daily data).
    multiplicative : bool, optional
        Decompose the logarithm (seasonal swings proportional to the level: spend that
        doubles after a model switch swings twice as much between weekday and weekend); the
        score is then on the log scale, and for the counts and sums of ``EXTENSIVE_KPIS``
        each value is weighted by ``sqrt(value / median)`` (the log of a count has sampling
        noise ~ ``1 / sqrt(count)``, so quiet weekends are judged as the noisier days they
        are). Default: multiplicative for ``EXTENSIVE_KPIS`` when every value is above 0,
        else additive.
    metrics : str or list of str, optional
    sensitivity : str or float
    volume : str or Series, optional
        Events (or requests) behind each period: a column of the KPI frame or a Series
        indexed by time. Rates, means and percentiles over fewer events are noisier (by
        ``1 / sqrt(n)``), so each observation's scale is divided by
        ``sqrt(volume / median volume)``: quiet periods (weekends, holidays) get wider
        bands. Counts and sums (``EXTENSIVE_KPIS``) and the volume column itself are not
        weighted.

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS``, ``method="stl"``.

    Raises
    ------
    WorkbenchError
        When a series holds fewer than two full cycles of a period.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=56, freq="D")
    >>> y = 100 + 30 * (t.day_of_week < 5) + np.random.default_rng(0).normal(0, 2, 56)
    >>> y[40] = 40.0
    >>> seasonal_anomalies(pd.Series(y, index=t, name="events"))["timestamp"].dt.strftime("%Y-%m-%d").tolist()
    ['2024-02-10']
    """
    return _detect(series, "stl", metrics, sensitivity,
                   {"periods": periods, "robust": robust, "trend": trend, "multiplicative": multiplicative}, volume)


def forecast_anomalies(series: Any, *, model: str = "ets", h: int | None = None, n_windows: int | None = None,
                       season: int | None = None, metrics: Sequence[str] | str | None = None,
                       sensitivity: str | float = "medium") -> pd.DataFrame:
    """Observations outside the prediction interval of a forecast made before them.

    Runs :func:`analytics_lib.forecast.backtest` with one model of
    :class:`~analytics_lib.forecast.Forecaster`: the model is refitted at ``n_windows``
    cutoffs and forecasts the next ``h`` steps, so every scored observation is compared with
    a forecast that did not see it. ``expected`` is the forecast mean, the scale is the
    forecast's standard deviation at that horizon (read off its 80 % interval); observations
    before the first cutoff are not scored. Needs a regular grid (gaps are allowed).

    Parameters
    ----------
    series : DataFrame or Series
    model : str
        A model name of ``analytics_lib.forecast.MODELS`` (``"ets"``, ``"seasonal_naive"``).
    h : int, optional
        Steps per backtest window; default the season length (at most 28).
    n_windows : int, optional
        Backtest windows; default enough to cover the last third of the series (at most 20).
    season : int, optional
        Season length in steps; default the first automatic period (7 for daily data).
    metrics : str or list of str, optional
    sensitivity : str or float

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS``, ``method="forecast"``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=70, freq="D")
    >>> y = 100 + 20 * (t.day_of_week < 5) + np.tile([0.0, 1.0], 35)
    >>> y[65] = 200.0
    >>> forecast_anomalies(pd.Series(y, index=t, name="x"), model="seasonal_naive")["observed"].tolist()
    [200.0]
    """
    return _detect(series, "forecast", metrics, sensitivity,
                   {"model": model, "h": h, "n_windows": n_windows, "season": season})


def flatline_anomalies(series: Any, *, min_run: int = 3, metrics: Sequence[str] | str | None = None,
                       sensitivity: str | float = "medium") -> pd.DataFrame:
    """Runs of one exactly repeated value that the series' own repeat rate makes improbable.

    A stuck sensor, a pipeline that writes a default value, or a KPI frozen by a cache
    shows up as the same number many times in a row. With ``p`` the share of consecutive
    observations that are equal in the whole series (Laplace-smoothed), a run of length
    ``L`` has probability about ``p^(L-1)``; multiplied by the number of pairs (Bonferroni)
    and turned into a two-sided normal quantile, that is the ``score`` of every observation
    of the run (signed by the run's side of ``expected``). Continuous series (few repeats)
    flag runs of 3-4; count series with many natural repeats need much longer runs.
    ``expected`` is the median of as many observations before and after the run as the run
    is long; ``lower``/``upper`` are NaN (no band applies).

    Parameters
    ----------
    series : DataFrame or Series
    min_run : int
        Shortest run considered (default 3).
    metrics : str or list of str, optional
    sensitivity : str or float

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS``, ``method="flatline"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(10, 1, 100)
    >>> y[50:60] = 5.0
    >>> s = pd.Series(y, index=pd.date_range("2024-01-01", periods=100, freq="D"), name="x")
    >>> f = flatline_anomalies(s)
    >>> len(f), f["direction"].iloc[0]
    (10, 'drop')
    """
    if isinstance(min_run, bool) or not isinstance(min_run, (int, np.integer)) or min_run < 2:
        raise WorkbenchError(f"min_run={min_run!r} must be an integer of at least 2")
    return _detect(series, "flatline", metrics, sensitivity, {"min_run": int(min_run)})


def multivariate_anomalies(kpis: pd.DataFrame, *, metrics: Sequence[str] | None = None, n_estimators: int = 200,
                           seed: int = 0, sensitivity: str | float = "medium") -> pd.DataFrame:
    """Periods whose combination of KPIs is unusual, from an IsolationForest over several KPIs.

    Each KPI is scaled robustly (median and 1.4826 x MAD over the whole frame), periods with a
    missing KPI are left out (not scored), and scikit-learn's ``IsolationForest`` scores how
    easily each period is isolated. The log of that isolation score (its right tail is
    long even for pure noise) is put on the robust z scale over all periods, and periods at
    or above the threshold are anomalies (the threshold widened as a Student t for a scale
    estimated from that many periods, as for the other detectors). The row names the
    KPI that deviates most at that period (``metric``, with its ``observed`` and ``expected``
    = median); ``score`` is the robust z of the log isolation score (always positive, so
    ``direction`` is the direction of that KPI), and ``method`` is ``"isolation_forest"``.

    Parameters
    ----------
    kpis : DataFrame
        Indexed by time, one column per KPI (e.g. :func:`~analytics_lib.kpi_table`).
    metrics : list of str, optional
        KPI columns (at least two; default every numeric column).
    n_estimators : int
        Trees in the forest.
    seed : int
        ``random_state`` of the forest (results are reproducible).
    sensitivity : str or float

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS``, ``method="isolation_forest"``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> k = pd.DataFrame(rng.normal(0, 1, (60, 3)), columns=["a", "b", "c"],
    ...                  index=pd.date_range("2024-01-01", periods=60, freq="D"))
    >>> k.iloc[30] = [6.0, -6.0, 6.0]
    >>> multivariate_anomalies(k)["timestamp"].dt.strftime("%Y-%m-%d").tolist()
    ['2024-01-31']
    """
    from sklearn.ensemble import IsolationForest

    thr = score_threshold(sensitivity)
    ms = _metrics(kpis, metrics)
    if len(ms) < 2:
        raise WorkbenchError("multivariate_anomalies needs at least two KPI columns")
    index = ms[0].ts
    X = np.column_stack([m.y for m in ms])
    names = [m.name for m in ms]
    med = np.nanmedian(X, axis=0)
    scale = np.array([_robust_scale(X[:, j]) for j in range(X.shape[1])])
    Z = (X - med) / scale
    ok = ~np.isnan(Z).any(axis=1)
    if ok.sum() < 10:
        raise WorkbenchError(f"multivariate_anomalies needs at least 10 periods with every KPI present "
                             f"({int(ok.sum())} found): pick metrics without gaps or a longer window")
    forest = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(Z[ok])
    iso = np.log(-forest.score_samples(Z[ok]))  # higher = more anomalous; the log tames the right tail
    iso_z = (iso - np.median(iso)) / _robust_scale(iso)
    nu = _MAD_EFFICIENCY * (len(iso) - 1)
    cut = float(stats.t.isf(stats.norm.sf(thr), nu))   # as for every scale estimated from n values
    rows = np.flatnonzero(ok)[iso_z >= cut]
    if len(rows) == 0:
        return _empty()
    col = np.nanargmax(np.abs(Z[rows]), axis=1)
    obs = X[rows, col]
    exp = med[col]
    score = iso_z[iso_z >= cut]
    out = pd.DataFrame({
        "timestamp": index[rows], "metric": [names[c] for c in col], "method": "isolation_forest",
        "observed": obs, "expected": exp, "lower": np.nan, "upper": np.nan, "score": score,
    })
    out["severity"] = _severity(score)
    out["direction"] = pd.Categorical(np.where(obs >= exp, "spike", "drop"), categories=["spike", "drop"])
    return _concat([out])


def detect_anomalies(series: Any, *, methods: Sequence[str] | str = "auto", metrics: Sequence[str] | str | None = None,
                     sensitivity: str | float = "medium", min_votes: int = 1, volume: str | pd.Series | None = None,
                     options: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Run several detectors and merge their anomalies into one row per metric and timestamp.

    ``methods="auto"`` picks per metric: ``stl`` when the series holds two full cycles of a
    seasonal period, the seasonality is strong (robust strength ``1 - var(R) / var(S + R)``
    >= 0.3) and the period is shorter than the rolling window (a trailing window of 28
    daily values mixes all weekdays; 28 five-minute values follow the daily cycle by
    themselves), else ``rolling_z`` with a centered window (``center=True``: this is a look
    back at a finished window, so the first days need no warm-up); and always ``flatline``. A timestamp is
    an anomaly when at least ``min_votes`` methods flag it; the row keeps the method with the
    largest ``|score|`` (its expected value, band and score) and lists every method that
    flagged it in ``methods``.

    Parameters
    ----------
    series : DataFrame or Series
    methods : "auto" or list of str
        Names of ``METHODS``.
    metrics : str or list of str, optional
    sensitivity : str or float
    volume : str or Series, optional
        Events (or requests) behind each period: a column of the KPI frame or a Series
        indexed by time. Rates, means and percentiles over fewer events are noisier (by
        ``1 / sqrt(n)``), so each observation's scale is divided by
        ``sqrt(volume / median volume)``: quiet periods (weekends, holidays) get wider
        bands. Counts and sums (``EXTENSIVE_KPIS``) and the volume column itself are not
        weighted.
    min_votes : int
        Methods that must agree (1 = any).
    options : dict, optional
        Per-method keyword options, e.g. ``{"rolling_z": {"window": 14}}``.

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS`` plus ``methods`` (comma-separated) and ``votes``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=56, freq="D")
    >>> y = 100 + 30 * (t.day_of_week < 5) + np.random.default_rng(0).normal(0, 2, 56)
    >>> y[40] = 40.0
    >>> found = detect_anomalies(pd.Series(y, index=t, name="events"))
    >>> found[["metric", "method", "methods"]].to_dict("records")
    [{'metric': 'events', 'method': 'stl', 'methods': 'stl'}]
    """
    thr = score_threshold(sensitivity)
    options = dict(options or {})
    if isinstance(methods, str) and methods != "auto":
        methods = [methods]
    if not isinstance(methods, str):
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise WorkbenchError(f"methods {unknown or '[]'} are not known: use 'auto' or a list of "
                                 f"{', '.join(METHODS)}")
    if isinstance(min_votes, bool) or not isinstance(min_votes, (int, np.integer)) or min_votes < 1:
        raise WorkbenchError(f"min_votes={min_votes!r} must be a positive integer")
    parts = []
    for m in _metrics(series, metrics, volume):
        if methods == "auto":
            stl_opts = options.get("stl", {})
            window = _steps(options.get("rolling_z", {}).get("window"), _grid(m.ts), "window") or _DEFAULT_WINDOW
            periods = _stl_periods(m, stl_opts)
            fit = _stl(m, thr, periods=stl_opts.get("periods"), robust=stl_opts.get("robust", True),
                       trend=stl_opts.get("trend"), required=False, multiplicative=stl_opts.get("multiplicative")) \
                if periods and min(periods) < window else None
            if fit is not None and fit[1] >= 0.3:
                scored = {"stl": fit[0]}
            else:
                rz = {"center": True, **options.get("rolling_z", {})}
                scored = {"rolling_z": _score_one(m, "rolling_z", thr, rz)}
            scored["flatline"] = _score_one(m, "flatline", thr, options.get("flatline", {}))
        else:
            scored = {meth: _score_one(m, meth, thr, options.get(meth, {})) for meth in methods}
        frames = [_frame(m, meth, sc, _flag(sc, thr)) for meth, sc in scored.items()]
        parts.extend(frames)
    flagged = _concat(parts)
    return _merge_votes(flagged, min_votes)


def _merge_votes(flagged: pd.DataFrame, min_votes: int) -> pd.DataFrame:
    if flagged.empty:
        out = _empty()
        out["methods"] = pd.Series(dtype="str")
        out["votes"] = pd.Series(dtype="int64")
        return out
    f = flagged.assign(_abs=flagged["score"].abs())
    keys = ["timestamp", "metric"]
    votes = f.groupby(keys, sort=False)["method"].agg(lambda s: ",".join(sorted(s)))  # per anomaly, few rows
    count = f.groupby(keys, sort=False)["method"].size()
    best = f.sort_values("_abs", ascending=False, kind="stable").drop_duplicates(keys).set_index(keys)
    best["methods"] = votes
    best["votes"] = count
    best = best[best["votes"] >= min_votes].reset_index()
    out = best[ANOMALY_COLUMNS + ["methods", "votes"]]
    return out.sort_values(["timestamp", "metric"], kind="stable").reset_index(drop=True)


# ============================================================================================
# Incidents: anomalies close in time, across metrics, grouped
def incident_table(anomalies: pd.DataFrame, *, step: str = "1D", gap: int = 1) -> pd.DataFrame:
    """Group anomalies into incidents: runs of anomalous periods, across all metrics.

    Anomalies whose timestamps are at most ``gap`` steps apart belong to one incident (so
    a 3-day latency spike that also shows in the error rate is one incident, not six rows).

    Parameters
    ----------
    anomalies : DataFrame
        A detector's result (``timestamp, metric, score, ...``).
    step : str
        The series' step (``"1D"`` for daily KPIs); an incident ends one step after its last
        anomalous timestamp.
    gap : int
        Largest distance in steps between two anomalies of one incident.

    Returns
    -------
    DataFrame
        One row per incident, by start: ``incident, start, end`` (exclusive), ``periods``
        (distinct anomalous timestamps), ``metrics`` (comma-separated, by peak ``|score|``),
        ``peak_metric, peak_timestamp, observed, expected, score, severity, direction``
        (of the largest ``|score|``) and ``n_anomalies``.

    Examples
    --------
    >>> a = pd.DataFrame({"timestamp": pd.to_datetime(["2024-03-14", "2024-03-15", "2024-03-15", "2024-04-01"]),
    ...                   "metric": ["latency_p95", "latency_p95", "error_rate", "events"],
    ...                   "observed": [9.0, 8.0, 0.2, 10.0], "expected": [3.0, 3.0, 0.03, 50.0],
    ...                   "score": [20.0, 15.0, 9.0, -5.0]})
    >>> incident_table(a)[["start", "end", "metrics"]].astype(str).values.tolist()
    [['2024-03-14', '2024-03-16', 'latency_p95,error_rate'], ['2024-04-01', '2024-04-02', 'events']]
    """
    cols = ["incident", "start", "end", "periods", "metrics", "peak_metric", "peak_timestamp", "observed", "expected",
            "score", "severity", "direction", "n_anomalies"]
    missing = [c for c in ("timestamp", "metric", "score") if c not in anomalies.columns]
    if missing:
        raise WorkbenchError(f"incident_table: anomalies are missing columns {missing}")
    try:
        td = pd.Timedelta(step)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"step={step!r} is not a duration such as '1D' or '5min'") from exc
    if anomalies.empty:
        return pd.DataFrame({c: [] for c in cols})
    a = anomalies.sort_values("timestamp", kind="stable").reset_index(drop=True)
    ts = pd.DatetimeIndex(a["timestamp"])
    times = np.unique(ts.as_unit("ns").asi8)
    new = np.r_[True, np.diff(times) > gap * td.value]
    incident_of_time = np.cumsum(new)
    inc = incident_of_time[np.searchsorted(times, ts.as_unit("ns").asi8)]
    a["incident"] = inc
    a["_abs"] = a["score"].abs()
    peak = a.sort_values(["incident", "_abs"], ascending=[True, False], kind="stable").drop_duplicates("incident")
    g = a.groupby("incident", sort=True)
    order = a.sort_values(["incident", "_abs"], ascending=[True, False], kind="stable")
    metric_lists = order.drop_duplicates(["incident", "metric"]).groupby("incident")["metric"].agg(",".join)
    out = pd.DataFrame({
        "incident": g.size().index, "start": g["timestamp"].min().to_numpy(),
        "end": (g["timestamp"].max() + td).to_numpy(), "periods": g["timestamp"].nunique().to_numpy(),
        "metrics": metric_lists.to_numpy(),
    })
    peak = peak.set_index("incident")
    out["peak_metric"] = peak["metric"].to_numpy()
    out["peak_timestamp"] = peak["timestamp"].to_numpy()
    for c in ("observed", "expected", "score"):
        out[c] = peak[c].to_numpy(dtype="float64") if c in peak.columns else np.nan
    out["severity"] = _severity(out["score"].abs().to_numpy())
    out["direction"] = pd.Categorical(np.where(out["score"] >= 0, "spike", "drop"), categories=["spike", "drop"])
    out["n_anomalies"] = g.size().to_numpy()
    return out[cols]


# ============================================================================================
# Drill-down attribution
_DIMENSIONS = (S.TEAM, S.MODEL, S.FEATURE, S.EVENT_TYPE)
#: KPI -> how it is computed from events, for :func:`drill_down`.
_KPI_KINDS: dict[str, str] = {
    "events": "sum", "cost_usd": "sum", "tokens_in": "sum", "tokens_out": "sum", "accepts": "sum",
    "error_rate": "ratio", "cache_hit_rate": "ratio", "satisfaction": "ratio", "cost_per_accept": "ratio",
    "latency_p50": "quantile", "latency_p95": "quantile", "latency_p99": "quantile",
    "active_users": "distinct", "sessions": "distinct",
}


@dataclass(frozen=True)
class Attribution:
    """Which segment explains the deviation of an aggregate KPI over a window.

    Attributes
    ----------
    metric : str
        The KPI (a :func:`~analytics_lib.kpi_table` column).
    start, end : Timestamp
        The anomalous window ``[start, end)``.
    baseline_start, baseline_end : Timestamp
        The span the baseline days come from (the window itself excluded; only the window's
        weekdays for windows under a week, see :func:`drill_down`).
    observed, expected : float
        The KPI over the window and over the baseline (per day for counts and sums).
    change : float
        ``observed / expected - 1`` (NaN when ``expected`` is 0).
    segments : DataFrame
        One row per segment, ranked by ``contribution``: ``dimension`` (``team`` or
        ``team x model``), ``segment`` (``team-a`` or ``team-a / openai/gpt-4o``), ``depth``,
        ``events`` (its events in the window that enter the KPI), ``exposure`` (its share of
        them; for counts and sums its share of the baseline total),
        ``observed``, ``expected``, ``change`` (the segment's own KPI), ``excess`` (its part
        of the aggregate deviation, in the KPI's units), ``contribution`` (share of the
        aggregate deviation that the segment explains), ``z`` (see :func:`drill_down`; NaN
        for percentiles) and ``lift`` (``contribution / exposure``).
    mix : float
        For rates: the share of the deviation due to the segments' weights changing rather
        than their rates (0 for other kinds).
    top : dict
        The headline segment (keys of a ``segments`` row), empty when the change is broad
        (see :func:`drill_down`).
    """

    metric: str
    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    baseline_end: pd.Timestamp
    observed: float
    expected: float
    change: float
    segments: pd.DataFrame
    mix: float
    top: dict

    @property
    def headline(self) -> str:
        """One sentence: the change and the share of it the top segment explains.

        Examples
        --------
        >>> a = Attribution("latency_p95", pd.Timestamp("2024-03-14"), pd.Timestamp("2024-03-15"),
        ...     pd.Timestamp("2024-02-15"), pd.Timestamp("2024-03-14"), 14_000.0, 4_100.0, 14_000 / 4_100 - 1,
        ...     pd.DataFrame(), 0.0, {"dimension": "team x model", "segment": "team-a / m1", "contribution": 0.81})
        >>> a.headline
        'latency_p95 +241% on 2024-03-14 (14,000 vs 4,100 expected), 81% of the excess from team-a / m1 (team x model)'
        """
        days = (self.end - self.start) / pd.Timedelta("1D")
        when = f"on {self.start:%Y-%m-%d}" if days <= 1 else \
            f"from {self.start:%Y-%m-%d} to {(self.end - pd.Timedelta('1D')):%Y-%m-%d}"
        change = "" if not np.isfinite(self.change) else f" {self.change:+.0%}"
        text = f"{self.metric}{change} {when} ({_fmt(self.observed)} vs {_fmt(self.expected)} expected)"
        word = "excess" if self.observed >= self.expected else "drop"
        if self.top:
            share = self.top["contribution"]
            text += f", {min(share, 1.0):.0%} of the {word} from {self.top['segment']} ({self.top['dimension']})"
            if share > 1.05:  # counterfactuals can overshoot: other segments moved the other way
                text += f" (counterfactual {share:.0%})"
        else:
            text += f", a broad {word}: no segment stands out against its size"
        return text


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def _kpi_parts(events: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Per event: numerator, denominator (ratio kinds; 1/0 for others), relevance mask, kind."""
    kind = _KPI_KINDS[metric]
    et = events[S.EVENT_TYPE].astype(str).to_numpy()
    n = len(events)
    ones = np.ones(n)

    def col(c: str) -> np.ndarray:
        return events[c].astype("float64").to_numpy(na_value=np.nan)

    if metric == "events":
        return ones, ones, np.ones(n, bool), kind
    if metric in ("cost_usd", "tokens_in", "tokens_out"):
        v = np.nan_to_num(col(metric))
        return v, ones, np.ones(n, bool), kind
    if metric == "accepts":
        v = (et == "accept").astype("float64")
        return v, ones, np.ones(n, bool), kind
    if metric == "error_rate":
        req = np.isin(et, ("generation", "error"))
        return (et == "error").astype("float64"), req.astype("float64"), req, kind
    if metric == "cache_hit_rate":
        hit = events[S.CACHE_HIT]
        q = (et == "cache_query") & hit.notna().to_numpy()
        h = q & hit.fillna(False).astype(bool).to_numpy()
        return h.astype("float64"), q.astype("float64"), q, kind
    if metric == "satisfaction":
        v = col(S.SATISFACTION)
        has = ~np.isnan(v)
        return np.nan_to_num(v), has.astype("float64"), has, kind
    if metric == "cost_per_accept":
        v = np.nan_to_num(col(S.COST_USD))
        acc = (et == "accept").astype("float64")
        return v, acc, (v > 0) | (acc > 0), kind
    if kind == "quantile":
        v = col(S.LATENCY_MS)
        has = ~np.isnan(v) & np.isin(et, RESPONSE_TYPES)
        return v, ones, has, kind
    # distinct
    return ones, ones, np.ones(n, bool), kind


def _labels(events: pd.DataFrame, dims: Sequence[str]) -> dict[str, np.ndarray]:
    return {d: events[d].astype("str").fillna("(none)").to_numpy(dtype=object) for d in dims}


def drill_down(events: pd.DataFrame, *, metric: str, start: Any, end: Any, baseline: str = "28D",
               side: str = "both", dimensions: Sequence[str] = _DIMENSIONS, max_depth: int = 2,
               exclude: Sequence[tuple[Any, Any]] = (), min_events: int = 20, min_lift: float = 1.2) -> Attribution:
    """Which team / model / feature / event type explains an aggregate KPI's deviation in a window.

    The window ``[start, end)`` is compared with a baseline: the ``baseline`` duration before
    it and (``side="both"``, the default) after it, restricted for windows under a week to the
    weekdays the window covers (a Tuesday incident is compared with other Tuesdays), and
    without the ``exclude`` windows (other incidents). ``side="before"`` uses only the past,
    as a live alert would. Segments are the values of each dimension and, with ``max_depth=2``, of each
    pair of dimensions (``team x model``). What a segment explains depends on the KPI:

    - counts and sums (``events``, ``cost_usd``, ``tokens_*``, ``accepts``; per day):
      the segment's own change, ``excess = observed_s - expected_s``;
      ``contribution = excess / (observed - expected)`` (shares of one dimension add up to 1);
    - distinct counts (``active_users``, ``sessions``): the same with distinct counts per
      segment, over the dimensions that put every user (session) in one segment (``team``;
      a user works with several models, features and event types);
    - rates (``error_rate``, ``cache_hit_rate``, ``satisfaction`` (mean score),
      ``cost_per_accept``): the segment's numerator beyond what its own baseline rate
      predicts for its window denominator, ``excess_s = num_s - den_s x rate_base_s``, over
      the aggregate excess ``num - den x rate_base``; the rest is ``mix`` (segment weights
      moving); dimensions that split numerator from denominator are skipped (accepts carry no
      model, so ``cost_per_accept`` is not split by model);
    - percentiles (``latency_p50/p95/p99``, over the assistant's responses): a
      counterfactual: the segment's window latencies are replaced by its baseline
      distribution (quantile mapping) and the percentile recomputed;
      ``contribution = (observed - counterfactual_s) / (observed - expected)``.

    The headline (``Attribution.top``) is the most specific segment (pairs before single
    dimensions) that explains at least 80 % as much as the best segment, among segments
    with at least ``min_events`` relevant events in the window whose share of the deviation
    is at least ``min_lift`` times their share of the events (``lift``) and, where a noise
    model applies, whose departure is significant (``|z| >= 3``: for counts and sums, the
    segment's value against proportional scaling, over its day-to-day spread in the
    baseline; for error and cache hit rates, the binomial z of its excess count). When no
    segment stands out that way the change is broad, spread over the segments in proportion
    to their size (a holiday dip), and ``top`` is empty.

    Parameters
    ----------
    events : DataFrame
        Validated events covering the window and the baseline.
    metric : str
        A KPI of :func:`~analytics_lib.kpi_table` (see the list above).
    start, end : str or Timestamp
        The anomalous window (UTC; naive values are UTC).
    baseline : str
        Length of the comparison period before ``start`` (and after ``end``), a duration.
    side : {"both", "before"}
        Whether the baseline also takes the days after the window.
    dimensions : sequence of str
        Event columns to segment by (default ``team, model, feature, event_type``).
    max_depth : {1, 2}
        Segment by single dimensions only, or also by pairs.
    exclude : sequence of (start, end)
        Windows left out of the baseline (other anomalies).
    min_events : int
        Smallest segment (relevant events in the window) that can be the headline.
    min_lift : float
        Smallest ``contribution / exposure`` of a headline segment.

    Returns
    -------
    Attribution

    Raises
    ------
    WorkbenchError
        For an unknown metric or dimension, an empty window or baseline.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> data = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> t = data.truth
    >>> a = drill_down(data.events, metric="latency_p95", start=t.incident_start, end=t.incident_end)
    >>> a.top["segment"] == f"{t.incident_team} / {t.incident_model}", a.change > 1
    (True, True)
    """
    if metric not in _KPI_KINDS:
        raise WorkbenchError(f"drill_down: metric={metric!r} is not supported; use one of {', '.join(_KPI_KINDS)}")
    dims = [dimensions] if isinstance(dimensions, str) else list(dimensions)
    missing = [d for d in dims if d not in events.columns]
    if missing or not dims:
        raise WorkbenchError(f"drill_down: dimensions {missing or '[]'} are not columns of the events")
    if max_depth not in (1, 2):
        raise WorkbenchError(f"drill_down: max_depth={max_depth!r} must be 1 or 2")
    t0, t1 = _utc(start, "start"), _utc(end, "end")
    if t1 <= t0:
        raise WorkbenchError(f"drill_down: end {t1} must be after start {t0}")
    try:
        span = pd.Timedelta(baseline)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"drill_down: baseline={baseline!r} is not a duration such as '28D'") from exc
    if side not in ("both", "before"):
        raise WorkbenchError(f"drill_down: side={side!r} must be 'both' or 'before'")
    b0, b1 = t0 - span, (t1 + span if side == "both" else t0)
    ts = events[S.TS]
    in_win = ((ts >= t0) & (ts < t1)).to_numpy(copy=True)
    in_base = (((ts >= b0) & (ts < t0)) | ((ts >= t1) & (ts < b1))).to_numpy(copy=True)
    for x0, x1 in exclude:
        in_base &= ~((ts >= _utc(x0, "exclude")) & (ts < _utc(x1, "exclude"))).to_numpy()
    days_win = pd.date_range(t0.floor("D"), t1 - pd.Timedelta("1ns"), freq="D")
    if (t1 - t0) < pd.Timedelta("7D"):
        in_base &= ts.dt.day_of_week.isin(set(days_win.day_of_week)).to_numpy()
    if not in_win.any():
        raise WorkbenchError(f"drill_down: no events in the window [{t0}, {t1})")
    if not in_base.any():
        raise WorkbenchError(f"drill_down: no events in the baseline ({baseline} around [{t0}, {t1})) "
                             "to compare with: load a longer history or give a longer baseline")
    keep = in_win | in_base   # only the window and the baseline matter from here on
    events, ts, in_win, in_base = events.loc[keep], ts[keep], in_win[keep], in_base[keep]
    num, den, rel, kind = _kpi_parts(events, metric)
    base_days = pd.DatetimeIndex(ts[in_base].dt.floor("D").unique()).size
    win_days = max(1, pd.DatetimeIndex(ts[in_win].dt.floor("D").unique()).size) \
        if (t1 - t0) >= pd.Timedelta("1D") else 1
    labels = _labels(events, dims)
    day = (_utc_micros(ts) // 86_400_000_000).astype(np.int64)
    users = events[S.USER_ID].astype("str").to_numpy(dtype=object) if metric == "active_users" else \
        events[S.SESSION_ID].astype("str").to_numpy(dtype=object) if metric == "sessions" else None
    groups: list[tuple[str, np.ndarray]] = [(d, labels[d]) for d in dims]
    if max_depth == 2:
        for a, b in itertools.combinations(dims, 2):
            groups.append((f"{a} x {b}", _pair(labels[a], labels[b])))
    W, B = in_win & rel, in_base & rel
    q = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}.get(metric)
    obs, exp = _aggregate(kind, num, den, W, B, users, q, win_days, base_days, day)
    rows = []
    mix = 0.0
    skipped = []
    for name, lab in groups:
        if not _segmentable(kind, lab, num, den, W, users):
            skipped.append(name)
            continue
        seg = _segment_effects(kind, num, den, lab, W, B, users, q, win_days, base_days, obs, exp, day,
                               metric in ("error_rate", "cache_hit_rate"))
        seg.insert(0, "dimension", name)
        seg.insert(2, "depth", 1 if " x " not in name else 2)
        rows.append(seg)
        if kind == "ratio" and " x " not in name and name == dims[0]:
            mix = float(1 - seg["contribution"].sum()) if np.isfinite(seg["contribution"].sum()) else float("nan")
    if not rows:
        raise WorkbenchError(f"drill_down: none of the dimensions {dims} can segment {metric} "
                             f"(skipped: {', '.join(skipped)})")
    segments = pd.concat(rows, ignore_index=True)
    segments = segments.sort_values(["contribution", "depth"], ascending=[False, False], kind="stable",
                                    na_position="last").reset_index(drop=True)
    segments["lift"] = segments["contribution"] / segments["exposure"].where(segments["exposure"] > 0)
    top = _headline(segments, min_events, min_lift)
    change = obs / exp - 1 if exp not in (0, 0.0) and np.isfinite(exp) else float("nan")
    return Attribution(metric=metric, start=t0, end=t1, baseline_start=b0, baseline_end=b1, observed=float(obs),
                       expected=float(exp), change=float(change), segments=segments, mix=mix, top=top)


def _utc_micros(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)


def _utc(value: Any, name: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{name}={value!r} is not a date-time") from exc
    if pd.isna(t):
        raise WorkbenchError(f"{name} is missing")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (pd.Series(a, dtype="str") + " / " + pd.Series(b, dtype="str")).to_numpy(dtype=object)


def _daily_distinct(users: np.ndarray, day: np.ndarray, codes: np.ndarray | None = None, k: int = 1) -> np.ndarray:
    """Sum over days of the distinct users (sessions) per day, per segment code."""
    frame = pd.DataFrame({"c": np.zeros(len(users), dtype=np.int64) if codes is None else codes, "d": day, "u": users})
    per = frame.drop_duplicates().groupby("c").size()
    return per.reindex(range(k), fill_value=0).to_numpy(dtype="float64")


def _aggregate(kind: str, num: np.ndarray, den: np.ndarray, W: np.ndarray, B: np.ndarray, users: np.ndarray | None,
               q: float | None, win_days: int, base_days: int, day: np.ndarray) -> tuple[float, float]:
    if kind == "sum":
        return num[W].sum() / win_days, num[B].sum() / base_days
    if kind == "distinct":  # mean daily distinct count, as the daily KPI is
        return (float(_daily_distinct(users[W], day[W])[0]) / win_days,
                float(_daily_distinct(users[B], day[B])[0]) / base_days)
    if kind == "ratio":
        o = num[W].sum() / den[W].sum() if den[W].sum() > 0 else np.nan
        e = num[B].sum() / den[B].sum() if den[B].sum() > 0 else np.nan
        return o, e
    return float(np.quantile(num[W], q)), float(np.quantile(num[B], q))


def _segmentable(kind: str, lab: np.ndarray, num: np.ndarray, den: np.ndarray, W: np.ndarray,
                  users: np.ndarray | None) -> bool:
    """Whether a dimension can split the KPI: distinct counts need every user (session) in one
    segment (``team`` does, ``model`` does not: one user uses several models); a rate needs its
    numerator and denominator in the same segments (``cost_per_accept`` by ``model`` does not:
    accepts carry no model)."""
    if kind == "distinct":
        per = pd.Series(lab[W]).groupby(users[W]).nunique()
        return bool(len(per) and per.max() == 1)
    if kind == "ratio":
        codes, names = pd.factorize(lab[W])
        k = len(names)
        nw = np.bincount(codes, weights=num[W], minlength=k)
        dw = np.bincount(codes, weights=den[W], minlength=k)
        total = nw.sum()
        return bool(total == 0 or nw[dw == 0].sum() <= 0.5 * total)
    return True


def _segment_effects(kind: str, num: np.ndarray, den: np.ndarray, lab: np.ndarray, W: np.ndarray, B: np.ndarray,
                     users: np.ndarray | None, q: float | None, win_days: int, base_days: int, obs: float,
                     exp: float, day: np.ndarray, proportion: bool) -> pd.DataFrame:
    codes, names = pd.factorize(lab)
    k = len(names)
    n_w = np.bincount(codes[W], minlength=k)
    exposure = n_w / max(W.sum(), 1)
    z = np.full(k, np.nan)
    if kind in ("sum", "distinct"):
        if kind == "sum":
            o = np.bincount(codes[W], weights=num[W], minlength=k) / win_days
            e = np.bincount(codes[B], weights=num[B], minlength=k) / base_days
        else:
            o = _daily_distinct(users[W], day[W], codes[W], k) / win_days
            e = _daily_distinct(users[B], day[B], codes[B], k) / base_days
        excess = o - e
        total = obs - exp
        # a count's natural share is what the segment was expected to hold (a segment that
        # dropped holds little of the window): with shares of the baseline, a drop spread in
        # proportion to size gives every segment a lift of exactly 1
        exposure = e / e.sum() if e.sum() > 0 else exposure
        # z of the segment against proportional scaling, with its day-to-day spread in the baseline
        frame = pd.DataFrame({"c": codes[B], "d": day[B], "v": num[B] if kind == "sum" else users[B]})
        per_day = frame.groupby(["c", "d"])["v"].agg("sum" if kind == "sum" else "nunique").unstack(fill_value=0)
        if per_day.shape[1] >= 3:
            sd = per_day.std(axis=1, ddof=1).reindex(range(k)).to_numpy(dtype="float64")
            ratio = obs / exp if exp else np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                z = (o - e * ratio) / (np.maximum(sd, 1e-12) / math.sqrt(win_days))
    elif kind == "ratio":
        nw = np.bincount(codes[W], weights=num[W], minlength=k)
        dw = np.bincount(codes[W], weights=den[W], minlength=k)
        nb = np.bincount(codes[B], weights=num[B], minlength=k)
        db = np.bincount(codes[B], weights=den[B], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            o = np.where(dw > 0, nw / dw, np.nan)
            e = np.where(db > 0, nb / db, exp)
        excess_num = nw - dw * e            # numerator units
        total_num = num[W].sum() - den[W].sum() * exp
        d_total = den[W].sum()
        excess = excess_num / d_total if d_total > 0 else excess_num * np.nan
        total = total_num / d_total if d_total > 0 else np.nan
        if proportion:  # binomial z of the segment's excess count
            with np.errstate(invalid="ignore", divide="ignore"):
                z = excess_num / np.sqrt(dw * e * (1 - e))
    else:  # quantile: counterfactual replacement by the segment's baseline distribution
        vals_w, codes_w = num[W], codes[W]
        vals_b, codes_b = num[B], codes[B]
        o = np.full(k, np.nan)
        e = np.full(k, np.nan)
        cf = np.full(k, np.nan)
        order_b = np.argsort(codes_b, kind="stable")
        sorted_codes_b = codes_b[order_b]
        for c in range(k):  # one pass per segment (a few dozen), vectorized inside
            mine = codes_w == c
            if not mine.any():
                continue
            lo, hi = np.searchsorted(sorted_codes_b, [c, c + 1])
            ref = vals_b[order_b[lo:hi]] if hi - lo >= 5 else vals_b
            seg = vals_w[mine]
            o[c] = np.quantile(seg, q)
            e[c] = np.quantile(ref, q)
            ranks = (stats.rankdata(seg, method="ordinal") - 0.5) / len(seg)
            replaced = vals_w.copy()
            replaced[mine] = np.quantile(ref, ranks)
            cf[c] = np.quantile(replaced, q)
        excess = obs - cf
        total = obs - exp
    with np.errstate(invalid="ignore", divide="ignore"):
        contribution = excess / total if total not in (0, 0.0) and np.isfinite(total) else np.full(k, np.nan)
        change = np.where((e != 0) & np.isfinite(e), o / e - 1, np.nan)
    return pd.DataFrame({"segment": names.astype(str), "events": n_w, "exposure": exposure, "observed": o,
                         "expected": e, "change": change, "excess": excess, "contribution": contribution, "z": z})


def _headline(segments: pd.DataFrame, min_events: int, min_lift: float) -> dict:
    ok = segments[(segments["events"] >= min_events) & segments["contribution"].notna()
                  & (segments["lift"] >= min_lift) & ~(segments["z"].abs() < 3)]
    if ok.empty:
        return {}
    best = ok["contribution"].max()
    if not best > 0:
        return {}
    near = ok[ok["contribution"] >= 0.8 * best]
    pick = near.sort_values(["depth", "contribution"], ascending=[False, False], kind="stable").iloc[0]
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in pick.to_dict().items()}


# ============================================================================================
# Evaluation harness
#: NAB's standard application profile (Lavin & Ahmad 2015): true positive, false positive, false negative weights.
NAB_STANDARD = {"tp": 1.0, "fp": 0.11, "fn": 1.0}


@dataclass(frozen=True)
class NabData:
    """A series and its labelled anomaly windows, as NAB ships them.

    Attributes
    ----------
    series : DataFrame
        ``timestamp, value``, sorted by time.
    windows : DataFrame
        ``start, end`` (both inclusive, as in NAB's label files).
    """

    series: pd.DataFrame
    windows: pd.DataFrame


def read_nab(csv_path: str | os.PathLike, windows_path: str | os.PathLike, *, key: str | None = None) -> NabData:
    """Read a NAB data file (``timestamp,value``) and its windows from a NAB label JSON.

    The JSON maps data-file names (``"realKnownCause/nyc_taxi.csv"``) to lists of
    ``[start, end]`` pairs; the entry whose name ends with the CSV's file name is used
    (or ``key``). A JSON holding just a list of pairs is accepted too.

    Parameters
    ----------
    csv_path, windows_path : path
    key : str, optional
        The entry of the label file to use.

    Returns
    -------
    NabData

    Raises
    ------
    WorkbenchError
        For a missing file or column, or no matching entry in the labels.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "s.csv").write_text("timestamp,value\\n2024-01-01 00:00:00,1\\n2024-01-01 00:05:00,9\\n")
    >>> _ = (d / "w.json").write_text('{"x/s.csv": [["2024-01-01 00:05:00.000000", "2024-01-01 00:05:00.000000"]]}')
    >>> nab = read_nab(d / "s.csv", d / "w.json")
    >>> len(nab.series), len(nab.windows)
    (2, 1)
    """
    csv_path, windows_path = Path(csv_path), Path(windows_path)
    for p in (csv_path, windows_path):
        if not p.is_file():
            raise WorkbenchError(f"read_nab: {p} does not exist")
    raw = pd.read_csv(csv_path)
    if not {"timestamp", "value"} <= set(raw.columns):
        raise WorkbenchError(f"read_nab: {csv_path.name} must have columns timestamp,value (has {list(raw.columns)})")
    m = _one("value", raw["timestamp"], raw["value"])
    series = pd.DataFrame({"timestamp": m.ts, "value": m.y})
    try:
        labels = json.loads(windows_path.read_text())
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"read_nab: {windows_path.name} is not JSON ({exc})") from exc
    if isinstance(labels, dict):
        names = [k for k in labels if (k == key if key else Path(k).name == csv_path.name)]
        if not names:
            raise WorkbenchError(f"read_nab: no entry for {key or csv_path.name} in {windows_path.name}")
        pairs = labels[names[0]]
    else:
        pairs = labels
    windows = pd.DataFrame({"start": pd.to_datetime([p[0] for p in pairs]),
                            "end": pd.to_datetime([p[1] for p in pairs])})
    if len(windows) and m.ts.tz is not None:
        windows = windows.apply(lambda c: c.dt.tz_localize(m.ts.tz) if c.dt.tz is None else c)
    return NabData(series=series, windows=windows)


def label_windows(timestamps: Any, labels: Any) -> pd.DataFrame:
    """Windows ``start, end`` (inclusive) of consecutive labelled observations.

    Parameters
    ----------
    timestamps : array-like of date-times
        The series' timestamps (any order).
    labels : array-like of bool
        True for an anomalous observation, aligned with ``timestamps``.

    Returns
    -------
    DataFrame
        ``start, end``: one row per run of labelled observations in time order.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=6, freq="D")
    >>> label_windows(t, [False, True, True, False, True, False]).astype(str).values.tolist()
    [['2024-01-02', '2024-01-03'], ['2024-01-05', '2024-01-05']]
    """
    ts = _times(timestamps, "timestamps")
    lab = np.asarray(labels, dtype=bool)
    if len(lab) != len(ts):
        raise WorkbenchError(f"label_windows: {len(lab)} labels for {len(ts)} timestamps")
    order = np.argsort(ts.asi8, kind="stable")
    ts, lab = ts[order], lab[order]
    edges = np.diff(np.r_[0, lab.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return pd.DataFrame({"start": ts[starts], "end": ts[ends]})


@dataclass(frozen=True)
class DetectionScores:
    """How well detections match labelled windows.

    Attributes
    ----------
    windows, detected_windows, false_positive_events : int
        Labelled windows, windows with at least one detection, and runs of consecutive
        detections outside every window.
    event_precision, event_recall, event_f1 : float
        ``detected / (detected + false_positive_events)``, ``detected / windows``, harmonic mean.
    point_precision, point_recall, point_f1 : float
        Over observations: labelled = inside a window.
    nab_raw, nab_score : float
        NAB-style score (see :func:`detection_scores`) and its normalization to 0-100
        (100 = every window detected at its start and no false positive, 0 = no detection).
    """

    windows: int
    detected_windows: int
    false_positive_events: int
    event_precision: float
    event_recall: float
    event_f1: float
    point_precision: float
    point_recall: float
    point_f1: float
    nab_raw: float
    nab_score: float

    def as_dict(self) -> dict[str, float]:
        """The scores as a plain dict (for tables and JSON).

        Examples
        --------
        >>> d = DetectionScores(1, 1, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 100.0).as_dict()
        >>> d["event_f1"], d["nab_score"]
        (1.0, 100.0)
        """
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0)


def detection_scores(detections: Any, windows: pd.DataFrame, timestamps: Any, *,
                     weights: Mapping[str, float] = NAB_STANDARD, probation: float = 0.0) -> DetectionScores:
    """Score detections against labelled windows: event level, point level and NAB-style.

    **Event level**: a window is detected when at least one detection falls inside it
    (``start <= t <= end``); detections outside every window form false-positive events
    (runs of consecutive detected observations count once).

    **Point level**: observations inside a window are the positives.

    **NAB-style score** (the standard profile of the Numenta Anomaly Benchmark, Lavin &
    Ahmad 2015): each window scores ``tp x sigma(first detection)`` where
    ``sigma(y) = 2 / (1 + exp(5y)) - 1`` of the relative position ``y`` in the window
    (-1 at its start, 0 at its end; normalized so the start scores ``tp``), or ``-fn`` when
    missed; each detection outside a window adds ``fp x sigma(y)`` with ``y`` its distance
    past the previous window's end in window lengths (-``fp`` when no window precedes it or
    it is 3 lengths or more away), so later detections count more negative.
    ``nab_score = 100 x (raw - null) / (perfect - null)`` with ``null = -fn x windows`` and
    ``perfect = tp x windows``. ``probation`` (a share of the series, NAB uses 0.15) leaves
    the first observations out of the NAB score.

    Parameters
    ----------
    detections : DataFrame, array of timestamps, or boolean array
        A detector's result (its ``timestamp`` column), detected timestamps, or one bool per
        timestamp of ``timestamps``.
    windows : DataFrame
        ``start, end`` (inclusive), e.g. from :func:`label_windows` or :func:`read_nab`.
    timestamps : array-like
        Every timestamp of the series (for point-level scores and positions).
    weights : dict
        ``tp``, ``fp``, ``fn`` weights (default ``NAB_STANDARD``: 1, 0.11, 1).
    probation : float
        Share of the series at its start excluded from the NAB score (0 <= probation < 1).

    Returns
    -------
    DetectionScores

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=20, freq="D")
    >>> w = pd.DataFrame({"start": [t[5]], "end": [t[7]]})
    >>> s = detection_scores(pd.DatetimeIndex([t[5], t[15]]), w, t)
    >>> s.event_precision, s.event_recall, round(s.nab_score, 1)
    (0.5, 1.0, 94.5)
    """
    ts = _times(timestamps, "timestamps")
    ts = ts[np.argsort(ts.asi8, kind="stable")]
    n = len(ts)
    if isinstance(detections, pd.DataFrame):
        if "timestamp" not in detections.columns:
            raise WorkbenchError("detection_scores: detections need a timestamp column")
        detections = detections["timestamp"]
    arr = np.asarray(detections)
    if arr.dtype == bool:
        if len(arr) != n:
            raise WorkbenchError(f"detection_scores: {len(arr)} flags for {n} timestamps")
        det = arr
    else:
        dt = _times(detections, "detections") if len(arr) else pd.DatetimeIndex([], tz=ts.tz)
        if len(dt) and (dt.tz is None) != (ts.tz is None):
            raise WorkbenchError("detection_scores: detections and timestamps must both be tz-aware or both naive")
        det = np.isin(ts.asi8, dt.asi8) if len(dt) else np.zeros(n, bool)
        unknown = len(np.setdiff1d(dt.asi8, ts.asi8)) if len(dt) else 0
        if unknown:
            raise WorkbenchError(f"detection_scores: {unknown} detection(s) are not timestamps of the series")
    if not {"start", "end"} <= set(windows.columns):
        raise WorkbenchError("detection_scores: windows need columns start and end")
    if not 0 <= probation < 1:
        raise WorkbenchError(f"probation={probation} must be in [0, 1)")
    w0 = _times(windows["start"], "windows").asi8 if len(windows) else np.array([], dtype=np.int64)
    w1 = _times(windows["end"], "windows").asi8 if len(windows) else np.array([], dtype=np.int64)
    t = ts.asi8
    lo = np.searchsorted(t, w0, side="left")          # first index inside each window
    hi = np.searchsorted(t, w1, side="right") - 1     # last index inside
    inside = np.zeros(n, dtype=bool)
    win_of = np.full(n, -1)
    for i, (a, b) in enumerate(zip(lo, hi)):  # one slice per window
        if b >= a:
            inside[a:b + 1] = True
            win_of[a:b + 1] = i
    n_win = len(w0)
    hit = np.zeros(n_win, dtype=bool)
    if n_win:
        hit_idx = np.unique(win_of[det & inside])
        hit[hit_idx[hit_idx >= 0]] = True
    fp_points = det & ~inside
    fp_events = int(np.sum(fp_points & ~np.r_[False, fp_points[:-1]]))
    tp = int(hit.sum())
    ep = tp / (tp + fp_events) if tp + fp_events else 0.0
    er = tp / n_win if n_win else 0.0
    pp = float((det & inside).sum() / det.sum()) if det.sum() else 0.0
    pr = float((det & inside).sum() / inside.sum()) if inside.sum() else 0.0
    # NAB-style
    start_at = int(math.floor(probation * n)) if probation else 0
    tpw, fpw, fnw = (float(weights[k]) for k in ("tp", "fp", "fn"))
    max_tp = float(_scaled_sigmoid(np.array([-1.0]))[0])
    raw = 0.0
    counted = [i for i in range(n_win) if hi[i] >= max(lo[i], start_at)]
    for i in counted:
        a, b = max(lo[i], start_at), hi[i]
        width = hi[i] - lo[i] + 1
        d = np.flatnonzero(det[a:b + 1])
        if len(d):
            first = a + d[0]
            raw += tpw * float(_scaled_sigmoid(np.array([-(hi[i] - first + 1) / width]))[0]) / max_tp
        else:
            raw -= fnw
    fp_idx = np.flatnonzero(fp_points)
    fp_idx = fp_idx[fp_idx >= start_at]
    if len(fp_idx):
        ends = hi[hi >= lo] if n_win else np.array([], dtype=np.int64)
        widths = (hi - lo + 1)[hi >= lo] if n_win else np.array([], dtype=np.int64)
        order = np.argsort(ends)
        ends, widths = ends[order], widths[order]
        k = np.searchsorted(ends, fp_idx, side="left") - 1   # the previous window ended before the point
        pos = np.full(len(fp_idx), 3.0)
        has = k >= 0
        pos[has] = np.abs(fp_idx[has] - ends[k[has]]) / np.maximum(widths[k[has]] - 1, 1)
        raw += fpw * float(_scaled_sigmoid(pos).sum())
    n_counted = len(counted)
    null, perfect = -fnw * n_counted, tpw * n_counted
    nab = 100.0 * (raw - null) / (perfect - null) if perfect > null else float("nan")
    return DetectionScores(windows=n_win, detected_windows=tp, false_positive_events=fp_events,
                           event_precision=ep, event_recall=er, event_f1=_f1(ep, er), point_precision=pp,
                           point_recall=pr, point_f1=_f1(pp, pr), nab_raw=raw, nab_score=nab)
