"""The adoption effect under staggered timing: the planted effect is recovered, no effect is
found where none is planted, a pre-trend is caught, and a before/after comparison is shown to be
biased by the common trend."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib.analysis.delivery import adoption_effect, adoption_from_usage, delivery_panel
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.data.delivery import validate_delivery
from analytics_lib.data.synthetic.delivery import synthetic_delivery


def test_the_planted_effect_is_inside_the_interval_and_the_others_are_not_found():
    s = synthetic_delivery(seed=3)
    e = adoption_effect(s.data).effects.set_index("metric")
    assert e.loc["lead_time", "relative_low"] < -0.15 < e.loc["lead_time", "relative_high"]
    assert e.loc["lead_time", "verdict"] == "better with the assistant"
    for m in ("deployment_frequency", "change_failure_rate", "time_to_restore"):  # nothing planted
        assert e.loc[m, "relative_low"] < 0 < e.loc[m, "relative_high"], m
    assert (e["treated_teams"] == 6).all() and (e["control_teams"] == 4).all()


def test_no_effect_planted_none_found():
    s = synthetic_delivery(seed=4, effects={"lead_time": 0.0})
    r = adoption_effect(s.data, metrics=["lead_time"]).effects.iloc[0]
    assert r["relative_low"] < 0 < r["relative_high"] and r["verdict"] == "no significant effect"


def test_a_pre_trend_is_caught():
    """The adopting teams' lead times rise over the four weeks before they adopt (they adopted
    because they were struggling): the check fails and the verdict says so."""
    s = synthetic_delivery(seed=1, effects={"lead_time": 0.0}, malformed=False)
    raw = s.raw
    when = raw["deployments"]["team"].map(s.data.adoption.set_index("team")["adopted_at"])
    weeks_before = (when - raw["deployments"]["deployed_at"]).dt.days / 7
    slowed = raw["deployments"].loc[weeks_before.between(0, 4), "deploy_id"]
    shipped = raw["links"][raw["links"]["deploy_id"].isin(slowed)]["change_id"]
    ch = raw["changes"].copy()
    hit = ch["change_id"].isin(shipped)
    ch.loc[hit, "committed_at"] = pd.to_datetime(ch.loc[hit, "committed_at"], utc=True) - pd.Timedelta(hours=60)
    data = validate_delivery(ch, raw["deployments"], raw["incidents"], links=raw["links"], adoption=raw["adoption"])
    r = adoption_effect(data, metrics=["lead_time"]).effects.iloc[0]
    assert r["pretrend_p"] < 0.05 and r["verdict"] == "pre-trends differ: not credible"


def test_a_before_after_comparison_is_biased_by_the_common_trend():
    """Every team's lead time falls 10 % over the year; with no assistant effect, the adopting
    teams' before/after difference still shows a drop, the estimator does not."""
    naive, ours = [], []
    for seed in range(5):
        e = adoption_effect(synthetic_delivery(seed=seed, effects={"lead_time": 0.0}).data,
                            metrics=["lead_time"]).effects.iloc[0]
        naive.append(e["naive_relative"])
        ours.append(e["relative"])
    assert np.mean(naive) < -0.03 and abs(np.mean(ours)) < abs(np.mean(naive))


def test_adoption_from_usage_and_the_panel():
    ev = pd.DataFrame({"team": ["a"] * 5 + ["b"], "user_id": ["u1", "u2", "u3", "u1", "u4", "u9"],
                       "ts": pd.to_datetime(["2025-06-01", "2025-06-01", "2025-06-02", "2025-06-02", "2025-06-02",
                                             "2025-06-02"], utc=True)})
    a = adoption_from_usage(ev, min_users=3)
    assert a.to_dict("records") == [{"team": "a", "adopted_at": pd.Timestamp("2025-06-02", tz="UTC")}]
    s = synthetic_delivery(seed=0)
    p = delivery_panel(s.data, s.data.adoption)
    # the week a team adopted part-way is dropped; the next is event time 0
    first = p[p["team"] == "team-a"].set_index("period")
    when = s.data.adoption.set_index("team").loc["team-a", "adopted_at"]
    week = when.normalize() - pd.Timedelta(days=when.day_of_week)
    assert bool(first.loc[week, "partial"]) == (when > week)
    assert first.loc[week + pd.Timedelta(days=7), "event_time"] == 0


def test_usage_intensity_and_clear_errors():
    from analytics_lib.data.synthetic.events import synthetic_events

    ev = synthetic_events(60_000, days=120, end="2025-06-30", seed=0).events
    from analytics_lib.data.synthetic.delivery import authors_from_usage, plant_adoption

    s = synthetic_delivery(end="2025-06-30", authors=authors_from_usage(ev), seed=0)
    usage = plant_adoption(ev, s.data.adoption)
    r = adoption_effect(s.data, usage=usage, metrics=["lead_time"])
    panel = r.panel
    assert panel.loc[panel["treated"], "intensity"].dropna().between(0, 1).all()
    assert panel.loc[panel["adopted_at"].isna(), "intensity"].fillna(0).eq(0).all()  # never-adopters never use it
    assert r.intensity["metric"].tolist() == ["lead_time"] and "developers" in r.intensity["unit"].iloc[0]
    with pytest.raises(WorkbenchError, match="unknown delivery metric"):
        adoption_effect(s.data, metrics=["speed"])
    late = s.data.adoption.assign(adopted_at=pd.Timestamp("2020-01-01", tz="UTC"))
    with pytest.raises(WorkbenchError, match="no team-period|no untreated"):
        adoption_effect(s.data, late.assign(team=late["team"]).pipe(
            lambda a: pd.concat([a, pd.DataFrame({"team": ["platform", "mobile", "data", "payments"],
                                                  "adopted_at": pd.Timestamp("2020-01-01", tz="UTC")})])))
