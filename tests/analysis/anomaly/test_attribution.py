"""``drill_down``: the attribution names the planted model and team of the sample data's incident,
counts add up and a holiday dip is called broad, and bad arguments are clear errors."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly.attribution import drill_down


@pytest.mark.parametrize("metric", ["latency_p95", "error_rate", "latency_p99"])
def test_drill_down_names_the_planted_model_and_team(sample_small, metric):
    truth = sample_small.truth
    att = drill_down(sample_small.events, metric=metric, start=truth.incident_start, end=truth.incident_end)
    assert att.top["segment"] == f"{truth.incident_team} / {truth.incident_model}"
    assert att.top["dimension"] == "team x model" and att.change > 1.0
    assert truth.incident_team in att.headline and truth.incident_model in att.headline
    team = att.segments[att.segments["dimension"] == "team"].set_index("segment")
    assert team["contribution"].idxmax() == truth.incident_team
    one_day = drill_down(sample_small.events, metric=metric, start=truth.incident_start,
                         end=truth.incident_start + pd.Timedelta("1D"), side="before")
    assert truth.incident_model in one_day.top["segment"]  # looking back from the first day only


def test_drill_down_of_counts_adds_up_and_calls_a_holiday_dip_broad(sample_small):
    events, truth = sample_small.events, sample_small.truth
    holiday = truth.holiday_dates[-1]
    att = drill_down(events, metric="events", start=holiday, end=holiday + pd.Timedelta("1D"))
    assert att.change < -0.5 and att.top == {}
    assert "broad" in att.headline
    by_team = att.segments[att.segments["dimension"] == "team"]
    assert by_team["contribution"].sum() == pytest.approx(1.0)  # a partition explains all of a sum
    users = drill_down(events, metric="active_users", start=holiday, end=holiday + pd.Timedelta("1D"))
    assert set(users.segments["dimension"]) == {"team"}  # users span several models and features
    cost_per_accept = drill_down(events, metric="cost_per_accept", start=holiday, end=holiday + pd.Timedelta("1D"))
    assert "model" not in set(cost_per_accept.segments["dimension"])  # accepts carry no model


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "nope"}, "not supported"),
    ({"metric": "events", "dimensions": ["nope"]}, "not columns"),
    ({"metric": "events", "start": "2030-01-01", "end": "2030-01-02"}, "no events in the window"),
    ({"metric": "events", "side": "after"}, "side="),
])
def test_drill_down_errors(sample_small, kwargs, message):
    base = {"start": sample_small.truth.incident_start, "end": sample_small.truth.incident_end}
    with pytest.raises(WorkbenchError, match=message):
        drill_down(sample_small.events, **{**base, **kwargs})
