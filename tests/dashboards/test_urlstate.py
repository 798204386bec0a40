"""Shareable views without a browser: ShareLink restores the controls from a query string, ignores
what a control cannot take with an escaped note, and keeps the query of the current values (the
browser side, the address bar and a reload, is driven in ``test_serve.py``)."""
from __future__ import annotations

import datetime as dt
import urllib.parse

import ipywidgets as widgets
import pytest

from analytics_lib.dashboards.urlstate import ShareLink, control_value, page_query
from analytics_lib.dashboards.widgets import AssumptionPanel, FilterBar, ForecastBar
from analytics_lib import WorkbenchError


def _bar() -> FilterBar:
    return FilterBar(teams=["team-a", "team-b"], first_day="2025-05-01", last_day="2025-06-29", start="2025-06-01",
                     end="2025-06-29", team=None, granularity="D")


def test_a_link_restores_every_control_and_follows_changes():
    bar = _bar()
    link = ShareLink(bar.controls, limits=bar.limits,
                     query="token=abc&start=2025-05-10&end=2025-05-31&team=team-b&granularity=W&utm=x")
    assert (bar.start.value, bar.end.value, bar.team.value, bar.granularity.value) == \
        (dt.date(2025, 5, 10), dt.date(2025, 5, 31), "team-b", "W")
    assert link.ignored == {} and "wb-share-note" not in link.note.value
    assert dict(urllib.parse.parse_qsl(link.query)) == {"start": "2025-05-10", "end": "2025-05-31", "team": "team-b",
                                                        "granularity": "W"}  # never the token or others
    bar.granularity.value = "M"
    assert "granularity=M" in link.note.value and 'data-keys="start,end,team,granularity"' in link.note.value


def test_bad_values_are_ignored_with_an_escaped_note():
    bar = _bar()
    link = ShareLink(bar.controls, limits=bar.limits,
                     query="start=2024-01-01&end=not-a-date&team=%3Cscript%3Ealert(1)%3C/script%3E&granularity=Q")
    assert (bar.start.value, bar.end.value, bar.team.value, bar.granularity.value) == \
        (dt.date(2025, 6, 1), dt.date(2025, 6, 29), "all", "D")  # the defaults stay
    assert set(link.ignored) == {"start", "end", "team", "granularity"}
    assert link.ignored["start"] == "outside 2025-05-01 to 2025-06-29"
    assert "<script>" not in link.note.value and "&lt;script&gt;" in link.note.value
    assert 'role="status"' in link.note.value and "Ignored from the link" in link.note.value


def test_forecast_and_roi_controls_take_numbers_in_range():
    bar = ForecastBar(teams=["team-a"], metric="events", horizon=28, max_horizon=60)
    link = ShareLink(bar.controls, query="metric=cost_usd&horizon=500&capacity=8%2C000&model=theta")
    assert (bar.metric.value, bar.horizon.value, bar.capacity.value, bar.model.value) == \
        ("cost_usd", 28, "8,000", "theta")
    assert link.ignored == {"horizon": "outside 1 to 60"}
    ShareLink(bar.controls, query="capacity=lots")
    assert bar.capacity.value == "8,000"
    panel = AssumptionPanel(base={"hourly_rate": 100.0, "realisation_rate": 0.7, "seats": None,
                                  "licence_per_seat": 20.0, "infra_per_month": 2000.0, "one_off_cost": 50000.0,
                                  "discount_rate": 0.1, "horizon_months": 36}, max_horizon=60)
    link = ShareLink(panel.controls, query="hourly_rate=120&realisation_rate=1.5&seats=&horizon_months=24")
    assert (panel.inputs["hourly_rate"].value, panel.inputs["realisation_rate"].value,
            panel.inputs["horizon_months"].value) == (120.0, 0.7, 24)
    assert list(link.ignored) == ["realisation_rate"] and "hourly_rate=120" in link.query


def test_values_the_page_hands_over_later_refresh_the_view_once(monkeypatch):
    """A pre-heated kernel: nothing read from the environment; the page hands its query over."""
    from analytics_lib.dashboards.widgets import LiveView, MessageArea, TextPanel

    monkeypatch.setenv("VOILA_PREHEAT", "True")
    bar, calls = _bar(), []
    link = ShareLink(bar.controls, limits=bar.limits)
    assert link.ignored == {} and bar.team.value == "all"
    view = LiveView(lambda data, **v: calls.append(v) or type("V", (), {"text": str(v)})(), 1,
                    controls=bar.controls, outputs={"text": TextPanel()}, messages=MessageArea())
    link.bind(view)
    link.incoming.value = "team=team-b&granularity=W&end=2025-06-20"
    assert len(calls) == 2 and calls[-1]["team"] == "team-b" and calls[-1]["granularity"] == "W"
    link.incoming.value = "team=team-b"  # nothing changes: no refresh
    assert len(calls) == 2


def test_outside_voila_there_is_no_query(monkeypatch):
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    assert page_query() == ""
    monkeypatch.setenv("QUERY_STRING", "team=team-a")
    assert page_query() == "team=team-a"
    with pytest.raises(WorkbenchError, match="not a whole number"):
        control_value(widgets.IntSlider(min=1, max=5), "2.5")
