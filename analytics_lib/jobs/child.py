"""CHILD_DOC
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from analytics_lib.core.files import atomic_write
from analytics_lib.core.markup import drop_range_index, literal_dollars, md_escape, sanitize_html
from analytics_lib.core.procs import die_with_parent
from analytics_lib.core.redaction import redact
from analytics_lib.jobs.common import _clock


# --------------------------------------------------------------------------------------------
# The child process: papermill (and the HTML export) outside the runner
class _Terminated(BaseException):
    pass


def _child_main() -> None:  # pragma: no cover - runs in the child process (tests exercise it for real)
    """Entry point of the papermill child (``python -c "...; _child_main()"``).

    It imports papermill at once, then waits for its task (JSON on stdin): the runner starts
    it before validating and recording the run, so both happen at the same time. An empty
    stdin means the runner did not need it. It dies with the runner (PR_SET_PDEATHSIG).
    """
    parent = os.getppid()
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(3)

    def _terminate(signum, frame):  # noqa: ANN001
        raise _Terminated(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload: Exception | None = None
    # nbformat's schemas use no IRI string formats; jsonschema imports the optional
    # rfc3987_syntax only to check those, compiling a grammar at import (about 1 s here), and
    # does without it when it is missing. This child validates notebooks only.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        try:
            import papermill as pm
            from nbclient.exceptions import CellTimeoutError, DeadKernelError
        except Exception as exc:  # reported in the result once the task is known
            preload = exc
        ready = _clock()
        text = sys.stdin.read()
    except _Terminated:
        sys.exit(0)
    if not text.strip():
        sys.exit(0)
    task = json.loads(text)
    os.environ.update(task.get("env") or {})  # e.g. the real source URL behind the redacted parameter (kernel)
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(task["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    print(f"--- {_clock()} papermill child {os.getpid()}: imported at {ready}, task received", flush=True)
    result: dict[str, Any] = {"status": "failed"}
    t0 = time.monotonic()
    try:
        if preload is not None:
            raise preload
        if task.get("html"):  # import nbconvert while the kernel works (the child mostly waits)
            threading.Thread(target=_preload_nbconvert, daemon=True).start()
        try:
            pm.execute_notebook(task["input"], task["output"], parameters=task["parameters"],
                                kernel_name=task["kernel"], cwd=task["cwd"], progress_bar=False,
                                execution_timeout=task["cell_timeout"], start_timeout=task["start_timeout"],
                                request_save_on_cell_execute=True, autosave_cell_every=10,
                                extra_arguments=list(KERNEL_ARGS))
            result = {"status": "succeeded"}
        except pm.PapermillExecutionError as exc:
            result = {"status": "failed", "kind": "exception", "ename": exc.ename, "evalue": exc.evalue,
                      "exec_count": exc.exec_count, "source": exc.source}
        except CellTimeoutError as exc:
            result = {"status": "timed_out", "kind": "cell_timeout", "message": str(exc)}
        except DeadKernelError as exc:
            result = {"status": "failed", "kind": "dead_kernel", "message": str(exc)}
        result["duration_s"] = time.monotonic() - t0
        print(f"--- {_clock()} papermill finished in {result['duration_s']:.1f} s: {result['status']}", flush=True)
        if result["status"] == "succeeded" and task.get("html"):
            t1 = time.monotonic()
            try:
                _export_html(Path(task["output"]), Path(task["html"]), task["header"], result["duration_s"],
                             compare=task.get("compare"))
                print(f"--- {_clock()} report.html written in {time.monotonic() - t1:.1f} s", flush=True)
            except Exception as exc:
                result = {"status": "failed", "kind": "html", "message": f"{type(exc).__name__}: {exc}",
                          "duration_s": result["duration_s"]}
    except _Terminated as exc:
        result = {"status": "failed", "kind": "terminated", "message": f"stopped by {exc}"}
    except Exception as exc:  # kernel missing, unreadable notebook...: reported, never "succeeded"
        result = {"status": "failed", "kind": "error", "message": f"{type(exc).__name__}: {exc}"}
    result.setdefault("duration_s", time.monotonic() - t0)
    atomic_write(task["result"], json.dumps(result, default=str))


#: Options of a job's kernel: figures drawn at twice their resolution and shown at their usual size
#: (crisp in the PDF, about 200 dpi, and on high-density screens).
KERNEL_ARGS = ("--InlineBackend.figure_formats=retina",)

#: The report's nbconvert template (templates/workbench_report): JupyterLab's look, self-contained
#: (no require.js, MathJax, mermaid or widget manager from a CDN).
_TEMPLATE = {"extra_template_basedirs": [str(Path(__file__).parent / "templates")], "template_name": "workbench_report"}


def _preload_nbconvert() -> None:
    with contextlib.suppress(Exception):
        from nbconvert import HTMLExporter

        HTMLExporter(exclude_input=True, **_TEMPLATE).template  # noqa: B018 - loads the template files


def _what_changed(compare: dict | None) -> str | None:
    """The "what changed since the last run" section (Markdown), or None for a first run. A
    comparison that fails is said in the section, never fails the report."""
    if not compare:
        return None
    try:
        from analytics_lib.jobs.diff import _load_run, compare_runs
        from analytics_lib.jobs.publish import _read_table, _tables

        tables = {n: _read_table(p) for n, p in _tables(Path(compare["tables"])).items()}
        return compare_runs(_load_run(Path(compare["previous"])), (compare["facts"], tables)).markdown()
    except Exception as exc:  # noqa: BLE001 - the report is still written
        return f"## What changed since the last run\n\nNot compared: {md_escape(f'{type(exc).__name__}: {exc}')}"


def _export_html(notebook: Path, target: Path, header: list, duration_s: float, *,
                 compare: dict | None = None) -> None:
    """The stakeholders' report: no code, no stderr, a header with the run's facts, and what
    changed since the previous successful run."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    rows = [*header, ["Run time", f"{duration_s:,.1f} s of notebook execution"]]
    table = "\n".join(f"| {k} | {_md(v)} |" for k, v in rows)
    title = next((c.source.splitlines()[0].lstrip("# ").strip() for c in nb.cells
                  if c.cell_type == "markdown" and c.source.startswith("# ")), notebook.stem)
    head = nbformat.v4.new_markdown_cell(f"**{_md(title)}** — scheduled report\n\n| | |\n|---|---|\n{table}")
    cells = [head]
    changed = _what_changed(compare)
    if changed:
        cells.append(nbformat.v4.new_markdown_cell(changed))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream"
                                                                        and o.get("name") == "stderr")]
            if not cell.outputs:
                continue
            for o in cell.outputs:
                data = o.get("data", {})
                if "text/markdown" in data:  # narrative written by the library: money is money, never math
                    data["text/markdown"] = literal_dollars("".join(data["text/markdown"]))
                if "text/html" in data:  # a table's 0, 1, 2... row labels mean nothing to a reader
                    data["text/html"] = drop_range_index("".join(data["text/html"]))
        else:
            cell.source = literal_dollars(cell.source)
        cells.append(cell)
    nb.cells = cells
    # every Markdown cell and HTML/Markdown output passes the report sanitizer (names from the data
    # can hold markup: a team called <img onerror=...> must not run in a stakeholder's browser)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            sanitize_html=True, filters={"clean_html": sanitize_html}, **_TEMPLATE)
    body, _ = exporter.from_notebook_node(nb)
    atomic_write(target, body)


def _md(value: Any) -> str:
    return md_escape(redact(str(value))).replace("\n", " ")
