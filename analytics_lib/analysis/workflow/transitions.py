"""How developers move between steps: the directly-follows graph, path variants, rework loops.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_lib.analysis.workflow.sessions import _sequence
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import US_PER_S


# ============================================================================================
# Paths
def transition_table(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """Directly-follows transitions between event types within sessions, with their times.

    A transition ``a -> b`` is counted for each pair of consecutive events of the same session
    (in time order, ties by frame order). Its time is the difference of the two timestamps:
    for process mining this is the performance graph of the directly-follows graph.

    Returns
    -------
    DataFrame
        ``source, target, count, users, sessions, median_s, p90_s, p95_s, total_wait_h``
        sorted by ``count`` descending. ``total_wait_h`` is the sum of transition times.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> tt = transition_table(synthetic_events(5_000, days=28, seed=0).events)
    >>> tt.columns[:3].tolist()
    ['source', 'target', 'count']
    """
    seq = _sequence(events, gap)
    nxt = ~seq.first[1:]  # position i+1 continues the session of i
    src, dst = seq.etype[:-1][nxt], seq.etype[1:][nxt]
    dt = (seq.ts[1:][nxt] - seq.ts[:-1][nxt]) / US_PER_S
    frame = pd.DataFrame({"a": src, "b": dst, "dt": dt.astype("float64"),
                          "u": seq.user[1:][nxt], "s": seq.session[1:][nxt]})
    g = frame.groupby(["a", "b"], sort=True)
    q = g["dt"].quantile([0.5, 0.9, 0.95]).unstack().reindex(columns=[0.5, 0.9, 0.95])  # no transitions: no columns
    out = pd.DataFrame({
        "count": g.size(), "users": g["u"].nunique(), "sessions": g["s"].nunique(),
        "median_s": q[0.5], "p90_s": q[0.9], "p95_s": q[0.95], "total_wait_h": g["dt"].sum() / 3600.0,
    }).reset_index()
    out.insert(0, "source", seq.types[out.pop("a")].astype(str))
    out.insert(1, "target", seq.types[out.pop("b")].astype(str))
    return out.sort_values(["count", "source", "target"], ascending=[False, True, True], kind="stable").reset_index(drop=True)


def path_variants(events: pd.DataFrame, *, top: int = 10, gap: str = "30min") -> pd.DataFrame:
    """The most frequent complete paths (sequences of event types) of sessions.

    Two sessions follow the same variant when their event types, in order, are identical.
    Variants are identified by a 64-bit polynomial hash of the sequence (computed
    vectorised); the path text is built only for the ``top`` variants shown.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    top : int
        Number of variants returned, most frequent first (at least 1; default 10).
    gap : str
        Inactivity that ends a derived session (rows without ``session_id``), as a pandas
        duration (default ``"30min"``).

    Returns
    -------
    DataFrame
        ``rank, path, steps, sessions, share, cumulative_share`` for the ``top`` variants;
        ``share`` is relative to all sessions.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> path_variants(synthetic_events(5_000, days=28, seed=0).events, top=3)["rank"].tolist()
    [1, 2, 3]
    """
    if top < 1:
        raise WorkbenchError(f"top={top} must be at least 1")
    seq = _sequence(events, gap)
    n_sessions = len(seq.sessions)
    start = np.flatnonzero(seq.first)
    pos = np.arange(len(seq.session)) - np.repeat(start, np.diff(np.append(start, len(seq.session))))
    with np.errstate(over="ignore"):
        base = np.uint64(1_000_003)
        powers = np.cumprod(np.full(int(pos.max()) + 1 if len(pos) else 1, base, dtype=np.uint64))
        term = (seq.etype.astype(np.uint64) + np.uint64(1)) * powers[pos]
        h = np.add.reduceat(term, start) if len(start) else np.array([], dtype=np.uint64)
    length = np.diff(np.append(start, len(seq.session)))
    key = pd.DataFrame({"h": h, "len": length})
    counts = key.groupby(["h", "len"]).size().sort_values(ascending=False, kind="stable")
    top_keys = counts.head(top)
    first_session = key.reset_index().groupby(["h", "len"])["index"].first()
    rows = []
    for rank, ((hv, ln), n) in enumerate(top_keys.items(), start=1):  # at most `top` iterations
        s0 = start[first_session[(hv, ln)]]
        path = " > ".join(seq.types[seq.etype[s0:s0 + ln]].astype(str))
        rows.append((rank, path, int(ln), int(n)))
    out = pd.DataFrame(rows, columns=["rank", "path", "steps", "sessions"])
    out["share"] = out["sessions"] / n_sessions
    out["cumulative_share"] = out["share"].cumsum()
    return out


def rework_table(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """Rework loops: how often each step is repeated within a session.

    For each event type: ``sessions`` that contain it, ``sessions_repeated`` where it occurs
    more than once, their ``share``, and ``mean_repeats`` (occurrences beyond the first, per
    repeating session).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> rw = rework_table(synthetic_events(5_000, days=28, seed=0).events)
    >>> bool((rw["share"] <= 1).all())
    True
    """
    seq = _sequence(events, gap)
    per = pd.DataFrame({"s": seq.session, "t": seq.etype}).value_counts().rename("n").reset_index()
    out = pd.DataFrame({
        "sessions": per.groupby("t").size(),
        "sessions_repeated": (per["n"] > 1).groupby(per["t"]).sum(),
        "extra": (per["n"] - 1).groupby(per["t"]).sum(),
    })
    out["share"] = out["sessions_repeated"] / out["sessions"]
    out["mean_repeats"] = out["extra"] / out["sessions_repeated"].where(out["sessions_repeated"] > 0)
    out.index = seq.types[out.index].astype(str)
    out.index.name = "event_type"
    return out.drop(columns="extra").sort_values("share", ascending=False, kind="stable").reset_index()
