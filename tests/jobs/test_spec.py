"""Job specs (no kernel): the shipped jobs load and declare what papermill sees, parameter types come
from the parameters cell, a bad spec names the file and the key, YAML dates stay text, overrides
are typed by the notebook, and the user predictions job is valid for the runner."""
from __future__ import annotations

import pytest
from conftest import ROOT
from jobs_helpers import NOTEBOOKS, Place

from analytics_lib import WorkbenchError
from analytics_lib.jobs.spec import (find_job, job_variants, load_job_spec, load_job_specs, notebook_parameters,
                                     parse_overrides)


def test_shipped_jobs_load_and_declare_what_papermill_sees():
    import ast

    import papermill

    specs = load_job_specs()  # every spec in papermill_jobs/ is valid
    ours = [s for s in specs if s.name in ("daily-workflow", "monthly-roi", "weekly-forecast", "weekly-team-workflow",
                                           "weekly-user-predictions", "daily-dashboard-marts")]
    assert len(ours) == 6
    assert {s.notebook.name for s in ours} == {"workflow_analysis.ipynb", "forecasting.ipynb", "roi.ipynb",
                                               "user_predictions.ipynb", "dashboard_marts.ipynb"}
    for nb in sorted({s.notebook for s in specs}):
        ours, theirs = notebook_parameters(nb), papermill.inspect_notebook(str(nb))
        assert list(ours) == list(theirs)
        assert all(ours[k].default == ast.literal_eval(theirs[k]["default"]) for k in ours)
    grid = find_job(specs, "weekly-team-workflow")
    assert [v.parameters["team"] for v in job_variants(grid)] == ["team-a", "team-b", "team-c"]


def test_parameter_types_come_from_the_parameters_cell():
    p = notebook_parameters(NOTEBOOKS / "quick.ipynb")
    assert {k: v.type_name for k, v in p.items()} == {"rows": "int", "label": "str", "scale": "float",
                                                      "sleep_s": "float", "colors": "list", "output_dir": "any"}
    assert p["rows"].help == "rows of the table"
    assert p["scale"].accepts(2) and not p["rows"].accepts(2.0) and not p["rows"].accepts(True)
    assert p["output_dir"].accepts(None) and p["output_dir"].accepts("x")


@pytest.mark.parametrize("keys, key, message", [
    ({"schedul": "0 6 * * *"}, "schedul", "unknown key (did you mean 'schedule'?)"),
    ({"schedule": "61 * * * *"}, "schedule", "is not a valid 5-field cron expression"),
    ({"schedule": "0 6 * *"}, "schedule", "is not a valid 5-field cron expression"),
    ({"schedule": "0 6 1 * MON"}, "schedule", "restricts both the day of the month and the day of the week"),
    ({"timezone": "Mars/Olympus"}, "timezone", "is not an IANA time zone"),
    ({"notebook": "notebooks/nope.ipynb"}, "notebook", "does not exist"),
    ({"parameters": {"colour": ["red"]}}, "parameters.colour", "does not declare a parameter 'colour' (did you mean "
                                                               "'colors'?)"),
    ({"parameters": {"rows": "five"}}, "parameters.rows", "'five' is a str, but the notebook's parameter 'rows' is int"),
    ({"parameters": {"scale": True}}, "parameters.scale", "is a bool, but the notebook's parameter 'scale' is float"),
    ({"parameters": {"output_dir": "/tmp/x"}}, "parameters.output_dir", "is set by the runner"),
    ({"grid": {"rows": 3}}, "grid.rows", "must be a non-empty list of values"),
    ({"grid": {"rows": [1, "two"]}}, "grid.rows[1]", "'two' is a str"),
    ({"parameters": {"rows": 2}, "grid": {"rows": [1, 3]}}, "grid.rows", "in both parameters and grid"),
    ({"timeout_s": 0}, "timeout_s", "must be a number >= 1"),
    ({"retries": 1.5}, "retries", "must be a whole number"),
    ({"outputs": ["docx"]}, "outputs", "a list of html, xlsx, csv, marts, pdf"),
    ({"outputs": ["pdf"]}, "outputs", "'pdf' is made from the HTML report: add 'html' to outputs"),
    ({"notify": {"on": ["failure"], "email": "x@example.com"}}, "notify.email", "unknown key"),
    ({"notify": {"on": ["always"], "log": "n.log"}}, "notify.on", "'failure' and/or 'success'"),
    ({"checks": ["not a function"]}, "checks", "'module:function'"),
])
def test_bad_spec_names_the_file_and_the_key(tmp_path, keys, key, message):
    place = Place(tmp_path)
    spec = place.spec("bad", "quick.ipynb", **keys)
    with pytest.raises(WorkbenchError) as exc:
        load_job_spec(spec)
    assert str(exc.value).startswith(f"{spec}: key '{key}'")
    assert message in str(exc.value)


def test_yaml_reads_dates_as_text_and_on_as_a_key(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text(f"notebook: {NOTEBOOKS / 'quick.ipynb'}\nschedule: '0 6 * * *'\nparameters: {{label: 2025-01-01}}\n"
                    "notify:\n  on: [failure, success]\n  log: n.log\n")
    job = load_job_spec(spec)
    assert job.parameters == {"label": "2025-01-01"} and job.notify.on == ("failure", "success")
    spec.write_text("notebook: [unclosed\n")
    with pytest.raises(WorkbenchError, match=r"d.yaml: not valid YAML .*line"):
        load_job_spec(spec)


def test_overrides_are_typed_by_the_notebook(tmp_path):
    job = load_job_spec(Place(tmp_path).spec("q", "quick.ipynb"))
    assert parse_overrides(["rows=7", "scale=2", "label=123", "colors=[a, b]"], spec=job) == \
        {"rows": 7, "scale": 2, "label": "123", "colors": ["a", "b"]}
    assert job_variants(job, parse_overrides(["rows=7"], spec=job))[0].parameters == {"rows": 7}
    with pytest.raises(WorkbenchError, match=r"-p rows \(job q\): 'seven' is a str, but .* 'rows' is int"):
        job_variants(job, parse_overrides(["rows=seven"], spec=job))
    with pytest.raises(WorkbenchError, match=r"-p colour: .*did you mean 'colors'"):
        job_variants(job, {"colour": ["red"]})
    with pytest.raises(WorkbenchError, match="key=value"):
        parse_overrides(["rows"])


# the user predictions job and its notebook
NOTEBOOK = ROOT / "notebooks" / "user_predictions.ipynb"
JOB = ROOT / "papermill_jobs" / "weekly-user-predictions.yaml"


def test_job_spec_is_valid_for_the_runner():
    jobs = pytest.importorskip("analytics_lib.jobs", reason="the jobs runner is not in this checkout yet")
    spec = jobs.load_job_spec(JOB)
    assert spec.name == "weekly-user-predictions" and spec.notebook == NOTEBOOK.resolve()
    assert spec.checks == ("analytics_lib.report.params:prediction_parameters",)
    assert [v.parameters["top_k"] for v in jobs.check_job(spec, store="sqlite://")] == [50]
    with pytest.raises(WorkbenchError, match="churn_window_days=0"):
        jobs.check_job(spec, overrides={"churn_window_days": 0}, store="sqlite://")
