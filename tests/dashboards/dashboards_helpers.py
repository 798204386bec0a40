"""Helpers shared by the dashboards' tests: a published run, as a job writes it."""
from __future__ import annotations

import json
from pathlib import Path


def _publish(root: Path, job: str, run_id: str, tables: dict, *, notebook: str, parameters: dict,
             status: str = "succeeded", variant: str = "", pointer: bool = False,
             finished: str = "2026-01-02T03:04:00+00:00") -> Path:
    job_dir = root / job / variant if variant else root / job
    run_dir = job_dir / run_id
    (run_dir / "tables").mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(run_dir / "tables" / f"{name}.parquet", index=False)
    (run_dir / "run.json").write_text(json.dumps({
        "job": job, "variant": variant, "run_id": run_id, "status": status, "parameters": parameters,
        "notebook": notebook, "attempts": [{"attempt": 1, "status": status, "ended_at": finished}]}))
    link = job_dir / "latest"
    if pointer:
        link.write_text(run_id + "\n")
    else:
        link.symlink_to(run_id)
    return run_dir
