"""Does latency hurt satisfaction, and when do developers work: correlations and heatmap tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import check_duration


# ============================================================================================
# Satisfaction vs performance
def satisfaction_vs_performance(events: pd.DataFrame, *, by: str | None = S.MODEL, gap: str = "30min") -> pd.DataFrame:
    """How satisfaction moves with latency and errors, with test statistics.

    Unit: sessions with a satisfaction score. Factors: the session's median ``latency_ms`` of
    ``generation`` events (``latency_ms``) and its number of ``error`` events (``errors``).
    For each factor, overall and per ``by`` value (the session's model by default): Pearson's
    r and Spearman's rho with their two-sided p-values (scipy), the number of sessions, and
    the least-squares ``slope`` (satisfaction points per second of latency, or per error).

    Parameters
    ----------
    events : DataFrame
        Validated events with satisfaction scores (``load_events(...).events``).
    by : str, optional
        ``"model"`` (default): also one row per factor and session model (the model of the
        session's first ``generation``); None: the overall rows (``group="all"``) only. The
        model is the only grouping: any value but None groups by it.
    gap : str
        Inactivity that ends a derived session (rows without ``session_id``), as a pandas
        duration (default ``"30min"``).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> sv = satisfaction_vs_performance(synthetic_events(50_000, days=28, seed=0).events)
    >>> set(sv["factor"]) == {"latency_ms", "errors"}
    True
    """
    from scipy import stats

    frame = session_latency_satisfaction(events, gap=gap).rename(columns={"model": "group"})
    groups = [("all", frame)]
    if by is not None:
        groups += [(str(k), f) for k, f in frame.groupby("group", sort=True)]
    rows = []
    for label, f in groups:  # a handful of groups x two factors
        for factor, scale in (("latency_ms", 1e-3), ("errors", 1.0)):
            sub = f[["satisfaction", factor]].dropna()
            if len(sub) < 3 or sub[factor].nunique() < 2:
                rows.append((label, factor, len(sub), *([np.nan] * 5)))
                continue
            x, y = sub[factor].to_numpy() * scale, sub["satisfaction"].to_numpy()
            pr, pp = stats.pearsonr(x, y)
            sr, sp = stats.spearmanr(x, y)
            slope = np.polyfit(x, y, 1)[0]
            rows.append((label, factor, len(sub), float(pr), float(pp), float(sr), float(sp), float(slope)))
    return pd.DataFrame(rows, columns=["group", "factor", "sessions", "pearson_r", "pearson_p", "spearman_rho",
                                       "spearman_p", "slope"])


#: Row labels of :func:`weekday_hour_table` (ISO weekday order).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
    >>> from analytics_lib import synthetic_events
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
    :func:`analytics_lib.analysis.workflow.experience.satisfaction_vs_performance`, with the same definitions:
    ``latency_ms`` is the median ``latency_ms`` of the session's ``generation`` events (NaN
    when it has none), ``errors`` the number of its ``error`` events, ``satisfaction`` the
    mean of its scores and ``model`` the model of its first ``generation``. Sessions come
    from ``session_id`` or, where absent, from :func:`analytics_lib.analysis.workflow.kpis.sessionize`.

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
    >>> from analytics_lib import synthetic_events
    >>> session_latency_satisfaction(synthetic_events(5_000, days=28, seed=0).events).columns.tolist()
    ['session_id', 'model', 'latency_ms', 'errors', 'satisfaction']
    """
    from analytics_lib.analysis.workflow.sessions import sessionize

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
