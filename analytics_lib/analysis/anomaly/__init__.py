"""Anomalies in KPI series: detectors, drill-down attribution and an evaluation harness.

Detectors take KPI series in one of these shapes:

- a frame indexed by time with one column per metric (what :func:`~analytics_lib.kpi_table`
  returns); ``metrics=`` picks columns, by default every numeric one;
- a long frame ``unique_id, ds, y`` (the forecasting shape; ``unique_id`` is the metric);
- a two-column frame ``ds, y`` or ``timestamp, value`` (Prophet and NAB files), or a Series
  indexed by time.

Rows may come in any order (they are sorted), timestamps may be irregular and have gaps,
and missing values (NaN) are allowed: they are never scored and never flagged. Repeated
timestamps (a clock set back at a daylight-saving change, as in several NAB files) are
merged into one observation, the mean of their values. Text in a value column, infinite
values and missing timestamps raise :class:`WorkbenchError`.

Every detector returns one row per anomalous observation, with the columns of
``ANOMALY_COLUMNS``::

    timestamp, metric, method, observed, expected, lower, upper, score, severity, direction

``score`` is a signed deviation in *robust z units* (how many robust standard deviations
the observation lies from ``expected``; the scale is 1.4826 x the median absolute
deviation, which equals the standard deviation for normal data), so the scores of all
detectors compare. ``lower``/``upper`` is the band outside which an observation is
flagged. ``sensitivity`` sets the threshold on ``|score|`` (see :func:`score_threshold`):
``"low"`` 4.5, ``"medium"`` 3.5 (the default), ``"high"`` 2.5; when the scale comes from
few values (a rolling window) the band is widened as a Student t with ``0.37 (k - 1)``
degrees of freedom for ``k`` values (the MAD's efficiency), so a 28-value window flags
from ``|score|`` 5.1 and false alarms on white noise stay near the nominal
``2 Phi(-3.5)`` = 0.05 %. ``severity`` grades
``|score|`` with fixed bands, the same at every sensitivity (``SEVERITY``: medium from 5,
high from 8, critical from 12, otherwise low). ``direction`` is ``spike`` (above
expected) or ``drop``.

The detectors: :func:`rolling_zscore_anomalies` (trailing or centered median/MAD, with a warm-up),
:func:`iqr_anomalies` (Tukey fences), :func:`seasonal_anomalies` (residuals from robust
STL/MSTL seasonal components and a leave-one-out level), :func:`forecast_anomalies` (out-of-sample residuals of
:class:`~analytics_lib.forecast.Forecaster` backtests), :func:`flatline_anomalies` (runs of
one repeated value: stuck sensors, default-filled rows) and :func:`multivariate_anomalies`
(an IsolationForest over several KPIs at once); :func:`detect_anomalies` runs several and
merges them. :func:`incident_table` groups anomalies into incidents and :func:`drill_down`
finds the team / model / feature / event type behind an incident. :func:`detection_scores`
evaluates detections against labelled windows (event-level precision/recall/F1, point
level, and a NAB standard-profile score); :func:`read_nab` reads NAB-format files.
:mod:`~analytics_lib.analysis.anomaly.nab` scores exactly as the Numenta Anomaly Benchmark does
(profiles, probation, corpus-wide threshold optimisation, normalisation).
:class:`NoveltyDetector` scores a stream causally with state, and :class:`AnomalyMonitor` keeps
one per metric in a folder, so a scheduled job scores only the points it has not seen yet.

Modules: ``attribution``, ``calibration``, ``detect``, ``evaluation``, ``monitor``, ``nab``, ``online``, ``scores``,
``series``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'attribution': [
        'Attribution',
        'drill_down',
    ],
    'detect': [
        'rolling_zscore_anomalies',
        'iqr_anomalies',
        'seasonal_anomalies',
        'forecast_anomalies',
        'flatline_anomalies',
        'multivariate_anomalies',
        'detect_anomalies',
        'incident_table',
    ],
    'evaluation': [
        'NAB_STANDARD',
        'NabData',
        'read_nab',
        'label_windows',
        'DetectionScores',
        'detection_scores',
    ],
    'nab': [
        'NAB_PROFILES',
        'NAB_PROBATION',
        'NabFileScore',
        'NabCorpusScore',
        'nab_file_score',
        'nab_threshold_sweep',
        'nab_corpus_score',
        'nab_normalize',
        'nab_probation',
        'nab_corpus',
        'nab_results',
        'nab_reference_scores',
    ],
    'monitor': [
        'AnomalyMonitor',
        'MONITOR_COLUMNS',
        'SUMMARY_COLUMNS',
    ],
    'calibration': [
        'anomaly_probability',
        'tail_p_value',
        'PROBABILITY_THRESHOLDS',
        'probability_threshold',
    ],
    'online': [
        'NoveltyDetector',
        'nab_rest',
        'NOVELTY_THRESHOLDS',
    ],
    'scores': [
        'Scores',
        'DETECTORS',
        'anomaly_scores',
    ],
    'series': [
        'ANOMALY_COLUMNS',
        'SENSITIVITIES',
        'SEVERITY',
        'SEVERITY_LEVELS',
        'METHODS',
        'score_threshold',
        'MetricSeries',
        'EXTENSIVE_KPIS',
        'metric_series',
        'KPI_KINDS',
    ],
})
