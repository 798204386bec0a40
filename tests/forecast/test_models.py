"""The forecasting models through the ``Forecaster``: seasonal naive with widening intervals, nested
intervals for every model, theta and ARIMA against statsmodels, gaps and zeros, Prophet's holidays
and components, and multiplicative seasonality only where it earns its place."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from forecast_helpers import PROPHET, _air, _seasonal

from analytics_lib import WorkbenchError
from analytics_lib.forecast.estimator import Forecaster
from analytics_lib.forecast.models import INTERMITTENT_MODELS, MODELS, ModelContext


def test_seasonal_naive_repeats_the_last_season_with_widening_intervals():
    week = np.array([5.0, 6, 7, 8, 9, 2, 1])
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=70),
                      "y": np.tile(week, 10) + np.random.default_rng(0).normal(0, 0.1, 70)})
    p = Forecaster(models=["seasonal_naive"], granularity="D").fit(s).predict(horizon=14, level=[80, 95])
    np.testing.assert_allclose(p["seasonal_naive"].to_numpy(), np.tile(s["y"].to_numpy()[-7:], 2))
    width80 = (p["seasonal_naive-hi-80"] - p["seasonal_naive-lo-80"]).to_numpy()
    width95 = (p["seasonal_naive-hi-95"] - p["seasonal_naive-lo-95"]).to_numpy()
    assert (width95 > width80).all() and width80[7] > width80[0]  # second week is less certain
    assert p["ds"].iloc[0] == s["ds"].iloc[-1] + pd.Timedelta(days=1)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_forecasts_with_nested_intervals(model):
    s = _seasonal()
    p = Forecaster(models=[model], granularity="D").fit(s).predict(horizon=14, level=[50, 80, 95])
    f = p[model].to_numpy()
    assert np.isfinite(f).all() and len(p) == 14
    for a, b in ((50, 80), (80, 95)):
        assert (p[f"{model}-lo-{b}"] <= p[f"{model}-lo-{a}"] + 1e-9).all()
        assert (p[f"{model}-hi-{a}"] <= p[f"{model}-hi-{b}"] + 1e-9).all()
    assert (p[f"{model}-lo-50"] <= f + 1e-6).all() and (f <= p[f"{model}-hi-50"] + 1e-6).all()
    # the truth (trend + weekly wave) is close: every model but the seasonal profiles (naive, median)
    # follows the trend (the intermittent-demand models forecast a flat rate by design: they are for
    # mostly-zero counts)
    truth = 200 + 0.3 * np.arange(400, 414) + 25 * np.sin(2 * np.pi * np.arange(400, 414) / 7)
    if model not in INTERMITTENT_MODELS:
        assert np.mean(np.abs(f - truth)) < (12 if model in ("seasonal_naive", "seasonal_median") else 8)


def test_theta_equals_statsmodels_theta_model():
    from statsmodels.tsa.forecasting.theta import ThetaModel

    air = _air()
    p = Forecaster(models=["theta"], granularity="MS").fit(air).predict(horizon=12, level=[80])
    ref = ThetaModel(air["y"].to_numpy(), period=12).fit().forecast(12)
    np.testing.assert_allclose(p["theta"].to_numpy(), np.asarray(ref), rtol=1e-6)


def test_arima_integration_equals_statsmodels_without_simple_differencing():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from analytics_lib.forecast.models import _integrate

    y = np.log(_air()["y"].to_numpy())
    simple = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12), simple_differencing=True).fit(disp=False)
    full = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    mean, sd = _integrate(y, np.asarray(simple.get_forecast(24).predicted_mean), simple, 1, 1, 12)
    ref = full.get_forecast(24)
    np.testing.assert_allclose(mean, np.asarray(ref.predicted_mean), rtol=1e-3)
    np.testing.assert_allclose(sd, np.asarray(ref.se_mean), rtol=2e-2)


def test_models_fill_gaps_and_take_zeros():
    s = _seasonal(200)
    s.loc[[50, 51, 120], "y"] = np.nan
    s.loc[[10, 11], "y"] = 0.0
    s = s.dropna()  # missing days: check_series puts them back as gaps
    p = Forecaster(models=["ets", "arima", "theta", "lag_regressor"], granularity="D").fit(s).predict(horizon=7, level=[80])
    assert np.isfinite(p.drop(columns=["unique_id", "ds"]).to_numpy()).all()


def test_prophet_uses_holidays_and_reports_components():
    s = _seasonal(300)
    special = pd.DataFrame({"holiday": "incident", "ds": s["ds"].iloc[[100, 200, 299]].to_numpy()})
    s.loc[[100, 200, 299], "y"] += 300  # big, repeated, known event days
    fc = Forecaster(models=["prophet"], granularity="D", holidays=special).fit(s)
    fc.predict(horizon=7, level=[80])
    comp = fc.components_.set_index("ds")
    assert {"trend", "seasonal", "holidays"} <= set(comp.columns)
    assert comp.loc[s["ds"].iloc[200], "holidays"] > 200  # the event's effect is learned as a holiday


def test_multiplicative_seasonality_must_earn_its_place():
    """On the pedestrians history (a COVID collapse) the multiplicative ETS fit stalls near its start
    values with an AICc far above the additive one; the final fit keeps the additive model even when
    the first backtest window hinted at multiplicative."""
    from analytics_lib.forecast.models import MODELS
    from analytics_lib.forecast.estimator import Forecaster

    df = pd.read_csv(PROPHET / "example_pedestrians_covid.csv")
    y, ds = df["y"].astype(float).to_numpy()[:-28], pd.DatetimeIndex(pd.to_datetime(df["ds"]))[:-28]
    future = pd.date_range(ds[-1], periods=29, freq="D")[1:]
    ctx = Forecaster(models=["ets"], granularity="D")._context()
    free = MODELS["ets"](y, ds, future, ctx, None)
    hinted = MODELS["ets"](y, ds, future, ctx, {"seasonal": "mul", "params": {}, "structure_only": True})
    np.testing.assert_allclose(hinted.mean, free.mean, rtol=1e-6)  # the hint did not force multiplicative
    assert np.isfinite(hinted.mean).all() and (hinted.mean > 0).all()  # the stalled fit forecast negative counts


def _intermittent_counts(n: int = 400, p: float = 0.2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.random(n) < p) * rng.poisson(4, n)).astype("float64")


def test_intermittent_models_forecast_rate_times_size_with_non_negative_bounds():
    from analytics_lib.forecast.models import ModelContext

    y = _intermittent_counts()
    ds = pd.date_range("2024-01-01", periods=len(y))
    future = pd.date_range(ds[-1], periods=15)[1:]
    ctx = ModelContext("D", 7)
    for name in ("sba", "tsb"):
        fit = MODELS.get(name)(y, ds, future, ctx, {})
        assert np.allclose(fit.mean, fit.mean[0]) and 0.3 * y.mean() < fit.mean[0] < 2 * y.mean()
        assert fit.paths.shape == (ctx.n_paths, 14) and fit.paths.min() == 0
        assert abs(fit.paths.mean() - fit.mean[0]) < 0.25 * fit.mean[0]     # the paths centre on the forecast
        again = MODELS.get(name)(y, ds, future, ctx, {})
        np.testing.assert_array_equal(fit.paths, again.paths)                # seeded
    dying = y.copy()
    dying[250:] = 0                                                           # the feature fell out of use
    tsb = MODELS.get("tsb")(dying, ds, future, ctx, {}).mean[0]
    sba = MODELS.get("sba")(dying, ds, future, ctx, {}).mean[0]
    assert tsb < 0.05 < 0.3 < sba                                             # TSB follows it, Croston/SBA cannot
    assert (MODELS.get("tsb")(np.zeros(30), ds[:30], future, ctx, {}).mean == 0).all()
    with pytest.raises(WorkbenchError, match="tsb model forecasts counts"):
        MODELS.get("tsb")(y - 1, ds, future, ctx, {})


def test_ets_parameters_reused_after_a_zero_refit_instead_of_failing():
    """Backtests without refits reuse the first cutoff's ETS structure; when later data holds a zero,
    multiplicative seasonality is no longer possible and the model is fitted afresh (found on the
    real-series panel: a count that hit zero after the first cutoff failed the whole panel)."""
    import warnings

    from analytics_lib.forecast.models import ModelContext

    t = np.arange(200)
    y = (10 + 0.5 * t) * (1 + 0.6 * np.sin(2 * np.pi * t / 7)) * np.exp(np.random.default_rng(0).normal(0, 0.03, 200))
    ds = pd.date_range("2024-01-01", periods=200)
    ctx, memo = ModelContext("D", 7), {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MODELS.get("ets")(y[:150], ds[:150], pd.date_range(ds[149], periods=8)[1:], ctx, memo)
        assert memo["seasonal"] == "mul"
        y[160] = 0.0
        fit = MODELS.get("ets")(y, ds, pd.date_range(ds[-1], periods=8)[1:], ctx, memo)
    assert np.isfinite(fit.mean).all() and np.isfinite(fit.sd).all()


@pytest.mark.parametrize("model", ["ets", "theta", "arima"])
def test_hourly_models_see_the_week_as_well_as_the_day(model):
    """24 x 7: an hourly series whose daily cycle is halved at weekends. The local models' own
    season is the day; the weekly pattern (Fourier terms, LONG_SEASONS) is removed before they are
    fitted and added back, so the weekend is forecast low."""
    from analytics_lib.forecast.models import long_season

    ds = pd.date_range("2024-01-01", periods=24 * 7 * 6, freq="h")  # six weeks from a Monday
    t = np.arange(len(ds) + 48)
    day = 50 + 40 * np.sin(2 * np.pi * (t % 24) / 24)
    weekend = pd.date_range(ds[0], periods=len(t), freq="h").day_of_week.to_numpy() >= 5
    y = np.where(weekend, 0.5, 1.0) * day + np.random.default_rng(1).normal(0, 2, len(t))
    s = pd.DataFrame({"unique_id": "h", "ds": ds, "y": y[:len(ds)]})
    assert long_season("h", ds[-1] - ds[0]) == "weekly"
    # forecast Saturday and Sunday (the history ends on a Sunday night: cut it on Friday night)
    cut = s.iloc[:-48]
    p = Forecaster(models=[model], granularity="h").fit(cut).predict(horizon=48, level=[80])
    error = np.mean(np.abs(p[model].to_numpy() - y[len(ds) - 48:len(ds)]))
    weekday_level = np.mean(np.abs(y[len(ds) - 48:len(ds)] - y[len(ds) - 96 - 48:len(ds) - 96]))
    assert error < 0.7 * weekday_level, (error, weekday_level)  # without the weekly terms: 0.93-1.3 times it


def test_spikes_do_not_shape_the_weekly_pattern():
    """Operational series have outages and bursts: the weekly pattern the local models are given is
    a robust (Huber) fit, so a few spikes of 20 times the level leave it where the clean series
    puts it (found on NAB's Twitter volumes: by ordinary least squares, bursts shifted every
    forecast day)."""
    from analytics_lib.forecast.models import _long_pattern

    ds = pd.date_range("2024-01-01", periods=24 * 7 * 6, freq="h")
    future = pd.date_range(ds[-1], periods=49, freq="h")[1:]
    t = np.arange(len(ds))
    day = 50 + 40 * np.sin(2 * np.pi * (t % 24) / 24)
    weekend = ds.day_of_week.to_numpy() >= 5
    clean = np.where(weekend, 0.5, 1.0) * day + np.random.default_rng(1).normal(0, 2, len(t))
    spiky = clean.copy()
    spiky[[200, 201, 202, 203, 500, 501, 502, 503, 800, 801]] += 1000.0  # bursts in three different weeks
    shift = np.abs(_long_pattern(spiky, ds, future, "weekly")[1] - _long_pattern(clean, ds, future, "weekly")[1])
    amplitude = np.ptp(_long_pattern(clean, ds, future, "weekly")[0])
    assert shift.max() < 0.2 * amplitude, (shift.max(), amplitude)  # ordinary least squares: 1.6 times it


def _hourly_profile(days: int, seed: int = 0) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    ds = pd.date_range("2024-03-04", periods=24 * days, freq="h")
    profile = 100 + 60 * np.sin(2 * np.pi * np.arange(24) / 24)
    y = np.tile(profile, days) + np.random.default_rng(seed).normal(0, 3, 24 * days)
    return ds, y, profile


def test_seasonal_median_drops_a_burst_that_seasonal_naive_repeats():
    """Each hour of the next two days is the median of that hour over the last seven days: a burst
    yesterday (an incident, a batch job) is not forecast to recur, and the noise averages out."""
    ds, y, profile = _hourly_profile(14)
    y[-14:-10] += 500.0  # yesterday, 10:00-13:00
    future = pd.date_range(ds[-1], periods=49, freq="h")[1:]
    ctx = ModelContext("h", 24)
    median = MODELS.get("seasonal_median")(y, ds, future, ctx)
    naive = MODELS.get("seasonal_naive")(y, ds, future, ctx)
    truth = np.tile(profile, 2)
    assert np.abs(median.mean - truth).max() < 10  # the median of seven noisy days: within ~3 sd
    assert np.abs(naive.mean - truth).max() > 400  # the burst, repeated
    assert np.mean(np.abs(median.mean - truth)) < 0.6 * np.mean(np.abs(naive.mean - truth[:48]))
    # its 80 % interval (empirical error quantiles: the burst widens the tails only) covers the next days'
    # values about as often as it says
    lo, hi = np.quantile(median.paths, [0.1, 0.9], axis=0)
    later = np.tile(profile, 2) + np.random.default_rng(1).normal(0, 3, 48)
    hit = np.mean((later >= lo) & (later <= hi))
    assert 0.65 <= hit <= 0.95, hit


def test_seasonal_median_follows_a_level_shift_and_short_histories():
    """After a level shift (a migration, a new customer) only the seasons since the shift count: the
    median of seven days would forecast the old level for days."""
    ds, y, profile = _hourly_profile(14)
    y[-36:] += 80.0  # the level rose 36 hours ago
    future = pd.date_range(ds[-1], periods=49, freq="h")[1:]
    fit = MODELS.get("seasonal_median")(y, ds, future, ModelContext("h", 24))
    assert np.abs(fit.mean - (np.tile(profile, 2) + 80)).max() < 15  # the last day's level, not the week's
    ds, y, profile = _hourly_profile(14, seed=2)
    y *= np.where(ds.day_of_week >= 5, 0.8, 1.0)  # weekends 20 % lower: a pattern, not a shift (_SHIFT_NOISE)
    fit = MODELS.get("seasonal_median")(y, ds, future, ModelContext("h", 24))  # history ends on a Sunday
    assert np.abs(fit.mean - np.tile(profile, 2)).mean() < 10  # Monday and Tuesday at the weekday level
    # fewer than two seasons: the median of the last seven values
    short = np.array([5.0, 7, 6, 100, 6, 5, 7, 6, 5])
    fit = MODELS.get("seasonal_median")(short, ds[:9], future[:3], ModelContext("h", 24))
    np.testing.assert_allclose(fit.mean, np.median(short[-7:]))
