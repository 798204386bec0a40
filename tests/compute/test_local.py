"""The local process pool: with this process helping, results keep their order and errors are raised."""
from __future__ import annotations

import pytest


def test_pool_with_this_process_helping_keeps_order_and_raises():
    import math

    from analytics_lib.compute.local import _pool_with_parent

    tasks = list(range(-60, 0))
    assert _pool_with_parent(abs, tasks, 2, None) == [abs(t) for t in tasks]
    with pytest.raises(ValueError, match="math domain error"):  # from whichever process ran it
        _pool_with_parent(math.sqrt, [4.0] * 30 + [-1.0] + [9.0] * 30, 2, None)
