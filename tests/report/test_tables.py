"""``write_tables``: the small tables the notebooks write round-trip through CSV and Parquet."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics_lib import WorkbenchError, kpi_table, retention_matrix
from analytics_lib.report.tables import write_tables


def test_write_tables_round_trips(tmp_path, events_20k):
    kpis = kpi_table(events_20k, granularity="W")
    r = retention_matrix(events_20k, granularity="W", periods=4)
    written = write_tables({"kpis": kpis, "retention": r}, tmp_path / "new")
    assert [p.name for p in written] == ["kpis.csv", "kpis.parquet", "retention.csv", "retention.parquet"]
    back = pd.read_parquet(tmp_path / "new" / "kpis.parquet")
    assert back.columns[0] == "period" and back["events"].sum() == len(events_20k)
    csv = pd.read_csv(tmp_path / "new" / "retention.csv")
    assert csv.columns.tolist() == ["cohort", "size", "0", "1", "2", "3"]
    assert not list((tmp_path / "new").glob(".*"))  # no temporary files left
    with pytest.raises(WorkbenchError, match="not a plain file name"):
        write_tables({"../escape": kpis}, tmp_path)
    with pytest.raises(WorkbenchError, match="formats="):
        write_tables({"k": kpis}, tmp_path, formats=("xlsx",))
