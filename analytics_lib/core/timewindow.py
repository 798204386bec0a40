"""Time: relative dates, time windows, granularities and the period helpers every analysis shares.

``parse_when("-28d")``, ``time_window(start, end)`` (a date-valued end includes that day),
``check_granularity`` (``D``, ``W``, ``M`` and their pandas frequencies), ``period_start`` and
``period_index`` (UTC periods of timestamps), ``period_coverage`` and ``partial_label`` (periods
only partly inside a window or the data), ``epoch_micros`` (timestamps as int64 microseconds).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError

RELATIVE_DATE = re.compile(r"^\s*([+-])\s*(\d+)\s*(min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
GRANULARITIES = {"D": "day", "W": "week (Monday start)", "M": "month"}
#: The pandas frequency of a forecasting series at each granularity (weeks start on Monday, months on the 1st).
SERIES_FREQ = {"D": "D", "W": "W-MON", "M": "MS"}
_SEASON = {"D": 7, "B": 5, "W": 52, "MS": 12, "M": 12, "ME": 12, "QS": 4, "Q": 4, "h": 24, "H": 24}


def season_length(granularity: str, season: int | None = None) -> int:
    """Steps in one seasonal cycle of a series at ``granularity``: a week of days, a year of weeks or
    months, a day of sub-daily steps; ``season`` when given wins.

    Parameters
    ----------
    granularity : str
        A pandas frequency (``"D"``, ``"W-MON"``, ``"MS"``, ``"h"``, ...).
    season : int, optional
        An explicit season length, returned as is.

    Examples
    --------
    >>> season_length("D"), season_length("W-MON"), season_length("MS"), season_length("15min")
    (7, 52, 12, 96)
    """
    freq = granularity
    if season is not None:
        return int(season)
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick) and off.nanos < 86_400 * 10 ** 9:  # sub-daily: one day of steps
        return int(86_400 * 10 ** 9 // off.nanos)
    return _SEASON.get(off.rule_code.split("-")[0], 1)


def series_freq(granularity: str) -> str:
    """The pandas frequency of a series at ``granularity``: ``D``, ``W`` (weeks from Monday, as the
    workbench's periods) and ``M`` (month starts), or any other pandas frequency as given.

    Examples
    --------
    >>> series_freq("W"), series_freq("M"), series_freq("h"), series_freq("W-SUN")
    ('W-MON', 'MS', 'h', 'W-SUN')
    """
    return SERIES_FREQ.get(granularity, granularity) if isinstance(granularity, str) else granularity


def _now(now: pd.Timestamp | str | None) -> pd.Timestamp:
    ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_when(value: str | pd.Timestamp | None, *, now: pd.Timestamp | str | None = None,
               name: str = "date") -> pd.Timestamp | None:
    """Turn a user's date parameter into a UTC timestamp.

    Accepted forms: ``None`` (no bound), ISO dates or date-times (``"2024-03-01"``,
    ``"2024-03-01T12:00+01:00"``; times without an offset are UTC), ``"today"``,
    ``"yesterday"`` and ``"now"``, and relative offsets from the start of today such as
    ``"-28d"``, ``"-4w"``, ``"+1d"`` (units ``min``, ``h``, ``d``, ``w``). Day-valued
    forms resolve to midnight UTC.

    Parameters
    ----------
    value : str, Timestamp or None
        The parameter as given.
    now : Timestamp or str, optional
        The reference "now" (defaults to the current time); tests pin it.
    name : str
        The parameter's name, used in the error message.

    Returns
    -------
    pandas.Timestamp or None
        A timezone-aware UTC timestamp.

    Examples
    --------
    >>> parse_when("-7d", now="2024-03-15 10:00")
    Timestamp('2024-03-08 00:00:00+0000', tz='UTC')
    >>> parse_when("2024-03-01")
    Timestamp('2024-03-01 00:00:00+0000', tz='UTC')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    ref = _now(now)
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "now":
            return ref
        if word in ("today", "yesterday"):
            return ref.normalize() - pd.Timedelta(days=1 if word == "yesterday" else 0)
        m = RELATIVE_DATE.match(word)
        if m:
            sign = -1 if m.group(1) == "-" else 1
            delta = pd.Timedelta(**{_UNITS[m.group(3).lower()]: int(m.group(2))})
            base = ref if m.group(3).lower() in ("min", "h") else ref.normalize()
            return base + sign * delta
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(
            f"{name}={value!r} is not a date: use an ISO date such as '2024-03-01', "
            f"'today', 'yesterday', 'now' or a relative form such as '-28d' or '-4w'"
        ) from exc
    if pd.isna(ts):
        raise WorkbenchError(f"{name}={value!r} is not a date")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval ``[start, end)``; either side may be open (``None``)."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def mask(self, ts: pd.Series) -> pd.Series:
        """Boolean mask of the timestamps inside the window."""
        keep = pd.Series(True, index=ts.index)
        if self.start is not None:
            keep &= ts >= self.start
        if self.end is not None:
            keep &= ts < self.end
        return keep

    def __str__(self) -> str:
        fmt = lambda t: "open" if t is None else t.isoformat()  # noqa: E731
        return f"[{fmt(self.start)}, {fmt(self.end)})"


def time_window(start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None, *,
                now: pd.Timestamp | str | None = None) -> TimeWindow:
    """Resolve ``start``/``end`` parameters into a :class:`TimeWindow`.

    ``end`` is exclusive, except that a *day-valued* end (an ISO date without a time,
    ``"today"``, ``"yesterday"``, ``"-1d"``) includes that whole day, which is what
    people mean by ``end="2024-03-31"``. ``start`` must be before ``end``.

    Parameters
    ----------
    start, end : str or Timestamp, optional
        The bounds, in any form :func:`parse_when` accepts; None leaves that side open.
    now : Timestamp or str, optional
        The reference "now" for relative forms (defaults to the current time); tests pin it.

    Returns
    -------
    TimeWindow
        The half-open UTC interval ``[start, end)``.

    Raises
    ------
    WorkbenchError
        If a bound is not a date, or ``start`` is not before ``end``.

    Examples
    --------
    >>> w = time_window("2024-03-01", "2024-03-31")
    >>> str(w)
    '[2024-03-01T00:00:00+00:00, 2024-04-01T00:00:00+00:00)'
    """
    lo = parse_when(start, now=now, name="start")
    hi = parse_when(end, now=now, name="end")
    if hi is not None and _is_day_valued(end):
        hi = hi + pd.Timedelta(days=1)
    if lo is not None and hi is not None and lo >= hi:
        raise WorkbenchError(
            f"the time window is empty: start={start!r} ({lo.date()}) is not before end={end!r} "
            f"({(hi - pd.Timedelta(days=1)).date() if _is_day_valued(end) else hi}); give a start before the end"
        )
    return TimeWindow(lo, hi)


def _is_day_valued(value: object) -> bool:
    if not isinstance(value, str):
        return False
    word = value.strip().lower()
    if word in ("today", "yesterday"):
        return True
    m = RELATIVE_DATE.match(word)
    if m:
        return m.group(3).lower() in ("d", "w")
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", word))


def check_granularity(granularity: str) -> str:
    """Validate a period granularity (``"D"``, ``"W"`` or ``"M"``) and return it upper-cased.

    Examples
    --------
    >>> check_granularity("w")
    'W'
    """
    g = str(granularity).strip().upper()
    if g not in GRANULARITIES:
        raise WorkbenchError(
            f"granularity={granularity!r} is not supported: use one of "
            + ", ".join(f"'{k}' ({v})" for k, v in GRANULARITIES.items())
        )
    return g


def check_duration(value: str, *, name: str) -> pd.Timedelta:
    """Parse a positive pandas duration string such as ``"30min"`` or ``"7D"``.

    Examples
    --------
    >>> check_duration("30min", name="session_gap")
    Timedelta('0 days 00:30:00')
    """
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{name}={value!r} is not a duration: use a form such as '30min', '2h' or '14D'") from exc
    if td <= pd.Timedelta(0):
        raise WorkbenchError(f"{name}={value!r} must be a positive duration")
    return td


def period_start(ts: pd.Series, granularity: str) -> pd.Series:
    """Start of the UTC period that holds each timestamp (``D`` day, ``W`` Monday, ``M`` month).

    Examples
    --------
    >>> period_start(pd.Series(pd.to_datetime(["2024-03-14 10:00"], utc=True)), "W").iloc[0]
    Timestamp('2024-03-11 00:00:00+0000', tz='UTC')
    """
    g = check_granularity(granularity)
    day = ts.dt.floor("D")
    if g == "D":
        return day
    if g == "W":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def period_index(lo: pd.Timestamp, hi: pd.Timestamp, granularity: str) -> pd.DatetimeIndex:
    """Every period start from ``lo`` to ``hi``, both included, as an index named ``period``.

    Parameters
    ----------
    lo, hi : Timestamp
        The first and last period starts (as from :func:`period_start`); ``hi`` is included.
    granularity : str
        ``"D"`` (days), ``"W"`` (weeks, 7-day steps from ``lo``) or ``"M"`` (month starts),
        any case.
    """
    g = check_granularity(granularity)
    step = {"D": "D", "W": "7D", "M": "MS"}[g]
    return pd.date_range(lo, hi, freq=step, name="period")


def period_end(start: pd.Timestamp, granularity: str) -> pd.Timestamp:
    """The start of the next period (the end, excluded, of the period that starts at ``start``)."""
    return start + (pd.DateOffset(months=1) if granularity == "M" else pd.Timedelta(days=7 if granularity == "W" else 1))


def _utc(value) -> pd.Timestamp | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")


def period_coverage(periods, granularity: str, *, window: TimeWindow | None = None, first=None, last=None,
                    as_of=None) -> pd.Series:
    """The share (0 to 1) of each period's time that the figures of the period cover.

    A period is covered from ``max(window.start, first day with data)`` to ``min(window.end,
    end of the last day with data, as_of)``: the day of ``first`` and of ``last`` count as
    whole days (a store does not say whether its last day is complete), the window's bounds
    and ``as_of`` (the clock, for a period still filling up) as they are. A period with a
    coverage below 1 is *partial*: its sums (events, cost, users) are not comparable with
    those of a whole period.

    Parameters
    ----------
    periods : DatetimeIndex or sequence of Timestamp
        Period starts (UTC; naive ones are read as UTC), as in a KPI table's index.
    granularity : {"D", "W", "M"}
    window : TimeWindow, optional
        The window the figures were computed over; None: no bound.
    first, last : Timestamp, optional
        The first and last event (or day) of the data; None: no bound.
    as_of : Timestamp, optional
        Time up to which data can exist (the run's time); None: no bound.

    Returns
    -------
    Series
        Coverage per period, indexed like ``periods`` and named ``coverage``.

    Examples
    --------
    >>> weeks = pd.DatetimeIndex(["2026-11-09", "2026-11-16", "2026-11-23"], tz="UTC")
    >>> period_coverage(weeks, "W", window=time_window("2026-11-11", "2026-11-29"),
    ...                 last="2026-11-26 17:00").round(3).tolist()
    [0.714, 1.0, 0.571]
    """
    g = check_granularity(granularity)
    idx = pd.DatetimeIndex(periods)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if len(idx) == 0:
        return pd.Series([], index=idx, dtype="float64", name="coverage")
    ends = pd.DatetimeIndex([period_end(p, g) for p in idx]) if g == "M" else idx + pd.Timedelta(days=7 if g == "W" else 1)
    f, la = _utc(first), _utc(last)  # None for a missing or NaT bound (no data: no bound)
    lo = [t for t in (_utc(window.start) if window else None, f.floor("D") if f is not None else None) if t is not None]
    hi = [t for t in (_utc(window.end) if window else None, _utc(as_of),
                      la.floor("D") + pd.Timedelta(days=1) if la is not None else None) if t is not None]
    begin, ends = idx.as_unit("ns").asi8, ends.as_unit("ns").asi8
    start = np.maximum(begin, max(lo).as_unit("ns").value) if lo else begin
    stop = np.minimum(ends, min(hi).as_unit("ns").value) if hi else ends
    share = np.clip((stop - start) / (ends - begin).astype("float64"), 0.0, 1.0)
    return pd.Series(share, index=pd.DatetimeIndex(periods), name="coverage")


def partial_label(coverage: float, period, granularity: str) -> str:
    """How much of a partial period the figures cover (``"partial: 3.6 of 7 days"``); empty when whole.

    Parameters
    ----------
    coverage : float
        The period's coverage (:func:`period_coverage`).
    period : Timestamp
        The period's start.
    granularity : {"D", "W", "M"}

    Examples
    --------
    >>> partial_label(0.5, pd.Timestamp("2026-02-01"), "M"), partial_label(1.0, pd.Timestamp("2026-02-02"), "W")
    ('partial: 14 of 28 days', '')
    """
    if not np.isfinite(coverage) or coverage >= 1 - 1e-9:
        return ""
    g = check_granularity(granularity)
    p = pd.Timestamp(period)
    days = (period_end(p, g) - p).days
    covered = coverage * days
    text = f"{covered:.0f}" if abs(covered - round(covered)) < 0.05 else f"{covered:.1f}"
    return f"partial: {text} of {days} day{'s' if days > 1 else ''}"


def epoch_micros(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds (a tz-aware ``to_numpy()`` would give objects)."""
    return ts.dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)


US_PER_S = 1_000_000


DAY_US = 86_400 * 1_000_000
