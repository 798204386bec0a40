"""MARKUP_DOC
"""
from __future__ import annotations

import html
import re


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|$~])")
#: Tags a report may show (headings, text, lists, tables, figures, images, details).
REPORT_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div", "dl",
    "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
}
_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir", "align"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "time": {"datetime"},
}


def md_escape(value: object) -> str:
    """A data value as literal Markdown text: no HTML, no emphasis, no link, no math.

    Examples
    --------
    >>> md_escape("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> md_escape("team_a *core* [beta] costs $5 | $7")
    'team\\\\_a \\\\*core\\\\* \\\\[beta\\\\] costs \\\\$5 \\\\| \\\\$7'
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(value), quote=False))


_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_BARE_DOLLAR = re.compile(r"(?<!\\)\$")


def literal_dollars(markdown: str) -> str:
    r"""Markdown whose ``$`` signs are dollar signs, never math: each one outside code is escaped.

    Reports print money (``$0.0322``); two amounts in one paragraph must not become one math
    span without spaces or emphasis. Code spans and fenced blocks are left as they are, and so
    is a ``$`` already escaped.

    Examples
    --------
    >>> literal_dollars("from $0.0322 to *$0.0319*, see `cost_$`")
    'from \\$0.0322 to *\\$0.0319*, see `cost_$`'
    """
    parts = _CODE.split(markdown)
    return "".join(p if i % 2 else _BARE_DOLLAR.sub(r"\\$", p) for i, p in enumerate(parts))


_TABLE = re.compile(r"<table\b[^>]*class=\"[^\"]*dataframe[^\"]*\"[^>]*>.*?</table>", re.S)
_ROW_HEAD = re.compile(r"(<tr[^>]*>\s*)<th>(\d+)</th>")


def drop_range_index(html_text: str) -> str:
    """A pandas table whose row labels are just 0, 1, 2... shown without that column (it means
    nothing to a reader); any other index (dates, names, a MultiIndex) is kept.

    Examples
    --------
    >>> import pandas as pd
    >>> t = drop_range_index(pd.DataFrame({"a": ["x", "y"]}).to_html())
    >>> "<th>0</th>" in t, "<th>a</th>" in t, "<td>x</td>" in t
    (False, True, True)
    >>> "<th>2025-01-01</th>" in drop_range_index(pd.DataFrame({"a": [1]}, index=["2025-01-01"]).to_html())
    True
    """
    def fix(m: re.Match) -> str:
        table = m.group(0)
        head, sep, body = table.partition("<tbody>")
        if not sep or head.count("<tr") != 1:
            return table  # no body, or a header of several rows (a MultiIndex): as it is
        labels = [int(x) for x in re.findall(r"<tr[^>]*>\s*<th>(\d+)</th>", body)]
        if not labels or labels != list(range(len(labels))) or len(labels) != body.count("<tr"):
            return table
        head = re.sub(r"(<tr[^>]*>\s*)<th></th>", r"\1", head, count=1)
        return head + sep + _ROW_HEAD.sub(r"\1", body)

    return _TABLE.sub(fix, html_text)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if value.startswith("data:image/") and not value.startswith("data:image/svg") else None
    if tag == "a" and attribute == "href":
        scheme = value.split(":", 1)[0].lower() if ":" in value.split("/", 1)[0] else ""
        return value if scheme in ("", "http", "https", "mailto") else None
    return value


def sanitize_html(fragment: str) -> str:
    """An HTML fragment with only what a report may show (see :data:`REPORT_TAGS`).

    Scripts and style sheets are removed with their content; event handlers, ``style``
    attributes, forms, frames and ``javascript:`` links go; images stay only as inline raster
    data (``data:image/png;base64,...``).

    Examples
    --------
    >>> sanitize_html('<p onclick="x()">ok <img src=x onerror=alert(1)><script>alert(2)</script></p>')
    '<p>ok <img></p>'
    >>> sanitize_html('<table class="dataframe"><tr><th>team</th><td>a</td></tr></table>')
    '<table class="dataframe"><tbody><tr><th>team</th><td>a</td></tr></tbody></table>'
    """
    import nh3

    return nh3.clean(fragment, tags=REPORT_TAGS, clean_content_tags={"script", "style"}, attributes=_ATTRIBUTES,
                     attribute_filter=_attribute_filter, url_schemes={"http", "https", "mailto", "data"},
                     link_rel="noopener noreferrer", strip_comments=True)
