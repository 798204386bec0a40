"""Helpers shared by the anomaly tests: the Prophet example files and a noise series."""
from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import REAL


PROPHET = REAL / "prophet"


def _noise(n: int = 90, seed: int = 0, freq: str = "D", weekly: bool = False) -> pd.Series:
    t = pd.date_range("2025-01-01", periods=n, freq=freq, tz="UTC")
    y = 100 + np.random.default_rng(seed).normal(0, 2, n)
    if weekly:
        y = y + 30 * (t.day_of_week < 5)
    return pd.Series(y, index=t, name="x")
