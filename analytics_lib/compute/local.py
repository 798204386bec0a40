"""Many tasks in local worker processes: a forkserver pool that the calling process helps.

Registered as the ``processes`` backend of :mod:`analytics_lib.core.parallel`; callers use
``map_tasks(fn, tasks, n_jobs=2, preload=[...])``.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

from analytics_lib.core.parallel import SerialBackend, progress_bar


def _init_worker() -> None:
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    threadpool_limits(1)  # one BLAS thread per worker process: the processes are the parallelism


def _pool_context(preload: Sequence[str]):
    """A forkserver that imported the tasks' modules once: workers fork from it in milliseconds.

    Fork from the (threaded) parent is unsafe and spawn re-imports pandas, statsmodels and
    scikit-learn in every worker (~5 s each on a small machine); the forkserver pays that once
    per Python process and is reused by every later pool (with the preload of the first).
    """
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    return ctx


class ProcessBackend:
    """``map`` over ``n_jobs`` local worker processes (all cores for ``None`` or ``-1``), this
    process helping; serial for one job or one task."""

    def map(self, fn: Callable, tasks: Sequence, *, n_jobs: int | None = None, progress: bool = False,
            desc: str = "tasks", preload: Sequence[str] = ()) -> list:  # noqa: D102
        """``[fn(t) for t in tasks]`` in ``n_jobs`` worker processes, this process helping; in order.

        Parameters
        ----------
        fn : callable
            A module-level function (it runs in the worker processes).
        tasks : sequence
            One argument for ``fn`` each; one task or none runs serially.
        n_jobs : int, optional
            Worker processes; None or -1 (default None): one per core; 1: serial, in this process.
        progress : bool
            Show a progress bar over the tasks (default False).
        desc : str
            The bar's label (default ``"tasks"``).
        preload : sequence of str
            Modules the forkserver imports before it forks the workers (``fn``'s module and what
            it needs); it starts once per process, so only the first pool's preload counts.
        """
        n_jobs = os.cpu_count() or 1 if n_jobs in (None, -1) else max(1, int(n_jobs))
        if n_jobs == 1 or len(tasks) <= 1:
            return SerialBackend().map(fn, tasks, progress=progress, desc=desc)
        bar = progress_bar(len(tasks), desc) if progress else None
        try:
            return _pool_with_parent(fn, list(tasks), n_jobs, bar, preload)
        finally:
            if bar is not None:
                bar.close()


#: The instance the registry names (``analytics_lib.compute.local:PROCESSES``).
PROCESSES = ProcessBackend()


def _run_chunk(fn, chunk: list) -> list:
    return [fn(t) for t in chunk]


def _pool_with_parent(fn, tasks: list, n_jobs: int, bar, preload: Sequence[str] = ()) -> list:
    """``[fn(t) for t in tasks]`` in ``n_jobs`` worker processes, with this process helping.

    The workers start from a forkserver that imports ``preload`` first (for the forecasts about
    4 s on a small machine, once per Python process); this process has imported them already. So chunks are
    handed to the pool from the front by a thread (whose first hand-over waits for the workers)
    while this process takes chunks from the back, those no worker has started, until the two
    meet. Results come back in the order of ``tasks``.
    """
    import threading

    from threadpoolctl import threadpool_limits

    size = max(1, len(tasks) // (8 * n_jobs))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    futures: list = [None] * len(chunks)
    mine: set[int] = set()
    lock = threading.Lock()
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(chunks)), mp_context=_pool_context(preload),
                               initializer=_init_worker)

    def count(f, n: int) -> None:
        if bar is not None and not f.cancelled() and f.exception() is None:
            bar.update(n)

    failure: list = []

    def hand_over() -> None:
        try:
            for i, c in enumerate(chunks):
                with lock:
                    if i in mine:
                        return  # this process took the rest
                    futures[i] = f = pool.submit(_run_chunk, fn, c)
                f.add_done_callback(lambda f, n=len(c): count(f, n))
        except BaseException as exc:  # e.g. the workers could not start: raised below
            failure.append(exc)

    feeder = threading.Thread(target=hand_over, name="pool-feeder", daemon=True)
    done: list = [None] * len(chunks)
    try:
        feeder.start()
        with threadpool_limits(1):  # tiny matrices: a multi-threaded BLAS only spins
            for i in range(len(chunks) - 1, -1, -1):
                with lock:
                    if futures[i] is not None and not futures[i].cancel():
                        break  # a worker has it (or it is queued for one): we have met
                    mine.add(i)
                done[i] = _run_chunk(fn, chunks[i])
                bar is not None and bar.update(len(chunks[i]))
        feeder.join()
        if failure:
            raise failure[0]
        for i, f in enumerate(futures):
            if i not in mine:
                done[i] = f.result()
    except BaseException:
        with lock:
            mine.update(range(len(chunks)))  # the feeder stops handing over
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [r for part in done for r in part]
