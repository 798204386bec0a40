"""The SQL store: the ``events`` and ``events_quarantine`` tables, engines and connections with
one-line errors, idempotent writes (``COPY`` for PostgreSQL) and the store's summaries.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from analytics_lib.core.compat import renamed
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.sources import parse_db_url, source_name

if TYPE_CHECKING:
    from analytics_lib.core.timewindow import TimeWindow
    from analytics_lib.data.validation import ValidatedEvents


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
    analytics_lib.core.errors.WorkbenchError: the SQLite file /no/such/store.db does not exist: check the path ...
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
    analytics_lib.core.errors.WorkbenchError: cannot connect to postgresql+psycopg://ana:***@127.0.0.1:9/x: ...
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
    safe = source_name(url)
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
                stmt = stmt.where(*window_clauses(sel_from.c[ts_col], window, engine.dialect.name))
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


def window_clauses(col: sa.ColumnElement, window: TimeWindow, dialect: str) -> list:
    """Coarse SQL pushdown of the window (one day wider, so text layouts cannot cut rows);
    the exact filter runs after parsing.

    Parameters
    ----------
    col : sqlalchemy.ColumnElement
        The timestamp column to filter.
    window : TimeWindow
        The time window; an open side (None) adds no clause.
    dialect : str
        The database's SQLAlchemy dialect name: ``"sqlite"`` compares ``YYYY-MM-DD`` text (the
        store keeps ISO text there), any other compares datetimes.

    Returns
    -------
    list
        Zero to two clauses for ``Select.where``.
    """
    clauses = []
    for bound, op in ((window.start, "ge"), (window.end, "lt")):
        if bound is None:
            continue
        wide = bound - _DAY if op == "ge" else bound + _DAY
        value = wide.strftime("%Y-%m-%d") if dialect == "sqlite" else wide.to_pydatetime()
        clauses.append(col >= value if op == "ge" else col < value)
    return clauses


# --------------------------------------------------------------------------------------------
# Writing
@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_events` did: ``inserted + already_present == events given``."""

    inserted: int
    already_present: int
    quarantine_inserted: int
    quarantine_already_present: int


@renamed(url='store')
def write_events(result: ValidatedEvents, store: str, *, chunk_rows: int = 100_000, progress: bool = False) -> WriteResult:
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
    store : str
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
    engine = engine_for(store, create=True)
    db_connect(engine, store).close()  # an unreachable store: one line, before any work
    try:
        _meta.create_all(engine)
        with engine.begin() as conn:
            return _write_in(conn, result, chunk_rows=chunk_rows, progress=progress)
    except sa.exc.SQLAlchemyError as exc:
        raise WorkbenchError(f"could not write to {source_name(store)}: {db_error(exc)}") from None
    finally:
        engine.dispose()


def _write_in(conn: sa.Connection, result: ValidatedEvents, *, chunk_rows: int = 100_000,
              progress: bool = False) -> WriteResult:
    """Write events and quarantine inside the caller's transaction (the tables exist)."""
    ev = _events_for_sql(result.events, conn.dialect.name)
    q = _quarantine_for_sql(result.quarantine, result.summary.source)
    ins = _insert_new(conn, EVENTS_TABLE, ev, chunk_rows, progress)
    qins = _insert_new(conn, QUARANTINE_TABLE, q, chunk_rows, False)
    return WriteResult(ins, len(ev) - ins, qins, len(q) - qins)


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


@renamed(url='store')
def store_summary(store: str) -> pd.DataFrame:
    """Counts in a store: events, users, time range, and quarantined rows by reason.

    Examples
    --------
    >>> store_summary("sqlite:///data/workbench.db")  # doctest: +SKIP
    """
    engine = engine_for(store)
    try:
        with db_connect(engine, store) as conn:
            names = set(sa.inspect(conn).get_table_names())
            if EVENTS_TABLE.name not in names:
                raise WorkbenchError(f"{source_name(store)} holds no events table yet: run `workbench sample` or `workbench ingest`")
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


@renamed(url='store')
def read_quarantine(store: str) -> pd.DataFrame:
    """The stored quarantine, with each ``raw`` row parsed back into a dict.

    Examples
    --------
    >>> read_quarantine("sqlite:///data/workbench.db").reason.value_counts()  # doctest: +SKIP
    """
    engine = engine_for(store)
    try:
        with db_connect(engine, store) as conn:
            df = pd.read_sql(sa.select(QUARANTINE_TABLE).order_by("source", "source_row"), conn)
    finally:
        engine.dispose()
    df["raw"] = [json.loads(r) for r in df["raw"]]
    return df
