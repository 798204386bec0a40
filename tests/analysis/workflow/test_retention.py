"""``retention_matrix`` against an SQL reference on DuckDB (weekly and monthly cohorts, both modes,
first-time and recurring cohorts), and empty frames giving empty tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import GAP_WEEK, TOL, UNIT, utc

from analytics_lib import active_users, activity_histogram, lifecycle_table, retention_matrix
from analytics_lib.data.synthetic.events import synthetic_events


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
    got = retention_matrix(ev50, granularity=cohort, periods=periods, mode=mode, cohort_type=cohort_type)
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


@pytest.mark.parametrize("fn", [active_users, lifecycle_table, activity_histogram, retention_matrix])
def test_empty_frames_give_empty_tables(fn):
    ev = synthetic_events(5_000, days=28, end="2025-06-30", seed=0).events.iloc[:0]
    out = fn(ev)
    assert isinstance(out, pd.DataFrame) and (out.empty or int(out["users"].sum()) == 0)
