"""Dashboards in a real browser: time to the first KPI and from a control change to the new output.

    python benchmarks/bench_dashboards.py [--tries 5] [--pause 15] [--source URL] [--skip-cold] [--json]

Targets (issue 8): "first content under 3 s with a warm server, control change under 1 s" on
the 1M-event sample. Debian's Chromium through Playwright (headless flags of
NOTES-platform), Voilà as ``workbench dashboards serve`` runs it (``analytics_lib.dashboards.serve``).

* **Data**: the dashboards read their marts (published by a run, or the cache of
  ``workbench dashboards build``); they are built first if missing (not timed).
* **First content** (per dashboard, median of ``--tries`` fresh pages): from ``page.goto``
  (``wait_until="commit"``) to the first KPI tile on screen with its first update done.
  *Warm*: the server keeps one preheated kernel per dashboard (``--preheat 1``); between tries
  the benchmark waits until the kernels are idle again (the pool has refilled). *Cold* (the reference, same
  process): no preheated kernel, so each page starts a kernel and runs the notebook.
* **Control change** (per dashboard, median of ``--tries``): from the change (a team, model or
  hourly rate, each try a new value so no result is reused) until the page shows the update
  (the status line's update counter, written after every output). Reference: the server-side
  time of the same update (computing the view and drawing its figures), which the page shows.
* A load that shows nothing within 30 s is a **hang**: counted and reported, never retried.

The JSON line holds ``first_content_s`` and ``control_change_s`` (the worst dashboard's
medians, warm server), ``first_content_cold_s``, per-dashboard figures, ``hangs`` and the
kernels' memory (``kernel_rss_mb``: the largest resident memory of a dashboard kernel).
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import psutil
from _common import ROOT, Report, parser

sys.path.insert(0, str(ROOT))

from analytics_lib.dashboards.serve import start_server  # noqa: E402
from analytics_lib.dashboards.published import load_overview_data, load_roi_data  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DASHBOARDS = ("workflow_overview", "forecast_explorer", "roi_calculator")
HANG_S = 30.0


def _status(page) -> tuple[int, float]:
    """The update counter and the server-side seconds of the last update ("updated in 0.21 s")."""
    el = page.query_selector(".wb-status")
    text = el.inner_text()
    seconds = float(text.split("updated in ")[1].split(" s")[0]) if "updated in" in text else float("nan")
    return int(el.get_attribute("data-refresh")), seconds


def _wait_update(page, after: int) -> None:
    page.wait_for_function(
        f"() => {{ const s = document.querySelector('.wb-status'); "
        f"return s && Number(s.dataset.refresh) > {after} && s.dataset.state === 'ok'; }}", timeout=60_000)


def wait_quiet(server, *, timeout: float = 90.0) -> float:
    """Wait until the server's kernels are idle (the preheated pool has rendered); returns the wait."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        procs = [psutil.Process(p) for p in server.kernel_pids() if psutil.pid_exists(p)]
        for pr in procs:
            pr.cpu_percent(None)
        time.sleep(1.0)
        busy = 0.0
        for pr in procs:
            try:
                busy += pr.cpu_percent(None)
            except psutil.Error:
                pass
        if busy < 10.0:
            break
    return time.perf_counter() - t0


def kernels_rss_mb(server) -> float:
    """The largest resident memory among the server's kernels."""
    rss = 0
    for p in server.kernel_pids():
        try:
            rss = max(rss, psutil.Process(p).memory_info().rss)
        except psutil.Error:
            pass
    return rss / 2**20


def first_content(browser, server, name: str) -> float | None:
    """Seconds from navigation to the first KPI tile after its first update; None for a hang."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        t0 = time.perf_counter()
        page.goto(server.dashboard_url(name), wait_until="commit")
        try:
            page.wait_for_selector(".wb-tile", timeout=HANG_S * 1000)
            page.wait_for_selector('.wb-status[data-state="ok"]', timeout=HANG_S * 1000)
        except Exception:  # noqa: BLE001 - a page that never shows content is what we count
            return None
        return time.perf_counter() - t0
    finally:
        page.close()


def _change(page, name: str, i: int) -> None:
    if name == "workflow_overview":
        teams = [o for o in page.eval_on_selector_all(".wb-team option", "els => els.map(e => e.value)")]
        current = page.input_value(".wb-team select")
        page.select_option(".wb-team select", [t for t in teams if t != current][i % (len(teams) - 1)])
    elif name == "forecast_explorer":
        teams = page.eval_on_selector_all(".wb-team option", "els => els.map(e => e.value)")
        page.select_option(".wb-team select", teams[(i + 1) % len(teams)])  # a new series each time
    else:
        page.fill(".wb-hourly-rate input", str(101 + i))
        page.press(".wb-hourly-rate input", "Enter")


def control_changes(browser, server, name: str, tries: int) -> tuple[list[float], list[float], float]:
    """Browser seconds and server-side seconds of ``tries`` control changes, and the kernels' RSS."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        page.goto(server.dashboard_url(name), wait_until="commit")
        page.wait_for_selector('.wb-status[data-state="ok"]', timeout=120_000)
        wait_quiet(server)  # the pool refills after a page took its kernel: not part of a control change
        rss = kernels_rss_mb(server)
        if name == "forecast_explorer":  # a model whose fit is real work: ETS
            n, _ = _status(page)
            page.select_option(".wb-model select", "ets")
            _wait_update(page, n)
        browser_s, server_s = [], []
        for i in range(tries):
            n, _ = _status(page)
            t0 = time.perf_counter()
            _change(page, name, i)
            _wait_update(page, n)
            browser_s.append(time.perf_counter() - t0)
            server_s.append(_status(page)[1])
        return browser_s, server_s, rss
    finally:
        page.close()


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--tries", type=int, default=5)
    p.add_argument("--pause", type=float, default=3.0,
                   help="seconds after each load before waiting for the kernels to be idle (the pool refilling)")
    p.add_argument("--source", default=None, help="the store (default: the workbench store)")
    p.add_argument("--skip-cold", action="store_true", help="skip the cold-kernel reference")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    env = {"WORKBENCH_DB": args.source} if args.source else {}
    os.environ.update(env)
    for load in (load_overview_data, load_roi_data):  # not timed: what `workbench dashboards build` does
        print(f"{load.__name__}: {load(args.source).origin}", flush=True)

    figures: dict = {"tries": args.tries, "load_average_start": round(os.getloadavg()[0], 2)}
    hangs = 0
    report = Report("Dashboards in Chromium on the workbench store (medians; seconds)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            cold: dict[str, float] = {}
            if not args.skip_cold:
                with start_server(env=env) as server:
                    for name in DASHBOARDS:
                        first_content(browser, server, name)  # untimed: page cache, first imports
                        runs = [first_content(browser, server, name) for _ in range(args.tries)]
                        hangs += sum(r is None for r in runs)
                        cold[name] = statistics.median([r for r in runs if r is not None] or [float("nan")])
                        print(f"cold {name}: {[None if r is None else round(r, 2) for r in runs]}", flush=True)
            with start_server(env=env, preheat=1, max_kernels=12) as server:
                wait_quiet(server, timeout=180)  # the first pool renders
                warm: dict[str, float] = {}
                change: dict[str, tuple[float, float]] = {}
                rss: dict[str, float] = {}
                for name in DASHBOARDS:
                    runs = []
                    for _ in range(args.tries):
                        runs.append(first_content(browser, server, name))
                        time.sleep(args.pause)
                        wait_quiet(server)
                    hangs += sum(r is None for r in runs)
                    warm[name] = statistics.median([r for r in runs if r is not None] or [float("nan")])
                    print(f"warm {name}: {[None if r is None else round(r, 2) for r in runs]}", flush=True)
                    b, s, rss[name] = control_changes(browser, server, name, args.tries)
                    change[name] = (statistics.median(b), statistics.median(s))
                    print(f"change {name}: browser {[round(x, 3) for x in b]}, server {s}", flush=True)
                    wait_quiet(server)
        finally:
            browser.close()

    for name in DASHBOARDS:
        c = cold.get(name)
        report.add(f"{name}: first content", warm[name], c, None if c is None else warm[name] / c, "< 3 s warm")
        report.add(f"{name}: control change", change[name][0], change[name][1], change[name][0] / change[name][1],
                   "< 1 s")
        figures[name] = {"first_content_s": round(warm[name], 3),
                         "first_content_cold_s": None if c is None else round(c, 3),
                         "control_change_s": round(change[name][0], 3),
                         "control_change_server_s": round(change[name][1], 3), "kernel_rss_mb": round(rss[name], 1)}
    figures["first_content_s"] = round(max(warm.values()), 3)
    figures["control_change_s"] = round(max(v[0] for v in change.values()), 3)
    if cold:
        figures["first_content_cold_s"] = round(max(cold.values()), 3)
    figures["kernel_rss_mb"] = round(max(rss.values()), 1)
    figures["hangs"] = hangs
    figures["load_average_end"] = round(os.getloadavg()[0], 2)  # other work on the machine inflates every figure
    report.add("hangs (nothing within 30 s)", hangs, None, None, "0")
    report.add("kernel RSS per viewer (MB, max)", figures["kernel_rss_mb"])
    print("\nreference: first content with a cold kernel (no preheat); control change: the server-side update time; "
          f"load average {figures['load_average_start']} at the start, {figures['load_average_end']} at the end")
    report.figures = figures
    report.emit(args.json)


if __name__ == "__main__":
    main()
