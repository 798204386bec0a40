"""Experiments on the event log: the assignment table's bad rows are quarantined with reasons and
counts reconcile; on generated events with planted experiments the real effects are found inside
their intervals (accept rate, cost per accept, the latency guardrail breached) and the A/A test
finds nothing; a broken split, an unknown metric or experiment and a single variant stop with a
clear message."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.experiments import experiment_results, user_metrics, validate_assignments
from analytics_lib.data.synthetic.events import synthetic_events
from analytics_lib.data.synthetic.experiments import plant_experiments


@pytest.fixture(scope="module")
def planted():
    return plant_experiments(synthetic_events(400_000, days=56, end="2025-06-30", seed=1).events)


def test_bad_assignment_rows_are_quarantined_with_reasons():
    a = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3", None, "u5"],
                      "experiment": "x", "variant": ["a", "b", "a", "a", "b", "a", "a"],
                      "assigned_at": ["2025-06-01", "2025-06-01", "2025-06-03", "2025-06-02", "2025-06-01",
                                      "2025-06-01", "yesterday-ish"]})
    v = validate_assignments(a)
    assert len(v.assignments) + len(v.quarantine) == len(a)
    assert v.assignments["user_id"].tolist() == ["u2", "u3"]
    assert v.assignments.set_index("user_id").loc["u2", "assigned_at"] == pd.Timestamp("2025-06-02", tz="UTC")
    assert sorted(v.quarantine["reason"]) == ["conflicting_assignment", "conflicting_assignment",
                                              "duplicate_assignment", "missing_required", "unparsable_timestamp"]
    with pytest.raises(WorkbenchError, match="lacks the column"):
        validate_assignments(a.drop(columns="variant"))


def test_user_metrics_count_from_the_assignment_on(planted):
    u = user_metrics(planted.events, planted.assignments, "prompt-v2")
    assert len(u) == int((planted.assignments["experiment"] == "prompt-v2").sum())
    ev = planted.events
    one = u.iloc[0]
    mine = ev[(ev["user_id"].astype(str) == one["user_id"]) & (ev["ts"] >= one["assigned_at"])]
    assert one["accepts"] == (mine["event_type"] == "accept").sum()
    assert one["generations"] == (mine["event_type"] == "generation").sum()


def test_planted_effects_are_found_within_their_intervals(planted):
    expected = planted.truth["prompt-v2"]["expected"]
    r = experiment_results(planted.events, planted.assignments, "prompt-v2",
                           metrics=["accept_rate", "cost_per_accept", "satisfaction"], guardrails=["latency_ms"])
    e = r.effects.set_index("metric")
    for m in ("accept_rate", "cost_per_accept", "latency_ms"):
        assert e.loc[m, "relative_low"] < expected[m] < e.loc[m, "relative_high"], (m, e.loc[m].to_dict())
    assert e.loc["accept_rate", "decision"].startswith("treatment better than control")
    assert e.loc["latency_ms", "decision"].startswith("guardrail breached")
    assert e.loc["satisfaction", "decision"].startswith("no significant difference")
    assert e.loc["latency_ms", "variance_reduction"] > 0.1  # CUPED: a user's latency before predicts it after
    aa = experiment_results(planted.events, planted.assignments, "cache-aa", control="a")
    assert (aa.effects["p_value"] > 0.05).all() and not aa.effects["decision"].str.contains("better|worse").any()


def test_broken_splits_and_bad_requests_stop_with_a_message(planted):
    a = planted.assignments
    lost = a[(a["experiment"] == "prompt-v2") & (a["variant"] == "treatment")].iloc[::4].index
    with pytest.raises(WorkbenchError, match="sample ratio mismatch"):
        experiment_results(planted.events, a.drop(lost), "prompt-v2")
    with pytest.raises(WorkbenchError, match="unknown experiment metric"):
        experiment_results(planted.events, a, "prompt-v2", metrics=["accept_rat"])
    with pytest.raises(WorkbenchError, match="has no assignment rows"):
        experiment_results(planted.events, a, "nope")
    one = a[(a["experiment"] == "prompt-v2") & (a["variant"] == "control")]
    with pytest.raises(WorkbenchError, match="at least two variants"):
        experiment_results(planted.events, one, "prompt-v2")


def test_a_saved_cohort_restricts_funnels_retention_and_experiments_alike(planted, tmp_path):
    from analytics_lib import funnel_table, lifecycle_table, retention_matrix
    from analytics_lib.analysis.workflow import Cohort

    spec = {"name": "accepting-team-a", "window": {"start": "2025-05-05", "end": "2025-06-01"},
            "properties": {"team": ["team-a"]}, "behaviour": [{"event_type": "accept", "at_least": 3}]}
    cohort = Cohort.from_dict(spec)
    assert Cohort.load(cohort.save(tmp_path / "c.yaml")) == cohort
    ev = planted.events
    members = set(cohort.users(ev))
    window = ev[(ev["ts"] >= "2025-05-05") & (ev["ts"] < "2025-06-02")]
    accepts = window[window["event_type"] == "accept"].groupby(window["user_id"].astype(str), observed=True).size()
    team_a = set(window.loc[window["team"] == "team-a", "user_id"].astype(str))
    assert members == {u for u in team_a if accepts.get(u, 0) >= 3} and len(members) > 20
    sub = cohort.filter(ev)
    assert set(sub["user_id"].astype(str)) == members
    steps = ["session_start", "generation", "accept"]
    assert funnel_table(sub, steps, unit="user")["entities"].iloc[0] <= len(members)
    assert retention_matrix(sub, granularity="W")["size"].sum() <= len(members)
    assert len(lifecycle_table(sub, granularity="W")) > 0
    r = experiment_results(ev, planted.assignments, "prompt-v2", metrics=["accept_rate"], guardrails=[], cohort=cohort)
    assert sum(r.users.values()) == len(members & set(planted.assignments.loc[
        planted.assignments["experiment"] == "prompt-v2", "user_id"]))
    for bad, message in (({"name": "x", "properties": {"colour": ["red"]}}, "not one of"),
                         ({"name": "x", "behaviour": [{"event_type": "accept"}]}, "at_least and/or at_most"),
                         ({"properties": {}}, "needs a name"), ({"name": "x", "window": {"start": "soon"}}, "soon")):
        with pytest.raises(WorkbenchError, match=message):
            Cohort.from_dict(bad)


def test_assignments_with_a_repeated_index_and_a_control_without_errors(planted):
    a = planted.assignments
    twice = pd.concat([a.iloc[:50], a.iloc[50:100]])  # an index that repeats (two files appended)
    twice.index = [0] * len(twice)
    v = validate_assignments(twice)
    assert len(v.assignments) + len(v.quarantine) == 100
    from analytics_lib.analysis.experiments.analysis import _metric_row

    users = pd.DataFrame({"variant": ["control"] * 40 + ["treatment"] * 40,
                          "errors": [0.0] * 40 + [0.0, 1.0, 2.0, 1.0] * 10,
                          "requests": [10.0] * 80, "pre_errors": 0.0, "pre_requests": 0.0})
    row = _metric_row(users, (users["variant"] == "treatment").to_numpy(), "error_rate", "guardrail", "treatment",
                      alpha=0.05, cuped=False, tau=0.05)
    assert row["control"] == 0 and row["p_value"] < 0.05 and np.isfinite(row["high"])


def test_plan_from_the_store_variance_and_traffic(planted):
    from analytics_lib.analysis.experiments import plan_experiment, sample_size

    ev = planted.events[planted.events["ts"] < "2025-06-02"]  # the history before the experiments
    plan = plan_experiment(ev, "accept_rate", mde=0.05)
    assert plan["n_control"] == sample_size(plan["sd"], plan["mde_abs"]) == plan["n_treatment"]
    assert plan["mde_abs"] == pytest.approx(0.05 * plan["mean"]) and plan["days_needed"] >= 1
    finer = plan_experiment(ev, "accept_rate", mde=0.02)
    assert finer["users_needed"] > 5 * plan["users_needed"] and finer["days_needed"] >= plan["days_needed"]
    uneven = plan_experiment(ev, "latency_ms", mde=50.0, relative=False, treatment_share=0.2)
    assert uneven["n_treatment"] < uneven["n_control"]
    with pytest.raises(WorkbenchError, match="unknown experiment metric"):
        plan_experiment(ev, "nope", mde=0.1)
