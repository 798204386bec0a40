"""Backtest scores: MAE, RMSE, sMAPE, MASE, interval coverage, width and pinball loss.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _order_cv(out: pd.DataFrame) -> pd.DataFrame:
    first = ["unique_id", "ds", "cutoff", "y"]
    return out[first + [c for c in out.columns if c not in first]]


def _model_columns(cv: pd.DataFrame) -> list[str]:
    return [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y", "model")
            and "-lo-" not in c and "-hi-" not in c]


def forecast_metrics(cv: pd.DataFrame, *, train: pd.DataFrame | None = None, season: int = 7,
                     level: int = 80) -> pd.DataFrame:
    """Accuracy of backtest forecasts per series and model.

    MAE, RMSE, sMAPE (in %, 0-200), MASE (MAE scaled by the in-sample MAE of the seasonal
    naive forecast on ``train``, or on the actuals when ``train`` is None; of the naive
    forecast for a series shorter than one season plus one step), interval
    ``coverage`` and mean ``width`` at ``level``, and the pinball loss averaged over the
    interval's two quantiles. Missing actuals (gaps) are skipped.

    Parameters
    ----------
    cv : DataFrame
        Backtest forecasts from :func:`backtest`: ``unique_id, ds, y, <model>...`` and optionally
        ``<model>-lo-<level>, <model>-hi-<level>``.
    train : DataFrame, optional
        The history (``unique_id, y`` in time order per series) whose seasonal naive errors scale
        MASE; None (default) uses the actuals in ``cv``.
    season : int
        Season length in steps of the seasonal naive forecast that scales MASE (default 7, a
        week of daily steps).
    level : int
        Interval level in percent for ``coverage``, ``width`` and ``pinball`` (default 80); a
        model without ``<model>-lo/hi-<level>`` columns gets none of the three.

    Returns
    -------
    DataFrame
        ``unique_id, model, mae, rmse, smape, mase[, coverage, width, pinball], n``.

    Examples
    --------
    >>> from analytics_lib import Forecaster, backtest
    >>> s = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)})
    >>> cv = backtest(Forecaster(models=["seasonal_naive"], granularity="D"), s, horizon=7, n_windows=2)
    >>> forecast_metrics(cv).columns.tolist()[:4]
    ['unique_id', 'model', 'mae', 'rmse']
    """
    cv = cv[cv["y"].notna()]
    codes, uids = pd.factorize(cv["unique_id"], sort=True)
    count = np.bincount(codes, minlength=len(uids)).astype("float64")

    def mean(values: np.ndarray) -> np.ndarray:  # per series; a NaN anywhere makes the mean NaN, as np.mean
        return np.bincount(codes, weights=values, minlength=len(uids)) / count

    base = train if train is not None else cv  # seasonal naive in-sample errors scale MASE
    by = base["unique_id"]
    y_base = base["y"].astype("float64")
    naive = y_base.groupby(by).diff(season).abs().groupby(by).mean()
    naive = naive.fillna(y_base.groupby(by).diff(1).abs().groupby(by).mean())  # shorter than a season: lag 1
    scale = naive.reindex(uids).to_numpy(dtype="float64")
    scale = np.where(scale > 0, scale, np.nan)
    y = cv["y"].to_numpy(dtype="float64")
    parts = []
    for m in _model_columns(cv):
        f = cv[m].to_numpy(dtype="float64")
        err = y - f
        mae = mean(np.abs(err))
        cols = {"unique_id": uids, "model": m, "mae": mae, "rmse": np.sqrt(mean(err ** 2)),
                "smape": mean(_point_loss(y, f, "smape")),
                "mase": mae / scale}
        lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
        if lo in cv and hi in cv:
            a, b = cv[lo].to_numpy(dtype="float64"), cv[hi].to_numpy(dtype="float64")
            q_lo, q_hi = (1 - level / 100) / 2, 1 - (1 - level / 100) / 2
            cols.update(coverage=mean(((y >= a) & (y <= b)).astype("float64")), width=mean(b - a),
                        pinball=mean((_pinball(y, a, q_lo) + _pinball(y, b, q_hi)) / 2))
        cols["n"] = count.astype("int64")
        parts.append(pd.DataFrame(cols))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["unique_id", "model", "mae", "rmse", "smape", "mase", "n"])
    order = np.argsort(pd.factorize(out["unique_id"], sort=True)[0], kind="stable")  # series, then models
    out = out.iloc[order].reset_index(drop=True)
    return out[[c for c in ("unique_id", "model", "mae", "rmse", "smape", "mase", "coverage", "width", "pinball", "n")
                if c in out]]


def _point_loss(y: np.ndarray, f: np.ndarray, metric: str) -> np.ndarray:
    """Each forecast's loss under ``metric``: squared error for ``rmse``, the sMAPE term (in %, 0 when
    both are 0) for ``smape``, absolute error otherwise (``mase``, ``mae``; for ``pinball``, which
    scores interval bounds, a point forecast gets its median loss, up to a factor 2)."""
    if metric == "rmse":
        return (y - f) ** 2
    if metric == "smape":
        denom = np.abs(y) + np.abs(f)
        return np.where(denom > 0, 200 * np.abs(y - f) / np.where(denom > 0, denom, 1), 0.0)
    return np.abs(y - f)


def _pinball(y: np.ndarray, pred: np.ndarray, q: float) -> np.ndarray:
    """Pinball (quantile) loss of each forecast."""
    d = y - pred
    return np.maximum(q * d, (q - 1) * d)
