"""Helpers shared by the ROI tests."""
from __future__ import annotations

from hypothesis import settings


SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)  # the same examples on every run
