"""analytics_lib: workflow analysis, forecasting and ROI over AI developer-assistant event logs.

The library is layered; each layer imports only the ones below it (``docs/architecture.md``,
checked by ``tests/test_architecture.py``)::

    core        errors, schema, paths, time windows, sources, redaction, markup, registries
    data        reading, validating and writing events; the synthetic sample
    analysis    workflow, anomaly, insights, roi, predict        forecast   models, selection, metrics
    compute     local worker processes and Dask, behind one interface; engines
    report      notebook parameter bundles, narrative text, tables, plots
    dashboards  marts, views, widgets, the Voilà server          jobs       specs, runner, ledger, schedule
    cli         the ``workbench`` command

The names below are imported on first use (PEP 562), so ``import analytics_lib.forecast`` in a
worker process does not pay for SQLAlchemy, Arrow and the workflow analyses.
"""
from __future__ import annotations

from analytics_lib.core.compat import install_moved_modules
from analytics_lib.core.lazy import lazy_exports

install_moved_modules()  # the modules of the flat 0.1 layout import, with a warning

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'analysis.anomaly.attribution': ['Attribution', 'drill_down'],
    'analysis.anomaly.detect': ['detect_anomalies', 'flatline_anomalies', 'forecast_anomalies', 'incident_table', 'iqr_anomalies', 'multivariate_anomalies', 'rolling_zscore_anomalies', 'seasonal_anomalies'],
    'analysis.anomaly.evaluation': ['detection_scores', 'DetectionScores', 'label_windows', 'read_nab'],
    'analysis.anomaly.nab': ['nab_corpus', 'nab_corpus_score', 'nab_file_score'],
    'analysis.anomaly.series': ['score_threshold'],
    'analysis.insights.impact': ['impact_table', 'ImpactRule', 'outlook_table'],
    'analysis.insights.model': ['Insight', 'insight_table'],
    'analysis.insights.ranking': ['ranked_insights'],
    'analysis.insights.stats': ['benjamini_hochberg', 'correlation_table', 'mann_kendall', 'trend_table'],
    'analysis.predict.churn': ['ChurnModel'],
    'analysis.predict.evaluation': ['churn_metrics', 'reliability_table'],
    'analysis.predict.features': ['churn_dataset', 'churn_labels', 'session_features', 'user_features'],
    'analysis.predict.persistence': ['at_risk_table', 'load_model', 'save_model', 'write_at_risk'],
    'analysis.predict.satisfaction': ['driver_sentences', 'SatisfactionModel'],
    'analysis.predict.splits': ['session_split', 'time_split', 'TimeSplit'],
    'analysis.roi.assumptions': ['Assumptions'],
    'analysis.roi.inputs': ['roi_inputs', 'roi_measures'],
    'analysis.roi.result': ['break_even_table', 'roi_result', 'tornado_table'],
    'analysis.roi.simulation': ['roi_simulation', 'scenario_table'],
    'analysis.workflow.bottlenecks': ['bottleneck_table', 'SeverityThresholds'],
    'analysis.workflow.experience': ['satisfaction_vs_performance'],
    'analysis.workflow.funnels': ['funnel_table'],
    'analysis.workflow.kpis': ['active_users', 'kpi_table', 'mark_partial', 'metric_table'],
    'analysis.workflow.retention': ['activity_histogram', 'lifecycle_table', 'retention_matrix'],
    'analysis.workflow.sessions': ['session_table', 'sessionize'],
    'analysis.workflow.transitions': ['path_variants', 'rework_table', 'transition_table'],
    'compute.dask.cluster': ['dask_client'],
    'compute.engine': ['Engine', 'open_engine'],
    'core.errors': ['WorkbenchError'],
    'core.redaction': ['redact'],
    'core.timewindow': ['check_duration', 'check_granularity', 'parse_when', 'time_window', 'TimeWindow'],
    'data.load': ['apply_mapping', 'load_events', 'read_mapping'],
    'data.sql': ['engine_for', 'read_quarantine', 'store_summary', 'write_events', 'WriteResult'],
    'data.synthetic.events': ['synthetic_events'],
    'data.validation': ['validate_events', 'ValidatedEvents', 'ValidationSummary'],
    'forecast.estimator': ['Forecaster'],
    'forecast.metrics': ['forecast_metrics'],
    'forecast.planning': ['capacity_table', 'cost_forecast', 'country_holidays', 'trend_summary'],
    'forecast.selection': ['auto_forecast', 'AutoForecast', 'backtest'],
    'forecast.series': ['check_series', 'series_from_events'],
    'jobs.index': ['prune_runs'],
    'jobs.ledger': ['run_history'],
    'jobs.prepare': ['check_job'],
    'jobs.runner': ['run_job'],
    'jobs.schedule': ['job_table', 'run_due_jobs'],
    'jobs.spec': ['find_job', 'JobSpec', 'load_job_specs'],
    'report.narrative': ['executive_summary', 'insights_markdown'],
    'report.params': ['prediction_parameters']
})
