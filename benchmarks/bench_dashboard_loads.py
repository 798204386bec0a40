"""Do dashboards always load? Many real-browser page loads, then many viewers at once (issue 11).

    python benchmarks/bench_dashboard_loads.py [--loads 200] [--viewers 20] [--dashboards a,b]
                                               [--preheat N] [--max-kernels N] [--json]

Voilà served exactly as ``workbench dashboards serve`` serves it (``analytics_lib.dashboards.serve``;
``--preheat``/``--max-kernels`` as that command's options), Debian's Chromium through
Playwright with the headless flags of NOTES-platform. Nothing is ever retried.

* **Loads** (per dashboard, ``--loads`` in a row): a fresh browser context and page each time,
  ``page.goto(..., wait_until="commit")``, then the first KPI tile with its first update done
  (``.wb-status[data-state=ok]``). A load without it within 10 s counts in ``hangs``; the page
  is then watched up to 60 s more, and one that never shows it counts in ``never`` (what a
  viewer calls a blank page). For every failed load the page state (``document.readyState``,
  outputs and widgets on the page, the kernel websocket's message types sent and received,
  console messages) is written to ``--evidence`` (default ``reports/dashboard_loads/``).
  Pages are closed the way a tab is closed (the unload handler runs).
* **Viewers** (``--viewers`` pages of the first dashboard opened together, navigation started in
  all at once; each page stamps the moment its first KPI is ready, up to ``--viewers-wait`` s): seconds from each
  page's navigation to its first KPI; all must be under 10 s. The pages are then dropped
  without their unload handler (a laptop lid closing) and the live kernels are counted until
  they are back to the floor (the preheated pool), which must take under 2 minutes.
* **Abandoned pages** (``--abandon`` pages of the first dashboard, ``--abandon-batch`` at a time, as
  fast as the machine renders them): each page is left without its unload beacon (the shutdown
  request is blocked, then its browser context is closed, as a crashed tab or a dropped network),
  so only the server's reclaim of disconnected kernels gives the memory back. Counted: pages that
  got "busy" (HTTP 503; must be 0), the seconds the pages took, and the seconds from the last one
  until the live kernels are back to the floor (must be under 30 s).
* Kernels: ``max_live_kernels`` (the most seen at once) and ``peak_rss_mb`` (the largest
  resident memory of the server and its kernels together), sampled every 0.5 s.

The JSON line holds ``loads``, ``hangs``, ``never``, ``max_live_kernels``, ``peak_rss_mb``,
``viewers_first_content_max_s``, ``viewers_late`` and ``kernels_floor_s`` (None when the floor
was not reached in the 2 minutes), ``abandoned_pages``, ``abandoned_busy``, ``abandoned_seconds``,
``abandoned_floor_s``, per-dashboard figures and the median first-content time.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
from _common import ROOT, Report, parser

sys.path.insert(0, str(ROOT))

from analytics_lib.dashboards.serve import CULL_IDLE_TIMEOUT, MAX_KERNELS, start_server  # noqa: E402
from analytics_lib.dashboards.published import load_overview_data, load_roi_data  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DASHBOARDS = ("workflow_overview", "forecast_explorer", "roi_calculator")
FIRST_KPI_S = 10.0
NEVER_S = 60.0
FLOOR_S = 120.0
READY = '.wb-status[data-state="ok"]'
MSG_TYPE = re.compile(rb'"msg_type":\s*"([a-z_]+)"')


class KernelWatch:
    """Samples the server's live kernels and the RSS of its process tree in a thread."""

    def __init__(self, server, interval: float = 0.5):
        self.server, self.interval = server, interval
        self.max_kernels, self.peak_rss_mb = 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[int, float]:
        pids = self.server.kernel_pids()
        rss = 0
        for pid in [self.server.process.pid, *pids]:
            try:
                rss += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                pass
        return len(pids), rss / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            n, rss = self.sample()
            self.max_kernels, self.peak_rss_mb = max(self.max_kernels, n), max(self.peak_rss_mb, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> "KernelWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _watch_page(page) -> dict:
    """Record the kernel websocket's message types and the console, for the evidence of a failure."""
    seen: dict = {"ws": [], "console": [], "t0": time.monotonic()}

    def stamp() -> float:
        return round(time.monotonic() - seen["t0"], 2)

    def types(payload) -> list[str]:
        raw = payload if isinstance(payload, bytes) else str(payload).encode()
        return [t.decode() for t in MSG_TYPE.findall(raw)[:1]]

    def on_ws(ws) -> None:
        seen["ws"].append(("open", ws.url.rsplit("/", 2)[-2][:8], stamp()))
        ws.on("framesent", lambda p: seen["ws"].append(("sent", types(p), stamp())))
        ws.on("framereceived", lambda p: seen["ws"].append(("recv", types(p), stamp())))
        ws.on("close", lambda _: seen["ws"].append(("close", None, stamp())))

    page.on("websocket", on_ws)
    page.on("console", lambda m: seen["console"].append((m.type, m.text[:300], stamp())))
    return seen


def _evidence(page, seen: dict, folder: Path, label: str, server) -> None:
    try:
        state = page.evaluate(
            "() => ({readyState: document.readyState, outputs: document.querySelectorAll('.jp-OutputArea-output').length,"
            " widgets: document.querySelectorAll('.jupyter-widgets').length, tiles: document.querySelectorAll('.wb-tile').length,"
            " text: document.body ? document.body.innerText.slice(0, 500) : null})")
    except Exception as exc:  # noqa: BLE001 - a crashed page is evidence too
        state = {"error": str(exc)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{label}.json").write_text(json.dumps(
        {"state": state, "websocket": seen["ws"], "console": seen["console"],
         "server_log_tail": server.log()[-4000:]}, indent=1, default=str))


def one_load(browser, server, name: str, folder: Path, label: str) -> tuple[float | None, bool]:
    """(seconds to the first KPI or None after 10 s, whether it ever came within 60 s)."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    seen = _watch_page(page)
    try:
        t0 = time.monotonic()
        page.goto(server.dashboard_url(name), wait_until="commit")
        try:
            page.wait_for_selector(READY, timeout=FIRST_KPI_S * 1000)
            return time.monotonic() - t0, True
        except Exception:  # noqa: BLE001 - counted, never retried
            pass
        try:
            page.wait_for_selector(READY, timeout=NEVER_S * 1000)
            came = True
        except Exception:  # noqa: BLE001
            came = False
        _evidence(page, seen, folder, f"{label}-{'slow' if came else 'never'}", server)
        return None, came
    finally:
        page.close(run_before_unload=True)  # a tab closed normally: Voilà's unload handler runs
        context.close()


#: Runs in every viewer page: the wall-clock time (ms since the epoch) its first KPI was ready.
READY_AT = """
new MutationObserver((_, obs) => {
  if (document.querySelector('.wb-status[data-state="ok"]')) { window.__wbReadyAt = Date.now(); obs.disconnect(); }
}).observe(document, {childList: true, subtree: true, attributes: true});
"""


def viewers(browser, server, name: str, n: int, watch: KernelWatch, floor: int, wait_s: float = NEVER_S) -> dict:
    """n pages opened together; then dropped without unload; seconds until kernels are at the floor."""
    contexts = [browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(n)]
    for c in contexts:
        c.add_init_script(READY_AT)
    pages = [c.new_page() for c in contexts]
    url = server.dashboard_url(name)
    t0 = time.time()
    for p in pages:  # navigation starts in every page at once (nothing waits for a response)
        p.evaluate("url => { setTimeout(() => { window.location.href = url; }, 0); }", url)
    seconds: list[float | None] = []
    deadline = time.monotonic() + wait_s
    for p in pages:
        try:
            p.wait_for_function("() => window.__wbReadyAt !== undefined",
                                timeout=max(deadline - time.monotonic(), 0.1) * 1000)
            seconds.append(p.evaluate("() => window.__wbReadyAt") / 1000 - t0)  # the page's own clock
        except Exception:  # noqa: BLE001
            seconds.append(None)
    for c in contexts:  # no unload handler: the kernels must be culled
        c.close()
    t_left = time.monotonic()
    floor_s = None
    while time.monotonic() - t_left < FLOOR_S + 30:
        if watch.sample()[0] <= floor:
            floor_s = time.monotonic() - t_left
            break
        time.sleep(1.0)
    shown = [s for s in seconds if s is not None]
    return {"viewers": n, "first_content_max_s": round(max(shown), 2) if len(shown) == n else None,
            "first_content_median_s": round(statistics.median(shown), 2) if shown else None,
            "first_content_min_s": round(min(shown), 2) if shown else None, "shown": len(shown),
            "wait_s": wait_s,
            "late": sum(s is None or s > FIRST_KPI_S for s in seconds), "kernels_floor_s":
            None if floor_s is None or floor_s > FLOOR_S else round(floor_s, 1)}


def abandon(browser, server, name: str, n: int, batch: int, watch: KernelWatch, floor: int) -> dict:
    """n pages opened ``batch`` at a time and left without their unload beacon; then the kernels' way back."""
    busy, shown, t0 = 0, 0, time.monotonic()
    for start in range(0, n, batch):
        contexts = [browser.new_context(viewport={"width": 1300, "height": 1000})
                    for _ in range(min(batch, n - start))]
        pages = [c.new_page() for c in contexts]
        statuses = []
        for page in pages:  # the beacon never arrives; then the tab vanishes
            page.route("**/voila/api/shutdown/**", lambda route: route.abort())
            statuses.append(page.goto(server.dashboard_url(name), wait_until="commit").status)
        for page, status in zip(pages, statuses):
            if status == 503:
                busy += 1
                continue
            try:
                page.wait_for_selector(READY, timeout=NEVER_S * 1000)
                shown += 1
            except Exception:  # noqa: BLE001 - counted as not shown
                pass
        for c in contexts:
            c.close()
        if (start + batch) % 20 < batch:
            print(f"abandoned {start + len(pages)} pages, {busy} busy, {watch.sample()[0]} kernels live", flush=True)
    seconds = time.monotonic() - t0
    t_left, floor_s = time.monotonic(), None
    while time.monotonic() - t_left < FLOOR_S:
        if watch.sample()[0] <= floor:
            floor_s = time.monotonic() - t_left
            break
        time.sleep(0.5)
    return {"pages": n, "batch": batch, "busy": busy, "shown": shown, "seconds": round(seconds, 1),
            "floor_s": None if floor_s is None else round(floor_s, 1)}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--loads", type=int, default=200, help="page loads per dashboard")
    p.add_argument("--viewers", type=int, default=20, help="pages opened together (0: skip)")
    p.add_argument("--dashboards", default=",".join(DASHBOARDS))
    p.add_argument("--preheat", type=int, default=0, help="as `workbench dashboards serve --preheat`")
    p.add_argument("--viewers-wait", type=float, default=180.0,
                   help="seconds the viewers' pages are given to show their first KPI (late beyond 10 s)")
    p.add_argument("--abandon", type=int, default=100, help="pages left without their unload beacon (0: skip)")
    p.add_argument("--abandon-batch", type=int, default=2, help="abandoned pages loading at once")
    p.add_argument("--max-kernels", type=int, default=MAX_KERNELS)
    p.add_argument("--cull-idle", type=int, default=CULL_IDLE_TIMEOUT)
    p.add_argument("--source", default=None, help="the store (default: the workbench store)")
    p.add_argument("--evidence", default=str(ROOT / "reports" / "dashboard_loads"))
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    names = [n.strip() for n in args.dashboards.split(",") if n.strip()]
    env = {"WORKBENCH_DB": args.source} if args.source else {}
    os.environ.update(env)
    for load in (load_overview_data, load_roi_data):  # not timed: published marts or the cache
        print(f"{load.__name__}: {load(args.source).origin}", flush=True)
    folder = Path(args.evidence) / time.strftime("%Y%m%dT%H%M%S")
    figures: dict = {"load_average_start": round(os.getloadavg()[0], 2), "preheat": args.preheat,
                     "max_kernels": args.max_kernels}
    per: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            with start_server(env=env, preheat=args.preheat, max_kernels=args.max_kernels,
                              cull_idle_timeout=args.cull_idle) as server, KernelWatch(server) as watch:
                for name in names:
                    times, hangs, never = [], 0, 0
                    for i in range(args.loads):
                        s, came = one_load(browser, server, name, folder, f"{name}-{i:03d}")
                        if s is None:
                            hangs += 1
                            never += not came
                        else:
                            times.append(s)
                        if (i + 1) % 20 == 0:
                            print(f"{name}: {i + 1} loads, {hangs} over 10 s, {never} never, "
                                  f"{watch.sample()[0]} kernels live", flush=True)
                    per[name] = {"loads": args.loads, "hangs": hangs, "never": never,
                                 "first_content_median_s": round(statistics.median(times), 2) if times else None,
                                 "first_content_p95_s": round(sorted(times)[int(0.95 * (len(times) - 1))], 2)
                                 if times else None}
                if args.viewers:
                    floor = args.preheat * len(DASHBOARDS)
                    time.sleep(2)
                    figures["viewers_run"] = viewers(browser, server, names[0], args.viewers, watch, floor,
                                                    args.viewers_wait)
                    print(f"viewers: {figures['viewers_run']}", flush=True)
                if args.abandon:
                    floor = args.preheat * len(DASHBOARDS)
                    figures["abandon_run"] = abandon(browser, server, names[0], args.abandon, args.abandon_batch,
                                                     watch, floor)
                    print(f"abandoned: {figures['abandon_run']}", flush=True)
                figures["max_live_kernels"] = watch.max_kernels
                figures["peak_rss_mb"] = round(watch.peak_rss_mb, 1)
        finally:
            browser.close()
    figures.update(per=per, loads=sum(v["loads"] for v in per.values()), hangs=sum(v["hangs"] for v in per.values()),
                   never=sum(v["never"] for v in per.values()))
    v = figures.get("viewers_run", {})
    figures.update(viewers_first_content_max_s=v.get("first_content_max_s"), viewers_late=v.get("late"),
                   kernels_floor_s=v.get("kernels_floor_s"), evidence=str(folder))
    a = figures.get("abandon_run", {})
    figures.update(abandoned_pages=a.get("pages"), abandoned_busy=a.get("busy"), abandoned_seconds=a.get("seconds"),
                   abandoned_floor_s=a.get("floor_s"))
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    report = Report("Dashboard page loads in Chromium (served configuration; nothing retried)")
    for name, f in per.items():
        report.add(f"{name}: loads without a KPI in 10 s", f["hangs"], f["loads"], None, "0")
        report.add(f"{name}: never shown (60 s)", f["never"], f["loads"], None, "0")
        report.add(f"{name}: first content median (s)", f["first_content_median_s"], None, None, "")
    if v:
        report.add(f"{args.viewers} viewers together: slowest first content (s)", v["first_content_max_s"], None, None,
                   "< 10 s")
        report.add("kernels back to the floor after they leave (s)", v["kernels_floor_s"], None, None, "< 120 s")
    if a:
        report.add(f"{a['pages']} pages abandoned without unload: 'busy' answers", a["busy"], a["pages"], None, "0")
        report.add("  seconds for those pages (rendering bound on this machine)", a["seconds"], None, None, "")
        report.add("  kernels back to the floor after the last (s)", a["floor_s"], None, None, "< 30 s")
    report.add("live kernels at most", figures["max_live_kernels"], args.max_kernels, None, "<= max_kernels")
    report.add("server + kernels peak RSS (MB)", figures["peak_rss_mb"])
    report.figures = figures
    report.emit(args.json)


if __name__ == "__main__":
    main()
