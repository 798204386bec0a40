"""Ingest benchmark: load + validate N events from Parquet, against a bare pyarrow read of the same file.

    python benchmarks/bench_ingest.py [--events 10000000] [--repeat 3] [--json]

Targets (issue 2): >= 2M events/s and validation overhead <= 1.5x the bare
``pyarrow.parquet.read_table(path).to_pandas()``. The Parquet file is generated once by the
sample generator and cached in data/bench/.

The sample's event ids ascend with time (as sequences, ULIDs or UUIDv7 do), so the duplicate
check takes its linear path. A second file with the same events and their ids in random order
measures the hash path too (``*_random_ids`` figures).
"""
from __future__ import annotations

import sys
import time

import pyarrow.parquet as pq
import numpy as np
import pyarrow as pa
from _common import CACHE, Report, best_of, interleaved, parser


def sample_parquet(n_events: int):
    """Cached Parquet of the seeded sample (fixed end date so the file never changes)."""
    path = CACHE / f"events_{n_events}.parquet"
    if not path.exists():
        from analytics_lib.data.synthetic.events import synthetic_events

        CACHE.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        days = max(180, n_events // 5_000)
        data = synthetic_events(n_events, days=min(days, 730), end="2025-06-30", seed=0, progress=True)
        data.events.to_parquet(path, index=False, row_group_size=1_000_000)
        print(f"generated {len(data.events):,} events into {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


def random_id_parquet(path):
    """The same file with event ids permuted (still unique, no longer ascending)."""
    out = path.with_name(path.stem + "_random_ids.parquet")
    if not out.exists():
        table = pq.read_table(path)
        ids = table.column("event_id").combine_chunks()
        perm = pa.array(np.random.default_rng(0).permutation(len(ids)))
        table = table.set_column(table.schema.get_field_index("event_id"), "event_id", ids.take(perm))
        pq.write_table(table, out, row_group_size=1_000_000)
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    from analytics_lib import load_events

    path = sample_parquet(args.events)
    n = pq.ParquetFile(path).metadata.num_rows
    def check(res):
        assert res.summary.rows_kept == n and res.summary.reconciles

    shuffled = random_id_parquet(path)
    # Back-to-back runs of each side (timeit style, warm allocator) ...
    bare = best_of(args.repeat, lambda: pq.read_table(path).to_pandas())
    ours = best_of(args.repeat, lambda: load_events(path, now="2025-07-01"), check)
    # ... and alternating runs, where each side starts after the other freed its memory (stricter).
    ours_i, bare_i = interleaved(args.repeat, lambda: load_events(path, now="2025-07-01"),
                                 lambda: pq.read_table(path).to_pandas(), check)
    ours_r, bare_r = interleaved(args.repeat, lambda: load_events(shuffled, now="2025-07-01"),
                                 lambda: pq.read_table(shuffled).to_pandas(), check)
    eps, ratio = n / ours.seconds, ours.seconds / bare.seconds
    eps_r, ratio_r = n / ours_r.seconds, ours_r.seconds / bare_r.seconds
    r = Report(f"bench_ingest: {n:,} events from Parquet, best of {args.repeat} interleaved runs")
    r.add("load+validate seconds", ours.seconds, bare.seconds, ratio, "ratio <= 1.5")
    r.add("events per second", eps, n / bare.seconds, None, ">= 2,000,000")
    r.add("peak RSS MB", ours.peak_rss_mb, bare.peak_rss_mb, ours.peak_rss_mb / bare.peak_rss_mb, "")
    r.add("seconds, alternating runs", ours_i.seconds, bare_i.seconds, ours_i.seconds / bare_i.seconds, "")
    r.add("seconds, ids in random order", ours_r.seconds, bare_r.seconds, ratio_r, "(hash path)")
    r.add("events/s, ids in random order", eps_r, n / bare_r.seconds, None, "")
    r.figures = {"events": n, "seconds": round(ours.seconds, 3), "bare_read_seconds": round(bare.seconds, 3),
                 "events_per_s": round(eps), "ratio_to_bare_read": round(ratio, 3),
                 "peak_rss_mb": round(ours.peak_rss_mb, 1), "bare_peak_rss_mb": round(bare.peak_rss_mb, 1),
                 "ratio_to_bare_read_interleaved": round(ours_i.seconds / bare_i.seconds, 3),
                 "events_per_s_random_ids": round(eps_r), "ratio_to_bare_read_random_ids": round(ratio_r, 3)}
    r.emit(args.json)


if __name__ == "__main__":
    main()
