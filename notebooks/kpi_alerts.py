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
# # KPI alerts
#
# Each rule (a threshold on a daily KPI, an anomaly at a sensitivity, a forecast reaching a
# capacity) judged on the newest complete day of the data. A scheduled job runs this notebook
# with the rules of its spec (`alerts:`) and tells the people on its channels when a rule
# starts or stops firing, once per change (`docs/jobs.md`).
#
# All logic is in `analytics_lib.analysis.anomaly.rules`; this notebook calls, displays and writes.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store
rules = []  # the rules: [{name, metric, above/below | anomaly | forecast, team?}], from the job spec's alerts:
at = "now"  # the evaluation time: the newest complete UTC day before it is judged
output_dir = None  # folder for the alert_states table; None: reports/kpi_alerts

# %%
from IPython.display import Markdown, display

from analytics_lib.analysis.anomaly.rules import evaluate_source, parse_rules, rules_summary
from analytics_lib.core.timewindow import parse_when
from analytics_lib.report.tables import write_tables

checked = parse_rules(rules)
when = parse_when(at)
states = evaluate_source(source, checked, at=when)
display(Markdown(rules_summary(states)))
states

# %%
written = write_tables({"alert_states": states}, output_dir or "reports/kpi_alerts")
display(Markdown(f"Written: {', '.join(p.name for p in written)}"))
