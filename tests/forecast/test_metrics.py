"""Backtest -> metrics: the scores of a backtest on Air Passengers match a hand computation."""
from __future__ import annotations

import numpy as np
import pytest
from forecast_helpers import _air

from analytics_lib.forecast.estimator import Forecaster
from analytics_lib.forecast.metrics import forecast_metrics
from analytics_lib.forecast.selection import backtest


def test_backtest_on_air_passengers_matches_a_hand_computation():
    air = _air()
    cv = backtest(Forecaster(models=["seasonal_naive", "ets"], granularity="MS"), air, horizon=12, n_windows=2)
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
