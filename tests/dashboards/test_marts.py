"""The marts give the library's numbers on the raw events (``kpi_table``, ``funnel_table``,
``bottleneck_table``, ``series_from_events``, ``roi_result``...) for any window, team and
granularity, and survive Parquet."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError, funnel_table, kpi_table
from analytics_lib.core.timewindow import TimeWindow
from analytics_lib.dashboards.marts import (FUNNEL_STEPS, MART_TABLES, dashboard_tables, overview_mart_from_tables,
                                            roi_input_tables, roi_inputs_from_tables)
from analytics_lib.dashboards.views import dashboard_window, kpi_totals, mart_funnel, mart_kpis, mart_series

pytestmark = pytest.mark.usefixtures("isolated_dashboards")  # never the repository's runs or cache


KPI_COLUMNS = ["events", "active_users", "sessions", "cache_hit_rate", "error_rate", "latency_p50", "latency_p95",
               "latency_p99", "tokens_in", "tokens_out", "cost_usd", "accepts", "cost_per_accept", "satisfaction"]


def _window_events(events: pd.DataFrame, window: TimeWindow) -> pd.DataFrame:
    return events[(events["ts"] >= window.start) & (events["ts"] < window.end)]


@pytest.mark.parametrize("granularity", ["D", "W", "M"])
@pytest.mark.parametrize("team", [None, "team-b"])
def test_mart_kpis_equal_kpi_table_on_the_raw_events(mart, events, granularity, team):
    sub = events if team is None else events[events["team"] == team]
    expected = kpi_table(sub, granularity=granularity)[KPI_COLUMNS]
    got = mart_kpis(mart, team=team, granularity=granularity)[KPI_COLUMNS]
    pd.testing.assert_frame_equal(got, expected, check_freq=False, check_dtype=False, rtol=1e-9)


def test_mart_kpis_of_a_window_equal_kpi_table_on_the_window(mart, events):
    window = dashboard_window("2025-05-07", "2025-06-02")
    sub = _window_events(events, window)
    sub = sub[sub["team"] == "team-a"]
    expected = kpi_table(sub, granularity="W")[KPI_COLUMNS]
    got = mart_kpis(mart, dates=window, team="team-a", granularity="W")[KPI_COLUMNS]
    pd.testing.assert_frame_equal(got, expected, check_freq=False, check_dtype=False, rtol=1e-9)


def test_kpi_totals_take_the_window_as_one_period(mart, events):
    window = dashboard_window("2025-06-01", "2025-06-14")
    sub = _window_events(events, window)
    sub = sub[sub["team"] == "team-c"]
    got = kpi_totals(mart, dates=window, team="team-c")
    et = sub["event_type"].astype(str)
    cache = sub[(et == "cache_query") & sub["cache_hit"].notna()]
    responses = sub.loc[et.isin(["search", "cache_query", "generation", "error"]), "latency_ms"].dropna()
    assert got["events"] == len(sub)
    assert got["active_users"] == sub["user_id"].nunique()
    assert got["sessions"] == sub["session_id"].nunique()
    assert got["cache_hit_rate"] == pytest.approx(cache["cache_hit"].astype(bool).mean(), rel=1e-12)
    assert got["latency_p95"] == pytest.approx(np.quantile(responses.to_numpy(), 0.95), rel=1e-12)
    assert got["cost_usd"] == pytest.approx(sub["cost_usd"].sum(), rel=1e-9)
    assert got["satisfaction"] == pytest.approx(sub["satisfaction"].mean(), rel=1e-12)


@pytest.mark.parametrize("team", [None, "team-d"])
def test_mart_funnel_equals_funnel_table(mart, events, team):
    sub = events if team is None else events[events["team"] == team]
    expected = funnel_table(sub, FUNNEL_STEPS, unit="session")
    got = mart_funnel(mart, team=team)
    pd.testing.assert_frame_equal(got[["step", "step_name", "entities", "conversion", "step_conversion", "drop_off"]],
                                  expected[["step", "step_name", "entities", "conversion", "step_conversion",
                                            "drop_off"]], check_dtype=False)


def test_mart_funnel_of_a_window_counts_the_sessions_starting_in_it(mart, events):
    window = dashboard_window("2025-06-03", "2025-06-09")
    starts = events[events["event_type"] == "session_start"].groupby("session_id")["ts"].min()
    entered = starts[(starts >= window.start) & (starts < window.end)].index
    expected = funnel_table(events[events["session_id"].isin(entered)], FUNNEL_STEPS, unit="session")
    got = mart_funnel(mart, dates=window)
    assert got["entities"].tolist() == expected["entities"].tolist()
    assert got["entities"].iloc[0] == len(entered)


def test_mart_bottlenecks_are_the_notebook_table_per_team(mart, events):
    from analytics_lib import bottleneck_table

    expected = bottleneck_table(events, granularity="D", by=("event_type", "model", "team"))
    expected = expected[expected["kind"] == "step"]
    assert mart.bottlenecks["name"].tolist() == expected["name"].tolist()
    assert [n.endswith(" / " + t) for n, t in zip(mart.bottlenecks["name"], mart.bottlenecks["team"])] == \
        [True] * len(mart.bottlenecks)


def test_mart_series_equals_series_from_events(mart, events):
    from analytics_lib.forecast.series import series_from_events

    sub = events[events["team"] == "team-a"]
    for metric, (name, agg) in {"events": ("events", "sum"), "users": ("users", "sum"),
                                "sessions": ("sessions", "sum"), "cost_usd": ("cost_usd", "sum")}.items():
        expected = series_from_events(sub, name, agg=agg, granularity="W")
        got = mart_series(mart, metric, team="team-a", granularity="W")
        np.testing.assert_allclose(got["y"].to_numpy(), expected["y"].to_numpy(), rtol=1e-9, err_msg=metric)
        assert (got["ds"].to_numpy() == expected["ds"].to_numpy()).all()


def test_mart_tables_survive_parquet(mart, tmp_path):
    for name in MART_TABLES["overview"]:
        getattr(mart, name).to_parquet(tmp_path / f"{name}.parquet", index=False)
    back = overview_mart_from_tables({n: pd.read_parquet(tmp_path / f"{n}.parquet") for n in MART_TABLES["overview"]})
    pd.testing.assert_frame_equal(mart_kpis(back, team="team-b", granularity="W"),
                                  mart_kpis(mart, team="team-b", granularity="W"))
    assert back.teams == mart.teams and back.last_day == mart.last_day


def test_roi_inputs_survive_parquet(inputs, tmp_path):
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import roi_result
    from analytics_lib.analysis.roi.simulation import roi_simulation

    for name, frame in roi_input_tables(inputs).items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    back = roi_inputs_from_tables({n: pd.read_parquet(tmp_path / f"{n}.parquet") for n in MART_TABLES["roi"]})
    a = Assumptions(hourly_rate=120.0, horizon_months=48)
    r1, r2 = roi_result(inputs, a), roi_result(back, a)
    assert (r1.npv, r1.roi_pct, r1.payback_months) == pytest.approx((r2.npv, r2.roi_pct, r2.payback_months))
    assert roi_simulation(back, a, n=500, seed=1).prob_positive == \
        roi_simulation(inputs, a, n=500, seed=1).prob_positive
    assert back.notes == inputs.notes and back.months == inputs.months


def test_dashboard_tables_names_are_prefixed_and_complete(events):
    tables = dashboard_tables(events.head(5000), parts=["overview"], insights=False)
    assert sorted(tables) == sorted(f"dash_{n}" for n in MART_TABLES["overview"])
    with pytest.raises(WorkbenchError, match="parts"):
        dashboard_tables(events, parts=["nope"])
