"""``transition_table``, ``path_variants`` and ``rework_table``: the real pm4py logs against references
computed directly on the raw CSV, and a user with one session."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import LOGS, TOL, make_events

from analytics_lib import path_variants, rework_table, session_table, transition_table


def test_real_log_transitions_match_raw_csv(real_log):
    name, ev, raw = real_log
    nxt = raw.groupby("case", sort=False)[["act", "t"]].shift(-1)
    pairs = pd.DataFrame({"source": raw["act"], "target": nxt["act"], "case": raw["case"],
                          "dt": (nxt["t"] - raw["t"]).dt.total_seconds()}).dropna(subset=["target"])
    rows = []
    for (a, b), grp in pairs.groupby(["source", "target"]):
        d = grp["dt"].to_numpy()
        rows.append((a, b, len(d), grp["case"].nunique(), 0, np.quantile(d, 0.5), np.quantile(d, 0.9),
                     np.quantile(d, 0.95), d.sum() / 3600))
    want = pd.DataFrame(rows, columns=["source", "target", "count", "users", "sessions", "median_s", "p90_s", "p95_s",
                                       "total_wait_h"])
    want["sessions"] = want["users"]
    got = transition_table(ev)
    assert got.columns.tolist() == want.columns.tolist()
    assert got["count"].is_monotonic_decreasing
    assert got["count"].sum() == len(raw) - raw["case"].nunique()
    g = got.set_index(["source", "target"]).sort_index()
    w = want.set_index(["source", "target"]).sort_index()
    assert g.index.equals(w.index)
    for c in ("count", "users", "sessions"):
        np.testing.assert_array_equal(g[c].to_numpy(), w[c].to_numpy(), err_msg=c)
    for c in ("median_s", "p90_s", "p95_s", "total_wait_h"):
        np.testing.assert_allclose(g[c].to_numpy(), w[c].to_numpy(), err_msg=c, **TOL)


def test_real_log_path_variants_match_raw_csv(real_log):
    name, ev, raw = real_log
    n_cases, n_variants = LOGS[name]
    variants = Counter(raw.groupby("case", sort=False)["act"].agg(tuple))
    assert (sum(variants.values()), len(variants)) == (n_cases, n_variants)   # as the README says
    got = path_variants(ev, top=10_000)
    assert len(got) == n_variants and got["rank"].tolist() == list(range(1, n_variants + 1))
    assert dict(zip(got["path"], got["sessions"])) == {" > ".join(v): n for v, n in variants.items()}
    assert (got["steps"] == got["path"].str.count(" > ") + 1).all()
    assert got["sessions"].is_monotonic_decreasing
    np.testing.assert_allclose(got["share"], got["sessions"] / n_cases)
    assert got["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    top3 = path_variants(ev, top=3)
    assert top3["sessions"].tolist() == got["sessions"].head(3).tolist()


def test_user_with_one_session():
    ev = make_events([
        ("2025-02-03T09:00:00Z", "u1", "session_start"),
        ("2025-02-03T09:01:00Z", "u1", "generation"),
        ("2025-02-03T09:02:00Z", "u1", "edit"),
        ("2025-02-03T09:05:00Z", "u1", "generation"),
        ("2025-02-03T09:29:00Z", "u1", "feedback"),
    ], team=[None, "t1", "t2", "t1", "t1"], model=[None, None, None, "m1", None],
       satisfaction=[None, None, None, None, "3.5"])
    st = session_table(ev)
    assert len(st) == 1
    row = st.iloc[0]
    assert (row["session_id"], row["user_id"], row["team"], row["model"]) == ("u1#1", "u1", "t1", "m1")
    assert pd.isna(row["feature"])
    assert (row["duration_s"], row["n_events"], row["n_steps"], row["n_errors"]) == (29 * 60, 5, 4, 0)
    assert row["rework"] and row["satisfaction"] == 3.5 and row["outcome"] == "abandoned"
    assert row["start"] == pd.Timestamp("2025-02-03T09:00:00Z") and row["end"] == pd.Timestamp("2025-02-03T09:29:00Z")
    tt = transition_table(ev).set_index(["source", "target"])
    assert tt["count"].to_dict() == {("edit", "generation"): 1, ("generation", "edit"): 1,
                                     ("generation", "feedback"): 1, ("session_start", "generation"): 1}
    assert tt.loc[("generation", "feedback"), "median_s"] == 24 * 60
    assert (tt["sessions"] == 1).all() and (tt["users"] == 1).all()
    rw = rework_table(ev).set_index("event_type")
    assert rw.loc["generation", "sessions_repeated"] == 1 and rw.loc["generation", "mean_repeats"] == 1.0
    assert rw.loc["edit", "share"] == 0.0
