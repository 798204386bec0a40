"""User-level predictions: features without leakage, labels, time-based validation, the accuracy
targets of issue 10 on sample data with planted churn and satisfaction, explanations, saving,
parameters and the notebook.

No test trains and evaluates on the same period: the churn model is scored on the split's test
cutoff (its labels start after every training and calibration label ended) and the
satisfaction model on sessions that start after its training period; both are asserted below.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.predict.features import (
    USER_FEATURES, churn_dataset, churn_labels, session_features, user_features)
from analytics_lib.analysis.predict.churn import ChurnModel
from analytics_lib.analysis.predict.satisfaction import SatisfactionModel
from analytics_lib.analysis.predict.persistence import at_risk_table, load_model, save_model, write_at_risk
from analytics_lib.analysis.predict.evaluation import churn_metrics, reliability_table
from analytics_lib.report.params import prediction_parameters
from analytics_lib.analysis.predict.splits import session_split, time_split

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "user_predictions.ipynb"
JOB = ROOT / "papermill_jobs" / "weekly-user-predictions.yaml"


@pytest.fixture(scope="module")
def world():
    """Six months, ~470 users, planted churn and satisfaction (see GroundTruth)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    return synthetic_events(200_000, days=180, end="2025-06-30", seed=0)


@pytest.fixture(scope="module")
def churn(world):
    model = ChurnModel().fit(world.events)
    return model, model.evaluate(world.events)


@pytest.fixture(scope="module")
def satisfaction(world):
    sessions = session_features(world.events)
    model = SatisfactionModel().fit(sessions)
    return sessions, model, model.evaluate(sessions)


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


# --------------------------------------------------------------------------------------------
# Features and labels
def test_features_ignore_events_after_the_cutoff(world):
    ev = world.events
    cutoff = _ts("2025-04-07")
    full = user_features(ev, cutoff=cutoff)
    before = user_features(ev[ev["ts"] < cutoff], cutoff=cutoff)
    pd.testing.assert_frame_equal(full, before)
    # changing every later event (all latencies x10, all errors) changes nothing either
    later = (ev["ts"] >= cutoff).to_numpy()
    noisy = ev.copy()
    noisy.loc[later, "latency_ms"] = noisy.loc[later, "latency_ms"] * 10
    noisy.loc[later, "event_type"] = "error"
    pd.testing.assert_frame_equal(user_features(noisy, cutoff=cutoff), full)
    assert set(full.columns) == {"user_id", "cutoff", *USER_FEATURES}
    assert full["recency_days"].between(0, 28).all() and full["user_id"].is_unique


def test_stacked_dataset_equals_features_on_truncated_events_even_for_sessions_the_cutoff_cuts(world):
    from analytics_lib.analysis.workflow.sessions import session_table

    ev = world.events
    sessions = session_table(ev)
    cutoffs = [_ts(d) for d in ("2025-03-03", "2025-04-03", "2025-05-20")]
    cut = [((sessions["start"] < c) & (sessions["end"] >= c)).sum() for c in cutoffs]
    assert cut[1] > 0 and cut[2] > 0, "the check needs sessions that a cutoff cuts"
    data = churn_dataset(ev, cutoffs=cutoffs)
    for c in cutoffs:
        fast = data[data["cutoff"] == c].drop(columns=["churned", "days_to_next"]).reset_index(drop=True)
        slow = user_features(ev[ev["ts"] < c], cutoff=c)
        pd.testing.assert_frame_equal(fast, slow, check_categorical=False, obj=f"features at {c.date()}")
        labels = churn_labels(ev, cutoff=c)
        assert (data.loc[data["cutoff"] == c, "churned"].to_numpy() == labels["churned"].to_numpy()).all()


def test_features_match_a_direct_computation(world):
    ev = world.events
    cutoff = _ts("2025-05-05")
    f = user_features(ev, cutoff=cutoff).set_index("user_id")
    before = ev[ev["ts"] < cutoff]
    uid = before["user_id"].astype(str)
    last = before.groupby(uid)["ts"].max()
    np.testing.assert_allclose(f["recency_days"], ((cutoff - last) / pd.Timedelta(days=1)).loc[f.index])
    gen = before["event_type"] == "generation"
    lat = before.loc[gen, "latency_ms"].groupby(uid[gen]).mean() / 1000
    np.testing.assert_allclose(f["latency_mean_s"], lat.reindex(f.index))
    err = (before["event_type"] == "error").groupby(uid).sum()
    req = before["event_type"].isin(["generation", "error"]).groupby(uid).sum()
    np.testing.assert_allclose(f["error_share"], (err / req).reindex(f.index))
    last28 = before[before["ts"] >= cutoff - pd.Timedelta(days=28)]
    days = last28.groupby(last28["user_id"].astype(str))["ts"].apply(lambda s: s.dt.floor("D").nunique())
    np.testing.assert_allclose(f["active_days_28d"], days.reindex(f.index))
    sat = before["satisfaction"].groupby(uid).mean()
    np.testing.assert_allclose(f["satisfaction_mean"], sat.reindex(f.index))


def test_labels_agree_with_the_planted_churn(world):
    ev = world.events
    cutoff = _ts("2025-04-07")
    labels = churn_labels(ev, cutoff=cutoff, churn_window_days=28).set_index("user_id")
    truth = world.truth.users.set_index("user_id")
    gone = truth[truth["churned"] & (truth["churn_date"] < cutoff)].index.intersection(labels.index)
    assert len(gone) > 10 and labels.loc[gone, "churned"].all()  # who left before the cutoff never comes back
    # a user labelled active has an event within the window, at the stated delay
    stay = labels[~labels["churned"]]
    nxt = ev[ev["ts"] >= cutoff].groupby(ev["user_id"].astype(str))["ts"].min()
    np.testing.assert_allclose(stay["days_to_next"], ((nxt.loc[stay.index] - cutoff) / pd.Timedelta(days=1)))
    assert (stay["days_to_next"] < 28).all() and labels.loc[labels["churned"], "days_to_next"].isna().all()


def test_labels_need_the_whole_window_in_the_data(world):
    with pytest.raises(WorkbenchError, match="the label needs events up to 2025-07-13"):
        churn_labels(world.events, cutoff="2025-06-16", churn_window_days=28)


def test_time_split_keeps_every_label_window_before_the_next_role(world):
    split = time_split(world.events, churn_window_days=28)
    w = pd.Timedelta(days=28)
    assert split.test == _ts("2025-06-02") and split.validation == _ts("2025-05-05")
    assert all(c + w <= split.validation for c in split.train) and split.validation + w <= split.test
    assert list(split.train) == sorted(split.train) and len(split.train) == 8
    assert split.table()["role"].tolist()[-2:] == ["validation", "test"]
    with pytest.raises(WorkbenchError, match="needs at least 112 days"):
        time_split(world.events[world.events["ts"] >= _ts("2025-04-01")], churn_window_days=28)


# --------------------------------------------------------------------------------------------
# Churn model: accuracy targets and honesty
def test_churn_model_beats_the_recency_rule_on_a_later_held_out_cutoff(churn):
    model, evaluation = churn
    split, w = model.split_, pd.Timedelta(days=model.churn_window_days)
    # the evaluated cutoff's labels start after every training and calibration label ended
    assert evaluation.cutoff == split.test >= split.validation + w
    assert pd.Timestamp(model.training_window_["labels_until"], tz="UTC") < evaluation.cutoff
    scores = evaluation.scores.set_index("role")
    chosen, rule = scores.loc["chosen"], scores.loc["baseline"]
    assert chosen["roc_auc"] >= 0.80, chosen
    assert chosen["roc_auc"] > rule["roc_auc"], (chosen["roc_auc"], rule["roc_auc"])
    assert bool(chosen["beats_baseline"]) and chosen["pr_auc"] > 0.8
    assert chosen["churners"] >= 20 and chosen["users"] > 250
    # calibrated: better than always predicting the base rate, and right on average
    assert chosen["brier"] < chosen["base_rate"] * (1 - chosen["base_rate"])
    pred = evaluation.predictions
    assert abs(pred["churn_probability"].mean() - pred["churned"].mean()) < 0.05
    assert chosen["precision_at_k"] > 4 * chosen["base_rate"]


def test_model_was_chosen_on_validation_folds_before_the_test_period(churn):
    model, _ = churn
    folds = model.validation_folds_
    assert folds["validation_cutoff"].max() == model.split_.validation
    assert (folds["validation_cutoff"] < model.split_.test).all()
    val = model.validation_scores_.set_index("model")
    candidates = list(model.candidates_)
    assert set(candidates) == {"logistic_c0.1", "logistic_c1", "boosting_8leaves", "boosting_depth3"}
    assert model.model_name_ == val.loc[candidates, "log_loss"].idxmin() and val.loc[model.model_name_, "chosen"]


def test_evaluating_on_the_training_or_calibration_period_is_refused(churn, world):
    model, _ = churn
    for bad in (model.split_.validation, model.split_.validation + pd.Timedelta(days=21), model.split_.train[0]):
        with pytest.raises(WorkbenchError, match="overlaps the period the model was trained and calibrated on"):
            model.evaluate(world.events, cutoff=bad)


def test_churn_drivers_recover_the_planted_ones(churn):
    model, evaluation = churn
    imp = evaluation.importance.set_index("feature")
    assert imp.index[0] in ("recency_days", "overdue_ratio", "missed_sessions")  # silence is the label's signal
    experience = ["latency_mean_s", "latency_p95_s", "error_share", "satisfaction_mean"]
    best = min(imp.loc[experience, "rank"])
    assert best <= 5, imp.head(8)                      # the planted hazard: latency, errors, dissatisfaction
    assert imp.loc["latency_mean_s", "importance"] > 0


def test_explanations_name_what_raises_the_risk_in_plain_words(churn, world):
    model, _ = churn
    now = user_features(world.events, cutoff="2025-06-30")
    pred = model.predict(now)
    top = pred.nsmallest(5, "risk_rank")["user_id"]
    ex = model.explain(now, users=top, top=3)
    assert set(ex["user_id"]) == set(top) and (ex["effect"] > 0).all()
    assert ex.groupby("user_id")["effect"].apply(lambda e: e.is_monotonic_decreasing).all()
    first = ex[ex["rank"] == 1]
    assert (first["driver"] == "inactivity").all()
    assert first["reason"].str.match(r"last active \d+ days ago \(typical: \d+ days?\), silent for").all()
    # the effect is the drop of the probability when the driver is typical: check one by hand
    row = first.iloc[0]
    x = now[now["user_id"] == row["user_id"]]
    typical = x.assign(**{c: model.typical_[c] for c in ("recency_days", "overdue_ratio", "missed_sessions")})
    drop = model.predict(x)["churn_probability"].iloc[0] - model.predict(typical)["churn_probability"].iloc[0]
    assert drop == pytest.approx(row["effect"], abs=1e-9)


def test_at_risk_table_lists_the_highest_risks_with_reasons(churn, world, tmp_path):
    model, _ = churn
    now = user_features(world.events, cutoff="2025-06-30")
    table = at_risk_table(model, now, top_k=15, team="team-a")
    assert len(table) == 15 and (table["team"] == "team-a").all()
    assert table["churn_probability"].is_monotonic_decreasing and table["rank"].tolist() == list(range(1, 16))
    everyone = model.predict(now).merge(now[["user_id", "team"]])
    expected = everyone[everyone["team"] == "team-a"].nlargest(15, "churn_probability")["user_id"]
    assert set(table["user_id"]) == set(expected)
    assert (table["reason_1"].str.len() > 0).all()
    with pytest.raises(WorkbenchError, match="no scored user belongs to team-zz; the teams are team-a"):
        at_risk_table(model, now, top_k=5, team="team-zz")
    csv, xlsx = write_at_risk(table, tmp_path)
    back_csv, back_xlsx = pd.read_csv(csv), pd.read_excel(xlsx)
    assert back_csv["user_id"].tolist() == back_xlsx["user_id"].tolist() == table["user_id"].tolist()
    np.testing.assert_allclose(back_xlsx["churn_probability"], table["churn_probability"])


# --------------------------------------------------------------------------------------------
# Metrics
def test_churn_metrics_match_scikit_learn_and_hand_counts():
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.15
    p = 1 / (1 + np.exp(1.8 - 1.5 * y - rng.standard_normal(400)))
    m = churn_metrics(pd.DataFrame({"churned": y, "p": p}), models=["p"], top_k=40).iloc[0]
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    top = y[np.argsort(-p, kind="stable")[:40]]
    assert m["precision_at_k"] == top.mean() and m["recall_at_k"] == top.sum() / y.sum()
    rel = reliability_table(pd.DataFrame({"churned": y, "p": p}), models=["p"], n_bins=5)
    assert rel["users"].sum() == 400 and rel["churners"].sum() == y.sum() and len(rel) == 5
    assert ((rel["ci_low"] <= rel["observed_rate"]) & (rel["observed_rate"] <= rel["ci_high"])).all()
    tied = reliability_table(pd.DataFrame({"churned": y, "p": np.round(p, 1)}), models=["p"], n_bins=10)
    assert tied["users"].sum() == 400                                    # equal scores share a bin:
    assert (tied["p_low"].to_numpy()[1:] > tied["p_high"].to_numpy()[:-1]).all()
    with pytest.raises(WorkbenchError, match="'q' is not a column"):
        churn_metrics(pd.DataFrame({"churned": y, "p": p}), models=["q"])


# --------------------------------------------------------------------------------------------
# Satisfaction model
def test_session_features_leave_feedback_out_of_the_inputs(world, satisfaction):
    from analytics_lib.analysis.workflow.sessions import session_table

    sessions = satisfaction[0]
    st = session_table(world.events).set_index("session_id")
    sf = sessions.set_index("session_id")
    fb = (world.events["event_type"] == "feedback").groupby(world.events["session_id"]).sum()
    np.testing.assert_array_equal(sf["n_events"], (st["n_events"] - fb.reindex(st.index)).loc[sf.index])
    np.testing.assert_allclose(sf["satisfaction"], st.loc[sf.index, "satisfaction"])
    assert sf["satisfaction"].notna().sum() == fb.gt(0).sum()


def test_satisfaction_model_beats_the_mean_predictor_and_finds_the_planted_driver(satisfaction, world):
    sessions, model, ev = satisfaction
    assert (ev.predictions["start"] >= model.trained_until_).all()       # never scored on the training period
    rated = sessions[sessions["satisfaction"].notna()]
    assert model.n_train_rows_ == int((rated["start"] < model.trained_until_).sum())
    scores = ev.scores.set_index("model")
    chosen = scores[scores["role"] == "chosen"].iloc[0]
    assert chosen["mae_improvement"] >= 0.20, ev.scores
    assert chosen["mae"] < scores.loc["median_predictor", "mae"]
    assert ev.importance["feature"].iloc[0] == "latency_s"            # the generator plants latency
    # the partial dependence of latency falls at about the planted slope
    pdp = ev.partial_dependence[ev.partial_dependence["feature"] == "latency_s"]
    x, y = pdp["value"].astype(float).to_numpy(), pdp["satisfaction"].to_numpy()
    slope = np.polyfit(x, y, 1)[0]
    planted = world.truth.satisfaction_latency_slope
    assert planted * 1.6 < slope < planted * 0.5, (slope, planted)
    first = ev.drivers.iloc[0]
    assert first["feature"] == "latency_s" and first["effect"] > 0.2
    assert first["sentence"].startswith(f"mean generation latency above {first['threshold']:g} s costs ")


def test_satisfaction_evaluation_refuses_the_training_period(satisfaction):
    sessions, model, _ = satisfaction
    with pytest.raises(WorkbenchError, match="never on the training period"):
        model.evaluate(sessions[sessions["start"] < model.trained_until_])
    split = session_split(sessions)
    assert split.validation_start < split.test_start == model.trained_until_


# --------------------------------------------------------------------------------------------
# Saving and loading
def test_save_and_load_round_trip_with_metadata(churn, satisfaction, world, tmp_path):
    model, _ = churn
    path, side = save_model(model, tmp_path / "churn.joblib")
    meta = json.loads(side.read_text())
    assert meta["kind"] == "ChurnModel" and meta["features"] == list(USER_FEATURES)
    assert meta["training_window"]["validation_cutoff"] == "2025-05-05" and meta["chosen_model"] == model.model_name_
    assert {r["model"] for r in meta["validation_scores"]} >= {"recency_rule", model.model_name_}
    assert meta["library_version"] and meta["sklearn_version"] and len(meta["sha256"]) == 64
    loaded = load_model(path, kind="ChurnModel")
    now = user_features(world.events, cutoff="2025-06-30")
    pd.testing.assert_frame_equal(loaded.predict(now), model.predict(now))

    sessions, sat, _ = satisfaction
    spath, _ = save_model(sat, tmp_path / "sat.joblib")
    pd.testing.assert_frame_equal(load_model(spath).predict(sessions.head(50)), sat.predict(sessions.head(50)))
    with pytest.raises(WorkbenchError, match="holds a SatisfactionModel, not a ChurnModel"):
        load_model(spath, kind="ChurnModel")


def test_load_refuses_other_features_a_changed_file_and_a_missing_sidecar(churn, tmp_path):
    model, _ = churn
    path, side = save_model(model, tmp_path / "churn.joblib")
    meta = json.loads(side.read_text())
    side.write_text(json.dumps({**meta, "features": meta["features"][:-1] + ["favourite_colour"]}))
    with pytest.raises(WorkbenchError, match=r"trained on other features.*missing: \['main_model'\].*"
                                             r"unknown: \['favourite_colour'\]"):
        load_model(path)
    side.write_text(json.dumps(meta))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(WorkbenchError, match="changed after it was saved"):
        load_model(path)
    side.unlink()
    with pytest.raises(WorkbenchError, match="has no metadata sidecar"):
        load_model(path)
    with pytest.raises(WorkbenchError, match="no model file"):
        load_model(tmp_path / "nothing.joblib")
    with pytest.raises(WorkbenchError, match="not fitted yet"):
        save_model(ChurnModel(), tmp_path / "unfitted.joblib")


# --------------------------------------------------------------------------------------------
# Bad input
@pytest.mark.parametrize("changes, message", [
    ({"cutoff": "2025-07-02"}, "is in the future"),
    ({"cutoff": "2025-06-01T12:00"}, "has a time of day"),
    ({"cutoff": "last tuesday"}, "is not a date"),
    ({"cutoff": None}, "cutoff is empty"),
    ({"churn_window_days": 0}, "churn_window_days=0 must be a whole number from 1 to 365"),
    ({"churn_window_days": "28"}, "churn_window_days='28' must be a whole number"),
    ({"churn_window_days": True}, "churn_window_days=True must be a whole number"),
    ({"top_k": 0}, "top_k=0 must be a whole number from 1 to 100,000"),
    ({"team": []}, "team=\\[\\] is not valid"),
    ({"source": "/nowhere/events.csv"}, "does not exist"),
    ({"output_dir": 3}, "is not a folder path"),
])
def test_prediction_parameters_refuse_bad_values(changes, message, tmp_path):
    good = dict(source="sqlite://", cutoff="2025-06-30", churn_window_days=28, team=None, top_k=50,
                output_dir=tmp_path, now="2025-07-01T08:00:00Z")
    p = prediction_parameters(**good)
    assert p.cutoff == _ts("2025-06-30") and p.window.end == p.cutoff
    with pytest.raises(WorkbenchError, match=message):
        prediction_parameters(**{**good, **changes})


def test_models_and_functions_refuse_bad_settings(world, churn):
    ev = world.events
    with pytest.raises(WorkbenchError, match="calibration='platt': use 'sigmoid' or 'isotonic'"):
        ChurnModel(calibration="platt").fit(ev)
    with pytest.raises(WorkbenchError, match="candidates=\\('forest',\\)"):
        ChurnModel(candidates=("forest",)).fit(ev)
    with pytest.raises(WorkbenchError, match="not fitted yet"):
        ChurnModel().predict(pd.DataFrame())
    with pytest.raises(WorkbenchError, match="is not a midnight"):
        user_features(ev, cutoff="2025-05-01T10:00:00Z")
    with pytest.raises(WorkbenchError, match="timezone-aware UTC"):
        user_features(ev.assign(ts=ev["ts"].dt.tz_localize(None)), cutoff="2025-05-01")
    with pytest.raises(WorkbenchError, match="missing columns: user_id"):
        user_features(ev.drop(columns="user_id"), cutoff="2025-05-01")
    with pytest.raises(WorkbenchError, match="no events before cutoff=2024-01-01"):
        user_features(ev, cutoff="2024-01-01")
    with pytest.raises(WorkbenchError, match="sessions are missing the columns"):
        SatisfactionModel().fit(ev)
    with pytest.raises(WorkbenchError, match="the feature table is missing the feature columns"):
        churn[0].predict(user_features(ev, cutoff="2025-06-30").drop(columns="team"))


# --------------------------------------------------------------------------------------------
# Notebook and job
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    write_events(validate_events(synthetic_events(50_000, days=110, seed=0).events), url)  # ends today
    return url


def test_notebook_runs_and_writes_the_at_risk_list(store, tmp_path):
    import papermill

    out = tmp_path / "out"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "run.ipynb"),
                               parameters={"source": store, "churn_window_days": 14, "top_k": 12,
                                           "team": "team-a", "output_dir": str(out)},
                               kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False)
    nb = nbformat.read(tmp_path / "run.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4  # calibration, two driver charts, PDP
    csv, xlsx = pd.read_csv(out / "at_risk_users.csv"), pd.read_excel(out / "at_risk_users.xlsx")
    assert len(csv) == 12 and (csv["team"] == "team-a").all() and csv["user_id"].tolist() == xlsx["user_id"].tolist()
    assert csv["churn_probability"].is_monotonic_decreasing
    scores = pd.read_parquet(out / "churn_scores.parquet")
    assert scores["role"].tolist()[0] == "chosen" and scores["roc_auc"].notna().all()
    assert load_model(out / "churn_model.joblib", kind="ChurnModel").churn_window_days == 14
    assert load_model(out / "satisfaction_model.joblib", kind="SatisfactionModel").model_name_
    text = "\n".join(o["data"].get("text/markdown", "") for o in outputs if "data" in o)
    assert f"ROC AUC **{scores['roc_auc'].iloc[0]:.3f}**" in text  # the sentence reports the computed score


def test_notebook_bad_parameter_stops_in_the_first_cell(store, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "failed.ipynb"),
                                   parameters={"source": store, "top_k": 0, "output_dir": str(tmp_path / "out")},
                                   kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "top_k=0 must be a whole number" in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_job_spec_is_valid_for_the_runner():
    jobs = pytest.importorskip("analytics_lib.jobs", reason="the jobs runner is not in this checkout yet")
    spec = jobs.load_job_spec(JOB)
    assert spec.name == "weekly-user-predictions" and spec.notebook == NOTEBOOK.resolve()
    assert spec.checks == ("analytics_lib.predict:prediction_parameters",)
    assert [v.parameters["top_k"] for v in jobs.check_job(spec, store="sqlite://")] == [50]
    with pytest.raises(WorkbenchError, match="churn_window_days=0"):
        jobs.check_job(spec, overrides={"churn_window_days": 0}, store="sqlite://")
