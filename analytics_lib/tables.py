"""Small tables the workflow notebook draws from, and writing result tables to disk.

``weekday_hour_table`` and ``session_latency_satisfaction`` are pure (events in, new frame
out); ``write_tables`` is the one verb here (it writes files).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from . import schema as S
from .errors import WorkbenchError
from .params import check_duration

#: Row labels of :func:`weekday_hour_table` (ISO weekday order).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Formats :func:`write_tables` can write.
TABLE_FORMATS = ("csv", "parquet")


def weekday_hour_table(events: pd.DataFrame, *, time_col: str = S.TS) -> pd.DataFrame:
    """Event counts by UTC weekday and hour of day.

    Parameters
    ----------
    events : DataFrame
        Validated events (``ts`` is UTC).
    time_col : str
        The timestamp column.

    Returns
    -------
    DataFrame
        7 rows indexed ``weekday`` (``Mon`` .. ``Sun``) by 24 columns ``hour`` (0..23) of
        int64 event counts; every cell is present (0 when nothing happened).

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> weekday_hour_table(synthetic_events(5_000, days=28, seed=0).events).shape
    (7, 24)
    """
    if time_col not in events.columns:
        raise WorkbenchError(f"weekday_hour_table: {time_col!r} is not a column of the events")
    ts = events[time_col]
    if len(ts):
        ts = ts.dt.tz_convert("UTC") if ts.dt.tz is not None else ts
        cell = ts.dt.day_of_week.to_numpy(dtype="int64") * 24 + ts.dt.hour.to_numpy(dtype="int64")
    else:
        cell = np.array([], dtype="int64")
    counts = np.bincount(cell, minlength=7 * 24).reshape(7, 24)
    return pd.DataFrame(counts, index=pd.Index(WEEKDAYS, name="weekday"), columns=pd.RangeIndex(24, name="hour"))


def session_latency_satisfaction(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """One row per session with a satisfaction score: its latency, errors, model and score.

    The per-session values behind
    :func:`analytics_lib.workflow.satisfaction_vs_performance`, with the same definitions:
    ``latency_ms`` is the median ``latency_ms`` of the session's ``generation`` events (NaN
    when it has none), ``errors`` the number of its ``error`` events, ``satisfaction`` the
    mean of its scores and ``model`` the model of its first ``generation``. Sessions come
    from ``session_id`` or, where absent, from :func:`analytics_lib.workflow.sessionize`.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    gap : str
        Inactivity that ends a derived session.

    Returns
    -------
    DataFrame
        ``session_id, model, latency_ms, errors, satisfaction`` sorted by ``session_id``;
        only sessions with a satisfaction score.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> session_latency_satisfaction(synthetic_events(5_000, days=28, seed=0).events).columns.tolist()
    ['session_id', 'model', 'latency_ms', 'errors', 'satisfaction']
    """
    from .workflow import sessionize

    check_duration(gap, name="gap")
    cols = ["session_id", "model", "latency_ms", "errors", "satisfaction"]
    if events.empty:
        return pd.DataFrame({"session_id": pd.Series(dtype="str"), "model": pd.Series(dtype="str"),
                             "latency_ms": pd.Series(dtype="float64"), "errors": pd.Series(dtype="int64"),
                             "satisfaction": pd.Series(dtype="float64")})
    ev = sessionize(events, gap=gap)
    sid = ev[S.SESSION_ID].astype(str)
    et = ev[S.EVENT_TYPE].astype(str)
    gen = (et == "generation").to_numpy()
    sat = ev[S.SATISFACTION].groupby(sid).mean().dropna()
    lat = ev.loc[gen, S.LATENCY_MS].groupby(sid[gen]).median()
    model = ev.loc[gen, S.MODEL].astype(str).groupby(sid[gen]).first()
    errs = (et == "error").groupby(sid).sum()
    out = pd.DataFrame({"satisfaction": sat})
    out["latency_ms"] = lat.reindex(out.index).astype("float64")
    out["errors"] = errs.reindex(out.index).fillna(0).astype("int64")
    out["model"] = model.reindex(out.index)
    out.index.name = "session_id"
    return out.reset_index()[cols].sort_values("session_id", kind="stable").reset_index(drop=True)


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
        frame = _flat(table)
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".{fmt}.tmp", dir=out_dir)
            os.close(fd)
            try:
                if fmt == "csv":
                    frame.to_csv(tmp, index=False)
                else:
                    frame.to_parquet(tmp, index=False)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            written.append(path)
    return written


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """Named index levels become columns; column names become text."""
    named = any(n is not None for n in table.index.names)
    frame = table.reset_index() if named else table.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame
