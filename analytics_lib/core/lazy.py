"""Lazy package exports (PEP 562): a package names its public API without importing its modules.

``import analytics_lib.forecast`` in a worker process then costs nothing until a name is used,
and ``from analytics_lib.forecast import auto_forecast`` imports ``forecast.selection`` only.
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable, Callable, list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, whose names live in its submodules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to list of str
        Submodule (relative to ``package``) -> the public names it defines.

    Returns
    -------
    tuple
        Assign it in the package's ``__init__``:
        ``__getattr__, __dir__, __all__ = lazy_exports(__name__, {...})``.

    Examples
    --------
    >>> getattr_, dir_, all_ = lazy_exports("analytics_lib.core", {"redaction": ["redact"]})
    >>> all_, getattr_("redact")("postgresql://u:pw@h/d")
    (['redact'], 'postgresql://u:***@h/d')
    """
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(module_of))

    return __getattr__, __dir__, sorted(module_of)
