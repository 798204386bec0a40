"""The `workbench` command line: help everywhere, exit codes, and the real entry point."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke


SUBCOMMANDS = ["sample", "ingest", "kpis", "forecast", "roi", "run", "insights", "jobs", "jobs list", "jobs run",
               "jobs schedule", "jobs history", "jobs prune", "dashboards", "dashboards serve", "dashboards build",
               "dora", "delivery-ingest"]


@pytest.mark.parametrize("cmd", [[], *[c.split() for c in SUBCOMMANDS]])
def test_every_command_has_help(cmd):
    res = invoke(*cmd, "--help")
    assert res.exit_code == 0 and "Usage:" in res.output and len(res.output.splitlines()) > 4


def test_installed_entry_point():
    exe = Path(sys.executable).with_name("workbench")
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ingest" in res.stdout
    res = subprocess.run([str(exe), "kpis", "no_such_file.csv"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "does not exist" in res.stderr
