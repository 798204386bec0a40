"""Churn metrics and reliability tables against scikit-learn and hand counts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.predict.evaluation import churn_metrics, reliability_table


def test_churn_metrics_match_scikit_learn_and_hand_counts():
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.15
    p = 1 / (1 + np.exp(1.8 - 1.5 * y - rng.standard_normal(400)))
    m = churn_metrics(pd.DataFrame({"churned": y, "p": p}), models=["p"], top_k=40).iloc[0]
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    top = y[np.argsort(-p, kind="stable")[:40]]
    assert m["precision_at_k"] == top.mean() and m["recall_at_k"] == top.sum() / y.sum()
    rel = reliability_table(pd.DataFrame({"churned": y, "p": p}), models=["p"], n_bins=5)
    assert rel["users"].sum() == 400 and rel["churners"].sum() == y.sum() and len(rel) == 5
    assert ((rel["ci_low"] <= rel["observed_rate"]) & (rel["observed_rate"] <= rel["ci_high"])).all()
    tied = reliability_table(pd.DataFrame({"churned": y, "p": np.round(p, 1)}), models=["p"], n_bins=10)
    assert tied["users"].sum() == 400                                    # equal scores share a bin:
    assert (tied["p_low"].to_numpy()[1:] > tied["p_high"].to_numpy()[:-1]).all()
    with pytest.raises(WorkbenchError, match="'q' is not a column"):
        churn_metrics(pd.DataFrame({"churned": y, "p": p}), models=["q"])
