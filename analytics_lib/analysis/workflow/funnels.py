"""Where developers drop off: ordered funnels by user or session, with a conversion window.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.analysis.workflow.sessions import sessionize
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import US_PER_S, check_duration, epoch_micros


# ============================================================================================
# Funnels
FUNNEL_MODES = ("sequential", "strict", "any")


def _step_sets(steps: Sequence[str | Sequence[str]]) -> list[tuple[str, tuple[str, ...]]]:
    if len(steps) < 2:
        raise WorkbenchError(f"a funnel needs at least two steps, got {list(steps)!r}")
    out = []
    for st in steps:
        types = (st,) if isinstance(st, str) else tuple(st)
        if not types or not all(isinstance(t, str) and t for t in types):
            raise WorkbenchError(f"funnel step {st!r} must be an event type or a list of event types")
        out.append((" | ".join(types), types))
    return out


@renamed(window='within')
def funnel_table(events: pd.DataFrame, steps: Sequence[str | Sequence[str]], *, within: str = "14D",
                 mode: str = "sequential", unit: str = "user", by: str | pd.Series | None = None,
                 gap: str = "30min") -> pd.DataFrame:
    """Conversion through ordered steps, per user (or per session), within a conversion window.

    Definitions:

    - an *entity* is a user (``unit="user"``) or a session (``unit="session"``);
    - a step is one event type or a list of alternatives (``["search", "cache_query"]``);
    - **entry** is the entity's first event of step 1 in the data given; the conversion
      window (``within``, default 14 days) starts there, and every later step must happen
      within it;
    - ``mode="sequential"``: step *k* is the first event of step *k* after the event that
      completed step *k-1* (other events may happen in between; ties in time are ordered by
      frame order, and an event completes at most one step);
    - ``mode="strict"``: step *k* must be the entity's very next event after step *k-1* (no
      other event in between); an entity reaches step *k* if any of its step-1 events starts
      such a run; the window and ``median_time_s`` are measured from the step-1 event that
      starts the first run reaching step *k* (not from the first step-1 event);
    - ``mode="any"``: steps may happen in any order: step *k* is reached when steps 1..*k* all
      occur within the window starting at the entity's first event of any funnel step;
    - ``conversion`` is entities at step *k* / entities at step 1; ``step_conversion`` is
      relative to step *k-1*; ``drop_off`` is 1 - ``step_conversion``; ``median_time_s`` is
      the median time from entry to step *k* (sequential and strict modes);
    - ``by``: a column (``"team"``, ``"feature"``, ``"model"``) taken from the entry event, or
      a Series mapping ``user_id`` to a segment label; one funnel per value; entities whose
      value is missing are in no segment.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    steps : sequence of str or of lists of str
        At least two steps, in order; each an event type or a list of alternative types.
    within : str
        The conversion window, a positive pandas duration (default ``"14D"``).
    mode : {"sequential", "strict", "any"}
        How steps must follow each other (default ``"sequential"``), as defined above.
    unit : {"user", "session"}
        The entity that converts (default ``"user"``).
    by : str or Series, optional
        Segment the funnel, as defined above; None (default): one funnel for all entities.
    gap : str
        Inactivity that ends a derived session with ``unit="session"`` (rows without
        ``session_id``), as a pandas duration (default ``"30min"``).

    Returns
    -------
    DataFrame
        ``[by,] step, step_name, entities, conversion, step_conversion, drop_off, median_time_s``.
        A step nobody reached has ``entities`` 0 (never a missing row).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=28, seed=0).events
    >>> f = funnel_table(ev, ["session_start", ["search", "cache_query"], "generation"], unit="session")
    >>> f["step"].tolist()
    [1, 2, 3]
    """
    if mode not in FUNNEL_MODES:
        raise WorkbenchError(f"mode={mode!r} is not a funnel mode: use one of {', '.join(FUNNEL_MODES)}")
    if unit not in ("user", "session"):
        raise WorkbenchError(f"unit={unit!r} must be 'user' or 'session'")
    spec = _step_sets(steps)
    win = check_duration(within, name="within") // pd.Timedelta(microseconds=1)
    ev = sessionize(events, gap=gap) if unit == "session" else events
    ent_col = S.USER_ID if unit == "user" else S.SESSION_ID
    entity, _ = pd.factorize(ev[ent_col].astype(str), sort=False)
    ts = epoch_micros(ev[S.TS])
    order = np.lexsort((np.arange(len(ev)), ts, entity))   # entity, time, frame order
    ent, t = entity[order], ts[order]
    pos = np.arange(len(ev))                                # global order: sorts like (entity, ts, row)
    etypes = ev[S.EVENT_TYPE]
    if isinstance(etypes.dtype, pd.CategoricalDtype):
        type_codes, type_names = etypes.cat.codes.to_numpy(), np.asarray(etypes.cat.categories.astype(str))
    else:
        type_codes, type_names = pd.factorize(etypes.astype(str), sort=True)
    tc = type_codes[order]
    # one lookup table per step (code -> is this step); missing types (code -1) hit the appended False
    is_step = [np.append(np.isin(np.asarray(type_names, dtype=object), list(types)), False)[tc]
               for _, types in spec]

    n_ent = int(entity.max()) + 1 if len(entity) else 0
    reached = np.zeros((n_ent, len(spec)), dtype=bool)
    took = np.full((n_ent, len(spec)), np.nan)            # seconds from entry to each step
    entry_pos = np.full(n_ent, -1, dtype=np.int64)
    if mode == "sequential":
        cur = _first_positions(ent, pos, is_step[0], n_ent)       # position of step-1 event per entity
        entry_pos[:] = cur
        entry_t = t[np.maximum(cur, 0)]
        reached[:, 0] = cur >= 0
        took[reached[:, 0], 0] = 0.0
        for k in range(1, len(spec)):
            cur = _next_after(ent, pos, is_step[k], cur, n_ent)
            ok = cur >= 0
            ok[ok] = (t[cur[ok]] - entry_t[ok]) <= win
            cur = np.where(ok, cur, -1)
            reached[:, k] = ok
            took[ok, k] = (t[cur[ok]] - entry_t[ok]) / US_PER_S
    elif mode == "strict":
        n = len(ent)
        run = is_step[0].copy()                                   # run[i]: steps 1..k start at position i
        depth = np.where(run, 1, 0)
        for k in range(1, len(spec)):
            j = np.minimum(np.arange(n) + k, n - 1)
            same = (np.arange(n) + k < n) & (ent[j] == ent) & is_step[k][j] & ((t[j] - t) <= win)
            run &= same
            depth[run] = k + 1
        entry_pos[:] = _first_positions(ent, pos, is_step[0], n_ent)
        for k in range(len(spec)):                                # the first run that reaches step k
            starts = np.flatnonzero(depth >= k + 1)
            first = _first_positions(ent[starts], np.arange(len(starts)), np.ones(len(starts), bool), n_ent)
            has = first >= 0
            st = starts[first[has]]
            reached[has, k] = True
            took[has, k] = (t[st + k] - t[st]) / US_PER_S
    else:  # any order
        any_step = np.logical_or.reduce(is_step)
        start_pos = _first_positions(ent, pos, any_step, n_ent)
        entry_pos[:] = start_pos
        start_t = t[np.maximum(start_pos, 0)]
        in_win = any_step & ((t - start_t[ent]) <= win)
        have = start_pos >= 0
        for k in range(len(spec)):
            hit = np.zeros(n_ent, dtype=bool)
            hit[ent[is_step[k] & in_win]] = True
            have = have & hit
            reached[:, k] = have
    # groups
    entry_row = np.where(entry_pos >= 0, order[np.maximum(entry_pos, 0)], -1)
    group = _funnel_groups(ev, by, entry_row, ent_col)
    rows = []
    labels = [None] if group is None else sorted(pd.unique(group[~pd.isna(group)]).tolist(), key=str)
    for label in labels:  # one pass per segment value (a handful), vectorized inside
        sel = (entry_pos >= 0) if group is None else ((entry_pos >= 0) & (group == label))
        base = int(reached[sel, 0].sum())
        prev = base
        for k, (name, _) in enumerate(spec):
            n_k = int(reached[sel, k].sum())
            spent = took[sel & reached[:, k], k]
            med = float(np.median(spent)) if len(spent) and mode != "any" else np.nan
            row = {"step": k + 1, "step_name": name, "entities": n_k,
                   "conversion": n_k / base if base else np.nan,
                   "step_conversion": n_k / prev if prev else np.nan, "median_time_s": med}
            if group is not None:
                row = {"segment": label, **row}
            rows.append(row)
            prev = n_k
    out = pd.DataFrame(rows)
    out["drop_off"] = 1 - out["step_conversion"]
    lead = ["segment"] if group is not None else []
    out = out[lead + ["step", "step_name", "entities", "conversion", "step_conversion", "drop_off", "median_time_s"]]
    if group is not None and isinstance(by, str):
        out = out.rename(columns={"segment": by})
    return out


def _first_positions(ent: np.ndarray, pos: np.ndarray, mask: np.ndarray, n_ent: int) -> np.ndarray:
    """Per entity, the first position where ``mask`` holds (-1 if none). Positions ascend within entities."""
    out = np.full(n_ent, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx):
        e = ent[idx]
        first = np.ones(len(idx), dtype=bool)
        first[1:] = e[1:] != e[:-1]
        out[e[first]] = pos[idx[first]]
    return out


def _next_after(ent: np.ndarray, pos: np.ndarray, mask: np.ndarray, after: np.ndarray, n_ent: int) -> np.ndarray:
    """Per entity, the first position with ``mask`` strictly after ``after[entity]`` (-1 if none)."""
    idx = np.flatnonzero(mask)
    out = np.full(n_ent, -1, dtype=np.int64)
    has = np.flatnonzero(after >= 0)
    if not len(idx) or not len(has):
        return out
    # candidates are sorted by (entity, position) because positions ascend with entity
    cand_key = ent[idx].astype(np.int64) * (len(pos) + 1) + pos[idx]
    query = has.astype(np.int64) * (len(pos) + 1) + after[has] + 1
    j = np.searchsorted(cand_key, query, side="left")
    ok = j < len(idx)
    ok[ok] = ent[idx[j[ok]]] == has[ok]
    out[has[ok]] = pos[idx[j[ok]]]
    return out


def _funnel_groups(ev: pd.DataFrame, by, entry_row: np.ndarray, ent_col: str) -> np.ndarray | None:
    if by is None:
        return None
    if isinstance(by, str):
        if by not in ev.columns:
            raise WorkbenchError(f"by={by!r} is not a column of the events")
        values = ev[by].astype(object).to_numpy()
    elif isinstance(by, pd.Series):
        values = ev[S.USER_ID].astype(str).map(by.rename(index=str)).astype(object).to_numpy()
    else:
        raise WorkbenchError("by must be a column name or a Series mapping user_id to a segment")
    out = np.full(len(entry_row), None, dtype=object)
    has = entry_row >= 0
    out[has] = values[entry_row[has]]
    return out
