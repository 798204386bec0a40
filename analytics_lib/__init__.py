"""analytics_lib: workflow analysis, forecasting and ROI over AI developer-assistant event logs."""
from .errors import WorkbenchError
from .io import (apply_mapping, engine_for, load_events, read_mapping, read_quarantine, store_summary,
                 write_events, WriteResult)
from .forecast import (AutoForecast, auto_forecast, backtest, capacity_table, check_series, cost_forecast,
                       country_holidays, Forecaster, forecast_metrics, series_from_events, trend_summary)
from .params import check_duration, check_granularity, parse_when, time_window, TimeWindow
from .roi import (Assumptions, break_even_table, executive_summary, roi_inputs, roi_measures, roi_result,
                  roi_simulation, scenario_table, tornado_table)
from .validation import ValidatedEvents, ValidationSummary, validate_events
from .workflow import (activity_histogram, active_users, bottleneck_table, funnel_table, kpi_table, lifecycle_table,
                       metric_table, path_variants, retention_matrix, rework_table, satisfaction_vs_performance,
                       session_table, sessionize, SeverityThresholds, transition_table)

__version__ = "0.1.0"

__all__ = [
    "WorkbenchError",
    "apply_mapping", "engine_for", "load_events", "read_mapping", "read_quarantine", "store_summary",
    "write_events", "WriteResult",
    "AutoForecast", "auto_forecast", "backtest", "capacity_table", "check_series", "cost_forecast", "country_holidays",
    "Forecaster", "forecast_metrics", "series_from_events", "trend_summary",
    "Assumptions", "break_even_table", "executive_summary", "roi_inputs", "roi_measures", "roi_result",
    "roi_simulation", "scenario_table", "tornado_table",
    "check_duration", "check_granularity", "parse_when", "time_window", "TimeWindow",
    "ValidatedEvents", "ValidationSummary", "validate_events",
    "activity_histogram", "active_users", "bottleneck_table", "funnel_table", "kpi_table", "lifecycle_table",
    "metric_table", "path_variants", "retention_matrix", "rework_table", "satisfaction_vs_performance",
    "session_table", "sessionize", "SeverityThresholds", "transition_table",
]
