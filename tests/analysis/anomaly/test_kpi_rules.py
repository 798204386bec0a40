"""KPI alert rules: validation that names the rule and the key, and each kind judged on data with a
planted change (a spike for the anomaly rule, a ramp for the capacity rule, a threshold's edge)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib.analysis.anomaly.rules import evaluate_rules, parse_rules, rules_summary, state_changes
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.data.synthetic.events import synthetic_events

AT = "2025-07-01 06:00"


@pytest.fixture(scope="module")
def events():
    return synthetic_events(20_000, days=90, seed=3, end="2025-07-01", malformed_share=0).events


@pytest.mark.parametrize("rule, message", [
    ({"name": "a", "metric": "events"}, "give exactly one of above/below"),
    ({"name": "a", "metric": "events", "above": 1, "anomaly": "high"}, "give exactly one of above/below"),
    ({"name": "a", "metric": "events", "anomaly": "extreme"}, "rules[0] (a): anomaly:"),
    ({"name": "a", "metric": "events", "forecast": {"capacity": 10, "horizon": 0}}, "forecast.horizon 0"),
    ({"name": "a", "metric": "events", "forecast": 10}, "forecast must be {capacity"),
    ({"name": "a", "metric": "events", "above": "high"}, "rules[0] (a): above: 'high' must be a number"),
    ({"name": "a b", "metric": "events", "above": 1}, "name 'a b' must be letters"),
    ({"name": "a", "metric": "events", "abov": 1}, "unknown key 'abov' (did you mean 'above'?)"),
])
def test_a_bad_rule_is_named_with_its_key(rule, message):
    with pytest.raises(WorkbenchError) as err:
        parse_rules([rule])
    assert message in str(err.value)
    with pytest.raises(WorkbenchError, match="another rule has this name"):
        parse_rules([{"name": "a", "metric": "events", "above": 1}] * 2)


def test_a_threshold_fires_past_its_edge_on_the_last_complete_day(events):
    day = events[(events["ts"] >= "2025-06-30") & (events["ts"] < "2025-07-01")]
    n = len(day)
    t = evaluate_rules(events, [{"name": "at", "metric": "events", "above": n},
                                {"name": "over", "metric": "events", "above": n - 1},
                                {"name": "low", "metric": "events", "below": n + 1},
                                {"name": "ghost", "metric": "events", "above": 0, "team": "team-zz"}], at=AT)
    assert t.set_index("rule")["state"].to_dict() == {"at": "ok", "over": "firing", "low": "firing",
                                                      "ghost": "no data"}
    assert (t["day"] == "2025-06-30").all() and t.set_index("rule").loc["over", "value"] == n
    assert rules_summary(t).startswith("**2 of 4 rules firing.**")


def test_an_anomaly_rule_fires_on_a_planted_spike_only(events):
    rule = [{"name": "spike", "metric": "events", "anomaly": "medium"}]
    assert evaluate_rules(events, rule, at=AT)["state"].tolist() == ["ok"]
    last = events[(events["ts"] >= "2025-06-30") & (events["ts"] < "2025-07-01")]
    spiked = pd.concat([events] + [last.assign(event_id=last["event_id"].astype(str) + f"-{i}") for i in range(3)])
    t = evaluate_rules(spiked, rule, at=AT)
    assert t["state"].tolist() == ["firing"] and "unusual: expected" in t["message"].iloc[0]


def test_a_capacity_rule_fires_when_the_forecast_reaches_it(events):
    daily = events.groupby(events["ts"].dt.floor("D")).size()
    rng = np.random.default_rng(0)
    ramp = []  # 60 more days in which usage doubles, so the next 28 days pass the capacity
    for i, (day, n) in enumerate(daily.tail(60).items()):
        extra = events[events["ts"].dt.floor("D") == day].sample(frac=min(1.0, i / 60), random_state=int(rng.integers(1e6)))
        ramp.append(extra.assign(event_id=extra["event_id"].astype(str) + "-r"))
    grown = pd.concat([events, *ramp])
    peak = grown.groupby(grown["ts"].dt.floor("D")).size().tail(7).mean()
    rule = [{"name": "cap", "metric": "events", "forecast": {"capacity": float(peak * 1.15), "horizon": 28}}]
    t = evaluate_rules(grown, rule, at=AT)
    assert t["state"].tolist() == ["firing"] and "is forecast to reach" in t["message"].iloc[0]
    flat = evaluate_rules(events, rule, at=AT)
    assert flat["state"].tolist() == ["ok"]


def test_only_changes_of_state_are_told():
    a = pd.DataFrame({"rule": ["x", "y", "w"], "state": ["ok", "firing", "firing"]})
    b = pd.DataFrame({"rule": ["x", "y", "w", "z", "v"], "state": ["firing", "firing", "ok", "firing", "ok"]})
    got = state_changes(a, b)[["rule", "previous", "state"]].to_dict("records")
    assert got == [{"rule": "x", "previous": "ok", "state": "firing"},
                   {"rule": "w", "previous": "firing", "state": "ok"},
                   {"rule": "z", "previous": None, "state": "firing"}]
    assert state_changes(None, b)["rule"].tolist() == ["x", "y", "z"]
