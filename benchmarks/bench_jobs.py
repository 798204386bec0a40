"""Job runner benchmark: overhead against bare papermill, and the `make run` job pass on the sample.

    python benchmarks/bench_jobs.py [--job daily-workflow] [--repeat 2] [--skip-pass] [--json]

Targets (issue 7): "the runner's overhead against bare papermill on the same notebook, measured
in one run as a ratio (target <= 1.15x), and the time of make run's job pass on the 1M-event
sample (all three reports) on this 2-core machine".

**Overhead.** One shipped job (``--job``, default the daily workflow report) on the sample
store ``data/workbench.db`` (1M events; ``make sample`` builds it). Both sides are commands,
as a crontab line would run them, in fresh processes, alternated ``--repeat`` times (fastest
of each side):

* **ours**: ``workbench jobs run <job>``: validation, lock, ledger row, fingerprint of the
  input window, papermill in a watched child process, the HTML report without code, tables
  as CSV/XLSX/marts, the atomic switch of ``latest`` and ``index.html``;
* **papermill**: ``papermill <notebook> out.ipynb -y <the same parameters> -k python3``,
  nothing else.

Both read the same store with the same resolved parameters (taken from the first, untimed run
of ours); the benchmark fails unless every pair of runs wrote identical tables. The job's ledger
lives in a temporary SQLite file, so nothing is recorded in the sample store.

``ratio_to_papermill`` is fastest over fastest. On a busy 2-core machine the notebook's own
execution varies by more than the runner's work, so each command's time is also split into the
notebook's execution (papermill's ``duration`` in the executed notebook) and everything else
(interpreter and imports, validation, ledger, kernel-free publishing): with the median notebook
time added to each side's fastest "everything else", ``ratio_at_equal_notebook_time`` is the
runner's cost without that noise.

**Job pass.** ``workbench jobs run --all`` (what ``make run`` does) over every spec in
``papermill_jobs/``, two notebooks at a time, against a temporary copy of the sample store
(copied outside the timing, so the pass records nothing in the real one) and a temporary
reports folder. Every run must succeed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from _common import ROOT, Report, measured, parser

BIN = Path(sys.executable).parent
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}, "MPLBACKEND": "Agg"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd[:6])}...\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return proc


def same_tables(a: Path, b: Path) -> int:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()), (names, sorted(p.name for p in b.iterdir()))
    for name in names:
        read = pd.read_csv if name.endswith(".csv") else pd.read_parquet
        pd.testing.assert_frame_equal(read(a / name), read(b / name), obj=name)
    return len(names)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--job", default="daily-workflow", help="the shipped job whose notebook is measured")
    p.add_argument("--repeat", type=int, default=2, help="alternated runs of each side")
    p.add_argument("--db", type=Path, default=ROOT / "data" / "workbench.db")
    p.add_argument("--parallel", type=int, default=2, help="notebooks at once in the job pass")
    p.add_argument("--skip-pass", action="store_true", help="only the overhead part")
    args = p.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"{args.db} does not exist: run `make sample` first")
    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench_jobs-"))
    try:
        # --- overhead against bare papermill ----------------------------------------------------
        from analytics_lib.jobs.spec import load_job_spec

        (tmp / "jobs").mkdir()
        shutil.copyfile(ROOT / "papermill_jobs" / f"{args.job}.yaml", tmp / "jobs" / f"{args.job}.yaml")
        notebook = load_job_spec(tmp / "jobs" / f"{args.job}.yaml").notebook
        ours_cmd = [str(BIN / "workbench"), "jobs", "--jobs-dir", str(tmp / "jobs"), "--reports", str(tmp / "reports"),
                    "--store", f"sqlite:///{tmp / 'ledger.db'}", "run", args.job,
                    "-p", f"source=sqlite:///{args.db.resolve()}"]
        t0 = time.perf_counter()
        run(ours_cmd)
        latest = (tmp / "reports" / args.job / "latest").resolve()
        params = json.loads((latest / "run.json").read_text())["parameters"]
        log(f"warm-up run of {args.job}: {time.perf_counter() - t0:.1f} s (not timed); parameters {params}")
        counter = {"ref": 0}

        def reference():
            counter["ref"] += 1
            out = tmp / f"papermill-{counter['ref']}"
            out.mkdir()
            cmd = [str(BIN / "papermill"), str(notebook), str(out / "executed.ipynb"), "-k", "python3",
                   "--no-progress-bar", "--cwd", str(notebook.parent)]
            for k, v in {**params, "output_dir": str(out / "tables")}.items():
                cmd += ["-y", yaml.safe_dump({k: v})]
            return run(cmd, timeout=3600)

        def ours():
            return run(ours_cmd, timeout=3600)

        walls: dict[str, list[float]] = {"ours": [], "papermill": []}
        peak = {"ours": 0.0, "papermill": 0.0}
        for _ in range(args.repeat):  # alternated, so slow drifts of the machine favour neither side
            for side, fn in (("papermill", reference), ("ours", ours)):
                with measured() as m:
                    fn()
                walls[side].append(m.seconds)
                peak[side] = max(peak[side], m.peak_rss_mb)
        runs = sorted(d for d in (tmp / "reports" / args.job).iterdir() if d.is_dir() and not d.is_symlink())
        assert len(runs) == args.repeat + 1
        for i in range(1, args.repeat + 1):  # each pair of runs wrote identical tables
            n_tables = same_tables(runs[i] / "tables", tmp / f"papermill-{i}" / "tables")
        ours_s, ref_s = min(walls["ours"]), min(walls["papermill"])
        ratio = ours_s / ref_s
        timeline = (runs[-1] / "run.log").read_text()

        # On a busy machine the notebook's own time varies by more than the runner's work, so each
        # command's time is also split into the notebook's execution (papermill's duration, in the
        # executed notebook) and everything else; the runner's cost is the difference of the latter.
        def nb_seconds(path: Path) -> float:
            return float(json.loads(path.read_text())["metadata"]["papermill"]["duration"])

        nb = {"ours": [nb_seconds(d / "notebook.ipynb") for d in runs[1:]],
              "papermill": [nb_seconds(tmp / f"papermill-{i}" / "executed.ipynb") for i in range(1, args.repeat + 1)]}
        outside = {k: min(w - n for w, n in zip(walls[k], nb[k])) for k in walls}
        notebook_s = float(pd.Series(nb["ours"] + nb["papermill"]).median())
        ratio_same_nb = (notebook_s + outside["ours"]) / (notebook_s + outside["papermill"])
        log(f"ours {ours_s:.1f} s, papermill {ref_s:.1f} s: {ratio:.3f}x; outside the notebook: ours "
            f"{outside['ours']:.1f} s, papermill {outside['papermill']:.1f} s (notebook median {notebook_s:.1f} s: "
            f"{ratio_same_nb:.3f}x); {n_tables} table files identical in each pair of runs")

        figures = {"job": args.job, "repeat": args.repeat, "ours_seconds": round(ours_s, 2),
                   "papermill_seconds": round(ref_s, 2), "ratio_to_papermill": round(ratio, 3),
                   "overhead_seconds": round(ours_s - ref_s, 2),
                   "ours_outside_notebook_seconds": round(outside["ours"], 2),
                   "papermill_outside_notebook_seconds": round(outside["papermill"], 2),
                   "notebook_median_seconds": round(notebook_s, 2),
                   "ratio_at_equal_notebook_time": round(ratio_same_nb, 3), "tables_compared": n_tables,
                   "ours_runs_seconds": [round(w, 1) for w in walls["ours"]],
                   "papermill_runs_seconds": [round(w, 1) for w in walls["papermill"]]}
        r = Report(f"bench_jobs: `workbench jobs run {args.job}` vs bare `papermill` on the same notebook "
                   f"({args.db.name}, fastest of {args.repeat} alternated runs); then `make run`'s job pass")
        r.add(f"{args.job}: seconds, command to exit (fastest)", ours_s, ref_s, ratio, "<= 1.15x papermill")
        r.add("  seconds outside the notebook's execution", outside["ours"], outside["papermill"], None, "")
        r.add(f"  ratio at the median notebook time ({notebook_s:.1f} s)", notebook_s + outside["ours"],
              notebook_s + outside["papermill"], ratio_same_nb, "<= 1.15x papermill")
        r.add("  peak RSS MB (process tree)", peak["ours"], peak["papermill"], None, "")

        # --- make run's job pass ----------------------------------------------------------------
        if not args.skip_pass:
            store = tmp / "store.db"
            t0 = time.perf_counter()
            shutil.copyfile(args.db, store)
            log(f"sample store copied in {time.perf_counter() - t0:.1f} s (not timed)")
            cmd = [str(BIN / "workbench"), "jobs", "--store", f"sqlite:///{store}", "--reports", str(tmp / "pass"),
                   "run", "--all", "--parallel", str(args.parallel)]
            with measured() as m:
                proc = run(cmd, timeout=7200)
            from analytics_lib.jobs.spec import load_job_specs
            from analytics_lib.jobs.ledger import run_history

            h = run_history(f"sqlite:///{store}", limit=None)
            h = h[h["run_dir"].str.startswith(str(tmp / "pass"))]  # the copy may hold older runs
            assert (h["status"] == "succeeded").all(), h[["job", "variant", "status", "error"]]
            per_job = h.groupby("job")["duration_s"].sum()
            reports = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip().endswith("report.html")]
            with_html = {s.name for s in load_job_specs() if "html" in s.outputs}  # the marts job publishes tables only
            expected = [Path(d) / "report.html" for d, j in zip(h["run_dir"], h["job"]) if j in with_html]
            assert sorted(reports) == sorted(map(str, expected)), (reports, expected)
            assert all(p.is_file() for p in expected)
            r.add(f"job pass: seconds for {len(h)} runs of {h['job'].nunique()} jobs", m.seconds, None, None,
                  f"--parallel {args.parallel}")
            for job, s in per_job.items():
                r.add(f"  {job}: notebook seconds (sum over runs)", float(s), None, None, "")
            r.add("  peak RSS MB (process tree)", m.peak_rss_mb, None, None, "")
            figures.update({"job_pass_seconds": round(m.seconds, 1), "job_pass_runs": int(len(h)),
                            "job_pass_jobs": int(h["job"].nunique()), "job_pass_parallel": args.parallel,
                            "job_pass_peak_rss_mb": round(m.peak_rss_mb, 1),
                            "job_pass_run_seconds": {j: round(float(s), 1) for j, s in per_job.items()}})
        figures["load_avg_1min_at_start"] = round(load0, 2)
        r.figures.update(figures)
        r.add("load average (1 min) at start", load0, None, None, "other work on the machine")
        r.emit(args.json)
        print("\nlast timed run of ours:\n" + timeline.strip(), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
