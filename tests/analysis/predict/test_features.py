"""User and session features without leakage, churn labels against the planted churn, and bad input
to the models and feature functions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from predict_helpers import _ts

from analytics_lib import WorkbenchError
from analytics_lib.analysis.predict.churn import ChurnModel
from analytics_lib.analysis.predict.features import USER_FEATURES, churn_dataset, churn_labels, user_features
from analytics_lib.analysis.predict.satisfaction import SatisfactionModel


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


def test_session_features_leave_feedback_out_of_the_inputs(world, satisfaction):
    from analytics_lib.analysis.workflow.sessions import session_table

    sessions = satisfaction[0]
    st = session_table(world.events).set_index("session_id")
    sf = sessions.set_index("session_id")
    fb = (world.events["event_type"] == "feedback").groupby(world.events["session_id"]).sum()
    np.testing.assert_array_equal(sf["n_events"], (st["n_events"] - fb.reindex(st.index)).loc[sf.index])
    np.testing.assert_allclose(sf["satisfaction"], st.loc[sf.index, "satisfaction"])
    assert sf["satisfaction"].notna().sum() == fb.gt(0).sum()


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
