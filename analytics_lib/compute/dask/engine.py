"""The Dask engine: events read and validated by the workers, analyses per user partition with exact
combines, per-series forecasts on the cluster (``docs/dask.md``).
"""
from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any

import pandas as pd

from analytics_lib.analysis.registry import ANALYSES
from analytics_lib.compute.dask.analyses import (
    collected_events, collected_sessions, dask_funnel_table, dask_kpi_table, dask_path_variants,
    dask_retention_matrix, dask_session_table, dask_sessionize, dask_transition_table)
from analytics_lib.compute.dask.cluster import DaskBackend, _CLIENT, _open_client, _using, check_cluster
from analytics_lib.compute.dask.partition import events_by_user
from analytics_lib.compute.dask.readers import DaskEvents, dask_events
from analytics_lib.compute.engine import Engine
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.parallel import reset_backend, set_backend

if TYPE_CHECKING:
    from analytics_lib.compute.dask.partition import UserPartitioned

#: The analyses with a distributed implementation (the pandas function per user partition and an
#: exact combine); any other registered analysis runs on the events gathered into this process.
DISTRIBUTED = {"kpi_table": dask_kpi_table, "retention_matrix": dask_retention_matrix,
               "path_variants": dask_path_variants, "transition_table": dask_transition_table,
               "funnel_table": dask_funnel_table}


class DaskEngine(Engine):
    """Analyses on a Dask cluster; results equal the pandas engine's.

    ``load_events`` returns :class:`~analytics_lib.compute.dask.readers.DaskEvents` (lazy); the
    analyses compute on the cluster and return pandas frames; ``auto_forecast`` and ``backtest``
    send their per-series tasks to the cluster.
    """

    name = "dask"

    def __init__(self, client, stack: contextlib.ExitStack | None = None, persist: bool = False) -> None:
        self.client = client
        self.persist = persist
        self._by_user: dict[int, tuple[Any, UserPartitioned]] = {}
        self._finalizer = weakref.finalize(self, stack.close) if stack is not None else None
        self._active = None  # the tokens of activate(), reset by close()

    @classmethod
    def open(cls, *, cluster: str | None = None, n_workers: int | None = None, memory_limit: str | int | None = None,
             persist: bool = False, **options: Any) -> "DaskEngine":
        """Connect to ``cluster`` or start a local one (stopped by :meth:`close`).

        Parameters
        ----------
        cluster : str, optional
            A scheduler address (``tcp://10.0.0.5:8786``, see :func:`check_cluster`); None
            (default) starts a local cluster.
        n_workers : int, optional
            Local cluster only: worker processes (default: one per core, at most 4).
        memory_limit : str or int, optional
            Local cluster only: memory per worker, as ``"6GiB"`` or bytes (default: see
            :func:`~analytics_lib.compute.dask.cluster.local_cluster_options`).
        persist : bool
            Keep the events, shuffled by user, in the cluster's memory between analyses
            (default False: each analysis reads and validates again).
        **options
            Ignored (other engines' options from :func:`~analytics_lib.compute.engine.open_engine`).
        """
        address = check_cluster(cluster)
        stack = contextlib.ExitStack()
        try:
            client = _open_client(stack, address, n_workers=n_workers, memory_limit=memory_limit)
        except BaseException:
            stack.close()
            raise
        return cls(client, stack=stack, persist=persist)

    def __repr__(self) -> str:
        return f"DaskEngine(scheduler={self.client.scheduler.address})"

    def activate(self) -> "DaskEngine":  # noqa: D102 - see Engine.activate
        if self._active is None:
            self._active = (_CLIENT.set(self.client), set_backend(DaskBackend(self.client)))
        return self

    def close(self) -> None:  # noqa: D102
        if self._active is not None:
            reset_backend(self._active[1])
            _CLIENT.reset(self._active[0])
            self._active = None
        self._by_user.clear()
        if self._finalizer is not None:
            self._finalizer()

    # --- data ---------------------------------------------------------------------------------
    def load_events(self, source, **options) -> DaskEvents:  # noqa: D102
        with _using(self.client):
            return dask_events(source, **options)

    def _partitioned(self, events):
        key = id(events)
        if key not in self._by_user or self._by_user[key][0] is not events:
            up = events_by_user(events)
            self._by_user[key] = (events, up.persist() if self.persist else up)
        return self._by_user[key][1]

    def pandas_events(self, events) -> pd.DataFrame:
        """The events read and validated on the cluster, gathered into this process (they must fit
        in its memory), for analyses without a distributed implementation (:func:`collected_events`)."""
        if not isinstance(events, DaskEvents):
            raise WorkbenchError(f"pandas_events takes what Engine.load_events returned (DaskEvents), "
                                 f"not {type(events).__name__}")
        with _using(self.client):
            return collected_events(events.events.compute())

    def time_span(self, events):  # noqa: D102
        """The first and last event time, computed on the cluster (two reductions, one pass)."""
        import dask

        if not isinstance(events, DaskEvents):
            raise WorkbenchError(f"time_span takes what Engine.load_events returned (DaskEvents), "
                                 f"not {type(events).__name__}")
        with _using(self.client):
            lo, hi = dask.compute(events.events["ts"].min(), events.events["ts"].max())
        return (None, None) if pd.isna(lo) else (lo, hi)

    # --- analyses -------------------------------------------------------------------------------
    def run(self, analysis: str, events, *args, **options) -> Any:  # noqa: D102
        """The registered analysis ``analysis`` on ``events``, distributed where it can be.

        ``session_table``, ``sessionize`` and the analyses of :data:`DISTRIBUTED` run per user
        partition on the cluster (``sessionize`` returns a lazy ``UserPartitioned``); any other
        runs in this process on the events gathered from the cluster.

        Parameters
        ----------
        analysis : str
            A name in the ``analyses`` registry (``"kpi_table"``, a plug-in's...).
        events : DaskEvents
            What :meth:`load_events` returned (the distributed analyses also take a pandas or
            Dask frame of validated events).
        *args, **options
            The pandas function's other arguments.
        """
        if analysis == "session_table":
            with _using(self.client):
                return collected_sessions(dask_session_table(self._partitioned(events), *args, **options).compute())
        if analysis == "sessionize":  # lazy: a UserPartitioned of sessionized events
            return dask_sessionize(self._partitioned(events), *args, **options)
        if analysis in DISTRIBUTED:
            with _using(self.client):
                return DISTRIBUTED[analysis](self._partitioned(events), *args, **options).compute()
        return ANALYSES.get(analysis)(self.pandas_events(events), *args, **options)

    # --- forecasting ----------------------------------------------------------------------------
    def auto_forecast(self, series: pd.DataFrame, **options):  # noqa: D102
        with _using(self.client):
            return super().auto_forecast(series, **options)

    def backtest(self, forecaster, series: pd.DataFrame, **options) -> pd.DataFrame:  # noqa: D102
        """:func:`~analytics_lib.forecast.selection.backtest`, its per-series fits on the cluster.

        Parameters
        ----------
        forecaster : Forecaster
            The models to backtest.
        series : DataFrame
            Long series ``unique_id, ds, y``, in this process.
        **options
            The other arguments of :func:`~analytics_lib.forecast.selection.backtest`
            (``horizon`` is required).
        """
        with _using(self.client):
            return super().backtest(forecaster, series, **options)
