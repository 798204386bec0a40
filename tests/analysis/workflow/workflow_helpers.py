"""Helpers shared by the workflow tests: constants, handmade validated frames, and the DuckDB
connection the SQL references run on; the pm4py logs as given (references computed on the raw CSV)."""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from conftest import CORPUS, NOW, REAL

from analytics_lib import validate_events
from analytics_lib.core import schema as S


PM4PY = REAL / "eventlogs" / "pm4py"
MAPPING = CORPUS / "pm4py_mapping.yaml"
TOL = dict(rtol=1e-9, atol=1e-9)
UNIT = {"D": "day", "W": "week", "M": "month"}


# the generator's workflow, as funnel steps
WORKFLOW = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"], "deploy"]
GAP_WEEK = pd.Timestamp("2025-05-12", tz="UTC")  # a Monday inside the 50k frame's window; cut out entirely


def make_events(rows, **columns) -> pd.DataFrame:
    """A validated frame from ``(ts, user_id, event_type[, session_id])`` tuples (ISO ts, Z)."""
    data = {
        "event_id": [f"x{i:04d}" for i in range(len(rows))],
        "ts": [r[0] for r in rows],
        "user_id": [r[1] for r in rows],
        "event_type": [r[2] for r in rows],
    }
    if any(len(r) > 3 for r in rows):
        data["session_id"] = [r[3] if len(r) > 3 else None for r in rows]
    data.update(columns)
    res = validate_events(pd.DataFrame(data), now=NOW)
    assert res.summary.rows_quarantined == 0
    return res.events


def duck(events: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with view ``ev``: plain strings, naive-UTC ``ts``, ``ts_us`` and row number ``rn``."""
    df = pd.DataFrame({"rn": np.arange(len(events), dtype=np.int64)})
    for c in events.columns:
        s = events[c]
        if c == S.TS:
            df[c] = s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]").to_numpy()
        elif isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            df[c] = s.astype(object).where(s.notna(), None).to_numpy()
        else:
            df[c] = s.to_numpy() if not pd.api.types.is_extension_array_dtype(s.dtype) else s.array
    con = duckdb.connect()
    con.register("ev_raw", pa.Table.from_pandas(df, preserve_index=False))
    con.execute("CREATE VIEW ev AS SELECT *, epoch_us(ts) AS ts_us FROM ev_raw")
    return con


def sql_list(types) -> str:
    types = (types,) if isinstance(types, str) else tuple(types)
    return ", ".join("'" + t.replace("'", "''") + "'" for t in types)


def utc(col: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(col)).tz_localize("UTC")


LOGS = {"running-example.csv": (6, 6), "receipt.csv": (1434, 116), "roadtraffic100traces.csv": (100, 10)}


def raw_log(name: str) -> pd.DataFrame:
    """The CSV as given: each case ordered by time, then row order."""
    raw = pd.read_csv(PM4PY / name, dtype=str, keep_default_na=False)
    df = pd.DataFrame({"case": raw["case:concept:name"], "act": raw["concept:name"],
                       "t": pd.to_datetime(raw["time:timestamp"], utc=True, format="ISO8601"),
                       "row": np.arange(len(raw))})
    return df.sort_values(["case", "t", "row"], kind="stable").reset_index(drop=True)
