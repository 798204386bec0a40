"""``sessionize`` and ``session_table``: the planted sessions recovered on the 1M sample (slow), the
real pm4py logs against references computed on the raw CSV, a single event, outcomes, the
30-minute gap boundary, and a copy returned even when nothing is missing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import TOL, make_events

from analytics_lib import (active_users, funnel_table, kpi_table, path_variants, retention_matrix, session_table,
                           sessionize, transition_table)
from analytics_lib.core import schema as S


@pytest.mark.slow
def test_truth_sessionize_recovers_planted_sessions(big):
    ev, truth = big
    bare = ev.assign(session_id=pd.Series(pd.NA, index=ev.index, dtype="str"))
    derived = sessionize(bare)
    assert derived[S.SESSION_ID].notna().all()
    planted = pd.factorize(ev[S.SESSION_ID])[0]
    mine = pd.factorize(derived[S.SESSION_ID])[0]
    assert planted.max() + 1 == mine.max() + 1 == truth.n_sessions
    # the same partition: each planted session maps to one derived session and back
    pairs = pd.DataFrame({"p": planted, "m": mine}).drop_duplicates()
    assert len(pairs) == truth.n_sessions
    # derived ids are "<user>#<n>" numbered in time order per user
    first = derived.groupby(S.SESSION_ID, sort=False)[S.TS].min()
    user = first.index.str.rsplit("#", n=1).str[0]
    n = first.index.str.rsplit("#", n=1).str[1].astype(int)
    order = pd.DataFrame({"u": user, "n": n, "t": first.to_numpy()}).sort_values(["u", "t"])
    assert (order.groupby("u")["n"].transform(lambda s: np.arange(1, len(s) + 1)) == order["n"]).all()


def test_real_log_session_table_matches_raw_csv(real_log):
    name, ev, raw = real_log
    st = session_table(ev).set_index("session_id").sort_index()
    g = raw.groupby("case")
    assert st.index.tolist() == sorted(g.groups)
    np.testing.assert_array_equal(st["n_events"].to_numpy(), g.size().sort_index().to_numpy())
    np.testing.assert_array_equal(st["n_steps"].to_numpy(), g["act"].nunique().sort_index().to_numpy())
    dur = (g["t"].max() - g["t"].min()).dt.total_seconds().sort_index()
    np.testing.assert_allclose(st["duration_s"].to_numpy(), dur.to_numpy(), **TOL)
    assert (st.index == st["user_id"]).all()


def test_single_event():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "session_start")])
    st = session_table(ev)
    assert len(st) == 1 and st["duration_s"].iloc[0] == 0.0 and st["n_events"].iloc[0] == 1
    assert st["session_id"].iloc[0] == "u1#1" and st["outcome"].iloc[0] == "abandoned"
    f = funnel_table(ev, ["session_start", "generation"], unit="session")
    assert f["entities"].tolist() == [1, 0] and f["conversion"].tolist() == [1.0, 0.0]
    assert f["median_time_s"].iloc[0] == 0.0 and np.isnan(f["median_time_s"].iloc[1])
    tt = transition_table(ev)
    assert tt.empty
    assert tt.columns.tolist() == ["source", "target", "count", "users", "sessions", "median_s", "p90_s", "p95_s",
                                   "total_wait_h"]
    pv = path_variants(ev)
    assert pv[["path", "steps", "sessions", "share"]].values.tolist() == [["session_start", 1, 1, 1.0]]
    k = kpi_table(ev, granularity="D")
    assert len(k) == 1 and k["events"].iloc[0] == 1 and k["latency_p50"].isna().all()
    assert active_users(ev)[["dau", "wau", "mau"]].values.tolist() == [[1, 1, 1]]
    r = retention_matrix(ev, periods=2)
    assert r["size"].tolist() == [1] and r[0].tolist() == [1.0] and np.isnan(r[1].iloc[0])


def test_outcomes_and_first_values():
    ev = make_events([
        ("2025-02-03T09:00:00Z", "u1", "error", "a"), ("2025-02-03T09:01:00Z", "u1", "export", "a"),
        ("2025-02-03T09:00:00Z", "u2", "error", "b"), ("2025-02-03T09:01:00Z", "u2", "error", "b"),
        ("2025-02-03T09:00:00Z", "u3", "edit", "c"), ("2025-02-03T09:00:00Z", "u3", "edit", "c"),
    ])
    st = session_table(ev).set_index("session_id")
    assert st["outcome"].astype(str).to_dict() == {"a": "accepted", "b": "errored", "c": "abandoned"}
    assert st["n_errors"].to_dict() == {"a": 1, "b": 2, "c": 0}
    assert st["rework"].to_dict() == {"a": False, "b": False, "c": True}


def test_derived_sessions_gap_boundary():
    ev = make_events([
        ("2025-01-01T10:00:00.000000Z", "u1", "search"),
        ("2025-01-01T10:30:00.000000Z", "u1", "generation"),   # exactly 30 min: same session
        ("2025-01-01T11:00:00.000001Z", "u1", "edit"),         # 30 min + 1 us: new session
        ("2025-01-01T10:10:00.000000Z", "u2", "search"),
        ("2025-01-01T10:40:00.000001Z", "u2", "search"),       # 30 min + 1 us: new session
        ("2025-01-01T10:20:00.000000Z", "u3", "search", "given"),  # has a session_id: kept
    ])
    out = sessionize(ev).set_index("event_id")[S.SESSION_ID]
    assert out.to_dict() == {"x0000": "u1#1", "x0001": "u1#1", "x0002": "u1#2",
                             "x0003": "u2#1", "x0004": "u2#2", "x0005": "given"}
    st = session_table(ev)
    assert st.set_index("session_id")["n_events"].to_dict() == {"u1#1": 2, "u1#2": 1, "u2#1": 1, "u2#2": 1,
                                                                "given": 1}
    assert st.loc[st["session_id"] == "u1#1", "duration_s"].iloc[0] == 1800.0
    assert st["session_id"].tolist() == ["u1#1", "u2#1", "given", "u2#2", "u1#2"]   # sorted by start
    # a gap parameter above 30 min + 1 us merges them
    longer = sessionize(ev, gap="31min").set_index("event_id")[S.SESSION_ID]
    assert longer[["x0002", "x0004"]].tolist() == ["u1#1", "u2#1"]
    assert sessionize(ev, gap="1800000001us").set_index("event_id")[S.SESSION_ID]["x0002"] == "u1#1"
    f = funnel_table(ev, ["search", "generation", "edit"], unit="session")
    assert f["entities"].tolist() == [4, 1, 0]
    assert transition_table(ev)[["source", "target", "count"]].values.tolist() == [["search", "generation", 1]]


def test_sessionize_returns_a_copy_even_when_nothing_is_missing():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "search", "s1")])
    keep = ev.copy(deep=True)
    out = sessionize(ev)
    out.loc[0, S.SESSION_ID] = "changed"
    pd.testing.assert_frame_equal(ev, keep)
