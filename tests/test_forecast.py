"""Forecasting slice: series checks, seasonal naive and ETS with intervals, backtest -> metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REAL

from analytics_lib import WorkbenchError, metric_table
from analytics_lib.forecast import Forecaster, backtest, check_series, forecast_metrics, series_from_metric

PROPHET = REAL / "prophet"


def _air():
    df = pd.read_csv(PROPHET / "example_air_passengers.csv")  # bare CR line endings
    return df.assign(unique_id="air", ds=pd.to_datetime(df["ds"]))[["unique_id", "ds", "y"]]


def test_check_series_sums_duplicates_and_fills_gaps():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-04"]),
                      "y": [1.0, 2.0, 5.0]})
    out = check_series(s, freq="D")
    assert out["y"].tolist()[0] == 3.0 and out["y"].isna().sum() == 2 and len(out) == 4


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"ds": [], "y": []}), "missing columns: unique_id"),
    (pd.DataFrame({"unique_id": [], "ds": [], "y": []}), "empty"),
])
def test_check_series_errors(frame, message):
    with pytest.raises(WorkbenchError, match=message):
        check_series(frame, freq="D")


def test_too_short_history_is_a_clear_error():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=5), "y": 1.0})
    with pytest.raises(WorkbenchError, match="needs at least 8|need at least 8"):
        Forecaster(models=["seasonal_naive"], freq="D").fit(s)


def test_seasonal_naive_repeats_the_last_season_with_widening_intervals():
    week = np.array([5.0, 6, 7, 8, 9, 2, 1])
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=70),
                      "y": np.tile(week, 10) + np.random.default_rng(0).normal(0, 0.1, 70)})
    p = Forecaster(models=["seasonal_naive"], freq="D").fit(s).predict(h=14, level=[80, 95])
    np.testing.assert_allclose(p["seasonal_naive"].to_numpy(), np.tile(s["y"].to_numpy()[-7:], 2))
    width80 = (p["seasonal_naive-hi-80"] - p["seasonal_naive-lo-80"]).to_numpy()
    width95 = (p["seasonal_naive-hi-95"] - p["seasonal_naive-lo-95"]).to_numpy()
    assert (width95 > width80).all() and width80[7] > width80[0]  # second week is less certain
    assert p["ds"].iloc[0] == s["ds"].iloc[-1] + pd.Timedelta(days=1)


def test_bad_parameters():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=30), "y": 1.0})
    with pytest.raises(WorkbenchError, match="unknown models"):
        Forecaster(models=["magic"], freq="D").fit(s)
    fc = Forecaster(models=["seasonal_naive"], freq="D").fit(s)
    with pytest.raises(WorkbenchError, match="positive"):
        fc.predict(h=0)
    with pytest.raises(WorkbenchError, match="between 0 and 100"):
        fc.predict(h=3, level=[150])


def test_backtest_on_air_passengers_matches_a_hand_computation():
    air = _air()
    cv = backtest(Forecaster(models=["seasonal_naive", "ets"], freq="MS"), air, h=12, n_windows=2)
    assert len(cv) == 24 and cv["cutoff"].nunique() == 2
    scores = forecast_metrics(cv, train=air, season=12).set_index("model")
    # seasonal naive for the last window = the same months one year earlier
    y = air["y"].to_numpy()
    last = np.abs(y[-12:] - y[-24:-12])
    prev = np.abs(y[-24:-12] - y[-36:-24])
    mae = np.mean(np.concatenate([prev, last]))
    scale = np.mean(np.abs(y[12:] - y[:-12]))
    assert scores.loc["seasonal_naive", "mae"] == pytest.approx(mae)
    assert scores.loc["seasonal_naive", "mase"] == pytest.approx(mae / scale)
    assert scores["coverage"].between(0, 1).all() and (scores["pinball"] >= 0).all() and (scores["width"] > 0).all()
    # a multiplicative-looking, trending series: ETS with damped trend beats repeating last year
    assert scores.loc["ets", "mase"] < scores.loc["seasonal_naive", "mase"]


def test_series_from_sample_metric(sample_small):
    m = metric_table(sample_small.events, "cost_usd", by="model", granularity="D")
    s = series_from_metric(m, by="model")
    assert set(s["unique_id"]) == set(m["model"]) and s["ds"].dt.tz is None
    p = Forecaster(freq="D").fit(s).predict(h=7)
    assert len(p) == 7 * s["unique_id"].nunique() and p[["seasonal_naive", "ets"]].notna().all().all()
