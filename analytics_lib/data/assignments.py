"""Experiment assignments beside the events: who saw which variant of which experiment, from when.

The contract (``docs/events.md``): one row per user, experiment and variant with ``user_id,
experiment, variant, assigned_at`` (UTC). In a SQL store it is the table
``experiment_assignments``; elsewhere a CSV or Parquet file with those columns. Rows are checked
when an analysis reads them (:func:`analytics_lib.analysis.experiments.validate_assignments`).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.sources import is_sql_url

ASSIGNMENTS_TABLE = "experiment_assignments"
_COLUMNS = ["user_id", "experiment", "variant", "assigned_at"]


def write_assignments(assignments: pd.DataFrame, store: str) -> int:
    """Write an assignment table into a SQL store, replacing the rows of the experiments it holds.

    Parameters
    ----------
    assignments : DataFrame
        ``user_id, experiment, variant, assigned_at``.
    store : str
        A SQLAlchemy URL.

    Returns
    -------
    int
        Rows written.
    """
    import sqlalchemy as sa

    from analytics_lib.data.sql import db_connect, engine_for

    missing = [c for c in _COLUMNS if c not in assignments.columns]
    if missing:
        raise WorkbenchError(f"assignments lack the column(s) {', '.join(missing)}")
    frame = assignments[_COLUMNS].copy()
    if frame.isna().any().any():
        raise WorkbenchError(f"{int(frame.isna().any(axis=1).sum())} assignment row(s) have a missing value: check "
                             "them with validate_assignments before writing")
    frame["assigned_at"] = pd.to_datetime(frame["assigned_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    engine = engine_for(store, create=True)
    try:
        with db_connect(engine, store) as conn, conn.begin():
            meta = sa.MetaData()
            table = sa.Table(ASSIGNMENTS_TABLE, meta, sa.Column("user_id", sa.String(256), nullable=False),
                             sa.Column("experiment", sa.String(256), nullable=False),
                             sa.Column("variant", sa.String(256), nullable=False),
                             sa.Column("assigned_at", sa.String(40), nullable=False))
            meta.create_all(conn)
            names = sorted(frame["experiment"].astype(str).unique())
            conn.execute(sa.delete(table).where(table.c.experiment.in_(names)))
            if len(frame):
                conn.execute(sa.insert(table), frame.astype(str).to_dict("records"))
    finally:
        engine.dispose()
    return int(len(frame))


def has_assignments(source: str | os.PathLike, *, table: str = ASSIGNMENTS_TABLE) -> bool:
    """Whether a store has the assignment table (or a file of assignments exists), without reading it.

    Parameters
    ----------
    source : str or path
        A SQLAlchemy URL or a ``.csv``/``.parquet`` file.
    table : str
        The table in a SQL store.

    Examples
    --------
    >>> has_assignments("no/such/file.csv")
    False
    """
    source = str(source)
    if not is_sql_url(source):
        return Path(source).is_file()
    import sqlalchemy as sa

    from analytics_lib.data.sql import db_connect, engine_for

    try:
        engine = engine_for(source)
    except WorkbenchError:
        return False
    try:
        with db_connect(engine, source) as conn:
            return bool(sa.inspect(conn).has_table(table))
    except WorkbenchError:
        return False
    finally:
        engine.dispose()


def load_assignments(source: str | os.PathLike, *, table: str = ASSIGNMENTS_TABLE) -> pd.DataFrame:
    """The assignment table of a SQL store, or a CSV/Parquet file of assignments, as it is stored.

    Parameters
    ----------
    source : str or path
        A SQLAlchemy URL (the table ``table``) or a ``.csv``/``.parquet`` file.
    table : str
        The table in a SQL store.

    Raises
    ------
    WorkbenchError
        When the store has no such table or the file cannot be read.
    """
    source = str(source)
    if is_sql_url(source):
        import sqlalchemy as sa

        from analytics_lib.data.sql import db_connect, engine_for

        engine = engine_for(source)
        try:
            with db_connect(engine, source) as conn:
                if not sa.inspect(conn).has_table(table):
                    raise WorkbenchError(f"{redact(source)} has no table {table!r}: write the assignments first "
                                         "(workbench sample plants two experiments; see docs/experiments.md)")
                return pd.read_sql_table(table, conn)
        finally:
            engine.dispose()
    path = Path(source)
    if not path.is_file():
        raise WorkbenchError(f"{source}: no such assignments file (give a store URL, a .csv or a .parquet file)")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)  # "007" stays "007"
