"""Automated insights: what changed, where, how sure we are, and what to do.

Five kinds of typed :class:`Insight` records, each with a title, a description, a severity,
a confidence, an impact, the supporting numbers and a recommendation computed from the data:

- ``anomaly``: incidents found by :func:`~analytics_lib.analysis.anomaly.detect.detect_anomalies` on daily
  KPIs, explained by :func:`~analytics_lib.analysis.anomaly.attribution.drill_down` (which team / model /
  feature / event type carries the excess), with public holidays recognised;
- ``trend``: a regression of each KPI on time with weekday effects and Newey-West (HAC)
  standard errors (slope, R², p-value, change per week); where a quadratic term shows the
  series is not linear, the Mann-Kendall test and Sen's slope instead (:func:`trend_table`);
- ``correlation``: Pearson and Spearman correlations between KPIs after removing trend and
  weekday pattern, with Benjamini-Hochberg control of the false discovery rate across all
  pairs (:func:`correlation_table`);
- ``business_impact``: thresholds per metric and direction (error rate up, latency up,
  throughput down, retention down...) comparing the recent window with a baseline
  (:class:`ImpactRule`, :func:`impact_table`);
- ``capacity``: ETS forecasts of volume and cost (:func:`outlook_table`), with the day a
  limit is crossed when limits are given.

:func:`ranked_insights` builds them all from an event log, removes duplicates and ranks them
by ``impact x confidence``; :func:`insight_table` and :meth:`Insight.to_dict` present them.

Modules: ``impact``, ``model``, ``ranking``, ``stats``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'impact': [
        'ImpactRule',
        'DEFAULT_IMPACT_RULES',
        'impact_table',
        'outlook_table',
    ],
    'model': [
        'INSIGHT_KINDS',
        'SEVERITY_WEIGHT',
        'IMPACT_SEVERITY',
        'DEFAULT_METRICS',
        'KPI_FAMILIES',
        'Insight',
        'insight_table',
    ],
    'ranking': [
        'anomaly_insights',
        'trend_insights',
        'correlation_insights',
        'impact_insights',
        'capacity_insights',
        'ranked_insights',
    ],
    'stats': [
        'MannKendall',
        'mann_kendall',
        'benjamini_hochberg',
        'trend_table',
        'correlation_table',
    ],
})
