"""``funnel_table`` in its three modes against references: SQL on DuckDB (sequential mode) and a
slow plain-Python loop (all modes) on a generated ~50k-event frame, a handmade frame worked out
by hand, timestamp ties, steps never reached, segments, and the generator's planted session
funnel recovered on the 1M sample (slow)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import TOL, WORKFLOW, make_events, sql_list

from analytics_lib import funnel_table, path_variants, session_table, transition_table
from analytics_lib.core import schema as S


def expected_funnel(counts, medians) -> pd.DataFrame:
    """Funnel rates from per-step counts, by the docstring's formulas."""
    counts = np.asarray(counts, dtype=float)
    base = counts[0]
    prev = np.concatenate([[base], counts[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(base > 0, counts / base, np.nan)
        step = np.where(prev > 0, counts / np.where(prev > 0, prev, 1), np.nan)
    return pd.DataFrame({"entities": counts.astype(int), "conversion": conv, "step_conversion": step,
                         "drop_off": 1 - step, "median_time_s": np.asarray(medians, dtype=float)})


def assert_funnel(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got["step"].tolist() == list(range(1, len(want) + 1))
    np.testing.assert_array_equal(got["entities"].to_numpy(), want["entities"].to_numpy())
    for c in ("conversion", "step_conversion", "drop_off", "median_time_s"):
        np.testing.assert_allclose(got[c].to_numpy(dtype=float), want[c].to_numpy(dtype=float), equal_nan=True,
                                   err_msg=c, **TOL)


def sql_funnel_sequential(con, steps, unit: str, window: str = "14D"):
    """Per step: entities and median seconds from entry, straight from the definitions."""
    ent = "user_id" if unit == "user" else "session_id"
    win = pd.Timedelta(window) // pd.Timedelta(microseconds=1)
    ctes = [f"e AS (SELECT {ent} AS ent, ts_us, rn, event_type FROM ev)",
            f"""s1 AS (SELECT ent, ts_us, rn, ts_us AS t0 FROM (
                    SELECT *, row_number() OVER (PARTITION BY ent ORDER BY ts_us, rn) AS r
                    FROM e WHERE event_type IN ({sql_list(steps[0])})) WHERE r = 1)"""]
    for k in range(2, len(steps) + 1):
        ctes.append(f"""s{k} AS (SELECT ent, ts_us, rn, t0 FROM (
                SELECT e.ent, e.ts_us, e.rn, p.t0,
                       row_number() OVER (PARTITION BY e.ent ORDER BY e.ts_us, e.rn) AS r
                FROM e JOIN s{k - 1} p ON e.ent = p.ent
                WHERE e.event_type IN ({sql_list(steps[k - 1])})
                  AND (e.ts_us > p.ts_us OR (e.ts_us = p.ts_us AND e.rn > p.rn))
                  AND e.ts_us - p.t0 <= {win}) WHERE r = 1)""")
    sel = " UNION ALL ".join(f"SELECT {k} AS step, count(*) AS n, quantile_cont((ts_us - t0) / 1e6, 0.5) AS med "
                             f"FROM s{k}" for k in range(1, len(steps) + 1))
    res = con.sql("WITH " + ",\n".join(ctes) + "\n" + sel + " ORDER BY step").df()
    return res["n"].tolist(), res["med"].tolist()


SQL_FUNNELS = [
    ("session", WORKFLOW),
    ("session", ["generation", "edit", "generation", "edit"]),           # rework loops: repeated steps
    ("session", [["search", "cache_query"], "error", "generation"]),
    ("user", WORKFLOW),
    ("user", ["deploy", "deploy"]),                                       # a second deploy within 14 days
    ("user", ["feedback", "error", "accept"]),
    ("user", ["error", ["accept", "export"], "session_start"]),
]


@pytest.mark.parametrize("unit,steps", SQL_FUNNELS)
def test_funnel_sequential_matches_sql(ev50, con50, unit, steps):
    got = funnel_table(ev50, steps, unit=unit, mode="sequential")
    counts, meds = sql_funnel_sequential(con50, steps, unit)
    assert_funnel(got, expected_funnel(counts, meds))
    assert got["step_name"].tolist() == [s if isinstance(s, str) else " | ".join(s) for s in steps]


@pytest.mark.parametrize("window", ["1D", "3D", "30D"])
def test_funnel_sequential_window_matches_sql(ev50, con50, window):
    steps = ["feedback", "error", "deploy"]
    got = funnel_table(ev50, steps, unit="user", within=window)
    counts, meds = sql_funnel_sequential(con50, steps, "user", window)
    assert_funnel(got, expected_funnel(counts, meds))


def py_funnel(events: pd.DataFrame, steps, *, unit: str, mode: str, window: str = "14D"):
    """A slow, plain reference of all three modes: loops over each entity's ordered events.

    Strict mode follows the implemented reading: a run's window and times are measured from
    that run's own step-1 event. The docstring's general rule ("the window starts at entry",
    "median time from entry") would measure both from the entity's first step-1 event instead;
    the two readings differ at unit="user" (an open question, pinned here to the implementation)."""
    steps = [(s,) if isinstance(s, str) else tuple(s) for s in steps]
    win = pd.Timedelta(window)
    ent_col = S.USER_ID if unit == "user" else S.SESSION_ID
    df = pd.DataFrame({"ent": events[ent_col].astype(str).to_numpy(), "ts": events[S.TS].to_numpy(),
                       "rn": np.arange(len(events)), "et": events[S.EVENT_TYPE].astype(str).to_numpy()})
    df = df.sort_values(["ent", "ts", "rn"], kind="stable")
    n_steps = len(steps)
    reached = [0] * n_steps
    times: list[list[float]] = [[] for _ in steps]
    for _, grp in itertools.groupby(zip(df["ent"], df["ts"], df["et"]), key=lambda r: r[0]):
        seq = [(t, e) for _, t, e in grp]
        found = [None] * n_steps  # seconds from entry (or run start) to each step reached
        if mode == "sequential":
            i = next((i for i, (_, e) in enumerate(seq) if e in steps[0]), None)
            if i is not None:
                t0 = seq[i][0]
                found[0] = 0.0
                for k in range(1, n_steps):
                    i = next((j for j in range(i + 1, len(seq)) if seq[j][1] in steps[k]), None)
                    if i is None or seq[i][0] - t0 > win:
                        break
                    found[k] = (seq[i][0] - t0).total_seconds()
        elif mode == "strict":
            for i, (t0, e) in enumerate(seq):
                if e not in steps[0]:
                    continue
                depth = 1
                while (depth < n_steps and i + depth < len(seq) and seq[i + depth][1] in steps[depth]
                       and seq[i + depth][0] - t0 <= win):
                    depth += 1
                for k in range(depth):
                    if found[k] is None:
                        found[k] = (seq[i + k][0] - t0).total_seconds()
        else:
            union = set().union(*steps)
            starts = [t for t, e in seq if e in union]
            if starts:
                present = {e for t, e in seq if e in union and t - starts[0] <= win}
                for k in range(n_steps):
                    if not present & set(steps[k]):
                        break
                    found[k] = np.nan
        for k in range(n_steps):
            if found[k] is not None:
                reached[k] += 1
                times[k].append(found[k])
    meds = [float(np.median(t)) if t and mode != "any" else np.nan for t in times]
    return reached, meds


PY_FUNNELS = [
    ("session", WORKFLOW),
    ("session", ["generation", "edit", "test_run"]),
    ("session", ["generation", "edit", "generation"]),
    ("session", ["edit", "generation", ["accept", "export"]]),
    ("user", ["error", "generation", "edit"]),
    ("user", ["deploy", "session_start", "search"]),
    ("user", ["feedback", "error", "accept"]),
]


@pytest.mark.parametrize("mode", ["sequential", "strict", "any"])
@pytest.mark.parametrize("unit,steps", PY_FUNNELS)
def test_funnel_modes_match_python_reference(ev50, mode, unit, steps):
    got = funnel_table(ev50, steps, unit=unit, mode=mode)
    counts, meds = py_funnel(ev50, steps, unit=unit, mode=mode)
    assert_funnel(got, expected_funnel(counts, meds))


def test_funnel_modes_are_ordered(ev50):
    """Strict implies sequential implies any-order (same steps, entities at each step)."""
    for steps in (["session_start", "generation", "edit"], ["edit", "generation", "test_run"], WORKFLOW):
        n = {m: funnel_table(ev50, steps, unit="session", mode=m)["entities"].to_numpy() for m in
             ("strict", "sequential", "any")}
        assert (n["strict"] <= n["sequential"]).all() and (n["sequential"] <= n["any"]).all(), (steps, n)
        if steps[:2] == ["session_start", "generation"]:   # a retrieval always sits in between
            assert n["strict"][1] == 0 < n["sequential"][1]
        if steps[0] == "edit":               # generation before the first edit counts in any order only
            assert n["sequential"][1] < n["any"][1]


def test_funnel_small_frame_hand_checked():
    """A handmade frame where every mode's answer is worked out by hand."""
    ev = make_events([
        # u1: a(0) x(1) a(2) b(3) c(4): sequential a..b..c; strict only from the 2nd a
        ("2025-01-01T00:00:00Z", "u1", "a", "s1"), ("2025-01-01T00:01:00Z", "u1", "x", "s1"),
        ("2025-01-01T00:02:00Z", "u1", "a", "s1"), ("2025-01-01T00:03:00Z", "u1", "b", "s1"),
        ("2025-01-01T00:04:00Z", "u1", "c", "s1"),
        # u2: c then b then a: any-order only
        ("2025-01-01T00:00:00Z", "u2", "c", "s2"), ("2025-01-01T00:01:00Z", "u2", "b", "s2"),
        ("2025-01-01T00:02:00Z", "u2", "a", "s2"),
        # u3: a, then b 20 days later: outside 14 days
        ("2025-01-01T00:00:00Z", "u3", "a", "s3"), ("2025-01-21T00:00:00Z", "u3", "b", "s4"),
        # u4: b only: never enters
        ("2025-01-02T00:00:00Z", "u4", "b", "s5"),
    ])
    steps = ["a", "b", "c"]
    seq = funnel_table(ev, steps, unit="user")
    assert seq["entities"].tolist() == [3, 1, 1]       # u1, u2, u3 enter; only u1 converts
    assert seq["median_time_s"].tolist() == [0.0, 180.0, 240.0]  # from u1's FIRST a
    strict = funnel_table(ev, steps, unit="user", mode="strict")
    assert strict["entities"].tolist() == [3, 1, 1]
    assert strict["median_time_s"].tolist() == [0.0, 60.0, 120.0]  # from the a that starts the run
    anyo = funnel_table(ev, steps, unit="user", mode="any")
    assert anyo["entities"].tolist() == [3, 2, 2]      # u1, u2 (u4's window has no a)
    assert anyo["median_time_s"].isna().all()
    sess = funnel_table(ev, steps, unit="session")
    assert sess["entities"].tolist() == [3, 1, 1]      # s3/s4 split u3's events: s3 enters, never converts
    for f in (seq, strict, anyo, sess):
        assert_funnel(f, expected_funnel(f["entities"], f["median_time_s"]))
    # window bound is inclusive: exactly 20 days converts with a 20-day window
    assert funnel_table(ev, ["a", "b"], unit="user", within="20D")["entities"].tolist() == [3, 2]   # u1, u3
    assert funnel_table(ev, ["a", "b"], unit="user", within="19D")["entities"].tolist() == [3, 1]


@pytest.mark.slow
def test_truth_session_funnel_conversion(big):
    ev, truth = big
    f = funnel_table(ev, [types for _, types in truth.funnel_steps], unit="session", mode="sequential")
    assert f["step_name"].tolist() == [" | ".join(types) for _, types in truth.funnel_steps]
    planted = [p for _, _, p in truth.funnel_step_conversion]
    got = f["step_conversion"].iloc[1:].tolist()
    assert np.abs(np.subtract(got, planted)).max() <= 0.02, list(zip(got, planted))
    assert f["entities"].iloc[0] == truth.n_sessions   # every session starts with session_start


def test_timestamp_ties_follow_frame_order_everywhere():
    t = "2025-03-03T12:00:00Z"
    ev = make_events([(t, "u1", "session_start", "s1"), (t, "u1", "search", "s1"), (t, "u1", "generation", "s1"),
                      (t, "u2", "generation", "s2"), (t, "u2", "search", "s2"), (t, "u2", "session_start", "s2")])
    tt = transition_table(ev)
    assert sorted(zip(tt["source"], tt["target"])) == [("generation", "search"), ("search", "generation"),
                                                       ("search", "session_start"), ("session_start", "search")]
    assert (tt["median_s"] == 0).all()
    pv = path_variants(ev)
    assert set(pv["path"]) == {"session_start > search > generation", "generation > search > session_start"}
    f = funnel_table(ev, ["session_start", "search", "generation"], unit="session")
    assert f["entities"].tolist() == [2, 1, 1] and f["median_time_s"].tolist() == [0.0, 0.0, 0.0]
    s = funnel_table(ev, ["session_start", "search", "generation"], unit="session", mode="strict")
    assert s["entities"].tolist() == [2, 1, 1]
    st = session_table(ev)
    assert (st["duration_s"] == 0).all() and st["n_events"].tolist() == [3, 3]
    # an event completes at most one step, even with equal timestamps
    one = make_events([(t, "u1", "search", "s1")])
    assert funnel_table(one, ["search", "search"], unit="session")["entities"].tolist() == [1, 0]
    two = make_events([(t, "u1", "search", "s1"), (t, "u1", "search", "s1")])
    assert funnel_table(two, ["search", "search"], unit="session")["entities"].tolist() == [1, 1]
    assert funnel_table(two, ["search", "search"], unit="session", mode="strict")["entities"].tolist() == [1, 1]
    # the same ties, derived sessions: one session each, same order
    bare = ev.assign(session_id=pd.Series(pd.NA, index=ev.index, dtype="str"))
    assert transition_table(bare)[["source", "target", "count"]].equals(tt[["source", "target", "count"]])


def test_funnel_step_never_reached_has_a_row():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "session_start"), ("2025-01-01T10:01:00Z", "u1", "search"),
                      ("2025-01-01T10:00:00Z", "u2", "session_start")])
    for mode in ("sequential", "strict", "any"):
        f = funnel_table(ev, ["session_start", "search", "deploy", "search"], unit="user", mode=mode)
        assert f["step"].tolist() == [1, 2, 3, 4], mode
        assert f["entities"].tolist() == [2, 1, 0, 0], mode
        assert f["conversion"].tolist() == [1.0, 0.5, 0.0, 0.0], mode
        assert f["step_conversion"].iloc[2] == 0.0 and np.isnan(f["step_conversion"].iloc[3]), mode
    # nobody enters: a full table, counts 0, rates NaN
    f = funnel_table(ev, ["deploy", "search"])
    assert f["entities"].tolist() == [0, 0] and f["conversion"].isna().all()


def test_funnel_by_segment_from_entry_event():
    ev = make_events([
        ("2025-01-01T10:00:00Z", "u1", "search", "s1"), ("2025-01-01T10:01:00Z", "u1", "generation", "s1"),
        ("2025-01-01T10:00:00Z", "u2", "search", "s2"), ("2025-01-01T11:00:00Z", "u2", "search", "s3"),
        ("2025-01-01T11:01:00Z", "u2", "generation", "s3"),
    ], feature=["f1", "f1", "f2", "f1", "f1"])
    f = funnel_table(ev, ["search", "generation"], unit="session", by="feature")
    assert f.columns[0] == "feature"
    assert f.set_index(["feature", "step"])["entities"].to_dict() == {("f1", 1): 2, ("f1", 2): 2,
                                                                      ("f2", 1): 1, ("f2", 2): 0}
    f = funnel_table(ev, ["search", "generation"], unit="user", by="feature")   # u2 enters with f2
    assert f.set_index(["feature", "step"])["entities"].to_dict() == {("f1", 1): 1, ("f1", 2): 1,
                                                                      ("f2", 1): 1, ("f2", 2): 1}
    seg = pd.Series({"u1": "A", "u2": "B"})
    f = funnel_table(ev, ["search", "generation"], unit="user", by=seg)
    assert f["segment"].tolist() == ["A", "A", "B", "B"] and f["entities"].tolist() == [1, 1, 1, 1]
