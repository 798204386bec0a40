"""Data gates, alerts and incremental ingest (issue 19).

    python benchmarks/bench_gates.py [--db data/workbench.db] [--files 10] [--per-file 100000] [--json]

**Gates.** Every gate of every shipped job spec (each grid variant, windows resolved now) over
the 1M-event sample store, in one fresh process: ``gate_seconds_1m``. Reference: the same
figures computed the way a frame-level check must, by loading each run's events with
``load_events`` and counting in pandas (and both must agree on every count).

**Alerts.** A loopback HTTP receiver (a JSON webhook, through apprise):

* ``alert_latency_s``: from the start of ``workbench jobs run`` (a fresh process) of a job whose
  data is 5 days old to the message arriving at the receiver;
* ``duplicate_alerts``: messages beyond the two expected (blocked, recovered) over 10 consecutive
  blocked runs and one succeeded run of the shipped KPI alerts job.

**Incremental ingest.** ``files`` Parquet exports of ``per-file`` events each into a folder store:
``incremental_events_per_s`` for one uninterrupted run (reference: reading and validating the
same files alone, the work any ingest does); then the same into a fresh store with the command
killed with SIGKILL at 5 random points and resumed: every event exactly once. The SQLite store's
rate is shown too.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import yaml
from _common import ROOT, Report, measured, parser

BIN = Path(sys.executable).parent
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}, "MPLBACKEND": "Agg"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Receiver:
    """A JSON webhook on loopback: the messages and when each arrived."""

    def __init__(self) -> None:
        self.got: list[tuple[float, dict]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.got.append((time.time(), json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------------
def bench_gates(db: str, r: Report) -> None:
    code = f"""
import json, time
t0 = time.perf_counter()
from analytics_lib.jobs.gates import check_gates, data_stats
from analytics_lib.jobs.prepare import _prepare
from analytics_lib.jobs.spec import job_variants, load_job_specs
from analytics_lib.jobs.common import _utcnow
now = _utcnow()
specs = [s for s in load_job_specs() if s.gates]
t1 = time.perf_counter()
out = []
for s in specs:
    for v in job_variants(s):
        p = _prepare(s, v, store={db!r}, anchor=now)
        st = data_stats(p.source, window=p.window, team=p.team)
        res = check_gates(s.gates, st, at=now, window=p.window, history=[])
        out.append({{"job": s.name, "variant": v.slug, "rows": st.rows, "latest": str(st.latest),
                     "start": str(getattr(p.window, "start", None)), "end": str(getattr(p.window, "end", None)),
                     "team": p.team, "passed": [g.passed for g in res]}})
print(json.dumps({{"seconds": time.perf_counter() - t1, "imports": t1 - t0, "runs": out}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout.strip().splitlines()[-1])
    from analytics_lib import load_events

    t0 = time.perf_counter()
    for run in ours["runs"]:  # the reference: load the run's events, count in pandas
        start = None if run["start"] == "None" else run["start"]
        end = None if run["end"] == "None" else run["end"]
        ev = load_events(db, start=pd.Timestamp(start) if start else None, end=pd.Timestamp(end) if end else None,
                         team=run["team"]).events
        assert len(ev) == run["rows"], (run, len(ev))
    ref = time.perf_counter() - t0
    n = len(ours["runs"])
    r.add(f"gates of every shipped spec ({n} runs), seconds", ours["seconds"], ref, ref / ours["seconds"], "< 2 s")
    r.add("  (imports of that process, not counted)", ours["imports"], None, None, "")
    blocked = [f"{x['job']}/{x['variant'] or '-'}" for x in ours["runs"] if not all(x["passed"])]
    r.add("  runs a gate would block now", len(blocked), None, None, ", ".join(blocked) or "none")
    r.figures.update({"gate_seconds_1m": round(ours["seconds"], 3), "gate_runs": n,
                      "gate_reference_seconds": round(ref, 2), "gate_blocked_now": blocked})


def _store(path: Path, end: str, n: int = 3_000) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{path}"
    write_events(validate_events(synthetic_events(n, days=28, seed=1, end=end, malformed_share=0).events), url)
    return url


def bench_alerts(tmp: Path, r: Report) -> None:
    rec = Receiver()
    try:
        today = pd.Timestamp.now("UTC").normalize()
        stale = _store(tmp / "stale.db", (today - pd.Timedelta(days=5)).strftime("%Y-%m-%d"))
        fresh = _store(tmp / "fresh.db", today.strftime("%Y-%m-%d"))
        jobs = tmp / "jobs"
        jobs.mkdir()
        for name in ("daily-workflow", "daily-kpi-alerts"):
            spec = yaml.safe_load((ROOT / "papermill_jobs" / f"{name}.yaml").read_text())
            spec["notebook"] = str(ROOT / spec["notebook"])
            spec["notify"] = {"on": ["failure"], "log": "notifications.log", "channels": [rec.url]}
            (jobs / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        # latency: a fresh command whose gate fails, to the message at the receiver
        t0 = time.time()
        proc = subprocess.run([str(BIN / "workbench"), "jobs", "--jobs-dir", str(jobs), "--reports",
                               str(tmp / "reports"), "--store", stale, "run", "daily-workflow"],
                              capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
        deadline = time.time() + 60
        while not rec.got and time.time() < deadline:
            time.sleep(0.05)
        assert proc.returncode == 1 and rec.got, (proc.returncode, proc.stderr[-2000:])
        latency = rec.got[0][0] - t0
        assert "blocked" in rec.got[0][1]["title"], rec.got[0][1]
        r.add("alert latency: run start to message received, s", latency, None, None, "< 60 s")
        r.add("  the message", rec.got[0][1]["title"], None, None, "")
        # duplicates: 10 blocked runs and one recovery of the KPI alerts job -> 2 messages
        from analytics_lib.jobs.runner import run_job
        from analytics_lib.jobs.spec import find_job, load_job_specs

        rec.got.clear()
        spec = find_job(load_job_specs(jobs), "daily-kpi-alerts")
        statuses = []
        for i in range(11):
            source = stale if i < 10 else fresh
            [res] = run_job(spec, overrides={"source": source}, store=f"sqlite:///{tmp / 'ledger.db'}",
                            reports=tmp / "reports2", parallel=1)
            statuses.append(res.status)
        time.sleep(1.0)
        assert statuses == ["blocked"] * 10 + ["succeeded"], statuses
        titles = [m["title"] for _, m in rec.got]
        dup = len(titles) - 2
        r.add("messages over 10 blocked runs and 1 recovery", len(titles), 2, None, "2 (0 duplicates)")
        for t in titles:
            r.add(f"  {t}", "", None, None, "")
        r.figures.update({"alert_latency_s": round(latency, 2), "duplicate_alerts": dup, "alert_titles": titles})
    finally:
        rec.close()


def bench_incremental(tmp: Path, files: int, per_file: int, r: Report) -> None:
    from analytics_lib import load_events
    from analytics_lib.data.incremental import ingest_batches, ingest_incremental
    from analytics_lib.data.synthetic.events import synthetic_events

    src = tmp / "exports"
    src.mkdir()
    ev = synthetic_events(files * per_file, days=90, seed=2, malformed_share=0).events
    n = len(ev) // files
    for i in range(files):
        ev.iloc[i * n: len(ev) if i == files - 1 else (i + 1) * n].to_parquet(src / f"events-{i:02d}.parquet",
                                                                              index=False)
    total = len(ev)
    del ev
    with measured() as ref:
        kept = sum(load_events(p).summary.rows_kept for p in sorted(src.glob("*.parquet")))
    assert kept == total
    with measured() as ours:
        batches = ingest_incremental(src, tmp / "store")
    assert sum(b.inserted for b in batches) == total and len(batches) == files
    rate, ref_rate = total / ours.seconds, total / ref.seconds
    r.add(f"incremental ingest, {files} files x {per_file:,}: events/s (folder store)", rate, ref_rate,
          rate / ref_rate, ">= 1,000,000")
    with measured() as sql:
        ingest_incremental(src, f"sqlite:///{tmp / 'store.db'}")
    r.add("  into a SQLite store: events/s", total / sql.seconds, None, None, "")
    # killed at random points and resumed
    cmd = [str(BIN / "workbench"), "ingest", str(src), "--into", str(tmp / "killed"), "--incremental"]
    rng = random.Random(19)
    kills = []
    for _ in range(5):  # each run commits a batch or two, and is killed during the next one
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT, text=True)
        for _ in range(rng.randint(0, 1)):
            if not p.stdout.readline():
                break
        time.sleep(rng.uniform(0, 0.1))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills.append(len(ingest_batches(tmp / "killed")))
        p.communicate(timeout=120)
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    stored = pd.read_parquet(tmp / "killed", columns=["event_id"])
    exactly_once = len(stored) == stored["event_id"].nunique() == total
    r.add(f"killed {len(kills)} times (batches committed at each kill: {kills}), resumed: events stored", len(stored),
          total, None, "every event exactly once")
    assert exactly_once, (len(stored), stored["event_id"].nunique(), total)
    r.figures.update({"incremental_events_per_s": round(rate), "incremental_reference_events_per_s": round(ref_rate),
                      "incremental_sqlite_events_per_s": round(total / sql.seconds), "incremental_events": total,
                      "incremental_kills": len(kills), "incremental_exactly_once": exactly_once})


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--db", default=str(ROOT / "data" / "workbench.db"), help="the 1M-event sample store")
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--per-file", type=int, default=100_000)
    p.add_argument("--skip", default="", help="comma-separated parts to skip: gates, alerts, ingest")
    args = p.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    r = Report("Data gates, alerts and incremental ingest")
    tmp = Path(tempfile.mkdtemp(prefix="bench_gates_"))
    try:
        if "gates" not in skip:
            log("gates over the sample store ...")
            bench_gates(f"sqlite:///{Path(args.db).resolve()}", r)
        if "alerts" not in skip:
            log("alerts through a loopback webhook ...")
            bench_alerts(tmp, r)
        if "ingest" not in skip:
            log("incremental ingest ...")
            bench_incremental(tmp, args.files, args.per_file, r)
        r.emit(args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
