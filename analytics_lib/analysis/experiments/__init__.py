"""Experiments (A/B tests): did the new model, prompt or cache policy help?

The statistics (:mod:`~analytics_lib.analysis.experiments.stats`, definitions in its docstring):
effects of mean and ratio metrics with intervals (Welch; the delta method for ratios of per-user
sums), relative effects, CUPED variance reduction with a pre-period covariate, the
sample-ratio-mismatch check, always-valid p-values and confidence sequences (normal-mixture
mSPRT) for teams that look every day, and the sample size a minimum detectable effect needs.

Modules: ``stats``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'stats': [
        'SRM_ALPHA',
        'Effect',
        'mean_effect',
        'ratio_variance',
        'ratio_effect',
        'cuped',
        'srm_test',
        'check_srm',
        'always_valid',
        'sample_size',
    ],
})
