"""Helpers shared by the forecasting tests: the Prophet example files and two series."""
from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import REAL


PROPHET = REAL / "prophet"


def _air():
    df = pd.read_csv(PROPHET / "example_air_passengers.csv")  # bare CR line endings
    return df.assign(unique_id="air", ds=pd.to_datetime(df["ds"]))[["unique_id", "ds", "y"]]


def _seasonal(n=400, seed=0, freq="D"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 200 + 0.3 * t + 25 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 4, n)
    return pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2023-01-02", periods=n, freq=freq), "y": y})
