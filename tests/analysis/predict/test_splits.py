"""Time-based validation: every label window ends before the next role's cutoff."""
from __future__ import annotations

import pandas as pd
import pytest
from predict_helpers import _ts

from analytics_lib import WorkbenchError
from analytics_lib.analysis.predict.splits import time_split


def test_time_split_keeps_every_label_window_before_the_next_role(world):
    split = time_split(world.events, churn_window_days=28)
    w = pd.Timedelta(days=28)
    assert split.test == _ts("2025-06-02") and split.validation == _ts("2025-05-05")
    assert all(c + w <= split.validation for c in split.train) and split.validation + w <= split.test
    assert list(split.train) == sorted(split.train) and len(split.train) == 8
    assert split.table()["role"].tolist()[-2:] == ["validation", "test"]
    with pytest.raises(WorkbenchError, match="needs at least 112 days"):
        time_split(world.events[world.events["ts"] >= _ts("2025-04-01")], churn_window_days=28)


def test_an_end_past_the_data_ends_the_labels_at_the_last_event(world):
    # a scheduled run's "today" when the store is a day or two behind: the labels can only be
    # told up to the last event, so the split is the one the data itself gives (it used to put
    # the test labels past the data and the job failed until the store caught up)
    own = time_split(world.events, churn_window_days=28)
    data_end = world.events["ts"].max().floor("D") + pd.Timedelta(days=1)
    for late in (1, 2, 30):
        assert time_split(world.events, churn_window_days=28, end=data_end + pd.Timedelta(days=late)) == own
    earlier = time_split(world.events, churn_window_days=28, end=data_end - pd.Timedelta(days=7))
    assert earlier.test == own.test - pd.Timedelta(days=7)   # an end inside the data is kept
