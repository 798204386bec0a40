"""ROI benchmark: vectorized Monte Carlo against a per-draw Python loop, and the ROI notebook under papermill.

    python benchmarks/bench_roi.py [--draws 100000] [--months 36] [--naive-draws 10000] [--repeat 5]
                                   [--db data/workbench.db] [--skip-notebook] [--json]

Targets (issue 5): "100,000 Monte Carlo draws over 36 months in under 1 s; the whole ROI notebook
under papermill on the 1M-event sample in under 45 s including kernel start".

* **Monte Carlo**: ``roi_simulation(inputs, n=--draws)`` with the default assumptions (six drawn
  assumptions plus the usage forecast) over a ``--months`` horizon, best of ``--repeat`` after one
  untimed warm-up. The inputs come from a seeded 200,000-event sample of 180 days (built once,
  not timed; the draw count and the horizon, not the events, set the cost). Reference, in the
  same process: a naive Monte Carlo that loops over draws and months in plain Python with the
  same formulas (``naive_simulation`` below) on the first ``--naive-draws`` of the same draws;
  both must agree to 1e-9 (relative) on every draw's ROI and NPV or the benchmark fails. The
  ratio compares time per draw.
* **Notebook**: ``papermill.execute_notebook(notebooks/roi.ipynb)`` with its default
  parameters (so ``source`` is the workbench store, all of its history, ``n_simulations`` 10,000)
  and ``kernel_name="python3"``, timed from the call to its return: kernel start, the imports,
  loading and validating the 1M events, all computations, figures and writing the tables.
  ``--db`` is created with ``workbench sample`` when missing. Reference: the same library calls
  (load, inputs, result, break-even, tornado, simulation, scenarios) run in this process, so the
  difference is what the notebook adds (kernel, figures, display, writing). The notebook's own
  per-cell durations (papermill metadata) show where its time goes.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
from _common import ROOT, Report, measured, parser

from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, USAGE, Assumptions
from analytics_lib.analysis.roi.inputs import roi_inputs
from analytics_lib.analysis.roi.simulation import roi_simulation

NOTEBOOK = ROOT / "notebooks" / "roi.ipynb"


# ============================================================================================
# The naive reference: one draw at a time, one month at a time
def naive_simulation(inputs, a: Assumptions, draws: dict[str, np.ndarray], n: int) -> tuple[list, list]:
    """ROI and NPV per draw with Python loops (the definitions of ``analytics_lib.analysis.roi``, written out)."""
    mo = inputs.monthly.iloc[:a.horizon_months]
    rows = mo.to_dict("records")
    roi, npv = [], []
    for i in range(n):
        v = {}
        for name, spec in ASSUMPTIONS.items():
            base = getattr(a, name)
            if name in draws:
                x = float(draws[name][i])
                v[name] = x * (1.0 if base is None else base) if spec.relative else x
            else:
                v[name] = 1.0 if base is None else base
        z = float(draws[USAGE][i]) if USAGE in draws else 0.0
        benefits, costs = 0.0, v["one_off_cost"]
        value = -v["one_off_cost"]
        for k, r in enumerate(rows, start=1):
            mean = r["sessions_forecast"]
            u = max(0.0, mean + z * r["sessions_forecast_sd"]) / mean if mean > 0 else 1.0
            d = {key: r[f"{key}_actual"] + r[f"{key}_forecast"] * u
                 for key in ("manual_minutes", "session_minutes", "avoided_llm_usd", "cache_hits", "llm_usd",
                             "metered_usd", "seats")}
            time_value = v["hourly_rate"] * (v["realisation_rate"] * d["manual_minutes"] - d["session_minutes"]) / 60
            cache = d["avoided_llm_usd"] * v["avoided_cost_per_hit"] if a.avoided_cost_per_hit is None \
                else d["cache_hits"] * v["avoided_cost_per_hit"]
            llm = d["llm_usd"] * v["llm_spend_per_month"] if a.llm_spend_per_month is None else v["llm_spend_per_month"]
            seats = d["seats"] * v["seats"] if a.seats is None else v["seats"]
            cost = llm + d["metered_usd"] + seats * v["licence_per_seat"] + v["infra_per_month"]
            benefits += time_value + cache
            costs += cost
            value += (time_value + cache - cost) / (1 + v["discount_rate"]) ** (k / 12)
        roi.append(100 * (benefits - costs) / costs if costs > 0 else math.nan)
        npv.append(value)
    return roi, npv


def mc_inputs(months: int):
    from analytics_lib.data.synthetic.events import synthetic_events

    events = synthetic_events(200_000, days=180, end="2025-06-30", seed=0).events
    return roi_inputs(events, months=months)


# ============================================================================================
# The notebook
def ensure_store(db: Path) -> None:
    if db.exists():
        return
    workbench = Path(sys.executable).parent / "workbench"
    print(f"{db} is missing: building it with `workbench sample` ...", file=sys.stderr, flush=True)
    subprocess.run([str(workbench), "sample", "--into", f"sqlite:///{db}"], check=True)


def run_notebook(db: Path, out_dir: Path) -> tuple[float, dict]:
    import papermill

    env_db = f"sqlite:///{db.resolve()}"
    out_nb = out_dir / "roi.ipynb"
    t0 = time.perf_counter()
    papermill.execute_notebook(str(NOTEBOOK), str(out_nb),
                               parameters={"source": env_db, "output_dir": str(out_dir / "tables")},
                               kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False)
    seconds = time.perf_counter() - t0
    nb = nbformat.read(out_nb, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    if errors:
        raise SystemExit(f"the notebook failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    cells = [(c.source.splitlines()[0][:48] if c.source else "", c.metadata.get("papermill", {}).get("duration") or 0.0)
             for c in nb.cells if c.cell_type == "code"]
    return seconds, {"cells": cells, "written": sorted(p.name for p in (out_dir / "tables").iterdir())}


def run_in_process(db: Path) -> float:
    """The notebook's library calls, in this process (no kernel, figures or writing)."""
    from analytics_lib import load_events
    from analytics_lib.analysis.roi.result import break_even_table, roi_result, tornado_table
    from analytics_lib.analysis.roi.simulation import scenario_table

    t0 = time.perf_counter()
    events = load_events(f"sqlite:///{db.resolve()}", end="yesterday").events
    inputs = roi_inputs(events, months=48)
    a = Assumptions()
    roi_result(inputs, a)
    break_even_table(inputs, a)
    tornado_table(inputs, a)
    roi_simulation(inputs, a, n=10_000, seed=0)
    scenario_table(inputs, base=a)
    return time.perf_counter() - t0


# ============================================================================================
def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=100_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--naive-draws", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--db", type=Path, default=ROOT / "data" / "workbench.db")
    p.add_argument("--skip-notebook", action="store_true", help="only the Monte Carlo part")
    args = p.parse_args()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    load0 = os.getloadavg()[0]

    # --- Monte Carlo ------------------------------------------------------------------------
    t0 = time.perf_counter()
    inputs = mc_inputs(args.months)
    a = Assumptions(horizon_months=args.months)
    log(f"inputs built in {time.perf_counter() - t0:.1f} s (not timed)")
    roi_simulation(inputs, a, n=args.draws, seed=0)  # warm-up
    best = None
    for _ in range(args.repeat):
        with measured() as m:
            sim = roi_simulation(inputs, a, n=args.draws, seed=0)
        if best is None or m.seconds < best.seconds:
            best = m
    draws = {}
    for c in sim.draws.columns:
        name = c.removesuffix("_factor")
        if name in ASSUMPTIONS:
            base = getattr(a, name)
            spec = ASSUMPTIONS[name]
            draws[name] = sim.draws[c].to_numpy() / (1.0 if base is None or not spec.relative else base)
    if "usage_z" in sim.draws:
        draws[USAGE] = sim.draws["usage_z"].to_numpy()
    k = min(args.naive_draws, args.draws)
    with measured() as naive:
        roi_naive, npv_naive = naive_simulation(inputs, a, draws, k)
    np.testing.assert_allclose(roi_naive, sim.draws["roi_pct"].to_numpy()[:k], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(npv_naive, sim.draws["npv"].to_numpy()[:k], rtol=1e-9, atol=1e-6)
    per_draw_ours, per_draw_naive = best.seconds / args.draws, naive.seconds / k
    speedup = per_draw_naive / per_draw_ours
    log(f"Monte Carlo: {best.seconds:.3f} s for {args.draws:,} draws; naive {naive.seconds:.2f} s for {k:,} draws "
        f"(results agree)")

    r = Report(f"bench_roi: Monte Carlo of {args.draws:,} draws over {args.months} months (best of {args.repeat}); "
               f"the ROI notebook on {args.db.name}")
    r.add("Monte Carlo seconds", best.seconds, None, None, "< 1 s")
    r.add("  microseconds per draw (vs naive loop)", 1e6 * per_draw_ours, 1e6 * per_draw_naive, speedup,
          f"naive on {k:,} draws")
    r.add("  peak RSS MB", best.peak_rss_mb, naive.peak_rss_mb, None, "")
    s = sim.summary.set_index("metric")
    figures = {
        "mc_seconds": round(best.seconds, 4), "mc_draws": args.draws, "mc_months": args.months,
        "mc_us_per_draw": round(1e6 * per_draw_ours, 3), "naive_draws": k, "naive_seconds": round(naive.seconds, 3),
        "naive_us_per_draw": round(1e6 * per_draw_naive, 1), "mc_speedup_vs_naive": round(speedup, 1),
        "mc_peak_rss_mb": round(best.peak_rss_mb, 1), "mc_prob_positive": round(sim.prob_positive, 4),
        "mc_npv_p50": round(float(s.loc["npv", "p50"]), 2),
    }

    # --- the notebook -------------------------------------------------------------------------
    if not args.skip_notebook:
        ensure_store(args.db)
        with tempfile.TemporaryDirectory(prefix="bench_roi_") as tmp:
            log("running the ROI notebook under papermill ...")
            nb_seconds, info = run_notebook(args.db, Path(tmp))
        log(f"notebook {nb_seconds:.1f} s; the same calls in this process ...")
        inproc = run_in_process(args.db)
        r.add("notebook seconds (papermill, incl. kernel start)", nb_seconds, inproc, nb_seconds / inproc,
              "< 45 s; reference: same calls in-process")
        slow = sorted(info["cells"], key=lambda c: -c[1])[:3]
        for src, dur in slow:
            r.add(f"  cell: {src}", float(dur), None, None, "(papermill cell duration)")
        figures.update({"notebook_seconds": round(nb_seconds, 2), "notebook_inprocess_seconds": round(inproc, 2),
                        "notebook_overhead_ratio": round(nb_seconds / inproc, 2),
                        "notebook_cells_seconds": round(sum(d for _, d in info["cells"]), 2),
                        "notebook_tables_written": len(info["written"])})
    figures.update({"loadavg_1min_start": round(load0, 2), "loadavg_1min_end": round(os.getloadavg()[0], 2),
                    "cores": os.cpu_count()})
    print(f"\nreference of the per-draw row: a plain-Python loop over draws and months with the same formulas, on "
          f"the first {k:,} of the same draws (results checked equal); 1-min load average {load0:.1f} at the start "
          f"(other processes share the {os.cpu_count()} cores)")
    r.figures = figures
    r.emit(args.json)


if __name__ == "__main__":
    main()
