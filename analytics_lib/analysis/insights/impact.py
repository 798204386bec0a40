"""Business impact of KPI changes (``impact_table``) and the outlook against capacity (``outlook_table``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.analysis.insights.model import IMPACT_SEVERITY
from analytics_lib.analysis.workflow.retention import lifecycle_table
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Business impact
@dataclass(frozen=True)
class ImpactRule:
    """A business threshold: a KPI moving in a bad direction by more than a set amount.

    The rule fires when the recent window's mean moves in ``direction`` by at least
    ``relative`` (a share of the baseline mean) or ``absolute`` (in the KPI's units),
    whichever is given (either suffices when both are). The threshold multiple is
    ``max(change / absolute, relative change / relative)``.

    Attributes
    ----------
    metric : str
        A KPI of :func:`~analytics_lib.kpi_table`, or ``"retention"`` (the weekly share of
        the previous week's active users who are active again, from
        :func:`~analytics_lib.lifecycle_table`).
    direction : {"up", "down"}
        The bad direction.
    relative, absolute : float, optional
    """

    metric: str
    direction: str
    relative: float | None = None
    absolute: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down"):
            raise WorkbenchError(f"ImpactRule({self.metric!r}): direction={self.direction!r} must be 'up' or 'down'")
        if self.relative is None and self.absolute is None:
            raise WorkbenchError(f"ImpactRule({self.metric!r}): give relative= and/or absolute=")
        for v in (self.relative, self.absolute):
            if v is not None and not v > 0:
                raise WorkbenchError(f"ImpactRule({self.metric!r}): thresholds must be positive")


#: The default business thresholds (recent 7 days against the 28 days before).
DEFAULT_IMPACT_RULES: tuple[ImpactRule, ...] = (
    ImpactRule("error_rate", "up", relative=0.25, absolute=0.01),
    ImpactRule("latency_p95", "up", relative=0.20),
    ImpactRule("cache_hit_rate", "down", absolute=0.05),
    ImpactRule("satisfaction", "down", absolute=0.20),
    ImpactRule("events", "down", relative=0.20),
    ImpactRule("active_users", "down", relative=0.15),
    ImpactRule("accepts", "down", relative=0.20),
    ImpactRule("cost_per_accept", "up", relative=0.20),
    ImpactRule("cost_usd", "up", relative=0.30),
    ImpactRule("retention", "down", absolute=0.05),
)


def _retention(events: pd.DataFrame) -> pd.Series:
    lc = lifecycle_table(events, granularity="W")
    prev = lc["active"].shift(1)
    return (lc["returning"] / prev.where(prev > 0)).rename("retention")


def impact_table(kpis: pd.DataFrame, *, rules: Sequence[ImpactRule] = DEFAULT_IMPACT_RULES, recent: str = "7D",
                 baseline: str = "28D", retention: pd.Series | None = None) -> pd.DataFrame:
    """Check business thresholds: the recent window against the baseline window before it.

    For each rule, the mean of the KPI's periods in the last ``recent`` of the data is
    compared with the mean over the ``baseline`` before that (``retention`` compares the last
    week with the earlier weeks of the baseline). ``p_value`` is a one-sided Mann-Whitney U
    test that the recent values are shifted in the bad direction; ``multiple`` is the
    threshold multiple (see :class:`ImpactRule`); ``breached`` when ``multiple >= 1``;
    ``severity`` grades the multiple (1.5x medium, 2.5x high, 4x critical, else low).

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`).
    rules : sequence of ImpactRule
    recent, baseline : str
        Durations.
    retention : Series, optional
        Weekly retention indexed by week (needed by a ``retention`` rule; without it that rule
        is skipped).

    Returns
    -------
    DataFrame
        One row per rule that could be evaluated: ``metric, direction, recent_start, recent_end,
        recent, baseline, change, relative_change, multiple, p_value, breached, severity,
        n_recent, n_baseline``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=35, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"error_rate": np.r_[np.full(28, 0.02), np.full(7, 0.05)]}, index=t)
    >>> r = impact_table(k, rules=[ImpactRule("error_rate", "up", relative=0.25)]).iloc[0]
    >>> bool(r["breached"]), round(float(r["multiple"]), 1), r["severity"]
    (True, 6.0, 'critical')
    """
    try:
        rec, base = pd.Timedelta(recent), pd.Timedelta(baseline)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"recent={recent!r} and baseline={baseline!r} must be durations such as '7D'") from exc
    if not isinstance(kpis.index, pd.DatetimeIndex):
        raise WorkbenchError("impact_table: kpis must be indexed by period (as kpi_table returns)")
    rows = []
    if len(kpis) == 0:
        return pd.DataFrame(rows)
    last = kpis.index.max() + pd.Timedelta("1D")
    r0, b0 = last - rec, last - rec - base
    for rule in rules:
        if rule.metric == "retention":
            if retention is None or retention.dropna().size < 3:
                continue
            ret = retention.dropna()
            recent_vals, base_vals = ret.iloc[-1:], ret.iloc[:-1].iloc[-max(1, int(base / pd.Timedelta("7D"))):]
            start, end = ret.index[-1], ret.index[-1] + pd.Timedelta("7D")
        else:
            if rule.metric not in kpis.columns:
                raise WorkbenchError(f"impact_table: rule metric {rule.metric!r} is not a KPI column")
            col = kpis[rule.metric].astype("float64")
            recent_vals = col[(col.index >= r0)].dropna()
            base_vals = col[(col.index >= b0) & (col.index < r0)].dropna()
            start, end = r0, last
        if len(recent_vals) == 0 or len(base_vals) < 2:
            continue
        rv, bv = float(recent_vals.mean()), float(base_vals.mean())
        sign = 1.0 if rule.direction == "up" else -1.0
        change = rv - bv
        rel = change / abs(bv) if bv else float("nan")
        multiples = []
        if rule.absolute is not None:
            multiples.append(sign * change / rule.absolute)
        if rule.relative is not None and np.isfinite(rel):
            multiples.append(sign * rel / rule.relative)
        multiple = max(multiples) if multiples else float("nan")
        alt = "greater" if rule.direction == "up" else "less"
        p = float(stats.mannwhitneyu(recent_vals.to_numpy(), base_vals.to_numpy(), alternative=alt).pvalue) \
            if len(recent_vals) >= 1 and len(base_vals) >= 1 else float("nan")
        rows.append({"metric": rule.metric, "direction": rule.direction, "recent_start": start, "recent_end": end,
                     "recent": rv, "baseline": bv, "change": change, "relative_change": rel, "multiple": multiple,
                     "p_value": p, "breached": bool(multiple >= 1), "n_recent": len(recent_vals),
                     "n_baseline": len(base_vals)})
    out = pd.DataFrame(rows)
    if len(out):
        grade = IMPACT_SEVERITY.grade(out["multiple"].to_numpy(dtype="float64"))
        out["severity"] = np.asarray(grade).astype(object)
        out = out[["metric", "direction", "recent_start", "recent_end", "recent", "baseline", "change",
                   "relative_change", "multiple", "p_value", "breached", "severity", "n_recent", "n_baseline"]]
    return out


# ============================================================================================
# Capacity
def outlook_table(kpis: pd.DataFrame, *, metrics: Sequence[str] = ("events", "tokens_out", "cost_usd"),
                  horizon: int | None = None, limits: Mapping[str, float] | None = None,
                  level: int = 95) -> pd.DataFrame:
    """Where volume and spend are heading: ETS forecasts per KPI, and when a limit is crossed.

    Each daily KPI is forecast ``horizon`` days ahead with damped-trend ETS (weekly
    seasonality) from :class:`~analytics_lib.forecast.Forecaster`; the forecast total is
    compared with the total of the same number of past days, and the busiest forecast day
    (``forecast_peak``, with the upper bound of its interval ``peak_upper`` on ``peak_day``)
    with the busiest past day of that span. With ``limits`` (KPI -> a daily limit),
    :func:`analytics_lib.forecast.capacity_table` gives ``crossing`` (the first forecast day
    whose mean reaches the limit), ``crossing_upper`` (the first whose upper bound does) and
    ``p_exceed`` (the chance of reaching it within the horizon). ``p_growth`` is the
    probability that the next ``horizon`` days total more than the last ones (normal
    intervals, independent steps). A backtest (2 windows of 7 days) gives the model's MASE.

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period.
    metrics : sequence of str
    horizon : int, optional
        Days ahead; default ``min(28, periods // 2)``.
    limits : dict, optional
    level : int
        Prediction interval level for the upper bound.

    Returns
    -------
    DataFrame
        ``metric, history_days, horizon, past_total, forecast_total, growth, p_growth,
        past_peak, forecast_peak, peak_upper, peak_day, limit, crossing, crossing_upper,
        p_exceed, mase``; KPIs with fewer than 15 days are left out.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=70, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"events": 1000 + 10 * np.arange(70) + 100 * (t.day_of_week < 5)}, index=t)
    >>> row = outlook_table(k, metrics=["events"], horizon=14, limits={"events": 1800}).iloc[0]
    >>> bool(row["growth"] > 0), row["crossing"] is not None
    (True, True)
    """
    from analytics_lib.forecast.estimator import Forecaster
    from analytics_lib.forecast.selection import backtest
    from analytics_lib.forecast.planning import capacity_table
    from analytics_lib.forecast.metrics import forecast_metrics

    rows = []
    lim = dict(limits or {})
    unknown = [m for m in list(metrics) + list(lim) if m not in kpis.columns]
    if unknown:
        raise WorkbenchError(f"outlook_table: {unknown} are not KPI columns")
    for metric in metrics:
        s = kpis[metric].astype("float64").dropna()
        if len(s) < 15:
            continue
        h = int(horizon or min(28, len(s) // 2))
        idx = pd.DatetimeIndex(s.index)
        ds = idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx
        long = pd.DataFrame({"unique_id": metric, "ds": ds, "y": s.to_numpy()})
        pred = Forecaster(models=["ets"], granularity="D").fit(long).predict(horizon=h, level=[level])
        mean, hi = pred["ets"].to_numpy(), pred[f"ets-hi-{level}"].to_numpy()
        sd = (hi - mean) / stats.norm.ppf(0.5 + level / 200)
        past = s.to_numpy()[-h:]
        past_total, fc_total = float(past.sum()), float(mean.sum())
        sd_total = float(np.sqrt(np.sum(sd ** 2)))
        p_growth = float(stats.norm.sf(0, loc=fc_total - past_total, scale=max(sd_total, 1e-12)))
        limit = lim.get(metric)
        crossing = crossing_upper = None
        p_exceed = float("nan")
        if limit is not None:
            cap = capacity_table(pred, float(limit), column="ets", level=level).iloc[0]
            crossing = None if pd.isna(cap["first_crossing"]) else pd.Timestamp(cap["first_crossing"])
            crossing_upper = None if pd.isna(cap["first_crossing_upper"]) else pd.Timestamp(cap["first_crossing_upper"])
            p_exceed = float(cap["probability"])
        try:
            cv = backtest(Forecaster(models=["ets"], granularity="D"), long, horizon=7, n_windows=2)
            mase = float(forecast_metrics(cv, train=long)["mase"].iloc[0])
        except WorkbenchError:
            mase = float("nan")
        peak = int(np.argmax(hi))
        rows.append({"metric": metric, "history_days": len(s), "horizon": h, "past_total": past_total,
                     "forecast_total": fc_total, "growth": fc_total / past_total - 1 if past_total else float("nan"),
                     "p_growth": p_growth, "past_peak": float(past.max()), "forecast_peak": float(mean.max()),
                     "peak_upper": float(hi[peak]), "peak_day": pd.Timestamp(pred["ds"].iloc[peak]), "limit": limit,
                     "crossing": crossing, "crossing_upper": crossing_upper, "p_exceed": p_exceed, "mase": mase})
    return pd.DataFrame(rows, columns=["metric", "history_days", "horizon", "past_total", "forecast_total", "growth",
                                       "p_growth", "past_peak", "forecast_peak", "peak_upper", "peak_day", "limit",
                                       "crossing", "crossing_upper", "p_exceed", "mase"])
