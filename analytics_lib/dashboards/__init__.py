"""Building blocks of the Voilà dashboards in ``notebooks/dashboards/``: data, views and widgets.

Three layers, so that a dashboard is a thin notebook and everything but the browser is
tested with plain pytest (``tests/dashboards/``):

1. **Data** (I/O, verbs). A dashboard never reads raw events while a viewer waits. It reads
   small *dashboard marts*: the tables that the latest successful scheduled run published
   (``<reports>/<job>[/<variant>]/latest/``, see ``docs/jobs.md``; searched recursively for
   ``dash_<table>.parquet``), or, while no run has published them yet, tables computed once
   from the database and cached under ``data/processed/dashboards/`` (rebuilt when the
   store changes). :func:`dashboard_tables` computes them; :func:`load_overview_data` and
   :func:`load_roi_data` find or build them; :func:`published_runs` and
   :func:`published_table` read any table a run published.
2. **Views** (pure, nouns). :func:`overview_view`, :func:`forecast_view` and
   :func:`roi_view` turn a mart and the control values into everything a dashboard shows
   (frozen dataclasses). Bad control values raise :class:`~analytics_lib.core.errors.WorkbenchError`
   with a message that says what to change.
3. **Components** (ipywidgets). :class:`FilterBar`, :class:`ForecastBar`,
   :class:`AssumptionPanel` (controls), :class:`KpiTiles`, :class:`ChartPanel`,
   :class:`TablePanel` (outputs), :class:`MessageArea` and :class:`ProgressPanel`, wired by
   :class:`LiveView`, which calls a view function with the current control values on every
   change and hands each output the attribute of the view it shows. Callbacks live here,
   never in the notebooks; an error becomes a readable message, never a traceback.

Environment: ``WORKBENCH_REPORTS`` (where runs are published; default ``reports/``),
``WORKBENCH_DASHBOARD_CACHE`` (default ``data/processed/dashboards``) and ``WORKBENCH_DB``
(the store, see :mod:`analytics_lib.core.paths`).

Modules: ``marts``, ``published``, ``serve``, ``voila_app``, ``widgets``, ``urlstate`` (shareable
views: :class:`ShareLink` keeps the controls in the page URL), ``views``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'marts': [
        'REPORTS_ENV',
        'CACHE_ENV',
        'MART_VERSION',
        'FUNNEL_STEPS',
        'NO_TEAM',
        'ALL_TEAMS',
        'ROI_MONTHS',
        'OVERVIEW_KPIS',
        'MART_TABLES',
        'KPI_FORMATS',
        'OverviewMart',
        'overview_mart',
        'roi_input_tables',
        'roi_inputs_from_tables',
        'overview_tables',
        'overview_mart_from_tables',
        'dashboard_tables',
        'EXPERIMENT_PRIMARY',
        'EXPERIMENT_GUARDRAILS',
        'ExperimentMart',
        'experiment_mart',
        'experiment_mart_from_tables',
        'DeliveryMart',
        'delivery_mart',
    ],
    'published': [
        'cache_root',
        'PublishedRun',
        'published_runs',
        'PublishedTable',
        'published_table',
        'DashboardData',
        'load_overview_data',
        'load_experiment_data',
        'load_delivery_data',
        'load_roi_data',
        'build_dashboard_data',
        'publish_dashboard_tables',
    ],
    'serve': [
        'DASHBOARDS',
        'TEMPLATES',
        'DEFAULT_PORT',
        'DEFAULT_HOST',
        'MAX_KERNELS',
        'CULL_IDLE_TIMEOUT',
        'CULL_INTERVAL',
        'DISCONNECT_GRACE',
        'TOKEN_ENV',
        'voila_arguments',
        'free_port',
        'DashboardServer',
        'sigterm_as_interrupt',
        'start_server',
    ],
    'voila_app': [
        'LOOPBACK_NAMES',
        'host_allowed',
        'BoundedKernelManager',
        'give_page_its_xsrf_cookie',
        'WorkbenchVoila',
        'main',
    ],
    'urlstate': ['page_query', 'control_text', 'control_value', 'ShareLink'],
    'widgets': [
        'STYLE',
        'DashboardHeader',
        'MessageArea',
        'ProgressPanel',
        'tile_html',
        'KpiTiles',
        'figure_png',
        'CHART_LAYOUTS',
        'ChartPanel',
        'table_html',
        'TablePanel',
        'TextPanel',
        'LiveView',
        'FilterBar',
        'ForecastBar',
        'ExperimentBar',
        'DeliveryBar',
        'AssumptionPanel',
    ],
    'views': [
        'dashboard_window',
        'format_kpi',
        'kpi_change',
        'parse_number',
        'FORECAST_METRICS',
        'FORECAST_MODELS',
        'mart_series',
        'ForecastView',
        'forecast_view',
        'mart_kpis',
        'kpi_totals',
        'kpi_tiles',
        'mart_funnel',
        'OverviewView',
        'overview_view',
        'ROI_CONTROLS',
        'RoiView',
        'roi_view',
        'scenario_values',
    ],
})
