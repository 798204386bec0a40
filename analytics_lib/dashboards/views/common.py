"""Shared pieces of the dashboard views: the mart behind a view, the date window and team filter, row
selection, and parsing and formatting of control values and KPI numbers.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import TimeWindow, time_window
from analytics_lib.dashboards.marts import ALL_TEAMS, OverviewMart
from analytics_lib.dashboards.published import DashboardData


# ============================================================================================
# 2. Views: pure functions of a mart and the control values
def _mart(data: DashboardData | OverviewMart | Any, kind: type | str) -> Any:
    value = data.value if isinstance(data, DashboardData) else data
    name = kind if isinstance(kind, str) else kind.__name__
    if type(value).__name__ != name:
        raise WorkbenchError(f"expected the dashboard data of a {name}, got {type(value).__name__}")
    return value


def dashboard_window(start: Any, end: Any) -> TimeWindow:
    """The window of whole UTC days from a start and an end date (both included).

    Accepts dates (as date pickers give them), ISO strings and the relative forms of
    :func:`analytics_lib.report.params.parse_when`.

    Raises
    ------
    WorkbenchError
        When a date is missing or the range is empty.

    Examples
    --------
    >>> import datetime
    >>> str(dashboard_window(datetime.date(2026, 3, 1), datetime.date(2026, 3, 7)))
    '[2026-03-01T00:00:00+00:00, 2026-03-08T00:00:00+00:00)'
    """
    for name, v in (("start", start), ("end", end)):
        if v is None or (isinstance(v, str) and not v.strip()):
            raise WorkbenchError(f"the {name} date is empty: pick a {name} date")
    as_text = [v.isoformat() if hasattr(v, "isoformat") and not isinstance(v, pd.Timestamp) else v
               for v in (start, end)]
    w = time_window(as_text[0], as_text[1])
    lo = w.start.floor("D")
    hi = w.end.ceil("D")
    if lo >= hi:
        raise WorkbenchError(f"the date range is empty: start {start} is after end {end}; pick a start on or before "
                             "the end")
    return TimeWindow(lo, hi)


def _team_filter(team: Any, teams: Sequence[str]) -> str | None:
    if team is None or (isinstance(team, str) and team.strip().lower() in (ALL_TEAMS, "")):
        return None
    if isinstance(team, (list, tuple)) and len(team) == 1:
        team = team[0]
    if not isinstance(team, str) or team not in teams:
        raise WorkbenchError(f"team={team!r} is not in the data: choose one of {', '.join(teams)} or all teams")
    return team


def _rows(frame: pd.DataFrame, window: TimeWindow | None, team: str | None) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    if window is not None:
        day = frame["day"]
        if window.start is not None:
            keep &= (day >= window.start).to_numpy()
        if window.end is not None:
            keep &= (day < window.end).to_numpy()
    if team is not None:
        keep &= (frame["team"] == team).to_numpy()
    return keep


def _period_key(day: pd.Series, granularity: str | None) -> np.ndarray:
    """Period start (naive UTC datetime64) of each day; one constant key when ``granularity`` is None."""
    from analytics_lib.core.timewindow import period_start

    if granularity is None:
        return np.zeros(len(day), dtype="int64")
    naive = day.dt.tz_convert("UTC").dt.tz_localize(None) if day.dt.tz is not None else day
    codes, uniques = pd.factorize(naive, sort=False)
    if granularity == "D":
        per = pd.DatetimeIndex(uniques)
    else:
        per = pd.DatetimeIndex(period_start(pd.Series(pd.DatetimeIndex(uniques).tz_localize("UTC")), granularity))
        per = per.tz_convert("UTC").tz_localize(None)
    return np.asarray(per.as_unit("us").to_numpy())[codes] if len(codes) else np.array([], dtype="datetime64[us]")


def format_kpi(value: Any, kind: str) -> str:
    """A KPI value as shown on a tile: ``count`` 12,345; ``rate`` 45.6%; ``usd`` $1,234 (cents
    below $1,000); ``ms`` 1,234 ms; ``score`` 4.12; ``pct`` 12.3%; ``months`` 14.2 months;
    anything missing is an en dash.

    Examples
    --------
    >>> format_kpi(12345, "count"), format_kpi(0.4567, "rate"), format_kpi(1234.5, "usd"), format_kpi(None, "ms")
    ('12,345', '45.7%', '$1,234', '–')
    """
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)) or pd.isna(value):
        return "–"
    v = float(value)
    if kind == "count":
        return f"{v:,.0f}"
    if kind == "rate":
        return f"{v:.1%}"
    if kind == "usd":
        sign = "-" if v < 0 else ""
        return f"{sign}${abs(v):,.0f}" if abs(v) >= 1000 else f"{sign}${abs(v):,.2f}"
    if kind == "ms":
        return f"{v:,.0f} ms"
    if kind == "score":
        return f"{v:.2f}"
    if kind == "pct":
        return f"{v:.1f}%"
    if kind == "months":
        return f"{v:.1f} months"
    return f"{v:,.4g}"


def kpi_change(current: Any, previous: Any, kind: str) -> tuple[float, str]:
    """The change of a KPI against the previous period and how it is written.

    Counts, money and latencies change in percent of the previous value, rates in percentage
    points, scores in points.

    Parameters
    ----------
    current, previous : float or None
        The KPI's value in this and in the previous period; None or NaN: unknown (no change).
    kind : str
        The KPI's unit kind (as in ``KPI_FORMATS``): ``"rate"`` (a share, the change in
        percentage points), ``"score"`` (the change in points), anything else (``"count"``,
        ``"usd"``, ``"ms"``...) the change relative to ``previous``.

    Returns
    -------
    (float, str)
        The change (NaN when it cannot be computed) and its text, e.g. ``(0.052, "+5.2%")``.

    Examples
    --------
    >>> kpi_change(105, 100, "count"), kpi_change(0.50, 0.45, "rate")[1], kpi_change(4.0, 4.001, "score")[1]
    ((0.05, '+5.0%'), '+5.0 pts', '±0.00')
    """
    cur = float(current) if current is not None and not pd.isna(current) else math.nan
    prev = float(previous) if previous is not None and not pd.isna(previous) else math.nan
    if not (np.isfinite(cur) and np.isfinite(prev)):
        return math.nan, "no previous data"
    if kind == "rate":
        d = cur - prev
        return d, _signed(100 * d, "{:+.1f}", " pts")
    if kind == "score":
        d = cur - prev
        return d, _signed(d, "{:+.2f}", "")
    if prev == 0:
        return math.nan, "new" if cur else "±0"
    d = (cur - prev) / abs(prev)
    return d, _signed(100 * d, "{:+.1f}", "%")


def _signed(value: float, fmt: str, unit: str) -> str:
    text = fmt.format(value)
    return ("±" + text[1:] if float(text) == 0 else text) + unit


def _day_text(w: TimeWindow) -> str:
    last = w.end - pd.Timedelta(days=1)
    return f"{w.start:%Y-%m-%d}" if last == w.start else f"{w.start:%Y-%m-%d} to {last:%Y-%m-%d}"


def parse_number(value: Any, *, name: str, minimum: float | None = None, positive: bool = False,
                 allow_empty: bool = False) -> float | None:
    """A number typed by a user, checked: text or a number; empty gives None when allowed.

    Parameters
    ----------
    value : str, number or None
        As typed: text may hold spaces around it and ``,`` or ``_`` between digits. Booleans
        are refused.
    name : str
        The field's name, used in the error message.
    minimum : float, optional
        The smallest value allowed; None (default): no lower bound.
    positive : bool
        Require a value above 0 (default False).
    allow_empty : bool
        Return None for None or blank text instead of raising (default False).

    Raises
    ------
    WorkbenchError
        Naming ``name`` and what to type instead.

    Examples
    --------
    >>> parse_number(" 1,200 ", name="capacity"), parse_number("", name="capacity", allow_empty=True)
    (1200.0, None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return None
        raise WorkbenchError(f"{name} is empty: type a number")
    if isinstance(value, (bool, np.bool_)):
        raise WorkbenchError(f"{name}={value!r} is not a number")
    try:
        v = float(value.replace(",", "").replace("_", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise WorkbenchError(f"{name}={value!r} is not a number: type digits such as 12000") from None
    if not np.isfinite(v):
        raise WorkbenchError(f"{name}={value!r} is not a finite number")
    if positive and v <= 0:
        raise WorkbenchError(f"{name}={value!r} must be above 0")
    if minimum is not None and v < minimum:
        raise WorkbenchError(f"{name}={value!r} must be at least {minimum:g}")
    return v
