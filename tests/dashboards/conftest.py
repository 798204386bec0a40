"""Fixtures of the dashboards' tests: the events, their overview mart and ROI inputs (the store
holding the same events is tests/conftest.py's ``dashboard_store``)."""
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
