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
# # User predictions: churn risk and satisfaction drivers
#
# Which developers are about to stop using the assistant, why, and what drives the
# satisfaction of a session. Churn means **no activity in the `churn_window_days` after the
# cutoff**; every model is validated on time (trained on earlier cutoffs, scored on a later
# one it never saw) and compared with a baseline it must beat.
#
# Every number comes from `analytics_lib.analysis.predict` (definitions in `docs/predictions.md`); this
# notebook only calls, displays and writes. Run it with papermill, e.g.
# `papermill notebooks/user_predictions.ipynb out.ipynb -p cutoff 2026-09-01 -p top_k 100 -k python3`.

# %% tags=["parameters"]
source = None  # SQLAlchemy URL or CSV/Parquet path; None: the workbench store (analytics_lib.core.paths.DEFAULT_DB_URL)
cutoff = "today"  # the day the at-risk list is made for: ISO date, "today", "yesterday" or "-7d"
churn_window_days = 28  # days after the cutoff without any activity that count as churn
team = None  # None for all teams, "team-a", or ["team-a", "team-b"]: whose users are listed
top_k = 50  # users in the at-risk list (and the k of precision/recall at k)
output_dir = None  # folder for the at-risk list, tables and models; None: reports/predictions

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from analytics_lib import load_events
from analytics_lib.report.params import require_events
from analytics_lib.report.plots.predict import plot_drivers, plot_partial_dependence, plot_reliability
from analytics_lib.analysis.predict.churn import ChurnModel
from analytics_lib.analysis.predict.satisfaction import SatisfactionModel
from analytics_lib.analysis.predict.persistence import at_risk_table, save_model, write_at_risk
from analytics_lib.report.params import prediction_parameters
from analytics_lib.report.narrative import (
    at_risk_summary, churn_summary, prediction_data_summary, satisfaction_drivers_summary)
from analytics_lib.analysis.predict.features import session_features, user_features
from analytics_lib.analysis.predict.splits import time_split
from analytics_lib.report.tables import write_tables

params = prediction_parameters(source=source, cutoff=cutoff, churn_window_days=churn_window_days, team=team,
                               top_k=top_k, output_dir=output_dir)
pd.set_option("display.precision", 3)
pd.set_option("display.max_columns", 30)
pd.set_option("display.max_colwidth", 160)
params.table()

# %% [markdown]
# ## Data
#
# Every event before the cutoff, all teams (the models learn from everyone; `team` only
# filters the at-risk list). Rows that break the event contract are quarantined, not
# silently dropped.

# %%
loaded = load_events(params.source, end=params.cutoff)
events = require_events(loaded, params)
display(loaded.summary.table())
display(Markdown(prediction_data_summary(events, rows_kept=loaded.summary.rows_kept,
                                         rows_quarantined=loaded.summary.rows_quarantined)))

# %% [markdown]
# ## Validation scheme
#
# Features at a cutoff use only the events before it; the label looks at the
# `churn_window_days` after it. Candidates train on the **train** cutoffs, are compared on
# rolling validation cutoffs ending at **validation** (mean log loss) where the chosen one
# is also calibrated, and the result is scored on the **test** cutoff, whose labels no
# training step saw. No cutoff's label window overlaps a later role's cutoff.

# %%
split = time_split(events, churn_window_days=params.churn_window_days, end=params.cutoff)
split.table()

# %% [markdown]
# ## Churn: validation scores against the baseline
#
# The baseline is the **recency rule**: the longer since a user's last activity, the higher
# the risk. Scores on the validation cutoffs (means over the rolling folds), then on the
# held-out test cutoff.

# %%
churn = ChurnModel(churn_window_days=params.churn_window_days, top_k=params.top_k).fit(events, split=split)
display(churn.validation_scores_)
evaluation = churn.evaluate(events)
display(evaluation.scores)
display(Markdown(churn_summary(evaluation)))

# %% [markdown]
# ## Calibration
#
# When the model says 30 %, about 30 % of such users should churn. Users of the test cutoff
# are binned by predicted probability; bars are 95 % intervals of the observed rate.

# %%
display(evaluation.reliability)
plot_reliability(evaluation.reliability);

# %% [markdown]
# ## Top drivers of churn
#
# Permutation importance on the test cutoff: how much the ROC AUC drops when one feature is
# shuffled across users (features are defined in `docs/predictions.md`).

# %%
display(evaluation.importance.head(10))
plot_drivers(evaluation.importance, title="Top drivers of churn (held-out cutoff)",
             xlabel="drop of ROC AUC when the feature is shuffled");

# %% [markdown]
# ## Top drivers of satisfaction
#
# A model of each rated session's score from what the developer experienced (latency,
# errors, steps, rework, cache hit, model, feature, team), trained on earlier sessions and
# scored on the latest ones against the mean predictor. Partial dependence shows the
# predicted score as one driver moves, the others as they were.

# %%
sessions = session_features(events)
satisfaction = SatisfactionModel().fit(sessions)
sat_eval = satisfaction.evaluate(sessions)
display(satisfaction.split_.table())
display(sat_eval.scores)
display(Markdown(satisfaction_drivers_summary(sat_eval)))
plot_drivers(sat_eval.importance, title="Top drivers of satisfaction (held-out sessions)",
             xlabel="rise of the mean absolute error (points) when the feature is shuffled");

# %%
plot_partial_dependence(sat_eval.partial_dependence);

# %% [markdown]
# ## Users at risk
#
# The `top_k` users most likely to churn as of the cutoff, with the reasons that raise their
# risk most: each reason is what the risk would lose if that driver were typical.

# %%
now = user_features(events, cutoff=params.cutoff)
at_risk = at_risk_table(churn, now, top_k=params.top_k, team=params.team)
display(Markdown(at_risk_summary(at_risk, now, active_days=churn.active_days, cutoff=params.cutoff,
                                 team=params.team)))
at_risk

# %% [markdown]
# ## Files
#
# The at-risk list as CSV and XLSX, the scores and drivers as CSV/Parquet, and both models
# with their metadata sidecars, so a scheduled job or a dashboard can reuse them.

# %%
written = write_at_risk(at_risk, params.output_dir)
written += write_tables({"churn_scores": evaluation.scores, "churn_validation": churn.validation_scores_,
                         "churn_reliability": evaluation.reliability, "churn_drivers": evaluation.importance,
                         "satisfaction_scores": sat_eval.scores, "satisfaction_drivers": sat_eval.importance,
                         "satisfaction_partial_dependence": sat_eval.partial_dependence.astype({"value": "str"}),
                         "satisfaction_sentences": sat_eval.drivers}, params.output_dir)
written += [*save_model(churn, params.output_dir / "churn_model.joblib"),
            *save_model(satisfaction, params.output_dir / "satisfaction_model.joblib")]
pd.DataFrame({"file": [str(p) for p in written]})
