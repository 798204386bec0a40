"""Engines: the same analyses with pandas in memory (the default) or on a Dask cluster.

One option picks the engine, ``engine="pandas"`` or ``engine="dask"``, and one more the
cluster: ``cluster=None`` starts a :class:`distributed.LocalCluster` (worker processes on
127.0.0.1, memory limits sized to the machine) and closes it afterwards; an address such as
``"tcp://10.0.0.5:8786"`` connects to a running scheduler.

On Dask nothing is defined twice. Events are read lazily, piece by piece (Parquet row groups,
SQL index ranges), mapped with :func:`~analytics_lib.data.load.apply_mapping` and validated with
:func:`~analytics_lib.data.validation.validate_events` per piece; a repeated ``event_id`` in two
different pieces is found by a pre-pass over the ids only, so the quarantine is the one
``load_events`` would produce. The analyses then shuffle the events by user (every user's
events end up in one partition, in source order) and run the pandas functions of
:mod:`analytics_lib.analysis.workflow` per partition with ``map_partitions``; a final step combines
the partitions' results: sums of counts, sums of distinct users and sessions (exact, because
a user lives in one partition), and exact percentiles from a shuffle of the values by period.
The results equal the pandas path's (floating sums up to rounding in the last digits).

Which results combine how (``events`` partitioned by user):

==========================  =================================================================
``sessionize``              per partition (a session belongs to one user)
``session_table``           per partition, then sorted by ``start, session_id``
``kpi_table``               counts, sums and distinct users/sessions per period add up over
                            partitions; the rates are recomputed from summed numerators and
                            denominators; daily active users add up, so stickiness is exact;
                            latency percentiles come from a shuffle of latencies by period
``retention_matrix``        cohort sizes and retained users add up over partitions
``path_variants``           sessions per variant add up; the top variants are taken after
``transition_table``,       the medians and percentiles need every transition's / entity's
``funnel_table``            time: sessions are derived per partition, then the pandas function
                            runs once on the projected columns (``ts, user_id, session_id,
                            event_type``) gathered on one worker
==========================  =================================================================

Forecasting: inside :func:`dask_client` (or through :class:`Engine`), ``auto_forecast`` and
``backtest`` send their per-series tasks to the cluster (batches of series, one task each).

Modules: ``analyses``, ``cluster``, ``engine``, ``partition``, ``readers``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'analyses': [
        'dask_sessionize',
        'dask_session_table',
        'collected_sessions',
        'collected_events',
        'dask_kpi_table',
        'dask_retention_matrix',
        'dask_path_variants',
        'dask_transition_table',
        'dask_funnel_table',
    ],
    'cluster': [
        'ROWS_PER_PARTITION',
        'check_cluster',
        'local_cluster_options',
        'dask_client',
        'current_client',
        'DaskBackend',
        'per_series_results',
    ],
    'engine': [
        'DISTRIBUTED',
        'DaskEngine',
    ],
    'partition': [
        'UserPartitioned',
        'Checkpoint',
        'events_by_user',
    ],
    'readers': [
        'DaskEvents',
        'dask_events',
        'summary_from_counts',
        'write_quarantine',
    ],
})
