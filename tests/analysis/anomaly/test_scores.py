"""``anomaly_scores``: the rolling z-score's warm-up and no look-ahead, and Tukey's IQR fences."""
from __future__ import annotations

import numpy as np
import pytest
from anomaly_helpers import _noise

from analytics_lib.analysis.anomaly.scores import anomaly_scores


def test_rolling_z_warm_up_and_no_look_ahead():
    s = _noise(80, seed=3)
    scores = anomaly_scores(s, method="rolling_z", window=28, min_periods=10)
    assert scores["expected"].iloc[:10].isna().all() and scores["expected"].iloc[10:].notna().all()
    assert scores["expected"].iloc[10] == pytest.approx(np.median(s.iloc[:10]))
    changed = s.copy()
    changed.iloc[60:] += 500  # the future must not change the past
    again = anomaly_scores(changed, method="rolling_z", window=28, min_periods=10)
    np.testing.assert_allclose(again["score"].iloc[:60], scores["score"].iloc[:60])
    centered = anomaly_scores(s, method="rolling_z", center=True)
    assert centered["expected"].notna().all()  # no warm-up looking both ways


def test_iqr_fences_are_tukeys():
    s = _noise(200, seed=1)
    q1, q3 = np.percentile(s, [25, 75])
    from scipy import stats

    tukey = stats.norm.ppf(0.75) * (1 + 2 * 1.5)  # the threshold at which k = 1.5 (about 2.70)
    scores = anomaly_scores(s, method="iqr", sensitivity=(5.5 - tukey) / 4)
    assert scores["lower"].iloc[0] == pytest.approx(q1 - 1.5 * (q3 - q1))
    assert scores["upper"].iloc[0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    flagged = scores["is_anomaly"].to_numpy()
    assert (flagged == ((s < q1 - 1.5 * (q3 - q1)) | (s > q3 + 1.5 * (q3 - q1))).to_numpy()).all()
