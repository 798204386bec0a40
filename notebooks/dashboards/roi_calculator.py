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
# # ROI calculator
#
# Does the assistant pay for itself? Change the assumptions (or pick a scenario) and the
# return on investment, payback, net present value and the probability of a positive ROI
# follow, with the assumptions that move the answer most (tornado) and the spread of
# outcomes (Monte Carlo). Usage comes from the data; definitions and the rationale of every
# assumption: `docs/roi.md`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
team = None  # None for all teams, or "team-a" (then give that team's share of fixed costs)
hourly_rate = 100.0  # USD per hour, loaded cost of a developer
realisation_rate = 0.7  # share (0-1) of the recorded manual effort that is really saved
seats = None  # paid seats; None: the active users of each month
licence_per_seat = 20.0  # USD per seat and month
infra_per_month = 2000.0  # USD per month, fixed platform cost not in the event log
one_off_cost = 50000.0  # USD at month 0, implementation
discount_rate = 0.10  # per year
horizon_months = 36  # appraisal length from go-live
scenarios = {
    "conservative": {"hourly_rate": 80.0, "realisation_rate": 0.5, "infra_per_month": 3000.0, "one_off_cost": 75000.0},
    "expected": {},
    "optimistic": {"hourly_rate": 130.0, "realisation_rate": 0.9, "infra_per_month": 1500.0, "one_off_cost": 40000.0},
}
n_simulations = 10000  # Monte Carlo draws
seed = 0  # Monte Carlo seed

# %%
from IPython.display import display

from analytics_lib.report.plots.roi import plot_roi_distribution, plot_tornado
from analytics_lib.dashboards.widgets import (
    AssumptionPanel, ChartPanel, DashboardHeader, KpiTiles, LiveView, MessageArea, ProgressPanel, TablePanel)
from analytics_lib.dashboards.urlstate import ShareLink
from analytics_lib.dashboards.published import load_roi_data
from analytics_lib.dashboards.views import roi_view

header = DashboardHeader(subtitle="Loading the data…")
messages = MessageArea()
progress = ProgressPanel()
display(header, messages, progress)
data = messages.attempt(load_roi_data, source, team=team, progress=progress)
header.note(data.origin if data is not None else "The data could not be loaded: see the message below.")

# %%
assumptions = AssumptionPanel(
    base=dict(hourly_rate=hourly_rate, realisation_rate=realisation_rate, seats=seats,
              licence_per_seat=licence_per_seat, infra_per_month=infra_per_month, one_off_cost=one_off_cost,
              discount_rate=discount_rate, horizon_months=horizon_months),
    scenarios=scenarios, max_horizon=data.value.months if data is not None else horizon_months)
tiles = KpiTiles()
tornado = ChartPanel(plot_tornado, title="What moves the answer: NPV when each assumption is at the end of its range")
distribution = ChartPanel(plot_roi_distribution, title="Monte Carlo: ROI over the uncertain assumptions and usage")
scenario_table = TablePanel(
    title="Scenarios on top of these assumptions",
    columns=["scenario", "changes", "benefits", "costs", "roi_pct", "npv", "payback_months"],
    formats={"benefits": "${:,.0f}", "costs": "${:,.0f}", "roi_pct": "{:.1f}%", "npv": "${:,.0f}",
             "payback_months": "{:.1f}"},
    rename={"roi_pct": "ROI", "npv": "NPV", "payback_months": "payback (months)"})
link = ShareLink(assumptions.controls)  # the view in the page URL: copy the link to share it
display(assumptions, link, tiles, tornado, distribution, scenario_table)
view = LiveView(roi_view, data, controls=assumptions.controls, messages=messages, progress=progress,
                fixed={"scenarios": scenarios, "n_simulations": n_simulations, "seed": seed},
                outputs={"tiles": tiles, "tornado": tornado, "simulation": distribution, "scenarios": scenario_table})
link.bind(view)  # a link's values that arrive later (a pre-heated kernel) update the view once
assumptions.bind(view)
