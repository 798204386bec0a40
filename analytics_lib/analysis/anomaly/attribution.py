"""Which team, model or feature explains an anomaly (``drill_down``).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analytics_lib.analysis.anomaly.series import KPI_KINDS, _DIMENSIONS
from analytics_lib.analysis.workflow.kpis import RESPONSE_TYPES
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import epoch_micros


@dataclass(frozen=True)
class Attribution:
    """Which segment explains the deviation of an aggregate KPI over a window.

    Attributes
    ----------
    metric : str
        The KPI (a :func:`~analytics_lib.kpi_table` column).
    start, end : Timestamp
        The anomalous window ``[start, end)``.
    baseline_start, baseline_end : Timestamp
        The span the baseline days come from (the window itself excluded; only the window's
        weekdays for windows under a week, see :func:`drill_down`).
    observed, expected : float
        The KPI over the window and over the baseline (per day for counts and sums).
    change : float
        ``observed / expected - 1`` (NaN when ``expected`` is 0).
    segments : DataFrame
        One row per segment, ranked by ``contribution``: ``dimension`` (``team`` or
        ``team x model``), ``segment`` (``team-a`` or ``team-a / openai/gpt-4o``), ``depth``,
        ``events`` (its events in the window that enter the KPI), ``exposure`` (its share of
        them; for counts and sums its share of the baseline total),
        ``observed``, ``expected``, ``change`` (the segment's own KPI), ``excess`` (its part
        of the aggregate deviation, in the KPI's units), ``contribution`` (share of the
        aggregate deviation that the segment explains), ``z`` (see :func:`drill_down`; NaN
        for percentiles) and ``lift`` (``contribution / exposure``).
    mix : float
        For rates: the share of the deviation due to the segments' weights changing rather
        than their rates (0 for other kinds).
    top : dict
        The headline segment (keys of a ``segments`` row), empty when the change is broad
        (see :func:`drill_down`).
    """

    metric: str
    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    baseline_end: pd.Timestamp
    observed: float
    expected: float
    change: float
    segments: pd.DataFrame
    mix: float
    top: dict

    @property
    def headline(self) -> str:
        """One sentence: the change and the share of it the top segment explains.

        Examples
        --------
        >>> a = Attribution("latency_p95", pd.Timestamp("2024-03-14"), pd.Timestamp("2024-03-15"),
        ...     pd.Timestamp("2024-02-15"), pd.Timestamp("2024-03-14"), 14_000.0, 4_100.0, 14_000 / 4_100 - 1,
        ...     pd.DataFrame(), 0.0, {"dimension": "team x model", "segment": "team-a / m1", "contribution": 0.81})
        >>> a.headline
        'latency_p95 +241% on 2024-03-14 (14,000 vs 4,100 expected), 81% of the excess from team-a / m1 (team x model)'
        """
        days = (self.end - self.start) / pd.Timedelta("1D")
        when = f"on {self.start:%Y-%m-%d}" if days <= 1 else \
            f"from {self.start:%Y-%m-%d} to {(self.end - pd.Timedelta('1D')):%Y-%m-%d}"
        change = "" if not np.isfinite(self.change) else f" {self.change:+.0%}"
        text = f"{self.metric}{change} {when} ({_fmt(self.observed)} vs {_fmt(self.expected)} expected)"
        word = "excess" if self.observed >= self.expected else "drop"
        if self.top:
            share = self.top["contribution"]
            text += f", {min(share, 1.0):.0%} of the {word} from {self.top['segment']} ({self.top['dimension']})"
            if share > 1.05:  # counterfactuals can overshoot: other segments moved the other way
                text += f" (counterfactual {share:.0%})"
        else:
            text += f", a broad {word}: no segment stands out against its size"
        return text


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def _kpi_parts(events: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Per event: numerator, denominator (ratio kinds; 1/0 for others), relevance mask, kind."""
    kind = KPI_KINDS[metric]
    et = events[S.EVENT_TYPE].astype(str).to_numpy()
    n = len(events)
    ones = np.ones(n)

    def col(c: str) -> np.ndarray:
        return events[c].astype("float64").to_numpy(na_value=np.nan)

    if metric == "events":
        return ones, ones, np.ones(n, bool), kind
    if metric in ("cost_usd", "tokens_in", "tokens_out"):
        v = np.nan_to_num(col(metric))
        return v, ones, np.ones(n, bool), kind
    if metric == "accepts":
        v = (et == "accept").astype("float64")
        return v, ones, np.ones(n, bool), kind
    if metric == "error_rate":
        req = np.isin(et, ("generation", "error"))
        return (et == "error").astype("float64"), req.astype("float64"), req, kind
    if metric == "cache_hit_rate":
        hit = events[S.CACHE_HIT]
        q = (et == "cache_query") & hit.notna().to_numpy()
        h = q & hit.fillna(False).astype(bool).to_numpy()
        return h.astype("float64"), q.astype("float64"), q, kind
    if metric == "satisfaction":
        v = col(S.SATISFACTION)
        has = ~np.isnan(v)
        return np.nan_to_num(v), has.astype("float64"), has, kind
    if metric == "cost_per_accept":
        v = np.nan_to_num(col(S.COST_USD))
        acc = (et == "accept").astype("float64")
        return v, acc, (v > 0) | (acc > 0), kind
    if kind == "quantile":
        v = col(S.LATENCY_MS)
        has = ~np.isnan(v) & np.isin(et, RESPONSE_TYPES)
        return v, ones, has, kind
    # distinct
    return ones, ones, np.ones(n, bool), kind


def _labels(events: pd.DataFrame, dims: Sequence[str]) -> dict[str, np.ndarray]:
    return {d: events[d].astype("str").fillna("(none)").to_numpy(dtype=object) for d in dims}


def drill_down(events: pd.DataFrame, *, metric: str, start: Any, end: Any, baseline: str = "28D",
               side: str = "both", dimensions: Sequence[str] = _DIMENSIONS, max_depth: int = 2,
               exclude: Sequence[tuple[Any, Any]] = (), min_events: int = 20, min_lift: float = 1.2) -> Attribution:
    """Which team / model / feature / event type explains an aggregate KPI's deviation in a window.

    The window ``[start, end)`` is compared with a baseline: the ``baseline`` duration before
    it and (``side="both"``, the default) after it, restricted for windows under a week to the
    weekdays the window covers (a Tuesday incident is compared with other Tuesdays), and
    without the ``exclude`` windows (other incidents). ``side="before"`` uses only the past,
    as a live alert would. Segments are the values of each dimension and, with ``max_depth=2``, of each
    pair of dimensions (``team x model``). What a segment explains depends on the KPI:

    - counts and sums (``events``, ``cost_usd``, ``tokens_*``, ``accepts``; per day):
      the segment's own change, ``excess = observed_s - expected_s``;
      ``contribution = excess / (observed - expected)`` (shares of one dimension add up to 1);
    - distinct counts (``active_users``, ``sessions``): the same with distinct counts per
      segment, over the dimensions that put every user (session) in one segment (``team``;
      a user works with several models, features and event types);
    - rates (``error_rate``, ``cache_hit_rate``, ``satisfaction`` (mean score),
      ``cost_per_accept``): the segment's numerator beyond what its own baseline rate
      predicts for its window denominator, ``excess_s = num_s - den_s x rate_base_s``, over
      the aggregate excess ``num - den x rate_base``; the rest is ``mix`` (segment weights
      moving); dimensions that split numerator from denominator are skipped (accepts carry no
      model, so ``cost_per_accept`` is not split by model);
    - percentiles (``latency_p50/p95/p99``, over the assistant's responses): a
      counterfactual: the segment's window latencies are replaced by its baseline
      distribution (quantile mapping) and the percentile recomputed;
      ``contribution = (observed - counterfactual_s) / (observed - expected)``.

    The headline (``Attribution.top``) is the most specific segment (pairs before single
    dimensions) that explains at least 80 % as much as the best segment, among segments
    with at least ``min_events`` relevant events in the window whose share of the deviation
    is at least ``min_lift`` times their share of the events (``lift``) and, where a noise
    model applies, whose departure is significant (``|z| >= 3``: for counts and sums, the
    segment's value against proportional scaling, over its day-to-day spread in the
    baseline; for error and cache hit rates, the binomial z of its excess count). When no
    segment stands out that way the change is broad, spread over the segments in proportion
    to their size (a holiday dip), and ``top`` is empty.

    Parameters
    ----------
    events : DataFrame
        Validated events covering the window and the baseline.
    metric : str
        A KPI of :func:`~analytics_lib.kpi_table` (see the list above).
    start, end : str or Timestamp
        The anomalous window (UTC; naive values are UTC).
    baseline : str
        Length of the comparison period before ``start`` (and after ``end``), a duration.
    side : {"both", "before"}
        Whether the baseline also takes the days after the window.
    dimensions : sequence of str
        Event columns to segment by (default ``team, model, feature, event_type``).
    max_depth : {1, 2}
        Segment by single dimensions only, or also by pairs.
    exclude : sequence of (start, end)
        Windows left out of the baseline (other anomalies).
    min_events : int
        Smallest segment (relevant events in the window) that can be the headline.
    min_lift : float
        Smallest ``contribution / exposure`` of a headline segment.

    Returns
    -------
    Attribution

    Raises
    ------
    WorkbenchError
        For an unknown metric or dimension, an empty window or baseline.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> data = synthetic_events(30_000, days=60, end="2025-06-30", seed=0)
    >>> t = data.truth
    >>> a = drill_down(data.events, metric="latency_p95", start=t.incident_start, end=t.incident_end)
    >>> a.top["segment"] == f"{t.incident_team} / {t.incident_model}", a.change > 1
    (True, True)
    """
    if metric not in KPI_KINDS:
        raise WorkbenchError(f"drill_down: metric={metric!r} is not supported; use one of {', '.join(KPI_KINDS)}")
    dims = [dimensions] if isinstance(dimensions, str) else list(dimensions)
    missing = [d for d in dims if d not in events.columns]
    if missing or not dims:
        raise WorkbenchError(f"drill_down: dimensions {missing or '[]'} are not columns of the events")
    if max_depth not in (1, 2):
        raise WorkbenchError(f"drill_down: max_depth={max_depth!r} must be 1 or 2")
    t0, t1 = _utc(start, "start"), _utc(end, "end")
    if t1 <= t0:
        raise WorkbenchError(f"drill_down: end {t1} must be after start {t0}")
    try:
        span = pd.Timedelta(baseline)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"drill_down: baseline={baseline!r} is not a duration such as '28D'") from exc
    if side not in ("both", "before"):
        raise WorkbenchError(f"drill_down: side={side!r} must be 'both' or 'before'")
    b0, b1 = t0 - span, (t1 + span if side == "both" else t0)
    ts = events[S.TS]
    in_win = ((ts >= t0) & (ts < t1)).to_numpy(copy=True)
    in_base = (((ts >= b0) & (ts < t0)) | ((ts >= t1) & (ts < b1))).to_numpy(copy=True)
    for x0, x1 in exclude:
        in_base &= ~((ts >= _utc(x0, "exclude")) & (ts < _utc(x1, "exclude"))).to_numpy()
    days_win = pd.date_range(t0.floor("D"), t1 - pd.Timedelta("1ns"), freq="D")
    if (t1 - t0) < pd.Timedelta("7D"):
        in_base &= ts.dt.day_of_week.isin(set(days_win.day_of_week)).to_numpy()
    if not in_win.any():
        raise WorkbenchError(f"drill_down: no events in the window [{t0}, {t1})")
    if not in_base.any():
        raise WorkbenchError(f"drill_down: no events in the baseline ({baseline} around [{t0}, {t1})) "
                             "to compare with: load a longer history or give a longer baseline")
    keep = in_win | in_base   # only the window and the baseline matter from here on
    events, ts, in_win, in_base = events.loc[keep], ts[keep], in_win[keep], in_base[keep]
    num, den, rel, kind = _kpi_parts(events, metric)
    base_days = pd.DatetimeIndex(ts[in_base].dt.floor("D").unique()).size
    win_days = max(1, pd.DatetimeIndex(ts[in_win].dt.floor("D").unique()).size) \
        if (t1 - t0) >= pd.Timedelta("1D") else 1
    labels = _labels(events, dims)
    day = (epoch_micros(ts) // 86_400_000_000).astype(np.int64)
    users = events[S.USER_ID].astype("str").to_numpy(dtype=object) if metric == "active_users" else \
        events[S.SESSION_ID].astype("str").to_numpy(dtype=object) if metric == "sessions" else None
    groups: list[tuple[str, np.ndarray]] = [(d, labels[d]) for d in dims]
    if max_depth == 2:
        for a, b in itertools.combinations(dims, 2):
            groups.append((f"{a} x {b}", _pair(labels[a], labels[b])))
    W, B = in_win & rel, in_base & rel
    q = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}.get(metric)
    obs, exp = _aggregate(kind, num, den, W, B, users, q, win_days, base_days, day)
    rows = []
    mix = 0.0
    skipped = []
    for name, lab in groups:
        if not _segmentable(kind, lab, num, den, W, users):
            skipped.append(name)
            continue
        seg = _segment_effects(kind, num, den, lab, W, B, users, q, win_days, base_days, obs, exp, day,
                               metric in ("error_rate", "cache_hit_rate"))
        seg.insert(0, "dimension", name)
        seg.insert(2, "depth", 1 if " x " not in name else 2)
        rows.append(seg)
        if kind == "ratio" and " x " not in name and name == dims[0]:
            mix = float(1 - seg["contribution"].sum()) if np.isfinite(seg["contribution"].sum()) else float("nan")
    if not rows:
        raise WorkbenchError(f"drill_down: none of the dimensions {dims} can segment {metric} "
                             f"(skipped: {', '.join(skipped)})")
    segments = pd.concat(rows, ignore_index=True)
    segments = segments.sort_values(["contribution", "depth"], ascending=[False, False], kind="stable",
                                    na_position="last").reset_index(drop=True)
    segments["lift"] = segments["contribution"] / segments["exposure"].where(segments["exposure"] > 0)
    top = _headline(segments, min_events, min_lift)
    change = obs / exp - 1 if exp not in (0, 0.0) and np.isfinite(exp) else float("nan")
    return Attribution(metric=metric, start=t0, end=t1, baseline_start=b0, baseline_end=b1, observed=float(obs),
                       expected=float(exp), change=float(change), segments=segments, mix=mix, top=top)


def _utc(value: Any, name: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{name}={value!r} is not a date-time") from exc
    if pd.isna(t):
        raise WorkbenchError(f"{name} is missing")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (pd.Series(a, dtype="str") + " / " + pd.Series(b, dtype="str")).to_numpy(dtype=object)


def _daily_distinct(users: np.ndarray, day: np.ndarray, codes: np.ndarray | None = None, k: int = 1) -> np.ndarray:
    """Sum over days of the distinct users (sessions) per day, per segment code."""
    frame = pd.DataFrame({"c": np.zeros(len(users), dtype=np.int64) if codes is None else codes, "d": day, "u": users})
    per = frame.drop_duplicates().groupby("c").size()
    return per.reindex(range(k), fill_value=0).to_numpy(dtype="float64")


def _aggregate(kind: str, num: np.ndarray, den: np.ndarray, W: np.ndarray, B: np.ndarray, users: np.ndarray | None,
               q: float | None, win_days: int, base_days: int, day: np.ndarray) -> tuple[float, float]:
    if kind == "sum":
        return num[W].sum() / win_days, num[B].sum() / base_days
    if kind == "distinct":  # mean daily distinct count, as the daily KPI is
        return (float(_daily_distinct(users[W], day[W])[0]) / win_days,
                float(_daily_distinct(users[B], day[B])[0]) / base_days)
    if kind == "ratio":
        o = num[W].sum() / den[W].sum() if den[W].sum() > 0 else np.nan
        e = num[B].sum() / den[B].sum() if den[B].sum() > 0 else np.nan
        return o, e
    return float(np.quantile(num[W], q)), float(np.quantile(num[B], q))


def _segmentable(kind: str, lab: np.ndarray, num: np.ndarray, den: np.ndarray, W: np.ndarray,
                  users: np.ndarray | None) -> bool:
    """Whether a dimension can split the KPI: distinct counts need every user (session) in one
    segment (``team`` does, ``model`` does not: one user uses several models); a rate needs its
    numerator and denominator in the same segments (``cost_per_accept`` by ``model`` does not:
    accepts carry no model)."""
    if kind == "distinct":
        per = pd.Series(lab[W]).groupby(users[W]).nunique()
        return bool(len(per) and per.max() == 1)
    if kind == "ratio":
        codes, names = pd.factorize(lab[W])
        k = len(names)
        nw = np.bincount(codes, weights=num[W], minlength=k)
        dw = np.bincount(codes, weights=den[W], minlength=k)
        total = nw.sum()
        return bool(total == 0 or nw[dw == 0].sum() <= 0.5 * total)
    return True


def _segment_effects(kind: str, num: np.ndarray, den: np.ndarray, lab: np.ndarray, W: np.ndarray, B: np.ndarray,
                     users: np.ndarray | None, q: float | None, win_days: int, base_days: int, obs: float,
                     exp: float, day: np.ndarray, proportion: bool) -> pd.DataFrame:
    codes, names = pd.factorize(lab)
    k = len(names)
    n_w = np.bincount(codes[W], minlength=k)
    exposure = n_w / max(W.sum(), 1)
    z = np.full(k, np.nan)
    if kind in ("sum", "distinct"):
        if kind == "sum":
            o = np.bincount(codes[W], weights=num[W], minlength=k) / win_days
            e = np.bincount(codes[B], weights=num[B], minlength=k) / base_days
        else:
            o = _daily_distinct(users[W], day[W], codes[W], k) / win_days
            e = _daily_distinct(users[B], day[B], codes[B], k) / base_days
        excess = o - e
        total = obs - exp
        # a count's natural share is what the segment was expected to hold (a segment that
        # dropped holds little of the window): with shares of the baseline, a drop spread in
        # proportion to size gives every segment a lift of exactly 1
        exposure = e / e.sum() if e.sum() > 0 else exposure
        # z of the segment against proportional scaling, with its day-to-day spread in the baseline
        frame = pd.DataFrame({"c": codes[B], "d": day[B], "v": num[B] if kind == "sum" else users[B]})
        per_day = frame.groupby(["c", "d"])["v"].agg("sum" if kind == "sum" else "nunique").unstack(fill_value=0)
        if per_day.shape[1] >= 3:
            sd = per_day.std(axis=1, ddof=1).reindex(range(k)).to_numpy(dtype="float64")
            ratio = obs / exp if exp else np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                z = (o - e * ratio) / (np.maximum(sd, 1e-12) / math.sqrt(win_days))
    elif kind == "ratio":
        nw = np.bincount(codes[W], weights=num[W], minlength=k)
        dw = np.bincount(codes[W], weights=den[W], minlength=k)
        nb = np.bincount(codes[B], weights=num[B], minlength=k)
        db = np.bincount(codes[B], weights=den[B], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            o = np.where(dw > 0, nw / dw, np.nan)
            e = np.where(db > 0, nb / db, exp)
        excess_num = nw - dw * e            # numerator units
        total_num = num[W].sum() - den[W].sum() * exp
        d_total = den[W].sum()
        excess = excess_num / d_total if d_total > 0 else excess_num * np.nan
        total = total_num / d_total if d_total > 0 else np.nan
        if proportion:  # binomial z of the segment's excess count
            with np.errstate(invalid="ignore", divide="ignore"):
                z = excess_num / np.sqrt(dw * e * (1 - e))
    else:  # quantile: counterfactual replacement by the segment's baseline distribution
        vals_w, codes_w = num[W], codes[W]
        vals_b, codes_b = num[B], codes[B]
        o = np.full(k, np.nan)
        e = np.full(k, np.nan)
        cf = np.full(k, np.nan)
        order_b = np.argsort(codes_b, kind="stable")
        sorted_codes_b = codes_b[order_b]
        for c in range(k):  # one pass per segment (a few dozen), vectorized inside
            mine = codes_w == c
            if not mine.any():
                continue
            lo, hi = np.searchsorted(sorted_codes_b, [c, c + 1])
            ref = vals_b[order_b[lo:hi]] if hi - lo >= 5 else vals_b
            seg = vals_w[mine]
            o[c] = np.quantile(seg, q)
            e[c] = np.quantile(ref, q)
            ranks = (stats.rankdata(seg, method="ordinal") - 0.5) / len(seg)
            replaced = vals_w.copy()
            replaced[mine] = np.quantile(ref, ranks)
            cf[c] = np.quantile(replaced, q)
        excess = obs - cf
        total = obs - exp
    with np.errstate(invalid="ignore", divide="ignore"):
        contribution = excess / total if total not in (0, 0.0) and np.isfinite(total) else np.full(k, np.nan)
        change = np.where((e != 0) & np.isfinite(e), o / e - 1, np.nan)
    return pd.DataFrame({"segment": names.astype(str), "events": n_w, "exposure": exposure, "observed": o,
                         "expected": e, "change": change, "excess": excess, "contribution": contribution, "z": z})


def _headline(segments: pd.DataFrame, min_events: int, min_lift: float) -> dict:
    ok = segments[(segments["events"] >= min_events) & segments["contribution"].notna()
                  & (segments["lift"] >= min_lift) & ~(segments["z"].abs() < 3)]
    if ok.empty:
        return {}
    best = ok["contribution"].max()
    if not best > 0:
        return {}
    near = ok[ok["contribution"] >= 0.8 * best]
    pick = near.sort_values(["depth", "contribution"], ascending=[False, False], kind="stable").iloc[0]
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in pick.to_dict().items()}
