"""How numbers read in narrative text: money, shares, probabilities, counts.

Money is written with an escaped dollar (``\\$``): Markdown shows "$", and a page that typesets math
(MathJax in classic report templates) does not read the text between two amounts as a formula.
"""
from __future__ import annotations

import math


def money(x: float, *, digits: int = 2) -> str:
    r"""An amount in US dollars for Markdown: ``-\$1,234.56``.

    Examples
    --------
    >>> money(1234.5), money(-0.0321, digits=4), money(float("nan"))
    ('\\$1,234.50', '-\\$0.0321', 'n/a')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    sign = "-" if x < 0 else ""
    return f"{sign}\\${abs(x):,.{digits}f}"


def share(p: float, *, digits: int = 1) -> str:
    """A share as a percentage (``0.123`` -> ``12.3%``).

    Examples
    --------
    >>> share(0.1234), share(0.5, digits=0), share(float("nan"))
    ('12.3%', '50%', 'n/a')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    return f"{100 * p:.{digits}f}%"
