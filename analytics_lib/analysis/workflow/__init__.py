"""Workflow analysis: sessions, paths, funnels, bottlenecks, KPIs, segments, retention.

All functions are pure: a validated events frame in (see ``validate_events``), a new frame
out; the input is never modified. Each function's docstring states its definitions (what
counts, which window, which edge cases), the way product-analytics tools document theirs.

Ordering: events are ordered by time and, for equal timestamps, by their position in the
frame (validated frames are sorted stably by ``ts``), so ties are broken the same way
everywhere.

Saved cohorts (``cohorts``: :class:`Cohort`, users by properties and behaviour in a window) filter
the events of any of them, and the users of an experiment.

Modules: ``bottlenecks``, ``cohorts``, ``experience``, ``funnels``, ``kpis``, ``retention``, ``sessions``,
``transitions``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'bottlenecks': [
        'SeverityThresholds',
        'bottleneck_table',
    ],
    'cohorts': [
        'Cohort',
    ],
    'experience': [
        'satisfaction_vs_performance',
        'WEEKDAYS',
        'weekday_hour_table',
        'session_latency_satisfaction',
    ],
    'funnels': [
        'FUNNEL_MODES',
        'funnel_table',
    ],
    'kpis': [
        'REQUEST_TYPES',
        'RESPONSE_TYPES',
        'latency_quantiles',
        'kpi_table',
        'mark_partial',
        'KPI_COLUMNS',
        'active_users',
        'AGGREGATIONS',
        'metric_table',
    ],
    'retention': [
        'lifecycle_table',
        'activity_histogram',
        'retention_matrix',
        'retention_shares',
    ],
    'sessions': [
        'ACCEPT_TYPES',
        'OUTCOMES',
        'sessionize',
        'session_table',
    ],
    'transitions': [
        'transition_table',
        'path_variants',
        'rework_table',
    ],
})
