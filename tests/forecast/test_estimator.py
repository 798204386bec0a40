"""The ``Forecaster``: too short a history and bad parameters are clear errors."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.forecast.estimator import Forecaster


def test_too_short_history_is_a_clear_error():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=5), "y": 1.0})
    with pytest.raises(WorkbenchError, match="needs at least 8|need at least 8"):
        Forecaster(models=["seasonal_naive"], granularity="D").fit(s)


def test_bad_parameters():
    s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=30), "y": 1.0})
    with pytest.raises(WorkbenchError, match="unknown models"):
        Forecaster(models=["magic"], granularity="D").fit(s)
    fc = Forecaster(models=["seasonal_naive"], granularity="D").fit(s)
    with pytest.raises(WorkbenchError, match="positive"):
        fc.predict(horizon=0)
    with pytest.raises(WorkbenchError, match="between 0 and 100"):
        fc.predict(horizon=3, level=[150])
