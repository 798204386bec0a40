"""The four keys on a hand-made log (every figure computed by hand), the tiers' boundaries and
Four Keys' deployment-frequency buckets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib.analysis.delivery import change_lead_times, dora_metrics, dora_summary, frequency_bucket, tier
from analytics_lib.data.delivery import validate_delivery


@pytest.fixture
def data():
    changes = pd.DataFrame({"change_id": ["c1", "c2", "c3", "c4"], "team": "a",
                            "committed_at": ["2025-06-02T00:00Z", "2025-06-02T06:00Z", "2025-06-03T00:00Z",
                                             "2025-06-09T00:00Z"]})
    deployments = pd.DataFrame({
        "deploy_id": ["f1", "d1", "d2", "d3"], "team": "a", "status": ["failure", "success", "success", "success"],
        "deployed_at": ["2025-06-02T10:00Z", "2025-06-02T12:00Z", "2025-06-04T00:00Z", "2025-06-10T00:00Z"],
        "changes": ["c1", "c1 c2", "c3 c1", "c4"]})
    incidents = pd.DataFrame({"incident_id": ["i1", "i2", "i3"], "deploy_id": ["d2", "d2", "d3"],
                              "opened_at": ["2025-06-04T01:00Z", "2025-06-04T02:00Z", "2025-06-10T01:00Z"],
                              "resolved_at": ["2025-06-04T04:00Z", "2025-06-04T03:00Z", None]})
    return validate_delivery(changes, deployments, incidents)


def test_the_four_keys_by_hand(data):
    lt = change_lead_times(data).set_index("change_id")["lead_time_hours"]
    assert lt.to_dict() == {"c1": 12.0, "c2": 6.0, "c3": 24.0, "c4": 24.0}  # c1: its first *successful* deployment
    m = dora_metrics(data, granularity="W").set_index("period")
    w1, w2 = m.loc[pd.Timestamp("2025-06-02", tz="UTC")], m.loc[pd.Timestamp("2025-06-09", tz="UTC")]
    assert (w1["deployments"], w1["changes"], w1["lead_time_hours"]) == (2, 3, 12.0)  # median of 12, 6, 24
    assert w1["deploys_per_day"] == pytest.approx(2 / 7)
    assert (w1["failed_deployments"], w1["change_failure_rate"]) == (1, 0.5)  # d2 caused two incidents: one failure
    assert (w1["incidents_restored"], w1["time_to_restore_hours"]) == (2, 2.0)  # median of 3 h and 1 h
    assert (w2["change_failure_rate"], w2["incidents_restored"]) == (1.0, 0)  # i3 is still open
    assert np.isnan(w2["time_to_restore_hours"])


def test_tiers_and_buckets(data):
    assert [tier("lead_time_hours", h) for h in (23.9, 24.0, 24 * 7, 24 * 30)] == ["elite", "high", "medium", "low"]
    assert [tier("change_failure_rate", r) for r in (0.05, 0.06, 0.15, 0.16)] == ["elite", "high", "medium", "low"]
    assert [tier("time_to_restore_hours", h) for h in (0.5, 1.0, 30.0, 24 * 7)] == ["elite", "high", "medium", "low"]
    assert tier("lead_time_hours", float("nan")) is None
    days = pd.date_range("2025-06-02", periods=56)
    assert frequency_bucket(pd.Series([1, 1, 1, 0, 0, 0, 0] * 8, index=days)) == "daily"
    assert frequency_bucket(pd.Series([1, 0, 0, 0, 0, 0, 0] * 8, index=days)) == "weekly"
    assert frequency_bucket(pd.Series(np.isin(np.arange(56), [0, 30]).astype(int), index=days)) == "monthly"
    assert frequency_bucket(pd.Series(np.r_[1, np.zeros(55)], index=days)) == "yearly"  # one month of two
    assert frequency_bucket(pd.Series(np.zeros(56), index=days)) == "yearly"
    s = dora_summary(data, start="2025-06-02", end="2025-06-16").iloc[0]
    assert (s["deployments"], s["lead_time_hours"], s["change_failure_rate"]) == (3, 18.0, 2 / 3)
    assert (s["frequency"], s["lead_time_tier"], s["change_failure_tier"]) == ("weekly", "elite", "low")
