"""Data gates: is the data behind a run current and sane? Checked before any kernel starts.

A job spec's ``gates:`` section names the checks; they run on a few aggregate SQL queries (the
database does the counting: no event is loaded into Python), and a failing gate gives the run the
status ``blocked`` with the reason, keeps the last good report as ``latest`` and alerts.

Frame-level validation libraries (pandera, Great Expectations) check a loaded frame row by row;
these gates are questions about aggregates (the newest event, counts per day and team, the
quarantine's size), which one ``GROUP BY`` answers in the database in a fraction of a second even
for millions of events, before anything is loaded. Row-level rules already live in the loader's
validation (``analytics_lib.data.validation``), which quarantines bad rows with a reason.
"""
from __future__ import annotations

import difflib
import math
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.jobs.ledger import _aware


#: Keys of a spec's ``gates:`` section.
GATE_KEYS = ("max_age", "min_rows", "row_count", "max_quarantine_share", "required_teams", "no_empty_days")
#: ``row_count`` defaults: the last ``runs`` successful runs, a band of ``k`` scaled MADs, and
#: a floor of ``min_band`` (a share of the median) so that a store whose counts never varied
#: does not block on one extra event.
ROW_COUNT_DEFAULTS = {"runs": 8, "k": 5.0, "min_band": 0.05, "min_history": 3}
_MAD_SCALE = 1.4826  # a scaled MAD estimates the standard deviation of normal data


@dataclass(frozen=True)
class GateSpec:
    """A job's data gates (every one optional); see ``docs/jobs.md``.

    Attributes
    ----------
    max_age : timedelta or None
        The newest event (of the run's teams) must be at most this old at the run's
        scheduled time.
    min_rows : int or None
        At least this many events in the run's window.
    row_count : dict or None
        The window's event count must lie within median ± max(k·MAD·1.4826, min_band·median)
        of the last ``runs`` successful runs of the same job and variant (from the ledger);
        passes, saying so, while fewer than ``min_history`` runs exist.
    max_quarantine_share : float or None
        Quarantined rows / (stored events + quarantined rows) in the store at most this.
    required_teams : tuple of str
        Each of these teams has events in the window.
    no_empty_days : bool
        Every UTC day from the first event in the window to the window's last day has events
        (a gap, or data that stopped; a history shorter than the window is not a gap).
    """

    max_age: timedelta | None = None
    min_rows: int | None = None
    row_count: dict | None = None
    max_quarantine_share: float | None = None
    required_teams: tuple[str, ...] = ()
    no_empty_days: bool = False

    def __bool__(self) -> bool:
        return any(v not in (None, (), False) for v in asdict(self).values())

    def summary(self) -> dict:
        """The gates as plain values (for ``run.json`` and the method comparison).

        Examples
        --------
        >>> GateSpec(max_age=timedelta(hours=36), min_rows=10).summary()
        {'max_age': '36h', 'min_rows': 10}
        """
        out = {}
        for k, v in asdict(self).items():
            if v in (None, (), False):
                continue
            out[k] = _duration_text(v) if isinstance(v, timedelta) else list(v) if isinstance(v, tuple) else v
        return out


def _duration_text(td: timedelta) -> str:
    s = int(td.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0:
            return f"{s // n}{unit}"
    return f"{s}s"


def _parse_duration(value: Any, where: str) -> timedelta:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*", str(value)) if isinstance(value, (str, int)) else None
    if not m or isinstance(value, bool):
        raise WorkbenchError(f"{where}: {value!r} is not a duration: write e.g. 90m, 36h, 2d or 1w")
    n = float(m.group(1))
    seconds = n * {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    if seconds <= 0:
        raise WorkbenchError(f"{where}: {value!r} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_gates(raw: Any, *, where: str) -> GateSpec:
    """Validate a spec's ``gates:`` mapping (``where`` prefixes every message: the file and key).

    Examples
    --------
    >>> parse_gates({"max_age": "36h", "row_count": {"k": 4}}, where="x.yaml: key 'gates'").row_count["k"]
    4.0
    >>> parse_gates({"max_ages": "1d"}, where="x.yaml: key 'gates'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: x.yaml: key 'gates.max_ages': unknown gate (did you mean 'max_age'?); gates: ...
    """
    if raw is None:
        return GateSpec()
    if not isinstance(raw, dict):
        raise WorkbenchError(f"{where}: a mapping of gates, e.g. {{max_age: 36h, min_rows: 1000}}")
    base = where[:-1] if where.endswith("'") else where
    key = lambda k: f"{base}.{k}'"  # noqa: E731 - x.yaml: key 'gates.max_age'
    for k in raw:
        if k not in GATE_KEYS:
            near = difflib.get_close_matches(str(k), GATE_KEYS, n=1)
            raise WorkbenchError(f"{key(k)}: unknown gate" + (f" (did you mean '{near[0]}'?)" if near else "")
                                 + f"; gates: {', '.join(GATE_KEYS)}")
    out: dict[str, Any] = {}
    if raw.get("max_age") is not None:
        out["max_age"] = _parse_duration(raw["max_age"], key("max_age"))
    if raw.get("min_rows") is not None:
        v = raw["min_rows"]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise WorkbenchError(f"{key('min_rows')}: {v!r} must be a whole number >= 0")
        out["min_rows"] = v
    if raw.get("row_count") not in (None, False):
        v = raw["row_count"]
        v = {} if v is True else v
        if not isinstance(v, dict) or any(x not in ROW_COUNT_DEFAULTS for x in v):
            raise WorkbenchError(f"{key('row_count')}: {v!r}: true, or a mapping of "
                                 f"{', '.join(ROW_COUNT_DEFAULTS)} (defaults {ROW_COUNT_DEFAULTS})")
        merged = dict(ROW_COUNT_DEFAULTS)
        for x, y in v.items():
            ok = isinstance(y, (int, float)) and not isinstance(y, bool) and math.isfinite(y) and y >= 0
            if not ok or (x in ("runs", "min_history") and (int(y) != y or y < 1)):
                raise WorkbenchError(f"{key('row_count.' + x)}: {y!r} must be a "
                                     + ("whole number >= 1" if x in ("runs", "min_history") else "number >= 0"))
            merged[x] = int(y) if x in ("runs", "min_history") else float(y)
        out["row_count"] = merged
    if raw.get("max_quarantine_share") is not None:
        v = raw["max_quarantine_share"]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
            raise WorkbenchError(f"{key('max_quarantine_share')}: {v!r} must be a share between 0 and 1, e.g. 0.02")
        out["max_quarantine_share"] = float(v)
    if raw.get("required_teams") is not None:
        v = raw["required_teams"]
        if not isinstance(v, list) or not v or not all(isinstance(t, str) and t for t in v):
            raise WorkbenchError(f"{key('required_teams')}: {v!r} must be a list of team names")
        out["required_teams"] = tuple(dict.fromkeys(v))
    if raw.get("no_empty_days") is not None:
        if not isinstance(raw["no_empty_days"], bool):
            raise WorkbenchError(f"{key('no_empty_days')}: {raw['no_empty_days']!r} must be true or false")
        out["no_empty_days"] = raw["no_empty_days"]
    return GateSpec(**out)


# --------------------------------------------------------------------------------------------
# What the database says about the data
#: Per source: (its state: events and newest event, the events per UTC day and team). Events are
#: only ever added, so an unchanged count and newest event mean unchanged daily counts.
_DAILY: dict[str, tuple[tuple, list]] = {}
@dataclass(frozen=True)
class DataStats:
    """Aggregates of a source for one window and team filter (one ``GROUP BY`` and two counts).

    Attributes
    ----------
    latest : datetime or None
        The newest event of the teams (any time), UTC.
    per_day_team : dict of (str, str) to int
        Events in the window per UTC day (``YYYY-MM-DD``) and team (``""`` for none).
    window_min, window_max : datetime or None
        The first and last event in the window.
    events, quarantined : int or None
        Rows in the store's ``events`` and ``events_quarantine`` tables (None: no such table).
    seconds : float
        How long the queries took.
    teams : tuple of str
        The team filter the figures are for (empty: every team).
    """

    latest: datetime | None
    per_day_team: dict = field(default_factory=dict)
    window_min: datetime | None = None
    window_max: datetime | None = None
    events: int | None = None
    quarantined: int | None = None
    seconds: float = 0.0
    teams: tuple = ()

    @property
    def rows(self) -> int:
        """Events in the window."""
        return sum(self.per_day_team.values())


def data_stats(source: str, *, window: Any = None, team: Sequence[str] | None = None) -> DataStats:
    """Aggregates of a SQL source for the gates: pushed to the database, nothing loaded.

    Parameters
    ----------
    source : str
        A SQLAlchemy URL of a store with an ``events`` table.
    window : TimeWindow, optional
        ``[start, end)`` of the run (None: all events).
    team : list of str, optional
        Only these teams.

    Returns
    -------
    DataStats

    Raises
    ------
    WorkbenchError
        When the source is not a SQL store, cannot be reached or has no events table.

    Examples
    --------
    >>> data_stats("sqlite://")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: the gates cannot read the events table of sqlite://: ...
    """
    import time

    import sqlalchemy as sa

    from analytics_lib.core.redaction import redact
    from analytics_lib.core.sources import is_sql_url
    from analytics_lib.data.sql import db_connect, db_error, engine_for

    if not is_sql_url(source):
        raise WorkbenchError(f"gates need a SQL store as the source (got {redact(source)}): ingest the file with "
                             "`workbench ingest FILE --into URL`, or remove the job's gates")
    t0 = time.perf_counter()
    engine = engine_for(source)
    sqlite = engine.dialect.name == "sqlite"
    ts, tm = sa.column("ts"), sa.column("team")
    day = sa.func.substr(ts, 1, 10) if sqlite else sa.func.to_char(sa.func.timezone("UTC", ts), "YYYY-MM-DD")

    def bound(t):
        return t.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") if sqlite else t.to_pydatetime()

    # SQLite would find a team's newest event through the team index and sort; "+team" keeps it
    # on the ts index, read backwards from the newest event
    where = [(sa.literal_column("+team") if sqlite else tm).in_(list(team))] if team else []
    lo_t, hi_t = getattr(window, "start", None), getattr(window, "end", None)
    whole_days = all(t is None or t == t.normalize() for t in (lo_t, hi_t))
    events = sa.table("events")
    newest_first = sa.select(ts).select_from(events).order_by(ts.desc()).limit(1)  # the ts index, backwards
    try:
        conn = db_connect(engine, source)
        with conn:
            try:
                n_events = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar()
                newest = conn.execute(newest_first.where(*where)).scalar()
                if whole_days:  # per day and team over the whole store, once per store state, then filtered here
                    key = (redact(source), n_events, str(conn.execute(newest_first).scalar()))
                    if _DAILY.get(source, (None,))[0] != key:
                        grouped = sa.select(day, tm, sa.func.count(), sa.func.min(ts), sa.func.max(ts)) \
                            .select_from(events).group_by(day, tm)
                        _DAILY[source] = (key, conn.execute(grouped).all())
                    lo_d = None if lo_t is None else f"{lo_t:%Y-%m-%d}"
                    hi_d = None if hi_t is None else f"{hi_t:%Y-%m-%d}"
                    rows = [r for r in _DAILY[source][1] if (not team or r[1] in team)
                            and (lo_d is None or str(r[0]) >= lo_d) and (hi_d is None or str(r[0]) < hi_d)]
                else:  # a window that cuts days: counted exactly in the window
                    in_window = [*where, *([ts >= bound(lo_t)] if lo_t is not None else []),
                                 *([ts < bound(hi_t)] if hi_t is not None else [])]
                    rows = conn.execute(sa.select(day, tm, sa.func.count(), sa.func.min(ts), sa.func.max(ts))
                                        .select_from(events).where(*in_window).group_by(day, tm)).all()
            except sa.exc.SQLAlchemyError as exc:
                raise WorkbenchError(f"the gates cannot read the events table of {redact(source)}: "
                                     f"{db_error(exc)}") from None
            try:
                n_quarantined = conn.execute(sa.select(sa.func.count()).select_from(sa.table("events_quarantine"))).scalar()
            except sa.exc.SQLAlchemyError:
                conn.rollback()
                n_quarantined = None
    finally:
        engine.dispose()
    per = {}
    for d, t, n, _lo, _hi in rows:
        per[(str(d), t or "")] = per.get((str(d), t or ""), 0) + int(n)
    lows = [_aware(r[3]) for r in rows if r[3] is not None]
    highs = [_aware(r[4]) for r in rows if r[4] is not None]
    return DataStats(latest=_aware(newest), per_day_team=per, window_min=min(lows) if lows else None,
                     window_max=max(highs) if highs else None, events=int(n_events or 0),
                     quarantined=None if n_quarantined is None else int(n_quarantined),
                     seconds=time.perf_counter() - t0, teams=tuple(team or ()))


# --------------------------------------------------------------------------------------------
# The verdict
@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: ``observed`` against ``limit``, and a sentence saying what to do."""

    gate: str
    passed: bool
    observed: str
    limit: str
    message: str


def _when(t: datetime | None) -> str:
    return "-" if t is None else f"{t:%Y-%m-%d %H:%M} UTC"


def check_gates(gates: GateSpec, stats: DataStats, *, at: datetime, window: Any = None,
                history: Sequence[int] = ()) -> list[GateResult]:
    """Judge the data against the gates.

    Parameters
    ----------
    gates : GateSpec
    stats : DataStats
        From :func:`data_stats`.
    at : datetime
        The run's scheduled time (now for a manual run): the data's age is measured from it.
    window : TimeWindow, optional
        The run's window (for ``no_empty_days``).
    history : list of int
        Event counts of the last successful runs of the same job and variant, newest first.

    Returns
    -------
    list of GateResult
        One per gate of ``gates``, in the order of :data:`GATE_KEYS`.

    Examples
    --------
    >>> from datetime import timezone
    >>> s = DataStats(latest=datetime(2026, 1, 4, 23, tzinfo=timezone.utc), per_day_team={("2026-01-04", "a"): 5})
    >>> [(r.gate, r.passed) for r in check_gates(GateSpec(max_age=timedelta(hours=36), min_rows=10), s,
    ...                                           at=datetime(2026, 1, 5, 6, tzinfo=timezone.utc))]
    [('max_age', True), ('min_rows', False)]
    """
    out = []
    rows = stats.rows
    if gates.max_age is not None:
        limit = _duration_text(gates.max_age)
        if stats.latest is None:
            out.append(GateResult("max_age", False, "no events", limit,
                                  "the source has no events: load data before the run"))
        else:
            age = at - stats.latest
            hours = age.total_seconds() / 3600
            ok = age <= gates.max_age
            out.append(GateResult("max_age", ok, f"{hours:,.1f} h (newest event {_when(stats.latest)})", limit,
                                  "the data is fresh enough" if ok else
                                  f"the newest event is {hours:,.1f} h old at {_when(at)} (at most {limit}): "
                                  "the data has not arrived; check the ingest, then run again"))
    if gates.min_rows is not None:
        ok = rows >= gates.min_rows
        out.append(GateResult("min_rows", ok, f"{rows:,}", f">= {gates.min_rows:,}",
                              "enough events" if ok else
                              f"{rows:,} events in the window, fewer than {gates.min_rows:,}: the data is incomplete"))
    if gates.row_count is not None:
        out.append(_row_count(gates.row_count, rows, history))
    if gates.max_quarantine_share is not None:
        limit = f"<= {gates.max_quarantine_share:.1%}"
        if stats.quarantined is None or stats.events is None:
            out.append(GateResult("max_quarantine_share", True, "no quarantine table", limit,
                                  "nothing was quarantined"))
        else:
            total = stats.events + stats.quarantined
            share = stats.quarantined / total if total else 0.0
            ok = share <= gates.max_quarantine_share
            out.append(GateResult("max_quarantine_share", ok, f"{share:.2%} ({stats.quarantined:,} of {total:,} rows)",
                                  limit, "the quarantine is small" if ok else
                                  f"{share:.2%} of the rows were quarantined (at most {gates.max_quarantine_share:.1%}):"
                                  " inspect them with `workbench quarantine`, fix the export, ingest again"))
    required = [t for t in gates.required_teams if not stats.teams or t in stats.teams]  # a team's own run: its team
    if required:
        present = {t for (_d, t), n in stats.per_day_team.items() if n}
        missing = [t for t in required if t not in present]
        out.append(GateResult("required_teams", not missing, f"{len(present)} team(s) with events",
                              ", ".join(gates.required_teams),
                              "every required team has events" if not missing else
                              f"no events in the window for {', '.join(missing)}: their data has not arrived"))
    if gates.no_empty_days:
        out.append(_empty_days(stats, window))
    return out


def _row_count(cfg: Mapping[str, Any], rows: int, history: Sequence[int]) -> GateResult:
    past = [int(h) for h in history if h is not None][: int(cfg["runs"])]
    if len(past) < cfg["min_history"]:
        return GateResult("row_count", True, f"{rows:,}", f"{len(past)} earlier runs",
                          f"not judged: {len(past)} earlier successful runs, the gate needs {cfg['min_history']}")
    med = statistics.median(past)
    mad = statistics.median(abs(x - med) for x in past)
    half = max(cfg["k"] * _MAD_SCALE * mad, cfg["min_band"] * med)
    lo, hi = med - half, med + half
    ok = lo <= rows <= hi
    limit = f"{max(lo, 0):,.0f} .. {hi:,.0f} (median {med:,.0f} of {len(past)} runs ± {half:,.0f})"
    return GateResult("row_count", ok, f"{rows:,}", limit, "the event count is usual" if ok else
                      f"{rows:,} events, outside the usual {max(lo, 0):,.0f} .. {hi:,.0f} of the last {len(past)} runs: "
                      "a partial load or a duplicated one; check the ingest")


def _empty_days(stats: DataStats, window: Any) -> GateResult:
    import pandas as pd

    days = {d for (d, _t), n in stats.per_day_team.items() if n}
    if stats.window_min is None:
        return GateResult("no_empty_days", False, "no events", "0 empty days", "no events in the window")
    wend = getattr(window, "end", None)
    last = pd.Timestamp(stats.window_max) if wend is None else pd.Timestamp(wend) - pd.Timedelta(microseconds=1)
    expected = pd.date_range(pd.Timestamp(stats.window_min).floor("D"), last.floor("D"), freq="D").strftime("%Y-%m-%d")
    empty = [d for d in expected if d not in days]
    shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
    return GateResult("no_empty_days", not empty, f"{len(empty)} empty of {len(expected)} days", "0 empty days",
                      "every day has events" if not empty else f"no events on {shown}: a gap in the data")


def blocked_reason(results: Sequence[GateResult]) -> str | None:
    """One line naming every failed gate, or None when all passed.

    Examples
    --------
    >>> blocked_reason([GateResult("min_rows", False, "5", ">= 10", "5 events, fewer than 10")])
    'blocked by a data gate: min_rows: 5 events, fewer than 10'
    """
    failed = [r for r in results if not r.passed]
    if not failed:
        return None
    return ("blocked by a data gate: " if len(failed) == 1 else f"blocked by {len(failed)} data gates: ") + \
        "; ".join(f"{r.gate}: {r.message}" for r in failed)


def gate_rows(results: Sequence[GateResult]) -> list[dict]:
    """The verdicts as plain rows (``run.json``, the report header, ``jobs diff``)."""
    return [asdict(r) for r in results]


def gates_text(results: Sequence[GateResult]) -> str:
    """``"all 3 passed (max_age 7.0 h, min_rows 12,345, ...)"``: one line for the report header.

    Examples
    --------
    >>> gates_text([GateResult("min_rows", True, "12", ">= 10", "")])
    'all 1 passed (min_rows 12)'
    """
    if not results:
        return "none"
    failed = [r for r in results if not r.passed]
    facts = ", ".join(f"{r.gate} {r.observed}" for r in results)
    return (f"all {len(results)} passed" if not failed else f"{len(failed)} of {len(results)} failed") + f" ({facts})"
