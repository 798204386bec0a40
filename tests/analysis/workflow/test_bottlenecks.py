"""``bottleneck_table``: the planted incident tops the bottlenecks of the 1M sample (slow), events
without any latency, and events without a model."""
from __future__ import annotations

import pandas as pd
import pytest
from workflow_helpers import make_events

from analytics_lib import bottleneck_table
from analytics_lib.data.synthetic.events import synthetic_events


@pytest.mark.slow
def test_truth_incident_tops_bottlenecks(big):
    ev, truth = big
    b = bottleneck_table(ev, by=("event_type", "model", "team"), granularity="D")
    steps = b[b["kind"] == "step"]
    top = steps[steps["severity"].isin(["high", "critical"])]
    days = pd.date_range(truth.incident_start, truth.incident_end, freq="D", inclusive="left")
    assert len(top) >= len(days)
    assert b.iloc[0]["kind"] == "step" and b.iloc[0]["rank"] == 1
    for _, row in top.iterrows():
        etype, model, team = row["name"].split(" / ")
        assert (model, team) == (truth.incident_model, truth.incident_team), row["name"]
        assert truth.incident_start <= row["period"] < truth.incident_end, row["period"]
    first = b.head(len(days))
    assert (first["name"] == f"generation / {truth.incident_model} / {truth.incident_team}").all()
    assert set(first["period"]) == set(days)


def test_bottlenecks_without_any_latency():
    ev = make_events([("2025-01-05T10:00:00Z", "u1", "session_start", "s1"),
                      ("2025-01-05T10:01:00Z", "u1", "edit", "s1")] * 15)
    ev = ev.assign(event_id=[f"e{i}" for i in range(len(ev))])
    out = bottleneck_table(ev, min_events=1)
    assert set(out["kind"]) == {"transition"}


def test_bottleneck_keeps_events_without_a_model():
    ev = synthetic_events(30_000, days=28, end="2025-06-30", seed=0).events
    b = bottleneck_table(ev, by=("event_type", "model"), min_events=1)
    steps = b[b["kind"] == "step"]
    assert any(name.startswith("search / (none)") for name in steps["name"])
    n_lat = int(ev["latency_ms"].notna().sum())
    assert int(steps["events"].sum()) == n_lat
