"""Shareable dashboard views: every control's value in the page's URL (query string).

A copied link opens the same view, and a reload restores it (Voilà issue #13). The kernel reads
the page's query string (:func:`page_query`: Voilà passes it to a kernel started for the page;
a pre-heated kernel gets it from the page itself, see :class:`ShareLink`) and :class:`ShareLink`
sets the controls from it. After that, every change of a control
rewrites a hidden element of the page (``.wb-url-state``: the query of the current values and
the names the dashboard owns); the workbench Voilà template mirrors it into the address bar
with ``history.replaceState`` (no reload, other parameters such as ``token`` kept).

A value in the link that a control cannot take (a team not in the data, a date outside it, a
horizon past the slider, text that is not a number) is ignored: the control keeps its default
and a note on the page says what was ignored and why; the page never fails because of its URL.
Outside Voilà (JupyterLab, papermill) there is no query string and nothing changes.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
import urllib.parse
from typing import Any, Mapping

import ipywidgets as widgets

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.dashboards.views.common import parse_number


def preheated() -> bool:
    """Whether this kernel was started ahead of its page (Voilà's pre-heated pool): its page's
    query string arrives only when a viewer claims it."""
    return os.environ.get("VOILA_PREHEAT", "False") != "False"


def page_query() -> str:
    """The query string of the page this kernel serves ("" outside Voilà).

    Inside Voilà the server puts the page's query in the kernel's environment
    (``QUERY_STRING``); in a pre-heated kernel this waits for the request that claims it.

    Examples
    --------
    >>> isinstance(page_query(), str)
    True
    """
    if preheated():
        from voila.utils import get_query_string

        return get_query_string() or ""
    return os.environ.get("QUERY_STRING", "") or ""


def _options(w: widgets.Widget) -> list[Any]:
    return [o[1] if isinstance(o, tuple) else o for o in w.options]


def control_text(w: widgets.Widget) -> str:
    """A control's value as it goes into a URL.

    Examples
    --------
    >>> control_text(widgets.DatePicker(value=dt.date(2026, 3, 1))), control_text(widgets.FloatText(value=0.7))
    ('2026-03-01', '0.7')
    """
    return _text(w.value)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return format(v, ".15g")  # 1234567.0 -> "1234567", 0.7 -> "0.7": exact for what people type
    return str(v)


def control_value(w: widgets.Widget, text: str) -> Any:
    """The value a control takes for ``text`` from a URL.

    Raises
    ------
    WorkbenchError
        Saying why the control cannot take it (not an option, out of range, not a date or a number).

    Examples
    --------
    >>> control_value(widgets.IntSlider(min=1, max=60), "28"), control_value(widgets.Dropdown(options=["a"]), "a")
    (28, 'a')
    """
    if isinstance(w, (widgets.Dropdown, widgets.ToggleButtons, widgets.Select, widgets.RadioButtons)):
        for o in _options(w):
            if str(o) == text:
                return o
        raise WorkbenchError(f"not one of {', '.join(str(o) for o in _options(w))}")
    if isinstance(w, widgets.DatePicker):
        try:
            d = dt.date.fromisoformat(text)
        except ValueError:
            raise WorkbenchError("not a date (YYYY-MM-DD)") from None
        return d
    if isinstance(w, (widgets.IntSlider, widgets.IntText, widgets.BoundedIntText)):
        try:
            n = int(text)
        except ValueError:
            raise WorkbenchError("not a whole number") from None
        if hasattr(w, "min") and not w.min <= n <= w.max:
            raise WorkbenchError(f"outside {w.min} to {w.max}")
        return n
    if isinstance(w, (widgets.FloatSlider, widgets.FloatText, widgets.BoundedFloatText)):
        x = parse_number(text, name="value")
        if hasattr(w, "min") and not w.min <= x <= w.max:
            raise WorkbenchError(f"outside {w.min:g} to {w.max:g}")
        return float(x)
    if isinstance(w, widgets.Text):  # the dashboards' text inputs hold numbers (capacity, seats)
        parse_number(text, name="value", allow_empty=True)
        return text
    raise WorkbenchError(f"a {type(w).__name__} is not restored from a link")


class ShareLink(widgets.VBox):
    """Keeps the controls and the page URL in step: restores them from it, writes them back to it.

    Create it after the controls and before the :class:`~analytics_lib.dashboards.widgets.LiveView`,
    display it (it shows a note only when the link held values that were ignored) and
    :meth:`bind` the view to it.

    Two ways the link's values reach the kernel. A kernel started for its page finds the page's
    query string in its environment (:func:`page_query`) and sets the controls at once, so the
    first view already has them. A pre-heated kernel ran the notebook before anyone asked for
    the page (with the defaults: the page is ready at once); the page then hands its query
    string to the hidden input ``.wb-url-in`` (the workbench template does it once the widgets
    are live) and the link's values are set in one refresh of the bound view. Values equal to
    the current ones change nothing, so the second way is harmless after the first.

    Parameters
    ----------
    controls : mapping of str to widget
        URL parameter name to control (a bar's ``controls``).
    query : str, optional
        The query string to restore from now; None (default): :func:`page_query` in a kernel
        started for its page, nothing in a pre-heated one.
    limits : mapping of str to (low, high), optional
        Bounds a restored value must lie in (both included), e.g. the data's first and last
        day for the date pickers (:attr:`FilterBar.limits`).

    Examples
    --------
    >>> team = widgets.Dropdown(options=["all", "team-a"], value="all")
    >>> horizon = widgets.IntSlider(value=28, min=1, max=60)
    >>> link = ShareLink({"team": team, "horizon": horizon}, query="token=x&team=team-a&horizon=400")
    >>> team.value, horizon.value, link.ignored
    ('team-a', 28, {'horizon': 'outside 1 to 60'})
    >>> horizon.value = 14; link.query
    'team=team-a&horizon=14'
    >>> link.incoming.value = "?horizon=20"; horizon.value  # what the page hands over
    20
    """

    def __init__(self, controls: Mapping[str, widgets.Widget], *, query: str | None = None,
                 limits: Mapping[str, tuple[Any, Any]] | None = None) -> None:
        self.controls, self.limits = dict(controls), dict(limits or {})
        self.ignored: dict[str, str] = {}
        self._given: dict[str, str] = {}
        self.view: Any = None
        self.note = widgets.HTML()
        self.incoming = widgets.Text(layout=widgets.Layout(display="none"))
        self.incoming.add_class("wb-url-in")
        super().__init__([self.note, self.incoming])
        self.add_class("wb-share")
        for w in self.controls.values():
            w.observe(self._render, names="value")
        self.incoming.observe(lambda change: self.restore(change["new"]), names="value")
        self.restore(query if query is not None else ("" if preheated() else page_query()))

    def bind(self, view: Any) -> None:
        """Set later link values (see the class) in one refresh of ``view``, a
        :class:`~analytics_lib.dashboards.widgets.LiveView`."""
        self.view = view

    @property
    def query(self) -> str:
        """The query string of the current control values (the dashboard's names only)."""
        return urllib.parse.urlencode({name: control_text(w) for name, w in self.controls.items()})

    def restore(self, query: str) -> None:
        """Set the controls from ``query``; what a control cannot take is ignored and noted."""
        given = dict(urllib.parse.parse_qsl(query.lstrip("?"), keep_blank_values=True))
        self._given = {k: v for k, v in given.items() if k in self.controls}  # not the token, not others'
        self.ignored, values = {}, {}
        for name, text in self._given.items():
            w = self.controls[name]
            try:
                value = control_value(w, text)
                lo, hi = self.limits.get(name, (None, None))
                if (lo is not None and value < lo) or (hi is not None and value > hi):
                    raise WorkbenchError(f"outside {_text(lo)} to {_text(hi)}")
                values[name] = value
            except WorkbenchError as exc:
                self.ignored[name] = str(exc)
        changed = {n: v for n, v in values.items() if self.controls[n].value != v}
        with self.view.hold() if self.view is not None and changed else contextlib.nullcontext():
            for name, value in changed.items():
                self.controls[name].value = value
        self._render()

    def _render(self, change: Mapping[str, Any] | None = None) -> None:
        note = ""
        if self.ignored:
            items = "; ".join(f"{html.escape(name)}={html.escape(repr(self._given[name][:60]))}: {html.escape(why)}"
                              for name, why in self.ignored.items())
            note = (f'<div class="wb-message wb-message-info wb-share-note" role="status">Ignored from the link: '
                    f"{items}. The default is shown instead.</div>")
        self.note.value = (note + f'<span class="wb-url-state" hidden data-keys="{html.escape(",".join(self.controls))}" '
                           f'data-query="{html.escape(self.query)}"></span>')
