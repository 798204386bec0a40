"""The statistics behind insights: Mann-Kendall trends, HAC regressions, correlations with Benjamini-Hochberg control.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.analysis.insights.model import KPI_FAMILIES
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Statistics
@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall monotonic trend test and Sen's slope.

    Attributes
    ----------
    n : int
    s : float
        Sum of the signs of all later-minus-earlier differences.
    var_s : float
        Variance of ``s`` under no trend, corrected for ties.
    z, p_value : float
        Continuity-corrected normal statistic and two-sided p-value.
    tau : float
        Kendall's tau (``s`` over the number of pairs).
    sen_slope : float
        Median of all pairwise slopes, per unit of ``x``.
    """

    n: int
    s: float
    var_s: float
    z: float
    p_value: float
    tau: float
    sen_slope: float


def mann_kendall(y: Sequence[float] | np.ndarray, *, x: Sequence[float] | np.ndarray | None = None) -> MannKendall:
    """The Mann-Kendall test for a monotonic trend (Mann 1945, Kendall 1975) with Sen's slope.

    Missing values are left out. ``var_s = [n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18`` over tie
    groups ``t``; ``z = (s - sign(s)) / sqrt(var_s)``. The test assumes independent
    observations: positive autocorrelation makes it too liberal.

    Parameters
    ----------
    y : array-like
    x : array-like, optional
        Positions (default ``0, 1, 2, ...``), used for Sen's slope.

    Returns
    -------
    MannKendall

    Examples
    --------
    >>> r = mann_kendall([1.0, 2.0, 2.5, 3.0, 3.5, 5.0, 5.5, 7.0])
    >>> r.s, r.tau, round(r.p_value, 4), r.sen_slope
    (28.0, 1.0, 0.0008, 0.775)
    """
    yv = np.asarray(y, dtype="float64")
    xv = np.arange(len(yv), dtype="float64") if x is None else np.asarray(x, dtype="float64")
    if len(xv) != len(yv):
        raise WorkbenchError(f"mann_kendall: x has {len(xv)} values for {len(yv)} values of y")
    ok = np.isfinite(yv) & np.isfinite(xv)
    yv, xv = yv[ok], xv[ok]
    n = len(yv)
    if n < 3:
        raise WorkbenchError(f"mann_kendall needs at least 3 values ({n} given)")
    i, j = np.triu_indices(n, k=1)   # n(n-1)/2 pairs: fine for the few thousand points of a KPI series
    dy, dx = yv[j] - yv[i], xv[j] - xv[i]
    s = float(np.sign(dy).sum())
    _, counts = np.unique(yv, return_counts=True)
    ties = counts[counts > 1].astype("float64")
    var_s = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18.0
    z = (s - np.sign(s)) / math.sqrt(var_s) if var_s > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z)))
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = dy[dx != 0] / dx[dx != 0]
    return MannKendall(n=n, s=s, var_s=float(var_s), z=float(z), p_value=p, tau=s / (n * (n - 1) / 2),
                       sen_slope=float(np.median(slopes)) if len(slopes) else float("nan"))


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    ``q_(i) = min_{k >= i} min(1, m p_(k) / k)`` over the sorted p-values; rejecting
    ``q <= alpha`` keeps the expected share of false discoveries at most ``alpha`` for
    independent (or positively dependent) tests. NaN p-values stay NaN and do not count in
    ``m``.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p_values, dtype="float64")
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if (p[ok] < 0).any() or (p[ok] > 1).any():
        raise WorkbenchError("benjamini_hochberg: p-values must lie in [0, 1]")
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    ranked = pv[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    q[ok] = out
    return q


def _series_frame(series: Any, metrics: Sequence[str] | None) -> pd.DataFrame:
    """A wide frame indexed by time, one float column per metric."""
    from analytics_lib.analysis.anomaly.series import metric_series  # the shared input parser

    ms = metric_series(series, metrics)
    frame = pd.concat([pd.Series(m.y, index=m.ts, name=m.name) for m in ms], axis=1)
    return frame.sort_index()


def _design(index: pd.DatetimeIndex, seasonal: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Time in days since the first period, and weekday dummies (daily data of 2+ weeks)."""
    t = ((index - index[0]) / pd.Timedelta("1D")).to_numpy(dtype="float64")
    cols = [np.ones(len(index))]
    names = ["const"]
    if seasonal:
        dow = index.day_of_week.to_numpy()
        for d in range(1, 7):
            if (dow == d).any():
                cols.append((dow == d).astype("float64"))
                names.append(f"dow{d}")
    return t, np.column_stack(cols), names


def _is_daily_seasonal(index: pd.DatetimeIndex) -> bool:
    if len(index) < 14:
        return False
    step = pd.Series(index).diff().median()
    return step == pd.Timedelta("1D")


def _hac_lags(n: int) -> int:
    return max(1, int(math.floor(4 * (n / 100) ** (2 / 9))))


def trend_table(series: Any, *, metrics: Sequence[str] | None = None, alpha: float = 0.05,
                seasonal: bool | None = None, min_periods: int = 8) -> pd.DataFrame:
    """Trend of each KPI over the window: regression slope with significance, or Mann-Kendall.

    For each metric, ``y ~ a + b t (+ weekday effects)`` is fitted by OLS with Newey-West
    (HAC) standard errors (``t`` in days; weekday dummies for daily data of two weeks or
    more, so a weekend dip is not a trend). ``r2`` is the share of the weekday-adjusted
    variance the line explains. A quadratic term tests linearity: when it is significant
    (``p < alpha``), the series is not linear and the Mann-Kendall test on the
    weekday-adjusted values with Sen's slope is used (``method="mann-kendall"``), else the
    regression (``method="linear"``). ``change_per_week`` is the chosen slope x 7 over the
    mean level; ``total_change`` the slope over the whole span over the fitted start value.

    Parameters
    ----------
    series : DataFrame or Series
        KPI series (see :mod:`analytics_lib.analysis.anomaly` for the shapes).
    metrics : list of str, optional
    alpha : float
        Significance level of the tests.
    seasonal : bool, optional
        Fit weekday effects; default for daily data of two weeks or more.
    min_periods : int
        Metrics with fewer observations get a row with NaN statistics.

    Returns
    -------
    DataFrame
        One row per metric: ``metric, n, start, end, level, slope_per_day, r2, p_value,
        p_quadratic, mk_tau, mk_p_value, sen_slope_per_day, method, slope, p, significant,
        direction, change_per_week, total_change``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=56, freq="D")
    >>> y = 100 + 0.5 * np.arange(56) + np.random.default_rng(0).normal(0, 2, 56)
    >>> row = trend_table(pd.Series(y, index=t, name="events")).iloc[0]
    >>> row["method"], bool(row["significant"]), round(float(row["slope"]), 1)
    ('linear', True, 0.5)
    """
    import statsmodels.api as sm

    if not 0 < alpha < 1:
        raise WorkbenchError(f"alpha={alpha} must be between 0 and 1")
    frame = _series_frame(series, metrics)
    rows = []
    for name in frame.columns:
        s = frame[name].dropna()
        row: dict[str, Any] = {"metric": name, "n": len(s), "start": s.index.min() if len(s) else pd.NaT,
                               "end": s.index.max() if len(s) else pd.NaT}
        if len(s) < max(min_periods, 4) or s.nunique() < 2:
            rows.append(row)
            continue
        season = _is_daily_seasonal(s.index) if seasonal is None else seasonal
        t, D, _ = _design(pd.DatetimeIndex(s.index), season)
        y = s.to_numpy(dtype="float64")
        tc = t - t.mean()
        X = np.column_stack([D, tc])
        lags = _hac_lags(len(y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
            quad = sm.OLS(y, np.column_stack([X, tc ** 2 - np.mean(tc ** 2)])).fit(
                cov_type="HAC", cov_kwds={"maxlags": lags})
        b, p_lin = float(fit.params[-1]), float(fit.pvalues[-1])
        seasonal_part = D[:, 1:] @ fit.params[1:D.shape[1]] if D.shape[1] > 1 else 0.0
        adjusted = y - seasonal_part
        ss_tot = float(np.sum((adjusted - adjusted.mean()) ** 2))
        ss_res = float(np.sum((adjusted - fit.params[0] - b * tc) ** 2))
        r2 = 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")
        p_quad = float(quad.pvalues[-1])
        mk = mann_kendall(adjusted, x=t)
        linear = not (p_quad < alpha)
        slope, p = (b, p_lin) if linear else (mk.sen_slope, mk.p_value)
        level = float(np.mean(y))
        start_value = float(fit.params[0] + np.mean(seasonal_part) + slope * tc[0]) if linear else \
            float(np.median(adjusted[: max(3, len(adjusted) // 7)]))
        row.update(level=level, slope_per_day=b, r2=r2, p_value=p_lin, p_quadratic=p_quad, mk_tau=mk.tau,
                   mk_p_value=mk.p_value, sen_slope_per_day=mk.sen_slope,
                   method="linear" if linear else "mann-kendall", slope=slope, p=p, significant=p < alpha,
                   direction="up" if slope > 0 else "down" if slope < 0 else "flat",
                   change_per_week=slope * 7 / abs(level) if level else float("nan"),
                   total_change=slope * (t[-1] - t[0]) / abs(start_value) if start_value else float("nan"))
        rows.append(row)
    cols = ["metric", "n", "start", "end", "level", "slope_per_day", "r2", "p_value", "p_quadratic", "mk_tau",
            "mk_p_value", "sen_slope_per_day", "method", "slope", "p", "significant", "direction",
            "change_per_week", "total_change"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    out["significant"] = out["significant"].fillna(False).astype(bool)
    return out


def _residualized(frame: pd.DataFrame, seasonal: bool | None) -> pd.DataFrame:
    """Each column minus its least-squares trend and weekday effects (NaN rows left out per column).

    ``attrs["covariates"]`` holds the number of regressors removed besides the constant (a
    correlation of residuals is a partial correlation and loses that many degrees of freedom)."""
    idx = pd.DatetimeIndex(frame.index)
    season = _is_daily_seasonal(idx) if seasonal is None else seasonal
    t, D, _ = _design(idx, season)
    X = np.column_stack([D, t - t.mean()])
    Y = frame.to_numpy(dtype="float64")
    full = ~np.isnan(Y).any(axis=0)
    out = np.full(Y.shape, np.nan)
    if full.any():  # one least-squares solve for all complete columns
        beta, *_ = np.linalg.lstsq(X, Y[:, full], rcond=None)
        out[:, full] = Y[:, full] - X @ beta
    for j in np.flatnonzero(~full):  # columns with gaps: one solve each
        ok = ~np.isnan(Y[:, j])
        if ok.sum() > X.shape[1]:
            beta, *_ = np.linalg.lstsq(X[ok], Y[ok, j], rcond=None)
            out[ok, j] = Y[ok, j] - X[ok] @ beta
    result = pd.DataFrame(out, index=frame.index, columns=frame.columns)
    result.attrs["covariates"] = X.shape[1] - 1
    return result


def _corr_p(r: np.ndarray, n: np.ndarray, covariates: int = 0) -> np.ndarray:
    """Two-sided p-value of a (partial) correlation: t with ``n - 2 - covariates`` degrees of freedom."""
    df = n - 2 - covariates
    with np.errstate(invalid="ignore", divide="ignore"):
        tstat = r * np.sqrt(df / np.maximum(1 - r ** 2, 1e-300))
        return np.where(df > 0, 2 * stats.t.sf(np.abs(tstat), np.maximum(df, 1)), np.nan)


def correlation_table(series: Any, *, metrics: Sequence[str] | None = None, alpha: float = 0.05,
                      detrend: bool = True, seasonal: bool | None = None, skip_families: bool = True,
                      min_periods: int = 10) -> pd.DataFrame:
    """Pairwise Pearson and Spearman correlations between KPIs, with Benjamini-Hochberg control.

    With ``detrend`` each KPI first loses its least-squares linear trend and weekday effects
    (daily data of two weeks or more), so two KPIs that merely both grow, or both dip at
    weekends, do not correlate; what remains is day-to-day co-movement. Correlations use the
    periods where both KPIs are present (at least ``min_periods``). p-values come from the
    t distribution with ``n - 2 - k`` degrees of freedom, ``k`` the regressors removed
    (a correlation of residuals is a partial correlation; the same approximation for
    Spearman's rho, as scipy uses); they assume independent periods. The Pearson and Spearman p-values
    are each adjusted with :func:`benjamini_hochberg` over all pairs tested, and a pair is
    ``significant`` when both q-values are at most ``alpha``. Pairs inside one family of
    ``KPI_FAMILIES`` are skipped by default.

    Parameters
    ----------
    series : DataFrame or Series
    metrics : list of str, optional
    alpha : float
        False discovery rate.
    detrend : bool
    seasonal : bool, optional
        Remove weekday effects (default for daily data of two weeks or more).
    skip_families : bool
    min_periods : int

    Returns
    -------
    DataFrame
        One row per pair: ``a, b, n, pearson_r, pearson_p, pearson_q, spearman_rho,
        spearman_p, spearman_q, significant``, significant pairs first, then by
        ``|spearman_rho|``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = pd.date_range("2024-01-01", periods=60, freq="D")
    >>> x = rng.normal(size=60)
    >>> k = pd.DataFrame({"a": x, "b": x + rng.normal(0, 0.5, 60), "c": rng.normal(size=60)}, index=t)
    >>> c = correlation_table(k)
    >>> c.loc[c["significant"], ["a", "b"]].values.tolist()
    [['a', 'b']]
    """
    if not 0 < alpha < 1:
        raise WorkbenchError(f"alpha={alpha} must be between 0 and 1")
    frame = _series_frame(series, metrics)
    if frame.shape[1] < 2:
        raise WorkbenchError("correlation_table needs at least two metrics")
    data = _residualized(frame, seasonal) if detrend else frame
    covariates = int(data.attrs.get("covariates", 0)) if detrend else 0
    names = list(data.columns)
    present = data.notna().to_numpy().astype("float64")
    n = present.T @ present
    pearson = data.corr(method="pearson", min_periods=min_periods).to_numpy()
    spearman = data.corr(method="spearman", min_periods=min_periods).to_numpy()
    i, j = np.triu_indices(len(names), k=1)
    keep = n[i, j] >= min_periods
    if skip_families:
        fam = [KPI_FAMILIES.get(c, c) for c in names]
        keep &= np.array([fam[a] != fam[b] for a, b in zip(i, j)], dtype=bool)
    i, j = i[keep], j[keep]
    out = pd.DataFrame({"a": np.array(names, dtype=object)[i], "b": np.array(names, dtype=object)[j],
                        "n": n[i, j].astype("int64"), "pearson_r": pearson[i, j], "spearman_rho": spearman[i, j]})
    out["pearson_p"] = _corr_p(out["pearson_r"].to_numpy(), out["n"].to_numpy(), covariates)
    out["spearman_p"] = _corr_p(out["spearman_rho"].to_numpy(), out["n"].to_numpy(), covariates)
    out["pearson_q"] = benjamini_hochberg(out["pearson_p"].to_numpy())
    out["spearman_q"] = benjamini_hochberg(out["spearman_p"].to_numpy())
    out["significant"] = (out["pearson_q"] <= alpha) & (out["spearman_q"] <= alpha)
    out["_abs"] = out["spearman_rho"].abs()
    out = out.sort_values(["significant", "_abs"], ascending=[False, False], kind="stable").drop(columns="_abs")
    cols = ["a", "b", "n", "pearson_r", "pearson_p", "pearson_q", "spearman_rho", "spearman_p", "spearman_q",
            "significant"]
    return out[cols].reset_index(drop=True)
