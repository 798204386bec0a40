"""Where developers wait: steps ranked by severity, then waiting time times volume.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.analysis.workflow.transitions import transition_table
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import period_start


# ============================================================================================
# Bottlenecks
@dataclass(frozen=True)
class SeverityThresholds:
    """Severity from the ratio of a group's p95 time to the baseline p95 of the same kind.

    ``ratio < medium`` is low, ``< high`` medium, ``< critical`` high, otherwise critical.
    """

    medium: float = 1.5
    high: float = 2.5
    critical: float = 4.0

    def grade(self, ratio: np.ndarray) -> pd.Categorical:
        levels = np.select([ratio >= self.critical, ratio >= self.high, ratio >= self.medium],
                           ["critical", "high", "medium"], "low")
        return pd.Categorical(levels, categories=["low", "medium", "high", "critical"], ordered=True)


@renamed(period='granularity')
def bottleneck_table(events: pd.DataFrame, *, by: Sequence[str] = (S.EVENT_TYPE,), granularity: str | None = None,
                     latency_types: tuple[str, ...] | None = None, min_events: int = 100,
                     thresholds: SeverityThresholds = SeverityThresholds(), gap: str = "30min") -> pd.DataFrame:
    """Where developers wait: steps ranked by latency and transitions ranked by waiting time.

    Two kinds of rows, ranked together by ``severity`` (how abnormal), then by ``impact_h``
    (waiting time x volume) within a severity:

    - ``kind="step"``: events grouped by ``by`` (default the event type; e.g.
      ``("event_type", "model", "team")``) and, with ``granularity`` (``"D"``, ``"W"``), by period.
      ``p50_ms/p95_ms/p99_ms`` are latency percentiles; ``impact_h`` is the *excess* latency
      over the baseline median (the median latency of the same event type over all data),
      summed over the group's events, in hours; ``ratio`` is the group's p95 over that type's
      overall p95;
    - ``kind="transition"``: directly-follows transitions (see :func:`transition_table`);
      the times are the waits between the two events; ``impact_h`` is the total wait and
      ``ratio`` the transition's p95 over the median of all transitions' p95.

    ``severity`` grades ``ratio`` with ``thresholds``; ``users`` and ``sessions`` count who
    was affected. Groups with fewer than ``min_events`` events are left out (a p95 of a few
    dozen values is too noisy to rank); a missing ``by`` value is its own group ``(none)``.

    Parameters
    ----------
    events : DataFrame
        Validated events (``load_events(...).events``).
    by : str or sequence of str
        Columns grouping the step rows (default ``("event_type",)``).
    granularity : {"D", "W", "M"}, optional
        Also group the step rows by period (days, weeks from Monday, months); None (default):
        over all the data.
    latency_types : tuple of str, optional
        Only events of these types count in the step rows and their baselines; None (default):
        every event with a ``latency_ms``.
    min_events : int
        Fewest events (or transitions) a row needs to be kept (default 100).
    thresholds : SeverityThresholds
        The ``ratio`` cut-offs of the severities (default 1.5 medium, 2.5 high, 4 critical).
    gap : str
        Inactivity that ends a derived session for the transitions (rows without
        ``session_id``), as a pandas duration (default ``"30min"``).

    Returns
    -------
    DataFrame
        ``rank, kind, name, [period,] events, users, sessions, p50_ms, p95_ms, p99_ms, ratio,
        impact_h, severity``, ranked by severity then ``impact_h``.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> b = bottleneck_table(synthetic_events(20_000, days=28, seed=0).events)
    >>> set(b["kind"]) == {"step", "transition"}
    True
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in events.columns]
    if missing:
        raise WorkbenchError(f"bottleneck_table: by names columns that do not exist: {missing}")
    lat = events[S.LATENCY_MS]
    et = events[S.EVENT_TYPE].astype(str)
    has = lat.notna().to_numpy()
    if latency_types is not None:
        has &= et.isin(latency_types).to_numpy()
    ev = events.loc[has]
    lat_v = ev[S.LATENCY_MS].to_numpy(dtype="float64")
    base_med = ev.groupby(S.EVENT_TYPE, observed=True)[S.LATENCY_MS].median()
    base_p95 = ev.groupby(S.EVENT_TYPE, observed=True)[S.LATENCY_MS].quantile(0.95)
    etv = ev[S.EVENT_TYPE].astype(str)
    excess = np.maximum(lat_v - etv.map(base_med.rename(index=str)).to_numpy(dtype="float64"), 0.0)
    keys = [ev[c].astype(str).fillna("(none)").rename(c) for c in by]
    if granularity is not None:
        keys.append(period_start(ev[S.TS], granularity).rename("period"))
    frame = pd.DataFrame({"lat": lat_v, "excess": excess, "u": ev[S.USER_ID].astype(str).to_numpy(),
                          "s": ev[S.SESSION_ID].astype(str).to_numpy(), "et": etv.to_numpy()})
    for k in keys:
        frame[k.name] = k.to_numpy()
    g = frame.groupby([k.name for k in keys], sort=False, dropna=False)
    q = g["lat"].quantile([0.5, 0.95, 0.99]).unstack().reindex(columns=[0.5, 0.95, 0.99])
    steps = pd.DataFrame({"events": g.size(), "users": g["u"].nunique(), "sessions": g["s"].nunique(),
                          "p50_ms": q[0.5], "p95_ms": q[0.95], "p99_ms": q[0.99],
                          "impact_h": g["excess"].sum() / 3.6e6, "et": g["et"].first()}).reset_index()
    steps["ratio"] = steps["p95_ms"] / steps["et"].map(base_p95.rename(index=str)).astype("float64")
    steps["name"] = steps[[c for c in by]].astype(str).agg(" / ".join, axis=1) if len(by) > 1 else steps[by[0]].astype(str)
    steps["kind"] = "step"
    tt = transition_table(events, gap=gap)
    trans = pd.DataFrame({"kind": "transition", "name": tt["source"] + " -> " + tt["target"],
                          "events": tt["count"], "users": tt["users"], "sessions": tt["sessions"],
                          "p50_ms": tt["median_s"] * 1e3, "p95_ms": tt["p95_s"] * 1e3, "p99_ms": np.nan,
                          "impact_h": tt["total_wait_h"]})
    trans["ratio"] = trans["p95_ms"] / trans["p95_ms"].median()
    cols = ["kind", "name"] + (["period"] if granularity is not None else []) + \
        ["events", "users", "sessions", "p50_ms", "p95_ms", "p99_ms", "ratio", "impact_h"]
    out = pd.concat([steps[cols], trans.reindex(columns=cols)], ignore_index=True)
    out = out[out["events"] >= min_events]
    out["severity"] = thresholds.grade(out["ratio"].to_numpy(dtype="float64"))
    out = out.sort_values(["severity", "impact_h", "kind", "name"], ascending=[False, False, True, True],
                          kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
