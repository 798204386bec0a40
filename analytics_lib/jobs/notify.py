"""Notifications of run outcomes: a log line and/or a command, credentials redacted.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, TYPE_CHECKING

from analytics_lib.core.redaction import redact
from analytics_lib.jobs.common import _jsonable, _utcnow

if TYPE_CHECKING:
    from analytics_lib.jobs.spec import NotifySpec


# --------------------------------------------------------------------------------------------
# Notifications
def _outcome_payload(row: Mapping[str, Any]) -> dict:
    outputs = json.loads(row.get("outputs") or "[]") if isinstance(row.get("outputs"), str) else []
    report = next((o for o in outputs if o.endswith("report.html")), None)
    return {"job": row["job"], "variant": row.get("variant") or "", "run_id": row["run_id"],
            "status": row["status"], "attempt": row.get("attempt"), "error": row.get("error"),
            "run_dir": row.get("run_dir"), "report": report,
            "started_at": str(row.get("started_at")), "ended_at": str(row.get("ended_at")),
            "parameters": json.loads(row["parameters"]) if isinstance(row.get("parameters"), str) else None}


def _notify(notify: NotifySpec, payload: Mapping[str, Any], root: Path) -> None:
    """Append to the log file and/or run the command; a failing hook never fails the run."""
    payload = redact(_jsonable(dict(payload)))
    line = json.dumps({"at": f"{_utcnow():%Y-%m-%dT%H:%M:%SZ}", **payload}, default=str)
    if notify.log:
        log = Path(notify.log).expanduser()
        log = log if log.is_absolute() else root / log
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            print(f"notification log {log} not written: {exc}", file=sys.stderr)
    if notify.command:
        env = {**os.environ, **{f"WORKBENCH_{k.upper()}": "" if v is None else str(v) for k, v in payload.items()
                                if not isinstance(v, (dict, list))}}
        try:
            proc = subprocess.run(shlex.split(notify.command), input=line, text=True, env=env, timeout=60,
                                  capture_output=True)
            if proc.returncode != 0:
                print(f"notification command exited with {proc.returncode}: {proc.stderr.strip()[-500:]}",
                      file=sys.stderr)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"notification command failed: {exc}", file=sys.stderr)
