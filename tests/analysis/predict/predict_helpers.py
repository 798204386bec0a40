"""Helpers shared by the prediction tests."""
from __future__ import annotations

import pandas as pd


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")
