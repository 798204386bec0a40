"""Writing a notebook's tables (CSV or Parquet) for the job runner to publish.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import atomic_write


#: Formats :func:`write_tables` can write.
TABLE_FORMATS = ("csv", "parquet")


def write_tables(tables: Mapping[str, pd.DataFrame], output_dir: str | os.PathLike, *,
                 formats: tuple[str, ...] = TABLE_FORMATS) -> list[Path]:
    """Write result tables as ``<name>.csv`` and ``<name>.parquet`` into a folder.

    A named index (``period``, ``cohort``...) becomes the first column; column names are
    written as text (so retention's ``0, 1, 2...`` survive Parquet). Each file is written to
    a temporary name first and then renamed, so a reader never sees half a file. The folder
    is created if missing; existing files of the same name are replaced.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        File stem (letters, digits, ``_``, ``-``, ``.``) to table.
    output_dir : str or path
        Target folder.
    formats : tuple of str
        Any of ``"csv"``, ``"parquet"``.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``tables`` then ``formats``.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_tables({"kpis": pd.DataFrame({"events": [3]})}, tempfile.mkdtemp())]
    ['kpis.csv', 'kpis.parquet']
    """
    bad = [f for f in formats if f not in TABLE_FORMATS]
    if bad or not formats:
        raise WorkbenchError(f"formats={formats!r}: use one or more of {', '.join(TABLE_FORMATS)}")
    for name, table in tables.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
            raise WorkbenchError(f"table name {name!r} is not a plain file name: use letters, digits, '_', '-' or '.'")
        if not isinstance(table, pd.DataFrame):
            raise WorkbenchError(f"table {name!r} is a {type(table).__name__}, not a DataFrame")
    out_dir = Path(output_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot create the output folder {out_dir}: {exc.strerror}") from exc
    written = []
    for name, table in tables.items():
        frame = _flat_columns(table)
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            atomic_write(path, (lambda p, f=frame: f.to_csv(p, index=False)) if fmt == "csv"
                         else (lambda p, f=frame: f.to_parquet(p, index=False)))
            written.append(path)
    return written


def _flat_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Named index levels become columns; column names become text."""
    named = any(n is not None for n in table.index.names)
    frame = table.reset_index() if named else table.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame
