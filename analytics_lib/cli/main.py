"""The ``workbench`` command group, its error handling and table printing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from analytics_lib.core.errors import WorkbenchError


# Wide tables stay readable in logs and CI (rich would wrap to 80 columns off a terminal).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 150)


def _number(v: float, floatfmt: str | None) -> str:
    if floatfmt is not None:
        return floatfmt.format(v)
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}"


def print_frame(df: pd.DataFrame, *, title: str | None = None, index: bool = True, floatfmt: str | None = None) -> None:
    """Print a frame as a rich table (numbers right-aligned, NaN shown as '-').

    Floats show 4 significant digits, whole numbers from 1,000 up, and scientific notation
    below 0.001 unless ``floatfmt`` (e.g. ``"{:.2f}"``) says otherwise.

    Parameters
    ----------
    df : DataFrame
        The rows to show (a few dozen: this is for the terminal).
    title : str, optional
        A title above the table.
    index : bool, default True
        Show the index as the first column(s).
    floatfmt : str, optional
        A format for every float, e.g. ``"{:.2f}"``.

    Examples
    --------
    >>> import pandas as pd
    >>> print_frame(pd.DataFrame({"team": ["a"], "cost_usd": [1234.5]}), index=False)  # doctest: +SKIP
    """
    import pandas as pd
    table = Table(title=title, title_justify="left", show_lines=False)
    shown = df.reset_index() if index else df
    for c in shown.columns:
        table.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(shown[c]) else "left")
    for row in shown.itertuples(index=False):  # display only: a few dozen rows
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("-" if pd.isna(v) else _number(v, floatfmt))
            elif isinstance(v, pd.Timestamp):
                cells.append(v.strftime("%Y-%m-%d") if v == v.normalize() else v.isoformat())
            else:
                cells.append(str(v))
        table.add_row(*cells)
    console.print(table)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="analytics-workbench")
def main() -> None:
    """Analytics workbench for AI developer-assistant event logs.

    \b
    Typical use:
      workbench sample --into sqlite:///data/workbench.db   # sample data with ground truth
      workbench ingest events.csv --into sqlite:///data/workbench.db --mapping map.yaml
      workbench kpis sqlite:///data/workbench.db --start -28d --granularity W
      workbench run                                          # the main job
    """


def _truth_path_for_url(url: str) -> Path | None:
    from analytics_lib.core.sources import parse_db_url
    u = parse_db_url(url)
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
        return Path(u.database).with_suffix(".truth.json")
    return None


def _safe(url: str) -> str:
    from analytics_lib.core.redaction import redact
    return redact(url)


def _print_summary(summary) -> None:
    print_frame(summary.table(), title=f"validation of {summary.source}", index=False)


_window_options = [
    click.option("--start", default=None, help="Start: ISO date, 'today', or relative such as -28d."),
    click.option("--end", default=None, help="End (a date includes that day): ISO date, 'today', -1d..."),
    click.option("--team", default=None, multiple=True, help="Keep only this team (repeatable)."),
]


def window_options(f):
    for opt in reversed(_window_options):
        f = opt(f)
    return f


def _print_step(step: int, total: int, label: str) -> None:
    console.print(f"  [{step}/{total}] {label}" if total > 1 else f"  {label}")
