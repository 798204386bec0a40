"""Money over time: payback, net present value, internal rate of return.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from analytics_lib.analysis.roi.assumptions import _check_value
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Financial helpers
@dataclass(frozen=True)
class Payback:
    """When the cumulative net cash flow first reaches zero.

    Attributes
    ----------
    months : float or None
        Months from month 0 (interpolated within the month, flows spread evenly); None when
        it does not pay back within the flows given.
    reason : str
        How it was found, or why there is no payback, in a sentence.
    """

    months: float | None
    reason: str


def payback_period(cashflows: Sequence[float]) -> Payback:
    """Payback of monthly net cash flows ``[month 0, month 1, ...]``.

    The cumulative sum is followed from month 0; payback is the first month *k* in which it
    turns from negative to >= 0, at ``k - 1 + (-cumulative[k-1]) / cashflows[k]``. Without an
    initial outlay and a first month that is not negative, payback is 0.

    Examples
    --------
    >>> payback_period([-1000, 300, 300, 300, 300]).months
    3.3333333333333335
    >>> print(payback_period([-1000, 100, 100]).reason)
    cumulative net cash flow is still -$800 after 2 months; at the last month's net of +$100 it would take about 8.0 more months
    """
    v = _flows(cashflows)
    cum = np.cumsum(v)
    if cum[0] >= 0 and (len(v) == 1 or v[1] >= 0):
        return Payback(0.0, "no upfront outlay and the first month is not negative: nothing to pay back")
    ok = (cum[1:] >= 0) & (cum[:-1] < 0)
    if ok.any():
        k = int(np.argmax(ok)) + 1
        months = (k - 1) + (-cum[k - 1]) / v[k]
        return Payback(float(months), f"cumulative net cash flow turns positive in month {k}")
    last = v[-1]
    tail = (f"at the last month's net of {_usd(last, sign=True)} it would take about {-cum[-1] / last:,.1f} more months"
            if last > 0 else f"the last month's net is {_usd(last, sign=True)}, so it does not pay back at this rate")
    return Payback(None, f"cumulative net cash flow is still {_usd(cum[-1])} after {len(v) - 1} months; {tail}")


def _usd(value: float, *, sign: bool = False) -> str:
    """``-$1,234`` (the sign before the dollar); ``sign`` adds ``+`` to positive amounts."""
    mark = "-" if value < 0 else ("+" if sign and value > 0 else "")
    return f"{mark}${abs(value):,.0f}"


def _flows(cashflows: Sequence[float]) -> np.ndarray:
    v = np.asarray(cashflows, dtype="float64")
    if v.ndim != 1 or len(v) < 1 or not np.isfinite(v).all():
        raise WorkbenchError("cash flows must be a non-empty 1-D sequence of finite numbers (month 0 first)")
    return v


def net_present_value(cashflows: Sequence[float], *, annual_rate: float) -> float:
    """NPV of monthly cash flows ``[month 0, month 1, ...]``: month *m* is divided by ``(1 + annual_rate) ** (m / 12)``.

    Equals ``numpy_financial.npv((1 + annual_rate) ** (1 / 12) - 1, cashflows)``.

    Examples
    --------
    >>> round(net_present_value([-1000, 600, 600], annual_rate=0.0), 6)
    200.0
    """
    v = _flows(cashflows)
    r = _check_value("discount_rate", annual_rate)
    return float(np.sum(v * (1.0 + r) ** (-np.arange(len(v)) / 12.0)))


def _irr_monthly(v: np.ndarray) -> tuple[float | None, str]:
    from scipy import optimize

    if not ((v > 0).any() and (v < 0).any()):
        return None, "the net cash flows never change sign, so there is no IRR"
    # NPV as a polynomial in x = 1 / (1 + r); scan r from -99 % to +10,000 % a month for sign changes
    r = np.expm1(np.linspace(np.log(0.01), np.log(101.0), 6001))
    x = 1.0 / (1.0 + r)
    coeffs = v[::-1]
    f = np.polyval(coeffs, x)
    sign = np.sign(f)
    idx = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    roots = [float(r[i]) for i in np.flatnonzero(f == 0)]
    for i in idx:
        roots.append(optimize.brentq(lambda rr: float(np.polyval(coeffs, 1.0 / (1.0 + rr))), r[i], r[i + 1],
                                     xtol=1e-14, rtol=1e-12))
    if not roots:
        return None, "no rate between -99 % and +10,000 % a month makes the NPV zero"
    best = min(roots, key=abs)  # as numpy-financial: the root closest to zero
    note = "" if len(roots) == 1 else f" ({len(roots)} rates make the NPV zero: the one closest to 0 is shown)"
    return best, f"the monthly rate that makes the NPV zero, compounded over 12 months{note}"


def internal_rate_of_return(cashflows: Sequence[float]) -> float | None:
    """Annualised IRR of monthly cash flows ``[month 0, month 1, ...]``, or None when there is none.

    The monthly rate *r* solves ``sum(v[m] / (1 + r) ** m) = 0`` (as ``numpy_financial.irr``,
    taking the root closest to 0 when there are several); the result is ``(1 + r) ** 12 - 1``.

    Examples
    --------
    >>> round(internal_rate_of_return([-1000] + [100] * 12), 4)
    0.413
    >>> internal_rate_of_return([100, 100]) is None
    True
    """
    r, _ = _irr_monthly(_flows(cashflows))
    return None if r is None else float((1.0 + r) ** 12 - 1.0)
