"""The ipywidgets components of the dashboards, wired to the views by ``LiveView``.
"""
from __future__ import annotations

import base64
import contextlib
import html
import io as _stdio
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.timewindow import SERIES_FREQ, check_granularity, season_length
from analytics_lib.dashboards.marts import ALL_TEAMS, ROI_MONTHS, OverviewMart, log
from analytics_lib.dashboards.views.common import _mart, dashboard_window
from analytics_lib.dashboards.views.delivery import DELIVERY_METRICS
from analytics_lib.dashboards.views.forecast import FORECAST_METRICS, FORECAST_MODELS
from analytics_lib.dashboards.views.overview import mart_kpis
from analytics_lib.dashboards.views.roi import ROI_CONTROLS, scenario_values
from analytics_lib.report.plots.colors import subplots

if TYPE_CHECKING:
    from analytics_lib.dashboards.published import DashboardData


# ============================================================================================
# 3. Components (ipywidgets)
#: The dashboards' style sheet (shown once per page by :class:`DashboardHeader`).
STYLE = """
<style>
.wb-header h1 {font-size: 1.6em; margin: 0.2em 0;} .wb-header p {color: #555; margin: 0.2em 0;}
.wb-tiles {display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0;}
.wb-tile {border: 1px solid #ddd; border-radius: 8px; padding: 8px 12px; min-width: 150px; background: #fafafa;}
.wb-tile-label {font-size: 0.85em; color: #555;} .wb-tile-value {font-size: 1.6em; font-weight: 600;}
.wb-tile-change {font-size: 0.8em; color: #595959;} .wb-good .wb-tile-change {color: #005a8c;}
.wb-bad .wb-tile-change {color: #a33a00;} .wb-tone {font-weight: 600;}
.wb-message-error {background: #fdecea; border-left: 4px solid #c62828; padding: 8px 12px; margin: 6px 0;}
.wb-message-info {background: #e8f0fe; border-left: 4px solid #1a73e8; padding: 8px 12px; margin: 6px 0;}
.wb-table table {border-collapse: collapse; font-size: 0.9em;} .wb-table th, .wb-table td {padding: 3px 8px;
 border-bottom: 1px solid #eee; text-align: right;}
.wb-table td:first-child, .wb-table th:first-child {text-align: left;}
.wb-panel-title {font-weight: 600; margin-top: 10px;} .wb-status {color: #595959; font-size: 0.8em;}
</style>
"""


class DashboardHeader(widgets.HTML):
    """The style sheet of the dashboards, an optional title and one line of context (where
    the data comes from).

    Examples
    --------
    >>> "Overview" in DashboardHeader("Overview", "what it shows").value
    True
    """

    def __init__(self, title: str = "", subtitle: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("wb-header")
        self._title, self.subtitle = title, subtitle
        self._render()

    def note(self, text: str) -> None:
        """Set the line of context (e.g. where the data comes from)."""
        self.subtitle = text
        self._render()

    def _render(self) -> None:
        title = f"<h1>{html.escape(self._title)}</h1>" if self._title else ""
        self.value = (STYLE + f'<div class="wb-header">{title}'
                      f'<p class="wb-origin">{html.escape(redact(self.subtitle))}</p></div>')


class MessageArea(widgets.HTML):
    """Readable messages instead of tracebacks: errors, notices, nothing.

    Examples
    --------
    >>> m = MessageArea()
    >>> m.error("start is after end"); "wb-message-error" in m.value
    True
    >>> m.clear(); m.value
    ''
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("wb-messages")

    def _show(self, kind: str, text: str) -> None:
        role = ' role="alert"' if kind == "error" else ""
        self.value = f'<div class="wb-message wb-message-{kind}"{role}>{html.escape(redact(text))}</div>'

    def error(self, text: str) -> None:
        """Show an error (red)."""
        self._show("error", text)

    def info(self, text: str) -> None:
        """Show a notice (blue)."""
        self._show("info", text)

    def clear(self) -> None:
        """Show nothing."""
        self.value = ""

    def explain(self, exc: BaseException) -> str:
        """Show an exception as one readable sentence and return it.

        A :class:`WorkbenchError` is shown as it is (it says what to fix); anything else as
        "Something went wrong" with its type and first line, and the traceback goes to the
        log, never to the page.
        """
        if isinstance(exc, WorkbenchError):
            text = str(exc)
        else:
            log.exception("dashboard error", exc_info=exc)
            first = (str(exc).strip().splitlines() or [""])[0]
            text = f"Something went wrong ({type(exc).__name__}{': ' + first if first else ''}). " \
                   "Try other values; if it persists, tell the workbench team."
        self.error(text)
        return text

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; on an error show it (see :meth:`explain`) and return None.

        Parameters
        ----------
        fn : callable
            The function to call.
        *args, **kwargs
            Its arguments.

        Examples
        --------
        >>> m = MessageArea()
        >>> m.attempt(int, "12"), m.attempt(dashboard_window, None, "2026-01-01"), "start date" in m.value
        (12, None, True)
        """
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the viewer as a sentence, logged with its traceback
            self.explain(exc)
            return None


class ProgressPanel(widgets.HBox):
    """Progress of long computations and the status of the last update.

    Call it as ``progress(step, total, label)`` (the signature the loaders take); the status
    line carries ``data-refresh``, the number of updates so far (browser tests wait on it).

    Examples
    --------
    >>> p = ProgressPanel()
    >>> p(1, 4, "funnel"); p.bar.value, p.bar.max, p.bar.layout.visibility
    (1, 4, 'visible')
    >>> p.finished(0.123, ok=True); 'data-refresh="1"' in p.status.value
    True
    """

    def __init__(self, **kwargs: Any) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="240px", visibility="hidden"))
        self.status = widgets.HTML()
        super().__init__([self.bar, self.status], **kwargs)
        self.add_class("wb-progress")
        self.refreshes = 0
        self._set_status("", "idle")

    def _set_status(self, text: str, state: str) -> None:
        self.status.value = (f'<span class="wb-status" data-refresh="{self.refreshes}" data-state="{state}">'
                             f"{html.escape(text)}</span>")

    def __call__(self, step: int, total: int, label: str) -> None:
        self.bar.max = max(int(total), 1)
        self.bar.value = min(max(int(step), 0), self.bar.max)
        self.bar.layout.visibility = "visible"
        self._set_status(f"{label}…", "busy")

    def busy(self, label: str = "updating") -> None:
        """Show an indeterminate 'working' state."""
        self.bar.max, self.bar.value = 1, 1
        self.bar.bar_style = "info"
        self.bar.layout.visibility = "visible"
        self._set_status(f"{label}…", "busy")

    def finished(self, seconds: float, *, ok: bool) -> None:
        """Hide the bar and count one update (ok or failed)."""
        self.refreshes += 1
        self.bar.layout.visibility = "hidden"
        self._set_status(f"updated in {seconds:.2f} s" if ok else "not updated: see the message above",
                         "ok" if ok else "error")


#: Said in words as well as in colour (colour-blind readers, print): whether a change is good news.
_TONE_WORD = {"good": ' <span class="wb-tone">(better)</span>', "bad": ' <span class="wb-tone">(worse)</span>'}


def tile_html(tiles: pd.DataFrame) -> str:
    """The HTML of a row of tiles (``kpi, label, text, change_text, tone`` per row).

    Each tile is ``<div class="wb-tile wb-<tone>" data-kpi="<kpi>">`` with its label, value
    (``.wb-tile-value``) and change line, so tests and stylesheets can find them. A good or bad
    change is said in words too ("(better)", "(worse)"), not only in colour (blue and vermillion,
    which colour-blind readers tell apart).

    Examples
    --------
    >>> tile_html(pd.DataFrame([{"kpi": "npv", "label": "NPV", "text": "$1,000", "change_text": "", "tone": "good"}]))
    '<div class="wb-tiles"><div class="wb-tile wb-good" data-kpi="npv"><div class="wb-tile-label">NPV</div><div class="wb-tile-value">$1,000</div><div class="wb-tile-change"> <span class="wb-tone">(better)</span></div></div></div>'
    """
    cells = [f'<div class="wb-tile wb-{html.escape(str(r.tone))}" data-kpi="{html.escape(str(r.kpi))}">'
             f'<div class="wb-tile-label">{html.escape(str(r.label))}</div>'
             f'<div class="wb-tile-value">{html.escape(str(r.text))}</div>'
             f'<div class="wb-tile-change">{html.escape(str(r.change_text))}{_TONE_WORD.get(str(r.tone), "")}</div></div>'
             for r in tiles.itertuples(index=False)]  # a handful of tiles
    return '<div class="wb-tiles">' + "".join(cells) + "</div>"


class KpiTiles(widgets.HTML):
    """KPI tiles; :meth:`show` takes a tiles frame (:func:`kpi_tiles`, a view's ``tiles``).

    Examples
    --------
    >>> from analytics_lib.dashboards.views import kpi_tiles
    >>> t = KpiTiles()
    >>> t.show(kpi_tiles(pd.Series({"sessions": 12}), kpis=["sessions"])); 'data-kpi="sessions"' in t.value
    True
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("wb-kpi-tiles")

    def show(self, tiles: pd.DataFrame) -> None:
        """Replace the tiles."""
        self.value = tile_html(tiles)


def figure_png(fig, *, dpi: int = 72) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (no figures pile up in a kernel).

    The plots lay themselves out (constrained or tight layout), so the figure is drawn once,
    without ``bbox_inches="tight"`` (which draws it twice).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> figure_png(plt.figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    import matplotlib.pyplot as plt

    buf = _stdio.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


#: Fixed layouts (figure size, axes grid, margins) for the plots the dashboards draw: a fixed
#: layout draws in about half the time of the plots' own constrained layout.
CHART_LAYOUTS: dict[str, dict[str, Any]] = {
    "plot_kpi_trends": {"figsize": (11.0, 7.0), "grid": (3, 2),
                        "margins": {"left": 0.07, "right": 0.98, "top": 0.96, "bottom": 0.07, "hspace": 0.45,
                                    "wspace": 0.2}},
    "plot_funnel": {"figsize": (10.0, 4.2), "margins": {"left": 0.22, "right": 0.97, "top": 0.9, "bottom": 0.14}},
    "plot_forecast": {"figsize": (10.0, 3.8), "margins": {"left": 0.08, "right": 0.98, "top": 0.9, "bottom": 0.14}},
    "plot_backtest_scores": {"figsize": (8.0, 3.0),
                             "margins": {"left": 0.22, "right": 0.97, "top": 0.88, "bottom": 0.18}},
    "plot_tornado": {"figsize": (10.0, 5.0), "margins": {"left": 0.42, "right": 0.97, "top": 0.9, "bottom": 0.12}},
    "plot_roi_distribution": {"figsize": (10.0, 4.0),  # room on the right for the legend
                              "margins": {"left": 0.08, "right": 0.76, "top": 0.88, "bottom": 0.14}},
}


class ChartPanel(widgets.VBox):
    """A title and an Output that redraws a matplotlib figure: ``plot(value, **options)``.

    Parameters
    ----------
    plot : callable
        A function of :mod:`analytics_lib.report.plots` (``plot_kpi_trends``...) or any callable
        returning a Figure.
    title : str
    keywords : bool
        The shown value is a mapping of keyword arguments: ``plot(**value, **options)`` (for
        plots of several frames, e.g. :attr:`ForecastView.chart`).
    dpi : int
        Resolution of the PNG.
    figsize : (float, float), optional
        Draw into a figure of this size with a fixed layout: ``grid`` axes (rows, columns;
        default one) placed by ``margins`` (``subplots_adjust`` arguments), passed to ``plot``
        as ``ax``. Default: the plot's entry in :data:`CHART_LAYOUTS`, else the plot makes its
        own figure (constrained layout, about twice the drawing time).
    grid : (int, int), optional
    margins : dict, optional
    **options
        Passed to ``plot``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> c = ChartPanel(lambda v: plt.figure(figsize=(1, 1)), title="t")
    >>> c.show(None); c.output.outputs[0]["data"]["image/png"][:8]
    'iVBORw0K'
    """

    def __init__(self, plot: Callable[..., Any], *, title: str = "", keywords: bool = False, dpi: int = 72,
                 figsize: tuple[float, float] | None = None, grid: tuple[int, int] = (1, 1),
                 margins: Mapping[str, float] | None = None, **options: Any) -> None:
        self.plot, self.options, self.dpi, self.keywords = plot, options, dpi, keywords
        preset = CHART_LAYOUTS.get(getattr(plot, "__name__", ""), {}) if figsize is None else {}
        self.figsize = figsize if figsize is not None else preset.get("figsize")
        self.grid = tuple(preset.get("grid", grid))
        self.margins = dict(margins if margins is not None else preset.get("margins", {}))
        self.heading = widgets.HTML(f'<div class="wb-panel-title">{html.escape(title)}</div>' if title else "")
        self.output = widgets.Output()
        super().__init__([self.heading, self.output])
        self.add_class("wb-chart")

    def show(self, value: Any) -> None:
        """Draw ``plot(value, **options)`` in place of the previous figure."""
        import matplotlib.pyplot as plt

        options = dict(self.options)
        if self.figsize is not None:
            fig, axes = subplots(*self.grid, figsize=self.figsize, sharex=self.grid != (1, 1), squeeze=False)
            fig.subplots_adjust(**self.margins)
            options["ax"] = axes[0, 0] if self.grid == (1, 1) else axes.ravel()
        try:
            fig = self.plot(**value, **options) if self.keywords else self.plot(value, **options)
        except BaseException:
            if self.figsize is not None:
                plt.close(fig)
            raise
        png = figure_png(fig, dpi=self.dpi)
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                         "text/plain": "<figure>"}},)


def table_html(frame: pd.DataFrame, *, formats: Mapping[str, str] | None = None, empty: str = "nothing to show",
               rename: Mapping[str, str] | None = None) -> str:
    """A frame as a small HTML table with formatted numbers (``formats``: column to format string).

    Parameters
    ----------
    frame : DataFrame
        The rows to show (a few dozen); the index is not shown. Time-zone aware timestamps are
        shown as dates; missing values as an en dash.
    formats : mapping of str to str, optional
        ``{column: format string}`` such as ``{"p95_ms": "{:,.0f}"}``; columns not in ``frame``
        are ignored; money (``"${:,.0f}"``) prints its sign first (``-$1,500``). Default: values
        as ``str`` gives them.
    empty : str
        The text shown instead of an empty table (default ``"nothing to show"``).
    rename : mapping of str to str, optional
        ``{column: heading}``, applied after formatting; default: the column names.

    Examples
    --------
    >>> table_html(pd.DataFrame({"p95_ms": [1234.5]}), formats={"p95_ms": "{:,.0f}"})
    '<div class="wb-table"><table><thead><tr><th>p95_ms</th></tr></thead><tbody><tr><td>1,234</td></tr></tbody></table></div>'
    >>> "<td>-$1,500</td>" in table_html(pd.DataFrame({"npv": [-1500.0]}), formats={"npv": "${:,.0f}"})
    True
    """
    if frame.empty:
        return f'<div class="wb-table wb-empty">{html.escape(empty)}</div>'
    shown = frame.copy()
    for c, fmt in (formats or {}).items():
        if c in shown:
            shown[c] = [("–" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT
                         else fmt.format(v).replace("$-", "-$"))  # money prints sign first: -$1,320
                        for v in shown[c]]
    for c in shown.columns:
        if isinstance(shown[c].dtype, pd.DatetimeTZDtype):
            shown[c] = shown[c].dt.strftime("%Y-%m-%d")
    shown = shown.rename(columns=dict(rename or {}))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('–' if _missing(v) else str(v))}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))  # display only: a few dozen rows
    return f'<div class="wb-table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


class TablePanel(widgets.VBox):
    """A title and a small formatted table (:func:`table_html`).

    Examples
    --------
    >>> t = TablePanel(title="Top", columns=["a"])
    >>> t.show(pd.DataFrame({"a": [1], "b": [2]})); "<th>b</th>" in t.table.value
    False
    """

    def __init__(self, *, title: str = "", columns: Sequence[str] | None = None,
                 formats: Mapping[str, str] | None = None, rename: Mapping[str, str] | None = None,
                 empty: str = "nothing to show", top: int | None = None) -> None:
        self.columns, self.formats, self.rename, self.empty, self.top = columns, formats, rename, empty, top
        self.heading = widgets.HTML(f'<div class="wb-panel-title">{html.escape(title)}</div>' if title else "")
        self.table = widgets.HTML()
        super().__init__([self.heading, self.table])
        self.add_class("wb-table-panel")

    def show(self, frame: pd.DataFrame) -> None:
        """Replace the table."""
        shown = frame if self.columns is None else frame[[c for c in self.columns if c in frame.columns]]
        shown = shown if self.top is None else shown.head(self.top)
        self.table.value = table_html(shown, formats=self.formats, empty=self.empty, rename=self.rename)


class TextPanel(widgets.HTML):
    """One paragraph of text (escaped): :meth:`show` takes a string.

    Examples
    --------
    >>> p = TextPanel(); p.show("a < b"); p.value
    '<p class="wb-text">a &lt; b</p>'
    """

    def show(self, text: str) -> None:
        """Replace the text."""
        self.value = f'<p class="wb-text">{html.escape(redact(str(text)))}</p>'


class LiveView:
    """Recompute a view on every control change and show its parts; errors become messages.

    ``compute(data, **fixed, **{name: control.value})`` is called once at creation and after
    each change of a control's value; then ``outputs[name].show(getattr(view, name))`` for
    each output. While a computation runs, ``progress`` shows it; a :class:`WorkbenchError`
    (or any other error) leaves the outputs as they were and shows a readable message.

    Parameters
    ----------
    compute : callable
        A view function (:func:`overview_view`, :func:`forecast_view`, :func:`roi_view`).
    data : object
        Its first argument (a :class:`DashboardData`); None (loading failed, the message is
        already shown) makes the view inert.
    controls : mapping of str to widget
        Keyword name to the widget whose ``value`` it takes.
    outputs : mapping of str to component or list of components
        Attribute of the view to the component(s) showing it (anything with ``show``).
    messages : MessageArea
    progress : ProgressPanel, optional
    fixed : mapping, optional
        Keyword arguments passed on every call (parameters that are not controls, a memo).

    Examples
    --------
    >>> box, out, msg = widgets.IntText(value=2), TextPanel(), MessageArea()
    >>> v = LiveView(lambda data, n: type("V", (), {"text": str(data * n)})(), 21, controls={"n": box},
    ...              outputs={"text": out}, messages=msg)
    >>> out.value
    '<p class="wb-text">42</p>'
    >>> box.value = 3; out.value
    '<p class="wb-text">63</p>'
    """

    def __init__(self, compute: Callable[..., Any], data: Any, *, controls: Mapping[str, widgets.Widget],
                 outputs: Mapping[str, Any], messages: MessageArea, progress: ProgressPanel | None = None,
                 fixed: Mapping[str, Any] | None = None, run: bool = True) -> None:
        self.compute, self.data = compute, data
        self.controls, self.outputs = dict(controls), dict(outputs)
        self.messages, self.progress, self.fixed = messages, progress, dict(fixed or {})
        self.view: Any = None
        self.seconds: float | None = None
        self._held = 0
        for w in self.controls.values():
            w.observe(self._changed, names="value")
        if data is None:
            for w in self.controls.values():
                w.disabled = True
        elif run:
            self.refresh()

    def values(self) -> dict[str, Any]:
        """The current control values by keyword."""
        return {name: w.value for name, w in self.controls.items()}

    def _changed(self, change: Mapping[str, Any]) -> None:
        if not self._held:
            self.refresh()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Change several controls at once: one refresh when the block ends."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held:
            self.refresh()

    def refresh(self) -> Any:
        """Recompute and show; returns the view (None when it failed or there is no data)."""
        if self.data is None:
            return None
        t0 = time.perf_counter()
        if self.progress is not None:
            self.progress.busy()
        try:
            with warnings.catch_warnings(record=True) as caught:  # to the log, not to the page
                warnings.simplefilter("always")
                view = self.compute(self.data, **self.fixed, **self.values())
                for name, out in self.outputs.items():
                    for component in (out if isinstance(out, (list, tuple)) else [out]):
                        component.show(getattr(view, name))
            for w in caught:
                log.info("dashboard warning: %s", w.message)
        except Exception as exc:  # noqa: BLE001 - shown as a sentence (see MessageArea.explain)
            self.messages.explain(exc)
            if self.progress is not None:
                self.progress.finished(time.perf_counter() - t0, ok=False)
            return None
        self.messages.clear()
        self.view, self.seconds = view, time.perf_counter() - t0
        if self.progress is not None:
            self.progress.finished(self.seconds, ok=True)
        return view


def _date(ts: Any):
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).date()


class FilterBar(widgets.HBox):
    """Date range, team and granularity controls of the workflow overview.

    ``controls`` maps the keywords of :func:`overview_view` (``start, end, team,
    granularity``) to the widgets. Relative dates (``"-28d"``) resolve against today and are
    clipped to the data's days.

    Examples
    --------
    >>> bar = FilterBar(teams=["team-a"], first_day="2026-01-01", last_day="2026-03-31", start="2026-03-01",
    ...                 end="2026-03-31", team=None, granularity="W")
    >>> sorted(bar.controls), str(bar.controls["start"].value), bar.controls["team"].value
    (['end', 'granularity', 'start', 'team'], '2026-03-01', 'all')
    """

    def __init__(self, *, teams: Sequence[str], first_day: Any, last_day: Any, start: Any = "-28d",
                 end: Any = "today", team: Any = None, granularity: str = "D") -> None:
        lo, hi = _date(first_day), _date(last_day)
        try:
            w = dashboard_window(start, end)
            s, e = w.start.date(), (w.end - pd.Timedelta(days=1)).date()
        except WorkbenchError:
            s, e = None, None
        if lo is not None and hi is not None:  # clip to the data's days
            s = lo if s is None or not lo <= s <= hi else s
            e = hi if e is None or not lo <= e <= hi else e
            if s > e:
                s = lo
        options = [("All teams", ALL_TEAMS)] + [(t, t) for t in teams]
        team_value = team[0] if isinstance(team, (list, tuple)) and len(team) == 1 else team
        self.days = (lo, hi)
        self.start = widgets.DatePicker(description="From", value=s)
        self.end = widgets.DatePicker(description="To", value=e)
        self.team = widgets.Dropdown(description="Team", options=options,
                                     value=team_value if team_value in teams else ALL_TEAMS)
        self.granularity = widgets.ToggleButtons(options=[("Day", "D"), ("Week", "W"), ("Month", "M")],
                                                 value=check_granularity(granularity),
                                                 style={"button_width": "70px"})
        for name in ("start", "end", "team", "granularity"):
            getattr(self, name).add_class(f"wb-{name}")
        super().__init__([self.start, self.end, self.team, self.granularity],
                         layout=widgets.Layout(flex_flow="row wrap"))
        self.add_class("wb-filter-bar")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`overview_view` to widget."""
        return {"start": self.start, "end": self.end, "team": self.team, "granularity": self.granularity}

    @property
    def limits(self) -> dict[str, tuple[Any, Any]]:
        """The data's first and last day, the bounds of both dates (for :class:`ShareLink`)."""
        return {"start": self.days, "end": self.days}

    @classmethod
    def for_data(cls, data: DashboardData | None, **values: Any) -> "FilterBar":
        """A bar over the mart's teams and days (empty and disabled when ``data`` is None)."""
        if data is None:
            return cls(teams=[], first_day=None, last_day=None, **values)
        mart = _mart(data, OverviewMart)
        return cls(teams=mart.teams, first_day=mart.first_day, last_day=mart.last_day, **values)


class ForecastBar(widgets.HBox):
    """Metric, team, horizon, model and capacity controls of the forecast explorer.

    Examples
    --------
    >>> bar = ForecastBar(teams=["team-a"], metric="events", team=None, horizon=28, models=None, capacity=None)
    >>> sorted(bar.controls)
    ['capacity', 'horizon', 'metric', 'model', 'team']
    """

    def __init__(self, *, teams: Sequence[str], metric: str = "events", team: Any = None, horizon: int = 28,
                 models: Any = None, capacity: Any = None, max_horizon: int = 120) -> None:
        if metric not in FORECAST_METRICS:
            raise WorkbenchError(f"metric={metric!r} is not offered by the forecast explorer: use one of "
                                 f"{', '.join(FORECAST_METRICS)}")
        model = "auto" if models is None else (models if isinstance(models, str) else
                                               (models[0] if len(models) == 1 else "auto"))
        if model not in FORECAST_MODELS:
            raise WorkbenchError(f"models={models!r}: the explorer offers {', '.join(FORECAST_MODELS)} (None: auto)")
        team_value = team[0] if isinstance(team, (list, tuple)) and len(team) == 1 else team
        self.metric = widgets.Dropdown(description="Metric", value=metric,
                                       options=[(v[0], k) for k, v in FORECAST_METRICS.items()])
        self.team = widgets.Dropdown(description="Team", options=[("All teams", ALL_TEAMS)] + [(t, t) for t in teams],
                                     value=team_value if team_value in teams else ALL_TEAMS)
        self.horizon = widgets.IntSlider(description="Horizon", value=int(min(max(horizon, 1), max_horizon)), min=1,
                                         max=max(max_horizon, 1), continuous_update=False)
        self.model = widgets.Dropdown(description="Model", options=list(FORECAST_MODELS), value=model)
        self.capacity = widgets.Text(description="Capacity", value="" if capacity is None else f"{capacity:g}",
                                     placeholder="e.g. 8000", continuous_update=False)
        for name in ("metric", "team", "horizon", "model", "capacity"):
            getattr(self, name).add_class(f"wb-{name}")
        super().__init__([self.metric, self.team, self.horizon, self.model, self.capacity],
                         layout=widgets.Layout(flex_flow="row wrap"))
        self.add_class("wb-forecast-bar")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`forecast_view` to widget."""
        return {"metric": self.metric, "team": self.team, "horizon": self.horizon, "model": self.model,
                "capacity": self.capacity}

    @classmethod
    def for_data(cls, data: DashboardData | None, *, granularity: str = "D", n_windows: int = 3,
                 **values: Any) -> "ForecastBar":
        """A bar over the mart's teams, the horizon bounded by what the history can backtest.

        Parameters
        ----------
        data : DashboardData, optional
            The overview's mart; None: a bar with no teams and the default largest horizon.
        granularity : {"D", "W", "M"}
            The period of the series (default ``"D"``).
        n_windows : int
            Backtest windows the horizon must leave room for, with one season (default 3).
        **values
            The controls' initial values: ``metric``, ``team``, ``horizon``, ``models``,
            ``capacity`` (see :class:`ForecastBar`).
        """
        if data is None:
            return cls(teams=[], **values)
        mart = _mart(data, OverviewMart)
        n = len(mart_kpis(mart, granularity=granularity))
        longest = max((n - season_length(SERIES_FREQ[check_granularity(granularity)])) // (n_windows + 1), 1)
        return cls(teams=mart.teams, max_horizon=longest, **values)


class ExperimentBar(widgets.HBox):
    """The experiment picker of the experiments dashboard.

    Examples
    --------
    >>> ExperimentBar(experiments=["prompt-v2", "cache-aa"]).controls["experiment"].value
    'prompt-v2'
    """

    def __init__(self, *, experiments: Sequence[str], experiment: Any = None) -> None:
        options = list(experiments)
        self.experiment = widgets.Dropdown(description="Experiment", options=options,
                                           value=experiment if experiment in options else (options[0] if options
                                                                                           else None),
                                           style={"description_width": "initial"})
        self.experiment.add_class("wb-experiment")
        super().__init__([self.experiment], layout=widgets.Layout(flex_flow="row wrap"))
        self.add_class("wb-experiment-bar")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`experiment_view` to widget."""
        return {"experiment": self.experiment}

    @classmethod
    def for_data(cls, data: DashboardData | None, **values: Any) -> "ExperimentBar":
        """A picker over the mart's experiments (empty when ``data`` is None)."""
        return cls(experiments=[] if data is None else data.value.experiments, **values)


class DeliveryBar(widgets.HBox):
    """The delivery dashboard's controls: team, metric of the trend and the event study, days.

    Examples
    --------
    >>> DeliveryBar(teams=["team-a", "team-b"]).controls["team"].value
    'all'
    """

    def __init__(self, *, teams: Sequence[str], team: Any = ALL_TEAMS, metric: str = "lead_time_hours",
                 days: int = 90) -> None:
        options = [("All teams", ALL_TEAMS), *((t, t) for t in teams)]
        self.team = widgets.Dropdown(description="Team", options=options,
                                     value=team if team in dict(options).values() else ALL_TEAMS)
        self.metric = widgets.Dropdown(description="Metric", options=[(v[0], k) for k, v in DELIVERY_METRICS.items()],
                                       value=metric if metric in DELIVERY_METRICS else "lead_time_hours",
                                       style={"description_width": "initial"})
        self.days = widgets.IntSlider(description="Days", value=int(days), min=28, max=364, step=7,
                                      continuous_update=False)
        for w, name in ((self.team, "wb-team"), (self.metric, "wb-metric"), (self.days, "wb-days")):
            w.add_class(name)
        super().__init__([self.team, self.metric, self.days], layout=widgets.Layout(flex_flow="row wrap"))
        self.add_class("wb-delivery-bar")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`delivery_view` to widget."""
        return {"team": self.team, "metric": self.metric, "days": self.days}

    @classmethod
    def for_data(cls, data: DashboardData | None, **values: Any) -> "DeliveryBar":
        """Controls over the mart's teams (no team when ``data`` is None)."""
        return cls(teams=[] if data is None else data.value.teams, **values)


class AssumptionPanel(widgets.VBox):
    """The ROI calculator's assumptions (sliders and inputs) and a scenario picker.

    Choosing a scenario sets the controls to the base values (the notebook's parameters)
    with the scenario's overrides, in one update; changing a control afterwards switches the
    picker to ``custom``.

    Examples
    --------
    >>> p = AssumptionPanel(base={"hourly_rate": 100.0, "realisation_rate": 0.7, "seats": None,
    ...     "licence_per_seat": 20.0, "infra_per_month": 2000.0, "one_off_cost": 50000.0, "discount_rate": 0.1,
    ...     "horizon_months": 36}, scenarios={"optimistic": {"hourly_rate": 130.0}}, max_horizon=60)
    >>> p.picker.value = "optimistic"; p.controls["hourly_rate"].value
    130.0
    """

    def __init__(self, *, base: Mapping[str, Any], scenarios: Mapping[str, Mapping[str, Any]] | None = None,
                 max_horizon: int = ROI_MONTHS) -> None:
        from analytics_lib.analysis.roi.simulation import DEFAULT_SCENARIOS

        missing = [k for k in ROI_CONTROLS if k not in base]
        if missing:
            raise WorkbenchError(f"AssumptionPanel: base values missing for {missing}")
        self.base = {k: base[k] for k in ROI_CONTROLS}
        self.scenarios = dict(DEFAULT_SCENARIOS if scenarios is None else scenarios)
        b = self.base
        num = {"continuous_update": False, "style": {"description_width": "190px"},
               "layout": widgets.Layout(width="390px")}  # every label whole: the longest is 22 characters
        self.inputs: dict[str, widgets.Widget] = {
            "hourly_rate": widgets.FloatText(description="Hourly cost (USD)", value=float(b["hourly_rate"]), **num),
            "realisation_rate": widgets.FloatSlider(description="Realisation rate", value=float(b["realisation_rate"]),
                                                    min=0.0, max=1.0, step=0.05, readout_format=".2f", **num),
            "seats": widgets.Text(description="Seats (empty: active)",
                                  value="" if b["seats"] is None else f"{b['seats']:g}", **num),
            "licence_per_seat": widgets.FloatText(description="Licence / seat / month",
                                                  value=float(b["licence_per_seat"]), **num),
            "infra_per_month": widgets.FloatText(description="Infrastructure / month",
                                                 value=float(b["infra_per_month"]), **num),
            "one_off_cost": widgets.FloatText(description="One-off cost (USD)", value=float(b["one_off_cost"]), **num),
            "discount_rate": widgets.FloatText(description="Discount rate / year", value=float(b["discount_rate"]),
                                               **num),
            "horizon_months": widgets.IntSlider(description="Horizon (months)",
                                                value=int(min(b["horizon_months"], max_horizon)), min=1,
                                                max=int(max_horizon), **num),
        }
        for name, w in self.inputs.items():
            w.add_class(f"wb-{name.replace('_', '-')}")
        self.picker = widgets.Dropdown(description="Scenario", options=["custom", *self.scenarios], value="custom",
                                       style={"description_width": "170px"})
        self.picker.add_class("wb-scenario")
        self.view: LiveView | None = None
        self._applying = False
        self.picker.observe(self._pick, names="value")
        for w in self.inputs.values():
            w.observe(self._edited, names="value")
        names = list(self.inputs)
        super().__init__([self.picker, widgets.HBox([widgets.VBox([self.inputs[n] for n in names[:4]]),
                                                     widgets.VBox([self.inputs[n] for n in names[4:]])])])
        self.add_class("wb-assumptions")

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """Keyword of :func:`roi_view` to widget (the scenario picker only sets them)."""
        return dict(self.inputs)

    def bind(self, view: LiveView) -> None:
        """Batch the scenario's control changes into one refresh of ``view``."""
        self.view = view

    def _pick(self, change: Mapping[str, Any]) -> None:
        if self._applying or change["new"] == "custom":
            return
        values = scenario_values(self.base, self.scenarios, change["new"])
        self._applying = True
        try:
            with self.view.hold() if self.view is not None else contextlib.nullcontext():
                for name, v in values.items():
                    w = self.inputs[name]
                    w.value = ("" if v is None else f"{v:g}") if isinstance(w, widgets.Text) else v
        finally:
            self._applying = False

    def _edited(self, change: Mapping[str, Any]) -> None:
        if not self._applying and self.picker.value != "custom":
            self.picker.value = "custom"  # _pick ignores "custom": the edit itself refreshes the view
