"""``Forecaster``: the models as a scikit-learn-style estimator over many series.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from analytics_lib.core.compat import renamed
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import season_length, series_freq
from analytics_lib.forecast.models import MODELS, ModelContext, ModelFit, _check_level, _intervals, min_length
from analytics_lib.forecast.series import check_series


class Forecaster(BaseEstimator):
    """Fit several models per series and forecast with prediction intervals.

    Parameters
    ----------
    models : sequence of str
        Names from ``MODELS``: ``seasonal_naive``, ``ets``, ``arima``, ``theta``,
        ``prophet``, ``lag_regressor``.
    granularity : str
        The series' time step: ``D``, ``W`` (weeks from Monday), ``M`` (month starts) or any pandas
        frequency (``"W-SUN"``, ``"h"``, ``"5min"``...).
    season : int, optional
        Season length; default from ``granularity`` (7 daily, 52 weekly, 12 monthly, a day of steps
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
    >>> fc = Forecaster(models=["seasonal_naive"], granularity="D").fit(s)
    >>> fc.predict(horizon=3, level=[80]).columns.tolist()
    ['unique_id', 'ds', 'seasonal_naive', 'seasonal_naive-lo-80', 'seasonal_naive-hi-80']
    """

    @renamed(freq='granularity')
    def __init__(self, models: Sequence[str] = ("seasonal_naive", "ets"), granularity: str = "D", season: int | None = None,
                 holidays: pd.DataFrame | None = None, country_holidays: str | None = None, agg: str = "sum",
                 seed: int = 0):
        self.models = models
        self.granularity = granularity
        self.season = season
        self.holidays = holidays
        self.country_holidays = country_holidays
        self.agg = agg
        self.seed = seed

    def _context(self) -> ModelContext:
        freq = series_freq(self.granularity)
        return ModelContext(freq, season_length(freq, self.season), self.holidays, self.country_holidays,
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
        self.series_ = check_series(series, granularity=self.granularity, min_length=max(3, self.season_ + 1), agg=self.agg)
        return self

    @renamed(h='horizon')
    def predict(self, horizon: int, level: Sequence[int] = (80, 95)) -> pd.DataFrame:
        """Forecast ``horizon`` steps after each series' last observation.

        Returns ``unique_id, ds`` and per model ``<model>`` plus ``<model>-lo-<level>`` and
        ``<model>-hi-<level>``; the fitted in-sample components (where a model has them)
        are kept in ``components_``: ``unique_id, ds, model, trend, seasonal[, holidays]``.
        """
        horizon = _check_h(horizon)
        level = _check_level(level)
        parts, comps = [], []
        for uid, g in self.series_.groupby("unique_id", sort=True):  # one fit per series and model
            frame, comp = _predict_one(uid, g, self.models_, horizon, level, self.context_)
            parts.append(frame)
            comps.extend(comp)
        self.components_ = pd.concat(comps, ignore_index=True) if comps else pd.DataFrame()
        return pd.concat(parts, ignore_index=True)


def _check_h(h: int) -> int:
    if not isinstance(h, (int, np.integer)) or h < 1:
        raise WorkbenchError(f"h={h!r} must be a positive whole number of steps")
    return int(h)


def _predict_one(uid, g: pd.DataFrame, models: Sequence[str], h: int, level: Sequence[int], ctx: ModelContext,
                 memo: dict | None = None):
    ds = pd.DatetimeIndex(g["ds"])
    y = g["y"].to_numpy(dtype="float64")
    future = pd.date_range(ds[-1], periods=h + 1, freq=ctx.freq)[1:]
    out = {"unique_id": np.repeat(uid, h), "ds": future}
    comps = []
    n_obs = int(np.isfinite(y).sum())
    for name in models:
        if n_obs < min_length(name):  # too short for this model: no forecast from it (NaN), never a made-up one
            out.update({c: np.full(h, np.nan) for c in _intervals(ModelFit(np.zeros(h), sd=np.zeros(h)), name, level)})
            continue
        fit = MODELS.get(name)(y, ds, future, ctx, None if memo is None else memo.setdefault(name, {}))
        out.update(_intervals(fit, name, level))
        if fit.components is not None:
            comps.append(fit.components.rename_axis("ds").reset_index().assign(unique_id=uid, model=name))
    return pd.DataFrame(out), comps
