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
from rich.console import Console
from rich.table import Table

from . import paths
from .errors import WorkbenchError

# Wide tables stay readable in logs and CI (rich would wrap to 80 columns off a terminal).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 150)


def _number(v: float, floatfmt: str | None) -> str:
    if floatfmt is not None:
        return floatfmt.format(v)
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}"


def print_frame(df: pd.DataFrame, *, title: str | None = None, index: bool = True, floatfmt: str | None = None) -> None:
    """Print a frame as a rich table (numbers right-aligned, NaN shown as '-').

    Floats show 4 significant digits, whole numbers from 1,000 up, and scientific notation
    below 0.001 unless ``floatfmt`` (e.g. ``"{:.2f}"``) says otherwise."""
    import pandas as pd
    table = Table(title=title, title_justify="left", show_lines=False)
    shown = df.reset_index() if index else df
    for c in shown.columns:
        table.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(shown[c]) else "left")
    for row in shown.itertuples(index=False):  # display only: a few dozen rows
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("-" if pd.isna(v) else _number(v, floatfmt))
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
    from .redaction import redact
    return redact(url)


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
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of a CSV SOURCE: utf-8 (a byte-order mark is skipped), latin-1, cp1252, utf-16...")
@click.option("--quarantine-csv", default=None, type=click.Path(dir_okay=False),
              help="Also write the quarantined rows (with reasons) to this CSV file.")
@window_options
def ingest(source: str, target: str, mapping: str | None, table: str, query: str | None, naive_utc: bool,
           encoding: str, quarantine_csv: str | None, start: str | None, end: str | None,
           team: tuple[str, ...]) -> None:
    """Load SOURCE (database URL, CSV or Parquet), validate it and store it in --into.

    Clean events are stored idempotently (loading the same file twice adds nothing); invalid
    rows are stored in events_quarantine with their reason. Prints the validation summary.
    Exit status is non-zero only for structural errors.
    """
    from .io import load_events, write_events

    t0 = time.perf_counter()
    result = load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None, table=table,
                         query=query, naive_utc=naive_utc or None, encoding=encoding)
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
@click.option("--engine", default="pandas", show_default=True, type=click.Choice(["pandas", "dask"], case_sensitive=False),
              help="Compute in this process, or on a Dask cluster (docs/dask.md).")
@click.option("--cluster", default=None,
              help="Dask scheduler address (tcp://host:8786); without it a local cluster runs for the command.")
@window_options
def kpis(source: str, granularity: str, mapping: str | None, csv_path: str | None, engine: str, cluster: str | None,
         start: str | None, end: str | None, team: tuple[str, ...]) -> None:
    """Print KPIs by period (active users, sessions, cache hit rate, latency, cost...) for SOURCE."""
    from .engine import open_engine
    from .params import check_engine_options

    name, address = check_engine_options(engine, cluster)
    with open_engine(name, cluster=address) as eng:
        result = eng.load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None)
        table = eng.kpi_table(result, granularity=granularity)
    where = getattr(result, "source", None) or result.summary.source
    print_frame(_kpi_display(table), title=f"KPIs by {granularity.upper()} — {where}")
    if csv_path:
        table.to_csv(csv_path)


def _kpi_display(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["events", "active_users", "sessions", "cache_hit_rate", "error_rate", "latency_p95", "cost_usd",
            "cost_per_accept", "satisfaction"]
    return table[cols]


# --------------------------------------------------------------------------------------------
@main.command()
@click.argument("source", default=paths.DEFAULT_DB_URL)
@click.option("--metric", default="events", show_default=True,
              help="events, users, sessions, cost_usd, latency_ms, tokens_out, satisfaction...")
@click.option("--agg", default="sum", show_default=True, help="Aggregation per period: sum, mean, p95...")
@click.option("--by", default=None, type=click.Choice(["team", "model", "feature", "event_type"]),
              help="One series per group (plus the total).")
@click.option("--granularity", "-g", default="D", show_default=True, type=click.Choice(["D", "W", "M"], case_sensitive=False))
@click.option("--horizon", "-h", "horizon", default=28, show_default=True, type=click.IntRange(min=1),
              help="Periods to forecast.")
@click.option("--models", default=None, help="Comma-separated candidates (default: ets,theta,arima,lag_regressor).")
@click.option("--windows", "n_windows", default=3, show_default=True, type=click.IntRange(min=1),
              help="Backtest windows.")
@click.option("--capacity", default=None, type=float, help="Threshold: print when and how likely it is crossed.")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="Also write the forecast as CSV.")
@window_options
def forecast(source: str, metric: str, agg: str, by: str | None, granularity: str, horizon: int, models: str | None,
             n_windows: int, capacity: float | None, csv_path: str | None, start: str | None, end: str | None,
             team: tuple[str, ...]) -> None:
    """Backtest the models on a KPI of SOURCE, pick the best per series and forecast it.

    Prints the selection (chosen model and its backtest scores against seasonal naive) and
    the forecast per period with its 80% and 95% intervals (the total when --by is given).
    The window defaults to the last 182 days.
    """
    import tempfile

    from .forecast import auto_forecast, capacity_table, series_from_events
    from .io import load_events
    from .params import forecast_parameters, require_events

    p = forecast_parameters(source=source, start=start or "-182d", end=end or "today", team=list(team) or None,
                            metric=metric, agg=agg, by=by, granularity=granularity.upper(), horizon=horizon,
                            models=models.split(",") if models else None, n_windows=n_windows, level=[80, 95],
                            capacity=capacity, output_dir=tempfile.gettempdir())
    events = require_events(load_events(p.source, start=p.window.start, end=p.window.end, team=p.team), p)
    series = series_from_events(events, p.metric, agg=p.agg, granularity=p.granularity, by=p.by, total=p.by is not None)
    res = auto_forecast(series, h=p.horizon, freq=p.freq, models=p.models, n_windows=p.n_windows, level=p.level,
                        n_jobs=-1, progress=True)
    sel = res.selection[["unique_id", "model", "members", "mase", "baseline_mase", "smape", "coverage"]]
    print_frame(sel.set_index("unique_id"), title=f"model selection — {metric} ({agg}), {n_windows} backtest windows")
    top = "total" if "total" in set(res.forecast["unique_id"]) else res.forecast["unique_id"].iloc[0]
    f = res.forecast[res.forecast["unique_id"] == top].set_index("ds")
    print_frame(f[["forecast", "lo-80", "hi-80", "lo-95", "hi-95"]], title=f"forecast for {top}")
    if capacity is not None:
        print_frame(capacity_table(res.forecast, capacity).set_index("unique_id"), title=f"capacity {capacity:,}")
    if csv_path:
        res.forecast.to_csv(csv_path, index=False)
        console.print(f"forecast written to {csv_path}")


@main.command()
@click.argument("source", default=paths.DEFAULT_DB_URL)
@click.option("--hourly-rate", default=None, type=float, help="Loaded cost of a developer hour (USD).")
@click.option("--realisation-rate", default=None, type=float, help="Share of manual minutes really saved (0-1).")
@click.option("--horizon-months", default=None, type=int, help="Appraisal length in months.")
@click.option("--simulations", default=10_000, show_default=True, type=click.IntRange(min=100),
              help="Monte Carlo draws.")
@window_options
def roi(source: str, hourly_rate: float | None, realisation_rate: float | None, horizon_months: int | None,
        simulations: int, start: str | None, end: str | None, team: tuple[str, ...]) -> None:
    """ROI of the assistant measured on SOURCE: summary, break-even values and uncertainty.

    Assumptions not given keep their documented defaults (docs/roi.md); the window defaults
    to all data in the store.
    """
    from .io import load_events
    from .roi import Assumptions, break_even_table, executive_summary, roi_inputs, roi_result, roi_simulation

    overrides = {k: v for k, v in {"hourly_rate": hourly_rate, "realisation_rate": realisation_rate,
                                   "horizon_months": horizon_months}.items() if v is not None}
    assumptions = Assumptions(**overrides)
    events = load_events(source, start=start, end=end, team=list(team) or None).events
    if events.empty:
        raise WorkbenchError("no events in the window: widen --start/--end or check --team")
    inputs = roi_inputs(events)
    result = roi_result(inputs, assumptions)
    sim = roi_simulation(inputs, assumptions, n=simulations, seed=0)
    print_frame(assumptions.table()[["assumption", "value", "unit", "range"]], title="assumptions", index=False)
    breakeven = break_even_table(inputs, assumptions)
    print_frame(breakeven, title="break-even values", index=False)
    console.print(executive_summary(result, sim, breakeven))


# --------------------------------------------------------------------------------------------
@main.command()
@click.option("--source", default=paths.DEFAULT_DB_URL, show_default=True, help="The store to report on.")
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 520),
              help="Whole UTC weeks (Monday start) to report, plus the current one.")
def run(source: str, weeks: int) -> None:
    """The main job: check the store, validate its events and print the KPI table."""
    import pandas as pd
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


# --------------------------------------------------------------------------------------------
@main.command()
@click.argument("source", default=paths.DEFAULT_DB_URL)
@click.option("--mapping", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--sensitivity", default="medium", show_default=True,
              help="Anomaly sensitivity: low, medium, high, or a number between 0 and 1.")
@click.option("--top", default=15, show_default=True, type=click.IntRange(min=1), help="Insights to print.")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Also write every insight (with its evidence) to this JSON file.")
@window_options
def insights(source: str, mapping: str | None, sensitivity: str, top: int, json_path: str | None, start: str | None,
             end: str | None, team: tuple[str, ...]) -> None:
    """Print the ranked insights for SOURCE: anomalies with their drill-down, trends,
    correlations, business-impact breaches and capacity, best first (impact x confidence)."""
    from .anomaly import score_threshold
    from .insights import insight_table, ranked_insights
    from .io import load_events

    level: str | float = sensitivity
    try:
        level = float(sensitivity)
    except ValueError:
        pass
    score_threshold(level)  # a bad value stops here with a clear message
    result = load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None)
    t0 = time.perf_counter()
    found = ranked_insights(result.events, sensitivity=level)
    table = insight_table(found)
    shown = table.head(top)[["rank", "kind", "severity", "confidence", "title", "recommendation"]]
    print_frame(shown, index=False, floatfmt="{:.0%}",
                title=f"{len(found)} insights for {result.summary.source} ({len(result.events):,} events, "
                      f"{time.perf_counter() - t0:.1f} s), best first")
    if json_path:
        Path(json_path).write_text(json.dumps([x.to_dict() for x in found], indent=1, default=str))
        console.print(f"{len(found)} insights written to {json_path}")


# --------------------------------------------------------------------------------------------
# Scheduled notebook jobs (analytics_lib.jobs, docs/jobs.md)
@main.group(cls=_Group)
@click.option("--jobs-dir", default=str(paths.JOBS), show_default=True, envvar="WORKBENCH_JOBS_DIR",
              type=click.Path(file_okay=False), help="Folder of the job specs (*.yaml). Env: WORKBENCH_JOBS_DIR.")
@click.option("--reports", "reports_dir", default=str(paths.REPORTS), show_default=True, envvar="WORKBENCH_REPORTS",
              type=click.Path(file_okay=False), help="Where runs are published. Env: WORKBENCH_REPORTS.")
@click.option("--store", default=paths.DEFAULT_DB_URL, show_default=True,
              help="The workbench store: home of the run ledger and the source of jobs with `source: null`.")
@click.pass_context
def jobs(ctx: click.Context, jobs_dir: str, reports_dir: str, store: str) -> None:
    """Scheduled notebook reports: list, run, schedule, history, prune (docs/jobs.md).

    \b
      workbench jobs list
      workbench jobs run daily-workflow -p start=-7d
      workbench jobs run --due        # from cron or a systemd timer
      workbench jobs schedule         # a foreground scheduler, until stopped
    """
    ctx.obj = {"jobs_dir": Path(jobs_dir), "reports": Path(reports_dir), "store": store}


def _when(v) -> str:
    import pandas as pd
    return "-" if v is None or pd.isna(v) else pd.Timestamp(v).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")


def _stop_on_sigterm() -> None:
    import signal

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, raise_interrupt)


def _print_results(results, reports: Path) -> int:
    import pandas as pd
    rows = [{"job": r.job, "variant": r.variant or "-", "status": r.status, "attempts": r.attempts,
             "took": "-" if r.ended_at is None else f"{(r.ended_at - r.started_at).total_seconds():,.0f} s",
             "report or error": str(r.report) if r.report else (r.error or "")[:160]} for r in results]
    if rows:
        print_frame(pd.DataFrame(rows), index=False, title="runs")
    for r in results:
        if r.status not in ("succeeded", "skipped"):
            err_console.print(f"[bold red]{r.job}{' ' + r.variant if r.variant else ''} {r.status}:[/] {r.error}"
                              f"\n  partial output: {r.run_dir}")
    reports_ok = [r.report for r in results if r.report]
    if reports_ok:
        console.print("HTML reports:")
        for p in reports_ok:
            console.print(f"  {p}")
    console.print(f"index: {(reports / 'index.html').resolve()}")
    return 0 if all(r.status in ("succeeded", "skipped") for r in results) else 1


@jobs.command("list")
@click.pass_obj
def jobs_list(obj: dict) -> None:
    """Every job: schedule, variants, last run and its status, last success, next run, due."""
    from .jobs import job_table, load_job_specs, mark_interrupted_runs

    specs = load_job_specs(obj["jobs_dir"])
    mark_interrupted_runs(obj["store"], reports=obj["reports"])
    table = job_table(specs, store=obj["store"])
    for c in ("last_run", "last_success", "next_run"):
        table[c] = table[c].map(_when)
    table["due"] = table["due"].map({True: "yes", False: "no"})
    table["enabled"] = table["enabled"].map({True: "yes", False: "no"})
    print_frame(table.set_index("job"), title=f"{len(specs)} jobs in {obj['jobs_dir']} (times UTC)")


@jobs.command("run")
@click.argument("names", nargs=-1)
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Override a notebook parameter (value read as YAML: 14, 1.5, null, [a, b]); repeatable.")
@click.option("--due", is_flag=True, help="Run every job due since its last successful run (for cron or a timer).")
@click.option("--all", "run_all", is_flag=True, help="Run every enabled job once (what `make run` does).")
@click.option("--parallel", default=2, show_default=True, type=click.IntRange(min=1), envvar="WORKBENCH_JOBS_PARALLEL",
              help="Notebooks running at once on this machine. Env: WORKBENCH_JOBS_PARALLEL.")
@click.pass_obj
def jobs_run(obj: dict, names: tuple[str, ...], params: tuple[str, ...], due: bool, run_all: bool,
             parallel: int) -> None:
    """Run the jobs NAMES now (or --due, or --all) and publish what succeeds.

    Everything is validated before any kernel starts. Exit status: 0 all succeeded (or
    nothing was due), 1 a run failed, timed out or was interrupted, 2 a bad spec or
    parameter (nothing ran), 3 the job is already running (nothing ran).
    """
    from .jobs import (JobAlreadyRunning, check_job, find_job, load_job_specs, parse_overrides, run_due_jobs,
                       run_job)

    if sum([bool(names), due, run_all]) != 1:
        raise WorkbenchError("give job NAMES, --due or --all (one of them); `workbench jobs list` shows the jobs")
    if params and not names:
        raise WorkbenchError("-p applies to named jobs: workbench jobs run NAME -p key=value")
    specs = load_job_specs(obj["jobs_dir"])
    _stop_on_sigterm()
    try:
        if names:
            chosen = [find_job(specs, n) for n in dict.fromkeys(names)]
            overrides = {s.name: parse_overrides(params, spec=s) for s in chosen}
            if len(chosen) > 1:  # validate them all before the first kernel starts (run_job checks its own)
                for s in chosen:
                    check_job(s, overrides=overrides[s.name], store=obj["store"])
            results = []
            for s in chosen:
                try:
                    results += run_job(s, overrides=overrides[s.name], store=obj["store"], reports=obj["reports"],
                                       parallel=parallel)
                except JobAlreadyRunning as exc:
                    err_console.print(f"[bold red]error:[/] {exc}")
                    sys.exit(3)
        else:
            results = run_due_jobs(specs, store=obj["store"], reports=obj["reports"], parallel=parallel,
                                   everything=run_all)
            if due and not results:
                console.print("nothing is due")
    except KeyboardInterrupt:
        err_console.print("[bold red]stopped:[/] the running attempts were recorded as interrupted")
        sys.exit(130)
    code = _print_results(results, obj["reports"])
    if run_all and any(r.status == "skipped" for r in results):
        code = max(code, 3)
    sys.exit(code)


@jobs.command("schedule")
@click.option("--parallel", default=2, show_default=True, type=click.IntRange(min=1), envvar="WORKBENCH_JOBS_PARALLEL",
              help="Notebooks running at once on this machine.")
@click.option("--catch-up/--no-catch-up", default=True, show_default=True,
              help="First run what is due (slots missed while no scheduler was running).")
@click.pass_obj
def jobs_schedule(obj: dict, parallel: int, catch_up: bool) -> None:
    """Fire each enabled job on its cron schedule, in the foreground, until stopped (Ctrl-C, SIGTERM).

    A run still going when the scheduler stops is recorded as interrupted; its previous
    report stays published.
    """
    import threading
    from datetime import datetime, timezone

    from .jobs import job_scheduler, job_table, load_job_specs, mark_interrupted_runs, run_due_jobs

    specs = load_job_specs(obj["jobs_dir"])
    mark_interrupted_runs(obj["store"], reports=obj["reports"])
    stop = threading.Event()

    def report(r) -> None:
        took = "" if r.ended_at is None else f" in {(r.ended_at - r.started_at).total_seconds():,.0f} s"
        where = r.report or r.run_dir or ""
        console.print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} {r.job}{' ' + r.variant if r.variant else ''}"
                      f" {r.status}{took} {where}" + (f" — {r.error}" if r.error and not r.ok else ""))

    sched = job_scheduler(specs, store=obj["store"], reports=obj["reports"], parallel=parallel, stop=stop,
                          on_result=report)
    table = job_table(specs, store=obj["store"])[["job", "schedule", "variants", "next_run", "due"]]
    table["next_run"] = table["next_run"].map(_when)
    print_frame(table.set_index("job"), title=f"scheduling {len(sched.get_jobs())} jobs (times UTC); Ctrl-C stops")
    if catch_up:
        def catch() -> None:
            for r in run_due_jobs(specs, store=obj["store"], reports=obj["reports"], parallel=parallel, stop=stop):
                report(r)
        sched.add_job(catch, id="catch-up", name="catch-up")
    _stop_on_sigterm()
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop.set()
        if sched.running:
            sched.shutdown(wait=True)
    console.print("scheduler stopped")


@jobs.command("history")
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Attempts to show.")
@click.pass_obj
def jobs_history(obj: dict, name: str | None, limit: int) -> None:
    """The run ledger, newest first: one row per attempt (of NAME, or of every job)."""
    import pandas as pd
    from .jobs import mark_interrupted_runs, run_history

    mark_interrupted_runs(obj["store"], reports=obj["reports"])
    h = run_history(obj["store"], job=name, limit=limit)
    if h.empty:
        console.print("no runs recorded" + (f" for {name}" if name else ""))
        return
    shown = pd.DataFrame({
        "run_id": h["run_id"], "job": h["job"], "variant": h["variant"].replace("", "-"), "attempt": h["attempt"],
        "status": h["status"], "trigger": h["trigger"], "started": h["started_at"].map(_when),
        "took": h["duration_s"].map(lambda s: "-" if pd.isna(s) else f"{s:,.0f} s"),
        "input rows": h["input_rows"].map(lambda n: "-" if pd.isna(n) else f"{int(n):,}"),
        "error": h["error"].fillna("").str.slice(0, 120)})
    print_frame(shown, index=False, title=f"run ledger in {_safe(obj['store'])} (times UTC)")


@jobs.command("prune")
@click.argument("name", required=False)
@click.option("--keep", required=True, type=click.IntRange(min=1), help="Runs to keep per job (and grid variant).")
@click.pass_obj
def jobs_prune(obj: dict, name: str | None, keep: int) -> None:
    """Delete all but the newest KEEP runs of each job: folders and ledger rows.

    The run `latest` points at and running runs are always kept.
    """
    from .jobs import prune_runs

    pruned = prune_runs(keep=keep, store=obj["store"], reports=obj["reports"], job=name)
    if not pruned.empty:
        print_frame(pruned, index=False, title="pruned runs")
    console.print(f"{len(pruned)} run(s) pruned, keeping the newest {keep} per job")


# --------------------------------------------------------------------------------------------
# Voilà dashboards (analytics_lib.widgets, analytics_lib.serve, docs/dashboards.md)
@main.group(cls=_Group)
def dashboards() -> None:
    """Stakeholder dashboards (workflow overview, forecast explorer, ROI calculator) served by Voilà.

    \b
      workbench dashboards serve                 # http://127.0.0.1:8866/ (this machine only)
      workbench dashboards build                 # compute the data they read, before anyone opens them
    """


def _print_step(step: int, total: int, label: str) -> None:
    console.print(f"  [{step}/{total}] {label}" if total > 1 else f"  {label}")


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

    from .serve import sigterm_as_interrupt, start_server
    from .widgets import REPORTS_ENV, load_overview_data, load_roi_data

    if no_token and token:
        raise WorkbenchError("--token and --no-token contradict each other: give one")
    env = {}
    if source is not None:
        env["WORKBENCH_DB"] = source
    if reports_dir is not None:
        env[REPORTS_ENV] = str(Path(reports_dir).resolve())
    os.environ.update(env)  # the build below reads the same store and reports as the kernels
    os.environ.pop("WORKBENCH_DASHBOARD_TOKEN", None)  # the server gets it explicitly; kernels never
    with sigterm_as_interrupt():  # before anything is announced: a SIGTERM at any point stops everything
        try:
            if build:
                for load in (load_overview_data, load_roi_data):
                    data = load(source, progress=_print_step)
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
        for name in ("workflow_overview", "forecast_explorer", "roi_calculator"):
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
    from .widgets import build_dashboard_data

    t0 = time.perf_counter()
    for data in build_dashboard_data(source, force=force, progress=_print_step):
        console.print(f"{data.part}: {data.origin}")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
