"""Pure view functions: the numbers, tables and figures a dashboard shows for given control values
(``overview_view``, ``forecast_view``, ``roi_view``, ``experiment_view``, ``delivery_view``), and their formatting. Views take a mart (or the
:class:`~analytics_lib.dashboards.published.DashboardData` holding one) and plain control values, and
return a small dataclass; the widgets in :mod:`analytics_lib.dashboards.widgets` only lay them out.

Modules: ``common``, ``delivery``, ``experiments``, ``forecast``, ``overview``, ``roi``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'common': [
        'dashboard_window',
        'format_kpi',
        'kpi_change',
        'parse_number',
    ],
    'delivery': [
        'DELIVERY_METRICS',
        'DeliveryView',
        'delivery_view',
    ],
    'experiments': [
        'ExperimentView',
        'experiment_view',
    ],
    'forecast': [
        'FORECAST_METRICS',
        'FORECAST_MODELS',
        'mart_series',
        'ForecastView',
        'forecast_view',
    ],
    'overview': [
        'mart_kpis',
        'kpi_totals',
        'kpi_tiles',
        'mart_funnel',
        'OverviewView',
        'overview_view',
    ],
    'roi': [
        'ROI_CONTROLS',
        'RoiView',
        'roi_view',
        'scenario_values',
    ],
})
