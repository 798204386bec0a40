"""What every plot shares: axes, empty states, value and date axes, colours.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.report.plots.colors import OKABE_ITO
from analytics_lib.report.plots.colors import subplots as _subplots


#: Title, axis label (with unit) and kind (``count``, ``rate``, ``usd``, ``score``, ``number``) of each KPI column.
KPI_LABELS: dict[str, tuple[str, str, str]] = {
    "events": ("Events", "events", "count"),
    "active_users": ("Active users", "users", "count"),
    "sessions": ("Sessions", "sessions", "count"),
    "events_per_user": ("Events per active user", "events / user", "number"),
    "sessions_per_user": ("Sessions per active user", "sessions / user", "number"),
    "cache_hit_rate": ("Cache hit rate", "% of cache queries", "rate"),
    "error_rate": ("Error rate", "% of LLM requests", "rate"),
    "latency_p50": ("Latency p50", "ms", "count"),
    "latency_p95": ("Latency p95", "ms", "count"),
    "latency_p99": ("Latency p99", "ms", "count"),
    "tokens_in": ("Tokens in", "tokens", "count"),
    "tokens_out": ("Tokens out", "tokens", "count"),
    "cost_usd": ("Cost", "USD", "usd"),
    "accepts": ("Accepts", "accepted changes", "count"),
    "cost_per_accept": ("Cost per accept", "USD / accept", "usd"),
    "satisfaction": ("Satisfaction", "mean score (1-5)", "score"),
    "stickiness": ("Stickiness", "mean DAU / active users", "rate"),
}
#: The panels :func:`plot_kpi_trends` draws by default (a list draws its columns in one panel).
DEFAULT_KPIS: tuple = ("events", "active_users", "error_rate", ("latency_p50", "latency_p95"), "cost_usd",
                       "cost_per_accept", "cache_hit_rate", "satisfaction")
# colour-blind safe (analytics_lib.report.plots.colors; checked in tests/report/plots/test_colors.py)
_SEVERITY_COLORS = {"low": "#bbbbbb", "medium": OKABE_ITO["yellow"], "high": OKABE_ITO["orange"], "critical": "#A6361C"}
_LIFECYCLE_COLORS = {"new": OKABE_ITO["sky_blue"], "returning": OKABE_ITO["blue"], "resurrecting": OKABE_ITO["orange"],
                     "dormant": OKABE_ITO["vermillion"]}
_COUNT = FuncFormatter(lambda v, _: f"{v:,.0f}")


def money_tick(value: float, _pos: object = None) -> str:
    """An axis label for money: the sign before the dollar, short for large amounts.

    Examples
    --------
    >>> [money_tick(v) for v in (-4_000_000, -250_000, 0, 0.031, 12.5, 1_500, 48_000)]
    ['-$4.0M', '-$250k', '$0', '$0.031', '$12.50', '$1,500', '$48k']
    """
    a, sign = abs(value), "-" if value < 0 else ""
    if a >= 1e6:
        text = f"{a / 1e6:,.1f}M"
    elif a >= 1e4:
        text = f"{a / 1e3:,.0f}k"
    elif a >= 100:
        text = f"{a:,.0f}"
    elif a == 0:
        text = "0"
    elif a >= 0.1:
        text = f"{a:,.2f}"
    else:
        text = f"{a:,.3f}"
    return f"{sign}${text}"


_USD = FuncFormatter(money_tick)


# --------------------------------------------------------------------------------------------
# helpers
def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = _subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.get_figure(root=True), ax


def _metric_panels(frame: pd.DataFrame, metrics: Sequence[str] | None, ax, what: str,
                   height: float) -> tuple[Figure, list[Axes], list[str]]:
    """One stacked panel per metric (``frame``'s ``metric`` values, or ``metrics``): the figure,
    the axes (``ax`` when given) and the metrics' names."""
    names = list(dict.fromkeys(frame["metric"])) if metrics is None else list(metrics)
    if not names:
        raise WorkbenchError(f"{what}: no metric to draw")
    if ax is None:
        fig, grid = _subplots(len(names), 1, figsize=(10, height * len(names) + 0.5), squeeze=False, sharex=True,
                              layout="constrained")
        return fig, list(grid.ravel()), names
    axes = list(np.ravel(ax))
    return axes[0].get_figure(root=True), axes, names


def _no_data(ax: Axes, title: str, xlabel: str, ylabel: str, note: str = "no data") -> Figure:
    ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, color="0.45", fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax.get_figure(root=True)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise WorkbenchError(f"{what} needs the columns {', '.join(missing)} (got {', '.join(map(str, frame.columns))})")


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _format_value_axis(ax: Axes, kind: str) -> None:
    if kind == "rate":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    elif kind == "usd":
        ax.yaxis.set_major_formatter(_USD)
    elif kind == "count":
        ax.yaxis.set_major_formatter(_COUNT)


def _seconds(s: float) -> str:
    if not np.isfinite(s):
        return "-"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _short_count(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    if n >= 1e3:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}"


def _type_order(names: Sequence[str]) -> list[str]:
    """Event types in workflow order (the contract's vocabulary), unknown ones after, sorted."""
    known = [t for t in S.EVENT_TYPES if t in set(names)]
    return known + sorted(set(names) - set(known))


def _text_color(value: float, norm: Normalize, cmap) -> str:
    r, g, b, _ = cmap(norm(value))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"
