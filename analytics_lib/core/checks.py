"""Argument checks shared by the analyses and the notebooks' parameter bundles.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analytics_lib.core.errors import WorkbenchError


def check_positive_int(value: Any, name: str, *, low: int = 1, high: int = 10**9, hint: str = "") -> int:
    """Return ``value`` as an ``int`` if it is a whole number from ``low`` to ``high``, else raise.

    Parameters
    ----------
    value : Any
        The argument to check. Python and NumPy integers pass; ``bool``, floats (even ``3.0``)
        and strings do not.
    name : str
        The argument's name, used in the error message.
    low, high : int
        The inclusive bounds (default 1 and 10**9).
    hint : str
        Text appended to the error message, e.g. ``" (users in the at-risk list)"``; default none.

    Returns
    -------
    int
        ``value`` as a Python ``int``.

    Raises
    ------
    WorkbenchError
        If ``value`` is not a whole number within ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise WorkbenchError(f"{name}={value!r} must be a whole number from {low:,} to {high:,}{hint}")
    return int(value)


def is_whole(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
