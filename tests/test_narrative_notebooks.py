"""The narrative of the forecasting, ROI and user predictions notebooks (``analytics_lib.report.narrative``).

Each paragraph is built from the library's results on a small synthetic world (or, for the churn
evaluation, from :func:`churn_metrics` on a hand-made scored frame): the text carries the computed
numbers, values from the data come out escaped, money is written with ``\\$`` and empty or
incomplete results give a sentence instead of an exception.
"""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics_lib.analysis.predict.churn import ChurnEvaluation
from analytics_lib.analysis.predict.evaluation import churn_metrics
from analytics_lib.analysis.predict.features import session_features, user_features
from analytics_lib.analysis.predict.satisfaction import SatisfactionModel
from analytics_lib.analysis.roi.inputs import roi_inputs
from analytics_lib.analysis.roi.result import break_even_table, roi_result
from analytics_lib.analysis.roi.simulation import roi_simulation
from analytics_lib.forecast.planning import capacity_table, cost_forecast, country_holidays, trend_summary
from analytics_lib.forecast.selection import auto_forecast
from analytics_lib.forecast.series import series_from_events
from analytics_lib.report import narrative
from analytics_lib.report.narrative import (
    at_risk_summary, break_even_summary, capacity_summary, churn_summary, forecast_summary, growth_summary,
    history_summary, llm_spend_summary, monte_carlo_summary, no_components_note, prediction_data_summary,
    roi_data_summary, roi_notes, satisfaction_drivers_summary, selection_summary, written_files)

MARKUP = "<b>x</b>"
MARKUP_ESCAPED = "&lt;b&gt;x&lt;/b&gt;"
UNDERSCORE = "a_b*c"
UNDERSCORE_ESCAPED = "a\\_b\\*c"
NEW = {
    "forecast": ["capacity_summary", "forecast_summary", "growth_summary", "history_summary", "llm_spend_summary",
                 "no_components_note", "selection_summary", "written_files"],
    "roi": ["break_even_summary", "monte_carlo_summary", "roi_data_summary", "roi_notes"],
    "predict": ["at_risk_summary", "churn_summary", "prediction_data_summary", "satisfaction_drivers_summary"],
}


def _no_bare_dollar(text: str) -> bool:
    """No "$" that Markdown or MathJax could read: every one is escaped."""
    return re.search(r"(?<!\\)\$", text) is None


@pytest.fixture(scope="module")
def world():
    from analytics_lib import synthetic_events

    return synthetic_events(20_000, days=90, end="2025-06-30", seed=0)


@pytest.fixture(scope="module")
def fc(world):
    """The forecasting notebook's results on the small world (two fast models, no worker processes)."""
    series = series_from_events(world.events, "events", agg="sum", granularity="D", by="team", total=True)
    holidays = country_holidays("US", series["ds"].min(), series["ds"].max() + pd.Timedelta(days=400))
    result = auto_forecast(series, horizon=14, granularity="D", models=["ets", "theta"], n_windows=2,
                           level=[80, 95], holidays=holidays, n_jobs=1)
    spend = cost_forecast(world.events, horizon=14, granularity="D", models=["ets", "theta"], n_windows=2,
                          level=[80, 95], n_jobs=1)
    spend_summary = spend.forecast.groupby("unique_id").agg(
        model=("model", "first"), forecast_usd=("forecast", "sum"), backtest_mase=("backtest_mase", "first"))
    return SimpleNamespace(series=series, holidays=holidays, trend=trend_summary(series, holidays=holidays["ds"]),
                           result=result, capacity=capacity_table(result.forecast, 300.0), spend=spend_summary)


@pytest.fixture(scope="module")
def roi(world):
    inputs = roi_inputs(world.events, months=36)
    return SimpleNamespace(inputs=inputs, result=roi_result(inputs), break_even=break_even_table(inputs),
                           simulation=roi_simulation(inputs, n=500, seed=3))


@pytest.fixture(scope="module")
def sat_eval(world):
    sessions = session_features(world.events)
    return SatisfactionModel().fit(sessions).evaluate(sessions)


@pytest.fixture(scope="module")
def churn_eval():
    """A churn evaluation whose scores are :func:`churn_metrics` of a model and the recency rule, as
    :meth:`ChurnModel.evaluate` labels them."""
    rng = np.random.default_rng(0)
    churned = rng.random(240) < 0.25
    scored = pd.DataFrame({"churned": churned,
                           "churn_probability": np.clip(0.25 + 0.35 * churned + rng.normal(0, 0.2, 240), 0, 1),
                           "recency_rule": np.clip(0.25 + 0.15 * churned + rng.normal(0, 0.25, 240), 0, 1)})
    scores = churn_metrics(scored, models=["churn_probability", "recency_rule"], top_k=30)
    scores["model"] = ["hist_gbm (calibrated)", "recency_rule"]
    scores.insert(1, "role", ["chosen", "baseline"])
    return ChurnEvaluation(cutoff=pd.Timestamp("2025-05-26", tz="UTC"), scores=scores, reliability=pd.DataFrame(),
                           importance=pd.DataFrame(), predictions=pd.DataFrame())


def test_new_functions_are_exported_from_their_modules():
    for module, names in NEW.items():
        for name in names:
            fn = getattr(narrative, name)
            assert fn.__module__ == f"analytics_lib.report.narrative.{module}", name
            assert name in narrative.__all__


# --------------------------------------------------------------------------------------------
# Forecasting


def test_history_summary(fc):
    s = fc.series
    periods = int(s.groupby("unique_id")["y"].count().max())
    text = history_summary(s, rows_kept=20_000, window="[2025-04-01, 2025-07-01)", metric="events", agg="sum",
                           holidays=fc.holidays)
    assert text.startswith("**20,000** events in \\[2025-04-01, 2025-07-01)")
    assert f"**{s['unique_id'].nunique()}** series of up to **{periods}** periods of <code>events</code> (sum)" in text
    assert f"(Prophet, the lag regressor): {len(fc.holidays)} dates." in text
    assert UNDERSCORE_ESCAPED in history_summary(s, rows_kept=1, window="w", metric=UNDERSCORE, agg="sum")
    assert "public holidays" not in history_summary(s, rows_kept=1, window="w", metric="events", agg="sum")
    empty = history_summary(s.iloc[:0], rows_kept=0, window="w", metric="events", agg="sum")
    assert empty == "**0** events in w; no series of <code>events</code> (sum) to forecast."


def test_growth_summary(fc):
    t = fc.trend.set_index("unique_id").loc["total"]
    profile = t[["mon", "tue", "wed", "thu", "fri", "sat", "sun"]].astype(float)
    text = growth_summary(fc.trend)
    assert text.startswith(f"The total grows **{t['weekly_growth']:+.2%} per week** (95% interval "
                           f"{t['growth_lo']:+.2%} to {t['growth_hi']:+.2%}, R² {t['r2']:.2f})")
    assert (f"the busiest weekday is {profile.idxmax()} ({profile.max():.2f}x an average day), the quietest "
            f"{profile.idxmin()} ({profile.min():.2f}x).") in text
    named = fc.trend.assign(unique_id=fc.trend["unique_id"].replace({"team-a": MARKUP, "team-b": UNDERSCORE}))
    assert growth_summary(named, series_id=MARKUP).startswith(f"{MARKUP_ESCAPED} grows")
    assert growth_summary(named, series_id=UNDERSCORE).startswith(f"{UNDERSCORE_ESCAPED} grows")
    assert growth_summary(fc.trend.iloc[:0]) == "No growth estimate: the trend table has no row for any series."
    assert MARKUP_ESCAPED in growth_summary(fc.trend, series_id=MARKUP)
    nan = fc.trend.assign(weekly_growth=np.nan)
    assert growth_summary(nan) == "No growth estimate for the total: too few positive values to fit a trend."
    no_days = growth_summary(fc.trend.drop(columns=["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))
    assert "weekday" not in no_days and no_days.endswith(".")


def test_selection_summary(fc):
    sel = fc.result.selection
    c = sel.set_index("unique_id").loc["total"]
    text = selection_summary(sel, level=80)
    assert text.startswith(f"For **total**, the chosen forecast is **{c['model']}**")
    assert (f"backtest MASE **{c['mase']:.2f}** against {c['baseline_mase']:.2f} for seasonal naive "
            f"({c['improvement_vs_baseline']:.0%} lower error), sMAPE {c['smape']:.1f}%, and {c['coverage']:.0%} of "
            f"backtest values inside the raw 80% interval (calibration factor {c['interval_scale']:.2f}).") in text
    ensemble = sel.assign(unique_id=MARKUP, model="ensemble", members=f"ets, {UNDERSCORE}").iloc[:1]
    text = selection_summary(ensemble)
    assert f"For **{MARKUP_ESCAPED}**" in text and f"(median of ets, {UNDERSCORE_ESCAPED})" in text
    assert "<b>" not in text
    assert selection_summary(sel.iloc[:0]) == "No forecast model was selected."
    assert selection_summary(sel, series_id="nope") == "No forecast model was selected for nope."
    no_base = selection_summary(sel.assign(baseline_mase=np.nan, smape=np.nan))
    assert "no seasonal naive backtest to compare with" in no_base and "sMAPE n/a%" in no_base
    assert "Short history" not in text
    short = sel.assign(backtest_windows=1, fallback="2 backtest windows of 3: 40 steps of history")
    assert selection_summary(short).endswith(" Short history: 2 backtest windows of 3: 40 steps of history.")
    naive = sel.assign(backtest_windows=0, fallback="naive, not backtested: 5 steps of history are too few for a "
                                                    "backtest of 14 steps")
    assert selection_summary(naive) == ("For **total**, the forecast is **naive** (the last value), not backtested: "
                                        "5 steps of history are too few for a backtest of 14 steps.")
    seasonal = naive.assign(fallback="seasonal naive, not backtested: 30 steps of history are too few for a "
                                     "backtest of 48 steps")
    assert "**seasonal naive** (the last season repeated), not backtested: 30 steps" in selection_summary(seasonal)


def test_forecast_summary(fc):
    f = fc.result.forecast[fc.result.forecast["unique_id"] == "total"]
    recent = fc.series[fc.series["unique_id"] == "total"]["y"].iloc[-14:]
    text = forecast_summary(fc.result.forecast, fc.series, horizon=14, level=80)
    assert text.startswith(f"Over the next 14 periods ({f['ds'].iloc[0]:%Y-%m-%d} to {f['ds'].iloc[-1]:%Y-%m-%d}) "
                           f"the forecast for total adds up to **{f['forecast'].sum():,.0f}** "
                           f"({f['forecast'].sum() / recent.sum() - 1:+.1%} against the last 14 periods).")
    assert text.endswith(f"The last period's 80% interval is {f['lo-80'].iloc[-1]:,.1f} to "
                         f"{f['hi-80'].iloc[-1]:,.1f}.")
    renamed = fc.result.forecast.replace({"unique_id": {"team-a": MARKUP}})
    assert f"the forecast for {MARKUP_ESCAPED} adds up to" in forecast_summary(
        renamed, fc.series, horizon=14, level=80, series_id=MARKUP)
    assert forecast_summary(fc.result.forecast.iloc[:0], fc.series, horizon=14, level=80) == "No forecast to report."
    assert forecast_summary(fc.result.forecast, fc.series, horizon=14, level=80,
                            series_id=UNDERSCORE) == f"No forecast to report for {UNDERSCORE_ESCAPED}."
    quiet = fc.series.assign(y=0.0)
    text = forecast_summary(fc.result.forecast, quiet, horizon=14, level=80)
    assert "(the last 14 periods add up to 0)" in text
    no_history = forecast_summary(fc.result.forecast, fc.series.iloc[:0], horizon=14, level=99)
    assert "against the last" not in no_history and "interval" not in no_history


def test_no_components_note(fc):
    sel = fc.result.selection
    members = sel.set_index("unique_id").loc["total", "members"]
    assert no_components_note(sel) == f"{members} has no separate trend/seasonal components to show."
    odd = sel.assign(members=f"{MARKUP}, {UNDERSCORE}")
    assert no_components_note(odd) == (f"{MARKUP_ESCAPED}, {UNDERSCORE_ESCAPED} has no separate trend/seasonal "
                                       "components to show.")
    assert no_components_note(sel.iloc[:0]) == "The chosen model has no separate trend/seasonal components to show."


def test_capacity_summary(fc):
    c = fc.capacity.set_index("unique_id").loc["total"]
    assert pd.notna(c["first_crossing"])  # the total reaches 300 events a day in this world
    text = capacity_summary(fc.capacity, 300.0, horizon=14, level=95)
    assert text == (f"Capacity 300 is reached on **{c['first_crossing']:%Y-%m-%d}** by the point forecast; the 95% "
                    f"upper bound reaches it on {c['first_crossing_upper']:%Y-%m-%d}. Probability of reaching it "
                    f"within 14 periods: **{c['probability']:.0%}**.")
    team = fc.capacity.set_index("unique_id").loc["team-a"]
    assert capacity_summary(fc.capacity, horizon=14, level=95, series_id="team-a") == (
        f"Capacity 300 is not reached within the horizon by the point forecast. Probability of reaching it within "
        f"14 periods: **{team['probability']:.0%}**.")
    assert capacity_summary(fc.capacity.iloc[:0], 300.0, horizon=14, level=95) == (
        "No capacity check: the capacity table is empty.")
    assert capacity_summary(fc.capacity, 300.0, horizon=14, level=95, series_id=MARKUP) == (
        f"No capacity check for {MARKUP_ESCAPED}.")
    nan = capacity_summary(fc.capacity.assign(probability=np.nan), horizon=14, level=95)
    assert nan.endswith("**n/a**.")


def test_llm_spend_summary(fc):
    s = fc.spend
    lines = s.drop(index="total")["forecast_usd"]
    text = llm_spend_summary(s, horizon=14)
    assert text == (f"Forecast LLM spend over the next 14 periods: **\\${s.loc['total', 'forecast_usd']:,.2f}** in "
                    f"total; the largest model line is {lines.idxmax()} (\\${lines.max():,.2f}).")
    assert _no_bare_dollar(text)
    odd = pd.DataFrame({"forecast_usd": [1500.0, 1200.5, 299.5]},
                       index=pd.Index(["total", f"{MARKUP}{UNDERSCORE}", "other"], name="unique_id"))
    text = llm_spend_summary(odd, horizon=7)
    assert "**\\$1,500.00**" in text and f"{MARKUP_ESCAPED}{UNDERSCORE_ESCAPED} (\\$1,200.50)" in text
    assert "<b>" not in text and _no_bare_dollar(text)
    no_total = llm_spend_summary(odd.drop(index="total").reset_index(), horizon=7)
    assert "**\\$1,500.00** in total" in no_total
    assert llm_spend_summary(odd.loc[["total"]], horizon=7) == (
        "Forecast LLM spend over the next 7 periods: **\\$1,500.00** in total.")
    assert llm_spend_summary(odd.iloc[:0], horizon=7) == (
        "No LLM spend to forecast over the next 7 periods: there is no generation cost in the data.")


def test_written_files():
    text = written_files([Path("reports/forecast/forecast.csv"), f"reports/{MARKUP}/{UNDERSCORE}.parquet"])
    assert text.splitlines() == ["- <code>reports/forecast/forecast.csv</code>",
                                 f"- <code>reports/{MARKUP_ESCAPED}/{UNDERSCORE_ESCAPED}.parquet</code>"]
    assert written_files([]) == "No files were written."


# --------------------------------------------------------------------------------------------
# ROI


def test_roi_data_summary(roi):
    i = roi.inputs
    text = roi_data_summary(i, rows_kept=19_987, rows_quarantined=13)
    assert text == (f"**19,987** events from {i.start:%Y-%m-%d} to {i.observed_end - pd.Timedelta(days=1):%Y-%m-%d} "
                    f"({i.observed_months:.1f} months observed; later months are projected by the forecast); "
                    "13 rows quarantined.")
    odd = SimpleNamespace(start=i.start, observed_end=i.observed_end, observed_months=np.nan, projection=MARKUP)
    text = roi_data_summary(odd, rows_kept=1, rows_quarantined=0)
    assert "(n/a months observed" in text and f"projected by the {MARKUP_ESCAPED})" in text
    none = SimpleNamespace(start=pd.NaT, observed_end=pd.NaT, observed_months=0.0, projection="flat")
    assert roi_data_summary(none, rows_kept=0, rows_quarantined=2) == (
        "**0** events, but no observed day to measure; 2 rows quarantined.")


def test_roi_notes(roi):
    assert roi.result.notes
    assert roi_notes(roi.result).splitlines() == [f"- {n}" for n in roi.result.notes]
    assert roi_notes(SimpleNamespace(notes=(f"team {MARKUP} has {UNDERSCORE}",))) == (
        f"- team {MARKUP_ESCAPED} has {UNDERSCORE_ESCAPED}")
    assert roi_notes(SimpleNamespace(notes=())) == "No notes on the data or the projection."


def test_break_even_summary(roi):
    be = roi.break_even
    text = break_even_summary(be)
    escaped = be["assumption"].str.replace("_", "\\_")
    assert text == " ".join(f"{a}: {n}." for a, n in zip(escaped, be["note"]))
    assert text.startswith("hourly\\_rate: ") and _no_bare_dollar(text)
    feasible = pd.DataFrame({"assumption": ["hourly_rate", "realisation_rate"], "break_even": [25.5, 0.4567],
                             "feasible": [True, True], "note": ["ROI is positive above USD 25.50 per hour",
                                                                "ROI is positive for realisation rates above 0.457"]})
    assert break_even_summary(feasible) == ("hourly\\_rate: ROI is positive above USD 25.50 per hour. "
                                            "realisation\\_rate: ROI is positive for realisation rates above 0.457.")
    odd = pd.DataFrame({"assumption": [MARKUP], "break_even": [12.5], "feasible": [True], "note": [np.nan]})
    assert break_even_summary(odd) == f"{MARKUP_ESCAPED}: ROI is zero at 12.5."
    assert break_even_summary(be.iloc[:0]) == "No break-even values were computed."


def test_monte_carlo_summary(roi):
    sim = roi.simulation
    share = sim.summary.attrs["share_paying_back"]
    text = monte_carlo_summary(sim)
    assert text.startswith(f"P(ROI > 0) = **{narrative.roi._pct(sim.prob_positive)}** over 500 draws (seed 3); ")
    assert f"{narrative.roi._pct(share)} of the draws pay back within the horizon" in text
    summary = pd.DataFrame({"metric": ["npv"]})  # no share_paying_back attribute
    partial = monte_carlo_summary(SimpleNamespace(prob_positive=0.0004, n=10_000, seed=None, summary=summary))
    assert partial == "P(ROI > 0) = **below 0.1 %** over 10,000 draws."
    assert monte_carlo_summary(SimpleNamespace(prob_positive=np.nan, n=0, seed=0, summary=summary)) == (
        "No Monte Carlo draws to report.")


# --------------------------------------------------------------------------------------------
# User predictions


def test_prediction_data_summary(world):
    ev = world.events
    text = prediction_data_summary(ev, rows_kept=len(ev), rows_quarantined=4)
    assert text == (f"**{len(ev):,}** events from {ev['ts'].min():%Y-%m-%d} to {ev['ts'].max():%Y-%m-%d} "
                    f"({ev['user_id'].nunique():,} users; 4 rows quarantined).")
    assert prediction_data_summary(ev.iloc[:0], rows_kept=0, rows_quarantined=1) == (
        "**0** events, but none with a timestamp to learn from (1 rows quarantined).")


def test_churn_summary(churn_eval):
    s = churn_eval.scores
    c, r = s.iloc[0], s.iloc[1]
    text = churn_summary(churn_eval)
    assert text.startswith(f"On the held-out cutoff **2025-05-26** ({c['users']:,} active users, {c['churners']:,} "
                           "of whom churned), the chosen model **hist\\_gbm (calibrated)** ranks churners with ")
    assert f"ROC AUC **{c['roc_auc']:.3f}** (PR AUC {c['pr_auc']:.3f})" in text  # what the notebook test reads
    assert f"against **{r['roc_auc']:.3f}** ({r['pr_auc']:.3f}) for the recency rule: it beats the baseline." in text
    assert (f"Among its top 30 users, {c['precision_at_k']:.0%} churned ({c['recall_at_k']:.0%} of all churners; "
            f"the rule: {r['precision_at_k']:.0%}).") in text
    assert text.endswith(f"Brier score {c['brier']:.4f} (rule {r['brier']:.4f}; always predicting the base rate: "
                         f"{c['base_rate'] * (1 - c['base_rate']):.4f}).")
    assert c["roc_auc"] > r["roc_auc"]
    worse = SimpleNamespace(cutoff=churn_eval.cutoff, scores=s.assign(roc_auc=[0.6, 0.7], model=[MARKUP, "rule"]))
    text = churn_summary(worse)
    assert f"**{MARKUP_ESCAPED}**" in text and "it does not beat the baseline" in text and "<b>" not in text
    alone = churn_summary(SimpleNamespace(cutoff=pd.NaT, scores=s.iloc[:1].assign(roc_auc=np.nan)))
    assert alone.startswith("On the held-out cutoff (") and "ROC AUC **n/a**" in alone
    assert "there is no recency rule to compare it with." in alone and "(always predicting the base rate" in alone
    assert churn_summary(SimpleNamespace(cutoff=churn_eval.cutoff, scores=s.iloc[:0])) == (
        "No churn model was scored on a held-out cutoff.")


def test_satisfaction_drivers_summary(sat_eval):
    best = sat_eval.scores[sat_eval.scores["role"] == "chosen"].iloc[0]
    mean = sat_eval.scores.set_index("model").loc["mean_predictor"]
    text = satisfaction_drivers_summary(sat_eval)
    head, _, items = text.partition("\n\n")
    assert head == (f"On {best['sessions']:,} rated sessions from {sat_eval.period[0]:%Y-%m-%d} on (after the "
                    f"training period), the model (**{best['model']}**) misses the score by **{best['mae']:.2f}** "
                    f"points on average against **{mean['mae']:.2f}** for the mean predictor: "
                    f"**{best['mae_improvement']:.0%}** better.")
    assert len(sat_eval.drivers) and items.splitlines() == [
        "- " + s.replace("_", "\\_") for s in sat_eval.drivers["sentence"]]
    odd = SimpleNamespace(period=sat_eval.period, scores=sat_eval.scores.assign(model=[MARKUP, "mean_predictor",
                                                                                       "median_predictor"]),
                          drivers=pd.DataFrame({"sentence": [f"sessions on model {UNDERSCORE} score lower"]}))
    text = satisfaction_drivers_summary(odd)
    assert f"(**{MARKUP_ESCAPED}**)" in text and text.endswith(f"- sessions on model {UNDERSCORE_ESCAPED} score lower")
    bare = SimpleNamespace(period=(pd.NaT, pd.NaT), scores=sat_eval.scores.iloc[:1], drivers=pd.DataFrame())
    assert satisfaction_drivers_summary(bare).endswith("(there is no mean predictor to compare it with).")
    assert "\n" not in satisfaction_drivers_summary(bare)
    assert satisfaction_drivers_summary(SimpleNamespace(period=None, scores=pd.DataFrame(), drivers=None)) == (
        "No satisfaction model was scored on held-out sessions.")


def test_at_risk_summary(world):
    cutoff = pd.Timestamp("2025-06-30", tz="UTC")
    now = user_features(world.events, cutoff=cutoff)
    at_risk = pd.DataFrame({"rank": [1, 2, 3], "user_id": now["user_id"].iloc[:3].to_numpy(),
                            "team": ["team-a"] * 3, "churn_probability": [0.71, 0.52, 0.30]})
    text = at_risk_summary(at_risk, now, active_days=28, cutoff=cutoff, team=["team-a"])
    assert text == (f"{len(now):,} users were active in the 28 days before 2025-06-30; the 3 listed (teams team-a) "
                    "have a mean churn probability of 51%.")
    assert "(teams" not in at_risk_summary(at_risk, now, active_days=28, cutoff=cutoff)
    odd = at_risk_summary(at_risk, now, active_days=28, cutoff=cutoff, team=[MARKUP, UNDERSCORE])
    assert f"(teams {MARKUP_ESCAPED}, {UNDERSCORE_ESCAPED})" in odd and "<b>" not in odd
    assert f"(teams {MARKUP_ESCAPED})" in at_risk_summary(at_risk, now, active_days=28, cutoff=cutoff, team=MARKUP)
    assert at_risk_summary(at_risk.iloc[:0], now.iloc[:0], active_days=28, cutoff=cutoff, team="team-a") == (
        "0 users were active in the 28 days before 2025-06-30; none is listed (teams team-a).")
