"""Who comes back: lifecycle states, activity histograms and cohort retention.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import US_PER_S, check_granularity, epoch_micros, period_index, period_start


# ============================================================================================
# Segments, lifecycle, retention
def _user_periods(events: pd.DataFrame, granularity: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, int]:
    """Distinct (period, user) activity pairs: the period index, period codes, user codes, user count."""
    per = period_start(events[S.TS], granularity)
    index = period_index(per.min(), per.max(), granularity)
    user, _ = pd.factorize(events[S.USER_ID].astype(str), sort=False)
    nu = int(user.max()) + 1 if len(user) else 1
    pairs = np.unique(index.get_indexer(per).astype(np.int64) * nu + user)
    return index, pairs // nu, pairs % nu, nu


def lifecycle_table(events: pd.DataFrame, *, granularity: str = "W") -> pd.DataFrame:
    """Users per period by lifecycle state (the growth-accounting view).

    For each period: ``new`` users (first activity ever in this period), ``returning`` (active
    in this and the previous period), ``resurrecting`` (active now, not in the previous
    period, but at some earlier one), and ``dormant`` (active in the previous period but not
    in this one; reported as a positive count). ``active = new + returning + resurrecting``.
    "Ever" means within the data given.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> lc = lifecycle_table(synthetic_events(20_000, days=56, seed=0).events)
    >>> bool((lc["active"] == lc["new"] + lc["returning"] + lc["resurrecting"]).all())
    True
    """
    if events.empty:
        return pd.DataFrame(columns=["new", "returning", "resurrecting", "active", "dormant"],
                            index=pd.DatetimeIndex([], tz="UTC", name="period"), dtype="int64")
    g = check_granularity(granularity)
    periods, p, u, nu = _user_periods(events, g)
    first = np.full(nu, np.iinfo(np.int64).max)
    np.minimum.at(first, u, p)
    key = p * nu + u
    prev_key = (p - 1) * nu + u
    was_prev = np.isin(prev_key, key)
    new = first[u] == p
    returning = ~new & was_prev
    resurrecting = ~new & ~was_prev
    nper = len(periods)
    out = pd.DataFrame(index=periods)
    out["new"] = np.bincount(p[new], minlength=nper)
    out["returning"] = np.bincount(p[returning], minlength=nper)
    out["resurrecting"] = np.bincount(p[resurrecting], minlength=nper)
    out["active"] = out["new"] + out["returning"] + out["resurrecting"]
    next_key = (p + 1) * nu + u
    gone = ~np.isin(next_key, key) & (p + 1 < nper)
    out["dormant"] = np.bincount(p[gone] + 1, minlength=nper + 1)[:nper]
    return out


def activity_histogram(events: pd.DataFrame, *, days: int = 28) -> pd.DataFrame:
    """Stickiness histogram: users by number of active days in the last ``days`` days of data.

    Also flags power users: ``power_user`` marks the bins at or above the 90th percentile of
    active days. Returns ``active_days, users, share, power_user``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> h = activity_histogram(synthetic_events(20_000, days=35, seed=0).events)
    >>> int(h["users"].sum()) > 0
    True
    """
    if events.empty:
        return pd.DataFrame({"active_days": np.arange(1, days + 1), "users": 0, "share": 0.0, "power_user": False})
    day = epoch_micros(events[S.TS]) // (86_400 * US_PER_S)
    last = int(day.max())
    sel = day > last - days
    user, _ = pd.factorize(events.loc[sel, S.USER_ID].astype(str), sort=False)
    pairs = pd.DataFrame({"u": user, "d": day[sel]}).drop_duplicates()
    per_user = np.bincount(pairs["u"].to_numpy())
    counts = np.bincount(per_user, minlength=days + 1)[1:]
    out = pd.DataFrame({"active_days": np.arange(1, days + 1), "users": counts})
    out["share"] = out["users"] / max(int(counts.sum()), 1)
    p90 = np.quantile(per_user, 0.9) if len(per_user) else np.inf
    out["power_user"] = out["active_days"] >= p90
    return out


@renamed(cohort='granularity')
def retention_matrix(events: pd.DataFrame, *, granularity: str = "W", periods: int = 12, mode: str = "on",
                     cohort_type: str = "first_time") -> pd.DataFrame:
    """Cohort retention: the share of a cohort active *k* periods after it started.

    - ``granularity`` ``"W"`` (UTC weeks from Monday) or ``"M"`` (months);
    - ``cohort_type="first_time"``: a user's cohort is the period of their first event;
      ``"recurring"``: a user joins a cohort in every period they are active, and retention
      is measured from each (the "returning users" view);
    - ``mode="on"``: counted in period *k* if active in period *k*; ``"on_or_after"``: if
      active in period *k* or any later one (unbounded retention);
    - period 0 is always 1.0; periods beyond the end of the data are NaN (not 0).

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    granularity : {"W", "M"}
        Cohort and period length (default ``"W"``).
    periods : int
        Number of periods after the cohort's start, period 0 included (default 12).
    mode : {"on", "on_or_after"}
        When a user counts as retained in period *k* (default ``"on"``), as above.
    cohort_type : {"first_time", "recurring"}
        Who forms a cohort (default ``"first_time"``), as above.

    Returns
    -------
    DataFrame
        Index ``granularity`` (period start), column ``size`` then ``0..periods-1`` (shares).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> r = retention_matrix(synthetic_events(20_000, days=56, seed=0).events, periods=4)
    >>> r.columns.tolist()
    ['size', 0, 1, 2, 3]
    """
    g = check_granularity(granularity)
    if g == "D":
        raise WorkbenchError("retention cohorts are weekly ('W') or monthly ('M')")
    if mode not in ("on", "on_or_after"):
        raise WorkbenchError(f"mode={mode!r} must be 'on' or 'on_or_after'")
    if cohort_type not in ("first_time", "recurring"):
        raise WorkbenchError(f"cohort_type={cohort_type!r} must be 'first_time' or 'recurring'")
    if events.empty:
        return pd.DataFrame(columns=["size", *range(periods)], index=pd.DatetimeIndex([], tz="UTC", name="cohort"))
    index, p, u, nu = _user_periods(events, g)
    pairs = p * nu + u
    n_per = len(index)
    if mode == "on_or_after":  # last active period per user: active at or after k iff last >= k
        last = np.full(nu, -1)
        np.maximum.at(last, u, p)
    if cohort_type == "first_time":
        start = np.full(nu, np.iinfo(np.int64).max)
        np.minimum.at(start, u, p)
        members_c, members_u = start, np.arange(nu)
        keep = members_c < n_per
        members_c, members_u = members_c[keep], members_u[keep]
    else:
        members_c, members_u = p, u
    size = np.bincount(members_c, minlength=n_per)
    retained = np.zeros((n_per, periods), dtype=np.int64)
    for k in range(periods):  # `periods` iterations, each vectorised over all cohort members
        target = members_c + k
        valid = target < n_per
        if mode == "on":
            hit = np.isin(target[valid] * nu + members_u[valid], pairs)
        else:
            hit = last[members_u[valid]] >= target[valid]
        retained[:, k] = np.bincount(members_c[valid][hit], minlength=n_per)
    return retention_shares(retained, size, index)


def retention_shares(retained: np.ndarray, size: np.ndarray, index) -> pd.DataFrame:
    """The retention matrix from counts: ``retained[c, k]`` users of cohort ``c`` (size ``size[c]``)
    active ``k`` periods later; periods past the data are NaN, empty cohorts dropped.

    Shared by :func:`retention_matrix` and the Dask engine's combine step.

    Parameters
    ----------
    retained : numpy.ndarray
        Integer counts, shape ``(cohorts, periods)``: users of cohort ``c`` active ``k``
        periods after it started.
    size : numpy.ndarray
        Users per cohort, shape ``(cohorts,)``.
    index : DatetimeIndex or array-like of timestamps
        The cohorts' period starts, one per row of ``retained`` (consecutive periods: row ``c``
        has data for ``k < cohorts - c``).

    Examples
    --------
    >>> idx = pd.date_range("2025-01-06", periods=2, freq="7D", tz="UTC")
    >>> retention_shares(np.array([[4, 2], [2, 0]]), np.array([4, 2]), idx)[1].tolist()
    [0.5, nan]
    """
    n_per, periods = retained.shape
    mat = np.where(size[:, None] > 0, retained / np.maximum(size, 1)[:, None], np.nan)
    mat[np.arange(n_per)[:, None] + np.arange(periods)[None, :] >= n_per] = np.nan
    out = pd.DataFrame(mat, index=pd.DatetimeIndex(index, name="cohort"), columns=list(range(periods)))
    out.insert(0, "size", size)
    return out[out["size"] > 0]
