"""An experiment on the event log: assignments checked, per-user metrics, effects and decisions.

The **assignment table** (``user_id, experiment, variant, assigned_at``) says who saw what and
from when; :func:`validate_assignments` quarantines what cannot be used (a missing value, a time
that is not one, a user in two variants of one experiment) and keeps the first of repeated
rows. :func:`user_metrics` sums, per assigned user, what the metrics need from the assignment
on (and over ``pre_days`` before it, the CUPED covariate). :func:`experiment_results` checks
the split (SRM), then estimates each metric's effect of every variant against the control:

- every metric is a ratio of per-user sums (:data:`EXPERIMENT_METRICS`; a plain per-user mean
  has the denominator 1), turned into per-user values by the delta method's linearisation
  ``R + (num - R den) / mean(den)`` (their mean is ``R``, their variance the delta method's);
- with ``cuped=True`` the same linearisation of the pre-period is the covariate;
- p-values are always valid (mSPRT, :func:`~analytics_lib.analysis.experiments.stats.always_valid`),
  so the table may be read every day; the primary metrics' q-values control the false discovery
  rate (Benjamini-Hochberg); a guardrail is *breached* when it is significantly worse.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics_lib.analysis.experiments.stats import always_valid, check_srm, cuped as cuped_adjust, mean_effect
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import DAY_US, epoch_micros

ASSIGNMENT_COLUMNS = ("user_id", "experiment", "variant", "assigned_at")
#: metric -> (label, numerator, denominator or None for per-user means, higher is better)
EXPERIMENT_METRICS: dict[str, tuple[str, str, str | None, bool]] = {
    "accept_rate": ("accepts per generation", "accepts", "generations", True),
    "satisfaction": ("mean satisfaction (1-5)", "satisfaction_sum", "satisfaction_n", True),
    "latency_ms": ("mean generation latency (ms)", "latency_sum", "latency_n", False),
    "error_rate": ("errors per LLM request", "errors", "requests", False),
    "cost_per_user": ("cost per user (USD)", "cost_usd", None, False),
    "cost_per_accept": ("cost per accept (USD)", "cost_usd", "accepts", False),
    "sessions_per_user": ("sessions per user", "sessions", None, True),
}
_PARTS = ("accepts", "generations", "satisfaction_sum", "satisfaction_n", "latency_sum", "latency_n", "errors",
          "requests", "cost_usd", "sessions")


@dataclass(frozen=True)
class ValidatedAssignments:
    """Usable assignment rows, the quarantined ones (with ``reason``) and counts that reconcile."""

    assignments: pd.DataFrame
    quarantine: pd.DataFrame


def _check_metrics(metrics: Sequence[str]) -> None:
    """One line naming every unknown metric and the known ones."""
    unknown = [m for m in metrics if m not in EXPERIMENT_METRICS]
    if unknown:
        raise WorkbenchError(f"unknown experiment metric(s) {', '.join(map(repr, unknown))}: use "
                             f"{', '.join(EXPERIMENT_METRICS)}")


def validate_assignments(assignments: pd.DataFrame) -> ValidatedAssignments:
    """Check an assignment table; quarantine what cannot be used, with the reason.

    Reasons: ``missing_required`` (a missing value), ``unparsable_timestamp`` (``assigned_at``
    not a time), ``conflicting_assignment`` (a user in two variants of one experiment: every
    row of that user and experiment), ``duplicate_assignment`` (the same user, experiment and
    variant again: the earliest is kept). Naive times are read as UTC.

    Parameters
    ----------
    assignments : DataFrame
        ``user_id, experiment, variant, assigned_at``.

    Raises
    ------
    WorkbenchError
        When a column is missing.

    Examples
    --------
    >>> a = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u3"], "experiment": "x", "variant": ["a", "b", "a", "b"],
    ...                   "assigned_at": ["2025-06-01", "2025-06-01", "2025-06-02", "not a date"]})
    >>> v = validate_assignments(a)
    >>> v.assignments["user_id"].tolist(), v.quarantine["reason"].tolist()
    (['u2'], ['conflicting_assignment', 'conflicting_assignment', 'unparsable_timestamp'])
    """
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in assignments.columns]
    if missing:
        raise WorkbenchError(f"the assignment table lacks the column(s) {', '.join(missing)}: it needs "
                             f"{', '.join(ASSIGNMENT_COLUMNS)} (one row per user, experiment and variant)")
    assignments = assignments.reset_index(drop=True)  # rows are addressed by position below
    a = assignments.loc[:, list(ASSIGNMENT_COLUMNS)].copy()
    a["source_row"] = np.arange(len(a))
    reason = pd.Series(pd.NA, index=a.index, dtype="object")
    blank = a[list(ASSIGNMENT_COLUMNS)].isna().any(axis=1) | a[["user_id", "experiment", "variant"]].astype(str) \
        .apply(lambda s: s.str.strip().eq("")).any(axis=1)
    reason[blank] = "missing_required"
    ts = pd.to_datetime(a["assigned_at"], errors="coerce", utc=True, format="mixed")
    reason[reason.isna() & ts.isna()] = "unparsable_timestamp"
    a["assigned_at"] = ts
    for c in ("user_id", "experiment", "variant"):
        a[c] = a[c].astype(str)
    ok = reason.isna()
    n_variants = a[ok].groupby(["experiment", "user_id"])["variant"].transform("nunique")
    reason[n_variants[n_variants > 1].index] = "conflicting_assignment"
    ok = reason.isna()
    order = a[ok].sort_values(["assigned_at", "source_row"], kind="stable")
    repeat = order.duplicated(["experiment", "user_id", "variant"], keep="first")
    reason[repeat[repeat].index] = "duplicate_assignment"
    ok = reason.isna()
    quarantine = assignments.iloc[np.flatnonzero(~ok.to_numpy())].assign(
        source_row=a.loc[~ok, "source_row"].to_numpy(), reason=reason[~ok].to_numpy())
    return ValidatedAssignments(a[ok].drop(columns="source_row").reset_index(drop=True),
                                quarantine.reset_index(drop=True))


def user_metrics(events: pd.DataFrame, assignments: pd.DataFrame, experiment: str, *,
                 end: pd.Timestamp | None = None, pre_days: int = 14) -> pd.DataFrame:
    """Per assigned user: the sums the metrics need from the assignment on, and before it.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    assignments : DataFrame
        A validated assignment table (:func:`validate_assignments`).
    experiment : str
        Its name.
    end : Timestamp, optional
        Events before this time count (a look during the experiment); None: all.
    pre_days : int
        Days before the assignment whose sums become the ``pre_`` columns (CUPED); 0: none.

    Returns
    -------
    DataFrame
        One row per user (every assigned user, zeros when they did nothing): ``user_id,
        variant, assigned_at`` and ``accepts, generations, satisfaction_sum, satisfaction_n,
        latency_sum, latency_n, errors, requests, cost_usd, sessions``, the same prefixed ``pre_``.
    """
    a = assignments[assignments["experiment"] == experiment]
    if a.empty:
        known = sorted(assignments["experiment"].unique())
        raise WorkbenchError(f"experiment {experiment!r} has no assignment rows: the table has "
                             f"{', '.join(map(repr, known)) or 'none'}")
    a = a[["user_id", "variant", "assigned_at"]].reset_index(drop=True)
    return _sum_users(a, _event_parts(events, a), end=end, pre_days=pre_days)


def _event_parts(events: pd.DataFrame, a: pd.DataFrame) -> pd.DataFrame:
    """Per event of an assigned user: what each metric sums, its time and its user's assignment time (us)."""
    ev = events[events[S.USER_ID].astype(str).isin(set(a["user_id"]))]
    at = ev[S.USER_ID].astype(str).map(a.set_index("user_id")["assigned_at"])
    et = ev[S.EVENT_TYPE].astype(str)
    return pd.DataFrame({
        "user_id": ev[S.USER_ID].astype(str).to_numpy(),
        "ts": epoch_micros(ev[S.TS]), "at": epoch_micros(pd.to_datetime(at, utc=True)),
        "accepts": (et == "accept").to_numpy(dtype="float64"),
        "generations": (et == "generation").to_numpy(dtype="float64"),
        "satisfaction_sum": ev[S.SATISFACTION].fillna(0).to_numpy(dtype="float64"),
        "satisfaction_n": ev[S.SATISFACTION].notna().to_numpy(dtype="float64"),
        "latency_sum": ev[S.LATENCY_MS].where(et == "generation").fillna(0).to_numpy(dtype="float64"),
        "latency_n": ((et == "generation") & ev[S.LATENCY_MS].notna()).to_numpy(dtype="float64"),
        "errors": (et == "error").to_numpy(dtype="float64"),
        "requests": et.isin(["generation", "error"]).to_numpy(dtype="float64"),
        "cost_usd": ev[S.COST_USD].fillna(0).to_numpy(dtype="float64"),
        "sessions": (et == "session_start").to_numpy(dtype="float64"),
    })


def _micros(t) -> int:
    t = pd.Timestamp(t)
    return int((t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")).value // 1000)


def _sum_users(a: pd.DataFrame, parts: pd.DataFrame, *, end, pre_days: int) -> pd.DataFrame:
    ts, at = parts["ts"].to_numpy(), parts["at"].to_numpy()
    during = ts >= at
    if end is not None:
        during &= ts < _micros(end)
        a = a[epoch_micros(a["assigned_at"]) < _micros(end)]  # only users assigned by then
    before = (ts < at) & (ts >= at - int(pre_days) * DAY_US) if pre_days else np.zeros(len(ts), bool)
    out = a.set_index("user_id")
    for prefix, mask in (("", during), ("pre_", before)):
        sums = parts[mask].groupby("user_id")[list(_PARTS)].sum()
        out = out.join(sums.add_prefix(prefix), how="left").fillna({f"{prefix}{c}": 0.0 for c in _PARTS})
    return out.reset_index()


def _linearized(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Per-user values whose mean is ``sum(num) / sum(den)`` and whose variance is the delta method's."""
    md = den.mean()
    if md <= 0:
        return np.full(len(num), np.nan)
    r = num.sum() / den.sum()
    return r + (num - r * den) / md


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`experiment_results` found.

    Attributes
    ----------
    experiment, control : str
    users : dict of str to int
        Users per variant.
    srm_p : float
        The sample-ratio-mismatch check's p-value (above its threshold, or there is no result).
    effects : DataFrame
        One row per variant and metric: ``variant, metric, label, role`` (primary or guardrail),
        ``control, treatment`` (the metric in each), ``diff`` (the estimated effect, CUPED-adjusted
        when asked), ``low, high`` (its always-valid interval), ``relative, relative_low,
        relative_high`` (the same over the control's value, taken as known), ``tau`` (the mSPRT
        mixture scale used), ``p_value`` (always valid), ``q_value`` (primary metrics, FDR),
        ``variance_reduction`` (CUPED), ``decision``.
    """

    experiment: str
    control: str
    users: dict
    srm_p: float
    effects: pd.DataFrame

    def decisions(self) -> list[str]:
        """One line per variant and metric, e.g. ``"accept_rate: treatment better than control (+12.1 %, ...)"``."""
        return [f"{r.metric}: {r.decision}" for r in self.effects.itertuples()]


def experiment_results(events: pd.DataFrame, assignments: pd.DataFrame, experiment: str, *,
                       metrics: Sequence[str] = ("accept_rate", "satisfaction", "cost_per_accept"),
                       guardrails: Sequence[str] = ("latency_ms", "error_rate"), alpha: float = 0.05,
                       control: str | None = None, shares: Mapping[str, float] | None = None, cuped: bool = True,
                       pre_days: int = 14, tau: float = 0.05, end: pd.Timestamp | None = None,
                       cohort=None) -> ExperimentResult:
    """Effects of every variant of ``experiment`` against its control, with decisions.

    Parameters
    ----------
    events : DataFrame
        Validated events.
    assignments : DataFrame
        The assignment table (validated here: :func:`validate_assignments`).
    experiment : str
        The experiment's name in the table.
    metrics, guardrails : sequence of str
        Names in :data:`EXPERIMENT_METRICS`: the primary metrics (decided with the false
        discovery rate controlled) and the guardrails (breached when significantly worse).
    alpha : float
        Error rate of the always-valid tests and intervals.
    control : str, optional
        The control variant; default: ``"control"`` if present, else the first in sorted order.
    shares : mapping of str to float, optional
        The planned split (SRM check); default equal.
    cuped : bool
        Use the pre-period (``pre_days`` before each assignment) as a covariate.
    pre_days : int
        Length of that pre-period in days.
    tau : float
        The mSPRT mixture scale, *relative* to the control's value (0.05: effects of about 5 %
        are those the test is tuned for).
    end : Timestamp, optional
        Only events before it (a look in the past).
    cohort : Cohort, optional
        Analyse only the assigned users who belong to this saved cohort
        (:class:`~analytics_lib.analysis.workflow.cohorts.Cohort`), judged on the events before
        the experiment's first assignment (its window clipped there), so that the treatment
        cannot change who belongs; the SRM check then compares the cohort's split with the plan.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    WorkbenchError
        An unknown metric or experiment, fewer than two variants, a variant without users, or a
        sample ratio mismatch.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.events import synthetic_events
    >>> from analytics_lib.data.synthetic.experiments import plant_experiments
    >>> p = plant_experiments(synthetic_events(60_000, days=56, end="2025-06-30", seed=0).events)
    >>> r = experiment_results(p.events, p.assignments, "prompt-v2", metrics=["accept_rate"], guardrails=["latency_ms"])
    >>> r.users, r.effects["metric"].tolist()
    ({'control': 137, 'treatment': 138}, ['accept_rate', 'latency_ms'])
    """
    _check_metrics([*metrics, *guardrails])
    valid = validate_assignments(assignments).assignments
    if cohort is not None:  # membership judged before the experiment, so the treatment cannot change it
        mine = valid[valid["experiment"] == experiment]
        before = events[events[S.TS] < mine["assigned_at"].min()] if len(mine) else events
        valid = valid[valid["user_id"].isin(set(cohort.users(before)))]
        if valid.empty:
            raise WorkbenchError(f"cohort {cohort.name!r} has no user assigned to an experiment")
    users = user_metrics(events, valid, experiment, end=end, pre_days=pre_days)
    return _results(users, experiment, metrics=metrics, guardrails=guardrails, alpha=alpha, control=control,
                    shares=shares, cuped=cuped, tau=tau)


def _results(users: pd.DataFrame, experiment: str, *, metrics, guardrails, alpha, control, shares, cuped,
             tau, taus: dict | None = None) -> ExperimentResult:
    from analytics_lib.analysis.insights.stats import benjamini_hochberg

    counts = users["variant"].value_counts().sort_index().to_dict()
    srm_p = check_srm(counts, shares)
    variants = sorted(counts)
    control = control or ("control" if "control" in variants else variants[0])
    if control not in variants:
        raise WorkbenchError(f"control={control!r} is not a variant of {experiment!r}: {', '.join(variants)}")
    rows = []
    for variant in [v for v in variants if v != control]:
        pair = users[users["variant"].isin([control, variant])]
        is_t = (pair["variant"] == variant).to_numpy()
        for role, names in (("primary", metrics), ("guardrail", guardrails)):
            for m in names:
                rows.append(_metric_row(pair, is_t, m, role, variant, alpha=alpha, cuped=cuped, tau=tau,
                                        tau_abs=(taus or {}).get((variant, m))))
    effects = pd.DataFrame(rows)
    effects["q_value"] = np.nan
    primary = (effects["role"] == "primary").to_numpy()
    if primary.any():
        effects.loc[primary, "q_value"] = benjamini_hochberg(effects.loc[primary, "p_value"].to_numpy())
    effects["decision"] = [_decision(r, control, alpha) for r in effects.itertuples()]
    return ExperimentResult(experiment, control, {k: int(v) for k, v in counts.items()}, srm_p, effects)


def experiment_looks(events: pd.DataFrame, assignments: pd.DataFrame, experiment: str, *,
                     metrics: Sequence[str] = ("accept_rate",), alpha: float = 0.05, control: str | None = None,
                     shares: Mapping[str, float] | None = None, cuped: bool = True, pre_days: int = 14,
                     tau: float = 0.05) -> pd.DataFrame:
    """The effects as they could have been read at the end of every day of the experiment.

    The always-valid p-value is the running minimum over the looks and the confidence sequence
    the running intersection of the intervals (both stay valid however often one looks), so the
    last look's numbers are those a team reading the table every day would act on.

    Parameters
    ----------
    events, assignments, experiment
        As :func:`experiment_results`.
    metrics : sequence of str
        The metrics followed (names in :data:`EXPERIMENT_METRICS`).
    alpha, control, shares, cuped, pre_days, tau
        As :func:`experiment_results`.

    Returns
    -------
    DataFrame
        ``look`` (the day's end, UTC), ``variant, metric, users, diff, low, high, relative,
        relative_low, relative_high, p_value`` (running), ``fixed_horizon_p`` (that look alone).
    """
    _check_metrics(metrics)
    valid = validate_assignments(assignments).assignments
    a = valid[valid["experiment"] == experiment][["user_id", "variant", "assigned_at"]].reset_index(drop=True)
    if a.empty:
        raise WorkbenchError(f"experiment {experiment!r} has no assignment rows")
    parts = _event_parts(events, a)
    if parts.empty:
        raise WorkbenchError(f"{experiment!r}: no event of an assigned user in the data: check the window and the "
                             "assignment table")
    first = a["assigned_at"].min().floor("D") + pd.Timedelta(days=1)
    last = pd.Timestamp(int(parts["ts"].max()) * 1000, tz="UTC").floor("D") + pd.Timedelta(days=1)
    rows, taus = [], None
    for look in pd.date_range(first, last, freq="D"):
        users = _sum_users(a, parts, end=look, pre_days=pre_days)
        try:
            r = _results(users, experiment, metrics=list(metrics), guardrails=[], alpha=alpha, control=control,
                         shares=shares, cuped=cuped, tau=tau, taus=taus)
        except WorkbenchError as exc:
            if not any(s in str(exc) for s in ("fewer than 2 users", "have no users", "at least two variants")):
                raise  # a mismatch, a wrong control...: not a matter of waiting
            continue  # too few users yet
        if taus is None:  # the mixture scale is fixed at the first look: valid whenever one stops
            taus = {(v, m): t for v, m, t in zip(r.effects["variant"], r.effects["metric"], r.effects["tau"])}
        e = r.effects.assign(look=look, users=sum(r.users.values()))
        rows.append(e)
    if not rows:
        raise WorkbenchError(f"{experiment!r}: no day had enough users in every variant for an estimate")
    out = pd.concat(rows, ignore_index=True)
    g = out.groupby(["variant", "metric"], sort=False)
    out["p_value"] = g["p_value"].cummin()
    for c, f in (("low", "cummax"), ("high", "cummin"), ("relative_low", "cummax"), ("relative_high", "cummin")):
        out[c] = getattr(g[c], f)()
    return out[["look", "variant", "metric", "users", "control", "treatment", "diff", "low", "high", "relative",
                "relative_low", "relative_high", "p_value", "fixed_horizon_p"]]


def _metric_row(pair: pd.DataFrame, is_t: np.ndarray, metric: str, role: str, variant: str, *, alpha: float,
                cuped: bool, tau: float, tau_abs: float | None = None) -> dict:
    label, num, den, higher_better = EXPERIMENT_METRICS[metric]
    values, pre = {}, {}
    for grp, mask in (("c", ~is_t), ("t", is_t)):
        n_ = pair.loc[mask, num].to_numpy(dtype="float64")
        d_ = pair.loc[mask, den].to_numpy(dtype="float64") if den else np.ones(int(mask.sum()))
        keep = d_ > 0  # a user without the denominator (no generation...) says nothing about the ratio
        values[grp] = (n_[keep], d_[keep], np.flatnonzero(mask)[keep])
        pn = pair.loc[mask, f"pre_{num}"].to_numpy(dtype="float64")[keep]
        pd_ = pair.loc[mask, f"pre_{den}"].to_numpy(dtype="float64")[keep] if den else np.ones(int(keep.sum()))
        pre[grp] = (pn, pd_)
    if min(len(values["c"][0]), len(values["t"][0])) < 2:
        raise WorkbenchError(f"{metric}: fewer than 2 users with a {den or 'value'} in a variant: no effect can be "
                             "estimated")
    yc, yt = _linearized(*values["c"][:2]), _linearized(*values["t"][:2])
    reduction = 0.0
    if cuped:
        x = []
        for grp in ("c", "t"):
            pn, pd_ = pre[grp]
            with np.errstate(invalid="ignore", divide="ignore"):
                x.append(np.where(pd_ > 0, pn / np.where(pd_ > 0, pd_, 1), np.nan))
        both = np.concatenate([yc, yt])
        adj, _ = cuped_adjust(both, np.concatenate(x))
        if np.isfinite(np.concatenate(x)).sum() >= 10:
            raw = mean_effect(yc, yt, alpha=alpha)
            new = mean_effect(adj[:len(yc)], adj[len(yc):], alpha=alpha)
            reduction = 1 - (new.se / raw.se) ** 2 if raw.se > 0 else 0.0
            yc, yt = adj[:len(yc)], adj[len(yc):]
    e = mean_effect(yc, yt, alpha=alpha)
    rc = values["c"][0].sum() / values["c"][1].sum()
    rt = values["t"][0].sum() / values["t"][1].sum()
    if tau_abs is None:  # tau x the control's value; a control at 0 (no errors): tau x the per-user spread
        spread = float(np.std(np.concatenate([yc, yt]), ddof=1)) if len(yc) + len(yt) > 1 else 0.0
        tau_abs = tau * abs(rc) if rc else tau * spread
        tau_abs = tau_abs if tau_abs > 0 else 1e-9
    p, lo, hi = always_valid(e.diff, e.se ** 2, tau=tau_abs, alpha=alpha)
    # the estimate is the (CUPED-adjusted) difference; without CUPED it equals treatment - control
    rel = e.diff / rc if rc else np.nan
    return {"variant": variant, "metric": metric, "label": label, "role": role, "higher_is_better": higher_better,
            "n_control": len(yc), "n_treatment": len(yt), "control": rc, "treatment": rt, "diff": e.diff,
            "low": float(lo[0]), "high": float(hi[0]), "relative": rel,
            "relative_low": float(lo[0] / rc) if rc else np.nan, "relative_high": float(hi[0] / rc) if rc else np.nan,
            "p_value": float(p[0]), "fixed_horizon_p": e.p_value, "variance_reduction": reduction, "tau": tau_abs}


def _decision(r, control: str, alpha: float) -> str:
    worse = (r.diff < 0) == r.higher_is_better
    sig = (r.q_value if r.role == "primary" else r.p_value) < alpha
    span = (f"{r.relative:+.1%} ({r.relative_low:+.1%} to {r.relative_high:+.1%})" if np.isfinite(r.relative)
            else f"{r.diff:+.4g} ({r.low:+.4g} to {r.high:+.4g}), the control being 0")
    if r.role == "guardrail":
        return (f"guardrail breached: {r.variant} worse than {control} ({span})" if sig and worse
                else f"guardrail holds ({span})")
    if not sig:
        if r.role == "primary" and r.p_value < alpha:
            return (f"not significant after the false-discovery control over the primary metrics ({span}, "
                    f"always-valid p = {r.p_value:.3f}, q = {r.q_value:.3f})")
        return f"no significant difference yet ({span}, always-valid p = {r.p_value:.2f})"
    return f"{r.variant} {'worse' if worse else 'better'} than {control} ({span})"


def plan_experiment(events: pd.DataFrame, metric: str, *, mde: float, relative: bool = True, alpha: float = 0.05,
                    power: float = 0.8, treatment_share: float = 0.5, days: int = 28) -> dict:
    """Users and days an experiment needs to detect ``mde`` on ``metric``, from the store's own
    variance and traffic.

    The per-user values of the metric (the delta method's linearisation for a ratio) over the
    last ``days`` days give its mean and standard deviation; :func:`~analytics_lib.analysis.experiments.stats.sample_size`
    gives the users per group; the users who appeared day after day in that window (each at
    their first event, as an experiment enrols them) give the days until enough have come.

    Parameters
    ----------
    events : DataFrame
        Validated events (recent history).
    metric : str
        A name in :data:`EXPERIMENT_METRICS`.
    mde : float
        The minimum detectable effect: relative to the metric's mean (0.05 = 5 %) when
        ``relative``, else in the metric's unit.
    relative : bool
    alpha, power : float
    treatment_share : float
        The share of users given the treatment (0.5: an even split).
    days : int
        The history used, in days before the newest event.

    Returns
    -------
    dict
        ``metric, mean, sd, mde_abs, n_control, n_treatment, users_needed, users_per_day,
        days_needed`` (None when the window's arrivals are too few to say).

    Examples
    --------
    >>> from analytics_lib.data.synthetic.events import synthetic_events
    >>> plan = plan_experiment(synthetic_events(60_000, days=56, end="2025-06-30", seed=0).events, "accept_rate", mde=0.1)
    >>> plan["n_control"] > 0 and plan["days_needed"] is not None
    True
    """
    from analytics_lib.analysis.experiments.stats import sample_size

    _check_metrics([metric])
    if not 0 < treatment_share < 1:
        raise WorkbenchError(f"treatment_share={treatment_share!r}: give a share between 0 and 1")
    if events.empty:
        raise WorkbenchError("no events to plan from: widen the window")
    end = events[S.TS].max()
    recent = events[events[S.TS] > end - pd.Timedelta(days=days)]
    users = pd.DataFrame({"user_id": recent[S.USER_ID].astype(str).unique()})
    users["assigned_at"] = recent[S.TS].min()
    sums = _sum_users(users.assign(variant="all"), _event_parts(recent, users.assign(variant="all")), end=None,
                      pre_days=0)
    _, num, den, _ = EXPERIMENT_METRICS[metric]
    n_ = sums[num].to_numpy(dtype="float64")
    d_ = sums[den].to_numpy(dtype="float64") if den else np.ones(len(sums))
    keep = d_ > 0
    if keep.sum() < 10:
        raise WorkbenchError(f"{metric}: fewer than 10 users with a {den or 'value'} in the last {days} days")
    y = _linearized(n_[keep], d_[keep])
    mean, sd = float(y.mean()), float(y.std(ddof=1))
    mde_abs = abs(mde * mean) if relative else abs(mde)
    ratio = treatment_share / (1 - treatment_share)
    n_c = sample_size(sd, mde_abs, alpha=alpha, power=power, ratio=ratio)
    n_t = int(np.ceil(n_c * ratio))
    first = recent.groupby(recent[S.USER_ID].astype(str), observed=True)[S.TS].min()
    per_day = first.dt.floor("D").value_counts().sort_index()
    rate = float(per_day.tail(7).mean()) if len(per_day) else 0.0
    need = n_c + n_t
    cum = per_day.cumsum().to_numpy()
    if len(cum) and cum[-1] >= need:
        days_needed = int(np.searchsorted(cum, need) + 1)
    elif rate > 0:
        days_needed = int(len(cum) + np.ceil((need - (cum[-1] if len(cum) else 0)) / rate))
    else:
        days_needed = None
    return {"metric": metric, "mean": mean, "sd": sd, "mde_abs": mde_abs, "n_control": n_c, "n_treatment": n_t,
            "users_needed": need, "users_per_day": rate, "days_needed": days_needed}

