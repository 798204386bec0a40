"""Narrative text for notebooks and reports, computed from results and tested like any analysis.

Notebooks only display these paragraphs (``display(Markdown(kpi_summary(kpis)))``); the logic that
picks the worst funnel step or the busiest day lives here. Values from the data are escaped and
money is written so that no page reads it as math.

Modules: ``delivery``, ``experiments``, ``forecast``, ``predict``, ``roi``, ``text``, ``workflow``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'delivery': [
        'delivery_data_summary',
        'effect_summary',
        'tier_summary',
    ],
    'experiments': [
        'experiment_summary',
    ],
    'forecast': [
        'history_summary',
        'growth_summary',
        'selection_summary',
        'no_components_note',
        'forecast_summary',
        'capacity_summary',
        'llm_spend_summary',
        'written_files',
    ],
    'predict': [
        'prediction_data_summary',
        'churn_summary',
        'satisfaction_drivers_summary',
        'at_risk_summary',
    ],
    'roi': [
        'executive_summary',
        'roi_data_summary',
        'roi_notes',
        'break_even_summary',
        'monte_carlo_summary',
    ],
    'text': [
        'money',
        'share',
    ],
    'workflow': [
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
