"""Fixtures of the data tests."""
from __future__ import annotations

import pytest


@pytest.fixture()
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"
