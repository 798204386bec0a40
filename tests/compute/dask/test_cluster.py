"""Clusters: engine and cluster options are checked (and an address nobody listens on is a clear
error), and forecasts run per series on the cluster's workers with the local result."""
from __future__ import annotations

import pandas as pd
import pytest
from dask_helpers import _free_port

from analytics_lib import WorkbenchError
from analytics_lib.compute.dask.cluster import check_cluster, dask_client
from analytics_lib.compute.engine import check_engine, open_engine


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


def test_forecasts_run_per_series_on_the_cluster_with_the_same_result(cluster):
    from dask.utils import key_split
    from distributed import get_task_stream

    from analytics_lib import auto_forecast, backtest, Forecaster
    from analytics_lib.data.synthetic.series import synthetic_series

    series = synthetic_series(5, days=200, seed=3)
    opts = dict(horizon=7, n_windows=2, models=["seasonal_naive", "theta"])
    local = auto_forecast(series, **opts)
    with dask_client(cluster.scheduler_address) as client, get_task_stream(client) as stream:
        remote = auto_forecast(series, **opts)
        cv = backtest(Forecaster(models=["seasonal_naive"], granularity="D"), series, horizon=7, n_windows=2)
    # every series was a task on a worker process of the cluster: 5 series, fewer than 4 per worker
    # thread, so one batch (task) per series, for auto_forecast and again for backtest
    batches = [t for t in stream.data if key_split(t["key"]) == "run_batch"]
    workers = set(cluster.scheduler_info["workers"])
    assert len(batches) == 2 * 5 and {t["worker"] for t in batches} <= workers
    assert all(any(s["action"] == "compute" for s in t["startstops"]) for t in batches)
    pd.testing.assert_frame_equal(remote.forecast, local.forecast)
    pd.testing.assert_frame_equal(remote.scores, local.scores)
    pd.testing.assert_frame_equal(cv, backtest(Forecaster(models=["seasonal_naive"], granularity="D"), series, horizon=7, n_windows=2))
