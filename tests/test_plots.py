"""Figures draw every result, with titles and labelled axes, and survive empty frames.

Also covers the small tables the figures draw from (``analytics_lib.tables``)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analytics_lib import (WorkbenchError, activity_histogram, bottleneck_table, funnel_table, kpi_table,  # noqa: E402
                           lifecycle_table, metric_table, retention_matrix, satisfaction_vs_performance,
                           transition_table)
from analytics_lib.report import plots  # noqa: E402
from analytics_lib.analysis.workflow.experience import session_latency_satisfaction, weekday_hour_table  # noqa: E402
from analytics_lib.report.tables import write_tables

STEPS = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"]]


@pytest.fixture(scope="module")
def events():
    from analytics_lib.data.synthetic.events import synthetic_events

    return synthetic_events(20_000, days=42, end="2025-06-30", seed=0).events


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def results(events):
    """Each plot function with the result it draws (computed once)."""
    sv = satisfaction_vs_performance(events)
    return {
        "kpi_trends": (plots.plot_kpi_trends, kpi_table(events, granularity="D"), {}),
        "activity_heatmap": (plots.plot_activity_heatmap, weekday_hour_table(events), {}),
        "funnel": (plots.plot_funnel, funnel_table(events, STEPS, unit="session"), {"unit": "sessions"}),
        "funnel_by_team": (plots.plot_funnel, funnel_table(events, STEPS, unit="user", by="team"), {"unit": "users"}),
        "transitions": (plots.plot_transitions, transition_table(events), {}),
        "bottlenecks": (plots.plot_bottlenecks,
                        bottleneck_table(events, period="D", by=("event_type", "model", "team")), {"top": 10}),
        "retention": (plots.plot_retention, retention_matrix(events, cohort="W"), {}),
        "lifecycle": (plots.plot_lifecycle, lifecycle_table(events, granularity="W"), {}),
        "activity_histogram": (plots.plot_activity_histogram, activity_histogram(events), {}),
        "cost_by": (plots.plot_cost_by, metric_table(events, "cost_usd", by="model", granularity="W"), {}),
        "cost_by_two": (plots.plot_cost_by, metric_table(events, "cost_usd", by=["team", "model"]), {}),
        "satisfaction_vs_latency": (plots.plot_satisfaction_vs_latency, session_latency_satisfaction(events),
                                    {"stats": sv}),
    }


CASES = ["kpi_trends", "activity_heatmap", "funnel", "funnel_by_team", "transitions", "bottlenecks", "retention",
         "lifecycle", "activity_histogram", "cost_by", "cost_by_two", "satisfaction_vs_latency"]


def _main_axes(fig: Figure):
    """Axes that are not colorbars and are visible."""
    return [a for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"]


def _assert_labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    axes = _main_axes(fig)
    assert axes
    for a in axes:
        assert a.get_title(), "every panel has a title"
        assert a.get_ylabel(), "every panel has a y label"
    assert any(a.get_xlabel() for a in axes), "the figure has an x label"


@pytest.mark.parametrize("case", CASES)
def test_plot_draws_with_title_and_labels(results, case):
    fn, frame, kw = results[case]
    before = frame.copy()
    fig = fn(frame, **kw)
    _assert_labelled(fig)
    pd.testing.assert_frame_equal(frame, before)  # plots never modify their input
    assert not any(t.get_text() == "no data" for a in fig.axes for t in a.texts)


@pytest.mark.parametrize("case", CASES)
def test_plot_empty_frame_says_no_data(results, case):
    fn, frame, kw = results[case]
    fig = fn(frame.iloc[:0], **{**kw, "stats": None} if "stats" in kw else kw)
    _assert_labelled(fig)
    assert any(t.get_text() == "no data" for a in fig.axes for t in a.texts)


@pytest.mark.parametrize("case", ["activity_heatmap", "funnel", "transitions", "bottlenecks", "retention",
                                  "lifecycle", "activity_histogram", "cost_by", "satisfaction_vs_latency"])
def test_plot_into_given_axes(results, case):
    fn, frame, kw = results[case]
    fig, ax = plt.subplots()
    assert fn(frame, ax=ax, **kw) is fig
    assert ax.get_title()


def test_kpi_trends_panels_and_axes(results):
    _, kpis, _ = results["kpi_trends"]
    fig = plots.plot_kpi_trends(kpis, metrics=["events", ["latency_p50", "latency_p95"], "error_rate"])
    axes = _main_axes(fig)
    assert [a.get_title() for a in axes] == ["Events", "Latency p50 / Latency p95", "Error rate"]
    assert [a.get_ylabel() for a in axes] == ["events", "ms", "% of LLM requests"]
    assert len(axes[1].get_lines()) == 2
    fig2, grid = plt.subplots(1, 2)
    assert plots.plot_kpi_trends(kpis, metrics=["events", "cost_usd"], ax=grid) is fig2
    with pytest.raises(WorkbenchError, match="needs the columns nope"):
        plots.plot_kpi_trends(kpis, metrics=["nope"])
    with pytest.raises(WorkbenchError, match="3 panels need 3 axes"):
        plots.plot_kpi_trends(kpis, metrics=["events", "cost_usd", "sessions"], ax=grid)


def test_funnel_labels_show_counts_and_conversion(results):
    _, funnel, _ = results["funnel"]
    fig = plots.plot_funnel(funnel, unit="sessions")
    texts = [t.get_text() for t in fig.axes[0].texts]
    first = funnel.iloc[0]
    assert texts[0] == f"{first['entities']:,}  (100.0%)"
    assert texts[-1].endswith(f"({funnel['conversion'].iloc[-1]:.1%})")


def test_funnel_segments_are_grouped(results):
    _, funnel, _ = results["funnel_by_team"]
    fig = plots.plot_funnel(funnel, unit="users")
    ax = fig.axes[0]
    assert len(ax.patches) == funnel["team"].nunique() * funnel["step"].nunique()
    assert ax.get_legend().get_title().get_text() == "team"


def test_bottlenecks_draw_top_n_coloured_by_severity(results):
    _, b, _ = results["bottlenecks"]
    fig = plots.plot_bottlenecks(b, top=5)
    ax = fig.axes[0]
    assert len(ax.patches) == 5
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("1. ") and labels[-1].startswith("5. ")
    colors = {tuple(np.round(p.get_facecolor(), 3)) for p in ax.patches}
    assert len(colors) == b.head(5)["severity"].nunique()


def test_retention_drops_columns_beyond_the_data(results):
    _, r, _ = results["retention"]
    fig = plots.plot_retention(r)
    shown = r.drop(columns="size").dropna(axis=1, how="all")
    assert len(fig.axes[0].get_xticks()) == shown.shape[1]
    assert fig.axes[0].texts[0].get_text() == "100%"


def test_transitions_annotate_counts_and_times(results):
    _, tt, _ = results["transitions"]
    fig = plots.plot_transitions(tt)
    assert len(fig.axes[0].texts) == len(tt)
    assert all("\n" in t.get_text() for t in fig.axes[0].texts)


def test_cost_by_leaves_out_all_zero_groups():
    m = pd.DataFrame({"period": pd.to_datetime(["2025-06-02", "2025-06-09"] * 2, utc=True),
                      "model": ["a", "a", None, None], "value": [1.0, 2.0, 0.0, 0.0]})
    fig = plots.plot_cost_by(m)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a"]


# --------------------------------------------------------------------------------------------
# tables the figures draw from
def test_weekday_hour_table(events):
    t = weekday_hour_table(events)
    assert t.shape == (7, 24)
    assert t.index.tolist() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert int(t.to_numpy().sum()) == len(events)
    mon_9 = ((events["ts"].dt.day_of_week == 0) & (events["ts"].dt.hour == 9)).sum()
    assert t.loc["Mon", 9] == mon_9
    assert weekday_hour_table(events.iloc[:0]).to_numpy().sum() == 0


def test_session_latency_satisfaction_matches_the_statistics(events):
    per = session_latency_satisfaction(events)
    assert per.columns.tolist() == ["session_id", "model", "latency_ms", "errors", "satisfaction"]
    assert per["satisfaction"].notna().all() and per["session_id"].is_unique
    sv = satisfaction_vs_performance(events).set_index(["group", "factor"])
    assert sv.loc[("all", "latency_ms"), "sessions"] == per["latency_ms"].notna().sum()
    assert sv.loc[("all", "errors"), "sessions"] == len(per)
    assert session_latency_satisfaction(events.iloc[:0]).empty


def test_write_tables_round_trips(tmp_path, events):
    kpis = kpi_table(events, granularity="W")
    r = retention_matrix(events, cohort="W", periods=4)
    written = write_tables({"kpis": kpis, "retention": r}, tmp_path / "new")
    assert [p.name for p in written] == ["kpis.csv", "kpis.parquet", "retention.csv", "retention.parquet"]
    back = pd.read_parquet(tmp_path / "new" / "kpis.parquet")
    assert back.columns[0] == "period" and back["events"].sum() == len(events)
    csv = pd.read_csv(tmp_path / "new" / "retention.csv")
    assert csv.columns.tolist() == ["cohort", "size", "0", "1", "2", "3"]
    assert not list((tmp_path / "new").glob(".*"))  # no temporary files left
    with pytest.raises(WorkbenchError, match="not a plain file name"):
        write_tables({"../escape": kpis}, tmp_path)
    with pytest.raises(WorkbenchError, match="formats="):
        write_tables({"k": kpis}, tmp_path, formats=("xlsx",))
