"""The Dask engine's readers: the same validation as ``load_events`` (cross-piece duplicates, window
and team, quarantine written by the workers), Hive datasets, row-numbered ids, SQL sources read
in index ranges, and the same structural errors.
A ``distributed.LocalCluster`` with two worker processes (not the synchronous scheduler) runs
these tests. The comparisons are exact: counts, distinct counts, percentiles, sessions, paths and
funnels equal the pandas path's; sums of floats (cost, satisfaction) may differ in the last bits
(summation order), so those columns are compared to 1e-12 relative."""
from __future__ import annotations

import pandas as pd
import pytest
from dask_helpers import NOW, _same_kpis, _same_values, _sorted_events

from analytics_lib import WorkbenchError, load_events
from analytics_lib.analysis import workflow as W
from analytics_lib.compute.dask.analyses import collected_events, dask_kpi_table
from analytics_lib.compute.dask.readers import dask_events, write_quarantine


@pytest.fixture(scope="module")
def dirty(tmp_path_factory, cluster):
    """300k events with 1% malformed rows (as a CSV delivers them) plus repeated ids placed in other
    pieces: a valid first occurrence in an earlier piece, an invalid first occurrence, and a first
    occurrence outside the window; written as Parquet in 40k-row groups."""
    from analytics_lib.data.synthetic.events import synthetic_events

    raw = synthetic_events(300_000, days=90, end="2025-06-30", seed=4, malformed_share=0.01).events
    late_copies = raw.iloc[[5, 50_000, 120_000]].copy()            # repeats in later pieces
    invalid_first = raw.iloc[[200_000]].copy()
    invalid_first["latency_ms"] = "-3"                            # quarantined: the later copy is kept
    early = raw[pd.to_datetime(raw["ts"], utc=True, errors="coerce") < pd.Timestamp("2025-05-01", tz="UTC")]
    early_copy = early.iloc[[10]].copy()
    moved = pd.concat([invalid_first, raw, late_copies, early_copy], ignore_index=True)
    path = tmp_path_factory.mktemp("dirty") / "events.parquet"
    moved.to_parquet(path, index=False, row_group_size=40_000)
    return path


@pytest.mark.slow
def test_validation_equals_load_events_with_cross_piece_duplicates(dirty):
    window = dict(start="2025-05-01", end="2025-06-29")
    ref = load_events(dirty, now=NOW, **window)
    lazy = dask_events(dirty, now=NOW, rows_per_partition=40_000, **window)
    assert lazy.events.npartitions == 8
    assert lazy.summary == ref.summary and lazy.summary.reconciles
    assert ref.summary.by_reason["duplicate_event_id"] > 0 and ref.summary.rows_outside_window > 0
    quarantine = lazy.quarantine.compute().sort_values("source_row").reset_index(drop=True)
    pd.testing.assert_frame_equal(quarantine, ref.quarantine)
    _same_values(_sorted_events(lazy), ref.events)


@pytest.mark.slow
def test_quarantine_is_written_by_the_workers_and_counts_reconcile(dirty, tmp_path):
    ref = load_events(dirty, now=NOW, team=["team-a", "team-b"])
    lazy = dask_events(dirty, now=NOW, team=["team-a", "team-b"], rows_per_partition=40_000)
    summary = write_quarantine(lazy, tmp_path / "quarantine")
    assert summary == ref.summary
    assert summary.rows_read == summary.rows_kept + summary.rows_quarantined + summary.rows_outside_window
    files = sorted((tmp_path / "quarantine").glob("*.parquet"))
    assert len(files) == lazy.quarantine.npartitions  # one file per partition, written by the workers
    written = pd.read_parquet(tmp_path / "quarantine").sort_values("source_row", ignore_index=True)
    assert len(written) == summary.rows_quarantined
    assert written["reason"].astype(str).value_counts().to_dict() == \
        {r: n for r, n in ref.summary.by_reason.items() if n}
    assert written["source_row"].tolist() == ref.quarantine["source_row"].tolist()


@pytest.mark.slow
def test_collected_events_equal_load_events_with_window_and_team(dirty):
    """Gathered from the cluster, the clean events are load_events' frame: rows, order, dtypes and
    categories (a team filter leaves other teams' users among user_id's categories in both)."""
    opts = dict(now=NOW, start="2025-05-01", end="2025-06-29", team=["team-a", "team-c"])
    ref = load_events(dirty, **opts)
    lazy = dask_events(dirty, rows_per_partition=40_000, **opts)
    assert lazy.events.npartitions > 1 and len(ref.events) > 10_000
    pd.testing.assert_frame_equal(collected_events(lazy.events.compute()), ref.events, check_exact=True)


def test_hive_dataset_partitioned_by_date_and_row_numbered_ids(tmp_path, cluster, sample_small):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ev = sample_small.events
    folder = tmp_path / "by_date"
    pq.write_to_dataset(pa.Table.from_pandas(ev.assign(date=ev["ts"].dt.strftime("%Y-%m-%d")), preserve_index=False),
                        folder, partition_cols=["date"])
    ref = load_events(folder, now=NOW, start="2025-06-01")
    lazy = dask_events(folder, now=NOW, start="2025-06-01")
    assert lazy.summary == ref.summary and lazy.events.npartitions > 1
    got = _sorted_events(lazy)
    _same_values(got, ref.events)
    assert "date" in got.columns  # the partition key is read as a column, as pyarrow does
    # a log without ids, numbered by position in the whole source: no repeats across pieces
    mapping = {"event_id": "@row", "ts": "time", "user_id": "case", "event_type": "activity"}
    log = ev[["ts", "user_id", "event_type"]].rename(columns={"ts": "time", "user_id": "case", "event_type": "activity"})
    path = tmp_path / "log.parquet"
    log.to_parquet(path, row_group_size=7_000)
    ref = load_events(path, mapping=mapping, now=NOW)
    lazy = dask_events(path, mapping=mapping, now=NOW, rows_per_partition=7_000)
    assert lazy.summary == ref.summary
    _same_values(_sorted_events(lazy), ref.events)


def test_sql_source_is_read_in_index_ranges_with_the_window_pushed_down(tmp_path, cluster, sample_small):
    from analytics_lib import validate_events, write_events

    url = f"sqlite:///{tmp_path / 'store.db'}"
    write_events(validate_events(sample_small.events, now=NOW), url)
    ref = load_events(url, now=NOW, start="2025-05-15", team="team-b")
    lazy = dask_events(url, now=NOW, start="2025-05-15", team="team-b", rows_per_partition=5_000)
    assert lazy.events.npartitions > 1
    assert lazy.summary == ref.summary
    _same_values(_sorted_events(lazy), ref.events)
    _same_kpis(dask_kpi_table(lazy).compute(), W.kpi_table(ref.events))
    with pytest.raises(WorkbenchError, match="no events in"):
        dask_events(url, now=NOW, start="2030-01-01")
    with pytest.raises(WorkbenchError, match="has no table 'nope'"):
        dask_events(url, table="nope")


def test_structural_errors_are_those_of_load_events(tmp_path, sample_small):
    path = tmp_path / "e.parquet"
    sample_small.events.drop(columns="user_id").head(100).to_parquet(path)
    for source in (path, sample_small.events.drop(columns="user_id")):
        with pytest.raises(WorkbenchError, match="missing required columns: user_id"):
            dask_events(source, now=NOW)
    with pytest.raises(WorkbenchError, match="does not exist"):
        dask_events(tmp_path / "missing.parquet")
    with pytest.raises(WorkbenchError, match="is empty"):
        dask_events(sample_small.events.iloc[:0])
    csv = tmp_path / "e.csv"
    sample_small.events.head(10).to_csv(csv, index=False)
    with pytest.raises(WorkbenchError, match="convert CSV to Parquet"):
        dask_events(csv)
    with pytest.raises(WorkbenchError, match="has no team column"):
        dask_events(sample_small.events.drop(columns="team"), team="team-a")
    with pytest.raises(WorkbenchError, match="unknown contract columns"):
        dask_events(path, mapping={"when": "ts"})
    with pytest.raises(WorkbenchError, match="rows_per_partition"):
        dask_events(path, rows_per_partition=0)
