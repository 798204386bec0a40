"""Long series ``unique_id, ds, y``: from KPIs and events, checked, duplicates combined by a stated rule.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import series_freq


SERIES_COLUMNS = ("unique_id", "ds", "y")


AGG_RULES = ("sum", "mean", "median", "max", "min", "last")


def series_from_metric(metric: pd.DataFrame, *, by: str | None = None, value: str = "value") -> pd.DataFrame:
    """Turn a :func:`~analytics_lib.analysis.workflow.kpis.metric_table` result into long series ``unique_id, ds, y``.

    ``ds`` is the period start without time zone (UTC), as forecasting libraries expect.

    Parameters
    ----------
    metric : DataFrame
        A :func:`~analytics_lib.analysis.workflow.kpis.metric_table` result: ``period, [by], value``.
    by : str, optional
        The group column whose values become the ``unique_id``s; None (default): one series
        named ``"total"``.
    value : str
        The column holding the values (default ``"value"``).

    Examples
    --------
    >>> from analytics_lib import metric_table
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(20_000, days=56, seed=0).events
    >>> series_from_metric(metric_table(ev, "cost_usd", by="team")).columns.tolist()
    ['unique_id', 'ds', 'y']
    """
    uid = metric[by].astype(str) if by is not None else pd.Series("total", index=metric.index)
    ds = pd.to_datetime(metric["period"])
    ds = ds.dt.tz_convert("UTC").dt.tz_localize(None) if ds.dt.tz is not None else ds
    out = pd.DataFrame({"unique_id": uid.to_numpy(), "ds": ds.to_numpy(), "y": metric[value].astype("float64").to_numpy()})
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def series_from_events(events: pd.DataFrame, metric: str = "events", *, agg: str = "sum", granularity: str = "D",
                       by: str | None = None, filters: dict | None = None, total: bool = False) -> pd.DataFrame:
    """Long series of any KPI of the workflow metric query, per group or in total.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    metric, agg, granularity, filters
        As in :func:`~analytics_lib.analysis.workflow.kpis.metric_table` (``"events"``, ``"users"``,
        ``"cost_usd"`` with ``agg="sum"``, ``"latency_ms"`` with ``agg="p95"``...).
    by : str, optional
        ``team``, ``model``, ``feature``...: one series per value.
    total : bool
        With ``by``, also add the all-groups series as ``unique_id="total"``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(20_000, days=56, seed=0).events
    >>> s = series_from_events(ev, "cost_usd", by="model", total=True)
    >>> "total" in set(s["unique_id"])
    True
    """
    from analytics_lib.analysis.workflow.kpis import metric_table

    out = series_from_metric(metric_table(events, metric, agg=agg, granularity=granularity, by=by, filters=filters), by=by)
    if by is not None and total:
        whole = series_from_metric(metric_table(events, metric, agg=agg, granularity=granularity, filters=filters))
        out = pd.concat([out, whole], ignore_index=True)
    return out


def _floor_to(ds: pd.Series, freq: str) -> np.ndarray:
    """Start of the ``freq`` period that holds each timestamp (vectorized, any pandas offset)."""
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return ds.dt.floor(off).to_numpy()
    day = ds.dt.normalize()
    grid = pd.date_range(off.rollback(day.min()), day.max(), freq=off)
    return grid[grid.searchsorted(day.to_numpy(), side="right") - 1].to_numpy()


@renamed(freq='granularity')
def check_series(series: pd.DataFrame, *, granularity: str, min_length: int = 1, agg: str = "sum") -> pd.DataFrame:
    """Validate long series and put them on a regular ``granularity`` grid.

    ``granularity`` is ``D``, ``W`` (weeks from Monday), ``M`` (month starts) or any pandas
    frequency (``"W-SUN"``, ``"h"``, ``"5min"``).

    Stated resampling rule: every timestamp is floored to the start of its ``granularity`` period
    and values within one period (irregular timestamps, duplicated timestamps) are combined
    with ``agg`` (``"sum"`` for counts and cost; use ``"mean"`` for rates and latencies).
    Missing periods inside a series become NaN (models that cannot take gaps fill them by
    linear interpolation; metrics skip them); zeros stay zeros. Each series must have at
    least ``min_length`` observations.

    Parameters
    ----------
    series : DataFrame
        Long series with the columns ``unique_id, ds, y`` (others are dropped); ``ds`` may be
        time-zone aware (converted to UTC, then naive), ``y`` is coerced to float.
    granularity : str
        ``"D"``, ``"W"``, ``"M"`` or any pandas frequency, as above.
    min_length : int
        Fewest non-missing observations a series may have after resampling (default 1).
    agg : {"sum", "mean", "median", "max", "min", "last"}
        How values within one period are combined (default ``"sum"``).

    Raises
    ------
    WorkbenchError
        On missing columns, no rows, an unknown ``agg`` or ``granularity``, a missing ``ds``,
        or a series shorter than ``min_length``.

    Examples
    --------
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2024-01-01", "2024-01-03"]), "y": [1.0, 3.0]})
    >>> len(check_series(s, granularity="D"))
    3
    """
    missing = [c for c in SERIES_COLUMNS if c not in series.columns]
    if missing:
        raise WorkbenchError(f"series are missing columns: {', '.join(missing)} (expected unique_id, ds, y)")
    if series.empty:
        raise WorkbenchError("series are empty: there is nothing to forecast")
    if agg not in AGG_RULES:
        raise WorkbenchError(f"agg={agg!r} is not a resampling rule: use one of {', '.join(AGG_RULES)}")
    freq = series_freq(granularity)
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise WorkbenchError(f"granularity={granularity!r} is not a granularity (D, W, M) or a pandas frequency "
                             "(e.g. 'W-SUN', 'h', '5min')") from None
    df = series.loc[:, list(SERIES_COLUMNS)].copy()
    ds = pd.to_datetime(df["ds"])
    if ds.isna().any():
        raise WorkbenchError(f"{int(ds.isna().sum())} series rows have no timestamp in 'ds': fix or remove them")
    df["ds"] = _floor_to(ds.dt.tz_convert("UTC").dt.tz_localize(None) if ds.dt.tz is not None else ds, freq)
    df["y"] = pd.to_numeric(df["y"], errors="coerce").astype("float64")
    grouped = df.groupby(["unique_id", "ds"], sort=True)["y"]
    df = (grouped.sum(min_count=1) if agg == "sum" else grouped.agg(agg)).reset_index()
    bounds = df.groupby("unique_id", sort=True)["ds"].agg(["min", "max"])
    grids = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(lo, hi, freq=freq)})  # one grid per series
             for uid, lo, hi in bounds.itertuples()]
    out = pd.concat(grids, ignore_index=True).merge(df, on=["unique_id", "ds"], how="left")
    n_obs = out.groupby("unique_id", sort=True)["y"].count()
    short = n_obs[n_obs < min_length]
    if len(short):
        raise WorkbenchError(
            f"series {short.index[0]!r} has {int(short.iloc[0])} observations; the requested models need at least "
            f"{min_length} (use a shorter horizon, fewer backtest windows, a coarser model list, or a longer history)")
    return out[list(SERIES_COLUMNS)]
