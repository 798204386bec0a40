"""The architecture holds: layers import one way, no cycles, no private names across packages,
modules of a readable size, documented public functions, and the registries' extension points.

Layers, from the bottom (``docs/architecture.md``)::

    core -> data -> analysis, forecast -> compute -> report -> dashboards, jobs -> cli

A module may import from its own layer and the layers below, never above; packages of one layer
(``analysis`` and ``forecast``, ``dashboards`` and ``jobs``) may import each other as long as no
import cycle forms. Function-level imports count as well: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "analytics_lib"
LAYERS = [["core"], ["data"], ["analysis", "forecast"], ["compute"], ["report"], ["dashboards", "jobs"], ["cli"]]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
MAX_LINES = 850  # "no module over about 800 lines"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "share" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path, *, top_level_only: bool) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every ``analytics_lib`` import in a file."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("analytics_lib"):
            found += [(node.module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((f"<relative import: use absolute ones> level {node.level}", None, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name.startswith("analytics_lib")]
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _target(module: str, name: str | None) -> str:
    """The module an import loads: ``from a.b import c`` loads ``a.b.c`` when that is a module."""
    return f"{module}.{name}" if name and f"{module}.{name}" in MODULES else module


def test_every_package_has_a_layer():
    packages = {_package(m) for m in MODULES} - {""}
    assert packages <= set(RANK), f"packages without a layer: {packages - set(RANK)} (add them to LAYERS and the docs)"


def test_imports_run_one_way():
    upward = []
    for module, path in MODULES.items():
        src = _package(module)
        for imported, name, line in _imports(path, top_level_only=False):
            if imported.startswith("<"):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {imported}")
                continue
            dst = _package(_target(imported, name))
            if src in RANK and dst in RANK and RANK[dst] > RANK[src]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {src} imports {imported}.{name} ({dst} is above)")
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = {m: {_target(i, n) for i, n, _ in _imports(p, top_level_only=True) if _target(i, n) in MODULES} - {m}
             for m, p in MODULES.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"
    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not cycles, "module-level import cycles:\n" + "\n".join(cycles)


def test_no_private_names_across_packages():
    leaks = []
    for module, path in MODULES.items():
        for imported, name, line in _imports(path, top_level_only=False):
            if name and name.startswith("_") and name != "__version__" and _package(module) != _package(imported):
                leaks.append(f"{path.relative_to(ROOT)}:{line}: {imported}.{name}")
    assert not leaks, "private names imported from another package (make them public where shared):\n" + "\n".join(leaks)


def test_modules_stay_readable():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them where they hold several concerns): {long}"


def _is_command(fn: ast.FunctionDef) -> bool:
    """A click command: its docstring is the ``--help`` text, its options document the arguments."""
    return any("command" in ast.unparse(d) or "group" in ast.unparse(d) for d in fn.decorator_list)


def _documented(doc: str) -> set[str] | None:
    """The names a numpydoc ``Parameters`` section documents (None without one)."""
    m = re.search(r"\n\s*Parameters\n\s*-{5,}\n(.*?)(?:\n\s*\n\s*[A-Z][a-z]+\n\s*-{5,}|\Z)", doc, re.S)
    if not m:
        return None
    lines = [line for line in m.group(1).splitlines() if line.strip()]
    indent = min(len(line) - len(line.lstrip()) for line in lines) if lines else 0
    names = set()
    for line in lines:
        if len(line) - len(line.lstrip()) == indent:  # an entry, not its description
            head = line.strip().split(" : ")[0].rstrip(":")
            names |= {n.strip().lstrip("*") for n in head.split(",")}
    return names


def test_public_functions_document_their_parameters():
    """numpydoc ``Parameters`` naming every argument, for public functions and methods with 3 or more."""
    missing = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        candidates = [(f, "") for f in tree.body if isinstance(f, ast.FunctionDef)]
        candidates += [(f, c.name + ".") for c in tree.body if isinstance(c, ast.ClassDef) and not c.name.startswith("_")
                       for f in c.body if isinstance(f, ast.FunctionDef)]
        for fn, owner in candidates:
            if fn.name.startswith("_") or _is_command(fn):
                continue
            args = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs if a.arg not in ("self", "cls")]
            args += [a.arg for a in (fn.args.vararg, fn.args.kwarg) if a]
            if len(args) < 3:
                continue
            documented = _documented(ast.get_docstring(fn) or "")
            if documented is None:
                missing.append(f"{module}.{owner}{fn.name}: no Parameters section")
            elif set(args) - documented:
                missing.append(f"{module}.{owner}{fn.name}: {sorted(set(args) - documented)} not documented")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("name, registry", [
    ("forecast models", "analytics_lib.forecast.models:MODELS"),
    ("anomaly detectors", "analytics_lib.analysis.anomaly.scores:DETECTORS"),
    ("report outputs", "analytics_lib.jobs.publish:OUTPUT_WRITERS"),
    ("analyses", "analytics_lib.analysis.registry:ANALYSES"),
    ("parallel backends", "analytics_lib.core.parallel:BACKENDS"),
    ("engines", "analytics_lib.compute.engine:ENGINES"),
])
def test_registries_load_every_built_in(name, registry):
    import importlib

    module, _, attr = registry.partition(":")
    reg = getattr(importlib.import_module(module), attr)
    assert reg.group.startswith("analytics_workbench."), name
    for entry in reg.names():
        assert reg.get(entry) is not None, f"{name}: {entry} does not load"
    assert not reg.errors, reg.errors
