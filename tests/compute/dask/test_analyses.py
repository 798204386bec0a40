"""The Dask analyses equal the pandas results on 1M events: KPIs, sessions, retention, paths and
transitions, funnels; bad parameters fail before anything runs; session ids spanning users are
refused.
A ``distributed.LocalCluster`` with two worker processes (not the synchronous scheduler) runs
these tests. The comparisons are exact: counts, distinct counts, percentiles, sessions, paths and
funnels equal the pandas path's; sums of floats (cost, satisfaction) may differ in the last bits
(summation order), so those columns are compared to 1e-12 relative."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dask_helpers import FUNNEL, NOW, _same_kpis

from analytics_lib import WorkbenchError, load_events
from analytics_lib.analysis import workflow as W
from analytics_lib.compute.dask.analyses import (collected_sessions, dask_funnel_table, dask_kpi_table,
                                                 dask_path_variants, dask_retention_matrix, dask_session_table,
                                                 dask_sessionize, dask_transition_table)
from analytics_lib.compute.dask.partition import events_by_user


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["D", "W", "M"])
def test_kpi_table_equals_pandas(big, granularity):
    ref, _, by_user = big
    _same_kpis(dask_kpi_table(by_user, granularity=granularity).compute(), W.kpi_table(ref.events, granularity=granularity))


@pytest.mark.slow
def test_sessions_equal_pandas(big):
    ref, _, by_user = big
    sessionized = dask_sessionize(by_user).frame.compute().sort_index()
    want = W.sessionize(ref.events)
    # the pandas frame is in (ts, source position) order; the Dask index is that source position
    positions = _sorted_events_positions(by_user)
    assert sessionized.loc[positions, "session_id"].tolist() == want["session_id"].tolist()
    sessions = collected_sessions(dask_session_table(by_user).compute())
    pd.testing.assert_frame_equal(sessions, W.session_table(ref.events))


def _sorted_events_positions(by_user) -> np.ndarray:
    index = by_user.frame.map_partitions(lambda d: d[["ts"]].reset_index()).compute()
    return index.sort_values(["ts", "row"], kind="stable")["row"].to_numpy()


@pytest.mark.slow
def test_retention_equals_pandas(big):
    ref, _, by_user = big
    for opts in (dict(granularity="W", periods=8), dict(granularity="M", periods=6, mode="on_or_after", cohort_type="recurring")):
        pd.testing.assert_frame_equal(dask_retention_matrix(by_user, **opts).compute(),
                                      W.retention_matrix(ref.events, **opts), check_exact=True)


@pytest.mark.slow
def test_paths_and_transitions_equal_pandas(big):
    ref, _, by_user = big
    pd.testing.assert_frame_equal(dask_path_variants(by_user, top=30).compute(), W.path_variants(ref.events, top=30),
                                  check_exact=True)
    got, want = dask_transition_table(by_user).compute(), W.transition_table(ref.events)
    exact = [c for c in want.columns if c != "total_wait_h"]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
    np.testing.assert_allclose(got["total_wait_h"], want["total_wait_h"], rtol=1e-12)


@pytest.mark.slow
def test_funnels_equal_pandas(big):
    ref, _, by_user = big
    for opts in (dict(unit="session"), dict(unit="user", by="team", within="7D"), dict(unit="session", mode="strict"),
                 dict(unit="user", mode="any")):
        pd.testing.assert_frame_equal(dask_funnel_table(by_user, FUNNEL, **opts).compute(),
                                      W.funnel_table(ref.events, FUNNEL, **opts), check_exact=True)


def test_bad_parameters_fail_before_anything_runs(sample_small):
    ev = sample_small.events
    with pytest.raises(WorkbenchError, match="granularity"):
        dask_kpi_table(ev, granularity="H")
    with pytest.raises(WorkbenchError, match="at least two steps"):
        dask_funnel_table(ev, ["search"])
    with pytest.raises(WorkbenchError, match="top=0"):
        dask_path_variants(ev, top=0)
    with pytest.raises(WorkbenchError, match="weekly"):
        dask_retention_matrix(ev, granularity="D")
    with pytest.raises(WorkbenchError, match="gap"):
        dask_session_table(ev, gap="soon")
    with pytest.raises(WorkbenchError, match="not columns of the events"):
        events_by_user(ev, columns=["nope"])


def test_session_ids_spanning_users_are_refused(cluster):
    """A given session_id shared by two users cannot be split by user: the collect step says so."""
    raw = pd.DataFrame({"event_id": list("abcd"), "ts": pd.date_range("2025-01-01 10:00", periods=4, freq="min", tz="UTC"),
                        "user_id": ["u1", "u2", "u3", "u4"], "event_type": "search", "session_id": "shared"})
    parts = dask_session_table(events_by_user(load_events(raw, now=NOW).events, npartitions=4)).compute()
    assert parts["session_id"].duplicated().any()  # four users, four partitions: the session is cut in pieces
    with pytest.raises(WorkbenchError, match="several users"):
        collected_sessions(parts)
