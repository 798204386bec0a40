"""Sources of events: what a ``source`` may be (a SQL URL, a CSV/Parquet file or folder, an object
store for Dask), checked before anything reads it, and shown without credentials.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact, reveal

if TYPE_CHECKING:
    import sqlalchemy as sa


def is_sql_url(source: object) -> bool:
    """True when ``source`` looks like a SQLAlchemy URL (``dialect[+driver]://...``)."""
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def source_name(source: object) -> str:
    """How a source is named in messages and summaries: without credentials; ``<frame>`` for a DataFrame.

    Examples
    --------
    >>> source_name("postgresql://ana:pw@db/x")
    'postgresql://ana:***@db/x'
    """
    import pandas as pd

    return "<frame>" if isinstance(source, pd.DataFrame) else redact(str(source))


def parse_db_url(url: str) -> sa.engine.URL:
    """Parse a SQLAlchemy URL, or raise a WorkbenchError that shows the expected form.

    Examples
    --------
    >>> parse_db_url("sqlite:///data/workbench.db").get_backend_name()
    'sqlite'
    """
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(reveal(url))  # a redacted URL given to a scheduled run: the real one
    except (sa.exc.ArgumentError, ValueError):
        raise WorkbenchError(
            f"{redact(url)!r} is not a database URL: use a SQLAlchemy URL such as sqlite:///data/workbench.db "
            "or postgresql+psycopg://user@host:5432/dbname") from None


#: URL schemes read as Parquet datasets (shared storage, object stores) rather than SQL.
FILE_SCHEMES = ("file", "s3", "gs", "gcs", "abfs", "abfss", "az", "hdfs", "viewfs")


def is_file_url(source: object) -> bool:
    return isinstance(source, str) and "://" in source and source.split("://", 1)[0].lower() in FILE_SCHEMES


def check_source(source: object, *, engine: str = "pandas") -> str:
    from analytics_lib.core import paths

    if source is None:
        return paths.DEFAULT_DB_URL
    if isinstance(source, Path):
        source = str(source)
    if not isinstance(source, str) or not source.strip():
        raise WorkbenchError(
            f"source={source!r} is empty: give a database URL such as 'sqlite:///data/workbench.db', "
            "a CSV or Parquet path, or None for the workbench store")
    source = source.strip()
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    if engine == "dask":
        if scheme in FILE_SCHEMES and scheme != "file":
            return source  # shared storage or an object store: the workers read it, with their credentials
        if source.lower().removesuffix(".gz").endswith(".csv"):
            raise WorkbenchError(f"source={source!r}: the Dask engine reads Parquet files and datasets and SQL "
                                 "sources, not CSV: load it into a store with `workbench ingest`, or convert it to "
                                 "Parquet")
    if is_sql_url(source):
        try:
            url = parse_db_url(source)
        except WorkbenchError as exc:
            raise WorkbenchError(f"source={exc}") from exc
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_file():
            raise WorkbenchError(
                f"source={redact(source)!r}: the SQLite file {Path(url.database).resolve()} does not exist; "
                "create it with `workbench sample`, or pass an absolute URL (sqlite:////abs/path.db; relative "
                "ones are relative to the working directory)")
        return source
    path = Path(source.removeprefix("file://")).expanduser()
    if not path.exists():
        raise WorkbenchError(
            f"source={source!r}: {path.resolve()} does not exist; give a CSV or Parquet path, a database URL, "
            "or None for the workbench store")
    suffixes = "".join(path.suffixes).lower()
    data = (next(path.rglob("*.parquet"), None) is not None) if path.is_dir() \
        else suffixes.endswith((".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".pq"))
    if not data:
        raise WorkbenchError(
            f"source={source!r} is not an events source: give a .csv, .csv.gz or .parquet file, a folder of "
            "Parquet files, or a database URL such as sqlite:///data/workbench.db")
    return str(path)


def check_team(team: object) -> list[str] | None:
    if team is None:
        return None
    teams = [team] if isinstance(team, str) else team
    if not isinstance(teams, (list, tuple)) or not teams \
            or not all(isinstance(t, str) and t.strip() for t in teams):
        raise WorkbenchError(
            f"team={team!r} is not valid: give None for all teams, a team name such as 'team-a', "
            "or a non-empty list of team names")
    return [t.strip() for t in teams]


def check_output_dir(output_dir: object, default: str = "workflow") -> Path:
    from analytics_lib.core import paths

    if output_dir is None:
        out = paths.REPORTS / default
    elif isinstance(output_dir, (str, Path)) and str(output_dir).strip():
        out = Path(str(output_dir).strip()).expanduser()
    else:
        raise WorkbenchError(f"output_dir={output_dir!r} is not a folder path: give a path such as "
                             f"'reports/{default}', or None for reports/{default}")
    if out.exists() and not out.is_dir():
        raise WorkbenchError(f"output_dir={str(output_dir)!r}: {out} exists and is not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"output_dir={str(output_dir)!r}: cannot create {out} ({exc.strerror}); "
                             "give a writable folder") from exc
    return out.resolve()


def absolute_source(value: str, base: Path) -> str:
    if is_sql_url(value):
        url = parse_db_url(value)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_absolute():
            return url.set(database=str((base / url.database).resolve())).render_as_string(hide_password=False)
        return value
    p = Path(value.removeprefix("file://")).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())
