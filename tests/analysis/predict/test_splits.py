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
