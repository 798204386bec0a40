"""What every workflow function promises: invalid arguments raise a WorkbenchError, inputs are never
modified, and results do not depend on the frame's index."""
from __future__ import annotations

import pandas as pd
import pytest
from workflow_helpers import WORKFLOW, make_events

from analytics_lib import (WorkbenchError, active_users, activity_histogram, bottleneck_table, funnel_table,
                           kpi_table, lifecycle_table, metric_table, path_variants, retention_matrix, rework_table,
                           satisfaction_vs_performance, session_table, sessionize, transition_table)
from analytics_lib.core import schema as S
from analytics_lib.core.timewindow import period_start


@pytest.mark.parametrize("call", [
    lambda ev: funnel_table(ev, ["search", "generation"], mode="loose"),
    lambda ev: funnel_table(ev, ["search"]),
    lambda ev: funnel_table(ev, []),
    lambda ev: funnel_table(ev, ["search", []]),
    lambda ev: funnel_table(ev, ["search", "generation"], unit="team"),
    lambda ev: funnel_table(ev, ["search", "generation"], within="-1D"),
    lambda ev: funnel_table(ev, ["search", "generation"], by="nope"),
    lambda ev: kpi_table(ev, granularity="Q"),
    lambda ev: kpi_table(ev, granularity="H"),
    lambda ev: metric_table(ev, "cost_usd", granularity="Y"),
    lambda ev: metric_table(ev, "cost_usd", by="nope"),
    lambda ev: metric_table(ev, "cost_usd", by=["team", "nope"]),
    lambda ev: metric_table(ev, "cost_usd", filters={"nope": "x"}),
    lambda ev: metric_table(ev, "nope"),
    lambda ev: metric_table(ev, "cost_usd", agg="median"),
    lambda ev: retention_matrix(ev, granularity="D"),
    lambda ev: retention_matrix(ev, mode="later"),
    lambda ev: retention_matrix(ev, cohort_type="cumulative"),
    lambda ev: path_variants(ev, top=0),
    lambda ev: sessionize(ev, gap="soon"),
    lambda ev: session_table(ev, gap="0min"),
    lambda ev: bottleneck_table(ev, by=("nope",)),
    lambda ev: lifecycle_table(ev, granularity="X"),
])
def test_invalid_arguments_raise_workbench_error(call):
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "search"), ("2025-01-01T10:01:00Z", "u1", "generation")])
    with pytest.raises(WorkbenchError):
        call(ev)


# ============================================================================================
# inputs are never modified
ALL_CALLS = {
    "kpi_table": lambda ev: kpi_table(ev, granularity="W"),
    "active_users": active_users,
    "metric_table": lambda ev: metric_table(ev, "latency_ms", agg="p95", by=["team", "model"],
                                            filters={"event_type": ["generation", "error"]}),
    "funnel_sequential": lambda ev: funnel_table(ev, WORKFLOW, unit="session", by="team"),
    "funnel_strict": lambda ev: funnel_table(ev, WORKFLOW[:3], unit="user", mode="strict"),
    "funnel_any": lambda ev: funnel_table(ev, WORKFLOW[:3], unit="session", mode="any"),
    "sessionize": sessionize,
    "session_table": session_table,
    "transition_table": transition_table,
    "path_variants": path_variants,
    "rework_table": rework_table,
    "bottleneck_table": lambda ev: bottleneck_table(ev, by=("event_type", "team"), granularity="W"),
    "retention_matrix": lambda ev: retention_matrix(ev, mode="on_or_after", cohort_type="recurring"),
    "lifecycle_table": lifecycle_table,
    "activity_histogram": activity_histogram,
    "satisfaction_vs_performance": satisfaction_vs_performance,
    "period_start": lambda ev: period_start(ev[S.TS], "M"),
}


@pytest.fixture(scope="module")
def partly_sessionless(ev50):
    """The 50k frame with a non-range index and every third session_id missing."""
    ev = ev50.iloc[:20_000].copy()
    ev.loc[ev.index % 3 == 0, S.SESSION_ID] = None
    ev.index = ev.index * 2 + 7
    return ev


@pytest.mark.parametrize("name", list(ALL_CALLS))
def test_inputs_are_not_modified(partly_sessionless, name):
    ev = partly_sessionless
    before = ev.copy(deep=True)
    out = ALL_CALLS[name](ev)
    assert out is not ev
    pd.testing.assert_frame_equal(ev, before, check_exact=True)
    assert ev[S.SESSION_ID].isna().sum() == before[S.SESSION_ID].isna().sum() > 0


@pytest.mark.parametrize("name", list(ALL_CALLS))
def test_results_do_not_depend_on_the_index(partly_sessionless, name):
    """A frame with a non-range index gives the same result as the same rows with a RangeIndex."""
    got = ALL_CALLS[name](partly_sessionless)
    want = ALL_CALLS[name](partly_sessionless.reset_index(drop=True))
    if name == "sessionize":
        assert got.index.equals(partly_sessionless.index)
        got = got.reset_index(drop=True)
    if isinstance(got, pd.Series):
        got, want = got.reset_index(drop=True), want.reset_index(drop=True)
        pd.testing.assert_series_equal(got, want)
    else:
        pd.testing.assert_frame_equal(got, want)
