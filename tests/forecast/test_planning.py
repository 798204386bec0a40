"""Capacity and cost: the capacity table by hand, the cost forecast's history, and the planted growth
and weekly seasonality recovered by the trend summary and carried forward by the forecast."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.forecast.planning import capacity_table, cost_forecast, trend_summary
from analytics_lib.forecast.selection import auto_forecast
from analytics_lib.forecast.series import series_from_events


def test_capacity_table_by_hand():
    f = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": list(pd.date_range("2025-01-01", periods=3)) * 2,
                      "forecast": [8.0, 9.0, 11.0, 1.0, 1.0, 1.0], "lo-80": [7.0, 7.5, 9.0, 0.5, 0.5, 0.5],
                      "hi-80": [9.0, 10.5, 13.0, 1.5, 1.5, 1.5]})
    t = capacity_table(f, {"a": 10.0, "b": 5.0}).set_index("unique_id")
    assert t.loc["a", "first_crossing"] == pd.Timestamp("2025-01-03")
    assert t.loc["a", "first_crossing_upper"] == pd.Timestamp("2025-01-02")
    from scipy import stats

    sd = (13.0 - 9.0) / (2 * stats.norm.ppf(0.9))  # last step: the most likely to be above 10
    assert t.loc["a", "probability"] == pytest.approx(stats.norm.sf((10.0 - 11.0) / sd), rel=1e-12)
    assert pd.isna(t.loc["b", "first_crossing"]) and t.loc["b", "probability"] < 1e-6
    # a lower capacity is crossed earlier and more likely
    lower = capacity_table(f, 8.5).set_index("unique_id")
    assert lower.loc["a", "first_crossing"] < t.loc["a", "first_crossing"]
    assert lower.loc["a", "probability"] >= t.loc["a", "probability"]
    with pytest.raises(WorkbenchError, match="one for every unique_id"):
        capacity_table(f, {"a": 10.0})
    with pytest.raises(WorkbenchError, match="level=95 is not in the forecast"):
        capacity_table(f, 10.0, level=95)


def test_cost_forecast_history_is_generation_spend_by_model(sample_small):
    ev = sample_small.events
    res = cost_forecast(ev, horizon=14, models=["ets", "theta"], n_windows=2)
    models = set(ev.loc[ev["event_type"] == "generation", "model"].astype(str))
    assert set(res.forecast["unique_id"]) == models | {"total"}
    hist = res.cv.groupby("unique_id")["y"].sum()  # backtest actuals: daily generation cost
    day = ev["ts"].dt.floor("D").dt.tz_localize(None)
    gen = ev[(ev["event_type"] == "generation") & day.isin(res.cv["ds"].unique())]
    assert hist["total"] == pytest.approx(gen["cost_usd"].sum(), rel=1e-9)
    assert (res.forecast["forecast"].groupby(res.forecast["unique_id"]).mean() > 0).all()


def test_planted_growth_and_weekly_seasonality_are_recovered():
    from analytics_lib.data.synthetic.events import synthetic_events

    sample = synthetic_events(200_000, days=182, end="2025-06-30", seed=0)
    truth = sample.truth
    series = series_from_events(sample.events, "sessions")
    ts = trend_summary(series, holidays=truth.holiday_dates).iloc[0]
    assert ts["growth_lo"] <= truth.weekly_growth_rate <= ts["growth_hi"]
    assert ts["weekly_growth"] == pytest.approx(truth.weekly_growth_rate, abs=0.003)
    w = np.array(truth.weekday_factors)
    np.testing.assert_allclose(ts[["mon", "tue", "wed", "thu", "fri", "sat", "sun"]].astype(float), w / w.mean(),
                               atol=0.06)
    # and the forecast carries both forward: four weeks ahead grow by about (1 + g)^4 on the
    # same weekdays, and weekends stay at their planted share
    hol = pd.DataFrame({"holiday": "holiday", "ds": pd.to_datetime(list(truth.holiday_dates)).tz_localize(None)})
    res = auto_forecast(series, horizon=28, holidays=hol, level=[80])
    f = res.forecast.set_index("ds")["forecast"]
    last = series.set_index("ds")["y"].iloc[-28:]
    assert f.sum() / last.sum() == pytest.approx((1 + truth.weekly_growth_rate) ** 4, abs=0.06)
    weekend = f[f.index.day_of_week >= 5].mean() / f[f.index.day_of_week < 5].mean()
    assert weekend == pytest.approx(w[5:].mean() / w[:5].mean(), abs=0.05)
