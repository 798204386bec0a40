"""core.files: files replaced whole, never half-written, temporary files never left behind."""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from analytics_lib.core.files import atomic_write, write_temp


def test_text_bytes_and_writer_functions_replace_the_file(tmp_path):
    target = tmp_path / "out.csv"
    atomic_write(target, "a\n1\n")
    assert target.read_text() == "a\n1\n"
    atomic_write(target, "é".encode("utf-8"))
    assert target.read_text(encoding="utf-8") == "é"
    atomic_write(target, lambda p: pd.DataFrame({"a": [1, 2]}).to_csv(p, index=False))
    assert pd.read_csv(target)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "model.json"
    atomic_write(target, "old")

    def broken(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_the_temporary_keeps_the_extension_so_format_by_suffix_writers_work(tmp_path):
    target = tmp_path / "state.npz"
    tmp = write_temp(target, lambda p: np.savez(p, x=np.arange(3)))   # numpy adds .npz unless the name has it
    assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".npz" and tmp.is_file()
    assert not target.exists()
    atomic_write(target, lambda p: np.savez(p, x=np.arange(3)))
    assert np.load(target)["x"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([tmp.name, "state.npz"])


def test_concurrent_writers_and_a_reader_never_see_a_partial_file(tmp_path):
    target = tmp_path / "shared.txt"
    bodies = [str(i) * 200_000 for i in range(6)]
    atomic_write(target, bodies[0])
    seen: set[str] = set()
    stop = threading.Event()

    def read():
        while not stop.is_set():
            seen.add(target.read_text())

    def write(body):
        for _ in range(20):
            atomic_write(target, body)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(b,)) for b in bodies]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert seen and seen <= set(bodies)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]


def test_files_get_the_mode_a_plain_open_gives_not_owner_only(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "report.html", "<p>x</p>")
        (tmp_path / "plain.html").write_text("<p>x</p>")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "report.html").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.html").stat().st_mode) == 0o644
