"""Report outputs: the workflow report's PDF (WeasyPrint) against its HTML, from the same executed notebook.

    python benchmarks/bench_reports.py [--db data/workbench.db] [--repeat 3] [--json]

The daily-workflow job runs once on the sample store (1M events; a temporary reports folder and
ledger, not timed) to get an executed notebook. Then, alternated ``--repeat`` times, fastest of each:

* **html** (the reference): the notebook to the stakeholders' ``report.html`` (nbconvert, code
  hidden, the run's header, the self-contained template);
* **pdf**: that page to ``report.pdf`` (print rules, contents with page numbers, bookmarks).

Targets (issue 20): the PDF in under 10 s and under 5 MB.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, Report, parser


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--db", default=str(ROOT / "data" / "workbench.db"))
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_reports_"))
    try:
        store = tmp / "store.db"
        shutil.copyfile(args.db, store)
        run = subprocess.run([str(Path(sys.executable).parent / "workbench"), "jobs", "--store", f"sqlite:///{store}",
                              "--reports", str(tmp / "reports"), "run", "daily-workflow"],
                             capture_output=True, text=True, cwd=ROOT, timeout=1800)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        run_dir = (tmp / "reports" / "daily-workflow" / "latest").resolve()
        import weasyprint

        from analytics_lib.jobs.child import _export_html
        from analytics_lib.report.pdf import printable, report_pdf

        header = [["Job", "daily-workflow"], ["Run", run_dir.name]]
        html_s, pdf_s = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            _export_html(run_dir / "notebook.ipynb", tmp / "report.html", header, 0.0)
            html_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            report_pdf(tmp / "report.html", tmp / "report.pdf", title=f"daily-workflow · run {run_dir.name}")
            pdf_s.append(time.perf_counter() - t0)
        pages = len(weasyprint.HTML(string=printable((tmp / "report.html").read_text())).render().pages)
        size = (tmp / "report.pdf").stat().st_size
        r = Report("Report outputs: the workflow report as PDF vs HTML (1M-event sample)")
        r.add("seconds, fastest", min(pdf_s), min(html_s), min(pdf_s) / min(html_s), "PDF < 10 s")
        r.add("PDF bytes", size, None, None, "< 5 MB")
        r.add("PDF pages", pages, None, None, "")
        r.add("published by the job (report.pdf bytes)", (run_dir / "report.pdf").stat().st_size, None, None, "")
        r.figures.update({"pdf_seconds": round(min(pdf_s), 2), "pdf_bytes": size, "pdf_pages": pages,
                          "html_seconds": round(min(html_s), 2)})
        r.emit(args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
