"""The online novelty detector and the anomaly probability: batch == any split == the scalar path,
save/load, causality, the NAB score of one parameter set, calibration on white noise, the
"novelty" method of anomaly_scores, and bad input."""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import REAL

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly.nab import nab_corpus, nab_corpus_score
from analytics_lib.analysis.anomaly.calibration import anomaly_probability, tail_p_value
from analytics_lib.analysis.anomaly.online import NoveltyDetector, nab_rest
from analytics_lib.analysis.anomaly.scores import anomaly_scores

NAB = REAL / "nab"


def _stream(n: int = 3000, seed: int = 0) -> np.ndarray:
    """A daily-ish pattern with noise, a level shift, spikes, NaN and values beyond the fitted range."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 288) + 0.2 * rng.normal(size=n)
    y[n // 2:] += 1.5
    y[rng.choice(n, 10, replace=False)] += 6.0
    y[rng.choice(n, 20, replace=False)] = np.nan
    y[-5:] = [-50.0, 50.0, np.inf, -np.inf, 0.0]
    return y


def _fitted(**kw) -> NoveltyDetector:
    return NoveltyDetector(rest=20, **kw).fit(lo=-1.5, hi=3.0)


def test_any_split_and_the_scalar_path_equal_the_batch_run():
    y = _stream()
    batch = _fitted().update(y)
    assert batch.shape == y.shape and np.isnan(batch).sum() == np.isnan(y).sum()
    assert np.nanmin(batch) >= 0 and np.nanmax(batch) <= 1 and (batch[~np.isnan(y)] > 0).any()
    rng = np.random.default_rng(1)
    for trial in range(5):
        det = _fitted()
        cuts = np.sort(rng.choice(np.arange(1, len(y)), size=rng.integers(1, 60), replace=False))
        parts = []
        for chunk in np.split(y, cuts):
            if rng.random() < 0.3:   # point by point through the scalar path
                parts.append(np.array([det.update_one(v) for v in chunk]))
            else:
                parts.append(det.update(chunk))
        np.testing.assert_array_equal(np.concatenate(parts), batch)
    one = _fitted()
    np.testing.assert_array_equal([one.update_one(v) for v in y], batch)


def test_nan_is_never_scored_and_leaves_the_state_unchanged():
    y = _stream()
    with_nan = _fitted().update(y)
    without = _fitted().update(y[~np.isnan(y)])
    np.testing.assert_array_equal(with_nan[~np.isnan(y)], without)
    det = _fitted()
    det.update(y[:100])
    before = det.get_state()
    assert np.isnan(det.update_one(np.nan)) and np.isnan(det.update([np.nan, np.nan])).all()
    after = det.get_state()
    assert after["n_points"] == before["n_points"] and after["history"] == before["history"]
    np.testing.assert_array_equal(after["seen"], before["seen"])


def test_a_change_in_a_future_point_never_changes_past_scores():
    y = _stream()
    base = _fitted().update(y)
    for i in (10, 700, 1500, 2990):
        z = y.copy()
        z[i] = 100.0 if np.isnan(z[i]) else -z[i] * 7
        changed = _fitted().update(z)
        np.testing.assert_array_equal(changed[:i], base[:i])


def test_save_and_load_continue_with_identical_scores(tmp_path):
    y = _stream()
    ref = NoveltyDetector(levels=(6, 9), offsets=(0.0, 0.25, 0.5), max_order=3, alarm=0.5, rest=7).fit(y)
    expected = ref.update(y)
    det = NoveltyDetector(levels=(6, 9), offsets=(0.0, 0.25, 0.5), max_order=3, alarm=0.5, rest=7).fit(y)
    first = det.update(y[:1234])
    path = tmp_path / "state"          # no suffix: the file keeps the name it was given
    det.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["state"]  # no temporary file left behind
    loaded = NoveltyDetector.load(path)
    assert loaded.get_params() == {"levels": (6, 9), "offsets": (0.0, 0.25, 0.5), "max_order": 3, "alarm": 0.5,
                                   "rest": 7}
    assert (loaded.lo_, loaded.hi_, loaded.n_points_) == (det.lo_, det.hi_, det.n_points_)
    np.testing.assert_array_equal(np.r_[first, loaded.update(y[1234:])], expected)
    np.testing.assert_array_equal(det.update(y[1234:]), expected[1234:])
    # the plain-dict state round trip as well
    again = NoveltyDetector().set_state(ref.get_state())
    np.testing.assert_array_equal(again.update(y[:50]), ref.update(y[:50]))


def test_foreign_or_damaged_state_files_raise(tmp_path):
    det = NoveltyDetector().fit(lo=0, hi=1)
    det.update([0.1, 0.5, 0.9])
    good = tmp_path / "good.npz"
    det.save(good)

    text = tmp_path / "text.npz"
    text.write_text("timestamp,value\n")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.arange(3))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    npy = tmp_path / "plain.npy"
    np.save(npy, np.arange(3))
    for path, message in [(text, "not an NPZ file"), (other, r"holds \['a'\]"), (truncated, "not an NPZ file"),
                          (npy, "not"), (tmp_path / "missing.npz", "does not exist")]:
        with pytest.raises(WorkbenchError, match=message):
            NoveltyDetector.load(path)

    # another version, another format, a damaged table: rewrite the header of a good file
    with np.load(good, allow_pickle=False) as z:
        meta, seen = str(z["meta"][()]), z["seen"]
    for old, new, message in [('"version": 1', '"version": 99', "version 99"),
                              ('"format": "analytics_lib.NoveltyDetector"', '"format": "x"', "is not a saved"),
                              ('"n_seen": ', '"n_seen": 1', "inconsistent")]:
        bad = tmp_path / "bad.npz"
        np.savez(bad, meta=np.array(meta.replace(old, new)), seen=seen)
        with pytest.raises(WorkbenchError, match=message):
            NoveltyDetector.load(bad)
    with pytest.raises(WorkbenchError, match="not a NoveltyDetector state"):
        NoveltyDetector().set_state({"format": "pickle"})
    state = det.get_state()
    state["history"] = [[999, 0, 0]] * len(state["history"])
    with pytest.raises(WorkbenchError, match="inconsistent"):
        NoveltyDetector().set_state(state)
    assert zipfile.is_zipfile(good)


def test_bad_input_raises_one_clear_error():
    with pytest.raises(WorkbenchError, match="call fit"):
        NoveltyDetector().update([1.0])
    with pytest.raises(WorkbenchError, match="call fit"):
        NoveltyDetector().get_state()
    with pytest.raises(WorkbenchError, match="lo= and hi="):
        NoveltyDetector().fit()
    with pytest.raises(WorkbenchError, match="not both"):
        NoveltyDetector().fit([1.0, 2.0], lo=0)
    with pytest.raises(WorkbenchError, match="finite value"):
        NoveltyDetector().fit([np.nan, np.inf])
    with pytest.raises(WorkbenchError, match="lo <= hi"):
        NoveltyDetector().fit(lo=2, hi=1)
    for kw, message in [({"levels": (1, 8)}, "levels"), ({"offsets": (1.0,)}, "offsets"),
                        ({"max_order": 0}, "max_order"), ({"alarm": 0}, "alarm"), ({"rest": 2.5}, "rest"),
                        ({"levels": (30,), "max_order": 6}, "table cells")]:
        with pytest.raises(WorkbenchError, match=message):
            NoveltyDetector(**kw).fit(lo=0, hi=1)
    det = NoveltyDetector().fit(lo=0, hi=1)
    with pytest.raises(WorkbenchError, match="1-D"):
        det.update(np.zeros((2, 2)))
    with pytest.raises(WorkbenchError, match="numbers"):
        det.update(["a", "b"])
    with pytest.raises(WorkbenchError, match="not a number"):
        det.update_one("x")
    with pytest.raises(WorkbenchError, match="window"):
        anomaly_probability([1.0, 2.0], window=0)
    with pytest.raises(WorkbenchError, match="infinite"):
        anomaly_probability([1.0, np.inf])
    with pytest.raises(WorkbenchError, match="number of points"):
        nab_rest(-1)


def test_nab_rest_follows_nabs_probation():
    assert [nab_rest(n) for n in (0, 100, 4032, 5000, 22695)] == [0, 2, 90, 112, 112]
    assert nab_rest(4032, share=0.2) == 120


def _brute_probability(s: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(s), np.nan)
    seen: list[float] = []
    for i, v in enumerate(s):
        if np.isnan(v):
            continue
        past = np.array(seen[-window:])
        out[i] = 1 - (1 + (past >= v).sum()) / (1 + len(past))
        seen.append(v)
    return out


@pytest.mark.parametrize("distinct", [5, 10_000])   # the per-value counts and the dyadic blocks
def test_anomaly_probability_is_the_conformal_tail_probability(distinct):
    rng = np.random.default_rng(3)
    s = rng.integers(0, distinct, 2500).astype(float)
    s[rng.choice(2500, 40, replace=False)] = np.nan
    for window in (1, 300, 10_000):
        np.testing.assert_allclose(anomaly_probability(s, window=window), _brute_probability(s, window), atol=1e-12)
    p = anomaly_probability(s, window=300)
    z = s.copy()
    z[2000] = -1.0 if np.isnan(z[2000]) else z[2000] + 1e6
    np.testing.assert_array_equal(anomaly_probability(z, window=300)[:2000], p[:2000])   # causal


def test_anomaly_probability_false_alarm_rate_on_white_noise_is_nominal():
    """P(probability >= 0.999) = 0.1 % once 999 scores are past: 200,000 points give 200 +- 14
    false alarms (binomial sd); the tolerance is 0.1 % +- 0.025 % (about 3.5 sd)."""
    y = np.random.default_rng(7).normal(size=201_000)
    p = anomaly_probability(np.abs(y))[1000:]
    assert abs((p >= 0.999).mean() - 0.001) < 0.00025
    assert abs((p >= 0.99).mean() - 0.01) < 0.001
    assert np.isnan(anomaly_probability([np.nan, np.nan])).all() and anomaly_probability([2.0])[0] == 0.0


def test_tail_p_value_is_conformal_inside_the_reference_and_calibrated_beyond_it():
    """Exchangeable scores: P(p <= a) = a inside the reference (0.1, 0.01); beyond its largest value
    the fitted tail keeps the rate within a factor 3 of nominal on light and heavy tails (the
    docstring's measurements: 0.33-2.9) and at most the floor 1 / (n + 1)."""
    rng = np.random.default_rng(11)
    draws = {"normal": lambda n: np.abs(rng.normal(size=n)), "t3": lambda n: np.abs(rng.standard_t(3, size=n)),
             "exponential": lambda n: rng.exponential(size=n)}
    for name, draw in draws.items():
        p = np.concatenate([tail_p_value(draw(5000), draw(1800)) for _ in range(30)])
        assert abs((p <= 0.1).mean() - 0.1) < 0.006, name
        assert abs((p <= 0.01).mean() - 0.01) < 0.002, name
        assert p.min() > 0 and p.max() <= 1
        rate = (p <= 1e-4).mean() / 1e-4
        assert 0.1 < rate < 3.0, (name, rate)


def test_tail_p_value_is_monotone_and_a_heavy_tail_makes_large_scores_less_surprising():
    rng = np.random.default_rng(2)
    light, heavy = np.abs(rng.normal(size=2000)), np.abs(rng.standard_t(2, size=2000))
    s = np.linspace(0, 40, 401)
    for ref in (light, heavy):
        p = tail_p_value(s, ref)
        assert (np.diff(p) <= 0).all() and p[0] == 1.0
    big = np.array([6.0, 10.0, 20.0])
    assert (tail_p_value(big, heavy) > tail_p_value(big, light)).all()
    assert (tail_p_value(big, light) < 1 / 2001).all()          # the tail goes below the rank's floor
    # too small a reference for a fit, a flat top, no reference, missing scores
    assert tail_p_value([100.0], np.arange(30.0))[0] == pytest.approx(1 / 31)
    assert tail_p_value([5.0], np.ones(500))[0] == pytest.approx(1 / 501)
    assert tail_p_value([1.0, np.nan], []).tolist()[0] == 1.0 and np.isnan(tail_p_value([np.nan], [1.0])).all()
    with pytest.raises(WorkbenchError, match="tail=2"):
        tail_p_value([1.0], light, tail=2)
    with pytest.raises(WorkbenchError, match="infinite"):
        tail_p_value([np.inf], light)


def test_novelty_method_of_anomaly_scores_handles_gaps_nan_and_sensitivity():
    rng = np.random.default_rng(0)
    ts = pd.date_range("2024-01-01", periods=2000, freq="5min").delete(range(700, 900))   # a gap
    y = np.tile([1.0, 2.0, 3.0, 2.0], 500)[:len(ts)] + 0.01 * rng.normal(size=len(ts))
    y[1500] = 9.0
    y[40] = np.nan
    frame = pd.DataFrame({"timestamp": ts, "value": y})
    out = anomaly_scores(frame, method="novelty")
    assert len(out) == len(ts) and (out["method"] == "novelty").all()
    assert out.loc[out["is_anomaly"], "timestamp"].tolist() == [ts[1500]]
    row = out.iloc[1500]
    assert row["expected"] == y[1499] and np.isnan(row["lower"]) and np.isnan(row["upper"])
    assert np.isnan(out.loc[40, "score"]) and not out.loc[40, "is_anomaly"] and np.isnan(out.loc[0, "expected"])
    assert not out["is_anomaly"].iloc[:300].any()   # warm-up: NAB's probation is never flagged
    low, high = (anomaly_scores(frame, method="novelty", sensitivity=s, warmup=0)["is_anomaly"].sum()
                 for s in ("low", "high"))
    assert low <= high
    with pytest.raises(WorkbenchError, match="lo= and hi="):
        anomaly_scores(frame, method="novelty", lo=0.0)
    with pytest.raises(WorkbenchError, match="takes no option"):
        anomaly_scores(frame, method="novelty", window=3)


@pytest.fixture(scope="module")
def corpus():
    if not (NAB / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"the shared NAB data is not there ({NAB})")
    return nab_corpus(NAB)


def test_novelty_method_on_a_nab_file_with_repeated_timestamps(corpus):
    data = corpus["realAWSCloudwatch/ec2_network_in_5abac7.csv"].series
    assert data["timestamp"].duplicated().any()
    out = anomaly_scores(data, method="novelty")
    assert len(out) == data["timestamp"].nunique() and out["is_anomaly"].sum() > 0


@pytest.mark.slow
def test_one_parameter_set_scores_at_least_65_on_the_47_nab_files(corpus):
    per_file = {}
    for key, d in corpus.items():
        v = d.series["value"].to_numpy(dtype=float)
        per_file[key] = (d.series["timestamp"], NoveltyDetector(rest=nab_rest(len(v))).fit(v).update(v), d.windows)
    assert len(per_file) == 47
    res = nab_corpus_score(per_file)
    assert res.score >= 65.0
    assert res.score == pytest.approx(68.25, abs=0.01)
