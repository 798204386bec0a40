"""Data gates: the spec's ``gates:`` section validated at load, the aggregates pushed to SQL (the same
counts as pandas on the same events, whole-day windows from the per-day cache and windows that cut
days counted exactly), and each gate's verdict at its edges."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import yaml

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import time_window
from analytics_lib.jobs.gates import (
    GateSpec, blocked_reason, check_gates, data_stats, gates_text, parse_gates)
from analytics_lib.jobs.spec import load_job_spec, load_job_specs

UTC = timezone.utc


@pytest.fixture(scope="module")
def gap_store(tmp_path_factory):
    """8,000 events over the 28 days to 2025-06-30 with no event on 2025-06-20 and team-c gone
    after 2025-06-25; 37 quarantined rows. Returns (url, the stored events)."""
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    ev = validate_events(synthetic_events(8_000, days=28, seed=5, end="2025-07-01", malformed_share=0.005).events)
    clean = ev.events
    keep = (clean["ts"].dt.strftime("%Y-%m-%d") != "2025-06-20") & ~(
        (clean["team"] == "team-c") & (clean["ts"] >= pd.Timestamp("2025-06-26", tz="UTC")))
    ev = dataclasses.replace(ev, events=clean[keep].reset_index(drop=True))
    url = f"sqlite:///{tmp_path_factory.mktemp('gates') / 'store.db'}"
    write_events(ev, url)
    return url, ev.events, len(ev.quarantine)


def test_the_counts_are_the_databases_and_match_pandas(gap_store):
    url, events, quarantined = gap_store
    for start, end, team in [("2025-06-15", "2025-06-28", None), ("2025-06-15", "2025-06-28", ["team-a"]),
                             ("2025-06-15 06:30", "2025-06-28 12:00", None), (None, None, ["team-c", "team-b"])]:
        w = time_window(start, end) if start else None
        s = data_stats(url, window=w, team=team)
        sel = events if w is None else events[w.mask(events["ts"])]
        if team:
            sel = sel[sel["team"].isin(team)]
        assert s.rows == len(sel), (start, end, team)
        assert s.window_min == sel["ts"].min().to_pydatetime() and s.window_max == sel["ts"].max().to_pydatetime()
        newest = events[events["team"].isin(team)] if team else events
        assert s.latest == newest["ts"].max().to_pydatetime()
        assert s.events == len(events) and s.quarantined == quarantined > 0
        per_day = sel.groupby(sel["ts"].dt.strftime("%Y-%m-%d")).size()
        ours = pd.Series(s.per_day_team).groupby(level=0).sum()
        pd.testing.assert_series_equal(ours.sort_index(), per_day.sort_index(), check_names=False)


def test_each_gate_passes_and_fails_at_its_edge(gap_store):
    url, events, quarantined = gap_store
    w = time_window("2025-06-15", "2025-06-29")
    s = data_stats(url, window=w)
    newest = events["ts"].max().to_pydatetime()
    g = GateSpec(max_age=timedelta(hours=12))
    assert check_gates(g, s, at=newest + timedelta(hours=12))[0].passed
    late = check_gates(g, s, at=newest + timedelta(hours=12, minutes=1))[0]
    assert not late.passed and "12.0 h old" in late.message and "check the ingest" in late.message
    assert check_gates(GateSpec(min_rows=s.rows), s, at=newest)[0].passed
    assert not check_gates(GateSpec(min_rows=s.rows + 1), s, at=newest)[0].passed
    share = quarantined / (len(events) + quarantined)
    assert check_gates(GateSpec(max_quarantine_share=round(share, 6) + 1e-6), s, at=newest)[0].passed
    q = check_gates(GateSpec(max_quarantine_share=share / 2), s, at=newest)[0]
    assert not q.passed and "workbench quarantine" in q.message
    # team-c has events in the window (before the 26th); a window after that has none of them
    assert check_gates(GateSpec(required_teams=("team-a", "team-c")), s, at=newest)[0].passed
    later = data_stats(url, window=time_window("2025-06-27", "2025-06-29"))
    t = check_gates(GateSpec(required_teams=("team-a", "team-c")), later, at=newest)[0]
    assert not t.passed and "team-c" in t.message and "team-a" not in t.message
    # a team's own run is judged on its own team only
    mine = data_stats(url, window=time_window("2025-06-27", "2025-06-29"), team=["team-a"])
    assert check_gates(GateSpec(required_teams=("team-a", "team-c")), mine, at=newest)[0].passed
    # the missing 20th is a gap; a window after it has none; team-c's stop is a gap of its own
    gap = check_gates(GateSpec(no_empty_days=True), s, at=newest, window=w)[0]
    assert not gap.passed and "2025-06-20" in gap.message and gap.observed == "1 empty of 15 days"
    after = time_window("2025-06-21", "2025-06-29")
    assert check_gates(GateSpec(no_empty_days=True), data_stats(url, window=after), at=newest, window=after)[0].passed
    c = data_stats(url, window=after, team=["team-c"])
    stop = check_gates(GateSpec(no_empty_days=True), c, at=newest, window=after)[0]
    assert not stop.passed and "2025-06-26" in stop.message and stop.observed == "4 empty of 9 days"


def test_the_row_count_gate_follows_the_history():
    from analytics_lib.jobs.gates import DataStats

    s = DataStats(latest=None, per_day_team={("2025-01-01", "a"): 1000})
    g = parse_gates({"row_count": {"runs": 5, "k": 3}}, where="x: key 'gates'")
    [r] = check_gates(g, s, at=datetime(2025, 1, 2, tzinfo=UTC), history=[990, 1010])
    assert r.passed and "not judged: 2 earlier successful runs" in r.message
    [r] = check_gates(g, s, at=datetime(2025, 1, 2, tzinfo=UTC), history=[990, 1010, 1000, 995, 1005, 10])
    assert r.passed  # the 6th (oldest) run is beyond runs=5
    [r] = check_gates(g, DataStats(latest=None, per_day_team={("d", "a"): 500}), at=datetime.now(UTC),
                      history=[990, 1010, 1000, 995, 1005])
    assert not r.passed and "a partial load or a duplicated one" in r.message
    # counts that never varied: a floor of 5 % of the median, not a band of zero width
    [r] = check_gates(g, DataStats(latest=None, per_day_team={("d", "a"): 1040}), at=datetime.now(UTC),
                      history=[1000] * 5)
    assert r.passed and "950 .. 1,050" in r.limit
    assert blocked_reason([r]) is None and gates_text([r]).startswith("all 1 passed")


@pytest.mark.parametrize("gates, message", [
    ({"max_ages": "1d"}, "key 'gates.max_ages': unknown gate (did you mean 'max_age'?)"),
    ({"max_age": "soon"}, "key 'gates.max_age': 'soon' is not a duration: write e.g. 90m, 36h, 2d or 1w"),
    ({"max_quarantine_share": 2}, "key 'gates.max_quarantine_share': 2 must be a share between 0 and 1"),
    ({"row_count": {"kk": 3}}, "key 'gates.row_count': {'kk': 3}: true, or a mapping of runs, k, min_band"),
    ({"row_count": {"runs": 0}}, "key 'gates.row_count.runs': 0 must be a whole number >= 1"),
    ({"required_teams": "team-a"}, "key 'gates.required_teams': 'team-a' must be a list of team names"),
    ({"no_empty_days": "yes"}, "key 'gates.no_empty_days': 'yes' must be true or false"),
    ("36h", "key 'gates': a mapping of gates"),
])
def test_a_bad_gate_is_refused_when_the_spec_loads(tmp_path, gates, message):
    from conftest import CORPUS

    path = tmp_path / "j.yaml"
    path.write_text(yaml.safe_dump({"notebook": str(CORPUS / "notebooks" / "gated.ipynb"), "schedule": "0 6 * * *",
                                    "gates": gates}))
    with pytest.raises(WorkbenchError) as err:
        load_job_spec(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_the_shipped_daily_and_weekly_jobs_have_gates():
    specs = {s.name: s for s in load_job_specs()}
    for name in ("daily-workflow", "daily-dashboard-marts", "weekly-forecast", "weekly-team-workflow",
                 "weekly-user-predictions"):
        assert specs[name].gates.max_age is not None, name
    assert specs["weekly-team-workflow"].gates.required_teams == ("team-a", "team-b", "team-c")
    assert specs["daily-workflow"].summary()["gates"]["max_age"] == "36h"


def test_a_file_source_or_a_store_without_events_is_a_clear_error(tmp_path):
    with pytest.raises(WorkbenchError, match="gates need a SQL store as the source"):
        data_stats(str(tmp_path / "events.csv"))
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(WorkbenchError, match="the gates cannot read the events table of sqlite:///"):
        data_stats(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.postgres
def test_postgresql_gives_the_same_figures_as_sqlite(pg_url, gap_store):
    """The gates' SQL on a real PostgreSQL server: per-day counts in UTC, the newest event per
    team, the quarantine's size, all equal to the SQLite store's."""
    import os

    from pgserver import fresh_database

    from analytics_lib import validate_events, write_events

    url, events, quarantined = gap_store
    pg = fresh_database(pg_url, f"gates_{os.getpid()}")
    res = validate_events(events)
    write_events(res, pg)
    for w, team in [(time_window("2025-06-15", "2025-06-28"), None), (time_window("2025-06-21", "2025-06-29"),
                                                                      ["team-c"]),
                    (time_window("2025-06-15 06:30", "2025-06-28 12:00"), ["team-a", "team-b"]), (None, None)]:
        a, b = data_stats(url, window=w, team=team), data_stats(pg, window=w, team=team)
        assert (a.rows, a.latest, a.window_min, a.window_max, a.per_day_team) == \
            (b.rows, b.latest, b.window_min, b.window_max, b.per_day_team), (w, team)
        assert b.events == len(events) and b.quarantined == 0
