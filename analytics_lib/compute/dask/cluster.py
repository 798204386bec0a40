"""Dask clusters: options, a local cluster or a scheduler's address, the active client, per-series work on it.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
from typing import Callable

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.parallel import using_backend


#: Target rows per Dask partition when reading (a Parquet piece holds whole row groups).
ROWS_PER_PARTITION = 1_000_000


_ROW = "_wb_row"            # source position (Parquet) or index value (SQL) carried through validation
_ROW_IDS = "_wb_row_ids"    # generated ids for a mapping {"event_id": "@row"}
_CLIENT: contextvars.ContextVar = contextvars.ContextVar("analytics_lib_dask_client", default=None)


# ============================================================================================
# Choosing the cluster
def check_cluster(cluster: str | None) -> str | None:
    """A scheduler address, checked (``None`` means: start a local cluster).

    Accepts ``tcp://host:port`` or ``tls://host:port``; a bare ``host:port`` gets ``tcp://``.

    Examples
    --------
    >>> check_cluster("10.0.0.5:8786"), check_cluster(None)
    ('tcp://10.0.0.5:8786', None)
    """
    if cluster is None or (isinstance(cluster, str) and cluster.strip() == ""):
        return None
    if not isinstance(cluster, str):
        raise WorkbenchError(f"cluster={cluster!r} must be a scheduler address such as 'tcp://10.0.0.5:8786', or None")
    address = cluster.strip()
    if "://" not in address:
        address = "tcp://" + address
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss") or not host or not port.isdigit():
        raise WorkbenchError(f"cluster={cluster!r} is not a scheduler address: use 'tcp://host:port' "
                             "(the address `dask scheduler` prints), or None for a local cluster")
    return address


def local_cluster_options(*, n_workers: int | None = None, threads_per_worker: int = 1,
                          memory_limit: str | int | None = None) -> dict:
    """Keyword arguments for :class:`distributed.LocalCluster` sized for this machine.

    One worker process per core (at most 4), one thread each, bound to 127.0.0.1 with no
    dashboard (parallel runs never clash on port 8787); each worker may use 70 % of the
    machine's memory divided by the number of workers before Dask spills, pauses and
    finally restarts it. ``memory_limit`` overrides that (``"6GiB"`` or bytes).

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; None or 0 (default): one per core, at most 4.
    threads_per_worker : int
        Threads per worker process (default 1).
    memory_limit : str or int, optional
        Memory per worker, as ``"6GiB"`` or bytes; None (default): 70 % of the machine's
        memory divided by the number of workers.

    Examples
    --------
    >>> opts = local_cluster_options(n_workers=2)
    >>> opts["n_workers"], opts["processes"], opts["host"]
    (2, True, '127.0.0.1')
    """
    import psutil  # a dependency of distributed

    n = int(n_workers) if n_workers else max(1, min(os.cpu_count() or 1, 4))
    if n < 1:
        raise WorkbenchError(f"n_workers={n_workers} must be at least 1")
    limit = memory_limit if memory_limit is not None else int(psutil.virtual_memory().total * 0.7 / n)
    # no dashboard; the scheduler's small HTTP server (health checks) on a free port, not on 8787
    return {"n_workers": n, "threads_per_worker": int(threads_per_worker), "processes": True, "host": "127.0.0.1",
            "dashboard_address": None, "scheduler_kwargs": {"dashboard": False, "dashboard_address": ":0"},
            "memory_limit": limit, "silence_logs": 40}


@contextlib.contextmanager
def dask_client(cluster: str | None = None, *, n_workers: int | None = None, threads_per_worker: int = 1,
                memory_limit: str | int | None = None, timeout: float = 30.0):
    """A :class:`distributed.Client` for the ``with`` block: a new local cluster or a running one.

    With ``cluster=None`` a :class:`~distributed.LocalCluster` is started with
    :func:`local_cluster_options` and closed (workers and all) when the block ends. With an
    address the client connects to that scheduler, waits for at least one worker, checks
    that the workers can import ``analytics_lib`` and disconnects at the end (the cluster
    keeps running). Inside the block, ``auto_forecast`` and ``backtest`` run their
    per-series tasks on this cluster.

    Parameters
    ----------
    cluster : str, optional
        Scheduler address (``tcp://host:8786``), or None for a local cluster.
    n_workers, threads_per_worker, memory_limit
        Local cluster only (see :func:`local_cluster_options`).
    timeout : float
        Seconds to wait for the scheduler and its first worker.

    Raises
    ------
    WorkbenchError
        When the scheduler cannot be reached, has no workers, or its workers lack the package.

    Examples
    --------
    >>> with dask_client(n_workers=2) as client:  # doctest: +SKIP
    ...     len(client.scheduler_info()["workers"])
    2
    """
    with contextlib.ExitStack() as stack:
        client = _open_client(stack, check_cluster(cluster), n_workers=n_workers,
                              threads_per_worker=threads_per_worker, memory_limit=memory_limit, timeout=timeout)
        with _using(client):
            yield client


def _open_client(stack: contextlib.ExitStack, address: str | None, *, n_workers: int | None = None,
                 threads_per_worker: int = 1, memory_limit: str | int | None = None, timeout: float = 30.0):
    """Start a local cluster or connect to ``address``; ``stack`` closes what was opened."""
    from distributed import Client, LocalCluster

    if address is None:
        local = stack.enter_context(LocalCluster(**local_cluster_options(
            n_workers=n_workers, threads_per_worker=threads_per_worker, memory_limit=memory_limit)))
        return stack.enter_context(Client(local))
    return stack.enter_context(_connect(address, timeout))


@contextlib.contextmanager
def _connect(address: str, timeout: float):
    from distributed import Client

    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise WorkbenchError(f"could not connect to the Dask scheduler at {address} ({type(exc).__name__}: {exc}): "
                             "check the address `dask scheduler` printed, that it runs and that this machine "
                             "can reach it; or pass cluster=None for a local cluster") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as exc:
            raise WorkbenchError(f"the Dask scheduler at {address} has no workers: start some with "
                                 f"`dask worker {address}`") from exc
        failed = {w: r for w, r in client.run(_worker_probe).items() if r is not None}
        if failed:
            worker, reason = next(iter(failed.items()))
            raise WorkbenchError(f"{len(failed)} worker(s) of {address} cannot use analytics_lib (e.g. {worker}: "
                                 f"{reason}): install the same version of the package in the workers' environment "
                                 "(pip install -e . or the project's wheel)")
        yield client
    finally:
        client.close()


def _worker_probe() -> str | None:
    try:
        from analytics_lib import __version__
        from analytics_lib.compute.dask import analyses  # noqa: F401 - what the workers run
    except Exception as exc:  # reported back to the client, never raised on the worker
        return f"{type(exc).__name__}: {exc}"
    return None if __version__ else "no version"


def current_client():
    """The client of the innermost active :func:`dask_client` block or :class:`Engine` call, or None.

    Examples
    --------
    >>> current_client() is None
    True
    """
    return _CLIENT.get()


@contextlib.contextmanager
def _using(client):
    """Within the block, ``client`` is the current client, and per-item work
    (:func:`analytics_lib.core.parallel.map_tasks`: the forecasts' per-series fits) runs on it."""
    token = _CLIENT.set(client)
    try:
        with using_backend(DaskBackend(client)):
            yield client
    finally:
        _CLIENT.reset(token)


class DaskBackend:
    """A parallel backend (:mod:`analytics_lib.core.parallel`) on a Dask client: :func:`per_series_results`."""

    def __init__(self, client) -> None:
        self.client = client

    def map(self, fn: Callable, tasks, *, n_jobs=None, progress: bool = False, desc: str = "tasks",
            preload=()) -> list:  # noqa: D102 - n_jobs and preload: the cluster's workers decide
        """``[fn(t) for t in tasks]`` on the cluster, in order (:func:`per_series_results`).

        Parameters
        ----------
        fn : callable
            A module-level function, importable on the workers.
        tasks : iterable
            One argument for ``fn`` each.
        n_jobs : int, optional
            Ignored: the cluster's workers set the parallelism.
        progress : bool
            Show a progress bar over the tasks (default False).
        desc : str
            The bar's label (default ``"tasks"``).
        preload : sequence of str
            Ignored: the workers import what the tasks need.
        """
        return per_series_results(self.client, fn, list(tasks), progress=progress, desc=desc)


def _keeps_dtypes(fn: Callable) -> Callable:
    """Build Dask collections with pandas' own dtypes: no conversion of text to ``string[pyarrow]``.

    Dask converts text columns of new collections to Arrow strings with ``NA`` for missing
    (``dataframe.convert-string``); the pandas functions and their results use pandas' ``str``
    (missing = NaN), so the Dask results would differ in dtype from the pandas path's.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import dask

        with dask.config.set({"dataframe.convert-string": False}):
            return fn(*args, **kwargs)
    return wrapper


def per_series_results(client, fn: Callable, tasks: list, *, progress: bool = False, desc: str = "series") -> list:
    """Run ``fn`` on every task on the cluster; results in the order of ``tasks``.

    Tasks are sent in batches (about four per worker thread, so the cluster stays busy and
    the scheduler is not flooded with thousands of tiny tasks); each batch runs with one
    BLAS thread. ``fn`` must be importable on the workers (a module-level function).

    Parameters
    ----------
    client : distributed.Client
        The client of the cluster to run on.
    fn : callable
        A module-level function, called with each task.
    tasks : list
        One argument for ``fn`` each; empty gives ``[]`` without contacting the cluster.
    progress : bool
        Show a progress bar over the tasks, updated as batches finish (default False).
    desc : str
        The bar's label (default ``"series"``).

    Examples
    --------
    >>> with dask_client(n_workers=2) as client:  # doctest: +SKIP
    ...     per_series_results(client, abs, [-1, -2, 3])
    [1, 2, 3]
    """
    if not tasks:
        return []
    threads = sum(client.nthreads().values()) or 1
    size = max(1, math.ceil(len(tasks) / (4 * threads)))
    batches = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    futures = client.map(_run_batch, batches, fn=fn, pure=False)
    bar = None
    if progress:
        from distributed import as_completed
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc=desc, unit="series")
        done = {f.key: len(b) for f, b in zip(futures, batches)}
        for f in as_completed(futures):
            bar.update(done[f.key])
        bar.close()
    return [r for batch in client.gather(futures) for r in batch]


def _run_batch(batch: list, fn: Callable) -> list:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the series' matrices are tiny: the workers are the parallelism
        return [fn(t) for t in batch]
