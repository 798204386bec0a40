# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (workbench)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Workflow overview
#
# Usage, quality and cost of the assistant for the dates and team you choose, against the
# period just before; how sessions convert through the workflow; where developers waited
# longest; and the ranked insights. Numbers come from the tables the scheduled runs publish
# (or, before the first run, from the store); definitions: `docs/dashboards.md`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
start = "-28d"  # first day shown: ISO date, "today", or relative such as "-28d"
end = "today"  # last day shown (included)
team = None  # None for all teams, or "team-a"
granularity = "D"  # "D", "W" or "M" for the trend chart

# %%
from IPython.display import display

from analytics_lib.report.plots.workflow import plot_funnel, plot_kpi_trends
from analytics_lib.dashboards.marts import OVERVIEW_KPIS
from analytics_lib.dashboards.widgets import (
    ChartPanel, DashboardHeader, FilterBar, KpiTiles, LiveView, MessageArea, ProgressPanel, TablePanel, TextPanel)
from analytics_lib.dashboards.urlstate import ShareLink
from analytics_lib.dashboards.published import load_overview_data
from analytics_lib.dashboards.views import overview_view

header = DashboardHeader(subtitle="Loading the data…")
messages = MessageArea()
progress = ProgressPanel()
display(header, messages, progress)
data = messages.attempt(load_overview_data, source, progress=progress)
header.note(data.origin if data is not None else "The data could not be loaded: see the message below.")

# %%
filters = FilterBar.for_data(data, start=start, end=end, team=team, granularity=granularity)
summary = TextPanel()
tiles = KpiTiles()
trend = ChartPanel(plot_kpi_trends, title="KPIs per period", metrics=list(OVERVIEW_KPIS))
funnel = ChartPanel(plot_funnel, title="Funnel of the sessions that start in the window", unit="sessions")
bottlenecks = TablePanel(
    title="Where developers waited: top step bottlenecks per day (p95 latency against the step's usual p95)",
    columns=["period", "name", "events", "p95_ms", "ratio", "impact_h", "severity"],
    formats={"events": "{:,}", "p95_ms": "{:,.0f}", "ratio": "{:.1f}x", "impact_h": "{:,.2f}"},
    rename={"period": "day", "name": "step / model / team", "p95_ms": "p95 (ms)", "ratio": "vs usual",
            "impact_h": "hours lost"},
    empty="No step group had 100 or more events on a day of this window: nothing to rank.")
insights = TablePanel(title="Ranked insights (all teams) that overlap the window",
                      columns=["rank", "severity", "title", "recommendation"],
                      empty="No ranked insight overlaps this window.")
link = ShareLink(filters.controls, limits=filters.limits)  # the view in the page URL: copy the link to share it
display(filters, link, summary, tiles, trend, funnel, bottlenecks, insights)
view = LiveView(overview_view, data, controls=filters.controls, messages=messages, progress=progress,
                outputs={"summary": summary, "tiles": tiles, "kpis": trend, "funnel": funnel,
                         "bottlenecks": bottlenecks, "insights": insights})
link.bind(view)  # a link's values that arrive later (a pre-heated kernel) update the view once
