"""Small helpers every part of the runner shares (standard library only: the papermill child
imports them): clocks, JSON files written whole, run folders, banners on notebooks, process identity.
"""
from __future__ import annotations

import html
import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from analytics_lib.core.files import atomic_write
from analytics_lib.core.redaction import redact


_DAY_FMT = "%Y-%m-%d"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _clock() -> str:
    return f"{_utcnow():%H:%M:%S.%f}"[:-3]


def _proc_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time in clock ticks since boot


def _alive(pid: int | None, start: str | None) -> bool:
    if not pid:
        return False
    if Path("/proc").is_dir():
        now = _proc_start(pid)
        return now is not None and (start is None or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _job_dir(root: Path, job: str, variant: str) -> Path:
    return root / job / variant if variant else root / job


def _add_banner(notebook: Path, text: str) -> None:
    """Put a red note at the top of a (partial) notebook saying why it stopped."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    cell = {"cell_type": "markdown", "id": "workbench-" + secrets.token_hex(4),
            "metadata": {"tags": ["workbench-run-status"]},
            "source": f'<span style="color:red">{html.escape(redact(text))}</span>'}
    nb["cells"] = [c for c in nb["cells"] if "workbench-run-status" not in c.get("metadata", {}).get("tags", [])]
    nb["cells"].insert(0, cell)
    atomic_write(notebook, json.dumps(nb, indent=1))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(redact(_jsonable(data)), indent=1))
