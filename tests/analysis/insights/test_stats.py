"""Insight statistics checked against references: Mann-Kendall (Kendall's tau, Theil-Sen),
Benjamini-Hochberg (statsmodels), false discovery rate control of correlations among 200 series
(with and without real signal), co-movement rather than shared trends, and trend tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from insights_helpers import T90
from scipy import stats

from analytics_lib import WorkbenchError
from analytics_lib.analysis.insights.stats import benjamini_hochberg, correlation_table, mann_kendall, trend_table


def test_mann_kendall_matches_kendall_tau_and_theil_sen():
    rng = np.random.default_rng(0)
    x = np.arange(40.0)
    y = 0.3 * x + rng.normal(0, 3, 40)
    mk = mann_kendall(y)
    tau, _ = stats.kendalltau(x, y)
    assert mk.tau == pytest.approx(tau)
    assert mk.sen_slope == pytest.approx(stats.theilslopes(y, x)[0])
    assert mk.var_s == pytest.approx(40 * 39 * 85 / 18)
    assert mk.p_value == pytest.approx(2 * stats.norm.sf((abs(mk.s) - 1) / np.sqrt(mk.var_s)))
    ties = mann_kendall([1, 1, 2, 2, 2, 3, 4, 4])
    assert ties.var_s == pytest.approx((8 * 7 * 21 - (2 * 1 * 9 + 3 * 2 * 11 + 2 * 1 * 9)) / 18)
    with pytest.raises(WorkbenchError, match="at least 3"):
        mann_kendall([1.0, np.nan, 2.0])


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(1).uniform(size=500) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    q = benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02)
    with pytest.raises(WorkbenchError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, 1.5])


def _random_kpis(rng, n=60, k=200) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, k)), index=T90[:n], columns=[f"m{i:03d}" for i in range(k)])


def test_correlations_of_200_independent_series_stay_within_the_false_discovery_rate():
    """All 19,900 pairs are null: any discovery is false, so FDR = P(any discovery) <= 0.05."""
    replicates = 25
    any_discovery = sum(bool(correlation_table(_random_kpis(np.random.default_rng(r)))["significant"].any())
                        for r in range(replicates))
    assert any_discovery / replicates <= 0.05


def test_correlations_keep_the_fdr_with_real_signal_and_find_it():
    fdp, power = [], []
    for r in range(6):
        rng = np.random.default_rng(100 + r)
        k = _random_kpis(rng, n=90)
        for j in range(0, 40, 2):  # 20 truly correlated pairs among 200 series
            k.iloc[:, j + 1] = 0.6 * k.iloc[:, j] + 0.8 * rng.normal(size=90)
        c = correlation_table(k)
        found = set(zip(c.loc[c["significant"], "a"], c.loc[c["significant"], "b"]))
        true = {(f"m{j:03d}", f"m{j + 1:03d}") for j in range(0, 40, 2)}
        fdp.append(len(found - true) / max(len(found), 1))
        power.append(len(found & true) / len(true))
    assert np.mean(fdp) <= 0.05 and np.mean(power) >= 0.9


def test_correlation_is_about_co_movement_not_shared_trend_or_weekdays():
    rng = np.random.default_rng(2)
    weekly = 10.0 * (T90.day_of_week < 5)
    k = pd.DataFrame({"a": 100 + np.arange(90) + weekly + rng.normal(0, 1, 90),
                      "b": 50 + 2 * np.arange(90) + weekly + rng.normal(0, 1, 90)}, index=T90)
    assert not correlation_table(k)["significant"].any()
    assert correlation_table(k, detrend=False)["significant"].all()
    fam = pd.DataFrame({"events": k["a"], "sessions": k["a"] + rng.normal(0, 1, 90)}, index=T90)
    assert correlation_table(fam).empty  # definitional siblings are not insights
    assert len(correlation_table(fam, skip_families=False)) == 1


def test_trend_table_chooses_regression_or_mann_kendall():
    rng = np.random.default_rng(3)
    weekly = 20.0 * (T90.day_of_week < 5)
    k = pd.DataFrame({
        "linear": 100 + 0.5 * np.arange(90) + weekly + rng.normal(0, 2, 90),
        "curved": 100 + 40 * np.log1p(np.arange(90)) + rng.normal(0, 2, 90),
        "flat": 100 + weekly + rng.normal(0, 2, 90),
    }, index=T90)
    t = trend_table(k).set_index("metric")
    assert t.loc["linear", "method"] == "linear" and t.loc["linear", "slope"] == pytest.approx(0.5, abs=0.05)
    assert t.loc["linear", "r2"] > 0.9  # the weekday pattern is not counted against the line
    assert t.loc["curved", "method"] == "mann-kendall" and t.loc["curved", "significant"]
    assert not t.loc["flat", "significant"]
    assert t.loc["linear", "change_per_week"] == pytest.approx(t.loc["linear", "slope"] * 7 / k["linear"].mean())
