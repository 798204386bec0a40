"""Delivery events (changes, deployments, incidents) with a planted effect of adopting the assistant.

:func:`synthetic_delivery` simulates the teams of an engineering organisation over a year; some
teams adopt the assistant at staggered dates (the *adoption* table), the others never do. Per
team: deployments on working days (Poisson), 1 + Poisson(1.5) changes per deployment, each with a
log-normal lead time (team level, a common trend that shortens every team's lead time over the
year, common weekly shocks and team-week shocks), now and then a failed deployment before a
successful one, and incidents caused by deployments with a team's failure probability and a
log-normal time to restore. From its adoption on, a team's lead times are multiplied by
``1 + effects["lead_time"]``, its deployment rate by ``1 + effects["deployment_frequency"]``, its
failure probability by ``1 + effects["change_failure_rate"]`` and its times to restore by
``1 + effects["time_to_restore"]`` (default: lead time -15 %, nothing else), all recorded in the
truth. The common trend is why a before/after comparison of the adopting teams alone is biased.

:func:`plant_adoption` makes a usage log agree with an adoption table: a team has no usage
events before it adopted (``workbench sample`` does this to its sample log).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.timewindow import parse_when
from analytics_lib.data.delivery import DeliveryData, validate_delivery

#: The sample's teams: the six of the usage log adopt, the four others never do.
DEFAULT_TEAMS = ("team-a", "team-b", "team-c", "team-d", "team-e", "team-f", "platform", "mobile", "data", "payments")
DEFAULT_ADOPTERS = 6
DEFAULT_EFFECTS = {"lead_time": -0.15, "deployment_frequency": 0.0, "change_failure_rate": 0.0,
                   "time_to_restore": 0.0}
_WEEKDAY = np.array([1.0, 1.05, 1.05, 1.0, 0.8, 0.12, 0.08])
_LT_SIGMA, _TTR_SIGMA = 0.8, 0.9
_TREND = -0.10            # log lead time over the whole span, every team (not the assistant)
_WEEK_SD, _TEAM_WEEK_SD = 0.06, 0.12
_FAILED_SHARE = 0.06      # successful deployments preceded by a failed attempt


@dataclass(frozen=True)
class SyntheticDelivery:
    """Validated delivery events, the raw frames they came from (with the malformed rows), and the truth."""

    data: DeliveryData
    raw: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)


def staggered_adoption(teams: Sequence[str], *, start, end, adopters: int = DEFAULT_ADOPTERS,
                       seed: int = 0) -> pd.DataFrame:
    """A staggered adoption table: the first ``adopters`` teams adopt on random days of the second
    half of ``start``..``end`` (never in the last six weeks); the other teams never adopt.

    Parameters
    ----------
    teams : sequence of str
    start, end : timestamp-like
        The span of the delivery events.
    adopters : int
        How many of ``teams`` (the first ones) adopt.
    seed : int

    Examples
    --------
    >>> a = staggered_adoption(["x", "y", "z"], start="2024-07-01", end="2025-06-30", adopters=2)
    >>> a["team"].tolist(), bool(a["adopted_at"].min() >= pd.Timestamp("2024-12-29", tz="UTC"))
    (['x', 'y'], True)
    """
    t0, t1 = parse_when(str(start), name="start").floor("D"), parse_when(str(end), name="end").floor("D")
    rng = np.random.default_rng([seed, 23, 1])
    half = t0 + (t1 - t0) / 2
    span = max(int(((t1 - pd.Timedelta(days=42)) - half).days), 1)
    days = np.sort(rng.choice(span, size=min(adopters, len(teams)), replace=span < adopters))
    return pd.DataFrame({"team": list(teams)[:adopters],
                         "adopted_at": [half.floor("D") + pd.Timedelta(days=int(d)) for d in days]})


def synthetic_delivery(*, teams: Sequence[str] = DEFAULT_TEAMS, adoption: pd.DataFrame | None = None,
                       end="2025-06-30", days: int = 364, effects: Mapping[str, float] | None = None,
                       authors: Mapping[str, Sequence[str]] | None = None, malformed: bool = True,
                       seed: int = 0) -> SyntheticDelivery:
    """Generate a year of delivery events with a planted adoption effect.

    Parameters
    ----------
    teams : sequence of str
        The teams (default: the sample's six, which adopt, and four that never do).
    adoption : DataFrame, optional
        ``team, adopted_at``; None: :func:`staggered_adoption` of the first six teams.
    end : timestamp-like
        The day after the last one (UTC).
    days : int
        Length of the history.
    effects : mapping, optional
        Relative effects of adoption: ``lead_time``, ``deployment_frequency``,
        ``change_failure_rate``, ``time_to_restore`` (missing: 0); None: :data:`DEFAULT_EFFECTS`.
    authors : mapping team -> ids, optional
        Who commits in each team (default: ``<team>-dev-<k>``, 8 to 20 per team).
    malformed : bool
        Add a few rows the validation must quarantine (reasons counted in the truth).
    seed : int

    Returns
    -------
    SyntheticDelivery

    Examples
    --------
    >>> s = synthetic_delivery(seed=0)
    >>> s.truth["effects"]["lead_time"], len(s.truth["adoption"])
    (-0.15, 6)
    >>> bool((s.data.counts["kept"] + s.data.counts["quarantined"] == s.data.counts["rows"]).all())
    True
    """
    eff = {**{k: 0.0 for k in DEFAULT_EFFECTS}, **(DEFAULT_EFFECTS if effects is None else dict(effects))}
    t1 = parse_when(str(end), name="end").floor("D")
    t0 = t1 - pd.Timedelta(days=days)
    if adoption is None:
        adoption = staggered_adoption(teams, start=t0, end=t1, seed=seed)
    adopted = dict(zip(adoption["team"], pd.to_datetime(adoption["adopted_at"], utc=True)))
    rng = np.random.default_rng([seed, 23])
    day = pd.date_range(t0, periods=days, freq="D")
    week = np.asarray((day - t0).days // 7)
    n_weeks = int(week.max()) + 1
    week_shock = rng.normal(0, _WEEK_SD, n_weeks)
    trend = _TREND * np.arange(days) / days
    rows_d, rows_c, rows_l, rows_i = [], [], [], []
    for ti, team in enumerate(teams):
        rate = rng.uniform(0.6, 3.0)
        mu_lt, mu_ttr = np.log(rng.uniform(18, 96)), np.log(rng.uniform(2, 30))
        p_fail = rng.uniform(0.04, 0.2)
        devs = list(authors[team]) if authors and team in authors else \
            [f"{team}-dev-{k}" for k in range(int(rng.integers(8, 21)))]
        treated = np.asarray(day >= adopted[team]) if team in adopted else np.zeros(days, bool)
        tw = rng.normal(0, _TEAM_WEEK_SD, n_weeks)
        lam = rate * _WEEKDAY[day.day_of_week] * np.where(treated, 1 + eff["deployment_frequency"], 1.0)
        n = rng.poisson(lam)
        dday = np.repeat(np.arange(days), n)
        at = day[dday] + pd.to_timedelta(rng.uniform(8, 19, len(dday)) * 3600, unit="s")
        tr = treated[dday]
        ids = [f"{team}-d{k}" for k in range(len(dday))]
        rows_d.append(pd.DataFrame({"deploy_id": ids, "team": team, "deployed_at": at, "status": "success",
                                    "environment": "production"}))
        k = 1 + rng.poisson(1.5, len(dday))
        owner = np.repeat(np.arange(len(dday)), k)
        log_lt = (mu_lt + trend[dday] + week_shock[week[dday]] + tw[week[dday]])[owner] \
            + np.where(tr[owner], np.log1p(eff["lead_time"]), 0.0) + rng.normal(0, _LT_SIGMA, len(owner))
        committed = at[owner] - pd.to_timedelta(np.exp(log_lt) * 3600, unit="s")
        cids = [f"{team}-c{j}" for j in range(len(owner))]
        rows_c.append(pd.DataFrame({"change_id": cids, "team": team, "committed_at": committed,
                                    "author": np.asarray(devs)[rng.integers(0, len(devs), len(owner))]}))
        rows_l.append(pd.DataFrame({"deploy_id": np.asarray(ids)[owner], "change_id": cids}))
        # a failed attempt an hour or two before some deployments, with the changes committed by then
        retry = np.flatnonzero(rng.random(len(dday)) < _FAILED_SHARE)
        f_at = at[retry] - pd.to_timedelta(rng.uniform(1, 3, len(retry)) * 3600, unit="s")
        f_ids = [f"{team}-f{j}" for j in range(len(retry))]
        rows_d.append(pd.DataFrame({"deploy_id": f_ids, "team": team, "deployed_at": f_at, "status": "failure",
                                    "environment": "production"}))
        pos = {d: j for j, d in enumerate(retry)}
        sel = np.isin(owner, retry)
        f_of = np.array([pos[o] for o in owner[sel]], dtype=int)
        early = committed[sel] <= f_at[f_of]
        rows_l.append(pd.DataFrame({"deploy_id": np.asarray(f_ids)[f_of][early],
                                    "change_id": np.asarray(cids)[sel][early]}))
        # incidents caused by successful deployments
        p = np.clip(p_fail * np.where(tr, 1 + eff["change_failure_rate"], 1.0), 0, 1)
        hit = np.flatnonzero(rng.random(len(dday)) < p)
        opened = at[hit] + pd.to_timedelta(rng.exponential(4.0, len(hit)) * 3600, unit="s")
        ttr = np.exp(mu_ttr + rng.normal(0, _TTR_SIGMA, len(hit))) * np.where(tr[hit], 1 + eff["time_to_restore"], 1)
        resolved = opened + pd.to_timedelta(ttr * 3600, unit="s")
        rows_i.append(pd.DataFrame({"incident_id": [f"{team}-i{j}" for j in range(len(hit))],
                                    "opened_at": opened, "resolved_at": resolved.where(resolved < t1),
                                    "deploy_id": np.asarray(ids)[hit], "team": team}))
    deployments = pd.concat(rows_d, ignore_index=True).sort_values("deployed_at", kind="stable")
    changes = pd.concat(rows_c, ignore_index=True).sort_values("committed_at", kind="stable")
    links = pd.concat(rows_l, ignore_index=True)
    incidents = pd.concat(rows_i, ignore_index=True).sort_values("opened_at", kind="stable")
    bad: dict[str, int] = {}
    if malformed:
        deployments, changes, links, incidents, bad = _malformed(deployments, changes, links, incidents, rng)
    adoption_frame = pd.DataFrame({"team": list(adopted), "adopted_at": list(adopted.values())})
    data = validate_delivery(changes, deployments, incidents, links=links, adoption=adoption_frame)
    truth = {"seed": seed, "start": str(t0.date()), "end": str(t1.date()), "teams": list(teams),
             "adoption": {t: str(v) for t, v in adopted.items()}, "never_adopted": [t for t in teams if t not in adopted],
             "effects": eff, "lead_time_trend": _TREND, "malformed_by_reason": bad,
             "definition": "lead_time: multiplicative on every change's lead time from adoption on (the geometric "
                           "mean and the median move by the same factor)"}
    return SyntheticDelivery(data, {"changes": changes, "deployments": deployments, "links": links,
                                    "incidents": incidents, "adoption": adoption_frame}, truth)


def _malformed(deployments, changes, links, incidents, rng):
    """A few rows of each kind the validation must quarantine: a deployment with no change, an
    incident with no deployment, one resolved before it opened, a commit time that is not a time."""
    d0 = deployments.iloc[:3].assign(deploy_id=[f"orphan-d{k}" for k in range(3)])
    i0 = incidents.iloc[:2].assign(incident_id=["orphan-i0", "orphan-i1"], deploy_id=[None, ""])
    i1 = incidents.iloc[2:4].assign(incident_id=["skew-i0", "skew-i1"])
    i1 = i1.assign(resolved_at=i1["opened_at"] - pd.Timedelta(hours=2))
    c0 = changes.iloc[:2].astype({"committed_at": object}).assign(change_id=["bad-c0", "bad-c1"],
                                                                   committed_at="not a time")
    bad = {"no_changes": 3, "no_deployment": 2, "clock_skew": 2, "unparsable_timestamp": 2}
    return (pd.concat([deployments, d0], ignore_index=True), pd.concat([changes.astype({"committed_at": object}), c0],
            ignore_index=True), links, pd.concat([incidents, i0, i1], ignore_index=True), bad)


def authors_from_usage(events: pd.DataFrame, teams: Sequence[str] = DEFAULT_TEAMS, *, users: int = 12,
                       others: int = 4, seed: int = 0) -> dict[str, list[str]]:
    """Who commits in each team: ``users`` of the team's usage log (its ``user_id``) and ``others``
    who never use the assistant; a team without usage gets ``users + others`` of its own.

    Parameters
    ----------
    events : DataFrame
        Usage events with ``team`` and ``user_id``.
    teams : sequence of str
    users, others : int
    seed : int

    Examples
    --------
    >>> ev = pd.DataFrame({"team": ["team-a"] * 3, "user_id": ["u1", "u2", "u3"]})
    >>> authors_from_usage(ev, ["team-a", "mobile"], users=2, others=1)["mobile"]
    ['mobile-dev-0', 'mobile-dev-1', 'mobile-dev-2']
    """
    rng = np.random.default_rng([seed, 23, 2])
    by_team = events.groupby(events[S.TEAM].astype(str), observed=True)[S.USER_ID].unique()
    out = {}
    for team in teams:
        pool = sorted(map(str, by_team.get(team, [])))
        picked = list(rng.choice(pool, size=min(users, len(pool)), replace=False)) if pool else []
        out[team] = [*picked, *(f"{team}-dev-{k}" for k in range(users + others - len(picked)))]
    return out


def plant_adoption(events: pd.DataFrame, adoption: pd.DataFrame) -> pd.DataFrame:
    """The usage events without those of a team before it adopted the assistant.

    Parameters
    ----------
    events : DataFrame
        Usage events with ``team`` and ``ts``.
    adoption : DataFrame
        ``team, adopted_at``; a team that is not listed keeps all its events.

    Examples
    --------
    >>> ev = pd.DataFrame({"team": ["a", "a", "b"], "ts": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-01-01"],
    ...                    utc=True)})
    >>> len(plant_adoption(ev, pd.DataFrame({"team": ["a"], "adopted_at": ["2025-02-01"]})))
    2
    """
    when = pd.Series(pd.to_datetime(adoption["adopted_at"], utc=True).to_numpy(), index=adoption["team"].astype(str))
    start = events[S.TEAM].astype(str).map(when)
    return events[start.isna() | (events[S.TS] >= start)].reset_index(drop=True)
