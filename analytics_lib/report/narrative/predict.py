"""The user predictions notebook's narrative: the data, the churn and satisfaction scores, the at-risk list.

Every function takes the result frames or evaluations and returns a Markdown paragraph. Model,
team and driver names (and the driver sentences, which quote categories from the data) are escaped
(:func:`~analytics_lib.core.markup.md_escape`). A missing baseline, an empty frame or a NaN score
gives a sentence that says so, not an exception.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pandas as pd

from analytics_lib.core.markup import md_escape

if TYPE_CHECKING:
    from analytics_lib.analysis.predict.churn import ChurnEvaluation
    from analytics_lib.analysis.predict.satisfaction import SatisfactionEvaluation


def _num(x: object, spec: str) -> str:
    """``format(x, spec)``, or ``"n/a"`` for a missing value (None, NaN, NaT)."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return "n/a"
    return format(x, spec)


def _first(scores: pd.DataFrame, column: str, value: str) -> pd.Series | None:
    """The first row of ``scores`` whose ``column`` is ``value`` (None without one)."""
    if column not in scores.columns:
        return None
    rows = scores[scores[column] == value]
    return rows.iloc[0] if len(rows) else None


def prediction_data_summary(events: pd.DataFrame, *, rows_kept: int, rows_quarantined: int) -> str:
    """The events the models learn from: how many, over which days, how many users, rows quarantined.

    Parameters
    ----------
    events : DataFrame
        Validated events with ``ts`` and ``user_id`` (``load_events(...).events``).
    rows_kept : int
        Events kept after validation (``load_events(...).summary.rows_kept``).
    rows_quarantined : int
        Rows quarantined for breaking the event contract (``...summary.rows_quarantined``).

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> ev = pd.DataFrame({"ts": pd.to_datetime(["2025-06-01 10:00", "2025-06-30 09:00"], utc=True),
    ...                    "user_id": ["u1", "u2"]})
    >>> prediction_data_summary(ev, rows_kept=2, rows_quarantined=0)
    '**2** events from 2025-06-01 to 2025-06-30 (2 users; 0 rows quarantined).'
    """
    tail = f"{rows_quarantined:,} rows quarantined"
    if events is None or events.empty or "ts" not in events.columns or events["ts"].isna().all():
        return f"**{rows_kept:,}** events, but none with a timestamp to learn from ({tail})."
    users = f"{events['user_id'].nunique():,} users; " if "user_id" in events.columns else ""
    return (f"**{rows_kept:,}** events from {events['ts'].min():%Y-%m-%d} to {events['ts'].max():%Y-%m-%d} "
            f"({users}{tail}).")


def churn_summary(evaluation: ChurnEvaluation) -> str:
    """How the chosen churn model ranks churners on the held-out cutoff, against the recency rule.

    Parameters
    ----------
    evaluation : ChurnEvaluation
        :meth:`ChurnModel.evaluate <analytics_lib.analysis.predict.churn.ChurnModel.evaluate>`: its
        ``cutoff`` and ``scores`` (``model, role, users, churners, base_rate, roc_auc, pr_auc, brier, k,
        precision_at_k, recall_at_k``; ``role`` ``chosen`` for the model, ``baseline`` for the rule).

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> scores = pd.DataFrame({"model": ["gbm (calibrated)", "recency_rule"], "role": ["chosen", "baseline"],
    ...     "users": [300, 300], "churners": [60, 60], "base_rate": [0.2, 0.2], "roc_auc": [0.81, 0.7],
    ...     "pr_auc": [0.52, 0.4], "brier": [0.12, 0.15], "k": [50, 50], "precision_at_k": [0.6, 0.5],
    ...     "recall_at_k": [0.5, 0.42]})
    >>> ev = SimpleNamespace(cutoff=pd.Timestamp("2025-05-01"), scores=scores)
    >>> print(churn_summary(ev))  # doctest: +NORMALIZE_WHITESPACE
    On the held-out cutoff **2025-05-01** (300 active users, 60 of whom churned), the chosen model **gbm
    (calibrated)** ranks churners with ROC AUC **0.810** (PR AUC 0.520) against **0.700** (0.400) for the recency
    rule: it beats the baseline. Among its top 50 users, 60% churned (50% of all churners; the rule: 50%). Brier
    score 0.1200 (rule 0.1500; always predicting the base rate: 0.1600).
    """
    scores = getattr(evaluation, "scores", None)
    if scores is None or scores.empty:
        return "No churn model was scored on a held-out cutoff."
    chosen = _first(scores, "role", "chosen")
    chosen = scores.iloc[0] if chosen is None else chosen
    rule = _first(scores, "role", "baseline")
    cutoff = getattr(evaluation, "cutoff", None)
    on = "On the held-out cutoff" + ("" if cutoff is None or pd.isna(cutoff) else f" **{cutoff:%Y-%m-%d}**")
    text = (f"{on} ({_num(chosen.get('users'), ',')} active users, {_num(chosen.get('churners'), ',')} of whom "
            f"churned), the chosen model **{md_escape(chosen.get('model'))}** ranks churners with ROC AUC "
            f"**{_num(chosen.get('roc_auc'), '.3f')}** (PR AUC {_num(chosen.get('pr_auc'), '.3f')})")
    if rule is None:
        text += ": there is no recency rule to compare it with."
    else:
        auc, rule_auc = chosen.get("roc_auc"), rule.get("roc_auc")
        verdict = ("cannot be compared with" if pd.isna(auc) or pd.isna(rule_auc)
                   else "beats" if auc > rule_auc else "does not beat")
        text += (f" against **{_num(rule_auc, '.3f')}** ({_num(rule.get('pr_auc'), '.3f')}) for the recency rule: it "
                 f"{verdict} the baseline.")
    text += (f" Among its top {_num(chosen.get('k'), ',')} users, {_num(chosen.get('precision_at_k'), '.0%')} churned "
             f"({_num(chosen.get('recall_at_k'), '.0%')} of all churners")
    text += ")." if rule is None else f"; the rule: {_num(rule.get('precision_at_k'), '.0%')})."
    base = chosen.get("base_rate")
    constant = f"always predicting the base rate: {_num(None if pd.isna(base) else base * (1 - base), '.4f')}"
    versus = constant if rule is None else f"rule {_num(rule.get('brier'), '.4f')}; {constant}"
    return text + f" Brier score {_num(chosen.get('brier'), '.4f')} ({versus})."


def satisfaction_drivers_summary(evaluation: SatisfactionEvaluation) -> str:
    """How well the satisfaction model predicts held-out scores, and its top drivers in plain sentences.

    Parameters
    ----------
    evaluation : SatisfactionEvaluation
        :meth:`SatisfactionModel.evaluate <analytics_lib.analysis.predict.satisfaction.SatisfactionModel.evaluate>`:
        ``period``, ``scores`` (``model, role, sessions, mae, mae_improvement``; the mean predictor is the
        model ``mean_predictor``) and ``drivers`` (one ``sentence`` per top driver).

    Returns
    -------
    str
        A Markdown paragraph followed by one list item per driver.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> scores = pd.DataFrame({"model": ["ridge", "mean_predictor"], "role": ["chosen", "baseline"],
    ...                        "sessions": [315, 315], "mae": [0.4586, 0.618], "mae_improvement": [0.258, 0.0]})
    >>> drivers = pd.DataFrame({"sentence": ["mean generation latency above 3.4 s costs 0.63 satisfaction points"]})
    >>> ev = SimpleNamespace(period=(pd.Timestamp("2025-05-20"), pd.Timestamp("2025-06-29")), scores=scores,
    ...                      drivers=drivers)
    >>> print(satisfaction_drivers_summary(ev))  # doctest: +NORMALIZE_WHITESPACE
    On 315 rated sessions from 2025-05-20 on (after the training period), the model (**ridge**) misses the score
    by **0.46** points on average against **0.62** for the mean predictor: **26%** better.
    <BLANKLINE>
    - mean generation latency above 3.4 s costs 0.63 satisfaction points
    """
    scores = getattr(evaluation, "scores", None)
    if scores is None or scores.empty:
        return "No satisfaction model was scored on held-out sessions."
    best = _first(scores, "role", "chosen")
    best = scores.iloc[0] if best is None else best
    mean = _first(scores, "model", "mean_predictor")
    period = getattr(evaluation, "period", None)
    start = period[0] if period is not None and len(period) else None
    since = "" if start is None or pd.isna(start) else f" from {start:%Y-%m-%d} on"
    text = (f"On {_num(best.get('sessions'), ',')} rated sessions{since} (after the training period), the model "
            f"(**{md_escape(best.get('model'))}**) misses the score by **{_num(best.get('mae'), '.2f')}** points on "
            "average")
    if mean is None:
        text += " (there is no mean predictor to compare it with)."
    else:
        text += (f" against **{_num(mean.get('mae'), '.2f')}** for the mean predictor: "
                 f"**{_num(best.get('mae_improvement'), '.0%')}** better.")
    drivers = getattr(evaluation, "drivers", None)
    sentences = ([] if drivers is None or "sentence" not in drivers.columns
                 else [s for s in drivers["sentence"] if isinstance(s, str) and s])
    return text + ("\n\n" + "\n".join(f"- {md_escape(s)}" for s in sentences) if sentences else "")


def at_risk_summary(at_risk: pd.DataFrame, features: pd.DataFrame, *, active_days: int, cutoff: pd.Timestamp,
                    team: str | Sequence[str] | None = None) -> str:
    """Who the at-risk list covers: users active before the cutoff, users listed, their mean churn risk.

    Parameters
    ----------
    at_risk : DataFrame
        :func:`~analytics_lib.analysis.predict.persistence.at_risk_table` (``churn_probability``).
    features : DataFrame
        The scored users' features at the cutoff (:func:`~analytics_lib.analysis.predict.features.user_features`),
        one row per active user.
    active_days : int
        The days before the cutoff in which a user must have been active to be scored
        (``ChurnModel.active_days``).
    cutoff : Timestamp
        The day the list is made for.
    team : str or list of str, optional
        The teams the list is limited to; None for all.

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> at_risk = pd.DataFrame({"user_id": ["u1", "u2"], "team": ["team-a", "team-a"],
    ...                         "churn_probability": [0.62, 0.38]})
    >>> print(at_risk_summary(at_risk, pd.DataFrame({"user_id": ["u1", "u2", "u3"]}), active_days=28,
    ...                       cutoff=pd.Timestamp("2025-06-30"), team=["team-a"]))  # doctest: +NORMALIZE_WHITESPACE
    3 users were active in the 28 days before 2025-06-30; the 2 listed (teams team-a) have a mean churn probability
    of 50%.
    """
    n_active = 0 if features is None else len(features)
    day = "the cutoff" if cutoff is None or pd.isna(cutoff) else f"{pd.Timestamp(cutoff):%Y-%m-%d}"
    teams = [team] if isinstance(team, str) else list(team or [])
    where = f" (teams {', '.join(md_escape(t) for t in teams)})" if teams else ""
    head = f"{n_active:,} users were active in the {active_days} days before {day}"
    if at_risk is None or at_risk.empty:
        return f"{head}; none is listed{where}."
    mean = at_risk["churn_probability"].mean() if "churn_probability" in at_risk.columns else None
    return (f"{head}; the {len(at_risk):,} listed{where} have a mean churn probability of "
            f"{_num(mean, '.0%')}.")
