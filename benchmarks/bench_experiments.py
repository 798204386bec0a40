"""Experiments (issue 22): sequential validity, coverage of planted effects, CUPED and speed.

    python benchmarks/bench_experiments.py [--seeds 20] [--aa 1000] [--events 1000000] [--json]

* **A/A over 20 looks**: ``--aa`` simulated A/A experiments, each looked at 20 times (100 new
  users per arm and look; one skewed value per user, lognormal like latency). Ours: the
  always-valid mSPRT p-value (``always_valid``, tau = 5 % of the control's mean) ever below 0.05;
  the reference: a fixed-horizon z-test at every look ever below 0.05 (peeking).
* **Planted effects**: ``--seeds`` generated logs (200k events, 56 days) with the planted
  experiments (``plant_experiments``), analysed by ``experiment_results``: the share of the
  intervals of accept rate, cost per accept and latency (prompt-v2) that cover the planted
  relative effect; ``cuped_variance_reduction``: the mean share of variance CUPED removes from
  latency, the metric whose pre-period predicts it.
* **Speed**: ``experiment_results`` (5 metrics, CUPED) on ``--events`` generated events with the
  planted experiments; the reference is the data pass alone (``user_metrics``).

JSON keys: ``aa_false_positive_rate``, ``naive_aa_false_positive_rate``, ``planted_effect_coverage``,
``cuped_variance_reduction``, ``seconds_1m`` (and ``user_metrics_seconds_1m``).
Targets: aa <= 0.05, coverage >= 0.93, 1M events in under 5 s.
"""
from __future__ import annotations

import numpy as np
from _common import Report, measured, parser

from analytics_lib.analysis.experiments import always_valid, experiment_results, user_metrics, validate_assignments
from analytics_lib.data.synthetic.events import synthetic_events
from analytics_lib.data.synthetic.experiments import plant_experiments

METRICS = ("accept_rate", "cost_per_accept", "latency_ms")


def aa_rates(n_exp: int, looks: int = 20, per_look: int = 100, seed: int = 0) -> tuple[float, float]:
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    ours = naive = 0
    for _ in range(n_exp):
        c = rng.lognormal(7.5, 0.6, (looks, per_look))
        t = rng.lognormal(7.5, 0.6, (looks, per_look))
        n = per_look * np.arange(1, looks + 1)
        cs, ts = c.cumsum(axis=0).sum(axis=1), t.cumsum(axis=0).sum(axis=1)
        c2, t2 = (c ** 2).cumsum(axis=0).sum(axis=1), (t ** 2).cumsum(axis=0).sum(axis=1)
        mc, mt = cs / n, ts / n
        var = (c2 / n - mc ** 2) / n + (t2 / n - mt ** 2) / n
        diff = mt - mc
        p, _, _ = always_valid(diff, var, tau=0.05 * mc[-1])
        ours += p.min() < 0.05
        naive += (2 * norm.sf(np.abs(diff) / np.sqrt(var)) < 0.05).any()
    return ours / n_exp, naive / n_exp


def planted(seeds: int) -> tuple[float, float, int]:
    covered = total = 0
    reductions = []
    for seed in range(seeds):
        p = plant_experiments(synthetic_events(200_000, days=56, end="2025-06-30", seed=100 + seed).events, seed=seed)
        r = experiment_results(p.events, p.assignments, "prompt-v2", metrics=list(METRICS[:2]),
                               guardrails=[METRICS[2]]).effects.set_index("metric")
        want = p.truth["prompt-v2"]["expected"]
        for m in METRICS:
            covered += r.loc[m, "relative_low"] <= want[m] <= r.loc[m, "relative_high"]
            total += 1
        reductions.append(r.loc["latency_ms", "variance_reduction"])
    return covered / total, float(np.mean(reductions)), total


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--aa", type=int, default=1000)
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args()
    r = Report("Experiments: always-valid tests, planted effects, CUPED, speed")
    aa, naive = aa_rates(args.aa)
    r.add(f"A/A false positives over 20 looks ({args.aa} experiments)", aa, naive, None, "<= 0.05 (ref: peeking)")
    coverage, reduction, n = planted(args.seeds)
    r.add(f"planted effects covered ({n} intervals, {args.seeds} logs)", coverage, None, None, ">= 0.93")
    r.add("CUPED variance reduction (latency)", reduction, None, None, "> 0")
    data = plant_experiments(synthetic_events(args.events, days=56, end="2025-06-30", seed=7).events)
    valid = validate_assignments(data.assignments).assignments
    with measured() as ref:
        user_metrics(data.events, valid, "prompt-v2")
    with measured() as ours:
        experiment_results(data.events, data.assignments, "prompt-v2", metrics=["accept_rate", "satisfaction",
                           "cost_per_accept"], guardrails=["latency_ms", "error_rate"])
    r.add(f"seconds, {len(data.events):,} events (ref: the per-user pass alone)", ours.seconds, ref.seconds,
          ours.seconds / ref.seconds, "< 5 s")
    r.figures.update({"aa_false_positive_rate": round(aa, 4), "naive_aa_false_positive_rate": round(naive, 4),
                      "planted_effect_coverage": round(coverage, 4), "cuped_variance_reduction": round(reduction, 4),
                      "seconds_1m": round(ours.seconds, 3), "user_metrics_seconds_1m": round(ref.seconds, 3)})
    r.emit(args.json)


if __name__ == "__main__":
    main()
