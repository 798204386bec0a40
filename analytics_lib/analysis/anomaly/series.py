"""KPI series for the detectors: events turned into metric series on a regular grid (the step
detected or given), and the detectors' shared constants.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.analysis.workflow.bottlenecks import SeverityThresholds
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError


#: Columns of every detector's result, in order.
ANOMALY_COLUMNS = ["timestamp", "metric", "method", "observed", "expected", "lower", "upper", "score", "severity",
                   "direction"]
#: Named sensitivities and the number in [0, 1] each stands for (threshold = 5.5 - 4 x sensitivity).
SENSITIVITIES: dict[str, float] = {"low": 0.25, "medium": 0.5, "high": 0.75}
#: Severity bands on ``|score|`` (robust z units): below 5 low, from 5 medium, from 8 high, from 12 critical.
SEVERITY = SeverityThresholds(medium=5.0, high=8.0, critical=12.0)
SEVERITY_LEVELS = ("low", "medium", "high", "critical")
#: Methods :func:`anomaly_scores` and :func:`detect_anomalies` know.
METHODS = ("rolling_z", "iqr", "stl", "forecast", "flatline", "novelty")
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
class MetricSeries:
    """One KPI series as the detectors see it (:func:`metric_series` builds them from any accepted shape)."""

    name: str
    ts: pd.DatetimeIndex   # sorted, unique
    y: np.ndarray          # float64, NaN = missing value
    weights: np.ndarray    # precision weight per observation: sqrt(volume / median volume), 1 without volume
    merged: int = 0        # input rows merged into others because their timestamp repeated (mean of the values)


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


def _one(name: str, ts: Any, y: Any) -> MetricSeries:
    t = _times(ts, name)
    v = _numeric(pd.Series(y), name)
    order = np.argsort(t.asi8, kind="stable")
    t, v = t[order], v[order]
    merged = 0
    if t.has_duplicates:
        t, v, merged = _merge_repeats(t, v)
    return MetricSeries(str(name), t, v, np.ones(len(v)), merged)


def _merge_repeats(t: pd.DatetimeIndex, v: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray, int]:
    """One observation per timestamp: repeated timestamps (a clock set back at a daylight-saving
    change, a double export) become the mean of their values, missing values ignored (NaN when all
    are missing). Returns the timestamps, the values and how many rows were merged away."""
    codes, uniq = pd.factorize(t, sort=True)
    finite = ~np.isnan(v)
    total = np.bincount(codes, weights=np.where(finite, v, 0.0), minlength=len(uniq))
    count = np.bincount(codes, weights=finite.astype("float64"), minlength=len(uniq))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return pd.DatetimeIndex(uniq), mean, len(t) - len(uniq)


#: KPIs that are counts or sums (extensive): they are never weighted by ``volume``.
EXTENSIVE_KPIS = ("events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts")


def metric_series(series: Any, metrics: Sequence[str] | str | None = None, volume: Any = None) -> list[MetricSeries]:
    """Split the accepted input shapes into one series per metric (see the module docstring).

    Parameters
    ----------
    series : DataFrame or Series
        KPI values in one of these shapes: a frame indexed by time with one column per metric
        (as :func:`~analytics_lib.kpi_table` returns); a long frame ``unique_id, ds, y`` (one
        metric per ``unique_id``); a frame ``ds, y`` or ``timestamp, value`` (one metric); or a
        Series indexed by time (named after the Series, else ``"value"``).
    metrics : str or list of str, optional
        The metrics to keep: columns of a frame indexed by time, else metric names (``unique_id``
        values, ``"y"`` or ``"value"``). None (default): every metric, in a frame indexed by time
        every numeric column that is not boolean. Ignored for a Series.
    volume : str or Series, optional
        Events behind each period, weighting the metrics that are not counts or sums
        (``EXTENSIVE_KPIS``) by ``sqrt(volume / median volume)``: a column of a frame indexed
        by time, or a Series indexed by time. None (default): every weight is 1.

    Returns
    -------
    list of MetricSeries
        One per metric, sorted by time, one observation per timestamp: repeated timestamps
        are merged into the mean of their values (``MetricSeries.merged`` counts the rows
        merged away).

    Raises
    ------
    WorkbenchError
        For an unknown shape or metric, values that are not numbers, missing timestamps,
        a metric without rows, or an unusable ``volume``.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    vol: pd.Series | None = None
    if isinstance(series, pd.Series):
        if not isinstance(series.index, pd.DatetimeIndex):
            raise WorkbenchError("a Series of values needs a DatetimeIndex (the timestamps)")
        out = [_one(series.name if series.name is not None else "value", series.index, series.to_numpy())]
    elif not isinstance(series, pd.DataFrame):
        raise WorkbenchError(f"expected a DataFrame or Series of KPI values, got {type(series).__name__}")
    elif {"unique_id", "ds", "y"} <= set(series.columns):
        out = [_one(str(k), g["ds"], g["y"]) for k, g in series.groupby("unique_id", sort=True, observed=True)]
    elif {"ds", "y"} <= set(series.columns):
        out = [_one("y", series["ds"], series["y"])]
    elif {"timestamp", "value"} <= set(series.columns):
        out = [_one("value", series["timestamp"], series["value"])]
    elif isinstance(series.index, pd.DatetimeIndex):
        cols = list(series.columns) if metrics is None else list(metrics)
        missing = [c for c in cols if c not in series.columns]
        if missing:
            raise WorkbenchError(f"metrics {missing} are not columns; choose from {list(series.columns)}")
        if metrics is None:
            cols = [c for c in cols if pd.api.types.is_numeric_dtype(series[c].dtype)
                    and not pd.api.types.is_bool_dtype(series[c].dtype)]
        out = [_one(str(c), series.index, series[c].to_numpy()) for c in cols]
        if isinstance(volume, str):
            if volume not in series.columns:
                raise WorkbenchError(f"volume={volume!r} is not a column; choose from {list(series.columns)}")
            vol = pd.Series(_numeric(series[volume], volume), index=series.index)
    else:
        raise WorkbenchError("KPI series must be a frame indexed by time (one column per metric, as kpi_table "
                             "returns), a long frame with columns unique_id, ds, y, a frame with ds, y or "
                             "timestamp, value, or a Series indexed by time")
    if metrics is not None and not isinstance(series, pd.Series) and not isinstance(series.index, pd.DatetimeIndex):
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


def _weighted(m: MetricSeries, vol: pd.Series) -> MetricSeries:
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
    return MetricSeries(m.name, m.ts, m.y, w, m.merged)


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
# Drill-down attribution
_DIMENSIONS = (S.TEAM, S.MODEL, S.FEATURE, S.EVENT_TYPE)
#: KPI -> how it is computed from events, for :func:`drill_down`.
KPI_KINDS: dict[str, str] = {
    "events": "sum", "cost_usd": "sum", "tokens_in": "sum", "tokens_out": "sum", "accepts": "sum",
    "error_rate": "ratio", "cache_hit_rate": "ratio", "satisfaction": "ratio", "cost_per_accept": "ratio",
    "latency_p50": "quantile", "latency_p95": "quantile", "latency_p99": "quantile",
    "active_users": "distinct", "sessions": "distinct",
}
