"""The workflow figures draw every result, with titles and labelled axes, and survive empty frames."""
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
from analytics_lib.analysis.workflow.experience import session_latency_satisfaction, weekday_hour_table  # noqa: E402
from analytics_lib.report import plots  # noqa: E402


STEPS = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"]]


@pytest.fixture(scope="module")
def results(events_20k):
    """Each plot function with the result it draws (computed once)."""
    events = events_20k
    sv = satisfaction_vs_performance(events)
    return {
        "kpi_trends": (plots.plot_kpi_trends, kpi_table(events, granularity="D"), {}),
        "activity_heatmap": (plots.plot_activity_heatmap, weekday_hour_table(events), {}),
        "funnel": (plots.plot_funnel, funnel_table(events, STEPS, unit="session"), {"unit": "sessions"}),
        "funnel_by_team": (plots.plot_funnel, funnel_table(events, STEPS, unit="user", by="team"), {"unit": "users"}),
        "transitions": (plots.plot_transitions, transition_table(events), {}),
        "bottlenecks": (plots.plot_bottlenecks,
                        bottleneck_table(events, granularity="D", by=("event_type", "model", "team")), {"top": 10}),
        "retention": (plots.plot_retention, retention_matrix(events, granularity="W"), {}),
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


def test_kpi_trends_shade_partial_periods(results):
    _, kpis, _ = results["kpi_trends"]
    marked = kpis.assign(coverage=1.0)
    marked.iloc[[0, -1], marked.columns.get_loc("coverage")] = [0.4, 0.25]
    fig = plots.plot_kpi_trends(marked, metrics=["events", "error_rate"])
    for a in _main_axes(fig):
        assert len(a.patches) == 2, "one shaded span per partial period"
        hollow = [ln for ln in a.get_lines() if ln.get_linestyle() == "None"]
        assert len(hollow) == 1 and len(hollow[0].get_xdata()) == 2
    assert "partial period" in fig.legends[0].get_texts()[0].get_text()
    plain = plots.plot_kpi_trends(kpis.assign(coverage=1.0), metrics=["events"])
    assert not _main_axes(plain)[0].patches and not plain.legends


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
