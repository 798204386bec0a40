"""Reading events from SQL, CSV and Parquet, and writing them to the SQL store.

All I/O of raw events lives here. Sources:

* a SQLAlchemy URL (``sqlite:///data/workbench.db``, ``postgresql+psycopg://user@host/db``):
  a table (default ``events``) or a query with bound parameters; the time window and the
  team filter are pushed down to SQL;
* a CSV file (``.csv``, ``.csv.gz``), read as text so that bad values can be quarantined
  exactly as they were;
* a Parquet file or a directory of Parquet files (a partitioned dataset);
* a pandas DataFrame.

A column mapping ``{contract column: source column}`` (a dict or a small YAML file) maps
the user's names onto the contract; one source column may feed several contract columns
(``user_id`` and ``session_id`` both from a case id), and ``"@row"`` numbers the rows of
the source for logs that carry no event id.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import sqlalchemy as sa
import yaml

from . import schema as S
from .errors import WorkbenchError
from .params import TimeWindow, time_window
from .redaction import redact, reveal
from .validation import ValidatedEvents, validate_events

ROW_NUMBER = "@row"
_DAY = pd.Timedelta(days=1)

# --------------------------------------------------------------------------------------------
# The store's tables
_meta = sa.MetaData()
EVENTS_TABLE = sa.Table(
    "events", _meta,
    sa.Column(S.EVENT_ID, sa.String(128), primary_key=True),
    # SQLite keeps text: ISO 8601 with an explicit +00:00 so the time zone survives the round trip.
    sa.Column(S.TS, sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite"), nullable=False, index=True),
    sa.Column(S.USER_ID, sa.String(128), nullable=False, index=True),
    sa.Column(S.EVENT_TYPE, sa.String(64), nullable=False),
    sa.Column(S.SESSION_ID, sa.String(128)),
    sa.Column(S.TEAM, sa.String(128), index=True),
    sa.Column(S.FEATURE, sa.String(128)),
    sa.Column(S.MODEL, sa.String(128)),
    sa.Column(S.LATENCY_MS, sa.Float),
    sa.Column(S.TOKENS_IN, sa.BigInteger),
    sa.Column(S.TOKENS_OUT, sa.BigInteger),
    sa.Column(S.COST_USD, sa.Float),
    sa.Column(S.CACHE_HIT, sa.Boolean),
    sa.Column(S.SUCCESS, sa.Boolean),
    sa.Column(S.SATISFACTION, sa.Float),
    sa.Column(S.MANUAL_MINUTES, sa.Float),
)
QUARANTINE_TABLE = sa.Table(
    "events_quarantine", _meta,
    sa.Column("quarantine_id", sa.String(40), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_row", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False, index=True),
    sa.Column("reason_column", sa.String(128)),
    sa.Column("raw", sa.Text, nullable=False),  # the row as given, JSON
    sa.Column("ingested_at", sa.String(32), nullable=False),
)


# --------------------------------------------------------------------------------------------
# Mapping
def read_mapping(mapping: Mapping[str, str] | str | os.PathLike | None) -> dict[str, str]:
    """Read and check a column mapping ``{contract column: source column}``.

    Parameters
    ----------
    mapping : dict, path to a YAML file, or None
        Keys must be contract columns (``schema.COLUMNS``); values are the source's column
        names, or ``"@row"`` to number the source rows (for logs without event ids).

    Returns
    -------
    dict

    Examples
    --------
    >>> read_mapping({"ts": "time:timestamp", "event_type": "concept:name"})
    {'ts': 'time:timestamp', 'event_type': 'concept:name'}
    """
    if mapping is None:
        return {}
    if isinstance(mapping, (str, os.PathLike)):
        path = Path(mapping)
        if not path.is_file():
            raise WorkbenchError(f"mapping file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise WorkbenchError(f"mapping file {path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise WorkbenchError(f"mapping file {path} must hold 'contract column: source column' pairs")
        mapping = loaded
    bad = [k for k in mapping if k not in S.COLUMNS]
    if bad:
        raise WorkbenchError(
            f"the mapping names unknown contract columns: {', '.join(map(str, bad))}; "
            f"keys must be among: {', '.join(S.COLUMNS)} (the values are your column names)")
    return {str(k): str(v) for k, v in mapping.items()}


def apply_mapping(df: pd.DataFrame, mapping: Mapping[str, str], *, source: str = "<frame>") -> pd.DataFrame:
    """Rename/copy source columns onto contract names; other source columns are kept.

    Raises :class:`WorkbenchError` when the mapping names a source column that is absent.

    Examples
    --------
    >>> df = pd.DataFrame({"case": ["c1"], "activity": ["search"], "time": ["2024-01-01T00:00Z"]})
    >>> apply_mapping(df, {"user_id": "case", "session_id": "case", "event_type": "activity",
    ...                    "ts": "time", "event_id": "@row"}, source="log.csv").columns.tolist()
    ['event_id', 'ts', 'user_id', 'event_type', 'session_id']
    """
    if not mapping:
        return df
    absent = [v for v in mapping.values() if v != ROW_NUMBER and v not in df.columns]
    if absent:
        raise WorkbenchError(
            f"the mapping names columns that {source} does not have: {', '.join(absent)}\n"
            f"available columns: {', '.join(map(str, df.columns[:40]))}")
    out = {}
    for contract in S.COLUMNS:
        src = mapping.get(contract)
        if src == ROW_NUMBER:
            out[contract] = pd.Series([f"{Path(source).name}:{i}" for i in range(len(df))], index=df.index, dtype="str")
        elif src is not None:
            out[contract] = df[src]
    used = set(mapping.values())
    rest = {c: df[c] for c in df.columns if c not in used and c not in out}
    return pd.DataFrame({**out, **rest}, index=df.index)


# --------------------------------------------------------------------------------------------
# Loading
def is_sql_url(source: object) -> bool:
    """True when ``source`` looks like a SQLAlchemy URL (``dialect[+driver]://...``)."""
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def load_events(source: str | os.PathLike | pd.DataFrame, *, mapping: Mapping[str, str] | str | None = None,
                start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
                team: str | list[str] | None = None, table: str = "events", query: str | None = None,
                query_params: Mapping[str, Any] | None = None, naive_utc: bool | None = None,
                now: pd.Timestamp | str | None = None, encoding: str = "utf-8") -> ValidatedEvents:
    """Load events from a SQL URL, CSV, Parquet or frame, map columns, filter and validate.

    Parameters
    ----------
    source : str, path or DataFrame
        A SQLAlchemy URL, a ``.csv``/``.csv.gz`` file, a ``.parquet`` file or directory of
        Parquet files, or a DataFrame.
    mapping : dict or YAML path, optional
        ``{contract column: source column}`` (see :func:`read_mapping`).
    start, end : str or Timestamp, optional
        The time window (see :func:`analytics_lib.params.time_window`: ``"-28d"``,
        ``"today"``, ISO dates; a date-valued ``end`` includes that day).
    team : str or list of str, optional
        Keep only these teams (pushed down to SQL for SQL sources).
    table, query, query_params
        For SQL sources: the table to read, or a query (``text()`` with ``:name`` bound
        parameters from ``query_params``) whose result has the source's columns.
    naive_utc : bool, optional
        Read timestamps without a time zone as UTC. ``None`` means: yes for the
        workbench's own SQL store (which holds UTC), no otherwise.
    now : Timestamp or str, optional
        Pins "now" for relative dates and the future check (tests).
    encoding : str
        The text encoding of a CSV file: ``utf-8`` (a byte-order mark is skipped), ``latin-1``,
        ``cp1252``, ``utf-16``... A line that does not split into the header's columns is
        quarantined as ``malformed_row`` (the rest of the file is read).

    Returns
    -------
    ValidatedEvents
        Clean ``events``, ``quarantine`` and a reconciled ``summary``.

    Raises
    ------
    WorkbenchError
        For a structural problem: unreadable or empty source, bad URL, missing columns,
        a mapping that names columns that do not exist.

    Examples
    --------
    >>> from analytics_lib import load_events
    >>> res = load_events("sqlite:///data/workbench.db", start="-28d", end="today")  # doctest: +SKIP
    >>> res.summary.rows_kept, res.events.columns[:4].tolist()  # doctest: +SKIP
    (163112, ['event_id', 'ts', 'user_id', 'event_type'])
    """
    cols = read_mapping(mapping)
    window = time_window(start, end, now=now)
    teams = [team] if isinstance(team, str) else (list(team) if team else None)
    name = _source_name(source)
    if isinstance(source, pd.DataFrame):
        raw = source
    elif is_sql_url(source):
        raw = _read_sql(str(source), table=table, query=query, query_params=query_params, mapping=cols,
                        window=window, teams=teams)
        if naive_utc is None:
            naive_utc = query is None and table == EVENTS_TABLE.name
    else:
        raw = _read_file(Path(source), encoding=encoding)
    if len(raw) == 0 and is_sql_url(source) and (window.start is not None or window.end is not None or teams):
        raise WorkbenchError(
            f"no events in {name} for the window {window}" + (f" and team {teams}" if teams else "")
            + ": widen start/end, check the team name, or look at what the store holds with `workbench run`")
    raw = apply_mapping(raw, cols, source=name)
    if teams is not None and S.TEAM not in raw.columns:
        raise WorkbenchError(f"team={team!r} was given but {name} has no team column (map one with mapping={{'team': ...}})")
    result = validate_events(raw, naive_utc=bool(naive_utc), now=now, window=window, source=name)
    if teams is not None:
        result = _filter_teams(result, teams)
    return result


def _filter_teams(result: ValidatedEvents, teams: list[str]) -> ValidatedEvents:
    keep = result.events[S.TEAM].isin(teams).to_numpy()
    if keep.all():
        return result
    events = result.events.loc[keep].reset_index(drop=True)
    events[S.TEAM] = events[S.TEAM].cat.remove_unused_categories()
    s = result.summary
    summary = type(s)(source=s.source, rows_read=s.rows_read, rows_kept=len(events),
                      rows_quarantined=s.rows_quarantined,
                      rows_outside_window=s.rows_outside_window + int((~keep).sum()),
                      by_reason=s.by_reason, unknown_event_types=s.unknown_event_types)
    return ValidatedEvents(events, result.quarantine, summary)


def _source_name(source: object) -> str:
    return "<frame>" if isinstance(source, pd.DataFrame) else redact(str(source))


def parse_db_url(url: str) -> sa.engine.URL:
    """Parse a SQLAlchemy URL, or raise a WorkbenchError that shows the expected form.

    Examples
    --------
    >>> parse_db_url("sqlite:///data/workbench.db").get_backend_name()
    'sqlite'
    """
    try:
        return sa.engine.make_url(reveal(url))  # a redacted URL given to a scheduled run: the real one
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise WorkbenchError(
            f"{redact(url)!r} is not a database URL: use a SQLAlchemy URL such as sqlite:///data/workbench.db "
            "or postgresql+psycopg://user@host:5432/dbname") from None


def engine_for(url: str, *, create: bool = False) -> sa.Engine:
    """Create a SQLAlchemy engine, turning a bad URL or a missing driver into a WorkbenchError.

    A SQLite file that does not exist is refused (a typo must not read as an empty store)
    unless ``create`` is true, as for the writers, which also create its folder.

    Examples
    --------
    >>> engine_for("sqlite://").dialect.name
    'sqlite'
    >>> engine_for("sqlite:////no/such/store.db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.errors.WorkbenchError: the SQLite file /no/such/store.db does not exist: check the path ...
    """
    parsed = parse_db_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:"):
        path = Path(parsed.database)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise WorkbenchError(
                f"the SQLite file {path.resolve()} does not exist: check the path (sqlite:///relative.db is relative "
                "to the working directory, sqlite:////abs/path.db is absolute), or create it with `workbench sample` "
                "or `workbench ingest`")
    try:
        return sa.create_engine(parsed)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise WorkbenchError(
            f"no database driver for {parsed.drivername!r} ({exc}): use e.g. sqlite:///path.db or "
            "postgresql+psycopg://user@host/db, or install the driver for your database") from exc


def db_connect(engine: sa.Engine, url: str) -> sa.Connection:
    """``engine.connect()``, or a WorkbenchError in one line that says what to check.

    Examples
    --------
    >>> db_connect(engine_for("sqlite://"), "sqlite://").closed
    False
    >>> db_connect(engine_for("postgresql+psycopg://ana:pw@127.0.0.1:9/x"), "postgresql+psycopg://ana:pw@127.0.0.1:9/x")
    Traceback (most recent call last):
    ...
    analytics_lib.errors.WorkbenchError: cannot connect to postgresql+psycopg://ana:***@127.0.0.1:9/x: ...
    """
    try:
        return engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        raise WorkbenchError(f"cannot connect to {redact(url)}: {db_error(exc)}; check the host, port, database name "
                             "and credentials (keep passwords in the environment, e.g. PGPASSWORD)") from None


def db_error(exc: BaseException) -> str:
    """A database error in one line: the driver's message, without SQLAlchemy's background link or credentials.

    Examples
    --------
    >>> db_error(ValueError("could not connect    to postgresql://u:pw@h/d"))
    'could not connect to postgresql://u:***@h/d'
    """
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split())
    return redact(text.split(" (Background on this error")[0])[:400]


def _read_sql(url: str, *, table: str, query: str | None, query_params: Mapping[str, Any] | None,
              mapping: dict[str, str], window: TimeWindow, teams: list[str] | None) -> pd.DataFrame:
    engine = engine_for(url)
    safe = _source_name(url)
    try:
        with db_connect(engine, url) as conn:
            if query is not None:
                params = dict(query_params or {})
                probe = conn.execute(sa.text(f"SELECT * FROM ({query}) AS q LIMIT 0").bindparams(**params))
                names = list(probe.keys())
                probe.close()
                sel_from = sa.text(query).bindparams(**params).columns(*map(sa.column, names)).subquery("q")
            else:
                meta = sa.MetaData()
                try:
                    sel_from = sa.Table(table, meta, autoload_with=conn)
                except sa.exc.NoSuchTableError as exc:
                    names = sa.inspect(conn).get_table_names()
                    raise WorkbenchError(
                        f"{safe} has no table {table!r} (tables: {', '.join(names) or 'none'}); "
                        "load data first with `workbench ingest` or `workbench sample`") from exc
            stmt = sa.select(sel_from)
            ts_col = mapping.get(S.TS, S.TS)
            if ts_col in sel_from.c:
                stmt = stmt.where(*_window_clauses(sel_from.c[ts_col], window, engine.dialect.name))
                order = [sel_from.c[ts_col]]
                id_col = mapping.get(S.EVENT_ID, S.EVENT_ID)
                if id_col in sel_from.c:
                    order.append(sel_from.c[id_col])
                stmt = stmt.order_by(*order)
            team_col = mapping.get(S.TEAM, S.TEAM)
            if teams is not None and team_col in sel_from.c:
                stmt = stmt.where(sel_from.c[team_col].in_(teams))
            return pd.read_sql(stmt, conn)
    except WorkbenchError:
        raise
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ else exc
        raise WorkbenchError(f"could not read events from {safe}: {str(cause).splitlines()[0]}") from exc
    finally:
        engine.dispose()


def _window_clauses(col: sa.ColumnElement, window: TimeWindow, dialect: str) -> list:
    """Coarse SQL pushdown of the window (one day wider, so text layouts cannot cut rows);
    the exact filter runs after parsing."""
    clauses = []
    for bound, op in ((window.start, "ge"), (window.end, "lt")):
        if bound is None:
            continue
        wide = bound - _DAY if op == "ge" else bound + _DAY
        value = wide.strftime("%Y-%m-%d") if dialect == "sqlite" else wide.to_pydatetime()
        clauses.append(col >= value if op == "ge" else col < value)
    return clauses


def _read_file(path: Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    if not path.exists():
        raise WorkbenchError(f"{path} does not exist: give a CSV or Parquet file, a folder of Parquet files, "
                             "or a database URL such as sqlite:///data/workbench.db")
    suffixes = "".join(path.suffixes).lower()
    try:
        if path.is_dir() or suffixes.endswith((".parquet", ".pq")):
            return _read_parquet(path)
        if suffixes.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            return _read_csv(path, encoding=encoding)
    except WorkbenchError:
        raise
    except Exception as exc:  # any parser failure is a structural problem with the file
        raise WorkbenchError(f"could not read {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    raise WorkbenchError(f"{path}: unknown file type {suffixes or '(none)'}; use .csv, .csv.gz or .parquet")


#: Rows (CSV records) longer than this are refused with a message naming the line: a value that
#: long is an unbalanced quote or a file that is not a CSV of events, never an event.
MAX_ROW_BYTES = 16 << 20


def _codec(encoding: str) -> str:
    """Python's name of an encoding, or a WorkbenchError naming a few that exist."""
    import codecs

    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise WorkbenchError(f"encoding={encoding!r} is unknown: use e.g. utf-8, latin-1, cp1252 or utf-16") from None


def _read_csv(path: Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read every column as text (nothing is coerced before validation sees it).

    A UTF-8 byte-order mark is skipped (spreadsheet exports start with one); other encodings
    (``latin-1``, ``cp1252``, ``utf-16``...) are decoded as given. A line that does not split
    into the header's columns keeps its place as a row with ``@reader_error`` and ``@raw_line``
    set (quarantined as ``malformed_row``), so the rest of the file is read and every row is
    accounted for.
    """
    if path.stat().st_size == 0:
        raise WorkbenchError(f"{path} is empty: it holds no header and no rows")
    import pyarrow as pa
    import pyarrow.csv as pacsv

    codec = _codec(encoding)
    if codec == "utf-8":
        codec = "utf-8-sig"  # the same bytes, without the mark some exports put first
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding=codec) as fh:
            header = next(csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), None)
    except UnicodeDecodeError as exc:
        raise WorkbenchError(_not_decodable(path, encoding, exc)) from None
    if not header:
        raise WorkbenchError(f"{path} has no header line")
    bad: list = []

    def on_bad_row(row) -> str:
        bad.append(row)
        return "skip"

    def read(threads: bool, block: int) -> pa.Table:
        return pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(encoding="utf8" if codec == "utf-8-sig" else codec,
                                                 use_threads=threads, block_size=block),
            parse_options=pacsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",",
                                             newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))

    block = 1 << 20
    while True:
        try:
            table = read(True, block)
            break
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "straddling" in message and block < MAX_ROW_BYTES:  # a long row: read again with room for it
                bad.clear()
                block = min(block * 4, MAX_ROW_BYTES)
                continue
            if "straddling" in message:
                raise WorkbenchError(_row_too_long(path, codec)) from None
            if "UTF8" in message or "utf-8" in message.lower():
                raise WorkbenchError(_not_decodable(path, encoding, message)) from None
            raise
    if bad:  # row numbers are known only to a single-threaded read
        bad.clear()
        table = read(False, block)
        for row in bad:
            if "\n" in row.text and row.text.count('"') % 2:  # the quote swallowed every later line
                first = row.text.split("\n", 1)[0]
                raise WorkbenchError(
                    f"{path}: data row {row.number - 1 if row.number else '?'} opens a quoted value that never "
                    f"closes, so the {row.text.count(chr(10)) + 1:,} lines from there on would read as one value: "
                    f"fix the double quote (\") in {first[:80]!r}")
    df = table.to_pandas()
    df.columns = [("Unnamed: 0" if c == "" else c) for c in df.columns]
    if bad:
        df = _with_malformed_rows(df, bad, len(header))
    return df


def _with_malformed_rows(df: pd.DataFrame, bad: list, expected: int) -> pd.DataFrame:
    """Put the lines the reader skipped back at their places, marked for the quarantine."""
    import numpy as np

    n = len(df) + len(bad)
    where = [(r.number - 2) if r.number is not None else n - len(bad) + i for i, r in enumerate(bad)]  # 1 = header
    is_bad = np.zeros(n, dtype=bool)
    is_bad[where] = True
    df.index = np.flatnonzero(~is_bad)
    marked = pd.DataFrame({S.READER_ERROR: [f"{r.actual_columns} fields where the header has {expected}"
                                            for r in bad],
                           S.RAW_LINE: [r.text for r in bad]}, index=where)
    return pd.concat([df, marked]).sort_index().reset_index(drop=True)


def _not_decodable(path: Path, encoding: str, detail: object) -> str:
    return (f"{path} is not {encoding} text ({str(detail).splitlines()[0][:120]}): give the file's encoding, "
            "e.g. encoding='latin-1', 'cp1252' or 'utf-16' (command line: --encoding latin-1)")


def _row_too_long(path: Path, codec: str) -> str:
    """Name the line that is too long, and why it probably is."""
    opener = gzip.open if str(path).endswith(".gz") else open
    number, longest, at = 0, 0, 0
    with opener(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):  # noqa: B007 - streaming, constant memory
            if len(line) > longest:
                longest, at = len(line), number
    if longest > MAX_ROW_BYTES:
        return (f"{path}: line {at:,} is {longest / 1e6:,.1f} MB long, more than a row may be "
                f"({MAX_ROW_BYTES >> 20} MB): it is not an event (a binary file, or text pasted into one cell?); "
                "remove or fix that line")
    return (f"{path}: a quoted value does not end: from some line on, the rest of the file ({number:,} lines) "
            "reads as one value longer than a row may be; look for an unbalanced double quote (\")")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq
    schema = pq.read_schema(next(path.rglob("*.parquet")) if path.is_dir() else path)
    low_card = [c for c in (S.USER_ID, S.EVENT_TYPE, S.TEAM, S.FEATURE, S.MODEL) if c in schema.names]
    table = pq.read_table(path, read_dictionary=low_card)
    return table.to_pandas()


# --------------------------------------------------------------------------------------------
# Writing
@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_events` did: ``inserted + already_present == events given``."""

    inserted: int
    already_present: int
    quarantine_inserted: int
    quarantine_already_present: int


def write_events(result: ValidatedEvents, url: str, *, chunk_rows: int = 100_000, progress: bool = False) -> WriteResult:
    """Write clean events and the quarantine to a SQL store, idempotently.

    Events are keyed by ``event_id``: an id already in the store is left as it is, so
    loading the same file twice adds nothing. Quarantined rows go to
    ``events_quarantine`` (the raw row as JSON, the reason and its position in the
    source), keyed by a hash of source, position and content, so they are not duplicated
    either. PostgreSQL is written with ``COPY``; other databases with batched inserts.

    Parameters
    ----------
    result : ValidatedEvents
        From :func:`load_events` or :func:`validate_events`.
    url : str
        SQLAlchemy URL of the store; tables are created when missing.
    chunk_rows : int
        Rows per batch.
    progress : bool
        Show a progress bar.

    Returns
    -------
    WriteResult

    Examples
    --------
    >>> from analytics_lib import load_events, write_events
    >>> res = load_events("events.csv")  # doctest: +SKIP
    >>> write_events(res, "sqlite:///data/workbench.db").inserted  # doctest: +SKIP
    1000
    """
    engine = engine_for(url, create=True)
    db_connect(engine, url).close()  # an unreachable store: one line, before any work
    try:
        _meta.create_all(engine)
        ev = _events_for_sql(result.events, engine.dialect.name)
        q = _quarantine_for_sql(result.quarantine, result.summary.source)
        with engine.begin() as conn:
            ins = _insert_new(conn, EVENTS_TABLE, ev, chunk_rows, progress)
            qins = _insert_new(conn, QUARANTINE_TABLE, q, chunk_rows, False)
        return WriteResult(ins, len(ev) - ins, qins, len(q) - qins)
    except sa.exc.SQLAlchemyError as exc:
        raise WorkbenchError(f"could not write to {_source_name(url)}: {db_error(exc)}") from None
    finally:
        engine.dispose()


def _events_for_sql(events: pd.DataFrame, dialect: str) -> pd.DataFrame:
    df = events.loc[:, list(S.COLUMNS)].copy()
    if dialect == "sqlite":
        df[S.TS] = df[S.TS].dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    for c in (S.USER_ID, S.EVENT_TYPE, S.TEAM, S.FEATURE, S.MODEL):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _quarantine_for_sql(quarantine: pd.DataFrame, source: str) -> pd.DataFrame:
    if quarantine.empty:
        return pd.DataFrame(columns=[c.name for c in QUARANTINE_TABLE.columns])
    raw_cols = [c for c in quarantine.columns if c not in ("source_row", "reason", "reason_column")]
    raw = quarantine[raw_cols].to_json(orient="records", lines=True, date_format="iso", default_handler=str)
    raw_lines = raw.rstrip("\n").split("\n")
    out = pd.DataFrame({
        "source": source,
        "source_row": quarantine["source_row"].astype("int64"),
        "reason": quarantine["reason"].astype(str),
        "reason_column": quarantine["reason_column"].astype(object),
        "raw": raw_lines,
        "ingested_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    })
    key = out["source"] + "\x1f" + out["source_row"].astype(str) + "\x1f" + out["raw"]
    out.insert(0, "quarantine_id", [hashlib.sha1(k.encode()).hexdigest() for k in key])
    return out


def _insert_new(conn: sa.Connection, table: sa.Table, df: pd.DataFrame, chunk_rows: int, progress: bool) -> int:
    """Stage rows in a temporary table, then insert those whose key is not yet present."""
    if df.empty:
        return 0
    dialect = conn.dialect.name
    stage = f"stage_{table.name}"
    cols = [c.name for c in table.columns]
    key = table.primary_key.columns.keys()[0]
    qcols = ", ".join(f'"{c}"' for c in cols)
    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{stage}"'))
    if dialect == "postgresql":
        conn.execute(sa.text(f'CREATE TEMP TABLE "{stage}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'))
        _copy_postgres(conn, stage, df[cols], chunk_rows, progress)
    else:
        conn.execute(sa.text(f'CREATE TEMP TABLE "{stage}" AS SELECT * FROM "{table.name}" WHERE 0'))
        placeholders = ", ".join("?" for _ in cols)
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        values = df[cols].astype(object).where(df[cols].notna(), None)
        for lo in _chunks(len(values), chunk_rows, progress, f"writing {table.name}"):
            cur.executemany(f'INSERT INTO "{stage}" ({qcols}) VALUES ({placeholders})',
                            values.iloc[lo:lo + chunk_rows].itertuples(index=False, name=None))
    # Duplicate keys inside one batch cannot occur: validation quarantined them.
    res = conn.execute(sa.text(
        f'INSERT INTO "{table.name}" ({qcols}) SELECT {qcols} FROM "{stage}" s '
        f'WHERE NOT EXISTS (SELECT 1 FROM "{table.name}" t WHERE t."{key}" = s."{key}")'))
    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{stage}"'))
    return int(res.rowcount)


def _chunks(n: int, size: int, progress: bool, desc: str):
    starts = range(0, n, size)
    if not progress:
        return starts
    from tqdm.auto import tqdm
    return tqdm(starts, desc=desc, unit="batch", total=len(starts), leave=False)


def _copy_postgres(conn: sa.Connection, stage: str, df: pd.DataFrame, chunk_rows: int, progress: bool) -> None:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_bool_dtype(out[c].dtype):
            out[c] = out[c].map({True: "t", False: "f"}).astype(object)
    cols = ", ".join(f'"{c}"' for c in df.columns)
    cur = conn.connection.driver_connection.cursor()
    with cur.copy(f'COPY "{stage}" ({cols}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')') as copy:
        for lo in _chunks(len(out), chunk_rows, progress, f"copying into {stage}"):
            copy.write(out.iloc[lo:lo + chunk_rows].to_csv(index=False, header=False, na_rep="\\N",
                                                           date_format="%Y-%m-%d %H:%M:%S.%f+00:00"))


def store_summary(url: str) -> pd.DataFrame:
    """Counts in a store: events, users, time range, and quarantined rows by reason.

    Examples
    --------
    >>> store_summary("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    engine = engine_for(url)
    try:
        with db_connect(engine, url) as conn:
            names = set(sa.inspect(conn).get_table_names())
            if EVENTS_TABLE.name not in names:
                raise WorkbenchError(f"{_source_name(url)} holds no events table yet: run `workbench sample` or `workbench ingest`")
            e = EVENTS_TABLE.c
            n, users, lo, hi = conn.execute(sa.select(
                sa.func.count(), sa.func.count(sa.distinct(e[S.USER_ID])), sa.func.min(e[S.TS]), sa.func.max(e[S.TS]))).one()
            rows = [("events", n), ("users", users), ("first event", str(lo)), ("last event", str(hi))]
            if QUARANTINE_TABLE.name in names:
                qc = QUARANTINE_TABLE.c
                for reason, k in conn.execute(sa.select(qc.reason, sa.func.count()).group_by(qc.reason).order_by(qc.reason)):
                    rows.append((f"quarantined: {reason}", k))
        return pd.DataFrame(rows, columns=["item", "value"])
    finally:
        engine.dispose()


def read_quarantine(url: str) -> pd.DataFrame:
    """The stored quarantine, with each ``raw`` row parsed back into a dict.

    Examples
    --------
    >>> read_quarantine("sqlite:///data/workbench.db").reason.value_counts()  # doctest: +SKIP
    """
    engine = engine_for(url)
    try:
        with db_connect(engine, url) as conn:
            df = pd.read_sql(sa.select(QUARANTINE_TABLE).order_by("source", "source_row"), conn)
    finally:
        engine.dispose()
    df["raw"] = [json.loads(r) for r in df["raw"]]
    return df
