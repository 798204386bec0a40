"""Delivery events from GitHub webhook events (Four Keys' reading): pushes give changes, final
deployment statuses ship the commits pushed since the last successful deployment, incident issues
name their cause on a `root cause:` line; the four keys follow, computed by hand."""
from __future__ import annotations

import json

import pytest

from analytics_lib.analysis.delivery import change_lead_times, dora_summary
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.data.github import delivery_from_github

REPO = {"full_name": "acme/api", "name": "api"}


def _push(*commits):
    return {"event": "push", "payload": {"repository": REPO, "commits": [
        {"id": sha, "timestamp": at, "author": {"username": "ana"}} for sha, at in commits]}}


def _deploy(i, sha, state, at, env="production"):
    return {"event": "deployment_status", "payload": {"repository": REPO, "deployment": {
        "id": i, "sha": sha, "environment": env}, "deployment_status": {"state": state, "created_at": at}}}


def _issue(n, action, label, created, closed=None, body=""):
    return {"event": "issues", "payload": {"repository": REPO, "action": action, "issue": {
        "number": n, "labels": [{"name": label}], "created_at": created, "closed_at": closed, "body": body}}}


EVENTS = [
    _push(("c1", "2025-06-02T09:00:00Z"), ("c2", "2025-06-02T10:00:00Z")),
    _deploy(1, "c2", "pending", "2025-06-02T11:00:00Z"),      # not final: ignored
    _deploy(1, "c2", "failure", "2025-06-02T12:00:00Z"),      # ships c1, c2 without using them up
    _deploy(2, "c2", "success", "2025-06-02T13:00:00Z"),
    _push(("c3", "2025-06-03T09:00:00Z")),
    _deploy(3, "c3", "success", "2025-06-03T12:00:00Z"),
    _deploy(4, "c3", "success", "2025-06-03T12:30:00Z", env="staging"),
    _issue(5, "opened", "incident", "2025-06-03T13:00:00Z", body="Checkout fails.\nroot cause: c3"),
    _issue(5, "closed", "Incident", "2025-06-03T13:00:00Z", "2025-06-03T15:00:00Z", body="root cause: c3"),
    _issue(6, "opened", "bug", "2025-06-03T14:00:00Z"),      # not an incident: ignored
    _issue(7, "opened", "incident", "2025-06-04T08:00:00Z"),  # no root cause: quarantined
]


def test_github_events_give_the_four_keys(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\ufeff" + "\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    d = delivery_from_github(path, teams={"acme/api": "payments"})
    links = sorted(map(tuple, d.links[["deploy_id", "change_id"]].values.tolist()))
    assert links == [("1", "c1"), ("1", "c2"), ("2", "c1"), ("2", "c2"), ("3", "c3"),
                     ("4", "c1"), ("4", "c2"), ("4", "c3")]
    lt = change_lead_times(d).set_index("change_id")["lead_time_hours"].to_dict()
    assert lt == {"c1": 4.0, "c2": 3.0, "c3": 3.0}  # to the first successful production deployment
    assert d.incidents[["incident_id", "deploy_id"]].values.tolist() == [["acme/api#5", "3"]]
    assert d.quarantine[["kind", "id", "reason"]].values.tolist() == [["incidents", "acme/api#7", "no_deployment"]]
    s = dora_summary(d, start="2025-06-02", end="2025-06-05").iloc[0]
    assert (s["team"], s["deployments"], s["change_failure_rate"], s["time_to_restore_hours"]) == \
        ("payments", 2, 0.5, 2.0)


def test_a_broken_line_is_named():
    with pytest.raises(WorkbenchError, match="no such file"):
        delivery_from_github("no/such/events.jsonl")


def test_a_bad_json_line(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(EVENTS[0]) + "\n{not json\n")
    with pytest.raises(WorkbenchError, match=r"e.jsonl:2: not a JSON object"):
        delivery_from_github(path)


def test_the_cli_ingests_a_file_of_github_events(tmp_path):
    from click.testing import CliRunner

    from analytics_lib.cli import main
    from analytics_lib.data.delivery import read_delivery

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS))
    url = f"sqlite:///{tmp_path / 'd.db'}"
    res = CliRunner().invoke(main, ["delivery-ingest", str(path), "--into", url], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "no_deployment" in res.output
    stored = read_delivery(url)
    assert stored.counts.loc["incidents"].tolist() == [2, 1, 1] and len(stored.deployments) == 4
