"""Fixtures of the dashboards' tests: the events, their overview mart and ROI inputs (the store
holding the same events is tests/conftest.py's ``dashboard_store``); a headless Chromium per module
and a page per test for the browser tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analytics_lib.dashboards.marts import overview_mart

sys.path.insert(0, str(Path(__file__).parent))  # for dashboards_helpers.py (see tests/conftest.py)


@pytest.fixture(scope="module")
def events():
    from analytics_lib import validate_events
    from analytics_lib.data.synthetic.events import synthetic_events

    return validate_events(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events).events


@pytest.fixture(scope="module")
def mart(events):
    return overview_mart(events, insights=False)


@pytest.fixture(scope="module")
def inputs(events):
    from analytics_lib.analysis.roi.inputs import roi_inputs

    return roi_inputs(events, months=60)


@pytest.fixture(scope="module")
def browser():
    from conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser):
    """A page 1300 px wide that records console errors and page errors in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    p = context.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(f"console: {m.text} {m.location.get('url', '')}")
         if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(f"page error: {e}"))
    try:
        yield p
    finally:
        context.close()
