"""Incremental ingest: only what is new (new files, the new lines of a grown file, rows past a
table's watermark), each event exactly once in a SQL store and in a folder store, every batch
recorded with counts that reconcile, and runs killed with SIGKILL at random points then resumed:
nothing lost, nothing doubled."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analytics_lib import load_events, validate_events, write_events
from analytics_lib.data.incremental import ingest_batches, ingest_incremental
from analytics_lib.data.synthetic.events import synthetic_events

WORKBENCH = Path(sys.executable).parent / "workbench"


def _write_files(folder: Path, n_files: int, per_file: int, seed: int = 0) -> pd.DataFrame:
    """CSV exports with a few malformed rows each; returns the raw rows of all files."""
    raw = synthetic_events(n_files * per_file, days=28, seed=seed, end="2025-06-30", malformed_share=0.01).events
    folder.mkdir(parents=True, exist_ok=True)
    n = len(raw) // n_files
    for i in range(n_files):
        raw.iloc[i * n: len(raw) if i == n_files - 1 else (i + 1) * n].to_csv(
            folder / f"events-{i:02d}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S.%f+00:00")
    return raw


def _expected(folder: Path) -> tuple[int, int]:
    """Clean events (unique ids) and quarantined rows of the files, read one by one."""
    ids, quarantined = set(), 0
    for f in sorted(folder.glob("*.csv")):
        res = load_events(f)
        ids.update(res.events["event_id"].astype(str))
        quarantined += len(res.quarantine)
    return len(ids), quarantined


def _stored(into: str) -> tuple[int, int, int]:
    """Events, distinct event ids and quarantined rows in a store (SQL or folder)."""
    if "://" in into:
        import sqlalchemy as sa

        eng = sa.create_engine(into)
        with eng.connect() as c:
            n, d = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events")).one()
            q = c.execute(sa.text("SELECT COUNT(*) FROM events_quarantine")).scalar()
        eng.dispose()
        return n, d, q
    ev = pd.read_parquet(into)
    qdir = Path(into) / "_quarantine"
    q = len(pd.read_parquet(qdir)) if any(qdir.glob("*.parquet")) else 0
    return len(ev), ev["event_id"].nunique(), q


@pytest.mark.parametrize("kind", ["sql", "folder"])
def test_only_what_is_new_is_taken_once(tmp_path, kind):
    src = tmp_path / "exports"
    _write_files(src, 3, 2_000)
    into = f"sqlite:///{tmp_path / 'store.db'}" if kind == "sql" else str(tmp_path / "store")
    first = ingest_incremental(src, into)
    assert [b.item for b in first] == ["events-00.csv", "events-01.csv", "events-02.csv"]
    for b in first:
        assert b.rows_read == b.inserted + b.already_present + b.quarantined + b.outside_window
    assert ingest_incremental(src, into) == []  # nothing new
    # a new file, and lines appended to an old one (the first half of a line is not taken yet)
    more = synthetic_events(1_000, days=28, seed=9, end="2025-07-30").events.iloc[:1_000]
    more["event_id"] = "m-" + more["event_id"].astype(str)  # ids of their own
    more.iloc[:400].to_csv(src / "events-03.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S.%f+00:00")
    lines = more.iloc[400:].to_csv(index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S.%f+00:00")
    with open(src / "events-01.csv", "a") as f:
        f.write(lines + "e-partial,2025-07")
    size = (src / "events-01.csv").stat().st_size
    second = ingest_incremental(src, into)
    assert second[0].item.startswith("events-01.csv bytes ") and second[1].item == "events-03.csv"
    assert second[0].rows_read == 600 and second[1].rows_read == 400
    with open(src / "events-01.csv", "a") as f:  # the line is completed
        f.write("-29T10:00:00+00:00,u-new,generation\n")
    [third] = ingest_incremental(src, into)
    assert third.rows_read == 1 and (src / "events-01.csv").stat().st_size > size
    n, distinct, q = _stored(into)
    clean, quarantined = _expected(src)
    assert n == distinct == clean and q == quarantined
    b = ingest_batches(into)
    assert len(b) == 6 and int(b["rows_read"].sum()) == n + q + int(b["already_present"].sum())
    assert int(b["inserted"].sum()) == n and int(b["quarantined"].sum()) == q
    if kind == "folder":  # the folder store is an events source like any other
        assert load_events(into).summary.rows_kept == n


@pytest.mark.parametrize("kind", ["sql", "folder"])
def test_a_file_rewritten_twice_keeps_every_event(tmp_path, kind):
    """A Parquet export replaced by a longer one, twice: its stored events are recognised, the new
    ones added, and no part of the store is replaced by a later read of the same file."""
    ev = synthetic_events(3_000, days=28, seed=5, end="2025-06-30", malformed_share=0).events
    src, into = tmp_path / "exports", f"sqlite:///{tmp_path / 'store.db'}" if kind == "sql" else str(tmp_path / "store")
    src.mkdir()
    before = 0
    for i, n in enumerate((1_000, 2_000, len(ev))):
        ev.iloc[:n].to_parquet(src / "events.parquet", index=False)
        os.utime(src / "events.parquet", ns=(10**18 + i, 10**18 + i))  # a new mtime, whatever the clock's resolution
        [b] = ingest_incremental(src, into)
        assert (b.inserted, b.already_present) == (n - before, before), b
        before = n
    assert _stored(into)[:2] == (len(ev), len(ev))
    if kind == "folder":
        assert len(list((tmp_path / "store").glob("part-*.parquet"))) == 3
        assert not list((tmp_path / "store").glob(".part-*"))  # nothing staged is left behind


def test_a_table_is_read_past_its_watermark(tmp_path):
    ev = synthetic_events(3_000, days=28, seed=4, end="2025-06-30").events.sort_values("ts")
    src = f"sqlite:///{tmp_path / 'source.db'}"
    write_events(validate_events(ev.iloc[:2_000]), src)
    into = f"sqlite:///{tmp_path / 'store.db'}"
    [a] = ingest_incremental(src, into)
    assert a.rows_read == 2_000 and a.inserted == 2_000
    assert ingest_incremental(src, into) == []
    write_events(validate_events(ev.iloc[2_000:]), src)
    [b] = ingest_incremental(src, into)
    assert b.inserted == len(ev) - 2_000 and b.already_present >= 1  # the rows at the watermark, read again
    assert _stored(into)[:2] == (len(ev), len(ev))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sql", "folder"])
def test_killed_at_random_points_and_resumed_nothing_is_lost_or_doubled(tmp_path, kind):
    src = tmp_path / "exports"
    _write_files(src, 10, 4_000, seed=1)
    into = f"sqlite:///{tmp_path / 'store.db'}" if kind == "sql" else str(tmp_path / "store")
    cmd = [str(WORKBENCH), "ingest", str(src), "--into", into, "--incremental"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(rng.randint(0, 1)):  # wait for a committed batch or two, then kill during the next one
            if not proc.stdout.readline():
                break
        time.sleep(rng.uniform(0, 0.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    assert kills >= 4  # most runs were killed before they finished
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert "nothing new" in again.stdout
    n, distinct, q = _stored(into)
    clean, quarantined = _expected(src)
    assert n == distinct == clean and q == quarantined
    b = ingest_batches(into)
    assert int(b["inserted"].sum()) == n and int(b["quarantined"].sum()) == q
    assert sorted(set(b["item"])) == [f"events-{i:02d}.csv" for i in range(10)]  # each file once
    assert len(b) == 10
    if kind == "folder":
        assert not list(Path(into).rglob(".*.tmp"))  # a part half-written by a killed run was replaced
