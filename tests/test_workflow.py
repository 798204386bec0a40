"""Correctness tests of analytics_lib.workflow.

Four kinds of evidence:

1. independent references: the same figures computed with SQL on DuckDB (or, for the
   funnel modes, a slow plain-Python loop) from the docstring definitions, on a generated
   ~50k-event frame with one week cut out, and on small handmade frames;
2. recovery of the generator's planted ground truth on the 1M sample (slow);
3. real process-mining logs (pm4py) against references computed directly on the raw CSV;
4. edge cases, invalid arguments, and that no function modifies its input.
"""
from __future__ import annotations

import itertools
from collections import Counter

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import CORPUS, NOW, REAL

from analytics_lib import (WorkbenchError, active_users, activity_histogram, bottleneck_table, funnel_table,
                           kpi_table, lifecycle_table, load_events, metric_table, path_variants, retention_matrix,
                           rework_table, satisfaction_vs_performance, session_table, sessionize, transition_table,
                           validate_events)
from analytics_lib.core import schema as S
from analytics_lib.data.synthetic.events import synthetic_events
from analytics_lib.analysis.workflow.kpis import RESPONSE_TYPES
from analytics_lib.core.timewindow import period_start

PM4PY = REAL / "eventlogs" / "pm4py"
MAPPING = CORPUS / "pm4py_mapping.yaml"
TOL = dict(rtol=1e-9, atol=1e-9)
UNIT = {"D": "day", "W": "week", "M": "month"}
# the generator's workflow, as funnel steps
WORKFLOW = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"], "deploy"]
GAP_WEEK = pd.Timestamp("2025-05-12", tz="UTC")  # a Monday inside the 50k frame's window; cut out entirely


# ============================================================================================
# helpers
def make_events(rows, **columns) -> pd.DataFrame:
    """A validated frame from ``(ts, user_id, event_type[, session_id])`` tuples (ISO ts, Z)."""
    data = {
        "event_id": [f"x{i:04d}" for i in range(len(rows))],
        "ts": [r[0] for r in rows],
        "user_id": [r[1] for r in rows],
        "event_type": [r[2] for r in rows],
    }
    if any(len(r) > 3 for r in rows):
        data["session_id"] = [r[3] if len(r) > 3 else None for r in rows]
    data.update(columns)
    res = validate_events(pd.DataFrame(data), now=NOW)
    assert res.summary.rows_quarantined == 0
    return res.events


def duck(events: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with view ``ev``: plain strings, naive-UTC ``ts``, ``ts_us`` and row number ``rn``."""
    df = pd.DataFrame({"rn": np.arange(len(events), dtype=np.int64)})
    for c in events.columns:
        s = events[c]
        if c == S.TS:
            df[c] = s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]").to_numpy()
        elif isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            df[c] = s.astype(object).where(s.notna(), None).to_numpy()
        else:
            df[c] = s.to_numpy() if not pd.api.types.is_extension_array_dtype(s.dtype) else s.array
    con = duckdb.connect()
    con.register("ev_raw", pa.Table.from_pandas(df, preserve_index=False))
    con.execute("CREATE VIEW ev AS SELECT *, epoch_us(ts) AS ts_us FROM ev_raw")
    return con


def sql_list(types) -> str:
    types = (types,) if isinstance(types, str) else tuple(types)
    return ", ".join("'" + t.replace("'", "''") + "'" for t in types)


def utc(col: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(col)).tz_localize("UTC")


def expected_funnel(counts, medians) -> pd.DataFrame:
    """Funnel rates from per-step counts, by the docstring's formulas."""
    counts = np.asarray(counts, dtype=float)
    base = counts[0]
    prev = np.concatenate([[base], counts[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(base > 0, counts / base, np.nan)
        step = np.where(prev > 0, counts / np.where(prev > 0, prev, 1), np.nan)
    return pd.DataFrame({"entities": counts.astype(int), "conversion": conv, "step_conversion": step,
                         "drop_off": 1 - step, "median_time_s": np.asarray(medians, dtype=float)})


def assert_funnel(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got["step"].tolist() == list(range(1, len(want) + 1))
    np.testing.assert_array_equal(got["entities"].to_numpy(), want["entities"].to_numpy())
    for c in ("conversion", "step_conversion", "drop_off", "median_time_s"):
        np.testing.assert_allclose(got[c].to_numpy(dtype=float), want[c].to_numpy(dtype=float), equal_nan=True,
                                   err_msg=c, **TOL)


# ============================================================================================
# fixtures
@pytest.fixture(scope="module")
def ev50() -> pd.DataFrame:
    """~50k generated events over 70 days, validated, with the week of GAP_WEEK removed."""
    raw = synthetic_events(50_000, days=70, end="2025-06-30", seed=1).events
    week = (raw[S.TS] >= GAP_WEEK) & (raw[S.TS] < GAP_WEEK + pd.Timedelta(days=7))
    res = validate_events(raw[~week].reset_index(drop=True), now=NOW)
    assert res.summary.rows_quarantined == 0 and len(res.events) > 40_000
    return res.events


@pytest.fixture(scope="module")
def con50(ev50):
    con = duck(ev50)
    # missing values arrive as NULL (not NaN, not the string "nan")
    nulls = con.sql("SELECT count(*) - count(latency_ms), count(*) - count(model), count(*) - count(tokens_in), "
                    "count(*) - count(cache_hit) FROM ev").fetchall()[0]
    assert nulls == tuple(int(ev50[c].isna().sum()) for c in (S.LATENCY_MS, S.MODEL, S.TOKENS_IN, S.CACHE_HIT))
    yield con
    con.close()


# ============================================================================================
# 1. SQL references on DuckDB
def sql_kpi(con, g: str, latency_types=RESPONSE_TYPES) -> pd.DataFrame:
    unit = UNIT[g]
    lat = "TRUE" if latency_types is None else f"event_type IN ({sql_list(latency_types)})"
    q = f"""
    WITH b AS (SELECT *, date_trunc('{unit}', ts)::TIMESTAMP AS p FROM ev),
    agg AS (
        SELECT p, count(*) AS events, count(DISTINCT user_id) AS active_users,
               count(DISTINCT session_id) AS sessions,
               count(*) FILTER (WHERE event_type = 'cache_query' AND cache_hit IS NOT NULL) AS cq,
               count(*) FILTER (WHERE event_type = 'cache_query' AND cache_hit) AS ch,
               count(*) FILTER (WHERE event_type = 'error') AS errors,
               count(*) FILTER (WHERE event_type IN ('generation', 'error')) AS requests,
               quantile_cont(latency_ms, 0.5) FILTER (WHERE {lat}) AS latency_p50,
               quantile_cont(latency_ms, 0.95) FILTER (WHERE {lat}) AS latency_p95,
               quantile_cont(latency_ms, 0.99) FILTER (WHERE {lat}) AS latency_p99,
               coalesce(sum(tokens_in), 0)::DOUBLE AS tokens_in, coalesce(sum(tokens_out), 0)::DOUBLE AS tokens_out,
               coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE event_type = 'accept') AS accepts,
               avg(satisfaction) AS satisfaction
        FROM b GROUP BY p),
    periods AS (SELECT unnest(generate_series(min(p), max(p), INTERVAL 1 {unit})) AS p FROM agg),
    dau AS (SELECT date_trunc('day', ts)::TIMESTAMP AS d, count(DISTINCT user_id) AS n FROM ev GROUP BY 1),
    days AS (SELECT * FROM (SELECT p, unnest(generate_series(p, p + INTERVAL 1 {unit} - INTERVAL 1 DAY,
                                                                INTERVAL 1 DAY)) AS d FROM periods)
             WHERE d BETWEEN (SELECT min(date_trunc('day', ts)) FROM ev) AND (SELECT max(date_trunc('day', ts)) FROM ev)),
    mean_dau AS (SELECT days.p, avg(coalesce(dau.n, 0)) AS m FROM days LEFT JOIN dau USING (d) GROUP BY days.p)
    SELECT periods.p AS period,
           coalesce(a.events, 0) AS events, coalesce(a.active_users, 0) AS active_users,
           coalesce(a.sessions, 0) AS sessions,
           a.events::DOUBLE / nullif(a.active_users, 0) AS events_per_user,
           a.sessions::DOUBLE / nullif(a.active_users, 0) AS sessions_per_user,
           a.ch::DOUBLE / nullif(a.cq, 0) AS cache_hit_rate,
           a.errors::DOUBLE / nullif(a.requests, 0) AS error_rate,
           a.latency_p50, a.latency_p95, a.latency_p99,
           coalesce(a.tokens_in, 0) AS tokens_in, coalesce(a.tokens_out, 0) AS tokens_out,
           coalesce(a.cost_usd, 0) AS cost_usd, coalesce(a.accepts, 0) AS accepts,
           a.cost_usd / nullif(a.accepts, 0) AS cost_per_accept,
           a.satisfaction,
           md.m / nullif(a.active_users, 0) AS stickiness
    FROM periods LEFT JOIN agg a USING (p) LEFT JOIN mean_dau md USING (p)
    ORDER BY period"""
    out = con.sql(q).df()
    out.index = utc(out.pop("period")).rename("period")
    return out


COUNT_COLS = ("events", "active_users", "sessions", "accepts")


def assert_kpi_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_index_equal(got.index, want.index, check_exact=True, check_freq=False)
    assert list(got.columns) == list(want.columns)
    for c in got.columns:
        if c in COUNT_COLS:
            np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy(dtype=np.int64), err_msg=c)
        else:
            np.testing.assert_allclose(got[c].to_numpy(dtype=float), want[c].to_numpy(dtype=float),
                                       equal_nan=True, err_msg=c, **TOL)


@pytest.mark.parametrize("g", ["D", "W", "M"])
def test_kpi_table_matches_sql(ev50, con50, g):
    got = kpi_table(ev50, granularity=g)
    want = sql_kpi(con50, g)
    assert_kpi_equal(got, want)
    # the cut-out week is there, filled: zero counts, NaN rates
    if g in "DW":
        empty = got.loc[GAP_WEEK:GAP_WEEK + pd.Timedelta(days=6)]
        assert len(empty) == (7 if g == "D" else 1)
        assert (empty[["events", "active_users", "sessions", "accepts"]] == 0).all().all()
        assert (empty[["tokens_in", "tokens_out", "cost_usd"]] == 0).all().all()
        assert empty[["events_per_user", "cache_hit_rate", "error_rate", "latency_p50", "cost_per_accept",
                      "satisfaction", "stickiness"]].isna().all().all()
    assert got["events"].sum() == len(ev50)


def test_kpi_table_latency_types_none_matches_sql(ev50, con50):
    got = kpi_table(ev50, granularity="W", latency_types=None)
    want = sql_kpi(con50, "W", latency_types=None)
    assert_kpi_equal(got, want)
    # test_run latencies are long: including them must change the percentiles
    assert not np.allclose(got["latency_p50"].dropna(), kpi_table(ev50, granularity="W")["latency_p50"].dropna())


def test_kpi_table_small_frame_with_empty_month_matches_sql():
    ev = make_events([
        ("2025-01-05T10:00:00Z", "u1", "session_start", "s1"),
        ("2025-01-05T10:01:00Z", "u1", "generation", "s1"),
        ("2025-01-05T10:02:00Z", "u1", "error", "s1"),
        ("2025-01-05T10:03:00Z", "u1", "cache_query", "s1"),
        ("2025-01-20T09:00:00Z", "u2", "accept", "s2"),
        ("2025-03-02T12:00:00Z", "u2", "cache_query", "s3"),
        ("2025-03-02T12:05:00Z", "u3", "feedback", "s4"),
    ], latency_ms=[None, "100", "400", "10", None, "20", None],
       cost_usd=["0", "0.5", "0", "0.01", "0", "0.01", "0"],
       cache_hit=[None, "false", None, "true", None, None, None],
       satisfaction=[None, None, None, None, None, None, "4"])
    for g in "DWM":
        got = kpi_table(ev, granularity=g)
        con = duck(ev)
        assert_kpi_equal(got, sql_kpi(con, g))
    m = kpi_table(ev, granularity="M")
    assert m.index.tolist() == [pd.Timestamp(x, tz="UTC") for x in ("2025-01-01", "2025-02-01", "2025-03-01")]
    feb = m.loc[pd.Timestamp("2025-02-01", tz="UTC")]
    assert feb["events"] == 0 and feb["active_users"] == 0 and feb["cost_usd"] == 0
    assert np.isnan(feb["cache_hit_rate"]) and np.isnan(feb["latency_p50"]) and np.isnan(feb["stickiness"])
    jan = m.loc[pd.Timestamp("2025-01-01", tz="UTC")]
    assert jan["cache_hit_rate"] == 1.0 and jan["error_rate"] == 0.5 and jan["cost_per_accept"] == pytest.approx(0.51)
    # 2 user-days over the 27 data days from Jan 5, divided by 2 active users
    assert jan["latency_p50"] == 100.0 and jan["stickiness"] == pytest.approx(2 / 27 / 2)
    mar = m.loc[pd.Timestamp("2025-03-01", tz="UTC")]
    assert np.isnan(mar["cache_hit_rate"])  # a cache_query with cache_hit unknown does not count


def test_active_users_matches_sql(ev50, con50):
    got = active_users(ev50)
    want = con50.sql("""
        WITH ud AS (SELECT DISTINCT user_id, date_trunc('day', ts)::TIMESTAMP AS d FROM ev),
        days AS (SELECT unnest(generate_series(min(d), max(d), INTERVAL 1 DAY)) AS day FROM ud)
        SELECT day, count(DISTINCT ud.user_id) FILTER (WHERE ud.d = day) AS dau,
               count(DISTINCT ud.user_id) FILTER (WHERE ud.d > day - INTERVAL 7 DAY) AS wau,
               count(DISTINCT ud.user_id) AS mau
        FROM days LEFT JOIN ud ON ud.d <= day AND ud.d > day - INTERVAL 28 DAY
        GROUP BY day ORDER BY day""").df()
    assert got.index.equals(utc(want["day"]))
    for c in ("dau", "wau", "mau"):
        np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy(), err_msg=c)
    np.testing.assert_allclose(got["stickiness"], want["dau"] / want["mau"].where(want["mau"] > 0), equal_nan=True)
    gap = got.loc[GAP_WEEK:GAP_WEEK + pd.Timedelta(days=6)]
    assert (gap["dau"] == 0).all() and (gap["wau"].iloc[-1] == 0) and (gap["mau"] > 0).all()


def test_active_users_hand_counted_days():
    ev = make_events([
        ("2025-03-01T23:59:59Z", "a", "search"),
        ("2025-03-02T00:00:00Z", "b", "search"),
        ("2025-03-02T05:00:00Z", "a", "search"),
        ("2025-03-05T10:00:00Z", "c", "search"),
        ("2025-03-09T10:00:00Z", "c", "search"),
    ])
    au = active_users(ev, windows=(1, 3, 7))
    assert au.columns.tolist() == ["dau", "active_3d", "wau"]
    day = lambda d: pd.Timestamp(d, tz="UTC")  # noqa: E731
    assert au.loc[day("2025-03-01")].tolist() == [1, 1, 1]
    assert au.loc[day("2025-03-02")].tolist() == [2, 2, 2]
    assert au.loc[day("2025-03-04")].tolist() == [0, 2, 2]   # a,b on 03-02 still inside 3 days (02..04)
    assert au.loc[day("2025-03-05")].tolist() == [1, 1, 3]
    assert au.loc[day("2025-03-08")].tolist() == [0, 0, 3]   # 7 days 03-02..03-08 still hold a, b (03-02) and c
    assert au.loc[day("2025-03-09")].tolist() == [1, 1, 1]   # 03-03..03-09: c only
    assert len(au) == 9 and au["dau"].sum() == 5             # distinct (user, day) pairs


def sql_metric(con, value_sql: str, g: str, by=None, where: str = "TRUE", fill_zero: bool = True) -> pd.DataFrame:
    """period x group grid over all periods of the (unfiltered) data and the groups of the filtered data."""
    unit = UNIT[g]
    grp = f"{by} AS grp" if by else "'-' AS grp"
    q = f"""
    WITH f AS (SELECT *, date_trunc('{unit}', ts)::TIMESTAMP AS p, {grp} FROM ev WHERE {where}),
    agg AS (SELECT p, grp, {value_sql} AS value FROM f GROUP BY p, grp),
    periods AS (SELECT unnest(generate_series(min(date_trunc('{unit}', ts)::TIMESTAMP),
                                              max(date_trunc('{unit}', ts)::TIMESTAMP), INTERVAL 1 {unit})) AS p FROM ev),
    groups AS (SELECT DISTINCT grp FROM f)
    SELECT periods.p AS period, groups.grp AS grp, {"coalesce(agg.value, 0)" if fill_zero else "agg.value"} AS value
    FROM periods CROSS JOIN groups
    LEFT JOIN agg ON agg.p = periods.p AND agg.grp IS NOT DISTINCT FROM groups.grp"""
    out = con.sql(q).df()
    out["period"] = utc(out["period"])
    return out


def assert_metric_equal(got: pd.DataFrame, want: pd.DataFrame, by=None, exact=False) -> None:
    key = lambda s: s.astype(object).where(s.notna(), "<NULL>").astype(str)  # noqa: E731
    g = got.assign(grp=key(got[by]) if by else "-").set_index(["period", "grp"])["value"].sort_index()
    w = want.assign(grp=key(want["grp"])).set_index(["period", "grp"])["value"].sort_index()
    assert g.index.equals(w.index), (g.index.difference(w.index)[:5], w.index.difference(g.index)[:5])
    if exact:
        np.testing.assert_array_equal(g.to_numpy(dtype=float), w.to_numpy(dtype=float))
    else:
        np.testing.assert_allclose(g.to_numpy(dtype=float), w.to_numpy(dtype=float), equal_nan=True, **TOL)


def test_metric_cost_by_model_weekly_matches_sql(ev50, con50):
    got = metric_table(ev50, "cost_usd", agg="sum", granularity="W", by="model")
    assert got.columns.tolist() == ["period", "model", "value"]
    assert_metric_equal(got, sql_metric(con50, "sum(cost_usd)", "W", by="model"), by="model")
    # events without a model (search/cache_query infra cost) form their own group with its real cost
    assert got["value"].sum() == pytest.approx(ev50[S.COST_USD].sum(), rel=1e-12)


def test_metric_p95_latency_by_team_daily_matches_sql(ev50, con50):
    got = metric_table(ev50, "latency_ms", agg="p95", granularity="D", by="team")
    want = sql_metric(con50, "quantile_cont(latency_ms, 0.95)", "D", by="team", fill_zero=False)
    assert_metric_equal(got, want, by="team")
    assert got.loc[got["period"] == GAP_WEEK, "value"].isna().all()


@pytest.mark.parametrize("g", ["D", "W", "M"])
def test_metric_distinct_users_matches_sql(ev50, con50, g):
    got = metric_table(ev50, "users", granularity=g)
    assert_metric_equal(got, sql_metric(con50, "count(DISTINCT user_id)", g), exact=True)
    got = metric_table(ev50, "users", granularity=g, by="feature", filters={"event_type": ["generation", "error"]})
    want = sql_metric(con50, "count(DISTINCT user_id)", g, by="feature", where="event_type IN ('generation', 'error')")
    assert_metric_equal(got, want, by="feature", exact=True)


@pytest.mark.parametrize("metric,agg,value_sql,fill_zero", [
    ("events", "sum", "count(*)", True),
    ("sessions", "sum", "count(DISTINCT session_id)", True),
    ("tokens_out", "mean", "avg(tokens_out)", False),
    ("latency_ms", "count", "count(latency_ms)", True),
    ("latency_ms", "max", "max(latency_ms)", False),
    ("satisfaction", "nunique", "count(DISTINCT satisfaction)", True),
    ("cache_hit", "mean", "avg(cache_hit::INT)", False),
])
def test_metric_other_aggregations_match_sql(ev50, con50, metric, agg, value_sql, fill_zero):
    got = metric_table(ev50, metric, agg=agg, granularity="W", by="feature", filters={"team": ["team-a", "team-b"]})
    want = sql_metric(con50, value_sql, "W", by="feature", where="team IN ('team-a', 'team-b')", fill_zero=fill_zero)
    assert_metric_equal(got, want, by="feature")


def sql_funnel_sequential(con, steps, unit: str, window: str = "14D"):
    """Per step: entities and median seconds from entry, straight from the definitions."""
    ent = "user_id" if unit == "user" else "session_id"
    win = pd.Timedelta(window) // pd.Timedelta(microseconds=1)
    ctes = [f"e AS (SELECT {ent} AS ent, ts_us, rn, event_type FROM ev)",
            f"""s1 AS (SELECT ent, ts_us, rn, ts_us AS t0 FROM (
                    SELECT *, row_number() OVER (PARTITION BY ent ORDER BY ts_us, rn) AS r
                    FROM e WHERE event_type IN ({sql_list(steps[0])})) WHERE r = 1)"""]
    for k in range(2, len(steps) + 1):
        ctes.append(f"""s{k} AS (SELECT ent, ts_us, rn, t0 FROM (
                SELECT e.ent, e.ts_us, e.rn, p.t0,
                       row_number() OVER (PARTITION BY e.ent ORDER BY e.ts_us, e.rn) AS r
                FROM e JOIN s{k - 1} p ON e.ent = p.ent
                WHERE e.event_type IN ({sql_list(steps[k - 1])})
                  AND (e.ts_us > p.ts_us OR (e.ts_us = p.ts_us AND e.rn > p.rn))
                  AND e.ts_us - p.t0 <= {win}) WHERE r = 1)""")
    sel = " UNION ALL ".join(f"SELECT {k} AS step, count(*) AS n, quantile_cont((ts_us - t0) / 1e6, 0.5) AS med "
                             f"FROM s{k}" for k in range(1, len(steps) + 1))
    res = con.sql("WITH " + ",\n".join(ctes) + "\n" + sel + " ORDER BY step").df()
    return res["n"].tolist(), res["med"].tolist()


SQL_FUNNELS = [
    ("session", WORKFLOW),
    ("session", ["generation", "edit", "generation", "edit"]),           # rework loops: repeated steps
    ("session", [["search", "cache_query"], "error", "generation"]),
    ("user", WORKFLOW),
    ("user", ["deploy", "deploy"]),                                       # a second deploy within 14 days
    ("user", ["feedback", "error", "accept"]),
    ("user", ["error", ["accept", "export"], "session_start"]),
]


@pytest.mark.parametrize("unit,steps", SQL_FUNNELS)
def test_funnel_sequential_matches_sql(ev50, con50, unit, steps):
    got = funnel_table(ev50, steps, unit=unit, mode="sequential")
    counts, meds = sql_funnel_sequential(con50, steps, unit)
    assert_funnel(got, expected_funnel(counts, meds))
    assert got["step_name"].tolist() == [s if isinstance(s, str) else " | ".join(s) for s in steps]


@pytest.mark.parametrize("window", ["1D", "3D", "30D"])
def test_funnel_sequential_window_matches_sql(ev50, con50, window):
    steps = ["feedback", "error", "deploy"]
    got = funnel_table(ev50, steps, unit="user", window=window)
    counts, meds = sql_funnel_sequential(con50, steps, "user", window)
    assert_funnel(got, expected_funnel(counts, meds))


def py_funnel(events: pd.DataFrame, steps, *, unit: str, mode: str, window: str = "14D"):
    """A slow, plain reference of all three modes: loops over each entity's ordered events.

    Strict mode follows the implemented reading: a run's window and times are measured from
    that run's own step-1 event. The docstring's general rule ("the window starts at entry",
    "median time from entry") would measure both from the entity's first step-1 event instead;
    the two readings differ at unit="user" (an open question, pinned here to the implementation)."""
    steps = [(s,) if isinstance(s, str) else tuple(s) for s in steps]
    win = pd.Timedelta(window)
    ent_col = S.USER_ID if unit == "user" else S.SESSION_ID
    df = pd.DataFrame({"ent": events[ent_col].astype(str).to_numpy(), "ts": events[S.TS].to_numpy(),
                       "rn": np.arange(len(events)), "et": events[S.EVENT_TYPE].astype(str).to_numpy()})
    df = df.sort_values(["ent", "ts", "rn"], kind="stable")
    n_steps = len(steps)
    reached = [0] * n_steps
    times: list[list[float]] = [[] for _ in steps]
    for _, grp in itertools.groupby(zip(df["ent"], df["ts"], df["et"]), key=lambda r: r[0]):
        seq = [(t, e) for _, t, e in grp]
        found = [None] * n_steps  # seconds from entry (or run start) to each step reached
        if mode == "sequential":
            i = next((i for i, (_, e) in enumerate(seq) if e in steps[0]), None)
            if i is not None:
                t0 = seq[i][0]
                found[0] = 0.0
                for k in range(1, n_steps):
                    i = next((j for j in range(i + 1, len(seq)) if seq[j][1] in steps[k]), None)
                    if i is None or seq[i][0] - t0 > win:
                        break
                    found[k] = (seq[i][0] - t0).total_seconds()
        elif mode == "strict":
            for i, (t0, e) in enumerate(seq):
                if e not in steps[0]:
                    continue
                depth = 1
                while (depth < n_steps and i + depth < len(seq) and seq[i + depth][1] in steps[depth]
                       and seq[i + depth][0] - t0 <= win):
                    depth += 1
                for k in range(depth):
                    if found[k] is None:
                        found[k] = (seq[i + k][0] - t0).total_seconds()
        else:
            union = set().union(*steps)
            starts = [t for t, e in seq if e in union]
            if starts:
                present = {e for t, e in seq if e in union and t - starts[0] <= win}
                for k in range(n_steps):
                    if not present & set(steps[k]):
                        break
                    found[k] = np.nan
        for k in range(n_steps):
            if found[k] is not None:
                reached[k] += 1
                times[k].append(found[k])
    meds = [float(np.median(t)) if t and mode != "any" else np.nan for t in times]
    return reached, meds


PY_FUNNELS = [
    ("session", WORKFLOW),
    ("session", ["generation", "edit", "test_run"]),
    ("session", ["generation", "edit", "generation"]),
    ("session", ["edit", "generation", ["accept", "export"]]),
    ("user", ["error", "generation", "edit"]),
    ("user", ["deploy", "session_start", "search"]),
    ("user", ["feedback", "error", "accept"]),
]


@pytest.mark.parametrize("mode", ["sequential", "strict", "any"])
@pytest.mark.parametrize("unit,steps", PY_FUNNELS)
def test_funnel_modes_match_python_reference(ev50, mode, unit, steps):
    got = funnel_table(ev50, steps, unit=unit, mode=mode)
    counts, meds = py_funnel(ev50, steps, unit=unit, mode=mode)
    assert_funnel(got, expected_funnel(counts, meds))


def test_funnel_modes_are_ordered(ev50):
    """Strict implies sequential implies any-order (same steps, entities at each step)."""
    for steps in (["session_start", "generation", "edit"], ["edit", "generation", "test_run"], WORKFLOW):
        n = {m: funnel_table(ev50, steps, unit="session", mode=m)["entities"].to_numpy() for m in
             ("strict", "sequential", "any")}
        assert (n["strict"] <= n["sequential"]).all() and (n["sequential"] <= n["any"]).all(), (steps, n)
        if steps[:2] == ["session_start", "generation"]:   # a retrieval always sits in between
            assert n["strict"][1] == 0 < n["sequential"][1]
        if steps[0] == "edit":               # generation before the first edit counts in any order only
            assert n["sequential"][1] < n["any"][1]


def test_funnel_small_frame_hand_checked():
    """A handmade frame where every mode's answer is worked out by hand."""
    ev = make_events([
        # u1: a(0) x(1) a(2) b(3) c(4): sequential a..b..c; strict only from the 2nd a
        ("2025-01-01T00:00:00Z", "u1", "a", "s1"), ("2025-01-01T00:01:00Z", "u1", "x", "s1"),
        ("2025-01-01T00:02:00Z", "u1", "a", "s1"), ("2025-01-01T00:03:00Z", "u1", "b", "s1"),
        ("2025-01-01T00:04:00Z", "u1", "c", "s1"),
        # u2: c then b then a: any-order only
        ("2025-01-01T00:00:00Z", "u2", "c", "s2"), ("2025-01-01T00:01:00Z", "u2", "b", "s2"),
        ("2025-01-01T00:02:00Z", "u2", "a", "s2"),
        # u3: a, then b 20 days later: outside 14 days
        ("2025-01-01T00:00:00Z", "u3", "a", "s3"), ("2025-01-21T00:00:00Z", "u3", "b", "s4"),
        # u4: b only: never enters
        ("2025-01-02T00:00:00Z", "u4", "b", "s5"),
    ])
    steps = ["a", "b", "c"]
    seq = funnel_table(ev, steps, unit="user")
    assert seq["entities"].tolist() == [3, 1, 1]       # u1, u2, u3 enter; only u1 converts
    assert seq["median_time_s"].tolist() == [0.0, 180.0, 240.0]  # from u1's FIRST a
    strict = funnel_table(ev, steps, unit="user", mode="strict")
    assert strict["entities"].tolist() == [3, 1, 1]
    assert strict["median_time_s"].tolist() == [0.0, 60.0, 120.0]  # from the a that starts the run
    anyo = funnel_table(ev, steps, unit="user", mode="any")
    assert anyo["entities"].tolist() == [3, 2, 2]      # u1, u2 (u4's window has no a)
    assert anyo["median_time_s"].isna().all()
    sess = funnel_table(ev, steps, unit="session")
    assert sess["entities"].tolist() == [3, 1, 1]      # s3/s4 split u3's events: s3 enters, never converts
    for f in (seq, strict, anyo, sess):
        assert_funnel(f, expected_funnel(f["entities"], f["median_time_s"]))
    # window bound is inclusive: exactly 20 days converts with a 20-day window
    assert funnel_table(ev, ["a", "b"], unit="user", window="20D")["entities"].tolist() == [3, 2]   # u1, u3
    assert funnel_table(ev, ["a", "b"], unit="user", window="19D")["entities"].tolist() == [3, 1]


def sql_retention(con, cohort: str, periods: int, mode: str, cohort_type: str) -> pd.DataFrame:
    unit = UNIT[cohort]
    members = ("SELECT user_id, min(i) AS c FROM idx GROUP BY user_id" if cohort_type == "first_time"
               else "SELECT user_id, i AS c FROM idx")
    hits = "count(x.user_id)" if mode == "on" else "count(*) FILTER (WHERE l.li >= m.c + ks.k)"
    q = f"""
    WITH up AS (SELECT DISTINCT user_id, date_trunc('{unit}', ts)::TIMESTAMP AS p FROM ev),
    periods AS (SELECT p, row_number() OVER (ORDER BY p) - 1 AS i
                FROM (SELECT unnest(generate_series(min(p), max(p), INTERVAL 1 {unit})) AS p FROM up)),
    n AS (SELECT count(*) AS n_per FROM periods),
    idx AS (SELECT up.user_id, periods.i FROM up JOIN periods USING (p)),
    lst AS (SELECT user_id, max(i) AS li FROM idx GROUP BY user_id),
    members AS ({members}),
    ks AS (SELECT unnest(range(0, {periods})) AS k),
    cnt AS (SELECT m.c, ks.k, count(*) AS size, {hits} AS hits
            FROM members m CROSS JOIN ks
            LEFT JOIN idx x ON x.user_id = m.user_id AND x.i = m.c + ks.k
            LEFT JOIN lst l ON l.user_id = m.user_id
            GROUP BY m.c, ks.k)
    SELECT periods.p AS cohort, cnt.k, cnt.size,
           CASE WHEN cnt.c + cnt.k >= n.n_per THEN NULL ELSE cnt.hits::DOUBLE / cnt.size END AS share
    FROM cnt JOIN periods ON periods.i = cnt.c CROSS JOIN n ORDER BY cohort, k"""
    long = con.sql(q).df()
    wide = long.pivot(index="cohort", columns="k", values="share")
    wide.insert(0, "size", long.groupby("cohort")["size"].first())
    wide.index = utc(pd.Series(wide.index)).rename("cohort")
    return wide


@pytest.mark.parametrize("cohort,mode,cohort_type", [
    ("W", "on", "first_time"), ("W", "on_or_after", "first_time"),
    ("W", "on", "recurring"), ("W", "on_or_after", "recurring"),
    ("M", "on", "first_time"), ("M", "on_or_after", "recurring"),
])
def test_retention_matrix_matches_sql(ev50, con50, cohort, mode, cohort_type):
    periods = 12 if cohort == "W" else 4
    got = retention_matrix(ev50, cohort=cohort, periods=periods, mode=mode, cohort_type=cohort_type)
    want = sql_retention(con50, cohort, periods, mode, cohort_type)
    assert got.columns.tolist() == ["size", *range(periods)]
    assert got.index.equals(want.index)
    np.testing.assert_array_equal(got["size"].to_numpy(), want["size"].to_numpy())
    np.testing.assert_allclose(got[list(range(periods))].to_numpy(dtype=float),
                               want[list(range(periods))].to_numpy(dtype=float), equal_nan=True, **TOL)
    assert (got[0] == 1.0).all()
    if cohort == "W":
        assert GAP_WEEK not in got.index                    # nobody active: no cohort
        before = got.loc[GAP_WEEK - pd.Timedelta(days=7)]
        assert before[1] == 0.0 if mode == "on" else before[1] > 0   # the empty week is 0, not NaN
        assert np.isnan(got.iloc[-1, 2])                    # beyond the data: NaN


# ============================================================================================
# 2. ground truth recovery on the 1M sample
@pytest.fixture(scope="module")
def big():
    data = synthetic_events(1_000_000, seed=0, end="2025-06-30")
    res = validate_events(data.events, now=NOW)
    assert res.summary.rows_quarantined == 0
    return res.events, data.truth


@pytest.mark.slow
def test_truth_session_funnel_conversion(big):
    ev, truth = big
    f = funnel_table(ev, [types for _, types in truth.funnel_steps], unit="session", mode="sequential")
    assert f["step_name"].tolist() == [" | ".join(types) for _, types in truth.funnel_steps]
    planted = [p for _, _, p in truth.funnel_step_conversion]
    got = f["step_conversion"].iloc[1:].tolist()
    assert np.abs(np.subtract(got, planted)).max() <= 0.02, list(zip(got, planted))
    assert f["entities"].iloc[0] == truth.n_sessions   # every session starts with session_start


@pytest.mark.slow
def test_truth_cache_hit_rate_by_feature(big):
    ev, truth = big
    cq = {"event_type": "cache_query"}
    hits = metric_table(ev, "cache_hit", agg="sum", by="feature", filters=cq, granularity="M")
    known = metric_table(ev, "cache_hit", agg="count", by="feature", filters=cq, granularity="M")
    rate = hits.groupby("feature")["value"].sum() / known.groupby("feature")["value"].sum()
    assert set(rate.index) == set(truth.cache_hit_rate_by_feature)
    for feature, p in truth.cache_hit_rate_by_feature.items():
        assert abs(rate[feature] - p) <= 0.01, (feature, rate[feature], p)
    # the monthly means are consistent with the pooled rate (count-weighted)
    mean = metric_table(ev, "cache_hit", agg="mean", by="feature", filters=cq, granularity="M")
    m = mean.merge(known, on=["period", "feature"], suffixes=("", "_n"))
    pooled = (m["value"] * m["value_n"]).groupby(m["feature"]).sum() / m.groupby("feature")["value_n"].sum()
    np.testing.assert_allclose(pooled.sort_index(), rate.sort_index(), rtol=1e-9)


@pytest.mark.slow
def test_truth_incident_tops_bottlenecks(big):
    ev, truth = big
    b = bottleneck_table(ev, by=("event_type", "model", "team"), period="D")
    steps = b[b["kind"] == "step"]
    top = steps[steps["severity"].isin(["high", "critical"])]
    days = pd.date_range(truth.incident_start, truth.incident_end, freq="D", inclusive="left")
    assert len(top) >= len(days)
    assert b.iloc[0]["kind"] == "step" and b.iloc[0]["rank"] == 1
    for _, row in top.iterrows():
        etype, model, team = row["name"].split(" / ")
        assert (model, team) == (truth.incident_model, truth.incident_team), row["name"]
        assert truth.incident_start <= row["period"] < truth.incident_end, row["period"]
    first = b.head(len(days))
    assert (first["name"] == f"generation / {truth.incident_model} / {truth.incident_team}").all()
    assert set(first["period"]) == set(days)


@pytest.mark.slow
def test_truth_sessionize_recovers_planted_sessions(big):
    ev, truth = big
    bare = ev.assign(session_id=pd.Series(pd.NA, index=ev.index, dtype="str"))
    derived = sessionize(bare)
    assert derived[S.SESSION_ID].notna().all()
    planted = pd.factorize(ev[S.SESSION_ID])[0]
    mine = pd.factorize(derived[S.SESSION_ID])[0]
    assert planted.max() + 1 == mine.max() + 1 == truth.n_sessions
    # the same partition: each planted session maps to one derived session and back
    pairs = pd.DataFrame({"p": planted, "m": mine}).drop_duplicates()
    assert len(pairs) == truth.n_sessions
    # derived ids are "<user>#<n>" numbered in time order per user
    first = derived.groupby(S.SESSION_ID, sort=False)[S.TS].min()
    user = first.index.str.rsplit("#", n=1).str[0]
    n = first.index.str.rsplit("#", n=1).str[1].astype(int)
    order = pd.DataFrame({"u": user, "n": n, "t": first.to_numpy()}).sort_values(["u", "t"])
    assert (order.groupby("u")["n"].transform(lambda s: np.arange(1, len(s) + 1)) == order["n"]).all()


# ============================================================================================
# 3. real event logs (pm4py)
LOGS = {"running-example.csv": (6, 6), "receipt.csv": (1434, 116), "roadtraffic100traces.csv": (100, 10)}


def raw_log(name: str) -> pd.DataFrame:
    """The CSV as given: each case ordered by time, then row order."""
    raw = pd.read_csv(PM4PY / name, dtype=str, keep_default_na=False)
    df = pd.DataFrame({"case": raw["case:concept:name"], "act": raw["concept:name"],
                       "t": pd.to_datetime(raw["time:timestamp"], utc=True, format="ISO8601"),
                       "row": np.arange(len(raw))})
    return df.sort_values(["case", "t", "row"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module", params=list(LOGS))
def real_log(request):
    res = load_events(PM4PY / request.param, mapping=MAPPING, now=NOW)
    raw = raw_log(request.param)
    assert res.summary.rows_kept == len(raw) and res.summary.rows_quarantined == 0
    return request.param, res.events, raw


def test_real_log_transitions_match_raw_csv(real_log):
    name, ev, raw = real_log
    nxt = raw.groupby("case", sort=False)[["act", "t"]].shift(-1)
    pairs = pd.DataFrame({"source": raw["act"], "target": nxt["act"], "case": raw["case"],
                          "dt": (nxt["t"] - raw["t"]).dt.total_seconds()}).dropna(subset=["target"])
    rows = []
    for (a, b), grp in pairs.groupby(["source", "target"]):
        d = grp["dt"].to_numpy()
        rows.append((a, b, len(d), grp["case"].nunique(), 0, np.quantile(d, 0.5), np.quantile(d, 0.9),
                     np.quantile(d, 0.95), d.sum() / 3600))
    want = pd.DataFrame(rows, columns=["source", "target", "count", "users", "sessions", "median_s", "p90_s", "p95_s",
                                       "total_wait_h"])
    want["sessions"] = want["users"]
    got = transition_table(ev)
    assert got.columns.tolist() == want.columns.tolist()
    assert got["count"].is_monotonic_decreasing
    assert got["count"].sum() == len(raw) - raw["case"].nunique()
    g = got.set_index(["source", "target"]).sort_index()
    w = want.set_index(["source", "target"]).sort_index()
    assert g.index.equals(w.index)
    for c in ("count", "users", "sessions"):
        np.testing.assert_array_equal(g[c].to_numpy(), w[c].to_numpy(), err_msg=c)
    for c in ("median_s", "p90_s", "p95_s", "total_wait_h"):
        np.testing.assert_allclose(g[c].to_numpy(), w[c].to_numpy(), err_msg=c, **TOL)


def test_real_log_path_variants_match_raw_csv(real_log):
    name, ev, raw = real_log
    n_cases, n_variants = LOGS[name]
    variants = Counter(raw.groupby("case", sort=False)["act"].agg(tuple))
    assert (sum(variants.values()), len(variants)) == (n_cases, n_variants)   # as the README says
    got = path_variants(ev, top=10_000)
    assert len(got) == n_variants and got["rank"].tolist() == list(range(1, n_variants + 1))
    assert dict(zip(got["path"], got["sessions"])) == {" > ".join(v): n for v, n in variants.items()}
    assert (got["steps"] == got["path"].str.count(" > ") + 1).all()
    assert got["sessions"].is_monotonic_decreasing
    np.testing.assert_allclose(got["share"], got["sessions"] / n_cases)
    assert got["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    top3 = path_variants(ev, top=3)
    assert top3["sessions"].tolist() == got["sessions"].head(3).tolist()


def test_real_log_session_table_matches_raw_csv(real_log):
    name, ev, raw = real_log
    st = session_table(ev).set_index("session_id").sort_index()
    g = raw.groupby("case")
    assert st.index.tolist() == sorted(g.groups)
    np.testing.assert_array_equal(st["n_events"].to_numpy(), g.size().sort_index().to_numpy())
    np.testing.assert_array_equal(st["n_steps"].to_numpy(), g["act"].nunique().sort_index().to_numpy())
    dur = (g["t"].max() - g["t"].min()).dt.total_seconds().sort_index()
    np.testing.assert_allclose(st["duration_s"].to_numpy(), dur.to_numpy(), **TOL)
    assert (st.index == st["user_id"]).all()


# ============================================================================================
# 4. edge cases
def test_single_event():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "session_start")])
    st = session_table(ev)
    assert len(st) == 1 and st["duration_s"].iloc[0] == 0.0 and st["n_events"].iloc[0] == 1
    assert st["session_id"].iloc[0] == "u1#1" and st["outcome"].iloc[0] == "abandoned"
    f = funnel_table(ev, ["session_start", "generation"], unit="session")
    assert f["entities"].tolist() == [1, 0] and f["conversion"].tolist() == [1.0, 0.0]
    assert f["median_time_s"].iloc[0] == 0.0 and np.isnan(f["median_time_s"].iloc[1])
    tt = transition_table(ev)
    assert tt.empty
    assert tt.columns.tolist() == ["source", "target", "count", "users", "sessions", "median_s", "p90_s", "p95_s",
                                   "total_wait_h"]
    pv = path_variants(ev)
    assert pv[["path", "steps", "sessions", "share"]].values.tolist() == [["session_start", 1, 1, 1.0]]
    k = kpi_table(ev, granularity="D")
    assert len(k) == 1 and k["events"].iloc[0] == 1 and k["latency_p50"].isna().all()
    assert active_users(ev)[["dau", "wau", "mau"]].values.tolist() == [[1, 1, 1]]
    r = retention_matrix(ev, periods=2)
    assert r["size"].tolist() == [1] and r[0].tolist() == [1.0] and np.isnan(r[1].iloc[0])


def test_no_latency_anywhere_gives_nan_percentiles():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "session_start"), ("2025-01-03T10:00:00Z", "u1", "edit")])
    k = kpi_table(ev, granularity="D")
    assert len(k) == 3 and k[["latency_p50", "latency_p95", "latency_p99"]].isna().all().all()
    assert k["events"].tolist() == [1, 0, 1]


def test_user_with_one_session():
    ev = make_events([
        ("2025-02-03T09:00:00Z", "u1", "session_start"),
        ("2025-02-03T09:01:00Z", "u1", "generation"),
        ("2025-02-03T09:02:00Z", "u1", "edit"),
        ("2025-02-03T09:05:00Z", "u1", "generation"),
        ("2025-02-03T09:29:00Z", "u1", "feedback"),
    ], team=[None, "t1", "t2", "t1", "t1"], model=[None, None, None, "m1", None],
       satisfaction=[None, None, None, None, "3.5"])
    st = session_table(ev)
    assert len(st) == 1
    row = st.iloc[0]
    assert (row["session_id"], row["user_id"], row["team"], row["model"]) == ("u1#1", "u1", "t1", "m1")
    assert pd.isna(row["feature"])
    assert (row["duration_s"], row["n_events"], row["n_steps"], row["n_errors"]) == (29 * 60, 5, 4, 0)
    assert row["rework"] and row["satisfaction"] == 3.5 and row["outcome"] == "abandoned"
    assert row["start"] == pd.Timestamp("2025-02-03T09:00:00Z") and row["end"] == pd.Timestamp("2025-02-03T09:29:00Z")
    tt = transition_table(ev).set_index(["source", "target"])
    assert tt["count"].to_dict() == {("edit", "generation"): 1, ("generation", "edit"): 1,
                                     ("generation", "feedback"): 1, ("session_start", "generation"): 1}
    assert tt.loc[("generation", "feedback"), "median_s"] == 24 * 60
    assert (tt["sessions"] == 1).all() and (tt["users"] == 1).all()
    rw = rework_table(ev).set_index("event_type")
    assert rw.loc["generation", "sessions_repeated"] == 1 and rw.loc["generation", "mean_repeats"] == 1.0
    assert rw.loc["edit", "share"] == 0.0


def test_outcomes_and_first_values():
    ev = make_events([
        ("2025-02-03T09:00:00Z", "u1", "error", "a"), ("2025-02-03T09:01:00Z", "u1", "export", "a"),
        ("2025-02-03T09:00:00Z", "u2", "error", "b"), ("2025-02-03T09:01:00Z", "u2", "error", "b"),
        ("2025-02-03T09:00:00Z", "u3", "edit", "c"), ("2025-02-03T09:00:00Z", "u3", "edit", "c"),
    ])
    st = session_table(ev).set_index("session_id")
    assert st["outcome"].astype(str).to_dict() == {"a": "accepted", "b": "errored", "c": "abandoned"}
    assert st["n_errors"].to_dict() == {"a": 1, "b": 2, "c": 0}
    assert st["rework"].to_dict() == {"a": False, "b": False, "c": True}


def test_timestamp_ties_follow_frame_order_everywhere():
    t = "2025-03-03T12:00:00Z"
    ev = make_events([(t, "u1", "session_start", "s1"), (t, "u1", "search", "s1"), (t, "u1", "generation", "s1"),
                      (t, "u2", "generation", "s2"), (t, "u2", "search", "s2"), (t, "u2", "session_start", "s2")])
    tt = transition_table(ev)
    assert sorted(zip(tt["source"], tt["target"])) == [("generation", "search"), ("search", "generation"),
                                                       ("search", "session_start"), ("session_start", "search")]
    assert (tt["median_s"] == 0).all()
    pv = path_variants(ev)
    assert set(pv["path"]) == {"session_start > search > generation", "generation > search > session_start"}
    f = funnel_table(ev, ["session_start", "search", "generation"], unit="session")
    assert f["entities"].tolist() == [2, 1, 1] and f["median_time_s"].tolist() == [0.0, 0.0, 0.0]
    s = funnel_table(ev, ["session_start", "search", "generation"], unit="session", mode="strict")
    assert s["entities"].tolist() == [2, 1, 1]
    st = session_table(ev)
    assert (st["duration_s"] == 0).all() and st["n_events"].tolist() == [3, 3]
    # an event completes at most one step, even with equal timestamps
    one = make_events([(t, "u1", "search", "s1")])
    assert funnel_table(one, ["search", "search"], unit="session")["entities"].tolist() == [1, 0]
    two = make_events([(t, "u1", "search", "s1"), (t, "u1", "search", "s1")])
    assert funnel_table(two, ["search", "search"], unit="session")["entities"].tolist() == [1, 1]
    assert funnel_table(two, ["search", "search"], unit="session", mode="strict")["entities"].tolist() == [1, 1]
    # the same ties, derived sessions: one session each, same order
    bare = ev.assign(session_id=pd.Series(pd.NA, index=ev.index, dtype="str"))
    assert transition_table(bare)[["source", "target", "count"]].equals(tt[["source", "target", "count"]])


def test_funnel_step_never_reached_has_a_row():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "session_start"), ("2025-01-01T10:01:00Z", "u1", "search"),
                      ("2025-01-01T10:00:00Z", "u2", "session_start")])
    for mode in ("sequential", "strict", "any"):
        f = funnel_table(ev, ["session_start", "search", "deploy", "search"], unit="user", mode=mode)
        assert f["step"].tolist() == [1, 2, 3, 4], mode
        assert f["entities"].tolist() == [2, 1, 0, 0], mode
        assert f["conversion"].tolist() == [1.0, 0.5, 0.0, 0.0], mode
        assert f["step_conversion"].iloc[2] == 0.0 and np.isnan(f["step_conversion"].iloc[3]), mode
    # nobody enters: a full table, counts 0, rates NaN
    f = funnel_table(ev, ["deploy", "search"])
    assert f["entities"].tolist() == [0, 0] and f["conversion"].isna().all()


def test_funnel_by_segment_from_entry_event():
    ev = make_events([
        ("2025-01-01T10:00:00Z", "u1", "search", "s1"), ("2025-01-01T10:01:00Z", "u1", "generation", "s1"),
        ("2025-01-01T10:00:00Z", "u2", "search", "s2"), ("2025-01-01T11:00:00Z", "u2", "search", "s3"),
        ("2025-01-01T11:01:00Z", "u2", "generation", "s3"),
    ], feature=["f1", "f1", "f2", "f1", "f1"])
    f = funnel_table(ev, ["search", "generation"], unit="session", by="feature")
    assert f.columns[0] == "feature"
    assert f.set_index(["feature", "step"])["entities"].to_dict() == {("f1", 1): 2, ("f1", 2): 2,
                                                                      ("f2", 1): 1, ("f2", 2): 0}
    f = funnel_table(ev, ["search", "generation"], unit="user", by="feature")   # u2 enters with f2
    assert f.set_index(["feature", "step"])["entities"].to_dict() == {("f1", 1): 1, ("f1", 2): 1,
                                                                      ("f2", 1): 1, ("f2", 2): 1}
    seg = pd.Series({"u1": "A", "u2": "B"})
    f = funnel_table(ev, ["search", "generation"], unit="user", by=seg)
    assert f["segment"].tolist() == ["A", "A", "B", "B"] and f["entities"].tolist() == [1, 1, 1, 1]


def test_period_without_activity_kpi_and_metric():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "generation"), ("2025-01-03T10:00:00Z", "u2", "generation")],
                     latency_ms=["100", "300"], cost_usd=["0.5", "0.25"], team=["t1", "t2"])
    k = kpi_table(ev, granularity="D")
    mid = k.loc[pd.Timestamp("2025-01-02", tz="UTC")]
    assert mid[["events", "active_users", "sessions", "accepts", "tokens_in", "cost_usd"]].tolist() == [0] * 6
    assert mid[["events_per_user", "error_rate", "latency_p50", "cost_per_accept", "stickiness"]].isna().all()
    assert k["error_rate"].iloc[0] == 0.0
    for metric, agg in (("events", "sum"), ("users", "sum"), ("sessions", "sum"), ("cost_usd", "sum"),
                        ("cost_usd", "count"), ("latency_ms", "nunique")):
        m = metric_table(ev, metric, agg=agg)
        assert m["value"].iloc[1] == 0, (metric, agg)
        assert len(m) == 3
    for agg in ("mean", "min", "max", "p50", "p95", "p99"):
        m = metric_table(ev, "latency_ms", agg=agg)
        assert np.isnan(m["value"].iloc[1]) and m["value"].iloc[0] == 100.0 and m["value"].iloc[2] == 300.0, agg
    m = metric_table(ev, "cost_usd", by="team")
    assert m["value"].tolist() == [0.5, 0.0, 0.0, 0.0, 0.0, 0.25]   # every period for every team
    assert metric_table(ev, "latency_ms", agg="p50", granularity="W")["value"].tolist() == [200.0]
    # a filter that matches nothing still gives the filled periods
    m = metric_table(ev, "events", filters={"team": "nope"})
    assert m["value"].tolist() == [0, 0, 0]


def test_derived_sessions_gap_boundary():
    ev = make_events([
        ("2025-01-01T10:00:00.000000Z", "u1", "search"),
        ("2025-01-01T10:30:00.000000Z", "u1", "generation"),   # exactly 30 min: same session
        ("2025-01-01T11:00:00.000001Z", "u1", "edit"),         # 30 min + 1 us: new session
        ("2025-01-01T10:10:00.000000Z", "u2", "search"),
        ("2025-01-01T10:40:00.000001Z", "u2", "search"),       # 30 min + 1 us: new session
        ("2025-01-01T10:20:00.000000Z", "u3", "search", "given"),  # has a session_id: kept
    ])
    out = sessionize(ev).set_index("event_id")[S.SESSION_ID]
    assert out.to_dict() == {"x0000": "u1#1", "x0001": "u1#1", "x0002": "u1#2",
                             "x0003": "u2#1", "x0004": "u2#2", "x0005": "given"}
    st = session_table(ev)
    assert st.set_index("session_id")["n_events"].to_dict() == {"u1#1": 2, "u1#2": 1, "u2#1": 1, "u2#2": 1,
                                                                "given": 1}
    assert st.loc[st["session_id"] == "u1#1", "duration_s"].iloc[0] == 1800.0
    assert st["session_id"].tolist() == ["u1#1", "u2#1", "given", "u2#2", "u1#2"]   # sorted by start
    # a gap parameter above 30 min + 1 us merges them
    longer = sessionize(ev, gap="31min").set_index("event_id")[S.SESSION_ID]
    assert longer[["x0002", "x0004"]].tolist() == ["u1#1", "u2#1"]
    assert sessionize(ev, gap="1800000001us").set_index("event_id")[S.SESSION_ID]["x0002"] == "u1#1"
    f = funnel_table(ev, ["search", "generation", "edit"], unit="session")
    assert f["entities"].tolist() == [4, 1, 0]
    assert transition_table(ev)[["source", "target", "count"]].values.tolist() == [["search", "generation", 1]]


def test_sessionize_returns_a_copy_even_when_nothing_is_missing():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "search", "s1")])
    keep = ev.copy(deep=True)
    out = sessionize(ev)
    out.loc[0, S.SESSION_ID] = "changed"
    pd.testing.assert_frame_equal(ev, keep)


@pytest.mark.parametrize("call", [
    lambda ev: funnel_table(ev, ["search", "generation"], mode="loose"),
    lambda ev: funnel_table(ev, ["search"]),
    lambda ev: funnel_table(ev, []),
    lambda ev: funnel_table(ev, ["search", []]),
    lambda ev: funnel_table(ev, ["search", "generation"], unit="team"),
    lambda ev: funnel_table(ev, ["search", "generation"], window="-1D"),
    lambda ev: funnel_table(ev, ["search", "generation"], by="nope"),
    lambda ev: kpi_table(ev, granularity="Q"),
    lambda ev: kpi_table(ev, granularity="H"),
    lambda ev: metric_table(ev, "cost_usd", granularity="Y"),
    lambda ev: metric_table(ev, "cost_usd", by="nope"),
    lambda ev: metric_table(ev, "cost_usd", by=["team", "nope"]),
    lambda ev: metric_table(ev, "cost_usd", filters={"nope": "x"}),
    lambda ev: metric_table(ev, "nope"),
    lambda ev: metric_table(ev, "cost_usd", agg="median"),
    lambda ev: retention_matrix(ev, cohort="D"),
    lambda ev: retention_matrix(ev, mode="later"),
    lambda ev: retention_matrix(ev, cohort_type="cumulative"),
    lambda ev: path_variants(ev, top=0),
    lambda ev: sessionize(ev, gap="soon"),
    lambda ev: session_table(ev, gap="0min"),
    lambda ev: bottleneck_table(ev, by=("nope",)),
    lambda ev: lifecycle_table(ev, granularity="X"),
])
def test_invalid_arguments_raise_workbench_error(call):
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "search"), ("2025-01-01T10:01:00Z", "u1", "generation")])
    with pytest.raises(WorkbenchError):
        call(ev)


# ============================================================================================
# 5. inputs are never modified
ALL_CALLS = {
    "kpi_table": lambda ev: kpi_table(ev, granularity="W"),
    "active_users": active_users,
    "metric_table": lambda ev: metric_table(ev, "latency_ms", agg="p95", by=["team", "model"],
                                            filters={"event_type": ["generation", "error"]}),
    "funnel_sequential": lambda ev: funnel_table(ev, WORKFLOW, unit="session", by="team"),
    "funnel_strict": lambda ev: funnel_table(ev, WORKFLOW[:3], unit="user", mode="strict"),
    "funnel_any": lambda ev: funnel_table(ev, WORKFLOW[:3], unit="session", mode="any"),
    "sessionize": sessionize,
    "session_table": session_table,
    "transition_table": transition_table,
    "path_variants": path_variants,
    "rework_table": rework_table,
    "bottleneck_table": lambda ev: bottleneck_table(ev, by=("event_type", "team"), period="W"),
    "retention_matrix": lambda ev: retention_matrix(ev, mode="on_or_after", cohort_type="recurring"),
    "lifecycle_table": lifecycle_table,
    "activity_histogram": activity_histogram,
    "satisfaction_vs_performance": satisfaction_vs_performance,
    "period_start": lambda ev: period_start(ev[S.TS], "M"),
}


@pytest.fixture(scope="module")
def partly_sessionless(ev50):
    """The 50k frame with a non-range index and every third session_id missing."""
    ev = ev50.iloc[:20_000].copy()
    ev.loc[ev.index % 3 == 0, S.SESSION_ID] = None
    ev.index = ev.index * 2 + 7
    return ev


@pytest.mark.parametrize("name", list(ALL_CALLS))
def test_inputs_are_not_modified(partly_sessionless, name):
    ev = partly_sessionless
    before = ev.copy(deep=True)
    out = ALL_CALLS[name](ev)
    assert out is not ev
    pd.testing.assert_frame_equal(ev, before, check_exact=True)
    assert ev[S.SESSION_ID].isna().sum() == before[S.SESSION_ID].isna().sum() > 0


@pytest.mark.parametrize("name", list(ALL_CALLS))
def test_results_do_not_depend_on_the_index(partly_sessionless, name):
    """A frame with a non-range index gives the same result as the same rows with a RangeIndex."""
    got = ALL_CALLS[name](partly_sessionless)
    want = ALL_CALLS[name](partly_sessionless.reset_index(drop=True))
    if name == "sessionize":
        assert got.index.equals(partly_sessionless.index)
        got = got.reset_index(drop=True)
    if isinstance(got, pd.Series):
        got, want = got.reset_index(drop=True), want.reset_index(drop=True)
        pd.testing.assert_series_equal(got, want)
    else:
        pd.testing.assert_frame_equal(got, want)


def test_kpi_sessions_are_derived_when_ids_are_missing():
    ev = synthetic_events(20_000, days=28, end="2025-06-30", seed=2).events
    given = kpi_table(ev, granularity="W")["sessions"]
    derived = kpi_table(ev.assign(session_id=pd.Series(np.nan, index=ev.index, dtype="str")), granularity="W")["sessions"]
    # the planted sessions are separated by > 45 min, so a 30-min gap recovers them exactly
    pd.testing.assert_series_equal(given, derived)


def test_bottlenecks_without_any_latency():
    ev = make_events([("2025-01-05T10:00:00Z", "u1", "session_start", "s1"),
                      ("2025-01-05T10:01:00Z", "u1", "edit", "s1")] * 15)
    ev = ev.assign(event_id=[f"e{i}" for i in range(len(ev))])
    out = bottleneck_table(ev, min_events=1)
    assert set(out["kind"]) == {"transition"}


@pytest.mark.parametrize("fn", [active_users, lifecycle_table, activity_histogram, retention_matrix])
def test_empty_frames_give_empty_tables(fn):
    ev = synthetic_events(5_000, days=28, end="2025-06-30", seed=0).events.iloc[:0]
    out = fn(ev)
    assert isinstance(out, pd.DataFrame) and (out.empty or int(out["users"].sum()) == 0)


def test_bottleneck_keeps_events_without_a_model():
    ev = synthetic_events(30_000, days=28, end="2025-06-30", seed=0).events
    b = bottleneck_table(ev, by=("event_type", "model"), min_events=1)
    steps = b[b["kind"] == "step"]
    assert any(name.startswith("search / (none)") for name in steps["name"])
    n_lat = int(ev["latency_ms"].notna().sum())
    assert int(steps["events"].sum()) == n_lat
