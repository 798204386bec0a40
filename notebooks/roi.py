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
# # Return on investment of the assistant
#
# Does the platform pay for itself, by how much, how sure are we, and what would change the
# answer? Value is the developer time the accepted work saved (net of the time spent in
# sessions) and the LLM cost the cache avoided; costs are LLM and metered usage, licences,
# fixed infrastructure and the one-off implementation. Months after the data are projected
# from a forecast of daily sessions.
#
# Every number comes from `analytics_lib.analysis.roi` (definitions and the rationale of every
# assumption: `docs/roi.md`); this notebook only calls, displays and writes. Run it with
# papermill, e.g. `papermill notebooks/roi.ipynb out.ipynb -p hourly_rate 120 -p realisation_rate 0.6 -k python3`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
start = None  # None: from the first event (go-live); or an ISO date, "-180d"...
end = "yesterday"  # whole days only (a date-valued end includes that day)
team = None  # None for all teams, "team-a", or ["team-a", "team-b"] (then give that team's share of fixed costs)
hourly_rate = 100.0  # USD per hour, loaded cost of a developer
realisation_rate = 0.7  # share (0-1) of the recorded manual effort that is really saved
delivery_effect = None  # measured relative change of lead time, e.g. -0.15, or the delivery notebook's table folder (reports/delivery); None: self-reported minutes
effort_share = 0.5  # with delivery_effect: the share of lead time that is developer work
seats = None  # paid seats; None: the active users of each month
licence_per_seat = 20.0  # USD per seat and month
infra_per_month = 2000.0  # USD per month, fixed platform cost not in the event log
one_off_cost = 50000.0  # USD at month 0, implementation
llm_spend_per_month = None  # USD per month; None: from the data
avoided_cost_per_hit = None  # USD per cache hit; None: the data's generation prices
discount_rate = 0.10  # per year
horizon_months = 36  # appraisal length from go-live
scenarios = {
    "conservative": {"hourly_rate": 80.0, "realisation_rate": 0.5, "infra_per_month": 3000.0, "one_off_cost": 75000.0},
    "expected": {},
    "optimistic": {"hourly_rate": 130.0, "realisation_rate": 0.9, "infra_per_month": 1500.0, "one_off_cost": 40000.0},
}
n_simulations = 10000  # Monte Carlo draws
seed = 0  # Monte Carlo seed
output_dir = None  # folder for the CSV/Parquet tables; None: reports/roi

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from analytics_lib import load_events
from analytics_lib.report.params import require_events
from analytics_lib.report.plots.roi import (
    plot_cashflows, plot_roi_distribution, plot_scenarios, plot_tornado, plot_value_by)
from analytics_lib.analysis.roi.result import break_even_table, roi_result, tornado_table
from analytics_lib.report.narrative import (
    break_even_summary, executive_summary, monte_carlo_summary, roi_data_summary, roi_notes)
from analytics_lib.analysis.roi.inputs import roi_inputs
from analytics_lib.report.params import roi_parameters, with_measured_effect
from analytics_lib.analysis.roi.simulation import roi_simulation, scenario_table
from analytics_lib.report.tables import write_tables

params = roi_parameters(source=source, start=start, end=end, team=team, hourly_rate=hourly_rate,
                        realisation_rate=realisation_rate, seats=seats, licence_per_seat=licence_per_seat,
                        infra_per_month=infra_per_month, one_off_cost=one_off_cost,
                        llm_spend_per_month=llm_spend_per_month, avoided_cost_per_hit=avoided_cost_per_hit,
                        discount_rate=discount_rate, horizon_months=horizon_months, scenarios=scenarios,
                        n_simulations=n_simulations, seed=seed, output_dir=output_dir)
pd.set_option("display.precision", 2)
pd.set_option("display.max_columns", 30)
pd.set_option("display.float_format", "{:,.2f}".format)
params.table()

# %%
loaded = load_events(params.source, start=params.window.start, end=params.window.end, team=params.team)
events = require_events(loaded, params)
inputs = roi_inputs(events, months=params.months)
params, measured = with_measured_effect(params, inputs, delivery_effect, effort_share=effort_share)  # docs/delivery.md
if measured:  # the measured effect replaced the self-reported minutes
    display(Markdown(measured))
result = roi_result(inputs, params.assumptions)
break_even = break_even_table(inputs, params.assumptions)
tornado = tornado_table(inputs, params.assumptions)
simulation = roi_simulation(inputs, params.assumptions, n=params.n_simulations, seed=params.seed)
scenario_results = scenario_table(inputs, params.scenarios, base=params.assumptions)

# %% [markdown]
# ## Executive summary

# %%
display(Markdown(executive_summary(result, simulation, break_even)))
result.summary()

# %% [markdown]
# ## Data and assumptions
#
# Events are loaded for the window (and teams) above and validated against the event
# contract; rows that break it are quarantined, not dropped silently. Go-live (month 1) is the
# first day with data; later months are projected.

# %%
display(loaded.summary.table())
display(Markdown(roi_data_summary(inputs, rows_kept=loaded.summary.rows_kept,
                                  rows_quarantined=loaded.summary.rows_quarantined)))
display(Markdown(roi_notes(result)))
params.assumptions.table()

# %% [markdown]
# ## Cash flows
#
# Month 0 holds the one-off cost; each later month's net is benefits minus costs, flows at
# the end of the month. Bars are coloured by how much of the month is observed.

# %%
plot_cashflows(result);

# %%
result.cashflows

# %% [markdown]
# ## Where the value comes from
#
# Measured over the observed days. Licences, fixed infrastructure and the one-off cost are
# split by active users per month (teams) or by sessions (features). To date:

# %%
display(result.to_date.to_frame().T)
display(result.by_team)
plot_value_by(result.by_team);

# %%
display(result.by_feature)
plot_value_by(result.by_feature);

# %% [markdown]
# The same measures per calendar month (UTC): sessions, accepted changes, manual and session
# minutes, cache hits and savings, and spend.

# %%
measures = inputs.by_month
measures

# %% [markdown]
# ## Usage projection
#
# Sessions per appraisal month: observed, and the forecast's mean with its standard deviation
# (from the 80 % interval of the daily ETS forecast). Every other driver follows sessions at
# the recent per-session values below.

# %%
display(inputs.monthly[["month", "start", "kind", "sessions_actual", "sessions_forecast", "sessions_forecast_sd"]])
inputs.units.to_frame().style.format("{:,.6g}")

# %% [markdown]
# ## Sensitivity
#
# Each assumption is swung over its stated range while the others keep their values; the
# largest swing is on top. The break-even values make the horizon's ROI exactly zero.

# %%
plot_tornado(tornado);

# %%
display(tornado)
display(break_even)
display(Markdown(break_even_summary(break_even)))

# %% [markdown]
# ## Uncertainty
#
# Monte Carlo over the uncertain assumptions (triangular over the stated ranges, mode at the
# value) and the usage forecast (one normal quantile per path).

# %%
display(simulation.distributions)
display(simulation.summary)
display(Markdown(monte_carlo_summary(simulation)))
plot_roi_distribution(simulation);

# %%
plot_roi_distribution(simulation, metric="npv");

# %% [markdown]
# ## Scenarios

# %%
display(scenario_results.set_index("scenario").T)
plot_scenarios(scenario_results);

# %% [markdown]
# ## Tables written
#
# The key tables as CSV and Parquet in `output_dir`.

# %%
written = write_tables({"roi_summary": result.summary(), "cashflows": result.cashflows,
                        "value_by_team": result.by_team, "value_by_feature": result.by_feature,
                        "measures_by_month": measures, "assumptions": params.assumptions.table(),
                        "tornado": tornado, "break_even": break_even, "monte_carlo_summary": simulation.summary,
                        "scenarios": scenario_results}, params.output_dir)
pd.Series(written, name="file").astype(str)
