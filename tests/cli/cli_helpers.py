"""Helpers shared by the command-line tests."""
from __future__ import annotations

from click.testing import CliRunner

from analytics_lib.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)
