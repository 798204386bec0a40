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
# # Delivery
#
# Do teams using the assistant ship faster and break less? DORA's four keys (deployment
# frequency, lead time for changes, change failure rate, time to restore service) with their
# performance tiers, each team's trend with its adoption of the assistant marked, and the
# assistant's measured effect: each adopting team compared with those that had not adopted yet
# (observational; definitions and caveats: `docs/delivery.md`).

# %% tags=["parameters"]
source = None  # SQLAlchemy URL of the store (its delivery_* tables); None: the workbench store
team = "all"  # "all" or a team
metric = "lead_time_hours"  # the trend and the event study: lead_time_hours, deploys_per_day, change_failure_rate, time_to_restore_hours
days = 90  # the tiers' window: the last days up to the last deployment

# %%
from IPython.display import display

from analytics_lib.report.plots.delivery import plot_dora_trends, plot_event_study
from analytics_lib.dashboards.widgets import (
    ChartPanel, DashboardHeader, DeliveryBar, KpiTiles, LiveView, MessageArea, ProgressPanel, TablePanel, TextPanel)
from analytics_lib.dashboards.urlstate import ShareLink
from analytics_lib.dashboards.published import load_delivery_data
from analytics_lib.dashboards.views import delivery_view

header = DashboardHeader(subtitle="Loading the data…")
messages = MessageArea()
progress = ProgressPanel()
display(header, messages, progress)
data = messages.attempt(load_delivery_data, source, progress=progress)
header.note(data.origin if data is not None else "The data could not be loaded: see the message below.")

# %%
bar = DeliveryBar.for_data(data, team=team, metric=metric, days=days)
link = ShareLink(bar.controls)  # the view in the page URL: copy the link to share it
summary = TextPanel()
tiles = KpiTiles()
tiers = TablePanel(title="The four keys per team over the window, with their DORA tiers",
                   columns=["team", "deploys_per_day", "frequency_tier", "lead_time_hours", "lead_time_tier",
                            "change_failure_rate", "change_failure_tier", "time_to_restore_hours",
                            "time_to_restore_tier"],
                   formats={"deploys_per_day": "{:.2f}", "lead_time_hours": "{:,.1f}", "change_failure_rate": "{:.1%}",
                            "time_to_restore_hours": "{:,.1f}"},
                   rename={"deploys_per_day": "deploys/day", "frequency_tier": "frequency tier",
                           "lead_time_hours": "lead time (h)", "lead_time_tier": "lead time tier",
                           "change_failure_rate": "change failure rate", "change_failure_tier": "failure tier",
                           "time_to_restore_hours": "restore (h)", "time_to_restore_tier": "restore tier"})
trend = ChartPanel(plot_dora_trends, keywords=True, title="The metric per team, week by week (diamond: adoption)")
effects = TablePanel(title="Effect of adopting the assistant (95% intervals; pre-trend p: did adopters diverge before?)",
                     columns=["metric", "relative", "relative_low", "relative_high", "p_value", "pretrend_p", "verdict"],
                     formats={"relative": "{:+.1%}", "relative_low": "{:+.1%}", "relative_high": "{:+.1%}",
                              "p_value": "{:.3f}", "pretrend_p": "{:.2f}"},
                     rename={"relative_low": "from", "relative_high": "to", "p_value": "p", "pretrend_p": "pre-trend p"})
study = ChartPanel(plot_event_study, title="The effect by week since adoption, and the weeks before it")
display(bar, link, summary, tiles, tiers, trend, effects, study)
view = LiveView(delivery_view, data, controls=bar.controls, messages=messages, progress=progress,
                outputs={"summary": summary, "tiles": tiles, "tiers": tiers, "trend_plot": trend, "effects": effects,
                         "event_study": study})
link.bind(view)  # a link's values that arrive later (a pre-heated kernel) update the view once
