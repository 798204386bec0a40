"""Detectors over KPI series and events: one function per method, their vote
(``detect_anomalies``), several KPIs at once (``multivariate_anomalies``) and incidents.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.core.compat import renamed
from analytics_lib.analysis.anomaly.scores import (
    DETECTORS, _DEFAULT_WINDOW, _MAD_EFFICIENCY, _concat, _empty, _flag, _frame, _robust_scale, _score_one, _severity, _stl,
    _stl_periods)
from analytics_lib.analysis.anomaly.series import (
    ANOMALY_COLUMNS, _grid, _steps, metric_series, score_threshold)
from analytics_lib.core.errors import WorkbenchError


def _detect(series: Any, method: str, metrics: Any, sensitivity: Any, options: Mapping[str, Any],
            volume: Any = None) -> pd.DataFrame:
    thr = score_threshold(sensitivity)
    parts = []
    for m in metric_series(series, metrics, volume):
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


@renamed(h='horizon')
def forecast_anomalies(series: Any, *, model: str = "ets", horizon: int | None = None, n_windows: int | None = None,
                       season: int | None = None, metrics: Sequence[str] | str | None = None,
                       sensitivity: str | float = "medium") -> pd.DataFrame:
    """Observations outside the prediction interval of a forecast made before them.

    Runs :func:`analytics_lib.forecast.backtest` with one model of
    :class:`~analytics_lib.forecast.Forecaster`: the model is refitted at ``n_windows``
    cutoffs and forecasts the next ``horizon`` steps, so every scored observation is compared with
    a forecast that did not see it. ``expected`` is the forecast mean, the scale is the
    forecast's standard deviation at that horizon (read off its 80 % interval); observations
    before the first cutoff are not scored. Gaps are allowed; irregular timestamps are snapped
    to bins of the (rounded) median step, each observation scored against its bin's forecast.

    Parameters
    ----------
    series : DataFrame or Series
    model : str
        A model name of ``analytics_lib.forecast.MODELS`` (``"ets"``, ``"seasonal_naive"``).
    horizon : int, optional
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
                   {"model": model, "h": horizon, "n_windows": n_windows, "season": season})


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
    ms = metric_series(kpis, metrics)
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
                     options: Mapping[str, Mapping[str, Any]] | None = None,
                     calibrated: bool = False) -> pd.DataFrame:
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
        Names of registered detectors (:data:`~analytics_lib.analysis.anomaly.scores.DETECTORS`: the
        built-in ``METHODS`` and any plug-in's).
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
    calibrated : bool
        Add ``probability``: 1 minus how often the window's other observations reach the
        anomaly's ``|score|`` (:func:`~analytics_lib.analysis.anomaly.calibration.tail_p_value`,
        leave one out: against every other observation of every metric scored by the row's
        method, flagged ones included; robust z-scores share one scale, so all metrics make one
        reference). Other incidents in the window make it more modest, never bolder: a
        reference of the unflagged observations only would stop at the threshold, and its
        fitted tail would make every anomaly look extreme whatever the metric's tails. A look
        back at a finished window, unlike the causal
        :func:`~analytics_lib.analysis.anomaly.calibration.anomaly_probability`; the insights rank
        incidents by it.

    Returns
    -------
    DataFrame
        ``ANOMALY_COLUMNS`` plus ``methods`` (comma-separated) and ``votes`` (and
        ``probability`` when ``calibrated``).

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
        unknown = [m for m in methods if m not in DETECTORS]
        if unknown or not methods:
            raise WorkbenchError(f"methods {unknown or '[]'} are not known: use 'auto' or a list of "
                                 f"{', '.join(DETECTORS.names())}")
    if isinstance(min_votes, bool) or not isinstance(min_votes, (int, np.integer)) or min_votes < 1:
        raise WorkbenchError(f"min_votes={min_votes!r} must be a positive integer")
    parts = []
    everything: dict[str, list[np.ndarray]] = {}
    for m in metric_series(series, metrics, volume):
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
        if calibrated:
            for meth, sc in scored.items():
                everything.setdefault(meth, []).append(np.abs(np.asarray(sc.score, dtype=float)))
    found = _merge_votes(_concat(parts), min_votes)
    if calibrated:
        found["probability"] = _leave_one_out_probability(found, {m: np.concatenate(v) for m, v in everything.items()})
    return found


def _leave_one_out_probability(found: pd.DataFrame, scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """1 - tail_p_value of each row's |score| against every other score of its method (one copy of
    its own value left out)."""
    from analytics_lib.analysis.anomaly.calibration import tail_p_value

    out = np.full(len(found), np.nan)
    sorted_scores = {meth: np.sort(v[np.isfinite(v)]) for meth, v in scores.items()}
    for i, (meth, s) in enumerate(zip(found["method"], found["score"].abs().to_numpy(dtype=float))):  # few rows
        ref = sorted_scores[meth]
        j = np.searchsorted(ref, s)
        if j < len(ref) and ref[j] == s:
            ref = np.delete(ref, j)
        out[i] = 1.0 - tail_p_value([s], ref)[0]
    return out


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
