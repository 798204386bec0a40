"""Synthetic daily KPI-like series for forecasting tests and benchmarks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_series(n_series: int = 100, *, days: int = 1095, end: str = "2025-06-30", seed: int = 0) -> pd.DataFrame:
    """Daily KPI-like series for forecasting tests and benchmarks: ``unique_id, ds, y``.

    Each series is ``level * growth^t * weekly * yearly * noise`` with its own level
    (log-uniform 50-5,000), weekly growth (-0.5% to +1.5%), weekday profile (weekends
    at 30-80% of weekdays), yearly amplitude (0-20%, peak on a random day) and log-normal
    noise (sd 3-12%), plus a few missing days and one-day drops (outages) so that gaps
    and outliers are exercised. Counts are rounded to integers.

    Parameters
    ----------
    n_series : int
        Number of series, named ``series_000``, ``series_001``... (default 100).
    days : int
        Days per series before the missing days are dropped (default 1095, three years).
    end : str
        The last day, any form ``pandas.Timestamp`` accepts (default ``"2025-06-30"``).
    seed : int
        Seed of the random generator; the same seed gives the same series.

    Examples
    --------
    >>> s = synthetic_series(3, days=60, seed=0)
    >>> s.groupby("unique_id").size().tolist()
    [60, 60, 60]
    """
    rng = np.random.default_rng(seed)
    ds = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    t = np.arange(days, dtype="float64")
    level = np.exp(rng.uniform(np.log(50), np.log(5000), n_series))[:, None]
    growth = (1 + rng.uniform(-0.005, 0.015, n_series))[:, None] ** (t / 7)
    weekend = rng.uniform(0.3, 0.8, n_series)[:, None]
    weekly = np.where(np.isin(ds.day_of_week, [5, 6]), weekend, 1.0)
    peak = rng.uniform(0, 365.25, n_series)[:, None]
    yearly = 1 + rng.uniform(0, 0.2, n_series)[:, None] * np.cos(2 * np.pi * (np.asarray(ds.day_of_year) - peak) / 365.25)
    noise = np.exp(rng.normal(0, 1, (n_series, days)) * rng.uniform(0.03, 0.12, n_series)[:, None])
    y = np.round(level * growth * weekly * yearly * noise)
    drops = rng.random((n_series, days)) < 0.002
    y[drops] = np.round(y[drops] * 0.2)
    y[rng.random((n_series, days)) < 0.003] = np.nan  # missing days: a gap in the series
    out = pd.DataFrame({"unique_id": np.repeat([f"series_{i:03d}" for i in range(n_series)], days),
                        "ds": np.tile(ds.to_numpy(), n_series), "y": y.ravel()})
    return out[out["y"].notna()].reset_index(drop=True)
