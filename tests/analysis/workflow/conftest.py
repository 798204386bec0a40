"""Fixtures of the workflow tests: the ~50k-event frame with a week cut out and its DuckDB view, the
1M sample with its ground truth (slow tests), and the real pm4py logs."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import NOW

from analytics_lib import load_events, validate_events
from analytics_lib.core import schema as S
from analytics_lib.data.synthetic.events import synthetic_events

sys.path.insert(0, str(Path(__file__).parent))  # for workflow_helpers.py (see tests/conftest.py)
from workflow_helpers import GAP_WEEK, LOGS, MAPPING, PM4PY, duck, raw_log  # noqa: E402


@pytest.fixture(scope="module")
def ev50() -> pd.DataFrame:
    """~50k generated events over 70 days, validated, with the week of GAP_WEEK removed."""
    raw = synthetic_events(50_000, days=70, end="2025-06-30", seed=1).events
    week = (raw[S.TS] >= GAP_WEEK) & (raw[S.TS] < GAP_WEEK + pd.Timedelta(days=7))
    res = validate_events(raw[~week].reset_index(drop=True), now=NOW)
    assert res.summary.rows_quarantined == 0 and len(res.events) > 40_000
    return res.events


@pytest.fixture(scope="module")
def con50(ev50):
    con = duck(ev50)
    # missing values arrive as NULL (not NaN, not the string "nan")
    nulls = con.sql("SELECT count(*) - count(latency_ms), count(*) - count(model), count(*) - count(tokens_in), "
                    "count(*) - count(cache_hit) FROM ev").fetchall()[0]
    assert nulls == tuple(int(ev50[c].isna().sum()) for c in (S.LATENCY_MS, S.MODEL, S.TOKENS_IN, S.CACHE_HIT))
    yield con
    con.close()


@pytest.fixture(scope="session")
def big():
    """1M events with their ground truth, generated once per session (four modules read them; none writes)."""
    data = synthetic_events(1_000_000, seed=0, end="2025-06-30")
    res = validate_events(data.events, now=NOW)
    assert res.summary.rows_quarantined == 0
    return res.events, data.truth


@pytest.fixture(scope="module", params=list(LOGS))
def real_log(request):
    res = load_events(PM4PY / request.param, mapping=MAPPING, now=NOW)
    raw = raw_log(request.param)
    assert res.summary.rows_kept == len(raw) and res.summary.rows_quarantined == 0
    return request.param, res.events, raw
