"""Reading, validating and writing events (SQL, CSV, Parquet) and the synthetic sample data.

Modules: ``files``, ``load``, ``sql``, ``validation``, ``incremental``, ``assignments`` (experiment
assignments), ``delivery`` and ``github`` (delivery events: changes, deployments, incidents), ``synthetic``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'files': [
        'read_file',
        'MAX_ROW_BYTES',
    ],
    'load': [
        'ROW_NUMBER',
        'read_yaml',
        'read_mapping',
        'apply_mapping',
        'load_events',
        'filter_teams',
    ],
    'sql': [
        'EVENTS_TABLE',
        'QUARANTINE_TABLE',
        'engine_for',
        'db_connect',
        'db_error',
        'window_clauses',
        'WriteResult',
        'write_events',
        'store_summary',
        'read_quarantine',
    ],
    'validation': [
        'ValidationSummary',
        'ValidatedEvents',
        'validate_events',
    ],
})
