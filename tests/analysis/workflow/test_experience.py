"""The experience tables the figures draw from: ``weekday_hour_table`` and
``session_latency_satisfaction`` (consistent with ``satisfaction_vs_performance``)."""
from __future__ import annotations

from analytics_lib import satisfaction_vs_performance
from analytics_lib.analysis.workflow.experience import session_latency_satisfaction, weekday_hour_table


def test_weekday_hour_table(events_20k):
    t = weekday_hour_table(events_20k)
    assert t.shape == (7, 24)
    assert t.index.tolist() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert int(t.to_numpy().sum()) == len(events_20k)
    mon_9 = ((events_20k["ts"].dt.day_of_week == 0) & (events_20k["ts"].dt.hour == 9)).sum()
    assert t.loc["Mon", 9] == mon_9
    assert weekday_hour_table(events_20k.iloc[:0]).to_numpy().sum() == 0


def test_session_latency_satisfaction_matches_the_statistics(events_20k):
    per = session_latency_satisfaction(events_20k)
    assert per.columns.tolist() == ["session_id", "model", "latency_ms", "errors", "satisfaction"]
    assert per["satisfaction"].notna().all() and per["session_id"].is_unique
    sv = satisfaction_vs_performance(events_20k).set_index(["group", "factor"])
    assert sv.loc[("all", "latency_ms"), "sessions"] == per["latency_ms"].notna().sum()
    assert sv.loc[("all", "errors"), "sessions"] == len(per)
    assert session_latency_satisfaction(events_20k.iloc[:0]).empty
