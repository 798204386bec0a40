"""Incremental ingest: take only what is new in a source, each event exactly once, every batch recorded.

What "new" means depends on the source:

- a **folder** of ``.csv``/``.csv.gz``/``.parquet`` files: files not taken yet, and the new
  lines of a CSV file that grew since (a file that shrank or a Parquet file that changed is
  read again; the events already stored are recognised by their ``event_id``);
- a **file**: the lines appended since the last run (read up to the last complete line);
- a **SQL table**: rows whose ``watermark`` column is at or after the last value taken (ties at
  the watermark are read again and recognised by ``event_id``).

Each batch (one file, or one range of lines or rows) is validated like ``workbench ingest`` and
written **in one step with the source's new position and the batch's record**: one transaction
for a SQL store; for a folder store (Parquet parts) the part's name is fixed by the batch and the
position is committed by replacing one JSON file atomically. A process killed at any point
(SIGKILL) leaves either the whole batch with its position or neither, and running again takes
what is left; stored events are never doubled (``event_id`` is the key) and never lost.
"""
from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import atomic_write
from analytics_lib.core.redaction import redact
from analytics_lib.core.sources import is_sql_url


FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
#: Encodings whose lines can be cut at byte offsets (a grown CSV is read from where it stopped);
#: other encodings (utf-16...) read a grown file again whole.
_BYTE_SAFE = {"utf-8", "utf8", "utf-8-sig", "latin-1", "latin1", "iso-8859-1", "cp1252", "ascii"}
_STATE_DIR = "_ingest"  # in a folder store: ignored by Parquet readers (a leading underscore)


@dataclass(frozen=True)
class IngestBatch:
    """One batch taken from a source: what, when, and how many rows went where.

    ``rows_read == kept + quarantined + outside_window``; ``kept == inserted + already_present``.
    """

    source: str
    item: str
    started_at: str
    seconds: float
    rows_read: int
    inserted: int
    already_present: int
    quarantined: int
    outside_window: int = 0

    @property
    def kept(self) -> int:
        """Clean rows of the batch (new or already stored)."""
        return self.inserted + self.already_present


@dataclass(frozen=True)
class _Piece:
    """A batch to take: its name, how to read it (a module-level function and its arguments, so
    that a worker process can read it) and the source's position once it is stored."""

    item: str
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    state: dict

    def read(self) -> Any:
        return self.fn(*self.args, **self.kwargs)


def _source_key(source: str) -> str:
    return redact(source) if is_sql_url(source) else str(Path(source).resolve())


# --------------------------------------------------------------------------------------------
# What is new in a source
def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
                  and p.name.lower().endswith(FILE_SUFFIXES))


def _pending_file(path: Path, prev: Mapping[str, Any] | None, *, mapping, encoding: str) -> _Piece | None:
    """The new part of one file, or None when nothing changed."""
    st = path.stat()
    size, mtime = st.st_size, st.st_mtime_ns
    name = path.name
    if prev and prev.get("size") == size and prev.get("mtime_ns") == mtime:
        return None
    csv = name.lower().endswith(".csv")  # plain CSV: a grown file is read from where it stopped
    offset = int(prev.get("offset", 0)) if prev else 0
    if prev and csv and encoding.lower() in _BYTE_SAFE and prev.get("header") and size > offset:
        with path.open("rb") as f:
            f.seek(offset)
            tail = f.read(size - offset)
        cut = tail.rfind(b"\n") + 1
        if cut == 0:
            return None  # no complete new line yet
        header = base64.b64decode(prev["header"])
        rows_before = int(prev.get("rows", 0))
        state = {"size": offset + cut, "mtime_ns": mtime, "offset": offset + cut, "header": prev["header"],
                 "rows": rows_before + tail[:cut].count(b"\n")}
        return _Piece(f"{name} bytes {offset}..{offset + cut}", _read_csv_bytes,
                      (header + tail[:cut], path, rows_before), {"mapping": mapping, "encoding": encoding}, state)
    if csv and encoding.lower() in _BYTE_SAFE:  # the whole file, up to its last complete line
        with path.open("rb") as f:
            data = f.read()
        cut = data.rfind(b"\n") + 1 if not data.endswith(b"\n") and b"\n" in data else len(data)
        first = data.find(b"\n") + 1
        state = {"size": cut, "mtime_ns": mtime, "offset": cut,
                 "header": base64.b64encode(data[:first]).decode(), "rows": max(data[:cut].count(b"\n") - 1, 0)}
        return _Piece(f"{name}" + ("" if not prev else " (read again: it changed)"), _read_csv_bytes,
                      (data[:cut], path, 0), {"mapping": mapping, "encoding": encoding}, state)
    state = {"size": size, "mtime_ns": mtime}
    return _Piece(name + ("" if not prev else " (read again: it changed)"), _load, (path,),
                  {"mapping": mapping, "encoding": encoding}, state)


def _load(source: Any, **kw):
    from analytics_lib.data.load import load_events

    return load_events(source, **kw)


def _read_csv_bytes(data: bytes, path: Path, rows_before: int, *, mapping, encoding: str):
    """Validate CSV bytes (a header and lines of ``path``) as if they were the file itself."""
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as tmp:
        tmp.write(data)
    try:
        res = _load(tmp.name, mapping=mapping, encoding=encoding)
    finally:
        os.unlink(tmp.name)
    q = res.quarantine
    if not q.empty:
        q = q.assign(source_row=q["source_row"] + rows_before)
    return dataclasses.replace(res, quarantine=q, summary=dataclasses.replace(res.summary, source=str(path)))


def _pending_sql(source: str, prev: Mapping[str, Any] | None, *, table: str, watermark: str, mapping,
                 naive_utc) -> Iterator[_Piece]:
    import sqlalchemy as sa

    from analytics_lib.data.sql import db_connect, db_error, engine_for

    if not watermark.replace("_", "").isalnum() or not table.replace("_", "").replace(".", "").isalnum():
        raise WorkbenchError(f"--table {table!r} / --watermark {watermark!r}: give plain column and table names")
    engine = engine_for(source)
    last = (prev or {}).get("watermark")
    try:
        with db_connect(engine, source) as conn:
            q = f'SELECT MAX("{watermark}") FROM {table}' + (f' WHERE "{watermark}" >= :w' if last is not None else "")
            try:
                hi = conn.execute(sa.text(q), {"w": last} if last is not None else {}).scalar()
            except sa.exc.SQLAlchemyError as exc:
                raise WorkbenchError(f"cannot read the watermark column {watermark!r} of {table} in "
                                     f"{redact(source)}: {db_error(exc)}") from None
    finally:
        engine.dispose()
    if hi is None or (last is not None and str(hi) == str(last) and (prev or {}).get("at_watermark_done")):
        return
    where = f'"{watermark}" <= :hi' + (f' AND "{watermark}" >= :lo' if last is not None else "")
    query = f"SELECT * FROM {table} WHERE {where}"
    params = {"hi": hi, **({"lo": last} if last is not None else {})}
    yield _Piece(f"{table} where {watermark} in [{last if last is not None else 'start'}, {hi}]", _load, (source,),
                 {"query": query, "query_params": params, "mapping": mapping, "naive_utc": naive_utc},
                 {"watermark": hi if isinstance(hi, (int, float, str)) else str(hi), "at_watermark_done": True})


def _pending(source: str, state: Mapping[str, Any], *, mapping, encoding: str) -> Iterator[tuple[str, _Piece]]:
    """(file name, piece) for everything new in a folder or file, in order of the names."""
    path = Path(source)
    if not path.exists():
        raise WorkbenchError(f"{source} does not exist: give a folder of files, a CSV/Parquet file or a database URL")
    for f in _files(path) if path.is_dir() else [path]:
        piece = _pending_file(f, state.get(f.name), mapping=mapping, encoding=encoding)
        if piece is not None:
            yield f.name, piece


# --------------------------------------------------------------------------------------------
# Where batches go: a SQL store (one transaction per batch) or a folder of Parquet parts
class _SqlTarget:
    def __init__(self, url: str):
        import sqlalchemy as sa

        from analytics_lib.data.sql import _meta, db_connect, engine_for

        self.url = url
        self.engine = engine_for(url, create=True)
        db_connect(self.engine, url).close()
        meta = sa.MetaData()
        self.state_t = sa.Table("ingest_state", meta, sa.Column("source", sa.String(512), primary_key=True),
                                sa.Column("state", sa.Text, nullable=False),
                                sa.Column("updated_at", sa.String(32), nullable=False))
        self.batches_t = sa.Table(
            "ingest_batches", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("source", sa.String(512), nullable=False, index=True), sa.Column("item", sa.Text, nullable=False),
            sa.Column("started_at", sa.String(32), nullable=False), sa.Column("seconds", sa.Float),
            sa.Column("rows_read", sa.BigInteger), sa.Column("inserted", sa.BigInteger),
            sa.Column("already_present", sa.BigInteger), sa.Column("quarantined", sa.BigInteger),
            sa.Column("outside_window", sa.BigInteger))
        _meta.create_all(self.engine)
        meta.create_all(self.engine)

    def state(self, key: str) -> dict:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            text = conn.execute(sa.select(self.state_t.c.state).where(self.state_t.c.source == key)).scalar()
        return json.loads(text) if text else {}

    def commit(self, key: str, state: dict, res, batch: dict) -> tuple[int, int, int]:
        import sqlalchemy as sa

        from analytics_lib.data.sql import _write_in

        with self.engine.begin() as conn:  # events, quarantine, position and record: all or nothing
            w = _write_in(conn, res)
            conn.execute(sa.delete(self.state_t).where(self.state_t.c.source == key))
            conn.execute(sa.insert(self.state_t).values(source=key, state=json.dumps(state, default=str),
                                                        updated_at=batch["started_at"]))
            conn.execute(sa.insert(self.batches_t).values(
                source=key, **{k: v for k, v in batch.items() if k != "source"},
                inserted=w.inserted, already_present=w.already_present, quarantined=w.quarantine_inserted))
        return w.inserted, w.already_present, w.quarantine_inserted

    def batches(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql_table("ingest_batches", conn)

    def close(self) -> None:
        self.engine.dispose()


def _id_hashes(ids: Any) -> np.ndarray:
    """64-bit hashes of event ids (as text): what a folder store keeps in memory to recognise
    stored events (a hash match is confirmed on the ids themselves before an event is skipped)."""
    return pd.util.hash_array(np.asarray(ids, dtype=object), categorize=False)  # validated ids are text


def _part_name(key: str, item: str) -> str:
    return hashlib.sha256(json.dumps([key, item]).encode()).hexdigest()[:20]


def _reference_schema(folder: Path):
    import pyarrow.parquet as pq

    first = next(iter(sorted(folder.glob("part-*.parquet"))), None)
    return pq.read_schema(first) if first is not None else None


def _conform(table, ref):
    """The parts of a folder share one schema (readers of the folder unify them): a column that
    is empty in this batch (type null) takes the type the folder's parts have."""
    import pyarrow as pa

    fields = []
    for f in table.schema:
        if pa.types.is_null(f.type):
            want = ref.field(f.name).type if ref is not None and f.name in ref.names else pa.string()
            fields.append(pa.field(f.name, want))
        else:
            fields.append(f)
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def _write_part(frame: pd.DataFrame, target: Path, ref) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # lz4 without dictionaries: the fastest to write of the compressed forms here; statistics only
    # for the time column (what readers of a window skip row groups by)
    pq.write_table(_conform(pa.Table.from_pandas(frame, preserve_index=False), ref), target, compression="lz4",
                   use_dictionary=False, write_statistics=[c for c in ("ts",) if c in frame.columns])


@dataclass
class _Staged:
    """A batch read, validated and written under hidden names by the reader (a worker process):
    what the main process needs to commit it without the events themselves."""

    summary: Any
    n_quarantined: int
    hashes: np.ndarray
    quarantine_ids: list
    staged: Path | None
    staged_quarantine: Path | None
    started: str
    read_s: float


def _stage(piece: "_Piece", folder: Path, name: str) -> _Staged:
    """Read and validate ``piece``, hash its ids and write its events and quarantine as hidden parts
    (``.part-<name>.parquet.tmp``): the slow work, done beside the main process's commits."""
    from analytics_lib.data.sql import _quarantine_for_sql

    t0 = time.perf_counter()
    started = pd.Timestamp.now("UTC").isoformat(timespec="seconds")
    res = piece.read()
    ev = res.events
    q = _quarantine_for_sql(res.quarantine, res.summary.source)
    staged = staged_q = None
    if len(ev):
        staged = folder / f".part-{name}.parquet.tmp"
        _write_part(ev, staged, _reference_schema(folder))
    if len(q):
        staged_q = folder / "_quarantine" / f".part-{name}.parquet.tmp"
        _write_part(q, staged_q, _reference_schema(folder / "_quarantine"))
    return _Staged(res.summary, int(len(res.quarantine)), _id_hashes(ev["event_id"]) if len(ev) else
                   np.empty(0, dtype=np.uint64), q["quarantine_id"].tolist() if len(q) else [], staged, staged_q,
                   started, time.perf_counter() - t0)


class _FolderTarget:
    """A folder store: ``part-<batch>.parquet`` files of clean events (what readers of the folder
    read), ``_quarantine/``, and ``_ingest/state.json`` (positions and the batch records).

    Batches arrive staged (:func:`_stage`): written under hidden names by the reader. A batch
    without an event already stored (the usual case) is committed by renaming its parts and
    replacing the state file; only a batch read again (after a crash, a rewritten file) has its
    stored events filtered out and its part written again."""

    staged = True

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "_quarantine").mkdir(exist_ok=True)
        (folder / _STATE_DIR).mkdir(exist_ok=True)
        self.path = folder / _STATE_DIR / "state.json"
        try:
            self.doc = json.loads(self.path.read_text()) if self.path.is_file() else {"sources": {}, "batches": []}
        except ValueError as exc:
            raise WorkbenchError(f"{self.path} is not readable JSON ({exc}): restore it or remove the folder store") \
                from None
        self._hashes = set(_id_hashes(self._stored(folder)).tolist())
        self._ids: set | None = None  # the stored ids themselves, read only to confirm a hash match
        self._qids = set(self._stored(folder / "_quarantine", "quarantine_id"))

    @staticmethod
    def _stored(folder: Path, column: str = "event_id") -> list:
        import pyarrow.parquet as pq

        ids: list = []
        for p in sorted(folder.glob("part-*.parquet")):
            ids.extend(pq.read_table(p, columns=[column]).column(column).to_pylist())
        return ids

    def state(self, key: str) -> dict:
        return dict(self.doc["sources"].get(key, {}))

    def remove_stale(self) -> None:
        """Drop parts staged by a run that was killed before committing them (an ingest run only:
        listing the batches never touches them)."""
        for stale in [*self.folder.glob(".part-*.tmp"), *(self.folder / "_quarantine").glob(".part-*.tmp")]:
            stale.unlink(missing_ok=True)

    def part_name(self, key: str, item: str) -> str:
        return _part_name(key, item)

    def commit(self, key: str, state: dict, res: _Staged, batch: dict) -> tuple[int, int, int]:
        import pyarrow.parquet as pq

        name = _part_name(key, batch["item"])
        known = np.fromiter(map(self._hashes.__contains__, res.hashes.tolist()), dtype=bool, count=len(res.hashes))
        fresh = len(res.hashes)
        if known.any():  # confirm on the ids themselves (a 64-bit hash match is almost surely the same id)
            if self._ids is None:
                self._ids = set(map(str, self._stored(self.folder)))
            ev = pq.read_table(res.staged).to_pandas()
            keep = ~ev["event_id"].astype(str).isin(self._ids).to_numpy()
            fresh = int(keep.sum())
            if fresh and not keep.all():
                _write_part(ev[keep], res.staged, _reference_schema(self.folder))
        q_new = [i not in self._qids for i in res.quarantine_ids]
        if res.staged_quarantine is not None and not all(q_new):
            q = pq.read_table(res.staged_quarantine).to_pandas()
            if any(q_new):
                _write_part(q[np.array(q_new)], res.staged_quarantine, _reference_schema(self.folder / "_quarantine"))
        parts = []
        for staged, n, where in ((res.staged, fresh, self.folder), (res.staged_quarantine, sum(q_new),
                                                                      self.folder / "_quarantine")):
            final = where / f"part-{name}.parquet"
            if staged is not None:  # a reader never sees half a part: renamed whole, or dropped
                if n and final.exists():  # the same item again with new events (a file changed twice)
                    final = where / f"part-{name}-{len(self.doc['batches'])}.parquet"
                if n:
                    os.replace(staged, final)
                else:
                    staged.unlink(missing_ok=True)
            parts.append(final)
        self.doc["sources"][key] = state
        self.doc["batches"].append({"source": key, **batch, "inserted": fresh,
                                    "already_present": int(len(res.hashes) - fresh), "quarantined": int(sum(q_new))})
        atomic_write(self.path, json.dumps(self.doc, default=str))  # the commit: position and record together
        self._hashes.update(res.hashes.tolist())
        if self._ids is not None and fresh:  # kept complete once read (only batches read again need it)
            self._ids.update(map(str, pq.read_table(parts[0], columns=["event_id"]).column("event_id").to_pylist()))
        self._qids.update(res.quarantine_ids)
        return fresh, int(len(res.hashes) - fresh), int(sum(q_new))

    def batches(self) -> pd.DataFrame:
        return pd.DataFrame(self.doc["batches"])

    def close(self) -> None:
        pass


def _target(into: str):
    if is_sql_url(into):
        return _SqlTarget(into)
    p = Path(into)
    if p.exists() and not p.is_dir():
        raise WorkbenchError(f"--into {into}: give a database URL or a folder (a folder store of Parquet parts)")
    return _FolderTarget(p)


# --------------------------------------------------------------------------------------------
def ingest_incremental(source: str | os.PathLike, into: str | os.PathLike, *,
                       mapping: Mapping[str, str] | str | None = None, encoding: str = "utf-8",
                       table: str = "events", watermark: str = "ts", naive_utc: bool | None = None,
                       on_batch: Callable[[IngestBatch], None] | None = None) -> list[IngestBatch]:
    """Take what is new in ``source`` into ``into``, batch by batch, each event exactly once.

    Parameters
    ----------
    source : str or path
        A folder of ``.csv``/``.csv.gz``/``.parquet`` files, one such file, or a database URL.
    into : str or path
        A SQL store URL, or a folder (a folder store of Parquet parts, which every reader of
        events and the Dask engine read as one data set).
    mapping : dict or YAML path, optional
        ``{contract column: source column}``.
    encoding : str
        Of CSV files.
    table, watermark : str
        For a SQL source: the table and the column that only grows (an id or an ingestion time).
    naive_utc : bool, optional
        Read timestamps without a time zone as UTC (SQL sources).
    on_batch : callable, optional
        Called with each batch once it is committed (progress).

    Returns
    -------
    list of IngestBatch
        The batches taken by this call (empty: nothing new).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> ingest_incremental(folder, folder / "store")
    []
    """
    source = str(source)
    key = _source_key(source)
    target = _target(str(into))
    taken: list[IngestBatch] = []
    try:
        state = target.state(key)
        if is_sql_url(source):
            pieces = [("", p) for p in _pending_sql(source, state, table=table, watermark=watermark, mapping=mapping,
                                                      naive_utc=naive_utc)]
        else:
            pieces = list(_pending(source, state, mapping=mapping, encoding=encoding))
        staged = getattr(target, "staged", False)
        if staged:
            target.remove_stale()

        def read(i: int):
            piece = pieces[i][1]
            if staged:
                return ahead.submit(_stage, piece, target.folder, target.part_name(key, piece.item))
            return ahead.submit(_timed_read, piece)

        workers = 2 if staged else 1  # staged batches are read, validated and written by the workers
        with _reader(len(pieces), workers) as ahead:
            # the next batches are read (in worker processes) while this one is committed, in order
            queue = collections.deque(read(i) for i in range(min(workers, len(pieces))))
            for i, (item_key, piece) in enumerate(pieces):
                res = queue.popleft().result()
                if isinstance(res, _Staged):
                    started, read_s, summary, n_quarantined = res.started, res.read_s, res.summary, res.n_quarantined
                else:
                    res, started, read_s = res
                    summary, n_quarantined = res.summary, int(len(res.quarantine))
                if i + workers < len(pieces):
                    queue.append(read(i + workers))
                t0 = time.perf_counter()
                new_state = piece.state if not item_key else {**state, item_key: piece.state}
                batch = {"item": piece.item, "started_at": started, "seconds": round(read_s, 3),
                         "rows_read": int(summary.rows_read), "outside_window": int(summary.rows_outside_window)}
                ins, present, quarantined = target.commit(key, new_state, res, batch)
                state = new_state
                b = IngestBatch(source=key, item=piece.item, started_at=started,
                                seconds=round(read_s + time.perf_counter() - t0, 3), rows_read=batch["rows_read"],
                                inserted=ins, already_present=present, quarantined=n_quarantined,
                                outside_window=batch["outside_window"])
                taken.append(b)
                if on_batch is not None:
                    on_batch(b)
    finally:
        target.close()
    return taken


@contextlib.contextmanager
def _reader(n: int, workers: int = 1):
    """Where batches are read: forked worker processes when there are several (reading and
    validating the next batches uses the other core while this process commits), else here."""
    import multiprocessing

    if n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-read") as pool:
            yield pool
        return
    from analytics_lib.core.procs import die_with_parent
    from analytics_lib.data import load, sql  # noqa: F401 - imported once, before the fork: the worker has them

    with ProcessPoolExecutor(max_workers=min(workers, n), mp_context=multiprocessing.get_context("fork"),
                             initializer=die_with_parent, initargs=(9,)) as pool:  # SIGKILL with us
        yield pool


def _timed_read(piece: _Piece) -> tuple[Any, str, float]:
    t0 = time.perf_counter()
    started = pd.Timestamp.now("UTC").isoformat(timespec="seconds")
    return piece.read(), started, time.perf_counter() - t0


def ingest_batches(into: str | os.PathLike) -> pd.DataFrame:
    """Every batch recorded in a store (SQL or folder): source, item, when, rows read, inserted,
    already present, quarantined.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "store"
    >>> ingest_batches(folder).empty, folder.exists()  # listing never creates a store
    (True, False)
    """
    into = str(into)
    empty = pd.DataFrame(columns=["source", "item", "started_at", "seconds", "rows_read", "inserted",
                                  "already_present", "quarantined", "outside_window"])
    if not is_sql_url(into) and not (Path(into) / _STATE_DIR / "state.json").is_file():
        return empty  # listing never creates a store
    if is_sql_url(into):
        import sqlalchemy as sa

        from analytics_lib.data.sql import engine_for

        engine = engine_for(into)  # a SQLite file that does not exist: an error, not a new file
        try:
            if not sa.inspect(engine).has_table("ingest_batches"):
                return empty
        finally:
            engine.dispose()
    target = _target(into)
    try:
        return target.batches()
    finally:
        target.close()
