"""Colours that survive colour-vision deficiency, and the check that says so.

About one man in twelve sees red and green as one colour. The palettes of the charts and the
dashboards' tiles are built from the Okabe-Ito set (designed to stay apart for protanopia,
deuteranopia and tritanopia; :data:`CYCLE` is every multi-series chart's colour cycle) and checked with :func:`cvd_distance`: every pair of colours a
reader must tell apart keeps a CIE76 distance of at least :data:`MIN_DISTANCE` after simulating
each deficiency (Machado, Oliveira and Fernandes 2009, severity 1.0).
"""
from __future__ import annotations

from itertools import combinations
from typing import Iterable, Mapping

import numpy as np

#: The Okabe-Ito colours (Color Universal Design, 2008).
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7"}
#: Good against bad (a gain and a loss, the high and the low end of a range): blue and vermillion.
GOOD, BAD = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
#: The colour cycle of every chart with several series (the Okabe-Ito set, most distinct first).
CYCLE = tuple(OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue",
                                     "yellow", "black"))
#: The smallest CIE76 distance two colours a reader must tell apart keep under any deficiency
#: (the Okabe-Ito colours keep at least 15.6 from each other).
MIN_DISTANCE = 15.0

# Machado et al. (2009), severity 1.0, applied to linear RGB
_MACHADO = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
DEFICIENCIES = ("normal", *_MACHADO)


def _linear(hex_color: str) -> np.ndarray:
    h = hex_color.lstrip("#")
    c = np.array([int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ np.clip(linear, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen_as(hex_color: str, deficiency: str = "normal") -> np.ndarray:
    """CIE L*a*b* of a colour as a viewer with ``deficiency`` sees it.

    Parameters
    ----------
    hex_color : str
        ``"#RRGGBB"``.
    deficiency : {"normal", "protanopia", "deuteranopia", "tritanopia"}

    Examples
    --------
    >>> [round(float(v)) for v in seen_as("#ffffff")]
    [100, 0, 0]
    """
    lin = _linear(hex_color)
    return _lab(lin if deficiency == "normal" else _MACHADO[deficiency] @ lin)


def cvd_distance(a: str, b: str) -> float:
    """The smallest CIE76 distance between two colours over normal vision and the three deficiencies.

    Examples
    --------
    >>> cvd_distance("#2ca02c", "#d62728") < MIN_DISTANCE  # matplotlib's green and red: one colour to some
    True
    >>> cvd_distance(GOOD, BAD) >= MIN_DISTANCE
    True
    """
    return min(float(np.linalg.norm(seen_as(a, d) - seen_as(b, d))) for d in DEFICIENCIES)


def confusable(colors: Mapping[str, str] | Iterable[str], *, minimum: float = MIN_DISTANCE) -> list[tuple]:
    """The pairs of ``colors`` closer than ``minimum`` for some viewer, with their distance.

    Examples
    --------
    >>> confusable({"new": "#2ca02c", "dormant": "#d62728"})
    [('new', 'dormant', 7.3)]
    """
    items = dict(colors) if isinstance(colors, Mapping) else {c: c for c in colors}
    return [(x, y, round(d, 1)) for x, y in combinations(items, 2)
            if (d := cvd_distance(items[x], items[y])) < minimum]


def subplots(*args, **kwargs):
    """``matplotlib.pyplot.subplots`` whose axes draw their series in :data:`CYCLE`.

    Examples
    --------
    >>> fig, ax = subplots()
    >>> ax.plot([0, 1])[0].get_color().lower() == CYCLE[0].lower()
    True
    """
    import matplotlib.pyplot as plt
    from cycler import cycler

    fig, axes = plt.subplots(*args, **kwargs)
    for a in np.ravel(axes):
        a.set_prop_cycle(cycler(color=list(CYCLE)))
    return fig, axes
