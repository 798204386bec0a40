"""The evaluation harness: detection scores (point, event and NAB) by hand, label windows, NAB files,
and the accuracy target on real data: the outlier rows of the two Prophet outlier files are found
with F1 >= 0.8."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from anomaly_helpers import PROPHET, _noise

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly.detect import detect_anomalies, flatline_anomalies
from analytics_lib.analysis.anomaly.evaluation import NAB_STANDARD, detection_scores, label_windows, read_nab


def test_detection_scores_by_hand():
    t = pd.date_range("2025-01-01", periods=20, freq="D")
    w = pd.DataFrame({"start": [t[5], t[12]], "end": [t[7], t[13]]})
    sc = detection_scores(pd.DatetimeIndex([t[6], t[15], t[16], t[2]]), w, t)
    assert (sc.windows, sc.detected_windows, sc.false_positive_events) == (2, 1, 2)
    assert sc.event_precision == pytest.approx(1 / 3) and sc.event_recall == 0.5
    assert sc.point_precision == 0.25 and sc.point_recall == pytest.approx(1 / 5)
    sigmoid = lambda y: 2 / (1 + np.exp(5 * y)) - 1  # noqa: E731
    tp = sigmoid(-(7 - 6 + 1) / 3) / sigmoid(-1.0)          # detected at 2/3 of the window before its end
    fp15 = 0.11 * sigmoid(abs(13 - 15) / (2 - 1))           # 2 window lengths after the window ending at t[13]
    fp16 = 0.11 * sigmoid(abs(13 - 16) / (2 - 1))           # 3 lengths away: -0.11
    fp2 = -0.11                                             # before any window
    assert sc.nab_raw == pytest.approx(tp - 1.0 + fp15 + fp16 + fp2)
    assert sc.nab_score == pytest.approx(100 * (sc.nab_raw + 2) / 4)
    perfect = detection_scores(pd.DatetimeIndex([t[5], t[12]]), w, t)
    assert perfect.nab_score == pytest.approx(100.0) and perfect.event_f1 == 1.0
    assert detection_scores(pd.DatetimeIndex([]), w, t).nab_score == pytest.approx(0.0)
    assert NAB_STANDARD == {"tp": 1.0, "fp": 0.11, "fn": 1.0}
    with pytest.raises(WorkbenchError, match="not timestamps of the series"):
        detection_scores(pd.DatetimeIndex([pd.Timestamp("2030-01-01")]), w, t)


def test_label_windows_group_consecutive_rows_in_time_order():
    t = pd.DatetimeIndex(pd.to_datetime(["2025-01-03", "2025-01-01", "2025-01-02", "2025-01-05", "2025-01-04"]))
    w = label_windows(t, [True, False, True, True, False])
    assert w.astype(str).values.tolist() == [["2025-01-02", "2025-01-03"], ["2025-01-05", "2025-01-05"]]


def test_nab_files_round_trip_through_the_harness(tmp_path):
    s = _noise(300, seed=9, freq="5min").tz_localize(None)
    s.iloc[200:203] += 30
    csv = tmp_path / "machine.csv"
    pd.DataFrame({"timestamp": s.index.strftime("%Y-%m-%d %H:%M:%S"), "value": s.to_numpy()}).to_csv(csv, index=False)
    labels = {"realKnownCause/machine.csv": [[f"{s.index[195]:%Y-%m-%d %H:%M:%S}.000000",
                                              f"{s.index[205]:%Y-%m-%d %H:%M:%S}.000000"]]}
    (tmp_path / "windows.json").write_text(json.dumps(labels))
    nab = read_nab(csv, tmp_path / "windows.json")
    assert len(nab.series) == 300 and nab.windows["start"].iloc[0] == s.index[195]
    sc = detection_scores(detect_anomalies(nab.series), nab.windows, nab.series["timestamp"], probation=0.15)
    assert sc.event_recall == 1.0 and sc.nab_score > 50
    with pytest.raises(WorkbenchError, match="no entry"):
        read_nab(csv, tmp_path / "windows.json", key="other.csv")


def _outlier_labels(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    clean = pd.read_csv(PROPHET / "example_wp_log_R.csv")
    dirty = pd.read_csv(PROPHET / name)
    both = dirty.merge(clean, on="ds", suffixes=("", "_clean"), validate="one_to_one")
    return dirty, label_windows(both["ds"], (both["y"] != both["y_clean"]).to_numpy())


@pytest.mark.parametrize("name", ["example_wp_log_R_outliers1.csv", "example_wp_log_R_outliers2.csv"])
def test_real_outlier_rows_are_found(name):
    """352 rows set to 5.0 / 8.0 (file 1) and 28 rows set to 3.0 (file 2): stuck values."""
    dirty, windows = _outlier_labels(name)
    ts = pd.to_datetime(dirty["ds"])
    sc = detection_scores(flatline_anomalies(dirty), windows, ts)
    assert sc.point_f1 >= 0.8, sc
    auto = detection_scores(detect_anomalies(dirty), windows, ts)
    assert auto.point_recall == 1.0 and auto.event_recall == 1.0
