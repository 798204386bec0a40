"""Rolling-origin backtests, the median ensemble and the automatic choice of a model per series
(``auto_forecast``), with calibrated intervals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.core.parallel import map_tasks
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.forecast.estimator import Forecaster, _check_h, _predict_one
from analytics_lib.forecast.metrics import _order_cv, _point_loss, forecast_metrics
from analytics_lib.forecast.models import (INTERMITTENT_MODELS, INTERMITTENT_ZERO_SHARE, _check_level, auto_candidates,
                                           complexity, min_length, zero_share)
from analytics_lib.forecast.series import check_series


#: What worker processes import once before fitting (``core.parallel.map_tasks``'s preload).
WORKER_PRELOAD = ("analytics_lib.forecast.selection", "statsmodels.tsa.holtwinters",
                  "statsmodels.tsa.statespace.sarimax", "statsmodels.tsa.forecasting.theta", "statsmodels.tsa.seasonal",
                  "statsmodels.tsa.stattools", "sklearn.linear_model")


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


#: Fewest observations a series needs in :func:`auto_forecast`: one gives the naive forecast
#: without an interval (nothing says how much it varies), two give it an interval.
MIN_OBSERVATIONS = 1


def backtest_plan(n: int, *, horizon: int, n_windows: int, step: int, season: int) -> tuple[int, int, int, str]:
    """How :func:`auto_forecast` backtests a series of ``n`` steps: ``(windows, season, horizon, fallback)``.

    Every backtest window needs a training part of at least ``max(3, season + 1)`` steps before
    its ``horizon`` steps. In order of preference, a series too short for ``n_windows`` gets:
    as many windows as fit; one window with a shorter horizon (down to a quarter of it) so the
    season stays; windows without the season (``season`` 1: the seasonal models fit none,
    seasonal naive becomes naive); and below one window no backtest at all (``windows`` 0)
    and the seasonal naive forecast when a whole season was seen, else the naive one.
    ``fallback`` says what was given up, empty when nothing was.

    Parameters
    ----------
    n : int
        Steps of the series on its grid (gaps included: the backtest cuts positions).
    horizon : int
        Steps the forecast is asked for (each backtest window's length, unless shortened).
    n_windows : int
        Backtest windows asked for.
    step : int
        Steps between consecutive backtest cutoffs.
    season : int
        The series' season length in steps (1: none).

    Returns
    -------
    tuple
        ``(windows, season, horizon, fallback)``: the backtest windows, the season and the
        backtest horizon to use, and the sentence saying what was given up.

    Examples
    --------
    >>> backtest_plan(200, horizon=14, n_windows=3, step=14, season=7)
    (3, 7, 14, '')
    >>> backtest_plan(40, horizon=14, n_windows=3, step=14, season=7)
    (2, 7, 14, '2 backtest windows of 3: 40 steps of history')
    >>> backtest_plan(63, horizon=48, n_windows=3, step=48, season=24)
    (1, 24, 38, '1 backtest window of 38 steps, not 3 of 48: 63 steps of history')
    >>> backtest_plan(20, horizon=13, n_windows=3, step=13, season=52)[:3]
    (1, 1, 13)
    >>> backtest_plan(5, horizon=14, n_windows=3, step=14, season=7)
    (0, 1, 14, 'naive, not backtested: 5 steps of history are too few for a backtest of 14 steps')
    >>> backtest_plan(30, horizon=48, n_windows=3, step=48, season=24)[:3]
    (0, 24, 48)
    """
    need = max(3, season + 1)
    for w in range(n_windows, 0, -1):
        if n - horizon - (w - 1) * step >= need:
            note = "" if w == n_windows else f"{w} backtest window{'s' if w > 1 else ''} of {n_windows}: {n} steps of history"
            return w, season, horizon, note
    if season > 1 and n - need >= max(1, horizon // 4):
        short_h = n - need
        return 1, season, short_h, (f"1 backtest window of {short_h} steps, not {n_windows} of {horizon}: "
                                    f"{n} steps of history")
    for w in range(n_windows, 0, -1):
        if n - horizon - (w - 1) * step >= 3:
            return w, 1, horizon, (f"non-seasonal: {n} steps of history are too few to backtest season {season}; "
                                   f"{w} backtest window{'s' if w > 1 else ''} of {n_windows}")
    m = season if n > season else 1  # a whole season seen: it repeats; else the last value
    return 0, m, horizon, (f"{'seasonal naive' if m > 1 else 'naive'}, not backtested: {n} step{'s' if n != 1 else ''} "
                           f"of history {'are' if n != 1 else 'is'} too few for a backtest of {horizon} steps")


def _is_intermittent(y: pd.Series) -> bool:
    """A never-negative series with at least :data:`INTERMITTENT_ZERO_SHARE` zeros."""
    return bool(y.min() >= 0) and zero_share(y) >= INTERMITTENT_ZERO_SHARE


def _auto_one(args) -> tuple[pd.DataFrame, pd.DataFrame, list, tuple]:
    uid, g, models, h, n_windows, step, level, ctx = args
    n = len(g)  # steps on the grid (gaps included): the backtest cuts positions
    windows, season, h_bt, note = backtest_plan(n, horizon=h, n_windows=n_windows, step=step, season=ctx.season)
    ctx = replace(ctx, season=season)
    if windows == 0:  # nothing to backtest: the (seasonal) naive forecast only
        fc, comps = _predict_one(uid, g, ["seasonal_naive"], h, level, ctx)
        return pd.DataFrame(), fc, comps, (windows, note)
    shortest = n - h_bt - (windows - 1) * step  # the first backtest window's training part
    short = [m for m in models if shortest < min_length(m)]
    if short:  # left out for this series (NaN columns), in the backtest and the forecast alike
        models = [m for m in models if m not in short]
        note = "; ".join(filter(None, [note, f"without {', '.join(short)} (needs at least "
                                             f"{min(min_length(m) for m in short)} steps to fit, the backtest has "
                                             f"{shortest})"]))
    cv, memo = _backtest_series((uid, g, models, h_bt, windows, step, level, ctx))
    # the final fit re-estimates every parameter on the whole series; without refits it keeps the
    # structure the backtest estimated and scored (ETS seasonality type, ARIMA orders)
    hints = None if memo is None else {name: {**fitted, "structure_only": True} for name, fitted in memo.items()
                                        if fitted}
    fc, comps = _predict_one(uid, g, models, h, level, ctx, hints)
    return cv, fc, comps, (windows, note)


def _tasks(fc: Forecaster, series: pd.DataFrame, h: int, n_windows: int, step: int, level: list[int],
           refit: bool = True, shortest: int | None = None) -> list:
    shortest = max(3, fc._context().season + 1) if shortest is None else shortest
    full = check_series(series, granularity=fc.granularity, min_length=shortest, agg=fc.agg)
    ctx, models = replace(fc._context(), refit=bool(refit)), fc._check_models()
    return [(uid, g.reset_index(drop=True), models, h, n_windows, step, level, ctx)
            for uid, g in full.groupby("unique_id", sort=True)]


@renamed(h='horizon')
def backtest(forecaster: Forecaster, series: pd.DataFrame, *, horizon: int, n_windows: int = 3, step: int | None = None,
             level: Sequence[int] = (80,), refit: bool = True, n_jobs: int | None = 1,
             progress: bool = False) -> pd.DataFrame:
    """Rolling-origin cross-validation: fit at each cutoff and forecast the next ``horizon`` steps.

    The last window ends at the last observation; earlier cutoffs are ``step`` (default
    ``horizon``) steps apart. With ``refit=False`` the models' parameters (and ETS/ARIMA structure)
    are estimated at the first cutoff only; later cutoffs run the same model over the longer
    history (states updated, no re-estimation), as statsforecast's ``refit=False``. Series
    run in ``n_jobs`` worker processes (``-1``: all cores).
    Returns ``unique_id, ds, cutoff, y, <model>..., <model>-lo/hi-<level>``.

    Parameters
    ----------
    forecaster : Forecaster
        The models, granularity, season and resampling rule to backtest.
    series : DataFrame
        Long series ``unique_id, ds, y``.
    horizon : int
        Steps forecast from each cutoff (at least 1).
    n_windows : int
        Number of cutoffs per series (at least 1; default 3).
    step : int, optional
        Steps between consecutive cutoffs; default ``horizon`` (windows that do not overlap).
    level : sequence of int
        Interval levels in percent, each strictly between 0 and 100 (default ``(80,)``).
    refit : bool
        Re-estimate the models at every cutoff (default True), or at the first cutoff only.
    n_jobs : int, optional
        Worker processes over series (default 1; ``None`` or ``-1``: all cores).
    progress : bool
        Show a progress bar over series (default False).

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> cv = backtest(Forecaster(models=["seasonal_naive"], granularity="D"), s, horizon=7, n_windows=2)
    >>> sorted(cv["cutoff"].dt.strftime("%Y-%m-%d").unique())
    ['2024-02-15', '2024-02-22']
    """
    horizon, level = _check_h(horizon), _check_level(level)
    step = _check_h(step or horizon)
    if n_windows < 1:
        raise WorkbenchError(f"n_windows={n_windows} must be at least 1")
    parts = map_tasks(_backtest_one, _tasks(forecaster, series, horizon, n_windows, step, level, refit), n_jobs=n_jobs,
                      progress=progress, desc="backtest", preload=WORKER_PRELOAD)
    return _order_cv(pd.concat(parts, ignore_index=True))


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
        ``baseline_mase`` (seasonal naive), ``improvement_vs_baseline`` (share),
        ``backtest_windows`` and ``fallback`` (what a short series gave up, see
        :func:`backtest_plan`; empty when nothing), ``interval_scale``.
    scores : DataFrame
        Backtest metrics of every candidate and the ensemble (:func:`forecast_metrics`).
    cv : DataFrame
        The backtest frame with an ``ensemble`` column.
    candidates : DataFrame
        The final forecast of every candidate (``Forecaster.predict`` format + ``ensemble``).
    components : DataFrame
        In-sample components of the models that have them.
    calibration : DataFrame
        The panel's interval calibration per step ahead: ``level, step, factor, points``
        (see ``calibrate`` of :func:`auto_forecast`).
    """

    forecast: pd.DataFrame
    selection: pd.DataFrame
    scores: pd.DataFrame
    cv: pd.DataFrame
    candidates: pd.DataFrame
    components: pd.DataFrame = field(repr=False)
    metric: str = "mase"
    level: tuple = (80, 95)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


#: Relative tolerance under which two backtest scores count as a tie (see :func:`auto_forecast`).
SELECTION_RTOL = 1e-6


def _simplest_within(pool: pd.DataFrame, metric: str, rtol: float = SELECTION_RTOL) -> pd.DataFrame:
    """Per series, the simplest candidate whose ``metric`` is within ``rtol`` of the best one.

    Scores that differ by floating-point noise (another CPU, another BLAS) must not change the
    choice: a tie goes to the simpler model (:data:`~analytics_lib.forecast.models.COMPLEXITY`), not to the last digits.
    """
    frame = pool.assign(_rank=pool["model"].map(lambda m: 1e9 if m == "ensemble" else complexity(m)))
    best = frame.groupby("unique_id")[metric].transform("min")
    close = frame[metric].le(best + rtol * best.abs()) | best.isna()
    picked = frame[close].sort_values(["unique_id", "_rank", "model"]).groupby("unique_id").head(1)
    return picked.drop(columns="_rank")


def _paired_loss_gap(cv: pd.DataFrame, model: str, other: str, metric: str = "mase") -> tuple[float, float]:
    """Mean and standard error of ``loss(model) - loss(other)`` over the backtest points both forecast."""
    y = cv["y"].to_numpy(dtype="float64")
    d = _point_loss(y, cv[model].to_numpy(dtype="float64"), metric) - \
        _point_loss(y, cv[other].to_numpy(dtype="float64"), metric)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return (float(d.mean()) if len(d) else 0.0), 0.0
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def _choose(pool: pd.DataFrame, cv: pd.DataFrame, metric: str, members: dict | None = None) -> pd.DataFrame:
    """Per series, the forecast :func:`auto_forecast` uses: one row of ``pool`` (see its docstring).

    The single candidates' best (ties within :data:`SELECTION_RTOL` to the simpler one), then the
    ensemble instead unless that single model's backtest losses (under ``metric``) are lower than
    the ensemble's by more than one standard error of the paired differences. An "ensemble" of
    one model (``members``) is that model: never chosen in its name.
    """
    singles = _simplest_within(pool[pool["model"] != "ensemble"], metric)
    ensemble = pool[(pool["model"] == "ensemble") & pool[metric].notna()].set_index("unique_id")
    if ensemble.empty:
        return singles
    by_series = {uid: g for uid, g in cv.groupby("unique_id", sort=False)}
    use_ensemble = []
    for uid, model in zip(singles["unique_id"], singles["model"]):
        if uid in ensemble.index and uid in by_series and (members is None or len(members.get(uid, ())) > 1):
            gap, se = _paired_loss_gap(by_series[uid], model, "ensemble", metric)
            use_ensemble.append(gap >= -se)  # the single model is not clearly better
        else:
            use_ensemble.append(False)
    keep = singles[~np.array(use_ensemble, dtype=bool)]
    swap = ensemble.loc[singles.loc[np.array(use_ensemble, dtype=bool), "unique_id"]].reset_index()
    return pd.concat([keep, swap[singles.columns]], ignore_index=True).sort_values("unique_id", kind="stable") \
        .reset_index(drop=True)


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


def _conformal_factor(ratios: np.ndarray, level: int) -> float:
    """The split-conformal quantile of |error| / half-width: the ``ceil((n + 1) level / 100)``-th
    smallest of ``n`` ratios (the largest when there are too few); 1.0 under 10 ratios."""
    n = len(ratios)
    if n < 10:
        return 1.0
    return float(np.sort(ratios)[min(n, math.ceil((n + 1) * level / 100)) - 1])


def _interval_ratios(cv: pd.DataFrame, chosen: dict, level: int) -> pd.DataFrame:
    """Every backtest point's |error| / half-width of the chosen model's interval at ``level``,
    with its series and its step ahead (0 = the first step after the cutoff)."""
    parts = []
    for uid, g in cv.groupby("unique_id", sort=True):
        m = chosen[uid]
        step = g.groupby("cutoff").cumcount().to_numpy()  # counted before gaps are dropped
        keep = g["y"].notna().to_numpy()
        g, step = g[keep], step[keep]
        y, f = g["y"].to_numpy(dtype="float64"), g[m].to_numpy(dtype="float64")
        half = np.where(y >= f, g[f"{m}-hi-{level}"].to_numpy(dtype="float64") - f,
                        f - g[f"{m}-lo-{level}"].to_numpy(dtype="float64"))
        ok = half > 0
        parts.append(pd.DataFrame({"unique_id": uid, "step": step[ok], "ratio": np.abs(y - f)[ok] / half[ok]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["unique_id", "step", "ratio"])


def _calibration(cv: pd.DataFrame, chosen: dict, level: Sequence[int]) -> tuple[dict, pd.DataFrame]:
    """Interval calibration from the backtest: per level, each series' own factor and the panel's
    factor per step ahead (the ratios are scale-free, so every series of the panel pools into
    each step)."""
    series, steps = {}, []
    for lv in level:
        r = _interval_ratios(cv, chosen, lv)
        series[lv] = {uid: _conformal_factor(g["ratio"].to_numpy(), lv) for uid, g in r.groupby("unique_id")}
        for k, g in r.groupby("step", sort=True):
            steps.append({"level": lv, "step": int(k) + 1, "factor": _conformal_factor(g["ratio"].to_numpy(), lv),
                          "points": len(g)})
    return series, pd.DataFrame(steps, columns=["level", "step", "factor", "points"])


@renamed(h='horizon', freq='granularity')
def auto_forecast(series: pd.DataFrame, *, horizon: int, granularity: str = "D", models: Sequence[str] | None = None,
                  n_windows: int = 3, step: int | None = None, level: Sequence[int] = (80, 95), metric: str = "mase",
                  k: int = 3, season: int | None = None, holidays: pd.DataFrame | None = None,
                  country_holidays: str | None = None, agg: str = "sum", n_jobs: int | None = 1,
                  progress: bool = False, seed: int = 0, calibrate: bool = True, refit: bool = False) -> AutoForecast:
    """Backtest every candidate per series, add a median ensemble, choose the best, forecast.

    For each series, all ``models`` are backtested over ``n_windows`` rolling origins of
    ``horizon`` steps; the ``k`` best by ``metric`` form a median ensemble (point and bounds are
    medians of the members'), which is scored on the same windows. **The choice** (stated
    rule): the single candidate with the lowest backtest ``metric`` (scores equal within a
    relative ``1e-6``, :data:`SELECTION_RTOL`, are a tie won by the simpler model,
    :data:`~analytics_lib.forecast.models.COMPLEXITY`); then the ensemble instead, unless that
    candidate's backtest losses under ``metric`` (absolute errors for ``mase``) are lower than
    the ensemble's by more than one standard error of their paired differences. A single model's lead within the backtest's
    noise is no evidence, and combinations hold up better out of sample: on 169 real series
    (``benchmarks/bench_forecast_panel.py``) this rule gave a mean MASE 0.716 of seasonal
    naive's and beat it on 67 % of series, against 0.744 and 65 % for the lowest score
    alone. A decision moves only when a score moves across a standard error, never on
    floating-point noise (another CPU, another BLAS). The chosen forecast is refitted on the
    whole series for ``horizon`` steps. The seasonal naive baseline is always scored for
    comparison (add it to ``models`` to make it eligible).

    Parameters
    ----------
    series : DataFrame
        ``unique_id, ds, y``.
    horizon : int
        Steps to forecast (and the length of each backtest window).
    granularity : str
        The series' pandas frequency (``"D"``, ``"W-MON"``, ``"MS"``, ``"h"``...).
    models : list of str, optional
        Candidates by name (:data:`~analytics_lib.forecast.models.MODELS`); default the built-in
        ones and plug-in models registered with ``auto=True``
        (:func:`~analytics_lib.forecast.models.auto_candidates`).
    n_windows, step : int
        Backtest windows, and the steps between their cutoffs (default ``horizon``).
    level : list of int
        Interval levels in percent.
    metric : {"mase", "mae", "rmse", "smape", "pinball"}
        Selection score (lower is better); ``mase`` compares across series.
    k : int
        Members of the median ensemble (the ``k`` best candidates).
    season : int, optional
        Season length in steps (default: from ``granularity``: 7 for daily, 52 weekly, 12 monthly...).
    holidays, country_holidays
        Holidays for the models that use them (Prophet-style ``holiday, ds`` frame; or a country
        code for the ``holidays`` package).
    agg : str
        How repeated timestamps are combined (:func:`~analytics_lib.forecast.series.check_series`).
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
    seed : int
        Seed of the simulated paths.
    calibrate : bool
        Rescale the chosen model's interval half-widths so that, in the backtest, each
        level's interval covers that share of the errors (split-conformal calibration of
        |error| / half-width, each level on its own). Two factors are computed, and the larger
        applies at each step ahead: the series' own (``selection.interval_scale``, and
        ``interval_scale_<level>`` for the other levels) and the panel's for that step ahead,
        pooled over every series (``AutoForecast.calibration``: errors grow with the step,
        and one series' backtest holds too few points per step). Models' own intervals assume
        the model is right; backtest errors show how wrong it has been. Measured on 169 real
        series (``benchmarks/bench_forecast_panel.py``): see ``docs/forecasting.md``.

    Series whose history is never negative (counts, spend, tokens) get forecasts and bounds
    floored at zero, in the backtest as in the forecast.

    **Short series never fail the panel** (a new team or model always has a short history):
    each series is backtested as :func:`backtest_plan` allows: fewer windows, a shorter
    backtest horizon, no season, or, below one window, no backtest and the seasonal naive
    forecast (naive without a whole season; its interval from the spread of the changes,
    widened by the panel's calibration). Models that need more history than the backtest's
    training part (``min_length`` metadata: ARIMA 8) sit out for that series.
    ``selection.fallback`` says what each series gave up; a series with a single observation gets
    it repeated and no interval (NaN bounds).

    **Intermittent counts** (never negative, at least 30 % zeros:
    :data:`~analytics_lib.forecast.models.INTERMITTENT_ZERO_SHARE`) also try the intermittent-demand
    models ``sba`` and ``tsb`` (:data:`~analytics_lib.forecast.models.INTERMITTENT_MODELS`) with
    the default candidates; the backtest decides as for any other model.

    Notes
    -----
    With ``n_jobs`` > 1 in a script, call it under ``if __name__ == "__main__":`` (worker
    processes start from a forkserver, which re-imports the main script).

    Examples
    --------
    >>> from analytics_lib.forecast.series import series_from_events
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(20_000, days=120, seed=0).events
    >>> res = auto_forecast(series_from_events(ev, "events"), horizon=14, models=["seasonal_naive", "theta"], n_windows=2)
    >>> res.forecast.columns.tolist()[:4], len(res.forecast)
    (['unique_id', 'ds', 'model', 'forecast'], 14)
    """
    if metric not in ("mase", "mae", "rmse", "smape", "pinball"):
        raise WorkbenchError(f"metric={metric!r}: choose one of mase, mae, rmse, smape, pinball")
    horizon, level = _check_h(horizon), _check_level(level)
    if k < 1:
        raise WorkbenchError(f"k={k} must be at least 1 (models in the ensemble)")
    default_models = models is None
    models = auto_candidates(granularity) if models is None else models
    models = list(dict.fromkeys([models] if isinstance(models, str) else models))
    fc = Forecaster(models=list(dict.fromkeys(["seasonal_naive", *models])), granularity=granularity, season=season,
                    holidays=holidays, country_holidays=country_holidays, agg=agg, seed=seed)
    tasks = _tasks(fc, series, horizon, n_windows, _check_h(step or horizon), level, refit, shortest=MIN_OBSERVATIONS)
    extra = [m for m in INTERMITTENT_MODELS if m not in models] if default_models else []
    if extra:  # mostly-zero counts also try the intermittent-demand models
        tasks = [(t[0], t[1], t[2] + extra, *t[3:]) if _is_intermittent(t[1]["y"]) else t for t in tasks]
        models = models + [m for m in extra if any(m in t[2] for t in tasks)]
    results = map_tasks(_auto_one, tasks, n_jobs=n_jobs, progress=progress, desc="auto_forecast",
                        preload=WORKER_PRELOAD)
    full = pd.concat([t[1] for t in tasks], ignore_index=True)
    plans = {t[0]: r[3] for t, r in zip(tasks, results)}
    nonneg = full.groupby("unique_id")["y"].min().ge(0)  # counts, spend, tokens: never below zero
    cvs = [r[0] for r in results if len(r[0])]
    if not cvs:
        raise WorkbenchError(f"every series is too short to backtest {horizon} steps ahead (the longest has "
                             f"{int(full.groupby('unique_id')['y'].count().max())} observations): use a shorter "
                             "horizon, or Forecaster for forecasts without a backtest")
    cv = _floor_at_zero(_order_cv(pd.concat(cvs, ignore_index=True)), nonneg)
    candidates = _floor_at_zero(pd.concat([r[1] for r in results], ignore_index=True), nonneg)
    comps = [c for r in results for c in r[2]]
    season_ = fc._context().season
    metric_level = level[0]
    scores = forecast_metrics(cv, train=full, season=season_, level=metric_level)
    eligible = scores[scores["model"].isin(models) & scores[metric].notna()]
    ranked = eligible.sort_values(["unique_id", metric, "model"], na_position="last")
    members = {uid: sorted(g["model"].head(min(k, len(g))).tolist()) for uid, g in ranked.groupby("unique_id")}
    if len(models) > 1 and k > 1:
        cv = _ensemble_columns(cv, members, level)
        candidates = _ensemble_columns(candidates, members, level)
        scores = forecast_metrics(cv, train=full, season=season_, level=metric_level)
        pool = scores[scores["model"].isin(models + ["ensemble"])]
    else:
        pool = eligible
    best = _choose(pool, cv, metric, members)
    unscored = sorted(set(plans) - set(best["unique_id"]))  # not backtested (or no model scored): naive
    if unscored:
        best = pd.concat([best, pd.DataFrame({"unique_id": unscored, "model": "seasonal_naive"})], ignore_index=True)
    base = scores[scores["model"] == "seasonal_naive"].set_index("unique_id")["mase"]
    selection = best.sort_values("unique_id", kind="stable").set_index("unique_id").assign(
        members=lambda d: [", ".join(members[u]) if m == "ensemble" else m for u, m in zip(d.index, d["model"])],
        baseline_mase=base, improvement_vs_baseline=lambda d: 1 - d["mase"] / d["baseline_mase"]).reset_index()
    selection["backtest_windows"] = selection["unique_id"].map(lambda u: plans[u][0]).astype("int64")
    selection["fallback"] = selection["unique_id"].map(lambda u: plans[u][1])
    chosen = dict(zip(selection["unique_id"], selection["model"]))
    if calibrate:
        scales, calibration = _calibration(cv, chosen, level)
    else:
        scales, calibration = {}, pd.DataFrame(columns=["level", "step", "factor", "points"])
    scales = {lv: {u: scales.get(lv, {}).get(u, 1.0) for u in chosen} for lv in level}
    selection["interval_scale"] = selection["unique_id"].map(scales[metric_level])
    for lv in level[1:]:
        selection[f"interval_scale_{lv}"] = selection["unique_id"].map(scales[lv])
    step_factor = {}  # per level, the factor of steps 1..H (a step without backtest points takes the one before)
    for lv in level:
        c = calibration[calibration["level"] == lv].set_index("step")["factor"]
        step_factor[lv] = c.reindex(range(1, int(c.index.max()) + 1)).ffill().fillna(1.0).to_numpy() if len(c) \
            else np.array([])
    parts = []
    for uid, g in candidates.groupby("unique_id", sort=True):  # pick the chosen model's columns per series
        m = chosen[uid]
        f = g[m].to_numpy()
        cols = {"unique_id": g["unique_id"], "ds": g["ds"], "model": m, "forecast": f}
        lo_prev = hi_prev = f
        for lv in sorted(level):  # a wider level's band always holds the narrower one's
            c = scales[lv][uid]
            if len(step_factor[lv]):  # steps beyond the backtest's horizon take its last step's factor
                c = np.maximum(c, step_factor[lv][np.minimum(np.arange(len(f)), len(step_factor[lv]) - 1)])
            lo_prev = cols[f"lo-{lv}"] = np.minimum(lo_prev, f - c * (f - g[f"{m}-lo-{lv}"].to_numpy()))
            hi_prev = cols[f"hi-{lv}"] = np.maximum(hi_prev, f + c * (g[f"{m}-hi-{lv}"].to_numpy() - f))
        parts.append(pd.DataFrame(cols)[["unique_id", "ds", "model", "forecast"]
                                        + [f"{s}-{lv}" for lv in level for s in ("lo", "hi")]])
    forecast = _floor_at_zero(pd.concat(parts, ignore_index=True), nonneg).merge(
        selection[["unique_id", "mase", "smape", "coverage"]].rename(
            columns={"mase": "backtest_mase", "smape": "backtest_smape", "coverage": "backtest_coverage"}),
        on="unique_id")
    components = pd.concat(comps, ignore_index=True) if comps else pd.DataFrame()
    return AutoForecast(forecast, selection, scores, cv, candidates, components, metric, tuple(level), calibration)


def _floor_at_zero(frame: pd.DataFrame, nonneg: pd.Series) -> pd.DataFrame:
    """Forecast columns (points and bounds) of series whose history is never negative, floored at 0."""
    rows = frame["unique_id"].map(nonneg).fillna(False).to_numpy(bool)
    if not rows.any():
        return frame
    cols = [c for c in frame.columns if c != "y" and pd.api.types.is_float_dtype(frame[c])]
    out = frame.copy()
    out.loc[rows, cols] = out.loc[rows, cols].clip(lower=0)
    return out
