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
# # Delivery impact
#
# Do teams using the assistant ship faster and break less? DORA's four keys (deployment
# frequency, lead time for changes, change failure rate, time to restore service) per team with
# their performance tiers, then the effect of adopting the assistant: teams adopted at
# different times, so each is compared with the teams that had not adopted yet and those that
# never did (an estimator valid under staggered adoption), with a pre-trend check and an event
# study. Definitions: `docs/delivery.md`; all logic is in `analytics_lib.analysis.delivery`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or folder of delivery files; None: the workbench store
usage_source = None  # where the usage events are (adoption dates when not stored, and usage intensity); None: source
start = "-90d"  # window of the tiers (Four Keys shows the last 90 days); the effect uses all the history
end = None  # end of the tiers' window; None: the last day with data
granularity = "W"  # periods of the effect's panel: W or M
alpha = 0.05  # 1 minus the confidence of the intervals
leads = 4  # periods before adoption in the pre-trend check
output_dir = None  # folder for the tables; None: reports/delivery

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from analytics_lib import load_events
from analytics_lib.analysis.delivery import adoption_effect, dora_metrics, dora_summary
from analytics_lib.core.paths import DEFAULT_DB_URL
from analytics_lib.data.delivery import read_delivery
from analytics_lib.report.narrative.delivery import delivery_data_summary, effect_summary, tier_summary
from analytics_lib.report.plots.delivery import plot_dora_trends, plot_event_study
from analytics_lib.report.tables import write_tables

data = read_delivery(source or DEFAULT_DB_URL)
usage = load_events(usage_source or source or DEFAULT_DB_URL).events
display(Markdown(delivery_data_summary(data)))
data.reasons()

# %% [markdown]
# ## The four keys and their tiers
#
# Per team over the window; tiers from the *Accelerate State of DevOps Report 2023*.

# %%
summary = dora_summary(data, start=start, end=end)
display(Markdown(tier_summary(summary)))
summary

# %%
weekly = dora_metrics(data, granularity="W")
plot_dora_trends(weekly, metric="lead_time_hours", adoption=data.adoption);

# %% [markdown]
# ## The assistant's effect
#
# One line per metric: the effect of adoption with its interval, the pre-trend check, and what
# a plain before/after comparison would have said.

# %%
effect = adoption_effect(data, usage=usage, granularity=granularity, alpha=alpha, leads=leads)
display(Markdown(effect_summary(effect)))
effect.effects[["metric", "relative", "relative_low", "relative_high", "p_value", "pretrend_p", "naive_relative",
                "verdict"]]

# %% [markdown]
# ## Event study
#
# The effect per period since adoption; before 0, the leads of the pre-trend check.

# %%
plot_event_study(effect.event_study);

# %% [markdown]
# ## Usage intensity
#
# How the effect varies with the share of a team's committing developers who used the assistant
# in the period (descriptive: adoption is the causal contrast).

# %%
effect.intensity

# %%
written = write_tables({"dora_summary": summary, "dora_weekly": weekly, "delivery_effects": effect.effects,
                        "delivery_event_study": effect.event_study}, output_dir or "reports/delivery")
display(Markdown(f"Written: {', '.join(p.name for p in written)}"))
