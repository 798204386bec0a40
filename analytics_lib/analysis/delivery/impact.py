"""The assistant's effect on delivery: staggered adoption, the imputation estimator, an event study.

Teams adopt the assistant at different times (the *adoption* table: ``team, adopted_at``, given
or read from the usage log with :func:`adoption_from_usage`). A two-way fixed-effects regression
with a treatment dummy is biased under staggered timing when effects differ between teams or
grow over time (already-treated teams serve as controls). This module uses the **imputation
estimator** of Borusyak, Jaravel and Spiess (2024, *Revisiting Event-Study Designs*), which is
valid under staggered timing with heterogeneous effects:

1. a team x period panel of each metric (:func:`delivery_panel`); the period in which a team
   adopted part-way is dropped, the next one is its first treated period (event time 0); for
   time to restore, the last periods are left out (an incident opened there is resolved by the
   end of the data only if it was quick: the 99th percentile of the restore times);
2. team and period fixed effects are fitted on the **untreated** cells only (never-treated
   teams and not-yet-treated periods), weighted by each cell's observations;
3. every treated cell's untreated outcome is imputed from them; its effect is the difference;
4. the effect is the weighted mean of the cells' effects; its standard error is a
   delete-one-team jackknife (teams are the unit of independence, so serial correlation within
   a team is allowed; with few teams the usual cluster-robust formula is far too narrow), and
   the interval uses Student's t with Satterthwaite's degrees of freedom of the jackknife
   (fewer when a few teams carry the variance; at most adopting teams - 1);
5. the **pre-trend check** fits the untreated cells again with an indicator of the ``leads``
   periods before adoption and tests it (same jackknife and degrees of freedom): a small p-value
   says the adopting teams already diverged before adopting, and the effect is then not
   credible. The event study shows each lead and the effect per period since adoption.

Metrics and scales (:data:`IMPACT_METRICS`): lead time and time to restore are analysed as the
mean log of their changes' or incidents' hours (the effect is a ratio of geometric means,
reported as a relative change); deployment frequency (deployments per day) and change failure
rate as levels, reported against the imputed untreated mean.

Usage intensity: with the usage events, each cell gets the share of its committing developers
(the changes' ``author``, the usage log's ``user_id``) who used the assistant in the period (or
the team's active users when the changes carry no author), and the treated cells' effects are
regressed on it (a slope with a cluster-robust error: how the effect grows with use; this part
is descriptive, the adoption effect is the causal estimate).

This is observational: see :data:`CAVEATS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.analysis.delivery.dora import change_lead_times, period_frames, with_rates
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import check_granularity, period_end, period_index, period_start

#: metric -> (label, panel outcome, panel weight or None, scale: "log" or "level", lower is better)
IMPACT_METRICS: dict[str, tuple[str, str, str | None, str, bool]] = {
    "lead_time": ("lead time for changes", "log_lead_time", "changes", "log", True),
    "deployment_frequency": ("deployments per day", "deploys_per_day", None, "level", False),
    "change_failure_rate": ("change failure rate", "change_failure_rate", "deployments", "level", True),
    "time_to_restore": ("time to restore service", "log_time_to_restore", "incidents_restored", "log", True),
}
CAVEATS = (
    "This is an observational estimate, not an experiment: teams chose (or were chosen) when to adopt.",
    "It assumes that without the assistant the adopting teams' metrics would have moved in parallel with "
    "those of the teams that had not adopted yet (the pre-trend check tests this before adoption only).",
    "Anything else that changed for a team when it adopted (a new CI system, a re-organisation, hiring, a "
    "quieter quarter) is confounded with the assistant.",
    "Teams that anticipated adopting, or that depend on adopting teams, bias the comparison.",
    "With few teams the intervals are wide; a team is the unit of independence.",
)
_MIN_MINUTES = 1.0 / 60


def adoption_from_usage(events: pd.DataFrame, *, min_users: int = 3) -> pd.DataFrame:
    """When each team adopted, read from the usage log: the first day with ``min_users`` active users.

    Parameters
    ----------
    events : DataFrame
        Validated usage events (``team``, ``user_id``, ``ts``).
    min_users : int
        Distinct active users a team needs on one day.

    Examples
    --------
    >>> ev = pd.DataFrame({"team": ["a"] * 4, "user_id": ["u1", "u1", "u2", "u3"],
    ...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-02", "2025-01-02"], utc=True)})
    >>> adoption_from_usage(ev)["adopted_at"].tolist()
    [Timestamp('2025-01-02 00:00:00+0000', tz='UTC')]
    """
    e = events[[S.TEAM, S.USER_ID, S.TS]].dropna()
    daily = e.assign(day=e[S.TS].dt.floor("D")).groupby([S.TEAM, "day"], observed=True)[S.USER_ID].nunique()
    first = daily[daily >= min_users].reset_index().groupby(S.TEAM, observed=True)["day"].min()
    return pd.DataFrame({"team": first.index.astype(str), "adopted_at": first.to_numpy()})


def delivery_panel(data, adoption: pd.DataFrame, *, granularity: str = "W",
                   usage: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per team and period with the outcomes, their weights and the adoption timing.

    Parameters
    ----------
    data : DeliveryData
        Validated delivery events.
    adoption : DataFrame
        ``team, adopted_at`` (teams not listed never adopted).
    granularity : str
        ``"W"`` (default) or ``"M"`` periods (``"D"`` is allowed but noisy).
    usage : DataFrame, optional
        Usage events, for the ``intensity`` column.

    Returns
    -------
    DataFrame
        ``team, period, deployments, deploys_per_day, changes, log_lead_time, change_failure_rate,
        incidents_restored, log_time_to_restore, adopted_at, event_time, partial, treated,
``partial`` marks the period it adopted part-way.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> d = synthetic_delivery(seed=0).data
    >>> p = delivery_panel(d, d.adoption)
    >>> p["team"].nunique(), int(p["treated"].sum()) > 0
    (10, True)
    """
    g = check_granularity(granularity)
    prod, lt, inc = period_frames(data, g)
    lt["log_lt"] = np.log(np.maximum(lt["lead_time_hours"], _MIN_MINUTES))
    inc["log_ttr"] = np.log(np.maximum(inc["ttr"], _MIN_MINUTES))
    if prod.empty:
        raise WorkbenchError("no successful production deployment: nothing to estimate (docs/delivery.md)")
    periods = period_index(prod["period"].min(), prod["period"].max(), g)
    teams = sorted(set(prod["team"]))
    grid = pd.MultiIndex.from_product([teams, periods], names=["team", "period"])
    dep = prod.groupby(["team", "period"]).agg(deployments=("deploy_id", "size"), failed=("failed", "sum"))
    chg = lt.groupby(["team", "period"]).agg(changes=("change_id", "size"), log_lead_time=("log_lt", "mean"))
    res = inc.groupby(["team", "period"]).agg(incidents_restored=("incident_id", "size"),
                                              log_time_to_restore=("log_ttr", "mean"))
    p = pd.DataFrame(index=grid).join(dep).join(chg).join(res).reset_index()
    # incidents of the last periods are resolved only if they were quick: leave those periods out
    seen = max(prod["deployed_at"].max(), data.incidents["opened_at"].max(), inc["resolved_at"].max())
    span = inc["resolved_at"] - inc["opened_at"]
    censored = p["period"].map(lambda t: period_end(t, g)) > seen - (span.quantile(0.99) if len(span) else pd.Timedelta(0))
    p.loc[censored, ["incidents_restored", "log_time_to_restore"]] = [0, np.nan]
    p = with_rates(p, g, failed="failed")
    when = pd.Series(pd.to_datetime(adoption["adopted_at"], utc=True).to_numpy(), index=adoption["team"].astype(str))
    p["adopted_at"] = p["team"].map(when)
    start = period_start(p["adopted_at"].dropna(), g).reindex(p.index)
    p["partial"] = (p["period"] == start) & (p["adopted_at"] > start)
    first_full = start.where(p["adopted_at"] == start, start.map(lambda t: period_end(t, g) if pd.notna(t) else t))
    index = {t: k for k, t in enumerate(periods)}
    pos = p["period"].map(index)
    first_pos = first_full.map(lambda t: _position(t, periods[0], g) if pd.notna(t) else np.nan)
    p["event_time"] = (pos - first_pos).astype("float64")
    p["treated"] = p["event_time"].ge(0) & ~p["partial"]
    p["intensity"] = _intensity(p, data, usage, g) if usage is not None else np.nan
    return p.drop(columns="failed")


def _position(t: pd.Timestamp, first: pd.Timestamp, g: str) -> float:
    """The index of the period starting at ``t`` counted from ``first`` (may be outside the panel)."""
    if g == "M":
        return float((t.year - first.year) * 12 + t.month - first.month)
    return float((t - first).days // (7 if g == "W" else 1))


def _intensity(panel: pd.DataFrame, data, usage: pd.DataFrame, g: str) -> pd.Series:
    """The share of a cell's committing developers active in the assistant in that period (the
    changes' ``author`` is the usage log's ``user_id``), or the team's active users without authors."""
    u = usage[[S.TEAM, S.USER_ID, S.TS]].dropna()
    u = u.assign(period=period_start(u[S.TS], g), team=u[S.TEAM].astype(str), author=u[S.USER_ID].astype(str))
    key = pd.MultiIndex.from_frame(panel[["team", "period"]])
    if "author" not in data.changes.columns:
        active = u.groupby(["team", "period"], observed=True)["author"].nunique()
        return pd.Series(active.reindex(key).fillna(0).to_numpy(dtype=float), index=panel.index)
    lt = change_lead_times(data).merge(data.changes[["change_id", "author"]], on="change_id").dropna(subset=["author"])
    lt["period"] = period_start(lt["deployed_at"], g)
    devs = lt[["team", "period", "author"]].drop_duplicates()
    devs["active"] = pd.MultiIndex.from_frame(devs[["period", "author"]]).isin(
        pd.MultiIndex.from_frame(u[["period", "author"]].drop_duplicates()))
    share = devs.groupby(["team", "period"])["active"].mean()
    return pd.Series(share.reindex(key).to_numpy(dtype=float), index=panel.index)


@dataclass(frozen=True)
class AdoptionEffect:
    """What :func:`adoption_effect` found.

    ``effects``: one row per metric (``metric, label, estimate, low, high, relative,
    relative_low, relative_high, p_value, pretrend_p, naive_relative, treated_teams,
    control_teams, treated_cells, dropped_cells, verdict``); ``event_study``: ``metric,
    event_time, estimate, low, high, relative, relative_low, relative_high, cells`` (negative
    event times: the pre-trend leads); ``intensity``: ``metric, slope, low, high, p_value,
    unit``; ``panel``: the team x period panel; ``caveats``: what could confound it."""

    effects: pd.DataFrame
    event_study: pd.DataFrame
    intensity: pd.DataFrame
    panel: pd.DataFrame
    alpha: float = 0.05
    caveats: tuple[str, ...] = field(default=CAVEATS)


def _fe_design(teams: np.ndarray, periods: np.ndarray, team_levels, period_levels) -> np.ndarray:
    ti = pd.Categorical(teams, categories=team_levels).codes
    pi = pd.Categorical(periods, categories=period_levels).codes
    x = np.zeros((len(teams), len(team_levels) + len(period_levels) - 1))
    x[np.arange(len(teams)), ti] = 1.0
    later = pi > 0
    x[np.flatnonzero(later), len(team_levels) + pi[later] - 1] = 1.0
    return x


def _usable(cells: pd.DataFrame, y: str, w: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which cells have an outcome and a weight (and are not a part-way adoption period)."""
    y_all = cells[y].to_numpy(dtype=float)
    wt = np.ones(len(cells)) if w is None else cells[w].to_numpy(dtype=float)
    use = np.isfinite(y_all) & (wt > 0) & ~cells["partial"].to_numpy()
    return use, y_all[use], wt[use]


def _impute(c: pd.DataFrame, yv: np.ndarray, wv: np.ndarray, groups: np.ndarray | None) -> dict:
    """Point estimates: FE fitted on the untreated cells, treated cells imputed, weighted means."""
    treated = c["treated"].to_numpy()
    u = ~treated
    team_levels, period_levels = sorted(set(c.loc[u, "team"])), sorted(set(c.loc[u, "period"]))
    imputable = treated & c["team"].isin(team_levels).to_numpy() & c["period"].isin(period_levels).to_numpy()
    xu = _fe_design(c.loc[u, "team"].to_numpy(), c.loc[u, "period"].to_numpy(), team_levels, period_levels)
    xt = _fe_design(c.loc[imputable, "team"].to_numpy(), c.loc[imputable, "period"].to_numpy(), team_levels,
                    period_levels)
    wu = wv[u]
    beta = np.linalg.lstsq(xu * np.sqrt(wu)[:, None], yv[u] * np.sqrt(wu), rcond=None)[0]
    y0 = xt @ beta
    tau = yv[imputable] - y0
    g = None if groups is None else groups[imputable]
    keys = [None] + ([] if g is None else [k for k in pd.unique(g) if k is not None and not pd.isna(k)])
    out = {}
    for k in keys:  # None: every treated cell; then each group's
        sel = np.ones(len(tau), bool) if k is None else (g == k)
        a = wv[imputable] * sel
        out[k] = {"estimate": float(a @ tau / a.sum()), "base": float(a @ y0 / a.sum()), "cells": int(sel.sum()),
                  "treated_teams": int(c.loc[imputable, "team"][sel].nunique())}
    out["_cells"] = c.loc[imputable].assign(effect=tau, y0=y0)
    out["_dropped"] = int((treated & ~imputable).sum())
    out["_controls"] = int(len(set(c.loc[u, "team"]) - set(c.loc[treated, "team"])))
    return out


def _imputation(cells: pd.DataFrame, y: str, w: str | None, alpha: float, *, groups: pd.Series | None = None) -> dict:
    """The imputation estimate over the treated cells (key None) and per value of ``groups``, with
    standard errors from a delete-one-team jackknife (teams are the unit of independence; with
    few teams, and fewer adopting ones, the usual cluster-robust formula is too narrow)."""
    use, yv, wv = _usable(cells, y, w)
    c = cells[use]
    grp = None if groups is None else groups.to_numpy(dtype=object)[use]
    full = _impute(c, yv, wv, grp)
    teams = sorted(set(c["team"]))
    keys = [k for k in full if not (isinstance(k, str) and k.startswith("_"))]
    drops = {k: [] for k in keys}
    for team in teams:
        keep = (c["team"] != team).to_numpy()
        if not (c.loc[keep, "treated"].any() and (~c.loc[keep, "treated"]).any()):
            continue
        part = _impute(c[keep], yv[keep], wv[keep], None if grp is None else grp[keep])
        for k in keys:
            if k in part:
                drops[k].append(part[k]["estimate"])
    out = {}
    for k in keys:
        est = full[k]["estimate"]
        reps = np.asarray(drops[k])
        n_g = len(reps)
        se = float(np.sqrt((n_g - 1) / n_g * ((reps - reps.mean()) ** 2).sum())) if n_g > 1 else np.nan
        df = _effective_df(reps, max(min(n_g, full[k]["treated_teams"]) - 1, 1))
        q = float(stats.t.ppf(1 - alpha / 2, df))
        out[k] = {**full[k], "se": se, "low": est - q * se, "high": est + q * se,
                  "p_value": float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else np.nan,
                  "control_teams": full["_controls"], "dropped_cells": full["_dropped"]}
    out["_cells"] = full["_cells"]
    return out


def _effective_df(reps: np.ndarray, cap: float) -> float:
    """Degrees of freedom of a jackknife variance: Satterthwaite's ``(sum d^2)^2 / sum d^4`` of the
    deviations ``d`` of the delete-one estimates (few teams carrying the variance: few degrees of
    freedom), at least 1 and at most ``cap``."""
    dev = np.asarray(reps, dtype=float) - np.mean(reps) if len(reps) else np.zeros(0)
    fourth = float((dev ** 4).sum())
    if len(dev) < 2 or fourth <= 0:
        return float(max(cap, 1))
    return float(max(1.0, min(cap, (dev ** 2).sum() ** 2 / fourth)))


def _leads(c: pd.DataFrame, yv: np.ndarray, wv: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    x = np.column_stack([_fe_design(c["team"].to_numpy(), c["period"].to_numpy(), sorted(set(c["team"])),
                                    sorted(set(c["period"])))] + [col.astype(float) for col in columns])
    beta = np.linalg.lstsq(x * np.sqrt(wv)[:, None], yv * np.sqrt(wv), rcond=None)[0]
    return beta[-len(columns):]


def _jackknife(c: pd.DataFrame, yv: np.ndarray, wv: np.ndarray,
               columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lead coefficients, their delete-one-team jackknife standard errors and the delete-one estimates."""
    b = _leads(c, yv, wv, columns)
    reps = []
    for team in sorted(set(c["team"])):
        keep = (c["team"] != team).to_numpy()
        if all(col[keep].any() for col in columns):
            reps.append(_leads(c[keep], yv[keep], wv[keep], [col[keep] for col in columns]))
    reps = np.asarray(reps)
    n_g = len(reps)
    if n_g < 3:
        return b, np.full(len(b), np.nan), reps
    return b, np.sqrt((n_g - 1) / n_g * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0)), reps


def _pretrend(cells: pd.DataFrame, y: str, w: str | None, leads: int, alpha: float) -> tuple[float, pd.DataFrame]:
    """The pre-trend check on the untreated cells: one indicator of the ``leads`` periods before
    adoption, tested with its delete-one-team jackknife error (Student's t, Satterthwaite's degrees of
    freedom), and each lead on its own for the event study."""
    use, yv, wv = _usable(cells, y, w)
    c = cells[use]
    untreated = ~c["treated"].to_numpy()
    c, yv, wv = c[untreated], yv[untreated], wv[untreated]
    et = c["event_time"].to_numpy()
    lead_ids = [k for k in range(1, leads + 1) if (et == -k).any()]
    if not lead_ids:
        return np.nan, pd.DataFrame()
    pre = (et < 0) & (et >= -leads)
    b, se, reps = _jackknife(c, yv, wv, [pre])
    df = _effective_df(reps[:, 0] if len(reps) else reps, max(int(c.loc[pre, "team"].nunique()) - 1, 1))
    p = float(2 * stats.t.sf(abs(b[0] / se[0]), df)) if se[0] > 0 else np.nan
    each, each_se, _ = _jackknife(c, yv, wv, [et == -k for k in lead_ids])
    q = float(stats.t.ppf(1 - alpha / 2, df))
    table = pd.DataFrame({"event_time": [-j for j in lead_ids], "estimate": each, "low": each - q * each_se,
                          "high": each + q * each_se, "cells": [int((et == -j).sum()) for j in lead_ids]})
    return p, table


def _relative(scale: str, value, base: float):
    value = np.asarray(value, dtype=float)
    if scale == "log":
        return np.expm1(value)
    return value / base if base else np.full_like(value, np.nan)


def adoption_effect(data, adoption: pd.DataFrame | None = None, *, usage: pd.DataFrame | None = None,
                    metrics: Sequence[str] = tuple(IMPACT_METRICS), granularity: str = "W", alpha: float = 0.05,
                    leads: int = 4, horizons: int = 12) -> AdoptionEffect:
    """The effect of adopting the assistant on each DORA metric, valid under staggered adoption.

    Parameters
    ----------
    data : DeliveryData
        Validated delivery events (:func:`~analytics_lib.data.delivery.validate_delivery`).
    adoption : DataFrame, optional
        ``team, adopted_at``; None: ``data.adoption`` when it has rows, else
        :func:`adoption_from_usage` of ``usage``.
    usage : DataFrame, optional
        Usage events: adoption when not given, and the usage-intensity analysis.
    metrics : sequence of str
        Keys of :data:`IMPACT_METRICS`.
    granularity : str
        ``"W"`` (default) or ``"M"``.
    alpha : float
        1 - confidence of the intervals (0.05: 95 %).
    leads : int
        Periods before adoption in the pre-trend check and the event study.
    horizons : int
        Periods after adoption shown in the event study (the effect uses every treated period).

    Returns
    -------
    AdoptionEffect

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> s = synthetic_delivery(seed=0)
    >>> r = adoption_effect(s.data, metrics=["lead_time"]).effects.iloc[0]
    >>> bool(r["relative_low"] < s.truth["effects"]["lead_time"] < r["relative_high"])
    True
    """
    unknown = [m for m in metrics if m not in IMPACT_METRICS]
    if unknown:
        raise WorkbenchError(f"unknown delivery metric(s) {', '.join(unknown)}: use {', '.join(IMPACT_METRICS)}")
    if adoption is None:
        if len(data.adoption):
            adoption = data.adoption
        elif usage is not None:
            adoption = adoption_from_usage(usage)
        else:
            raise WorkbenchError("no adoption dates: give adoption (team, adopted_at), store them with the delivery "
                                 "events, or give the usage events to read them from (docs/delivery.md)")
    panel = delivery_panel(data, adoption, granularity=granularity, usage=usage)
    if not panel["treated"].any():
        raise WorkbenchError("no team adopted within the delivery events' span: nothing to compare")
    if not (panel["event_time"].isna() | panel["event_time"].lt(0)).any():
        raise WorkbenchError("no untreated team-period: every team adopted before the delivery events begin")
    rows, studies, doses = [], [], []
    for m in metrics:
        label, y, w, scale, lower_better = IMPACT_METRICS[m]
        if not panel[y].notna().any():
            continue
        horizon = panel["event_time"].where(panel["event_time"].between(0, horizons - 1))
        r = _imputation(panel, y, w, alpha, groups=horizon)  # the effect and the event study, one jackknife
        if None not in r:
            continue
        main = r[None]
        pre_p, lead_table = _pretrend(panel, y, w, leads, alpha)
        post = pd.DataFrame([{"event_time": int(k), **{c: v[c] for c in ("estimate", "low", "high", "cells")},
                              "base": v["base"]} for k, v in r.items() if k not in (None, "_cells")])
        study = pd.concat([lead_table.assign(base=main["base"]), post], ignore_index=True).sort_values("event_time")
        for c in ("estimate", "low", "high"):
            study[f"relative_{c}" if c != "estimate" else "relative"] = _relative(scale, study[c], main["base"])
        studies.append(study.drop(columns="base").assign(metric=m))
        treated_cells = r["_cells"]
        naive = _naive(panel, y, w)
        rel = _relative(scale, [main["estimate"], main["low"], main["high"], naive], main["base"])
        significant = main["p_value"] < alpha
        better = (main["estimate"] < 0) == lower_better
        verdict = ("pre-trends differ: not credible" if pre_p < alpha else
                   ("better with the assistant" if better else "worse with the assistant") if significant
                   else "no significant effect")
        rows.append({"metric": m, "label": label, "scale": scale, "estimate": main["estimate"], "se": main["se"],
                     "low": main["low"], "high": main["high"], "relative": rel[0], "relative_low": rel[1],
                     "relative_high": rel[2], "p_value": main["p_value"], "pretrend_p": pre_p,
                     "naive_relative": rel[3], "treated_teams": main["treated_teams"],
                     "control_teams": main["control_teams"], "treated_cells": main["cells"],
                     "dropped_cells": main["dropped_cells"], "verdict": verdict})
        if usage is not None:
            doses.append(_dose(treated_cells, w, alpha, m, "author" in data.changes.columns))
    return AdoptionEffect(pd.DataFrame(rows), pd.concat(studies, ignore_index=True) if studies else pd.DataFrame(),
                          pd.DataFrame([d for d in doses if d]), panel, alpha)


def _naive(panel: pd.DataFrame, y: str, w: str | None) -> float:
    """A before/after difference of the adopting teams alone (what the estimator corrects)."""
    adopters = panel[panel["adopted_at"].notna() & ~panel["partial"] & panel[y].notna()]
    wt = adopters[w] if w else pd.Series(1.0, index=adopters.index)
    after, before = adopters["treated"], ~adopters["treated"]
    if not (wt[after].sum() > 0 and wt[before].sum() > 0):
        return np.nan
    return float(np.average(adopters.loc[after, y], weights=wt[after]) -
                 np.average(adopters.loc[before, y], weights=wt[before]))


def _dose(cells: pd.DataFrame, w: str | None, alpha: float, metric: str, per_developer: bool) -> dict | None:
    """The slope of the treated cells' effects on usage intensity (cluster-robust by team)."""
    c = cells[cells["intensity"].notna()]
    if c["team"].nunique() < 3 or c["intensity"].std() == 0:
        return None
    wt = np.ones(len(c)) if w is None else c[w].to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(c)), c["intensity"].to_numpy() - np.average(c["intensity"], weights=wt)])
    inv = np.linalg.pinv(x.T @ (x * wt[:, None]))
    beta = inv @ (x.T @ (wt * c["effect"].to_numpy()))
    score = pd.DataFrame(x * (wt * (c["effect"].to_numpy() - x @ beta))[:, None]).groupby(c["team"].to_numpy()).sum()
    n_g = len(score)
    cov = n_g / (n_g - 1) * inv @ (score.to_numpy().T @ score.to_numpy()) @ inv
    se = float(np.sqrt(cov[1, 1]))
    q = float(stats.t.ppf(1 - alpha / 2, n_g - 1))
    return {"metric": metric, "slope": float(beta[1]), "low": float(beta[1] - q * se), "high": float(beta[1] + q * se),
            "p_value": float(2 * stats.t.sf(abs(beta[1] / se), n_g - 1)) if se > 0 else np.nan,
            "unit": "per +100 % of committing developers using the assistant" if per_developer
            else "per active assistant user more", "teams": n_g}
