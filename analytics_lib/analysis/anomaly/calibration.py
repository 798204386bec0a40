"""Calibrated anomaly scores: how often ordinary observations reach a score.

Any detector's scores become a tail probability that means the same on every series:

* :func:`anomaly_probability` (causal, for streams): each score ranked among the previous
  ``window`` scores, ``1 - p`` with ``p = (1 + #{past scores >= score}) / (1 + #past)``;
  :func:`probability_threshold` is the probability flagged at a sensitivity.
* :func:`tail_p_value` (a look back at a finished window): scores rated against one reference
  set of ordinary scores, with a fitted generalised Pareto tail beyond the largest of them;
  ``detect_anomalies(..., calibrated=True)`` and the anomaly insights' confidence use it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from analytics_lib.core.errors import WorkbenchError


def _as_values(values: Any) -> np.ndarray:
    try:
        x = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        raise WorkbenchError("values must be numbers (a 1-D array, list or Series of floats)") from None
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise WorkbenchError(f"values must be 1-D (got an array of shape {x.shape})")
    return x


# ============================================================================================
# Calibrated anomaly probability
def _count_ge_before(r: np.ndarray, m: np.ndarray, R: int) -> np.ndarray:
    """``#{j < m[i] : r[j] >= r[i]}`` for every i (r: integer ranks in [0, R)), by dyadic blocks:
    [0, m) is one block of 2**l points per set bit l of m, and each level's blocks are sorted
    once (keys ``block * R + rank``), so every count is two binary searches: O(n log^2 n)."""
    n = len(r)
    out = np.zeros(n, dtype=np.int64)
    keys = np.arange(n, dtype=np.int64) * R + r          # level 0: every point its own block, sorted
    level = 0
    while (1 << level) <= n:
        hit = np.flatnonzero((m >> level) & 1)
        if len(hit):
            block = (m[hit] >> level) - 1
            lo = np.searchsorted(keys, block * R + r[hit], side="left")
            hi = np.searchsorted(keys, (block + 1) * R, side="left")
            out[hit] += hi - lo
        level += 1
        # next level: blocks twice as long; merging two sorted runs per block (stable sort is linear-ish)
        keys = np.sort((keys // R >> 1) * R + keys % R, kind="stable")
    return out


def probability_threshold(sensitivity: str | float = "medium") -> float:
    """The anomaly probability flagged at a sensitivity: ``1 - 10 ** -(z - 0.5)`` for the robust-z
    threshold ``z`` of :func:`score_threshold`, so ``"low"`` 0.9999, ``"medium"`` 0.999, ``"high"``
    0.99 (about one false alarm per 10,000 / 1,000 / 100 normal points), and a number in (0, 1)
    in between.

    Examples
    --------
    >>> probability_threshold("medium"), probability_threshold("high"), round(probability_threshold(0.625), 6)
    (0.999, 0.99, 0.996838)
    """
    from analytics_lib.analysis.anomaly.series import score_threshold

    return round(1.0 - 10.0 ** -(score_threshold(sensitivity) - 0.5), 12)


#: Anomaly probability flagged at each named sensitivity: the false-alarm rate on normal points is
#: at most 1 - threshold (1 in 10,000 / 1,000 / 100).
PROBABILITY_THRESHOLDS = {name: probability_threshold(name) for name in ("low", "medium", "high")}


def anomaly_probability(scores: Any, *, window: int = 10_000) -> np.ndarray:
    """A calibrated anomaly probability in [0, 1] for any detector's scores (causal).

    Each score is ranked among the previous ``window`` (non-missing) scores: with ``g`` of
    those ``k`` at least as large, the conformal p-value is ``p = (1 + g) / (1 + k)`` and the
    probability ``1 - p``. Larger scores are more anomalous: pass ``|z|`` for signed scores.

    *Calibrated* means: when the scores are exchangeable (a stable process with no anomaly),
    ``P(probability >= q) <= 1 - q`` for every ``q`` (equal up to rounding for scores without
    ties, e.g. robust z), whatever the scores' distribution. A threshold ``q`` therefore
    sets the false-alarm rate: ``"low"``/``"medium"``/``"high"`` sensitivity ->
    ``q`` = 0.9999 / 0.999 / 0.99, about 1 false alarm per 10,000 / 1,000 / 100 normal
    points. Measured at ``q = 0.999`` (points after the first 1,000): ``|score|`` of
    ``anomaly_scores(method="rolling_z")`` 0.105 % on white noise and 0.107 % on random walks
    (10 x 20,000 points each), 0 on NAB's 5 files without anomalies (15,000 points); novelty
    scores 0.027 % / 0.061 % / 0.007 %. Novelty scores alarm less often than nominal because
    they are not exchangeable: patterns get learnt, so novelty becomes rarer over time
    (breaking ties at random does not change that: 0.036 % on white noise). Numenta's anomaly
    likelihood (a Gaussian tail of a 10-point mean) measured 0.8-1.3 % there, hence the
    conformal rank. A score can reach ``q`` only after ``q / (1 - q)`` previous scores (999
    for 0.999), so early points never alarm.

    Parameters
    ----------
    scores : array-like of float
        One score per point in time order (NaN: missing, its probability is NaN and it is
        not part of any window).
    window : int
        Previous scores each one is ranked among (default 10,000).

    Returns
    -------
    ndarray of float
        The probability per point; 0 for the first score.

    Raises
    ------
    WorkbenchError
        For scores that are not numbers or not 1-D, infinite scores, or a window below 1.

    Examples
    --------
    >>> s = np.r_[np.arange(1000) % 7, 50.0, 3.0]
    >>> anomaly_probability(s)[-2:].round(4).tolist()
    [0.999, 0.4281]
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise WorkbenchError(f"window={window!r} must be a number of scores (an integer >= 1)")
    x = _as_values(scores)
    if np.isinf(x).any():
        raise WorkbenchError("scores must not be infinite (use NaN for a missing score)")
    out = np.full(len(x), np.nan)
    ok = ~np.isnan(x)
    v = x[ok]
    n = len(v)
    if not n:
        return out
    uniq, r = np.unique(v, return_inverse=True)
    r = r.astype(np.int64).reshape(-1)
    R = len(uniq)
    idx = np.arange(n, dtype=np.int64)
    start = np.maximum(idx - int(window), 0)
    if R <= 32:  # few distinct scores (discrete detectors): one running count per value
        g = np.zeros(n, dtype=np.int64)
        for level in range(R):
            cs = np.concatenate([[0], np.cumsum(r >= level)])
            sel = r == level
            g[sel] = cs[idx[sel]] - cs[start[sel]]
    else:
        g = _count_ge_before(r, idx, R)
        if window < n:
            g -= _count_ge_before(r, start, R)
    k = idx - start
    out[ok] = 1.0 - (1.0 + g) / (1.0 + k)
    return out


def tail_p_value(scores: Any, reference: Any, *, tail: int = 50) -> np.ndarray:
    """How often ordinary observations reach each score: a conformal p-value with a fitted tail.

    The look-back counterpart of :func:`anomaly_probability`: every score is compared with one
    ``reference`` set of scores of comparable observations (e.g. the other days of a finished
    window). Up to the largest reference score, ``p = (1 + #{reference >= score}) /
    (1 + #reference)`` (conformal: calibrated whenever the score and the reference are
    exchangeable). Beyond it a rank says nothing more (every such score would get
    ``1 / (1 + n)``), so the tail is extrapolated by peaks over threshold: the excesses of the
    largest ``k`` reference scores (``k = min(tail, n // 10)``) over the next one ``u`` fit a
    generalised Pareto tail, and ``p = min(1 / (1 + n), (1 + k) / (1 + n) * sf(score - u))``.
    The shape is the fitted one plus one standard error (``(1 + max(shape, 0)) / sqrt(k)``), kept in
    ``[0, 0.5]``: 50 points say little about a tail, so the fit leans heavy rather than
    promise a p-value the data cannot back. Measured with references of 1,800 scores and
    ``k = 50`` (share of ``p <= a`` over ``a``, at ``a`` = 1e-3 / 3e-4 / 1e-4 / 3e-5):
    ``|normal|`` 0.62 / 0.46 / 0.33 / 0.33, ``|t_3|`` 0.52 / 0.80 / 1.07 / 1.22, ``|t_5|``
    0.63 / 1.2 / 1.6 / 2.9, exponential 0.58 / 0.83 / 0.70 / 0.56 (1 is exact). A
    heavy-tailed reference gives a large score a higher p-value than a light-tailed one: the
    same robust z is more surprising on a quiet metric than on a jumpy one. Without enough
    reference for a fit (under 50 scores, or no spread at the top) the floor ``1 / (1 + n)``
    stays. Larger scores are more anomalous: pass ``|z|`` for signed scores.

    Parameters
    ----------
    scores : array-like of float
        The scores to rate (NaN gives NaN).
    reference : array-like of float
        Scores of ordinary observations (NaN ignored); an empty reference gives p = 1.
    tail : int
        Largest number of top reference scores the tail is fitted on (default 50, at least 5).

    Returns
    -------
    ndarray of float
        One p-value in (0, 1] per score; non-increasing in the score.

    Examples
    --------
    >>> ref = np.abs(np.random.default_rng(0).normal(size=1000))
    >>> p = tail_p_value([0.0, 1.0, 5.0, 8.0], ref)
    >>> p[:2].round(4).tolist(), bool(p[2] < 1 / 1001), bool(p[3] < p[2])
    ([1.0, 0.3167], True, True)
    """
    if isinstance(tail, bool) or not isinstance(tail, (int, np.integer)) or tail < 5:
        raise WorkbenchError(f"tail={tail!r} must be a number of reference scores (an integer >= 5)")
    x = _as_values(scores)
    ref = _as_values(reference)
    ref = np.sort(ref[~np.isnan(ref)])
    if np.isinf(x).any() or np.isinf(ref).any():
        raise WorkbenchError("scores must not be infinite (use NaN for a missing score)")
    n = len(ref)
    out = np.full(len(x), np.nan)
    ok = ~np.isnan(x)
    v = x[ok]
    p = (1.0 + n - np.searchsorted(ref, v, side="left")) / (1.0 + n)
    k = min(int(tail), n // 10)
    beyond = v > ref[-1] if n else np.zeros(len(v), dtype=bool)
    if k >= 5 and beyond.any():
        u = ref[n - k - 1]
        excess = ref[n - k:] - u
        if excess.max() > 0:
            from scipy import stats

            shape = stats.genpareto.fit(excess, floc=0)[0]
            shape = float(np.clip(shape + (1 + max(shape, 0.0)) / math.sqrt(k), 0.0, 0.5))
            scale = stats.genpareto.fit(excess, fc=shape, floc=0)[2]
            sf = stats.genpareto.sf(v[beyond] - u, shape, scale=scale)
            p[beyond] = np.minimum(1.0 / (1.0 + n), (1.0 + k) / (1.0 + n) * sf)
    out[ok] = p
    return out
