"""Reading event files: Parquet files and partitioned folders, a dirty CSV round trip, and real-world
CSV files: byte-order marks, encodings, ragged rows, NUL bytes, huge lines."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import CORPUS, NOW

from analytics_lib import WorkbenchError, load_events, read_quarantine, write_events


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
