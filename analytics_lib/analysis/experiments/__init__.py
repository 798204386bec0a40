"""Experiments (A/B tests): did the new model, prompt or cache policy help?

The statistics (:mod:`~analytics_lib.analysis.experiments.stats`, definitions in its docstring):
effects of mean and ratio metrics with intervals (Welch; the delta method for ratios of per-user
sums), relative effects, CUPED variance reduction with a pre-period covariate, the
sample-ratio-mismatch check, always-valid p-values and confidence sequences (normal-mixture
mSPRT) for teams that look every day, and the sample size a minimum detectable effect needs.

On the event log (:mod:`~analytics_lib.analysis.experiments.analysis`): the assignment table
checked (:func:`validate_assignments`), per-user sums (:func:`user_metrics`) and every variant's
effect on the primary metrics and the guardrails with a decision (:func:`experiment_results`).

Modules: ``stats``, ``analysis``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'analysis': [
        'ASSIGNMENT_COLUMNS',
        'EXPERIMENT_METRICS',
        'ValidatedAssignments',
        'validate_assignments',
        'user_metrics',
        'ExperimentResult',
        'experiment_results',
        'experiment_looks',
        'plan_experiment',
    ],
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
