"""What notebooks and reports are made of: parameter bundles, narrative text, tables, plots.

Modules: ``narrative``, ``params``, ``tables``, ``plots``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'narrative': [
        'insights_markdown',
        'executive_summary',
    ],
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
        'PredictionParams',
        'prediction_parameters',
    ],
    'tables': [
        'TABLE_FORMATS',
        'write_tables',
    ],
})
