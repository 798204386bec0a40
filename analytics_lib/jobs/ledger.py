"""The run ledger (table ``job_runs`` in the store): one row per attempt, credentials never stored.
"""
from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timezone
from typing import Any, Mapping

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact


LEDGER = "job_runs"


# --------------------------------------------------------------------------------------------
# The run ledger
_LEDGERS: dict[str, Any] = {}
_LEDGER_LOCK = threading.Lock()


def _ledger_table(meta):
    import sqlalchemy as sa

    when = sa.DateTime(timezone=True)
    return sa.Table(
        LEDGER, meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("job", sa.String(128), nullable=False, index=True),
        sa.Column("variant", sa.String(256), nullable=False, default=""),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("scheduled_at", when),
        sa.Column("started_at", when, nullable=False),
        sa.Column("ended_at", when),
        sa.Column("deadline_at", when),
        sa.Column("duration_s", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("notebook", sa.Text),
        sa.Column("run_dir", sa.Text),
        sa.Column("outputs", sa.Text),
        sa.Column("window_start", when),
        sa.Column("window_end", when),
        sa.Column("input_rows", sa.BigInteger),
        sa.Column("input_min_ts", sa.String(32)),
        sa.Column("input_max_ts", sa.String(32)),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("version", sa.String(160)),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("pid_start", sa.String(32)),
        sa.Column("spec", sa.Text),
        sa.UniqueConstraint("run_id", "attempt", name="uq_job_runs_run_attempt"),
    )


def _ledger(store: str):
    """(engine, table) for a store, created once per process; the table is created if missing.

    SQLite stores get WAL journaling (readers and the ledger's short writes do not block
    each other while notebooks read events) and a 60 s busy timeout."""
    with _LEDGER_LOCK:
        if store in _LEDGERS:
            return _LEDGERS[store]
        import sqlalchemy as sa

        from analytics_lib.data.sql import db_connect, db_error, engine_for

        engine = engine_for(store, create=True)  # a new ledger may start in a new SQLite file
        if engine.dialect.name == "sqlite":
            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout = 60000")
                with contextlib.suppress(Exception):
                    cur.execute("PRAGMA journal_mode = WAL")
                cur.close()
        meta = sa.MetaData()
        table = _ledger_table(meta)
        db_connect(engine, store).close()  # unreachable: one line that says what to check
        try:
            meta.create_all(engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:
            raise WorkbenchError(f"cannot create the run ledger in {redact(store)}: {db_error(exc)}") from None
        _LEDGERS[store] = (engine, table)
        return _LEDGERS[store]


def _ledger_insert(store: str, row: Mapping[str, Any]) -> int:
    engine, table = _ledger(store)
    with engine.begin() as conn:  # no credential is ever stored (parameters, errors, the spec)
        return int(conn.execute(table.insert().values(**redact(dict(row)))).inserted_primary_key[0])


def _ledger_update(store: str, row_id: int, **values: Any) -> None:
    engine, table = _ledger(store)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(**redact(values)))


def _ledger_rows(store: str, *, job: str | None = None, status: str | None = None, limit: int | None = None):
    import sqlalchemy as sa

    engine, table = _ledger(store)
    q = sa.select(table).order_by(table.c.started_at.desc(), table.c.id.desc())
    if job is not None:
        q = q.where(table.c.job == job)
    if status is not None:
        q = q.where(table.c.status == status)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _previous_status(store: str, job: str, variant: str, run_id: str) -> str | None:
    """The final status of the job variant's last run before ``run_id`` (None: no earlier run)."""
    import sqlalchemy as sa

    engine, table = _ledger(store)
    q = (sa.select(table.c.status).where(table.c.job == job, table.c.variant == variant, table.c.run_id != run_id,
                                         table.c.status != "running")
         .order_by(table.c.started_at.desc(), table.c.id.desc()).limit(1))
    with engine.connect() as conn:
        return conn.execute(q).scalar()


def _success_counts(store: str, job: str, variant: str, limit: int) -> list[int]:
    """Events read by the job variant's last ``limit`` successful runs, newest first (the row-count gate)."""
    import sqlalchemy as sa

    engine, table = _ledger(store)
    q = (sa.select(table.c.input_rows).where(table.c.job == job, table.c.variant == variant,
                                             table.c.status == "succeeded", table.c.input_rows.is_not(None))
         .order_by(table.c.started_at.desc(), table.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        return [int(r) for r in conn.execute(q).scalars()]


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def run_history(store: str | None = None, *, job: str | None = None, limit: int | None = 50):
    """The run ledger, newest first: one row per attempt.

    Parameters
    ----------
    store : str, optional
        SQLAlchemy URL of the workbench store (default ``paths.DEFAULT_DB_URL``).
    job : str, optional
        Only this job.
    limit : int or None
        At most this many rows.

    Returns
    -------
    DataFrame
        ``run_id, job, variant, attempt, status, trigger, scheduled_at, started_at, ended_at,
        duration_s, input_rows, input_max_ts, fingerprint, error, run_dir, outputs, parameters,
        version`` (times are UTC).

    Examples
    --------
    >>> run_history("sqlite://").columns[:5].tolist()
    ['run_id', 'job', 'variant', 'attempt', 'status']
    """
    import pandas as pd

    cols = ["run_id", "job", "variant", "attempt", "status", "trigger", "scheduled_at", "started_at", "ended_at",
            "duration_s", "input_rows", "input_max_ts", "fingerprint", "error", "run_dir", "outputs", "parameters",
            "version"]
    rows = _ledger_rows(store or paths.DEFAULT_DB_URL, job=job, limit=limit)
    frame = pd.DataFrame(rows, columns=[*cols, "id"]) if rows else pd.DataFrame(columns=[*cols, "id"])
    for c in ("scheduled_at", "started_at", "ended_at"):
        frame[c] = pd.to_datetime(frame[c].map(_aware), utc=True)
    return frame[cols].reset_index(drop=True)
