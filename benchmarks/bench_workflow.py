"""Workflow benchmark: sessionize + daily KPIs + session funnel, against DuckDB SQL and naive pandas.

    python benchmarks/bench_workflow.py [--events 10000000] [--naive-events 1000000] [--repeat 3] [--json]

Target (issue): "sessionization + KPIs by day + funnel on 10M events; within 1.5x of DuckDB's
time, and at least 20x faster than a naive groupby().apply() pandas version on a 1M sample".

The cached sample Parquet (see ``bench_ingest.sample_parquet``) is loaded once with
``load_events`` (not timed) and its ``session_id`` is blanked, so sessions must be derived
(30 min inactivity gap). One timed unit of each side does the same work:

* **ours**: ``s = sessionize(ev)``, ``kpi_table(s, granularity="D")``,
  ``funnel_table(s, FUNNEL, unit="session")`` (sequential mode, 14 day window);
* **DuckDB** (same process, the same frame converted once to an Arrow table outside the
  timing, category columns as strings, ``ts`` as epoch microseconds, ``rn`` = frame position):
  window functions derive the sessions into a temp table (LAG over the user's events ordered by
  ts and frame position; a new session when the gap exceeds 30 min; SUM() OVER numbers them;
  ids ``user#n`` as ours), then one query computes the daily KPIs and one the sequential session
  funnel (first step-1 event per session; each later step the first event of that step after
  the previous step's event, via joins), both fetched into pandas. DuckDB runs with its default
  threads (one per core) and ``preserve_insertion_order = false``;
* **naive pandas**: ``groupby(user_id).apply`` sessionization, ``groupby(day).apply`` KPIs and
  ``groupby(session).apply`` funnel on the first ``--naive-events`` rows, against ours on the
  same rows (naive timed once, ours best of ``--repeat``). If a probe predicts more than
  ``--naive-budget`` seconds, the sample is cut down (and the output says so); the comparison is
  per event (events/s on the same rows).

Peak RSS is the process's (it includes the loaded frame and its Arrow copy); "RSS growth, first
run" is each side's working memory from a cold start.

All three sides are checked against each other (daily events/users/sessions and funnel entity
counts exactly, the other KPIs and funnel median times to 1e-9 relative): the benchmark fails if
they disagree.
"""
from __future__ import annotations

import os
import sys
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from _common import Report, interleaved, measured, parser
from bench_ingest import sample_parquet

from analytics_lib import funnel_table, kpi_table, load_events, sessionize
from analytics_lib.analysis.workflow.kpis import RESPONSE_TYPES

GAP = "30min"
WINDOW = "14D"
FUNNEL = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"]]
STEPS = [(s,) if isinstance(s, str) else tuple(s) for s in FUNNEL]
DAY_US = 86_400 * 1_000_000
GAP_US = pd.Timedelta(GAP) // pd.Timedelta(microseconds=1)
WINDOW_US = pd.Timedelta(WINDOW) // pd.Timedelta(microseconds=1)
EXACT_KPIS = ["events", "active_users", "sessions"]
CLOSE_KPIS = ["events_per_user", "sessions_per_user", "cache_hit_rate", "error_rate", "latency_p50", "latency_p95",
              "latency_p99", "tokens_in", "tokens_out", "cost_usd", "accepts", "satisfaction", "stickiness"]


# ============================================================================================
# Ours
def run_ours(ev: pd.DataFrame, stages: list | None = None):
    t0 = time.perf_counter()
    s = sessionize(ev, gap=GAP)
    t1 = time.perf_counter()
    kpis = kpi_table(s, granularity="D")
    t2 = time.perf_counter()
    funnel = funnel_table(s, FUNNEL, unit="session", within=WINDOW, gap=GAP)
    t3 = time.perf_counter()
    if stages is not None:
        stages.append({"sessionize": t1 - t0, "kpis": t2 - t1, "funnel": t3 - t2})
    return kpis, funnel


# ============================================================================================
# DuckDB
def to_arrow(ev: pd.DataFrame) -> pa.Table:
    """The frame as DuckDB sees it: categories as strings, ts as int64 epoch micros, rn = frame position."""
    cols = {}
    for c in ev.columns:
        if c == "ts":
            ts = ev[c].dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None)
            cols["ts_us"] = pa.array(ts.to_numpy().view(np.int64))
        elif isinstance(ev[c].dtype, pd.CategoricalDtype):
            cols[c] = pa.array(ev[c].astype("str").to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        else:
            cols[c] = pa.Array.from_pandas(ev[c])
    cols["rn"] = pa.array(np.arange(len(ev), dtype=np.int64))
    return pa.table(cols)


def _in(types) -> str:
    return "(" + ", ".join(f"'{t}'" for t in types) + ")"


SESSIONS_SQL = f"""
CREATE OR REPLACE TEMP TABLE sess AS
WITH w AS (
    SELECT user_id, event_type, ts_us, rn, cache_hit, latency_ms, tokens_in, tokens_out, cost_usd, satisfaction,
           LAG(ts_us) OVER (PARTITION BY user_id ORDER BY ts_us, rn) AS prev_ts,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts_us, rn) AS seq
    FROM ev
), n AS (
    SELECT *, SUM(CASE WHEN prev_ts IS NULL OR ts_us - prev_ts > {GAP_US} THEN 1 ELSE 0 END)
                  OVER (PARTITION BY user_id ORDER BY ts_us, rn ROWS UNBOUNDED PRECEDING) AS sess_no
    FROM w
)
SELECT user_id || '#' || CAST(sess_no AS VARCHAR) AS session_id, user_id, event_type, ts_us, seq,
       cache_hit, latency_ms, tokens_in, tokens_out, cost_usd, satisfaction
FROM n
"""

KPI_SQL = f"""
WITH d AS (
    SELECT ts_us // {DAY_US} AS day,
           COUNT(*) AS events,
           COUNT(DISTINCT user_id) AS active_users,
           COUNT(DISTINCT session_id) AS sessions,
           COUNT(*) FILTER (WHERE event_type = 'cache_query' AND cache_hit) AS cache_hits,
           COUNT(*) FILTER (WHERE event_type = 'cache_query' AND cache_hit IS NOT NULL) AS cache_q,
           COUNT(*) FILTER (WHERE event_type = 'error') AS errors,
           COUNT(*) FILTER (WHERE event_type IN ('generation', 'error')) AS requests,
           QUANTILE_CONT(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE event_type IN {_in(RESPONSE_TYPES)}) AS lat,
           COALESCE(SUM(tokens_in), 0)::DOUBLE AS tokens_in,
           COALESCE(SUM(tokens_out), 0)::DOUBLE AS tokens_out,
           COALESCE(SUM(cost_usd), 0)::DOUBLE AS cost_usd,
           COUNT(*) FILTER (WHERE event_type = 'accept') AS accepts,
           AVG(satisfaction) AS satisfaction
    FROM sess GROUP BY day
), days AS (
    SELECT range AS day FROM range((SELECT MIN(day) FROM d), (SELECT MAX(day) FROM d) + 1)
)
SELECT days.day,
       COALESCE(events, 0) AS events, COALESCE(active_users, 0) AS active_users, COALESCE(sessions, 0) AS sessions,
       events / NULLIF(active_users, 0) AS events_per_user, sessions / NULLIF(active_users, 0) AS sessions_per_user,
       cache_hits / NULLIF(cache_q, 0) AS cache_hit_rate, errors / NULLIF(requests, 0) AS error_rate,
       lat[1] AS latency_p50, lat[2] AS latency_p95, lat[3] AS latency_p99,
       COALESCE(tokens_in, 0) AS tokens_in, COALESCE(tokens_out, 0) AS tokens_out, COALESCE(cost_usd, 0) AS cost_usd,
       COALESCE(accepts, 0) AS accepts, cost_usd / NULLIF(accepts, 0) AS cost_per_accept, satisfaction,
       CASE WHEN active_users > 0 THEN 1.0 END AS stickiness
FROM days LEFT JOIN d USING (day) ORDER BY days.day
"""


def funnel_sql(steps=STEPS, window_us=WINDOW_US) -> str:
    all_types = sorted({t for st in steps for t in st})
    parts = [f"e AS (SELECT session_id, seq, ts_us, event_type FROM sess WHERE event_type IN {_in(all_types)})",
             f"s1 AS (SELECT session_id, MIN(seq) AS seq, ARG_MIN(ts_us, seq) AS ts, ARG_MIN(ts_us, seq) AS t0 "
             f"FROM e WHERE event_type IN {_in(steps[0])} GROUP BY session_id)"]
    for k in range(2, len(steps) + 1):
        parts.append(
            f"s{k} AS (SELECT p.session_id, MIN(e.seq) AS seq, ARG_MIN(e.ts_us, e.seq) AS ts, p.t0 "
            f"FROM s{k - 1} p JOIN e ON e.session_id = p.session_id AND e.seq > p.seq "
            f"AND e.event_type IN {_in(steps[k - 1])} "
            f"GROUP BY p.session_id, p.t0 HAVING ARG_MIN(e.ts_us, e.seq) - p.t0 <= {window_us})")
    union = " UNION ALL ".join(
        f"SELECT {k} AS step, COUNT(*) AS entities, MEDIAN((ts - t0) / 1e6) AS median_time_s FROM s{k}"
        for k in range(1, len(steps) + 1))
    return "WITH " + ",\n".join(parts) + "\n" + union + " ORDER BY step"


FUNNEL_SQL = funnel_sql()


def run_duckdb(con: duckdb.DuckDBPyConnection):
    con.execute(SESSIONS_SQL)
    kpis = con.execute(KPI_SQL).fetch_df()
    funnel = con.execute(FUNNEL_SQL).fetch_df()
    con.execute("DROP TABLE sess")
    return kpis, funnel


# ============================================================================================
# Naive pandas: groupby().apply() with per-group Python, the unvectorised way
def naive_sessionize(ev: pd.DataFrame) -> pd.DataFrame:
    gap = pd.Timedelta(GAP)

    def per_user(g):
        g = g.sort_values("ts", kind="stable")
        new = g["ts"].diff() > gap
        new.iloc[0] = True
        return g.assign(session_id=str(g["user_id"].iloc[0]) + "#" + new.cumsum().astype(str))

    # grouped by the values (not the column name) so that apply() still passes the column in
    return ev.groupby(ev["user_id"].to_numpy(), group_keys=False).apply(per_user)


def naive_kpis(s: pd.DataFrame) -> pd.DataFrame:
    def per_day(g):
        et = g["event_type"].astype(str)
        cq = g.loc[(et == "cache_query") & g["cache_hit"].notna(), "cache_hit"]
        lat = g.loc[et.isin(RESPONSE_TYPES), "latency_ms"].dropna()
        n_req = et.isin(["generation", "error"]).sum()
        users = g["user_id"].nunique()
        sessions = g["session_id"].nunique()
        accepts = (et == "accept").sum()
        cost = g["cost_usd"].sum()
        return pd.Series({
            "events": len(g), "active_users": users, "sessions": sessions,
            "events_per_user": len(g) / users, "sessions_per_user": sessions / users,
            "cache_hit_rate": cq.astype(bool).mean() if len(cq) else np.nan,
            "error_rate": (et == "error").sum() / n_req if n_req else np.nan,
            "latency_p50": lat.quantile(0.5), "latency_p95": lat.quantile(0.95), "latency_p99": lat.quantile(0.99),
            "tokens_in": float(g["tokens_in"].sum()), "tokens_out": float(g["tokens_out"].sum()), "cost_usd": cost,
            "accepts": accepts, "cost_per_accept": cost / accepts if accepts else np.nan,
            "satisfaction": g["satisfaction"].mean(), "stickiness": 1.0,
        })

    day = s["ts"].dt.floor("D").rename("period")
    out = s.groupby(day).apply(per_day)
    full = pd.date_range(out.index.min(), out.index.max(), freq="D", name="period")
    out = out.reindex(full)
    for c in ("events", "active_users", "sessions", "accepts"):
        out[c] = out[c].fillna(0).astype("int64")
    return out


def naive_funnel(s: pd.DataFrame) -> pd.DataFrame:
    window = pd.Timedelta(WINDOW)

    def per_session(g):
        g = g.sort_values("ts", kind="stable")
        types, times = g["event_type"].astype(str).tolist(), g["ts"].tolist()
        took = [np.nan] * len(STEPS)
        i, t0 = -1, None
        for k, step in enumerate(STEPS):
            j = next((j for j in range(i + 1, len(types)) if types[j] in step), None)
            if j is None or (t0 is not None and times[j] - t0 > window):
                break
            t0 = times[j] if t0 is None else t0
            took[k] = (times[j] - t0).total_seconds()
            i = j
        return pd.Series(took, index=range(1, len(STEPS) + 1))

    per = s.groupby("session_id").apply(per_session)
    return pd.DataFrame({"step": range(1, len(STEPS) + 1), "entities": per.notna().sum().to_numpy(),
                         "median_time_s": per.median().to_numpy()})


def run_naive(ev: pd.DataFrame):
    s = naive_sessionize(ev)
    return naive_kpis(s), naive_funnel(s)


# ============================================================================================
# Agreement checks
def check_same(kpis, funnel, ref_kpis, ref_funnel, label: str) -> None:
    """Fail loudly unless ``ref`` (another implementation) agrees with ours."""
    ours_k = kpis.reset_index(drop=True)
    ref = ref_kpis.reset_index(drop=True)
    problems = []
    if len(ours_k) != len(ref):
        problems.append(f"{len(ours_k)} days in ours, {len(ref)} in {label}")
    else:
        for c in EXACT_KPIS:
            a, b = ours_k[c].to_numpy(dtype="int64"), ref[c].to_numpy(dtype="int64")
            if not np.array_equal(a, b):
                bad = np.flatnonzero(a != b)
                problems.append(f"daily {c} differ on {len(bad)} days (first: day {bad[0]}: ours {a[bad[0]]}, "
                                f"{label} {b[bad[0]]})")
        for c in CLOSE_KPIS:
            a, b = ours_k[c].to_numpy(dtype="float64"), ref[c].to_numpy(dtype="float64")
            if not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
                bad = np.flatnonzero(~np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
                problems.append(f"daily {c} differ on {len(bad)} days (first: ours {a[bad[0]]!r}, {label} {b[bad[0]]!r})")
    a = funnel["entities"].to_numpy(dtype="int64")
    b = ref_funnel["entities"].to_numpy(dtype="int64")
    if not np.array_equal(a, b):
        problems.append(f"funnel entities differ: ours {a.tolist()}, {label} {b.tolist()}")
    a = funnel["median_time_s"].to_numpy(dtype="float64")
    b = ref_funnel["median_time_s"].to_numpy(dtype="float64")
    if not np.allclose(a, b, rtol=1e-9, equal_nan=True):
        problems.append(f"funnel median_time_s differ: ours {a.tolist()}, {label} {b.tolist()}")
    if problems:
        raise SystemExit(f"bench_workflow: ours and {label} disagree, the comparison would not be apples to apples:\n  "
                         + "\n  ".join(problems))


def check_shape(res) -> None:
    kpis, funnel = res
    assert len(kpis) > 0 and len(funnel) == len(STEPS) and int(funnel["entities"].iloc[0]) > 0


# ============================================================================================
def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--naive-events", type=int, default=1_000_000)
    p.add_argument("--naive-budget", type=float, default=300.0, help="seconds the naive run may take (default 300)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    path = sample_parquet(args.events)
    t0 = time.perf_counter()
    ev = load_events(path, now="2025-07-01").events
    assert ev["ts"].is_monotonic_increasing  # validated frames are sorted by ts
    ev = ev.assign(session_id=pd.Series(pd.NA, index=ev.index, dtype="str"))
    assert ev["session_id"].isna().all()  # sessionize must derive every session
    n = len(ev)
    table = to_arrow(ev)
    con = duckdb.connect()
    # Results are ordered by ORDER BY where it matters; keeping the scan order of the 10M-row temp
    # table would only slow CREATE TABLE AS down (DuckDB's own advice for large loads).
    con.execute("SET preserve_insertion_order = false")
    con.register("ev", table)
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    log(f"loaded {n:,} events and the Arrow copy in {time.perf_counter() - t0:.0f} s (not timed)")

    # First runs (warm-up, not in the times) whose results must agree. Their RSS growth is each
    # side's working memory from a cold start: afterwards DuckDB's allocator keeps some of its
    # memory, which then sits in the baseline of every later run (of either side).
    load0 = os.getloadavg()[0]
    with measured() as duck_first:
        duck_res = run_duckdb(con)
    with measured() as ours_first:
        ours_res = run_ours(ev)
    check_same(*ours_res, *duck_res, label="DuckDB")
    n_days = len(ours_res[0])
    del ours_res, duck_res
    log(f"ours and DuckDB agree (first runs: ours {ours_first.seconds:.1f} s, DuckDB {duck_first.seconds:.1f} s); timing ...")

    stages: list[dict] = []
    ours, duck = interleaved(args.repeat, lambda: run_ours(ev, stages), lambda: run_duckdb(con), check_shape)
    best_stage = min(stages, key=lambda d: d["sessionize"] + d["kpis"] + d["funnel"])
    log(f"ours {ours.seconds:.2f} s, DuckDB {duck.seconds:.2f} s")

    # Naive pandas on a prefix, against ours on the same rows.
    probe_n = min(50_000, args.naive_events)
    t0 = time.perf_counter()
    run_naive(ev.iloc[:probe_n])
    probe_s = time.perf_counter() - t0
    predicted = probe_s * args.naive_events / probe_n
    naive_n = args.naive_events
    if predicted > args.naive_budget:
        naive_n = max(probe_n, int(args.naive_events * args.naive_budget / predicted) // 10_000 * 10_000)
    naive_n = min(naive_n, n)
    sample = ev.iloc[:naive_n].copy()
    log(f"naive probe: {probe_n:,} rows in {probe_s:.1f} s, predicts {predicted:.0f} s for {args.naive_events:,}; "
        f"running it on {naive_n:,} rows ...")
    with measured() as naive:
        naive_res = run_naive(sample)
    ours_small_res = run_ours(sample)
    check_same(*ours_small_res, *naive_res, label="naive pandas")
    del naive_res, ours_small_res
    ours_small = min(_timed(lambda: run_ours(sample)) for _ in range(args.repeat))
    speedup = naive.seconds / ours_small

    ratio = ours.seconds / duck.seconds
    reduced = naive_n < args.naive_events
    naive_label = f"naive pandas on {naive_n:,} rows" + (f" (REDUCED from {args.naive_events:,}: over budget)" if reduced else "")
    r = Report(f"bench_workflow: sessionize + daily KPIs ({n_days} days) + 6-step session funnel on {n:,} events, "
               f"best of {args.repeat} interleaved runs; reference DuckDB {duckdb.__version__} ({threads} threads)")
    r.add("seconds (ours vs DuckDB)", ours.seconds, duck.seconds, ratio, "ratio <= 1.5")
    r.add("events per second", n / ours.seconds, n / duck.seconds, None, "")
    r.add("  sessionize seconds", best_stage["sessionize"], None, None, "(stage of ours)")
    r.add("  kpi_table seconds", best_stage["kpis"], None, None, "(stage of ours)")
    r.add("  funnel_table seconds", best_stage["funnel"], None, None, "(stage of ours)")
    r.add("peak RSS MB (whole process)", ours.peak_rss_mb, duck.peak_rss_mb, ours.peak_rss_mb / duck.peak_rss_mb, "")
    r.add("RSS growth MB, first run", ours_first.delta_rss_mb, duck_first.delta_rss_mb,
          ours_first.delta_rss_mb / duck_first.delta_rss_mb if duck_first.delta_rss_mb > 0 else None, "(cold start)")
    r.add(f"seconds on {naive_n:,} rows (vs naive)", ours_small, naive.seconds, naive.seconds / ours_small, "ratio >= 20")
    r.add("events per second (vs naive)", naive_n / ours_small, naive_n / naive.seconds, None, "")
    print(f"\nreference of the last two rows: {naive_label}, timed once (probe: {probe_n:,} rows in "
          f"{probe_s:.1f} s, predicting {predicted:.0f} s for {args.naive_events:,}; budget {args.naive_budget:.0f} s); "
          f"peak RSS includes the loaded frame and its Arrow copy; 1-min load average {load0:.1f} at the start "
          f"(other processes share the {os.cpu_count()} cores)")
    r.figures = {
        "events": n, "days": n_days, "seconds": round(ours.seconds, 3), "duckdb_seconds": round(duck.seconds, 3),
        "ratio_to_duckdb": round(ratio, 3), "events_per_s": round(n / ours.seconds),
        "duckdb_events_per_s": round(n / duck.seconds), "duckdb_threads": threads,
        "sessionize_seconds": round(best_stage["sessionize"], 3), "kpis_seconds": round(best_stage["kpis"], 3),
        "funnel_seconds": round(best_stage["funnel"], 3),
        "peak_rss_mb": round(ours.peak_rss_mb, 1), "duckdb_peak_rss_mb": round(duck.peak_rss_mb, 1),
        "first_run_delta_rss_mb": round(ours_first.delta_rss_mb, 1),
        "duckdb_first_run_delta_rss_mb": round(duck_first.delta_rss_mb, 1),
        "loadavg_1min_start": round(load0, 2), "loadavg_1min_end": round(os.getloadavg()[0], 2),
        "naive_events": naive_n, "naive_events_requested": args.naive_events, "naive_sample_reduced": reduced,
        "naive_seconds": round(naive.seconds, 3), "ours_naive_sample_seconds": round(ours_small, 3),
        "speedup_vs_naive": round(speedup, 1), "naive_events_per_s": round(naive_n / naive.seconds),
        "ours_naive_sample_events_per_s": round(naive_n / ours_small),
    }
    r.emit(args.json)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    res = fn()
    s = time.perf_counter() - t0
    del res
    return s


if __name__ == "__main__":
    main()
