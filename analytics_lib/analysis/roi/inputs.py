"""What the events say for the ROI: measures per group and the monthly inputs (``roi_inputs``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_lib.analysis.roi.assumptions import LLM_TYPES, MAX_MONTHS, _Z80
from analytics_lib.analysis.workflow.sessions import ACCEPT_TYPES, session_table
from analytics_lib.core import schema as S
from analytics_lib.core.checks import is_whole
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import DAY_US, check_granularity, epoch_micros, period_start


def _floats(events: pd.DataFrame, col: str) -> np.ndarray:
    if col not in events.columns:
        return np.zeros(len(events))
    return pd.to_numeric(events[col], errors="raise").to_numpy(dtype="float64", na_value=np.nan)


def _check_events(events: pd.DataFrame) -> None:
    if not isinstance(events, pd.DataFrame):
        raise WorkbenchError(f"events must be a DataFrame of validated events, got {type(events).__name__}")
    need = [S.TS, S.USER_ID, S.EVENT_TYPE, S.MANUAL_MINUTES, S.COST_USD]
    missing = [c for c in need if c not in events.columns]
    if missing:
        raise WorkbenchError(
            f"ROI needs the columns {', '.join(missing)}: manual_minutes (effort each event replaced) and "
            "cost_usd (direct cost) come from the event contract; map your columns onto them when loading")
    if events.empty:
        raise WorkbenchError("there are no events: the ROI needs at least one day of usage")
    if not isinstance(events[S.TS].dtype, pd.DatetimeTZDtype):
        raise WorkbenchError("events.ts must be timezone-aware UTC timestamps: load the events with load_events "
                             "or check them with validate_events first")
    for col in (S.MANUAL_MINUTES, S.COST_USD):
        try:
            v = _floats(events, col)
        except (ValueError, TypeError) as exc:
            raise WorkbenchError(f"events.{col} holds values that are not numbers: validate the events first "
                                 "(validate_events quarantines such rows)") from exc
        if (v < 0).any():
            raise WorkbenchError(f"events.{col} has {int((v < 0).sum())} negative values: validate the events "
                                 "first (validate_events quarantines such rows)")


@dataclass(frozen=True)
class _Prepared:
    """Event- and session-level arrays the measurements aggregate (built once per call)."""

    ev: pd.DataFrame     # day, team, feature, user (code), manual, llm, metered, hit, avoided, accept
    sess: pd.DataFrame   # day (of the session start), team, feature (of its first event with one), minutes
    first_day: int       # days since the epoch
    last_day: int


def _group_values(values: pd.Series | None, n: int) -> pd.Categorical:
    """A team/feature column as a categorical whose missing values are the group ``"(none)"``."""
    if values is None:
        return pd.Categorical(np.full(n, "(none)", dtype=object))
    cat = values.astype("category")
    if cat.isna().any():
        cat = cat.cat.add_categories(["(none)"]).fillna("(none)") if "(none)" not in cat.cat.categories \
            else cat.fillna("(none)")
    return pd.Categorical(cat.cat.remove_unused_categories())


def _prepare(events: pd.DataFrame, gap: str) -> _Prepared:
    _check_events(events)
    absent = [c for c in (S.SESSION_ID, S.TEAM, S.FEATURE, S.MODEL) if c not in events.columns]
    if absent:  # optional contract columns (a validated frame has them all): absent means unknown
        events = events.assign(**{c: pd.Series(pd.NA, index=events.index, dtype="str" if c == S.SESSION_ID
                                               else "category") for c in absent})
    ts = events[S.TS]
    day = epoch_micros(ts) // DAY_US
    et = events[S.EVENT_TYPE]
    is_llm = et.isin(LLM_TYPES).to_numpy()
    is_gen = et.isin(["generation"]).to_numpy()
    raw_cost = _floats(events, S.COST_USD)
    cost = np.nan_to_num(raw_cost)
    manual = np.nan_to_num(_floats(events, S.MANUAL_MINUTES))
    hit = (events[S.CACHE_HIT].to_numpy(dtype=bool, na_value=False) if S.CACHE_HIT in events.columns
           else np.zeros(len(events), dtype=bool))
    # the data's price of a generation: mean cost of generation events per calendar month (UTC)
    cal = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    priced = is_gen & ~np.isnan(raw_cost)
    price = pd.Series(cost[priced]).groupby(cal[priced]).mean()
    overall = float(cost[priced].mean()) if priced.any() else 0.0
    per_event_price = price.reindex(cal).fillna(overall).to_numpy()
    user_codes, user_names = pd.factorize(events[S.USER_ID].astype("str"))
    ev = pd.DataFrame({
        "day": day, "team": _group_values(events.get(S.TEAM), len(events)),
        "feature": _group_values(events.get(S.FEATURE), len(events)),
        "user": user_codes, "manual": manual, "llm": np.where(is_llm, cost, 0.0),
        "metered": np.where(is_llm, 0.0, cost), "hit": hit, "avoided": np.where(hit, per_event_price, 0.0),
        "accept": et.isin(ACCEPT_TYPES).to_numpy(),
    })
    st = session_table(events, gap=gap)
    sess = pd.DataFrame({
        "day": epoch_micros(st["start"]) // DAY_US,
        "team": _group_values(st[S.TEAM], len(st)), "feature": _group_values(st[S.FEATURE], len(st)),
        "minutes": st["duration_s"].to_numpy(dtype="float64") / 60.0,
    })
    for col in ("team", "feature"):  # one category list for events and sessions, so their groups line up
        cats = sorted(set(ev[col].cat.categories) | set(sess[col].cat.categories))
        ev[col] = ev[col].cat.set_categories(cats)
        sess[col] = sess[col].cat.set_categories(cats)
    return _Prepared(ev, sess, int(day.min()), int(day.max()))


_MEASURE_COLUMNS = ["sessions", "active_users", "accepted", "manual_minutes", "session_minutes", "time_saved_minutes",
                    "cache_hits", "avoided_llm_usd", "llm_usd", "metered_usd", "spend_usd"]


def _aggregate(p: _Prepared, ev_keys: list, sess_keys: list, names: list[str]) -> pd.DataFrame:
    """Sum the measures over keys (arrays aligned with ``p.ev`` and ``p.sess``); the key combinations seen."""
    e = pd.DataFrame(dict(zip(names, ev_keys)))
    for c in ("manual", "llm", "metered", "hit", "avoided", "accept", "user"):
        e[c] = p.ev[c].to_numpy()
    g = e.groupby(names, sort=True, observed=True)
    out = g[["manual", "llm", "metered", "avoided", "hit", "accept"]].sum()
    out["active_users"] = g["user"].nunique()
    s = pd.DataFrame(dict(zip(names, sess_keys)))
    s["minutes"] = p.sess["minutes"].to_numpy()
    sg = s.groupby(names, sort=True, observed=True)["minutes"].agg(["size", "sum"])
    out = out.join(sg, how="outer").fillna(0.0)
    res = pd.DataFrame({
        "sessions": out["size"].astype("int64"), "active_users": out["active_users"].astype("int64"),
        "accepted": out["accept"].astype("int64"), "manual_minutes": out["manual"],
        "session_minutes": out["sum"], "time_saved_minutes": out["manual"] - out["sum"],
        "cache_hits": out["hit"].astype("int64"), "avoided_llm_usd": out["avoided"],
        "llm_usd": out["llm"], "metered_usd": out["metered"], "spend_usd": out["llm"] + out["metered"],
    }, index=out.index)
    return res.reset_index()


def roi_measures(events: pd.DataFrame, *, by: str | None = None, granularity: str | None = "M",
                 gap: str = "30min") -> pd.DataFrame:
    """What the assistant measurably saved and cost, per period and optionally per team or feature.

    Definitions: ``manual_minutes`` sums the events' ``manual_minutes`` (effort the accepted
    work replaced; set on ``accept``/``export`` events); ``session_minutes`` sums session
    durations (last minus first event, all sessions, by the session's start and its first
    team/feature, see :func:`~analytics_lib.session_table`); ``time_saved_minutes`` is their
    difference. ``cache_hits`` counts events with ``cache_hit`` true; ``avoided_llm_usd``
    prices each hit at the mean ``cost_usd`` of ``generation`` events in its calendar month.
    ``llm_usd`` is the ``cost_usd`` of ``generation`` and ``error`` events, ``metered_usd``
    that of all other events, ``spend_usd`` their sum. ``accepted`` counts ``accept`` and
    ``export`` events. Missing team or feature values form the group ``"(none)"``.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``); ``manual_minutes`` and ``cost_usd`` are required.
    by : {"team", "feature"}, optional
        Split by this column.
    granularity : {"D", "W", "M"} or None
        UTC periods (``W`` starts on Monday, ``M`` is the calendar month); None gives one row
        (per group) for the whole window.
    gap : str
        Inactivity that ends a derived session (when ``session_id`` is absent).

    Returns
    -------
    DataFrame
        ``[period], [by], sessions, active_users, accepted, manual_minutes, session_minutes,
        time_saved_minutes, cache_hits, avoided_llm_usd, llm_usd, metered_usd, spend_usd``;
        only periods and groups that have events or sessions.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> data = synthetic_events(3_000, days=28, end="2025-06-30", seed=0)
    >>> m = roi_measures(data.events, granularity=None)
    >>> bool(abs(m["manual_minutes"].iloc[0] - data.truth.total_manual_minutes_accepted) < 1e-6)
    True
    """
    if by not in (None, S.TEAM, S.FEATURE):
        raise WorkbenchError(f"by={by!r} is not supported: use None, 'team' or 'feature'")
    p = _prepare(events, gap)
    ev_keys, sess_keys, names = [], [], []
    if granularity is not None:
        g = check_granularity(granularity)
        ev_keys.append(_period_codes(p.ev["day"].to_numpy(), g))
        sess_keys.append(_period_codes(p.sess["day"].to_numpy(), g))
        names.append("period")
    if by is not None:
        ev_keys.append(p.ev[by].array)
        sess_keys.append(p.sess[by].array)
        names.append(by)
    if not names:
        ev_keys, sess_keys = [np.zeros(len(p.ev), dtype=np.int8)], [np.zeros(len(p.sess), dtype=np.int8)]
        names = ["_all"]
    out = _aggregate(p, ev_keys, sess_keys, names)
    if "_all" in out.columns:
        out = out.drop(columns="_all")
    if by is not None:
        out[by] = out[by].astype("str")
    return out


def _period_codes(day: np.ndarray, granularity: str) -> pd.DatetimeIndex:
    ts = pd.Series(pd.to_datetime(day * DAY_US, unit="us", utc=True))
    return pd.DatetimeIndex(period_start(ts, granularity))


# ============================================================================================
# Inputs: measured drivers per day, projected per appraisal month
DRIVERS = ("sessions", "manual_minutes", "session_minutes", "cache_hits", "avoided_llm_usd", "llm_usd", "metered_usd",
           "seats")


@dataclass(frozen=True)
class RoiInputs:
    """Measured drivers and their projection over the appraisal months; the input of every ROI result.

    Attributes
    ----------
    start : Timestamp
        Go-live: the first day with data (UTC midnight); month 1 starts here.
    observed_end : Timestamp
        End of the observation (exclusive, UTC midnight).
    months : int
        Appraisal months covered (the largest horizon these inputs can value).
    projection : str
        ``"forecast"`` (ETS forecast of daily sessions with 80 % intervals) or ``"flat"``
        (the base period's mean sessions per day, no usage uncertainty).
    daily : DataFrame
        One row per observed day: ``day, sessions, active_users, accepted, manual_minutes,
        session_minutes, time_saved_minutes, cache_hits, avoided_llm_usd, llm_usd, metered_usd,
        spend_usd`` (days without events are zeros).
    monthly : DataFrame
        One row per appraisal month: ``month`` (1..months), ``start``, ``end``, ``days``,
        ``actual_days``, ``forecast_days``, ``kind`` (actual / mixed / forecast), and for each
        driver in ``DRIVERS`` an ``<driver>_actual`` part (observed days) and an
        ``<driver>_forecast`` part (projected days at the mean forecast), plus
        ``sessions_forecast_sd`` (standard deviation of the month's forecast sessions: the
        day-level standard deviations from the 80 % interval, added up, i.e. days of a month
        move together). ``seats_actual`` counts the month's distinct active users.
    units : Series
        Per-session values of the base period that the projection uses (``manual_minutes``,
        ``session_minutes``, ``cache_hits``, ``avoided_llm_usd``, ``llm_usd``, ``metered_usd``
        per session; ``users_per_daily_session``), with ``base_days`` and ``base_sessions``.
    by_team, by_feature : DataFrame
        The measures over the observed window per group (``group`` plus the columns of
        :func:`roi_measures`), with ``seat_months`` (team: the group's active users per
        appraisal month times the observed share of the month; feature: the total split by
        sessions) and ``allocation_share`` (team: share of seat-months; feature: share of
        sessions), which splits licences, fixed infrastructure and the one-off cost.
    by_month : DataFrame
        The measures per calendar month (UTC), as ``roi_measures(events, granularity="M")``.
    observed_months : float
        Observed appraisal months (whole months count 1, the last partial month its share).
    forecast : DataFrame or None
        The daily forecast (``unique_id, ds, ets, ets-lo-80, ets-hi-80``) or None.
    notes : tuple of str
        Caveats found in the data, in sentences.
    """

    start: pd.Timestamp
    observed_end: pd.Timestamp
    months: int
    projection: str
    daily: pd.DataFrame
    monthly: pd.DataFrame
    units: pd.Series
    by_team: pd.DataFrame
    by_feature: pd.DataFrame
    by_month: pd.DataFrame
    observed_months: float
    forecast: pd.DataFrame | None
    notes: tuple[str, ...]

    @property
    def forecast_months(self) -> int:
        """Appraisal months with at least one projected day."""
        return int((self.monthly["forecast_days"] > 0).sum())


def roi_inputs(events: pd.DataFrame, *, months: int = 60, projection: str = "forecast", base_days: int = 28,
               gap: str = "30min", end: str | pd.Timestamp | None = None) -> RoiInputs:
    """Measure the value drivers from events and project them over ``months`` appraisal months.

    Observed days run from the first event's UTC day to ``end`` (default: the day after the last
    event). Each appraisal month's observed days use the measured totals; later days are
    projected: daily sessions from an ETS forecast
    (``Forecaster(models=["ets"], granularity="D").predict(horizon, level=[80])``, negative means clipped to
    0) or, with ``projection="flat"``, the base period's mean; every other driver as sessions
    times its per-session value over the last ``base_days`` observed days (recent prices,
    model mix and habits). Seats after the data: ``sessions * users_per_daily_session / days``
    (the base period's active users per daily session, i.e. users grow with usage).

    Parameters
    ----------
    events : DataFrame
        Validated events with ``manual_minutes`` and ``cost_usd``.
    months : int
        Appraisal months to cover, 1-120: at least the largest horizon to value (the tornado
        swings the horizon up to 48 months, capped at ``months``).
    projection : {"forecast", "flat"}
    base_days : int
        Length of the recent window for per-session values (>= 7).
    gap : str
        Inactivity that ends a derived session.
    end : str or Timestamp, optional
        End of the observation (exclusive); days up to it without events count as zero usage.

    Returns
    -------
    RoiInputs

    Raises
    ------
    WorkbenchError
        For missing columns, no events, events after ``end``, or a history too short to forecast
        (fewer than 14 days: use ``projection="flat"``).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=12,
    ...                     projection="flat")
    >>> inputs.monthly["kind"].tolist()[:3], len(inputs.monthly)
    (['mixed', 'forecast', 'forecast'], 12)
    """
    if not is_whole(months) or not 1 <= months <= MAX_MONTHS:
        raise WorkbenchError(f"months={months!r} must be a whole number of appraisal months from 1 to {MAX_MONTHS}")
    if projection not in ("forecast", "flat"):
        raise WorkbenchError(f"projection={projection!r} is not supported: use 'forecast' or 'flat'")
    if not is_whole(base_days) or base_days < 7:
        raise WorkbenchError(f"base_days={base_days!r} must be a whole number of days, at least 7")
    p = _prepare(events, gap)
    first, stop = p.first_day, _observation_stop(p, end)
    start = _day_ts(first)
    notes: list[str] = []
    days = np.arange(first, stop)
    daily = _aggregate(p, [p.ev["day"].to_numpy()], [p.sess["day"].to_numpy()], ["d"]).set_index("d")
    daily = daily.reindex(days, fill_value=0)
    daily.insert(0, "day", pd.to_datetime(days * DAY_US, unit="us", utc=True))
    daily = daily.reset_index(drop=True)
    bounds = _month_bounds(start, stop, months)
    bound_days = bounds.asi8 // DAY_US
    mo, ev_month = _monthly_actuals(p, daily, bounds, months, stop, notes)
    units = _per_session(p, daily, stop, base_days, notes)
    forecast, f_sessions, f_sd = _projected_sessions(daily, bound_days, months, stop, projection, units, notes)
    mo["sessions_forecast"] = f_sessions
    mo["sessions_forecast_sd"] = f_sd
    for d in DRIVERS[1:-1]:
        mo[f"{d}_forecast"] = f_sessions * units[d]
    mo["seats_forecast"] = f_sessions * units["users_per_daily_session"] / mo["days"].to_numpy()
    order = ["month", "start", "end", "days", "actual_days", "forecast_days", "kind"] + \
        [f"{d}_{k}" for d in DRIVERS for k in ("actual", "forecast")] + ["sessions_forecast_sd"]
    month_len_all = np.diff(bound_days)
    observed = np.clip(np.minimum(bound_days[1:], stop) - bound_days[:-1], 0, None) / month_len_all
    by_team, by_feature = _value_by_group(p, ev_month, observed)
    by_month = _aggregate(p, [_period_codes(p.ev["day"].to_numpy(), "M")],
                          [_period_codes(p.sess["day"].to_numpy(), "M")], ["period"])
    return RoiInputs(start=start, observed_end=_day_ts(stop), months=months, projection=projection, daily=daily,
                     monthly=mo[order], units=units, by_team=by_team, by_feature=by_feature, by_month=by_month,
                     observed_months=float(observed.sum()), forecast=forecast, notes=tuple(notes))


def _observation_stop(p: _Prepared, end: str | pd.Timestamp | None) -> int:
    """The first day after the observation (epoch days): the day after the last event, or ``end``."""
    if end is None:
        return p.last_day + 1
    e = pd.Timestamp(end)
    e = e.tz_localize("UTC") if e.tzinfo is None else e.tz_convert("UTC")
    stop = int(math.ceil(e.value / 1000 / DAY_US))  # a partial day counts as observed
    if stop <= p.last_day:
        raise WorkbenchError(f"end={end!r} is before the last event ({_day_ts(p.last_day).date()}): events after "
                             "the end of the observation would be ignored; give a later end or filter the events")
    return stop


def _month_bounds(start: pd.Timestamp, stop: int, months: int) -> pd.DatetimeIndex:
    """Where appraisal months begin (``start + k months``), one past the last; at least ``months``
    months, more when observed days lie beyond them."""
    n_bounds = months
    while (start + pd.DateOffset(months=n_bounds)).value // 1000 // DAY_US < stop:
        n_bounds += 1
    return pd.DatetimeIndex([start + pd.DateOffset(months=k) for k in range(n_bounds + 1)]).as_unit("us")


def _monthly_actuals(p: _Prepared, daily: pd.DataFrame, bounds: pd.DatetimeIndex, months: int, stop: int,
                     notes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The appraisal months with their observed totals and seats; and each event's month."""
    days = np.arange(p.first_day, stop)
    bound_days = bounds.asi8 // DAY_US
    month_len = np.diff(bound_days)[:months]
    actual_days = np.clip(np.minimum(bound_days[1:], stop) - bound_days[:-1], 0, None)[:months]
    forecast_days = month_len - actual_days
    month_of_day = np.searchsorted(bound_days, days, side="right") - 1
    in_horizon = month_of_day < months
    if not in_horizon.all():
        notes.append(f"{int((~in_horizon).sum())} observed days lie beyond the {months} appraisal months and are "
                     "left out of the cash flows (they still count in the team and feature tables)")
    mo = pd.DataFrame({"month": np.arange(1, months + 1), "start": bounds[:months], "end": bounds[1:months + 1],
                       "days": month_len, "actual_days": actual_days, "forecast_days": forecast_days})
    mo["kind"] = np.where(forecast_days == 0, "actual", np.where(actual_days == 0, "forecast", "mixed"))
    sums = daily.iloc[np.flatnonzero(in_horizon)].groupby(month_of_day[in_horizon])
    for d in DRIVERS[:-1]:
        mo[f"{d}_actual"] = sums[d].sum().reindex(range(months), fill_value=0).to_numpy(dtype="float64")
    ev_month = np.searchsorted(bound_days, p.ev["day"].to_numpy(), side="right") - 1
    seats = pd.Series(p.ev["user"].to_numpy()).groupby(ev_month).nunique()
    mo["seats_actual"] = seats.reindex(range(months), fill_value=0).to_numpy(dtype="float64")
    return mo, ev_month


def _per_session(p: _Prepared, daily: pd.DataFrame, stop: int, base_days: int, notes: list[str]) -> pd.Series:
    """Per-session values of the base period (the last ``base_days`` observed days), users per daily
    session, and the base period's length and sessions."""
    b0 = max(p.first_day, stop - base_days)
    base = daily.iloc[b0 - p.first_day:]
    base_sessions = float(base["sessions"].sum())
    base_users = int(p.ev.loc[p.ev["day"].to_numpy() >= b0, "user"].nunique())
    per = {d: (float(base[d].sum()) / base_sessions if base_sessions else 0.0) for d in DRIVERS[1:-1]}
    users_per_daily_session = base_users * (stop - b0) / base_sessions if base_sessions else 0.0
    if base_sessions == 0:
        notes.append(f"the last {stop - b0} observed days have no sessions: projected months carry no usage")
    if stop - b0 < base_days:
        notes.append(f"only {stop - b0} observed days: per-session values come from all of them")
    return pd.Series({**per, "users_per_daily_session": users_per_daily_session, "base_days": float(stop - b0),
                      "base_sessions": base_sessions}, name="per_session")


def _projected_sessions(daily: pd.DataFrame, bound_days: np.ndarray, months: int, stop: int, projection: str,
                        units: pd.Series, notes: list[str]) -> tuple[pd.DataFrame | None, np.ndarray, np.ndarray]:
    """Daily sessions after the data, summed per appraisal month (mean and standard deviation): an ETS
    forecast or the base period's mean; and the forecast frame."""
    h = int(bound_days[months]) - stop
    if h <= 0:
        return None, np.zeros(months), np.zeros(months)
    forecast = None
    if projection == "forecast":
        if len(daily) < 14:
            raise WorkbenchError(f"only {len(daily)} days of history: a forecast needs at least 14; "
                                 "use projection='flat' or a longer window")
        from analytics_lib.forecast.estimator import Forecaster

        series = pd.DataFrame({"unique_id": "sessions", "ds": daily["day"].dt.tz_localize(None),
                               "y": daily["sessions"].to_numpy(dtype="float64")})
        forecast = Forecaster(models=["ets"], granularity="D").fit(series).predict(horizon=h, level=[80])
        mean = forecast["ets"].to_numpy(dtype="float64")
        sd = (forecast["ets-hi-80"] - forecast["ets-lo-80"]).to_numpy(dtype="float64") / (2 * _Z80)
        if (mean < 0).any():
            notes.append(f"the sessions forecast is negative on {int((mean < 0).sum())} days: counted as 0")
        mean = np.clip(mean, 0, None)
    else:
        mean = np.full(h, units["base_sessions"] / units["base_days"])
        sd = np.zeros(h)
    fmonth = np.searchsorted(bound_days, np.arange(stop, stop + h), side="right") - 1
    return forecast, np.bincount(fmonth, mean, minlength=months), np.bincount(fmonth, sd, minlength=months)


def _value_by_group(p: _Prepared, ev_month: np.ndarray, observed: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where the value comes from in the observed window: by team (seats weighted by each month's
    observed fraction ``observed``) and by feature (seats allocated by sessions)."""
    team_users = pd.DataFrame({"m": ev_month, "team": p.ev["team"].to_numpy(), "u": p.ev["user"].to_numpy()}) \
        .groupby(["team", "m"], sort=True, observed=True)["u"].nunique()
    team_seat_months = (team_users * observed[team_users.index.get_level_values("m")]).groupby(level="team",
                                                                                              observed=True).sum()
    by_team = _group_table(p, "team")
    by_team["seat_months"] = team_seat_months.reindex(by_team["group"]).fillna(0.0).to_numpy()
    by_team["allocation_share"] = _share(by_team["seat_months"])
    by_feature = _group_table(p, "feature")
    by_feature["allocation_share"] = _share(by_feature["sessions"].astype("float64"))
    by_feature["seat_months"] = float(by_team["seat_months"].sum()) * by_feature["allocation_share"]
    return by_team, by_feature


def _share(x: pd.Series) -> pd.Series:
    total = float(x.sum())
    return x / total if total > 0 else pd.Series(1.0 / len(x), index=x.index) if len(x) else x


def _group_table(p: _Prepared, col: str) -> pd.DataFrame:
    out = _aggregate(p, [p.ev[col]], [p.sess[col]], ["group"])
    out["group"] = out["group"].astype("str")
    return out


def _day_ts(day: int) -> pd.Timestamp:
    return pd.Timestamp(int(day) * DAY_US, unit="us", tz="UTC")
