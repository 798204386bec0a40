"""Shared helpers for the benchmark scripts: timing, peak memory, the table and the --json line.

Every benchmark measures our code and a reference in the same process, on the same data,
and reports ratios. ``--json`` makes the last line of output one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "bench"


@dataclass
class Measure:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0      # process RSS high-water mark during the block
    delta_rss_mb: float = 0.0     # that peak minus the RSS at the start of the block


@contextmanager
def measured(interval: float = 0.005):
    """Time a block and sample the RSS of this process (and its children) to find its peak."""
    gc.collect()
    proc = psutil.Process()
    m = Measure()
    start_rss = _tree_rss(proc)
    peak = [start_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(proc))
            stop.wait(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - t0
        stop.set()
        t.join()
        peak[0] = max(peak[0], _tree_rss(proc))
        m.peak_rss_mb = peak[0] / 2**20
        m.delta_rss_mb = (peak[0] - start_rss) / 2**20


def _tree_rss(proc: psutil.Process) -> int:
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


def best_of(n: int, fn, check=None):
    """Run ``fn`` n times and return the fastest Measure (memory: the max over runs).

    Each run's result is checked with ``check`` (if given) and released before the next
    run, so one run's data never inflates another's time or memory.
    """
    best, mem = None, 0.0
    warm = fn()  # untimed: page cache, imports, allocator
    del warm
    for _ in range(n):
        with measured() as m:
            result = fn()
        if check is not None:
            check(result)
        del result
        mem = max(mem, m.peak_rss_mb)
        if best is None or m.seconds < best.seconds:
            best = m
    best.peak_rss_mb = mem
    return best


def interleaved(n: int, ours, reference, check=None) -> tuple[Measure, Measure]:
    """Alternate runs of ``ours`` and ``reference`` n times each; fastest of each side.

    Alternating keeps slow drifts of the machine (page cache, other load) from favouring
    either side.
    """
    best = {"ours": None, "reference": None}
    mem = {"ours": 0.0, "reference": 0.0}
    for _ in range(n):
        for side, fn in (("reference", reference), ("ours", ours)):
            with measured() as m:
                result = fn()
            if check is not None and side == "ours":
                check(result)
            del result
            mem[side] = max(mem[side], m.peak_rss_mb)
            if best[side] is None or m.seconds < best[side].seconds:
                best[side] = m
    for side in best:
        best[side].peak_rss_mb = mem[side]
    return best["ours"], best["reference"]


@dataclass
class Report:
    title: str
    rows: list[tuple] = field(default_factory=list)  # (figure, ours, reference, ratio, target)
    figures: dict = field(default_factory=dict)

    def add(self, figure: str, ours, reference=None, ratio=None, target: str = "") -> None:
        self.rows.append((figure, ours, reference, ratio, target))

    def emit(self, as_json: bool) -> None:
        def fmt(v):
            if v is None:
                return "-"
            if isinstance(v, float):
                return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
            return str(v)
        header = ("figure", "ours", "reference", "ratio", "target")
        cells = [header] + [tuple(fmt(v) for v in r) for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(5)]
        print(f"\n{self.title}  ({os.cpu_count()} cores)")
        for i, r in enumerate(cells):
            print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
            if i == 0:
                print("  ".join("-" * w for w in widths))
        rows_file = os.environ.get("BENCH_ROWS_FILE")  # set by run_all.py: the table, machine-readable
        if rows_file:
            Path(rows_file).write_text(json.dumps({"title": self.title, "rows": [list(r) for r in self.rows]},
                                                  default=_plain))
        if as_json:
            print(json.dumps(self.figures, sort_keys=True, default=_plain))


def _plain(value):
    """numpy scalars and other odd values as JSON-friendly Python values."""
    return value.item() if hasattr(value, "item") else str(value)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="end with one line holding a JSON object of the figures")
    return p
