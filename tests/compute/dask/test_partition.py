"""Events partitioned by user: partitions hold whole users in source order, and checkpointed
partitions (written to Parquet and read back) give the same results.
A ``distributed.LocalCluster`` with two worker processes (not the synchronous scheduler) runs
these tests. The comparisons are exact: counts, distinct counts, percentiles, sessions, paths and
funnels equal the pandas path's; sums of floats (cost, satisfaction) may differ in the last bits
(summation order), so those columns are compared to 1e-12 relative."""
from __future__ import annotations

import math

import dask
import pandas as pd
import pytest
from dask_helpers import _in_source_order, _same_kpis

from analytics_lib import WorkbenchError
from analytics_lib.analysis import workflow as W
from analytics_lib.compute.dask.analyses import collected_sessions, dask_kpi_table, dask_session_table, dask_sessionize


@pytest.mark.slow
def test_partitions_hold_whole_users_in_source_order(big):
    ref, lazy, by_user = big
    assert lazy.summary == ref.summary
    # synthetic_events hits its target within a few percent (999,972 rows here): one piece per
    # 125k-row group, the last one short, and the shuffle by user keeps that many partitions
    groups = math.ceil(ref.summary.rows_read / 125_000)
    assert lazy.events.npartitions == by_user.frame.npartitions == groups
    users = by_user.frame.map_partitions(lambda d: d["user_id"].astype(str).drop_duplicates()).compute()
    assert users.is_unique and len(users) == ref.events["user_id"].nunique()
    keys = by_user.frame.map_partitions(lambda d: d[["ts"]].reset_index()).compute()
    assert len(keys) == len(ref.events) and keys["row"].is_unique
    ordered = by_user.frame.map_partitions(_in_source_order, meta=("ordered", bool)).compute()
    assert len(ordered) == groups and ordered.all()


@pytest.mark.slow
def test_checkpointed_partitions_give_the_same_results(big, tmp_path):
    """Written to Parquet and read back (bounded memory for several results), the partitions are
    the same users in the same order, and the results still equal the pandas path's."""
    ref, _, by_user = big
    sessions = dask_sessionize(by_user)
    again = sessions.checkpoint(tmp_path / "by_user")
    assert sorted(p.name for p in (tmp_path / "by_user").iterdir()) == \
        sorted(f"part.{i}.parquet" for i in range(sessions.frame.npartitions))
    assert again.frame.npartitions == sessions.frame.npartitions
    before = sessions.frame.map_partitions(lambda d: d.index.to_series()).compute().to_numpy()
    after = again.frame.map_partitions(lambda d: d.index.to_series()).compute().to_numpy()
    assert (before == after).all()  # every partition holds the same rows, in the same order
    kpis, parts = dask.compute(dask_kpi_table(again, granularity="W"), dask_session_table(again))
    _same_kpis(kpis, W.kpi_table(ref.events, granularity="W"))
    pd.testing.assert_frame_equal(collected_sessions(parts), W.session_table(ref.events))
    with pytest.raises(WorkbenchError, match="must be new or empty"):
        sessions.checkpoint(tmp_path / "by_user")
