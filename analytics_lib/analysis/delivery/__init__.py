"""Delivery performance: DORA's four keys with their tiers, and the assistant's effect on them.

:mod:`~analytics_lib.analysis.delivery.dora` computes deployment frequency, lead time for
changes, change failure rate and time to restore per team and period (Four Keys' definitions)
and their DORA performance tiers. :mod:`~analytics_lib.analysis.delivery.impact` estimates the
effect of adopting the assistant under staggered adoption (the imputation estimator, an event
study and a pre-trend check) and how it varies with usage intensity.

Modules: ``dora``, ``impact``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'dora': [
        'TIERS',
        'DORA_TIERS',
        'FREQUENCY_TIER',
        'DORA_METRICS',
        'production',
        'change_lead_times',
        'failed_deployments',
        'dora_metrics',
        'period_frames',
        'with_rates',
        'frequency_bucket',
        'tier',
        'dora_summary',
    ],
    'impact': [
        'IMPACT_METRICS',
        'CAVEATS',
        'adoption_from_usage',
        'delivery_panel',
        'AdoptionEffect',
        'adoption_effect',
    ],
})
