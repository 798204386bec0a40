"""Blocked runs and alerts that reach people, for real: a job with data gates runs seven times on a
stale and a fresh store (blocked, blocked, failed with a retry, failed, recovered, succeeded,
blocked) and an SMTP server and an HTTP receiver on loopback get one message per change of state,
through apprise; the secret in a channel URL comes from the environment and is in no file."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from jobs_helpers import NOTEBOOKS, Place, _files_holding, _ledger_text  # noqa: E402
from receivers import HttpReceiver, SmtpReceiver  # noqa: E402

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.jobs.spec import find_job, load_job_spec, load_job_specs

TOKEN = "tok-5ecr3t-9f8e7d"


@pytest.fixture
def receivers():
    smtp, http = SmtpReceiver(), HttpReceiver()
    yield smtp, http
    smtp.close()
    http.close()


def _store(path: Path, end: str) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{path}"
    write_events(validate_events(synthetic_events(2_000, days=28, seed=3, end=end).events), url)
    return url


@pytest.mark.slow
def test_one_message_per_change_of_state_reaches_email_and_a_webhook(tmp_path, receivers, monkeypatch):
    from analytics_lib.jobs.runner import run_job

    smtp, http = receivers
    today = pd.Timestamp.now("UTC").normalize()
    stale = _store(tmp_path / "stale.db", (today - pd.Timedelta(days=3)).strftime("%Y-%m-%d"))
    fresh = _store(tmp_path / "fresh.db", (today + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("WORKBENCH_NOTIFY_URLS", http.url("global/${HOOK_TOKEN}"))
    monkeypatch.setenv("WORKBENCH_REPORTS_URL", "https://reports.example.org/wb/")
    place = Place(tmp_path)
    place.spec("gated", "gated.ipynb", parameters={"start": "-7d", "end": "today"}, retries=1, retry_delay_s=0,
               gates={"max_age": "36h", "min_rows": 1},
               notify={"on": ["failure"], "log": "notes.log", "channels": [smtp.url(), http.url("job")]})
    spec = find_job(load_job_specs(place.jobs), "gated")

    def run(source, **extra):
        [r] = run_job(spec, overrides={"source": source, **extra}, store=place.store, reports=place.reports,
                      parallel=1)
        return r

    outcomes = [run(stale), run(stale), run(fresh, fail=True), run(fresh, fail=True), run(fresh), run(fresh),
                run(stale)]
    assert [r.status for r in outcomes] == ["blocked", "blocked", "failed", "failed", "succeeded", "succeeded",
                                            "blocked"]
    assert [r.attempts for r in outcomes] == [1, 1, 2, 2, 1, 1, 1]  # a blocked run is not retried
    # blocked: no kernel, no notebook, the reason in the ledger and run.json; latest stays on the last success
    first = outcomes[0]
    assert "blocked by a data gate: max_age: the newest event is" in first.error and "check the ingest" in first.error
    assert not (first.run_dir / "notebook.ipynb").exists()
    meta = json.loads((first.run_dir / "run.json").read_text())
    assert meta["status"] == "blocked" and [g["gate"] for g in meta["gates"]] == ["max_age", "min_rows"]
    assert [g["passed"] for g in meta["gates"]] == [False, True]
    assert (place.reports / "gated" / "latest").resolve() == outcomes[5].run_dir
    h = place.history("gated")
    assert h.groupby("run_id")["status"].last().value_counts().to_dict() == {"blocked": 3, "failed": 2,
                                                                            "succeeded": 2}
    assert "blocked" in (place.reports / "index.html").read_text()
    # one message per change of state on every channel: blocked, failed, recovered, blocked again
    heads = ["gated is blocked by a data gate", "gated failed (was blocked)", "gated recovered: succeeded after failed",
             "gated is blocked by a data gate (was succeeded)"]
    assert [m["subject"] for m in smtp.messages] == [f"workbench: {h}" for h in heads]
    for path in ("/job", f"/global/{TOKEN}"):
        got = [m["json"] for m in http.messages if m["path"] == path]
        assert [m["title"] for m in got] == [f"workbench: {h}" for h in heads], path
    failed = smtp.messages[1]["body"]
    assert "RuntimeError: the notebook was asked to fail" in failed and "Last lines of run.log:" in failed
    assert f"https://reports.example.org/wb/gated/{outcomes[2].run_dir.name}" in failed
    recovered = smtp.messages[2]["body"]
    assert f"Report: https://reports.example.org/wb/gated/{outcomes[4].run_dir.name}/report.html" in recovered
    assert "The last good report stays published: https://reports.example.org/wb/gated/latest/report.html" \
        in smtp.messages[3]["body"], smtp.messages[3]["body"]
    # the second success's report says what changed since the first; `jobs diff` agrees (exit 0: nothing moved)
    assert "What changed since the last run" not in outcomes[4].report.read_text()
    html = outcomes[5].report.read_text()
    assert "What changed since the last run" in html and outcomes[4].run_id in html and "Method unchanged" in html
    assert "Data as of" in html and "Data gates" in html and "all 2 passed" in html
    diff = place.cli("diff", outcomes[5].run_id)
    assert diff.returncode == 0 and f"compared with {outcomes[4].run_id}" in diff.stdout, diff.stdout + diff.stderr
    notes = [json.loads(x) for x in (place.reports / "notes.log").read_text().splitlines()]
    assert [n["status"] for n in notes] == ["blocked", "failed", "succeeded", "blocked"]
    # the token reached the receiver's path from the environment, and no file
    assert _files_holding(place.root, TOKEN) == [] and TOKEN not in _ledger_text(place.store)


def test_a_bad_channel_is_refused_when_the_spec_loads(tmp_path, monkeypatch):
    path = tmp_path / "j.yaml"

    def spec(channels):
        path.write_text(yaml.safe_dump({"notebook": str(NOTEBOOKS / "gated.ipynb"), "schedule": "0 6 * * *",
                                        "notify": {"channels": channels}}))
        with pytest.raises(WorkbenchError) as err:
            load_job_spec(path)
        return str(err.value)

    assert "key 'notify.channels[0]': 'slakc://a/b/c' is not a URL apprise can send to" in spec(["slakc://a/b/c"])
    msg = spec(["mailto://ana:hunter2@smtp.example.org?to=ops@example.org"])
    assert "key 'notify.channels[0]': mailto://ana:***@smtp.example.org" in msg and "holds a password" in msg
    assert "hunter2" not in msg
    assert "must be a list of apprise URLs" in spec("json://x")
    path.write_text(yaml.safe_dump({"notebook": str(NOTEBOOKS / "gated.ipynb"), "schedule": "0 6 * * *",
                                    "notify": {"channels": ["mailto://ana:${SMTP_PASSWORD}@smtp.example.org",
                                                            "${SLACK_URL}"]}}))
    assert len(load_job_spec(path).notify.channels) == 2  # secrets from the environment, set or not
    monkeypatch.setenv("WORKBENCH_NOTIFY_URLS", "json://127.0.0.1/hook bogus://x")
    path.write_text(yaml.safe_dump({"notebook": str(NOTEBOOKS / "gated.ipynb"), "schedule": "0 6 * * *"}))
    with pytest.raises(WorkbenchError, match=r"key 'notify': \$WORKBENCH_NOTIFY_URLS: 'bogus://x' is not a URL"):
        load_job_spec(path)


@pytest.mark.slow
def test_a_job_ingests_what_is_new_before_its_gates(tmp_path):
    from analytics_lib.data.incremental import ingest_batches
    from analytics_lib.data.synthetic.events import synthetic_events
    from analytics_lib.jobs.runner import run_job

    exports = tmp_path / "exports"
    exports.mkdir()
    end = pd.Timestamp.now("UTC").strftime("%Y-%m-%d")  # events up to yesterday: none in the future
    ev = synthetic_events(2_000, days=28, seed=6, end=end, malformed_share=0).events
    ev.iloc[::2].to_csv(exports / "a.csv", index=False)  # both files reach today: the gates pass
    place = Place(tmp_path)
    place.spec("fed", "gated.ipynb", parameters={"start": "-400d", "end": "today"},
               ingest=[{"source": str(exports), "into": place.store}], gates={"max_age": "36h", "min_rows": 1})
    spec = find_job(load_job_specs(place.jobs), "fed")
    assert spec.ingest == ({"source": str(exports), "into": place.store},)
    [first] = run_job(spec, store=place.store, reports=place.reports, parallel=1)
    assert first.ok, first.error
    ev.iloc[1::2].to_csv(exports / "b.csv", index=False)
    [second] = run_job(spec, store=place.store, reports=place.reports, parallel=1)
    assert second.ok, second.error
    counts = [int(pd.read_csv(r.run_dir / "tables" / "kpis.csv").set_index("metric").loc["events", "value"])
              for r in (first, second)]
    assert counts == [len(ev.iloc[::2]), len(ev)]  # each run saw what had arrived before it, once
    assert list(ingest_batches(place.store)["item"]) == ["a.csv", "b.csv"]
    bad = tmp_path / "jobs" / "bad.yaml"
    bad.write_text(yaml.safe_dump({"notebook": str(NOTEBOOKS / "gated.ipynb"), "schedule": "0 6 * * *",
                                   "ingest": [{"source": "x", "watermark_column": "id"}]}))
    with pytest.raises(WorkbenchError, match=r"key 'ingest\[0\].watermark_column': unknown key \(did you mean "
                                             r"'watermark'\?\)"):
        load_job_spec(bad)


@pytest.mark.slow
def test_kpi_rules_tell_each_change_of_state_once(tmp_path, receivers):
    """The shipped KPI alerts notebook with one rule, on a busy and a quiet store: firing (told),
    firing (not told), resolved (told)."""
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events
    from analytics_lib.jobs.runner import run_job

    _, http = receivers
    end = pd.Timestamp.now("UTC").strftime("%Y-%m-%d")
    stores = {}
    for name, n in (("busy", 20_000), ("quiet", 2_000)):
        stores[name] = f"sqlite:///{tmp_path / name}.db"
        write_events(validate_events(synthetic_events(n, days=28, seed=2, end=end, malformed_share=0).events),
                     stores[name])
    from analytics_lib import load_events

    yesterday = (pd.Timestamp.now("UTC").normalize() - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    counts = {k: load_events(v, start=yesterday, end=yesterday).summary.rows_kept for k, v in stores.items()}
    limit = (counts["busy"] + counts["quiet"]) // 2  # whatever the weekday: between the two stores' yesterdays
    assert counts["quiet"] < limit < counts["busy"]
    place = Place(tmp_path)
    place.spec("kpi", str(NOTEBOOKS.parents[2] / "notebooks" / "kpi_alerts.ipynb"), parameters={"at": "now"},
               alerts=[{"name": "busy-day", "metric": "events", "above": limit}],
               notify={"on": ["failure"], "log": "notes.log", "channels": [http.url("kpi")]})
    spec = find_job(load_job_specs(place.jobs), "kpi")
    runs = [run_job(spec, overrides={"source": stores[s]}, store=place.store, reports=place.reports, parallel=1)[0]
            for s in ("busy", "busy", "quiet")]
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.error for r in runs]
    states = [pd.read_csv(r.run_dir / "tables" / "alert_states.csv")["state"].tolist() for r in runs]
    assert states == [["firing"], ["firing"], ["ok"]]
    got = [m["json"]["title"] for m in http.messages]
    assert got == ["workbench alert: busy-day is firing", "workbench alert: busy-day resolved (was firing)"]
    assert "events was" in http.messages[0]["json"]["message"] and f"above {limit:,}" in http.messages[0]["json"]["message"]
    notes = [json.loads(x) for x in (place.reports / "notes.log").read_text().splitlines()]
    assert [(n["kind"], n["rule"], n["state"]) for n in notes] == [("kpi_alert", "busy-day", "firing"),
                                                                   ("kpi_alert", "busy-day", "ok")]


def test_a_rule_on_a_metric_that_does_not_exist_stops_at_jobs_list(tmp_path):
    place = Place(tmp_path)
    place.spec("kpi", str(NOTEBOOKS.parents[2] / "notebooks" / "kpi_alerts.ipynb"),
               alerts=[{"name": "errors", "metric": "eror_rate", "above": 0.05}])
    out = place.invoke("list")
    text = " ".join(out.output.split())  # the console wraps long lines
    assert out.exit_code == 2 and "Traceback" not in text
    assert "kpi.yaml: key 'alerts': alerts[0] (errors): metric 'eror_rate' does not exist (did you mean " \
           "'error_rate'?)" in text
    place.spec("kpi", "quick.ipynb", alerts=[{"name": "errors", "metric": "error_rate", "above": 0.05}])
    assert "the notebook quick.ipynb has no 'rules' parameter" in " ".join(place.invoke("list").output.split())
