"""Scale benchmark: KPIs and sessionization on 10M, 50M and 100M events, pandas and Dask engines.

    python benchmarks/bench_scale.py [--sizes 10M,50M,100M] [--pandas-max 10M] [--workers 2]
                                     [--shuffle p2p|tasks] [--no-checkpoint] [--json]

Targets (issue 9): the Dask engine's peak memory stays flat (within 1.5x) from 10M to 100M
events, its time grows no worse than linearly, and at 10M events it is within 2x of the
pandas engine. ``--json`` ends with one line holding at least ``memory_growth`` (largest /
smallest size's peak memory, Dask) and ``dask_vs_pandas_10m`` (time ratio).

Data: Parquet on disk in ``data/bench/scale/``, generated once in chunks of 10M events, one
chunk at a time in a child process (bounded memory): chunk 0 is the 10M sample of
``bench_ingest``, chunk k > 0 is ``synthetic_events(10M, days=730, seed=k)`` with its user and
event ids prefixed ``c<k>-`` (so the chunks are different users). ``session_id`` is left out,
so sessions must be derived (30 min inactivity gap). A size of N events is the folder
``events_<N>`` of links to the first N / 10M chunks (one file of 10 row groups per chunk).

One timed unit of work, the same on both engines, in its own child process:
read the Parquet, map and validate (quarantine counts reconciled), derive sessions, the daily
KPI table (``kpi_table(granularity="D")``: events, active users, sessions, rates, exact
latency percentiles, stickiness...) and the session table written to Parquet.

* **pandas**: ``load_events`` -> ``sessionize`` -> ``kpi_table`` + ``session_table`` ->
  ``to_parquet``, in one process; run up to ``--pandas-max`` events (it holds everything in
  memory: about 4.5 GB at 10M);
* **Dask**: a ``LocalCluster`` of ``--workers`` worker processes (1 thread each) started by
  ``analytics_lib.compute.dask.cluster.dask_client``; ``dask_events`` -> ``events_by_user`` (the columns the
  job needs) -> ``dask_sessionize`` -> ``.checkpoint(...)`` (the sessionized partitions written to
  Parquet with the validation counts, in one pass) -> ``dask_kpi_table`` +
  ``dask_session_table(...).to_parquet`` in one ``dask.compute``. ``--no-checkpoint`` computes the
  results and the counts straight from the shuffle instead: the shuffle's output partitions,
  read by both results, then pile up in the workers' memory (peak memory grows with the data).

Time: the child's wall time for that unit (not the imports, not the cluster's start, which is
reported apart). Memory: the peak RSS of the whole process tree (this process, the child, and
for Dask the nannies and workers), sampled every 5 ms. The engines' KPI tables must agree
(counts exactly, other columns to 1e-9 relative) and so must their numbers of sessions.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the child processes import analytics_lib from the checkout

from _common import CACHE, Report, measured, parser  # noqa: E402

CHUNK = 10_000_000
END = "2025-06-30"
NOW = "2025-07-01"
DAYS = 730
SCALE = CACHE / "scale"
#: Columns the job needs after validation (event_id, success and manual_minutes stay behind).
JOB_COLUMNS = ["ts", "user_id", "event_type", "session_id", "team", "feature", "model", "latency_ms", "tokens_in",
               "tokens_out", "cost_usd", "cache_hit", "satisfaction"]
EXACT = ["events", "active_users", "sessions", "accepts"]


# ============================================================================================
# Data
def chunk_path(k: int) -> Path:
    return SCALE / f"chunk-{k:02d}.parquet"


def _make_chunk(k: int) -> None:
    """One 10M-event world without session ids; chunk k > 0 prefixes its ids with ``c<k>-``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = chunk_path(k)
    SCALE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if k == 0:  # the 10M sample of bench_ingest/bench_workflow, minus its session ids
        from bench_ingest import sample_parquet

        table = pq.read_table(sample_parquet(CHUNK)).drop_columns(["session_id"])
    else:
        from analytics_lib.data.synthetic.events import synthetic_events

        events = synthetic_events(CHUNK, days=DAYS, end=END, seed=k).events.drop(columns="session_id")
        table = pa.Table.from_pandas(events, preserve_index=False)
        del events
        prefix = f"c{k:02d}-"
        for name in ("event_id", "user_id"):
            col = table.column(name).combine_chunks()
            if pa.types.is_dictionary(col.type):
                words = col.dictionary
                col = pa.DictionaryArray.from_arrays(
                    col.indices, pc.binary_join_element_wise(pa.scalar(prefix, words.type), words, pa.scalar("", words.type)))
            else:
                col = pc.binary_join_element_wise(pa.scalar(prefix, col.type), col, pa.scalar("", col.type))
            table = table.set_column(table.schema.get_field_index(name), name, col)
    tmp = out.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=1_000_000)
    tmp.replace(out)  # a killed run never leaves a half-written chunk behind
    print(f"generated {table.num_rows:,} events into {out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def scale_dataset(n_events: int) -> Path:
    """The folder of ``n_events / 10M`` cached chunks (links); missing chunks are generated, each in a child."""
    if n_events % CHUNK or n_events <= 0:
        raise SystemExit(f"sizes are positive multiples of {CHUNK:,} events, got {n_events:,}")
    folder = SCALE / f"events_{n_events}"
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_events // CHUNK):
        if not chunk_path(k).exists():  # a child process: its memory is returned when it exits
            subprocess.run([sys.executable, __file__, "--make-chunk", str(k)], check=True)
        link = folder / chunk_path(k).name
        if not link.exists():
            os.symlink(os.path.relpath(chunk_path(k), folder), link)
    return folder


# ============================================================================================
# The unit of work, run in a child process
def run_pandas(path: Path, out: Path) -> dict:
    from analytics_lib import kpi_table, load_events, session_table, sessionize

    t0 = time.perf_counter()
    loaded = load_events(path, now=NOW)
    s = sessionize(loaded.events)
    kpis = kpi_table(s, granularity="D")
    sessions = session_table(s)
    sessions.to_parquet(out / "sessions.parquet", index=False)
    seconds = time.perf_counter() - t0
    kpis.to_parquet(out / "kpis.parquet")
    return {"seconds": seconds, "rows_read": loaded.summary.rows_read, "rows_kept": loaded.summary.rows_kept,
            "reconciles": loaded.summary.reconciles, "sessions": len(sessions)}


def run_dask(path: Path, out: Path, workers: int, shuffle: str | None, checkpoint: bool = True) -> dict:
    import dask
    import pyarrow.parquet as pq

    from analytics_lib.compute.dask.cluster import dask_client
    from analytics_lib.compute.dask.readers import dask_events, summary_from_counts
    from analytics_lib.compute.dask.analyses import dask_kpi_table, dask_session_table, dask_sessionize
    from analytics_lib.compute.dask.partition import events_by_user

    t0 = time.perf_counter()
    with dask_client(n_workers=workers) as client:
        ready = time.perf_counter()
        loaded = dask_events(path, now=NOW)
        s = dask_sessionize(events_by_user(loaded, columns=JOB_COLUMNS, shuffle_method=shuffle))
        if checkpoint:  # bounded memory: two results read every partition (see UserPartitioned.checkpoint)
            cp = s.checkpoint(out / "by_user", compute=False)
            _, counts = dask.compute(cp.write, loaded.counts)  # one pass over the source for both
            s = cp.users
            written = dask_session_table(s).to_parquet(str(out / "sessions"), compute=False, write_index=False)
            kpis, _ = dask.compute(dask_kpi_table(s, granularity="D"), written)
        else:
            written = dask_session_table(s).to_parquet(str(out / "sessions"), compute=False, write_index=False)
            kpis, counts, _ = dask.compute(dask_kpi_table(s, granularity="D"), loaded.counts, written)
        seconds = time.perf_counter() - ready
        nthreads = sum(client.nthreads().values())
    summary = summary_from_counts(counts, source=str(path))
    kpis.to_parquet(out / "kpis.parquet")
    return {"seconds": seconds, "startup_seconds": ready - t0, "rows_read": summary.rows_read,
            "rows_kept": summary.rows_kept, "reconciles": summary.reconciles, "threads": nthreads,
            "sessions": pq.ParquetDataset(str(out / "sessions")).read(columns=["session_id"]).num_rows}


def _child(engine: str, n: int, out: str, workers: int, shuffle: str | None, checkpoint: bool) -> None:
    path = SCALE / f"events_{n}"
    result = run_pandas(path, Path(out)) if engine == "pandas" else \
        run_dask(path, Path(out), workers, shuffle, checkpoint)
    print("RESULT " + json.dumps(result), flush=True)


def measure(engine: str, n: int, workers: int, shuffle: str | None,
            checkpoint: bool = True) -> tuple[dict, object, Path]:
    """Run the unit in a child process; its result, the tree's Measure and the output folder."""
    out = Path(tempfile.mkdtemp(prefix=f"bench_scale_{engine}_"))
    cmd = [sys.executable, __file__, "--child", engine, str(n), str(out), str(workers), shuffle or "",
           "checkpoint" if checkpoint else ""]
    gc.collect()
    with measured() as m:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise SystemExit(f"{engine} run on {n:,} events failed (exit {proc.returncode})")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):]), m, out


def check_same(dask_dir: Path, pandas_dir: Path, dask_res: dict, pandas_res: dict) -> None:
    import numpy as np
    import pandas as pd

    a, b = pd.read_parquet(dask_dir / "kpis.parquet"), pd.read_parquet(pandas_dir / "kpis.parquet")
    assert a.index.equals(b.index), "the engines' KPI tables cover different periods"
    for c in b.columns:
        if c in EXACT:
            assert (a[c].to_numpy() == b[c].to_numpy()).all(), f"{c} differs between the engines"
        else:
            np.testing.assert_allclose(a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=f"{c} differs between the engines")
    for k in ("rows_read", "rows_kept", "sessions"):
        assert dask_res[k] == pandas_res[k], f"{k}: Dask {dask_res[k]} != pandas {pandas_res[k]}"


def _size(text: str) -> int:
    text = text.strip().upper()
    scale = {"M": 1_000_000, "K": 1_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "MK" else text) * scale)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10M,50M,100M", help="comma-separated sizes, multiples of 10M (default 10M,50M,100M)")
    p.add_argument("--pandas-max", default="10M", help="largest size the pandas engine runs at (default 10M)")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4), help="Dask worker processes")
    p.add_argument("--shuffle", default=None, choices=["p2p", "tasks"], help="Dask shuffle (default: Dask's, p2p)")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="Dask: compute the results straight from the shuffle, without UserPartitioned.checkpoint")
    args = p.parse_args()
    sizes = sorted({_size(s) for s in args.sizes.split(",") if s.strip()})
    pandas_max = _size(args.pandas_max)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    rows, figures = {}, {"sizes": sizes, "workers": args.workers, "shuffle": args.shuffle or "p2p",
                         "checkpoint": not args.no_checkpoint, "cores": os.cpu_count()}
    for n in sizes:
        scale_dataset(n)
        row: dict = {}
        log(f"{n:,} events: Dask ...")
        res, m, dask_out = measure("dask", n, args.workers, args.shuffle, not args.no_checkpoint)
        assert res["reconciles"], "the Dask validation counts do not reconcile"
        row.update(dask_seconds=res["seconds"], dask_peak_mb=m.peak_rss_mb, dask_startup_seconds=res["startup_seconds"],
                   rows=res["rows_kept"], sessions=res["sessions"])
        log(f"  Dask {res['seconds']:.1f} s, peak {m.peak_rss_mb:,.0f} MB ({res['sessions']:,} sessions)")
        if n <= pandas_max:
            log(f"{n:,} events: pandas ...")
            pres, pm, pandas_out = measure("pandas", n, args.workers, args.shuffle)
            check_same(dask_out, pandas_out, res, pres)
            row.update(pandas_seconds=pres["seconds"], pandas_peak_mb=pm.peak_rss_mb)
            log(f"  pandas {pres['seconds']:.1f} s, peak {pm.peak_rss_mb:,.0f} MB; the engines agree")
            shutil.rmtree(pandas_out, ignore_errors=True)
        shutil.rmtree(dask_out, ignore_errors=True)
        rows[n] = row

    lo, hi = sizes[0], sizes[-1]
    r = Report(f"bench_scale: read + validate + sessionize + daily KPIs + session table (Parquet), "
               f"Dask ({args.workers} workers x 1 thread, {args.shuffle or 'p2p'} shuffle"
               f"{', no checkpoint' if args.no_checkpoint else ', checkpointed by user'}) against pandas")
    for n in sizes:
        row = rows[n]
        ratio = row["dask_seconds"] / row["pandas_seconds"] if "pandas_seconds" in row else None
        r.add(f"seconds, {n / 1e6:g}M events", row["dask_seconds"], row.get("pandas_seconds"), ratio,
              "ratio <= 2" if n == lo and ratio is not None else "")
        mem_ratio = row["dask_peak_mb"] / row["pandas_peak_mb"] if "pandas_peak_mb" in row else None
        r.add(f"peak RSS MB (process tree), {n / 1e6:g}M", row["dask_peak_mb"], row.get("pandas_peak_mb"), mem_ratio, "")
        r.add(f"events per second, {n / 1e6:g}M", row["rows"] / row["dask_seconds"],
              row["rows"] / row["pandas_seconds"] if "pandas_seconds" in row else None, None, "")
    growth = rows[hi]["dask_peak_mb"] / rows[lo]["dask_peak_mb"]
    time_growth = (rows[hi]["dask_seconds"] / rows[hi]["rows"]) / (rows[lo]["dask_seconds"] / rows[lo]["rows"])
    r.add(f"Dask peak memory, {hi / 1e6:g}M / {lo / 1e6:g}M", growth, None, None, "<= 1.5 (flat)")
    r.add(f"Dask seconds per event, {hi / 1e6:g}M / {lo / 1e6:g}M", time_growth, None, None, "<= 1 (linear)")
    r.add("Dask cluster start seconds (not in the times)", rows[lo]["dask_startup_seconds"], None, None, "")
    figures.update({f"{k}_{n // 1_000_000}m": round(v, 3) for n, row in rows.items() for k, v in row.items()
                    if isinstance(v, float)})
    figures.update({f"rows_{n // 1_000_000}m": row["rows"] for n, row in rows.items()})
    figures["memory_growth"] = round(growth, 3)
    figures["time_per_event_growth"] = round(time_growth, 3)
    if "pandas_seconds" in rows[lo]:
        figures[f"dask_vs_pandas_{lo // 1_000_000}m"] = round(rows[lo]["dask_seconds"] / rows[lo]["pandas_seconds"], 3)
    r.figures = figures
    r.emit(args.json)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--make-chunk":
        _make_chunk(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child":
        engine, n, out, workers, shuffle, checkpoint = sys.argv[2:8]
        _child(engine, int(n), out, int(workers), shuffle or None, checkpoint == "checkpoint")
    else:
        main()
