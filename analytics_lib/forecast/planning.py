"""From forecasts to plans: holidays, trend summaries, capacity crossings, cost forecasts.
"""
from __future__ import annotations

from typing import Sequence, TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.core.compat import renamed
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.forecast.models import _check_level
from analytics_lib.forecast.selection import auto_forecast
from analytics_lib.forecast.series import check_series, series_from_events

if TYPE_CHECKING:
    from analytics_lib.forecast.selection import AutoForecast


def country_holidays(country: str, start, end) -> pd.DataFrame:
    """Public holidays of ``country`` between two dates as a Prophet-style ``holiday, ds`` frame.

    From the ``holidays`` package (observed days included), for the ``holidays=`` option of
    :class:`Forecaster` and :func:`auto_forecast` (history and horizon alike).

    Parameters
    ----------
    country : str
        A country code known to the ``holidays`` package (``"US"``, ``"DE"``...).
    start, end : str or Timestamp
        The first and last day, both included.

    Raises
    ------
    WorkbenchError
        If the ``holidays`` package does not know ``country``.

    Examples
    --------
    >>> country_holidays("US", "2025-07-01", "2025-07-31")["ds"].dt.strftime("%m-%d").tolist()
    ['07-04']
    """
    import holidays as hd

    start, end = pd.Timestamp(start), pd.Timestamp(end)
    try:
        cal = hd.country_holidays(country, years=range(start.year, end.year + 1), observed=True)
    except NotImplementedError as exc:
        raise WorkbenchError(f"country={country!r} is not known to the holidays package (use e.g. 'US', 'DE')") from exc
    rows = sorted((pd.Timestamp(d), name) for d, name in cal.items() if start <= pd.Timestamp(d) <= end)
    return pd.DataFrame({"holiday": [n for _, n in rows], "ds": pd.to_datetime([d for d, _ in rows])})


# --------------------------------------------------------------------------------------------
# Growth and seasonality.
@renamed(freq='granularity')
def trend_summary(series: pd.DataFrame, *, granularity: str = "D", holidays: Sequence | None = None,
                  level: int = 95) -> pd.DataFrame:
    """Growth rate per week and weekday profile of daily series, with confidence intervals.

    A log-linear regression per series, ``log(y) = a + b t + weekday + holiday``, fitted by
    least squares on the positive observations: ``weekly_growth = exp(7 b) - 1`` (compound
    growth per week) with a ``level`` % interval from the slope's standard error, ``r2`` of
    the fit, and the weekday factors ``mon..sun`` (multiplicative, normalized to mean 1).
    ``holidays`` are dates whose level is estimated separately (they do not bias the rest).

    Parameters
    ----------
    series : DataFrame
        Long daily series ``unique_id, ds, y``; each needs at least 15 observations. Zero and
        negative values are left out of the fit (it is on ``log(y)``).
    granularity : str
        The series' frequency: ``"D"`` (default), the only one accepted.
    holidays : sequence of dates, optional
        Days given their own level in the fit (e.g. ``country_holidays(...)["ds"]``); default none.
    level : int
        Level in percent of the ``growth_lo``/``growth_hi`` interval (default 95).

    Returns
    -------
    DataFrame
        ``unique_id, weekly_growth, growth_lo, growth_hi, r2, n, mon, tue, wed, thu, fri, sat, sun``.

    Examples
    --------
    >>> ds = pd.date_range("2025-01-06", periods=140)
    >>> y = 100 * 1.02 ** (np.arange(140) / 7) * np.where(ds.day_of_week >= 5, 0.5, 1.0)
    >>> round(float(trend_summary(pd.DataFrame({"unique_id": "a", "ds": ds, "y": y}))["weekly_growth"].iloc[0]), 4)
    0.02
    """
    if pd.tseries.frequencies.to_offset(granularity).rule_code != "D":
        raise WorkbenchError(f"trend_summary needs daily series (granularity='D'), not {granularity!r}")
    full = check_series(series, granularity=granularity, min_length=15)
    hol = pd.DatetimeIndex(pd.to_datetime(list(holidays) if holidays is not None else [])).normalize()
    hol = hol.tz_convert(None) if hol.tz is not None else hol
    z = stats.norm.ppf(0.5 + _check_level([level])[0] / 200)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    rows = []
    for uid, g in full.groupby("unique_id", sort=True):  # one least-squares fit per series
        g = g[g["y"] > 0]
        ds = pd.DatetimeIndex(g["ds"])
        t = np.asarray((ds - ds[0]) / pd.Timedelta(days=1), dtype="float64")
        is_hol = np.isin(ds.normalize(), hol).astype(float)
        X = np.column_stack([np.ones(len(t)), t, np.eye(7)[ds.day_of_week][:, 1:]] + ([is_hol] if is_hol.any() else []))
        ly = np.log(g["y"].to_numpy(dtype="float64"))
        beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
        resid = ly - X @ beta
        dof = max(len(ly) - X.shape[1], 1)
        cov = (resid @ resid / dof) * np.linalg.pinv(X.T @ X)
        b, se = beta[1], np.sqrt(cov[1, 1])
        wd = np.exp(np.r_[0.0, beta[2:8]])
        rows.append({"unique_id": uid, "weekly_growth": np.expm1(7 * b), "growth_lo": np.expm1(7 * (b - z * se)),
                     "growth_hi": np.expm1(7 * (b + z * se)), "r2": 1 - resid.var() / ly.var(), "n": len(ly),
                     **dict(zip(days, wd / wd.mean()))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Capacity planning.
def capacity_table(forecast: pd.DataFrame, capacity: float | dict, *, column: str = "forecast",
                   level: int | None = None) -> pd.DataFrame:
    """When does each series cross a capacity threshold, and how likely is it within the horizon?

    ``first_crossing`` is the first ``ds`` where the point forecast reaches ``capacity``;
    ``first_crossing_upper`` the first where the upper bound at ``level`` does (the early
    warning date). ``probability`` is the chance that the series reaches ``capacity`` at
    least once within the horizon, from a normal approximation per step fitted to the
    interval at ``level`` (sd = interval width / (2 z)): the largest per-step probability.
    That is exact when forecast errors are fully correlated across steps (a level shift, the
    usual case for trend uncertainty) and a lower bound otherwise.

    Parameters
    ----------
    forecast : DataFrame
        :attr:`AutoForecast.forecast` (columns ``forecast, lo-<level>, hi-<level>``) or a
        ``Forecaster.predict`` frame with ``column=<model>`` (``<model>-lo-<level>``...).
    capacity : float or dict
        One threshold, or ``{unique_id: threshold}``.
    column : str
        The point forecast's column: ``"forecast"`` (default, an :attr:`AutoForecast.forecast`) or
        a model's name in a ``Forecaster.predict`` frame; its bounds are ``<column>-lo/hi-<level>``.
    level : int, optional
        Interval level to use; default the widest available.

    Returns
    -------
    DataFrame
        ``unique_id, capacity, first_crossing, first_crossing_upper, probability, peak_forecast``.

    Examples
    --------
    >>> f = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2025-01-01", periods=3),
    ...                   "forecast": [8.0, 9.0, 11.0], "lo-80": [7.0, 7.5, 9.0], "hi-80": [9.0, 10.5, 13.0]})
    >>> capacity_table(f, 10.0)[["first_crossing", "first_crossing_upper"]].iloc[0].dt.strftime("%m-%d").tolist()
    ['01-03', '01-02']
    """
    prefix = "" if column == "forecast" else f"{column}-"
    levels = sorted(int(c.rsplit("-", 1)[1]) for c in forecast.columns if c.startswith(f"{prefix}hi-")
                    and c[len(prefix) + 3:].isdigit())
    if column not in forecast.columns or not levels:
        raise WorkbenchError(f"capacity_table needs the columns {column!r} and {prefix}lo-/hi-<level> (a forecast)")
    level = level or levels[-1]
    if level not in levels:
        raise WorkbenchError(f"level={level} is not in the forecast: available {levels}")
    caps = capacity if isinstance(capacity, dict) else None
    cap = forecast["unique_id"].map(caps) if caps is not None else pd.Series(float(capacity), index=forecast.index)
    if cap.isna().any() or not np.isfinite(cap.to_numpy(dtype="float64")).all():
        raise WorkbenchError("capacity must be a finite number (or a dict with one for every unique_id)")
    mean = forecast[column].to_numpy(dtype="float64")
    hi = forecast[f"{prefix}hi-{level}"].to_numpy(dtype="float64")
    lo = forecast[f"{prefix}lo-{level}"].to_numpy(dtype="float64")
    sd = (hi - lo) / (2 * stats.norm.ppf(0.5 + level / 200))
    c = cap.to_numpy(dtype="float64")
    p = np.where(sd > 0, stats.norm.sf((c - mean) / np.where(sd > 0, sd, 1)), (mean >= c).astype(float))
    df = pd.DataFrame({"unique_id": forecast["unique_id"].to_numpy(), "ds": forecast["ds"].to_numpy(),
                       "capacity": c, "cross": mean >= c, "cross_hi": hi >= c, "p": p, "mean": mean})
    g = df.groupby("unique_id", sort=True)
    out = pd.DataFrame({
        "capacity": g["capacity"].first(),
        "first_crossing": df[df["cross"]].groupby("unique_id")["ds"].min(),
        "first_crossing_upper": df[df["cross_hi"]].groupby("unique_id")["ds"].min(),
        "probability": g["p"].max(),
        "peak_forecast": g["mean"].max(),
    })
    return out.rename_axis("unique_id").reset_index()


@renamed(h='horizon')
def cost_forecast(events: pd.DataFrame, *, horizon: int = 90, granularity: str = "D", by: str = "model",
                  **auto_options) -> AutoForecast:
    """Forecast LLM spend (``cost_usd`` of generation events) per ``by`` group and in total.

    A thin wrapper: :func:`series_from_events` with ``filters={"event_type": "generation"}``
    and ``total=True``, then :func:`auto_forecast` (options passed through).

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``) with ``cost_usd`` and the ``by`` column.
    horizon : int
        Periods to forecast (default 90).
    granularity : {"D", "W", "M"}
        Period of the series: days (default), weeks from Monday or months; any case.
    by : str or None
        The column whose values get one series each (default ``"model"``), plus ``"total"``;
        None forecasts the total only.
    **auto_options
        Passed to :func:`auto_forecast` (``models``, ``n_windows``, ``level``, ``n_jobs``...).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(20_000, days=120, seed=0).events
    >>> res = cost_forecast(ev, horizon=14, models=["seasonal_naive", "theta"], n_windows=2)
    >>> "total" in set(res.forecast["unique_id"])
    True
    """

    series = series_from_events(events, "cost_usd", granularity=granularity, by=by,
                                filters={"event_type": "generation"}, total=True)
    upper = granularity.upper()
    return auto_forecast(series, horizon=horizon, granularity=upper if upper in ("D", "W", "M") else granularity,
                         **auto_options)
