"""The anomaly monitor: consecutive slices == one detector run, a restart continues exactly,
counts reconcile (skipped, late, missing), safe file names, two processes sharing a folder,
and bad input."""
from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly import (
    MONITOR_COLUMNS, NOVELTY_THRESHOLDS, AnomalyMonitor, NoveltyDetector, anomaly_probability)
from analytics_lib.analysis.anomaly.monitor import PROBABILITY_WINDOW


def _series(n: int = 1500, seed: int = 0, name: str = "latency_p95") -> pd.Series:
    """Hourly values: a daily cycle with noise, a level shift, spikes and missing values."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 20 * np.sin(2 * np.pi * t / 24) + 3 * rng.normal(size=n)
    y[n // 2:] += 30
    y[rng.choice(np.arange(400, n), 6, replace=False)] += 120
    y[rng.choice(n, 15, replace=False)] = np.nan
    return pd.Series(y, index=pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"), name=name)


def _reference(y: np.ndarray, n_hist: int, *, margin: float = 0.1, rest: int = 10) -> np.ndarray:
    """One NoveltyDetector over the whole series, range from the first ``n_hist`` points + margin."""
    hist = y[:n_hist][~np.isnan(y[:n_hist])]
    lo, hi = hist.min(), hist.max()
    pad = margin * (hi - lo)
    det = NoveltyDetector(rest=rest).fit(lo=lo - pad, hi=hi + pad)
    s = det.update(y)
    return s[~np.isnan(s)]


def _check_counts(mon: AnomalyMonitor) -> None:
    s = mon.summary
    assert (s["given"] == s["scored"] + s["skipped"] + s["missing"]).all()
    assert (s["late"] <= s["skipped"]).all()


def test_consecutive_slices_equal_one_detector_over_the_whole_series(tmp_path):
    y = _series()
    mon = AnomalyMonitor.open(tmp_path / "state", rest=10)
    cuts = [400, 401, 408, 700, 701, 1200, 1500]
    parts, start = [], 0
    for end in cuts:
        # a scheduled job re-reads a trailing window: the overlap must be skipped, not re-scored
        parts.append(mon.update(y.iloc[max(0, start - 50):end]))
        _check_counts(mon)
        assert mon.summary["scored"].iloc[0] == y.iloc[start:end].notna().sum()
        assert mon.skipped == y.iloc[max(0, start - 50):start].notna().sum()
        assert mon.summary["late"].iloc[0] == 0
        start = end
    got = pd.concat(parts, ignore_index=True)
    assert got.columns.tolist() == MONITOR_COLUMNS
    ok = y.notna().to_numpy()
    pd.testing.assert_index_equal(pd.DatetimeIndex(got["timestamp"]), y.index[ok], check_names=False)
    np.testing.assert_array_equal(got["observed"].to_numpy(), y.to_numpy()[ok])
    ref = _reference(y.to_numpy(), 400)
    np.testing.assert_array_equal(got["score"].to_numpy(), ref)
    np.testing.assert_array_equal(got["probability"].to_numpy(), anomaly_probability(ref, window=PROBABILITY_WINDOW))
    history = np.arange(len(got)) < y.iloc[:400].notna().sum()
    expected_flags = (ref >= NOVELTY_THRESHOLDS["medium"]) & ~history
    np.testing.assert_array_equal(got["is_anomaly"].to_numpy(), expected_flags)
    assert expected_flags.sum() >= 3 and ref[history].max() == 1.0  # history scores high but never flags
    assert mon.update(y).empty and mon.skipped == ok.sum()


def test_a_new_monitor_on_the_folder_continues_exactly_where_the_last_stopped(tmp_path):
    kpis = pd.DataFrame({"events": _series(900, seed=1).to_numpy(), "error_rate": _series(900, seed=2).to_numpy() / 1e4},
                        index=_series(900).index)
    one = AnomalyMonitor.open(tmp_path / "one", sensitivity="high", rest=3)
    whole = [one.update(kpis.iloc[:300]), one.update(kpis.iloc[:600]), one.update(kpis)]
    first = AnomalyMonitor.open(tmp_path / "two", sensitivity="high", rest=3)
    parts = [first.update(kpis.iloc[:300]), first.update(kpis.iloc[:600])]
    again = AnomalyMonitor.open(tmp_path / "two", sensitivity="high")  # rest is kept in the state
    assert again.metrics == ["error_rate", "events"]
    parts.append(again.update(kpis))
    for a, b in zip(whole, parts):
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(one.status().drop(columns="file"), again.status().drop(columns="file"))
    assert again.status()["count"].tolist() == kpis.notna().sum().sort_index().tolist()
    assert parts[2]["is_anomaly"].any()


def test_late_repeated_and_missing_points_are_counted_not_scored(tmp_path):
    idx = pd.date_range("2024-03-01", periods=10, freq="D")
    s = pd.Series([1.0, 2.0, 3.0, 2.0, np.nan, 1.0, 2.0, 3.0, 2.0, 1.0], index=idx, name="x")
    mon = AnomalyMonitor.open(tmp_path)
    assert len(mon.update(s.drop(idx[3]))) == 8             # history: every value but day 4 and the NaN
    assert mon.summary["history"].tolist() == [8] and mon.summary["flagged"].tolist() == [0]
    later = pd.concat([s, pd.Series([9.0], index=[idx[-1] + pd.Timedelta("1D")], name="x")])
    new = mon.update(later)
    assert new["timestamp"].tolist() == [idx[-1] + pd.Timedelta("1D")] and bool(new["is_anomaly"].iloc[0])
    row = mon.summary.iloc[0]
    assert (row["given"], row["scored"], row["skipped"], row["late"], row["missing"]) == (11, 1, 9, 1, 1)
    assert row["last_timestamp"] == idx[-1] + pd.Timedelta("1D")


def test_any_metric_name_gets_a_safe_file_and_an_index_entry(tmp_path):
    names = ["../../escape", "a/b", "cost (USD) ü", "x" * 300, ".hidden"]
    idx = pd.date_range("2024-01-01", periods=20, freq="D")
    long = pd.DataFrame({"unique_id": np.repeat(names, 20), "ds": np.tile(idx, len(names)),
                         "y": np.tile(np.arange(20.0), len(names))})
    mon = AnomalyMonitor.open(tmp_path / "s")
    out = mon.update(long, metrics=names[:3])
    assert sorted(set(out["metric"])) == sorted(names[:3])
    mon.update(long)
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    index = json.loads((tmp_path / "s" / "index.json").read_text())["metrics"]
    assert set(index) == set(names) and set(index.values()) <= set(files)
    assert all("/" not in f and not f.startswith(".") or f == ".lock" for f in files)
    assert not list(tmp_path.glob("*.npz")) and not any(".tmp" in f for f in files)


def _update_in_child(state_dir: str, n: int) -> pd.DataFrame:
    return AnomalyMonitor.open(state_dir, rest=10).update(_series().iloc[:n])


def test_two_processes_and_a_stale_monitor_never_score_a_point_twice(tmp_path):
    y = _series()
    AnomalyMonitor.open(tmp_path, rest=10).update(y.iloc[:400])
    stale = AnomalyMonitor.open(tmp_path)                    # loaded now, updated by others below
    with multiprocessing.get_context("fork").Pool(2) as pool:
        a, b = pool.starmap(_update_in_child, [(str(tmp_path), 1000), (str(tmp_path), 1000)])
    rest = stale.update(y)
    got = pd.concat([a, b]).sort_values("timestamp")
    assert len(got) == y.iloc[400:1000].notna().sum() and not got["timestamp"].duplicated().any()
    assert len(rest) == y.iloc[1000:].notna().sum()
    scores = np.concatenate([got["score"].to_numpy(), rest["score"].to_numpy()])
    np.testing.assert_array_equal(scores, _reference(y.to_numpy(), 400)[y.iloc[:400].notna().sum():])


def test_bad_input_gives_one_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(WorkbenchError, match="cannot create the monitor state folder"):
        AnomalyMonitor.open(blocker / "state")
    with pytest.raises(WorkbenchError, match="sensitivity"):
        AnomalyMonitor.open(tmp_path, sensitivity="extreme")
    with pytest.raises(WorkbenchError, match="margin"):
        AnomalyMonitor.open(tmp_path, margin=-1)
    mon = AnomalyMonitor.open(tmp_path / "s")
    s = _series(500)
    mon.update(s)
    with pytest.raises(WorkbenchError, match="with a time zone"):
        mon.update(s.tz_localize(None))
    with pytest.raises(WorkbenchError, match="not columns"):
        mon.update(s.to_frame(), metrics=["nope"])
    state = next((tmp_path / "s").glob("*.npz"))
    state.write_bytes(b"garbage")
    with pytest.raises(WorkbenchError, match="delete it to start metric 'latency_p95' over"):
        AnomalyMonitor.open(tmp_path / "s")
    with pytest.raises(WorkbenchError, match="AnomalyMonitor.open"):
        AnomalyMonitor(tmp_path).update(s)
