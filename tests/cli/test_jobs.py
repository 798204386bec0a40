"""The `workbench jobs` command group: every subcommand has help (the runs it starts are tested
in tests/jobs, which drive the command as their harness)."""
from __future__ import annotations

from click.testing import CliRunner

from analytics_lib.cli import main


def test_jobs_commands_have_help():
    for cmd in ([], ["list"], ["run"], ["schedule"], ["history"], ["prune"]):
        res = CliRunner().invoke(main, ["jobs", *cmd, "--help"])
        assert res.exit_code == 0 and "Usage:" in res.output
