"""Insights of every kind from events, deduplicated and ranked by impact times confidence (``ranked_insights``).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence, TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.analysis.anomaly.attribution import drill_down
from analytics_lib.analysis.anomaly.detect import detect_anomalies, incident_table
from analytics_lib.analysis.anomaly.series import KPI_KINDS, score_threshold
from analytics_lib.analysis.insights.impact import DEFAULT_IMPACT_RULES, _retention, impact_table, outlook_table
from analytics_lib.analysis.insights.model import (
    DEFAULT_METRICS, INSIGHT_KINDS, Insight, CERTAIN, SEVERITY_LEVELS, SEVERITY_WEIGHT, _KIND_ORDER, _LABELS, _RATES, _UNITS)
from analytics_lib.analysis.insights.stats import _residualized, _series_frame, correlation_table, trend_table
from analytics_lib.analysis.workflow.kpis import kpi_table
from analytics_lib.core.errors import WorkbenchError

if TYPE_CHECKING:
    from analytics_lib.analysis.insights.impact import ImpactRule


# ============================================================================================
# From tables to insights
def _label(metric: str) -> str:
    return _LABELS.get(metric, metric.replace("_", " "))


def _value(metric: str, x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if metric in _RATES:
        return f"{x:.1%}"
    if metric.startswith("latency"):
        return f"{x:,.0f} ms"
    if metric in ("cost_usd", "cost_per_accept"):
        return f"${x:,.2f}" if abs(x) >= 0.1 else f"${x:.4f}"
    if metric == "satisfaction":
        return f"{x:.2f}"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def _change(metric: str, new: float, old: float) -> str:
    if metric in _RATES:
        return f"{(new - old) * 100:+.1f} pts"
    if not old:
        return f"{new - old:+,.3g}"
    return f"{new / old - 1:+.0%}"


def _period(start: pd.Timestamp, end: pd.Timestamp) -> str:
    last = end - pd.Timedelta("1D")
    return f"on {start:%Y-%m-%d}" if last <= start else f"from {start:%Y-%m-%d} to {last:%Y-%m-%d}"


def _holiday_names(days: pd.DatetimeIndex, country: str | None) -> dict[pd.Timestamp, str]:
    if not country or len(days) == 0:
        return {}
    import holidays as _holidays

    try:
        cal = _holidays.country_holidays(country, years=sorted(set(days.year)))
    except (KeyError, NotImplementedError) as exc:
        raise WorkbenchError(f"holidays={country!r} is not a country code known to the holidays package") from exc
    return {d: cal.get(d.date()) for d in days if d.date() in cal}


def _confidence_from_p(p: float) -> float:
    """1 - p, in [0, 1] (0 for a missing p)."""
    return float(min(1.0, max(0.0, 1 - p))) if np.isfinite(p) else 0.0


def anomaly_insights(kpis: pd.DataFrame, *, events: pd.DataFrame | None = None,
                     metrics: Sequence[str] = DEFAULT_METRICS, sensitivity: str | float = "medium",
                     holidays: str | None = "US", anomalies: pd.DataFrame | None = None) -> list[Insight]:
    """One insight per incident of anomalous days, explained by a drill-down when events are given.

    Anomalies come from :func:`~analytics_lib.analysis.anomaly.detect.detect_anomalies` (``methods="auto"``,
    volume-weighted by the ``events`` column) unless given; :func:`~analytics_lib.analysis.anomaly.detect.incident_table`
    groups consecutive anomalous days across KPIs; the KPI with the largest score leads and is
    drilled into. Severity is the incident's (score bands: 5 / 8 / 12 robust SDs); impact is
    its severity weight, halved on public holidays of ``holidays`` (a calendar effect, not an
    incident). Confidence is calibrated on the data itself: 1 minus the incident's smallest
    p-value, ``1 - probability`` of ``detect_anomalies(..., calibrated=True)``: how often the
    window's other KPI-days (every KPI, other incidents included) reach its score, with a
    fitted tail beyond the largest of them. A robust z of 6 among jumpy KPIs earns less
    confidence than among quiet ones, and an incident among several is rated more modestly.
    Multiplicity is the detector's business (its threshold sets the false-alarm rate per
    KPI-day), not the confidence's. Given ``anomalies`` without ``probability``, the two-sided
    normal p-value of the peak score is used.

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`); its ``events`` column,
        when present, is the volume that weights the detection.
    events : DataFrame, optional
        Validated events for the drill-down into each incident's leading KPI; None (default):
        no drill-down.
    metrics : sequence of str
        The KPIs to check (default ``DEFAULT_METRICS``); those that are not columns of ``kpis``
        are skipped.
    sensitivity : {"low", "medium", "high"} or float
        Detection sensitivity, as in :func:`~analytics_lib.analysis.anomaly.detect.score_threshold` (default
        ``"medium"``); unused when ``anomalies`` is given.
    holidays : str, optional
        Country code of the public holidays that halve an incident's impact (default ``"US"``);
        None: no holiday check.
    anomalies : DataFrame, optional
        A :func:`~analytics_lib.analysis.anomaly.detect.detect_anomalies` result to use instead of detecting
        anomalies here (default None).

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> data = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> k = kpi_table(data.events)
    >>> ins = anomaly_insights(k, events=data.events, metrics=["error_rate", "latency_p95"])
    >>> data.truth.incident_model in ins[0].recommendation
    True
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if not metrics:
        return []
    if anomalies is None:
        volume = "events" if "events" in kpis.columns else None
        anomalies = detect_anomalies(kpis, metrics=metrics, sensitivity=sensitivity, volume=volume, calibrated=True)
    if anomalies.empty:
        return []
    incidents = incident_table(anomalies, step="1D")
    n_tests = int(kpis[metrics].notna().to_numpy().sum())
    names = _holiday_names(pd.DatetimeIndex(pd.to_datetime(anomalies["timestamp"]).dt.normalize().unique()), holidays)
    out = []
    for _, inc in incidents.iterrows():  # one insight per incident (a handful)
        start, end = pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])
        rows = anomalies[(anomalies["timestamp"] >= start) & (anomalies["timestamp"] < end)]
        lead = str(inc["peak_metric"])
        lead_rows = rows[rows["metric"] == lead]
        obs = float(lead_rows["observed"].mean())
        exp = float(lead_rows["expected"].mean())
        days = pd.DatetimeIndex(pd.to_datetime(rows["timestamp"]).dt.normalize().unique())
        hol = sorted({names[d] for d in days if d in names})
        others = []
        for metric, g in rows[rows["metric"] != lead].groupby("metric", sort=False):  # few metrics
            others.append(f"{_label(metric)} {_change(metric, g['observed'].mean(), g['expected'].mean())}")
        title = f"{_label(lead)} {_change(lead, obs, exp)} {_period(start, end)}"
        desc = (f"{_label(lead).capitalize()}: {_value(lead, obs)} against {_value(lead, exp)} expected "
                f"({inc['score']:+.1f} robust SDs at the peak, {inc['periods']} anomalous day(s)).")
        if others:
            desc += " Also: " + ", ".join(others) + "."
        if "probability" in rows.columns:  # calibrated on the window's other KPI-days
            p_value = float((1.0 - rows["probability"]).min())
        else:  # two-sided, normal
            p_value = float(2 * stats.norm.sf(abs(float(inc["score"]))))
        confidence = _confidence_from_p(p_value)
        evidence: dict[str, Any] = {"observed": obs, "expected": exp, "peak_score": float(inc["score"]),
                                    "p_value": p_value, "tests": n_tests,
                                    "metrics": str(inc["metrics"]).split(","), "days": [d.isoformat() for d in days],
                                    "methods": sorted(set(",".join(rows.get("methods", rows["method"])).split(",")))}
        rec = (f"Look at {_label(lead)} {_period(start, end)}: {_value(lead, obs)} instead of about "
               f"{_value(lead, exp)}.")
        if events is not None and lead in KPI_KINDS:
            try:
                att = drill_down(events, metric=lead, start=start, end=end,
                                 exclude=[(r["start"], r["end"]) for _, r in incidents.iterrows()
                                          if r["start"] != start])
            except WorkbenchError as exc:
                evidence["drill_down"] = f"not available: {exc}"
                att = None
            if att is not None and not att.top:
                word = "excess" if inc["score"] >= 0 else "drop"
                desc += (f" The {word} is broad: every team, model, feature and event type moved in proportion "
                         "to its size.")
                evidence["drill_down"] = {"headline": att.headline,
                                          "segments": att.segments.head(8).round(6).to_dict(orient="records")}
            if att is not None and att.top:
                top = att.top
                share = top["contribution"]
                word = "excess" if inc["score"] >= 0 else "drop"
                desc += f" {min(share, 1.0):.0%} of the {word} comes from {top['segment']} ({top['dimension']})."
                rec = (f"Investigate {top['segment']} ({top['dimension']}) {_period(start, end)}: its "
                       f"{_label(lead)} came to {_value(lead, top['observed'])} against "
                       f"{_value(lead, top['expected'])} in the baseline; it carries {top['exposure']:.0%} of the "
                       f"{_UNITS.get(lead, 'events')} but "
                       f"explains {min(share, 1.0):.0%} of the {word}.")
                evidence["drill_down"] = {"headline": att.headline, "top": top,
                                          "segments": att.segments.head(8).round(6).to_dict(orient="records")}
        severity = str(inc["severity"])
        impact = SEVERITY_WEIGHT[severity]
        if hol:
            impact *= 0.5
            desc += f" The day is a public holiday ({', '.join(hol)})."
            rec = (f"Expected calendar effect ({', '.join(hol)}): leave these days out of targets and baselines; "
                   + rec)
            evidence["holidays"] = hol
        out.append(Insight(kind="anomaly", title=title, description=desc, severity=severity,
                           confidence=confidence, impact=impact, metric=lead,
                           start=start, end=end, recommendation=rec, evidence=evidence))
    return out


def trend_insights(kpis: pd.DataFrame, *, events: pd.DataFrame | None = None,
                   metrics: Sequence[str] = DEFAULT_METRICS, alpha: float = 0.05,
                   min_change: float = 0.01) -> list[Insight]:
    """Insights for KPIs with a significant trend of at least ``min_change`` per week.

    Severity grades the total change over the window (under 10 % low, 10 % medium, 25 % high,
    50 % critical); impact is its severity weight (times 0.6 when the KPI moves in its good
    direction); confidence is ``1 - p``. With ``events``, the last third of the window is
    drilled into against the first two thirds to name the segment that drives the trend.

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`).
    events : DataFrame, optional
        Validated events for the drill-down; None (default): no drill-down.
    metrics : sequence of str
        The KPIs to check (default ``DEFAULT_METRICS``); those that are not columns of ``kpis``
        are skipped.
    alpha : float
        Significance level of the trend tests (:func:`trend_table`; default 0.05).
    min_change : float
        Smallest ``|change_per_week|`` reported, as a share of the KPI's mean level (default
        0.01, 1 % per week).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=56, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"events": 1000 + 10 * np.arange(56) + np.random.default_rng(0).normal(0, 20, 56)}, index=t)
    >>> trend_insights(k, metrics=["events"])[0].title
    'events up 5.6% per week'
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if not metrics:
        return []
    table = trend_table(kpis, metrics=metrics, alpha=alpha)
    out = []
    for _, r in table[table["significant"]].iterrows():  # one per metric
        if not abs(r["change_per_week"]) >= min_change:
            continue
        metric = r["metric"]
        total = abs(r["total_change"])
        severity = "critical" if total >= 0.5 else "high" if total >= 0.25 else "medium" if total >= 0.10 else "low"
        how = ("a linear regression with weekday effects (HAC standard errors)" if r["method"] == "linear"
               else "the Mann-Kendall test with Sen's slope (the series is not linear)")
        fit = f"R² {r['r2']:.2f}, " if r["method"] == "linear" else f"Kendall tau {r['mk_tau']:.2f}, "
        slope = _delta(metric, r["slope"])
        desc = (f"{_label(metric).capitalize()} moved {slope} per day over {r['n']} days "
                f"({r['total_change']:+.0%} over the window), by {how}: {fit}p = {r['p']:.2g}.")
        bad = _bad_direction(metric)
        worse = bad is not None and r["direction"] == bad
        start, end = pd.Timestamp(r["start"]), pd.Timestamp(r["end"]) + pd.Timedelta("1D")
        rec = (f"{'Act on' if worse else 'Plan for'} the {r['direction']}ward trend of {_label(metric)}: at this "
               f"rate it changes by {r['change_per_week']:+.1%} a week, {_delta(metric, r['slope'] * 28)} over the "
               f"next 4 weeks (from {_value(metric, r['level'])} on average).")
        evidence = {k: r[k] for k in ("n", "slope_per_day", "r2", "p_value", "p_quadratic", "mk_tau", "mk_p_value",
                                      "sen_slope_per_day", "method", "change_per_week", "total_change")}
        if events is not None and metric in KPI_KINDS:
            span = end - start
            cut = (start + span * 2 / 3).floor("D")
            try:
                att = drill_down(events, metric=metric, start=cut, end=end, baseline=f"{(cut - start).days}D",
                                 side="before")
            except WorkbenchError:
                att = None
            if att is not None and att.top:
                top = att.top
                rec += (f" The change is concentrated in {top['segment']} ({top['dimension']}): "
                        f"{_value(metric, top['expected'])} -> {_value(metric, top['observed'])} between the first two "
                        f"thirds and the last third of the window, {min(top['contribution'], 1.0):.0%} of the change.")
                evidence["drill_down"] = {"headline": att.headline, "top": top}
            elif att is not None:
                rec += " The change is broad: no team, model, feature or event type stands out against its size."
        title = f"{_label(metric)} {r['direction']} {abs(r['change_per_week']):.1%} per week"
        out.append(Insight(kind="trend", title=title,
                           description=desc, severity=severity, confidence=float(1 - r["p"]),
                           impact=SEVERITY_WEIGHT[severity] * (1.0 if worse or bad is None else 0.6), metric=metric,
                           start=start, end=end, recommendation=rec, evidence=evidence))
    return out


def _delta(metric: str, x: float) -> str:
    """A signed change in the KPI's units."""
    if metric in _RATES:
        return f"{x * 100:+.2f} pts"
    if metric in ("cost_usd", "cost_per_accept"):
        return f"{'+' if x >= 0 else '-'}${abs(x):,.4g}"
    if metric.startswith("latency"):
        return f"{x:+,.0f} ms"
    return f"{x:+,.3g}"


def _bad_direction(metric: str) -> str | None:
    for rule in DEFAULT_IMPACT_RULES:
        if rule.metric == metric:
            return rule.direction
    return None


def correlation_insights(kpis: pd.DataFrame, *, metrics: Sequence[str] = DEFAULT_METRICS, alpha: float = 0.05,
                         min_abs: float = 0.3, top: int = 5) -> list[Insight]:
    """Insights for KPI pairs that co-move beyond trend and weekday pattern (BH-controlled).

    Pairs need both Benjamini-Hochberg q-values at most ``alpha`` (see
    :func:`correlation_table`) and ``|rho| >= min_abs``; the ``top`` strongest are kept.
    Impact is half of ``|rho|`` (a correlation points where to look, it is not a cause);
    severity is medium from ``|rho| >= 0.5``, else low; confidence is ``1 - max(q)``.

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`).
    metrics : sequence of str
        The KPIs to pair (default ``DEFAULT_METRICS``); those that are not columns of ``kpis``
        are skipped, and fewer than two give no insight.
    alpha : float
        Largest Benjamini-Hochberg q-value, for both Pearson and Spearman (default 0.05).
    min_abs : float
        Smallest ``|rho|`` (Spearman) reported (default 0.3).
    top : int
        Most pairs reported, strongest first (default 5).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = pd.date_range("2024-01-01", periods=60, freq="D", tz="UTC")
    >>> x = rng.normal(size=60)
    >>> k = pd.DataFrame({"error_rate": 0.03 + 0.01 * x, "satisfaction": 4 - 0.2 * x + rng.normal(0, 0.1, 60)}, index=t)
    >>> correlation_insights(k)[0].metric
    'error_rate ~ satisfaction'
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if len(metrics) < 2:
        return []
    table = correlation_table(kpis, metrics=metrics, alpha=alpha)
    table = table[table["significant"] & (table["spearman_rho"].abs() >= min_abs)].head(top)
    resid = _residualized(_series_frame(kpis, metrics), None)
    out = []
    for _, r in table.iterrows():  # at most `top`
        a, b = r["a"], r["b"]
        pair = resid[[a, b]].dropna()
        slope = float(np.polyfit(pair[a], pair[b], 1)[0]) if len(pair) > 2 and pair[a].std() > 0 else float("nan")
        sd_a = float(pair[a].std())
        sign = "together" if r["spearman_rho"] > 0 else "in opposite directions"
        desc = (f"Beyond trend and weekday pattern, {_label(a)} and {_label(b)} move {sign} day to day: Spearman "
                f"rho {r['spearman_rho']:+.2f}, Pearson r {r['pearson_r']:+.2f} over {r['n']} days "
                f"(BH q = {max(r['pearson_q'], r['spearman_q']):.2g}).")
        rec = (f"On days when {_label(a)} is one standard deviation ({_value(a, sd_a)}) above its usual level, "
               f"{_label(b)} is {_value(b, slope * sd_a) if b not in _RATES else f'{slope * sd_a * 100:+.2f} pts'} "
               f"{'higher' if slope > 0 else 'lower'} than usual on average; check whether one drives the other "
               f"before acting (correlation is not causation).")
        rho = abs(float(r["spearman_rho"]))
        title = f"{_label(a)} and {_label(b)} co-move (rho {r['spearman_rho']:+.2f})"
        out.append(Insight(kind="correlation", title=title,
                           description=desc, severity="medium" if rho >= 0.5 else "low",
                           confidence=float(1 - max(r["pearson_q"], r["spearman_q"])), impact=0.5 * rho,
                           metric=f"{a} ~ {b}", start=pd.Timestamp(kpis.index.min()),
                           end=pd.Timestamp(kpis.index.max()) + pd.Timedelta("1D"), recommendation=rec,
                           evidence={k: r[k] for k in ("n", "pearson_r", "pearson_p", "pearson_q", "spearman_rho",
                                                       "spearman_p", "spearman_q")} | {"slope": slope}))
    return out


def impact_insights(kpis: pd.DataFrame, *, events: pd.DataFrame | None = None,
                    rules: Sequence[ImpactRule] = DEFAULT_IMPACT_RULES, recent: str = "7D",
                    baseline: str = "28D") -> list[Insight]:
    """Insights for breached business thresholds, with the segment behind each when events are given.

    Severity grades the threshold multiple (1.5x medium, 2.5x high, 4x critical); impact is
    ``min(1, multiple / 4)``; confidence is ``1 - p`` of the one-sided Mann-Whitney test.

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`).
    events : DataFrame, optional
        Validated events for the drill-down into each breach and for the weekly retention of a
        ``"retention"`` rule; None (default): no drill-down, and a ``"retention"`` rule is skipped.
    rules : sequence of ImpactRule
        The thresholds (default ``DEFAULT_IMPACT_RULES``); rules on KPIs that are not columns of
        ``kpis`` are skipped.
    recent, baseline : str
        Pandas durations of the recent window at the end of the data and of the baseline window
        before it (default ``"7D"`` and ``"28D"``).

    Examples
    --------
    >>> from analytics_lib.analysis.insights.impact import ImpactRule
    >>> t = pd.date_range("2024-01-01", periods=35, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"error_rate": np.r_[np.full(28, 0.02), np.full(7, 0.05)]}, index=t)
    >>> impact_insights(k, rules=[ImpactRule("error_rate", "up", relative=0.25)])[0].title
    'error rate up +3.0 pts in the last 7 days (threshold 25%)'
    """
    retention = _retention(events) if events is not None and any(r.metric == "retention" for r in rules) else None
    rules = [r for r in rules if r.metric in kpis.columns or r.metric == "retention"]
    table = impact_table(kpis, rules=rules, recent=recent, baseline=baseline, retention=retention)
    out = []
    if table.empty:
        return out
    days = int(pd.Timedelta(recent) / pd.Timedelta("1D"))
    for _, r in table[table["breached"]].iterrows():  # a handful of rules
        metric = r["metric"]
        rule = next(x for x in rules if x.metric == metric)
        threshold = " or ".join(t for t in (f"{rule.relative:.0%}" if rule.relative else "",
                                            (f"{rule.absolute * 100:.1f} pts" if metric in _RATES
                                             else f"{rule.absolute:g}")
                                            if rule.absolute else "") if t)
        title = (f"{_label(metric)} {'up' if r['change'] > 0 else 'down'} "
                 f"{_change(metric, r['recent'], r['baseline'])} "
                 f"in the last {days if metric != 'retention' else 7} days (threshold {threshold})")
        desc = (f"{_label(metric).capitalize()} averaged {_value(metric, r['recent'])} against "
                f"{_value(metric, r['baseline'])} in the {r['n_baseline']} periods before: {r['multiple']:.1f}x the "
                f"threshold (one-sided Mann-Whitney p = {r['p_value']:.2g}).")
        rec = f"Bring {_label(metric)} back to about {_value(metric, r['baseline'])}."
        evidence = {k: r[k] for k in ("recent", "baseline", "change", "relative_change", "multiple", "p_value",
                                      "n_recent", "n_baseline")}
        if events is not None and metric in KPI_KINDS:
            try:
                att = drill_down(events, metric=metric, start=r["recent_start"], end=r["recent_end"],
                                 baseline=baseline)
            except WorkbenchError as exc:
                att = None
                evidence["drill_down"] = f"not available: {exc}"
            if att is not None and att.top and att.top["contribution"] > 0:
                top = att.top
                rec = (f"Start with {top['segment']} ({top['dimension']}): its {_label(metric)} moved from "
                       f"{_value(metric, top['expected'])} to {_value(metric, top['observed'])} and explains "
                       f"{min(top['contribution'], 1.0):.0%} of the change; bring {_label(metric)} back to about "
                       f"{_value(metric, r['baseline'])}.")
                evidence["drill_down"] = {"headline": att.headline, "top": top}
        if metric in ("cost_usd",):
            evidence["extra_usd_per_week"] = float(r["change"] * 7)
            rec += f" At this level it costs ${r['change'] * 7:,.2f} more per week."
        sev = str(r["severity"])
        out.append(Insight(kind="business_impact", title=title, description=desc, severity=sev,
                           confidence=float(1 - r["p_value"]) if np.isfinite(r["p_value"]) else 0.5,
                           impact=float(min(1.0, r["multiple"] / 4)), metric=metric,
                           start=pd.Timestamp(r["recent_start"]), end=pd.Timestamp(r["recent_end"]),
                           recommendation=rec, evidence=evidence))
    return out


def capacity_insights(kpis: pd.DataFrame, *, metrics: Sequence[str] = ("events", "tokens_out", "cost_usd"),
                      horizon: int | None = None, limits: Mapping[str, float] | None = None,
                      min_growth: float = 0.05) -> list[Insight]:
    """Insights for forecast growth of at least ``min_growth`` and for limits crossed within the horizon.

    Severity: a limit crossed by the forecast is high (critical when ``p_exceed >= 0.9``), by
    its upper bound only medium; growth is low under 15 %, medium under 30 %, high above.
    Impact is the severity weight; confidence is the forecast probability of growth (or of
    exceeding the limit), scaled down by the backtest MASE when it is above 1 (a model worse
    than the seasonal naive one earns less trust).

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`).
    metrics : sequence of str
        The KPIs to forecast (default ``events``, ``tokens_out``, ``cost_usd``); those that are
        not columns of ``kpis`` are skipped.
    horizon : int, optional
        Days ahead; None (default): ``min(28, periods // 2)``.
    limits : mapping of str to float, optional
        A daily limit per KPI (``{"events": 50_000}``), in the KPI's units; default none.
    min_growth : float
        Smallest ``|growth|`` (forecast total over the past total of as many days, minus 1)
        reported for a KPI whose limit is not reached (default 0.05, 5 %).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=70, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"events": 1000 + 10 * np.arange(70) + 100 * (t.day_of_week < 5)}, index=t)
    >>> capacity_insights(k, metrics=["events"], horizon=14, limits={"events": 1800})[0].kind
    'capacity'
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if not metrics:
        return []
    table = outlook_table(kpis, metrics=metrics, horizon=horizon, limits=limits)
    out = []
    for _, r in table.iterrows():  # a few metrics
        metric = r["metric"]
        trust = 1.0 if not np.isfinite(r["mase"]) or r["mase"] <= 1 else 1.0 / r["mase"]
        crossing = r["crossing"] if r["crossing"] is not None and not pd.isna(r["crossing"]) else None
        early = r["crossing_upper"] if r["crossing_upper"] is not None and not pd.isna(r["crossing_upper"]) else None
        if crossing is not None or early is not None:
            sev = "critical" if crossing is not None and r["p_exceed"] >= 0.9 else "high" if crossing is not None \
                else "medium"
            when = crossing if crossing is not None else early
            title = (f"{_label(metric)} forecast to {'exceed' if crossing is not None else 'possibly exceed'} "
                     f"{_value(metric, r['limit'])}/day around {when:%Y-%m-%d}")
            conf = float(r["p_exceed"]) * trust
        elif abs(r["growth"]) >= min_growth:
            g = abs(r["growth"])
            sev = "high" if g >= 0.30 else "medium" if g >= 0.15 else "low"
            title = f"{_label(metric)} forecast {r['growth']:+.0%} over the next {r['horizon']} days"
            conf = (r["p_growth"] if r["growth"] > 0 else 1 - r["p_growth"]) * trust
        else:
            continue
        desc = (f"Damped-trend ETS with weekly seasonality on {r['history_days']} days: "
                f"{_value(metric, r['forecast_total'])} over the next {r['horizon']} days against "
                f"{_value(metric, r['past_total'])} over the last {r['horizon']}; the busiest forecast day "
                f"({r['peak_day']:%Y-%m-%d}) is {_value(metric, r['forecast_peak'])} (upper 95%: "
                f"{_value(metric, r['peak_upper'])}) against a busiest past day of {_value(metric, r['past_peak'])}. "
                f"Backtest MASE {r['mase']:.2f}.")
        rec = (f"Provision for {_value(metric, r['peak_upper'])} {_label(metric)} on the busiest day of the next "
               f"{r['horizon']} days (the upper 95% bound of the forecast peak)")
        if crossing is not None:
            rec += f"; the limit of {_value(metric, r['limit'])} is reached around {crossing:%Y-%m-%d}."
        elif early is not None:
            rec += (f"; the upper bound reaches the limit of {_value(metric, r['limit'])} from {early:%Y-%m-%d} "
                    f"(probability {r['p_exceed']:.0%}).")
        else:
            rec += "."
        last = pd.Timestamp(kpis.index.max()) + pd.Timedelta("1D")
        out.append(Insight(kind="capacity", title=title, description=desc, severity=sev,
                           confidence=float(max(0.0, min(1.0, conf))), impact=SEVERITY_WEIGHT[sev], metric=metric,
                           start=last, end=last + pd.Timedelta(days=int(r["horizon"])), recommendation=rec,
                           evidence={k: r[k] for k in ("history_days", "horizon", "past_total", "forecast_total",
                                                       "growth", "p_growth", "past_peak", "forecast_peak",
                                                       "peak_upper", "peak_day", "limit", "p_exceed", "mase")}
                           | {"crossing": crossing, "crossing_upper": early}))
    return out


def _overlaps(a: Insight, b: Insight) -> bool:
    if a.start is None or b.start is None or a.end is None or b.end is None:
        return False
    return a.start < b.end and b.start < a.end


def _deduplicated(insights: list[Insight]) -> list[Insight]:
    """Drop repeats: the same title, and a business-impact breach on a metric whose anomaly
    incident overlaps it (the incident insight already tells it, with its drill-down) when
    the anomaly ranks higher; the dropped insight is named in the kept one's evidence."""
    seen: set[tuple[str, str]] = set()
    kept: list[Insight] = []
    for ins in sorted(insights, key=lambda x: -x.score):
        key = (ins.kind, ins.title)
        if key in seen:
            continue
        twin = next((k for k in kept if {k.kind, ins.kind} == {"anomaly", "business_impact"}
                     and (ins.metric == k.metric or ins.metric in k.evidence.get("metrics", []))
                     and _overlaps(k, ins)), None)
        if twin is not None:
            twin.evidence.setdefault("related", []).append(ins.title)
            continue
        seen.add(key)
        kept.append(ins)
    return kept


def ranked_insights(events: pd.DataFrame, *, sensitivity: str | float = "medium",
                    metrics: Sequence[str] = DEFAULT_METRICS, rules: Sequence[ImpactRule] = DEFAULT_IMPACT_RULES,
                    recent: str = "7D", baseline: str = "28D", alpha: float = 0.05, holidays: str | None = "US",
                    limits: Mapping[str, float] | None = None, kinds: Sequence[str] = INSIGHT_KINDS,
                    top: int | None = None) -> list[Insight]:
    """All insights for an event log: anomalies, trends, correlations, business impact, capacity.

    Daily KPIs (:func:`~analytics_lib.kpi_table`) feed every kind; anomalies and business
    impact are explained with :func:`~analytics_lib.analysis.anomaly.attribution.drill_down` on the events.
    Duplicates are dropped (a threshold breach that an anomaly incident on the same KPI and
    days already reports is folded into it) and the rest ranked by ``impact x confidence``, with
    confidences from ``CERTAIN`` (0.99) up counting as certain (0.9995 and 1.0 say the same),
    then severity, then kind (anomaly, business impact, capacity, trend, correlation: the more
    acute first).

    Parameters
    ----------
    events : DataFrame
        Validated events.
    sensitivity : str or float
        For the anomaly detectors (see :func:`~analytics_lib.analysis.anomaly.detect.score_threshold`).
    metrics : sequence of str
        KPIs for anomalies, trends and correlations.
    rules : sequence of ImpactRule
    recent, baseline : str
        Windows of the business-impact comparison.
    alpha : float
        Significance level (trends) and false discovery rate (correlations).
    holidays : str or None
        Country code for public holidays (``holidays`` package), or None.
    limits : dict, optional
        Daily capacity limits per KPI (``{"tokens_out": 2e6}``).
    kinds : sequence of str
        The insight kinds to build.
    top : int, optional
        Keep only the first ``top``.

    Returns
    -------
    list of Insight
        Best first.

    Raises
    ------
    WorkbenchError
        For an empty log, an unknown kind or a bad parameter.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> data = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> best = ranked_insights(data.events, kinds=["anomaly"], metrics=["error_rate", "latency_p95"])[0]
    >>> best.kind, best.severity, data.truth.incident_team in best.recommendation
    ('anomaly', 'critical', True)
    """
    score_threshold(sensitivity)
    unknown = [k for k in kinds if k not in INSIGHT_KINDS]
    if unknown:
        raise WorkbenchError(f"kinds {unknown} are not known: use {', '.join(INSIGHT_KINDS)}")
    if events.empty:
        raise WorkbenchError("ranked_insights: there are no events; widen the window or check the source")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise WorkbenchError(f"top={top!r} must be a positive integer")
    kpis = kpi_table(events, granularity="D")
    found: list[Insight] = []
    if "anomaly" in kinds:
        found += anomaly_insights(kpis, events=events, metrics=metrics, sensitivity=sensitivity, holidays=holidays)
    if "business_impact" in kinds:
        found += impact_insights(kpis, events=events, rules=rules, recent=recent, baseline=baseline)
    if "trend" in kinds:
        found += trend_insights(kpis, events=events, metrics=metrics, alpha=alpha)
    if "correlation" in kinds:
        found += correlation_insights(kpis, metrics=metrics, alpha=alpha)
    if "capacity" in kinds:
        found += capacity_insights(kpis, limits=limits)
    ranked = sorted(_deduplicated(found), key=lambda x: (-round(x.impact * min(x.confidence, CERTAIN), 6), -SEVERITY_LEVELS.index(x.severity),
                                                         _KIND_ORDER.index(x.kind), x.title))
    return ranked[:top] if top else ranked
