"""Where things live. Every path the workbench uses is defined here and nowhere else."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
RAW, INTERIM, PROCESSED = DATA / "raw", DATA / "interim", DATA / "processed"
#: Where scheduled runs publish. Override with ``WORKBENCH_REPORTS``.
REPORTS = Path(os.environ.get("WORKBENCH_REPORTS", ROOT / "reports"))
NOTEBOOKS = ROOT / "notebooks"
JOBS = ROOT / "papermill_jobs"

#: The embedded default store. Override with the ``WORKBENCH_DB`` environment variable.
DEFAULT_DB_URL = os.environ.get("WORKBENCH_DB", f"sqlite:///{DATA / 'workbench.db'}")
