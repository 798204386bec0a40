"""Shared fixtures. Data comes from the seeded generator or small inline frames."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
CORPUS = TESTS / "corpus"
REAL = ROOT.parent / "shared" / "data" / "real"
sys.path.insert(0, str(TESTS))  # for tests/pgserver.py

NOW = "2025-07-01T00:00:00Z"  # pinned "now" for validation of fixed-date data


@pytest.fixture(scope="session")
def pg_url():
    """A throwaway PostgreSQL server on 127.0.0.1 for the whole session.

    Skips loudly if it cannot start; under CI=true that is a failure (CI must run these tests)."""
    from pgserver import PostgresUnavailable, postgres_server

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except PostgresUnavailable as exc:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"PostgreSQL could not be started: {exc}")
            pytest.skip(f"PostgreSQL could not be started: {exc}")
        yield url


@pytest.fixture(scope="session")
def sample_small():
    """~60k clean events with ground truth, fixed end date (fast)."""
    from analytics_lib.datasets import synthetic_events

    return synthetic_events(60_000, days=90, end="2025-06-30", seed=0)


@pytest.fixture(scope="session")
def sample_dirty():
    """The same world with malformed rows mixed in, as a CSV source would deliver them."""
    from analytics_lib.datasets import synthetic_events

    return synthetic_events(60_000, days=90, end="2025-06-30", seed=0, malformed_share=0.01)
