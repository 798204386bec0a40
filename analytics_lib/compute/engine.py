"""Where analyses run, behind one object: ``open_engine("pandas")`` or ``open_engine("dask", cluster=...)``.

An :class:`Engine` loads events and runs the analyses of the ``analyses`` registry
(:data:`analytics_lib.analysis.registry.ANALYSES`) and the forecasts on them; every call takes the
arguments of the pandas function of the same name and returns the same result. Engines are a
registry too (:data:`ENGINES`): ``pandas`` (this module, in memory) and ``dask``
(:class:`analytics_lib.compute.dask.engine.DaskEngine`, imported only when asked for); a plug-in can
add one (entry-point group ``analytics_workbench.engines``) with a class that subclasses
:class:`Engine` and has an ``open`` class method taking the options of :func:`open_engine`.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from analytics_lib.analysis.registry import ANALYSES
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.registry import Registry


class Engine:
    """The chosen engine: the same calls run in this process or on a cluster.

    Build it with :func:`open_engine`. Close it (or use it in a ``with`` block) to stop what it
    started. Subclasses implement :meth:`load_events`, :meth:`pandas_events` and :meth:`run`, and
    may offer faster paths for particular analyses.

    Examples
    --------
    >>> with open_engine("pandas") as eng:
    ...     eng.name, eng.client is None
    ('pandas', True)
    """

    name = "engine"
    client = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def activate(self) -> "Engine":
        """Make this engine the home of later per-series work (``auto_forecast``, ``backtest``,
        also inside ``cost_forecast``) until :meth:`close`. Nothing changes in memory. Returns the engine.

        Examples
        --------
        >>> eng = open_engine("pandas").activate()
        >>> from analytics_lib.core.parallel import active_backend
        >>> active_backend() is None
        True
        >>> eng.close()
        """
        return self

    def close(self) -> None:
        """Release what the engine holds (a cluster it started, cached partitions)."""

    # --- data ---------------------------------------------------------------------------------
    def load_events(self, source, **options):
        """Events from ``source``, as :func:`analytics_lib.data.load.load_events` takes them."""
        raise NotImplementedError

    def pandas_events(self, events) -> pd.DataFrame:
        """The validated events as one pandas frame, equal to ``load_events(...).events``."""
        raise NotImplementedError

    def time_span(self, events) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The first and last event time of what :meth:`load_events` returned ((None, None) when empty),
        for :func:`~analytics_lib.analysis.workflow.kpis.mark_partial`."""
        ts = self.pandas_events(events)["ts"]
        return (ts.min(), ts.max()) if len(ts) else (None, None)

    # --- analyses -------------------------------------------------------------------------------
    def run(self, analysis: str, events, *args, **options) -> Any:
        """The registered analysis ``analysis`` (``"kpi_table"``, a plug-in's...) on ``events``.

        Parameters
        ----------
        analysis : str
            A name in the ``analyses`` registry (:data:`~analytics_lib.analysis.registry.ANALYSES`).
        events : ValidatedEvents or DaskEvents
            What :meth:`load_events` returned.
        *args, **options
            The pandas function's other arguments.
        """
        raise NotImplementedError

    def kpi_table(self, events, **options) -> pd.DataFrame:
        """KPIs by period (:func:`~analytics_lib.analysis.workflow.kpis.kpi_table`)."""
        return self.run("kpi_table", events, **options)

    def session_table(self, events, **options) -> pd.DataFrame:
        """One row per session (:func:`~analytics_lib.analysis.workflow.sessions.session_table`)."""
        return self.run("session_table", events, **options)

    def sessionize(self, events, **options):
        """Events with sessions (:func:`~analytics_lib.analysis.workflow.sessions.sessionize`)."""
        return self.run("sessionize", events, **options)

    def retention_matrix(self, events, **options) -> pd.DataFrame:
        """Cohort retention (:func:`~analytics_lib.analysis.workflow.retention.retention_matrix`)."""
        return self.run("retention_matrix", events, **options)

    def path_variants(self, events, **options) -> pd.DataFrame:
        """The most frequent session paths (:func:`~analytics_lib.analysis.workflow.transitions.path_variants`)."""
        return self.run("path_variants", events, **options)

    def transition_table(self, events, **options) -> pd.DataFrame:
        """Directly-follows transitions (:func:`~analytics_lib.analysis.workflow.transitions.transition_table`)."""
        return self.run("transition_table", events, **options)

    def funnel_table(self, events, steps, **options) -> pd.DataFrame:
        """Conversion through steps (:func:`~analytics_lib.analysis.workflow.funnels.funnel_table`).

        Parameters
        ----------
        events : ValidatedEvents or DaskEvents
            What :meth:`load_events` returned.
        steps : sequence of str or of lists of str
            The funnel's steps, in order.
        **options
            The other arguments of :func:`~analytics_lib.analysis.workflow.funnels.funnel_table`
            (``within``, ``mode``, ``unit``, ``by``, ``gap``).
        """
        return self.run("funnel_table", events, steps, **options)

    # --- forecasting ----------------------------------------------------------------------------
    def auto_forecast(self, series: pd.DataFrame, **options):
        """:func:`~analytics_lib.forecast.selection.auto_forecast`, its per-series fits on this engine."""
        from analytics_lib.forecast.selection import auto_forecast

        return auto_forecast(series, **options)

    def backtest(self, forecaster, series: pd.DataFrame, **options) -> pd.DataFrame:
        """:func:`~analytics_lib.forecast.selection.backtest`, its per-series fits on this engine.

        Parameters
        ----------
        forecaster : Forecaster
            The models to backtest.
        series : DataFrame
            Long series ``unique_id, ds, y``.
        **options
            The other arguments of :func:`~analytics_lib.forecast.selection.backtest`
            (``horizon`` is required).
        """
        from analytics_lib.forecast.selection import backtest

        return backtest(forecaster, series, **options)


class PandasEngine(Engine):
    """Everything in this process, with pandas: the registry's functions called directly.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.events import synthetic_events
    >>> with open_engine("pandas") as eng:
    ...     loaded = eng.load_events(synthetic_events(2_000, days=28, end="2025-06-30", seed=0).events)
    ...     len(eng.pandas_events(loaded)) == loaded.summary.rows_kept, len(eng.kpi_table(loaded)) > 0
    (True, True)
    """

    name = "pandas"

    @classmethod
    def open(cls, *, cluster: str | None = None, **options: Any) -> "PandasEngine":
        """The engine; ``cluster`` is refused (there is none)."""
        if cluster is not None:
            raise WorkbenchError("cluster= is for engine='dask'; with engine='pandas' everything runs in this process")
        return cls()

    def load_events(self, source, **options):  # noqa: D102
        from analytics_lib.data.load import load_events

        return load_events(source, **options)

    def pandas_events(self, events) -> pd.DataFrame:  # noqa: D102
        return events.events if hasattr(events, "summary") and hasattr(events, "quarantine") else events

    def run(self, analysis: str, events, *args, **options) -> Any:  # noqa: D102
        """The registered analysis ``analysis`` on ``events``, in this process.

        Parameters
        ----------
        analysis : str
            A name in the ``analyses`` registry (:data:`~analytics_lib.analysis.registry.ANALYSES`).
        events : ValidatedEvents or DataFrame
            What :meth:`load_events` returned (its ``events`` are used), or validated events.
        *args, **options
            The pandas function's other arguments.
        """
        return ANALYSES.get(analysis)(self.pandas_events(events), *args, **options)


#: Compute engines by name.
ENGINES = Registry("compute engine", "analytics_workbench.engines")
ENGINES.register("pandas", PandasEngine)
ENGINES.register("dask", "analytics_lib.compute.dask.engine:DaskEngine")


def check_engine(engine: str) -> str:
    """The engine name, checked against the registry (``"pandas"``, ``"dask"``, a plug-in's).

    Examples
    --------
    >>> check_engine("Dask")
    'dask'
    """
    name = str(engine).strip().lower() if engine is not None else ""
    if name not in ENGINES:
        raise WorkbenchError(f"engine={engine!r} is not an engine: use 'pandas' (in memory, the default), 'dask'"
                             + "".join(f" or {n!r}" for n in ENGINES.names() if n not in ("pandas", "dask")))
    return name


def open_engine(engine: str = "pandas", *, cluster: str | None = None, n_workers: int | None = None,
                memory_limit: str | int | None = None, persist: bool = False) -> Engine:
    """Open the engine a notebook or job asked for: ``engine`` and ``cluster`` are its two parameters.

    Parameters
    ----------
    engine : {"pandas", "dask"}
        ``"pandas"`` computes in this process (the default). ``"dask"`` computes on a cluster;
        a plug-in may register more.
    cluster : str, optional
        Dask only: a scheduler address (``tcp://10.0.0.5:8786``); None starts a local
        cluster (see :func:`~analytics_lib.compute.dask.cluster.local_cluster_options`),
        stopped by :meth:`Engine.close`.
    n_workers, memory_limit
        Local cluster only.
    persist : bool
        Dask only: keep the events, shuffled by user, in the cluster's memory between
        analyses (when they fit); otherwise each analysis reads and validates again.

    Returns
    -------
    Engine

    Examples
    --------
    >>> open_engine("pandas").name
    'pandas'
    >>> with open_engine("dask", n_workers=2) as eng:  # doctest: +SKIP
    ...     eng.kpi_table(eng.load_events("data/bench/events.parquet"), granularity="W")
    """
    cls = ENGINES.get(check_engine(engine))
    return cls.open(cluster=cluster, n_workers=n_workers, memory_limit=memory_limit, persist=persist)
