"""``workbench sample``, ``ingest``, ``kpis``, ``forecast``, ``roi``, ``run``, ``insights``, ``anomalies``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

import json
import time
from pathlib import Path

import click

from analytics_lib.cli.main import (
    _print_summary, _safe, _truth_path_for_url, console, main, print_frame, window_options)
from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError


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
@click.option("--experiments/--no-experiments", default=True, show_default=True,
              help="Plant two experiments (prompt-v2 with real effects, an A/A test) over the last 28 days and "
                   "store their assignments (database targets only).")
@click.option("--delivery/--no-delivery", default=True, show_default=True,
              help="Plant a year of delivery events (changes, deployments, incidents) for the sample teams and "
                   "four teams without the assistant; the six sample teams adopt at staggered dates (their usage "
                   "starts then) and adoption shortens lead time by 15 % (database targets only; docs/delivery.md).")
def sample(target: str, n_events: int, days: int, end: str | None, seed: int, malformed_share: float,
           experiments: bool, delivery: bool) -> None:
    """Generate the sample event log (seeded) and write it with its ground truth.

    The ground truth (planted drop-offs, cache hit rates, incident, model switch, churned
    users, experiments...) is written as JSON next to the target (``<name>.truth.json``).
    """
    from analytics_lib.data.synthetic.events import synthetic_events
    from analytics_lib.core.sources import is_sql_url
    from analytics_lib.data.validation import validate_events
    from analytics_lib.data.sql import write_events

    t0 = time.perf_counter()
    data = synthetic_events(n_events, days=days, end=end, seed=seed, malformed_share=malformed_share, progress=True)
    console.print(f"generated {len(data.events):,} rows in {time.perf_counter() - t0:.1f} s")
    truth = data.truth.to_dict()
    if is_sql_url(target):
        import dataclasses

        result = validate_events(data.events, source=f"synthetic_events(seed={seed})")
        _print_summary(result.summary)
        planted = None
        if delivery:
            from analytics_lib.data.synthetic.delivery import authors_from_usage, plant_adoption, synthetic_delivery

            d = synthetic_delivery(end=truth["end"], authors=authors_from_usage(result.events, seed=seed), seed=seed)
            kept = plant_adoption(result.events, d.data.adoption)
            d.truth["usage_events_before_adoption_removed"] = int(len(result.events) - len(kept))
            result = dataclasses.replace(result, events=kept)
            truth["delivery"] = d.truth
        if experiments:
            from analytics_lib.data.synthetic.experiments import plant_experiments

            planted = plant_experiments(result.events, seed=seed)
            result = dataclasses.replace(result, events=planted.events)
            truth["experiments"] = planted.truth
        w = write_events(result, target, progress=True)
        if delivery:
            from analytics_lib.data.delivery import write_delivery

            n = write_delivery(d.data, target)
            console.print(f"planted delivery events: {n['delivery_deployments']:,} deployments, "
                          f"{n['delivery_changes']:,} changes, {n['delivery_incidents']:,} incidents, "
                          f"{n['delivery_quarantine']} quarantined rows; adoption effect on lead time "
                          f"{d.truth['effects']['lead_time']:+.0%}")
        if planted is not None:
            from analytics_lib.data.assignments import write_assignments

            n = write_assignments(planted.assignments, target)
            console.print(f"planted experiments {', '.join(planted.truth)}: {n:,} assignments stored")
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
@click.option("--incremental", is_flag=True,
              help="Take only what is new since the last run (new files in a folder, new lines of a grown "
                   "file, rows after the --watermark of a table), batch by batch, each event exactly once; "
                   "--into may also be a folder (a store of Parquet parts).")
@click.option("--watermark", default="ts", show_default=True,
              help="With --incremental and a database SOURCE: the column that only grows.")
@window_options
def ingest(source: str, target: str, mapping: str | None, table: str, query: str | None, naive_utc: bool,
           encoding: str, quarantine_csv: str | None, incremental: bool, watermark: str, start: str | None,
           end: str | None, team: tuple[str, ...]) -> None:
    """Load SOURCE (database URL, CSV or Parquet), validate it and store it in --into.

    Clean events are stored idempotently (loading the same file twice adds nothing); invalid
    rows are stored in events_quarantine with their reason. Prints the validation summary.
    Exit status is non-zero only for structural errors.

    \b
    With --incremental, every batch is committed with the source's new position and recorded
    (`workbench ingest-batches`); a run killed at any point and run again loses and doubles
    nothing (docs/events.md).
      workbench ingest exports/ --into sqlite:///data/workbench.db --incremental
    """
    from analytics_lib.data.load import load_events
    from analytics_lib.data.sql import write_events

    t0 = time.perf_counter()
    if incremental:
        if query or quarantine_csv or start or end or team:
            raise WorkbenchError("--incremental takes what is new; --query, --quarantine-csv, --start, --end and "
                                 "--team do not apply (filter when you read the store)")
        return _ingest_incremental(source, target, mapping=mapping, encoding=encoding, table=table,
                                   watermark=watermark, naive_utc=naive_utc or None, t0=t0)
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


def _ingest_incremental(source: str, target: str, *, t0: float, **kw) -> None:
    from analytics_lib.data.incremental import ingest_incremental

    def shown(b) -> None:
        console.print(f"batch {b.item}: {b.rows_read:,} rows read, {b.inserted:,} new, {b.already_present:,} already "
                      f"stored, {b.quarantined:,} quarantined ({b.seconds:.2f} s)", markup=False, highlight=False)

    batches = ingest_incremental(source, target, on_batch=shown, **kw)
    took = time.perf_counter() - t0
    read = sum(b.rows_read for b in batches)
    console.print(f"{len(batches)} batch(es), {read:,} rows read: {sum(b.inserted for b in batches):,} new events, "
                  f"{sum(b.already_present for b in batches):,} already stored, "
                  f"{sum(b.quarantined for b in batches):,} quarantined, into {_safe(target)} ({took:.1f} s)"
                  if batches else f"nothing new in {_safe(source)}")


@main.command("ingest-batches")
@click.option("--into", "target", default=paths.DEFAULT_DB_URL, show_default=True,
              help="The store (SQL URL or folder store) whose batches to list.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(min=1), help="Newest batches shown.")
def ingest_batches_cmd(target: str, limit: int) -> None:
    """The batches incremental ingests took into a store: source, item, when, rows read and where they went."""
    from analytics_lib.data.incremental import ingest_batches

    b = ingest_batches(target)
    if b.empty:
        console.print(f"no incremental batch recorded in {_safe(target)}")
        return
    print_frame(b.drop(columns=[c for c in ("id",) if c in b.columns]).tail(limit), index=False,
                title=f"{len(b)} batch(es) in {_safe(target)}; totals: {int(b['rows_read'].sum()):,} read, "
                      f"{int(b['inserted'].sum()):,} stored, {int(b['quarantined'].sum()):,} quarantined")


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
    from analytics_lib.compute.engine import open_engine
    from analytics_lib.report.params import check_engine_options

    import pandas as pd

    from analytics_lib.analysis.workflow.kpis import mark_partial
    from analytics_lib.core.timewindow import time_window

    name, address = check_engine_options(engine, cluster)
    with open_engine(name, cluster=address) as eng:
        result = eng.load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None)
        table = eng.kpi_table(result, granularity=granularity)
        first, last = eng.time_span(result)
    table = mark_partial(table, granularity, window=time_window(start, end), first=first, last=last,
                         as_of=pd.Timestamp.now(tz="UTC"))
    where = getattr(result, "source", None) or result.summary.source
    _print_kpis(table, granularity, title=f"KPIs by {granularity.upper()} — {where}")
    if csv_path:
        table.to_csv(csv_path)


def _print_kpis(table: pd.DataFrame, granularity: str, *, title: str) -> None:
    """The KPI columns people read, with a ``partial`` column and a footnote when a period
    (``coverage`` below 1, :func:`~analytics_lib.analysis.workflow.kpis.mark_partial`) is only partly covered."""
    from analytics_lib.core.timewindow import partial_label

    cols = ["events", "active_users", "sessions", "cache_hit_rate", "error_rate", "latency_p95", "cost_usd",
            "cost_per_accept", "satisfaction"]
    shown = table[cols].copy()
    labels = [partial_label(c, p, granularity.upper()) for p, c in zip(table.index, table["coverage"])]
    n = sum(bool(x) for x in labels)
    if n:
        shown.insert(0, "partial", [x.removeprefix("partial: ") for x in labels])
    print_frame(shown, title=title)
    if n:
        console.print(f"{n} partial period(s): the window or the data covers only part of them, so their counts "
                      "and costs are not comparable with whole periods (rates and percentiles are)")


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

    from analytics_lib.forecast.selection import auto_forecast
    from analytics_lib.forecast.planning import capacity_table
    from analytics_lib.forecast.series import series_from_events
    from analytics_lib.data.load import load_events
    from analytics_lib.report.params import forecast_parameters, require_events

    p = forecast_parameters(source=source, start=start or "-182d", end=end or "today", team=list(team) or None,
                            metric=metric, agg=agg, by=by, granularity=granularity.upper(), horizon=horizon,
                            models=models.split(",") if models else None, n_windows=n_windows, level=[80, 95],
                            capacity=capacity, output_dir=tempfile.gettempdir())
    events = require_events(load_events(p.source, start=p.window.start, end=p.window.end, team=p.team), p)
    series = series_from_events(events, p.metric, agg=p.agg, granularity=p.granularity, by=p.by, total=p.by is not None)
    res = auto_forecast(series, horizon=p.horizon, granularity=p.freq, models=p.models, n_windows=p.n_windows, level=p.level,
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
    from analytics_lib.data.load import load_events
    from analytics_lib.analysis.roi.assumptions import Assumptions
    from analytics_lib.analysis.roi.result import break_even_table, roi_result
    from analytics_lib.report.narrative import executive_summary
    from analytics_lib.analysis.roi.inputs import roi_inputs
    from analytics_lib.analysis.roi.simulation import roi_simulation

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
    from analytics_lib.data.load import load_events
    from analytics_lib.data.sql import store_summary
    from analytics_lib.core.timewindow import parse_when, time_window
    from analytics_lib.analysis.workflow.kpis import kpi_table, mark_partial

    print_frame(store_summary(source), title=f"store {_safe(source)}", index=False)
    today = parse_when("today")
    start = (today - pd.Timedelta(days=today.day_of_week + 7 * weeks)).date().isoformat()
    end = "today"
    t0 = time.perf_counter()
    result = load_events(source, start=start, end=end)
    _print_summary(result.summary)
    console.print(f"loaded and validated in {time.perf_counter() - t0:.1f} s")
    ts = result.events["ts"]
    table = mark_partial(kpi_table(result.events, granularity="W"), "W", window=time_window(start, end),
                         first=ts.min(), last=ts.max(), as_of=pd.Timestamp.now(tz="UTC"))
    _print_kpis(table, "W", title=f"weekly KPIs, {start} .. {end} (UTC weeks from Monday)")


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
    from analytics_lib.analysis.anomaly.series import score_threshold
    from analytics_lib.analysis.insights.model import insight_table
    from analytics_lib.analysis.insights.ranking import ranked_insights
    from analytics_lib.data.load import load_events

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
@main.command()
@click.argument("source", default=paths.DEFAULT_DB_URL)
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the monitor's state (created; one file per metric). Reuse it on every run.")
@click.option("--metric", "metric", multiple=True,
              help="KPI column to monitor (repeatable): events, error_rate, latency_p95... Default: every KPI.")
@click.option("--granularity", "-g", default="D", show_default=True, type=click.Choice(["D", "W", "M"], case_sensitive=False))
@click.option("--mapping", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--sensitivity", default="medium", show_default=True,
              help="Anomaly sensitivity: low, medium, high, or a number between 0 and 1.")
@click.option("--include-partial", is_flag=True,
              help="Also score the current period, still filling up (by default only complete periods: "
                   "a half-filled day would look like a drop, and is never scored again).")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False),
              help="Also write every newly scored point (with its score and flag) to this CSV file.")
@window_options
def anomalies(source: str, state_dir: str, metric: tuple[str, ...], granularity: str, mapping: str | None,
              sensitivity: str, include_partial: bool, csv_path: str | None, start: str | None, end: str | None,
              team: tuple[str, ...]) -> None:
    """Score the KPI periods of SOURCE not scored yet and print the new anomalies.

    For a scheduled job: each run scores only the periods newer than the last run's (from
    the past only, with one novelty detector per KPI kept in --state) and skips the rest.
    The first run learns the periods given as history: they are scored, never flagged.
    """
    import pandas as pd

    from analytics_lib.analysis.anomaly.monitor import AnomalyMonitor
    from analytics_lib.analysis.workflow.kpis import kpi_table
    from analytics_lib.core.timewindow import period_coverage, time_window
    from analytics_lib.data.load import load_events

    level: str | float = sensitivity
    try:
        level = float(sensitivity)
    except ValueError:
        pass
    monitor = AnomalyMonitor.open(state_dir, sensitivity=level)  # a bad value or folder stops here
    result = load_events(source, mapping=mapping, start=start, end=end, team=list(team) or None)
    if result.events.empty:
        raise WorkbenchError("no events in the window: widen --start/--end or check --team")
    table = kpi_table(result.events, granularity=granularity)
    held = 0
    if not include_partial:  # periods cut by the window's bounds or by "now" are partial
        complete = period_coverage(table.index, granularity, window=time_window(start, end),
                                   as_of=pd.Timestamp.now(tz="UTC")).to_numpy() >= 1
        held = int((~complete).sum())
        table = table[complete]
    if table.empty:
        raise WorkbenchError("no complete period in the window yet: widen --start or pass --include-partial")
    t0 = time.perf_counter()
    new = monitor.update(table, metrics=list(metric) or None)
    s = monitor.summary
    seconds = time.perf_counter() - t0
    if csv_path:  # before printing: the state already counts these points as scored
        new.to_csv(csv_path, index=False)
    late = int(s["late"].sum())
    counts = (f"{int(s['scored'].sum()):,} new points scored, {int(s['skipped'].sum()) - late:,} already scored, "
              f"{int(s['missing'].sum()):,} missing values ({len(s)} KPIs, {seconds:.2f} s)")
    if held:
        counts += f"; {held} partial period(s) not scored yet"
    console.print(counts if len(new) else f"no new points: {counts}")
    if late:
        console.print(f"{late:,} point(s) older than the last scored one arrived late and were "
                      "not scored (the detectors only go forward)")
    if int(s["history"].sum()):
        console.print(f"first run: {int(s['history'].sum()):,} points learnt as history (scored, never flagged)")
    flagged = new[new["is_anomaly"]]
    if len(new) and flagged.empty:
        console.print("no new anomalies")
    elif len(flagged):
        print_frame(flagged[["timestamp", "metric", "observed", "score", "probability"]], index=False,
                    title=f"{len(flagged)} new anomalies — {result.summary.source} by {granularity.upper()}")
    if csv_path:
        console.print(f"{len(new):,} scored points written to {csv_path}")
