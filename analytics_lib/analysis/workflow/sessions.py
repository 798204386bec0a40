"""Sessions: kept or derived from an inactivity gap (``sessionize``), one row per session (``session_table``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.timewindow import check_duration, epoch_micros


# ============================================================================================
# Sessions
ACCEPT_TYPES = ("accept", "export")
OUTCOMES = ("accepted", "errored", "abandoned")


def sessionize(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """Events with a ``session_id`` for every row.

    Rows that already have a ``session_id`` keep it. Rows without one are grouped per user:
    a new session starts at a user's first event and whenever more than ``gap`` passed since
    that user's previous event; derived ids are ``"<user_id>#<n>"`` (``n`` counts the user's
    derived sessions from 1). In a frame that mixes both, the gaps are measured between the
    rows without an id only.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    gap : str
        Inactivity that ends a session (pandas duration, default 30 minutes).

    Returns
    -------
    DataFrame
        A copy of ``events`` with ``session_id`` filled.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=28, seed=0).events.assign(session_id=None)
    >>> bool(sessionize(ev)["session_id"].notna().all())
    True
    """
    gap_td = check_duration(gap, name="gap")
    missing = events[S.SESSION_ID].isna().to_numpy()
    if not missing.any():
        return events.copy()  # documented as a copy (cheap under copy-on-write)
    sub = events.loc[missing, [S.USER_ID, S.TS]]
    users = sub[S.USER_ID]
    if isinstance(users.dtype, pd.CategoricalDtype):   # validated frames: codes, no string hashing
        user_codes, user_names = users.cat.codes.to_numpy(), users.cat.categories.astype(str)
    else:
        user_codes, user_names = pd.factorize(users.astype(str), sort=False)
    ts = epoch_micros(sub[S.TS])
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):  # already in time order: a stable sort by user suffices
        order = np.argsort(user_codes, kind="stable")
    else:
        order = np.lexsort((np.arange(len(sub)), ts, user_codes))
    u, t = user_codes[order], ts[order]
    new = np.ones(len(sub), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | ((t[1:] - t[:-1]) > gap_td // pd.Timedelta(microseconds=1))
    number = np.cumsum(new)
    first_of_user = np.ones(len(sub), dtype=bool)
    first_of_user[1:] = u[1:] != u[:-1]
    ordinal = number - np.maximum.accumulate(np.where(first_of_user, number - 1, 0))
    # build each id once per session with Arrow kernels (no Python string per event)
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = np.flatnonzero(new)
    names = pa.array(np.asarray(user_names, dtype=object)).take(pa.array(u[starts]))
    per_session = pc.binary_join_element_wise(names, pc.cast(pa.array(ordinal[starts]), pa.string()), "#")
    row_ids = per_session.take(pa.array(number - 1))        # session id of each sorted row
    ids = pa.array(np.empty(0, dtype=object), type=pa.string()) if len(order) == 0 else \
        row_ids.take(pa.array(np.argsort(order)))          # back to the rows' own order
    out = events.copy(deep=False)
    if missing.all():
        out[S.SESSION_ID] = pd.Series(pd.array(ids, dtype="str"), index=out.index)
    else:
        filled = out[S.SESSION_ID].astype(object).to_numpy().copy()
        filled[missing] = np.asarray(ids.to_pylist(), dtype=object)
        out[S.SESSION_ID] = pd.Series(filled, index=out.index, dtype="str")
    return out


@dataclass(frozen=True)
class _Seq:
    """Events in session order: arrays aligned by position (sorted by session, ts, frame order)."""

    order: np.ndarray      # positions into the events frame
    session: np.ndarray    # session code per position (0..n_sessions-1), ascending
    user: np.ndarray       # user code per position
    ts: np.ndarray         # int64 microseconds (UTC) per position
    etype: np.ndarray      # event type code per position
    types: pd.Index        # event type names for the codes
    first: np.ndarray      # True where a session starts
    sessions: pd.Index     # session ids for the codes
    users: pd.Index


def _sequence(events: pd.DataFrame, gap: str) -> _Seq:
    ev = sessionize(events, gap=gap)
    s_codes, sessions = pd.factorize(ev[S.SESSION_ID], sort=False)
    u_codes, users = pd.factorize(ev[S.USER_ID].astype(str), sort=False)
    t_codes, types = pd.factorize(ev[S.EVENT_TYPE].astype(str), sort=True)
    ts = epoch_micros(ev[S.TS])
    order = np.lexsort((np.arange(len(ev)), ts, s_codes))
    sess = s_codes[order]
    first = np.ones(len(ev), dtype=bool)
    first[1:] = sess[1:] != sess[:-1]
    return _Seq(order, sess, u_codes[order], ts[order], t_codes[order], pd.Index(types), first,
                pd.Index(sessions), pd.Index(users))


def session_table(events: pd.DataFrame, *, gap: str = "30min") -> pd.DataFrame:
    """One row per session: who, when, how long, how many steps and how it ended.

    Definitions: ``start``/``end`` are the first and last event times; ``duration_s`` is
    their difference (0 for a one-event session); ``n_events`` counts events and ``n_steps``
    distinct event types; ``rework`` is true when a workflow step (``generation``, ``edit``,
    ``test_run``) occurs more than once. ``outcome`` is ``accepted`` when the session has an
    ``accept`` or ``export`` event, else ``errored`` when it has an ``error`` event, else
    ``abandoned``. ``team``, ``feature`` and ``model`` are those of the session's first event
    that has one. Sessions come from ``session_id`` or, where absent, from :func:`sessionize`.

    Returns
    -------
    DataFrame
        Columns ``session_id, user_id, team, feature, model, start, end, duration_s,
        n_events, n_steps, n_errors, rework, satisfaction, outcome``; sorted by ``start``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> st = session_table(synthetic_events(5_000, days=28, seed=0).events)
    >>> sorted(st["outcome"].unique())
    ['abandoned', 'accepted', 'errored']
    """
    seq = _sequence(events, gap)
    ev = events.iloc[seq.order]
    typ = pd.Series(seq.types[seq.etype], dtype="str")
    frame = pd.DataFrame({
        "s": seq.session, "ts": seq.ts,
        "accept": typ.isin(ACCEPT_TYPES).to_numpy(), "error": (typ == "error").to_numpy(),
        "sat": ev[S.SATISFACTION].to_numpy(dtype="float64", na_value=np.nan),
    })
    g = frame.groupby("s", sort=True)
    out = pd.DataFrame({
        "session_id": seq.sessions.astype(str),
        "user_id": seq.users[seq.user[seq.first]].astype(str),
        "start": pd.to_datetime(g["ts"].min().to_numpy(), unit="us", utc=True),
        "end": pd.to_datetime(g["ts"].max().to_numpy(), unit="us", utc=True),
        "n_events": g.size().to_numpy(),
    })
    for c in (S.TEAM, S.FEATURE, S.MODEL):
        first_val = ev[c].astype(object).groupby(seq.session).first()
        out[c] = pd.Categorical(first_val.reindex(range(len(out))).to_numpy())
    pair = pd.DataFrame({"s": seq.session, "t": seq.etype}).drop_duplicates()
    out["n_steps"] = np.bincount(pair["s"].to_numpy(), minlength=len(out))
    work = typ.isin(("generation", "edit", "test_run")).to_numpy()
    wk = pd.DataFrame({"s": seq.session[work], "t": seq.etype[work]})
    repeats = wk.duplicated().to_numpy()
    out["rework"] = np.bincount(wk["s"].to_numpy()[repeats], minlength=len(out)) > 0
    out["n_errors"] = g["error"].sum().to_numpy()
    out["satisfaction"] = g["sat"].mean().to_numpy()
    accepted = g["accept"].any().to_numpy()
    out["outcome"] = pd.Categorical(np.where(accepted, "accepted", np.where(out["n_errors"] > 0, "errored", "abandoned")),
                                    categories=list(OUTCOMES))
    out["duration_s"] = (out["end"] - out["start"]).dt.total_seconds()
    cols = ["session_id", "user_id", S.TEAM, S.FEATURE, S.MODEL, "start", "end", "duration_s", "n_events", "n_steps",
            "n_errors", "rework", "satisfaction", "outcome"]
    return out[cols].sort_values(["start", "session_id"], kind="stable").reset_index(drop=True)
