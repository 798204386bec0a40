"""Keeping old spellings working: keyword arguments renamed for the one vocabulary of the public API,
and the modules of the flat 0.1 layout.

``docs/architecture.md`` ("Vocabulary") lists the words: ``events``, ``series``, ``granularity``,
``horizon``, ``source`` / ``store``, ``level``, ``dates``, ``window``, ``within``. A function whose
argument was renamed takes the old keyword for a while, with a :class:`RenamedArgumentWarning`.

A module of the flat layout (``analytics_lib.roi``, ``analytics_lib.widgets``, ...) still imports, with
a :class:`MovedModuleWarning`; its names are looked up where they live now (:data:`MOVED_MODULES`).
Models saved by 0.1 (``save_model``) load without a warning.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings
from typing import Callable, Iterator

from analytics_lib.core.errors import WorkbenchError


class RenamedArgumentWarning(FutureWarning):
    """A keyword argument was given by its old name (it still works; the message says the new one)."""


def renamed(**old_to_new: str) -> Callable:
    """Decorator: accept the old keyword names ``old_to_new`` of a function's arguments.

    Examples
    --------
    >>> @renamed(h="horizon")
    ... def forecast(series, *, horizon):
    ...     return horizon
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     forecast([], h=7), caught[0].category.__name__
    (7, 'RenamedArgumentWarning')
    >>> forecast([], h=7, horizon=7)
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: forecast() got horizon and its old name h: give horizon only
    """
    def decorate(fn: Callable) -> Callable:
        label = fn.__qualname__.replace(".__init__", "")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise WorkbenchError(f"{label}() got {new} and its old name {old}: give {new} only")
                    warnings.warn(f"{label}(): {old}= is now called {new}=", RenamedArgumentWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        wrapper.renamed_arguments = dict(old_to_new)
        return wrapper
    return decorate


_P = "analytics_lib."
#: Modules of the flat 0.1 layout that are gone, and the modules their names live in now (the first
#: that has a name wins). Old modules that are packages now (``forecast``, ``jobs``, ``cli``) import
#: as they are.
MOVED_MODULES: dict[str, tuple[str, ...]] = {_P + old: tuple(_P + m for m in new) for old, new in {
    "anomaly": ("analysis.anomaly.detect", "analysis.anomaly.series", "analysis.anomaly.scores",
                "analysis.anomaly.attribution", "analysis.anomaly.evaluation"),
    "datasets": ("data.synthetic.events", "data.synthetic.series", "data.synthetic.world"),
    "engine": ("compute.engine", "compute.dask.cluster", "compute.dask.readers", "compute.dask.partition",
               "compute.dask.analyses", "core.sources"),
    "errors": ("core.errors",),
    "insights": ("analysis.insights.model", "analysis.insights.ranking", "analysis.insights.impact",
                 "analysis.insights.stats", "analysis.anomaly.series", "report.narrative.workflow"),
    "io": ("data.load", "data.files", "data.sql", "core.sources"),
    "markup": ("core.markup",),
    "params": ("report.params", "core.timewindow"),
    "paths": ("core.paths",),
    "plots": ("report.plots.workflow", "report.plots.anomaly", "report.plots.forecast", "report.plots.roi",
              "report.plots.predict", "report.plots.style"),
    "predict": ("analysis.predict.churn", "analysis.predict.satisfaction", "analysis.predict.features",
                "analysis.predict.splits", "analysis.predict.evaluation", "analysis.predict.persistence",
                "report.params"),
    "procs": ("core.procs",),
    "redaction": ("core.redaction",),
    "roi": ("analysis.roi.inputs", "analysis.roi.result", "analysis.roi.simulation", "analysis.roi.assumptions",
            "analysis.roi.finance", "report.narrative.roi", "report.params"),
    "schema": ("core.schema",),
    "serve": ("dashboards.serve",),
    "tables": ("report.tables", "analysis.workflow.experience"),
    "validation": ("data.validation",),
    "voila_app": ("dashboards.voila_app",),
    "widgets": ("dashboards.widgets", "dashboards.marts", "dashboards.published", "dashboards.views.overview",
                "dashboards.views.forecast", "dashboards.views.roi", "dashboards.views.common", "core.paths"),
    "workflow": ("analysis.workflow.kpis", "analysis.workflow.sessions", "analysis.workflow.funnels",
                 "analysis.workflow.transitions", "analysis.workflow.bottlenecks", "analysis.workflow.retention",
                 "analysis.workflow.experience", "core.timewindow"),
}.items()}


class MovedModuleWarning(FutureWarning):
    """A module of the flat 0.1 layout was imported (it still works; the message says where its names are)."""


class _MovedModule(types.ModuleType):
    """An old module: each name is looked up in the modules it moved to."""

    __moved_to__: tuple[str, ...] = ()

    def __getattr__(self, name: str):
        if not name.startswith("__"):
            for target in self.__moved_to__:
                module = importlib.import_module(target)
                if name in vars(module):
                    return vars(module)[name]
        raise AttributeError(f"module {self.__name__!r} (moved to {', '.join(self.__moved_to__)}) has no "
                             f"attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({n for t in self.__moved_to__ for n in vars(importlib.import_module(t)) if not n.startswith("_")})


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the modules of :data:`MOVED_MODULES` as :class:`_MovedModule` aliases."""

    def find_spec(self, fullname: str, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED_MODULES else None

    def create_module(self, spec) -> types.ModuleType:
        module = _MovedModule(spec.name)
        module.__moved_to__ = MOVED_MODULES[spec.name]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        package = ".".join(module.__moved_to__[0].split(".")[:3])
        warnings.warn(f"{module.__name__} is the 0.1 layout: import from analytics_lib or {package} "
                      "(docs/architecture.md)", MovedModuleWarning, stacklevel=2)


def install_moved_modules() -> None:
    """Let ``import analytics_lib.<old module>`` work (called once by ``analytics_lib/__init__``)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())


@contextlib.contextmanager
def moved_modules_quietly() -> Iterator[None]:
    """Within the block, old modules import without a warning (loading a model saved by 0.1).

    Examples
    --------
    >>> with moved_modules_quietly():
    ...     import analytics_lib.roi as old
    >>> old.roi_inputs.__module__
    'analytics_lib.analysis.roi.inputs'
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MovedModuleWarning)
        yield
