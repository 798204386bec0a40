"""The ``workbench`` command line. Every subcommand has ``--help``.

Structural problems (a missing column, a bad URL, an empty source, a bad parameter) print one
clear message and exit with status 2; quarantined rows are not errors (status 0).

Modules: ``main`` (the group, errors, printing), ``data`` (sample, ingest, kpis, forecast, roi,
run, insights, anomalies), ``jobs``, ``dashboards``.
"""
from analytics_lib.cli import dashboards, data, delivery, jobs  # noqa: F401 - the commands register on `main`
from analytics_lib.cli.main import main

__all__ = ["main"]
