"""What notebooks and reports are made of: parameter bundles, narrative text, tables, plots.

Modules: ``params``, ``tables``, ``narrative``, ``plots``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'params': [
        'WorkflowParams',
        'workflow_parameters',
        'check_engine_options',
        'ForecastParams',
        'FORECAST_METRICS',
        'forecast_parameters',
        'require_events',
        'RoiParams',
        'roi_parameters',
        'with_measured_effect',
        'PredictionParams',
        'prediction_parameters',
    ],
    'tables': [
        'TABLE_FORMATS',
        'write_tables',
    ],
    'narrative': [
        'history_summary',
        'growth_summary',
        'selection_summary',
        'no_components_note',
        'forecast_summary',
        'capacity_summary',
        'llm_spend_summary',
        'written_files',
        'prediction_data_summary',
        'churn_summary',
        'satisfaction_drivers_summary',
        'at_risk_summary',
        'executive_summary',
        'roi_data_summary',
        'roi_notes',
        'break_even_summary',
        'monte_carlo_summary',
        'money',
        'share',
        'insights_markdown',
        'data_summary',
        'anomaly_summary',
        'kpi_summary',
        'session_funnel_summary',
        'user_funnel_summary',
        'path_summary',
        'bottleneck_summary',
        'retention_summary',
        'lifecycle_summary',
        'cost_summary',
        'satisfaction_summary',
    ],
})
