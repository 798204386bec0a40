"""Period coverage: which periods a window, the data's first and last day or the clock cut, and by how much."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics_lib.core.timewindow import TimeWindow, partial_label, period_coverage, time_window


def _weeks(*starts: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(starts), tz="UTC")


def test_whole_periods_are_covered_without_bounds():
    assert period_coverage(_weeks("2026-11-02", "2026-11-09"), "W").tolist() == [1.0, 1.0]


def test_window_data_and_clock_each_cut_periods():
    weeks = _weeks("2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30")
    # the window starts on a Thursday; the data starts on the Saturday after (its day counts whole)
    got = period_coverage(weeks, "W", window=time_window("2026-11-05", None), first="2026-11-07 13:00")
    assert got.tolist() == pytest.approx([2 / 7, 1, 1, 1, 1])
    # the last event on Wednesday 23 Nov: that day counts whole, the rest of the week and the next are empty
    got = period_coverage(weeks, "W", last="2026-11-25 08:00")
    assert got.tolist() == pytest.approx([1, 1, 1, 3 / 7, 0])
    # the clock: Monday 30 Nov at 06:00 is a quarter of a day into its week
    got = period_coverage(weeks, "W", as_of="2026-11-30 06:00", last="2026-12-30")
    assert got.tolist() == pytest.approx([1, 1, 1, 1, 0.25 / 7])
    # the tightest bound wins
    got = period_coverage(weeks, "W", window=TimeWindow(None, pd.Timestamp("2026-11-20", tz="UTC")),
                          last="2026-11-18", as_of="2026-11-19")
    assert got.tolist() == pytest.approx([1, 1, 3 / 7, 0, 0])


def test_months_use_their_own_length_and_naive_starts_are_utc():
    months = pd.DatetimeIndex(["2026-02-01", "2026-03-01"])  # naive: read as UTC
    got = period_coverage(months, "M", first="2026-02-15", last="2026-03-10 12:00")
    assert got.tolist() == pytest.approx([14 / 28, 10 / 31])
    assert got.index.equals(months) and got.name == "coverage"
    assert partial_label(got.iloc[0], months[0], "M") == "partial: 14 of 28 days"
    assert partial_label(got.iloc[1], months[1], "M") == "partial: 10 of 31 days"


def test_days_and_labels():
    days = pd.DatetimeIndex(["2026-12-06", "2026-12-07"], tz="UTC")
    got = period_coverage(days, "D", as_of="2026-12-07 18:00")
    assert got.tolist() == pytest.approx([1, 0.75])
    assert partial_label(got.iloc[1], days[1], "D") == "partial: 0.8 of 1 day"
    assert partial_label(1.0, days[0], "D") == "" and partial_label(float("nan"), days[0], "D") == ""
    assert period_coverage(pd.DatetimeIndex([], tz="UTC"), "W").empty


def test_missing_data_bounds_are_no_bounds():
    weeks = _weeks("2026-11-02", "2026-11-09")
    window = time_window("2026-11-04 06:00", None)
    assert period_coverage(weeks, "W", window=window, first=pd.NaT, last=None).tolist() == \
        pytest.approx([(7 - 2.25) / 7, 1])
