"""The statistics of an online experiment (A/B test): effects with intervals, ratio metrics by the
delta method, CUPED, the sample-ratio-mismatch check, always-valid (sequential) inference and
the sample size a minimum detectable effect needs.

Definitions (``c`` control, ``t`` treatment; one value per *user*, the unit of randomisation):

- **Mean metric** (satisfaction, latency per user...): effect ``mean_t - mean_c``, standard
  error ``sqrt(var_t / n_t + var_c / n_c)`` (Welch), normal interval.
- **Ratio metric** (accept rate = accepts / generations, cost per accept = cost / accepts): the
  ratio of the group's sums, ``R = sum(num) / sum(den)``, whose variance the **delta method**
  gives from the per-user numerators and denominators (Deng, Knoblich and Lu 2018):
  ``var(R) = (var(num) / mu_d^2 - 2 mu_n cov(num, den) / mu_d^3 + mu_n^2 var(den) / mu_d^4) / n``.
  Users are independent; their events are not, which is why a per-event test is wrong.
- **Relative effect** ``(m_t - m_c) / m_c`` with its delta-method interval.
- **CUPED** (Deng, Xu, Kohavi and Walker 2013): ``y - theta (x - mean(x))`` with ``x`` the same
  user's metric before the experiment and ``theta = cov(y, x) / var(x)`` pooled over both
  groups: the same effect, a smaller variance where ``x`` correlates with ``y``.
- **Sample-ratio mismatch**: Pearson's chi-square of the users per variant against the planned
  split; a p-value below ``0.001`` means the assignment or the logging is broken and no effect
  can be trusted.
- **Always-valid inference**: the mixture sequential probability ratio test (mSPRT; Johari,
  Koomen, Pekelis and Walsh 2017) with a normal mixing distribution of scale ``tau`` on the
  effect. For an estimate ``d`` with variance ``V`` the likelihood ratio is
  ``sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2)))``; the always-valid p-value is the
  running minimum of its inverse over the looks, and the confidence sequence is
  ``d +- sqrt(V (V + tau^2) / tau^2 (log((V + tau^2) / V) + 2 log(1 / alpha)))``. A team may look
  every day and stop at any look: the chance of ever declaring an A/A test significant stays
  below ``alpha``.
- **Sample size** per group for a two-sided test of a difference ``mde`` with standard deviation
  ``sd``: ``(z_(1-alpha/2) + z_power)^2 * sd^2 * (1 + 1/ratio) / mde^2``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np

from analytics_lib.core.errors import WorkbenchError

#: The p-value below which the users per variant do not match the planned split.
SRM_ALPHA = 0.001


def _z(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


@dataclass(frozen=True)
class Effect:
    """An effect of the treatment against the control, with its interval.

    Attributes
    ----------
    control, treatment : float
        The metric in each group.
    n_control, n_treatment : int
        Users in each group.
    diff, se, low, high : float
        Absolute effect (treatment - control), its standard error and ``1 - alpha`` interval.
    relative, relative_low, relative_high : float
        The same relative to the control.
    p_value : float
        Two-sided, fixed horizon (see :func:`always_valid` for looks during the experiment).
    """

    control: float
    treatment: float
    n_control: int
    n_treatment: int
    diff: float
    se: float
    low: float
    high: float
    relative: float
    relative_low: float
    relative_high: float
    p_value: float

    def as_dict(self) -> dict:
        """The fields as a dict (a row of an effects table)."""
        return asdict(self)


def _effect(mc: float, mt: float, vc: float, vt: float, nc: int, nt: int, alpha: float) -> Effect:
    """``vc``, ``vt``: the variances of the two group estimates."""
    from scipy.stats import norm

    diff, se = mt - mc, float(np.sqrt(vc + vt))
    z = _z(1 - alpha / 2)
    p = float(2 * norm.sf(abs(diff) / se)) if se > 0 else (0.0 if diff else 1.0)
    if mc != 0:
        rel = diff / mc
        rel_se = float(np.sqrt(vt / mc ** 2 + mt ** 2 * vc / mc ** 4))
    else:
        rel, rel_se = np.nan, np.nan
    return Effect(float(mc), float(mt), int(nc), int(nt), float(diff), se, diff - z * se, diff + z * se,
                  float(rel), float(rel - z * rel_se), float(rel + z * rel_se), p)


def _values(x, name: str) -> np.ndarray:
    v = np.asarray(x, dtype="float64")
    v = v[np.isfinite(v)]
    if len(v) < 2:
        raise WorkbenchError(f"{name}: {len(v)} user(s) with a value; an effect needs at least 2 per group")
    return v


def mean_effect(control: Sequence[float], treatment: Sequence[float], *, alpha: float = 0.05) -> Effect:
    """The difference of two means (one value per user), Welch's standard error, normal interval.

    Parameters
    ----------
    control, treatment : sequence of float
        One value per user of each group (missing values are left out).
    alpha : float
        1 - the interval's level.

    Examples
    --------
    >>> e = mean_effect([3.0, 4.0, 5.0, 4.0], [4.0, 5.0, 6.0, 5.0])
    >>> round(e.diff, 3), round(e.relative, 3), bool(e.low < 1 < e.high)
    (1.0, 0.25, True)
    """
    c, t = _values(control, "control"), _values(treatment, "treatment")
    return _effect(c.mean(), t.mean(), c.var(ddof=1) / len(c), t.var(ddof=1) / len(t), len(c), len(t), alpha)


def ratio_variance(num: Sequence[float], den: Sequence[float]) -> tuple[float, float]:
    """The ratio of sums ``sum(num) / sum(den)`` over users and its delta-method variance.

    Examples
    --------
    >>> r, v = ratio_variance([1, 2, 0, 3], [2, 4, 1, 5])
    >>> round(r, 4), v > 0
    (0.5, True)
    """
    n_, d_ = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    ok = np.isfinite(n_) & np.isfinite(d_)
    n_, d_ = n_[ok], d_[ok]
    if len(n_) < 2 or d_.sum() <= 0:
        raise WorkbenchError(f"a ratio metric needs at least 2 users and a positive denominator; got {len(n_)} "
                             f"user(s) and a denominator sum of {d_.sum():g}")
    mn, md = n_.mean(), d_.mean()
    cov = np.cov(n_, d_, ddof=1)
    var = (cov[0, 0] / md ** 2 - 2 * mn * cov[0, 1] / md ** 3 + mn ** 2 * cov[1, 1] / md ** 4) / len(n_)
    return float(mn / md), float(max(var, 0.0))


def ratio_effect(control_num: Sequence[float], control_den: Sequence[float], treatment_num: Sequence[float],
                 treatment_den: Sequence[float], *, alpha: float = 0.05) -> Effect:
    """The difference of two ratio metrics (sums of per-user numerators over denominators), by
    the delta method.

    Parameters
    ----------
    control_num, control_den : sequence of float
        Per control user: the numerator (e.g. accepts) and the denominator (e.g. generations).
    treatment_num, treatment_den : sequence of float
        The same for the treatment's users.
    alpha : float
        1 - the interval's level.

    Examples
    --------
    >>> e = ratio_effect([1, 2, 1, 2], [4, 4, 4, 4], [2, 3, 2, 3], [4, 4, 4, 4])
    >>> round(e.control, 3), round(e.treatment, 3), round(e.diff, 3)
    (0.375, 0.625, 0.25)
    """
    rc, vc = ratio_variance(control_num, control_den)
    rt, vt = ratio_variance(treatment_num, treatment_den)
    return _effect(rc, rt, vc, vt, len(control_num), len(treatment_num), alpha)


def cuped(y: Sequence[float], x: Sequence[float], *, theta: float | None = None) -> tuple[np.ndarray, float]:
    """``y`` adjusted by its pre-experiment covariate ``x``: ``y - theta (x - mean(x))``.

    Pass the users of both groups together (``theta`` pooled, so the adjustment cannot create
    an effect). Users without a pre-period value get ``x`` = its mean (no adjustment).

    Parameters
    ----------
    y : sequence of float
        The metric per user during the experiment.
    x : sequence of float
        The same users' metric before it (NaN: none).
    theta : float, optional
        The coefficient; None (default): ``cov(y, x) / var(x)``.

    Returns
    -------
    (ndarray, float)
        The adjusted values and ``theta``.

    Examples
    --------
    >>> y, theta = cuped([2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(theta, 6), y.round(6).tolist()
    (2.0, [5.0, 5.0, 5.0, 5.0])
    """
    y_, x_ = np.asarray(y, dtype="float64"), np.asarray(x, dtype="float64")
    x_ = np.where(np.isfinite(x_), x_, np.nanmean(x_) if np.isfinite(x_).any() else 0.0)
    if theta is None:
        vx = x_.var(ddof=1) if len(x_) > 1 else 0.0
        theta = float(np.cov(y_, x_, ddof=1)[0, 1] / vx) if vx > 0 else 0.0
    return y_ - theta * (x_ - x_.mean()), float(theta)


def srm_test(counts: Mapping[str, int], expected: Mapping[str, float] | None = None) -> tuple[float, float]:
    """Pearson's chi-square of the users per variant against the planned shares (equal by default).

    Returns
    -------
    (float, float)
        The statistic and its p-value.

    Examples
    --------
    >>> round(srm_test({"a": 52_000, "b": 48_000})[1], 12) < 1e-6
    True
    """
    from scipy.stats import chi2

    names = list(counts)
    obs = np.array([counts[k] for k in names], dtype="float64")
    share = np.array([1.0] * len(names) if expected is None else [float(expected[k]) for k in names])
    exp = obs.sum() * share / share.sum()
    stat = float(((obs - exp) ** 2 / exp).sum())
    return stat, float(chi2.sf(stat, len(names) - 1))


def check_srm(counts: Mapping[str, int], expected: Mapping[str, float] | None = None, *,
              alpha: float = SRM_ALPHA) -> float:
    """The SRM p-value; raises when the users per variant do not match the planned split.

    Parameters
    ----------
    counts : mapping of str to int
        Users per variant.
    expected : mapping of str to float, optional
        Planned shares (any scale); None: equal.
    alpha : float
        The p-value below which the split is a mismatch (default :data:`SRM_ALPHA`).

    Raises
    ------
    WorkbenchError
        Naming the counts, the planned split and what to check (assignment, logging, filters).

    Examples
    --------
    >>> check_srm({"control": 50_100, "treatment": 49_900}) > 0.001
    True
    """
    if expected is not None:  # every planned variant counts, with or without users; no unplanned one
        extra = [k for k in counts if k not in expected]
        if extra:
            raise WorkbenchError(f"variant(s) {', '.join(map(str, extra))} have users but no planned share in "
                                 f"{dict(expected)}: give every variant's share")
        counts = {k: int(counts.get(k, 0)) for k in expected}
    if len(counts) < 2:
        raise WorkbenchError(f"an experiment needs at least two variants with users; got {dict(counts)}")
    empty = [k for k, v in counts.items() if v == 0]
    if empty:
        raise WorkbenchError(f"variant(s) {', '.join(map(str, empty))} have no users: check the assignment data")
    _, p = srm_test(counts, expected)
    if p < alpha:
        planned = "equal shares" if expected is None else ", ".join(f"{k} {v:g}" for k, v in expected.items())
        raise WorkbenchError(f"sample ratio mismatch: users per variant {dict(counts)} against {planned} "
                             f"(chi-square p = {p:.2g} < {alpha:g}); the assignment or the logging is broken, so no "
                             "effect is reported: check who was assigned, which events were kept, and filters")
    return p


def always_valid(diff: Sequence[float] | float, var: Sequence[float] | float, *, tau: float,
                 alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Always-valid p-values and confidence sequence (normal-mixture mSPRT) over a series of looks.

    Parameters
    ----------
    diff, var : float or sequence of float
        The effect estimate and its variance at each look, in time order.
    tau : float
        Scale of the normal mixture over effects (about the size of effect that matters, e.g.
        the minimum detectable effect): the test is most powerful near it.
    alpha : float
        The error rate over all looks together.

    Returns
    -------
    (ndarray, ndarray, ndarray)
        p-values (non-increasing), and the lower and upper bounds at each look.

    Examples
    --------
    >>> p, lo, hi = always_valid([0.5, 0.4, 0.45], [0.04, 0.02, 0.01], tau=0.3)
    >>> bool((np.diff(p) <= 0).all()), bool((lo < 0.45).all() and (hi > 0.45).all())
    (True, True)
    """
    if not tau > 0:
        raise WorkbenchError(f"tau={tau!r}: the mixture scale must be positive (about the effect that matters)")
    d, v = np.atleast_1d(np.asarray(diff, dtype="float64")), np.atleast_1d(np.asarray(var, dtype="float64"))
    t2 = tau ** 2
    informative = np.isfinite(d) & np.isfinite(v) & (v > 0)  # a look without variance says nothing
    vv = np.where(informative, v, 1.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_lr = 0.5 * np.log(vv / (vv + t2)) + t2 * d ** 2 / (2 * vv * (vv + t2))
        p = np.fmin.accumulate(np.where(informative, np.minimum(1.0, np.exp(-log_lr)), 1.0))
        half = np.where(informative, np.sqrt(vv * (vv + t2) / t2 * (np.log((vv + t2) / vv) + 2 * np.log(1 / alpha))),
                        np.inf)
    return p, d - half, d + half


def sample_size(sd: float, mde: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> int:
    """Users per control group for a two-sided test to detect ``mde`` with ``power``.

    Parameters
    ----------
    sd : float
        Standard deviation of the metric per user (e.g. over the store's users in a recent window).
    mde : float
        The minimum detectable effect, in the metric's unit.
    alpha, power : float
    ratio : float
        Treatment users per control user.

    Examples
    --------
    >>> sample_size(1.0, 0.1)  # the textbook 1,570 per group for 0.1 sd
    1570
    """
    if not (sd > 0 and mde != 0 and 0 < alpha < 1 and 0 < power < 1 and ratio > 0):
        raise WorkbenchError("sample_size needs sd > 0, mde != 0, 0 < alpha < 1, 0 < power < 1 and ratio > 0")
    n = (_z(1 - alpha / 2) + _z(power)) ** 2 * sd ** 2 * (1 + 1 / ratio) / mde ** 2
    return int(np.ceil(n))
