"""Experiment statistics against references and by simulation: Welch effects equal scipy's,
the delta-method variance of a ratio metric equals the bootstrap's, CUPED removes the variance
the pre-period explains and no effect, the SRM check stops a 52/48 split of 100k users, the
always-valid test keeps its error rate over 20 looks at every one of which a naive test is run
(and inflates it), its confidence sequence covers a planted effect, and the sample size delivers
its power."""
from __future__ import annotations

import numpy as np
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.experiments import (always_valid, check_srm, cuped, mean_effect, ratio_effect,
                                                ratio_variance, sample_size, srm_test)


def test_mean_effect_equals_welch():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(0)
    c, t = rng.normal(10, 3, 5_000), rng.normal(10.2, 4, 4_000)
    e = mean_effect(c, t)
    ref = ttest_ind(t, c, equal_var=False)
    assert e.diff == pytest.approx(t.mean() - c.mean())
    assert e.p_value == pytest.approx(ref.pvalue, rel=0.02)  # normal vs t with ~8,000 degrees of freedom
    assert e.low < e.diff < e.high and e.relative == pytest.approx(e.diff / c.mean())
    assert (e.n_control, e.n_treatment) == (5_000, 4_000)
    with pytest.raises(WorkbenchError, match="at least 2 per group"):
        mean_effect([1.0], [2.0, 3.0])


def test_ratio_variance_equals_the_bootstrap():
    rng = np.random.default_rng(1)
    den = rng.poisson(20, 3_000) + 1  # generations per user
    num = rng.binomial(den, rng.beta(4, 6, 3_000))  # accepts: each user has an own rate
    r, var = ratio_variance(num, den)
    boot = []
    for _ in range(400):
        i = rng.integers(0, len(num), len(num))
        boot.append(num[i].sum() / den[i].sum())
    assert r == pytest.approx(num.sum() / den.sum())
    assert var == pytest.approx(np.var(boot, ddof=1), rel=0.2)
    # per-event (binomial) variance ignores that a user's events go together: too small
    assert r * (1 - r) / den.sum() < 0.5 * var


def test_ratio_effect_intervals_cover_a_planted_lift():
    rng = np.random.default_rng(2)
    lift = np.minimum(rng.beta(4, 6, 2_000_000) * 1.1, 1).mean() - 0.4  # accept rate 0.40 -> about 0.44
    covered, found = 0, 0
    for _ in range(200):  # 1,000 users per group
        den_c, den_t = rng.poisson(20, 1_000) + 1, rng.poisson(20, 1_000) + 1
        num_c = rng.binomial(den_c, rng.beta(4, 6, 1_000))
        num_t = rng.binomial(den_t, np.minimum(rng.beta(4, 6, 1_000) * 1.1, 1))
        e = ratio_effect(num_c, den_c, num_t, den_t)
        covered += e.low < lift < e.high
        found += e.p_value < 0.05
    assert covered / 200 >= 0.92 and found / 200 > 0.8


def test_cuped_reduces_variance_without_moving_the_effect():
    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.normal(50, 10, n)  # the user's metric before the experiment
    treated = rng.random(n) < 0.5
    y = 0.8 * x + rng.normal(0, 6, n) + 2.0 * treated
    adj, theta = cuped(y, x)
    raw_e, adj_e = mean_effect(y[~treated], y[treated]), mean_effect(adj[~treated], adj[treated])
    assert theta == pytest.approx(0.8, abs=0.03)
    assert adj_e.low < 2.0 < adj_e.high and abs(adj_e.diff - raw_e.diff) < 3 * raw_e.se
    reduction = 1 - adj_e.se ** 2 / raw_e.se ** 2
    rho2 = np.corrcoef(x, y)[0, 1] ** 2
    assert reduction == pytest.approx(rho2, abs=0.03) and reduction > 0.5
    noise = rng.normal(0, 1, n)  # an unrelated covariate changes (almost) nothing
    assert mean_effect(*(lambda a: (a[~treated], a[treated]))(cuped(y, noise)[0])).se == pytest.approx(raw_e.se,
                                                                                                          rel=0.01)


def test_sample_ratio_mismatch_stops_the_analysis():
    with pytest.raises(WorkbenchError, match="sample ratio mismatch"):
        check_srm({"control": 52_000, "treatment": 48_000})
    assert check_srm({"control": 50_150, "treatment": 49_850}) > 0.001
    assert check_srm({"a": 33_500, "b": 66_500}, {"a": 1, "b": 2}) > 0.001
    with pytest.raises(WorkbenchError, match="have no users"):
        check_srm({"control": 10, "treatment": 0})
    with pytest.raises(WorkbenchError, match="at least two variants"):
        check_srm({"control": 10})
    stat, p = srm_test({"a": 100, "b": 100})
    assert stat == 0 and p == 1


def _looks(rng, n_exp: int, looks: int, per_look: int, effect: float, sd: float = 1.0):
    """Cumulative effect estimates and variances of ``n_exp`` experiments at each look."""
    c = rng.normal(0, sd, (n_exp, looks, per_look)).sum(axis=2).cumsum(axis=1)
    t = rng.normal(effect, sd, (n_exp, looks, per_look)).sum(axis=2).cumsum(axis=1)
    n = per_look * np.arange(1, looks + 1)
    return (t - c) / n, 2 * sd ** 2 / n


def test_always_valid_inference_keeps_its_error_rate_over_20_looks():
    from scipy.stats import norm

    rng = np.random.default_rng(4)
    diff, var = _looks(rng, 1_000, 20, 200, effect=0.0)
    rejected = [always_valid(d, var, tau=0.1)[0].min() < 0.05 for d in diff]
    naive = (2 * norm.sf(np.abs(diff) / np.sqrt(var)) < 0.05).any(axis=1)
    assert np.mean(rejected) <= 0.05 and np.mean(naive) > 0.15  # peeking with a fixed-horizon test: ~25 %
    # a planted effect: found, and covered by the confidence sequence at every look
    diff, var = _looks(rng, 300, 20, 200, effect=0.1)
    found = covered = 0
    for d in diff:
        p, lo, hi = always_valid(d, var, tau=0.1)
        found += p[-1] < 0.05
        covered += bool(((lo <= 0.1) & (0.1 <= hi)).all())
    assert found / 300 > 0.9 and covered / 300 >= 0.95
    with pytest.raises(WorkbenchError, match="tau"):
        always_valid(0.1, 0.01, tau=0)


def test_sample_size_delivers_its_power():
    from scipy.stats import norm

    rng = np.random.default_rng(5)
    n = sample_size(2.0, 0.25)
    assert n == pytest.approx((1.959964 + 0.841621) ** 2 * 4 * 2 / 0.0625, abs=1)
    c, t = rng.normal(0, 2, (2_000, n)), rng.normal(0.25, 2, (2_000, n))
    z = (t.mean(axis=1) - c.mean(axis=1)) / np.sqrt(c.var(axis=1, ddof=1) / n + t.var(axis=1, ddof=1) / n)
    power = np.mean(2 * norm.sf(np.abs(z)) < 0.05)
    assert power == pytest.approx(0.8, abs=0.03)
    assert sample_size(2.0, 0.25, ratio=2.0) < n
    with pytest.raises(WorkbenchError, match="sd > 0"):
        sample_size(0.0, 0.1)


def test_degenerate_inputs_stay_defined():
    # a planned variant without users is a mismatch of its own, an unplanned one is named
    with pytest.raises(WorkbenchError, match="have no users"):
        check_srm({"a": 500, "b": 500}, {"a": 1, "b": 1, "c": 1})
    with pytest.raises(WorkbenchError, match="no planned share"):
        check_srm({"a": 500, "b": 500, "x": 3}, {"a": 1, "b": 1})
    # a look without variance (no errors in either group yet) says nothing, and later looks still count
    p, lo, hi = always_valid([0.0, 0.0, 0.3], [0.0, 0.0, 0.001], tau=0.1)
    assert p[:2].tolist() == [1.0, 1.0] and p[2] < 0.05 and np.isinf(lo[0]) and np.isfinite(lo[2])
