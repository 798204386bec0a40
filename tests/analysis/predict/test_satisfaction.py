"""The satisfaction model beats the mean predictor, finds the planted latency driver, and is never
evaluated on its training period.
No test trains and evaluates on the same period: the churn model is scored on the split's test
cutoff (its labels start after every training and calibration label ended) and the
satisfaction model on sessions that start after its training period."""
from __future__ import annotations

import numpy as np
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.predict.splits import session_split


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
