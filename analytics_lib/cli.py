"""The ``workbench`` command line. Every subcommand has ``--help``.

Structural problems (a missing column, a bad URL, an empty source, a bad parameter) print one
clear message and exit with status 2; quarantined rows are not errors (status 0).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from . import paths
from .errors import WorkbenchError

# Wide tables stay readable in logs and CI (rich would wrap to 80 columns off a terminal).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 150)


def print_frame(df: pd.DataFrame, *, title: str | None = None, index: bool = True, floatfmt: str = "{:,.4g}") -> None:
    """Print a frame as a rich table (numbers right-aligned, NaN shown as '-')."""
    table = Table(title=title, title_justify="left", show_lines=False)
    shown = df.reset_index() if index else df
    for c in shown.columns:
        table.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(shown[c]) else "left")
    for row in shown.itertuples(index=False):  # display only: a few dozen rows
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("-" if pd.isna(v) else floatfmt.format(v))
            elif isinstance(v, pd.Timestamp):
                cells.append(v.strftime("%Y-%m-%d") if v == v.normalize() else v.isoformat())
            else:
                cells.append(str(v))
        table.add_row(*cells)
    console.print(table)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="analytics-workbench")
def main() -> None:
    """Analytics workbench for AI developer-assistant event logs.

    \b
    Typical use:
      workbench sample --into sqlite:///data/workbench.db   # sample data with ground truth
      workbench ingest events.csv --into sqlite:///data/workbench.db --mapping map.yaml
      workbench kpis sqlite:///data/workbench.db --start -28d --granularity W
      workbench run                                          # the main job
    """


# --------------------------------------------------------------------------------------------
@main.command()
@click.option("--into", "target", default=paths.DEFAULT_DB_URL, show_default=True,
              help="SQLAlchemy URL (validated and stored with its quarantine) or a .csv/.parquet file (raw).")
@click.option("--events", "n_events", default=1_000_000, show_default=True, type=click.IntRange(min=1000),
              help="Target number of clean events.")
@click.option("--days", default=180, show_default=True, type=click.IntRange(min=28), help="Days of history.")
@click.option("--end", default=None, help="Last day (exclusive) of the log; default today (UTC).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--malformed-share", default=0.002, show_default=True, type=click.FloatRange(0, 0.5, max_open=True),
              help="Share of extra malformed rows, so the quarantine has something to show.")
def sample(target: str, n_events: int, days: int, end: str | None, seed: int, malformed_share: float) -> None:
    """Generate the sample event log (seeded) and write it with its ground truth.

    The ground truth (planted drop-offs, cache hit rates, incident, model switch, churned
    users...) is written as JSON next to the target (``<name>.truth.json``).
    """
    from .datasets import synthetic_events
    from .io import is_sql_url, validate_events, write_events

    t0 = time.perf_counter()
    data = synthetic_events(n_events, days=days, end=end, seed=seed, malformed_share=malformed_share, progress=True)
    console.print(f"generated {len(data.events):,} rows in {time.perf_counter() - t0:.1f} s")
    truth = data.truth.to_dict()
    if is_sql_url(target):
        result = validate_events(data.events, source=f"synthetic_events(seed={seed})")
        _print_summary(result.summary)
        w = write_events(result, target, progress=True)
        console.print(f"wrote {w.inserted:,} new events ({w.already_present:,} already present) and "
                      f"{w.quarantine_inserted:,} quarantined rows to {_safe(target)}")
        truth_path = _truth_path_for_url(target)
    else:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            data.events.to_parquet(path, index=False)
        elif path.name.endswith((".csv", ".csv.gz")):
            data.events.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f+00:00")
        else:
            raise WorkbenchError(f"--into {target}: use a database URL or a .csv, .csv.gz or .parquet path")
        console.print(f"wrote {len(data.events):,} raw rows to {path}")
        truth_path = path.with_name(path.name.split(".")[0] + ".truth.json")
    if truth_path is not None:
        truth_path.write_text(json.dumps(truth, indent=1, default=str))
        console.print(f"ground truth: {truth_path}")


def _truth_path_for_url(url: str) -> Path | None:
    from .io import parse_db_url
    u = parse_db_url(url)
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
        return Path(u.database).with_suffix(".truth.json")
    return None


def _safe(url: str) -> str:
    from .io import _source_name
    return _source_name(url)


def _print_summary(summary) -> None:
    print_frame(summary.table(), title=f"validation of {summary.source}", index=False)


_window_options = [
    click.option("--start", default=None, help="Start: ISO date, 'today', or relative such as -28d."),
    click.option("--end", default=None, help="End (a date includes that day): ISO date, 'today', -1d..."),
    click.option("--team", default=None, multiple=True, help="Keep only this team (repeatable)."),
]


def window_options(f):
    for opt in reversed(_window_options):
        f = opt(f)
    return f


# --------------------------------------------------------------------------------------------
@main.command()
@click.argument("source")
@click.option("--into", "target", default=paths.DEFAULT_DB_URL, show_default=True, help="SQLAlchemy URL of the store.")
@click.option("--mapping", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YAML file 'contract column: your column' (e.g. 'ts: time:timestamp').")
@click.option("--table", default="events", show_default=True, help="Table to read when SOURCE is a database URL.")
@click.option("--query", default=None, help="SQL query to read instead of a table (SOURCE a database URL).")
@click.option("--naive-utc", is_flag=True, help="Read timestamps without a time zone as UTC.")
@click.option("--quarantine-csv", default=None, type=click.Path(dir_okay=False),
              help="Also write the quarantined rows (with reasons) to this CSV file.")
@window_options
def ingest(source: str, target: str, mapping: str | None, table: str, query: str | None, naive_utc: bool,
           quarantine_csv: str | None, start: str | None, end: str | None, team: tuple[str, ...]) -> None:
    """Load SOURCE (database URL, CSV or Parquet), validate it and store it in --into.

    Clean events are stored idempotently (loading the same file twice adds nothing); invalid
    rows are stored in events_quarantine with their reason. Prints the validation summary.
    Exit status is non-zero only for structural errors.
    """
    from .io import load_events, write_events

    t0 = time.perf_counter()
    result = load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None, table=table,
                         query=query, naive_utc=naive_utc or None)
    _print_summary(result.summary)
    w = write_events(result, target, progress=True)
    console.print(f"stored {w.inserted:,} new events ({w.already_present:,} were already there) and "
                  f"{w.quarantine_inserted:,} quarantined rows in {_safe(target)} "
                  f"({time.perf_counter() - t0:.1f} s)")
    if quarantine_csv:
        result.quarantine.to_csv(quarantine_csv, index=False)
        console.print(f"quarantine written to {quarantine_csv}")


# --------------------------------------------------------------------------------------------
@main.command()
@click.argument("source", default=paths.DEFAULT_DB_URL)
@click.option("--granularity", "-g", default="D", show_default=True, type=click.Choice(["D", "W", "M"], case_sensitive=False))
@click.option("--mapping", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="Also write the table as CSV.")
@window_options
def kpis(source: str, granularity: str, mapping: str | None, csv_path: str | None, start: str | None, end: str | None,
         team: tuple[str, ...]) -> None:
    """Print KPIs by period (active users, sessions, cache hit rate, latency, cost...) for SOURCE."""
    from .io import load_events
    from .workflow import kpi_table

    result = load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None)
    table = kpi_table(result.events, granularity=granularity)
    print_frame(_kpi_display(table), title=f"KPIs by {granularity.upper()} — {result.summary.source}")
    if csv_path:
        table.to_csv(csv_path)


def _kpi_display(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["events", "active_users", "sessions", "cache_hit_rate", "error_rate", "latency_p95", "cost_usd",
            "cost_per_accept", "satisfaction"]
    return table[cols]


# --------------------------------------------------------------------------------------------
@main.command()
@click.option("--source", default=paths.DEFAULT_DB_URL, show_default=True, help="The store to report on.")
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 520),
              help="Whole UTC weeks (Monday start) to report, plus the current one.")
def run(source: str, weeks: int) -> None:
    """The main job: check the store, validate its events and print the KPI table."""
    from .io import load_events, store_summary
    from .params import parse_when
    from .workflow import kpi_table

    print_frame(store_summary(source), title=f"store {_safe(source)}", index=False)
    today = parse_when("today")
    start = (today - pd.Timedelta(days=today.day_of_week + 7 * weeks)).date().isoformat()
    end = "today"
    t0 = time.perf_counter()
    result = load_events(source, start=start, end=end)
    _print_summary(result.summary)
    console.print(f"loaded and validated in {time.perf_counter() - t0:.1f} s")
    print_frame(_kpi_display(kpi_table(result.events, granularity="W")),
                title=f"weekly KPIs, {start} .. {end} (UTC weeks from Monday)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
