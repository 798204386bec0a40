"""Figures for the workflow results. Plots only draw.

Every function takes the frame a library function returned (``kpi_table``,
``funnel_table``...), draws it and returns the :class:`~matplotlib.figure.Figure`; nothing is
computed beyond reshaping for drawing (pivoting, picking the rows shown), nothing is shown
or saved. Pass ``ax=`` to draw into an existing axes; an empty frame gives an axes with a
"no data" note instead of an error.

Modules: ``anomaly``, ``colors``, ``delivery``, ``experiments``, ``forecast``, ``predict``, ``roi``, ``style``, ``workflow``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'anomaly': [
        'plot_anomalies',
        'plot_attribution',
    ],
    'delivery': [
        'plot_event_study',
        'plot_dora_trends',
    ],
    'experiments': [
        'plot_experiment_looks',
    ],
    'forecast': [
        'plot_forecast',
        'plot_backtest_scores',
        'plot_components',
    ],
    'predict': [
        'plot_reliability',
        'plot_drivers',
        'plot_partial_dependence',
    ],
    'roi': [
        'plot_cashflows',
        'plot_tornado',
        'plot_roi_distribution',
        'plot_value_by',
        'plot_scenarios',
    ],
    'style': [
        'KPI_LABELS',
        'DEFAULT_KPIS',
    ],
    'workflow': [
        'plot_kpi_trends',
        'plot_activity_heatmap',
        'plot_funnel',
        'plot_transitions',
        'plot_bottlenecks',
        'plot_retention',
        'plot_lifecycle',
        'plot_activity_histogram',
        'plot_cost_by',
        'plot_satisfaction_vs_latency',
    ],
})
