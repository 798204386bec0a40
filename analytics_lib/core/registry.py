"""Extension points: named implementations, built in or added by installed plug-in packages.

A :class:`Registry` holds one kind of thing: forecast models, anomaly detectors, report outputs,
analyses, parallel backends, compute engines. Built-in entries are registered by the module that
defines them, or named as ``"module:attribute"`` strings so that a registry costs no import
until an entry is used (a lower layer can name an implementation that lives in a higher one).
Other packages add entries through Python entry points, one group per registry, as papermill
finds its engines and I/O handlers::

    # the plug-in's pyproject.toml
    [project.entry-points."analytics_workbench.forecast_models"]
    croston = "my_models.intermittent:croston"

Entry points are read once, the first time a registry lists its names or is asked for a name it
does not know. A plug-in that fails to import is skipped with a warning (``Registry.errors``
keeps why): one broken package must not break every report. Entries may carry metadata, given
at registration or as a ``workbench`` dict attribute on the object (``croston.workbench =
{"auto": True}``). How to write a plug-in: ``docs/architecture.md``.
"""
from __future__ import annotations

import importlib
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from analytics_lib.core.errors import WorkbenchError

#: Prefix of every entry-point group (``analytics_workbench.<registry>``).
GROUP_PREFIX = "analytics_workbench."


@dataclass
class Entry:
    """One registered implementation: the object (or its ``"module:attribute"``), metadata, origin."""

    name: str
    target: Any
    meta: dict = field(default_factory=dict)
    origin: str = "analytics_lib"

    def load(self) -> Any:
        """The object, importing it first when registered by reference."""
        if isinstance(self.target, str) and ":" in self.target:
            module, _, attr = self.target.partition(":")
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self.target = obj
            self.meta = {**getattr(obj, "workbench", {}), **self.meta}
        return self.target


class Registry:
    """Named implementations of one extension point.

    Parameters
    ----------
    kind : str
        What the entries are, for messages (``"forecast model"``).
    group : str
        The entry-point group plug-ins register under (``"analytics_workbench.forecast_models"``).
    check : callable, optional
        Called with ``(name, obj)`` when an entry is loaded; raises ``WorkbenchError`` for an
        object that does not fit the extension point.

    Examples
    --------
    >>> shapes = Registry("shape", "analytics_workbench.example_shapes")
    >>> @shapes.register("square", sides=4)
    ... def square(x):
    ...     return x * x
    >>> shapes.get("square")(3), shapes.meta("square"), shapes.names()
    (9, {'sides': 4}, ['square'])
    >>> shapes.get("circle")
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: no shape named 'circle': choose one of square
    """

    def __init__(self, kind: str, group: str, *, check: Callable[[str, Any], None] | None = None) -> None:
        self.kind, self.group, self.check = kind, group, check
        self._entries: dict[str, Entry] = {}
        self._checked: set[str] = set()
        self._plugins_read = False
        self._lock = threading.RLock()
        #: Plug-ins that could not be loaded: entry-point name -> the reason.
        self.errors: dict[str, str] = {}

    def register(self, name: str, target: Any = None, *, replace: bool = False, origin: str = "analytics_lib",
                 **meta: Any):
        """Register ``target`` (an object or a ``"module:attribute"`` string) as ``name``.

        Without ``target``, returns a decorator. A name already taken raises unless ``replace``.

        Parameters
        ----------
        name : str
            The name to register under.
        target : object or str, optional
            The object, or a ``"module:attribute"`` string resolved when first used. None (default):
            return a decorator that registers the decorated object and returns it unchanged.
        replace : bool
            Replace an entry already registered as ``name`` instead of raising (default False).
        origin : str
            Who registers it: ``"analytics_lib"`` (default) or a plug-in's distribution name; named
            in the errors on a name clash or a failed load.
        **meta
            Metadata stored with the entry; for an object target, merged over the object's
            ``workbench`` attribute (a dict), these values winning.
        """
        if target is None:
            def decorator(obj):
                self.register(name, obj, replace=replace, origin=origin, **meta)
                return obj
            return decorator
        with self._lock:
            if name in self._entries and not replace:
                raise WorkbenchError(f"a {self.kind} named {name!r} is registered already "
                                     f"(by {self._entries[name].origin}): pick another name")
            if not isinstance(target, str):
                meta = {**getattr(target, "workbench", {}), **meta}
            self._entries[name] = Entry(name, target, dict(meta), origin)
            self._checked.discard(name)
        return target

    def unregister(self, name: str) -> None:
        """Remove an entry (tests, or a plug-in replacing a built-in under another name)."""
        with self._lock:
            self._entries.pop(name, None)
            self._checked.discard(name)

    def _read_plugins(self) -> None:
        with self._lock:
            if self._plugins_read:
                return
            self._plugins_read = True
            from importlib.metadata import entry_points

            for ep in entry_points(group=self.group):
                if ep.name in self._entries:
                    self.errors[ep.name] = f"{ep.value}: the name is taken by {self._entries[ep.name].origin}"
                    warnings.warn(f"{self.kind} plug-in {ep.name!r} ({ep.value}) ignored: the name is taken",
                                  stacklevel=3)
                    continue
                dist = getattr(getattr(ep, "dist", None), "name", None) or ep.value.split(":")[0]
                self._entries[ep.name] = Entry(ep.name, ep.value, {}, dist)

    def _entry(self, name: str) -> Entry:
        entry = self._entries.get(name)
        if entry is None:
            self._read_plugins()
            entry = self._entries.get(name)
        if entry is None:
            raise WorkbenchError(f"no {self.kind} named {name!r}: choose one of {', '.join(self.names()) or 'none'}")
        return entry

    def get(self, name: str) -> Any:
        """The implementation called ``name`` (imported on first use)."""
        entry = self._entry(name)
        try:
            obj = entry.load()
        except Exception as exc:  # a plug-in that does not import: say which and why
            if entry.origin == "analytics_lib":
                raise
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            raise WorkbenchError(f"the {self.kind} {name!r} from {entry.origin} could not be loaded: "
                                 f"{type(exc).__name__}: {exc}") from exc
        if name not in self._checked:
            if self.check is not None:
                self.check(name, obj)
            self._checked.add(name)
        return obj

    def meta(self, name: str) -> dict:
        """The entry's metadata (loading it: an object's own ``workbench`` attribute counts)."""
        self.get(name)
        return dict(self._entries[name].meta)

    def origin(self, name: str) -> str:
        """Who registered ``name``: ``analytics_lib`` or the plug-in's distribution."""
        return self._entry(name).origin

    def names(self, **meta: Any) -> list[str]:
        """Every registered name, built-ins first; with ``meta``, only entries whose metadata match.

        Plug-ins that fail to load are left out of a filtered list (with a warning).
        """
        self._read_plugins()
        names = list(self._entries)
        if not meta:
            return names
        out = []
        for n in names:
            try:
                m = self.meta(n)
            except WorkbenchError as exc:
                warnings.warn(str(exc), stacklevel=2)
                continue
            if all(m.get(k) == v for k, v in meta.items()):
                out.append(n)
        return out

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._read_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.group!r}, {len(self._entries)} entries)"
