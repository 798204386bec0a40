"""Fixtures of the Dask engine's tests: a local cluster shared by the modules of this folder,
and 1M events generated once per session (loaded and partitioned by user once, on that cluster)."""
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


HERE = Path(__file__).parent
#: The local cluster (with its client) and the loaded events, shared by the modules of this folder:
#: started when a test first needs them, closed once the last test of this folder has run.
_SHARED: dict = {}


def _close_shared() -> None:
    _SHARED.pop("big", None)  # the persisted partitions go with the client
    client, cluster = _SHARED.pop("client", None), _SHARED.pop("cluster", None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last test of this folder (the next one is elsewhere, or none), close the shared cluster."""
    try:
        return (yield)
    finally:
        if nextitem is None or HERE not in Path(nextitem.path).parents:
            _close_shared()


@pytest.fixture(scope="session")
def _shared_closed_at_the_end():
    """Closes the shared cluster at the end of the session too (when the run stops inside this folder)."""
    try:
        yield
    finally:
        _close_shared()


@pytest.fixture(scope="module")
def cluster(_shared_closed_at_the_end):
    """A local cluster of two worker processes; it is not made the engine's active cluster. The
    modules of this folder share it (a start and a stop cost seconds each)."""
    from distributed import Client, LocalCluster

    if "cluster" not in _SHARED:
        lc = LocalCluster(**local_cluster_options(n_workers=2, memory_limit="4GiB"))
        _SHARED["cluster"], _SHARED["client"] = lc, Client(lc)
    assert len(_SHARED["client"].scheduler_info()["workers"]) == 2
    return _SHARED["cluster"]


@pytest.fixture(scope="session")
def big_parquet(tmp_path_factory):
    """1M clean events without session ids (sessions are derived) as Parquet in 125k-row groups (eight
    pieces, the last one short), generated once per session (only a file: each module loads it in ``big``)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    path = tmp_path_factory.mktemp("big") / "events.parquet"
    events = synthetic_events(1_000_000, days=365, end="2025-06-30", seed=0).events.drop(columns="session_id")
    events.to_parquet(path, index=False, row_group_size=125_000)
    del events
    return path


@pytest.fixture(scope="module")
def big(big_parquet, cluster):
    """1M clean events without session ids (sessions are derived) as Parquet in 125k-row groups,
    the pandas engine's load of it, and the Dask engine's events partitioned by user (persisted on
    the shared cluster: loaded once for the modules of this folder)."""
    if "big" not in _SHARED:
        path = big_parquet
        ref = load_events(path, now=NOW)
        lazy = dask_events(path, now=NOW, rows_per_partition=125_000)
        by_user = events_by_user(lazy).persist()
        _SHARED["big"] = (ref, lazy, by_user)
    return _SHARED["big"]
