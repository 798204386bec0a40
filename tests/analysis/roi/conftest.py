"""Fixtures of the ROI tests (``flat``, shared with the report tests, is in tests/conftest.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analytics_lib.analysis.roi.inputs import roi_inputs

sys.path.insert(0, str(Path(__file__).parent))  # for roi_helpers.py (see tests/conftest.py)


@pytest.fixture(scope="module")
def forecast(sample_small):
    return roi_inputs(sample_small.events, months=48)
