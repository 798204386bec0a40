"""Helpers shared by the insights tests."""
from __future__ import annotations

import pandas as pd


T90 = pd.date_range("2025-01-01", periods=90, freq="D", tz="UTC")
