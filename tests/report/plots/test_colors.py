"""Colours survive colour-vision deficiency: every palette whose colours a reader must tell apart
(chart series, severities, lifecycle states, cash-flow kinds, good against bad on the tiles) keeps a
CIE76 distance of at least MIN_DISTANCE under simulated protanopia, deuteranopia and tritanopia, and
the charts really draw with them."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import pytest  # noqa: E402

from analytics_lib.dashboards.widgets import STYLE  # noqa: E402
from analytics_lib.report.plots import colors as C  # noqa: E402
from analytics_lib.report.plots import roi as R  # noqa: E402
from analytics_lib.report.plots import style as S  # noqa: E402


def test_the_simulation_finds_the_classic_confusion():
    assert C.cvd_distance("#2ca02c", "#d62728") < 10  # matplotlib's green and red
    assert C.cvd_distance("#ffffff", "#000000") == pytest.approx(100, abs=0.5)
    assert C.confusable(C.OKABE_ITO) == []


@pytest.mark.parametrize("name, palette", [
    ("chart series", list(C.CYCLE)), ("good/bad", [C.GOOD, C.BAD]), ("severity", S._SEVERITY_COLORS),
    ("lifecycle", S._LIFECYCLE_COLORS), ("cash-flow kinds", R._KIND_COLORS),
])
def test_palettes_stay_apart_for_colour_blind_readers(name, palette):
    assert C.confusable(palette) == [], name


def test_tile_colours_stay_apart_and_readable():
    good = re.search(r"\.wb-good \.wb-tile-change \{color: (#\w{6});", STYLE).group(1)
    bad = re.search(r"\.wb-bad \.wb-tile-change \{color: (#\w{6});", STYLE).group(1)
    assert C.cvd_distance(good, bad) >= C.MIN_DISTANCE


def test_multi_series_charts_draw_with_the_safe_cycle():
    import pandas as pd

    from analytics_lib.report.plots import plot_cost_by

    table = pd.DataFrame({"period": pd.date_range("2025-06-02", periods=4, freq="7D", tz="UTC").repeat(3),
                          "model": ["a", "b", "c"] * 4, "value": [1.0, 2.0, 3.0] * 4})
    fig = plot_cost_by(table)
    drawn = {mcolors.to_hex(c).upper() for a in fig.axes for c in
             [ln.get_color() for ln in a.get_lines()] + [p.get_facecolor() for p in a.patches]
             + [fc for coll in a.collections for fc in coll.get_facecolor()]}
    assert drawn and drawn <= {c.upper() for c in C.CYCLE} | {"#FFFFFF"}, drawn
