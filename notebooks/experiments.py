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
# Did the new model, prompt or cache policy help? The users of each variant (from the
# assignment table) are compared with the control's on the primary metrics and the guardrails:
# the split is checked first (a sample ratio mismatch stops the analysis), ratio metrics use the
# delta method, CUPED uses each user's metric before the assignment, the p-values and intervals
# are always valid (read this report every day without inflating false positives), and the
# primary metrics' false discovery rate is controlled. Definitions: `docs/experiments.md`;
# all logic is in `analytics_lib.analysis.experiments`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path of the events; None: the workbench store
assignments = None  # the assignment table: None for the store's experiment_assignments table, or a CSV or Parquet path
experiment = "prompt-v2"  # its name in the assignment table
metrics = ["accept_rate", "satisfaction", "cost_per_accept"]  # primary metrics (analysis.experiments.EXPERIMENT_METRICS)
guardrails = ["latency_ms", "error_rate"]  # breached when significantly worse
alpha = 0.05  # error rate of the always-valid tests and intervals
control = None  # the control variant; None: "control" if present, else the first name
start = "-70d"  # events from (the experiment and the pre-period before it); ISO date or relative
end = "today"  # events to (a date-valued end includes that day)
pre_days = 14  # days before each assignment used by CUPED
output_dir = None  # folder for the effects and looks tables; None: reports/experiments

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from analytics_lib import load_events
from analytics_lib.analysis.experiments import experiment_looks, experiment_results
from analytics_lib.core.paths import DEFAULT_DB_URL
from analytics_lib.data.assignments import load_assignments
from analytics_lib.report.narrative.experiments import experiment_summary
from analytics_lib.report.plots.experiments import plot_experiment_looks
from analytics_lib.report.tables import write_tables

events = load_events(source or DEFAULT_DB_URL, start=start, end=end).events
assigned = load_assignments(assignments or source or DEFAULT_DB_URL)
result = experiment_results(events, assigned, experiment, metrics=metrics, guardrails=guardrails, alpha=alpha,
                            control=control, pre_days=pre_days)
display(Markdown(experiment_summary(result)))

# %% [markdown]
# ## Effects
#
# Per metric: the control's and the variant's value, the effect (CUPED-adjusted) with its
# always-valid interval, absolute and relative, the always-valid p-value, the false discovery
# rate's q-value (primary metrics) and the variance CUPED removed.

# %%
result.effects[["variant", "metric", "role", "control", "treatment", "relative", "relative_low", "relative_high",
                "p_value", "q_value", "variance_reduction", "decision"]]

# %% [markdown]
# ## The effect day by day
#
# What the table would have said at the end of each day; the band is the confidence sequence,
# valid at every look at once.

# %%
looks = experiment_looks(events, assigned, experiment, metrics=[*metrics, *guardrails], alpha=alpha, control=control,
                         pre_days=pre_days)
plot_experiment_looks(looks);

# %%
written = write_tables({"experiment_effects": result.effects, "experiment_looks": looks},
                       output_dir or "reports/experiments")
display(Markdown(f"Written: {', '.join(p.name for p in written)}"))
