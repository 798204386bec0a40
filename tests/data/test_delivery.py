"""Delivery events: every quarantine reason, counts that reconcile, real-world files (BOM, a
mapping from a CI export, a ragged row) and the round trip through a SQL store."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.data.delivery import read_delivery, validate_delivery, write_delivery


def _frames():
    changes = pd.DataFrame({"change_id": ["c1", "c2", "c3", "c4", "c1", "c5"], "team": ["a", "a", "a", "b", "a", ""],
                            "committed_at": ["2025-06-02T09:00Z", "2025-06-02T10:00Z", "2025-06-09T09:00Z",
                                             "yesterday-ish", "2025-06-01T00:00Z", "2025-06-02T09:00Z"]})
    deployments = pd.DataFrame({
        "deploy_id": ["d1", "d2", "d3", "d4", "d5"], "team": "a",
        "deployed_at": ["2025-06-03T12:00Z", "2025-06-03T13:00Z", "2025-06-05T12:00Z", "2025-06-06T12:00Z",
                        "2025-06-08T12:00Z"],
        "status": ["success", "Failed", "success", "exploded", "success"],
        "changes": ["c1 c2", "c9", "c3", "c2", []]})
    incidents = pd.DataFrame({"incident_id": ["i1", "i2", "i3", "i4", "i1"],
                              "opened_at": ["2025-06-03T14:00Z", "2025-06-03T15:00Z", "2025-06-04T00:00Z",
                                            "2025-06-04T00:00Z", "2025-06-05T00:00Z"],
                              "resolved_at": ["2025-06-03T16:00Z", "2025-06-03T14:00Z", None, "2025-06-04T01:00Z",
                                              None],
                              "deploy_id": ["d1", "d1", "", "d404", "d1"]})
    return changes, deployments, incidents


def test_every_reason_and_the_counts_reconcile():
    v = validate_delivery(*_frames())
    reasons = v.quarantine.set_index(["kind", "id"])["reason"].to_dict()
    assert reasons == {
        ("changes", "c4"): "unparsable_timestamp", ("changes", "c1"): "duplicate_id",
        ("changes", "c5"): "missing_required",
        ("deployments", "d2"): "no_changes",       # its only change c9 is unknown (the link is quarantined)
        ("deployments", "d3"): "no_changes",       # its only link is clock_skew
        ("deployments", "d4"): "unknown_status",
        ("deployments", "d5"): "no_changes",       # shipped nothing
        ("links", "d2/c9"): "unknown_change",
        ("links", "d3/c3"): "clock_skew",          # committed after the deployment that shipped it
        ("links", "d4/c2"): "unknown_deployment",
        ("incidents", "i2"): "clock_skew",         # resolved before it opened
        ("incidents", "i3"): "no_deployment",
        ("incidents", "i4"): "unknown_deployment",
        ("incidents", "i1"): "duplicate_id"}
    assert v.deployments["deploy_id"].tolist() == ["d1"] and v.deployments["status"].tolist() == ["success"]
    assert (v.counts["kept"] + v.counts["quarantined"] == v.counts["rows"]).all()
    assert v.counts.loc["deployments"].tolist() == [5, 1, 4]
    assert v.counts.loc["changes"].tolist() == [6, 3, 3] and v.counts.loc["incidents"].tolist() == [5, 1, 4]
    assert v.incidents["team"].tolist() == ["a"]  # taken from the deployment that caused it


def test_a_missing_column_is_one_line():
    changes, deployments, incidents = _frames()
    with pytest.raises(WorkbenchError, match="the changes lack the column.s. committed_at"):
        validate_delivery(changes.drop(columns="committed_at"), deployments, incidents)
    with pytest.raises(WorkbenchError, match="'changes' column"):
        validate_delivery(changes, deployments.drop(columns="changes"), incidents)


def test_a_ci_export_with_a_bom_a_mapping_and_a_ragged_row(tmp_path):
    (tmp_path / "changes.csv").write_bytes("\ufeffsha,repo_team,first_commit\nabc,a,2025-06-02T09:00:00Z\n"
                                           "def,a,2025-06-02T10:00:00Z\n".encode())
    # a GitHub-Actions-like export: run id, conclusion, finished time, the commit SHAs; one ragged line
    (tmp_path / "deployments.csv").write_text("run_id,team,finished_at,conclusion,shas\n"
                                              "101,a,2025-06-03T12:00:00Z,success,abc;def\n"
                                              "102,a,2025-06-04T12:00:00Z\n")
    (tmp_path / "incidents.csv").write_text("incident_id,opened_at,resolved_at,deploy_id\n"
                                            "i1,2025-06-03T13:00:00Z,2025-06-03T15:30:00Z,101\n")
    mapping = {"changes": {"change_id": "sha", "team": "repo_team", "committed_at": "first_commit"},
               "deployments": {"deploy_id": "run_id", "deployed_at": "finished_at", "status": "conclusion",
                               "changes": "shas"}}
    v = read_delivery(tmp_path, mapping=mapping)
    assert v.changes["change_id"].tolist() == ["abc", "def"]  # the byte-order mark is not part of the header
    assert v.deployments["deploy_id"].tolist() == ["101"]
    assert v.quarantine[["kind", "id", "reason"]].values.tolist() == [["deployments", "102,a,2025-06-04T12:00:00Z",
                                                                         "malformed_row"]]
    assert v.counts.loc["deployments"].tolist() == [2, 1, 1]
    with pytest.raises(WorkbenchError, match="names column.s. nope"):
        read_delivery(tmp_path, mapping={"changes": {"change_id": "nope"}})


def test_the_store_round_trip_keeps_the_quarantine(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    v = validate_delivery(*_frames())
    written = write_delivery(v, url)
    assert written["delivery_quarantine"] == len(v.quarantine) == 14
    back = read_delivery(url)
    assert back.counts["rows"].to_dict() == v.counts["rows"].to_dict()
    assert back.counts["quarantined"].sum() == 14
    pd.testing.assert_series_equal(back.deployments["deployed_at"], v.deployments["deployed_at"])
    with pytest.raises(WorkbenchError, match="no delivery events here"):
        read_delivery(tmp_path / "nothing-here")
