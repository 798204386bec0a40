"""Files written whole: a reader sees the old file or the new one, never half of one.

Every file the workbench writes for someone else to read (reports, ledgers, run results, saved
models, monitor state, the reports index) goes through here: the content is written to a fresh
temporary file in the same folder (so the rename stays on one file system) and then renamed over
the target with :func:`os.replace`, which is atomic on POSIX. A failed write leaves the target as it
was and removes its temporary file. Standard library only (the papermill child imports it).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

#: What can be written: text (UTF-8), bytes, or a function that writes the file at the path it is given.
Content = Union[str, bytes, Callable[[Path], object]]


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` sets it, which races with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_temp(path: str | os.PathLike, content: Content) -> Path:
    """Write ``content`` to a new temporary file next to ``path`` and return the temporary file's path.

    The caller renames it (``os.replace(tmp, path)``) when it is ready, e.g. after several files
    are all written. The temporary name is hidden (leading dot: readers of a folder skip it),
    unique (concurrent writers never share it) and ends with ``path``'s extension, so writers
    that choose a format by extension (pandas, numpy's ``.npz``) behave as they would on
    ``path``. Its mode is what ``open()`` would give (``0666`` less the umask), not
    ``mkstemp``'s owner-only ``0600``: reports are read by others. On any error the temporary
    file is removed and the error raised.

    Examples
    --------
    >>> import tempfile, pathlib, os
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> tmp = write_temp(target, "hello"); tmp.name.endswith(".txt"), target.exists()
    (True, False)
    >>> os.replace(tmp, target); target.read_text()
    'hello'
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600: give the mode a plain open() would (reports are shared)
        if callable(content):
            os.close(fd)
            content(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: str | os.PathLike, content: Content) -> Path:
    """Replace ``path`` with ``content`` in one step; returns ``path``.

    ``content`` is text (written as UTF-8), bytes, or a function ``write(tmp_path)`` that writes
    the file (``lambda p: frame.to_parquet(p)``). Readers never see a partial file, and a failed
    write leaves the old file in place.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "data.json"
    >>> _ = atomic_write(target, '{"a": 1}'); target.read_text()
    '{"a": 1}'
    >>> _ = atomic_write(target, lambda p: p.write_text("[]")); target.read_text()
    '[]'
    """
    path = Path(path)
    tmp = write_temp(path, content)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
