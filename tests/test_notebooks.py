"""Notebooks: committed clean and parameterized, paired with their jupytext scripts, and they run.

The runs use a small seeded SQLite store whose data ends today, so the notebook's default
relative window (``-28d`` .. ``today``) has data.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WORKFLOW = NOTEBOOKS / "workflow_analysis.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"
TABLES = ["kpis", "funnel", "funnel_users", "bottlenecks", "retention", "transitions"]


def _notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_there_are_notebooks():
    assert WORKFLOW in _notebooks()


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: str(p.relative_to(NOTEBOOKS)))
def test_notebook_is_committed_clean_and_parameterized(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for i, cell in enumerate(code):
        assert cell.get("outputs") == [], f"code cell {i} has outputs: clear them before committing"
        assert cell.get("execution_count") is None, f"code cell {i} has an execution count"
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"


def test_workflow_notebook_names_the_venv_kernel():
    nb = nbformat.read(WORKFLOW, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"  # resolves to the venv's kernel (see NOTES-platform)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: str(p.relative_to(NOTEBOOKS)))
def test_notebook_has_no_definitions(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                assert not line.lstrip().startswith(("def ", "class ", "async def ")), \
                    f"move this to the library: {line.strip()}"


@pytest.mark.parametrize("path", [p for p in _notebooks() if p.with_suffix(".py").exists()],
                         ids=lambda p: str(p.relative_to(NOTEBOOKS)))
def test_jupytext_pair_is_in_sync(path):
    """The .ipynb and its percent-format .py hold the same cells (types, sources, tags)."""
    import jupytext

    def cells(nb):
        return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]

    script = jupytext.read(path.with_suffix(".py"))
    notebook = nbformat.read(path, as_version=4)
    assert cells(script) == cells(notebook), (
        f"{path.name} and {path.with_suffix('.py').name} differ: run "
        f"`jupytext --to notebook {path.with_suffix('.py').name}` (or --sync) in notebooks/")


# --------------------------------------------------------------------------------------------
# Running the workflow notebook
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    write_events(validate_events(synthetic_events(30_000, days=60, seed=0).events), url)
    return url


@pytest.fixture(scope="module")
def api_run(store, tmp_path_factory):
    """The notebook run once through papermill's Python API, from the notebooks folder."""
    import papermill

    work = tmp_path_factory.mktemp("api")
    out_nb = work / "executed.ipynb"
    papermill.execute_notebook(
        str(WORKFLOW), str(out_nb),
        parameters={"source": store, "output_dir": str(work / "out"), "granularity": "W"},
        kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)
    return nbformat.read(out_nb, as_version=4), work / "out"


def _errors(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.slow
def test_notebook_runs_through_the_api(api_run, store):
    from analytics_lib import load_events

    nb, out = api_run
    assert not _errors(nb)
    assert nb.metadata.papermill.get("exception") in (None, False)
    for name in TABLES:
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    kpis = pd.read_csv(out / "kpis.csv")
    expected = load_events(store, start="-28d", end="today").summary.rows_kept
    assert expected > 0 and int(kpis["events"].sum()) == expected
    assert pd.to_datetime(kpis["period"]).dt.day_of_week.eq(0).all()  # weekly periods start on Monday
    assert _images(nb) >= 10, "figures must be inline (the notebook uses %matplotlib inline)"


@pytest.mark.slow
def test_notebook_runs_through_the_cli_with_agg_backend(api_run, store, tmp_path):
    """The plain `papermill` command, from the repo root, with MPLBACKEND=Agg set as `make` does."""
    _, api_out = api_run
    out_dir = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [str(PAPERMILL), str(WORKFLOW), str(tmp_path / "executed.ipynb"), "-p", "source", store,
         "-p", "output_dir", str(out_dir), "-p", "granularity", "W", "-k", "python3", "--no-progress-bar"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    assert _images(nb) >= 10
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_csv(out_dir / f"{name}.csv"), pd.read_csv(api_out / f"{name}.csv"),
                                      obj=f"{name}.csv")
        pd.testing.assert_frame_equal(pd.read_parquet(out_dir / f"{name}.parquet"),
                                      pd.read_parquet(api_out / f"{name}.parquet"), obj=f"{name}.parquet")


@pytest.mark.slow
def test_bad_parameter_stops_the_first_cell_with_a_clear_message(store, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_nb = tmp_path / "failed.ipynb"
    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(
            str(WORKFLOW), str(out_nb),
            parameters={"source": store, "output_dir": str(tmp_path / "out"), "granularity": "Q"},
            kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)
    assert exc.value.ename == "WorkbenchError"
    assert "granularity='Q' is not supported: use one of 'D'" in str(exc.value)
    nb = nbformat.read(out_nb, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]  # papermill puts a markdown error banner on top
    injected = next(i for i, c in enumerate(code) if "injected-parameters" in c.metadata.get("tags", []))
    failed = [i for i, c in enumerate(code) if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert failed == [injected + 1], "the cell right after the parameters validates them"
    assert not (tmp_path / "out").exists()  # nothing was written


FORECASTING = NOTEBOOKS / "forecasting.ipynb"


@pytest.mark.slow
def test_forecasting_notebook_runs_and_writes_what_it_shows(store, tmp_path):
    import papermill

    from analytics_lib import load_events, metric_table

    out_nb, out = tmp_path / "forecast.ipynb", tmp_path / "out"
    papermill.execute_notebook(
        str(FORECASTING), str(out_nb),
        parameters={"source": store, "start": "-60d", "by": "model", "horizon": 14, "n_windows": 2,
                    "models": ["ets", "theta", "lag_regressor"], "capacity": 50.0, "output_dir": str(out)},
        kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)
    nb = nbformat.read(out_nb, as_version=4)
    assert not _errors(nb) and _images(nb) >= 3  # scores, forecast, spend (+ components when the model has them)
    forecast = pd.read_parquet(out / "forecast.parquet")
    selection = pd.read_parquet(out / "selection.parquet").set_index("unique_id")
    scores = pd.read_parquet(out / "backtest_scores.parquet")
    events = load_events(store, start="-60d", end="today").events
    groups = set(metric_table(events, "events", by="model")["model"].dropna().astype(str)) | {"total"}
    assert set(forecast["unique_id"]) == groups and forecast.groupby("unique_id").size().eq(14).all()
    # the forecast carries the chosen model's backtest score, which is the best candidate's
    best = scores[scores["model"] != "seasonal_naive"].groupby("unique_id")["mase"].min()
    assert (selection["mase"] - best.loc[selection.index]).abs().max() < 1e-12
    assert (forecast.groupby("unique_id")["backtest_mase"].first() - selection["mase"]).abs().max() < 1e-12
    cap = pd.read_parquet(out / "capacity.parquet").set_index("unique_id")
    assert cap["probability"].between(0, 1).all() and (cap["capacity"] == 50.0).all()
    spend = pd.read_parquet(out / "spend_forecast.parquet")
    assert "total" in set(spend["unique_id"]) and (spend["forecast"].groupby(spend["unique_id"]).sum() >= 0).all()
    text = "\n".join(o["data"].get("text/markdown", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if "data" in o)
    total = forecast[forecast["unique_id"] == "total"]["forecast"].sum()
    assert f"{total:,.0f}" in text  # the sentence reports the computed forecast


@pytest.mark.slow
def test_forecasting_bad_parameter_stops_before_loading(store, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(FORECASTING), str(tmp_path / "failed.ipynb"),
                                   parameters={"source": store, "horizon": 0, "output_dir": str(tmp_path / "out")},
                                   kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "horizon=0 must be a positive whole number" in str(exc.value)
    assert not (tmp_path / "out").exists()
