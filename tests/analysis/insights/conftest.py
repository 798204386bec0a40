"""Fixtures of the insights tests: the ranked insights of the sample data."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analytics_lib.analysis.insights.ranking import ranked_insights

sys.path.insert(0, str(Path(__file__).parent))  # for insights_helpers.py (see tests/conftest.py)


@pytest.fixture(scope="module")
def insights(sample_small):
    return ranked_insights(sample_small.events)
