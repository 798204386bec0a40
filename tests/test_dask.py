"""The Dask engine: the same validation and analyses as the pandas path, on a real cluster.

A ``distributed.LocalCluster`` with two worker processes (not the synchronous scheduler) runs
everything here; one test starts ``dask scheduler`` and ``dask worker`` as separate processes
on 127.0.0.1 and connects by address, as a user connects to a cluster. The comparisons are
exact: counts, distinct counts, percentiles, sessions, paths and funnels equal the pandas
path's; sums of floats (cost, satisfaction) may differ in the last bits (summation order), so
those columns are compared to 1e-12 relative.
"""
from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError, load_events
from analytics_lib.analysis import workflow as W
from analytics_lib.compute.dask.readers import DaskEvents, dask_events, write_quarantine
from analytics_lib.compute.dask.cluster import check_cluster, dask_client, local_cluster_options
from analytics_lib.compute.engine import check_engine, open_engine
from analytics_lib.compute.dask.analyses import (
    collected_events, collected_sessions, dask_funnel_table, dask_kpi_table, dask_path_variants,
    dask_retention_matrix, dask_session_table, dask_sessionize, dask_transition_table)
from analytics_lib.compute.dask.partition import events_by_user

NOW = "2025-07-01"
FUNNEL = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"]]
INT_KPIS = ["events", "active_users", "sessions", "accepts"]


# --------------------------------------------------------------------------------------------
# Fixtures: one cluster for the module, a few million events generated once
@pytest.fixture(scope="module")
def cluster():
    """A local cluster of two worker processes; it is not made the engine's active cluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(**local_cluster_options(n_workers=2, memory_limit="4GiB")) as lc, Client(lc) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        yield lc


@pytest.fixture(scope="module")
def big(tmp_path_factory, cluster):
    """2M clean events without session ids (sessions are derived) as Parquet in 250k-row groups,
    the pandas engine's load of it, and the Dask engine's events partitioned by user (persisted)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    path = tmp_path_factory.mktemp("big") / "events.parquet"
    events = synthetic_events(2_000_000, days=365, end="2025-06-30", seed=0).events.drop(columns="session_id")
    events.to_parquet(path, index=False, row_group_size=250_000)
    del events
    ref = load_events(path, now=NOW)
    lazy = dask_events(path, now=NOW, rows_per_partition=250_000)
    by_user = events_by_user(lazy).persist()
    return ref, lazy, by_user


@pytest.fixture(scope="module")
def dirty(tmp_path_factory, cluster):
    """300k events with 1% malformed rows (as a CSV delivers them) plus repeated ids placed in other
    pieces: a valid first occurrence in an earlier piece, an invalid first occurrence, and a first
    occurrence outside the window; written as Parquet in 40k-row groups."""
    from analytics_lib.data.synthetic.events import synthetic_events

    raw = synthetic_events(300_000, days=90, end="2025-06-30", seed=4, malformed_share=0.01).events
    late_copies = raw.iloc[[5, 50_000, 120_000]].copy()            # repeats in later pieces
    invalid_first = raw.iloc[[200_000]].copy()
    invalid_first["latency_ms"] = "-3"                            # quarantined: the later copy is kept
    early = raw[pd.to_datetime(raw["ts"], utc=True, errors="coerce") < pd.Timestamp("2025-05-01", tz="UTC")]
    early_copy = early.iloc[[10]].copy()
    moved = pd.concat([invalid_first, raw, late_copies, early_copy], ignore_index=True)
    path = tmp_path_factory.mktemp("dirty") / "events.parquet"
    moved.to_parquet(path, index=False, row_group_size=40_000)
    return path


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


# --------------------------------------------------------------------------------------------
# Reading and validation
@pytest.mark.slow
def test_validation_equals_load_events_with_cross_piece_duplicates(dirty):
    window = dict(start="2025-05-01", end="2025-06-29")
    ref = load_events(dirty, now=NOW, **window)
    lazy = dask_events(dirty, now=NOW, rows_per_partition=40_000, **window)
    assert lazy.events.npartitions == 8
    assert lazy.summary == ref.summary and lazy.summary.reconciles
    assert ref.summary.by_reason["duplicate_event_id"] > 0 and ref.summary.rows_outside_window > 0
    quarantine = lazy.quarantine.compute().sort_values("source_row").reset_index(drop=True)
    pd.testing.assert_frame_equal(quarantine, ref.quarantine)
    _same_values(_sorted_events(lazy), ref.events)


@pytest.mark.slow
def test_quarantine_is_written_by_the_workers_and_counts_reconcile(dirty, tmp_path):
    ref = load_events(dirty, now=NOW, team=["team-a", "team-b"])
    lazy = dask_events(dirty, now=NOW, team=["team-a", "team-b"], rows_per_partition=40_000)
    summary = write_quarantine(lazy, tmp_path / "quarantine")
    assert summary == ref.summary
    assert summary.rows_read == summary.rows_kept + summary.rows_quarantined + summary.rows_outside_window
    files = sorted((tmp_path / "quarantine").glob("*.parquet"))
    assert len(files) == lazy.quarantine.npartitions  # one file per partition, written by the workers
    written = pd.read_parquet(tmp_path / "quarantine").sort_values("source_row", ignore_index=True)
    assert len(written) == summary.rows_quarantined
    assert written["reason"].astype(str).value_counts().to_dict() == \
        {r: n for r, n in ref.summary.by_reason.items() if n}
    assert written["source_row"].tolist() == ref.quarantine["source_row"].tolist()


@pytest.mark.slow
def test_collected_events_equal_load_events_with_window_and_team(dirty):
    """Gathered from the cluster, the clean events are load_events' frame: rows, order, dtypes and
    categories (a team filter leaves other teams' users among user_id's categories in both)."""
    opts = dict(now=NOW, start="2025-05-01", end="2025-06-29", team=["team-a", "team-c"])
    ref = load_events(dirty, **opts)
    lazy = dask_events(dirty, rows_per_partition=40_000, **opts)
    assert lazy.events.npartitions > 1 and len(ref.events) > 10_000
    pd.testing.assert_frame_equal(collected_events(lazy.events.compute()), ref.events, check_exact=True)


def test_hive_dataset_partitioned_by_date_and_row_numbered_ids(tmp_path, cluster, sample_small):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ev = sample_small.events
    folder = tmp_path / "by_date"
    pq.write_to_dataset(pa.Table.from_pandas(ev.assign(date=ev["ts"].dt.strftime("%Y-%m-%d")), preserve_index=False),
                        folder, partition_cols=["date"])
    ref = load_events(folder, now=NOW, start="2025-06-01")
    lazy = dask_events(folder, now=NOW, start="2025-06-01")
    assert lazy.summary == ref.summary and lazy.events.npartitions > 1
    got = _sorted_events(lazy)
    _same_values(got, ref.events)
    assert "date" in got.columns  # the partition key is read as a column, as pyarrow does
    # a log without ids, numbered by position in the whole source: no repeats across pieces
    mapping = {"event_id": "@row", "ts": "time", "user_id": "case", "event_type": "activity"}
    log = ev[["ts", "user_id", "event_type"]].rename(columns={"ts": "time", "user_id": "case", "event_type": "activity"})
    path = tmp_path / "log.parquet"
    log.to_parquet(path, row_group_size=7_000)
    ref = load_events(path, mapping=mapping, now=NOW)
    lazy = dask_events(path, mapping=mapping, now=NOW, rows_per_partition=7_000)
    assert lazy.summary == ref.summary
    _same_values(_sorted_events(lazy), ref.events)


def test_sql_source_is_read_in_index_ranges_with_the_window_pushed_down(tmp_path, cluster, sample_small):
    from analytics_lib import validate_events, write_events

    url = f"sqlite:///{tmp_path / 'store.db'}"
    write_events(validate_events(sample_small.events, now=NOW), url)
    ref = load_events(url, now=NOW, start="2025-05-15", team="team-b")
    lazy = dask_events(url, now=NOW, start="2025-05-15", team="team-b", rows_per_partition=5_000)
    assert lazy.events.npartitions > 1
    assert lazy.summary == ref.summary
    _same_values(_sorted_events(lazy), ref.events)
    _same_kpis(dask_kpi_table(lazy).compute(), W.kpi_table(ref.events))
    with pytest.raises(WorkbenchError, match="no events in"):
        dask_events(url, now=NOW, start="2030-01-01")
    with pytest.raises(WorkbenchError, match="has no table 'nope'"):
        dask_events(url, table="nope")


def test_structural_errors_are_those_of_load_events(tmp_path, sample_small):
    path = tmp_path / "e.parquet"
    sample_small.events.drop(columns="user_id").head(100).to_parquet(path)
    for source in (path, sample_small.events.drop(columns="user_id")):
        with pytest.raises(WorkbenchError, match="missing required columns: user_id"):
            dask_events(source, now=NOW)
    with pytest.raises(WorkbenchError, match="does not exist"):
        dask_events(tmp_path / "missing.parquet")
    with pytest.raises(WorkbenchError, match="is empty"):
        dask_events(sample_small.events.iloc[:0])
    csv = tmp_path / "e.csv"
    sample_small.events.head(10).to_csv(csv, index=False)
    with pytest.raises(WorkbenchError, match="convert CSV to Parquet"):
        dask_events(csv)
    with pytest.raises(WorkbenchError, match="has no team column"):
        dask_events(sample_small.events.drop(columns="team"), team="team-a")
    with pytest.raises(WorkbenchError, match="unknown contract columns"):
        dask_events(path, mapping={"when": "ts"})
    with pytest.raises(WorkbenchError, match="rows_per_partition"):
        dask_events(path, rows_per_partition=0)


def test_engine_and_cluster_options_are_checked():
    assert check_engine(" Pandas ") == "pandas" and check_cluster("127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    with pytest.raises(WorkbenchError, match="use 'pandas'"):
        check_engine("spark")
    for bad in ("tcp://nohost", "http://a:1", 8786):
        with pytest.raises(WorkbenchError, match="scheduler address"):
            check_cluster(bad)
    with pytest.raises(WorkbenchError, match="cluster= is for engine='dask'"):
        open_engine("pandas", cluster="tcp://127.0.0.1:8786")
    port = _free_port()  # nothing listens there
    with pytest.raises(WorkbenchError, match="could not connect to the Dask scheduler"):
        with dask_client(f"tcp://127.0.0.1:{port}", timeout=2):
            pass


# --------------------------------------------------------------------------------------------
# Analyses: Dask results equal the pandas results on 2M events
@pytest.mark.slow
def test_partitions_hold_whole_users_in_source_order(big):
    ref, lazy, by_user = big
    assert lazy.summary == ref.summary
    # synthetic_events hits its target within a few percent (2,000,079 rows here): one piece per
    # 250k-row group, the last one short, and the shuffle by user keeps that many partitions
    groups = math.ceil(ref.summary.rows_read / 250_000)
    assert lazy.events.npartitions == by_user.frame.npartitions == groups
    users = by_user.frame.map_partitions(lambda d: d["user_id"].astype(str).drop_duplicates()).compute()
    assert users.is_unique and len(users) == ref.events["user_id"].nunique()
    keys = by_user.frame.map_partitions(lambda d: d[["ts"]].reset_index()).compute()
    assert len(keys) == len(ref.events) and keys["row"].is_unique
    ordered = by_user.frame.map_partitions(_in_source_order, meta=("ordered", bool)).compute()
    assert len(ordered) == groups and ordered.all()


def _in_source_order(part: pd.DataFrame) -> pd.Series:
    """One flag per partition: rows sorted by (ts, source position), ties included."""
    ts, row = part["ts"].to_numpy(), part.index.to_numpy()
    later = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (row[1:] > row[:-1]))
    return pd.Series([bool(later.all())], name="ordered")


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
    for opts in (dict(cohort="W", periods=8), dict(cohort="M", periods=6, mode="on_or_after", cohort_type="recurring")):
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
    for opts in (dict(unit="session"), dict(unit="user", by="team", window="7D"), dict(unit="session", mode="strict"),
                 dict(unit="user", mode="any")):
        pd.testing.assert_frame_equal(dask_funnel_table(by_user, FUNNEL, **opts).compute(),
                                      W.funnel_table(ref.events, FUNNEL, **opts), check_exact=True)


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


def test_bad_parameters_fail_before_anything_runs(sample_small):
    ev = sample_small.events
    with pytest.raises(WorkbenchError, match="granularity"):
        dask_kpi_table(ev, granularity="H")
    with pytest.raises(WorkbenchError, match="at least two steps"):
        dask_funnel_table(ev, ["search"])
    with pytest.raises(WorkbenchError, match="top=0"):
        dask_path_variants(ev, top=0)
    with pytest.raises(WorkbenchError, match="weekly"):
        dask_retention_matrix(ev, cohort="D")
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


# --------------------------------------------------------------------------------------------
# Forecasting on the cluster, and the engine option end to end
def test_forecasts_run_per_series_on_the_cluster_with_the_same_result(cluster):
    from dask.utils import key_split
    from distributed import get_task_stream

    from analytics_lib import auto_forecast, backtest, Forecaster
    from analytics_lib.data.synthetic.series import synthetic_series

    series = synthetic_series(5, days=200, seed=3)
    opts = dict(h=7, n_windows=2, models=["seasonal_naive", "theta"])
    local = auto_forecast(series, **opts)
    with dask_client(cluster.scheduler_address) as client, get_task_stream(client) as stream:
        remote = auto_forecast(series, **opts)
        cv = backtest(Forecaster(models=["seasonal_naive"], freq="D"), series, h=7, n_windows=2)
    # every series was a task on a worker process of the cluster: 5 series, fewer than 4 per worker
    # thread, so one batch (task) per series, for auto_forecast and again for backtest
    batches = [t for t in stream.data if key_split(t["key"]) == "run_batch"]
    workers = set(cluster.scheduler_info["workers"])
    assert len(batches) == 2 * 5 and {t["worker"] for t in batches} <= workers
    assert all(any(s["action"] == "compute" for s in t["startstops"]) for t in batches)
    pd.testing.assert_frame_equal(remote.forecast, local.forecast)
    pd.testing.assert_frame_equal(remote.scores, local.scores)
    pd.testing.assert_frame_equal(cv, backtest(Forecaster(models=["seasonal_naive"], freq="D"), series, h=7, n_windows=2))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dask_scheduler_and_worker_processes_connected_by_address(tmp_path, sample_small):
    """``dask scheduler`` + ``dask worker`` started as a user would, on loopback; the engine
    connects by address, computes, and every process is gone at the end."""
    dask_cli = Path(sys.executable).parent / "dask"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    common = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env, cwd=tmp_path)
    procs = []
    try:
        procs.append(subprocess.Popen([str(dask_cli), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard"], **common))
        procs.append(subprocess.Popen([str(dask_cli), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--nworkers", "2", "--no-dashboard", "--memory-limit", "2GiB",
                                       "--local-directory", str(tmp_path)], **common))
        deadline = time.monotonic() + 60
        while True:  # the scheduler takes a few seconds to listen
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "dask scheduler did not start"
                assert procs[0].poll() is None, "dask scheduler exited"
                time.sleep(0.3)
        ev = sample_small.events
        with open_engine("dask", cluster=address) as eng:
            assert eng.client.scheduler.address == address
            eng.client.wait_for_workers(2, timeout=60)
            got = eng.kpi_table(ev, granularity="W")
            funnel = eng.funnel_table(ev, FUNNEL, unit="session")
            fc = eng.auto_forecast(W.metric_table(ev, "events").assign(unique_id="events").rename(
                columns={"period": "ds", "value": "y"})[["unique_id", "ds", "y"]], h=7, models=["theta"], n_windows=2)
        with open_engine("pandas") as eng:
            pd.testing.assert_frame_equal(got, eng.kpi_table(ev, granularity="W"))
            pd.testing.assert_frame_equal(funnel, eng.funnel_table(ev, FUNNEL, unit="session"))
        assert len(fc.forecast) == 7
        assert all(p.poll() is None for p in procs), "the cluster must outlive the engine that connected to it"
    finally:
        for p in procs:
            _stop(p)
    assert all(p.poll() is not None for p in procs)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate a process group (the nanny's workers too); kill it if it does not stop in time."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    try:  # leftovers of the group (a worker whose nanny died first)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def test_open_engine_starts_and_stops_a_local_cluster(sample_small):
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with open_engine("dask", n_workers=1, memory_limit="2GiB") as eng:
        workers = {p.pid for p in psutil.Process().children(recursive=True)} - before
        assert workers, "a local cluster runs worker processes"
        loaded = eng.load_events(sample_small.events.head(20_000), now=NOW)
        assert isinstance(loaded, DaskEvents) and loaded.summary.rows_kept == 20_000
        ref = load_events(sample_small.events.head(20_000), now=NOW).events
        pd.testing.assert_frame_equal(eng.retention_matrix(loaded, periods=3), W.retention_matrix(ref, periods=3))
        pd.testing.assert_frame_equal(eng.pandas_events(loaded), ref)
    deadline = time.monotonic() + 30
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in workers):
        assert time.monotonic() < deadline, "the local cluster's processes outlived the engine"
        time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# Notebooks and jobs: the engine is one parameter
@pytest.mark.slow
def test_workflow_notebook_on_the_cluster_writes_the_pandas_tables(cluster, tmp_path):
    """papermill runs notebooks/workflow_analysis.ipynb twice on the same store: as is, and with
    engine='dask' and the cluster's address; the kernel connects by address and the tables agree."""
    import nbformat
    import papermill

    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    store = f"sqlite:///{tmp_path / 'events.db'}"
    write_events(validate_events(synthetic_events(30_000, days=60, seed=1).events), store)
    outs = {}
    for name, extra in (("pandas", {}), ("dask", {"engine": "dask", "cluster": cluster.scheduler_address})):
        outs[name] = tmp_path / name
        papermill.execute_notebook(str(notebooks / "workflow_analysis.ipynb"), str(tmp_path / f"{name}.ipynb"),
                                   parameters={"source": store, "output_dir": str(outs[name]), "granularity": "W",
                                               **extra},
                                   kernel_name="python3", cwd=str(notebooks), progress_bar=False)
    nb = nbformat.read(tmp_path / "dask.ipynb", as_version=4)
    shown = "\n".join(o.get("data", {}).get("text/plain", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert f"dask, the cluster at {cluster.scheduler_address}" in shown  # the parameters table says where it ran
    for table in ("kpis", "funnel", "funnel_users", "retention", "transitions", "bottlenecks"):
        got, want = pd.read_parquet(outs["dask"] / f"{table}.parquet"), pd.read_parquet(outs["pandas"] / f"{table}.parquet")
        # float sums (cost, satisfaction, waiting hours) may differ in the last bits; all else is equal
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=0, obj=table)
        assert len(want) > 0, table
    with dask_client(cluster.scheduler_address) as client:  # the notebook disconnected; the cluster still runs
        assert len(client.scheduler_info()["workers"]) == 2


def test_forecasting_notebook_fits_on_the_cluster_with_the_local_result(cluster, tmp_path):
    """papermill runs notebooks/forecasting.ipynb as is and with engine='dask' and the cluster's
    address: the per-series fits run on the cluster's workers and the forecasts are the same."""
    import papermill
    from dask.utils import key_split
    from distributed import Client, get_task_stream

    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    store = f"sqlite:///{tmp_path / 'events.db'}"
    write_events(validate_events(synthetic_events(20_000, days=120, seed=3).events), store)
    outs = {}
    with Client(cluster) as client, get_task_stream(client) as stream:  # every task the scheduler runs meanwhile
        for name, extra in (("pandas", {}), ("dask", {"engine": "dask", "cluster": cluster.scheduler_address})):
            outs[name] = tmp_path / name
            papermill.execute_notebook(str(notebooks / "forecasting.ipynb"), str(tmp_path / f"{name}.ipynb"),
                                       parameters={"source": store, "output_dir": str(outs[name]), "by": "team",
                                                   "horizon": 14, "models": ["ets", "theta"], **extra},
                                       kernel_name="python3", cwd=str(notebooks), progress_bar=False)
    for table in ("forecast", "selection", "spend_forecast"):
        pd.testing.assert_frame_equal(pd.read_parquet(outs["dask"] / f"{table}.parquet"),
                                      pd.read_parquet(outs["pandas"] / f"{table}.parquet"), obj=table)
    # the dask run's per-series batches ran on this cluster's workers: the team series and the
    # model spend series, for the selection, and for the spend forecast
    assert len([t for t in stream.data if key_split(t["key"]) == "run_batch"]) >= 2


def test_jobs_take_the_engine_and_check_it_before_any_kernel(tmp_path):
    from analytics_lib import check_job, find_job, load_job_specs

    job = find_job(load_job_specs(), "daily-workflow")
    assert {"engine", "cluster"} <= set(job.declared)
    store = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "store.db").touch()
    assert check_job(job, overrides={"engine": "dask", "cluster": "tcp://127.0.0.1:8786"}, store=store)
    with pytest.raises(WorkbenchError, match=r"daily-workflow.*cluster='nohost' is not a scheduler address"):
        check_job(job, overrides={"engine": "dask", "cluster": "nohost"}, store=store)
    with pytest.raises(WorkbenchError, match=r"daily-workflow.*cluster='tcp://127.0.0.1:8786' is for engine='dask'"):
        check_job(job, overrides={"cluster": "tcp://127.0.0.1:8786"}, store=store)
