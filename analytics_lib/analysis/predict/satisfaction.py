"""The satisfaction model, its permutation importance and partial dependence, and drivers in plain words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from analytics_lib.analysis.predict.churn import _importance, _matrix, _one_thread, _pipeline
from analytics_lib.analysis.predict.features import SESSION_FEATURES, _CATEGORICAL_SESSION
from analytics_lib.analysis.predict.splits import SessionSplit, _rated, session_split
from analytics_lib.core import schema as S
from analytics_lib.core.checks import check_positive_int
from analytics_lib.core.errors import WorkbenchError


#: Candidate satisfaction models: name -> (kind, parameters). Validation MAE picks one.
SATISFACTION_CANDIDATES: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "linear": {"ridge": ("linear", {"alpha": 1.0})},
    "boosting": {
        "boosting_mae": ("boosting", {"loss": "absolute_error", "max_iter": 100, "learning_rate": 0.1,
                                      "min_samples_leaf": 50}),
        "boosting_mse": ("boosting", {"loss": "squared_error", "max_iter": 100, "learning_rate": 0.1,
                                      "min_samples_leaf": 50}),
    },
}
_SESSION_NUMERIC = [c for c in SESSION_FEATURES if c not in _CATEGORICAL_SESSION]
#: Plain words for the session features in sentences: label, unit and kind (measure, count, flag, category).
_SESSION_WORDS: dict[str, tuple[str, str, str]] = {
    "latency_s": ("mean generation latency", "s", "measure"), "n_generations": ("generations", "", "count"),
    "n_errors": ("errors", "", "count"), "n_steps": ("distinct steps", "", "count"),
    "n_events": ("events", "", "count"), "rework": ("rework", "", "flag"), "cache_hit": ("a cache hit", "", "flag"),
    "duration_min": ("session duration", "min", "measure"), "model": ("model", "", "category"),
    "feature": ("feature", "", "category"), "team": ("team", "", "category"),
}


@dataclass(frozen=True)
class SatisfactionEvaluation:
    """A satisfaction model scored on sessions after its training period.

    Attributes
    ----------
    period : tuple of Timestamp
        First and last start of the evaluated sessions.
    scores : DataFrame
        ``model, role, sessions, mae, rmse, mae_improvement`` for the model (``chosen``), the
        mean predictor and the median predictor (``baseline``; both from the training
        period's scores); ``mae_improvement`` is ``1 - mae / mae of the mean predictor``.
    importance : DataFrame
        Permutation importance: ``rank, feature, importance`` (mean rise of the MAE, points,
        when the feature is shuffled), ``std``, ``description``.
    partial_dependence : DataFrame
        ``feature, kind, value, satisfaction`` for the top drivers: the mean prediction with
        the feature set to ``value`` for every evaluated session.
    drivers : DataFrame
        From :func:`driver_sentences`: ``feature, importance, threshold, effect, share, sentence``.
    predictions : DataFrame
        The evaluated sessions with ``predicted_satisfaction``.

    Examples
    --------
    >>> evaluation = SatisfactionModel().fit(sessions).evaluate(sessions)  # doctest: +SKIP
    >>> evaluation.drivers["sentence"].iloc[0]  # doctest: +SKIP
    'mean generation latency above 3.2 s costs 0.62 satisfaction points (25% of sessions are above)'
    """

    period: tuple[pd.Timestamp, pd.Timestamp]
    scores: pd.DataFrame
    importance: pd.DataFrame
    partial_dependence: pd.DataFrame
    drivers: pd.DataFrame
    predictions: pd.DataFrame


class SatisfactionModel(BaseEstimator):
    """Session satisfaction from latency, errors, steps, rework, cache hit, model, feature and team.

    Parameters
    ----------
    candidates : tuple of str
        Families from ``SATISFACTION_CANDIDATES``: ``"linear"`` (ridge regression on log-scaled,
        standardized features) and ``"boosting"`` (histogram gradient boosting with absolute
        or squared error).
    validation_share, test_share : float
        For :func:`session_split` when ``fit`` is not given a split.
    n_repeats : int
        Shuffles per feature in the permutation importance.
    n_drivers : int
        Top drivers that get a partial dependence table and a sentence.
    seed : int

    Attributes
    ----------
    split_ : SessionSplit
    model_name_ : str
        The candidate with the lowest MAE on the validation period.
    estimator_ : Pipeline
        The chosen candidate refitted on every rated session before ``split_.test_start``.
    validation_scores_ : DataFrame
        ``model, mae, rmse, mae_improvement, chosen`` on the validation period (candidates
        trained before it; the mean predictor from the training period).
    trained_until_ : Timestamp
        ``split_.test_start``: the model saw no session starting at or after it.
    baseline_mean_, baseline_median_ : float
        The mean and median score before ``trained_until_``.
    features_ : list of str
    n_train_rows_ : int

    Examples
    --------
    >>> from analytics_lib.analysis.predict.features import session_features
    >>> from analytics_lib import synthetic_events
    >>> sf = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    >>> m = SatisfactionModel(n_repeats=2).fit(sf)
    >>> ev = m.evaluate(sf)
    >>> ev.importance["feature"].iloc[0]
    'latency_s'
    """

    def __init__(self, *, candidates: Sequence[str] = ("linear", "boosting"), validation_share: float = 0.15,
                 test_share: float = 0.25, n_repeats: int = 5, n_drivers: int = 3, seed: int = 0) -> None:
        self.candidates = candidates
        self.validation_share = validation_share
        self.test_share = test_share
        self.n_repeats = n_repeats
        self.n_drivers = n_drivers
        self.seed = seed

    def fit(self, sessions: pd.DataFrame, *, split: SessionSplit | None = None) -> "SatisfactionModel":
        """Train before the validation period, pick on it, refit on everything before the test period.

        Parameters
        ----------
        sessions : DataFrame
            From :func:`session_features` (unrated sessions are ignored).
        split : SessionSplit, optional
            Default: :func:`session_split` with this model's shares.

        Returns
        -------
        SatisfactionModel
            ``self``, fitted.
        """
        fams = [self.candidates] if isinstance(self.candidates, str) else list(self.candidates)
        bad = [f for f in fams if f not in SATISFACTION_CANDIDATES]
        if bad or not fams:
            raise WorkbenchError(f"candidates={self.candidates!r}: choose one or more of "
                                 f"{', '.join(SATISFACTION_CANDIDATES)}")
        check_positive_int(self.n_repeats, "n_repeats", high=1000)
        check_positive_int(self.n_drivers, "n_drivers", high=len(SESSION_FEATURES))
        check_positive_int(self.seed, "seed", low=0, high=2**32 - 1)
        names = {name: spec for f in fams for name, spec in SATISFACTION_CANDIDATES[f].items()}
        if split is None:
            split = session_split(sessions, validation_share=self.validation_share, test_share=self.test_share)
        if not isinstance(split, SessionSplit) or not split.validation_start < split.test_start:
            raise WorkbenchError("split must be a SessionSplit from session_split(...) with validation_start before "
                                 "test_start")
        rated = _rated(sessions)
        start = rated["start"]
        train = rated[(start < split.validation_start).to_numpy()]
        val = rated[((start >= split.validation_start) & (start < split.test_start)).to_numpy()]
        if len(train) < 30 or len(val) < 30:
            raise WorkbenchError(f"the training and validation periods hold {len(train)} and {len(val)} rated "
                                 "sessions: at least 30 each are needed; use session_split(...) or a longer period")
        Xt, Xv = (_matrix(f, list(SESSION_FEATURES), _CATEGORICAL_SESSION, "the session table") for f in (train, val))
        yt, yv = train["satisfaction"].to_numpy(), val["satisfaction"].to_numpy()
        rows = []
        base_mae = float(np.mean(np.abs(yv - yt.mean())))
        with _one_thread():
            for name, (kind, params) in names.items():  # a handful of candidates
                est = _pipeline(kind, params, _SESSION_NUMERIC, list(_CATEGORICAL_SESSION), int(self.seed),
                                "regression").fit(Xt, yt)
                err = est.predict(Xv) - yv
                rows.append((name, float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2)))))
            rows.append(("mean_predictor", base_mae, float(np.sqrt(np.mean((yv - yt.mean()) ** 2)))))
            scores = pd.DataFrame(rows, columns=["model", "mae", "rmse"])
            scores["mae_improvement"] = 1 - scores["mae"] / base_mae
            best = str(scores[scores["model"].isin(names)].sort_values("mae", kind="stable")["model"].iloc[0])
            before = pd.concat([train, val])
            Xb = _matrix(before, list(SESSION_FEATURES), _CATEGORICAL_SESSION, "the session table")
            kind, params = names[best]
            self.estimator_ = _pipeline(kind, params, _SESSION_NUMERIC, list(_CATEGORICAL_SESSION), int(self.seed),
                                        "regression").fit(Xb, before["satisfaction"].to_numpy())
        scores["chosen"] = scores["model"] == best
        self.split_ = split
        self.model_name_ = best
        self.validation_scores_ = scores
        self.trained_until_ = split.test_start
        self.baseline_mean_ = float(before["satisfaction"].mean())
        self.baseline_median_ = float(before["satisfaction"].median())
        self.features_ = list(SESSION_FEATURES)
        self.n_train_rows_ = len(before)
        self.training_window_ = {"sessions_from": before["start"].min().isoformat(),
                                 "sessions_until": split.test_start.isoformat(),
                                 "validation_from": split.validation_start.isoformat()}
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise WorkbenchError("this SatisfactionModel is not fitted yet: call fit(sessions) first "
                                 "(or load_model(path))")

    def predict(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """Predicted satisfaction per session: ``session_id, predicted_satisfaction`` (clipped to 1-5)."""
        self._fitted()
        X = _matrix(sessions, self.features_, _CATEGORICAL_SESSION, "the session table")
        with _one_thread():
            p = self.estimator_.predict(X) if len(X) else np.zeros(0)
        ids = sessions["session_id"].astype("str").to_numpy() if "session_id" in sessions else \
            np.asarray(sessions.index.astype(str))
        return pd.DataFrame({"session_id": ids, "predicted_satisfaction": np.clip(p, *S.SATISFACTION_RANGE)})

    def evaluate(self, sessions: pd.DataFrame) -> SatisfactionEvaluation:
        """Score the rated sessions that start at or after ``trained_until_`` (none the model saw).

        Returns
        -------
        SatisfactionEvaluation

        Raises
        ------
        WorkbenchError
            When no rated session starts after the training period.
        """
        self._fitted()
        rated = _rated(sessions)
        held = rated[(rated["start"] >= self.trained_until_).to_numpy()]
        if held.empty:
            raise WorkbenchError(f"no rated session starts on or after {self.trained_until_.date().isoformat()}, "
                                 "where the model's training ends: evaluate on later sessions (never on the "
                                 "training period)")
        X = _matrix(held, self.features_, _CATEGORICAL_SESSION, "the session table")
        y = held["satisfaction"].to_numpy()
        pred = self.predict(held)["predicted_satisfaction"].to_numpy()
        rows = []
        for name, role, p in ((self.model_name_, "chosen", pred), ("mean_predictor", "baseline", self.baseline_mean_),
                              ("median_predictor", "baseline", self.baseline_median_)):
            err = np.broadcast_to(p, y.shape) - y
            rows.append((name, role, len(y), float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2)))))
        scores = pd.DataFrame(rows, columns=["model", "role", "sessions", "mae", "rmse"])
        scores["mae_improvement"] = 1 - scores["mae"] / scores["mae"].iloc[1]
        importance = _importance(self.estimator_, X, y, scoring="neg_mean_absolute_error",
                                 n_repeats=int(self.n_repeats), seed=int(self.seed), describe=SESSION_FEATURES)
        top = importance["feature"].head(int(self.n_drivers)).tolist()
        pdp = self._partial_dependence(X, top)
        drivers = driver_sentences(pdp, X, importance)
        return SatisfactionEvaluation(period=(held["start"].min(), held["start"].max()), scores=scores,
                                      importance=importance, partial_dependence=pdp, drivers=drivers,
                                      predictions=held.assign(predicted_satisfaction=pred))

    def _partial_dependence(self, X: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
        """Mean prediction over the sessions with one feature set to each grid value (brute force)."""
        parts = []
        for f in features:  # the top few drivers
            grid, kind = _grid(X[f], categorical=f in _CATEGORICAL_SESSION)
            if not len(grid):
                continue
            stacked = pd.concat([X.assign(**{f: g}) for g in grid], ignore_index=True)
            with _one_thread():
                p = np.clip(self.estimator_.predict(stacked), *S.SATISFACTION_RANGE).reshape(len(grid), len(X))
            parts.append(pd.DataFrame({"feature": f, "kind": kind, "value": pd.Series(grid, dtype=object),
                                       "satisfaction": p.mean(axis=1)}))
        cols = ["feature", "kind", "value", "satisfaction"]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def _grid(values: pd.Series, *, categorical: bool, n: int = 20) -> tuple[list, str]:
    """Grid of a partial dependence: the categories, the integers of a count, or quantiles 5-95 %."""
    if categorical:
        return sorted(values[values != "(none)"].unique().tolist()), "categorical"
    v = values.dropna().to_numpy(dtype="float64")
    if not len(v):
        return [], "numeric"
    uniq = np.unique(v)
    if np.all(uniq == np.round(uniq)) and len(uniq) <= n:
        return [float(x) for x in uniq], "numeric"
    lo, hi = np.quantile(v, [0.05, 0.95])
    if np.all(uniq == np.round(uniq)):
        return [float(x) for x in np.unique(np.round(np.linspace(lo, hi, n)))], "numeric"
    return [float(x) for x in np.unique(np.quantile(v, np.linspace(0.05, 0.95, n)))], "numeric"


def _nice(x: float) -> float:
    """``x`` rounded to two significant digits (2.73 -> 2.7, 0.0461 -> 0.046)."""
    if x == 0 or not np.isfinite(x):
        return float(x)
    return float(np.round(x, 1 - int(np.floor(np.log10(abs(x))))))


def driver_sentences(partial_dependence: pd.DataFrame, sessions: pd.DataFrame, importance: pd.DataFrame) -> pd.DataFrame:
    """One plain sentence per top driver of satisfaction, read off its partial dependence.

    For a numeric driver the threshold is the 75th percentile of its values, rounded to two
    significant digits (for a count, the sessions above it have at least one more); the
    effect is the mean partial-dependence satisfaction of the sessions at or below the
    threshold minus that of the sessions above it, each session at its own value. So
    "mean generation latency above 2.7 s costs 0.41 satisfaction points" means: with the
    other factors as they were, the slower quarter of the sessions score 0.41 points lower
    than the rest, by the model. For a 0/1 driver the comparison is with and without; for a
    categorical one, the best against the worst category.

    Parameters
    ----------
    partial_dependence : DataFrame
        ``feature, kind, value, satisfaction`` (``SatisfactionEvaluation.partial_dependence``).
    sessions : DataFrame
        The evaluated sessions' feature values.
    importance : DataFrame
        ``feature, importance`` (the drivers' order and their importance).

    Returns
    -------
    DataFrame
        ``feature, importance, threshold, effect, share, sentence`` in the partial
        dependence's order; ``share`` is the share of sessions above the threshold (or in the
        worst category, or with the flag).

    Examples
    --------
    >>> pdp = pd.DataFrame({"feature": "latency_s", "kind": "numeric", "value": [1.0, 2.0, 3.0, 4.0],
    ...                     "satisfaction": [4.3, 4.0, 3.7, 3.4]})
    >>> x = pd.DataFrame({"latency_s": [1.0, 2.0, 3.0, 4.0]})
    >>> driver_sentences(pdp, x, pd.DataFrame({"feature": ["latency_s"], "importance": [0.2]}))["sentence"].iloc[0]
    'mean generation latency above 3.2 s costs 0.60 satisfaction points (25% of sessions are above)'
    """
    imp = importance.set_index("feature")["importance"] if len(importance) else pd.Series(dtype=float)
    rows = []
    for f, g in partial_dependence.groupby("feature", sort=False):  # a few drivers
        label, unit, kind = _SESSION_WORDS.get(f, (f.replace("_", " "), "", "measure"))
        if g["kind"].iloc[0] == "categorical":
            best, worst = g.loc[g["satisfaction"].idxmax()], g.loc[g["satisfaction"].idxmin()]
            effect = float(best["satisfaction"] - worst["satisfaction"])
            share = float((sessions[f].astype("str") == str(worst["value"])).mean())
            if effect < 0.05:
                text = (f"the {label} makes little difference by itself: from best ({best['value']}) to worst "
                        f"({worst['value']}) {effect:.2f} points, other factors as they were")
            else:
                text = (f"sessions on {label} {worst['value']} score {effect:.2f} points lower than on {best['value']} "
                        f"({share:.0%} of sessions are on {worst['value']})")
            rows.append((f, imp.get(f, np.nan), np.nan, effect, share, text))
            continue
        grid = g["value"].to_numpy(dtype="float64")
        curve = g["satisfaction"].to_numpy(dtype="float64")
        v = sessions[f].to_numpy(dtype="float64")
        v = v[~np.isnan(v)]
        if not len(v):
            continue
        at = np.interp(v, grid, curve)          # each session's partial dependence at its own value
        binary = set(np.unique(v)) <= {0.0, 1.0}
        t = 0.5 if binary else _nice(float(np.quantile(v, 0.75)))
        if kind == "count":
            t = float(np.floor(t))
        if not (v > t).any() or (v > t).all():
            continue
        above = v > t
        effect = float(at[~above].mean() - at[above].mean())
        share = float(above.mean())
        if binary:
            text = (f"sessions with {label} score {abs(effect):.2f} points {'lower' if effect >= 0 else 'higher'} "
                    f"than without ({share:.0%} of sessions have it)")
            t = np.nan
        elif kind == "count":
            n_more = int(t) + 1
            text = (f"sessions with {n_more} or more {label} score {abs(effect):.2f} points "
                    f"{'lower' if effect >= 0 else 'higher'} than the others ({share:.0%} of sessions)")
        else:
            thr = f"{t:g}" + (f" {unit}" if unit else "")
            text = (f"{label} above {thr} {'costs' if effect >= 0 else 'adds'} {abs(effect):.2f} satisfaction points "
                    f"({share:.0%} of sessions are above)")
        rows.append((f, imp.get(f, np.nan), t, effect, share, text))
    return pd.DataFrame(rows, columns=["feature", "importance", "threshold", "effect", "share", "sentence"])
