"""validate_events: every quarantine reason, every structural error, and properties that always hold."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import CORPUS, NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_lib import WorkbenchError, load_events, validate_events
from analytics_lib.core import schema as S


@pytest.fixture(scope="module")
def corpus():
    return load_events(CORPUS / "bad_rows.csv", now=NOW)


def test_each_corpus_row_gets_its_expected_reason(corpus):
    raw = pd.read_csv(CORPUS / "bad_rows.csv", dtype=str, keep_default_na=False)
    expected_bad = raw.index[raw["expect"] != "ok"].tolist()
    q = corpus.quarantine
    assert q["source_row"].tolist() == expected_bad
    assert q["reason"].astype(str).tolist() == raw.loc[expected_bad, "expect"].tolist()
    assert sorted(corpus.events["event_id"]) == sorted(raw.loc[raw["expect"] == "ok", "event_id"])


def test_corpus_covers_every_reason(corpus):
    reader = load_events(CORPUS / "ragged_rows.csv", now=NOW)  # what only a file can hold: lines that do not split
    found = {r for s in (corpus.summary, reader.summary) for r, n in s.by_reason.items() if n}
    assert found == set(S.REASONS)


def test_quarantine_keeps_rows_untouched(corpus):
    raw = pd.read_csv(CORPUS / "bad_rows.csv", dtype=str, keep_default_na=False).replace("", None)
    q = corpus.quarantine
    original = raw.iloc[q["source_row"]].reset_index(drop=True)
    kept = q[raw.columns].replace("", None)
    pd.testing.assert_frame_equal(kept.astype(object), original.astype(object), check_dtype=False)


def test_reason_column_names_the_culprit(corpus):
    q = corpus.quarantine.set_index("event_id")
    assert q.loc["e16", "reason_column"] == "tokens_in"
    assert q.loc["e19", "reason_column"] == "cache_hit"
    assert q.loc["e25", "reason_column"] == "manual_minutes"


def test_summary_reconciles_and_reports_unknown_types(corpus):
    s = corpus.summary
    assert s.rows_read == 30 and s.rows_kept == 8 and s.rows_quarantined == 22
    assert s.reconciles
    assert s.unknown_event_types == {"quantum_leap": 1}
    assert s.by_reason[S.WRONG_TYPE] == 6 and s.by_reason[S.MISSING_REQUIRED] == 4


def test_clean_frame_has_contract_types_and_values(corpus):
    ev = corpus.events.set_index("event_id")
    assert {c: str(t) for c, t in corpus.events.dtypes.items() if c in S.DTYPES} == S.DTYPES
    assert ev.loc["e03", "ts"] == pd.Timestamp("2024-03-01T09:00:06Z")  # +01:00 converted to UTC
    assert ev.loc["e02", "cache_hit"] is True or ev.loc["e02", "cache_hit"] == True  # noqa: E712
    assert ev.loc["e28", "success"] == False  # noqa: E712  ("0" is false)
    assert ev.loc["e03", "tokens_in"] == 1200 and ev.loc["e03", "cost_usd"] == pytest.approx(0.0105)
    assert corpus.events["ts"].is_monotonic_increasing
    assert "expect" in corpus.events.columns  # extra source columns travel along


def test_first_valid_duplicate_is_kept():
    # e21's first occurrence is invalid (negative latency): the later valid one is kept
    raw = pd.DataFrame({"event_id": ["x", "x", "x"], "ts": ["2024-01-01T00:00Z"] * 3, "user_id": "u",
                        "event_type": "search", "latency_ms": ["-1", "5", "6"]})
    v = validate_events(raw, now=NOW)
    assert v.events["latency_ms"].tolist() == [5.0]
    assert v.quarantine["reason"].astype(str).tolist() == ["negative_value", "duplicate_event_id"]


def test_naive_times_with_naive_utc_are_read_as_utc():
    v = load_events(CORPUS / "naive_only.csv", naive_utc=True, now=NOW)
    assert v.events["ts"].iloc[0] == pd.Timestamp("2024-03-01T09:00Z")


def test_typed_input_passes_through(sample_small):
    ev = sample_small.events
    v = validate_events(ev, now=NOW)
    assert v.summary.rows_quarantined == 0
    pd.testing.assert_frame_equal(v.events, ev)


def test_window_counts_rows_outside(sample_small):
    from analytics_lib import time_window

    w = time_window("2025-06-01", "2025-06-07")
    v = validate_events(sample_small.events, dates=w, now=NOW)
    assert v.events["ts"].min() >= w.start and v.events["ts"].max() < w.end
    assert v.summary.rows_outside_window == len(sample_small.events) - len(v.events)
    assert v.summary.reconciles


# --- structural errors: one exception type, a message that says what to fix ------------------
@pytest.mark.parametrize("name, message", [
    ("missing_column.csv", "missing required columns: event_type"),
    ("empty.csv", "is empty"),
    ("header_only.csv", "is empty: it holds no rows"),
    ("naive_only.csv", "carry no time zone"),
    ("broken.parquet", "could not read"),
    ("unbalanced_quote.csv", "opens a quoted value that never closes"),
    ("does_not_exist.csv", "does not exist"),
])
def test_structural_errors_from_files(name, message):
    with pytest.raises(WorkbenchError, match=message):
        load_events(CORPUS / name, now=NOW)


def test_structural_error_for_typed_naive_timestamps():
    df = pd.DataFrame({"event_id": ["a"], "ts": pd.to_datetime(["2024-01-01"]), "user_id": ["u"], "event_type": ["x"]})
    with pytest.raises(WorkbenchError, match="naive_utc=True"):
        validate_events(df)


def test_not_a_frame():
    with pytest.raises(WorkbenchError, match="must be a pandas DataFrame"):
        validate_events([{"event_id": 1}])  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------
_good = st.fixed_dictionaries({
    "event_id": st.text("abcdef0123456789", min_size=1, max_size=6),
    "ts": st.datetimes(min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
                       max_value=pd.Timestamp("2025-01-01").to_pydatetime()).map(lambda d: d.isoformat() + "+00:00"),
    "user_id": st.sampled_from(["u1", "u2", "u3"]),
    "event_type": st.sampled_from(list(S.EVENT_TYPES) + ["custom"]),
    "latency_ms": st.one_of(st.none(), st.floats(0, 1e5).map(repr)),
    "tokens_in": st.one_of(st.none(), st.integers(0, 10**6).map(str)),
    "success": st.one_of(st.none(), st.sampled_from(["true", "false", "1", "0"])),
    "satisfaction": st.one_of(st.none(), st.sampled_from(["1", "2.5", "5"])),
})
_corruptions = {
    "missing_required": ("user_id", st.sampled_from(["", "  ", None])),
    "unparsable_timestamp": ("ts", st.sampled_from(["garbage", "2024-02-31T00:00:00+00:00", "31/31/2024"])),
    "future_timestamp": ("ts", st.just("2999-01-01T00:00:00+00:00")),
    "wrong_type": ("latency_ms", st.sampled_from(["fast", "1,5", "NaNx"])),
    "negative_value": ("tokens_in", st.integers(-1000, -1).map(str)),
    "out_of_range": ("satisfaction", st.sampled_from(["0", "5.5", "-1"])),
}
_bad = st.tuples(_good, st.sampled_from(sorted(_corruptions))).flatmap(
    lambda t: _corruptions[t[1]][1].map(lambda v: ({**t[0], _corruptions[t[1]][0]: v}, t[1])))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_good.map(lambda r: (r, "ok")), _bad), min_size=1, max_size=40))
def test_properties_counts_reconcile_and_valid_rows_survive(rows):
    records = [r for r, _ in rows]
    df = pd.DataFrame(records)
    v = validate_events(df, now=NOW)
    s = v.summary
    # counts always reconcile
    assert s.rows_read == len(rows) == s.rows_kept + s.rows_quarantined
    assert sum(s.by_reason.values()) == s.rows_quarantined
    # every corrupted row is quarantined, with its reason
    q = v.quarantine.set_index("source_row")["reason"].astype(str)
    for i, (_, label) in enumerate(rows):
        if label != "ok":
            assert q.get(i) == label
    # no valid row is quarantined unless it repeats the id of an earlier valid row
    seen: set[str] = set()
    for i, (r, label) in enumerate(rows):
        if label == "ok":
            assert q.get(i) == ("duplicate_event_id" if r["event_id"] in seen else None)
            seen.add(r["event_id"])
    # the clean frame always satisfies the contract
    ev = v.events
    assert ev["event_id"].is_unique
    assert {c: str(t) for c, t in ev.dtypes.items()} == S.DTYPES
    assert ev["ts"].is_monotonic_increasing
    assert (ev["latency_ms"].dropna() >= 0).all() and (ev["tokens_in"].dropna() >= 0).all()
    assert ev["satisfaction"].dropna().between(1, 5).all()
    assert ev[list(S.REQUIRED)].notna().all().all()


def test_many_categories_and_blank_categories():
    # 300 users as a categorical (int16 codes) plus a blank team category: blank -> NA, categories sorted
    users = [f"u{i:03d}" for i in range(300)][::-1]
    df = pd.DataFrame({"event_id": [f"e{i:04d}" for i in range(300)], "ts": ["2024-01-01T00:00Z"] * 300,
                       "user_id": pd.Categorical(users), "event_type": "search",
                       "team": pd.Categorical(["core", " "] * 150, categories=[" ", "core", "unused"])})
    v = validate_events(df, now=NOW)
    assert v.summary.rows_kept == 300
    assert list(v.events["user_id"].cat.categories) == sorted(users)
    assert list(v.events["team"].cat.categories) == ["core"]
    assert v.events["team"].isna().sum() == 150
    assert sorted(v.events["user_id"].astype(str)) == sorted(users)


def test_unsorted_and_tied_ids_find_the_same_duplicates():
    ids = ["b", "a", "c", "a", "b", "d"]
    base = {"ts": ["2024-01-01T00:00Z"] * 6, "user_id": "u", "event_type": "search"}
    shuffled = validate_events(pd.DataFrame({"event_id": ids, **base}), now=NOW)
    assert shuffled.quarantine["source_row"].tolist() == [3, 4]
    ordered = validate_events(pd.DataFrame({"event_id": sorted(ids), **base}), now=NOW)
    assert ordered.quarantine["source_row"].tolist() == [1, 3]
