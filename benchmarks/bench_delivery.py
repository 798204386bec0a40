"""Delivery (issue 23): DORA metrics against SQL, coverage of the planted adoption effect, speed.

    python benchmarks/bench_delivery.py [--seeds 20] [--json]

* **DORA against SQL**: the sample's delivery events (``synthetic_delivery(seed=0)``) are written
  to a SQLite store as ``workbench sample`` does; ``dora_metrics`` (team x week) on what
  ``read_delivery`` reads is compared with an independent implementation of the same
  definitions in DuckDB SQL over the stored tables as text (``dora_matches_sql``: every
  team-week's deployments, median lead time, change failure rate and median time to restore equal
  to 1e-9 relative).
* **Planted effect**: generator seeds 0..``--seeds``-1 with lead time -15 % after adoption
  (staggered dates drawn per seed, 6 adopting teams, 4 never): ``effect_coverage`` is the share
  whose 95 % interval of the lead-time effect covers -15 %; the same seeds with no effect give
  ``null_effect_false_positive_rate`` (lead-time effect significant at 5 %). The other metrics'
  rates, with no planted effect in either run, are reported too.
* **Speed**: ``seconds`` reads the store and computes the four keys per team and week, the
  tiers and the adoption effect (all four metrics); the reference is the DuckDB SQL alone.

JSON keys: ``dora_matches_sql``, ``effect_coverage``, ``null_effect_false_positive_rate``,
``seconds`` (and ``sql_seconds``, ``power``, ``other_metrics_false_positive_rate``).
Targets: dora_matches_sql true, effect_coverage >= 0.9, null_effect_false_positive_rate <= 0.1.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import Report, measured, parser

from analytics_lib.analysis.delivery import adoption_effect, dora_metrics, dora_summary
from analytics_lib.data.delivery import TABLES, read_delivery, write_delivery
from analytics_lib.data.synthetic.delivery import synthetic_delivery

SQL = """
WITH c AS (SELECT change_id, CAST(committed_at AS TIMESTAMPTZ) AS committed_at FROM changes),
d AS (SELECT deploy_id, team, CAST(deployed_at AS TIMESTAMPTZ) AS deployed_at FROM deployments
      WHERE status = 'success' AND environment = 'production'),
first_ship AS (
  SELECT l.change_id, arg_min(d.deploy_id, (d.deployed_at, d.deploy_id)) AS deploy_id, min(d.deployed_at) AS deployed_at
  FROM links l JOIN d USING (deploy_id) GROUP BY l.change_id),
lt AS (SELECT d.team, date_trunc('week', f.deployed_at AT TIME ZONE 'UTC') AS period,
              epoch(f.deployed_at - c.committed_at) / 3600.0 AS hours
       FROM first_ship f JOIN c USING (change_id) JOIN d ON d.deploy_id = f.deploy_id),
dep AS (SELECT team, date_trunc('week', deployed_at AT TIME ZONE 'UTC') AS period, count(*) AS deployments,
               count(*) FILTER (WHERE deploy_id IN (SELECT deploy_id FROM incidents)) AS failed
        FROM d GROUP BY ALL),
ttr AS (SELECT team, date_trunc('week', CAST(opened_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS period,
               median(epoch(CAST(resolved_at AS TIMESTAMPTZ) - CAST(opened_at AS TIMESTAMPTZ)) / 3600.0) AS ttr
        FROM incidents WHERE resolved_at IS NOT NULL GROUP BY ALL)
SELECT coalesce(dep.team, ttr.team) AS team, coalesce(dep.period, ttr.period) AS period,
       coalesce(dep.deployments, 0) AS deployments,
       (SELECT median(hours) FROM lt WHERE lt.team = dep.team AND lt.period = dep.period) AS lead_time_hours,
       dep.failed / dep.deployments AS change_failure_rate, ttr.ttr AS time_to_restore_hours
FROM dep FULL JOIN ttr ON dep.team = ttr.team AND dep.period = ttr.period
"""
COLUMNS = ["deployments", "lead_time_hours", "change_failure_rate", "time_to_restore_hours"]


def sql_metrics(url: str) -> pd.DataFrame:
    import duckdb
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        frames = {k: pd.read_sql_table(TABLES[k], conn) for k in ("changes", "deployments", "links", "incidents")}
    engine.dispose()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for k, f in frames.items():
        con.register(k, f)
    out = con.execute(SQL).df()
    out["period"] = pd.to_datetime(out["period"]).dt.tz_localize("UTC")
    return out


def matches(ours: pd.DataFrame, sql: pd.DataFrame) -> tuple[bool, int]:
    o = ours[ours["deployments"] > 0].set_index(["team", "period"])[COLUMNS].sort_index()
    s = sql[sql["deployments"] > 0].set_index(["team", "period"])[COLUMNS].sort_index()
    # ours counts an incident in the week it opened, SQL too: compare the weeks with deployments
    if not o.index.equals(s.index):
        return False, 0
    ok = all(np.allclose(o[c].to_numpy(float), s[c].to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True)
             for c in COLUMNS)
    return bool(ok), int(len(o))


def seeds_run(seeds: int, effect: float) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        s = synthetic_delivery(seed=seed, effects={"lead_time": effect})
        e = adoption_effect(s.data).effects.set_index("metric")
        for m in e.index:
            rows.append({"seed": seed, "metric": m, "covered": e.loc[m, "relative_low"] <= s.truth["effects"][m]
                         <= e.loc[m, "relative_high"], "significant": e.loc[m, "p_value"] < 0.05})
    return pd.DataFrame(rows)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    args = p.parse_args()
    r = Report("Delivery: DORA against SQL, planted adoption effect, speed")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'delivery.db'}"
        write_delivery(synthetic_delivery(seed=0).data, url)
        with measured() as ref:
            sql = sql_metrics(url)
        with measured() as ours:
            data = read_delivery(url)
            weekly = dora_metrics(data, granularity="W")
            dora_summary(data)
            adoption_effect(data)
    same, cells = matches(weekly, sql)
    r.add(f"four keys equal to DuckDB SQL ({cells} team-weeks)", float(same), None, None, "1 (true)")
    planted = seeds_run(args.seeds, -0.15)
    null = seeds_run(args.seeds, 0.0)
    lt, lt0 = planted[planted["metric"] == "lead_time"], null[null["metric"] == "lead_time"]
    coverage, power, fp = float(lt["covered"].mean()), float(lt["significant"].mean()), float(lt0["significant"].mean())
    others = null[null["metric"] != "lead_time"]
    r.add(f"lead-time effect -15 % covered ({args.seeds} seeds)", coverage, None, None, ">= 0.9")
    r.add("lead-time effect found (power)", power, None, None, "")
    r.add(f"no effect, found significant ({args.seeds} seeds)", fp, None, None, "<= 0.1")
    r.add("other metrics (no effect), found significant", float(others["significant"].mean()), None, None, "~0.05")
    r.add("seconds: read, four keys, tiers, effect (ref: the SQL alone)", ours.seconds, ref.seconds,
          ours.seconds / ref.seconds, "")
    r.figures.update({"dora_matches_sql": same, "effect_coverage": round(coverage, 4),
                      "null_effect_false_positive_rate": round(fp, 4), "seconds": round(ours.seconds, 3),
                      "sql_seconds": round(ref.seconds, 3), "power": round(power, 4),
                      "other_metrics_false_positive_rate": round(float(others["significant"].mean()), 4)})
    r.emit(args.json)


if __name__ == "__main__":
    main()
