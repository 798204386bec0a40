"""The analyses an engine can run by name: ``engine.run("kpi_table", events, granularity="W")``.

Every entry takes the validated events first and returns a frame (``workbench analyze NAME`` prints
it). Built-ins are named by reference (nothing is imported until used); a plug-in adds its own
under the entry-point group ``analytics_workbench.analyses``. The Dask engine runs the analyses it
has a distributed implementation for on the cluster and any other one on the gathered events.
"""
from __future__ import annotations

from analytics_lib.core.registry import Registry

#: Analyses by name: ``f(events, *args, **options) -> DataFrame``.
ANALYSES = Registry("analysis", "analytics_workbench.analyses")
for _name, _where in {
    "kpi_table": "workflow.kpis", "active_users": "workflow.kpis", "metric_table": "workflow.kpis",
    "sessionize": "workflow.sessions", "session_table": "workflow.sessions",
    "transition_table": "workflow.transitions", "path_variants": "workflow.transitions",
    "rework_table": "workflow.transitions", "funnel_table": "workflow.funnels",
    "bottleneck_table": "workflow.bottlenecks", "lifecycle_table": "workflow.retention",
    "activity_histogram": "workflow.retention", "retention_matrix": "workflow.retention",
    "satisfaction_vs_performance": "workflow.experience", "weekday_hour_table": "workflow.experience",
    "ranked_insights": "insights.ranking", "roi_measures": "roi.inputs",
}.items():
    ANALYSES.register(_name, f"analytics_lib.analysis.{_where}:{_name}")
del _name, _where
