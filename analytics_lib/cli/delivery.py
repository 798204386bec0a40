"""``workbench delivery-ingest`` and ``workbench dora``: delivery events in, DORA metrics and the
assistant's measured effect out (docs/delivery.md).
"""
from __future__ import annotations

import click

from analytics_lib.cli.main import _safe, console, main, print_frame
from analytics_lib.core import paths


@main.command("delivery-ingest")
@click.argument("folder", type=click.Path(exists=True))
@click.option("--into", "target", default=paths.DEFAULT_DB_URL, show_default=True, help="SQLAlchemy URL of the store.")
@click.option("--mapping", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YAML file '{kind: {contract column: your column}}' for exports with other column names.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the CSV files.")
def delivery_ingest(folder: str, target: str, mapping: str | None, encoding: str) -> None:
    """Validate the delivery events of FOLDER and store them in --into.

    FOLDER holds changes, deployments and incidents (and optionally deployment_changes and
    adoption) as CSV or Parquet files; or it is a JSON Lines file of GitHub webhook events
    ({"event": "push" | "deployment_status" | "issues", "payload": ...}, read as Four Keys
    does). Rows that cannot be used are quarantined with their reason (table
    delivery_quarantine); the counts per kind always reconcile.

    \b
      workbench delivery-ingest exports/delivery --into sqlite:///data/workbench.db
      workbench delivery-ingest github-events.jsonl
    """
    from pathlib import Path

    from analytics_lib.data.delivery import read_delivery, write_delivery

    if Path(folder).is_file():
        from analytics_lib.data.github import delivery_from_github

        data = delivery_from_github(folder)
    else:
        data = read_delivery(folder, mapping=mapping, encoding=encoding)
    print_frame(data.counts.reset_index(), title=f"delivery events of {folder}", index=False)
    if len(data.quarantine):
        print_frame(data.reasons(), title="quarantined", index=False)
    written = write_delivery(data, target)
    console.print(f"stored {sum(v for k, v in written.items() if k != 'delivery_quarantine'):,} rows in "
                  f"{_safe(target)}")


@main.command()
@click.argument("source", required=False)
@click.option("--start", default=None, help="Window start for the tiers: ISO date or relative such as -90d.")
@click.option("--end", default=None, help="Window end for the tiers (excluded).")
@click.option("--by", default="team", show_default=True, type=click.Choice(["team", "service", "none"]))
@click.option("--effect/--no-effect", default=True, show_default=True,
              help="Estimate the effect of adopting the assistant (staggered adoption; needs adoption dates).")
@click.option("-g", "--granularity", default="W", show_default=True, type=click.Choice(["W", "M"]),
              help="Periods of the effect's panel.")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="Also write the tiers here.")
def dora(source: str | None, start: str | None, end: str | None, by: str, effect: bool, granularity: str,
         csv_path: str | None) -> None:
    """DORA's four keys with their tiers, and the assistant's effect on them.

    SOURCE is a store URL or a folder of delivery files (default: the workbench store). The
    tiers are over --start..--end (Four Keys shows the last 90 days: --start -90d); the effect
    uses all the history, the adoption dates stored with the events, or those read from the
    usage log of the store.
    """
    from analytics_lib.analysis.delivery import adoption_effect, dora_summary
    from analytics_lib.data.delivery import read_delivery

    source = source or paths.DEFAULT_DB_URL
    data = read_delivery(source)
    summary = dora_summary(data, by=None if by == "none" else by, start=start, end=end)
    print_frame(summary, title="DORA four keys (tiers: Accelerate State of DevOps 2023)", index=False)
    if csv_path:
        summary.to_csv(csv_path, index=False)
    if effect:
        from analytics_lib.data.delivery import adoption_usage

        r = adoption_effect(data, usage=adoption_usage(source, data), granularity=granularity)
        cols = ["metric", "relative", "relative_low", "relative_high", "p_value", "pretrend_p", "naive_relative",
                "treated_teams", "control_teams", "verdict"]
        print_frame(r.effects[cols], title="effect of adopting the assistant (imputation estimator, 95 % intervals)",
                    index=False)
        console.print("Observational: " + " ".join(r.caveats[:3]))
