"""The forecasting notebook's narrative: history, growth, model selection, forecast, capacity and spend.

Every function takes the result frames (and the parameters the text names) and returns a Markdown
paragraph. Series, model and metric names are escaped (:func:`~analytics_lib.core.markup.md_escape`)
and money is written with an escaped dollar (:func:`~analytics_lib.report.narrative.text.money`).
A missing series, an empty frame or a NaN score gives a sentence that says so, not an exception.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import pandas as pd

from analytics_lib.core.markup import md_escape
from analytics_lib.report.narrative.text import money

if TYPE_CHECKING:
    from os import PathLike

_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _num(x: object, spec: str) -> str:
    """``format(x, spec)``, or ``"n/a"`` for a missing value (None, NaN, NaT)."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return "n/a"
    return format(x, spec)


def _code(value: object) -> str:
    """A data value in code type: escaped text inside ``<code>`` (a backtick span would show the escapes)."""
    return f"<code>{md_escape(value)}</code>"


def _rows(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The frame indexed by ``unique_id`` (a column or already the index); empty when there is none."""
    if frame is None or frame.empty:
        return pd.DataFrame()
    if "unique_id" in frame.columns:
        return frame.set_index("unique_id")
    return frame if frame.index.name == "unique_id" else pd.DataFrame()


def _series_id(ids: Iterable, series_id: object | None) -> object | None:
    """``series_id``, or ``"total"`` when the ids hold it, else the first id (None without ids)."""
    if series_id is not None:
        return series_id
    ids = list(dict.fromkeys(ids))
    return "total" if "total" in ids else (ids[0] if ids else None)


def history_summary(series: pd.DataFrame, *, rows_kept: int, window: object, metric: str, agg: str,
                    holidays: Sequence | pd.DataFrame | None = None, country: str = "US") -> str:
    """What was loaded and turned into series: events, series count, longest history, holidays.

    Parameters
    ----------
    series : DataFrame
        Long series ``unique_id, ds, y`` (:func:`~analytics_lib.forecast.series.series_from_events`).
    rows_kept : int
        Events kept after validation (``load_events(...).summary.rows_kept``).
    window : object
        The history window, shown as text (a :class:`~analytics_lib.core.timewindow.TimeWindow`).
    metric : str
        The forecast metric (``events``, ``cost_usd``...).
    agg : str
        How the metric is aggregated per period (``sum``, ``p95``...).
    holidays : DataFrame or sequence, optional
        The holiday dates given to the models (``country_holidays(...)``); None leaves out the
        holiday sentence.
    country : str
        Whose public holidays they are (default ``"US"``).

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": ["a", "a", "total"], "ds": pd.date_range("2025-01-01", periods=3),
    ...                   "y": [1.0, 2.0, 3.0]})
    >>> hol = pd.DataFrame({"ds": pd.to_datetime(["2025-01-01"])})
    >>> print(history_summary(s, rows_kept=1234, window="[2025-01-01, 2025-01-04)", metric="events",
    ...                       agg="sum", holidays=hol))  # doctest: +NORMALIZE_WHITESPACE
    **1,234** events in \\[2025-01-01, 2025-01-04); **2** series of up to **2** periods of <code>events</code>
    (sum). US public holidays are given to the models that use them (Prophet, the lag regressor): 1 date.
    """
    head = f"**{rows_kept:,}** events in {md_escape(window)}"
    what = f"{_code(metric)} ({md_escape(agg)})"
    if series is None or series.empty or not {"unique_id", "y"} <= set(series.columns):
        text = f"{head}; no series of {what} to forecast."
    else:
        periods = series.groupby("unique_id")["y"].count()
        text = (f"{head}; **{series['unique_id'].nunique()}** series of up to **{int(periods.max())}** periods "
                f"of {what}.")
    if holidays is not None:
        text += (f" {md_escape(country)} public holidays are given to the models that use them (Prophet, the lag "
                 f"regressor): {len(holidays)} date{'' if len(holidays) == 1 else 's'}.")
    return text


def growth_summary(trend: pd.DataFrame, *, series_id: object | None = None) -> str:
    """Weekly growth of one series with its interval, and its busiest and quietest weekday.

    Parameters
    ----------
    trend : DataFrame
        :func:`~analytics_lib.forecast.planning.trend_summary`: ``unique_id, weekly_growth,
        growth_lo, growth_hi, r2, mon ... sun``.
    series_id : object, optional
        The series to describe; default ``"total"`` when there is one, else the first row.

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> t = pd.DataFrame({"unique_id": ["total"], "weekly_growth": [0.0123], "growth_lo": [0.004],
    ...                   "growth_hi": [0.021], "r2": [0.84], "mon": [1.2], "tue": [1.3], "wed": [1.1],
    ...                   "thu": [1.0], "fri": [1.0], "sat": [0.6], "sun": [0.8]})
    >>> print(growth_summary(t))  # doctest: +NORMALIZE_WHITESPACE
    The total grows **+1.23% per week** (95% interval +0.40% to +2.10%, R² 0.84); the busiest weekday is tue
    (1.30x an average day), the quietest sat (0.60x).
    """
    rows = _rows(trend)
    uid = _series_id(rows.index, series_id)
    if uid is None or uid not in rows.index:
        return "No growth estimate: the trend table has no row for " + ("any series." if uid is None else
                                                                         f"{md_escape(uid)}.")
    t = rows.loc[uid]
    t = t.iloc[0] if isinstance(t, pd.DataFrame) else t
    name = "The total" if uid == "total" else md_escape(uid)
    if pd.isna(t.get("weekly_growth")):
        return (f"No growth estimate for {'the total' if uid == 'total' else name}: too few positive values to fit "
                "a trend.")
    text = (f"{name} grows **{t['weekly_growth']:+.2%} per week** (95% interval "
            f"{_num(t.get('growth_lo'), '+.2%')} to {_num(t.get('growth_hi'), '+.2%')}, R² {_num(t.get('r2'), '.2f')})")
    profile = pd.to_numeric(t.reindex(_WEEKDAYS), errors="coerce").dropna()
    if len(profile):
        text += (f"; the busiest weekday is {profile.idxmax()} ({profile.max():.2f}x an average day), the quietest "
                 f"{profile.idxmin()} ({profile.min():.2f}x)")
    return text + "."


def selection_summary(selection: pd.DataFrame, *, series_id: object | None = None, level: int = 80) -> str:
    """The model chosen for one series and how its backtest compares with seasonal naive.

    Parameters
    ----------
    selection : DataFrame
        :attr:`AutoForecast.selection <analytics_lib.forecast.selection.AutoForecast>`: ``unique_id, model,
        members, mase, baseline_mase, improvement_vs_baseline, smape, coverage, interval_scale`` and, when
        present, ``backtest_windows, fallback`` (a short series' fallback is said).
    series_id : object, optional
        The series to describe; default ``"total"`` when there is one, else the first row.
    level : int
        The interval level (percent) whose backtest coverage is reported.

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> sel = pd.DataFrame({"unique_id": ["total"], "model": ["ensemble"], "members": ["ets, theta"],
    ...                     "mase": [0.8], "baseline_mase": [1.0], "improvement_vs_baseline": [0.2],
    ...                     "smape": [12.34], "coverage": [0.75], "interval_scale": [1.1]})
    >>> print(selection_summary(sel))  # doctest: +NORMALIZE_WHITESPACE
    For **total**, the chosen forecast is **ensemble** (median of ets, theta): backtest MASE **0.80** against 1.00
    for seasonal naive (20% lower error), sMAPE 12.3%, and 75% of backtest values inside the raw 80% interval
    (calibration factor 1.10).
    """
    rows = _rows(selection)
    uid = _series_id(rows.index, series_id)
    if uid is None or uid not in rows.index:
        return ("No forecast model was selected" + ("." if uid is None else f" for {md_escape(uid)}."))
    c = rows.loc[uid]
    c = c.iloc[0] if isinstance(c, pd.DataFrame) else c
    model = c.get("model", "n/a")
    fallback = c.get("fallback")
    if c.get("backtest_windows") == 0:  # too short to backtest: nothing to compare
        what = ("seasonal naive** (the last season repeated)" if str(fallback).startswith("seasonal naive")
                else "naive** (the last value)")
        return (f"For **{md_escape(uid)}**, the forecast is **{what}, not backtested: "
                f"{md_escape(str(fallback).split(': ', 1)[-1])}.")
    text = f"For **{md_escape(uid)}**, the chosen forecast is **{md_escape(model)}**"
    if model == "ensemble" and pd.notna(c.get("members")):
        text += f" (median of {md_escape(c['members'])})"
    text += f": backtest MASE **{_num(c.get('mase'), '.2f')}**"
    if pd.isna(c.get("baseline_mase")):
        text += " (no seasonal naive backtest to compare with)"
    else:
        text += (f" against {c['baseline_mase']:.2f} for seasonal naive "
                 f"({_num(c.get('improvement_vs_baseline'), '.0%')} lower error)")
    text += (f", sMAPE {_num(c.get('smape'), '.1f')}%, and {_num(c.get('coverage'), '.0%')} of backtest "
             f"values inside the raw {level}% interval (calibration factor {_num(c.get('interval_scale'), '.2f')}).")
    if isinstance(fallback, str) and fallback:
        text += f" Short history: {md_escape(fallback)}."
    return text


def no_components_note(selection: pd.DataFrame, *, series_id: object | None = None) -> str:
    """The sentence shown instead of the components chart when the chosen model has none.

    Parameters
    ----------
    selection : DataFrame
        :attr:`AutoForecast.selection <analytics_lib.forecast.selection.AutoForecast>` (``unique_id, members``).
    series_id : object, optional
        The series shown; default ``"total"`` when there is one, else the first row.

    Returns
    -------
    str
        One Markdown sentence.

    Examples
    --------
    >>> no_components_note(pd.DataFrame({"unique_id": ["total"], "members": ["lag_regressor"]}))
    'lag\\\\_regressor has no separate trend/seasonal components to show.'
    """
    rows = _rows(selection)
    uid = _series_id(rows.index, series_id)
    members = rows.loc[uid].get("members") if uid is not None and uid in rows.index else None
    if isinstance(members, pd.Series):
        members = members.iloc[0]
    if members is None or pd.isna(members):
        return "The chosen model has no separate trend/seasonal components to show."
    return f"{md_escape(members)} has no separate trend/seasonal components to show."


def forecast_summary(forecast: pd.DataFrame, series: pd.DataFrame, *, horizon: int, level: int,
                     series_id: object | None = None) -> str:
    """The forecast total of one series over the horizon, against the same number of recent periods.

    Parameters
    ----------
    forecast : DataFrame
        :attr:`AutoForecast.forecast <analytics_lib.forecast.selection.AutoForecast>`: ``unique_id, ds,
        forecast, lo-<level>, hi-<level>``.
    series : DataFrame
        The history the forecast continues: ``unique_id, ds, y``.
    horizon : int
        Periods forecast; the comparison uses as many of the last observed periods.
    level : int
        The interval level (percent) reported for the last period.
    series_id : object, optional
        The series to describe; default ``"total"`` when there is one, else the first.

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> f = pd.DataFrame({"unique_id": "total", "ds": pd.date_range("2025-07-01", periods=2),
    ...                   "forecast": [110.0, 120.0], "lo-80": [90.0, 95.0], "hi-80": [130.0, 145.5]})
    >>> s = pd.DataFrame({"unique_id": "total", "ds": pd.date_range("2025-06-29", periods=2), "y": [100.0, 100.0]})
    >>> print(forecast_summary(f, s, horizon=2, level=80))  # doctest: +NORMALIZE_WHITESPACE
    Over the next 2 periods (2025-07-01 to 2025-07-02) the forecast for total adds up to **230** (+15.0% against
    the last 2 periods). The last period's 80% interval is 95.0 to 145.5.
    """
    uid = _series_id(forecast["unique_id"] if forecast is not None and "unique_id" in forecast else [], series_id)
    f = (forecast[forecast["unique_id"] == uid].sort_values("ds") if uid is not None and "forecast" in forecast
         else pd.DataFrame())
    if f.empty:
        return "No forecast to report" + ("." if uid is None else f" for {md_escape(uid)}.")
    total = float(f["forecast"].sum())
    text = (f"Over the next {horizon} periods ({f['ds'].iloc[0]:%Y-%m-%d} to {f['ds'].iloc[-1]:%Y-%m-%d}) the "
            f"forecast for {md_escape(uid)} adds up to **{total:,.0f}**")
    has_history = series is not None and {"unique_id", "ds", "y"} <= set(series.columns)
    recent = (series[series["unique_id"] == uid].sort_values("ds")["y"].iloc[-horizon:] if has_history
              else pd.Series(dtype=float))
    if len(recent) and recent.sum() > 0:
        text += f" ({total / recent.sum() - 1:+.1%} against the last {horizon} periods)"
    elif len(recent):
        text += f" (the last {horizon} periods add up to {recent.sum():,.0f})"
    text += "."
    lo, hi = f"lo-{level}", f"hi-{level}"
    if lo in f.columns and hi in f.columns:
        text += (f" The last period's {level}% interval is {_num(f[lo].iloc[-1], ',.1f')} to "
                 f"{_num(f[hi].iloc[-1], ',.1f')}.")
    return text


def capacity_summary(capacity: pd.DataFrame, capacity_value: float | None = None, *, horizon: int, level: int,
                     series_id: object | None = None) -> str:
    """When one series reaches the capacity threshold, with the early warning and the probability.

    Parameters
    ----------
    capacity : DataFrame
        :func:`~analytics_lib.forecast.planning.capacity_table`: ``unique_id, capacity, first_crossing,
        first_crossing_upper, probability``.
    capacity_value : float, optional
        The threshold named in the text; default the table's ``capacity`` for the series.
    horizon : int
        Periods forecast (the probability is of reaching capacity within them).
    level : int
        The interval level (percent) whose upper bound gives the early-warning date.
    series_id : object, optional
        The series to describe; default ``"total"`` when there is one, else the first row.

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> cap = pd.DataFrame({"unique_id": ["total"], "capacity": [500.0], "first_crossing": [pd.NaT],
    ...                     "first_crossing_upper": [pd.Timestamp("2025-07-20")], "probability": [0.31]})
    >>> print(capacity_summary(cap, horizon=28, level=95))  # doctest: +NORMALIZE_WHITESPACE
    Capacity 500 is not reached within the horizon by the point forecast; the 95% upper bound reaches it on
    2025-07-20. Probability of reaching it within 28 periods: **31%**.
    """
    rows = _rows(capacity)
    uid = _series_id(rows.index, series_id)
    if uid is None or uid not in rows.index:
        return "No capacity check" + (": the capacity table is empty." if uid is None else f" for {md_escape(uid)}.")
    c = rows.loc[uid]
    c = c.iloc[0] if isinstance(c, pd.DataFrame) else c
    value = capacity_value if capacity_value is not None else c.get("capacity")
    first, upper = c.get("first_crossing"), c.get("first_crossing_upper")
    when = ("is not reached within the horizon" if first is None or pd.isna(first)
            else f"is reached on **{pd.Timestamp(first):%Y-%m-%d}**")
    early = ("" if upper is None or pd.isna(upper)
             else f"; the {level}% upper bound reaches it on {pd.Timestamp(upper):%Y-%m-%d}")
    return (f"Capacity {_num(value, ',.0f')} {when} by the point forecast{early}. Probability of reaching it within "
            f"{horizon} periods: **{_num(c.get('probability'), '.0%')}**.")


def llm_spend_summary(spend: pd.DataFrame, *, horizon: int) -> str:
    """Forecast LLM spend over the horizon in total, and the model line that costs most.

    Parameters
    ----------
    spend : DataFrame
        Forecast spend per series: ``forecast_usd`` indexed by ``unique_id`` (or with a
        ``unique_id`` column); the all-models series is ``"total"``.
    horizon : int
        Periods forecast.

    Returns
    -------
    str
        One Markdown paragraph; amounts as ``\\$1,234.56``.

    Examples
    --------
    >>> spend = pd.DataFrame({"forecast_usd": [5.34, 4.24, 1.10]},
    ...                      index=pd.Index(["total", "anthropic/claude-sonnet-4", "openai/gpt-4o"], name="unique_id"))
    >>> print(llm_spend_summary(spend, horizon=28))  # doctest: +NORMALIZE_WHITESPACE
    Forecast LLM spend over the next 28 periods: **\\$5.34** in total; the largest model line is
    anthropic/claude-sonnet-4 (\\$4.24).
    """
    rows = _rows(spend)
    if rows.empty or "forecast_usd" not in rows.columns:
        return f"No LLM spend to forecast over the next {horizon} periods: there is no generation cost in the data."
    lines = rows.drop(index="total", errors="ignore")["forecast_usd"].dropna()
    total = rows.loc["total", "forecast_usd"] if "total" in rows.index else lines.sum()
    total = total.iloc[0] if isinstance(total, pd.Series) else total
    text = f"Forecast LLM spend over the next {horizon} periods: **{money(float(total))}** in total"
    if len(lines):
        text += f"; the largest model line is {md_escape(lines.idxmax())} ({money(float(lines.max()))})"
    return text + "."


def written_files(paths: Iterable[str | PathLike]) -> str:
    """The files written, as a Markdown list (one path in code type per item).

    Parameters
    ----------
    paths : iterable of str or path
        The files, e.g. what :func:`~analytics_lib.report.tables.write_tables` returns.

    Returns
    -------
    str
        A Markdown list, or a sentence when nothing was written.

    Examples
    --------
    >>> print(written_files(["out/forecast.csv", "out/spend_forecast.parquet"]))
    - <code>out/forecast.csv</code>
    - <code>out/spend\\_forecast.parquet</code>
    """
    items = [f"- {_code(p)}" for p in paths]
    return "\n".join(items) if items else "No files were written."
