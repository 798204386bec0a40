"""The ranked insights of the sample data: the planted incident is the top insight and names the model
and team; insights are ranked, deduplicated and typed; a threshold breach explained by an incident
is folded into it; bad parameters are refused."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.insights.model import CERTAIN, INSIGHT_KINDS
from analytics_lib.analysis.insights.ranking import ranked_insights


def test_the_planted_incident_is_the_top_insight_and_names_model_and_team(sample_small, insights):
    truth = sample_small.truth
    top = insights[0]
    assert top.kind == "anomaly" and top.severity == "critical" and top.confidence > 0.99
    assert top.start == truth.incident_start and top.end == truth.incident_end
    assert truth.incident_model in top.recommendation and truth.incident_team in top.recommendation
    drill = top.evidence["drill_down"]["top"]
    assert drill["segment"] == f"{truth.incident_team} / {truth.incident_model}"
    assert f"{min(drill['contribution'], 1):.0%} of the excess" in top.description


def test_anomaly_confidence_is_calibrated_on_the_window_itself(sample_small, insights):
    """Confidence = 1 - p with p from the window's other KPI-days (tail_p_value, leave one out), not a normal
    tail: the incidents' p-values order their confidences, and anomalies given without probabilities fall back
    to the normal p-value of the peak score."""
    from scipy import stats

    from analytics_lib import kpi_table
    from analytics_lib.analysis.anomaly.detect import detect_anomalies
    from analytics_lib.analysis.insights.ranking import anomaly_insights

    found = [x for x in insights if x.kind == "anomaly"]
    assert len(found) >= 2
    for x in found:
        p, tests = x.evidence["p_value"], x.evidence["tests"]
        assert 1 / tests / 10 < p <= 0.05 and tests > 100      # other incidents keep it modest: never 1e-9
        assert x.confidence == pytest.approx(1 - p, abs=1e-12)
    ordered = sorted(found, key=lambda x: x.evidence["p_value"])
    assert [x.confidence for x in ordered] == sorted((x.confidence for x in ordered), reverse=True)
    kpis = kpi_table(sample_small.events)
    metrics = ["error_rate", "latency_p95"]
    plain = detect_anomalies(kpis, metrics=metrics, volume="events")
    normal = anomaly_insights(kpis, metrics=metrics, anomalies=plain, holidays=None)
    assert normal and all(x.evidence["p_value"] == pytest.approx(2 * stats.norm.sf(abs(x.evidence["peak_score"])))
                          for x in normal)


def test_insights_are_ranked_deduplicated_and_typed(sample_small, insights):
    scores = [round(x.impact * min(x.confidence, CERTAIN), 6) for x in insights]   # the ranking key
    assert scores == sorted(scores, reverse=True)
    assert {x.kind for x in insights} <= set(INSIGHT_KINDS) and len({x.kind for x in insights}) >= 3
    assert len({(x.kind, x.title) for x in insights}) == len(insights)
    for x in insights:
        assert 0 <= x.confidence <= 1 and 0 <= x.impact <= 1 and x.recommendation and x.description
    holidays = [x for x in insights if x.evidence.get("holidays")]
    assert holidays and all(x.impact <= 0.5 for x in holidays)  # a calendar effect, not an incident
    assert {pd.Timestamp(x.start).normalize() for x in holidays} & set(sample_small.truth.holiday_dates) or \
        any(d in set(sample_small.truth.holiday_dates) for x in holidays for d in pd.to_datetime(x.evidence["days"]))


def test_a_threshold_breach_explained_by_an_incident_is_folded_into_it(sample_small):
    events, truth = sample_small.events, sample_small.truth
    window = events[events["ts"] < truth.incident_end]  # the incident is now the last days
    found = ranked_insights(window, kinds=["anomaly", "business_impact"])
    incident = next(x for x in found if x.kind == "anomaly" and x.start == truth.incident_start)
    assert any("p95 latency" in t for t in incident.evidence.get("related", []))
    assert not any(x.kind == "business_impact" and x.metric == "latency_p95" for x in found)


def test_ranked_insights_rejects_bad_parameters(sample_small):
    with pytest.raises(WorkbenchError, match="kinds"):
        ranked_insights(sample_small.events, kinds=["gossip"])
    with pytest.raises(WorkbenchError, match="sensitivity"):
        ranked_insights(sample_small.events, sensitivity="extreme")
    with pytest.raises(WorkbenchError, match="no events"):
        ranked_insights(sample_small.events.iloc[:0])
