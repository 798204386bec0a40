"""Fixtures of the prediction tests: six months of sample data with planted churn and satisfaction,
and the churn and satisfaction models fitted on it (once per session: the modules here only read them)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analytics_lib.analysis.predict.churn import ChurnModel
from analytics_lib.analysis.predict.features import session_features
from analytics_lib.analysis.predict.satisfaction import SatisfactionModel

sys.path.insert(0, str(Path(__file__).parent))  # for predict_helpers.py (see tests/conftest.py)


@pytest.fixture(scope="session")
def world():
    """Six months, ~470 users, planted churn and satisfaction (see GroundTruth)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    return synthetic_events(200_000, days=180, end="2025-06-30", seed=0)


@pytest.fixture(scope="session")
def churn(world):
    model = ChurnModel().fit(world.events)
    return model, model.evaluate(world.events)


@pytest.fixture(scope="session")
def satisfaction(world):
    sessions = session_features(world.events)
    model = SatisfactionModel().fit(sessions)
    return sessions, model, model.evaluate(sessions)
