"""The experiments dashboard's view: for one experiment of the mart, tiles (users, the split check,
each primary metric's effect), the effects table and the effect day by day.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.dashboards.marts import ExperimentMart
from analytics_lib.dashboards.published import DashboardData
from analytics_lib.dashboards.views.common import _mart


@dataclass(frozen=True)
class ExperimentView:
    """What the experiments dashboard shows for one experiment.

    Attributes
    ----------
    experiment : str
    tiles : DataFrame
        ``kpi, label, text, change_text, tone``: the users per variant, the split check and the
        effect of each primary metric (tone from its decision).
    effects : DataFrame
        The effects table as shown (one row per variant and metric, with its decision).
    looks : DataFrame
        The effect at the end of every day (``plot_experiment_looks``).
    summary : str
        One sentence: the experiment, its control and the users.
    """

    experiment: str
    tiles: pd.DataFrame
    effects: pd.DataFrame
    looks: pd.DataFrame
    summary: str


def _tone(decision: str) -> str:
    if " better than " in decision:
        return "good"
    if " worse than " in decision or decision.startswith("guardrail breached"):
        return "bad"
    return "neutral"


def experiment_view(data: DashboardData | ExperimentMart, *, experiment: Any = None) -> ExperimentView:
    """The experiments dashboard for one experiment (None: the first of the mart).

    Parameters
    ----------
    data : DashboardData or ExperimentMart
    experiment : str, optional
        Its name in the assignment table.

    Raises
    ------
    WorkbenchError
        An unknown experiment, or one that could not be analysed (the reason, e.g. a sample
        ratio mismatch).

    Examples
    --------
    >>> from analytics_lib.dashboards.marts import experiment_mart
    >>> from analytics_lib.data.synthetic.events import synthetic_events
    >>> from analytics_lib.data.synthetic.experiments import plant_experiments
    >>> p = plant_experiments(synthetic_events(60_000, days=56, end="2025-06-30", seed=0).events)
    >>> v = experiment_view(experiment_mart(p.events, p.assignments), experiment="prompt-v2")
    >>> v.tiles["kpi"].tolist()[:2], v.summary
    (['users', 'split'], 'prompt-v2: 275 users, control against treatment.')
    """
    mart = _mart(data, ExperimentMart)
    names = mart.experiments
    name = names[0] if experiment in (None, "") and names else experiment
    if name not in names:
        raise WorkbenchError(f"experiment={experiment!r} is not in the assignment table: choose one of "
                             f"{', '.join(names) or 'none (no assignments)'}")
    status = mart.status.set_index("experiment").loc[name]
    if status["message"]:
        raise WorkbenchError(f"{name} cannot be analysed: {status['message']}")
    eff = mart.effects[mart.effects["experiment"] == name].reset_index(drop=True)
    looks = mart.looks[mart.looks["experiment"] == name].reset_index(drop=True)
    variants = sorted(set(eff["variant"]))
    rows = [{"kpi": "users", "label": "Users in the experiment", "text": f"{int(status['users']):,}",
             "change_text": f"{status['control']} against {', '.join(variants)}", "tone": "neutral"},
            {"kpi": "split", "label": "Split check (sample ratio)", "text": f"p = {status['srm_p']:.2f}",
             "change_text": "matches the plan", "tone": "neutral"}]
    for r in eff[eff["role"] == "primary"].itertuples():
        rel = f"{r.relative:+.1%}" if np.isfinite(r.relative) else f"{r.diff:+.3g}"
        rows.append({"kpi": f"{r.variant}:{r.metric}", "label": f"{r.label} ({r.variant})", "text": rel,
                     "change_text": r.decision.split(" (")[0], "tone": _tone(r.decision)})
    shown = eff[["variant", "metric", "role", "control", "treatment", "relative", "relative_low", "relative_high",
                 "p_value", "decision"]]
    summary = f"{name}: {int(status['users']):,} users, {status['control']} against {', '.join(variants)}."
    return ExperimentView(name, pd.DataFrame(rows), shown, looks, summary)
