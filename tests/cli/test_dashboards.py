"""`workbench dashboards build`: computes the dashboards' data from a store, then reuses it; a
missing store exits with 2. Never reads the repository's published runs or cache."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("isolated_dashboards")  # never the repository's runs or cache


def test_cli_build_computes_then_reuses(dashboard_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from analytics_lib.cli import main

    monkeypatch.setenv("WORKBENCH_DASHBOARD_CACHE", str(tmp_path / "cache"))
    first = CliRunner().invoke(main, ["dashboards", "build", "--source", dashboard_store])
    assert first.exit_code == 0, first.output
    assert "overview: No scheduled run has published these tables yet: computed from" in first.output
    assert "just now" in first.output and "ROI inputs" in first.output
    again = CliRunner().invoke(main, ["dashboards", "build", "--source", dashboard_store])
    assert again.exit_code == 0 and "just now" not in again.output
    missing = CliRunner().invoke(main, ["dashboards", "build", "--source", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
