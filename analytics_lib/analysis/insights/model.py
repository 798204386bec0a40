"""What an insight is: kind, headline, evidence, confidence, impact and recommendation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from analytics_lib.analysis.anomaly.series import SEVERITY_LEVELS
from analytics_lib.analysis.workflow.bottlenecks import SeverityThresholds


INSIGHT_KINDS = ("anomaly", "trend", "correlation", "business_impact", "capacity")
#: Ties in impact x confidence (common at the top, where certain critical findings saturate)
#: go to the more acute kind first.
_KIND_ORDER = ("anomaly", "business_impact", "capacity", "trend", "correlation")
#: Confidence from which a finding counts as certain when insights are ranked (impact x
#: min(confidence, CERTAIN)): 0.9995 and 1.0 say the same, and such a difference must not put a
#: trend above an acute incident. Below it, ranking follows the confidence continuously.
CERTAIN = 0.99
#: Impact weight of each severity level (insights are ranked by impact x confidence).
SEVERITY_WEIGHT = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
#: Threshold multiples for business-impact severity: under 1.5x low, 1.5x medium, 2.5x high, 4x critical.
IMPACT_SEVERITY = SeverityThresholds(medium=1.5, high=2.5, critical=4.0)
#: KPIs checked for anomalies, trends and correlations by default (the kpi_table columns that
#: are not definitional siblings of each other).
DEFAULT_METRICS = ("events", "active_users", "error_rate", "latency_p95", "cache_hit_rate", "cost_usd",
                   "cost_per_accept", "satisfaction")
#: Families of KPIs that move together by definition; pairs inside a family are not reported
#: as correlation insights (``events`` and ``sessions`` correlating says nothing new).
KPI_FAMILIES: dict[str, str] = {
    "events": "volume", "active_users": "volume", "sessions": "volume", "accepts": "volume",
    "tokens_in": "volume", "tokens_out": "volume", "cost_usd": "volume",   # spend follows volume
    "events_per_user": "intensity", "sessions_per_user": "intensity",
    "latency_p50": "latency", "latency_p95": "latency", "latency_p99": "latency",
}
_LABELS = {
    "events": "events", "active_users": "active users", "sessions": "sessions", "error_rate": "error rate",
    "latency_p50": "p50 latency", "latency_p95": "p95 latency", "latency_p99": "p99 latency",
    "cache_hit_rate": "cache hit rate", "cost_usd": "cost", "cost_per_accept": "cost per accept",
    "satisfaction": "satisfaction", "accepts": "accepts", "tokens_in": "input tokens", "tokens_out": "output tokens",
    "stickiness": "stickiness", "retention": "weekly retention",
}
_RATES = {"error_rate", "cache_hit_rate", "stickiness", "retention"}
#: What a KPI is computed over, for sentences ("12% of the responses").
_UNITS = {"error_rate": "LLM requests", "cache_hit_rate": "cache queries", "latency_p50": "responses",
          "latency_p95": "responses", "latency_p99": "responses", "satisfaction": "scores",
          "cost_per_accept": "events", "active_users": "events", "sessions": "events"}


# ============================================================================================
# The record
@dataclass(frozen=True)
class Insight:
    """One finding, ready to read and to rank.

    Attributes
    ----------
    kind : str
        One of ``INSIGHT_KINDS``.
    title : str
        A short headline with the number that matters ("p95 latency +225% from ... to ...").
    description : str
        What was measured and how (one or two sentences, with the evidence).
    severity : str
        ``low``, ``medium``, ``high`` or ``critical`` (the rule depends on the kind; see
        ``docs/insights.md``).
    confidence : float
        0-1: how sure the finding is not chance (1 - an adjusted p-value, or a forecast
        probability).
    impact : float
        0-1: how much it matters (severity weight, threshold multiple, correlation strength).
    metric : str
        The KPI (``"a ~ b"`` for a correlation).
    start, end : Timestamp or None
        The period the insight is about (``end`` exclusive).
    recommendation : str
        What to do, with the segment, step and size taken from the data.
    evidence : dict
        The supporting numbers (JSON-serialisable after :meth:`to_dict`).
    """

    kind: str
    title: str
    description: str
    severity: str
    confidence: float
    impact: float
    metric: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    recommendation: str
    evidence: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        """``impact x confidence``, the ranking key."""
        return float(self.impact * self.confidence)

    def sentence(self) -> str:
        """Title, description and recommendation as one paragraph.

        Examples
        --------
        >>> Insight("trend", "Events +3.1% per week", "Linear trend, p = 0.001.", "medium", 0.99, 0.5, "events",
        ...         None, None, "Plan capacity for the growth.").sentence()
        'Events +3.1% per week. Linear trend, p = 0.001. Recommendation: Plan capacity for the growth.'
        """
        return f"{self.title}. {self.description} Recommendation: {self.recommendation}"

    def to_dict(self) -> dict[str, Any]:
        """The insight as plain JSON types (timestamps as ISO strings).

        Examples
        --------
        >>> d = Insight("trend", "t", "d", "low", 0.9, 0.25, "events", pd.Timestamp("2024-01-01"), None, "r",
        ...             {"slope": np.float64(1.5)}).to_dict()
        >>> d["start"], d["evidence"]["slope"], d["score"]
        ('2024-01-01T00:00:00', 1.5, 0.225)
        """
        out = {k: _jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        out["score"] = round(self.score, 6)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    return value


def insight_table(insights: Sequence[Insight]) -> pd.DataFrame:
    """The insights as a frame, in the order given (rank 1 first).

    Returns
    -------
    DataFrame
        ``rank, kind, severity, score, impact, confidence, metric, start, end, title,
        description, recommendation``.

    Examples
    --------
    >>> ins = [Insight("trend", "t", "d", "low", 0.9, 0.25, "events", None, None, "r")]
    >>> insight_table(ins)[["rank", "kind", "score"]].to_dict("records")
    [{'rank': 1, 'kind': 'trend', 'score': 0.225}]
    """
    cols = ["rank", "kind", "severity", "score", "impact", "confidence", "metric", "start", "end", "title",
            "description", "recommendation"]
    rows = [{"rank": i + 1, "kind": x.kind, "severity": x.severity, "score": round(x.score, 4),
             "impact": round(x.impact, 4), "confidence": round(x.confidence, 4), "metric": x.metric,
             "start": x.start, "end": x.end, "title": x.title, "description": x.description,
             "recommendation": x.recommendation} for i, x in enumerate(insights)]
    out = pd.DataFrame(rows, columns=cols)
    out["severity"] = pd.Categorical(out["severity"], categories=SEVERITY_LEVELS, ordered=True)
    return out
