"""The at-risk table and its files, and saving and loading models with their metadata (refusing other
features, a changed file and a missing sidecar)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.predict.churn import ChurnModel
from analytics_lib.analysis.predict.features import USER_FEATURES, user_features
from analytics_lib.analysis.predict.persistence import at_risk_table, load_model, save_model, write_at_risk


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
