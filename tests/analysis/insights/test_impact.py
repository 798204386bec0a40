"""Business-impact rules fire in the bad direction only, and the outlook finds the day a limit is crossed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from insights_helpers import T90

from analytics_lib import WorkbenchError
from analytics_lib.analysis.insights.impact import ImpactRule, impact_table, outlook_table


def test_impact_rules_fire_in_the_bad_direction_only():
    k = pd.DataFrame({"latency_p95": np.r_[np.full(28, 4000.0), np.full(7, 6000.0)],
                      "events": np.r_[np.full(28, 900.0), np.full(7, 1200.0)]}, index=T90[:35])
    rules = [ImpactRule("latency_p95", "up", relative=0.2), ImpactRule("events", "down", relative=0.2)]
    t = impact_table(k, rules=rules).set_index("metric")
    assert bool(t.loc["latency_p95", "breached"]) and t.loc["latency_p95", "multiple"] == pytest.approx(2.5)
    assert t.loc["latency_p95", "severity"] == "high" and t.loc["latency_p95", "p_value"] < 0.001
    assert not t.loc["events", "breached"]  # throughput went up
    with pytest.raises(WorkbenchError, match="direction"):
        ImpactRule("events", "sideways", relative=0.1)
    with pytest.raises(WorkbenchError, match="relative= and/or absolute="):
        ImpactRule("events", "down")


def test_outlook_finds_the_day_a_limit_is_crossed():
    k = pd.DataFrame({"events": 1000 + 10.0 * np.arange(70) + 100 * (T90[:70].day_of_week < 5)}, index=T90[:70])
    row = outlook_table(k, metrics=["events"], horizon=14, limits={"events": 1800}).iloc[0]
    assert row["growth"] > 0 and row["crossing"] is not None and row["p_exceed"] > 0.5
    assert row["crossing"] >= T90[70].tz_localize(None)
