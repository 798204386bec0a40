"""The delivery dashboard: DORA's four keys with their tiers, a metric per team over time, and the
assistant's measured effect (``analysis.delivery``). The mart is the validated delivery events
with the effect estimated once (:func:`~analytics_lib.dashboards.marts.delivery_mart`); the view
picks a team, a metric and a window of days ending at the data's last deployment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.dashboards.marts import ALL_TEAMS, DeliveryMart
from analytics_lib.dashboards.published import DashboardData
from analytics_lib.dashboards.views.common import _mart

#: The metrics of the trend chart: column of ``dora_metrics`` -> (label, tier column of ``dora_summary``).
DELIVERY_METRICS: dict[str, tuple[str, str]] = {
    "lead_time_hours": ("Lead time for changes (hours, median)", "lead_time_tier"),
    "deploys_per_day": ("Deployments per day", "frequency_tier"),
    "change_failure_rate": ("Change failure rate", "change_failure_tier"),
    "time_to_restore_hours": ("Time to restore service (hours, median)", "time_to_restore_tier"),
}
_EFFECT_METRIC = {"lead_time_hours": "lead_time", "deploys_per_day": "deployment_frequency",
                  "change_failure_rate": "change_failure_rate", "time_to_restore_hours": "time_to_restore"}


@dataclass(frozen=True)
class DeliveryView:
    """What the delivery dashboard shows.

    Attributes
    ----------
    tiles : DataFrame
        ``kpi, label, text, change_text, tone``: the four keys over the window with their tier,
        and the effect of adoption on the chosen metric.
    tiers : DataFrame
        The four keys and tiers of every team over the window.
    trend : DataFrame
        The weekly metric per team (``plot_dora_trends`` input, its ``metric`` column).
    adoption : DataFrame
        ``team, adopted_at``.
    effects : DataFrame
        The adoption effect per metric (relative, interval, p-value, pre-trend check, verdict).
    event_study : DataFrame
        The chosen metric's effect per period since adoption.
    metric : str
    summary : str
    """

    tiles: pd.DataFrame
    tiers: pd.DataFrame
    trend: pd.DataFrame
    adoption: pd.DataFrame
    effects: pd.DataFrame
    event_study: pd.DataFrame
    metric: str
    summary: str

    @property
    def trend_plot(self) -> dict:
        """The keywords of ``plot_dora_trends`` for the trend chart."""
        return {"metrics": self.trend, "metric": self.metric, "adoption": self.adoption}


def _fmt(metric: str, value: float) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    if metric == "change_failure_rate":
        return f"{value:.1%}"
    if metric == "deploys_per_day":
        return f"{value:.2f}"
    return f"{value:,.1f} h"


def delivery_view(data: DashboardData | DeliveryMart, *, team: Any = ALL_TEAMS, metric: str = "lead_time_hours",
                  days: Any = 90) -> DeliveryView:
    """The delivery dashboard for a team (``"all"``: the organisation), a metric and the last ``days``.

    Parameters
    ----------
    data : DashboardData or DeliveryMart
    team : str
        A team, or ``"all"``.
    metric : str
        A key of :data:`DELIVERY_METRICS` (the trend chart and the event study).
    days : int
        The tiers' window: the last ``days`` days up to the data's last deployment.

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import delivery_mart
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> v = delivery_view(delivery_mart(synthetic_delivery(seed=0).data), team="team-a")
    >>> v.tiles["kpi"].tolist()
    ['deployment_frequency', 'lead_time', 'change_failure_rate', 'time_to_restore', 'effect']
    """
    from analytics_lib.analysis.delivery import dora_summary

    mart = _mart(data, DeliveryMart)
    if metric not in DELIVERY_METRICS:
        raise WorkbenchError(f"metric={metric!r}: choose one of {', '.join(DELIVERY_METRICS)}")
    try:
        n_days = int(days)
    except (TypeError, ValueError):
        raise WorkbenchError(f"days={days!r}: give a whole number of days") from None
    if n_days < 7:
        raise WorkbenchError(f"days={n_days}: the tiers need at least 7 days")
    everyone = team is None or str(team).strip().lower() in (ALL_TEAMS, "")
    if not everyone and team not in mart.teams:
        raise WorkbenchError(f"team={team!r} has no deployments: choose one of {', '.join(mart.teams)} or all")
    last = mart.data.deployments["deployed_at"].max().floor("D") + pd.Timedelta(days=1)
    start = last - pd.Timedelta(days=n_days)
    tiers = dora_summary(mart.data, by="team", start=start, end=last)
    org = dora_summary(mart.data, by=None, start=start, end=last).iloc[0]
    row = org if everyone else tiers.set_index("team").loc[team]
    who = "all teams" if everyone else str(team)
    tiles = [{"kpi": "deployment_frequency", "label": "Deployment frequency",
              "text": f"{row['deploys_per_day']:.2f}/day", "change_text": f"{row['frequency']}: {row['frequency_tier']}",
              "tone": "neutral"}]
    for kpi, col, tier_col, label in (("lead_time", "lead_time_hours", "lead_time_tier", "Lead time for changes"),
                                      ("change_failure_rate", "change_failure_rate", "change_failure_tier",
                                       "Change failure rate"),
                                      ("time_to_restore", "time_to_restore_hours", "time_to_restore_tier",
                                       "Time to restore service")):
        tiles.append({"kpi": kpi, "label": label, "text": _fmt(col, row[col]),
                      "change_text": f"DORA tier: {row[tier_col] or 'n/a'}", "tone": "neutral"})
    effects = mart.effect.effects if mart.effect is not None else pd.DataFrame()
    key = _EFFECT_METRIC[metric]
    e = effects.set_index("metric").loc[key] if len(effects) and key in set(effects["metric"]) else None
    if e is None:
        tiles.append({"kpi": "effect", "label": "Effect of the assistant", "text": "-",
                      "change_text": mart.effect_message or "not estimable for this metric", "tone": "neutral"})
    else:
        tone = "good" if e["verdict"].startswith("better") else "bad" if e["verdict"].startswith(("worse", "pre-")) \
            else "neutral"
        tiles.append({"kpi": "effect", "label": f"Effect of the assistant on {DELIVERY_METRICS[metric][0].split(' (')[0].lower()}",
                      "text": f"{e['relative']:+.1%}",
                      "change_text": f"95% {e['relative_low']:+.1%} to {e['relative_high']:+.1%}: {e['verdict']}",
                      "tone": tone})
    trend = mart.weekly if everyone else mart.weekly[mart.weekly["team"] == team]
    study = mart.effect.event_study if mart.effect is not None else pd.DataFrame()
    study = study[study["metric"] == key] if len(study) else study
    shown = effects[["metric", "relative", "relative_low", "relative_high", "p_value", "pretrend_p", "verdict"]] \
        if len(effects) else effects
    adoption = mart.data.adoption
    summary = (f"{who}: the last {n_days} days to {(last - pd.Timedelta(days=1)).date()}, "
               f"{int(row['deployments']):,} deployments; {len(adoption)} of {len(mart.teams)} teams adopted the "
               "assistant. The effect compares each adopting team with those that had not adopted yet "
               "(observational: see docs/delivery.md).")
    return DeliveryView(pd.DataFrame(tiles), tiers, trend, adoption, shown, study, metric, summary)
