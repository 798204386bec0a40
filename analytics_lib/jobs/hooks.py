"""What a run does around its notebook besides running it: the spec's incremental ingests before
its gates, and the KPI alert rules' changes of state told after it succeeded.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.jobs.diff import previous_success
from analytics_lib.jobs.notify import notify_rule

if TYPE_CHECKING:
    from analytics_lib.jobs.spec import JobSpec


def _ingest_first(spec: JobSpec, store: str) -> None:
    """The spec's incremental ingests, once per run of the job, before its gates. A failure is
    printed; the gates then judge whether the data is fit to run on."""
    for entry in spec.ingest:
        from analytics_lib.data.incremental import ingest_incremental

        kw = {k: v for k, v in entry.items() if k not in ("source", "into")}
        try:
            batches = ingest_incremental(entry["source"], entry.get("into") or store, **kw)
        except WorkbenchError as exc:
            print(f"{spec.name}: ingest of {redact(entry['source'])} failed: {exc}", file=sys.stderr)
            continue
        if batches:
            print(f"{spec.name}: ingested {len(batches)} batch(es) from {redact(entry['source'])}: "
                  f"{sum(b.inserted for b in batches):,} new events, {sum(b.quarantined for b in batches):,} "
                  "quarantined", file=sys.stderr)


def _tell_rule_changes(spec: JobSpec, run_dir: Path, report: Path | None, root: Path) -> None:
    """The KPI alert rules whose state changed since the job's previous successful run: one message each."""
    from analytics_lib.analysis.anomaly.rules import state_changes
    from analytics_lib.jobs.publish import _read_table, _tables

    now = _tables(run_dir / "tables").get("alert_states")
    if now is None:
        return
    previous = previous_success(run_dir.parent, run_dir.name)
    before = _tables(previous / "tables").get("alert_states") if previous is not None else None
    try:
        changes = state_changes(_read_table(before) if before is not None else None, _read_table(now))
    except (OSError, ValueError, KeyError) as exc:
        print(f"{spec.name}: the alert states could not be compared: {exc}", file=sys.stderr)
        return
    for change in changes.to_dict("records"):
        notify_rule(spec.notify, spec.name, change, None if report is None else str(report), root)
