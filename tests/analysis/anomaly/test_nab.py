"""NAB scoring: the published NAB numbers on the shared NAB files (per-file scores of Numenta HTM at
its threshold, normalized scores of four detectors), the threshold sweep against a literal port of
NAB's sweeper, a hand-made optimum, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import REAL

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly.nab import (NAB_PROFILES, nab_corpus, nab_corpus_score, nab_file_score,
                                                nab_normalize, nab_reference_scores, nab_results,
                                                nab_threshold_sweep)

NAB = REAL / "nab"
NUMENTA_THRESHOLD = 0.542187690735   # NAB's optimum for numenta/standard over its 58 files


@pytest.fixture(scope="module")
def numenta():
    """``key -> (timestamps, numenta anomaly scores, windows)`` for the 47 shared NAB files."""
    if not (NAB / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"the shared NAB data is not there ({NAB})")
    corpus, results = nab_corpus(NAB), nab_results(NAB, "numenta")
    for key, data in corpus.items():
        assert (data.series["timestamp"].to_numpy() == results[key]["timestamp"].to_numpy()).all(), key
    return {k: (d.series["timestamp"], results[k]["anomaly_score"], d.windows) for k, d in corpus.items()}


def test_numenta_per_file_scores_equal_nabs_published_scores(numenta):
    res = nab_corpus_score(numenta, threshold=NUMENTA_THRESHOLD)
    pub = nab_reference_scores(NAB, "numenta")
    assert len(res.files) == len(pub) == 47
    m = res.files.merge(pub, on="File", suffixes=("", "_nab"), validate="1:1")
    assert len(m) == 47
    assert np.abs(m["Score"] - m["Score_nab"]).max() < 1e-6
    for col in ("TP", "TN", "FP", "FN", "Total_Count"):
        assert (m[col] == m[f"{col}_nab"]).all(), col
    assert (m["Threshold"] == m["Threshold_nab"]).all()
    one = nab_file_score(*numenta["realKnownCause/rogue_agent_key_hold.csv"], threshold=NUMENTA_THRESHOLD)
    row = pub.set_index("File").loc["realKnownCause/rogue_agent_key_hold.csv"]
    assert one.score == pytest.approx(row["Score"], abs=1e-9)
    assert (one.tp, one.tn, one.fp, one.fn, one.total_count) == tuple(row[["TP", "TN", "FP", "FN", "Total_Count"]])


def test_normalized_scores_equal_nabs_summary(numenta):
    res = nab_corpus_score(numenta, threshold=NUMENTA_THRESHOLD)
    windows = sum(len(w) for _, _, w in numenta.values())
    assert windows == 92 and res.null == -92.0 and res.perfect == 92.0
    assert res.score == pytest.approx(68.9, abs=0.05)
    null = nab_reference_scores(NAB, "null")["Score"].sum()          # the null detector: -fn per window
    assert null == pytest.approx(-NAB_PROFILES["standard"]["fn"] * windows)
    for detector, expected in {"numenta": 68.9, "randomCutForest": 50.1, "windowedGaussian": 45.0,
                               "twitterADVec": 49.2}.items():
        raw = nab_reference_scores(NAB, detector)["Score"].sum()
        assert nab_normalize(raw, null=null, perfect=float(windows)) == pytest.approx(expected, abs=0.05), detector
    assert nab_normalize(null, null=null, perfect=92.0) == 0.0


def test_optimized_threshold_on_numenta(numenta):
    fixed = nab_corpus_score(numenta, threshold=NUMENTA_THRESHOLD)
    best = nab_corpus_score(numenta)
    assert best.score >= fixed.score - 1e-9
    # no numenta score of the 47 files lies in [0.542187690735, 0.543099145074): the same detections,
    # an exact tie, and NAB keeps the highest threshold of a tie (the 58 files had a score in between)
    assert best.threshold == pytest.approx(0.543099145074, abs=1e-12)
    assert best.raw == pytest.approx(fixed.raw, abs=1e-9)
    sweep = nab_threshold_sweep(numenta)
    assert sweep["threshold"].is_monotonic_decreasing and sweep["threshold"].iloc[0] == 1.1
    assert sweep["score"].max() == pytest.approx(best.raw, abs=1e-9)
    assert (sweep["total"] == sweep[["tp", "tn", "fp", "fn"]].sum(axis=1)).all()
    for profile in ("reward_low_FP_rate", "reward_low_FN_rate"):
        at = nab_corpus_score(numenta, profile=profile, threshold=NUMENTA_THRESHOLD)
        opt = nab_corpus_score(numenta, profile=profile)
        assert 0 < at.score <= opt.score + 1e-9 < 100


def test_hand_made_optimum_and_ties():
    t = pd.date_range("2024-01-01", periods=20, freq="h")
    s = np.zeros(20)
    s[10], s[11], s[16] = 0.9, 0.5, 0.95          # window rows 10-12; row 16 is a false positive
    per_file = {"a": (t, s, [[t[10], t[12]]])}
    fp16 = 0.11 * (2 / (1 + math.exp(5 * (16 - 12) / (3 - 1))) - 1)
    sweep = nab_threshold_sweep(per_file)
    assert sweep["threshold"].tolist() == [1.1, 0.95, 0.9, 0.5, 0.0]
    assert sweep["score"].iloc[:4].tolist() == pytest.approx([-1.0, -1.0 + fp16, 1.0 + fp16, 1.0 + fp16])
    best = nab_corpus_score(per_file)
    assert best.threshold == 0.9                  # 0.9 and 0.5 tie: NAB keeps the highest
    assert best.raw == pytest.approx(1.0 + fp16) and best.null == -1.0 and best.perfect == 1.0
    assert best.score == pytest.approx(100 * (1.0 + fp16 + 1.0) / 2.0)
    assert best.files[["TP", "TN", "FP", "FN", "Total_Count"]].values.tolist() == [[1, 13, 1, 2, 20]]
    # detections as booleans score as anomaly scores at a threshold
    flags = nab_file_score(t, s >= 0.9, [[t[10], t[12]]])
    assert flags.score == pytest.approx(best.raw) and math.isnan(flags.threshold)
    # a one-row window: NAB divides by width - 1 after it; its limit (-fp) is used
    one = nab_file_score(t, s >= 0.95, [[t[10], t[10]]])
    assert one.score == pytest.approx(-1.0 - 0.11)


def test_probation_is_at_most_750_rows():
    t = pd.date_range("2024-01-01", periods=6000, freq="min")
    s = np.zeros(6000)
    s[749], s[750] = 1.0, 1.0                     # row 749 is in probation, row 750 is not
    r = nab_file_score(t, s, [], threshold=0.5)
    assert (r.tp, r.fp, r.tn + r.fp, r.total_count) == (0, 1, 6000 - 750, 6000)
    assert r.score == pytest.approx(-0.11)
    assert nab_file_score(t[:100], s[:100], [], threshold=0.5).tn == 100 - 15


# A literal port of NAB's Sweeper (nab/sweeper.py at ea702d75: calcSweepScore, calcScoreByThreshold)
def _port_rows(timestamps, scores, windows, name, w, probation=0.15):
    def scaled(x):
        return -1.0 if x > 3.0 else 2 * (1 / (1 + math.exp(5 * x))) - 1.0
    timestamps, windows, out = list(timestamps), list(windows), []
    max_tp, prob = scaled(-1.0), min(math.floor(probation * len(timestamps)), probation * 5000)
    cur = cur_name = width = right = prev_width = prev_right = None
    for i, (t, a) in enumerate(zip(timestamps, scores)):
        if windows and t == windows[0][0]:
            cur = windows.pop(0)
            cur_name, right = f"{name}|{cur[0]}", timestamps.index(cur[1])
            width = float(right - timestamps.index(cur[0]) + 1)
        if cur is not None:
            weight = scaled(-(right - i + 1) / width) * w["tp"] / max_tp
        else:
            weight = (-1.0 if prev_right is None else scaled(abs(prev_right - i) / float(prev_width - 1))) * w["fp"]
        out.append((a, weight, cur_name if i >= prob else "probationary"))
        if cur is not None and t == cur[1]:
            prev_right, prev_width, cur = i, width, None
            cur_name = width = right = None
    return out


def _port_sweep(rows, w):
    rows = sorted([x for x in rows if x[2] != "probationary"], key=lambda x: x[0], reverse=True)
    parts = {"fp": 0}
    parts.update({x[2]: -w["fn"] for x in rows if x[2] is not None})
    out, cur, tp, fp = [], 1.1, 0, 0
    tn = sum(x[2] is None for x in rows)
    fn = len(rows) - tn
    for a, weight, name in rows:
        if a != cur:
            out.append((cur, sum(parts.values()), tp, tn, fp, fn, tp + tn + fp + fn))
            cur = a
        if name is None:
            fp, tn, parts["fp"] = fp + 1, tn - 1, parts["fp"] + weight
        else:
            tp, fn, parts[name] = tp + 1, fn - 1, max(parts[name], weight)
    out.append((cur, sum(parts.values()), tp, tn, fp, fn, tp + tn + fp + fn))
    return out


def _random_file(rng, n):
    t = list(pd.date_range("2024-01-01", periods=n, freq="h"))
    d = int(rng.integers(5, n - 5))
    t.insert(d, t[d])                             # a repeated timestamp (as at a DST change)
    n += 1
    cuts = np.sort(rng.choice(np.arange(0, n), size=2 * int(rng.integers(0, 4)), replace=False))
    windows = [[t[a], t[b]] for a, b in zip(cuts[::2], cuts[1::2]) if t[b] > t[a]]
    windows = [p for i, p in enumerate(windows) if i == 0 or p[0] > windows[i - 1][1]]
    return t, np.round(rng.random(n) * 10) / 10, windows


def test_sweep_equals_a_literal_port_of_nabs_sweeper():
    rng = np.random.default_rng(7)
    for trial in range(12):
        per_file = {f"f{i}": _random_file(rng, int(rng.integers(30, 90))) for i in range(3)}
        profile = list(NAB_PROFILES)[trial % 3]
        w = NAB_PROFILES[profile]
        port = _port_sweep([r for k, f in per_file.items() for r in _port_rows(*f, k, w)], w)
        ours = nab_threshold_sweep(per_file, profile=profile)
        assert ours["threshold"].tolist() == [p[0] for p in port]
        assert ours["score"].to_numpy() == pytest.approx([p[1] for p in port], abs=1e-12)
        assert ours[["tp", "tn", "fp", "fn", "total"]].values.tolist() == [list(p[2:]) for p in port]
        best = sorted(port, key=lambda p: p[1], reverse=True)[0]          # nab/optimizer.py
        res = nab_corpus_score(per_file, profile=profile)
        assert res.threshold == best[0] and res.raw == pytest.approx(best[1], abs=1e-12)
        for thr in ours["threshold"].iloc[1:]:                              # the sweep equals per-file scoring
            assert nab_corpus_score(per_file, profile=profile, threshold=thr).raw == pytest.approx(
                ours.loc[ours["threshold"] == thr, "score"].iloc[0], abs=1e-12)


def test_bad_input_raises_workbench_error():
    t = pd.date_range("2024-01-01", periods=20, freq="h")
    s = np.zeros(20)
    w = [[t[10], t[12]]]
    with pytest.raises(WorkbenchError, match="19 anomaly scores for 20 timestamps"):
        nab_file_score(t, s[:19], w, threshold=0.5)
    with pytest.raises(WorkbenchError, match="not a timestamp of the series"):
        nab_file_score(t, s, [[pd.Timestamp("2030-01-01"), pd.Timestamp("2030-01-02")]], threshold=0.5)
    with pytest.raises(WorkbenchError, match="not a timestamp of the series"):
        nab_file_score(t, s, [[t[10] + pd.Timedelta("1min"), t[12]]], threshold=0.5)
    with pytest.raises(WorkbenchError, match="unknown NAB profile 'strict'"):
        nab_file_score(t, s, w, threshold=0.5, profile="strict")
    with pytest.raises(WorkbenchError, match="unknown NAB profile"):
        nab_corpus_score({"a": (t, s, w)}, profile="strict")
    with pytest.raises(WorkbenchError, match="overlaps or precedes"):
        nab_file_score(t, s, [[t[10], t[12]], [t[11], t[14]]], threshold=0.5)
    with pytest.raises(WorkbenchError, match="ends .* before it starts"):
        nab_file_score(t, s, [[t[12], t[10]]], threshold=0.5)
    with pytest.raises(WorkbenchError, match="give the threshold"):
        nab_file_score(t, s, w)
    with pytest.raises(WorkbenchError, match="NaN or infinite"):
        nab_file_score(t, np.r_[np.nan, s[1:]], w, threshold=0.5)
    with pytest.raises(WorkbenchError, match=r"probation=1.5 must be in \[0, 1\)"):
        nab_file_score(t, s, w, threshold=0.5, probation=1.5)
    with pytest.raises(WorkbenchError, match="must map to"):
        nab_corpus_score({"a": (t, s)})
    with pytest.raises(WorkbenchError, match="does not exist"):
        nab_corpus(REAL / "no_such_nab_folder")
