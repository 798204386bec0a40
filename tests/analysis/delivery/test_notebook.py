"""The delivery notebook under plain papermill on a store made by `workbench sample` (planted
delivery events, staggered adoption): it states the planted lead-time effect inside its interval
and writes its tables; `workbench dora` prints the same; the ROI can take the measured effect."""
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
    folder = tmp_path_factory.mktemp("delivery")
    url = f"sqlite:///{folder / 'w.db'}"
    out = subprocess.run([str(BIN / "workbench"), "sample", "--into", url, "--events", "40000", "--days", "60",
                          "--end", "2025-06-30", "--no-experiments"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return url, json.loads((folder / "w.truth.json").read_text())["delivery"]


def test_the_notebook_states_the_planted_effect_within_its_interval(store, tmp_path):
    import nbformat
    import papermill

    url, truth = store
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "delivery_impact.ipynb"), str(out), kernel_name="python3",
                               parameters={"source": url, "start": "2025-04-01", "end": "2025-06-30",
                                           "output_dir": str(tmp_path / "tables")}, progress_bar=False, cwd=str(ROOT))
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(o["data"]["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
                     if "text/markdown" in o.get("data", {}))
    effects = pd.read_csv(tmp_path / "tables" / "delivery_effects.csv").set_index("metric")
    planted = truth["effects"]["lead_time"]
    assert effects.loc["lead_time", "relative_low"] < planted < effects.loc["lead_time", "relative_high"]
    assert f"**lead time for changes**: {effects.loc['lead_time', 'relative']:+.1%}" in text
    assert "better with the assistant" in text and "observational" in text
    assert "quarantined" in text and "9 rows quarantined" in text  # the generator's malformed rows, from the store
    assert sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])) == 2


def test_the_cli_and_the_roi_take_the_measured_effect(store, tmp_path):
    from analytics_lib import load_events
    from analytics_lib.analysis.delivery import adoption_effect
    from analytics_lib.analysis.roi import realisation_from_effect, roi_inputs
    from analytics_lib.data.delivery import read_delivery

    from click.testing import CliRunner

    from analytics_lib.cli import main

    url, _ = store
    res = CliRunner().invoke(main, ["dora", url, "--start", "2025-04-01", "--end", "2025-06-30"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "lead_time" in res.output and "better with" in res.output and "Observational" in res.output
    effects = adoption_effect(read_delivery(url)).effects
    measured = effects.set_index("metric").loc["lead_time", "relative"]
    inputs = roi_inputs(load_events(url).events, months=12, projection="flat")
    m = realisation_from_effect(inputs, measured)
    assert 0 < m.rate <= 1 and m.measured_hours > 0 and "measured, not self-reported" in m.note()
    # the ROI notebook's delivery_effect may name the delivery notebook's table folder
    from analytics_lib.analysis.roi import lead_time_effect
    from analytics_lib.core.errors import WorkbenchError
    from analytics_lib.report.tables import write_tables

    folder = tmp_path / "delivery"
    write_tables({"delivery_effects": effects}, folder)
    assert lead_time_effect(folder) == pytest.approx(measured)
    write_tables({"delivery_effects": effects.assign(verdict="no significant effect")}, folder)
    with pytest.raises(WorkbenchError, match="not a measured improvement"):
        lead_time_effect(folder / "delivery_effects.csv")
