"""``kpi_table``, ``active_users`` and ``metric_table`` against independent SQL references on DuckDB,
computed from the docstring definitions on a generated ~50k-event frame with one week cut out and
on small handmade frames; periods without activity, sessions derived when ids are missing, and the
generator's planted cache hit rates recovered on the 1M sample (slow)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import GAP_WEEK, TOL, UNIT, duck, make_events, sql_list, utc

from analytics_lib import active_users, kpi_table, metric_table
from analytics_lib.analysis.workflow.kpis import RESPONSE_TYPES
from analytics_lib.core import schema as S
from analytics_lib.data.synthetic.events import synthetic_events


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


def test_no_latency_anywhere_gives_nan_percentiles():
    ev = make_events([("2025-01-01T10:00:00Z", "u1", "session_start"), ("2025-01-03T10:00:00Z", "u1", "edit")])
    k = kpi_table(ev, granularity="D")
    assert len(k) == 3 and k[["latency_p50", "latency_p95", "latency_p99"]].isna().all().all()
    assert k["events"].tolist() == [1, 0, 1]


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


def test_kpi_sessions_are_derived_when_ids_are_missing():
    ev = synthetic_events(20_000, days=28, end="2025-06-30", seed=2).events
    given = kpi_table(ev, granularity="W")["sessions"]
    derived = kpi_table(ev.assign(session_id=pd.Series(np.nan, index=ev.index, dtype="str")), granularity="W")["sessions"]
    # the planted sessions are separated by > 45 min, so a 30-min gap recovers them exactly
    pd.testing.assert_series_equal(given, derived)
