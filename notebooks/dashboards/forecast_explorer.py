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
# # Forecast explorer
#
# Where a KPI is heading: history and forecast with 80% and 95% intervals, how accurate the
# model was on the recent past (backtest against seasonal naive), and the date a capacity you
# type is reached. `auto` backtests the candidate models and keeps the best, as the
# forecasting report does (its published forecast is shown when it matches the selection).

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
team = None  # None for all teams, or "team-a"
metric = "events"  # events, users, sessions, cost_usd or latency_p95
granularity = "D"  # "D", "W" or "M"
horizon = 28  # periods to forecast
models = None  # None: auto (best of seasonal_median, ets, theta, arima, lag_regressor); or one of them, or "seasonal_naive"
n_windows = 3  # backtest windows of `horizon` periods each
level = [80, 95]  # prediction interval levels, percent
capacity = None  # a threshold in the metric's unit (e.g. 8000 events per day), or None

# %%
from IPython.display import display

from analytics_lib.report.plots.forecast import plot_forecast
from analytics_lib.dashboards.widgets import (
    ChartPanel, DashboardHeader, ForecastBar, KpiTiles, LiveView, MessageArea, ProgressPanel, TablePanel, TextPanel)
from analytics_lib.dashboards.views import forecast_view
from analytics_lib.dashboards.urlstate import ShareLink
from analytics_lib.dashboards.published import load_overview_data

header = DashboardHeader(subtitle="Loading the data…")
messages = MessageArea()
progress = ProgressPanel()
display(header, messages, progress)
data = messages.attempt(load_overview_data, source, progress=progress)
header.note(data.origin if data is not None else "The data could not be loaded: see the message below.")

# %%
controls = ForecastBar.for_data(data, granularity=granularity, n_windows=n_windows, metric=metric, team=team,
                                horizon=horizon, models=models, capacity=capacity)
origin = TextPanel()
tiles = KpiTiles()
chart = ChartPanel(plot_forecast, title="History and forecast (bands: 80% and 95% intervals)", keywords=True)
scores = TablePanel(title="Backtest accuracy on the last windows (MASE: 1.0 is the in-sample seasonal naive error)",
                    columns=["model", "mase", "smape", "mae", "coverage"],
                    formats={"mase": "{:.2f}", "smape": "{:.1f}%", "mae": "{:,.1f}", "coverage": "{:.0%}"},
                    rename={"mase": "MASE", "smape": "sMAPE", "mae": "MAE", "coverage": "interval coverage"})
link = ShareLink(controls.controls)  # the view in the page URL: copy the link to share it
display(controls, link, tiles, chart, scores, origin)
view = LiveView(forecast_view, data, controls=controls.controls, messages=messages, progress=progress,
                fixed={"granularity": granularity, "n_windows": n_windows, "level": level, "memo": {}},
                outputs={"tiles": tiles, "chart": chart, "scores": scores, "origin": origin})
link.bind(view)  # a link's values that arrive later (a pre-heated kernel) update the view once
