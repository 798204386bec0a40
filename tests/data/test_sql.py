"""SQL stores: the idempotent store (``write_events``), the quarantine table (``read_quarantine``),
``store_summary``, window and team pushdown, bound query parameters, clear errors for bad URLs,
missing tables, drivers and queries, and PostgreSQL for real (the same results as SQLite)."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import NOW

from analytics_lib import WorkbenchError, load_events, read_quarantine, store_summary, validate_events, write_events


@pytest.fixture(scope="module")
def dirty_result(sample_dirty):
    return validate_events(sample_dirty.events, now=NOW, source="sample_dirty")


def test_sqlite_round_trip_is_exact(sample_small, sqlite_url):
    v = validate_events(sample_small.events, now=NOW)
    w = write_events(v, sqlite_url)
    assert (w.inserted, w.already_present) == (len(v.events), 0)
    back = load_events(sqlite_url, now=NOW)
    pd.testing.assert_frame_equal(back.events, v.events)
    assert back.summary.rows_quarantined == 0


def test_writing_twice_adds_nothing(dirty_result, sqlite_url):
    first = write_events(dirty_result, sqlite_url)
    second = write_events(dirty_result, sqlite_url)
    assert first.inserted == len(dirty_result.events) and first.quarantine_inserted == len(dirty_result.quarantine)
    assert (second.inserted, second.quarantine_inserted) == (0, 0)
    assert second.already_present == len(dirty_result.events)
    eng = sa.create_engine(sqlite_url)
    with eng.connect() as c:
        assert c.execute(sa.text("select count(*) from events")).scalar() == len(dirty_result.events)
        assert c.execute(sa.text("select count(*) from events_quarantine")).scalar() == len(dirty_result.quarantine)
    eng.dispose()


def test_quarantine_is_stored_with_reasons_and_raw_rows(dirty_result, sample_dirty, sqlite_url):
    write_events(dirty_result, sqlite_url)
    q = read_quarantine(sqlite_url)
    assert q["reason"].value_counts().to_dict() == {k: v for k, v in dirty_result.summary.by_reason.items() if v}
    assert q["reason"].value_counts().to_dict() == {k: v for k, v in sample_dirty.truth.malformed_by_reason.items() if v}
    row = q.iloc[0]
    original = sample_dirty.events.iloc[int(row["source_row"])]
    assert str(row["raw"]["event_id"]) == str(original["event_id"])
    summary = store_summary(sqlite_url).set_index("item")["value"]
    assert summary["events"] == len(dirty_result.events)


def test_partial_overlap_inserts_only_new_events(sample_small, sqlite_url):
    ev = sample_small.events
    half = validate_events(ev.iloc[: len(ev) // 2], now=NOW)
    full = validate_events(ev, now=NOW)
    write_events(half, sqlite_url)
    w = write_events(full, sqlite_url)
    assert w.inserted == len(ev) - len(half.events) and w.already_present == len(half.events)


def test_sql_window_and_team_pushdown(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    ev = sample_small.events
    team = ev["team"].cat.categories[0]
    got = load_events(sqlite_url, start="2025-06-01", end="2025-06-10", team=team, now=NOW)
    want = ev[(ev["ts"] >= "2025-06-01T00:00Z") & (ev["ts"] < "2025-06-11T00:00Z") & (ev["team"] == team)]
    assert got.events["event_id"].tolist() == want["event_id"].tolist()
    assert set(got.events["team"].astype(str)) == {team}
    assert got.summary.reconciles


def test_sql_query_with_bound_parameters(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    got = load_events(sqlite_url, query="select * from events where event_type = :t", query_params={"t": "accept"},
                      naive_utc=True, now=NOW)
    assert set(got.events["event_type"].astype(str)) == {"accept"}
    assert len(got.events) == int((sample_small.events["event_type"] == "accept").sum())


# --- structural errors through SQL ------------------------------------------------------------
def test_bad_url_missing_table_and_driver(tmp_path):
    for bad in ("://nothing", "sqlite:://x", "postgresql://u@h:notaport/db"):
        with pytest.raises(WorkbenchError, match="not a database URL"):
            load_events(bad)
    with pytest.raises(WorkbenchError, match="empty.db does not exist"):  # a typo never reads as an empty store
        load_events(f"sqlite:///{tmp_path / 'empty.db'}")
    assert not (tmp_path / "empty.db").exists()
    sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}").connect().close()  # an existing, empty database
    with pytest.raises(WorkbenchError, match="has no table 'events'"):
        load_events(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(WorkbenchError, match="no database driver"):
        load_events("oracle+nosuchdriver://u@h/db")


def test_bad_query_is_a_clear_error(tmp_path, sample_small):
    url = f"sqlite:///{tmp_path / 's.db'}"
    write_events(validate_events(sample_small.events.head(100), now=NOW), url)
    with pytest.raises(WorkbenchError, match="could not read events"):
        load_events(url, query="select * from nowhere")


def test_password_never_shown(tmp_path):
    with pytest.raises(WorkbenchError) as info:
        load_events("postgresql+psycopg://alice:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(info.value)


# --- PostgreSQL, for real --------------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_path_equals_sqlite_path(pg_url, dirty_result, sqlite_url):
    w_pg = write_events(dirty_result, pg_url)
    w_lite = write_events(dirty_result, sqlite_url)
    assert w_pg == w_lite
    assert write_events(dirty_result, pg_url).inserted == 0  # idempotent on PostgreSQL too
    from_pg = load_events(pg_url, now=NOW)
    from_lite = load_events(sqlite_url, now=NOW)
    pd.testing.assert_frame_equal(from_pg.events, from_lite.events)
    pd.testing.assert_frame_equal(from_pg.events, dirty_result.events)
    team = dirty_result.events["team"].cat.categories[1]
    a = load_events(pg_url, start="2025-05-01", end="2025-05-31", team=team, now=NOW).events
    b = load_events(sqlite_url, start="2025-05-01", end="2025-05-31", team=team, now=NOW).events
    pd.testing.assert_frame_equal(a, b)
    assert len(a) > 0
    qa, qb = read_quarantine(pg_url), read_quarantine(sqlite_url)
    assert qa["quarantine_id"].tolist() == qb["quarantine_id"].tolist()
    assert [json.dumps(r, sort_keys=True) for r in qa["raw"]] == [json.dumps(r, sort_keys=True) for r in qb["raw"]]
