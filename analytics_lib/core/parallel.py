"""Many independent tasks (one per series, per batch) on a parallel backend, behind one call.

:func:`map_tasks` runs ``fn`` over ``tasks`` and returns the results in order. Where they run is
the backend's business: ``serial`` (this process, one BLAS thread), ``processes`` (local worker
processes, :mod:`analytics_lib.compute.local`), a Dask cluster (set by
:meth:`analytics_lib.compute.engine.Engine.activate` or ``compute.dask.cluster.dask_client``), or a
plug-in's (entry-point group ``analytics_workbench.parallel_backends``). The analyses and the
forecasts only call :func:`map_tasks`; they never import the compute layer.

A backend is any object with ``map(fn, tasks, *, n_jobs, progress, desc, preload) -> list``.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator, Sequence

from analytics_lib.core.registry import Registry


class SerialBackend:
    """Every task in this process, in order, with one BLAS thread (the tasks' matrices are tiny:
    a multi-threaded BLAS only spins, 10x slower under load)."""

    def map(self, fn: Callable, tasks: Sequence, *, n_jobs: int | None = 1, progress: bool = False,
            desc: str = "tasks", preload: Sequence[str] = ()) -> list:  # noqa: D102
        """``[fn(t) for t in tasks]`` in this process, in order, with BLAS limited to one thread.

        Parameters
        ----------
        fn : callable
            Called once with each task.
        tasks : sequence
            One argument for ``fn`` each.
        n_jobs : int, optional
            Ignored (part of the backend interface): the tasks always run one at a time.
        progress : bool
            Show a progress bar over the tasks.
        desc : str
            The bar's label.
        preload : sequence of str
            Ignored (part of the backend interface): nothing to import ahead in this process.

        Returns
        -------
        list
            The results, in the order of ``tasks``.
        """
        from threadpoolctl import threadpool_limits

        bar = progress_bar(len(tasks), desc) if progress else None
        out = []
        try:
            with threadpool_limits(1):
                for t in tasks:
                    out.append(fn(t))
                    if bar is not None:
                        bar.update()
        finally:
            if bar is not None:
                bar.close()
        return out


def progress_bar(total: int, desc: str):
    """A tqdm bar counting tasks (series)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="series")


#: Parallel backends by name.
BACKENDS = Registry("parallel backend", "analytics_workbench.parallel_backends")
BACKENDS.register("serial", SerialBackend())
BACKENDS.register("processes", "analytics_lib.compute.local:PROCESSES")

_ACTIVE: contextvars.ContextVar[Any] = contextvars.ContextVar("analytics_lib_parallel_backend", default=None)


def active_backend() -> Any:
    """The backend set by the innermost :func:`using_backend` block (a Dask engine's), or None.

    Examples
    --------
    >>> active_backend() is None
    True
    """
    return _ACTIVE.get()


def set_backend(backend: Any) -> contextvars.Token:
    """Make ``backend`` (an object or a registered name) the active one; undo with :func:`reset_backend`.

    For objects that activate a backend beyond one block (an engine's ``activate``/``close``);
    prefer :func:`using_backend`.
    """
    return _ACTIVE.set(BACKENDS.get(backend) if isinstance(backend, str) else backend)


def reset_backend(token: contextvars.Token) -> None:
    """Undo the :func:`set_backend` that returned ``token``."""
    _ACTIVE.reset(token)


@contextlib.contextmanager
def using_backend(backend: Any) -> Iterator[Any]:
    """Within the block, :func:`map_tasks` runs on ``backend`` (an object or a registered name).

    Examples
    --------
    >>> with using_backend("serial") as backend:
    ...     type(backend).__name__, map_tasks(abs, [-1, -2], n_jobs=2)
    ('SerialBackend', [1, 2])
    """
    token = set_backend(backend)
    try:
        yield _ACTIVE.get()
    finally:
        reset_backend(token)


def map_tasks(fn: Callable, tasks: Sequence, *, n_jobs: int | None = 1, progress: bool = False,
              desc: str = "tasks", preload: Sequence[str] = (), backend: str | None = None) -> list:
    """``[fn(t) for t in tasks]`` on the active backend, else serially or in ``n_jobs`` processes.

    Parameters
    ----------
    fn : callable
        A module-level function (it may run in another process or on another machine).
    tasks : sequence
        One argument for ``fn`` each.
    n_jobs : int, optional
        Worker processes when no backend is active (``None`` or ``-1``: every core; 1: serial).
    progress : bool
        Show a progress bar over the tasks.
    desc : str
        The bar's label.
    preload : sequence of str
        Modules worker processes should import once before running tasks (``fn``'s module and
        what it needs), so that workers start in milliseconds.
    backend : str, optional
        A registered backend by name, overriding the active one.

    Returns
    -------
    list
        The results, in the order of ``tasks``.

    Examples
    --------
    >>> map_tasks(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    chosen = BACKENDS.get(backend) if backend is not None else active_backend()
    if chosen is None:
        serial = n_jobs is not None and n_jobs != -1 and int(n_jobs) <= 1
        chosen = BACKENDS.get("serial" if serial or len(tasks) <= 1 else "processes")
    return chosen.map(fn, tasks, n_jobs=n_jobs, progress=progress, desc=desc, preload=preload)
