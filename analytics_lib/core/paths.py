"""Where things live. Every path the workbench uses is defined here and nowhere else.
"""
from __future__ import annotations

import os
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
RAW, INTERIM, PROCESSED = DATA / "raw", DATA / "interim", DATA / "processed"
#: Where scheduled runs publish. Override with ``WORKBENCH_REPORTS``.
REPORTS = Path(os.path.abspath(os.path.expanduser(os.environ.get("WORKBENCH_REPORTS") or ROOT / "reports")))
#: (at import; :func:`reports_root` reads the environment when called)
NOTEBOOKS = ROOT / "notebooks"
JOBS = ROOT / "papermill_jobs"
#: The embedded default store. Override with the ``WORKBENCH_DB`` environment variable.
DEFAULT_DB_URL = os.environ.get("WORKBENCH_DB", f"sqlite:///{DATA / 'workbench.db'}")


def reports_root(reports: str | os.PathLike | None = None) -> Path:
    """The reports folder as an absolute path: ``reports``, else ``$WORKBENCH_REPORTS``, else ``reports/``.

    Resolved once, against the current directory, by whoever is given the folder: every path a
    run hands to its papermill child (which works in another directory) derives from it.

    Examples
    --------
    >>> reports_root("out").is_absolute()
    True
    """
    chosen = reports if reports is not None else (os.environ.get("WORKBENCH_REPORTS") or ROOT / "reports")
    return Path(os.path.abspath(os.path.expanduser(chosen)))
