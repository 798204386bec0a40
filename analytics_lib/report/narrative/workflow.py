"""The workflow notebook's narrative: one paragraph per section, every number from the results.

Values from the data (team, model, feature, step names) are escaped (:func:`~analytics_lib.core.markup.md_escape`)
and money is written with an escaped dollar (:func:`~analytics_lib.report.narrative.text.money`), so
that a report shows the text as written and no Markdown math.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pandas as pd

from analytics_lib.core.markup import md_escape
from analytics_lib.report.narrative.text import money, share

if TYPE_CHECKING:
    from analytics_lib.analysis.insights.model import Insight
    from analytics_lib.data.validation import ValidationSummary


def insights_markdown(insights: Sequence[Insight], *, top: int | None = 10) -> str:
    """The insights as a numbered Markdown list: headline, kind, severity, confidence, evidence
    and recommendation, one item each (for notebooks and reports).

    Examples
    --------
    >>> from analytics_lib import Insight
    >>> print(insights_markdown([Insight("trend", "Events +3%/week", "Linear, p = 0.001.", "medium",
    ...                                  0.99, 0.5, "events", None, None, "Plan capacity.")]))
    1. **Events +3%/week** (trend, medium, confidence 99%). Linear, p = 0.001. *Recommendation:* Plan capacity.

    Values from the data are shown literally (:func:`~analytics_lib.core.markup.md_escape`): a
    segment called ``<b>x</b>`` is not bold.
    """
    shown = list(insights)[:top] if top else list(insights)
    if not shown:
        return ("No insight passed the thresholds: nothing unusual, no significant trend or correlation, "
                "no threshold breached.")
    e = md_escape  # titles and descriptions name teams, features and models from the data
    return "\n".join(f"{i}. **{e(x.title)}** ({x.kind.replace('_', ' ')}, {x.severity}, confidence {x.confidence:.0%}). "
                     f"{e(x.description)} *Recommendation:* {e(x.recommendation)}" for i, x in enumerate(shown, start=1))


def data_summary(summary: ValidationSummary, dates: object) -> str:
    """What was loaded: events kept in the window, rows quarantined, rows outside the window.

    Parameters
    ----------
    summary : ValidationSummary
        ``load_events(...).summary`` (or the engine's).
    dates : TimeWindow or str
        The window, as it should read.

    Returns
    -------
    str

    Examples
    --------
    >>> from analytics_lib import ValidationSummary
    >>> data_summary(ValidationSummary("db", 120, 100, 5, 15), "2025-06-01 .. 2025-06-29")
    '**100** events in the window 2025-06-01 .. 2025-06-29 (5 rows quarantined, 15 outside the window or team filter).'
    """
    return (f"**{summary.rows_kept:,}** events in the window {dates} ({summary.rows_quarantined:,} rows quarantined, "
            f"{summary.rows_outside_window:,} outside the window or team filter).")


def anomaly_summary(anomalies: pd.DataFrame, daily: pd.DataFrame, *, sensitivity: str | float,
                    threshold: float) -> str:
    """How many KPI-days were anomalous, at which sensitivity, over how many days.

    Parameters
    ----------
    anomalies : DataFrame
        ``detect_anomalies(...)`` on the daily KPIs: one row per anomalous KPI-day.
    daily : DataFrame
        The daily KPIs the detectors ran on.
    sensitivity : str or float
        The sensitivity asked for.
    threshold : float
        Its ``|score|`` threshold (``score_threshold(sensitivity)``).

    Returns
    -------
    str

    Examples
    --------
    >>> anomaly_summary(pd.DataFrame({"metric": ["events"]}), pd.DataFrame(index=range(28)), sensitivity="medium",
    ...                 threshold=3.5)
    '1 anomalous KPI-days at sensitivity *medium* (|score| threshold 3.5 robust standard deviations, widened for short windows) over 28 days.'
    """
    return (f"{len(anomalies)} anomalous KPI-days at sensitivity *{md_escape(sensitivity)}* (|score| threshold "
            f"{threshold:g} robust standard deviations, widened for short windows) over {len(daily)} days.")


def kpi_summary(kpis: pd.DataFrame, granularity: str | None = None) -> str:
    r"""The last whole period's headline KPIs, the partial periods, and the totals over every period.

    When ``kpis`` has a ``coverage`` column (:func:`~analytics_lib.analysis.workflow.kpis.mark_partial`),
    the headline is the last period the data covers whole, and periods only partly covered
    are named as such (their counts are not comparable with whole periods).

    Parameters
    ----------
    kpis : DataFrame
        ``kpi_table(...)``: one row per period (index ``period``), optionally with ``coverage``.
    granularity : {"D", "W", "M"}, optional
        The table's granularity, to say how many days a partial period covers.

    Returns
    -------
    str

    Examples
    --------
    >>> k = pd.DataFrame({"active_users": [10, 12, 3], "events": [500, 640, 90], "error_rate": [0.01, 0.02, 0.0],
    ...                   "latency_p95": [900.0, 950.0, 990.0], "cost_usd": [12.5, 15.25, 2.0],
    ...                   "coverage": [1.0, 1.0, 2 / 7]},
    ...                  index=pd.DatetimeIndex(["2025-06-02", "2025-06-09", "2025-06-16"], name="period"))
    >>> print(kpi_summary(k, "W"))
    Last whole period (2025-06-09): **12** active users, **640** events, error rate **2.0%**, p95 latency **950 ms**, cost **\$15.25**. Partial period, not comparable with whole ones: 2025-06-16 (partial: 2 of 7 days). Over all 3 periods: 1,230 events and \$29.75.
    """
    from analytics_lib.core.timewindow import partial_label

    if kpis.empty:
        return "No period in the window holds events."
    cover = kpis["coverage"] if "coverage" in kpis else pd.Series(1.0, index=kpis.index)
    whole = kpis[cover.to_numpy() >= 1 - 1e-9]
    row, label = (whole, "Last whole period") if len(whole) and len(whole) < len(kpis) else (kpis, "Last period")
    last = {c: row[c].iloc[-1] for c in ("active_users", "events", "error_rate", "latency_p95", "cost_usd")}
    text = (f"{label} ({row.index[-1]:%Y-%m-%d}): **{last['active_users']:,}** active users, "
            f"**{last['events']:,}** events, error rate **{share(last['error_rate'])}**, "
            f"p95 latency **{last['latency_p95']:,.0f} ms**, cost **{money(last['cost_usd'])}**. ")
    partial = [(p, c) for p, c in cover.items() if c < 1 - 1e-9]
    if partial:
        named = [f"{p:%Y-%m-%d} ({partial_label(c, p, granularity) if granularity else f'{c:.0%} covered'})"
                 for p, c in partial]
        text += (f"Partial period{'s' if len(partial) > 1 else ''}, not comparable with whole ones: "
                 f"{', '.join(named)}. ")
    return text + f"Over all {len(kpis)} periods: {kpis['events'].sum():,} events and {money(kpis['cost_usd'].sum())}."


def session_funnel_summary(funnel: pd.DataFrame) -> str:
    """How many sessions enter the funnel, how many reach its last step, and the step that loses most.

    Parameters
    ----------
    funnel : DataFrame
        ``funnel_table(..., unit="session")`` without ``by``: one row per step.

    Returns
    -------
    str

    Examples
    --------
    >>> f = pd.DataFrame({"step": [1, 2, 3], "step_name": ["search", "gen_<b>", "accept"], "entities": [100, 60, 30],
    ...                   "conversion": [1.0, 0.6, 0.3], "drop_off": [0.0, 0.4, 0.5]})
    >>> print(session_funnel_summary(f))
    Of **100** sessions that enter, **30.0%** reach *accept*. The largest drop is into step 3 (*accept*): 50.0% of the sessions at the previous step do not get there.
    """
    if funnel.empty or funnel["entities"].iloc[0] == 0:
        return "No session entered the funnel in this window."
    worst = funnel.loc[funnel["drop_off"].idxmax()]
    return (f"Of **{funnel['entities'].iloc[0]:,}** sessions that enter, **{share(funnel['conversion'].iloc[-1])}** "
            f"reach *{md_escape(funnel['step_name'].iloc[-1])}*. The largest drop is into step {worst['step']} "
            f"(*{md_escape(worst['step_name'])}*): {share(worst['drop_off'])} of the sessions at the previous step "
            "do not get there.")


def user_funnel_summary(funnel: pd.DataFrame, *, within: str = "14D") -> str:
    """The share of users whose first entry reaches the last step within the conversion window.

    Parameters
    ----------
    funnel : DataFrame
        ``funnel_table(..., unit="user")`` without ``by``.
    within : str
        The conversion window the funnel used (``"14D"``), as pandas reads it.

    Returns
    -------
    str

    Examples
    --------
    >>> f = pd.DataFrame({"step_name": ["session_start", "accept"], "entities": [50, 20], "conversion": [1.0, 0.4]})
    >>> user_funnel_summary(f)
    'Per user: **40.0%** of 50 users reach *accept* within 14 days of their first *session\\\\_start*.'
    """
    if funnel.empty or funnel["entities"].iloc[0] == 0:
        return "No user entered the funnel in this window."
    days = pd.Timedelta(within) / pd.Timedelta(days=1)
    return (f"Per user: **{share(funnel['conversion'].iloc[-1])}** of {funnel['entities'].iloc[0]:,} users reach "
            f"*{md_escape(funnel['step_name'].iloc[-1])}* within {days:g} days of their first "
            f"*{md_escape(funnel['step_name'].iloc[0])}*.")


def path_summary(variants: pd.DataFrame) -> str:
    """The most frequent complete path and how much the top paths cover.

    Parameters
    ----------
    variants : DataFrame
        ``path_variants(...)``: ``path, share, cumulative_share`` per variant, most frequent first.

    Returns
    -------
    str

    Examples
    --------
    >>> v = pd.DataFrame({"path": ["a > b", "a"], "share": [0.4, 0.2], "cumulative_share": [0.4, 0.6]})
    >>> path_summary(v)
    'The most frequent path, *a &gt; b*, covers 40.0% of sessions; the top 2 paths together cover 60.0%.'
    """
    if variants.empty:
        return "No complete session path in this window."
    return (f"The most frequent path, *{md_escape(variants['path'].iloc[0])}*, covers {share(variants['share'].iloc[0])} "
            f"of sessions; the top {len(variants)} paths together cover {share(variants['cumulative_share'].iloc[-1])}.")


def bottleneck_summary(bottlenecks: pd.DataFrame) -> str:
    """The worst bottleneck: what it is, its severity, its p95 against its baseline, its impact.

    Parameters
    ----------
    bottlenecks : DataFrame
        ``bottleneck_table(...)``, ranked (rank 1 first).

    Returns
    -------
    str

    Examples
    --------
    >>> b = pd.DataFrame({"name": ["generation / team-a"], "kind": ["step"], "severity": ["high"], "p95_ms": [5200.0],
    ...                   "ratio": [3.1], "impact_h": [12.34]})
    >>> bottleneck_summary(b)
    'Rank 1: *generation / team-a* (step), severity **high**, p95 5,200 ms (3.1x its baseline), 12.3 hours of impact.'
    """
    if bottlenecks.empty:
        return "No step or transition stands out from its baseline."
    top = bottlenecks.iloc[0]
    return (f"Rank 1: *{md_escape(top['name'])}* ({top['kind']}), severity **{top['severity']}**, "
            f"p95 {top['p95_ms']:,.0f} ms ({top['ratio']:.1f}x its baseline), {top['impact_h']:,.3g} hours of impact.")


def retention_summary(retention: pd.DataFrame) -> str:
    """How many weekly cohorts, and the average share active again in their second week.

    Parameters
    ----------
    retention : DataFrame
        ``retention_matrix(..., granularity="W")``: cohorts by row, periods ``0, 1, ...`` by column.

    Returns
    -------
    str

    Examples
    --------
    >>> retention_summary(pd.DataFrame({0: [1.0, 1.0], 1: [0.5, 0.3]}))
    '2 weekly cohorts; on average 40% of a cohort is active again in its second week.'
    """
    if retention.empty or 1 not in retention.columns or retention[1].isna().all():
        return f"{len(retention)} weekly cohorts; none has a second week in the window yet."
    return (f"{len(retention)} weekly cohorts; on average {share(retention[1].mean(), digits=0)} of a cohort is active "
            "again in its second week.")


def lifecycle_summary(lifecycle: pd.DataFrame) -> str:
    """The last week's users by lifecycle state.

    Parameters
    ----------
    lifecycle : DataFrame
        ``lifecycle_table(..., granularity="W")``: ``new, returning, resurrecting, dormant`` per week.

    Returns
    -------
    str

    Examples
    --------
    >>> l = pd.DataFrame({"new": [3], "returning": [10], "resurrecting": [1], "dormant": [2]},
    ...                  index=pd.DatetimeIndex(["2025-06-09"]))
    >>> lifecycle_summary(l)
    'Week of 2025-06-09: 3 new, 10 returning, 1 resurrecting and 2 dormant users.'
    """
    if lifecycle.empty:
        return "No week in the window holds activity."
    last = {c: lifecycle[c].iloc[-1] for c in ("new", "returning", "resurrecting", "dormant")}
    return (f"Week of {lifecycle.index[-1]:%Y-%m-%d}: {last['new']:,} new, {last['returning']:,} returning, "
            f"{last['resurrecting']:,} resurrecting and {last['dormant']:,} dormant users.")


def cost_summary(kpis: pd.DataFrame, by_model: pd.DataFrame, by_team: pd.DataFrame) -> str:
    """Total cost, and the same total summed over the model and the team groups (they reconcile).

    Parameters
    ----------
    kpis : DataFrame
        ``kpi_table(...)`` with ``cost_usd``.
    by_model, by_team : DataFrame
        ``metric_table(events, "cost_usd", by="model" / "team")`` with a ``value`` column.

    Returns
    -------
    str

    Examples
    --------
    >>> cost_summary(pd.DataFrame({"cost_usd": [1.0, 2.5]}), pd.DataFrame({"value": [3.5]}),
    ...              pd.DataFrame({"value": [1.5, 2.0]}))
    'Total cost **\\\\$3.50**; summed over the model groups: \\\\$3.50, over the team groups: \\\\$3.50.'
    """
    return (f"Total cost **{money(kpis['cost_usd'].sum())}**; summed over the model groups: "
            f"{money(by_model['value'].sum())}, over the team groups: {money(by_team['value'].sum())}.")


def satisfaction_summary(satisfaction: pd.DataFrame) -> str:
    """How satisfaction moves with latency over all rated sessions.

    Parameters
    ----------
    satisfaction : DataFrame
        ``satisfaction_vs_performance(...)``: rows per ``group`` and ``factor``, with ``sessions``,
        ``spearman_rho`` and ``slope`` (points per second).

    Returns
    -------
    str

    Examples
    --------
    >>> s = pd.DataFrame({"group": ["all"], "factor": ["latency_ms"], "sessions": [840], "spearman_rho": [-0.31],
    ...                   "slope": [-0.12]})
    >>> satisfaction_summary(s)
    "Over 840 sessions, Spearman's rho between latency and satisfaction is -0.31 and the fitted slope is -0.12 points per second of latency (p-values and the per-model rows are in the table)."
    """
    rows = satisfaction[(satisfaction["group"] == "all") & (satisfaction["factor"] == "latency_ms")]
    if rows.empty or not rows["sessions"].iloc[0]:
        return "No rated session with a latency in this window: satisfaction and latency cannot be compared."
    overall = rows.iloc[0]
    return (f"Over {overall['sessions']:,.0f} sessions, Spearman's rho between latency and satisfaction is "
            f"{overall['spearman_rho']:.2f} and the fitted slope is {overall['slope']:+.2f} points per second of "
            "latency (p-values and the per-model rows are in the table).")
