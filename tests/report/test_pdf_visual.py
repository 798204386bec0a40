"""Visual regression of the report PDFs: the first two pages (title block and contents, the first
section) of each shipped report job's PDF, made the
way a run makes it (the job's notebook and parameters executed by papermill with the jobs' kernel options, two
notebooks at a time, the stakeholders' HTML
with the run's header, WeasyPrint) on a store whose data ends on 2025-06-30, with the dates and the
run's facts and the test's folders fixed so that the page does not change with the day or the machine, drawn at 100 dpi and compared with
``tests/visual/`` (tolerance and the approve command: ``tests/visual_regression.py``)."""
from __future__ import annotations

import re

import pytest
from conftest import ROOT
from visual_regression import check_image

pytestmark = pytest.mark.slow

#: Each shipped report job with the dates that pin it to the test store's data.
JOBS = {
    "daily-workflow": {"start": "2025-06-02", "end": "2025-06-29"},
    "weekly-forecast": {"start": "2025-01-01", "end": "2025-06-29"},
    "monthly-roi": {"end": "2025-06-29"},
    "weekly-user-predictions": {"cutoff": "2025-06-29"},
    "daily-kpi-alerts": {"at": "2025-06-30T06:15:00+00:00"},
    "weekly-experiments": {"start": "2025-04-20", "end": "2025-06-29"},
}


@pytest.fixture(scope="module")
def source(sqlite_store) -> str:
    # the churn model needs 112 days; the experiments job, the planted experiments
    return sqlite_store(30_000, days=130, seed=0, end="2025-06-30", experiments=True)


def _page_png(pdf, index: int, scale: float = 100 / 72) -> bytes:
    import io

    import pypdfium2

    doc = pypdfium2.PdfDocument(str(pdf))
    try:
        image = doc[index].render(scale=scale).to_pil()
    finally:
        doc.close()
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


#: One notebook run as the job runner's child runs it (papermill, the jobs' kernel options), in its own process.
_EXECUTE = """import json, sys
import papermill
from analytics_lib.jobs.child import KERNEL_ARGS
a = json.loads(sys.argv[1])
papermill.execute_notebook(a["notebook"], a["output"], parameters=a["parameters"], kernel_name="python3",
                           cwd=a["cwd"], progress_bar=False, extra_arguments=list(KERNEL_ARGS))
"""


@pytest.fixture(scope="module")
def executed(source, tmp_path_factory) -> dict:
    """job -> (its executed notebook or None, papermill's output): every job's notebook with the job's
    parameters, two at a time (each in its own process and kernel, as the job runner runs two)."""
    import json
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from analytics_lib.jobs.spec import load_job_spec

    def run(job: str):
        spec = load_job_spec(ROOT / "papermill_jobs" / f"{job}.yaml", root=ROOT)
        folder = tmp_path_factory.mktemp(job)
        params = {**spec.parameters, **JOBS[job], "source": source, "output_dir": str(folder / "tables")}
        if spec.alerts:
            params["rules"] = [r.as_dict() for r in spec.alerts]
        out = folder / "notebook.ipynb"
        args = {"notebook": str(spec.notebook), "output": str(out), "parameters": params, "cwd": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", _EXECUTE, json.dumps(args)], capture_output=True, text=True,
                              timeout=900)
        return job, (out if proc.returncode == 0 else None, proc.stdout[-3000:] + proc.stderr[-3000:])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, JOBS))


@pytest.mark.parametrize("job", list(JOBS))
def test_first_pdf_pages_look_as_approved(job, executed, tmp_path, tmp_path_factory):
    from analytics_lib.jobs.child import _export_html
    from analytics_lib.report.pdf import report_pdf

    notebook, output = executed[job]
    assert notebook is not None, output
    # the test's folders (in the parameters table) differ by run and machine: one fixed text instead
    temp = re.escape(str(tmp_path_factory.getbasetemp().parent))
    executed_nb = tmp_path / "notebook.ipynb"
    executed_nb.write_text(re.sub(temp + r"[^\s\"'<>\\]*", "(test folder)", notebook.read_text()))
    header = [["Job", job], ["Run", "the approved picture"], ["Data as of", "2025-06-29 23:59 UTC"]]
    _export_html(executed_nb, tmp_path / "report.html", header, 0.0)
    pdf = report_pdf(tmp_path / "report.html", tmp_path / "report.pdf", title=f"{job} · visual test")
    problems = [check_image(_page_png(pdf, i), f"pdf-{job}-page{i + 1}") for i in (0, 1)]  # contents, first section
    assert [p for p in problems if p] == []
