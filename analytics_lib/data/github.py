"""Delivery events from GitHub webhook events, the way Google's Four Keys reads them.

:func:`delivery_from_github` takes the events (``{"event": <X-GitHub-Event>, "payload": <body>}``,
or a JSON Lines file of them) and gives validated delivery events
(:func:`~analytics_lib.data.delivery.validate_delivery`):

- ``push``: every commit is a change (``change_id`` its SHA, ``committed_at`` its timestamp,
  ``author`` its author's login or name), of the repository's team;
- ``deployment_status`` with state ``success``, ``failure`` or ``error`` is a deployment
  (``deploy_id`` the deployment's id, ``deployed_at`` the status time, its environment); it
  ships the repository's commits pushed up to its SHA that no earlier successful deployment to
  that environment shipped (a failed one ships them without using them up);
- ``issues`` labelled ``incident``: opened is an incident, closed resolves it; its cause is the
  deployment of the SHA (or the deployment id) named on a ``root cause: <sha or id>`` line of
  the issue's body, as Four Keys does.

A repository's team is ``teams[<owner/name>]``, else its name.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.data.delivery import DeliveryData, validate_delivery

_ROOT_CAUSE = re.compile(r"root cause:\s*([0-9A-Za-z_.\-]+)", re.IGNORECASE)
_FINAL = {"success": "success", "failure": "failure", "error": "failure"}


def _events(source) -> list[dict]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise WorkbenchError(f"{path}: no such file of GitHub events (JSON Lines of {{event, payload}})")
        out = []
        for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise WorkbenchError(f"{path}:{i}: not a JSON object ({exc.msg})") from None
        return out
    return list(source)


def delivery_from_github(events: Iterable[Mapping] | str | os.PathLike, *,
                         teams: Mapping[str, str] | None = None) -> DeliveryData:
    """Validated delivery events from GitHub ``push``, ``deployment_status`` and ``issues`` events.

    Parameters
    ----------
    events : iterable of dict, or a path
        ``{"event": "push", "payload": {...}}`` records (the webhook's event name and body), or a
        JSON Lines file of them; other events are ignored.
    teams : mapping, optional
        Repository (``owner/name``) to team; default the repository's name.

    Examples
    --------
    >>> repo = {"full_name": "acme/api", "name": "api"}
    >>> ev = [{"event": "push", "payload": {"repository": repo, "commits": [
    ...        {"id": "a1", "timestamp": "2025-06-02T09:00:00Z", "author": {"username": "ana"}}]}},
    ...       {"event": "deployment_status", "payload": {"repository": repo, "deployment": {
    ...        "id": 7, "sha": "a1", "environment": "production"},
    ...        "deployment_status": {"state": "success", "created_at": "2025-06-02T15:00:00Z"}}}]
    >>> d = delivery_from_github(ev)
    >>> d.links.values.tolist(), d.deployments["team"].tolist()
    ([['7', 'a1']], ['api'])
    """
    teams = dict(teams or {})
    changes, pushes, statuses, issues = [], {}, [], {}
    for e in _events(events):
        kind, p = e.get("event"), e.get("payload") or {}
        repo = (p.get("repository") or {}).get("full_name") or (p.get("repository") or {}).get("name") or ""
        team = teams.get(repo, repo.split("/")[-1] if repo else "")
        if kind == "push":
            for c in p.get("commits") or []:
                author = c.get("author") or {}
                changes.append({"change_id": c.get("id"), "team": team, "committed_at": c.get("timestamp"),
                                "author": author.get("username") or author.get("name")})
                pushes.setdefault(repo, []).append(c.get("id"))
        elif kind == "deployment_status":
            state = str((p.get("deployment_status") or {}).get("state", "")).lower()
            if state in _FINAL:
                d = p.get("deployment") or {}
                statuses.append({"deploy_id": str(d.get("id", "")), "team": team, "repo": repo, "sha": d.get("sha"),
                                 "deployed_at": (p.get("deployment_status") or {}).get("created_at"),
                                 "status": _FINAL[state], "environment": d.get("environment") or "production"})
        elif kind == "issues":
            issue = p.get("issue") or {}
            if not any(str(lb.get("name", "")).lower() == "incident" for lb in issue.get("labels") or []):
                continue
            key = f"{repo}#{issue.get('number')}"
            cause = _ROOT_CAUSE.search(issue.get("body") or "")
            row = issues.setdefault(key, {"incident_id": key, "team": team, "opened_at": issue.get("created_at"),
                                          "resolved_at": None, "cause": None})
            row["cause"] = cause.group(1) if cause else row["cause"]
            if p.get("action") == "closed" or issue.get("closed_at"):
                row["resolved_at"] = issue.get("closed_at")
    deployments = pd.DataFrame(statuses, columns=["deploy_id", "team", "repo", "sha", "deployed_at", "status",
                                                  "environment"])
    deployments["_at"] = pd.to_datetime(deployments["deployed_at"], utc=True, errors="coerce", format="mixed")
    links, shipped_by_sha = [], {}
    for (repo, env), g in deployments.sort_values("_at", kind="stable").groupby(["repo", "environment"], sort=False):
        order = pushes.get(repo, [])
        position = {sha: i for i, sha in enumerate(order)}
        done = -1  # the last commit a successful deployment shipped
        for r in g.itertuples():
            at = position.get(r.sha)
            if at is None:
                continue  # a SHA never pushed: the deployment ships nothing (quarantined as no_changes)
            links += [{"deploy_id": r.deploy_id, "change_id": sha} for sha in order[done + 1:at + 1]]
            if r.status == "success":
                done = max(done, at)
                shipped_by_sha.setdefault(r.sha, r.deploy_id)
    known = set(deployments["deploy_id"])
    incidents = pd.DataFrame([{"incident_id": i["incident_id"], "team": i["team"], "opened_at": i["opened_at"],
                               "resolved_at": i["resolved_at"],
                               "deploy_id": (i["cause"] if i["cause"] in known else shipped_by_sha.get(i["cause"], ""))
                               if i["cause"] else ""} for i in issues.values()],
                             columns=["incident_id", "team", "opened_at", "resolved_at", "deploy_id"])
    return validate_delivery(pd.DataFrame(changes, columns=["change_id", "team", "committed_at", "author"]),
                             deployments.drop(columns=["repo", "sha", "_at"]), incidents,
                             links=pd.DataFrame(links, columns=["deploy_id", "change_id"]))
