"""``score_threshold``: the sensitivity (a name or a number) maps to a score threshold, and bad values
say what to give."""
from __future__ import annotations

import pytest

from analytics_lib import WorkbenchError
from analytics_lib.analysis.anomaly.series import score_threshold


def test_sensitivity_maps_to_a_threshold_and_bad_values_say_what_to_give():
    assert [score_threshold(s) for s in ("low", "medium", "high")] == [4.5, 3.5, 2.5]
    assert score_threshold(" Medium ") == 3.5 and score_threshold(0.9) == pytest.approx(1.9)
    for bad in ("extreme", 0, 1, 1.5, -0.1, True, None, "0.5"):
        with pytest.raises(WorkbenchError, match="sensitivity="):
            score_threshold(bad)
