"""Plots of delivery performance: the adoption event study and the four keys over time.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analytics_lib.report.plots.colors import CYCLE
from analytics_lib.report.plots.style import _date_axis, _metric_panels, _no_data, _require, _subplots


def plot_event_study(event_study: pd.DataFrame, *, metrics: Sequence[str] | None = None,
                     ax: Sequence[Axes] | None = None) -> Figure:
    """The effect per period since adoption (event time 0 is the first whole period with the
    assistant) with its interval, and the periods before it (the pre-trend leads: they should
    sit on the zero line), one panel per metric.

    Parameters
    ----------
    event_study : DataFrame
        ``AdoptionEffect.event_study`` (:func:`analytics_lib.analysis.delivery.adoption_effect`).
    metrics : sequence of str, optional
        The panels; default every metric.
    ax : sequence of Axes, optional
        One per panel.

    Examples
    --------
    >>> es = pd.DataFrame({"metric": "lead_time", "event_time": [-2, 0, 1], "relative": [0.01, -0.1, -0.2],
    ...                    "relative_low": [-0.1, -0.2, -0.3], "relative_high": [0.1, 0.0, -0.1]})
    >>> len(plot_event_study(es).axes)
    1
    """
    _require(event_study, ["metric", "event_time", "relative", "relative_low", "relative_high"], "plot_event_study")
    fig, axes, names = _metric_panels(event_study, metrics, ax, "plot_event_study", 2.6)
    for a, m in zip(axes, names):
        rows = event_study[event_study["metric"] == m].sort_values("event_time")
        title = f"{m}: effect by period since adoption (bars: 95 % intervals; before 0: pre-trend check)"
        if rows.empty:
            _no_data(a, title, "periods since adoption", "relative effect")
            continue
        pre = rows["event_time"] < 0
        for sel, color, label in ((pre, CYCLE[1], "before adoption"), (~pre, CYCLE[0], "with the assistant")):
            r = rows[sel]
            if r.empty:
                continue
            a.errorbar(r["event_time"], r["relative"], yerr=[r["relative"] - r["relative_low"],
                       r["relative_high"] - r["relative"]], fmt="o", color=color, capsize=3, label=label)
        a.axhline(0, color="0.3", lw=0.8)
        a.axvline(-0.5, color="0.6", lw=0.8, ls="--")
        a.yaxis.set_major_formatter(PercentFormatter(1.0))
        a.set(title=title, ylabel="relative effect", xlabel="periods since adoption")
        a.grid(alpha=0.3)
        a.legend(fontsize=8, frameon=False)
    return fig


def plot_dora_trends(metrics: pd.DataFrame, *, metric: str = "lead_time_hours", adoption: pd.DataFrame | None = None,
                     ax: Axes | None = None) -> Figure:
    """One DORA metric per team over time, with each team's adoption marked.

    Parameters
    ----------
    metrics : DataFrame
        :func:`analytics_lib.analysis.delivery.dora_metrics` (``team, period`` and the metric).
    metric : str
        A column of ``metrics`` (``lead_time_hours``, ``deploys_per_day``, ``change_failure_rate``,
        ``time_to_restore_hours``).
    adoption : DataFrame, optional
        ``team, adopted_at``: a marker on each adopting team's line.
    ax : Axes, optional

    Examples
    --------
    >>> m = pd.DataFrame({"team": ["a", "a"], "period": pd.to_datetime(["2025-06-02", "2025-06-09"], utc=True),
    ...                   "lead_time_hours": [30.0, 20.0]})
    >>> plot_dora_trends(m).axes[0].get_ylabel()
    'lead_time_hours'
    """
    _require(metrics, ["team", "period", metric], "plot_dora_trends")
    if ax is None:
        fig, ax = _subplots(figsize=(10, 4), layout="constrained")
    else:
        fig = ax.get_figure(root=True)
    title = f"{metric} per team (markers: adoption of the assistant)"
    if metrics[metric].notna().sum() == 0:
        return _no_data(ax, title, "period", metric)
    when = {} if adoption is None else dict(zip(adoption["team"], pd.to_datetime(adoption["adopted_at"], utc=True)))
    for k, (team, g) in enumerate(metrics.groupby("team", sort=True)):
        color = CYCLE[k % len(CYCLE)]
        x = pd.DatetimeIndex(g["period"])
        y = g[metric].rolling(4, min_periods=1).median()  # a 4-period rolling median: weeks are noisy
        ax.plot(x, y, color=color, lw=1.4, label=str(team), ls="-" if team in when else ":")
        if team in when:
            at = np.searchsorted(x, when[team])
            if 0 <= at < len(x):
                ax.plot(x[at], y.iloc[at], marker="D", color=color, markersize=7, markeredgecolor="black")
    ax.set(title=title, xlabel="period", ylabel=metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, ncol=2, title="team (dotted: never adopted)", title_fontsize=8)
    _date_axis(ax)
    return fig
