"""Visual regression: an image compared with its approved twin in ``tests/visual/``, with a tolerance.

A pixel differs when one of its channels moves by more than ``PIXEL_TOLERANCE`` (anti-aliasing and
font hinting stay below); an image fails when more than ``SHARE_TOLERANCE`` of its pixels differ or
when its size changed (a layout change). On a failure the new image and a diff (differing pixels
in magenta over a faded copy) are written to ``reports/visual/`` and the message names them.

After an intended change, approve the new images (then look at ``git diff --stat tests/visual`` and
the images before committing them)::

    make approve-visual     # = WORKBENCH_APPROVE_VISUAL=1 pytest tests/dashboards/test_visual.py tests/report/test_pdf_visual.py
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

APPROVED = Path(__file__).parent / "visual"
OUT = Path(__file__).resolve().parents[1] / "reports" / "visual"
APPROVE_ENV = "WORKBENCH_APPROVE_VISUAL"
PIXEL_TOLERANCE = 40
SHARE_TOLERANCE = 0.002


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def check_image(png: bytes, name: str) -> str | None:
    """Compare ``png`` with ``tests/visual/<name>.png``; None when they match (or were just
    approved), else a message saying how they differ and where the new image and diff are."""
    from PIL import Image
    import io

    approved = APPROVED / f"{name}.png"
    if os.environ.get(APPROVE_ENV) == "1":
        APPROVED.mkdir(parents=True, exist_ok=True)
        Image.open(io.BytesIO(png)).convert("RGB").save(approved, optimize=True)
        return None
    if not approved.exists():
        return f"{name}: no approved image {approved.relative_to(APPROVED.parent.parent)}: run `make approve-visual`"
    OUT.mkdir(parents=True, exist_ok=True)
    actual_path = OUT / f"{name}.actual.png"
    actual_path.write_bytes(png)
    new, old = _read(actual_path), _read(approved)
    if new.shape != old.shape:
        return (f"{name}: size {new.shape[1]}x{new.shape[0]} px, approved {old.shape[1]}x{old.shape[0]} px "
                f"(the layout changed); new image: {actual_path}")
    differs = np.abs(new - old).max(axis=2) > PIXEL_TOLERANCE
    share = float(differs.mean())
    if share <= SHARE_TOLERANCE:
        actual_path.unlink()
        return None
    diff = (new * 0.25 + 191).astype(np.uint8)
    diff[differs] = (255, 0, 255)
    diff_path = OUT / f"{name}.diff.png"
    Image.fromarray(diff).save(diff_path)
    return (f"{name}: {share:.2%} of the pixels differ (tolerance {SHARE_TOLERANCE:.1%}); new image: "
            f"{actual_path}, diff: {diff_path}; if the change is intended, run `make approve-visual`")
