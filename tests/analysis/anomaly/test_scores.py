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


def test_calibrated_flags_give_one_false_alarm_rate_whatever_the_tails():
    # robust z flags ~30x more often on heavy tails (Student t, 2 df) than on normal noise at the
    # same sensitivity; the calibrated probability flags both near the nominal 0.1 % ("medium")
    import pandas as pd

    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-01-01", periods=20_000, freq="5min")
    rates = {}
    for name, y in {"normal": rng.normal(size=20_000), "heavy": rng.standard_t(2, size=20_000)}.items():
        s = pd.Series(y, index=idx, name=name)
        raw = anomaly_scores(s, method="rolling_z")
        cal = anomaly_scores(s, method="rolling_z", calibrated=True)
        scored = cal["score"].notna()  # the warm-up has no score and no probability
        assert cal.loc[scored, "probability"].between(0, 1).all() and cal.loc[~scored, "probability"].isna().all()
        assert cal["score"].equals(raw["score"])
        after = cal.index >= 2_000  # a probability reaches 0.999 only after 999 scored points
        rates[name] = (raw.loc[after, "is_anomaly"].mean(), cal.loc[after, "is_anomaly"].mean())
    assert rates["heavy"][0] > 10 * rates["normal"][0]
    for name, (_, calibrated) in rates.items():
        assert 0.0004 <= calibrated <= 0.002, (name, calibrated)


def test_causal_detectors_never_look_ahead():
    import pandas as pd

    from analytics_lib.analysis.anomaly.scores import DETECTORS

    y = np.sin(np.arange(400) * 2 * np.pi / 24) + np.random.default_rng(3).normal(0, 0.2, 400)
    s = pd.Series(y, index=pd.date_range("2024-01-01", periods=400, freq="h"), name="x")
    changed = s.copy()
    changed.iloc[300:] += 50.0
    options = {"novelty": {"lo": -60.0, "hi": 60.0}, "forecast": {"h": 24}}  # novelty: a range given up front
    causal = DETECTORS.names(scoring="causal")
    assert causal == ["forecast", "novelty"]
    for method in causal:
        before = anomaly_scores(s, method=method, **options.get(method, {}))["score"].iloc[:300]
        after = anomaly_scores(changed, method=method, **options.get(method, {}))["score"].iloc[:300]
        np.testing.assert_array_equal(before.to_numpy(), after.to_numpy(), err_msg=method)


@pytest.mark.parametrize("key", ["realTraffic/TravelTime_451.csv",               # irregular, 70 % of steps empty
                                 "realAWSCloudwatch/ec2_network_in_5abac7.csv",   # 11 repeated timestamps
                                 "realAWSCloudwatch/grok_asg_anomaly.csv"])        # gaps
def test_every_built_in_method_takes_real_nab_series(key):
    from conftest import REAL

    from analytics_lib.analysis.anomaly.nab import nab_corpus
    from analytics_lib.analysis.anomaly.series import METHODS

    if not (REAL / "nab").is_dir():
        pytest.skip(f"{REAL / 'nab'} is missing (the shared real data)")
    series = nab_corpus(REAL / "nab")[key].series
    for method in METHODS:
        scored = anomaly_scores(series, method=method)
        assert len(scored) == series["timestamp"].nunique() and scored["score"].notna().any(), method
