"""Automated insights: what changed, where, how sure we are, and what to do.

Five kinds of typed :class:`Insight` records, each with a title, a description, a severity,
a confidence, an impact, the supporting numbers and a recommendation computed from the data:

- ``anomaly``: incidents found by :func:`~analytics_lib.anomaly.detect_anomalies` on daily
  KPIs, explained by :func:`~analytics_lib.anomaly.drill_down` (which team / model /
  feature / event type carries the excess), with public holidays recognised;
- ``trend``: a regression of each KPI on time with weekday effects and Newey-West (HAC)
  standard errors (slope, R², p-value, change per week); where a quadratic term shows the
  series is not linear, the Mann-Kendall test and Sen's slope instead (:func:`trend_table`);
- ``correlation``: Pearson and Spearman correlations between KPIs after removing trend and
  weekday pattern, with Benjamini-Hochberg control of the false discovery rate across all
  pairs (:func:`correlation_table`);
- ``business_impact``: thresholds per metric and direction (error rate up, latency up,
  throughput down, retention down...) comparing the recent window with a baseline
  (:class:`ImpactRule`, :func:`impact_table`);
- ``capacity``: ETS forecasts of volume and cost (:func:`outlook_table`), with the day a
  limit is crossed when limits are given.

:func:`ranked_insights` builds them all from an event log, removes duplicates and ranks them
by ``impact x confidence``; :func:`insight_table` and :meth:`Insight.to_dict` present them.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .anomaly import _KPI_KINDS, detect_anomalies, drill_down, incident_table, score_threshold
from .errors import WorkbenchError
from .markup import md_escape
from .workflow import SeverityThresholds, kpi_table, lifecycle_table

__all__ = [
    "DEFAULT_IMPACT_RULES", "INSIGHT_KINDS", "ImpactRule", "Insight", "MannKendall", "anomaly_insights",
    "benjamini_hochberg", "capacity_insights", "correlation_insights", "correlation_table", "impact_insights",
    "impact_table", "insight_table", "insights_markdown", "mann_kendall", "outlook_table", "ranked_insights",
    "trend_insights", "trend_table",
]

INSIGHT_KINDS = ("anomaly", "trend", "correlation", "business_impact", "capacity")
#: Ties in impact x confidence (common at the top, where certain critical findings saturate)
#: go to the more acute kind first.
_KIND_ORDER = ("anomaly", "business_impact", "capacity", "trend", "correlation")
SEVERITY_LEVELS = ("low", "medium", "high", "critical")
#: Impact weight of each severity level (insights are ranked by impact x confidence).
SEVERITY_WEIGHT = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
#: Threshold multiples for business-impact severity: under 1.5x low, 1.5x medium, 2.5x high, 4x critical.
IMPACT_SEVERITY = SeverityThresholds(medium=1.5, high=2.5, critical=4.0)
#: KPIs checked for anomalies, trends and correlations by default (the kpi_table columns that
#: are not definitional siblings of each other).
DEFAULT_METRICS = ("events", "active_users", "error_rate", "latency_p95", "cache_hit_rate", "cost_usd",
                   "cost_per_accept", "satisfaction")
#: Families of KPIs that move together by definition; pairs inside a family are not reported
#: as correlation insights (``events`` and ``sessions`` correlating says nothing new).
KPI_FAMILIES: dict[str, str] = {
    "events": "volume", "active_users": "volume", "sessions": "volume", "accepts": "volume",
    "tokens_in": "volume", "tokens_out": "volume", "cost_usd": "volume",   # spend follows volume
    "events_per_user": "intensity", "sessions_per_user": "intensity",
    "latency_p50": "latency", "latency_p95": "latency", "latency_p99": "latency",
}
_LABELS = {
    "events": "events", "active_users": "active users", "sessions": "sessions", "error_rate": "error rate",
    "latency_p50": "p50 latency", "latency_p95": "p95 latency", "latency_p99": "p99 latency",
    "cache_hit_rate": "cache hit rate", "cost_usd": "cost", "cost_per_accept": "cost per accept",
    "satisfaction": "satisfaction", "accepts": "accepts", "tokens_in": "input tokens", "tokens_out": "output tokens",
    "stickiness": "stickiness", "retention": "weekly retention",
}
_RATES = {"error_rate", "cache_hit_rate", "stickiness", "retention"}
#: What a KPI is computed over, for sentences ("12% of the responses").
_UNITS = {"error_rate": "LLM requests", "cache_hit_rate": "cache queries", "latency_p50": "responses",
          "latency_p95": "responses", "latency_p99": "responses", "satisfaction": "scores",
          "cost_per_accept": "events", "active_users": "events", "sessions": "events"}


# ============================================================================================
# The record
@dataclass(frozen=True)
class Insight:
    """One finding, ready to read and to rank.

    Attributes
    ----------
    kind : str
        One of ``INSIGHT_KINDS``.
    title : str
        A short headline with the number that matters ("p95 latency +225% from ... to ...").
    description : str
        What was measured and how (one or two sentences, with the evidence).
    severity : str
        ``low``, ``medium``, ``high`` or ``critical`` (the rule depends on the kind; see
        ``docs/insights.md``).
    confidence : float
        0-1: how sure the finding is not chance (1 - an adjusted p-value, or a forecast
        probability).
    impact : float
        0-1: how much it matters (severity weight, threshold multiple, correlation strength).
    metric : str
        The KPI (``"a ~ b"`` for a correlation).
    start, end : Timestamp or None
        The period the insight is about (``end`` exclusive).
    recommendation : str
        What to do, with the segment, step and size taken from the data.
    evidence : dict
        The supporting numbers (JSON-serialisable after :meth:`to_dict`).
    """

    kind: str
    title: str
    description: str
    severity: str
    confidence: float
    impact: float
    metric: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    recommendation: str
    evidence: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        """``impact x confidence``, the ranking key."""
        return float(self.impact * self.confidence)

    def sentence(self) -> str:
        """Title, description and recommendation as one paragraph.

        Examples
        --------
        >>> Insight("trend", "Events +3.1% per week", "Linear trend, p = 0.001.", "medium", 0.99, 0.5, "events",
        ...         None, None, "Plan capacity for the growth.").sentence()
        'Events +3.1% per week. Linear trend, p = 0.001. Recommendation: Plan capacity for the growth.'
        """
        return f"{self.title}. {self.description} Recommendation: {self.recommendation}"

    def to_dict(self) -> dict[str, Any]:
        """The insight as plain JSON types (timestamps as ISO strings).

        Examples
        --------
        >>> d = Insight("trend", "t", "d", "low", 0.9, 0.25, "events", pd.Timestamp("2024-01-01"), None, "r",
        ...             {"slope": np.float64(1.5)}).to_dict()
        >>> d["start"], d["evidence"]["slope"], d["score"]
        ('2024-01-01T00:00:00', 1.5, 0.225)
        """
        out = {k: _jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        out["score"] = round(self.score, 6)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    return value


def insight_table(insights: Sequence[Insight]) -> pd.DataFrame:
    """The insights as a frame, in the order given (rank 1 first).

    Returns
    -------
    DataFrame
        ``rank, kind, severity, score, impact, confidence, metric, start, end, title,
        description, recommendation``.

    Examples
    --------
    >>> ins = [Insight("trend", "t", "d", "low", 0.9, 0.25, "events", None, None, "r")]
    >>> insight_table(ins)[["rank", "kind", "score"]].to_dict("records")
    [{'rank': 1, 'kind': 'trend', 'score': 0.225}]
    """
    cols = ["rank", "kind", "severity", "score", "impact", "confidence", "metric", "start", "end", "title",
            "description", "recommendation"]
    rows = [{"rank": i + 1, "kind": x.kind, "severity": x.severity, "score": round(x.score, 4),
             "impact": round(x.impact, 4), "confidence": round(x.confidence, 4), "metric": x.metric,
             "start": x.start, "end": x.end, "title": x.title, "description": x.description,
             "recommendation": x.recommendation} for i, x in enumerate(insights)]
    out = pd.DataFrame(rows, columns=cols)
    out["severity"] = pd.Categorical(out["severity"], categories=SEVERITY_LEVELS, ordered=True)
    return out


def insights_markdown(insights: Sequence[Insight], *, top: int | None = 10) -> str:
    """The insights as a numbered Markdown list: headline, kind, severity, confidence, evidence
    and recommendation, one item each (for notebooks and reports).

    Examples
    --------
    >>> print(insights_markdown([Insight("trend", "Events +3%/week", "Linear, p = 0.001.", "medium",
    ...                                  0.99, 0.5, "events", None, None, "Plan capacity.")]))
    1. **Events +3%/week** (trend, medium, confidence 99%). Linear, p = 0.001. *Recommendation:* Plan capacity.

    Values from the data are shown literally (:func:`~analytics_lib.markup.md_escape`): a
    segment called ``<b>x</b>`` is not bold.
    """
    shown = list(insights)[:top] if top else list(insights)
    if not shown:
        return ("No insight passed the thresholds: nothing unusual, no significant trend or correlation, "
                "no threshold breached.")
    e = md_escape  # titles and descriptions name teams, features and models from the data
    return "\n".join(f"{i}. **{e(x.title)}** ({x.kind.replace('_', ' ')}, {x.severity}, confidence {x.confidence:.0%}). "
                     f"{e(x.description)} *Recommendation:* {e(x.recommendation)}" for i, x in enumerate(shown, start=1))


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
    from .anomaly import _metrics  # the shared input parser

    ms = _metrics(series, metrics)
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
        KPI series (see :mod:`analytics_lib.anomaly` for the shapes).
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


# ============================================================================================
# Business impact
@dataclass(frozen=True)
class ImpactRule:
    """A business threshold: a KPI moving in a bad direction by more than a set amount.

    The rule fires when the recent window's mean moves in ``direction`` by at least
    ``relative`` (a share of the baseline mean) or ``absolute`` (in the KPI's units),
    whichever is given (either suffices when both are). The threshold multiple is
    ``max(change / absolute, relative change / relative)``.

    Attributes
    ----------
    metric : str
        A KPI of :func:`~analytics_lib.kpi_table`, or ``"retention"`` (the weekly share of
        the previous week's active users who are active again, from
        :func:`~analytics_lib.lifecycle_table`).
    direction : {"up", "down"}
        The bad direction.
    relative, absolute : float, optional
    """

    metric: str
    direction: str
    relative: float | None = None
    absolute: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down"):
            raise WorkbenchError(f"ImpactRule({self.metric!r}): direction={self.direction!r} must be 'up' or 'down'")
        if self.relative is None and self.absolute is None:
            raise WorkbenchError(f"ImpactRule({self.metric!r}): give relative= and/or absolute=")
        for v in (self.relative, self.absolute):
            if v is not None and not v > 0:
                raise WorkbenchError(f"ImpactRule({self.metric!r}): thresholds must be positive")


#: The default business thresholds (recent 7 days against the 28 days before).
DEFAULT_IMPACT_RULES: tuple[ImpactRule, ...] = (
    ImpactRule("error_rate", "up", relative=0.25, absolute=0.01),
    ImpactRule("latency_p95", "up", relative=0.20),
    ImpactRule("cache_hit_rate", "down", absolute=0.05),
    ImpactRule("satisfaction", "down", absolute=0.20),
    ImpactRule("events", "down", relative=0.20),
    ImpactRule("active_users", "down", relative=0.15),
    ImpactRule("accepts", "down", relative=0.20),
    ImpactRule("cost_per_accept", "up", relative=0.20),
    ImpactRule("cost_usd", "up", relative=0.30),
    ImpactRule("retention", "down", absolute=0.05),
)


def _retention(events: pd.DataFrame) -> pd.Series:
    lc = lifecycle_table(events, granularity="W")
    prev = lc["active"].shift(1)
    return (lc["returning"] / prev.where(prev > 0)).rename("retention")


def impact_table(kpis: pd.DataFrame, *, rules: Sequence[ImpactRule] = DEFAULT_IMPACT_RULES, recent: str = "7D",
                 baseline: str = "28D", retention: pd.Series | None = None) -> pd.DataFrame:
    """Check business thresholds: the recent window against the baseline window before it.

    For each rule, the mean of the KPI's periods in the last ``recent`` of the data is
    compared with the mean over the ``baseline`` before that (``retention`` compares the last
    week with the earlier weeks of the baseline). ``p_value`` is a one-sided Mann-Whitney U
    test that the recent values are shifted in the bad direction; ``multiple`` is the
    threshold multiple (see :class:`ImpactRule`); ``breached`` when ``multiple >= 1``;
    ``severity`` grades the multiple (1.5x medium, 2.5x high, 4x critical, else low).

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period (:func:`~analytics_lib.kpi_table`).
    rules : sequence of ImpactRule
    recent, baseline : str
        Durations.
    retention : Series, optional
        Weekly retention indexed by week (needed by a ``retention`` rule; without it that rule
        is skipped).

    Returns
    -------
    DataFrame
        One row per rule that could be evaluated: ``metric, direction, recent_start, recent_end,
        recent, baseline, change, relative_change, multiple, p_value, breached, severity,
        n_recent, n_baseline``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=35, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"error_rate": np.r_[np.full(28, 0.02), np.full(7, 0.05)]}, index=t)
    >>> r = impact_table(k, rules=[ImpactRule("error_rate", "up", relative=0.25)]).iloc[0]
    >>> bool(r["breached"]), round(float(r["multiple"]), 1), r["severity"]
    (True, 6.0, 'critical')
    """
    try:
        rec, base = pd.Timedelta(recent), pd.Timedelta(baseline)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"recent={recent!r} and baseline={baseline!r} must be durations such as '7D'") from exc
    if not isinstance(kpis.index, pd.DatetimeIndex):
        raise WorkbenchError("impact_table: kpis must be indexed by period (as kpi_table returns)")
    rows = []
    if len(kpis) == 0:
        return pd.DataFrame(rows)
    last = kpis.index.max() + pd.Timedelta("1D")
    r0, b0 = last - rec, last - rec - base
    for rule in rules:
        if rule.metric == "retention":
            if retention is None or retention.dropna().size < 3:
                continue
            ret = retention.dropna()
            recent_vals, base_vals = ret.iloc[-1:], ret.iloc[:-1].iloc[-max(1, int(base / pd.Timedelta("7D"))):]
            start, end = ret.index[-1], ret.index[-1] + pd.Timedelta("7D")
        else:
            if rule.metric not in kpis.columns:
                raise WorkbenchError(f"impact_table: rule metric {rule.metric!r} is not a KPI column")
            col = kpis[rule.metric].astype("float64")
            recent_vals = col[(col.index >= r0)].dropna()
            base_vals = col[(col.index >= b0) & (col.index < r0)].dropna()
            start, end = r0, last
        if len(recent_vals) == 0 or len(base_vals) < 2:
            continue
        rv, bv = float(recent_vals.mean()), float(base_vals.mean())
        sign = 1.0 if rule.direction == "up" else -1.0
        change = rv - bv
        rel = change / abs(bv) if bv else float("nan")
        multiples = []
        if rule.absolute is not None:
            multiples.append(sign * change / rule.absolute)
        if rule.relative is not None and np.isfinite(rel):
            multiples.append(sign * rel / rule.relative)
        multiple = max(multiples) if multiples else float("nan")
        alt = "greater" if rule.direction == "up" else "less"
        p = float(stats.mannwhitneyu(recent_vals.to_numpy(), base_vals.to_numpy(), alternative=alt).pvalue) \
            if len(recent_vals) >= 1 and len(base_vals) >= 1 else float("nan")
        rows.append({"metric": rule.metric, "direction": rule.direction, "recent_start": start, "recent_end": end,
                     "recent": rv, "baseline": bv, "change": change, "relative_change": rel, "multiple": multiple,
                     "p_value": p, "breached": bool(multiple >= 1), "n_recent": len(recent_vals),
                     "n_baseline": len(base_vals)})
    out = pd.DataFrame(rows)
    if len(out):
        grade = IMPACT_SEVERITY.grade(out["multiple"].to_numpy(dtype="float64"))
        out["severity"] = np.asarray(grade).astype(object)
        out = out[["metric", "direction", "recent_start", "recent_end", "recent", "baseline", "change",
                   "relative_change", "multiple", "p_value", "breached", "severity", "n_recent", "n_baseline"]]
    return out


# ============================================================================================
# Capacity
def outlook_table(kpis: pd.DataFrame, *, metrics: Sequence[str] = ("events", "tokens_out", "cost_usd"),
                  horizon: int | None = None, limits: Mapping[str, float] | None = None,
                  level: int = 95) -> pd.DataFrame:
    """Where volume and spend are heading: ETS forecasts per KPI, and when a limit is crossed.

    Each daily KPI is forecast ``horizon`` days ahead with damped-trend ETS (weekly
    seasonality) from :class:`~analytics_lib.forecast.Forecaster`; the forecast total is
    compared with the total of the same number of past days, and the busiest forecast day
    (``forecast_peak``, with the upper bound of its interval ``peak_upper`` on ``peak_day``)
    with the busiest past day of that span. With ``limits`` (KPI -> a daily limit),
    :func:`analytics_lib.forecast.capacity_table` gives ``crossing`` (the first forecast day
    whose mean reaches the limit), ``crossing_upper`` (the first whose upper bound does) and
    ``p_exceed`` (the chance of reaching it within the horizon). ``p_growth`` is the
    probability that the next ``horizon`` days total more than the last ones (normal
    intervals, independent steps). A backtest (2 windows of 7 days) gives the model's MASE.

    Parameters
    ----------
    kpis : DataFrame
        Daily KPIs indexed by period.
    metrics : sequence of str
    horizon : int, optional
        Days ahead; default ``min(28, periods // 2)``.
    limits : dict, optional
    level : int
        Prediction interval level for the upper bound.

    Returns
    -------
    DataFrame
        ``metric, history_days, horizon, past_total, forecast_total, growth, p_growth,
        past_peak, forecast_peak, peak_upper, peak_day, limit, crossing, crossing_upper,
        p_exceed, mase``; KPIs with fewer than 15 days are left out.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=70, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"events": 1000 + 10 * np.arange(70) + 100 * (t.day_of_week < 5)}, index=t)
    >>> row = outlook_table(k, metrics=["events"], horizon=14, limits={"events": 1800}).iloc[0]
    >>> bool(row["growth"] > 0), row["crossing"] is not None
    (True, True)
    """
    from .forecast import Forecaster, backtest, capacity_table, forecast_metrics

    rows = []
    lim = dict(limits or {})
    unknown = [m for m in list(metrics) + list(lim) if m not in kpis.columns]
    if unknown:
        raise WorkbenchError(f"outlook_table: {unknown} are not KPI columns")
    for metric in metrics:
        s = kpis[metric].astype("float64").dropna()
        if len(s) < 15:
            continue
        h = int(horizon or min(28, len(s) // 2))
        idx = pd.DatetimeIndex(s.index)
        ds = idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx
        long = pd.DataFrame({"unique_id": metric, "ds": ds, "y": s.to_numpy()})
        pred = Forecaster(models=["ets"], freq="D").fit(long).predict(h=h, level=[level])
        mean, hi = pred["ets"].to_numpy(), pred[f"ets-hi-{level}"].to_numpy()
        sd = (hi - mean) / stats.norm.ppf(0.5 + level / 200)
        past = s.to_numpy()[-h:]
        past_total, fc_total = float(past.sum()), float(mean.sum())
        sd_total = float(np.sqrt(np.sum(sd ** 2)))
        p_growth = float(stats.norm.sf(0, loc=fc_total - past_total, scale=max(sd_total, 1e-12)))
        limit = lim.get(metric)
        crossing = crossing_upper = None
        p_exceed = float("nan")
        if limit is not None:
            cap = capacity_table(pred, float(limit), column="ets", level=level).iloc[0]
            crossing = None if pd.isna(cap["first_crossing"]) else pd.Timestamp(cap["first_crossing"])
            crossing_upper = None if pd.isna(cap["first_crossing_upper"]) else pd.Timestamp(cap["first_crossing_upper"])
            p_exceed = float(cap["probability"])
        try:
            cv = backtest(Forecaster(models=["ets"], freq="D"), long, h=7, n_windows=2)
            mase = float(forecast_metrics(cv, train=long)["mase"].iloc[0])
        except WorkbenchError:
            mase = float("nan")
        peak = int(np.argmax(hi))
        rows.append({"metric": metric, "history_days": len(s), "horizon": h, "past_total": past_total,
                     "forecast_total": fc_total, "growth": fc_total / past_total - 1 if past_total else float("nan"),
                     "p_growth": p_growth, "past_peak": float(past.max()), "forecast_peak": float(mean.max()),
                     "peak_upper": float(hi[peak]), "peak_day": pd.Timestamp(pred["ds"].iloc[peak]), "limit": limit,
                     "crossing": crossing, "crossing_upper": crossing_upper, "p_exceed": p_exceed, "mase": mase})
    return pd.DataFrame(rows, columns=["metric", "history_days", "horizon", "past_total", "forecast_total", "growth",
                                       "p_growth", "past_peak", "forecast_peak", "peak_upper", "peak_day", "limit",
                                       "crossing", "crossing_upper", "p_exceed", "mase"])


# ============================================================================================
# From tables to insights
def _label(metric: str) -> str:
    return _LABELS.get(metric, metric.replace("_", " "))


def _value(metric: str, x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if metric in _RATES:
        return f"{x:.1%}"
    if metric.startswith("latency"):
        return f"{x:,.0f} ms"
    if metric in ("cost_usd", "cost_per_accept"):
        return f"${x:,.2f}" if abs(x) >= 0.1 else f"${x:.4f}"
    if metric == "satisfaction":
        return f"{x:.2f}"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def _change(metric: str, new: float, old: float) -> str:
    if metric in _RATES:
        return f"{(new - old) * 100:+.1f} pts"
    if not old:
        return f"{new - old:+,.3g}"
    return f"{new / old - 1:+.0%}"


def _period(start: pd.Timestamp, end: pd.Timestamp) -> str:
    last = end - pd.Timedelta("1D")
    return f"on {start:%Y-%m-%d}" if last <= start else f"from {start:%Y-%m-%d} to {last:%Y-%m-%d}"


def _holiday_names(days: pd.DatetimeIndex, country: str | None) -> dict[pd.Timestamp, str]:
    if not country or len(days) == 0:
        return {}
    import holidays as _holidays

    try:
        cal = _holidays.country_holidays(country, years=sorted(set(days.year)))
    except (KeyError, NotImplementedError) as exc:
        raise WorkbenchError(f"holidays={country!r} is not a country code known to the holidays package") from exc
    return {d: cal.get(d.date()) for d in days if d.date() in cal}


def _confidence_from_z(z: float, tests: int) -> float:
    """1 - Bonferroni-adjusted two-sided p-value of a normal score over ``tests`` tests."""
    if not np.isfinite(z):
        return 0.0
    log_p = math.log(2) + stats.norm.logsf(abs(z)) + math.log(max(tests, 1))
    return float(max(0.0, 1 - math.exp(min(log_p, 0.0))))


def anomaly_insights(kpis: pd.DataFrame, *, events: pd.DataFrame | None = None,
                     metrics: Sequence[str] = DEFAULT_METRICS, sensitivity: str | float = "medium",
                     holidays: str | None = "US", anomalies: pd.DataFrame | None = None) -> list[Insight]:
    """One insight per incident of anomalous days, explained by a drill-down when events are given.

    Anomalies come from :func:`~analytics_lib.anomaly.detect_anomalies` (``methods="auto"``,
    volume-weighted by the ``events`` column) unless given; :func:`~analytics_lib.anomaly.incident_table`
    groups consecutive anomalous days across KPIs; the KPI with the largest score leads and is
    drilled into. Severity is the incident's (score bands: 5 / 8 / 12 robust SDs); impact is
    its severity weight, halved on public holidays of ``holidays`` (a calendar effect, not an
    incident); confidence is 1 minus the Bonferroni-adjusted p-value of the peak score over
    all scored KPI-days.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> data = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> k = kpi_table(data.events)
    >>> ins = anomaly_insights(k, events=data.events, metrics=["error_rate", "latency_p95"])
    >>> data.truth.incident_model in ins[0].recommendation
    True
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if not metrics:
        return []
    if anomalies is None:
        volume = "events" if "events" in kpis.columns else None
        anomalies = detect_anomalies(kpis, metrics=metrics, sensitivity=sensitivity, volume=volume)
    if anomalies.empty:
        return []
    incidents = incident_table(anomalies, step="1D")
    n_tests = int(kpis[metrics].notna().to_numpy().sum())
    names = _holiday_names(pd.DatetimeIndex(pd.to_datetime(anomalies["timestamp"]).dt.normalize().unique()), holidays)
    out = []
    for _, inc in incidents.iterrows():  # one insight per incident (a handful)
        start, end = pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])
        rows = anomalies[(anomalies["timestamp"] >= start) & (anomalies["timestamp"] < end)]
        lead = str(inc["peak_metric"])
        lead_rows = rows[rows["metric"] == lead]
        obs = float(lead_rows["observed"].mean())
        exp = float(lead_rows["expected"].mean())
        days = pd.DatetimeIndex(pd.to_datetime(rows["timestamp"]).dt.normalize().unique())
        hol = sorted({names[d] for d in days if d in names})
        others = []
        for metric, g in rows[rows["metric"] != lead].groupby("metric", sort=False):  # few metrics
            others.append(f"{_label(metric)} {_change(metric, g['observed'].mean(), g['expected'].mean())}")
        title = f"{_label(lead)} {_change(lead, obs, exp)} {_period(start, end)}"
        desc = (f"{_label(lead).capitalize()}: {_value(lead, obs)} against {_value(lead, exp)} expected "
                f"({inc['score']:+.1f} robust SDs at the peak, {inc['periods']} anomalous day(s)).")
        if others:
            desc += " Also: " + ", ".join(others) + "."
        evidence: dict[str, Any] = {"observed": obs, "expected": exp, "peak_score": float(inc["score"]),
                                    "metrics": str(inc["metrics"]).split(","), "days": [d.isoformat() for d in days],
                                    "methods": sorted(set(",".join(rows.get("methods", rows["method"])).split(",")))}
        rec = (f"Look at {_label(lead)} {_period(start, end)}: {_value(lead, obs)} instead of about "
               f"{_value(lead, exp)}.")
        if events is not None and lead in _KPI_KINDS:
            try:
                att = drill_down(events, metric=lead, start=start, end=end,
                                 exclude=[(r["start"], r["end"]) for _, r in incidents.iterrows()
                                          if r["start"] != start])
            except WorkbenchError as exc:
                evidence["drill_down"] = f"not available: {exc}"
                att = None
            if att is not None and not att.top:
                word = "excess" if inc["score"] >= 0 else "drop"
                desc += (f" The {word} is broad: every team, model, feature and event type moved in proportion "
                         "to its size.")
                evidence["drill_down"] = {"headline": att.headline,
                                          "segments": att.segments.head(8).round(6).to_dict(orient="records")}
            if att is not None and att.top:
                top = att.top
                share = top["contribution"]
                word = "excess" if inc["score"] >= 0 else "drop"
                desc += f" {min(share, 1.0):.0%} of the {word} comes from {top['segment']} ({top['dimension']})."
                rec = (f"Investigate {top['segment']} ({top['dimension']}) {_period(start, end)}: its "
                       f"{_label(lead)} came to {_value(lead, top['observed'])} against "
                       f"{_value(lead, top['expected'])} in the baseline; it carries {top['exposure']:.0%} of the "
                       f"{_UNITS.get(lead, 'events')} but "
                       f"explains {min(share, 1.0):.0%} of the {word}.")
                evidence["drill_down"] = {"headline": att.headline, "top": top,
                                          "segments": att.segments.head(8).round(6).to_dict(orient="records")}
        severity = str(inc["severity"])
        impact = SEVERITY_WEIGHT[severity]
        if hol:
            impact *= 0.5
            desc += f" The day is a public holiday ({', '.join(hol)})."
            rec = (f"Expected calendar effect ({', '.join(hol)}): leave these days out of targets and baselines; "
                   + rec)
            evidence["holidays"] = hol
        out.append(Insight(kind="anomaly", title=title, description=desc, severity=severity,
                           confidence=_confidence_from_z(float(inc["score"]), n_tests), impact=impact, metric=lead,
                           start=start, end=end, recommendation=rec, evidence=evidence))
    return out


def trend_insights(kpis: pd.DataFrame, *, events: pd.DataFrame | None = None,
                   metrics: Sequence[str] = DEFAULT_METRICS, alpha: float = 0.05,
                   min_change: float = 0.01) -> list[Insight]:
    """Insights for KPIs with a significant trend of at least ``min_change`` per week.

    Severity grades the total change over the window (under 10 % low, 10 % medium, 25 % high,
    50 % critical); impact is its severity weight (times 0.6 when the KPI moves in its good
    direction); confidence is ``1 - p``. With ``events``, the last third of the window is
    drilled into against the first two thirds to name the segment that drives the trend.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=56, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"events": 1000 + 10 * np.arange(56) + np.random.default_rng(0).normal(0, 20, 56)}, index=t)
    >>> trend_insights(k, metrics=["events"])[0].title
    'events up 5.6% per week'
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if not metrics:
        return []
    table = trend_table(kpis, metrics=metrics, alpha=alpha)
    out = []
    for _, r in table[table["significant"]].iterrows():  # one per metric
        if not abs(r["change_per_week"]) >= min_change:
            continue
        metric = r["metric"]
        total = abs(r["total_change"])
        severity = "critical" if total >= 0.5 else "high" if total >= 0.25 else "medium" if total >= 0.10 else "low"
        how = ("a linear regression with weekday effects (HAC standard errors)" if r["method"] == "linear"
               else "the Mann-Kendall test with Sen's slope (the series is not linear)")
        fit = f"R² {r['r2']:.2f}, " if r["method"] == "linear" else f"Kendall tau {r['mk_tau']:.2f}, "
        slope = _delta(metric, r["slope"])
        desc = (f"{_label(metric).capitalize()} moved {slope} per day over {r['n']} days "
                f"({r['total_change']:+.0%} over the window), by {how}: {fit}p = {r['p']:.2g}.")
        bad = _bad_direction(metric)
        worse = bad is not None and r["direction"] == bad
        start, end = pd.Timestamp(r["start"]), pd.Timestamp(r["end"]) + pd.Timedelta("1D")
        rec = (f"{'Act on' if worse else 'Plan for'} the {r['direction']}ward trend of {_label(metric)}: at this "
               f"rate it changes by {r['change_per_week']:+.1%} a week, {_delta(metric, r['slope'] * 28)} over the "
               f"next 4 weeks (from {_value(metric, r['level'])} on average).")
        evidence = {k: r[k] for k in ("n", "slope_per_day", "r2", "p_value", "p_quadratic", "mk_tau", "mk_p_value",
                                      "sen_slope_per_day", "method", "change_per_week", "total_change")}
        if events is not None and metric in _KPI_KINDS:
            span = end - start
            cut = (start + span * 2 / 3).floor("D")
            try:
                att = drill_down(events, metric=metric, start=cut, end=end, baseline=f"{(cut - start).days}D",
                                 side="before")
            except WorkbenchError:
                att = None
            if att is not None and att.top:
                top = att.top
                rec += (f" The change is concentrated in {top['segment']} ({top['dimension']}): "
                        f"{_value(metric, top['expected'])} -> {_value(metric, top['observed'])} between the first two "
                        f"thirds and the last third of the window, {min(top['contribution'], 1.0):.0%} of the change.")
                evidence["drill_down"] = {"headline": att.headline, "top": top}
            elif att is not None:
                rec += " The change is broad: no team, model, feature or event type stands out against its size."
        title = f"{_label(metric)} {r['direction']} {abs(r['change_per_week']):.1%} per week"
        out.append(Insight(kind="trend", title=title,
                           description=desc, severity=severity, confidence=float(1 - r["p"]),
                           impact=SEVERITY_WEIGHT[severity] * (1.0 if worse or bad is None else 0.6), metric=metric,
                           start=start, end=end, recommendation=rec, evidence=evidence))
    return out


def _delta(metric: str, x: float) -> str:
    """A signed change in the KPI's units."""
    if metric in _RATES:
        return f"{x * 100:+.2f} pts"
    if metric in ("cost_usd", "cost_per_accept"):
        return f"{'+' if x >= 0 else '-'}${abs(x):,.4g}"
    if metric.startswith("latency"):
        return f"{x:+,.0f} ms"
    return f"{x:+,.3g}"


def _bad_direction(metric: str) -> str | None:
    for rule in DEFAULT_IMPACT_RULES:
        if rule.metric == metric:
            return rule.direction
    return None


def correlation_insights(kpis: pd.DataFrame, *, metrics: Sequence[str] = DEFAULT_METRICS, alpha: float = 0.05,
                         min_abs: float = 0.3, top: int = 5) -> list[Insight]:
    """Insights for KPI pairs that co-move beyond trend and weekday pattern (BH-controlled).

    Pairs need both Benjamini-Hochberg q-values at most ``alpha`` (see
    :func:`correlation_table`) and ``|rho| >= min_abs``; the ``top`` strongest are kept.
    Impact is half of ``|rho|`` (a correlation points where to look, it is not a cause);
    severity is medium from ``|rho| >= 0.5``, else low; confidence is ``1 - max(q)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = pd.date_range("2024-01-01", periods=60, freq="D", tz="UTC")
    >>> x = rng.normal(size=60)
    >>> k = pd.DataFrame({"error_rate": 0.03 + 0.01 * x, "satisfaction": 4 - 0.2 * x + rng.normal(0, 0.1, 60)}, index=t)
    >>> correlation_insights(k)[0].metric
    'error_rate ~ satisfaction'
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if len(metrics) < 2:
        return []
    table = correlation_table(kpis, metrics=metrics, alpha=alpha)
    table = table[table["significant"] & (table["spearman_rho"].abs() >= min_abs)].head(top)
    resid = _residualized(_series_frame(kpis, metrics), None)
    out = []
    for _, r in table.iterrows():  # at most `top`
        a, b = r["a"], r["b"]
        pair = resid[[a, b]].dropna()
        slope = float(np.polyfit(pair[a], pair[b], 1)[0]) if len(pair) > 2 and pair[a].std() > 0 else float("nan")
        sd_a = float(pair[a].std())
        sign = "together" if r["spearman_rho"] > 0 else "in opposite directions"
        desc = (f"Beyond trend and weekday pattern, {_label(a)} and {_label(b)} move {sign} day to day: Spearman "
                f"rho {r['spearman_rho']:+.2f}, Pearson r {r['pearson_r']:+.2f} over {r['n']} days "
                f"(BH q = {max(r['pearson_q'], r['spearman_q']):.2g}).")
        rec = (f"On days when {_label(a)} is one standard deviation ({_value(a, sd_a)}) above its usual level, "
               f"{_label(b)} is {_value(b, slope * sd_a) if b not in _RATES else f'{slope * sd_a * 100:+.2f} pts'} "
               f"{'higher' if slope > 0 else 'lower'} than usual on average; check whether one drives the other "
               f"before acting (correlation is not causation).")
        rho = abs(float(r["spearman_rho"]))
        title = f"{_label(a)} and {_label(b)} co-move (rho {r['spearman_rho']:+.2f})"
        out.append(Insight(kind="correlation", title=title,
                           description=desc, severity="medium" if rho >= 0.5 else "low",
                           confidence=float(1 - max(r["pearson_q"], r["spearman_q"])), impact=0.5 * rho,
                           metric=f"{a} ~ {b}", start=pd.Timestamp(kpis.index.min()),
                           end=pd.Timestamp(kpis.index.max()) + pd.Timedelta("1D"), recommendation=rec,
                           evidence={k: r[k] for k in ("n", "pearson_r", "pearson_p", "pearson_q", "spearman_rho",
                                                       "spearman_p", "spearman_q")} | {"slope": slope}))
    return out


def impact_insights(kpis: pd.DataFrame, *, events: pd.DataFrame | None = None,
                    rules: Sequence[ImpactRule] = DEFAULT_IMPACT_RULES, recent: str = "7D",
                    baseline: str = "28D") -> list[Insight]:
    """Insights for breached business thresholds, with the segment behind each when events are given.

    Severity grades the threshold multiple (1.5x medium, 2.5x high, 4x critical); impact is
    ``min(1, multiple / 4)``; confidence is ``1 - p`` of the one-sided Mann-Whitney test.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=35, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"error_rate": np.r_[np.full(28, 0.02), np.full(7, 0.05)]}, index=t)
    >>> impact_insights(k, rules=[ImpactRule("error_rate", "up", relative=0.25)])[0].title
    'error rate up +3.0 pts in the last 7 days (threshold 25%)'
    """
    retention = _retention(events) if events is not None and any(r.metric == "retention" for r in rules) else None
    rules = [r for r in rules if r.metric in kpis.columns or r.metric == "retention"]
    table = impact_table(kpis, rules=rules, recent=recent, baseline=baseline, retention=retention)
    out = []
    if table.empty:
        return out
    days = int(pd.Timedelta(recent) / pd.Timedelta("1D"))
    for _, r in table[table["breached"]].iterrows():  # a handful of rules
        metric = r["metric"]
        rule = next(x for x in rules if x.metric == metric)
        threshold = " or ".join(t for t in (f"{rule.relative:.0%}" if rule.relative else "",
                                            (f"{rule.absolute * 100:.1f} pts" if metric in _RATES
                                             else f"{rule.absolute:g}")
                                            if rule.absolute else "") if t)
        title = (f"{_label(metric)} {'up' if r['change'] > 0 else 'down'} "
                 f"{_change(metric, r['recent'], r['baseline'])} "
                 f"in the last {days if metric != 'retention' else 7} days (threshold {threshold})")
        desc = (f"{_label(metric).capitalize()} averaged {_value(metric, r['recent'])} against "
                f"{_value(metric, r['baseline'])} in the {r['n_baseline']} periods before: {r['multiple']:.1f}x the "
                f"threshold (one-sided Mann-Whitney p = {r['p_value']:.2g}).")
        rec = f"Bring {_label(metric)} back to about {_value(metric, r['baseline'])}."
        evidence = {k: r[k] for k in ("recent", "baseline", "change", "relative_change", "multiple", "p_value",
                                      "n_recent", "n_baseline")}
        if events is not None and metric in _KPI_KINDS:
            try:
                att = drill_down(events, metric=metric, start=r["recent_start"], end=r["recent_end"],
                                 baseline=baseline)
            except WorkbenchError as exc:
                att = None
                evidence["drill_down"] = f"not available: {exc}"
            if att is not None and att.top and att.top["contribution"] > 0:
                top = att.top
                rec = (f"Start with {top['segment']} ({top['dimension']}): its {_label(metric)} moved from "
                       f"{_value(metric, top['expected'])} to {_value(metric, top['observed'])} and explains "
                       f"{min(top['contribution'], 1.0):.0%} of the change; bring {_label(metric)} back to about "
                       f"{_value(metric, r['baseline'])}.")
                evidence["drill_down"] = {"headline": att.headline, "top": top}
        if metric in ("cost_usd",):
            evidence["extra_usd_per_week"] = float(r["change"] * 7)
            rec += f" At this level it costs ${r['change'] * 7:,.2f} more per week."
        sev = str(r["severity"])
        out.append(Insight(kind="business_impact", title=title, description=desc, severity=sev,
                           confidence=float(1 - r["p_value"]) if np.isfinite(r["p_value"]) else 0.5,
                           impact=float(min(1.0, r["multiple"] / 4)), metric=metric,
                           start=pd.Timestamp(r["recent_start"]), end=pd.Timestamp(r["recent_end"]),
                           recommendation=rec, evidence=evidence))
    return out


def capacity_insights(kpis: pd.DataFrame, *, metrics: Sequence[str] = ("events", "tokens_out", "cost_usd"),
                      horizon: int | None = None, limits: Mapping[str, float] | None = None,
                      min_growth: float = 0.05) -> list[Insight]:
    """Insights for forecast growth of at least ``min_growth`` and for limits crossed within the horizon.

    Severity: a limit crossed by the forecast is high (critical when ``p_exceed >= 0.9``), by
    its upper bound only medium; growth is low under 15 %, medium under 30 %, high above.
    Impact is the severity weight; confidence is the forecast probability of growth (or of
    exceeding the limit), scaled down by the backtest MASE when it is above 1 (a model worse
    than the seasonal naive one earns less trust).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=70, freq="D", tz="UTC")
    >>> k = pd.DataFrame({"events": 1000 + 10 * np.arange(70) + 100 * (t.day_of_week < 5)}, index=t)
    >>> capacity_insights(k, metrics=["events"], horizon=14, limits={"events": 1800})[0].kind
    'capacity'
    """
    metrics = [m for m in metrics if m in kpis.columns]
    if not metrics:
        return []
    table = outlook_table(kpis, metrics=metrics, horizon=horizon, limits=limits)
    out = []
    for _, r in table.iterrows():  # a few metrics
        metric = r["metric"]
        trust = 1.0 if not np.isfinite(r["mase"]) or r["mase"] <= 1 else 1.0 / r["mase"]
        crossing = r["crossing"] if r["crossing"] is not None and not pd.isna(r["crossing"]) else None
        early = r["crossing_upper"] if r["crossing_upper"] is not None and not pd.isna(r["crossing_upper"]) else None
        if crossing is not None or early is not None:
            sev = "critical" if crossing is not None and r["p_exceed"] >= 0.9 else "high" if crossing is not None \
                else "medium"
            when = crossing if crossing is not None else early
            title = (f"{_label(metric)} forecast to {'exceed' if crossing is not None else 'possibly exceed'} "
                     f"{_value(metric, r['limit'])}/day around {when:%Y-%m-%d}")
            conf = float(r["p_exceed"]) * trust
        elif abs(r["growth"]) >= min_growth:
            g = abs(r["growth"])
            sev = "high" if g >= 0.30 else "medium" if g >= 0.15 else "low"
            title = f"{_label(metric)} forecast {r['growth']:+.0%} over the next {r['horizon']} days"
            conf = (r["p_growth"] if r["growth"] > 0 else 1 - r["p_growth"]) * trust
        else:
            continue
        desc = (f"Damped-trend ETS with weekly seasonality on {r['history_days']} days: "
                f"{_value(metric, r['forecast_total'])} over the next {r['horizon']} days against "
                f"{_value(metric, r['past_total'])} over the last {r['horizon']}; the busiest forecast day "
                f"({r['peak_day']:%Y-%m-%d}) is {_value(metric, r['forecast_peak'])} (upper 95%: "
                f"{_value(metric, r['peak_upper'])}) against a busiest past day of {_value(metric, r['past_peak'])}. "
                f"Backtest MASE {r['mase']:.2f}.")
        rec = (f"Provision for {_value(metric, r['peak_upper'])} {_label(metric)} on the busiest day of the next "
               f"{r['horizon']} days (the upper 95% bound of the forecast peak)")
        if crossing is not None:
            rec += f"; the limit of {_value(metric, r['limit'])} is reached around {crossing:%Y-%m-%d}."
        elif early is not None:
            rec += (f"; the upper bound reaches the limit of {_value(metric, r['limit'])} from {early:%Y-%m-%d} "
                    f"(probability {r['p_exceed']:.0%}).")
        else:
            rec += "."
        last = pd.Timestamp(kpis.index.max()) + pd.Timedelta("1D")
        out.append(Insight(kind="capacity", title=title, description=desc, severity=sev,
                           confidence=float(max(0.0, min(1.0, conf))), impact=SEVERITY_WEIGHT[sev], metric=metric,
                           start=last, end=last + pd.Timedelta(days=int(r["horizon"])), recommendation=rec,
                           evidence={k: r[k] for k in ("history_days", "horizon", "past_total", "forecast_total",
                                                       "growth", "p_growth", "past_peak", "forecast_peak",
                                                       "peak_upper", "peak_day", "limit", "p_exceed", "mase")}
                           | {"crossing": crossing, "crossing_upper": early}))
    return out


def _overlaps(a: Insight, b: Insight) -> bool:
    if a.start is None or b.start is None or a.end is None or b.end is None:
        return False
    return a.start < b.end and b.start < a.end


def _deduplicated(insights: list[Insight]) -> list[Insight]:
    """Drop repeats: the same title, and a business-impact breach on a metric whose anomaly
    incident overlaps it (the incident insight already tells it, with its drill-down) when
    the anomaly ranks higher; the dropped insight is named in the kept one's evidence."""
    seen: set[tuple[str, str]] = set()
    kept: list[Insight] = []
    for ins in sorted(insights, key=lambda x: -x.score):
        key = (ins.kind, ins.title)
        if key in seen:
            continue
        twin = next((k for k in kept if {k.kind, ins.kind} == {"anomaly", "business_impact"}
                     and (ins.metric == k.metric or ins.metric in k.evidence.get("metrics", []))
                     and _overlaps(k, ins)), None)
        if twin is not None:
            twin.evidence.setdefault("related", []).append(ins.title)
            continue
        seen.add(key)
        kept.append(ins)
    return kept


def ranked_insights(events: pd.DataFrame, *, sensitivity: str | float = "medium",
                    metrics: Sequence[str] = DEFAULT_METRICS, rules: Sequence[ImpactRule] = DEFAULT_IMPACT_RULES,
                    recent: str = "7D", baseline: str = "28D", alpha: float = 0.05, holidays: str | None = "US",
                    limits: Mapping[str, float] | None = None, kinds: Sequence[str] = INSIGHT_KINDS,
                    top: int | None = None) -> list[Insight]:
    """All insights for an event log: anomalies, trends, correlations, business impact, capacity.

    Daily KPIs (:func:`~analytics_lib.kpi_table`) feed every kind; anomalies and business
    impact are explained with :func:`~analytics_lib.anomaly.drill_down` on the events.
    Duplicates are dropped (a threshold breach that an anomaly incident on the same KPI and
    days already reports is folded into it) and the rest ranked by ``impact x confidence``,
    then severity, then kind (anomaly, business impact, capacity, trend, correlation: the
    more acute first).

    Parameters
    ----------
    events : DataFrame
        Validated events.
    sensitivity : str or float
        For the anomaly detectors (see :func:`~analytics_lib.anomaly.score_threshold`).
    metrics : sequence of str
        KPIs for anomalies, trends and correlations.
    rules : sequence of ImpactRule
    recent, baseline : str
        Windows of the business-impact comparison.
    alpha : float
        Significance level (trends) and false discovery rate (correlations).
    holidays : str or None
        Country code for public holidays (``holidays`` package), or None.
    limits : dict, optional
        Daily capacity limits per KPI (``{"tokens_out": 2e6}``).
    kinds : sequence of str
        The insight kinds to build.
    top : int, optional
        Keep only the first ``top``.

    Returns
    -------
    list of Insight
        Best first.

    Raises
    ------
    WorkbenchError
        For an empty log, an unknown kind or a bad parameter.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> data = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> best = ranked_insights(data.events, kinds=["anomaly"], metrics=["error_rate", "latency_p95"])[0]
    >>> best.kind, best.severity, data.truth.incident_team in best.recommendation
    ('anomaly', 'critical', True)
    """
    score_threshold(sensitivity)
    unknown = [k for k in kinds if k not in INSIGHT_KINDS]
    if unknown:
        raise WorkbenchError(f"kinds {unknown} are not known: use {', '.join(INSIGHT_KINDS)}")
    if events.empty:
        raise WorkbenchError("ranked_insights: there are no events; widen the window or check the source")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise WorkbenchError(f"top={top!r} must be a positive integer")
    kpis = kpi_table(events, granularity="D")
    found: list[Insight] = []
    if "anomaly" in kinds:
        found += anomaly_insights(kpis, events=events, metrics=metrics, sensitivity=sensitivity, holidays=holidays)
    if "business_impact" in kinds:
        found += impact_insights(kpis, events=events, rules=rules, recent=recent, baseline=baseline)
    if "trend" in kinds:
        found += trend_insights(kpis, events=events, metrics=metrics, alpha=alpha)
    if "correlation" in kinds:
        found += correlation_insights(kpis, metrics=metrics, alpha=alpha)
    if "capacity" in kinds:
        found += capacity_insights(kpis, limits=limits)
    ranked = sorted(_deduplicated(found), key=lambda x: (-round(x.score, 6), -SEVERITY_LEVELS.index(x.severity),
                                                         _KIND_ORDER.index(x.kind), x.title))
    return ranked[:top] if top else ranked

