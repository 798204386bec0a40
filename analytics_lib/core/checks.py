"""Argument checks shared by the analyses and the notebooks' parameter bundles.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analytics_lib.core.errors import WorkbenchError


def check_positive_int(value: Any, name: str, *, low: int = 1, high: int = 10**9, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise WorkbenchError(f"{name}={value!r} must be a whole number from {low:,} to {high:,}{hint}")
    return int(value)


def is_whole(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
