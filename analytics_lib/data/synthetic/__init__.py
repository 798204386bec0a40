"""Seeded synthetic event logs that come with the ground truth they plant.

:func:`synthetic_events` simulates an AI developer-assistant platform (teams, users who
join and churn, sessions with a workflow, models with prices and latencies, a cache, a
holiday dip, an incident and a model switch) and returns the events together with a
:class:`GroundTruth` that records every planted parameter and a few exact totals, so
tests of later analyses can check that they recover what was planted.

Everything is vectorized with numpy; the only Python loops run over weeks (churn is
decided week by week) and over the fixed slots of the session template.

Modules: ``events``, ``malformed``, ``series``, ``world``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'events': [
        'synthetic_events',
    ],
    'series': [
        'synthetic_series',
    ],
    'world': [
        'GroundTruth',
        'SampleData',
    ],
})
