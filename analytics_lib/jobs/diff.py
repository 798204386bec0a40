"""What changed between two runs of a job: the headline figures of their tables (with a tolerance),
and, separately, what changed in the method and the inputs (parameters, code version, notebook,
gates, data fingerprint), so that a change of method is not read as a change in the world.

Headline figures are read from the tables a run wrote, the same way for every job:

- a table with a ``period`` column (a series over the window): the mean per period of each
  numeric column (its level, comparable between windows of different lengths);
- a small table (at most :data:`SMALL_TABLE_ROWS` rows) with a text column: every numeric value,
  named by the row's text key (``funnel[accept].users``);
- any other table: its number of rows.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.markup import md_escape


#: Relative change beyond which a headline figure counts as changed (5 %).
DEFAULT_TOLERANCE = 0.05
#: Tables up to this many rows are compared value by value.
SMALL_TABLE_ROWS = 30
#: What the method comparison looks at in ``run.json``, and how it names it.
METHOD_FIELDS = (("parameters", "parameters"), ("version", "code version"), ("notebook", "notebook"),
                 ("gates_spec", "data gates"), ("window", "data window"))
DATA_FIELDS = (("rows", "events read"), ("min_ts", "first event"), ("max_ts", "newest event"),
               ("digest", "data fingerprint"))


def headline_figures(tables: Mapping[str, Any]) -> dict[str, float]:
    """The headline figures of a run's tables (see the module's docstring), by name.

    Parameters
    ----------
    tables : mapping of str to DataFrame

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> import pandas as pd
    >>> kpis = pd.DataFrame({"period": ["d1", "d2"], "events": [10, 30], "error_rate": [0.1, 0.3]})
    >>> funnel = pd.DataFrame({"step": ["open", "accept"], "users": [100, 40]})
    >>> headline_figures({"kpis": kpis, "funnel": funnel})
    {'funnel[open].users': 100.0, 'funnel[accept].users': 40.0, 'kpis.events (mean per period)': 20.0, 'kpis.error_rate (mean per period)': 0.2}
    """
    import pandas as pd

    out: dict[str, float] = {}
    for name in sorted(tables):
        frame = tables[name]
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])]
        text = [c for c in frame.columns if c not in numeric and not pd.api.types.is_datetime64_any_dtype(frame[c])]
        if "period" in frame.columns:  # a series: its level, whatever the window's length
            for c in numeric:
                if c not in ("period", "rank") and not frame[c].dropna().empty:
                    out[f"{name}.{c} (mean per period)"] = float(frame[c].mean())
        elif len(frame) <= SMALL_TABLE_ROWS and text and numeric and frame[text[0]].is_unique:
            for _, row in frame.iterrows():
                for c in numeric:
                    if pd.notna(row[c]):
                        out[f"{name}[{row[text[0]]}].{c}"] = float(row[c])
        else:
            out[f"{name} (rows)"] = float(len(frame))
    return out


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared: :func:`compare_runs`.

    Attributes
    ----------
    before, after : str
        The runs' ids.
    figures : DataFrame
        ``figure, before, after, change, relative, beyond`` for every headline figure in
        either run (a figure in one run only has NaN on the other side and counts as beyond).
    method : list of (str, str, str)
        What changed in the method: (what, before, after).
    data : list of (str, str, str)
        What changed in the data read: (what, before, after).
    tolerance : float
    """

    before: str
    after: str
    figures: Any
    method: list = field(default_factory=list)
    data: list = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE

    @property
    def beyond(self):
        """The figures that changed by more than the tolerance."""
        return self.figures[self.figures["beyond"]]

    def text(self, *, limit: int = 15) -> str:
        """The comparison as plain text (``workbench jobs diff``)."""
        lines = [f"Run {self.after} compared with {self.before} (tolerance {self.tolerance:.0%}):"]
        lines += self._sections(limit, fmt=lambda s: s)
        return "\n".join(lines)

    def markdown(self, *, limit: int = 15) -> str:
        """The comparison as a report section (Markdown; data values escaped)."""
        head = (f"## What changed since the last run\n\nCompared with the previous successful run "
                f"`{md_escape(self.before)}` (a figure counts as changed beyond {self.tolerance:.0%}).")
        return head + "\n\n" + "\n\n".join(self._sections(limit, fmt=md_escape, markdown=True))

    def _sections(self, limit: int, *, fmt, markdown: bool = False) -> list[str]:
        def listing(rows: Sequence[tuple[str, str, str]]) -> str:
            bullet = "- " if markdown else "  "
            return "\n".join(f"{bullet}{fmt(w)}: {fmt(a)} → {fmt(b)}" for w, a, b in rows)

        out = []
        if self.method:
            out.append("Method changed (so part of any change below is the method's, not the world's):\n"
                       + listing(self.method))
        else:
            out.append("Method unchanged: same parameters, code version, notebook and gates.")
        out.append(("Data read:\n" + listing(self.data)) if self.data else "Data read: unchanged.")
        beyond = self.beyond.reindex(self.beyond["relative"].abs().sort_values(ascending=False, na_position="first")
                                     .index)
        if beyond.empty:
            out.append(f"Headline figures: all {len(self.figures)} within {self.tolerance:.0%} of the previous run.")
        else:
            rows = [(r.figure, _num(r.before), _num(r.after) + (f" ({r.relative:+.1%})" if _notna(r.relative) else ""))
                    for r in beyond.head(limit).itertuples()]
            more = f" ({len(beyond) - limit} more not shown)" if len(beyond) > limit else ""
            out.append(f"Headline figures beyond {self.tolerance:.0%}: {len(beyond)} of {len(self.figures)}{more}\n"
                       + listing(rows))
        return out


def _notna(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _num(v: Any) -> str:
    if not _notna(v):
        return "absent"
    return f"{v:,.0f}" if float(v).is_integer() and abs(v) >= 100 else f"{v:,.4g}"


def _fact(v: Any) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def _load_run(run_dir: Path) -> tuple[dict, dict]:
    from analytics_lib.jobs.publish import _read_table, _tables

    try:
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"{run_dir}: not a run folder with a readable run.json ({exc})") from None
    return info, {name: _read_table(p) for name, p in _tables(run_dir / "tables").items()}


def _method_facts(info: Mapping[str, Any]) -> dict[str, str]:
    params = {k: v for k, v in (info.get("parameters") or {}).items() if k != "output_dir"}
    gates = (info.get("spec") or {}).get("gates", info.get("gates_spec"))
    values = {"parameters": params, "version": info.get("version"), "notebook": Path(str(info.get("notebook"))).name,
              "gates_spec": gates or {}, "window": info.get("window")}
    return {label: json.dumps(values[key], sort_keys=True, default=str) if isinstance(values[key], (dict, list))
            else str(values[key]) for key, label in METHOD_FIELDS}


def _changes(a: Mapping[str, str], b: Mapping[str, str]) -> list[tuple[str, str, str]]:
    return [(k, a.get(k, "-"), b.get(k, "-")) for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]


def _param_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    pa = {k: v for k, v in (a.get("parameters") or {}).items() if k != "output_dir"}
    pb = {k: v for k, v in (b.get("parameters") or {}).items() if k != "output_dir"}
    return [(f"parameter {k}", json.dumps(pa.get(k, "-"), default=str), json.dumps(pb.get(k, "-"), default=str))
            for k in dict.fromkeys([*pa, *pb]) if pa.get(k) != pb.get(k)]


def compare_runs(before: str | Path | tuple, after: str | Path | tuple, *,
                 tolerance: float = DEFAULT_TOLERANCE) -> RunDiff:
    """Compare two runs: headline figures (:func:`headline_figures`), method and data.

    Parameters
    ----------
    before, after : path or (dict, dict)
        Run folders (with ``run.json`` and ``tables/``), or ``(run facts, tables)`` pairs.
    tolerance : float
        Relative change beyond which a figure counts as changed.

    Returns
    -------
    RunDiff

    Examples
    --------
    >>> import pandas as pd
    >>> a = ({"run_id": "r1", "parameters": {"start": "2025-01-01"}, "version": "v1"},
    ...      {"kpis": pd.DataFrame({"period": [1, 2], "events": [100, 100]})})
    >>> b = ({"run_id": "r2", "parameters": {"start": "2025-01-02"}, "version": "v1"},
    ...      {"kpis": pd.DataFrame({"period": [2, 3], "events": [100, 130]})})
    >>> d = compare_runs(a, b)
    >>> d.method, d.beyond["relative"].round(3).tolist()
    ([('parameter start', '"2025-01-01"', '"2025-01-02"')], [0.15])
    """
    import pandas as pd

    (ia, ta), (ib, tb) = (x if isinstance(x, tuple) else _load_run(Path(x)) for x in (before, after))
    fa, fb = headline_figures(ta), headline_figures(tb)
    names = list(dict.fromkeys([*fa, *fb]))
    frame = pd.DataFrame({"figure": names, "before": [fa.get(n, math.nan) for n in names],
                          "after": [fb.get(n, math.nan) for n in names]})
    frame["change"] = frame["after"] - frame["before"]
    denom = frame["before"].abs()
    frame["relative"] = (frame["change"] / denom).where(denom > 0)
    same = frame["change"].abs() <= 1e-12 * (1 + denom)
    frame["beyond"] = ~same & (frame["relative"].abs().gt(tolerance) | frame["relative"].isna())
    method = _param_changes(ia, ib) + [c for c in _changes(_method_facts(ia), _method_facts(ib))
                                       if c[0] != "parameters"]
    fpa, fpb = ia.get("fingerprint") or {}, ib.get("fingerprint") or {}
    data = [(label, _fact(fpa.get(k)), _fact(fpb.get(k))) for k, label in DATA_FIELDS if fpa.get(k) != fpb.get(k)]
    return RunDiff(str(ia.get("run_id", "before")), str(ib.get("run_id", "after")), frame, method, data, tolerance)


def previous_success(job_dir: Path, run_id: str | None = None) -> Path | None:
    """The newest succeeded run folder of a job (variant) folder before ``run_id`` (None: the newest).

    Examples
    --------
    >>> import tempfile
    >>> previous_success(Path(tempfile.mkdtemp())) is None
    True
    """
    found = []
    for d in job_dir.iterdir() if job_dir.is_dir() else []:
        if d.is_symlink() or not d.is_dir() or d.name.startswith(".") or (run_id and d.name >= run_id):
            continue
        try:
            info = json.loads((d / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("status") == "succeeded":
            found.append(d)
    return max(found, key=lambda d: d.name) if found else None


def find_run(ref: str, reports: Path) -> Path:
    """A run folder from a run id (searched in the reports folder) or a path.

    Examples
    --------
    >>> find_run("20990101T000000Z-000000", Path("."))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: no run '20990101T000000Z-000000' in ...
    """
    p = Path(ref).expanduser()
    if (p / "run.json").is_file():
        return p.resolve()
    hits = [d for d in (*reports.glob(f"*/{ref}"), *reports.glob(f"*/*/{ref}")) if (d / "run.json").is_file()]
    if not hits:
        raise WorkbenchError(f"no run {ref!r} in {reports}: give a run id from `workbench jobs history` or a run folder")
    return hits[0].resolve()
