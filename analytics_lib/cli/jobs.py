"""``workbench jobs``: list, run, schedule, history, diff, prune.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from analytics_lib.cli.main import _Group, _safe, console, err_console, main, print_frame
from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError


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
    """Scheduled notebook reports: list, run, schedule, history, diff, prune (docs/jobs.md).

    \b
      workbench jobs list
      workbench jobs run daily-workflow -p start=-7d
      workbench jobs diff RUN_ID      # what changed since the job's previous run
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
    from analytics_lib.jobs.schedule import job_table
    from analytics_lib.jobs.spec import load_job_specs
    from analytics_lib.jobs.runner import mark_interrupted_runs

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
    from analytics_lib.jobs.lock import JobAlreadyRunning
    from analytics_lib.jobs.prepare import check_job
    from analytics_lib.jobs.spec import find_job, load_job_specs, parse_overrides
    from analytics_lib.jobs.schedule import run_due_jobs
    from analytics_lib.jobs.runner import run_job

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

    from analytics_lib.jobs.schedule import job_scheduler, job_table, run_due_jobs
    from analytics_lib.jobs.spec import load_job_specs
    from analytics_lib.jobs.runner import mark_interrupted_runs

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
    from analytics_lib.jobs.runner import mark_interrupted_runs
    from analytics_lib.jobs.ledger import run_history

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
    from analytics_lib.jobs.index import prune_runs

    pruned = prune_runs(keep=keep, store=obj["store"], reports=obj["reports"], job=name)
    if not pruned.empty:
        print_frame(pruned, index=False, title="pruned runs")
    console.print(f"{len(pruned)} run(s) pruned, keeping the newest {keep} per job")


@jobs.command("diff")
@click.argument("run_a")
@click.argument("run_b", required=False)
@click.option("--tolerance", default=0.05, show_default=True, type=click.FloatRange(min=0),
              help="Relative change of a headline figure that counts as a change (0.05 = 5 %).")
@click.option("--all", "show_all", is_flag=True, help="List every figure, not only those beyond the tolerance.")
@click.pass_obj
def jobs_diff(obj: dict, run_a: str, run_b: str | None, tolerance: float, show_all: bool) -> None:
    """What changed from run RUN_A to RUN_B: headline figures, method, data.

    RUN_A and RUN_B are run ids (`workbench jobs history`) or run folders; without RUN_B,
    RUN_A is compared with the previous successful run of its job. Exit status 0 when every
    headline figure is within the tolerance, 1 when one is beyond it, 2 on a bad run.

    \b
      workbench jobs diff 20261130T060002Z-3fa9c1 20261207T060001Z-77ab02
      workbench jobs diff reports/daily-workflow/latest --tolerance 0.1
    """
    from analytics_lib.jobs.diff import compare_runs, find_run, previous_success

    b = find_run(run_b or run_a, obj["reports"])
    if run_b:
        a = find_run(run_a, obj["reports"])
    else:
        a = previous_success(b.parent, b.name)
        if a is None:
            raise WorkbenchError(f"{b.name} has no earlier successful run of its job to compare with; give RUN_B")
    d = compare_runs(a, b, tolerance=tolerance)
    console.print(d.text(limit=10_000 if show_all else 15), markup=False, highlight=False)
    if show_all:
        print_frame(d.figures.set_index("figure"), title="every headline figure")
    sys.exit(1 if len(d.beyond) else 0)
