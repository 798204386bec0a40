"""The command-line tests: ``cli_helpers`` importable."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for cli_helpers.py (see tests/conftest.py)


