"""Loading from SQL / CSV / Parquet, column mappings, the idempotent store, and PostgreSQL for real."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import CORPUS, NOW, REAL

from analytics_lib import (WorkbenchError, load_events, read_mapping, read_quarantine, store_summary,
                           validate_events, write_events)

PM4PY = REAL / "eventlogs" / "pm4py"


@pytest.fixture()
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


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


def test_relative_window_against_pinned_now(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    got = load_events(sqlite_url, start="-7d", end="today", now="2025-06-30T12:00Z")
    assert got.events["ts"].min() >= pd.Timestamp("2025-06-23T00:00Z")
    assert got.events["ts"].max() < pd.Timestamp("2025-07-01T00:00Z")
    assert len(got.events) == int(((sample_small.events["ts"] >= "2025-06-23T00:00Z")).sum())


def test_sql_query_with_bound_parameters(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    got = load_events(sqlite_url, query="select * from events where event_type = :t", query_params={"t": "accept"},
                      naive_utc=True, now=NOW)
    assert set(got.events["event_type"].astype(str)) == {"accept"}
    assert len(got.events) == int((sample_small.events["event_type"] == "accept").sum())


def test_parquet_file_and_partitioned_folder(sample_small, tmp_path):
    ev = sample_small.events
    ev.to_parquet(tmp_path / "events.parquet", index=False)
    one = load_events(tmp_path / "events.parquet", now=NOW)
    pd.testing.assert_frame_equal(one.events, ev)
    part = ev.assign(day=ev["ts"].dt.strftime("%Y-%m"))
    part.to_parquet(tmp_path / "parts", partition_cols=["day"], index=False)
    many = load_events(tmp_path / "parts", now=NOW)
    assert sorted(many.events["event_id"]) == sorted(ev["event_id"])
    assert many.summary.rows_quarantined == 0


def test_csv_round_trip_of_dirty_sample(sample_dirty, tmp_path):
    path = tmp_path / "dirty.csv.gz"
    sample_dirty.events.to_csv(path, index=False)
    v = load_events(path, now=NOW)
    assert {k: n for k, n in v.summary.by_reason.items() if n} == \
        {k: n for k, n in sample_dirty.truth.malformed_by_reason.items() if n}
    assert v.summary.rows_read == len(sample_dirty.events) and v.summary.reconciles


# --- mapping ---------------------------------------------------------------------------------
def test_mapping_from_yaml_and_errors(tmp_path):
    assert read_mapping(CORPUS / "pm4py_mapping.yaml")["ts"] == "time:timestamp"
    with pytest.raises(WorkbenchError, match="unknown contract columns: when"):
        read_mapping({"when": "time"})
    bad = tmp_path / "m.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(WorkbenchError, match="must hold"):
        read_mapping(bad)
    with pytest.raises(WorkbenchError, match="does not exist"):
        read_mapping(tmp_path / "nope.yaml")
    with pytest.raises(WorkbenchError, match="does not have: no_such_column"):
        load_events(PM4PY / "running-example.csv", mapping={"ts": "no_such_column"})


@pytest.mark.parametrize("name, cases, activities", [
    ("running-example.csv", 6, 8), ("receipt.csv", 1434, 27), ("roadtraffic100traces.csv", 100, 10)])
def test_real_pm4py_logs_load_without_loss(name, cases, activities):
    raw = pd.read_csv(PM4PY / name)
    v = load_events(PM4PY / name, mapping=CORPUS / "pm4py_mapping.yaml")
    assert v.summary.rows_read == len(raw) == v.summary.rows_kept
    assert v.summary.rows_quarantined == 0
    assert v.events["user_id"].nunique() == cases == raw["case:concept:name"].nunique()
    assert v.events["event_type"].nunique() == activities
    # every activity count survives, and times are converted to UTC
    assert v.events["event_type"].astype(str).value_counts().sort_index().tolist() == \
        raw["concept:name"].value_counts().sort_index().tolist()
    want = pd.to_datetime(raw["time:timestamp"], utc=True, format="ISO8601").sort_values().reset_index(drop=True)
    pd.testing.assert_series_equal(v.events["ts"].reset_index(drop=True), want.dt.as_unit("us"), check_names=False)


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


def test_empty_window_says_so(sample_small, sqlite_url):
    write_events(validate_events(sample_small.events, now=NOW), sqlite_url)
    with pytest.raises(WorkbenchError, match="no events in .* for the window"):
        load_events(sqlite_url, start="2030-01-01", end="2030-01-31", now=NOW)


# --- real-world CSV files: byte-order marks, encodings, ragged rows, NUL bytes, huge lines ----------------
HEADER = "event_id,ts,user_id,event_type,team\n"


def test_a_byte_order_mark_changes_nothing(tmp_path):
    """Spreadsheet exports start with a UTF-8 BOM: ids stay text ('001' is not 1), nothing is quarantined."""
    body = HEADER + "001,2024-03-01T00:00Z,u1,search,a\n1,2024-03-01T00:01Z,u1,search,a\n002,2024-03-01T00:02Z,u2,search,b\n"
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text(body, encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + body.encode())
    a, b = load_events(plain, now=NOW), load_events(bom, now=NOW)
    assert b.summary.rows_kept == 3 and b.summary.rows_quarantined == 0
    assert sorted(b.events["event_id"]) == ["001", "002", "1"]
    pd.testing.assert_frame_equal(a.events, b.events)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_other_encodings_are_read_as_given(tmp_path, encoding):
    body = HEADER + "e1,2024-03-01T00:00Z,José,search,équipe-a\ne2,2024-03-01T00:01Z,Zoë,search,équipe-b\n"
    path = tmp_path / "export.csv"
    path.write_bytes(body.encode(encoding))
    res = load_events(path, now=NOW, encoding=encoding)
    assert sorted(res.events["user_id"].astype(str)) == ["José", "Zoë"]
    assert sorted(res.events["team"].astype(str)) == ["équipe-a", "équipe-b"]
    if encoding != "utf-16":  # as UTF-8 the same bytes are refused with the fix, not mangled
        with pytest.raises(WorkbenchError, match=r"is not utf-8 text .*--encoding latin-1"):
            load_events(path, now=NOW)
    with pytest.raises(WorkbenchError, match="encoding='klingon' is unknown"):
        load_events(path, now=NOW, encoding="klingon")


def test_ragged_rows_and_nul_bytes_are_quarantined_not_the_file(tmp_path):
    """A line with too few or too many fields, or a NUL byte, is one quarantined row with its reason
    and its text; every other row is read, row numbers stay those of the file, counts reconcile."""
    res = load_events(CORPUS / "ragged_rows.csv", now=NOW)
    s = res.summary
    assert s.reconciles and s.rows_read == 7
    assert sorted(res.events["event_id"]) == ["r1", "r4", "r7"]
    assert res.events.set_index("event_id").loc["r4", "team"] == "multi\nline team"  # a quoted newline is a value
    q = res.quarantine.set_index("source_row")
    assert q["reason"].astype(str).to_dict() == {1: "malformed_row", 2: "malformed_row", 4: "nul_character",
                                                 5: "malformed_row"}
    assert q.loc[1, "@raw_line"] == "r2,2024-03-01T00:01Z,u1,search"
    assert q.loc[2, "@raw_line"] == "r3,2024-03-01T00:02Z,u1,search,a,extra,fields"
    assert q.loc[2, "@reader_error"] == "7 fields where the header has 5"
    assert q.loc[4, "user_id"] == "u\x002" and q.loc[4, "reason_column"] == "user_id"
    assert "@raw_line" not in res.events.columns and "@reader_error" not in res.events.columns
    url = f"sqlite:///{tmp_path / 's.db'}"  # the store keeps the raw lines and refuses nothing
    write_events(res, url)
    stored = read_quarantine(url)
    assert len(stored) == 4
    assert {r["@raw_line"] for r in stored["raw"] if r.get("@raw_line")} >= {"r6"}


def test_long_rows_are_read_and_absurd_ones_named(tmp_path):
    """A 3 MB value (a pasted log) is read; a 40 MB line is refused with its line number and what it means."""
    long_value = "x" * 3_000_000
    ok = tmp_path / "long.csv"
    ok.write_text(HEADER + f"e1,2024-03-01T00:00Z,u1,search,{long_value}\ne2,2024-03-01T00:01Z,u1,search,a\n")
    res = load_events(ok, now=NOW)
    assert res.summary.rows_kept == 2 and res.events["team"].astype(str).str.len().max() == 3_000_000
    bad = tmp_path / "huge.csv"
    bad.write_text(HEADER + "e1,2024-03-01T00:00Z,u1,search,a\n" + "e2,2024-03-01T00:01Z,u1,search," + "y" * 40_000_000 + "\n")
    with pytest.raises(WorkbenchError, match=r"line 3 is 40\.0 MB long, more than a row may be"):
        load_events(bad, now=NOW)


def test_cli_ingest_takes_an_encoding(tmp_path):
    from click.testing import CliRunner

    from analytics_lib.cli import main

    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "e1,2024-03-01T00:00Z,José,search,a\n").encode("latin-1"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    bad = CliRunner().invoke(main, ["ingest", str(path), "--into", url])
    assert bad.exit_code == 2 and "--encoding latin-1" in bad.output and "Traceback" not in bad.output
    good = CliRunner().invoke(main, ["ingest", str(path), "--into", url, "--encoding", "latin-1"])
    assert good.exit_code == 0, good.output
    assert load_events(url, now=NOW).events["user_id"].astype(str).tolist() == ["José"]
