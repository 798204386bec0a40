"""Anomaly benchmark: the novelty detector on the 47 shared NAB files against NAB's reference detectors.

    python benchmarks/bench_anomaly.py [--nab ../shared/data/real/nab] [--repeat 3] [--noise 200000] [--json]

Target (issue "Anomaly detection that holds up on real operational metrics"): a normalised NAB
standard score of at least 65 with one parameter set on the 47 files, and at least 100,000
points/s per core for scoring whole series and for ``update`` in chunks.

* **ours**: ``NoveltyDetector(rest=nab_rest(n)).fit(values).update(values)`` per file (the file's
  min/max as NAB gives every detector), scored with :mod:`analytics_lib.analysis.anomaly.nab`
  (NAB's exact scoring: corpus-optimised threshold per profile, normalised 0-100). Also: the
  anomaly probability of those scores (``anomaly_probability``) as the anomaly score, and the
  robust rolling z baseline (``|score|`` of the ``rolling_z`` method, mapped to
  ``|z| / (1 + |z|)``, a monotone map into [0, 1) as NAB wants).
* **reference detectors**: Numenta HTM re-scored from its published per-row results (at NAB's
  threshold 0.542187690735 for the standard profile; ``numenta_max_abs_diff`` is the largest
  per-file difference to NAB's published scores, a check of the scorer), and randomCutForest,
  windowedGaussian and twitterADVec normalised from NAB's published per-file scores.
* **speed**: best of ``--repeat`` interleaved runs of the whole-series scoring of the 47 files
  against the ``rolling_z`` detector on the same files (the reference for the ratio); plus
  ``update`` in chunks of 100 points, the scalar ``update_one`` and ``anomaly_probability``.
* **calibration**: false alarms at probability >= 0.999 on ``--noise`` points of seeded white
  noise, for the robust z and the novelty scores (nominal 0.1 %).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT, Report, interleaved, parser

from analytics_lib.analysis.anomaly.nab import (nab_corpus, nab_corpus_score, nab_normalize, nab_reference_scores,
                                                nab_results)
from analytics_lib.analysis.anomaly.calibration import anomaly_probability
from analytics_lib.analysis.anomaly.online import NoveltyDetector, nab_rest
from analytics_lib.analysis.anomaly.scores import _rolling_z_detector
from analytics_lib.analysis.anomaly.series import MetricSeries, score_threshold

NUMENTA_THRESHOLD = 0.542187690735      # NAB's optimum for numenta/standard over its 58 files
PROFILES = {"standard": "nab_standard", "reward_low_FP_rate": "nab_reward_low_fp",
            "reward_low_FN_rate": "nab_reward_low_fn"}
REFERENCES = ("randomCutForest", "windowedGaussian", "twitterADVec")


def novelty(values: np.ndarray) -> np.ndarray:
    return NoveltyDetector(rest=nab_rest(len(values))).fit(values).update(values)


def robust_z(ts: pd.Series, values: np.ndarray) -> np.ndarray:
    """``|score|`` of the rolling_z method on the file's rows as they are (repeated timestamps kept)."""
    m = MetricSeries("value", pd.DatetimeIndex(ts), values, np.ones(len(values)))
    return np.abs(_rolling_z_detector(m, score_threshold("medium")).score)


def scored(corpus: dict, scores: dict, profile: str = "standard", threshold: float | None = None):
    per_file = {k: (d.series["timestamp"], scores[k], d.windows) for k, d in corpus.items()}
    return nab_corpus_score(per_file, profile=profile, threshold=threshold)


def rate(points: int, seconds: float) -> float:
    return points / seconds if seconds > 0 else float("inf")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--nab", type=Path, default=ROOT.parent / "shared" / "data" / "real" / "nab")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--noise", type=int, default=200_000, help="white-noise points for the calibration")
    args = p.parse_args()

    corpus = nab_corpus(args.nab)
    values = {k: d.series["value"].to_numpy(dtype=float) for k, d in corpus.items()}
    n_points = sum(len(v) for v in values.values())

    # ---- speed: whole series, ours vs the rolling_z detector on the same files
    ours_m, ref_m = interleaved(args.repeat, lambda: {k: novelty(v) for k, v in values.items()},
                                lambda: {k: robust_z(corpus[k].series["timestamp"], v) for k, v in values.items()})
    nov = {k: novelty(v) for k, v in values.items()}
    z = {k: robust_z(corpus[k].series["timestamp"], v) for k, v in values.items()}

    def chunked(size: int) -> float:
        t0 = time.perf_counter()
        for v in values.values():
            det = NoveltyDetector(rest=nab_rest(len(v))).fit(v)
            for i in range(0, len(v), size):
                det.update(v[i:i + size])
        return time.perf_counter() - t0

    chunk_s = min(chunked(100) for _ in range(args.repeat))
    scalar_keys = list(values)[:10]
    t0 = time.perf_counter()
    for k in scalar_keys:
        det = NoveltyDetector(rest=nab_rest(len(values[k]))).fit(values[k])
        for x in values[k].tolist():
            det.update_one(x)
    scalar_s = time.perf_counter() - t0
    scalar_n = sum(len(values[k]) for k in scalar_keys)
    t0 = time.perf_counter()
    prob = {k: anomaly_probability(s) for k, s in nov.items()}
    prob_s = time.perf_counter() - t0

    # ---- NAB scores
    ours = {prof: scored(corpus, nov, prof) for prof in PROFILES}
    prob_std = scored(corpus, prob)
    z_std = scored(corpus, {k: np.nan_to_num(s / (1 + s)) for k, s in z.items()})
    numenta_rows = {k: r["anomaly_score"].to_numpy() for k, r in nab_results(args.nab, "numenta").items()}
    numenta = scored(corpus, numenta_rows, threshold=NUMENTA_THRESHOLD)
    numenta_other = {prof: scored(corpus, numenta_rows, prof).score for prof in PROFILES if prof != "standard"}
    pub = nab_reference_scores(args.nab, "numenta")
    merged = numenta.files.merge(pub, on="File", suffixes=("", "_nab"), validate="1:1")
    numenta_diff = float(np.abs(merged["Score"] - merged["Score_nab"]).max())
    null, perfect = numenta.null, numenta.perfect
    refs = {d: nab_normalize(float(nab_reference_scores(args.nab, d)["Score"].sum()), null=null, perfect=perfect)
            for d in REFERENCES}

    # ---- calibration on white noise
    noise = np.random.default_rng(0).normal(size=args.noise)
    t_noise = pd.date_range("2024-01-01", periods=len(noise), freq="min")
    z_noise = robust_z(pd.Series(t_noise), noise)
    false_z = float((anomaly_probability(z_noise)[1000:] >= 0.999).mean())
    false_nov = float((anomaly_probability(novelty(noise))[1000:] >= 0.999).mean())

    r = Report(f"anomaly detection: novelty detector on {len(corpus)} NAB files ({n_points:,} points)")
    r.add("NAB standard, normalised", ours["standard"].score, numenta.score, ours["standard"].score / numenta.score,
          ">= 65 (reference: Numenta HTM)")
    for prof in ("reward_low_FP_rate", "reward_low_FN_rate"):
        r.add(f"NAB {prof}", ours[prof].score, numenta_other[prof], ours[prof].score / numenta_other[prof],
              "numenta: threshold optimised on these files")
    r.add("NAB standard, anomaly_probability(novelty)", prob_std.score, numenta.score, prob_std.score / numenta.score)
    r.add("NAB standard, rolling_z |z| (baseline)", z_std.score, numenta.score, z_std.score / numenta.score)
    for d in REFERENCES:
        r.add(f"NAB standard, {d} (published)", ours["standard"].score, refs[d], ours["standard"].score / refs[d])
    r.add("numenta re-scored vs published, max |diff|", numenta_diff, None, None, "< 1e-6")
    r.add("whole series, points/s (ref: rolling_z)", rate(n_points, ours_m.seconds), rate(n_points, ref_m.seconds),
          ref_m.seconds / ours_m.seconds, ">= 100,000")
    r.add("update in chunks of 100, points/s", rate(n_points, chunk_s), rate(n_points, ref_m.seconds),
          ref_m.seconds / chunk_s * 1.0, ">= 100,000")
    r.add("update_one (scalar), points/s", rate(scalar_n, scalar_s), None, None, ">= 100,000")
    r.add("anomaly_probability, points/s", rate(n_points, prob_s))
    r.add("false alarms at p >= 0.999, white noise, robust z, %", 100 * false_z, 0.1, false_z / 0.001, "near 0.1 %")
    r.add("false alarms at p >= 0.999, white noise, novelty, %", 100 * false_nov, 0.1, false_nov / 0.001, "<= 0.1 %")
    r.figures = {
        "nab_standard": round(ours["standard"].score, 3),
        "nab_reward_low_fp": round(ours["reward_low_FP_rate"].score, 3),
        "nab_reward_low_fn": round(ours["reward_low_FN_rate"].score, 3),
        "nab_thresholds": {PROFILES[k]: round(v.threshold, 4) for k, v in ours.items()},
        "nab_standard_probability": round(prob_std.score, 3),
        "nab_standard_rolling_z": round(z_std.score, 3),
        "seconds": round(ours_m.seconds, 4),
        "points": n_points,
        "points_per_s": round(rate(n_points, ours_m.seconds)),
        "points_per_s_chunks_100": round(rate(n_points, chunk_s)),
        "points_per_s_scalar": round(rate(scalar_n, scalar_s)),
        "points_per_s_probability": round(rate(n_points, prob_s)),
        "rolling_z_seconds": round(ref_m.seconds, 4),
        "rolling_z_points_per_s": round(rate(n_points, ref_m.seconds)),
        "speedup_vs_rolling_z": round(ref_m.seconds / ours_m.seconds, 2),
        "numenta_max_abs_diff": numenta_diff,
        "numenta": round(numenta.score, 3),
        "numenta_reward_low_fp": round(numenta_other["reward_low_FP_rate"], 3),
        "numenta_reward_low_fn": round(numenta_other["reward_low_FN_rate"], 3),
        **{d: round(v, 3) for d, v in refs.items()},
        "false_alarm_rate_rolling_z": false_z,
        "false_alarm_rate_novelty": false_nov,
        "peak_rss_mb": round(ours_m.peak_rss_mb, 1),
    }
    r.emit(args.json)


if __name__ == "__main__":
    main()
