"""The anomaly tests: ``anomaly_helpers`` importable."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for anomaly_helpers.py (see tests/conftest.py)


