"""The experiments notebook under plain papermill on a store made by `workbench sample` (planted
experiments and their assignment table): it names the planted effects (the accept-rate lift inside
its interval, the latency guardrail breached), finds nothing in the A/A test, and writes its tables."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exp")
    url = f"sqlite:///{folder / 'w.db'}"
    out = subprocess.run([str(BIN / "workbench"), "sample", "--into", url, "--events", "300000", "--days", "90",
                          "--end", "2025-06-30"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return url, json.loads((folder / "w.truth.json").read_text())["experiments"]


def _run(url: str, tmp: Path, **params) -> tuple[str, pd.DataFrame]:
    import nbformat
    import papermill

    out = tmp / "out.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "experiments.ipynb"), str(out), kernel_name="python3",
                               parameters={"source": url, "start": "2025-04-20", "end": "2025-06-29",
                                           "output_dir": str(tmp / "tables"), **params}, progress_bar=False,
                               cwd=str(ROOT))
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(o["data"]["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
                     if "text/markdown" in o.get("data", {}))
    assert sum(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in nb.cells for o in c.get("outputs", [])) == 1  # the effect day by day
    return text, pd.read_csv(tmp / "tables" / "experiment_effects.csv")


def test_the_notebook_names_the_planted_effects(store, tmp_path):
    url, truth = store
    text, effects = _run(url, tmp_path)
    e = effects.set_index("metric")
    planted = truth["prompt-v2"]["expected"]
    assert e.loc["accept_rate", "relative_low"] < planted["accept_rate"] < e.loc["accept_rate", "relative_high"]
    assert e.loc["accept_rate", "relative_low"] > 0  # the lift is seen
    assert "`latency_ms` (guardrail): guardrail breached" in text
    assert "sample-ratio check" in text


def test_the_aa_test_finds_nothing(store):
    """The A/A experiment of the same store, through the library the notebook calls (one papermill run is enough)."""
    from analytics_lib import load_events
    from analytics_lib.analysis.experiments import experiment_results
    from analytics_lib.data.assignments import load_assignments

    url, _ = store
    events = load_events(url, start="2025-04-20", end="2025-06-29").events
    effects = experiment_results(events, load_assignments(url), "cache-aa", control="a").effects
    assert not effects["decision"].str.contains("better|worse|breached").any(), effects["decision"].tolist()
