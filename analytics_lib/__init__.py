"""analytics_lib: workflow analysis, forecasting and ROI over AI developer-assistant event logs.

The public names below are imported on first use (PEP 562), so ``import analytics_lib.forecast``
in a worker process does not pay for SQLAlchemy, Arrow and the workflow module.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "errors": ["WorkbenchError"],
    "engine": ["Engine", "dask_client", "open_engine"],
    "io": ["apply_mapping", "engine_for", "load_events", "read_mapping", "read_quarantine", "store_summary",
           "write_events", "WriteResult"],
    "forecast": ["AutoForecast", "auto_forecast", "backtest", "capacity_table", "check_series", "cost_forecast",
                 "country_holidays", "Forecaster", "forecast_metrics", "series_from_events", "trend_summary"],
    "roi": ["Assumptions", "break_even_table", "executive_summary", "roi_inputs", "roi_measures", "roi_result",
            "roi_simulation", "scenario_table", "tornado_table"],
    "anomaly": ["Attribution", "DetectionScores", "detect_anomalies", "detection_scores", "drill_down",
                "flatline_anomalies", "forecast_anomalies", "incident_table", "iqr_anomalies", "label_windows",
                "multivariate_anomalies", "read_nab", "rolling_zscore_anomalies", "score_threshold",
                "seasonal_anomalies"],
    "insights": ["ImpactRule", "Insight", "benjamini_hochberg", "correlation_table", "impact_table",
                 "insight_table", "insights_markdown", "mann_kendall", "outlook_table", "ranked_insights",
                 "trend_table"],
    "jobs": ["JobSpec", "check_job", "find_job", "job_table", "load_job_specs", "prune_runs", "run_due_jobs",
             "run_history", "run_job"],
    "predict": ["ChurnModel", "SatisfactionModel", "TimeSplit", "at_risk_table", "churn_dataset", "churn_labels",
                "churn_metrics", "driver_sentences", "load_model", "prediction_parameters", "reliability_table",
                "save_model", "session_features", "session_split", "time_split", "user_features",
                "write_at_risk"],
    "params": ["check_duration", "check_granularity", "parse_when", "time_window", "TimeWindow"],
    "validation": ["ValidatedEvents", "ValidationSummary", "validate_events"],
    "workflow": ["activity_histogram", "active_users", "bottleneck_table", "funnel_table", "kpi_table",
                 "lifecycle_table", "metric_table", "path_variants", "retention_matrix", "rework_table",
                 "satisfaction_vs_performance", "session_table", "sessionize", "SeverityThresholds",
                 "transition_table"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'analytics_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
