"""Report PDFs with WeasyPrint: contents with page numbers and bookmarks, a footer on every page,
long tables that break across pages with their header repeated; and a PDF that fails never blocks
the HTML report (the run says which output failed)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.report.pdf import report_pdf


def _page(rows: int) -> str:
    table = "".join(f"<tr><td>{i}</td><td>team-{i % 7}</td><td>${i * 1.5:,.2f}</td></tr>" for i in range(rows))
    return (f"<!DOCTYPE html><html><head><title>t</title></head><body><main>"
            f"<table><tr><td>Data as of</td><td>2026-12-06 23:36 UTC</td></tr></table>"
            f"<h1 id='Report'>Report<a class='anchor-link' href='#Report'>¶</a></h1><p>cost from $0.03 to $0.05</p>"
            f"<h2>Usage</h2><table class='dataframe'><thead><tr><th>i</th><th>TEAM NAME</th><th>COST USD</th></tr></thead>"
            f"<tbody>{table}</tbody></table><h2>Cost</h2><p>end</p></main></body></html>")


def _texts(page) -> str:
    out, stack = [], [page._page_box]
    while stack:
        box = stack.pop()
        if getattr(box, "text", None):
            out.append(box.text)
        stack.extend(reversed(list(getattr(box, "children", []) or [])))
    return " ".join(out)


def test_a_report_pdf_has_contents_page_numbers_and_bookmarks(tmp_path):
    import weasyprint

    from analytics_lib.report.pdf import printable

    src = tmp_path / "report.html"
    src.write_text(_page(400))
    out = report_pdf(src, tmp_path / "report.pdf", title="job x · run r1 · data as of 2026-12-06 23:36 UTC")
    assert out.read_bytes().startswith(b"%PDF")
    # the same page laid out again, to read what each page holds
    doc = weasyprint.HTML(string=printable(src.read_text(), title="job x · run r1")).render()
    pages = [_texts(p) for p in doc.pages]
    assert len(pages) >= 4
    assert "Contents" in pages[0] and "Data as of" in pages[0] and "Report" in pages[0]
    assert all(f"page {i + 1} of {len(pages)}" in t and "job x · run r1" in t for i, t in enumerate(pages))
    spans = [t for t in pages if "team-" in t]  # the pages the long table runs over
    assert len(spans) >= 3 and all("TEAM NAME" in t and "COST USD" in t for t in spans)  # its header on each
    assert "$0.03 to $0.05" in " ".join(pages) and "¶" not in " ".join(pages)
    [(label, _, children, _)] = doc.make_bookmark_tree()  # PDF bookmarks: the headings, the contents excluded
    assert label == "Report" and [c[0] for c in children] == ["Usage", "Cost"]


def test_a_page_that_cannot_be_read_is_a_clear_error(tmp_path):
    with pytest.raises(WorkbenchError, match="the PDF needs the HTML report, and .* cannot be read"):
        report_pdf(tmp_path / "missing.html", tmp_path / "x.pdf")


@pytest.mark.slow
def test_a_failing_pdf_never_blocks_the_html_report(tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parents[1] / "jobs"))
    from jobs_helpers import Place

    from analytics_lib.jobs.runner import run_job
    from analytics_lib.jobs.spec import find_job, load_job_specs
    from analytics_lib.report import pdf as module

    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", outputs=["html", "pdf", "csv"])
    spec = find_job(load_job_specs(place.jobs), "quick")
    [ok] = run_job(spec, store=place.store, reports=place.reports, parallel=1)
    assert ok.ok and (ok.run_dir / "report.pdf").read_bytes().startswith(b"%PDF")

    def broken(*args, **kwargs):
        raise WorkbenchError("the PDF could not be laid out: simulated")

    monkeypatch.setattr(module, "report_pdf", broken)
    [r] = run_job(spec, store=place.store, reports=place.reports, parallel=1)
    assert r.ok and r.report.is_file() and not (r.run_dir / "report.pdf").exists()
    meta = json.loads((r.run_dir / "run.json").read_text())
    assert meta["output_problems"] == {"pdf": "WorkbenchError: the PDF could not be laid out: simulated"}
    assert "output pdf failed (the others are published)" in (r.run_dir / "run.log").read_text()
    assert (place.reports / "quick" / "latest").resolve() == r.run_dir  # published all the same
