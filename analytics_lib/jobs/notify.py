"""Notifications of run outcomes: one message per change of state, to a log, a command and apprise
channels (email, Slack, Teams, webhooks), with credentials redacted and secrets read from the
environment only when a message is sent.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence, TYPE_CHECKING

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.jobs.common import _jsonable, _utcnow

if TYPE_CHECKING:
    from analytics_lib.jobs.spec import NotifySpec


#: Apprise URLs told about every job (space- or comma-separated), besides each job's own channels.
GLOBAL_CHANNELS_ENV = "WORKBENCH_NOTIFY_URLS"
#: Where the reports folder is served (``https://reports.example.com/``): messages link there;
#: without it they give the report's path.
REPORTS_URL_ENV = "WORKBENCH_REPORTS_URL"
#: Lines of ``run.log`` a failure message carries.
LOG_TAIL_LINES = 20
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LITERAL_PASSWORD = re.compile(r"^[A-Za-z0-9+.-]+://[^/@?#\s]*:(?!\$\{)[^/@?#\s]+@"
                               r"|[?&](?:pass|password|pwd|token|secret|apikey|api_key)=(?!\$\{)[^&]+", re.I)


# --------------------------------------------------------------------------------------------
# Channels: apprise URLs with ${VAR} from the environment
def _expand(url: str, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    env = os.environ if env is None else env
    missing = [v for v in _VAR.findall(url) if not env.get(v)]
    return _VAR.sub(lambda m: env.get(m.group(1)) or "", url), missing


def check_channel(url: Any) -> str:
    """Check an apprise URL before anything runs; ``${VAR}`` parts are read from the environment.

    A password written into the URL is refused (keep it in the environment: ``${SMTP_PASSWORD}``).
    A variable that is not set is not an error here (the machine that sends may have it); a
    URL that is only a variable is then checked when it is sent.

    Examples
    --------
    >>> check_channel("json://127.0.0.1:8080/hook")
    'json://127.0.0.1:8080/hook'
    >>> check_channel("mailto://ana:s3cret@smtp.example.com")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: mailto://ana:***@smtp.example.com holds a password: ...
    >>> check_channel("slak://token")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: 'slak://token' is not a URL apprise can send to: ...
    """
    if not isinstance(url, str) or not url.strip():
        raise WorkbenchError(f"{url!r} must be an apprise URL such as mailto://smtp.example.com?to=ops@example.com")
    url = url.strip()
    if _LITERAL_PASSWORD.search(url):
        raise WorkbenchError(f"{redact(url)} holds a password: write ${{SMTP_PASSWORD}} (any name) in its place "
                             "and set that variable in the environment, so it is never in a file")
    expanded, missing = _expand(url)
    if missing and _VAR.fullmatch(url):
        return url  # the whole URL comes from the environment, checked where it is set
    probe = _VAR.sub(lambda m: os.environ.get(m.group(1)) or "x", url)
    import apprise

    if apprise.Apprise.instantiate(probe, suppress_exceptions=True) is None:
        raise WorkbenchError(f"{redact(url)!r} is not a URL apprise can send to: e.g. mailto://host?to=a@b.org, "
                             "json://host:port/path, slack://TokenA/TokenB/TokenC, msteams://...; see "
                             "https://github.com/caronc/apprise#supported-notifications")
    return url


def global_channels() -> tuple[str, ...]:
    """The channels of ``$WORKBENCH_NOTIFY_URLS`` (checked), told about every job.

    Examples
    --------
    >>> os.environ.pop(GLOBAL_CHANNELS_ENV, None) and None
    >>> global_channels()
    ()
    """
    text = os.environ.get(GLOBAL_CHANNELS_ENV, "")
    return tuple(check_channel(u) for u in re.split(r"[\s,]+", text) if u)


def send_channels(urls: Sequence[str], title: str, body: str) -> list[str]:
    """Send one message to each apprise URL; returns the problems (never raises).

    Parameters
    ----------
    urls : list of str
        Apprise URLs; ``${VAR}`` parts are read from the environment now.
    title, body : str
        The message (plain text).

    Returns
    -------
    list of str
        One line per channel that was not sent or not accepted.

    Examples
    --------
    >>> send_channels(["${WORKBENCH_NO_SUCH_VARIABLE}"], "t", "b")
    ['channel 1: ${WORKBENCH_NO_SUCH_VARIABLE} is not set in the environment; not sent']
    """
    problems = []
    if not urls:
        return problems
    import apprise

    for i, url in enumerate(urls, 1):
        expanded, missing = _expand(url)
        if missing:
            problems.append(f"channel {i}: {', '.join('${' + m + '}' for m in missing)} is not set in the "
                            "environment; not sent")
            continue
        a = apprise.Apprise()
        if not a.add(expanded):
            problems.append(f"channel {i} ({redact(url)}): not a URL apprise can send to; not sent")
            continue
        try:
            ok = a.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # a channel's failure never fails the run
            ok, problems = False, [*problems, f"channel {i} ({redact(url)}): {type(exc).__name__}: {exc}"]
        if not ok:
            problems.append(f"channel {i} ({redact(url)}): the message was not accepted (see the log)")
    return problems


# --------------------------------------------------------------------------------------------
# When to tell: once per change of state
def state_of(status: str | None) -> str | None:
    """``succeeded``, ``blocked`` or ``failed`` (failed, timed out, interrupted); None for none.

    Examples
    --------
    >>> [state_of(s) for s in ("succeeded", "timed_out", "blocked", None)]
    ['succeeded', 'failed', 'blocked', None]
    """
    if status is None:
        return None
    return status if status in ("succeeded", "blocked") else "failed"


def should_tell(notify: NotifySpec, status: str, previous: str | None) -> bool:
    """Whether an outcome is told: a failure (or block) when the state changed, a recovery when
    failures are told, every success when ``success`` is in ``on``.

    Parameters
    ----------
    notify : NotifySpec
    status : str
        This run's final status.
    previous : str or None
        The final status of the job variant's run before it (None: no earlier run).

    Examples
    --------
    >>> from analytics_lib.jobs.spec import NotifySpec
    >>> n = NotifySpec()
    >>> should_tell(n, "failed", "succeeded"), should_tell(n, "failed", "timed_out"), should_tell(n, "succeeded", "blocked")
    (True, False, True)
    """
    state, prev = state_of(status), state_of(previous)
    if state == "succeeded":
        return "success" in notify.on or ("failure" in notify.on and prev not in (None, "succeeded"))
    return "failure" in notify.on and state != prev


def _headline(payload: Mapping[str, Any]) -> str:
    job = payload["job"] + (f" ({payload['variant']})" if payload.get("variant") else "")
    status, prev = payload["status"], state_of(payload.get("previous_status"))
    if status == "succeeded":
        return f"{job} recovered: succeeded after {prev}" if prev not in (None, "succeeded") else f"{job} succeeded"
    what = {"blocked": "is blocked by a data gate", "timed_out": "timed out", "interrupted": "was interrupted"}
    return f"{job} {what.get(status, 'failed')}" + (f" (was {prev})" if prev else "")


def _link(path: str | None, root: Path) -> str | None:
    if not path:
        return None
    base = os.environ.get(REPORTS_URL_ENV, "").strip()
    try:  # not resolved: latest/report.html stays the stable link it is
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return path
    return base.rstrip("/") + "/" + rel.as_posix() if base else str(Path(path))


def _time(value: Any) -> str:
    from datetime import datetime

    try:
        return f"{datetime.fromisoformat(str(value)):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return "-"


def _log_tail(run_dir: str | None) -> str:
    if not run_dir:
        return ""
    try:
        lines = (Path(run_dir) / "run.log").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def message(payload: Mapping[str, Any], root: Path) -> tuple[str, str]:
    """The title and text of a message: headline, run, error, link, and a failure's log tail."""
    head = _headline(payload)
    latest = Path(payload["run_dir"]).parent / "latest" if payload.get("run_dir") else None
    report = payload.get("report") if payload["status"] == "succeeded" else None
    lines = [head + (f": {payload['error']}" if payload.get("error") else ""),
             f"Run {payload.get('run_id') or '-'}, attempt {payload.get('attempt') or '-'}, "
             f"{_time(payload.get('started_at'))} .. {_time(payload.get('ended_at'))} UTC"]
    if report:
        lines.append(f"Report: {_link(report, root)}")
    elif payload.get("run_dir"):
        lines.append(f"Run folder: {_link(payload['run_dir'], root)}")
        if latest is not None and latest.exists():
            lines.append(f"The last good report stays published: {_link(str(latest / 'report.html'), root)}")
    tail = _log_tail(payload.get("run_dir")) if payload["status"] != "succeeded" else ""
    if tail:
        lines += ["", "Last lines of run.log:", tail]
    return redact(f"workbench: {head}"), redact("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Sending
def _outcome_payload(row: Mapping[str, Any]) -> dict:
    outputs = json.loads(row.get("outputs") or "[]") if isinstance(row.get("outputs"), str) else []
    report = next((o for o in outputs if o.endswith("report.html")), None)
    return {"job": row["job"], "variant": row.get("variant") or "", "run_id": row["run_id"],
            "status": row["status"], "attempt": row.get("attempt"), "error": row.get("error"),
            "run_dir": row.get("run_dir"), "report": report,
            "started_at": str(row.get("started_at")), "ended_at": str(row.get("ended_at")),
            "parameters": json.loads(row["parameters"]) if isinstance(row.get("parameters"), str) else None}


def notify_outcome(notify: NotifySpec, payload: Mapping[str, Any], root: Path, *,
                   previous: str | None) -> bool:
    """Tell an outcome if :func:`should_tell` says so; returns whether it was told.

    Parameters
    ----------
    notify : NotifySpec
    payload : mapping
        The outcome (``job, variant, run_id, status, attempt, error, run_dir, report, ...``).
    root : Path
        The reports folder (links and relative log paths).
    previous : str or None
        The final status of the job variant's run before this one.
    """
    if not should_tell(notify, payload["status"], previous):
        return False
    _notify(notify, {**payload, "previous_status": previous}, root)
    return True


def _notify(notify: NotifySpec, payload: Mapping[str, Any], root: Path) -> None:
    """Tell a run's outcome: the log file, the command, the channels; a failing hook never fails the run."""
    payload = redact(_jsonable(dict(payload)))
    title, text = message(payload, root)
    _send(notify, {**payload, "headline": title}, title, text, root)


def notify_rule(notify: NotifySpec, job: str, change: Mapping[str, Any], report: str | None, root: Path) -> None:
    """Tell a KPI alert rule's change of state (firing, resolved, no data) on the job's channels.

    Parameters
    ----------
    notify : NotifySpec
    job : str
    change : mapping
        A row of :func:`~analytics_lib.analysis.anomaly.rules.state_changes` (``rule, state,
        previous, message, value, limit, day``).
    report : str or None
        The run's report, linked from the message.
    root : Path
        The reports folder.
    """
    state, prev = change["state"], change.get("previous")
    what = {"firing": "is firing", "ok": "resolved", "no data": "has no data"}.get(state, state)
    title = f"workbench alert: {change['rule']} {what}" + (f" (was {prev})" if prev else "")
    lines = [f"{change['rule']} ({job}): {change['message']}", f"Rule: {change.get('metric')} "
             f"{change.get('limit') or ''}".rstrip() + f"; day judged {change.get('day')}"]
    if report:
        lines.append(f"Report: {_link(report, root)}")
    payload = redact(_jsonable({"job": job, "kind": "kpi_alert", **{k: change.get(k) for k in (
        "rule", "state", "previous", "metric", "team", "value", "limit", "day", "message")}, "report": report}))
    _send(notify, {**payload, "headline": title}, redact(title), redact("\n".join(lines)), root)


def _send(notify: NotifySpec, record: Mapping[str, Any], title: str, text: str, root: Path) -> None:
    """The log line, the command (the record as JSON on stdin, WORKBENCH_* variables) and the channels."""
    line = json.dumps({"at": f"{_utcnow():%Y-%m-%dT%H:%M:%SZ}", **record}, default=str)
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
        env = {**os.environ, **{f"WORKBENCH_{k.upper()}": "" if v is None else str(v) for k, v in record.items()
                                if not isinstance(v, (dict, list))}}
        try:
            proc = subprocess.run(shlex.split(notify.command), input=line, text=True, env=env, timeout=60,
                                  capture_output=True)
            if proc.returncode != 0:
                print(f"notification command exited with {proc.returncode}: {proc.stderr.strip()[-500:]}",
                      file=sys.stderr)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"notification command failed: {exc}", file=sys.stderr)
    channels = (*notify.channels, *_global_channels_quietly())
    for problem in send_channels(channels, title, text):
        print(f"notification: {problem}", file=sys.stderr)


def _global_channels_quietly() -> tuple[str, ...]:
    try:
        return global_channels()
    except WorkbenchError as exc:  # specs were checked at load; the environment changed since
        print(f"notification: ${GLOBAL_CHANNELS_ENV}: {exc}", file=sys.stderr)
        return ()
