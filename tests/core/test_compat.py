"""Code written for 0.1 (the flat layout) keeps working: every name ``analytics_lib`` exported, every
public name of its modules (with a warning naming the new home), renamed keyword arguments (with a
warning), job specs' ``checks:`` and models saved by ``save_model``.

``api_0_1.json`` is the public API of 0.1, read from its sources: the names of ``analytics_lib`` and
the public top-level names of each of its modules (the CLI's command functions left out).
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import ROOT

import analytics_lib
from analytics_lib.core.compat import MOVED_MODULES, MovedModuleWarning, RenamedArgumentWarning, renamed
from analytics_lib.core.errors import WorkbenchError

API = json.loads((Path(__file__).with_name("api_0_1.json")).read_text())


def test_every_name_analytics_lib_exported_imports_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        missing = [name for name in API["analytics_lib"] if not hasattr(analytics_lib, name)]
    assert not missing, missing
    assert set(API["analytics_lib"]) <= set(dir(analytics_lib))


@pytest.mark.parametrize("module", [m for m in API if m != "analytics_lib"])
def test_every_public_name_of_the_old_modules_is_found_where_it_lives_now(module):
    with pytest.warns(MovedModuleWarning, match=module) if module in MOVED_MODULES else warnings.catch_warnings():
        old = importlib.import_module(module)
    missing = [name for name in API[module] if not hasattr(old, name)]
    assert not missing, f"{module} lost {missing}"
    if module in MOVED_MODULES:  # the same objects, not copies
        for name in API[module]:
            value = getattr(old, name)
            homes = [importlib.import_module(t) for t in MOVED_MODULES[module]]
            assert any(vars(h).get(name) is value for h in homes), name


def test_an_old_module_names_the_new_home_from_the_caller_line():
    """The warning points at the user's import line, and a name that never existed says so."""
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from analytics_lib.roi import roi_inputs\n"
            "import analytics_lib.roi as r\n"
            "try:\n    r.no_such_name\nexcept AttributeError as e:\n    print(e)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "<string>:2: MovedModuleWarning: analytics_lib.roi is the 0.1 layout: import from analytics_lib or " \
           "analytics_lib.analysis.roi" in res.stderr
    assert "has no attribute 'no_such_name'" in res.stdout


def test_renamed_arguments_warn_and_refuse_both_spellings():
    @renamed(h="horizon")
    def f(*, horizon):
        return horizon

    with pytest.warns(RenamedArgumentWarning, match=r"f\(\): h= is now called horizon="):
        assert f(h=3) == 3
    with pytest.raises(WorkbenchError, match="give horizon only"):
        f(h=3, horizon=3)
    assert f(horizon=4) == 4


def test_old_check_names_in_job_specs_still_run(tmp_path):
    from analytics_lib.jobs.prepare import check_job
    from analytics_lib.jobs.spec import load_job_spec

    text = (ROOT / "papermill_jobs" / "monthly-roi.yaml").read_text()
    assert "analytics_lib.report.params:roi_parameters" in text
    spec_file = tmp_path / "monthly-roi.yaml"
    spec_file.write_text(text.replace("analytics_lib.report.params:roi_parameters", "analytics_lib.roi:roi_parameters"))
    (tmp_path / "store.db").touch()
    job = load_job_spec(spec_file, root=ROOT)
    assert job.checks == ("analytics_lib.roi:roi_parameters",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_job(job, store=f"sqlite:///{tmp_path / 'store.db'}")
        with pytest.raises(WorkbenchError, match="hourly_rate"):  # the check really runs
            check_job(job, overrides={"hourly_rate": -1.0}, store=f"sqlite:///{tmp_path / 'store.db'}")


def test_a_model_saved_by_0_1_loads_and_predicts_the_same(tmp_path):
    """A 0.1 file names ``analytics_lib.predict.SatisfactionModel``; written here by saving the class
    under its old module name, then loaded quietly by the new code."""
    from analytics_lib import session_features, synthetic_events
    from analytics_lib.analysis.predict.persistence import load_model, save_model
    from analytics_lib.analysis.predict.satisfaction import SatisfactionModel

    features = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    model = SatisfactionModel(n_repeats=1).fit(features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MovedModuleWarning)
        SatisfactionModel.__module__ = "analytics_lib.predict"
        try:
            old_file, _ = save_model(model, tmp_path / "old.joblib")
        finally:
            SatisfactionModel.__module__ = "analytics_lib.analysis.predict.satisfaction"
    assert b"analytics_lib.predict" in old_file.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model(old_file, kind="SatisfactionModel")
    assert type(loaded) is SatisfactionModel
    assert loaded.predict(features).equals(model.predict(features))
