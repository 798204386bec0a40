"""DORA's four keys per team and period, and their performance tiers.

Definitions (as Google's Four Keys computes them; production deployments only):

- **deployment frequency**: successful deployments per day of the period (``deploys_per_day``);
  its bucket, as Four Keys', is *daily* when the median week has deployments on 3 or more days,
  *weekly* when it has them on at least 1 day, *monthly* when the median month has one, else
  *yearly*;
- **lead time for changes**: the median, over the changes shipped in the period, of the time from
  the change's first commit to the first successful deployment that shipped it (hours);
- **change failure rate**: the deployments of the period that caused at least one incident,
  over the successful deployments of the period;
- **time to restore service**: the median, over the incidents opened in the period and resolved,
  of the time from opening to resolution (hours).

A change belongs to the period of its deployment, an incident to the period it opened in.

Tiers (:data:`DORA_TIERS`) follow the performance levels of the *Accelerate State of DevOps
Report 2023* (DORA, Google Cloud): deployment frequency on demand (elite), between once a day
and once a week (high), between once a week and once a month (medium), less (low); lead time
under a day, a week, a month; time to restore under an hour, a day, a week; change failure rate
at most 5 %, 10 %, 15 % (the levels' reported rates, read as upper bounds). A value between two
published ranges takes the lower tier.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import check_granularity, parse_when, period_end, period_index, period_start

TIERS = ("elite", "high", "medium", "low")
#: metric -> upper bounds of elite, high and medium (lower is better), in the metric's unit.
DORA_TIERS: dict[str, tuple[float, float, float]] = {
    "lead_time_hours": (24.0, 24.0 * 7, 24.0 * 30),
    "time_to_restore_hours": (1.0, 24.0, 24.0 * 7),
    "change_failure_rate": (0.05, 0.10, 0.15),
}
#: Four Keys' deployment-frequency bucket -> tier.
FREQUENCY_TIER = {"daily": "elite", "weekly": "high", "monthly": "medium", "yearly": "low"}
DORA_METRICS = ("deployment_frequency", "lead_time_hours", "change_failure_rate", "time_to_restore_hours")


def production(data) -> pd.DataFrame:
    """The successful production deployments of validated delivery events (``DeliveryData``).

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> d = synthetic_delivery(seed=0).data
    >>> len(production(d)) < len(d.deployments)  # the failed attempts are left out
    True
    """
    d = data.deployments
    return d[(d["status"] == "success") & (d["environment"] == "production")]


def change_lead_times(data) -> pd.DataFrame:
    """Per shipped change: its first successful production deployment and its lead time.

    Parameters
    ----------
    data : DeliveryData
        From :func:`~analytics_lib.data.delivery.validate_delivery`.

    Returns
    -------
    DataFrame
        ``change_id, team, committed_at, deploy_id, deployed_at, lead_time_hours`` (the team is
        the deployment's).

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> lt = change_lead_times(synthetic_delivery(seed=0).data)
    >>> bool((lt["lead_time_hours"] >= 0).all()), lt["change_id"].is_unique
    (True, True)
    """
    prod = production(data)[["deploy_id", "team", "deployed_at"]]
    shipped = data.links.merge(prod, on="deploy_id").sort_values(["deployed_at", "deploy_id"], kind="stable")
    first = shipped.drop_duplicates("change_id", keep="first")
    out = first.merge(data.changes[["change_id", "committed_at"]], on="change_id")
    out["lead_time_hours"] = (out["deployed_at"] - out["committed_at"]).dt.total_seconds() / 3600.0
    return out[["change_id", "team", "committed_at", "deploy_id", "deployed_at", "lead_time_hours"]] \
        .reset_index(drop=True)


def failed_deployments(data) -> pd.Series:
    """Whether each successful production deployment caused an incident (indexed by ``deploy_id``).

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> bool(0 < failed_deployments(synthetic_delivery(seed=0).data).mean() < 0.3)
    True
    """
    prod = production(data)
    return prod["deploy_id"].isin(data.incidents["deploy_id"]).set_axis(prod["deploy_id"].to_numpy())


def dora_metrics(data, *, granularity: str = "W", by: str | None = "team") -> pd.DataFrame:
    """The four keys per team (``by``) and period.

    Parameters
    ----------
    data : DeliveryData
        Validated delivery events.
    granularity : str
        ``"D"`` days, ``"W"`` weeks from Monday (default) or ``"M"`` months (UTC).
    by : str or None
        ``"team"`` (default), ``"service"`` or None for the whole organisation.

    Returns
    -------
    DataFrame
        ``[by], period, deployments, deploys_per_day, changes, lead_time_hours, failed_deployments,
        change_failure_rate, incidents_restored, time_to_restore_hours``; a period with no
        deployment has 0 deployments and empty medians. Definitions: module docstring.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> d = synthetic_delivery(seed=0).data
    >>> m = dora_metrics(d, granularity="W")
    >>> m.columns.tolist()[:4], bool((m["change_failure_rate"].dropna() <= 1).all())
    (['team', 'period', 'deployments', 'deploys_per_day'], True)
    """
    g_ = check_granularity(granularity)
    keys = [by] if by else []
    if by and by not in data.deployments.columns:
        raise WorkbenchError(f"by={by!r}: the deployments have no such column (team, or service when given)")
    prod, lt, inc = period_frames(data, g_, by=by)
    g = [*keys, "period"]
    dep = prod.groupby(g).agg(deployments=("deploy_id", "size"), failed_deployments=("failed", "sum"))
    chg = lt.groupby(g).agg(changes=("change_id", "size"), lead_time_hours=("lead_time_hours", "median"))
    res = inc.groupby(g).agg(incidents_restored=("incident_id", "size"), time_to_restore_hours=("ttr", "median"))
    full = _grid(prod, inc, keys, g_)
    out = full.join(dep).join(chg).join(res).reset_index()
    out = with_rates(out, g_, failed="failed_deployments")
    return out[[*keys, "period", "deployments", "deploys_per_day", "changes", "lead_time_hours", "failed_deployments",
                "change_failure_rate", "incidents_restored", "time_to_restore_hours"]]


def period_frames(data, granularity: str, *, by: str | None = "team") -> tuple[pd.DataFrame, pd.DataFrame,
                                                                               pd.DataFrame]:
    """The events the four keys count, each with its ``period``: the successful production
    deployments (with ``failed``: caused an incident), the shipped changes' lead times (period of
    their deployment) and the resolved incidents (period they opened in, ``ttr`` in hours), with
    the ``by`` column when it is not ``team``.

    Parameters
    ----------
    data : DeliveryData
    granularity : str
        ``"D"``, ``"W"`` or ``"M"`` (checked).
    by : str or None
        The group column.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> prod, lt, inc = period_frames(synthetic_delivery(seed=0).data, "W")
    >>> {"period", "failed"} <= set(prod), {"period", "ttr"} <= set(inc)
    (True, True)
    """
    prod = production(data).copy()
    prod["period"] = period_start(prod["deployed_at"], granularity)
    prod["failed"] = prod["deploy_id"].isin(data.incidents["deploy_id"])
    lt = change_lead_times(data).merge(prod[["deploy_id", *([by] if by and by != "team" else [])]], on="deploy_id")
    lt["period"] = period_start(lt["deployed_at"], granularity)
    inc = data.incidents[data.incidents["resolved_at"].notna()].copy()
    if by and by != "team":
        inc = inc.drop(columns=[by], errors="ignore").merge(prod[["deploy_id", by]], on="deploy_id")
    inc["period"] = period_start(inc["opened_at"], granularity)
    inc["ttr"] = (inc["resolved_at"] - inc["opened_at"]).dt.total_seconds() / 3600.0
    return prod, lt, inc


def with_rates(frame: pd.DataFrame, granularity: str, *, failed: str) -> pd.DataFrame:
    """Counts of a per-period table as integers (0 where empty), and ``deploys_per_day`` and
    ``change_failure_rate`` (``failed`` over deployments; empty without deployments).

    Parameters
    ----------
    frame : DataFrame
        ``period, deployments, <failed>, changes, incidents_restored`` (counts may be missing).
    granularity : str
        The periods' granularity (their length in days).
    failed : str
        The column of deployments that caused an incident.

    Examples
    --------
    >>> f = pd.DataFrame({"period": pd.to_datetime(["2025-06-02"], utc=True), "deployments": [14.0],
    ...                   "failed": [7.0], "changes": [None], "incidents_restored": [1.0]})
    >>> with_rates(f, "W", failed="failed")[["deploys_per_day", "change_failure_rate"]].values.tolist()
    [[2.0, 0.5]]
    """
    out = frame.copy()
    for c in ("deployments", failed, "changes", "incidents_restored"):
        out[c] = out[c].fillna(0).astype("int64")
    days = out["period"].map(lambda p: (period_end(p, granularity) - p).days)
    out["deploys_per_day"] = out["deployments"] / days
    out["change_failure_rate"] = (out[failed] / out["deployments"]).where(out["deployments"] > 0)
    return out


def _grid(prod: pd.DataFrame, inc: pd.DataFrame, keys: list[str], granularity: str) -> pd.DataFrame:
    """Every team x period from the first to the last period of the data (empty weeks count)."""
    times = pd.concat([prod["period"], inc["period"]])
    if times.empty:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[]] * (len(keys) + 1), names=[*keys, "period"]))
    periods = period_index(times.min(), times.max(), granularity)
    if not keys:
        return pd.DataFrame(index=pd.Index(periods, name="period"))
    groups = sorted(set(prod[keys[0]].dropna()) | set(inc[keys[0]].dropna()))
    return pd.DataFrame(index=pd.MultiIndex.from_product([groups, periods], names=[*keys, "period"]))


def frequency_bucket(deploy_days: pd.Series) -> str:
    """Four Keys' deployment-frequency bucket from deployment counts per day (a daily series).

    Parameters
    ----------
    deploy_days : Series
        Successful production deployments per calendar day, every day of the window (0 included),
        indexed by day.

    Examples
    --------
    >>> days = pd.Series([1, 0, 2, 1, 0, 0, 0] * 4, index=pd.date_range("2025-06-02", periods=28))
    >>> frequency_bucket(days)
    'daily'
    """
    if deploy_days.empty:
        return "yearly"
    on = deploy_days.gt(0)
    weekly = on.groupby(deploy_days.index.to_period("W")).sum()
    if weekly.median() >= 3:
        return "daily"
    if weekly.median() >= 1:
        return "weekly"
    monthly = on.groupby(deploy_days.index.to_period("M")).sum()
    return "monthly" if monthly.median() >= 1 else "yearly"


def tier(metric: str, value: float) -> str | None:
    """The DORA tier of one value (``None`` for a missing value).

    Parameters
    ----------
    metric : str
        ``lead_time_hours``, ``time_to_restore_hours`` or ``change_failure_rate``
        (deployment frequency: :data:`FREQUENCY_TIER` of its bucket).
    value : float

    Examples
    --------
    >>> tier("lead_time_hours", 30.0), tier("change_failure_rate", 0.04), tier("time_to_restore_hours", 200.0)
    ('high', 'elite', 'low')
    """
    if value is None or not np.isfinite(value):
        return None
    bounds = DORA_TIERS[metric]
    for name, bound in zip(TIERS, bounds):
        if (value < bound) if metric != "change_failure_rate" else (value <= bound):
            return name
    return TIERS[-1]


def dora_summary(data, *, by: str | None = "team", start=None, end=None) -> pd.DataFrame:
    """The four keys over a window per team, with their tiers (Four Keys shows the last 3 months).

    Parameters
    ----------
    data : DeliveryData
        Validated delivery events.
    by : str or None
        ``"team"``, ``"service"`` or None (the organisation).
    start, end : str or timestamp, optional
        The window (deployments and incidents from ``start`` to before ``end``; ISO dates or
        relative forms such as ``"-90d"``); None: all.

    Returns
    -------
    DataFrame
        ``[by], deployments, deploys_per_day, frequency, frequency_tier, lead_time_hours,
        lead_time_tier, change_failure_rate, change_failure_tier, time_to_restore_hours,
        time_to_restore_tier``.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> s = dora_summary(synthetic_delivery(seed=0).data, by=None)
    >>> s["frequency"].iloc[0] in FREQUENCY_TIER, s["lead_time_tier"].iloc[0] in TIERS
    (True, True)
    """
    prod = production(data)
    t0 = parse_when(start, name="start") if start is not None else prod["deployed_at"].min().floor("D")
    t1 = parse_when(end, name="end") if end is not None else prod["deployed_at"].max().floor("D") + pd.Timedelta(days=1)
    if pd.isna(t0) or pd.isna(t1):
        raise WorkbenchError("no successful production deployment: the four keys need some (docs/delivery.md)")
    if not prod["deployed_at"].between(t0, t1, inclusive="left").any():
        raise WorkbenchError(f"no deployment from {t0.date()} to {t1.date()}: the deployments span "
                             f"{prod['deployed_at'].min().date()} to {prod['deployed_at'].max().date()} (give start/end)")
    lt = change_lead_times(data)
    inc = data.incidents[data.incidents["resolved_at"].notna()]
    days = pd.date_range(t0.tz_convert(None), t1.tz_convert(None) - pd.Timedelta(days=1), freq="D")
    groups = [None] if not by else sorted(set(prod[by].dropna()))
    window_p = prod[prod["deployed_at"].between(t0, t1, inclusive="left")]
    window_c = lt[lt["deployed_at"].between(t0, t1, inclusive="left")]
    window_i = inc[inc["opened_at"].between(t0, t1, inclusive="left")]
    rows = []
    for group in groups:
        p, c, i = window_p, window_c, window_i
        if group is not None:
            p, i = p[p[by] == group], i[i["deploy_id"].isin(prod.loc[prod[by] == group, "deploy_id"])]
            c = c[c["deploy_id"].isin(p["deploy_id"])]
        per_day = p["deployed_at"].dt.tz_convert(None).dt.floor("D").value_counts().reindex(days, fill_value=0)
        freq = frequency_bucket(per_day)
        lead = float(c["lead_time_hours"].median()) if len(c) else np.nan
        cfr = float(p["deploy_id"].isin(data.incidents["deploy_id"]).mean()) if len(p) else np.nan
        ttr = float(((i["resolved_at"] - i["opened_at"]).dt.total_seconds() / 3600).median()) if len(i) else np.nan
        rows.append({**({by: group} if by else {}), "deployments": len(p), "deploys_per_day": len(p) / max(len(days), 1),
                     "frequency": freq, "frequency_tier": FREQUENCY_TIER[freq],
                     "lead_time_hours": lead, "lead_time_tier": tier("lead_time_hours", lead),
                     "change_failure_rate": cfr, "change_failure_tier": tier("change_failure_rate", cfr),
                     "time_to_restore_hours": ttr, "time_to_restore_tier": tier("time_to_restore_hours", ttr)})
    return pd.DataFrame(rows)
