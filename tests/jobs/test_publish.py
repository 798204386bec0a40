"""Publishing a run: names from the data cannot run script in a report, and a full disk at publish
fails the run, keeps ``latest`` and notifies.
Runs are real: the ``workbench`` command in subprocesses, papermill, kernels, signals. The tiny
notebooks in ``tests/corpus/notebooks`` write a table (``quick``), raise (``raises``), sleep
(``hangs``) or kill their own kernel (``killed``). Everything is written under pytest's tmp
folders (never the repository's ``reports/``)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from jobs_helpers import ENV, Place

from analytics_lib.jobs.spec import find_job, load_job_specs


def _hostile_store(path: Path) -> tuple[str, str]:
    """A store whose team, model and feature names are markup (as an attacker could name a segment)."""
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    team = "<img src=x onerror=alert(document.domain)>"
    ev = synthetic_events(30_000, days=60, seed=0).events
    ev["team"] = ev["team"].cat.rename_categories({"team-a": team})
    models = {m: f"<script>alert('{i}')</script>{m}" for i, m in enumerate(ev["model"].cat.categories[:1])}
    ev["model"] = ev["model"].cat.rename_categories(models)
    url = f"sqlite:///{path}"
    write_events(validate_events(ev), url)
    return url, team


@pytest.mark.slow
def test_names_from_the_data_cannot_run_script_in_a_report(tmp_path):
    """A team called <img onerror=...> and a model called <script>...: the published report shows the
    names as text (escaped) and carries no event handler and no script of theirs."""
    from html.parser import HTMLParser

    from analytics_lib.jobs.runner import run_job

    store, team = _hostile_store(tmp_path / "hostile.db")
    [r] = run_job(find_job(load_job_specs(), "daily-workflow"), store=store, reports=tmp_path / "reports", parallel=1)
    assert r.ok, r.error
    html = r.report.read_text()

    class Audit(HTMLParser):
        handlers, scripts, in_script = [], [], False

        def handle_starttag(self, tag, attrs):
            self.handlers += [(tag, k) for k, _ in attrs if k.lower().startswith("on")]
            self.in_script = tag == "script"

        def handle_data(self, data):
            if self.in_script:
                self.scripts.append(data)

    audit = Audit()
    audit.feed(html)
    assert audit.handlers == []
    assert not [s for s in audit.scripts if "alert(" in s]
    assert "&lt;img src=x onerror=alert(document.domain)&gt;" in html  # shown, as text
    assert "<img src=x" not in html and "<img src=\"x\"" not in html


def _small_filesystem(script: str, env: dict) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace (user namespace: no root needed) where it can
    mount a small tmpfs, as a disk that fills up."""
    import shutil

    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is missing")
    return subprocess.run([unshare, "--map-root-user", "--mount", "sh", "-ec", script], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.mark.slow
def test_a_full_disk_at_publish_fails_the_run_keeps_latest_and_notifies(tmp_path):
    """The disk fills up while a run executes: publishing its workbook fails with ENOSPC; the run is
    `failed` with the reason (not left `running`), `latest` still shows the last good run, and the
    failure is notified."""
    place = Place(tmp_path)
    notified = tmp_path / "notified.jsonl"
    place.spec("full", "fills_disk.ipynb", outputs=["xlsx"], retries=0,
               notify={"on": ["failure"], "command": f"sh -c 'cat >> {notified}; echo >> {notified}'"})
    reports = place.reports
    reports.mkdir()
    copy = tmp_path / "copy"
    args = " ".join(f"'{a}'" for a in place.args())
    script = (f"mount -t tmpfs -o size=4m tmpfs '{reports}'\n"
              f"{args} run full -p fill=false\n"
              f"{args} run full -p fill=true -p leave_bytes=8192 || echo second-run-status=$?\n"
              f"cp -a '{reports}' '{copy}'\n")
    proc = _small_filesystem(script, ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "second-run-status=1" in proc.stdout, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    h = place.history("full")
    assert h["status"].tolist() == ["failed", "succeeded"]  # newest first
    error = h["error"].iloc[0]
    assert "publishing failed" in error and "No space left on device" in error
    good, bad = h["run_id"].iloc[1], h["run_id"].iloc[0]
    assert os.readlink(copy / "full" / "latest") == good
    assert json.loads((copy / "full" / bad / "run.json").read_text())["status"] == "failed"
    notes = [json.loads(x) for x in notified.read_text().split("\n") if x.strip()]
    assert [n["status"] for n in notes] == ["failed"] and "No space left on device" in notes[0]["error"]
