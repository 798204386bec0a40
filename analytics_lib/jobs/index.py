"""The reports folder's ``index.html``, pruning of old runs and the job table of ``workbench jobs list``.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import atomic_write
from analytics_lib.jobs.common import _job_dir, _utcnow
from analytics_lib.jobs.ledger import _aware, _ledger, _ledger_rows
from analytics_lib.jobs.lock import JobAlreadyRunning, job_lock


# --------------------------------------------------------------------------------------------
# reports/index.html, pruning, the job table
def _under(run_dir: str | None, root: Path) -> bool:
    return bool(run_dir) and Path(os.path.abspath(run_dir)).is_relative_to(os.path.abspath(root))


def write_index(store: str | None = None, *, reports: str | os.PathLike | None = None, per_job: int = 30) -> Path:
    """Rewrite ``<reports>/index.html``: every job's runs with status, time and links.

    One section per job and variant, newest run first (the latest ``per_job`` runs of this
    reports folder), with links to the HTML report, notebook, workbook and folder of each run.
    Written to a temporary file and renamed, so a browser never sees half a page.

    Parameters
    ----------
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    reports : path, optional
        The reports folder (created if missing); only runs under it are listed. Default
        ``$WORKBENCH_REPORTS``, else ``reports/`` (:func:`~analytics_lib.core.paths.reports_root`).
    per_job : int
        Most runs listed per job and variant, newest first (default 30).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> write_index("sqlite://", reports=tempfile.mkdtemp()).name
    'index.html'
    """
    store = store or paths.DEFAULT_DB_URL
    root = paths.reports_root(reports)
    root.mkdir(parents=True, exist_ok=True)
    rows = [r for r in _ledger_rows(store) if _under(r["run_dir"], root)]  # this folder's runs only
    runs: dict[tuple[str, str], dict[str, list]] = {}
    for r in rows:
        runs.setdefault((r["job"], r["variant"]), {}).setdefault(r["run_id"], []).append(r)
    e = html.escape

    def link(path: Path, text: str) -> str:
        if not path.exists():
            return ""
        target = Path(os.path.abspath(path))  # not resolved: links through `latest` stay valid
        try:
            href = target.relative_to(os.path.abspath(root)).as_posix()
        except ValueError:
            href = target.as_uri()
        return f'<a href="{e(href)}">{e(text)}</a>'

    sections = []
    for (job, variant), by_run in sorted(runs.items()):
        spec = json.loads(next(iter(by_run.values()))[0]["spec"] or "{}")
        job_dir = _job_dir(root, job, variant)
        latest = job_dir / "latest"
        head = (f"<h2>{e(job)}" + (f" <small>{e(variant)}</small>" if variant else "") + "</h2>"
                + (f"<p>{e(spec.get('description', ''))}</p>" if spec.get("description") else "")
                + f"<p>schedule <code>{e(spec.get('schedule', '?'))}</code> ({e(spec.get('timezone', 'UTC'))}) · "
                + (f"latest: {link(latest / 'report.html', 'report')} {link(latest / 'notebook.ipynb', 'notebook')} "
                   f"({e(os.readlink(latest))})" if latest.is_symlink() else "no successful run yet") + "</p>")
        body = []
        for run_id, attempts in list(by_run.items())[:per_job]:
            last = max(attempts, key=lambda a: a["attempt"])
            run_dir = Path(last["run_dir"]) if last["run_dir"] else job_dir / run_id
            started, ended = _aware(min(a["started_at"] for a in attempts)), _aware(last["ended_at"])
            took = f"{(ended - started).total_seconds():,.0f} s" if ended else ""
            links = " ".join(x for x in (link(run_dir / "report.html", "report"),
                                         link(run_dir / "notebook.ipynb", "notebook"),
                                         link(run_dir / "tables.xlsx", "xlsx"), link(run_dir, "folder")) if x)
            fp = f"{last['input_rows']:,} events" if last["input_rows"] is not None else ""
            body.append(
                f'<tr class="{e(last["status"])}"><td><code>{e(run_id)}</code></td>'
                f'<td><span class="badge">{e(last["status"].replace("_", " "))}</span></td>'
                f"<td>{e(last['trigger'])}</td><td>{started:%Y-%m-%d %H:%M} UTC</td><td>{took}</td>"
                f"<td>{len(attempts)}</td><td>{e(fp)}</td><td>{links or 'pruned'}</td>"
                f"<td class=err>{e((last['error'] or '')[:300])}</td></tr>")
        sections.append(head + "<table><tr><th>run</th><th>status</th><th>trigger</th><th>started</th>"
                        "<th>took</th><th>attempts</th><th>input</th><th>links</th><th>error</th></tr>"
                        + "".join(body) + "</table>")
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Workbench reports</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}
.badge{{padding:.1em .5em;border-radius:.6em;background:#ccc}}.succeeded .badge{{background:#b7e4c7}}
.failed .badge,.timed_out .badge,.interrupted .badge{{background:#f4b6b6}}.running .badge{{background:#ffe08a}}
.blocked .badge{{background:#f7c59f}}
.err{{color:#a00;font-size:.85em;max-width:40em}}small{{color:#666}}</style></head><body>
<h1>Workbench reports</h1><p>{len(runs)} job(s) · generated {_utcnow():%Y-%m-%d %H:%M:%S} UTC from the run ledger</p>
{''.join(sections) or '<p>No runs yet: <code>workbench jobs run --all</code>.</p>'}</body></html>
"""
    target = root / "index.html"
    atomic_write(target, page)
    return target


def prune_runs(*, keep: int, store: str | None = None, reports: str | os.PathLike | None = None,
               job: str | None = None):
    """Expire old runs: keep the newest ``keep`` runs of each job variant, delete the rest.

    The run ``latest`` points at is always kept (even if older), and so is anything still
    running; a job whose lock is held is left alone. Only runs published under ``reports``
    are considered. Deleted runs lose their folder and their ledger rows, so ``history`` and
    ``index.html`` agree with the disk.

    Parameters
    ----------
    keep : int
        Runs to keep per job variant, newest first by start time (at least 1).
    store : str, optional
        SQLAlchemy URL of the workbench store, home of the run ledger (default
        ``paths.DEFAULT_DB_URL``).
    reports : path, optional
        The reports folder; default ``$WORKBENCH_REPORTS``, else ``reports/``
        (:func:`~analytics_lib.core.paths.reports_root`).
    job : str, optional
        Only this job's runs; None (default): every job's.

    Returns
    -------
    DataFrame
        ``job, variant, run_id, status, run_dir`` of the pruned runs.

    Examples
    --------
    >>> import tempfile
    >>> prune_runs(keep=5, store="sqlite://", reports=tempfile.mkdtemp()).empty
    True
    """
    import pandas as pd

    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise WorkbenchError(f"keep={keep!r} must be a whole number of runs, at least 1")
    store = store or paths.DEFAULT_DB_URL
    root = paths.reports_root(reports)
    rows = [r for r in _ledger_rows(store, job=job) if _under(r["run_dir"], root)]
    by_job: dict[str, dict[tuple[str, str], list]] = {}
    for r in rows:
        runs = by_job.setdefault(r["job"], {})
        key = (r["variant"], r["run_id"])
        runs.setdefault(key, []).append(r)
    pruned = []
    engine, table = _ledger(store)
    for name, runs in by_job.items():
        try:
            with job_lock(name, reports=root):
                per_variant: dict[str, list] = {}
                for (variant, run_id), attempts in runs.items():
                    per_variant.setdefault(variant, []).append((run_id, attempts))
                for variant, items in per_variant.items():
                    latest = _job_dir(root, name, variant) / "latest"
                    target = os.readlink(latest) if latest.is_symlink() else None
                    items.sort(key=lambda it: max(_aware(a["started_at"]) for a in it[1]), reverse=True)
                    for run_id, attempts in items[keep:]:
                        if run_id == target or any(a["status"] == "running" for a in attempts):
                            continue
                        run_dir = Path(attempts[0]["run_dir"])
                        if run_dir.is_dir():
                            shutil.rmtree(run_dir)
                        with engine.begin() as conn:
                            conn.execute(table.delete().where(table.c.run_id == run_id))
                        last = max(attempts, key=lambda a: a["attempt"])
                        pruned.append({"job": name, "variant": variant, "run_id": run_id, "status": last["status"],
                                       "run_dir": str(run_dir)})
        except JobAlreadyRunning:
            continue
    if pruned:
        write_index(store, reports=root)
    return pd.DataFrame(pruned, columns=["job", "variant", "run_id", "status", "run_dir"])
