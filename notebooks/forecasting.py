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
# # Forecasting
#
# What usage, load and LLM spend will be over the coming periods, how sure we are, and when
# a capacity limit is reached. Every candidate model is backtested on the history (rolling
# origins); the best per series (or the median ensemble of the best three) makes the
# forecast, and its backtest accuracy is reported with it.
#
# All logic is in `analytics_lib.forecast` (models, backtests, selection, capacity); this
# notebook calls, displays and writes. Run it with papermill, e.g.
# `papermill notebooks/forecasting.ipynb out.ipynb -p metric cost_usd -p by model -p horizon 28 -k python3`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
start = "-182d"  # history window start: ISO date, "today", or relative such as "-26w"
end = "today"  # a date-valued end includes that day
team = None  # None for all teams, "team-a", or ["team-a", "team-b"]
metric = "events"  # events, users, sessions, cost_usd, latency_ms, tokens_in, tokens_out, satisfaction, manual_minutes
agg = "sum"  # sum, mean, p50, p95, p99, max... (p95 for latency_ms)
by = None  # None (total only), "team", "model", "feature" or "event_type": one series per group plus the total
granularity = "D"  # "D", "W" or "M"
horizon = 28  # periods to forecast
models = None  # None: seasonal_median (daily or finer), ets, theta, arima, lag_regressor; or a list that may add "prophet", "seasonal_naive"
n_windows = 3  # backtest windows of `horizon` periods each
level = [80, 95]  # prediction interval levels, percent
capacity = None  # a threshold in the metric's unit (e.g. 20000 events per day), or None
output_dir = None  # folder for the CSV/Parquet tables; None: reports/forecast
engine = "pandas"  # where the per-series fits run: "pandas" (worker processes here) or "dask" (a cluster)
cluster = None  # Dask only: scheduler address such as "tcp://10.0.0.5:8786"; None starts a local cluster

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from analytics_lib import load_events
from analytics_lib.compute.engine import open_engine
from analytics_lib.forecast.selection import auto_forecast
from analytics_lib.forecast.planning import capacity_table, cost_forecast, country_holidays, trend_summary
from analytics_lib.forecast.series import series_from_events
from analytics_lib.report.narrative import (
    capacity_summary, forecast_summary, growth_summary, history_summary, llm_spend_summary, no_components_note,
    selection_summary, written_files)
from analytics_lib.report.params import forecast_parameters, require_events
from analytics_lib.report.plots.forecast import plot_backtest_scores, plot_components, plot_forecast
from analytics_lib.report.tables import write_tables

params = forecast_parameters(source=source, start=start, end=end, team=team, metric=metric, agg=agg, by=by,
                             granularity=granularity, horizon=horizon, models=models, n_windows=n_windows,
                             level=level, capacity=capacity, output_dir=output_dir, engine=engine, cluster=cluster)
fits = open_engine(params.engine, cluster=params.cluster).activate()  # dask: the per-series fits below run there
pd.set_option("display.precision", 3)
pd.set_option("display.max_columns", 30)
params.table()

# %% [markdown]
# ## History
#
# The metric per period (`metric_table` definitions), per group and in total. Periods without
# events count as 0 for sums and counts; gaps stay gaps for other aggregates.

# %%
loaded = load_events(params.source, start=params.window.start, end=params.window.end, team=params.team)
events = require_events(loaded, params)
series = series_from_events(events, params.metric, agg=params.agg, granularity=params.granularity, by=params.by,
                            total=params.by is not None)
history = series.groupby("unique_id")["y"].agg(periods="count", first="first", last="last", mean="mean")
display(history)
holidays = country_holidays("US", series["ds"].min(), series["ds"].max() + pd.Timedelta(days=400))
display(Markdown(history_summary(series, rows_kept=loaded.summary.rows_kept, window=params.window,
                                 metric=params.metric, agg=params.agg, holidays=holidays)))

# %% [markdown]
# ## Growth and weekly pattern
#
# A log-linear fit per series (`trend_summary`, daily series only): compound growth per
# week with its 95% interval, and the weekday profile (1.0 = an average day).

# %%
if params.granularity == "D":
    trend = trend_summary(series, holidays=holidays["ds"])
    display(trend)
    display(Markdown(growth_summary(trend)))
else:
    display(Markdown("Weekly growth and weekday profile are computed for daily series (granularity D)."))

# %% [markdown]
# ## Model selection
#
# Each candidate is backtested over the last `n_windows` windows of `horizon` periods; the
# median of the best three is a candidate too. The lowest MASE (mean absolute error scaled
# by the in-sample error of repeating last season) wins; seasonal naive is the baseline.
# Interval widths are calibrated on the backtest errors.

# %%
result = auto_forecast(series, horizon=params.horizon, granularity=params.freq, models=params.models,
                       n_windows=params.n_windows, level=params.level, holidays=holidays, n_jobs=-1, progress=True)
display(result.selection)
plot_backtest_scores(result.scores);

# %%
sel = result.selection.set_index("unique_id")
top = "total" if "total" in sel.index else sel.index[0]
chosen = sel.loc[top]
display(Markdown(selection_summary(result.selection, series_id=top, level=params.level[0])))

# %% [markdown]
# ## Forecast
#
# History (last 180 periods) and the forecast with its interval bands.

# %%
plot_forecast(series, result.forecast, capacity=params.capacity);

# %%
display(Markdown(forecast_summary(result.forecast, series, horizon=params.horizon, level=params.level[0],
                                  series_id=top)))

# %% [markdown]
# ## Components
#
# Trend and seasonality as fitted by the chosen model (or the first ensemble member that has
# components), for the top series.

# %%
names = chosen["members"].split(", ")
with_components = [m for m in names if not result.components.empty
                   and ((result.components["model"] == m) & (result.components["unique_id"] == top)).any()]
if with_components:
    comp = result.components[(result.components["model"] == with_components[0])
                             & (result.components["unique_id"] == top)]
    plot_components(comp.drop(columns=["unique_id", "model"]));
else:
    display(Markdown(no_components_note(result.selection, series_id=top)))

# %% [markdown]
# ## Capacity
#
# When the forecast reaches `capacity`: the first period for the point forecast and for the
# upper bound of the widest interval (the early warning), and the probability of reaching it
# within the horizon.

# %%
if params.capacity is not None:
    cap = capacity_table(result.forecast, params.capacity)
    display(cap)
    display(Markdown(capacity_summary(cap, params.capacity, horizon=params.horizon, level=params.level[-1],
                                      series_id=top)))
else:
    cap = pd.DataFrame()
    display(Markdown("No `capacity` given: set it (in the metric's unit) to get a crossing date and probability."))

# %% [markdown]
# ## LLM spend by model
#
# The same selection on the daily (or weekly/monthly) `cost_usd` of generation events per
# model and in total.

# %%
spend = cost_forecast(events, horizon=params.horizon, granularity=params.granularity, models=params.models,
                      n_windows=params.n_windows, level=params.level, n_jobs=-1)
spend_summary = spend.forecast.groupby("unique_id").agg(
    model=("model", "first"), forecast_usd=("forecast", "sum"), backtest_mase=("backtest_mase", "first"))
display(spend_summary.sort_values("forecast_usd", ascending=False))
display(Markdown(llm_spend_summary(spend_summary, horizon=params.horizon)))
plot_forecast(series_from_events(events, "cost_usd", granularity=params.granularity,
                                 filters={"event_type": "generation"}),
              spend.forecast[spend.forecast["unique_id"] == "total"]);

# %% [markdown]
# ## Files
#
# The forecast, the selection with its scores, every candidate's backtest scores, capacity
# and spend, as CSV and Parquet in `output_dir`.

# %%
written = write_tables({"forecast": result.forecast, "selection": result.selection, "backtest_scores": result.scores,
                        "capacity": cap, "spend_forecast": spend.forecast, "spend_selection": spend.selection},
                       params.output_dir)
display(Markdown(written_files(written)))
fits.close()  # stops a local Dask cluster; a cluster given by address keeps running
