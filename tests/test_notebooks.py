"""Notebooks: committed clean and parameterized, paired with their jupytext scripts, and they run.
The runs use small seeded SQLite stores whose data ends today (tests/conftest.py's ``store``, and
the ROI and user predictions stores below), so the notebooks' default relative windows have data;
the dashboards run as plain notebooks on the dashboards' fixed-date store. Also checked here: the
workflow notebook's Insights section, the ROI notebook and the user predictions notebook."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from analytics_lib.analysis.predict.persistence import load_model
from analytics_lib.analysis.roi.assumptions import Assumptions
from analytics_lib.analysis.roi.inputs import roi_inputs
from analytics_lib.analysis.roi.result import roi_result


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
# Running the workflow notebook (on tests/conftest.py's `store`)
@pytest.fixture(scope="module")
def api_run(store, tmp_path_factory):
    """The notebook run once through papermill's Python API, from the notebooks folder (weekly
    tables; anomaly detection at sensitivity "high", for the Insights section's test)."""
    import papermill

    work = tmp_path_factory.mktemp("api")
    out_nb = work / "executed.ipynb"
    papermill.execute_notebook(
        str(WORKFLOW), str(out_nb),
        parameters={"source": store, "output_dir": str(work / "out"), "granularity": "W", "sensitivity": "high"},
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
         "-p", "output_dir", str(out_dir), "-p", "granularity", "W", "-p", "sensitivity", "high", "-k", "python3",
         "--no-progress-bar"],
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
    # the forecast carries the chosen model's backtest score (the chosen one's row of the written scores; within
    # the backtest's noise of the best single candidate's, see auto_forecast's rule)
    by_model = scores.set_index(["unique_id", "model"])["mase"]
    chosen = by_model.loc[list(zip(selection.index, selection["model"]))].to_numpy()
    assert abs(selection["mase"].to_numpy() - chosen).max() < 1e-12
    best = scores[~scores["model"].isin(["seasonal_naive", "ensemble"])].groupby("unique_id")["mase"].min()
    assert (selection["mase"] <= 1.5 * best.loc[selection.index]).all()
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


# --------------------------------------------------------------------------------------------
# The workflow notebook's Insights section
@pytest.mark.slow
def test_notebook_insights_section_shows_the_incident_and_marks_the_anomalies(api_run):
    """The run at sensitivity "high" (``api_run``; the insights and the anomalies are daily whatever
    the tables' granularity)."""
    from analytics_lib.data.synthetic.events import synthetic_events

    truth = synthetic_events(30_000, days=60, seed=0).truth  # the world of tests/conftest.py's `store`
    nb, _ = api_run
    cells = [c for c in nb.cells if c.cell_type == "code"]
    i = next(k for k, c in enumerate(cells) if "ranked_insights(" in c.source)
    text = "".join(o["data"].get("text/markdown", "") for o in cells[i].outputs if "data" in o)
    first = text.split("\n")[0]
    assert first.startswith("1. **") and truth.incident_model in first and truth.incident_team in first
    chart = cells[i + 1]
    assert any("image/png" in o.get("data", {}) for o in chart.outputs)
    assert "at sensitivity *high*" in "".join(o["data"].get("text/markdown", "") for o in chart.outputs if "data" in o)


@pytest.mark.slow
def test_notebook_bad_sensitivity_stops_in_the_first_cell(store, tmp_path):
    import papermill
    from conftest import ROOT
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(ROOT / "notebooks" / "workflow_analysis.ipynb"), str(tmp_path / "bad.ipynb"),
                                   parameters={"source": store, "output_dir": str(tmp_path / "out"),
                                               "sensitivity": "extreme"},
                                   kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "sensitivity='extreme'" in str(exc.value)


# --------------------------------------------------------------------------------------------
# The ROI notebook, run with papermill on a small store
ROI_NOTEBOOK = ROOT / "notebooks" / "roi.ipynb"


@pytest.fixture(scope="module")
def roi_store(sqlite_store) -> str:
    """20k events over the 60 days up to today (seed 1)."""
    return sqlite_store(20_000, days=60, seed=1)


def test_notebook_is_clean_and_paired():
    import jupytext

    nb = nbformat.read(ROI_NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and all(c.outputs == [] for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)
    assert all(c.get("execution_count") is None for c in code)
    for c in code:  # thin: no definitions in the notebook
        assert not any(line.lstrip().startswith(("def ", "class ")) for line in c.source.splitlines())
    script = jupytext.read(ROI_NOTEBOOK.with_suffix(".py"))
    strip = lambda n: [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", [])))  # noqa: E731
                       for c in n.cells]
    assert strip(script) == strip(nb)
    header = lambda p: p.read_text().split("# ---", 2)[1]  # noqa: E731
    assert header(ROI_NOTEBOOK.with_suffix(".py")) == header(ROOT / "notebooks" / "workflow_analysis.py")


@pytest.mark.slow
def test_notebook_runs_and_writes_its_tables(roi_store, tmp_path):
    import papermill

    from analytics_lib import load_events

    out_nb, out_dir = tmp_path / "roi.ipynb", tmp_path / "out"
    papermill.execute_notebook(str(ROI_NOTEBOOK), str(out_nb),
                               parameters={"source": roi_store, "output_dir": str(out_dir), "hourly_rate": 120.0,
                                           "n_simulations": 2000, "end": "today"},
                               kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    nb = nbformat.read(out_nb, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    summary_md = [o["data"]["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
                  if "text/markdown" in o.get("data", {})]
    assert summary_md[0].startswith("Over 36 months the assistant")
    for name in ("roi_summary", "cashflows", "value_by_team", "value_by_feature", "measures_by_month", "assumptions",
                 "tornado", "break_even", "monte_carlo_summary", "scenarios"):
        assert (out_dir / f"{name}.csv").is_file() and (out_dir / f"{name}.parquet").is_file(), name
    # the written cash flows are the library's result on the same data and assumptions
    events = load_events(roi_store, end="today").events
    expected = roi_result(roi_inputs(events, months=48), Assumptions(hourly_rate=120.0))
    written = pd.read_csv(out_dir / "cashflows.csv")
    np.testing.assert_allclose(written["net_usd"], expected.cashflows["net_usd"], rtol=1e-9)
    summary = pd.read_csv(out_dir / "roi_summary.csv").set_index("metric")["value"]
    assert summary["NPV"] == pytest.approx(expected.npv) and summary["ROI"] == pytest.approx(expected.roi_pct)
    assert expected.payback_reason and math.isfinite(expected.npv)


@pytest.mark.slow
def test_notebook_stops_in_its_first_cell_on_a_bad_assumption(roi_store, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(ROI_NOTEBOOK), str(tmp_path / "failed.ipynb"),
                                   parameters={"source": roi_store, "output_dir": str(tmp_path / "out"),
                                               "hourly_rate": -50.0},
                                   kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "hourly_rate=-50.0 is out of range" in str(exc.value)
    nb = nbformat.read(tmp_path / "failed.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    injected = next(i for i, c in enumerate(code) if "injected-parameters" in c.metadata.get("tags", []))
    failed = [i for i, c in enumerate(code) if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert failed == [injected + 1] and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# The user predictions notebook
NOTEBOOK = ROOT / "notebooks" / "user_predictions.ipynb"


@pytest.fixture(scope="module")
def predict_store(sqlite_store) -> str:
    """50k events over the 110 days up to today (seed 0)."""
    return sqlite_store(50_000, days=110, seed=0)


def test_notebook_runs_and_writes_the_at_risk_list(predict_store, tmp_path):
    import papermill

    out = tmp_path / "out"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "run.ipynb"),
                               parameters={"source": predict_store, "churn_window_days": 14, "top_k": 12,
                                           "team": "team-a", "output_dir": str(out)},
                               kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False)
    nb = nbformat.read(tmp_path / "run.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4  # calibration, two driver charts, PDP
    csv, xlsx = pd.read_csv(out / "at_risk_users.csv"), pd.read_excel(out / "at_risk_users.xlsx")
    assert len(csv) == 12 and (csv["team"] == "team-a").all() and csv["user_id"].tolist() == xlsx["user_id"].tolist()
    assert csv["churn_probability"].is_monotonic_decreasing
    scores = pd.read_parquet(out / "churn_scores.parquet")
    assert scores["role"].tolist()[0] == "chosen" and scores["roc_auc"].notna().all()
    assert load_model(out / "churn_model.joblib", kind="ChurnModel").churn_window_days == 14
    assert load_model(out / "satisfaction_model.joblib", kind="SatisfactionModel").model_name_
    text = "\n".join(o["data"].get("text/markdown", "") for o in outputs if "data" in o)
    assert f"ROC AUC **{scores['roc_auc'].iloc[0]:.3f}**" in text  # the sentence reports the computed score


def test_notebook_bad_parameter_stops_in_the_first_cell(predict_store, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "failed.ipynb"),
                                   parameters={"source": predict_store, "top_k": 0, "output_dir": str(tmp_path / "out")},
                                   kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "top_k=0 must be a whole number" in str(exc.value)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# The dashboards as plain notebooks (no Voilà)
@pytest.mark.slow
@pytest.mark.parametrize("name", ["workflow_overview", "forecast_explorer", "roi_calculator", "experiments_overview"])
def test_dashboard_notebook_runs_under_papermill(name, dashboard_store, experiment_store, tmp_path_factory,
                                                 monkeypatch):
    """Each dashboard runs top to bottom as a plain notebook (no Voilà) against a small store."""
    import nbformat
    import papermill

    root = Path(__file__).resolve().parents[1] / "notebooks" / "dashboards"
    cache = tmp_path_factory.getbasetemp() / "papermill-cache"
    monkeypatch.setenv("WORKBENCH_DASHBOARD_CACHE", str(cache))
    monkeypatch.setenv("WORKBENCH_REPORTS", str(tmp_path_factory.getbasetemp() / "no-reports"))
    out = tmp_path_factory.mktemp("nb") / f"{name}.ipynb"
    source = experiment_store if name == "experiments_overview" else dashboard_store
    papermill.execute_notebook(str(root / f"{name}.ipynb"), str(out), parameters={"source": source},
                               kernel_name="python3", cwd=str(root), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 6
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    html_values = " ".join(str(m["state"].get("value", "")) for m in state.values())
    assert "data-kpi=" in html_values and "wb-message wb-message-error" not in html_values
