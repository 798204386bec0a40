"""A report's PDF, made from its self-contained HTML with WeasyPrint (no browser at publish time).

The page is the stakeholders' report (code hidden, the run's header first); print rules add a
table of contents with page numbers, a running footer (the report's title, page n of N), tables
whose header row repeats on every page and rows that never split, figures that never split
and fit the page width. WeasyPrint also writes the headings as PDF bookmarks.
"""
from __future__ import annotations

import html
import os
import re
from pathlib import Path

from analytics_lib.core.errors import WorkbenchError


PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
        @bottom-left { content: string(report-title); font: 8pt sans-serif; color: #666; }
        @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8pt sans-serif; color: #666; } }
html { font-size: 9.5pt; }
body { margin: 0; padding: 0; }
main { padding: 0 !important; }
.wb-title { string-set: report-title content(); font: 600 15pt sans-serif; margin: 0 0 4mm 0; }
.anchor-link { display: none !important; }
.jp-Cell, .jp-OutputArea-output, .jp-RenderedHTMLCommon { padding: 0 !important; margin: 0 !important; }
.jp-Cell { margin-bottom: 2mm !important; }
h1, h2, h3 { break-after: avoid; page-break-after: avoid; bookmark-level: none; }
h1 { bookmark-level: 1; } h2 { bookmark-level: 2; }
img, svg, .jp-RenderedImage { max-width: 100% !important; height: auto; break-inside: avoid; }
table { break-inside: auto; font-size: 8pt; }
thead { display: table-header-group; }
tr, td, th { break-inside: avoid; page-break-inside: avoid; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 7.5pt; }
nav.wb-toc { break-after: page; }
nav.wb-toc h2 { bookmark-level: none; }
nav.wb-toc ol { list-style: none; padding-left: 0; }
nav.wb-toc li { margin: 1mm 0; }
nav.wb-toc li.wb-sub { padding-left: 6mm; font-size: 0.95em; }
nav.wb-toc a { color: inherit; text-decoration: none; }
nav.wb-toc a::after { content: leader('.') target-counter(attr(href), page); }
"""

_HEADING = re.compile(r"<h([12])\b([^>]*)>(.*?)</h\1>", re.S | re.I)
_ID = re.compile(r"""\bid=(["'])(.*?)\1""")
_TAG = re.compile(r"<[^>]+>")


def _toc(page: str) -> tuple[str, str]:
    """(the page with an id on every h1/h2, the contents as HTML)."""
    entries: list[tuple[int, str, str]] = []
    used: set[str] = set()

    def visit(m: re.Match) -> str:
        level, attrs, inner = int(m.group(1)), m.group(2), m.group(3)
        text = html.unescape(_TAG.sub("", inner)).replace("¶", "").strip()
        if not text:
            return m.group(0)
        found = _ID.search(attrs)
        ident = found.group(2) if found else None
        if not ident or ident in used:
            ident = f"wb-section-{len(entries) + 1}"
            attrs = _ID.sub("", attrs) + f' id="{ident}"'
        used.add(ident)
        entries.append((level, ident, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    page = _HEADING.sub(visit, page)
    items = "".join(f'<li class="{"wb-sub" if level == 2 else "wb-top"}"><a href="#{html.escape(i, quote=True)}">'
                    f"{html.escape(t)}</a></li>" for level, i, t in entries)
    return page, f'<nav class="wb-toc"><h2>Contents</h2><ol>{items}</ol></nav>' if entries else ""


def printable(page: str, *, title: str | None = None) -> str:
    """The report page ready for print: the print rules, a title block, the contents before the
    first heading (after the run's facts).

    Examples
    --------
    >>> p = printable("<html><head></head><body><main><h1 id='a'>A</h1><h2>B</h2></main></body></html>", title="T")
    >>> 'class="wb-title">T<' in p, p.index("Contents") < p.index("<h1 id='a'>"), 'href="#wb-section-2"' in p
    (True, True, True)
    """
    if title is None:
        m = re.search(r"<title>(.*?)</title>", page, re.S)
        title = html.unescape(m.group(1)).strip() if m else "report"
    page, contents = _toc(page)
    page = page.replace("</head>", f"<style>{PRINT_CSS}</style></head>", 1)
    # the title first, then the run's facts (the report's first cell), then the contents, then the report
    title_block = f'<div class="wb-title">{html.escape(title)}</div>'
    page = re.sub(r"(<main[^>]*>|<body[^>]*>)", lambda m: m.group(1) + title_block, page, count=1)
    first = _HEADING.search(page)
    if contents and first is not None:
        page = page[:first.start()] + contents + page[first.start():]
    return page


def report_pdf(report_html: str | os.PathLike, target: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write ``target`` (a PDF) from a report's self-contained HTML page.

    Parameters
    ----------
    report_html : path
        A ``report.html`` published by a job (its images are inline data).
    target : path
        The PDF to write (replaced in one step).
    title : str, optional
        The running footer's title; default the page's ``<title>``.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    WorkbenchError
        When WeasyPrint or the system libraries it needs (Pango) are missing, or the page
        cannot be laid out.

    Examples
    --------
    >>> report_pdf("reports/daily-workflow/latest/report.html", "/tmp/report.pdf")  # doctest: +SKIP
    PosixPath('/tmp/report.pdf')
    """
    from analytics_lib.core.files import atomic_write

    source = Path(report_html)
    try:
        page = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkbenchError(f"the PDF needs the HTML report, and {source} cannot be read: {exc.strerror}") from None
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        raise WorkbenchError(f"WeasyPrint cannot run here ({exc}); install the project's packages (make install) "
                             "and Pango (Debian: libpango-1.0-0 libpangoft2-1.0-0)") from None
    page = printable(page, title=title)
    try:
        data = weasyprint.HTML(string=page, base_url=str(source.parent)).write_pdf()
    except Exception as exc:  # noqa: BLE001 - a layout failure is the PDF's, said in one line
        raise WorkbenchError(f"the PDF could not be laid out: {type(exc).__name__}: {exc}") from None
    atomic_write(target, data)
    return Path(target)
