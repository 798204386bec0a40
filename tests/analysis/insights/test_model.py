"""Insight records: scores and sentences, serialisation, the insight table and their Markdown."""
from __future__ import annotations

import json

import pytest

from analytics_lib.analysis.insights.model import Insight, insight_table
from analytics_lib.report.narrative import insights_markdown


def test_records_serialise_and_render(insights):
    records = json.loads(json.dumps([x.to_dict() for x in insights]))
    assert records[0]["kind"] == "anomaly" and records[0]["score"] == pytest.approx(insights[0].score, abs=1e-6)
    table = insight_table(insights)
    assert table["rank"].tolist() == list(range(1, len(insights) + 1))
    assert table.columns.tolist()[:4] == ["rank", "kind", "severity", "score"]
    md = insights_markdown(insights, top=3)
    assert md.count("\n") == 2 and md.startswith("1. **") and "*Recommendation:*" in md
    assert "nothing unusual" in insights_markdown([])


def test_insight_record_properties():
    x = Insight("trend", "t", "d", "low", 0.8, 0.5, "events", None, None, "r")
    assert x.score == pytest.approx(0.4) and x.sentence() == "t. d Recommendation: r"
