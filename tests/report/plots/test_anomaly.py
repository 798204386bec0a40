"""The anomaly figures: every detected point is marked, and the attribution highlights its headline."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analytics_lib import WorkbenchError  # noqa: E402
from analytics_lib.analysis.anomaly.attribution import drill_down  # noqa: E402
from analytics_lib.analysis.anomaly.detect import detect_anomalies  # noqa: E402
from analytics_lib.report import plots  # noqa: E402
from analytics_lib.report.plots.colors import BAD  # noqa: E402


QUALITY = ["error_rate", "latency_p95"]


def test_plot_anomalies_marks_every_detected_point(kpis):
    found = detect_anomalies(kpis, metrics=QUALITY, volume="events")
    fig = plots.plot_anomalies(kpis, found, metrics=QUALITY)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2 and all(a.get_title() and a.get_ylabel() for a in axes)
    for a, metric in zip(axes, QUALITY):
        marked = sum(len(c.get_offsets()) for c in a.collections[2:])  # after the stems and the expected circles
        assert marked == (found["metric"] == metric).sum()
    fig2 = plots.plot_anomalies(kpis, found.iloc[:0], metrics=["events"])
    assert "0 anomalies" in fig2.axes[0].get_title()
    with pytest.raises(WorkbenchError, match="needs the columns"):
        plots.plot_anomalies(kpis, found, metrics=["nope"])


def test_plot_attribution_highlights_the_headline(sample_small):
    truth = sample_small.truth
    att = drill_down(sample_small.events, metric="latency_p95", start=truth.incident_start, end=truth.incident_end)
    fig = plots.plot_attribution(att, top=5)
    ax = fig.axes[0]
    assert len(ax.patches) == 5 and ax.get_xlabel() and ax.get_ylabel()
    highlight = matplotlib.colors.to_rgb(BAD)
    red = [i for i, p in enumerate(ax.patches) if np.allclose(p.get_facecolor()[:3], highlight)]
    assert len(red) == 1
    assert ax.get_yticklabels()[red[0]].get_text().startswith(att.top["segment"])
