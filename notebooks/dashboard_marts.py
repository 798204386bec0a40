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
# # Dashboard marts
#
# The small tables the Voilà dashboards read (`docs/dashboards.md`): per day and team, every
# additive KPI part, the distinct users and sessions, the latencies, the funnel, the step
# bottlenecks and the ranked insights, plus the ROI inputs. Computed from the whole store by
# `analytics_lib.dashboards.published.publish_dashboard_tables`; the scheduled job `daily-dashboard-marts`
# publishes them, and from then on the dashboards open on them instead of reading raw events.
# Run it with papermill, e.g. `papermill notebooks/dashboard_marts.ipynb out.ipynb -k python3`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
insights = True  # rank the insights too (about 15 s on the 1M-event sample)
output_dir = None  # folder for the tables; None: reports/dashboards (a scheduled run sets its own)

# %%
from analytics_lib.dashboards.published import publish_dashboard_tables

written = publish_dashboard_tables(source, output_dir, insights=insights)
written
