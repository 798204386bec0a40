"""The Dask engine end to end: ``dask scheduler`` and ``dask worker`` started as separate processes on
127.0.0.1 and connected by address, as a user connects to a cluster; a local cluster started and
stopped by ``open_engine``; and the notebooks run with ``engine='dask'`` on a cluster, writing the
pandas run's tables."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT
from dask_helpers import FUNNEL, NOW, _free_port

from analytics_lib import load_events
from analytics_lib.analysis import workflow as W
from analytics_lib.compute.dask.cluster import dask_client
from analytics_lib.compute.dask.readers import DaskEvents
from analytics_lib.compute.engine import open_engine


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
                columns={"period": "ds", "value": "y"})[["unique_id", "ds", "y"]], horizon=7, models=["theta"], n_windows=2)
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
        workers = {p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before
                   and "multiprocessing.resource_tracker" not in " ".join(p.cmdline())}  # that one is ours, for life
        assert workers, "a local cluster runs worker processes"
        loaded = eng.load_events(sample_small.events.head(20_000), now=NOW)
        assert isinstance(loaded, DaskEvents) and loaded.summary.rows_kept == 20_000
        ref = load_events(sample_small.events.head(20_000), now=NOW).events
        pd.testing.assert_frame_equal(eng.retention_matrix(loaded, periods=3), W.retention_matrix(ref, periods=3))
        pd.testing.assert_frame_equal(eng.pandas_events(loaded), ref)
        assert eng.time_span(loaded) == (ref["ts"].min(), ref["ts"].max())
    deadline = time.monotonic() + 30
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in workers):
        assert time.monotonic() < deadline, "the local cluster's processes outlived the engine"
        time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# Notebooks: the engine is one parameter
@pytest.mark.slow
def test_workflow_notebook_on_the_cluster_writes_the_pandas_tables(cluster, tmp_path):
    """papermill runs notebooks/workflow_analysis.ipynb twice on the same store: as is, and with
    engine='dask' and the cluster's address; the kernel connects by address and the tables agree."""
    import nbformat
    import papermill

    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    notebooks = ROOT / "notebooks"
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

    notebooks = ROOT / "notebooks"
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
