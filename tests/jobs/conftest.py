"""Fixtures of the jobs tests: no test leaves a kernel or a runner child behind."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for jobs_helpers.py (see tests/conftest.py)
from jobs_helpers import NOTEBOOKS, kernels_in, runner_children, wait_for  # noqa: E402


@pytest.fixture(autouse=True)
def _no_stray_kernels():
    yield
    wait_for(lambda: not kernels_in(NOTEBOOKS) and not runner_children(), 15, "the test's kernels to exit")
