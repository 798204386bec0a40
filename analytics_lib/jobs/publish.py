"""Publishing a succeeded run: its outputs (CSV twins, the Excel workbook, the marts, a plug-in's)
from the registry :data:`OUTPUT_WRITERS`, and ``latest`` switched atomically.
"""
from __future__ import annotations

import contextlib
import io as _stdio
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TYPE_CHECKING

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import atomic_write
from analytics_lib.core.registry import Registry
from analytics_lib.jobs.common import _write_json

if TYPE_CHECKING:
    from analytics_lib.jobs.spec import JobSpec


def _tables(folder: Path) -> dict[str, Path]:
    """Table name -> best file (Parquet keeps types, else CSV) in a notebook's output folder."""
    found: dict[str, Path] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix in (".parquet", ".csv") and not p.name.startswith("."):
                if p.stem not in found or p.suffix == ".parquet":
                    found[p.stem] = p
    return found


def _read_table(path: Path):
    import pandas as pd

    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


@dataclass(frozen=True)
class PublishContext:
    """What a report output writer gets for a succeeded run.

    Attributes
    ----------
    spec : JobSpec
        The job (``spec.outputs``, ``spec.marts``, ``spec.path`` for messages).
    run_dir : Path
        The run's folder: write only there.
    tables : dict of str to Path
        The notebook's tables (its ``output_dir``): name -> best file (Parquet, else CSV).
    frames : dict of str to DataFrame
        The same tables, read.
    info : mapping
        The run's facts (job, variant, run id, parameters without credentials, window, fingerprint...).
    """

    spec: JobSpec
    run_dir: Path
    tables: dict
    frames: dict
    info: Mapping[str, Any]


def _write_csv(ctx: PublishContext) -> list[Path]:
    """A CSV twin of every table (next to a Parquet one; a CSV table is itself)."""
    written = []
    for name, frame in ctx.frames.items():
        target = ctx.run_dir / "tables" / f"{name}.csv"
        if not target.exists():
            frame.to_csv(target, index=False)
        written.append(target)
    return written


def _write_xlsx(ctx: PublishContext) -> list[Path]:
    """``tables.xlsx``: a ``run`` sheet of the run's facts, then a sheet per table."""
    import pandas as pd

    if not ctx.frames:
        return []
    target = ctx.run_dir / "tables.xlsx"
    about = pd.DataFrame([(k, json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v))
                          for k, v in ctx.info.items()], columns=["item", "value"])
    book = _stdio.BytesIO()  # built in memory: a full disk fails one plain write, not a half-zipped file
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        about.to_excel(xl, sheet_name="run", index=False)
        used = {"run"}
        for name, frame in ctx.frames.items():
            sheet = _sheet_name(name, used)
            if len(frame) >= 1_048_575:
                pd.DataFrame({"note": [f"{name} has {len(frame):,} rows, more than a sheet holds: see "
                                       f"tables/{name}.csv"]}).to_excel(xl, sheet_name=sheet, index=False)
                continue
            _excel_safe(frame).to_excel(xl, sheet_name=sheet, index=False)
    atomic_write(target, book.getvalue())
    return [target]


def _write_marts(ctx: PublishContext) -> list[Path]:
    """``marts/<name>.parquet`` for the tables dashboards read (``spec.marts``, default all) and a manifest."""
    spec, frames = ctx.spec, ctx.frames
    wanted = list(spec.marts) if spec.marts is not None else list(frames)
    missing = [m for m in wanted if m not in frames]
    if missing:
        raise WorkbenchError(f"marts {missing} were not written by the notebook (its tables: "
                             f"{', '.join(frames) or 'none'}); fix 'marts' in {spec.path.name}")
    marts_dir = ctx.run_dir / "marts"
    marts_dir.mkdir(exist_ok=True)
    manifest = {"job": spec.name, **{k: ctx.info[k] for k in ("variant", "run_id", "window", "fingerprint",
                                                               "finished_at") if k in ctx.info}, "tables": {}}
    written = []
    for name in wanted:
        target = marts_dir / f"{name}.parquet"
        frame = frames[name]
        if ctx.tables[name].suffix == ".parquet":
            shutil.copyfile(ctx.tables[name], target)
        else:
            frame.to_parquet(target, index=False)
        manifest["tables"][name] = {"file": target.name, "rows": int(len(frame)),
                                    "columns": {str(c): str(t) for c, t in frame.dtypes.items()}}
        written.append(target)
    _write_json(marts_dir / "manifest.json", manifest)
    return [*written, marts_dir / "manifest.json"]


def _write_pdf(ctx: PublishContext) -> list[Path]:
    """``report.pdf`` from the run's HTML report (WeasyPrint; no browser). Optional: a PDF that
    fails is said in ``run.json`` and ``run.log``, and the run still publishes its HTML."""
    from analytics_lib.report.pdf import report_pdf

    info = ctx.info
    title = (f"{info.get('job')}{'/' + info['variant'] if info.get('variant') else ''} · run {info.get('run_id')}"
             + (f" · data as of {info['data_as_of']} UTC" if info.get("data_as_of") else ""))
    return [report_pdf(ctx.run_dir / "report.html", ctx.run_dir / "report.pdf", title=title)]


def _check_output(name: str, writer: Any) -> None:
    if not callable(writer):
        raise WorkbenchError(f"the report output {name!r} is not callable: register a function "
                             "writer(ctx: PublishContext) -> list[Path]")


#: What a run may publish besides its executed notebook (a job spec's ``outputs``): name ->
#: ``writer(ctx: PublishContext) -> list of written paths``, run in the spec's order after the
#: notebook succeeded. ``html`` is written by the papermill child (nbconvert) while the kernel
#: is still warm; the others here. A plug-in adds an output under the entry-point group
#: ``analytics_workbench.report_outputs``; a writer that raises fails the run (``latest`` stays).
OUTPUT_WRITERS = Registry("report output", "analytics_workbench.report_outputs", check=_check_output)
OUTPUT_WRITERS.register("html", lambda ctx: [], stage="notebook")
OUTPUT_WRITERS.register("xlsx", _write_xlsx)
OUTPUT_WRITERS.register("csv", _write_csv)
OUTPUT_WRITERS.register("marts", _write_marts)
OUTPUT_WRITERS.register("pdf", _write_pdf, optional=True)


def _publish_tables(spec: JobSpec, run_dir: Path, info: Mapping[str, Any]) -> tuple[list[Path], dict[str, str]]:
    """Every output of ``spec.outputs`` but the notebook's own (``html``), in the spec's order:
    ``(files written, {optional output: why it failed})``. An output registered ``optional``
    (the PDF) that fails is reported, not raised."""
    tables = _tables(run_dir / "tables")
    ctx = PublishContext(spec, run_dir, tables, {name: _read_table(p) for name, p in tables.items()}, info)
    written: list[Path] = []
    problems: dict[str, str] = {}
    for name in spec.outputs:
        writer = OUTPUT_WRITERS.get(name)
        if not OUTPUT_WRITERS.meta(name).get("optional"):
            written += [Path(p) for p in writer(ctx)]
            continue
        try:
            written += [Path(p) for p in writer(ctx)]
        except Exception as exc:  # noqa: BLE001 - said in run.json and run.log; the rest is published
            problems[name] = f"{type(exc).__name__}: {exc}"
    return written, problems


def _sheet_name(name: str, used: set) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "table"
    sheet, i = base, 1
    while sheet.lower() in {u.lower() for u in used}:
        i += 1
        sheet = f"{base[:28]}~{i}"
    used.add(sheet)
    return sheet


def _excel_safe(frame):
    import pandas as pd

    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC").dt.tz_localize(None)
        elif out[c].dtype == object:
            out[c] = out[c].map(lambda v: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v)
    return out


def _switch_latest(run_dir: Path) -> Path:
    """Point ``<job dir>/latest`` at ``run_dir`` atomically (a relative symlink swapped with os.replace)."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}.{threading.get_ident()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(run_dir.name, tmp)
    os.replace(tmp, link)
    return link
