"""Engines: the same analyses with pandas in memory (the default) or on a Dask cluster.

One option picks the engine, ``engine="pandas"`` or ``engine="dask"``, and one more the
cluster: ``cluster=None`` starts a :class:`distributed.LocalCluster` (worker processes on
127.0.0.1, memory limits sized to the machine) and closes it afterwards; an address such as
``"tcp://10.0.0.5:8786"`` connects to a running scheduler.

On Dask nothing is defined twice. Events are read lazily, piece by piece (Parquet row groups,
SQL index ranges), mapped with :func:`~analytics_lib.io.apply_mapping` and validated with
:func:`~analytics_lib.validation.validate_events` per piece; a repeated ``event_id`` in two
different pieces is found by a pre-pass over the ids only, so the quarantine is the one
``load_events`` would produce. The analyses then shuffle the events by user (every user's
events end up in one partition, in source order) and run the pandas functions of
:mod:`analytics_lib.workflow` per partition with ``map_partitions``; a final step combines
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
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import weakref
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import schema as S
from .errors import WorkbenchError
from .workflow import RESPONSE_TYPES

#: The engines one can choose.
ENGINES = ("pandas", "dask")
#: Target rows per Dask partition when reading (a Parquet piece holds whole row groups).
ROWS_PER_PARTITION = 1_000_000
#: URL schemes read as Parquet datasets (shared storage, object stores) rather than SQL.
FILE_SCHEMES = ("file", "s3", "gs", "gcs", "abfs", "abfss", "az", "hdfs", "viewfs")

_ROW = "_wb_row"            # source position (Parquet) or index value (SQL) carried through validation
_ROW_IDS = "_wb_row_ids"    # generated ids for a mapping {"event_id": "@row"}
_CLIENT: contextvars.ContextVar = contextvars.ContextVar("analytics_lib_dask_client", default=None)


# ============================================================================================
# Choosing the engine and the cluster
def check_engine(engine: str) -> str:
    """The engine name, checked: ``"pandas"`` or ``"dask"``.

    Examples
    --------
    >>> check_engine("Dask")
    'dask'
    """
    name = str(engine).strip().lower() if engine is not None else ""
    if name not in ENGINES:
        raise WorkbenchError(f"engine={engine!r} is not an engine: use 'pandas' (in memory, the default) or 'dask'")
    return name


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
        from analytics_lib import engine  # noqa: F401
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
    token = _CLIENT.set(client)
    try:
        yield client
    finally:
        _CLIENT.reset(token)


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


# ============================================================================================
# Reading and validating on Dask
@dataclass(frozen=True)
class DaskEvents:
    """Events read and validated lazily on Dask (see :func:`dask_events`).

    Attributes
    ----------
    events : dask.dataframe.DataFrame
        Clean events with the columns and dtypes of ``load_events(...).events``; the index
        ``row`` is the position in the source (Parquet) or the SQL index column's value,
        and each partition is sorted by ``ts`` then ``row``.
    quarantine : dask.dataframe.DataFrame
        The offending rows as they came, with ``source_row``, ``reason`` and
        ``reason_column`` (as ``load_events``); write it with :func:`write_quarantine`.
    counts : dask.dataframe.DataFrame
        One row per partition: rows read, kept, quarantined, outside the window or team
        filter, per reason, and unknown event types (JSON).
    source : str
        The source's display name (passwords hidden).
    """

    events: Any
    quarantine: Any
    counts: Any
    source: str

    @cached_property
    def summary(self):
        """The reconciled :class:`~analytics_lib.validation.ValidationSummary` (one pass over the source)."""
        return summary_from_counts(self.counts.compute(), source=self.source)


@_keeps_dtypes
def dask_events(source: str | os.PathLike | pd.DataFrame, *, mapping: Mapping[str, str] | str | None = None,
                start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
                team: str | list[str] | None = None, table: str = "events", query: str | None = None,
                query_params: Mapping[str, Any] | None = None, index_col: str | None = None,
                columns: Sequence[str] | None = None, naive_utc: bool | None = None,
                now: pd.Timestamp | str | None = None, rows_per_partition: int = ROWS_PER_PARTITION) -> DaskEvents:
    """Read events lazily into Dask, mapped and validated exactly as :func:`~analytics_lib.io.load_events`.

    Sources: a Parquet file or a folder of Parquet files (a dataset, e.g. partitioned by
    date as ``date=2025-06-01/part.parquet``; hive partition columns are read as columns),
    also on shared storage or an object store (``s3://bucket/events/``); a SQLAlchemy URL
    (a table or a ``query``, split into ranges of ``index_col`` with
    :func:`dask.dataframe.read_sql_query`; the time window and team filter are pushed down
    as in ``load_events``); or a pandas DataFrame (split into partitions).

    Validation runs per piece with :func:`~analytics_lib.validation.validate_events`. A
    repeated ``event_id`` across pieces is found first by a pass over the ids only (pieces
    whose id ranges do not overlap, as with sequential, ULID or time-ordered ids, need no
    more than their minimum and maximum), so the same rows are quarantined as duplicates as
    in ``load_events``. That pre-pass runs when this function is called; everything else
    runs when a result is computed.

    Parameters
    ----------
    source : str, path or DataFrame
    mapping, start, end, team, table, query, query_params, naive_utc, now
        As in :func:`~analytics_lib.io.load_events`; ``now`` is pinned once for all pieces.
    index_col : str, optional
        SQL only: a numeric, preferably indexed column to split the reads on (default:
        SQLite's ``rowid``; other databases need one, e.g. a serial id). The quarantine's
        ``source_row`` is this column's value for SQL sources.
    columns : list of str, optional
        Read only these source columns (Parquet column pruning, a narrower SQL select).
    rows_per_partition : int
        Target rows per partition (Parquet: whole row groups are grouped up to this).

    Returns
    -------
    DaskEvents

    Raises
    ------
    WorkbenchError
        For a structural problem, as ``load_events`` (missing required columns, an empty
        source, an unreadable file, a bad URL), and for a SQL source without a usable
        ``index_col``.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> raw = synthetic_events(5_000, days=28, end="2025-06-30", seed=0, malformed_share=0.01).events
    >>> de = dask_events(raw, now="2025-07-01", rows_per_partition=2_000)
    >>> de.events.npartitions, de.summary.reconciles
    (3, True)
    """
    from .io import _source_name, is_sql_url, read_mapping
    from .params import time_window

    cols = read_mapping(mapping)
    pinned = _pinned_now(now)
    window = time_window(start, end, now=pinned)
    teams = [team] if isinstance(team, str) else (list(team) if team else None)
    if rows_per_partition < 1:
        raise WorkbenchError(f"rows_per_partition={rows_per_partition} must be at least 1")
    name = _source_name(source)
    if isinstance(source, pd.DataFrame):
        reader = _FrameReader(source, columns, rows_per_partition)
    elif _is_file_url(source) or not is_sql_url(source):
        reader = _ParquetReader(source, columns, rows_per_partition)
        name = str(source)
    else:
        reader = _SqlReader(str(source), table=table, query=query, query_params=query_params, index_col=index_col,
                            columns=columns, mapping=cols, window=window, teams=teams,
                            rows_per_partition=rows_per_partition)
        if naive_utc is None:
            naive_utc = query is None and table == "events"
    if reader.n_rows == 0:
        if isinstance(reader, _SqlReader) and (window.start is not None or window.end is not None or teams):
            raise WorkbenchError(
                f"no events in {name} for the window {window}" + (f" and team {teams}" if teams else "")
                + ": widen start/end, check the team name, or look at what the store holds with `workbench run`")
        raise WorkbenchError(f"the events source {name} is empty: it holds no rows to analyse")
    opts = dict(mapping=cols, source=name, naive_utc=bool(naive_utc), now=pinned, window=window, teams=teams)
    clean_meta, quarantine_meta = _validated_meta(reader.meta, **opts)
    dups = {} if cols.get(S.EVENT_ID) == "@row" else _cross_piece_duplicates(reader, opts)
    from dask import delayed

    parts = [delayed(_validated_piece, pure=True)(raw, rows, dups.get(i, _NO_ROWS), **opts)
             for i, (raw, rows) in enumerate(reader.pieces())]
    import dask.dataframe as dd

    def frame(k: int, meta: pd.DataFrame):
        return dd.from_delayed([delayed(_pick, pure=True)(p, k) for p in parts], meta=meta, verify_meta=False)

    return DaskEvents(events=frame(0, clean_meta), quarantine=frame(1, quarantine_meta), counts=frame(2, _COUNTS_META),
                      source=name)


_NO_ROWS = np.array([], dtype=np.int64)
_COUNT_COLS = ["rows_read", "rows_kept", "rows_quarantined", "rows_outside_window"]
_COUNTS_META = pd.DataFrame({**{c: pd.Series([], dtype="int64") for c in _COUNT_COLS},
                             **{f"reason:{r}": pd.Series([], dtype="int64") for r in S.REASONS},
                             "unknown_event_types": pd.Series([], dtype=object)})


def _pick(bundle: tuple, k: int):
    return bundle[k]


def _pinned_now(now) -> pd.Timestamp:
    ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _is_file_url(source: object) -> bool:
    return isinstance(source, str) and "://" in source and source.split("://", 1)[0].lower() in FILE_SCHEMES


def summary_from_counts(counts: pd.DataFrame, *, source: str):
    """Add up per-partition counts (``DaskEvents.counts`` computed) into one ValidationSummary.

    Examples
    --------
    >>> c = pd.DataFrame({"rows_read": [3, 2], "rows_kept": [2, 2], "rows_quarantined": [1, 0],
    ...                   "rows_outside_window": [0, 0], "reason:negative_value": [1, 0],
    ...                   "unknown_event_types": ["{}", '{"pair": 2}']})
    >>> s = summary_from_counts(c, source="x")
    >>> s.rows_read, s.by_reason["negative_value"], s.unknown_event_types, s.reconciles
    (5, 1, {'pair': 2}, True)
    """
    from .validation import ValidationSummary

    total = {c: int(counts[c].sum()) for c in _COUNT_COLS}
    by_reason = {r: int(counts[f"reason:{r}"].sum()) if f"reason:{r}" in counts else 0 for r in S.REASONS}
    unknown: dict[str, int] = {}
    for text in counts["unknown_event_types"]:
        for t, k in json.loads(text).items():
            unknown[t] = unknown.get(t, 0) + int(k)
    unknown = dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0])))
    summary = ValidationSummary(source=source, by_reason=by_reason, unknown_event_types=unknown, **total)
    if not summary.reconciles:
        raise WorkbenchError(f"the per-partition counts of {source} do not reconcile: {total}, {by_reason}")
    return summary


@_keeps_dtypes
def write_quarantine(events: DaskEvents, path: str | os.PathLike, **to_parquet_options):
    """Write the quarantine as a Parquet dataset and return the reconciled summary, in one pass.

    The quarantine stays a Dask collection end to end: each worker writes its pieces'
    offending rows (``part.<n>.parquet`` under ``path``), and the counts are added up in
    the same pass over the source. Categorical columns (text read as dictionaries, and
    ``reason``) are written as plain text: every piece has its own categories, and one
    Parquet dataset needs one schema (Parquet dictionary-encodes repeated text anyway).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> import tempfile
    >>> raw = synthetic_events(5_000, days=28, end="2025-06-30", seed=0, malformed_share=0.01).events
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     s = write_quarantine(dask_events(raw, now="2025-07-01"), tmp + "/quarantine")
    ...     n = len(pd.read_parquet(tmp + "/quarantine"))
    >>> n == s.rows_quarantined, s.reconciles
    (True, True)
    """
    import dask

    options = {"write_index": False, "compute": False, **to_parquet_options}
    quarantine = events.quarantine.map_partitions(_categories_as_text, meta=_categories_as_text(events.quarantine._meta))
    _, counts = dask.compute(quarantine.to_parquet(str(path), **options), events.counts)
    return summary_from_counts(counts, source=events.source)


def _categories_as_text(part: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as ``str`` (missing stays missing), the others unchanged."""
    cats = [c for c in part.columns if isinstance(part[c].dtype, pd.CategoricalDtype)]
    return part.astype({c: "str" for c in cats}) if cats else part


# --------------------------------------------------------------------------------------------
# Readers: each yields (raw pandas piece or Delayed, row keys) pairs and knows its raw meta
class _FrameReader:
    def __init__(self, frame: pd.DataFrame, columns, rows_per_partition: int):
        self.frame = frame if columns is None else frame[list(columns)]
        self.meta = self.frame.iloc[:0]
        self.n_rows = len(self.frame)
        self.bounds = list(range(0, self.n_rows, rows_per_partition)) + [self.n_rows]

    def pieces(self, columns: list[str] | None = None):
        for lo, hi in zip(self.bounds[:-1], self.bounds[1:]):  # the slices travel inside the graph
            piece = self.frame.iloc[lo:hi].reset_index(drop=True)
            yield (piece if columns is None else piece[columns]), (lo, hi)

    def id_pieces(self, id_col: str):
        return self.pieces([id_col])


class _ParquetReader:
    """Row groups of a Parquet file or dataset, in the order ``pyarrow.parquet.read_table`` reads them."""

    def __init__(self, source, columns, rows_per_partition: int):
        import pyarrow.dataset as ds

        path = str(source)
        if not _is_file_url(path):
            local = Path(path)
            if not local.exists():
                raise WorkbenchError(f"{local} does not exist: give a Parquet file, a folder of Parquet files, "
                                     "or a database URL such as sqlite:///data/workbench.db")
            if local.is_file() and not "".join(local.suffixes).lower().endswith((".parquet", ".pq")):
                raise WorkbenchError(f"{local}: the Dask engine reads Parquet files and datasets and SQL sources; "
                                     "convert CSV to Parquet first (e.g. `workbench ingest` into a store, or "
                                     "pandas.read_csv(...).to_parquet(...))")
        try:
            probe = ds.dataset(path, format="parquet", partitioning=ds.HivePartitioning.discover(infer_dictionary=True))
            names = probe.schema.names
            low_card = [c for c in (S.USER_ID, S.EVENT_TYPE, S.TEAM, S.FEATURE, S.MODEL) if c in names]
            fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=low_card))
            self.dataset = ds.dataset(path, format=fmt,
                                      partitioning=ds.HivePartitioning.discover(infer_dictionary=True))
            fragments = list(self.dataset.get_fragments())
            groups = [[(rg.id, rg.num_rows) for rg in f.row_groups] for f in fragments]
        except (OSError, ValueError, TypeError) as exc:
            raise WorkbenchError(f"could not read {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
        if not fragments:
            raise WorkbenchError(f"{path} holds no Parquet files")
        self.columns = None if columns is None else list(columns)
        missing = [c for c in (self.columns or []) if c not in self.dataset.schema.names]
        if missing:
            raise WorkbenchError(f"columns={missing} are not in {path}; it has: {', '.join(self.dataset.schema.names)}")
        schema = self.dataset.schema if self.columns is None else \
            __import__("pyarrow").schema([self.dataset.schema.field(c) for c in self.columns])
        self.meta = schema.empty_table().to_pandas()
        self.n_rows = sum(n for g in groups for _, n in g)
        self.pieces_ = []   # (fragment, row group ids, first row, rows): whole row groups up to the target size
        offset = 0
        for frag, row_groups in zip(fragments, groups):
            ids, rows = [], 0
            for rg, n in row_groups:
                if ids and rows + n > rows_per_partition:
                    self.pieces_.append((frag, ids, offset, rows))
                    offset, ids, rows = offset + rows, [], 0
                ids.append(rg)
                rows += n
            if ids:
                self.pieces_.append((frag, ids, offset, rows))
                offset += rows

    def pieces(self, columns: list[str] | None = None):
        from dask import delayed

        schema = self.dataset.schema
        for frag, rgs, offset, rows in self.pieces_:
            raw = delayed(_read_row_groups, pure=True)(frag, rgs, schema, columns or self.columns)
            yield raw, (offset, offset + rows)

    def id_pieces(self, id_col: str):
        return self.pieces([id_col])


def _read_row_groups(fragment, row_groups: list[int], schema, columns: list[str] | None) -> pd.DataFrame:
    piece = fragment.subset(row_group_ids=row_groups)
    return piece.to_table(schema=schema, columns=columns).to_pandas()


class _SqlReader:
    """Index ranges of a table or query, read with ``dask.dataframe.read_sql_query``."""

    def __init__(self, url: str, *, table: str, query: str | None, query_params, index_col: str | None, columns,
                 mapping: dict[str, str], window, teams, rows_per_partition: int):
        import sqlalchemy as sa

        from .io import _source_name, _window_clauses, db_connect, engine_for, parse_db_url

        # the workers connect with the real URL (a scheduled run's notebook holds the redacted one)
        self.url, self.safe = parse_db_url(url).render_as_string(hide_password=False), _source_name(url)
        engine = engine_for(url)
        try:
            with db_connect(engine, url) as conn:
                dialect = engine.dialect.name
                rowid = index_col is None and dialect == "sqlite"
                if index_col is None and not rowid:
                    raise WorkbenchError(
                        f"reading {self.safe} with Dask needs index_col=: a numeric (ideally indexed) column to split "
                        "the reads on, such as a serial id (SQLite tables use their rowid by default)")
                unique_ids = False
                if query is not None:
                    params = dict(query_params or {})
                    probe = conn.execute(sa.text(f"SELECT * FROM ({query}) AS q LIMIT 0").bindparams(**params))
                    names = list(probe.keys())
                    probe.close()
                    if rowid:
                        raise WorkbenchError("a SQL query has no rowid: pass index_col= (a numeric column of its result)")
                    base = sa.text(query).bindparams(**params).columns(*map(sa.column, names)).subquery("q")
                else:
                    try:
                        base = sa.Table(table, sa.MetaData(), autoload_with=conn)
                    except sa.exc.NoSuchTableError as exc:
                        found = sa.inspect(conn).get_table_names()
                        raise WorkbenchError(
                            f"{self.safe} has no table {table!r} (tables: {', '.join(found) or 'none'}); "
                            "load data first with `workbench ingest` or `workbench sample`") from exc
                    unique_ids = _is_unique(conn, base, mapping.get(S.EVENT_ID, S.EVENT_ID))
                self.index = "_wb_rowid" if rowid else index_col
                picked = [base.c[c] for c in columns] if columns is not None else list(base.c)
                if columns is not None and index_col is not None and index_col not in columns:
                    picked.append(base.c[index_col])
                if rowid:
                    picked = [sa.literal_column(f'"{base.name}".rowid').label(self.index), *picked]
                elif self.index not in base.c:
                    raise WorkbenchError(f"index_col={index_col!r} is not a column of {self.safe} "
                                         f"({', '.join(base.c.keys())})")
                inner = sa.select(*picked)
                ts_col, team_col = mapping.get(S.TS, S.TS), mapping.get(S.TEAM, S.TEAM)
                if ts_col in base.c:
                    inner = inner.where(*_window_clauses(base.c[ts_col], window, dialect))
                if teams is not None and team_col in base.c:
                    inner = inner.where(base.c[team_col].in_(teams))
                self.select = sa.select(inner.subquery("src"))
                sub = self.select.subquery()
                lo, hi, n = conn.execute(sa.select(sa.func.min(sub.c[self.index]), sa.func.max(sub.c[self.index]),
                                                   sa.func.count())).one()
                head = _typed_head(pd.read_sql(self.select.limit(100), conn, index_col=self.index), self.select)
        except WorkbenchError:
            raise
        except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
            raise WorkbenchError(f"could not read events from {self.safe}: {str(exc).splitlines()[0]}") from exc
        finally:
            engine.dispose()
        self.keep_index = not rowid     # a real column: put it back among the source's columns
        self.unique_ids = unique_ids
        self.n_rows = int(n)
        if self.n_rows and not (isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer))):
            raise WorkbenchError(f"index_col={index_col!r} of {self.safe} must hold integers (min {lo!r}, max {hi!r})")
        parts = max(1, min(math.ceil(self.n_rows / rows_per_partition), int(hi - lo + 1) if self.n_rows else 1))
        self.divisions = sorted(set(np.linspace(lo, hi, parts + 1).round().astype(np.int64).tolist())) \
            if self.n_rows else [0, 0]
        if len(self.divisions) == 1:
            self.divisions = self.divisions * 2
        self.head = head
        self.meta = _raw_sql_piece(head.iloc[:0], self.keep_index, self.index)[0]

    def _frame(self, columns: list[str] | None = None):
        import dask.dataframe as dd
        import sqlalchemy as sa

        sel = self.select
        if columns is not None:
            sub = self.select.subquery("w")
            sel = sa.select(*[sub.c[c] for c in dict.fromkeys([self.index, *columns])])
        meta = self.head[[c for c in self.head.columns if columns is None or c in columns]].iloc[:0]
        return dd.read_sql_query(sel, self.url, index_col=self.index, divisions=self.divisions, meta=meta)

    def pieces(self, columns: list[str] | None = None):
        from dask import delayed

        for part in self._frame(columns).to_delayed():
            yield delayed(_raw_sql_piece, pure=True)(part, self.keep_index, self.index), None

    def id_pieces(self, id_col: str):
        return self.pieces([id_col])


def _typed_head(head: pd.DataFrame, select) -> pd.DataFrame:
    """The first rows as ``pandas.read_sql`` types them; a column empty there takes its SQL type."""
    import sqlalchemy as sa

    for col in select.selected_columns:
        name = col.name
        if name not in head.columns or head[name].notna().any():
            continue
        if isinstance(col.type, (sa.Float, sa.Numeric, sa.Integer)):
            head[name] = head[name].astype("float64")
        elif isinstance(col.type, (sa.String, sa.Text)):
            head[name] = head[name].astype("str")
    return head


def _is_unique(conn, table, column: str) -> bool:
    """True when ``column`` is the table's one-column primary key or has a unique constraint."""
    import sqlalchemy as sa

    if column not in table.c:
        return False
    pk = [c.name for c in table.primary_key.columns]
    if pk == [column]:
        return True
    try:
        uniques = sa.inspect(conn).get_unique_constraints(table.name)
    except (NotImplementedError, sa.exc.SQLAlchemyError):
        return False
    return any(u.get("column_names") == [column] for u in uniques)


def _raw_sql_piece(part: pd.DataFrame, keep_index: bool, index: str):
    """A SQL chunk in index order; the index values become the row keys (and a column again if real)."""
    part = part.sort_index(kind="stable")
    rows = part.index.to_numpy(dtype=np.int64)
    raw = part.reset_index() if keep_index else part.reset_index(drop=True)
    for c in raw.columns:  # Dask reads text as string[pyarrow] (missing = NA); pandas.read_sql gives "str"
        if isinstance(raw[c].dtype, pd.StringDtype) and raw[c].dtype.na_value is pd.NA:
            raw[c] = raw[c].astype("str")
    return raw, rows


# --------------------------------------------------------------------------------------------
# Validation of one piece
def _unpack(raw, rows):
    """A piece and its row keys: files give ``(first, stop)`` positions, SQL pieces carry their keys inside."""
    if isinstance(raw, tuple):
        return raw
    return raw, np.arange(rows[0], rows[1], dtype=np.int64)


def _mapped(raw: pd.DataFrame, rows: np.ndarray, mapping: dict[str, str], source: str) -> pd.DataFrame:
    raw = raw.copy(deep=False)
    raw[_ROW] = rows
    mapping = dict(mapping)
    if mapping.get(S.EVENT_ID) == "@row":  # numbered by position in the whole source, as load_events does
        import pyarrow as pa
        import pyarrow.compute as pc

        prefix = pa.scalar(f"{Path(source).name}:")
        raw[_ROW_IDS] = pd.array(pc.binary_join_element_wise(prefix, pc.cast(pa.array(rows), pa.string()), ""),
                                 dtype="str")
        mapping[S.EVENT_ID] = _ROW_IDS
    for k, v in list(mapping.items()):
        if v == "@row":
            mapping[k] = _ROW_IDS
    if not mapping:
        return raw
    from .io import apply_mapping  # (io imports SQLAlchemy: workers only pay for it when there is a mapping)

    return apply_mapping(raw, mapping, source=source)


def _validated_piece(raw, rows, dup_rows: np.ndarray, *, mapping, source, naive_utc, now, window, teams):
    """Validate one piece: (clean events indexed by row, quarantine, one-row counts)."""
    from .validation import validate_events

    raw, rows = _unpack(raw, rows)
    mapped = _mapped(raw, rows, mapping, source)
    if len(mapped) == 0:
        clean, quarantine = _validated_meta(raw.iloc[:0], mapping=mapping, source=source, naive_utc=naive_utc,
                                            now=now, window=window, teams=teams)
        return clean, quarantine, _counts_row(0, 0, 0, 0, {}, {})
    v = validate_events(mapped, naive_utc=naive_utc, now=now, window=window, source=source)
    if teams is not None:
        from .io import _filter_teams

        v = _filter_teams(v, teams)
    clean, quarantine, s = v.events, v.quarantine, v.summary
    by_reason, unknown = dict(s.by_reason), dict(s.unknown_event_types)
    kept, outside = s.rows_kept, s.rows_outside_window
    if len(dup_rows):  # valid here, but an earlier piece holds a valid row with the same id
        local = np.flatnonzero(np.isin(rows, dup_rows))
        in_clean = clean[_ROW].isin(rows[local]).to_numpy()
        for t, k in clean.loc[in_clean, S.EVENT_TYPE].astype(str).value_counts().items():
            if t in unknown:
                unknown[t] -= int(k)
        unknown = {t: k for t, k in unknown.items() if k}
        kept -= int(in_clean.sum())
        outside -= len(local) - int(in_clean.sum())
        clean = clean.loc[~in_clean]
        extra = mapped.iloc[local].copy()
        extra.insert(0, "source_row", local)
        extra["reason"] = pd.Categorical([S.DUPLICATE_EVENT_ID] * len(local), categories=list(S.REASONS))
        extra["reason_column"] = np.array([S.EVENT_ID] * len(local), dtype=object)
        quarantine = pd.concat([quarantine, extra], ignore_index=True).sort_values("source_row", kind="stable")
        by_reason[S.DUPLICATE_EVENT_ID] += len(local)
    quarantine = quarantine.assign(source_row=rows[quarantine["source_row"].to_numpy(dtype=np.int64)])
    quarantine = quarantine.drop(columns=[c for c in (_ROW, _ROW_IDS) if c in quarantine]).reset_index(drop=True)
    clean = clean.set_index(_ROW).rename_axis("row")
    counts = _counts_row(len(mapped), kept, len(quarantine), outside, by_reason, unknown)
    assert sum(by_reason.values()) == len(quarantine) and len(mapped) == kept + len(quarantine) + outside
    return clean, quarantine, counts


def _counts_row(read: int, kept: int, quarantined: int, outside: int, by_reason: dict, unknown: dict) -> pd.DataFrame:
    row = {"rows_read": read, "rows_kept": kept, "rows_quarantined": quarantined, "rows_outside_window": outside}
    row.update({f"reason:{r}": int(by_reason.get(r, 0)) for r in S.REASONS})
    out = pd.DataFrame({k: pd.Series([v], dtype="int64") for k, v in row.items()})
    out["unknown_event_types"] = pd.Series([json.dumps(unknown)], dtype=object)
    return out


def _validated_meta(raw_meta: pd.DataFrame, *, mapping, source, naive_utc, now, window, teams):
    """Empty clean and quarantine frames with the dtypes a piece produces (checks the columns, too)."""
    from dask.dataframe.utils import meta_nonempty

    from .validation import validate_events

    mapped = _mapped(meta_nonempty(raw_meta), np.arange(2, dtype=np.int64), mapping, source)
    if teams is not None and S.TEAM not in mapped.columns:
        raise WorkbenchError(f"team={teams!r} was given but {source} has no team column "
                             "(map one with mapping={'team': ...})")
    v = validate_events(mapped, naive_utc=naive_utc, now=now, window=None, source=source)
    clean = v.events.iloc[:0].set_index(_ROW).rename_axis("row")
    quarantine = v.quarantine.iloc[:0].drop(columns=[c for c in (_ROW, _ROW_IDS) if c in v.quarantine])
    quarantine = quarantine.assign(source_row=pd.Series([], dtype="int64"))
    return _unknown_categories(clean), quarantine


def _unknown_categories(meta: pd.DataFrame) -> pd.DataFrame:
    from dask.dataframe.utils import clear_known_categories

    return clear_known_categories(meta)


# --------------------------------------------------------------------------------------------
# Repeated ids across pieces
def _cross_piece_duplicates(reader, opts: dict) -> dict[int, np.ndarray]:
    """Per piece, the rows whose id repeats a valid row of an earlier piece (usually none).

    Computed now, from the id column only: pieces whose id ranges do not overlap cannot share
    an id. Otherwise the ids' hashes are shuffled to find the ones in several pieces, and only
    the pieces holding those are validated to see which occurrence is the first valid one.
    """
    if getattr(reader, "unique_ids", False):
        return {}
    import dask
    import dask.dataframe as dd
    from dask import delayed

    id_col = opts["mapping"].get(S.EVENT_ID, S.EVENT_ID)
    if id_col not in reader.meta.columns:
        return {}  # validation reports the missing column
    id_parts = list(reader.id_pieces(id_col))
    stats = dask.compute(*[delayed(_id_range)(raw, rows, id_col) for raw, rows in id_parts])
    suspects = _overlapping([(lo, hi) for lo, hi, _ in stats])
    if not suspects:
        return {}
    hashes = dd.from_delayed([delayed(_id_hashes)(id_parts[i][0], id_parts[i][1], id_col, i) for i in suspects],
                             meta=pd.DataFrame({"h": pd.Series([], dtype="uint64"), "piece": pd.Series([], dtype="int64")}),
                             verify_meta=False)
    shared = hashes.shuffle(on="h", npartitions=max(1, len(suspects) // 4)).map_partitions(
        _shared_hashes, meta=hashes._meta).compute()
    if shared.empty:
        return {}
    candidates = np.unique(shared["h"].to_numpy())
    pieces = sorted(set(shared["piece"].tolist()))
    all_parts = list(reader.pieces())
    found = dask.compute(*[delayed(_valid_candidates)(*all_parts[i], candidates, i, **opts) for i in pieces])
    hits = pd.concat(found, ignore_index=True).sort_values("row", kind="stable")
    later = hits[hits.duplicated(S.EVENT_ID, keep="first")]
    return {int(p): g["row"].to_numpy(dtype=np.int64) for p, g in later.groupby("piece")}


def _id_range(raw, rows, id_col: str) -> tuple:
    import pyarrow as pa
    import pyarrow.compute as pc

    raw, rows = _unpack(raw, rows)
    text = _id_text(raw[id_col])
    if text.empty:
        return None, None, 0
    mm = pc.min_max(pa.array(text, type=pa.large_string()))
    return mm["min"].as_py(), mm["max"].as_py(), len(text)


def _id_text(ids: pd.Series) -> pd.Series:
    """Ids as validation compares them (text, unstripped), without the blank ones (quarantined anyway)."""
    text = ids if isinstance(ids.dtype, pd.StringDtype) else ids.astype("str")
    return text[text.notna() & (text.str.strip() != "")]


def _overlapping(ranges: list[tuple]) -> list[int]:
    """Indexes of the ranges ``(lo, hi)`` that overlap another one (``lo is None``: an empty piece).

    >>> _overlapping([("a", "c"), ("d", "f"), ("e", "g"), (None, None)])
    [1, 2]
    """
    live = sorted((lo, hi, i) for i, (lo, hi) in enumerate(ranges) if lo is not None)
    out: list[int] = []
    group: list[int] = []
    reach = None
    for lo, hi, i in live:  # connected components of the interval graph, in one sweep
        if reach is not None and lo <= reach:
            group.append(i)
            reach = max(reach, hi)
        else:
            if len(group) > 1:
                out += group
            group, reach = [i], hi
    if len(group) > 1:
        out += group
    return sorted(out)


def _id_hashes(raw, rows, id_col: str, piece: int) -> pd.DataFrame:
    raw, rows = _unpack(raw, rows)
    ids = _id_text(raw[id_col]).drop_duplicates()
    h = pd.util.hash_array(ids.to_numpy(dtype=object))
    return pd.DataFrame({"h": h, "piece": np.full(len(h), piece, dtype=np.int64)})


def _shared_hashes(part: pd.DataFrame) -> pd.DataFrame:
    pieces_per_hash = part.groupby("h")["piece"].transform("nunique")
    return part[pieces_per_hash.to_numpy() > 1]


def _valid_candidates(raw, rows, candidates: np.ndarray, piece: int, *, mapping, source, naive_utc, now, window,
                      teams) -> pd.DataFrame:
    """Valid rows (inside the window or not) of one piece whose id hash is a candidate."""
    from .validation import validate_events

    raw, rows = _unpack(raw, rows)
    mapped = _mapped(raw, rows, mapping, source)
    empty = pd.DataFrame({S.EVENT_ID: pd.Series([], dtype="str"), "row": pd.Series([], dtype="int64"),
                          "piece": pd.Series([], dtype="int64")})
    if len(mapped) == 0:
        return empty
    clean = validate_events(mapped, naive_utc=naive_utc, now=now, window=None, source=source).events
    h = pd.util.hash_array(clean[S.EVENT_ID].astype("str").to_numpy(dtype=object))
    hit = np.isin(h, candidates)
    return pd.DataFrame({S.EVENT_ID: clean.loc[hit, S.EVENT_ID].astype("str").to_numpy(),
                         "row": clean.loc[hit, _ROW].to_numpy(dtype=np.int64),
                         "piece": np.full(int(hit.sum()), piece, dtype=np.int64)})


# ============================================================================================
# Events partitioned by user
@dataclass(frozen=True)
class UserPartitioned:
    """Validated events in which every user's events are in one partition, in source order.

    Attributes
    ----------
    frame : dask.dataframe.DataFrame
        The events (index ``row``); each partition is sorted by ``ts`` then ``row``, so a
        pandas function sees a user's events exactly as in the whole frame.
    """

    frame: Any

    def persist(self) -> "UserPartitioned":
        """Keep the partitions in the cluster's memory (when they fit) for several analyses.

        Examples
        --------
        >>> from analytics_lib.datasets import synthetic_events
        >>> up = events_by_user(synthetic_events(2_000, days=28, seed=0).events).persist()
        >>> up.frame.npartitions
        1
        """
        return UserPartitioned(self.frame.persist())

    @_keeps_dtypes
    def checkpoint(self, path: str | os.PathLike, *, compute: bool = True):
        """Write the partitions to Parquet, one file per partition, and continue from those files.

        This keeps the workers' memory bounded when several results are computed from the same
        events (``dask.compute(dask_kpi_table(s), dask_session_table(s).to_parquet(...))``).
        Dask starts a shuffle's output partitions as soon as the shuffle ends, and a partition
        that several analyses read stays in memory until the last of them ran: on data larger
        than the cluster's memory, they pile up and spill. Read back from files, the partitions
        are root tasks again, which the scheduler hands out only as fast as the workers finish
        them. The cost is one write and one read of the shuffled events.

        Parameters
        ----------
        path : str or path
            A new or empty folder that every worker can write and read: a local disk for a local
            cluster, a mounted shared folder for a cluster of several machines. Delete it when done.
        compute : bool
            True: write now and return the partitions read back. False: return a
            :class:`Checkpoint` whose ``write`` is computed together with other results
            (``dask.compute(cp.write, events.counts)``: one pass over the source for both).

        Returns
        -------
        UserPartitioned or Checkpoint
            The same partitions (users, order, dtypes), read from ``path/part.<n>.parquet``.

        Examples
        --------
        >>> import tempfile
        >>> from analytics_lib.datasets import synthetic_events
        >>> up = events_by_user(synthetic_events(2_000, days=28, seed=0).events, npartitions=2)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     again = up.checkpoint(tmp)
        ...     again.frame.compute().sort_index().equals(up.frame.compute().sort_index())
        True
        """
        from dask import delayed

        folder = Path(path)
        if folder.is_file() or (folder.is_dir() and any(folder.iterdir())):
            raise WorkbenchError(f"checkpoint folder {folder} must be new or empty (it holds files): "
                                 "give a fresh folder, the partitions are written as part.<n>.parquet")
        folder.mkdir(parents=True, exist_ok=True)
        files = [str(folder / f"part.{i}.parquet") for i in range(self.frame.npartitions)]
        # a Dask frame, not a delayed: computed with other Dask frames, the shared reading is done once
        write = self.frame.map_partitions(_written_partition, str(folder), meta=_WRITTEN_META, enforce_metadata=False)
        import dask.dataframe as dd

        reads = [delayed(_read_partition, pure=False)(f) for f in files]
        users = UserPartitioned(dd.from_delayed(reads, meta=self.frame._meta, verify_meta=False))
        if not compute:
            return Checkpoint(users=users, write=write)
        write.compute()
        return users


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint to write along with other results (``UserPartitioned.checkpoint(path, compute=False)``).

    Attributes
    ----------
    users : UserPartitioned
        The partitions read back from the files: use them once ``write`` was computed.
    write : dask.dataframe.DataFrame
        Writes the files when computed; one row per partition: ``rows`` written.

    Examples
    --------
    >>> import dask, tempfile
    >>> from analytics_lib.datasets import synthetic_events
    >>> loaded = dask_events(synthetic_events(2_000, days=28, end="2025-06-30", seed=0).events, now="2025-07-01")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cp = events_by_user(loaded).checkpoint(tmp, compute=False)
    ...     written, counts = dask.compute(cp.write, loaded.counts)   # one pass over the source
    ...     back = len(cp.users.frame.compute())
    >>> int(written["rows"].sum()) == back == int(counts["rows_kept"].sum())
    True
    """

    users: UserPartitioned
    write: Any


_WRITTEN_META = pd.DataFrame({"rows": pd.Series([], dtype="int64")})


def _written_partition(part: pd.DataFrame, folder: str, partition_info: dict | None = None) -> pd.DataFrame:
    """Write one partition (index included, its own categories) to ``folder/part.<n>.parquet``."""
    if partition_info is None:  # Dask probing the function: nothing to write
        return _WRITTEN_META
    part.to_parquet(Path(folder) / f"part.{partition_info['number']}.parquet", index=True)
    return pd.DataFrame({"rows": [len(part)]}, dtype="int64")


def _read_partition(file: str) -> pd.DataFrame:
    return pd.read_parquet(file)


@_keeps_dtypes
def events_by_user(events, *, columns: Sequence[str] | None = None, npartitions: int | None = None,
                   shuffle_method: str | None = None) -> UserPartitioned:
    """Shuffle events so that each user's events are in one partition, each in source order.

    Parameters
    ----------
    events : DaskEvents, dask DataFrame, pandas DataFrame or UserPartitioned
        Validated events (a pandas frame is split into partitions of
        ``ROWS_PER_PARTITION`` rows; a ``UserPartitioned`` is returned as it is).
    columns : list of str, optional
        Keep only these columns (``ts`` and ``user_id`` always): less to move in the shuffle
        when the analyses need few columns (``event_id`` is the widest and rarely needed).
    npartitions : int, optional
        Output partitions (default: as many as the input).
    shuffle_method : str, optional
        Dask's shuffle: ``"p2p"`` (default on a distributed cluster: disk-backed, bounded
        memory) or ``"tasks"``.

    Returns
    -------
    UserPartitioned

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> up = events_by_user(synthetic_events(2_000, days=28, seed=0).events, npartitions=3)
    >>> parts = up.frame.map_partitions(lambda d: d["user_id"].astype(str).drop_duplicates()).compute()
    >>> parts.is_unique  # no user in two partitions
    True
    """
    if isinstance(events, UserPartitioned):
        return events
    frame = _as_dask(events)
    if columns is not None:
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise WorkbenchError(f"columns={unknown} are not columns of the events ({', '.join(frame.columns)})")
        frame = frame[[c for c in frame.columns if c in {*columns, S.TS, S.USER_ID}]]
    n = int(npartitions) if npartitions else frame.npartitions
    if n < 1:
        raise WorkbenchError(f"npartitions={npartitions} must be at least 1")
    # user_id travels as text: its categories grow with the data, and the shuffle's Arrow tables cannot
    # unify dictionaries beyond the width of the pieces' codes (int16 for up to 32,767 users per piece)
    text_meta = frame._meta.assign(**{S.USER_ID: frame._meta[S.USER_ID].astype("str")})
    as_text = frame.map_partitions(_user_as_text, meta=text_meta)
    shuffled = as_text.shuffle(on=S.USER_ID, npartitions=n, shuffle_method=shuffle_method)
    return UserPartitioned(shuffled.map_partitions(_source_order, meta=frame._meta))


def _as_dask(events):
    import dask.dataframe as dd

    if isinstance(events, DaskEvents):
        return events.events
    if isinstance(events, pd.DataFrame):
        frame = events.rename_axis("row").copy(deep=False)
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index(drop=True).rename_axis("row")
        frame.index = frame.index.astype("int64")
        n = max(1, math.ceil(len(frame) / ROWS_PER_PARTITION))
        return dd.from_pandas(frame, npartitions=n, sort=False)
    if isinstance(events, dd.DataFrame):
        return events
    raise WorkbenchError(f"events must be DaskEvents, a Dask or pandas DataFrame of validated events, "
                         f"not {type(events).__name__}")


def _user_as_text(part: pd.DataFrame) -> pd.DataFrame:
    return part.assign(**{S.USER_ID: part[S.USER_ID].astype("str")})


def _source_order(part: pd.DataFrame) -> pd.DataFrame:
    """A shuffled partition in source order (``ts``, then ``row``), ``user_id`` a categorical again."""
    part = part.assign(**{S.USER_ID: part[S.USER_ID].astype("category")})
    if len(part) < 2:
        return part
    ts = part[S.TS].dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)
    order = np.lexsort((part.index.to_numpy(dtype=np.int64), ts))
    return part.iloc[order]


def _flat(part: pd.DataFrame) -> pd.DataFrame:
    """A partition as the pandas functions expect it: a default index."""
    return part.reset_index(drop=True)


def _probe(meta: pd.DataFrame) -> pd.DataFrame:
    """A tiny valid events frame with the columns of ``meta``, to run a pandas function on."""
    from .validation import validate_events

    raw = pd.DataFrame({
        S.EVENT_ID: ["p1", "p2", "p3", "p4"],
        S.TS: ["2024-01-01T10:00:00Z", "2024-01-01T10:05:00Z", "2024-01-08T10:00:00Z", "2024-01-08T10:01:00Z"],
        S.USER_ID: ["a", "a", "a", "b"], S.EVENT_TYPE: ["session_start", "generation", "session_start", "accept"],
        S.TEAM: ["t", "t", "t", "u"], S.FEATURE: ["f", "f", "f", "f"], S.MODEL: [None, "m", None, None],
        S.LATENCY_MS: ["10", "20", None, None], S.CACHE_HIT: [None, "false", None, None],
        S.SATISFACTION: [None, "4", None, None], S.COST_USD: ["0", "0.1", "0", "0"],
    })
    ev = validate_events(raw, now="2024-02-01").events
    for c in meta.columns:
        if c not in ev.columns:
            ev[c] = pd.Series(pd.NA, index=ev.index).astype(meta[c].dtype)
    return ev


# ============================================================================================
# Analyses on Dask
@_keeps_dtypes
def dask_sessionize(events, *, gap: str = "30min") -> UserPartitioned:
    """:func:`~analytics_lib.workflow.sessionize` per user partition (lazy).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> ev = synthetic_events(2_000, days=28, seed=0).events.assign(session_id=None)
    >>> s = dask_sessionize(ev).frame.compute()
    >>> bool(s["session_id"].str.contains("#").all())
    True
    """
    from .workflow import sessionize

    up = events_by_user(events)
    meta = up.frame._meta
    sessionize(_probe(meta), gap=gap)  # the same parameter errors, before anything runs
    out_meta = meta.assign(**{S.SESSION_ID: pd.Series([], dtype="str", index=meta.index)})
    return UserPartitioned(up.frame.map_partitions(_sessionized, gap=gap, meta=out_meta))


def _sessionized(part: pd.DataFrame, gap: str) -> pd.DataFrame:
    from .workflow import sessionize

    if part.empty or not part[S.SESSION_ID].isna().any():
        return part.assign(**{S.SESSION_ID: part[S.SESSION_ID].astype("str")})
    out = sessionize(_flat(part), gap=gap)
    out.index = part.index
    return out


@_keeps_dtypes
def dask_session_table(events, *, gap: str = "30min"):
    """:func:`~analytics_lib.workflow.session_table` per user partition, as a lazy Dask frame.

    Each partition is sorted by ``start, session_id``; write it with ``.to_parquet(path)``
    (big data) or collect it with :func:`collected_sessions` (the pandas result).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import session_table
    >>> ev = synthetic_events(2_000, days=28, seed=0).events
    >>> collected_sessions(dask_session_table(ev).compute()).equals(session_table(ev))
    True
    """
    from .workflow import session_table

    up = events_by_user(events)
    meta = session_table(_probe(up.frame._meta), gap=gap).iloc[:0]
    return up.frame.map_partitions(_per_partition, session_table, {"gap": gap}, meta=_unknown_categories(meta))


def _per_partition(part: pd.DataFrame, fn: Callable, kwargs: dict) -> pd.DataFrame:
    if part.empty:
        return fn(_probe(part), **kwargs).iloc[:0]
    return fn(_flat(part), **kwargs)


def collected_sessions(parts: pd.DataFrame) -> pd.DataFrame:
    """The session table from its computed partitions, as :func:`~analytics_lib.workflow.session_table` returns it.

    Raises :class:`WorkbenchError` when a ``session_id`` appears in two partitions (given
    session ids that span several users cannot be split by user).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> parts = dask_session_table(synthetic_events(2_000, days=28, seed=0).events).compute()
    >>> collected_sessions(parts)["start"].is_monotonic_increasing
    True
    """
    if parts["session_id"].duplicated().any():
        dup = parts.loc[parts["session_id"].duplicated(), "session_id"].iloc[0]
        raise WorkbenchError(f"session {dup!r} holds events of several users: the Dask engine partitions by user, "
                             "so a given session_id must belong to one user (or leave session_id empty to derive "
                             "sessions)")
    out = parts.reset_index(drop=True)
    for c in (S.TEAM, S.FEATURE, S.MODEL):
        out[c] = pd.Categorical(out[c].astype(object).to_numpy())
    out["outcome"] = pd.Categorical(out["outcome"].astype(object), categories=out["outcome"].cat.categories
                                    if isinstance(out["outcome"].dtype, pd.CategoricalDtype) else None)
    return out.sort_values(["start", "session_id"], kind="stable").reset_index(drop=True)


def collected_events(parts: pd.DataFrame) -> pd.DataFrame:
    """The validated events from their computed Dask partitions, as ``load_events(...).events`` holds them.

    ``parts`` is ``DaskEvents.events.compute()`` (index ``row``): the rows are put in the
    pandas engine's order (``ts``, then source position) and the categorical columns get
    the categories ``load_events`` gives them (those of every piece, sorted).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import load_events
    >>> raw = synthetic_events(5_000, days=28, end="2025-06-30", seed=0).events
    >>> got = collected_events(dask_events(raw, now="2025-07-01", rows_per_partition=2_000).events.compute())
    >>> got.equals(load_events(raw, now="2025-07-01").events)
    True
    """
    ts = parts[S.TS].dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)
    out = parts.iloc[np.lexsort((parts.index.to_numpy(dtype=np.int64), ts))].reset_index(drop=True)
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            cats = out[c].cat.categories
            ordered = pd.Index(sorted(cats.astype(str)), dtype="str")
            out[c] = out[c].cat.set_categories(ordered) if not cats.equals(ordered) else out[c]
    return out


# --------------------------------------------------------------------------------------------
# KPIs
_ADDITIVE_KPIS = ["events", "active_users", "sessions", "tokens_in", "tokens_out", "cost_usd", "accepts"]
_RATE_PARTS = ["cache_q", "cache_hit", "error", "request", "sat_sum", "sat_n"]
_PARTIAL_META = pd.DataFrame({"kind": pd.Series([], dtype="str"),
                              "key": pd.Series([], dtype="datetime64[us, UTC]"),
                              **{c: pd.Series([], dtype="float64") for c in [*_ADDITIVE_KPIS, *_RATE_PARTS, "dau"]}})


@_keeps_dtypes
def dask_kpi_table(events, *, granularity: str = "D", latency_types: tuple[str, ...] | None = RESPONSE_TYPES,
                   gap: str = "30min"):
    """:func:`~analytics_lib.workflow.kpi_table` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Per user partition: sessions are derived where missing, then ``kpi_table`` gives the
    counts and sums that add up over partitions (``events``, ``active_users``, ``sessions``,
    tokens, cost, ``accepts``: a user is in one partition), alongside the numerators and
    denominators of the rates and the daily active users. The combine adds those up and
    recomputes the rates and stickiness; the latency percentiles are exact: the latencies
    are shuffled by period and each period's percentiles computed over all its values.
    ``gap`` is the inactivity that ends a derived session (``kpi_table`` uses its default).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import kpi_table
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> got = dask_kpi_table(ev, granularity="W").compute()
    >>> bool((got["active_users"] == kpi_table(ev, granularity="W")["active_users"]).all())
    True
    """
    from .params import check_granularity
    from .workflow import kpi_table

    g = check_granularity(granularity)
    types = None if latency_types is None else tuple(latency_types)
    up = events_by_user(events)
    kpi_table(_probe(up.frame._meta), granularity=g, latency_types=types)
    partials = up.frame.map_partitions(_kpi_partial, g, types, gap, meta=_PARTIAL_META)
    values = up.frame.map_partitions(_latency_values, g, types,
                                     meta=pd.DataFrame({"period": pd.Series([], dtype="datetime64[us, UTC]"),
                                                        "v": pd.Series([], dtype="float64")}))
    qmeta = pd.DataFrame({c: pd.Series([], dtype="float64") for c in ("latency_p50", "latency_p95", "latency_p99")},
                         index=pd.DatetimeIndex([], tz="UTC", name="period").as_unit("us"))
    quantiles = values.shuffle(on="period", npartitions=up.frame.npartitions).map_partitions(_period_quantiles,
                                                                                          meta=qmeta)
    meta = kpi_table(_probe(up.frame._meta), granularity=g, latency_types=types).iloc[:0]
    return _combined(_kpi_combine, meta, partials, quantiles, g)


def _combined(fn: Callable, meta: pd.DataFrame, *frames_and_args):
    """``fn`` over the whole of one or more per-partition results, as a one-partition Dask frame.

    Staying a Dask collection (not a ``delayed``) lets ``dask.compute(a, b, ...)`` share the
    reading, validation and shuffle between several analyses.
    """
    import dask.dataframe as dd

    frames = [x.repartition(npartitions=1) if isinstance(x, dd.DataFrame) else x for x in frames_and_args]
    return dd.map_partitions(fn, *frames, meta=meta, align_dataframes=False, enforce_metadata=False)


def _kpi_partial(part: pd.DataFrame, g: str, types, gap: str) -> pd.DataFrame:
    from .workflow import REQUEST_TYPES, kpi_table, period_start, sessionize

    if part.empty:
        return _PARTIAL_META
    ev = _flat(part)
    if ev[S.SESSION_ID].isna().any():
        ev = sessionize(ev, gap=gap)   # once here; kpi_table then finds every session_id filled
    table = kpi_table(ev, granularity=g, latency_types=types)[_ADDITIVE_KPIS]
    # the numerators and denominators behind kpi_table's rates (see its docstring)
    et = ev[S.EVENT_TYPE]
    is_cache_q = (et == "cache_query") & ev[S.CACHE_HIT].notna()
    rates = pd.DataFrame({
        "cache_q": is_cache_q.to_numpy(dtype=float),
        "cache_hit": (is_cache_q & ev[S.CACHE_HIT].fillna(False).astype(bool)).to_numpy(dtype=float),
        "error": (et == "error").to_numpy(dtype=float),
        "request": et.isin(REQUEST_TYPES).to_numpy(dtype=float),
        "sat_sum": ev[S.SATISFACTION].fillna(0.0).to_numpy(dtype=float),
        "sat_n": ev[S.SATISFACTION].notna().to_numpy(dtype=float),
    }).groupby(period_start(ev[S.TS], g).array).sum()   # .array: typed keys (to_numpy() gives Timestamp objects)
    per_period = table.astype("float64").join(rates).fillna(0.0)
    users = ev[S.USER_ID].cat.codes if isinstance(ev[S.USER_ID].dtype, pd.CategoricalDtype) else ev[S.USER_ID]
    dau = users.groupby(period_start(ev[S.TS], "D").array).nunique().astype("float64")
    a = per_period.rename_axis("key").reset_index().assign(kind="p")
    b = pd.DataFrame({"key": dau.index, "dau": dau.to_numpy(), "kind": "d"})
    out = pd.concat([a, b], ignore_index=True)
    out["key"] = pd.to_datetime(out["key"], utc=True).dt.as_unit("us")
    return out.reindex(columns=_PARTIAL_META.columns).astype(_PARTIAL_META.dtypes.to_dict())


def _latency_values(part: pd.DataFrame, g: str, types) -> pd.DataFrame:
    from .workflow import period_start

    lat = part[S.LATENCY_MS]
    keep = lat.notna().to_numpy()
    if types is not None:  # as kpi_table: latencies of these event types only
        keep = keep & part[S.EVENT_TYPE].isin(types).to_numpy()
    sub = part.loc[keep]
    return pd.DataFrame({"period": period_start(sub[S.TS], g).dt.as_unit("us").array,
                         "v": sub[S.LATENCY_MS].to_numpy(dtype="float64")})


def _period_quantiles(part: pd.DataFrame) -> pd.DataFrame:
    from .workflow import _quantiles

    out = _quantiles(part["v"], part["period"], (0.5, 0.95, 0.99))
    out.columns = ["latency_p50", "latency_p95", "latency_p99"]
    out.index = pd.DatetimeIndex(out.index, name="period").tz_convert("UTC").as_unit("us") if len(out) else \
        pd.DatetimeIndex([], tz="UTC", name="period").as_unit("us")
    return out.astype("float64")


def _kpi_combine(partials: pd.DataFrame, quantiles: pd.DataFrame, g: str) -> pd.DataFrame:
    from .workflow import _KPI_COLUMNS, _period_index, period_start

    per = partials[partials["kind"] == "p"].groupby("key")[[*_ADDITIVE_KPIS, *_RATE_PARTS]].sum()
    if per.empty:
        return pd.DataFrame(columns=_KPI_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    full = _period_index(per.index.min(), per.index.max(), g)
    per = per.reindex(full, fill_value=0.0)
    out = pd.DataFrame(index=full)
    for c in ("events", "active_users", "sessions"):
        out[c] = per[c].round().astype("int64")
    users = out["active_users"].where(out["active_users"] > 0)
    out["events_per_user"] = out["events"] / users
    out["sessions_per_user"] = out["sessions"] / users
    out["cache_hit_rate"] = per["cache_hit"] / per["cache_q"].where(per["cache_q"] > 0)
    out["error_rate"] = per["error"] / per["request"].where(per["request"] > 0)
    lat = quantiles.reindex(full)
    for c in ("latency_p50", "latency_p95", "latency_p99"):
        out[c] = lat[c].to_numpy()
    out["tokens_in"], out["tokens_out"], out["cost_usd"] = per["tokens_in"], per["tokens_out"], per["cost_usd"]
    out["accepts"] = per["accepts"].round().astype("int64")
    out["cost_per_accept"] = out["cost_usd"] / out["accepts"].where(out["accepts"] > 0)
    out["satisfaction"] = per["sat_sum"] / per["sat_n"].where(per["sat_n"] > 0)
    daily = partials[partials["kind"] == "d"].groupby("key")["dau"].sum()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max(), freq="D"), fill_value=0.0)
    mean_dau = daily.groupby(period_start(pd.Series(daily.index), g).to_numpy()).mean()
    out["stickiness"] = mean_dau.reindex(full).to_numpy() / users
    return out[_KPI_COLUMNS]


# --------------------------------------------------------------------------------------------
# Retention
@_keeps_dtypes
def dask_retention_matrix(events, *, cohort: str = "W", periods: int = 12, mode: str = "on",
                          cohort_type: str = "first_time"):
    """:func:`~analytics_lib.workflow.retention_matrix` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Per user partition the pandas matrix gives each cohort's size and retained users
    (share x size); these add up, and the shares are recomputed over the whole period range.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import retention_matrix
    >>> ev = synthetic_events(5_000, days=56, seed=0).events
    >>> dask_retention_matrix(ev, periods=4).compute().equals(retention_matrix(ev, periods=4))
    True
    """
    from .workflow import retention_matrix

    opts = dict(cohort=cohort, periods=int(periods), mode=mode, cohort_type=cohort_type)
    up = events_by_user(events)
    retention_matrix(_probe(up.frame._meta), **opts)
    meta = pd.DataFrame({"cohort": pd.Series([], dtype="datetime64[us, UTC]"), "k": pd.Series([], dtype="int64"),
                         "n": pd.Series([], dtype="int64")})
    parts = up.frame.map_partitions(_retention_partial, opts, meta=meta)
    return _combined(_retention_combine, retention_matrix(_probe(up.frame._meta), **opts).iloc[:0], parts, opts)


def _retention_partial(part: pd.DataFrame, opts: dict) -> pd.DataFrame:
    """Rows (cohort, k, retained users) with k = -1 for the cohort size and -2 for the last period."""
    from .workflow import period_start, retention_matrix

    if part.empty:
        return pd.DataFrame({"cohort": pd.Series([], dtype="datetime64[us, UTC]"), "k": pd.Series([], dtype="int64"),
                             "n": pd.Series([], dtype="int64")})
    ev = _flat(part)
    r = retention_matrix(ev, **opts)
    size = r["size"].to_numpy(dtype=np.int64)
    shares = r[list(range(opts["periods"]))].to_numpy(dtype=float)
    retained = np.rint(np.nan_to_num(shares) * size[:, None]).astype(np.int64)
    k = np.tile(np.arange(opts["periods"]), len(r))
    starts = r.index.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy()
    last = period_start(ev[S.TS], opts["cohort"]).max().tz_convert("UTC").tz_localize(None).as_unit("us")
    cohort = np.concatenate([starts, np.repeat(starts, opts["periods"]), [last.to_datetime64()]])
    return pd.DataFrame({"cohort": pd.DatetimeIndex(cohort).tz_localize("UTC"),
                         "k": np.concatenate([np.full(len(r), -1), k, [-2]]).astype(np.int64),
                         "n": np.concatenate([size, retained.ravel(), [0]]).astype(np.int64)})


def _retention_combine(parts: pd.DataFrame, opts: dict) -> pd.DataFrame:
    from .params import check_granularity
    from .workflow import _period_index, retention_shares

    periods, g = opts["periods"], check_granularity(opts["cohort"])
    if parts.empty:
        return pd.DataFrame(columns=["size", *range(periods)], index=pd.DatetimeIndex([], tz="UTC", name="cohort"))
    last = parts.loc[parts["k"] == -2, "cohort"].max()
    sums = parts[parts["k"] >= -1].groupby(["cohort", "k"])["n"].sum().unstack("k")
    index = _period_index(sums.index.min(), last, g)
    n_per = len(index)
    sums = sums.reindex(index).fillna(0).astype(np.int64)
    size = sums[-1].to_numpy() if -1 in sums else np.zeros(n_per, dtype=np.int64)
    retained = sums.reindex(columns=range(periods), fill_value=0).to_numpy(dtype=np.int64)
    return retention_shares(retained, size, index)


# --------------------------------------------------------------------------------------------
# Paths, transitions, funnels
@_keeps_dtypes
def dask_path_variants(events, *, top: int = 10, gap: str = "30min"):
    """:func:`~analytics_lib.workflow.path_variants` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Per user partition the pandas function lists every variant with its sessions; these add
    up over partitions, and the ``top`` variants are ranked on the totals (ties in the same
    order as the pandas function).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import path_variants
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> dask_path_variants(ev, top=5).compute().equals(path_variants(ev, top=5))
    True
    """
    from .workflow import path_variants

    up = events_by_user(events)
    path_variants(_probe(up.frame._meta), top=top, gap=gap)
    meta = pd.DataFrame({"path": pd.Series([], dtype="str"), "steps": pd.Series([], dtype="int64"),
                         "sessions": pd.Series([], dtype="int64")})
    parts = up.frame.map_partitions(_variants_partial, gap, meta=meta)
    return _combined(_variants_combine, path_variants(_probe(up.frame._meta), top=top, gap=gap).iloc[:0], parts, int(top))


def _variants_partial(part: pd.DataFrame, gap: str) -> pd.DataFrame:
    from .workflow import path_variants

    if part.empty:
        return pd.DataFrame({"path": pd.Series([], dtype="str"), "steps": pd.Series([], dtype="int64"),
                             "sessions": pd.Series([], dtype="int64")})
    every = path_variants(_flat(part), top=len(part), gap=gap)   # at most one variant per event
    return every[["path", "steps", "sessions"]].astype({"path": "str", "steps": "int64", "sessions": "int64"})


def _variants_combine(parts: pd.DataFrame, top: int) -> pd.DataFrame:
    totals = parts.groupby("path", sort=False).agg(steps=("steps", "first"), sessions=("sessions", "sum"))
    n_sessions = int(totals["sessions"].sum())
    tokens = [p.split(" > ") for p in totals.index]
    types = sorted({t for ts in tokens for t in ts})
    # path_variants orders tied variants by its sequence hash over all event types present,
    # (code + 1) * 1_000_003 ** (position + 1) summed modulo 2**64; the same hash here
    code = {t: i for i, t in enumerate(types)}
    flat = np.array([code[t] for ts in tokens for t in ts], dtype=np.uint64)
    lengths = np.array([len(ts) for ts in tokens], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.array([], dtype=np.int64)
    pos = np.arange(len(flat)) - np.repeat(starts, lengths)
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(int(lengths.max()) if len(lengths) else 1, np.uint64(1_000_003), dtype=np.uint64))
        h = np.add.reduceat((flat + np.uint64(1)) * powers[pos], starts) if len(starts) else np.array([], np.uint64)
    ranked = totals.assign(h=h).reset_index()
    ranked = ranked.sort_values(["h", "steps"], kind="stable").sort_values("sessions", ascending=False, kind="stable")
    best = ranked.head(top)
    rows = [(rank, p, int(s), int(n)) for rank, (p, s, n) in
            enumerate(zip(best["path"], best["steps"], best["sessions"]), start=1)]
    out = pd.DataFrame(rows, columns=["rank", "path", "steps", "sessions"])
    out["share"] = out["sessions"] / n_sessions
    out["cumulative_share"] = out["share"].cumsum()
    return out


_SEQUENCE_COLUMNS = [S.TS, S.USER_ID, S.SESSION_ID, S.EVENT_TYPE]


@_keeps_dtypes
def dask_transition_table(events, *, gap: str = "30min"):
    """:func:`~analytics_lib.workflow.transition_table` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Sessions are derived per user partition; the median and percentile times need every
    transition, so the pandas function then runs once on ``ts, user_id, session_id,
    event_type`` of all partitions, gathered on one worker (about 30 bytes per event).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import transition_table
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> got, want = dask_transition_table(ev).compute(), transition_table(ev)
    >>> got[["source", "target", "count", "users"]].equals(want[["source", "target", "count", "users"]])
    True
    """
    from .workflow import transition_table

    up = dask_sessionize(events, gap=gap)
    transition_table(_probe(up.frame._meta), gap=gap)
    meta = transition_table(_probe(up.frame._meta), gap=gap).iloc[:0]
    return _combined(_gathered, meta, up.frame[_SEQUENCE_COLUMNS], transition_table, {"gap": gap})


@_keeps_dtypes
def dask_funnel_table(events, steps: Sequence[str | Sequence[str]], *, window: str = "14D", mode: str = "sequential",
                      unit: str = "user", by: str | pd.Series | None = None, gap: str = "30min"):
    """:func:`~analytics_lib.workflow.funnel_table` on Dask: a lazy one-partition Dask frame whose ``.compute()`` is the table.

    Sessions are derived per user partition (``unit="session"``); the funnel's median times
    need every entity's time, so the pandas function runs once on the projected columns
    (``ts, user_id, session_id, event_type`` and the ``by`` column) gathered on one worker.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> from analytics_lib import funnel_table
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> steps = ["session_start", "generation", "accept"]
    >>> dask_funnel_table(ev, steps, unit="session").compute().equals(funnel_table(ev, steps, unit="session"))
    True
    """
    from .workflow import funnel_table

    opts = dict(steps=steps, window=window, mode=mode, unit=unit, by=by, gap=gap)
    up = dask_sessionize(events, gap=gap) if unit == "session" else events_by_user(events)
    funnel_table(_probe(up.frame._meta), **opts)
    cols = _SEQUENCE_COLUMNS + ([by] if isinstance(by, str) and by not in _SEQUENCE_COLUMNS else [])
    meta = funnel_table(_probe(up.frame._meta), **opts).iloc[:0]
    return _combined(_gathered, meta, up.frame[cols], funnel_table, opts)


def _gathered(part: pd.DataFrame, fn: Callable, kwargs: dict):
    """``fn`` once over all partitions (concatenated by Dask, categoricals unioned)."""
    return fn(_flat(part), **kwargs)


# ============================================================================================
# One object for notebooks and jobs
class Engine:
    """The chosen engine: the same calls run in pandas or on a Dask cluster.

    Build it with :func:`open_engine`. Every method takes the arguments of the pandas
    function of the same name and returns the same result (pandas frames); on Dask,
    ``load_events`` returns :class:`DaskEvents` (lazy) and the analyses compute on the
    cluster. ``auto_forecast`` and ``backtest`` run their per-series tasks on the cluster.
    Close it (or use it in a ``with`` block) to stop a local cluster.

    Examples
    --------
    >>> with open_engine("pandas") as eng:
    ...     eng.name, eng.client is None
    ('pandas', True)
    """

    def __init__(self, name: str, client=None, stack: contextlib.ExitStack | None = None, persist: bool = False):
        self.name = name
        self.client = client
        self.persist = persist
        self._stack = stack
        self._by_user: dict[int, tuple[Any, UserPartitioned]] = {}
        self._finalizer = weakref.finalize(self, stack.close) if stack is not None else None
        self._active = None  # the token of activate(), reset by close()

    def __repr__(self) -> str:
        where = "" if self.client is None else f", scheduler={self.client.scheduler.address}"
        return f"Engine({self.name!r}{where})"

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def activate(self) -> "Engine":
        """Send the per-series fits of every later ``auto_forecast`` and ``backtest`` call (also
        those inside ``cost_forecast``) to this engine's cluster, until :meth:`close`. Nothing
        changes with pandas. Returns the engine.

        Examples
        --------
        >>> eng = open_engine("pandas").activate()
        >>> current_client() is None
        True
        >>> eng.close()
        """
        if self.client is not None and self._active is None:
            self._active = _CLIENT.set(self.client)
        return self

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this engine started one."""
        if self._active is not None:
            _CLIENT.reset(self._active)
            self._active = None
        self._by_user.clear()
        if self._finalizer is not None:
            self._finalizer()

    # --- data ---------------------------------------------------------------------------------
    def load_events(self, source, **options):
        """``io.load_events`` (pandas) or :func:`dask_events` (Dask) with the same options."""
        if self.name == "pandas":
            from .io import load_events

            return load_events(source, **options)
        with _using(self.client):
            return dask_events(source, **options)

    def _events(self, events):
        if self.name == "pandas":
            return events.events if hasattr(events, "summary") and hasattr(events, "quarantine") else events
        key = id(events)
        if key not in self._by_user or self._by_user[key][0] is not events:
            up = events_by_user(events)
            self._by_user[key] = (events, up.persist() if self.persist else up)
        return self._by_user[key][1]

    def _run(self, pandas_fn: str, dask_fn: Callable, events, *args, **kwargs):
        if self.name == "pandas":
            from . import workflow

            return getattr(workflow, pandas_fn)(self._events(events), *args, **kwargs)
        with _using(self.client):
            result = dask_fn(self._events(events), *args, **kwargs)
            return result.compute()

    def pandas_events(self, events) -> pd.DataFrame:
        """The validated events as one pandas frame, equal to ``load_events(...).events``.

        For the analyses that have no Dask implementation: with the pandas engine these are
        the loaded events themselves; with Dask they are read and validated on the cluster and
        gathered into this process (they must fit in its memory), see :func:`collected_events`.

        Examples
        --------
        >>> from analytics_lib.datasets import synthetic_events
        >>> with open_engine("pandas") as eng:
        ...     loaded = eng.load_events(synthetic_events(2_000, days=28, end="2025-06-30", seed=0).events)
        ...     len(eng.pandas_events(loaded)) == loaded.summary.rows_kept
        True
        """
        if self.name == "pandas":
            return self._events(events)
        if not isinstance(events, DaskEvents):
            raise WorkbenchError(f"pandas_events takes what Engine.load_events returned (DaskEvents), "
                                 f"not {type(events).__name__}")
        with _using(self.client):
            return collected_events(events.events.compute())

    # --- analyses -------------------------------------------------------------------------------
    def kpi_table(self, events, **options) -> pd.DataFrame:
        """KPIs by period (:func:`~analytics_lib.workflow.kpi_table`)."""
        return self._run("kpi_table", dask_kpi_table, events, **options)

    def session_table(self, events, **options) -> pd.DataFrame:
        """One row per session (:func:`~analytics_lib.workflow.session_table`)."""
        if self.name == "pandas":
            return self._run("session_table", dask_session_table, events, **options)
        with _using(self.client):
            return collected_sessions(dask_session_table(self._events(events), **options).compute())

    def sessionize(self, events, **options):
        """Events with sessions (pandas frame, or a lazy :class:`UserPartitioned` on Dask)."""
        if self.name == "pandas":
            return self._run("sessionize", dask_sessionize, events, **options)
        return dask_sessionize(self._events(events), **options)

    def retention_matrix(self, events, **options) -> pd.DataFrame:
        """Cohort retention (:func:`~analytics_lib.workflow.retention_matrix`)."""
        return self._run("retention_matrix", dask_retention_matrix, events, **options)

    def path_variants(self, events, **options) -> pd.DataFrame:
        """The most frequent session paths (:func:`~analytics_lib.workflow.path_variants`)."""
        return self._run("path_variants", dask_path_variants, events, **options)

    def transition_table(self, events, **options) -> pd.DataFrame:
        """Directly-follows transitions (:func:`~analytics_lib.workflow.transition_table`)."""
        return self._run("transition_table", dask_transition_table, events, **options)

    def funnel_table(self, events, steps, **options) -> pd.DataFrame:
        """Conversion through steps (:func:`~analytics_lib.workflow.funnel_table`)."""
        return self._run("funnel_table", dask_funnel_table, events, steps, **options)

    # --- forecasting ----------------------------------------------------------------------------
    def auto_forecast(self, series: pd.DataFrame, **options):
        """:func:`~analytics_lib.forecast.auto_forecast`, one task per batch of series on the cluster."""
        from .forecast import auto_forecast

        with _using(self.client):
            return auto_forecast(series, **options)

    def backtest(self, forecaster, series: pd.DataFrame, **options) -> pd.DataFrame:
        """:func:`~analytics_lib.forecast.backtest`, one task per batch of series on the cluster."""
        from .forecast import backtest

        with _using(self.client):
            return backtest(forecaster, series, **options)


def open_engine(engine: str = "pandas", *, cluster: str | None = None, n_workers: int | None = None,
                memory_limit: str | int | None = None, persist: bool = False) -> Engine:
    """Open the engine a notebook or job asked for: ``engine`` and ``cluster`` are its two parameters.

    Parameters
    ----------
    engine : {"pandas", "dask"}
        ``"pandas"`` computes in this process (the default). ``"dask"`` computes on a cluster.
    cluster : str, optional
        Dask only: a scheduler address (``tcp://10.0.0.5:8786``); None starts a local
        cluster (see :func:`local_cluster_options`), stopped by :meth:`Engine.close`.
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
    name = check_engine(engine)
    address = check_cluster(cluster)
    if name == "pandas":
        if address is not None:
            raise WorkbenchError("cluster= is for engine='dask'; with engine='pandas' everything runs in this process")
        return Engine("pandas")
    stack = contextlib.ExitStack()
    try:
        client = _open_client(stack, address, n_workers=n_workers, memory_limit=memory_limit)
    except BaseException:
        stack.close()
        raise
    return Engine("dask", client=client, stack=stack, persist=persist)
