"""Dashboard components without a browser: tiles and tables render escaped HTML, charts redraw and
close their figures, live views show errors as messages, filter and forecast bars clip to the
data, assumption panels set scenarios in one refresh. The dashboards themselves are driven in a
real browser by ``test_serve.py``."""
from __future__ import annotations

import datetime as dt

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.dashboards.marts import ALL_TEAMS
from analytics_lib.dashboards.published import load_overview_data
from analytics_lib.dashboards.views import kpi_tiles, mart_kpis, overview_view, roi_view
from analytics_lib.dashboards.widgets import (AssumptionPanel, ChartPanel, FilterBar, ForecastBar, KpiTiles, LiveView,
                                              MessageArea, ProgressPanel, TextPanel, table_html, tile_html)

pytestmark = pytest.mark.usefixtures("isolated_dashboards")  # never the repository's runs or cache


def test_tiles_and_tables_render_escaped_html():
    html_ = tile_html(pd.DataFrame([{"kpi": "x", "label": "<b>", "text": "1", "change_text": "", "tone": "good"}]))
    assert "&lt;b&gt;" in html_ and 'data-kpi="x"' in html_
    t = table_html(pd.DataFrame({"a": [1.23456, np.nan], "when": pd.to_datetime(["2025-01-02", None], utc=True)}),
                   formats={"a": "{:.2f}"}, rename={"a": "A"})
    assert "<th>A</th>" in t and "<td>1.23</td>" in t and "<td>2025-01-02</td>" in t and t.count("–") == 2
    assert "wb-empty" in table_html(pd.DataFrame(), empty="none")
    k = KpiTiles()
    k.show(kpi_tiles(pd.Series({"sessions": 3}), kpis=["sessions"]))
    assert '<div class="wb-tile-value">3</div>' in k.value


def test_chart_panel_redraws_and_closes_figures():
    import matplotlib.pyplot as plt

    panel = ChartPanel(lambda v, color: plt.subplots(figsize=(2, 1))[0], color="red")
    before = len(plt.get_fignums())
    panel.show(1)
    panel.show(2)
    assert len(panel.output.outputs) == 1 and panel.output.outputs[0]["data"]["image/png"].startswith("iVBOR")
    assert len(plt.get_fignums()) == before


def test_live_view_shows_errors_as_messages_and_keeps_the_last_view(mart):
    bar = FilterBar.for_data(mart, start="2025-06-01", end="2025-06-14", team=None, granularity="D")
    tiles, msg, progress, summary = KpiTiles(), MessageArea(), ProgressPanel(), TextPanel()
    view = LiveView(overview_view, mart, controls=bar.controls, outputs={"tiles": tiles, "summary": summary},
                    messages=msg, progress=progress)
    first = tiles.value
    assert msg.value == "" and 'data-refresh="1"' in progress.status.value and view.seconds < 5
    bar.controls["team"].value = "team-b"
    assert tiles.value != first and "team-b" in summary.value and 'data-refresh="2"' in progress.status.value
    shown = tiles.value
    bar.controls["end"].value = dt.date(2025, 5, 20)  # before the start
    assert "wb-message-error" in msg.value and "empty" in msg.value and "Traceback" not in msg.value
    assert tiles.value == shown and 'data-state="error"' in progress.status.value
    with view.hold():
        bar.controls["start"].value = dt.date(2025, 5, 10)
        bar.controls["team"].value = ALL_TEAMS
        assert 'data-refresh="3"' in progress.status.value  # nothing recomputed inside the block
    assert msg.value == "" and 'data-refresh="4"' in progress.status.value and "All teams" in summary.value


def test_live_view_turns_unexpected_errors_into_a_sentence():
    box, msg = widgets.IntText(value=1), MessageArea()
    LiveView(lambda data, n: 1 / (n - 1), 0, controls={"n": box}, outputs={}, messages=msg)
    assert "Something went wrong (ZeroDivisionError: division by zero)" in msg.value


def test_live_view_without_data_is_inert():
    box, msg = widgets.IntText(value=1), MessageArea()
    LiveView(lambda data, n: pytest.fail("must not compute"), None, controls={"n": box}, outputs={}, messages=msg)
    assert box.disabled


def test_message_area_attempt_returns_none_and_explains():
    m = MessageArea()
    assert m.attempt(load_overview_data, "sqlite:////nonexistent/x.db") is None
    assert "does not exist" in m.value


def test_filter_bar_clips_to_the_data():
    bar = FilterBar(teams=["a", "b"], first_day="2025-01-01", last_day="2025-01-31", start="2024-12-01",
                    end="2025-03-01", team="b", granularity="m")
    assert (bar.start.value, bar.end.value, bar.team.value, bar.granularity.value) == \
        (dt.date(2025, 1, 1), dt.date(2025, 1, 31), "b", "M")
    assert FilterBar(teams=[], first_day=None, last_day=None).team.options == (("All teams", ALL_TEAMS),)


def test_forecast_bar_bounds_the_horizon_by_the_history(mart):
    bar = ForecastBar.for_data(mart, granularity="D", n_windows=3, horizon=999, models=["ets"], capacity=500)
    n_days = len(mart_kpis(mart))
    assert bar.horizon.max == (n_days - 7) // 4 and bar.horizon.value == bar.horizon.max
    assert bar.model.value == "ets" and bar.capacity.value == "500"
    with pytest.raises(WorkbenchError, match="metric='nope'"):
        ForecastBar(teams=[], metric="nope")


def test_assumption_panel_scenarios_set_the_controls_in_one_refresh(inputs):
    base = {"hourly_rate": 100.0, "realisation_rate": 0.7, "seats": None, "licence_per_seat": 20.0,
            "infra_per_month": 2000.0, "one_off_cost": 50000.0, "discount_rate": 0.1, "horizon_months": 36}
    scenarios = {"optimistic": {"hourly_rate": 130.0, "realisation_rate": 0.9}, "expected": {}}
    panel = AssumptionPanel(base=base, scenarios=scenarios, max_horizon=inputs.months)
    tiles, msg, progress = KpiTiles(), MessageArea(), ProgressPanel()
    view = LiveView(roi_view, inputs, controls=panel.controls, outputs={"tiles": tiles}, messages=msg,
                    progress=progress, fixed={"n_simulations": 300})
    panel.bind(view)
    panel.picker.value = "optimistic"
    assert panel.controls["hourly_rate"].value == 130.0 and panel.controls["realisation_rate"].value == 0.9
    assert 'data-refresh="2"' in progress.status.value  # the initial one and one for the whole scenario
    assert view.view.assumptions.hourly_rate == 130.0
    panel.controls["hourly_rate"].value = -1.0
    assert panel.picker.value == "custom" and "hourly_rate=-1.0 is out of range" in msg.value
    panel.picker.value = "expected"
    assert panel.controls["hourly_rate"].value == 100.0 and msg.value == ""
