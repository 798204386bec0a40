"""``workbench dashboards``: serve and build.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from analytics_lib.cli.main import _Group, _print_step, console, err_console, main
from analytics_lib.core.errors import WorkbenchError


# --------------------------------------------------------------------------------------------
# Voilà dashboards (analytics_lib.dashboards.widgets, analytics_lib.dashboards.serve, docs/dashboards.md)
@main.group(cls=_Group)
def dashboards() -> None:
    """Stakeholder dashboards (workflow overview, forecast explorer, ROI calculator) served by Voilà.

    \b
      workbench dashboards serve                 # http://127.0.0.1:8866/ (this machine only)
      workbench dashboards build                 # compute the data they read, before anyone opens them
    """


@dashboards.command("serve")
@click.option("--port", default=8866, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. Anything but loopback: put it behind TLS (docs/dashboards.md).")
@click.option("--source", default=None, help="The store the dashboards read (default: the workbench store).")
@click.option("--reports", "reports_dir", default=None, type=click.Path(file_okay=False),
              help="Where scheduled runs are published (default: reports/ or $WORKBENCH_REPORTS).")
@click.option("--token", default=None, envvar="WORKBENCH_DASHBOARD_TOKEN", show_envvar=True,
              help="The access token (default: a new random one, printed in the URLs). Prefer the environment "
                   "variable: a command line is visible to every user of the machine.")
@click.option("--no-token", is_flag=True,
              help="Serve without a token: only behind a reverse proxy that authenticates every request.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A Host name (or address) the server may be reached by besides loopback ones, e.g. the "
                   "proxy's public name; repeat for several, '*' for any.")
@click.option("--max-kernels", default=24, show_default=True, type=click.IntRange(min=1),
              help="Open dashboard pages at most (one kernel each); more get 'busy, try again in a moment'.")
@click.option("--cull-idle", default=30, show_default=True, type=click.IntRange(min=1),
              help="Seconds after which a kernel that never had a page (abandoned while loading) is shut down.")
@click.option("--preheat", default=0, show_default=True, type=click.IntRange(min=0),
              help="Kernels per dashboard rendered in advance, so pages open in about 2 s (each holds memory).")
@click.option("--base-url", default="/", show_default=True,
              help="Path prefix when a reverse proxy serves the dashboards under a sub-path, e.g. /dashboards/.")
@click.option("--build/--no-build", default=True, show_default=True,
              help="Before serving, compute the data no scheduled run has published yet (once per store change).")
def dashboards_serve(port: int, host: str, source: str | None, reports_dir: str | None, token: str | None,
                     no_token: bool, allow_hosts: tuple[str, ...], max_kernels: int, cull_idle: int, preheat: int,
                     base_url: str, build: bool) -> None:
    """Serve the dashboards of notebooks/dashboards/ with Voilà until Ctrl-C or SIGTERM (which stop every kernel).

    Every URL carries an access token (as Jupyter's do): open the printed links as they are.
    Requests naming another Host than loopback or an --allow-host name are refused.
    """
    import os

    from analytics_lib.dashboards.serve import sigterm_as_interrupt, start_server
    from analytics_lib.dashboards.marts import REPORTS_ENV
    from analytics_lib.dashboards.published import load_experiment_data, load_overview_data, load_roi_data

    if no_token and token:
        raise WorkbenchError("--token and --no-token contradict each other: give one")
    env = {}
    if source is not None:  # a relative path means from here, not from the dashboards' folder (the kernels' cwd)
        from analytics_lib.core.sources import absolute_source

        source = absolute_source(source, Path.cwd())
        env["WORKBENCH_DB"] = source
    if reports_dir is not None:
        env[REPORTS_ENV] = str(Path(reports_dir).resolve())
    os.environ.update(env)  # the build below reads the same store and reports as the kernels
    os.environ.pop("WORKBENCH_DASHBOARD_TOKEN", None)  # the server gets it explicitly; kernels never
    with sigterm_as_interrupt():  # before anything is announced: a SIGTERM at any point stops everything
        try:
            if build:
                for load in (load_overview_data, load_roi_data, load_experiment_data):
                    try:
                        data = load(source, progress=_print_step)
                    except WorkbenchError as exc:
                        if load is not load_experiment_data:
                            raise
                        console.print(f"experiments: not built ({exc})")  # the dashboard says the same
                        continue
                    console.print(f"{data.part}: {data.origin}")
            if host not in ("127.0.0.1", "localhost", "::1"):
                err_console.print(f"[bold yellow]warning:[/] serving on {host}: use TLS in front of it (reverse proxy) "
                                  "so that the token is not sent in clear (docs/dashboards.md)")
            if no_token:
                err_console.print("[bold yellow]warning:[/] no token: every request is served; only behind a reverse "
                                  "proxy that authenticates")
            server = start_server(port=port, host=host, env=env, max_kernels=max_kernels, cull_idle_timeout=cull_idle,
                                  preheat=preheat, base_url=base_url, token="" if no_token else token,
                                  allowed_hosts=allow_hosts)
        except KeyboardInterrupt:
            console.print("dashboards stopped before they were served")
            sys.exit(0)
        console.print(f"dashboards on {server.address} (log: {server.log_path}); Ctrl-C stops the server and its "
                      "kernels")
        for name in ("workflow_overview", "forecast_explorer", "roi_calculator", "experiments_overview"):
            console.print(f"  {server.dashboard_url(name)}", soft_wrap=True)
        status = server.wait()
    console.print("dashboards stopped" if status == 0 else f"Voilà exited with status {status}: see {server.log_path}")
    sys.exit(status)


@dashboards.command("build")
@click.option("--source", default=None, help="The store (default: the workbench store).")
@click.option("--force", is_flag=True, help="Rebuild even if the cached data is up to date.")
def dashboards_build(source: str | None, force: bool) -> None:
    """Compute the dashboards' data from the store and cache it (data/processed/dashboards/).

    Dashboards read what the latest scheduled runs published; until a run publishes the
    dashboard tables, they read this cache (rebuilt automatically when the store changes).
    """
    from analytics_lib.dashboards.published import build_dashboard_data

    t0 = time.perf_counter()
    for data in build_dashboard_data(source, force=force, progress=_print_step):
        console.print(f"{data.part}: {data.origin}")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")
