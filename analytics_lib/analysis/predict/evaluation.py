"""How good a churn model is: ranking metrics, lift at the top, reliability (calibration) tables.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.checks import check_positive_int
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Metrics
def _rank_metrics(y: np.ndarray, s: np.ndarray, k: int) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    both = 0 < y.sum() < len(y)
    order = np.argsort(-s, kind="stable")
    top = y[order[: min(k, len(y))]]
    return {
        "roc_auc": float(roc_auc_score(y, s)) if both else np.nan,
        "pr_auc": float(average_precision_score(y, s)) if both else np.nan,
        "precision_at_k": float(top.mean()) if len(top) else np.nan,
        "recall_at_k": float(top.sum() / y.sum()) if y.sum() else np.nan,
        "lift_at_k": float(top.mean() / y.mean()) if len(top) and y.mean() > 0 else np.nan,
    }


def churn_metrics(scored: pd.DataFrame, *, models: Sequence[str], label: str = "churned",
                  top_k: int = 50) -> pd.DataFrame:
    """Ranking and probability scores of one or more churn predictions against the labels.

    ``roc_auc`` and ``pr_auc`` (average precision) measure the ranking; ``precision_at_k`` is
    the share of churners among the ``top_k`` highest-risk users, ``recall_at_k`` the share of
    all churners they hold, ``lift_at_k`` the precision over the base rate. ``brier`` (mean
    squared error of the probability) and ``log_loss`` measure the probabilities and are NaN
    for a score outside [0, 1]. Ties in the top-k are broken by row order.

    Parameters
    ----------
    scored : DataFrame
        One row per user with the boolean ``label`` column and one column per model's score.
    models : list of str
        The score columns to evaluate.
    label : str
    top_k : int

    Returns
    -------
    DataFrame
        ``model, users, churners, base_rate, roc_auc, pr_auc, brier, log_loss, k,
        precision_at_k, recall_at_k, lift_at_k``, one row per model in the order given.

    Examples
    --------
    >>> sc = pd.DataFrame({"churned": [True, False, False, True], "p": [0.9, 0.2, 0.4, 0.6]})
    >>> churn_metrics(sc, models=["p"], top_k=2)[["roc_auc", "precision_at_k", "recall_at_k"]].iloc[0].tolist()
    [1.0, 1.0, 1.0]
    """
    from sklearn.metrics import log_loss

    k = check_positive_int(top_k, "top_k")
    for c in [label, *models]:
        if c not in scored.columns:
            raise WorkbenchError(f"churn_metrics: {c!r} is not a column of the scored frame "
                                 f"(columns: {', '.join(map(str, scored.columns))})")
    y = scored[label].to_numpy(dtype=bool)
    rows = []
    for m in models:  # a handful of models
        s = scored[m].to_numpy(dtype="float64")
        if np.isnan(s).any():
            raise WorkbenchError(f"churn_metrics: {m!r} has missing scores; score every user")
        prob = bool(((s >= 0) & (s <= 1)).all())
        row = {"model": m, "users": len(y), "churners": int(y.sum()), "base_rate": float(y.mean()) if len(y) else np.nan,
               "roc_auc": np.nan, "pr_auc": np.nan,
               "brier": float(np.mean((s - y) ** 2)) if prob and len(y) else np.nan,
               "log_loss": float(log_loss(y, np.clip(s, 1e-6, 1 - 1e-6), labels=[False, True]))
               if prob and len(y) else np.nan,
               "k": min(k, len(y))}
        row.update(_rank_metrics(y.astype(float), s, k))
        rows.append(row)
    cols = ["model", "users", "churners", "base_rate", "roc_auc", "pr_auc", "brier", "log_loss", "k",
            "precision_at_k", "recall_at_k", "lift_at_k"]
    return pd.DataFrame(rows, columns=cols)


def reliability_table(scored: pd.DataFrame, *, models: Sequence[str], label: str = "churned",
                      n_bins: int = 10) -> pd.DataFrame:
    """The reliability curve: predicted probability against the observed churn rate, per bin.

    Users are put in ``n_bins`` bins of equal size by predicted probability (quantile bins;
    fewer when probabilities repeat). A calibrated model's ``observed_rate`` is close to its
    ``mean_predicted`` in every bin; ``ci_low``/``ci_high`` is the 95 % Wilson interval of the
    observed rate, so a bin whose interval misses the prediction is miscalibrated beyond noise.

    Parameters
    ----------
    scored : DataFrame
        One row per user with the ``label`` column (churned: true or 1) and one probability
        column per model.
    models : list of str
        The probability columns to evaluate; their values must be within [0, 1].
    label : str
        The label column (default ``"churned"``).
    n_bins : int
        Number of quantile bins per model, from 1 to 1000 (default 10).

    Returns
    -------
    DataFrame
        ``model, bin, p_low, p_high, mean_predicted, observed_rate, users, churners, ci_low,
        ci_high``.

    Examples
    --------
    >>> sc = pd.DataFrame({"churned": [0, 0, 1, 1] * 25, "p": [0.1, 0.2, 0.8, 0.9] * 25})
    >>> reliability_table(sc, models=["p"], n_bins=2)[["mean_predicted", "observed_rate"]].round(2).values.tolist()
    [[0.15, 0.0], [0.85, 1.0]]
    """
    bins = check_positive_int(n_bins, "n_bins", low=1, high=1000)
    y = scored[label].to_numpy(dtype=float)
    parts = []
    for m in models:  # a handful of models
        p = scored[m].to_numpy(dtype="float64")
        if not ((p >= 0) & (p <= 1)).all():
            raise WorkbenchError(f"reliability_table: {m!r} is not a probability (values outside 0-1)")
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1))) if len(p) else np.zeros(1)
        b = np.searchsorted(edges[1:-1], p, side="right")  # equal probabilities share a bin
        g = pd.DataFrame({"b": b, "p": p, "y": y}).groupby("b", sort=True)
        out = pd.DataFrame({"p_low": g["p"].min(), "p_high": g["p"].max(), "mean_predicted": g["p"].mean(),
                            "observed_rate": g["y"].mean(), "users": g.size(), "churners": g["y"].sum()})
        out = out.reset_index(drop=True)
        lo, hi = _wilson(out["churners"].to_numpy(dtype=float), out["users"].to_numpy(dtype=float))
        out = out.assign(ci_low=lo, ci_high=hi, model=m)
        out.insert(0, "bin", np.arange(1, len(out) + 1))
        parts.append(out)
    cols = ["model", "bin", "p_low", "p_high", "mean_predicted", "observed_rate", "users", "churners", "ci_low", "ci_high"]
    res = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    res[["users", "churners"]] = res[["users", "churners"]].astype("int64")
    return res


def _wilson(k: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        d = 1 + z**2 / n
        c = (p + z**2 / (2 * n)) / d
        h = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / d
    return np.clip(c - h, 0, 1), np.clip(c + h, 0, 1)
