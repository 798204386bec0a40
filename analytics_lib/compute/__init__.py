"""Where work runs: local worker processes or a Dask cluster, behind one interface.

Modules: ``engine``, ``local``, ``dask``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'engine': [
        'Engine',
        'PandasEngine',
        'ENGINES',
        'check_engine',
        'open_engine',
    ],
    'local': [
        'ProcessBackend',
        'PROCESSES',
    ],
})
