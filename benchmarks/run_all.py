"""Run every ``benchmarks/bench_*.py`` and gather their figures: one JSON file and one table.

    python benchmarks/run_all.py [--only scale,ingest] [--skip dashboards] [--out benchmarks/results]

``make bench`` runs this (it is not part of ``make test``). Each benchmark runs as its own
process with ``--json``, at its default size (sized for a 2-core, 24 GiB machine); its own
table is shown as it finishes. At the end:

* ``<out>/bench.json``: the machine, then per benchmark its wall time, exit status, the
  figures of its ``--json`` line and its table rows;
* ``<out>/bench.txt`` (also printed): every benchmark's rows in one table with the columns
  figure, ours, reference, ratio, target.

A benchmark that fails is reported (and makes the exit status non-zero) but does not stop
the others.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Options a benchmark runs with here besides ``--json`` (the figures its issue names need them).
OPTIONS = {"forecast_panel": ["--prophet", "--unseen"]}


def benchmarks(only: list[str], skip: list[str]) -> list[Path]:
    """The ``bench_*.py`` scripts to run, by short name (``scale`` is ``bench_scale.py``)."""
    found = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    unknown = [n for n in [*only, *skip] if n not in found]
    if unknown:
        raise SystemExit(f"no benchmark named {', '.join(unknown)}; there are: {', '.join(found)}")
    return [p for n, p in found.items() if (not only or n in only) and n not in skip]


def run_one(script: Path) -> dict:
    """Run one benchmark with ``--json`` (and its :data:`OPTIONS`); its output passes through, its figures
    and rows are kept."""
    with tempfile.TemporaryDirectory(prefix="bench_rows_") as tmp:
        rows_file = Path(tmp) / "rows.json"
        env = {**os.environ, "BENCH_ROWS_FILE": str(rows_file), "PYTHONUNBUFFERED": "1"}
        t0 = time.perf_counter()
        options = OPTIONS.get(script.stem.removeprefix("bench_"), [])
        proc = subprocess.Popen([sys.executable, str(script), "--json", *options], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, text=True)
        last = ""
        for line in proc.stdout:  # stderr (progress) goes straight to the terminal
            sys.stdout.write(line)
            if line.strip():
                last = line.strip()
        status = proc.wait()
        seconds = time.perf_counter() - t0
        table = json.loads(rows_file.read_text()) if rows_file.exists() else {"title": "", "rows": []}
    figures = None
    if status == 0:
        try:
            figures = json.loads(last)
        except json.JSONDecodeError:
            status = "no JSON line"
    return {"script": str(script.relative_to(ROOT)), "status": status, "seconds": round(seconds, 1),
            "title": table["title"], "figures": figures, "rows": table["rows"]}


def fmt(v) -> str:
    if v is None or v == "":
        return "-" if v is None else ""
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def table_text(results: dict) -> str:
    """All rows in one table: benchmark, figure, ours, reference, ratio, target."""
    header = ("benchmark", "figure", "ours", "reference", "ratio", "target")
    cells = [header]
    for name, res in results.items():
        if res["status"] != 0:
            cells.append((name, f"FAILED ({res['status']})", "", "", "", ""))
        for figure, ours, ref, ratio, target in res["rows"]:
            cells.append((name, str(figure), fmt(ours), fmt(ref), fmt(ratio), str(target or "")))
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for i, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if j < 2 or j == 5 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths)))
                     .rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated benchmarks to run (default: all), e.g. scale,ingest")
    p.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder of bench.json and bench.txt")
    args = p.parse_args()
    split = lambda text: [s.strip().removeprefix("bench_").removesuffix(".py") for s in text.split(",") if s.strip()]  # noqa: E731
    scripts = benchmarks(split(args.only), split(args.skip))

    import psutil

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results = {}
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        print(f"== {script.relative_to(ROOT)}", flush=True)
        results[name] = run_one(script)
        print(f"== {name}: {'ok' if results[name]['status'] == 0 else 'FAILED'} in {results[name]['seconds']:,.0f} s\n",
              flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"started": started, "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                                           "python": platform.python_version(), "platform": platform.platform()},
           "benchmarks": results}
    (args.out / "bench.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    text = table_text(results)
    (args.out / "bench.txt").write_text(text)
    print(text)
    print(f"figures: {args.out / 'bench.json'}, table: {args.out / 'bench.txt'}")
    failed = [n for n, r in results.items() if r["status"] != 0]
    if failed:
        raise SystemExit(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
