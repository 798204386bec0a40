"""The ROI figures draw the results, survive empty frames and reject bad options."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analytics_lib import WorkbenchError  # noqa: E402
from analytics_lib.analysis.roi.assumptions import Assumptions  # noqa: E402
from analytics_lib.analysis.roi.result import roi_result, tornado_table  # noqa: E402
from analytics_lib.analysis.roi.simulation import roi_simulation, scenario_table  # noqa: E402
from analytics_lib.report import plots  # noqa: E402


def test_roi_figures_draw_the_results(flat):
    a = Assumptions(realisation_rate=1.0, licence_per_seat=5, one_off_cost=20_000)
    r = roi_result(flat, a)
    sim = roi_simulation(flat, a, n=500, seed=0)
    figs = {"cashflows": plots.plot_cashflows(r), "cashflows_frame": plots.plot_cashflows(r.cashflows),
            "tornado": plots.plot_tornado(tornado_table(flat, a)),
            "tornado_roi": plots.plot_tornado(tornado_table(flat, a), metric="roi"),
            "distribution": plots.plot_roi_distribution(sim), "npv": plots.plot_roi_distribution(sim, metric="npv"),
            "by_team": plots.plot_value_by(r.by_team), "by_feature": plots.plot_value_by(r.by_feature),
            "scenarios": plots.plot_scenarios(scenario_table(flat, base=a))}
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
    cf_ax = figs["cashflows"].axes[0]
    assert len(cf_ax.patches) == len(r.cashflows)  # one bar per month
    assert any("payback" in t.get_text() for t in cf_ax.get_legend().get_texts())
    assert len(figs["tornado"].axes[0].patches) == 2 * len(tornado_table(flat, a))
    assert len(figs["by_team"].axes[0].get_yticklabels()) == len(r.by_team)


def test_roi_figures_survive_empty_frames_and_reject_bad_options(flat):
    r = roi_result(flat)
    for fn, frame in ((plots.plot_cashflows, r.cashflows.iloc[:0]), (plots.plot_value_by, r.by_team.iloc[:0]),
                      (plots.plot_scenarios, scenario_table(flat).iloc[:0])):
        fig = fn(frame)
        assert any(t.get_text() == "no data" for t in fig.axes[0].texts)
    with pytest.raises(WorkbenchError, match="metric='irr'"):
        plots.plot_tornado(tornado_table(flat), metric="irr")
    with pytest.raises(WorkbenchError, match="plot_value_by needs the columns"):
        plots.plot_value_by(pd.DataFrame({"group": ["a"]}))
