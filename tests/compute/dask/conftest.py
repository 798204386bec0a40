"""Fixtures of the Dask engine's tests: a local cluster per test module, and 2M events generated once
per session (loaded and partitioned by user in each module that uses them)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analytics_lib import load_events
from analytics_lib.compute.dask.cluster import local_cluster_options
from analytics_lib.compute.dask.partition import events_by_user
from analytics_lib.compute.dask.readers import dask_events

sys.path.insert(0, str(Path(__file__).parent))  # for dask_helpers.py (see tests/conftest.py)
from dask_helpers import NOW  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of two worker processes; it is not made the engine's active cluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(**local_cluster_options(n_workers=2, memory_limit="4GiB")) as lc, Client(lc) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        yield lc


@pytest.fixture(scope="session")
def big_parquet(tmp_path_factory):
    """2M clean events without session ids (sessions are derived) as Parquet in 250k-row groups,
    generated once per session (only a file: each module loads it in ``big``)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    path = tmp_path_factory.mktemp("big") / "events.parquet"
    events = synthetic_events(2_000_000, days=365, end="2025-06-30", seed=0).events.drop(columns="session_id")
    events.to_parquet(path, index=False, row_group_size=250_000)
    del events
    return path


@pytest.fixture(scope="module")
def big(big_parquet, cluster):
    """2M clean events without session ids (sessions are derived) as Parquet in 250k-row groups,
    the pandas engine's load of it, and the Dask engine's events partitioned by user (persisted)."""
    path = big_parquet
    ref = load_events(path, now=NOW)
    lazy = dask_events(path, now=NOW, rows_per_partition=250_000)
    by_user = events_by_user(lazy).persist()
    return ref, lazy, by_user
