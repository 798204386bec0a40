"""Extension points, for real: a separate package installed into the venv extends the registries.

``tests/corpus/plugin`` is a tiny plug-in package (entry points for a forecast model, an anomaly
detector, an analysis and a report output). It is installed with ``uv pip install`` into this venv,
used from a fresh Python process (entry points are read there, as a user's would be), and
uninstalled at the end.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CORPUS

PLUGIN = CORPUS / "plugin"
BIN = Path(sys.executable).parent
DIST = "workbench-plugin-example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    build = tmp_path_factory.mktemp("plugin")  # build outside the repository (no build/ or egg-info there)
    for f in PLUGIN.iterdir():
        (build / f.name).write_bytes(f.read_bytes())
    uv = [str(BIN / "uv"), "pip"]
    proc = subprocess.run([*uv, "install", "--python", sys.executable, "--no-deps", "--reinstall", str(build)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    try:
        yield
    finally:
        subprocess.run([*uv, "uninstall", "--python", sys.executable, DIST], capture_output=True, text=True,
                       timeout=300)


def _run(script: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_plugin_model_is_chosen_and_a_plugin_detector_used(installed):
    out = _run("""
        import json
        import numpy as np, pandas as pd
        from analytics_lib import auto_forecast, detect_anomalies
        from analytics_lib.forecast.models import MODELS, auto_candidates

        # a three-week cycle the built-in models (weekly or yearly seasons) cannot follow
        t = np.arange(21 * 30)
        y = 100 + 25 * np.sin(2 * np.pi * t / 21) + 10 * ((t // 3) % 7 == 2)
        series = pd.DataFrame({"unique_id": "cycle", "ds": pd.date_range("2024-01-01", periods=len(t)), "y": y})
        res = auto_forecast(series, horizon=21, granularity="D", n_windows=2, level=[80])
        k = pd.Series(np.r_[np.full(30, 10.0), 80.0, np.full(20, 10.0)],
                      index=pd.date_range("2024-01-01", periods=51), name="events")
        found = detect_anomalies(k, methods=["spikes"])
        print(json.dumps({"candidates": auto_candidates(), "origin": MODELS.origin("season21"),
                          "chosen": res.selection["model"].iloc[0], "members": res.selection["members"].iloc[0],
                          "mase": float(res.selection["mase"].iloc[0]),
                          "methods": found["method"].tolist(), "days": found["timestamp"].dt.strftime("%Y-%m-%d").tolist()}))
    """)
    assert "season21" in out["candidates"] and out["origin"] == DIST
    assert out["chosen"] == "season21" or "season21" in out["members"], out
    assert out["mase"] < 0.05
    assert out["methods"] == ["spikes"] and out["days"] == ["2024-01-31"]


def test_a_plugin_analysis_and_report_output(installed, tmp_path):
    out = _run(f"""
        import json
        import pandas as pd
        from analytics_lib.compute.engine import open_engine
        from analytics_lib.data.synthetic.events import synthetic_events
        from analytics_lib.jobs.publish import OUTPUT_WRITERS, PublishContext

        ev = synthetic_events(5_000, days=28, end="2025-06-30", seed=0).events
        with open_engine("pandas") as eng:
            table = eng.run("events_per_team", eng.load_events(ev, now="2025-07-01"), top=2)
        run = __import__("pathlib").Path({str(tmp_path)!r})
        ctx = PublishContext(spec=None, run_dir=run, tables={{}}, frames={{"kpis": table}}, info={{}})
        written = OUTPUT_WRITERS.get("row_counts")(ctx)
        print(json.dumps({{"rows": len(table), "columns": table.columns.tolist(), "written": [p.name for p in written],
                          "counts": json.loads(written[0].read_text()),
                          "outputs": OUTPUT_WRITERS.names()}}))
    """)
    assert out["rows"] == 2 and out["columns"] == ["team", "events"]
    assert out["written"] == ["row_counts.json"] and out["counts"] == {"kpis": 2}
    assert out["outputs"][:4] == ["html", "xlsx", "csv", "marts"] and "row_counts" in out["outputs"]


def test_without_the_plugin_its_names_are_unknown_with_a_clear_message():
    """In this process the plug-in was never installed when the registries were read, or it is gone."""
    from analytics_lib import WorkbenchError
    from analytics_lib.core.registry import Registry

    reg = Registry("forecast model", "analytics_workbench.no_such_group")
    with pytest.raises(WorkbenchError, match="no forecast model named 'season21': choose one of none"):
        reg.get("season21")
