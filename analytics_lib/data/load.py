"""Loading events from any source: column mappings, the time window and team filter (pushed
down to SQL), validation with a reconciled summary.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from analytics_lib.core.compat import renamed
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.sources import is_sql_url, source_name
from analytics_lib.core.timewindow import time_window
from analytics_lib.data.files import read_file
from analytics_lib.data.sql import EVENTS_TABLE, _read_sql
from analytics_lib.data.validation import ValidatedEvents, validate_events


ROW_NUMBER = "@row"


# --------------------------------------------------------------------------------------------
# Mapping
def read_yaml(path: str | os.PathLike, *, what: str = "file") -> Any:
    """A YAML file's content (``{}`` when empty), or one line naming the file when it is missing
    or not YAML.

    Parameters
    ----------
    path : str or path
    what : str
        What the file is, for the message (``"mapping file"``).

    Examples
    --------
    >>> read_yaml("no/such.yaml", what="mapping file")
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: mapping file no/such.yaml does not exist
    """
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"{what} {path} does not exist")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise WorkbenchError(f"{what} {path} is not valid YAML: {exc}") from exc


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
        loaded = read_yaml(path, what="mapping file")
        if not isinstance(loaded, dict):
            raise WorkbenchError(f"mapping file {path} must hold 'contract column: source column' pairs")
        mapping = loaded
    bad = [k for k in mapping if k not in S.COLUMNS]
    if bad:
        raise WorkbenchError(
            f"the mapping names unknown contract columns: {', '.join(map(str, bad))}; "
            f"keys must be among: {', '.join(S.COLUMNS)} (the values are your column names)")
    return {str(k): str(v) for k, v in mapping.items()}


@renamed(df='events')
def apply_mapping(events: pd.DataFrame, mapping: Mapping[str, str], *, source: str = "<frame>") -> pd.DataFrame:
    """Rename/copy source columns onto contract names; other source columns are kept.

    Raises :class:`WorkbenchError` when the mapping names a source column that is absent.

    Parameters
    ----------
    events : DataFrame
        The source rows with the source's column names.
    mapping : mapping of str to str
        ``{contract column: source column}`` (as from :func:`read_mapping`); ``"@row"`` numbers
        the rows as ``<file name>:<row>`` (for logs without event ids). Several contract columns
        may copy one source column. Empty: ``events`` is returned unchanged.
    source : str
        The source's name or path, for the error message and the ``"@row"`` ids (default
        ``"<frame>"``).

    Examples
    --------
    >>> df = pd.DataFrame({"case": ["c1"], "activity": ["search"], "time": ["2024-01-01T00:00Z"]})
    >>> apply_mapping(df, {"user_id": "case", "session_id": "case", "event_type": "activity",
    ...                    "ts": "time", "event_id": "@row"}, source="log.csv").columns.tolist()
    ['event_id', 'ts', 'user_id', 'event_type', 'session_id']
    """
    if not mapping:
        return events
    absent = [v for v in mapping.values() if v != ROW_NUMBER and v not in events.columns]
    if absent:
        raise WorkbenchError(
            f"the mapping names columns that {source} does not have: {', '.join(absent)}\n"
            f"available columns: {', '.join(map(str, events.columns[:40]))}")
    out = {}
    for contract in S.COLUMNS:
        src = mapping.get(contract)
        if src == ROW_NUMBER:
            out[contract] = pd.Series([f"{Path(source).name}:{i}" for i in range(len(events))], index=events.index, dtype="str")
        elif src is not None:
            out[contract] = events[src]
    used = set(mapping.values())
    rest = {c: events[c] for c in events.columns if c not in used and c not in out}
    return pd.DataFrame({**out, **rest}, index=events.index)


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
        The time window (see :func:`analytics_lib.report.params.time_window`: ``"-28d"``,
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
    name = source_name(source)
    if isinstance(source, pd.DataFrame):
        raw = source
    elif is_sql_url(source):
        raw = _read_sql(str(source), table=table, query=query, query_params=query_params, mapping=cols,
                        window=window, teams=teams)
        if naive_utc is None:
            naive_utc = query is None and table == EVENTS_TABLE.name
    else:
        raw = read_file(Path(source), encoding=encoding)
    if len(raw) == 0 and is_sql_url(source) and (window.start is not None or window.end is not None or teams):
        raise WorkbenchError(
            f"no events in {name} for the window {window}" + (f" and team {teams}" if teams else "")
            + ": widen start/end, check the team name, or look at what the store holds with `workbench run`")
    raw = apply_mapping(raw, cols, source=name)
    if teams is not None and S.TEAM not in raw.columns:
        raise WorkbenchError(f"team={team!r} was given but {name} has no team column (map one with mapping={{'team': ...}})")
    result = validate_events(raw, naive_utc=bool(naive_utc), now=now, dates=window, source=name)
    if teams is not None:
        result = filter_teams(result, teams)
    return result


def filter_teams(result: ValidatedEvents, teams: list[str]) -> ValidatedEvents:
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
