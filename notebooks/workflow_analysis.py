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
# # Workflow analysis
#
# What changed and what to do about it first (ranked insights), then how developers move
# through the assistant's workflow: usage and quality over time, when they work, where they
# drop out of the funnel, which paths they take, where they wait, who comes back, what it
# costs and how satisfaction follows latency.
#
# Every number comes from `analytics_lib` (definitions in the docstrings of
# `analytics_lib/analysis/workflow/`); this notebook only calls, displays and writes. Run it with
# papermill, e.g. `papermill notebooks/workflow_analysis.ipynb out.ipynb -p start 2026-09-01 -p granularity W -k python3`.
# `-p engine dask` computes the KPIs, funnels, paths and retention on a Dask cluster (`-p cluster tcp://host:8786`,
# or none for a local one); the results are the same (see `docs/dask.md`).

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
start = "-28d"  # ISO date, "today", or relative such as "-28d", "-8w"
end = "today"  # a date-valued end includes that day
team = None  # None for all teams, "team-a", or ["team-a", "team-b"]
granularity = "D"  # "D", "W" or "M" for the KPI and cost tables
session_gap = "30min"  # inactivity that ends a derived session
funnel_steps = ["session_start", ["search", "cache_query"], "generation", "edit", "test_run", ["accept", "export"]]
output_dir = None  # folder for the CSV/Parquet tables; None: reports/workflow
sensitivity = "medium"  # anomaly detection: "low", "medium", "high" or a number between 0 and 1
engine = "pandas"  # "pandas": computed in this process; "dask": on a Dask cluster
cluster = None  # Dask only: scheduler address such as "tcp://10.0.0.5:8786"; None starts a local cluster

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from analytics_lib import (activity_histogram, bottleneck_table, detect_anomalies, insight_table, insights_markdown,
                           lifecycle_table, mark_partial, metric_table, ranked_insights, rework_table,
                           satisfaction_vs_performance)
from analytics_lib.analysis.anomaly import score_threshold
from analytics_lib.analysis.workflow import session_latency_satisfaction, weekday_hour_table
from analytics_lib.compute import open_engine
from analytics_lib.report import require_events, workflow_parameters, write_tables
from analytics_lib.report.narrative import (anomaly_summary, bottleneck_summary, cost_summary, data_summary,
                                            kpi_summary, lifecycle_summary, path_summary, retention_summary,
                                            satisfaction_summary, session_funnel_summary, user_funnel_summary)
from analytics_lib.report.plots import (plot_activity_heatmap, plot_activity_histogram, plot_anomalies, plot_bottlenecks,
                                        plot_cost_by, plot_funnel, plot_kpi_trends, plot_lifecycle, plot_retention,
                                        plot_satisfaction_vs_latency, plot_transitions)

params = workflow_parameters(source=source, start=start, end=end, team=team, granularity=granularity,
                             session_gap=session_gap, funnel_steps=funnel_steps, output_dir=output_dir,
                             engine=engine, cluster=cluster)
threshold = score_threshold(sensitivity)  # a bad sensitivity stops here too
pd.set_option("display.precision", 3)
pd.set_option("display.max_columns", 30)
params.table()

# %% [markdown]
# ## Data
#
# Events are loaded for the window (and teams) above and validated against the event
# contract; rows that break it are quarantined, not dropped silently. The engine computes
# the KPIs, funnels, paths and retention; the other sections use the events in this process.

# %%
eng = open_engine(params.engine, cluster=params.cluster, persist=True)
loaded = eng.load_events(params.source, start=params.window.start, end=params.window.end, team=params.team)
require_events(loaded, params)
events = eng.pandas_events(loaded)
display(loaded.summary.table())
display(Markdown(data_summary(loaded.summary, params.window)))

# %% [markdown]
# ## Insights
#
# What changed, where, how sure it is and what to do, ranked by impact x confidence
# (`ranked_insights`; definitions in `docs/insights.md`): anomalous days explained by the
# team / model / feature / event type behind them, significant trends, KPIs that move
# together (false discovery rate controlled), business thresholds breached in the last 7
# days, and where volume and cost are heading. The chart marks the anomalous days found on
# the daily KPIs (triangles coloured by severity, joined to the value that was expected).

# %%
insights = ranked_insights(events, sensitivity=sensitivity)
display(Markdown(insights_markdown(insights, top=10)))
display(insight_table(insights)[["rank", "kind", "severity", "score", "confidence", "metric", "title"]])

# %%
daily = eng.kpi_table(loaded, granularity="D")
anomalies = detect_anomalies(daily, metrics=["events", "error_rate", "latency_p95", "cost_usd"], volume="events",
                             sensitivity=sensitivity)
display(Markdown(anomaly_summary(anomalies, daily, sensitivity=sensitivity, threshold=threshold)))
plot_anomalies(daily, anomalies, metrics=["events", "error_rate", "latency_p95", "cost_usd"]);

# %% [markdown]
# ## KPI trends
#
# Usage, quality and cost per period (`kpi_table`). Latency percentiles cover the
# assistant's responses; the error rate is errors per LLM request; cost per accept is the
# period's cost over its accepted changes. A period only partly inside the window or the data
# (`coverage` below 1, e.g. the week still running) is marked partial: shaded in the chart,
# named in the text, and its counts are not compared with whole periods.

# %%
kpis = mark_partial(eng.kpi_table(loaded, granularity=params.granularity), params.granularity, window=params.window,
                    first=events["ts"].min(), last=events["ts"].max(), as_of=pd.Timestamp.now(tz="UTC"))
display(kpis)
display(Markdown(kpi_summary(kpis, params.granularity)))
plot_kpi_trends(kpis);

# %% [markdown]
# ## When people work
#
# Events by weekday and hour of day, in UTC.

# %%
heatmap = weekday_hour_table(events)
plot_activity_heatmap(heatmap);

# %% [markdown]
# ## Funnel
#
# Two views of the same steps (`funnel_table`, sequential mode: each step must follow the
# previous one). Per **session**: the share of sessions that start the workflow and get to
# each step within the session. Per **user**: the share of users whose first entry reaches
# each step within 14 days.

# %%
session_funnel = eng.funnel_table(loaded, params.funnel_steps, unit="session", gap=params.session_gap)
display(session_funnel)
display(Markdown(session_funnel_summary(session_funnel)))
plot_funnel(session_funnel, unit="sessions");

# %%
user_funnel = eng.funnel_table(loaded, params.funnel_steps, unit="user", within="14D")
display(user_funnel)
display(Markdown(user_funnel_summary(user_funnel, within="14D")))
plot_funnel(user_funnel, unit="users");

# %%
team_funnel = eng.funnel_table(loaded, params.funnel_steps, unit="session", by="team", gap=params.session_gap)
plot_funnel(team_funnel, unit="sessions");

# %% [markdown]
# ## Paths
#
# Directly-follows transitions between event types within sessions, with the median time
# between the two events; the most frequent complete paths; and rework (steps repeated
# within a session).

# %%
transitions = eng.transition_table(loaded, gap=params.session_gap)
plot_transitions(transitions);

# %%
variants = eng.path_variants(loaded, top=10, gap=params.session_gap)
display(variants)
display(Markdown(path_summary(variants)))

# %%
rework = rework_table(events, gap=params.session_gap)
display(rework)

# %% [markdown]
# ## Bottlenecks
#
# Steps (by event type, model and team, per day) and transitions ranked by severity (p95
# time against the baseline of the same kind), then by impact (hours of waiting beyond the
# baseline median for steps, total waiting for transitions).

# %%
bottlenecks = bottleneck_table(events, granularity="D", by=("event_type", "model", "team"), gap=params.session_gap)
display(bottlenecks.head(10))
display(Markdown(bottleneck_summary(bottlenecks)))
plot_bottlenecks(bottlenecks, top=10);

# %% [markdown]
# ## Retention and lifecycle
#
# Weekly cohorts by first activity in the window: the share of each cohort active *k* weeks
# later. "First activity" and "new" mean first within the loaded window, so the first week's
# cohort also holds long-standing users, and a window that starts mid-week makes the first
# cohort and period partial.

# %%
retention = eng.retention_matrix(loaded, granularity="W")
display(retention)
display(Markdown(retention_summary(retention)))
plot_retention(retention, period="week");

# %%
lifecycle = lifecycle_table(events, granularity="W")
display(lifecycle)
display(Markdown(lifecycle_summary(lifecycle)))
plot_lifecycle(lifecycle);

# %%
stickiness = activity_histogram(events, days=28)
plot_activity_histogram(stickiness);

# %% [markdown]
# ## Cost by model and team
#
# `cost_usd` summed per period (`metric_table`). Events without a model (search and cache
# infrastructure cost) form their own group, drawn as "(none)".

# %%
cost_by_model = metric_table(events, "cost_usd", by="model", granularity=params.granularity)
cost_by_team = metric_table(events, "cost_usd", by="team", granularity=params.granularity)
display(Markdown(cost_summary(kpis, cost_by_model, cost_by_team)))
plot_cost_by(cost_by_model);
plot_cost_by(cost_by_team);

# %% [markdown]
# ## Satisfaction vs latency
#
# Sessions with a satisfaction score; latency is the session's median generation latency.
# Correlations and slopes per model come from `satisfaction_vs_performance`.

# %%
satisfaction = satisfaction_vs_performance(events, gap=params.session_gap)
display(satisfaction)
display(Markdown(satisfaction_summary(satisfaction)))
plot_satisfaction_vs_latency(session_latency_satisfaction(events, gap=params.session_gap), stats=satisfaction);

# %% [markdown]
# ## Tables written
#
# The key tables as CSV and Parquet in `output_dir`.

# %%
written = write_tables({"kpis": kpis, "funnel": session_funnel, "funnel_users": user_funnel,
                        "bottlenecks": bottlenecks, "retention": retention, "transitions": transitions},
                       params.output_dir)
eng.close()  # stops a local Dask cluster; a cluster given by address keeps running
pd.Series(written, name="file").astype(str)
