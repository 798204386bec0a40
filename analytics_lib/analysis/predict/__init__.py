"""User-level predictions: churn risk per developer and the drivers of session satisfaction.

Two models, both validated on time (train on earlier data, score a later period that no
training step saw; never a random split across time):

- :class:`ChurnModel` estimates, for every user active in the ``active_days`` before a
  cutoff, the probability of having **no activity in the** ``churn_window_days`` **after
  it** (:func:`churn_labels`). Features come from :func:`user_features`, which reads only
  events before the cutoff. Candidates (a regularized logistic regression and gradient
  boosting, each with a small grid) are trained on several earlier cutoffs
  (:func:`time_split`), compared on rolling validation cutoffs after them (mean log loss),
  the best is calibrated on the latest validation cutoff, and
  :meth:`ChurnModel.evaluate` scores it on a held-out cutoff whose labels no training
  step saw, next to the recency rule (risk = days since the last activity) that every
  model must beat. :meth:`ChurnModel.explain` turns each prediction into its top
  contributing features in plain words.
- :class:`SatisfactionModel` predicts a session's satisfaction score from the session's
  latency, errors, steps, rework, cache hit, model and feature (:func:`session_features`),
  trained on earlier sessions and evaluated on later ones against the mean predictor, with
  permutation importance, partial dependence and :func:`driver_sentences` ("mean
  generation latency above 2.5 s costs 0.4 satisfaction points").

:func:`save_model` / :func:`load_model` persist a fitted model with a JSON sidecar (feature
list, training window, validation scores, library and scikit-learn versions, a checksum),
and refuse a model whose features do not match this library's. The notebook
``notebooks/user_predictions.ipynb`` checks its parameters with
:func:`prediction_parameters`. Definitions are in ``docs/predictions.md``.

Modules: ``churn``, ``evaluation``, ``features``, ``persistence``, ``satisfaction``, ``splits``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'churn': [
        'CHURN_CANDIDATES',
        'ChurnEvaluation',
        'ChurnModel',
        'EXPLAIN_DRIVERS',
    ],
    'evaluation': [
        'churn_metrics',
        'reliability_table',
    ],
    'features': [
        'USER_FEATURES',
        'SESSION_FEATURES',
        'user_features',
        'churn_labels',
        'churn_dataset',
        'session_features',
    ],
    'persistence': [
        'at_risk_table',
        'write_at_risk',
        'model_metadata',
        'save_model',
        'load_model',
    ],
    'satisfaction': [
        'SATISFACTION_CANDIDATES',
        'SatisfactionEvaluation',
        'SatisfactionModel',
        'driver_sentences',
    ],
    'splits': [
        'TimeSplit',
        'time_split',
        'SessionSplit',
        'session_split',
    ],
})
