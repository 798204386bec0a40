"""Experiments planted in generated events: who was assigned to which variant, and what it did.

:func:`plant_experiments` takes clean events (:func:`~analytics_lib.data.synthetic.events.synthetic_events`)
and returns them with the planted effects, the **assignment table** (``user_id, experiment,
variant, assigned_at``: the contract of experiment data, see ``docs/events.md``) and the truth.
A user active on or after an experiment's start is assigned at their first event from then on,
to a variant drawn with the planned shares (its own random generator: the events of the other
users are unchanged). In the sessions of a treated user from the assignment on:

- ``accept_flip``: an ``export`` at the end of the workflow becomes an ``accept`` with this
  probability, so the accept rate (accepts per generation) rises by the factor
  ``(a + (1 - a) accept_flip) / a`` where ``a`` is the control's accepted share of finished
  sessions (0.7 in the generator);
- ``latency_factor``, ``cost_factor``: the latency and the cost of its generations (and errors'
  latency) are multiplied (a slower, dearer model: the trade-off a guardrail watches).

The defaults: ``prompt-v2`` (a real effect: accept rate +12.9 %, latency +15 %, cost +20 %) and
``cache-aa`` (an A/A test: two identical variants, no effect), both over the last 28 days.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError

#: The accepted share of finished sessions in the generator (``world._ACCEPT_SHARE``).
ACCEPT_SHARE = 0.70


@dataclass(frozen=True)
class PlantedExperiment:
    """One experiment to plant: its variants (the control first), their shares, its start (days
    before the end of the events) and the treatment's effects (the other variants: none)."""

    name: str
    variants: tuple[str, ...] = ("control", "treatment")
    shares: tuple[float, ...] = (0.5, 0.5)
    start_days_before_end: int = 28
    accept_flip: float = 0.0
    latency_factor: float = 1.0
    cost_factor: float = 1.0
    treated: tuple[str, ...] = ("treatment",)

    def expected(self) -> dict[str, float]:
        """The planted relative effects on the experiment metrics (treatment against control)."""
        accept = (ACCEPT_SHARE + (1 - ACCEPT_SHARE) * self.accept_flip) / ACCEPT_SHARE - 1
        return {"accept_rate": accept, "latency_ms": self.latency_factor - 1, "cost_per_user": self.cost_factor - 1,
                "cost_per_accept": self.cost_factor / (1 + accept) - 1}


DEFAULT_EXPERIMENTS: tuple[PlantedExperiment, ...] = (
    PlantedExperiment("prompt-v2", accept_flip=0.3, latency_factor=1.15, cost_factor=1.2),
    PlantedExperiment("cache-aa", variants=("a", "b"), treated=()),
)


@dataclass(frozen=True)
class PlantedData:
    """Events with planted experiments, their assignment table and what was planted (by name)."""

    events: pd.DataFrame
    assignments: pd.DataFrame
    truth: dict = field(default_factory=dict)


def plant_experiments(events: pd.DataFrame, experiments: Sequence[PlantedExperiment] = DEFAULT_EXPERIMENTS, *,
                      seed: int = 0) -> PlantedData:
    """Assign the users of ``events`` to the experiments' variants and plant their effects.

    Parameters
    ----------
    events : DataFrame
        Clean events sorted by time (``synthetic_events(...).events``).
    experiments : sequence of PlantedExperiment
        What to plant (default :data:`DEFAULT_EXPERIMENTS`).
    seed : int
        Seed of the assignment's own random generator.

    Returns
    -------
    PlantedData

    Examples
    --------
    >>> from analytics_lib.data.synthetic.events import synthetic_events
    >>> p = plant_experiments(synthetic_events(20_000, days=56, end="2025-06-30", seed=0).events)
    >>> sorted(p.assignments["experiment"].unique()), round(p.truth["prompt-v2"]["expected"]["accept_rate"], 3)
    (['cache-aa', 'prompt-v2'], 0.129)
    """
    rng = np.random.default_rng([seed, 22])
    ev = events.copy()
    end = ev[S.TS].max().floor("D") + pd.Timedelta(days=1)
    rows, truth = [], {}
    et = ev[S.EVENT_TYPE].astype(str).to_numpy()
    users = ev[S.USER_ID].astype(str).to_numpy()
    for exp in experiments:
        if len(exp.variants) < 2 or len(exp.shares) != len(exp.variants) or not np.isclose(sum(exp.shares), 1):
            raise WorkbenchError(f"experiment {exp.name!r}: give two or more variants and shares that sum to 1")
        start = end - pd.Timedelta(days=exp.start_days_before_end)
        after = (ev[S.TS] >= start).to_numpy()
        first = ev.loc[after].groupby(ev.loc[after, S.USER_ID].astype(str), observed=True)[S.TS].min()
        variant = np.asarray(exp.variants)[rng.choice(len(exp.variants), size=len(first), p=exp.shares)]
        assign = pd.DataFrame({"user_id": first.index.to_numpy(), "experiment": exp.name, "variant": variant,
                               "assigned_at": first.to_numpy()})
        rows.append(assign)
        treated_users = set(assign.loc[assign["variant"].isin(exp.treated), "user_id"])
        if treated_users and (exp.accept_flip or exp.latency_factor != 1 or exp.cost_factor != 1):
            # from the assignment on: the user's events at or after their first event since the start
            on = after & np.isin(users, list(treated_users))
            flip = on & (et == "export") & (rng.random(len(ev)) < exp.accept_flip)
            et = np.where(flip, "accept", et)
            gen = on & np.isin(et, ["generation", "error"])
            ev.loc[gen, S.LATENCY_MS] = ev.loc[gen, S.LATENCY_MS] * exp.latency_factor
            paid = on & (et == "generation")
            ev.loc[paid, S.COST_USD] = ev.loc[paid, S.COST_USD] * exp.cost_factor
        truth[exp.name] = {"start": start, "variants": list(exp.variants), "shares": list(exp.shares),
                           "treated": list(exp.treated), "users": int(len(assign)),
                           "expected": exp.expected() if exp.treated else {k: 0.0 for k in exp.expected()}}
    ev[S.EVENT_TYPE] = pd.Categorical(et, categories=events[S.EVENT_TYPE].cat.categories) \
        if isinstance(events[S.EVENT_TYPE].dtype, pd.CategoricalDtype) else et
    assignments = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["user_id", "experiment", "variant", "assigned_at"])
    return PlantedData(ev, assignments, truth)
