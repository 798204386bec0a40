"""Visual regression of the dashboards: each one served by Voilà over a store whose data ends on
2025-06-30 (never today: the pictures must not change with the date), drawn in headless Chromium at
1400 and at 1024 px, compared with the approved images in ``tests/visual/`` (tolerance and the
approve command: ``tests/visual_regression.py``). Lines that depend on the machine or the moment
(the store's path in the origin line, the update time) are replaced by fixed text before the
picture is taken."""
from __future__ import annotations

import pytest
from conftest import require_chromium
from visual_regression import check_image

from analytics_lib.dashboards.serve import start_server

pytestmark = pytest.mark.browser

WIDTHS = (1400, 1024)
LOAD_TIMEOUT_MS = 90_000
VIEWS = {
    "workflow_overview": {"start": "2025-06-02", "end": "2025-06-29", "team": "all", "granularity": "W"},
    "forecast_explorer": {},
    "roi_calculator": {},
    "experiments_overview": {"experiment": "prompt-v2"},
    "delivery_overview": {"team": "all", "metric": "lead_time_hours", "days": "90"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    import dataclasses

    from analytics_lib.data.assignments import write_assignments
    from analytics_lib.data.synthetic.experiments import plant_experiments

    root = tmp_path_factory.mktemp("visual")
    source = f"sqlite:///{root / 'events.db'}"
    valid = validate_events(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    planted = plant_experiments(valid.events)  # as `workbench sample` stores them
    write_events(dataclasses.replace(valid, events=planted.events), source)
    write_assignments(planted.assignments, source)
    from analytics_lib.data.delivery import write_delivery
    from analytics_lib.data.synthetic.delivery import synthetic_delivery

    write_delivery(synthetic_delivery(end="2025-06-30", seed=0).data, source)
    server = start_server(env={"WORKBENCH_DB": source, "WORKBENCH_REPORTS": str(root / "reports"),
                               "WORKBENCH_DASHBOARD_CACHE": str(root / "cache")}, log_path=root / "voila.log")
    try:
        yield server
    finally:
        server.stop()


def _settle(page) -> None:
    """Every chart loaded, and the lines that name this machine or this moment made constant."""
    page.wait_for_function("() => [...document.querySelectorAll('#rendered_cells img')].every(i => i.complete)",
                           timeout=30_000)
    page.evaluate("""() => {
        document.querySelectorAll('.wb-origin').forEach(e => { e.textContent = 'origin line (fixed for the test)'; });
        document.querySelectorAll('.wb-status').forEach(e => { e.textContent = 'updated'; });
        document.activeElement && document.activeElement.blur();
    }""")
    page.evaluate("() => document.fonts.ready")


def _picture(page, width: int) -> bytes:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(400)  # the widgets reflow
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
    page.set_viewport_size({"width": width, "height": min(height, 6000)})
    page.wait_for_timeout(200)
    return page.screenshot(animations="disabled", caret="hide")


@pytest.mark.parametrize("name", list(VIEWS))
def test_dashboard_looks_as_approved_at_both_widths(page, server, name):
    page.goto(server.dashboard_url(name, **VIEWS[name]), wait_until="commit")
    page.wait_for_selector(".wb-tile", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector('.wb-status[data-state="ok"]', timeout=LOAD_TIMEOUT_MS)
    _settle(page)
    problems = [check_image(_picture(page, w), f"dashboard-{name}-{w}") for w in WIDTHS]
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than a 1024 px window"
    assert [p for p in problems if p] == []
