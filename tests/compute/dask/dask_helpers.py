"""Helpers shared by the Dask engine's tests: constants and comparisons with the pandas path."""
from __future__ import annotations

import socket

import numpy as np
import pandas as pd

from analytics_lib.compute.dask.readers import DaskEvents


NOW = "2025-07-01"
FUNNEL = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"]]
INT_KPIS = ["events", "active_users", "sessions", "accepts"]


def _in_source_order(part: pd.DataFrame) -> pd.Series:
    """One flag per partition: rows sorted by (ts, source position), ties included.

    A task the workers run, so it lives here (a module they import by name) and not in a test
    file, which under ``--import-mode=importlib`` is ``tests.compute.dask.<name>``."""
    ts, row = part["ts"].to_numpy(), part.index.to_numpy()
    later = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (row[1:] > row[:-1]))
    return pd.Series([bool(later.all())], name="ordered")


def _sorted_events(lazy: DaskEvents) -> pd.DataFrame:
    """The Dask engine's clean events in the pandas engine's order (ts, then source position)."""
    ev = lazy.events.compute().reset_index().sort_values(["ts", "row"], kind="stable")
    return ev.drop(columns="row").reset_index(drop=True)


def _same_values(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal frames; categorical columns compare by value (their category order may differ)."""
    got = got.copy()
    for c in got.columns:
        if isinstance(want[c].dtype, pd.CategoricalDtype):
            assert isinstance(got[c].dtype, pd.CategoricalDtype), c
            assert set(got[c].cat.categories) == set(want[c].cat.categories), c
            got[c] = got[c].cat.set_categories(want[c].cat.categories)
    pd.testing.assert_frame_equal(got, want)


def _same_kpis(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got.index.equals(want.index) and list(got.columns) == list(want.columns)
    for c in want.columns:
        if c in INT_KPIS:
            assert got[c].dtype == want[c].dtype and (got[c] == want[c]).all(), c
        else:  # rates of integers and percentiles are bit-equal; float sums up to the last bits
            np.testing.assert_allclose(got[c], want[c], rtol=1e-12, atol=0, equal_nan=True, err_msg=c)
    exact = ["events_per_user", "sessions_per_user", "cache_hit_rate", "error_rate", "latency_p50", "latency_p95",
             "latency_p99", "tokens_in", "tokens_out", "stickiness"]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
