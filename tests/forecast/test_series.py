"""Series checks: duplicates summed, gaps filled, irregular timestamps floored and combined by the
stated rule, bad resampling options, and series from the sample data's metric table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError, metric_table
from analytics_lib.forecast.estimator import Forecaster
from analytics_lib.forecast.series import check_series, series_from_metric


def test_check_series_sums_duplicates_and_fills_gaps():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-04"]),
                      "y": [1.0, 2.0, 5.0]})
    out = check_series(s, granularity="D")
    assert out["y"].tolist()[0] == 3.0 and out["y"].isna().sum() == 2 and len(out) == 4


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"ds": [], "y": []}), "missing columns: unique_id"),
    (pd.DataFrame({"unique_id": [], "ds": [], "y": []}), "empty"),
])
def test_check_series_errors(frame, message):
    with pytest.raises(WorkbenchError, match=message):
        check_series(frame, granularity="D")


def test_series_from_sample_metric(sample_small):
    m = metric_table(sample_small.events, "cost_usd", by="model", granularity="D")
    s = series_from_metric(m, by="model")
    assert set(s["unique_id"]) == set(m["model"]) and s["ds"].dt.tz is None
    p = Forecaster(granularity="D").fit(s).predict(horizon=7)
    assert len(p) == 7 * s["unique_id"].nunique() and p[["seasonal_naive", "ets"]].notna().all().all()


def test_irregular_timestamps_are_floored_and_combined_by_the_stated_rule():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2024-01-01 10:03", "2024-01-01 17:40",
                                                               "2024-01-02 08:00", "2024-01-04 23:59"], utc=True),
                      "y": [2.0, 4.0, 5.0, 0.0]})
    mean = check_series(s, granularity="D", agg="mean")
    assert mean["ds"].tolist() == list(pd.date_range("2024-01-01", periods=4))  # tz dropped (UTC), gap kept
    assert mean["y"].tolist()[:2] == [3.0, 5.0] and np.isnan(mean["y"].iloc[2]) and mean["y"].iloc[3] == 0.0
    assert check_series(s, granularity="D")["y"].iloc[0] == 6.0  # default rule: sum
    weekly = check_series(s, granularity="W-MON")
    assert weekly["ds"].tolist() == [pd.Timestamp("2024-01-01")] and weekly["y"].iloc[0] == 11.0


@pytest.mark.parametrize("kwargs, message", [({"granularity": "fortnightly"}, "is not a granularity .* or a pandas frequency"),
                                             ({"granularity": "D", "agg": "avg"}, "not a resampling rule")])
def test_bad_resampling_options(kwargs, message):
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=9), "y": 1.0})
    with pytest.raises(WorkbenchError, match=message):
        check_series(s, **kwargs)
