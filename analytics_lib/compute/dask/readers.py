"""Events read by the Dask workers: Parquet, SQL ranges or a frame, mapped and validated per piece,
with the quarantine written by the workers and counts that reconcile.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics_lib.compute.dask.cluster import ROWS_PER_PARTITION, _ROW, _ROW_IDS, _keeps_dtypes
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.sources import is_file_url


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
        """The reconciled :class:`~analytics_lib.data.validation.ValidationSummary` (one pass over the source)."""
        return summary_from_counts(self.counts.compute(), source=self.source)


@_keeps_dtypes
def dask_events(source: str | os.PathLike | pd.DataFrame, *, mapping: Mapping[str, str] | str | None = None,
                start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
                team: str | list[str] | None = None, table: str = "events", query: str | None = None,
                query_params: Mapping[str, Any] | None = None, index_col: str | None = None,
                columns: Sequence[str] | None = None, naive_utc: bool | None = None,
                now: pd.Timestamp | str | None = None, rows_per_partition: int = ROWS_PER_PARTITION) -> DaskEvents:
    """Read events lazily into Dask, mapped and validated exactly as :func:`~analytics_lib.data.load.load_events`.

    Sources: a Parquet file or a folder of Parquet files (a dataset, e.g. partitioned by
    date as ``date=2025-06-01/part.parquet``; hive partition columns are read as columns),
    also on shared storage or an object store (``s3://bucket/events/``); a SQLAlchemy URL
    (a table or a ``query``, split into ranges of ``index_col`` with
    :func:`dask.dataframe.read_sql_query`; the time window and team filter are pushed down
    as in ``load_events``); or a pandas DataFrame (split into partitions).

    Validation runs per piece with :func:`~analytics_lib.data.validation.validate_events`. A
    repeated ``event_id`` across pieces is found first by a pass over the ids only (pieces
    whose id ranges do not overlap, as with sequential, ULID or time-ordered ids, need no
    more than their minimum and maximum), so the same rows are quarantined as duplicates as
    in ``load_events``. That pre-pass runs when this function is called; everything else
    runs when a result is computed.

    Parameters
    ----------
    source : str, path or DataFrame
    mapping, start, end, team, table, query, query_params, naive_utc, now
        As in :func:`~analytics_lib.data.load.load_events`; ``now`` is pinned once for all pieces.
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
    >>> from analytics_lib import synthetic_events
    >>> raw = synthetic_events(5_000, days=28, end="2025-06-30", seed=0, malformed_share=0.01).events
    >>> de = dask_events(raw, now="2025-07-01", rows_per_partition=2_000)
    >>> de.events.npartitions, de.summary.reconciles
    (3, True)
    """
    from analytics_lib.core.sources import source_name, is_sql_url
    from analytics_lib.data.load import read_mapping
    from analytics_lib.core.timewindow import time_window

    cols = read_mapping(mapping)
    pinned = _pinned_now(now)
    window = time_window(start, end, now=pinned)
    teams = [team] if isinstance(team, str) else (list(team) if team else None)
    if rows_per_partition < 1:
        raise WorkbenchError(f"rows_per_partition={rows_per_partition} must be at least 1")
    name = source_name(source)
    if isinstance(source, pd.DataFrame):
        reader = _FrameReader(source, columns, rows_per_partition)
    elif is_file_url(source) or not is_sql_url(source):
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
    from analytics_lib.data.validation import ValidationSummary

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

    Parameters
    ----------
    events : DaskEvents
        From :func:`dask_events`; its ``quarantine`` is written and its ``counts`` summed.
    path : str or path
        The dataset's folder (or URL) on storage every worker can write to.
    **to_parquet_options
        Passed to ``dask.dataframe.DataFrame.to_parquet`` (default ``write_index=False``;
        ``compute`` is set to False here, so that one pass computes both).

    Returns
    -------
    ValidationSummary
        The reconciled summary of the read (as ``DaskEvents.summary``).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
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
        if not is_file_url(path):
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

        from analytics_lib.core.sources import source_name, parse_db_url
        from analytics_lib.data.sql import window_clauses, db_connect, engine_for

        # the workers connect with the real URL (a scheduled run's notebook holds the redacted one)
        self.url, self.safe = parse_db_url(url).render_as_string(hide_password=False), source_name(url)
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
                    inner = inner.where(*window_clauses(base.c[ts_col], window, dialect))
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
    from analytics_lib.data.load import apply_mapping  # (io imports SQLAlchemy: workers only pay for it when there is a mapping)

    return apply_mapping(raw, mapping, source=source)


def _validated_piece(raw, rows, dup_rows: np.ndarray, *, mapping, source, naive_utc, now, window, teams):
    """Validate one piece: (clean events indexed by row, quarantine, one-row counts)."""
    from analytics_lib.data.validation import validate_events

    raw, rows = _unpack(raw, rows)
    mapped = _mapped(raw, rows, mapping, source)
    if len(mapped) == 0:
        clean, quarantine = _validated_meta(raw.iloc[:0], mapping=mapping, source=source, naive_utc=naive_utc,
                                            now=now, window=window, teams=teams)
        return clean, quarantine, _counts_row(0, 0, 0, 0, {}, {})
    v = validate_events(mapped, naive_utc=naive_utc, now=now, dates=window, source=source)
    if teams is not None:
        from analytics_lib.data.load import filter_teams

        v = filter_teams(v, teams)
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

    from analytics_lib.data.validation import validate_events

    mapped = _mapped(meta_nonempty(raw_meta), np.arange(2, dtype=np.int64), mapping, source)
    if teams is not None and S.TEAM not in mapped.columns:
        raise WorkbenchError(f"team={teams!r} was given but {source} has no team column "
                             "(map one with mapping={'team': ...})")
    v = validate_events(mapped, naive_utc=naive_utc, now=now, dates=None, source=source)
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
    from analytics_lib.data.validation import validate_events

    raw, rows = _unpack(raw, rows)
    mapped = _mapped(raw, rows, mapping, source)
    empty = pd.DataFrame({S.EVENT_ID: pd.Series([], dtype="str"), "row": pd.Series([], dtype="int64"),
                          "piece": pd.Series([], dtype="int64")})
    if len(mapped) == 0:
        return empty
    clean = validate_events(mapped, naive_utc=naive_utc, now=now, dates=None, source=source).events
    h = pd.util.hash_array(clean[S.EVENT_ID].astype("str").to_numpy(dtype=object))
    hit = np.isin(h, candidates)
    return pd.DataFrame({S.EVENT_ID: clean.loc[hit, S.EVENT_ID].astype("str").to_numpy(),
                         "row": clean.loc[hit, _ROW].to_numpy(dtype=np.int64),
                         "piece": np.full(int(hit.sum()), piece, dtype=np.int64)})
