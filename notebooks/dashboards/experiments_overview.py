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
# # Experiments
#
# Did the new model, prompt or cache policy help? For each experiment of the assignment table:
# the effect of every variant on the primary metrics with its always-valid interval, the
# guardrails, and how the effect evolved day by day. The intervals stay valid however often
# this page is read; definitions: `docs/experiments.md`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL of the store (events and experiment_assignments); None: the workbench store
experiment = None  # None: the first experiment of the assignment table

# %%
from IPython.display import display

from analytics_lib.report.plots.experiments import plot_experiment_looks
from analytics_lib.dashboards.widgets import (
    ChartPanel, DashboardHeader, ExperimentBar, KpiTiles, LiveView, MessageArea, ProgressPanel, TablePanel, TextPanel)
from analytics_lib.dashboards.urlstate import ShareLink
from analytics_lib.dashboards.published import load_experiment_data
from analytics_lib.dashboards.views import experiment_view

header = DashboardHeader(subtitle="Loading the data…")
messages = MessageArea()
progress = ProgressPanel()
display(header, messages, progress)
data = messages.attempt(load_experiment_data, source, progress=progress)
header.note(data.origin if data is not None else "The data could not be loaded: see the message below.")

# %%
picker = ExperimentBar.for_data(data, experiment=experiment)
link = ShareLink(picker.controls)  # the view in the page URL: copy the link to share it
summary = TextPanel()
tiles = KpiTiles()
effects = TablePanel(title="Effects against the control (always-valid 95% intervals, relative to the control)",
                     columns=["variant", "metric", "role", "control", "treatment", "relative", "relative_low",
                              "relative_high", "p_value", "decision"],
                     formats={"control": "{:,.4g}", "treatment": "{:,.4g}", "relative": "{:+.1%}",
                              "relative_low": "{:+.1%}", "relative_high": "{:+.1%}", "p_value": "{:.3f}"},
                     rename={"relative_low": "from", "relative_high": "to", "p_value": "p (always valid)"})
chart = ChartPanel(plot_experiment_looks, title="The effect at the end of every day, inside its confidence sequence")
display(picker, link, summary, tiles, effects, chart)
view = LiveView(experiment_view, data, controls=picker.controls, messages=messages, progress=progress,
                outputs={"summary": summary, "tiles": tiles, "effects": effects, "looks": chart})
link.bind(view)  # a link's values that arrive later (a pre-heated kernel) update the view once
