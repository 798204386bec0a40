"""``score_threshold``: the sensitivity (a name or a number) maps to a score threshold, and bad values
say what to give. ``metric_series``: repeated timestamps become one observation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly.scores import anomaly_scores
from analytics_lib.analysis.anomaly.series import metric_series, score_threshold


def test_sensitivity_maps_to_a_threshold_and_bad_values_say_what_to_give():
    assert [score_threshold(s) for s in ("low", "medium", "high")] == [4.5, 3.5, 2.5]
    assert score_threshold(" Medium ") == 3.5 and score_threshold(0.9) == pytest.approx(1.9)
    for bad in ("extreme", 0, 1, 1.5, -0.1, True, None, "0.5"):
        with pytest.raises(WorkbenchError, match="sensitivity="):
            score_threshold(bad)


def test_repeated_timestamps_become_the_mean_of_their_values():
    # a clock set back at a daylight-saving change repeats an hour, as in several NAB files
    ts = pd.to_datetime(["2024-11-03 00:00", "2024-11-03 01:00", "2024-11-03 01:00", "2024-11-03 02:00",
                         "2024-11-03 02:00", "2024-11-03 02:00", "2024-11-03 03:00"])
    frame = pd.DataFrame({"timestamp": ts, "value": [1.0, 2.0, 4.0, np.nan, 6.0, 9.0, 5.0]})
    (m,) = metric_series(frame)
    assert m.ts.is_unique and len(m.ts) == 4 and m.merged == 3
    assert m.y.tolist() == [1.0, 3.0, 7.5, 5.0]           # missing values ignored in the mean
    (allnan,) = metric_series(pd.DataFrame({"timestamp": ts[:3], "value": [1.0, np.nan, np.nan]}))
    assert allnan.y[0] == 1.0 and np.isnan(allnan.y[1])
    scored = anomaly_scores(frame.sample(frac=1, random_state=0), method="rolling_z")  # any row order
    assert scored["timestamp"].tolist() == list(m.ts) and scored["observed"].tolist() == m.y.tolist()
