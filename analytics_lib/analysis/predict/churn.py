"""The churn model: logistic regression vs gradient boosting on time-based splits, calibrated, against the recency rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from analytics_lib.analysis.predict.evaluation import churn_metrics, reliability_table
from analytics_lib.analysis.predict.features import (
    USER_FEATURES, _CATEGORICAL_USER, _check_active_days, _cutoff, churn_dataset)
from analytics_lib.analysis.predict.splits import TimeSplit, time_split
from analytics_lib.core import schema as S
from analytics_lib.core.checks import check_positive_int
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Models: shared pieces
def _signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log(1 + |x|)``: tames heavy tails for the linear models, keeps the order."""
    return np.sign(x) * np.log1p(np.abs(x))


def _matrix(frame: pd.DataFrame, names: Sequence[str], categorical: Sequence[str], what: str) -> pd.DataFrame:
    """The model inputs: numeric columns as floats, categorical ones as text with ``(none)`` for missing."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise WorkbenchError(f"{what} is missing the feature columns {', '.join(missing)}; build it with the same "
                             "library version the model was trained with")
    out = {}
    for c in names:  # a couple of dozen columns
        col = frame[c]
        if c in categorical:
            out[c] = col.astype("object").where(col.notna(), "(none)").astype("str").to_numpy(dtype=object)
        else:
            try:
                out[c] = pd.to_numeric(col.astype("float64"), errors="raise").to_numpy()
            except (TypeError, ValueError) as exc:
                raise WorkbenchError(f"{what}: feature {c!r} must be numeric ({exc})") from exc
    return pd.DataFrame(out, index=frame.index)


def _pipeline(kind: str, params: dict[str, Any], numeric: list[str], categorical: list[str], seed: int,
              task: str):
    """A scikit-learn pipeline over the raw feature frame: linear (scaled, one-hot) or boosting (native categories)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    if kind == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        num = Pipeline([("log", FunctionTransformer(_signed_log, feature_names_out="one-to-one")),
                        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                        ("scale", StandardScaler())])
        prep = ColumnTransformer([("num", num, numeric),
                                  ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), categorical)])
        model = LogisticRegression(max_iter=5000, **params) if task == "classification" else Ridge(**params)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        prep = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                                   categorical), ("num", "passthrough", numeric)])
        mask = [True] * len(categorical) + [False] * len(numeric)
        cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
        model = cls(categorical_features=mask, early_stopping=False, random_state=seed, **params)
    return Pipeline([("prep", prep), ("model", model)])


def _one_thread():
    """Fit and predict on one thread: the tables are small, and OpenMP threads on shared cores only wait.

    threadpoolctl limits only the thread pools already loaded, so scikit-learn's compiled
    modules (and the OpenMP runtime they bring) are imported first.
    """
    import sklearn.ensemble  # noqa: F401  (loads OpenMP)
    import sklearn.linear_model  # noqa: F401  (loads BLAS)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _typical(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> dict[str, Any]:
    """Median of each numeric feature and the most common value of each categorical one."""
    out: dict[str, Any] = {c: float(frame[c].median()) if frame[c].notna().any() else np.nan for c in numeric}
    for c in categorical:
        vc = frame[c].value_counts()
        out[c] = str(vc.index[0]) if len(vc) else "(none)"
    return out


def _importance(estimator, X: pd.DataFrame, y: np.ndarray, *, scoring: str, n_repeats: int, seed: int,
                describe: dict[str, str]) -> pd.DataFrame:
    from sklearn.inspection import permutation_importance

    with _one_thread():
        r = permutation_importance(estimator, X, y, scoring=scoring, n_repeats=n_repeats, random_state=seed)
    out = pd.DataFrame({"feature": list(X.columns), "importance": r.importances_mean, "std": r.importances_std})
    out["description"] = out["feature"].map(describe)
    out = out.sort_values(["importance", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _library_versions() -> dict[str, str]:
    import sklearn

    from analytics_lib import __version__

    return {"library_version": __version__, "sklearn_version": sklearn.__version__}


# ============================================================================================
# Churn
#: Candidate churn models per family: name -> (kind, parameters). Validation picks one.
CHURN_CANDIDATES: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "logistic": {
        "logistic_c0.1": ("linear", {"C": 0.1}),
        "logistic_c1": ("linear", {"C": 1.0}),
    },
    "boosting": {
        "boosting_8leaves": ("boosting", {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 8,
                                          "min_samples_leaf": 40, "l2_regularization": 1.0}),
        "boosting_depth3": ("boosting", {"max_iter": 200, "learning_rate": 0.05, "max_depth": 3,
                                         "min_samples_leaf": 40}),
    },
}
_CHURN_NUMERIC = [c for c in USER_FEATURES if c not in _CATEGORICAL_USER]
_CALIBRATIONS = ("sigmoid", "isotonic")


@dataclass(frozen=True)
class ChurnEvaluation:
    """A churn model scored on a held-out cutoff.

    Attributes
    ----------
    cutoff : Timestamp
        The evaluated cutoff (its labels cover ``[cutoff, cutoff + churn_window_days)``).
    scores : DataFrame
        :func:`churn_metrics` of the chosen calibrated model (``role`` ``chosen``), each raw
        candidate (``candidate``) and the recency rule (``baseline``); plus ``role`` and
        ``beats_baseline`` (ROC AUC above the recency rule's).
    reliability : DataFrame
        :func:`reliability_table` of the chosen model and the recency rule.
    importance : DataFrame
        Permutation importance at this cutoff: ``rank, feature, importance`` (mean drop of
        ROC AUC when the feature is shuffled), ``std``, ``description``.
    predictions : DataFrame
        One row per user: ``user_id, cutoff, churn_probability, recency_rule, risk_rank,
        churned, days_to_next, recency_days`` and each candidate's raw probability.

    Examples
    --------
    >>> evaluation = ChurnModel().fit(events).evaluate(events)  # doctest: +SKIP
    >>> evaluation.scores[["model", "role", "roc_auc", "brier"]]  # doctest: +SKIP
    """

    cutoff: pd.Timestamp
    scores: pd.DataFrame
    reliability: pd.DataFrame
    importance: pd.DataFrame
    predictions: pd.DataFrame


class ChurnModel(BaseEstimator):
    """Churn risk per user: candidates compared on a later cutoff, the best calibrated there.

    Parameters
    ----------
    churn_window_days : int
        Churn = no activity in this many days after the cutoff.
    active_days : int
        Users with an event in this many days before a cutoff are scored.
    candidates : tuple of str
        Families to try, from ``CHURN_CANDIDATES``: ``"logistic"`` (L2-regularized logistic
        regression on log-scaled, standardized features with one-hot categories; C 0.1 and 1)
        and ``"boosting"`` (histogram gradient boosting, two small configurations).
    calibration : {"sigmoid", "isotonic"}
        How the chosen model's probabilities are mapped to observed rates on the validation
        cutoff (``sigmoid``: Platt scaling, stable on a few hundred users; ``isotonic`` needs
        thousands).
    n_train, step_days : int
        Training cutoffs for :func:`time_split` when ``fit`` is not given a split; ``step_days``
        also spaces the validation folds.
    n_folds : int
        Rolling-origin validation folds: the validation cutoff and the ``n_folds - 1`` cutoffs
        ``step_days`` apart before it, each scored by candidates trained only on the training
        cutoffs whose labels end before it. The candidate with the lowest mean log loss wins
        (a proper scoring rule: it rewards ranking and probabilities, and is steadier than
        ROC AUC on a few dozen churners).
    top_k : int
        Size of the at-risk list the precision and recall at k refer to.
    gap : str
        Inactivity that ends a derived session.
    seed : int
        Seed of the boosting models and the permutation importance.

    Attributes
    ----------
    split_ : TimeSplit
    model_name_ : str
        The chosen candidate (lowest mean log loss over the validation folds).
    estimator_ : CalibratedClassifierCV
        The chosen pipeline, trained on the training cutoffs and calibrated on the validation cutoff.
    candidates_ : dict
        Every fitted candidate pipeline (uncalibrated).
    baseline_ : Pipeline
        The recency rule: a one-feature logistic fit of the label on ``log(1 + recency_days)``
        (it ranks users exactly as days since the last activity do).
    validation_scores_ : DataFrame
        Per candidate and for the recency rule: ``folds`` and the mean of each
        :func:`churn_metrics` score over the validation folds, with ``chosen``.
    validation_folds_ : DataFrame
        The same per fold (``fold, validation_cutoff, train_cutoffs``).
    features_ : list of str
    typical_ : dict
        The typical (median / most common) value of each feature among the validation
        cutoff's users: the reference of :meth:`explain`.
    training_window_ : dict
        ``events_from`` (first event used), ``train_cutoffs``, ``validation_cutoff`` and
        ``labels_until`` (the last day any training or calibration label looked at).
    n_train_rows_, n_validation_rows_ : int

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(30_000, days=100, end="2025-06-30", seed=0).events
    >>> m = ChurnModel(churn_window_days=14, candidates=("logistic",), n_train=3, n_folds=1).fit(ev)
    >>> m.model_name_ in m.candidates_, m.evaluate(ev).cutoff.date().isoformat()
    (True, '2025-06-16')
    """

    def __init__(self, *, churn_window_days: int = 28, active_days: int = 28,
                 candidates: Sequence[str] = ("logistic", "boosting"), calibration: str = "sigmoid", n_train: int = 8,
                 step_days: int = 7, n_folds: int = 3, top_k: int = 50, gap: str = "30min", seed: int = 0) -> None:
        self.churn_window_days = churn_window_days
        self.active_days = active_days
        self.candidates = candidates
        self.calibration = calibration
        self.n_train = n_train
        self.step_days = step_days
        self.n_folds = n_folds
        self.top_k = top_k
        self.gap = gap
        self.seed = seed

    # -- fitting --------------------------------------------------------------------------
    def _check(self) -> tuple[int, int, list[str]]:
        window = check_positive_int(self.churn_window_days, "churn_window_days", high=3650)
        days = _check_active_days(self.active_days)
        fams = [self.candidates] if isinstance(self.candidates, str) else list(self.candidates)
        bad = [f for f in fams if f not in CHURN_CANDIDATES]
        if bad or not fams:
            raise WorkbenchError(f"candidates={self.candidates!r}: choose one or more of {', '.join(CHURN_CANDIDATES)}")
        if self.calibration not in _CALIBRATIONS:
            raise WorkbenchError(f"calibration={self.calibration!r}: use 'sigmoid' or 'isotonic'")
        check_positive_int(self.top_k, "top_k")
        check_positive_int(self.seed, "seed", low=0, high=2**32 - 1)
        return window, days, [name for f in fams for name in CHURN_CANDIDATES[f]]

    def fit(self, events: pd.DataFrame, *, split: TimeSplit | None = None) -> "ChurnModel":
        """Train the candidates on earlier cutoffs, pick one on rolling validation cutoffs, calibrate it.

        The final candidates are trained on every training cutoff; the chosen one is
        calibrated (``calibration``) on the validation cutoff, whose labels end before the
        split's test cutoff begins.

        Parameters
        ----------
        events : DataFrame
            Validated events covering the split (features before the first training cutoff,
            labels up to the validation cutoff's window end).
        split : TimeSplit, optional
            Default: :func:`time_split` with this model's settings.

        Returns
        -------
        ChurnModel
            ``self``, fitted.

        Raises
        ------
        WorkbenchError
            For bad settings, a split whose training labels overlap the validation period, or
            too few churners (or stayers) to learn from.
        """
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.frozen import FrozenEstimator

        window, days, names = self._check()
        if split is None:
            split = time_split(events, churn_window_days=window, n_train=self.n_train, step_days=self.step_days,
                               active_days=days)
        if not isinstance(split, TimeSplit):
            raise WorkbenchError(f"split must be a TimeSplit from time_split(...), got {type(split).__name__}")
        if split.churn_window_days != window:
            raise WorkbenchError(f"the split was made for churn_window_days={split.churn_window_days}, the model uses "
                                 f"{window}: make the split with the model's window")
        late = [c for c in split.train if c + pd.Timedelta(days=window) > split.validation]
        if late or not split.train:
            raise WorkbenchError(
                f"training cutoffs {[c.date().isoformat() for c in late]} have labels that run into the validation "
                f"cutoff {split.validation.date().isoformat()}: each training cutoff must be at least "
                f"{window} days before it (use time_split)")
        step = check_positive_int(self.step_days, "step_days", high=3650)
        n_folds = check_positive_int(self.n_folds, "n_folds", high=52)
        wd = pd.Timedelta(days=window)
        folds = []  # (validation cutoff, its training cutoffs): fold 0 is the split itself
        for k in range(n_folds):
            v = split.validation - pd.Timedelta(days=step * k)
            tr = [c for c in split.train if c + wd <= v]
            if tr:
                folds.append((v, tr))
        data = churn_dataset(events, cutoffs=sorted({*split.train, *(v for v, _ in folds)}), churn_window_days=window,
                             active_days=days, gap=self.gap)
        X = _matrix(data, list(USER_FEATURES), _CATEGORICAL_USER, "the feature table")
        y = data["churned"].to_numpy(dtype=bool)
        cut = data["cutoff"]
        in_train = cut.isin(split.train).to_numpy()
        is_val = (cut == split.validation).to_numpy()
        for mask, what in ((in_train, "the training cutoffs hold"), (is_val, "the validation cutoff holds")):
            n_pos = int(y[mask].sum())
            if n_pos < 5 or int(mask.sum()) - n_pos < 5:
                raise WorkbenchError(
                    f"{what} {n_pos} churners among {int(mask.sum())} users: at least 5 churners and 5 users who "
                    "stay are needed to learn and calibrate; load a longer history, more users, or change "
                    "churn_window_days")

        def make(name: str):
            kind, params = next(CHURN_CANDIDATES[f][name] for f in CHURN_CANDIDATES if name in CHURN_CANDIDATES[f])
            return _pipeline(kind, params, _CHURN_NUMERIC, list(_CATEGORICAL_USER), self.seed, "classification")

        per_fold, fitted, baseline = [], {}, None
        with _one_thread():
            for k, (v, tr) in enumerate(folds):  # a few rolling-origin folds x a handful of candidates
                fit_rows, val_rows = cut.isin(tr).to_numpy(), (cut == v).to_numpy()
                if y[fit_rows].all() or not y[fit_rows].any():
                    continue
                Xf, yf, Xv = X[fit_rows], y[fit_rows], X[val_rows]
                models = {n: make(n).fit(Xf, yf) for n in names}
                rule = _recency_rule().fit(Xf[["recency_days"]], yf)
                if k == 0:  # fold 0 trains on every training cutoff: its models are the final candidates
                    fitted, baseline = models, rule
                scored = pd.DataFrame({"churned": y[val_rows],
                                       **{n: m.predict_proba(Xv)[:, 1] for n, m in models.items()},
                                       "recency_rule": rule.predict_proba(Xv[["recency_days"]])[:, 1]})
                sc = churn_metrics(scored, models=[*names, "recency_rule"], top_k=self.top_k)
                per_fold.append(sc.assign(fold=k, validation_cutoff=v, train_cutoffs=len(tr)))
            folds_table = pd.concat(per_fold, ignore_index=True)
            metric_cols = ["roc_auc", "pr_auc", "brier", "log_loss", "precision_at_k", "recall_at_k", "lift_at_k"]
            scores = folds_table.groupby("model", sort=False)[metric_cols].mean().reset_index()
            scores.insert(1, "folds", folds_table.groupby("model", sort=False).size().to_numpy())
            loss = scores.set_index("model")["log_loss"].reindex(names).fillna(np.inf)
            best = str(loss.idxmin())
            Xv, yv = X[is_val], y[is_val]
            calibrated = CalibratedClassifierCV(FrozenEstimator(fitted[best]), method=self.calibration).fit(Xv, yv)
        train, val = data[in_train], data[is_val]
        self.validation_folds_ = folds_table
        scores["chosen"] = scores["model"] == best
        self.split_ = split
        self.model_name_ = best
        self.estimator_ = calibrated
        self.candidates_ = fitted
        self.baseline_ = baseline
        self.validation_scores_ = scores
        self.features_ = list(USER_FEATURES)
        self.typical_ = _typical(X[is_val], _CHURN_NUMERIC, _CATEGORICAL_USER)
        self.training_window_ = {
            "events_from": events[S.TS].min().isoformat(),
            "train_cutoffs": [c.date().isoformat() for c in split.train],
            "validation_cutoff": split.validation.date().isoformat(),
            "labels_until": (split.validation + pd.Timedelta(days=window - 1)).date().isoformat(),
        }
        self.n_train_rows_, self.n_validation_rows_ = len(train), len(val)
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise WorkbenchError("this ChurnModel is not fitted yet: call fit(events) first (or load_model(path))")

    # -- using -----------------------------------------------------------------------------
    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Calibrated churn probability per user of a :func:`user_features` table.

        Returns
        -------
        DataFrame
            ``user_id, cutoff, churn_probability, recency_rule`` (the baseline's probability)
            and ``risk_rank`` (1 = highest risk), in the input's order.
        """
        self._fitted()
        X = _matrix(features, self.features_, _CATEGORICAL_USER, "the feature table")
        with _one_thread():
            p = self.estimator_.predict_proba(X)[:, 1] if len(X) else np.zeros(0)
            rule = self.baseline_.predict_proba(X[["recency_days"]])[:, 1] if len(X) else np.zeros(0)
        out = pd.DataFrame({"user_id": features["user_id"].astype("str").to_numpy() if "user_id" in features else
                            np.asarray(features.index.astype(str)),
                            "cutoff": features["cutoff"].array if "cutoff" in features else pd.NaT,
                            "churn_probability": p, "recency_rule": rule})
        out["risk_rank"] = out["churn_probability"].rank(ascending=False, method="first").astype("int64")
        return out

    def evaluate(self, events: pd.DataFrame, *, cutoff: str | pd.Timestamp | None = None) -> ChurnEvaluation:
        """Score the model on a later cutoff whose labels no training or calibration step saw.

        Parameters
        ----------
        events : DataFrame
            Validated events covering ``[cutoff - history, cutoff + churn_window_days)``.
        cutoff : str or Timestamp, optional
            Default: the split's test cutoff. Must be at least ``churn_window_days`` after the
            validation cutoff.

        Returns
        -------
        ChurnEvaluation

        Raises
        ------
        WorkbenchError
            When the cutoff's labels would overlap the training or calibration period.
        """
        self._fitted()
        window = int(self.churn_window_days)
        c = self.split_.test if cutoff is None else _cutoff(cutoff)
        first_ok = self.split_.validation + pd.Timedelta(days=window)
        if c < first_ok:
            raise WorkbenchError(
                f"cutoff={c.date().isoformat()} overlaps the period the model was trained and calibrated on (labels up "
                f"to {self.training_window_['labels_until']}): evaluate at a cutoff on or after "
                f"{first_ok.date().isoformat()}, so that no test scores the training period")
        data = churn_dataset(events, cutoffs=[c], churn_window_days=window, active_days=int(self.active_days),
                             gap=self.gap)
        if data.empty:
            raise WorkbenchError(f"no user was active in the {self.active_days} days before cutoff={c.date().isoformat()}")
        X = _matrix(data, self.features_, _CATEGORICAL_USER, "the feature table")
        pred = self.predict(data)
        with _one_thread():
            raw = {n: est.predict_proba(X)[:, 1] for n, est in self.candidates_.items()}
        scored = pred.assign(churned=data["churned"].to_numpy(), days_to_next=data["days_to_next"].to_numpy(),
                             recency_days=data["recency_days"].to_numpy(), **raw)
        names = list(self.candidates_)
        scores = churn_metrics(scored, models=["churn_probability", *names, "recency_rule"], top_k=int(self.top_k))
        scores["model"] = [f"{self.model_name_} (calibrated)", *names, "recency_rule"]
        scores.insert(1, "role", ["chosen", *["candidate"] * len(names), "baseline"])
        base_auc = float(scores["roc_auc"].iloc[-1])
        scores["beats_baseline"] = (scores["roc_auc"] > base_auc) & (scores["role"] != "baseline")
        reliability = reliability_table(scored, models=["churn_probability", "recency_rule"])
        y = data["churned"].to_numpy(dtype=bool)
        importance = _importance(self.estimator_, X, y, scoring="roc_auc", n_repeats=5, seed=int(self.seed),
                                 describe=USER_FEATURES) if 0 < y.sum() < len(y) else \
            pd.DataFrame(columns=["rank", "feature", "importance", "std", "description"])
        return ChurnEvaluation(cutoff=c, scores=scores, reliability=reliability, importance=importance,
                               predictions=scored)

    def explain(self, features: pd.DataFrame, *, top: int = 3, users: Sequence[str] | None = None) -> pd.DataFrame:
        """The reasons behind each user's churn risk, in plain words.

        Features that measure the same thing are explained together, as one *driver*
        (``EXPLAIN_DRIVERS``: inactivity, activity level, tenure, workflow, latency, errors,
        cache, satisfaction, cost, team, main feature, main model). A driver's contribution is
        how much the calibrated probability drops when its features are set to their typical
        values (``typical_``: the median, or the most common category, among the validation
        cutoff's users) and everything else stays as it is: a what-if attribution that works for
        any model. Only drivers that raise the risk by at least half a point are listed, so a
        user with nothing unusual has no reasons.

        Parameters
        ----------
        features : DataFrame
            From :func:`user_features`.
        top : int
            Reasons per user.
        users : list of str, optional
            Explain only these users.

        Returns
        -------
        DataFrame
            ``user_id, rank, driver, effect`` (probability points, 0-1) and ``reason``, e.g.
            ``"last active 12 days ago (typical: 2 days), silent for 9.8x their usual gap
            between sessions (typical: 1.8x): +31 points"``; sorted by user then rank.
        """
        self._fitted()
        top = check_positive_int(top, "top", high=len(EXPLAIN_DRIVERS))
        f = features
        if users is not None:
            f = features[features["user_id"].astype("str").isin([str(u) for u in users]).to_numpy()]
        X = _matrix(f, self.features_, _CATEGORICAL_USER, "the feature table").reset_index(drop=True)
        n, drivers = len(X), list(EXPLAIN_DRIVERS)
        cols = ["user_id", "rank", "driver", "effect", "reason"]
        if n == 0:
            return pd.DataFrame(columns=cols)
        stacked = pd.concat([X.assign(**{c: self.typical_[c] for c in EXPLAIN_DRIVERS[d]}) for d in drivers],
                            ignore_index=True)
        with _one_thread():
            base = self.estimator_.predict_proba(X)[:, 1]
            what_if = self.estimator_.predict_proba(stacked)[:, 1].reshape(len(drivers), n).T
        effect = base[:, None] - what_if                        # (users, drivers)
        order = np.argsort(-effect, axis=1, kind="stable")[:, :top]
        rows = np.repeat(np.arange(n), order.shape[1])
        idx = order.ravel()
        eff = effect[rows, idx]
        keep = eff >= 0.005
        rows, idx, eff = rows[keep], idx[keep], eff[keep]
        reason = np.empty(len(rows), dtype=object)
        for j in np.unique(idx):  # one pass per driver that appears (a dozen at most)
            sel = idx == j
            lead = [c for c in EXPLAIN_DRIVERS[drivers[j]] if c in _LEAD_FEATURES]
            parts = [[f"{_phrase(c, v)} (typical: {_phrase_value(c, self.typical_[c])})"
                      for v in X[c].to_numpy()[rows[sel]]] for c in lead]
            reason[sel] = [", ".join(words) + f": +{100 * e:.0f} point" + ("" if round(100 * e) == 1 else "s")
                           for *words, e in zip(*parts, eff[sel])]
        out = pd.DataFrame({"user_id": f["user_id"].astype("str").to_numpy()[rows],
                            "driver": np.asarray(drivers, dtype=object)[idx], "effect": eff, "reason": reason})
        out.insert(1, "rank", out.groupby("user_id").cumcount() + 1)
        return out[cols].sort_values(["user_id", "rank"], kind="stable").reset_index(drop=True)


#: Features explained together: driver -> its features (each feature in exactly one driver).
EXPLAIN_DRIVERS: dict[str, tuple[str, ...]] = {
    "inactivity": ("recency_days", "overdue_ratio", "missed_sessions"),
    "activity level": ("sessions_28d", "activity_trend", "active_days_28d", "sessions_7d", "sessions_per_week",
                       "mean_gap_days"),
    "tenure": ("tenure_days",),
    "workflow": ("completion_rate", "rework_rate", "events_per_session"),
    "latency": ("latency_mean_s", "latency_p95_s"),
    "errors": ("error_share",),
    "cache": ("cache_hit_rate",),
    "satisfaction": ("satisfaction_mean", "feedback_count"),
    "cost": ("cost_usd_28d", "cost_per_session"),
    "team": ("team",),
    "main feature": ("main_feature",),
    "main model": ("main_model",),
}
#: The features a driver's reason quotes (the others move with them).
_LEAD_FEATURES = frozenset({"recency_days", "overdue_ratio", "sessions_28d", "activity_trend", "tenure_days",
                            "completion_rate", "rework_rate", "latency_mean_s", "error_share", "cache_hit_rate",
                            "satisfaction_mean", "cost_usd_28d", "team", "main_feature", "main_model"})


def _recency_rule():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline([("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                     ("model", LogisticRegression(C=1e4, max_iter=1000))])


# plain words: a phrase per feature with a formatter for its value
def _days(x: float) -> str:
    if x < 1 / 24:
        return "under an hour"
    if x < 1:
        return f"{x * 24:.0f} hours"
    return f"{x:.0f} day" + ("s" if round(x) != 1 else "")


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _num(x: float) -> str:
    return f"{x:,.1f}"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _sessions(x: float) -> str:
    return f"{x:,.0f} session" + ("" if round(x) == 1 else "s")


_USER_WORDS: dict[str, tuple[str, Any]] = {
    "recency_days": ("last active {} ago", _days),
    "tenure_days": ("using the assistant for {}", _days),
    "active_days_28d": ("active on {} of the last 28 days", _count),
    "sessions_7d": ("{} in the last 7 days", _sessions),
    "sessions_28d": ("{} in the last 28 days", _sessions),
    "sessions_per_week": ("{} sessions per week", _num),
    "activity_trend": ("activity x{} in the last 2 weeks vs the 2 before", lambda x: f"{2 ** x:.2f}"),
    "mean_gap_days": ("usually {} between sessions", _days),
    "overdue_ratio": ("silent for {} their usual gap between sessions", lambda x: f"{x:,.1f}x"),
    "missed_sessions": ("{} sessions missed at their usual pace", _num),
    "events_per_session": ("{} events per session", _num),
    "completion_rate": ("{} of sessions completed (accept or export)", _pct),
    "rework_rate": ("{} of sessions with rework", _pct),
    "latency_mean_s": ("mean generation latency {} s", lambda x: f"{x:.1f}"),
    "latency_p95_s": ("p95 generation latency {} s", lambda x: f"{x:.1f}"),
    "error_share": ("{} of LLM requests failed", _pct),
    "cache_hit_rate": ("cache answered {} of lookups", _pct),
    "satisfaction_mean": ("mean satisfaction {} / 5", _num),
    "feedback_count": ("feedback given {} times", _count),
    "cost_usd_28d": ("${} spent in the last 28 days", lambda x: f"{x:,.2f}"),
    "cost_per_session": ("${} per session", lambda x: f"{x:,.3f}"),
    "team": ("in team {}", str),
    "main_feature": ("mostly uses {}", str),
    "main_model": ("mostly on {}", str),
}


def _phrase_value(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "(none)":
        return "none"
    return _USER_WORDS[name][1](value)


def _phrase(name: str, value: Any) -> str:
    text = _phrase_value(name, value)
    if text == "none":
        return f"no {name.replace('_', ' ')} yet"
    return _USER_WORDS[name][0].format(text)
