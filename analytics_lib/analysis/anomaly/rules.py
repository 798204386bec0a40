"""KPI alert rules: a threshold on a metric, an anomaly at a sensitivity, a forecast crossing a
capacity, each judged on the newest complete days of the data (:func:`evaluate_rules`).

A rule is a small mapping (YAML in a job spec's ``alerts:``)::

    - name: error-rate-high         # a name of letters, digits, '-' or '_'
      metric: error_rate            # a daily KPI (analytics_lib.analysis.workflow.kpis.KPI_COLUMNS)
      above: 0.05                   # a threshold: above and/or below
      team: team-a                  # optional: one team's events only
    - name: events-unusual
      metric: events
      anomaly: high                 # low, medium, high or a number in (0, 1)
    - name: spend-capacity
      metric: cost_usd
      forecast: {capacity: 450, horizon: 28}   # the forecast reaches the capacity within the horizon

The newest day judged is the last **complete** UTC day before the evaluation time (today is
not over). Each rule is ``firing``, ``ok`` or ``no data``; a scheduled job tells only changes of
state (``docs/jobs.md``).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError


RULE_KEYS = ("name", "metric", "above", "below", "anomaly", "forecast", "team", "lookback_days")
KINDS = ("threshold", "anomaly", "forecast")
STATES = ("firing", "ok", "no data")
STATE_COLUMNS = ["rule", "kind", "metric", "team", "state", "value", "limit", "day", "message"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Rule:
    """One validated rule (see the module's docstring)."""

    name: str
    metric: str
    kind: str
    above: float | None = None
    below: float | None = None
    sensitivity: Any = None
    capacity: float | None = None
    horizon: int = 28
    team: str | None = None
    lookback_days: int = 90

    def as_dict(self) -> dict:
        """The rule as the mapping it was written as (what a notebook parameter carries)."""
        out: dict[str, Any] = {"name": self.name, "metric": self.metric}
        if self.kind == "threshold":
            out.update({k: v for k, v in (("above", self.above), ("below", self.below)) if v is not None})
        elif self.kind == "anomaly":
            out["anomaly"] = self.sensitivity
        else:
            out["forecast"] = {"capacity": self.capacity, "horizon": self.horizon}
        if self.team:
            out["team"] = self.team
        if self.lookback_days != 90:
            out["lookback_days"] = self.lookback_days
        return out


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise WorkbenchError(f"{where}: {v!r} must be a number")
    return float(v)


def parse_rules(raw: Any, *, where: str = "rules") -> list[Rule]:
    """Validate a list of rule mappings; every problem names the rule and the key.

    Parameters
    ----------
    raw : list of dict
        The rules (YAML), or :class:`Rule` objects.
    where : str
        Prefix of the messages (the file and key).

    Returns
    -------
    list of Rule

    Examples
    --------
    >>> [r.kind for r in parse_rules([{"name": "e", "metric": "error_rate", "above": 0.05},
    ...                               {"name": "v", "metric": "events", "anomaly": "high"}])]
    ['threshold', 'anomaly']
    >>> parse_rules([{"name": "x", "metric": "eror_rate", "above": 1}])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: rules[0] (x): metric 'eror_rate' does not exist (did you mean 'error_rate'?); ...
    """
    from analytics_lib.analysis.anomaly.series import score_threshold
    from analytics_lib.analysis.workflow.kpis import KPI_COLUMNS

    if not isinstance(raw, (list, tuple)):
        raise WorkbenchError(f"{where}: a list of rules, e.g. [{{name: errors, metric: error_rate, above: 0.05}}]")
    out, names = [], set()
    for i, r in enumerate(raw):
        if isinstance(r, Rule):
            r = r.as_dict()
        at = f"{where}[{i}]"
        if not isinstance(r, dict):
            raise WorkbenchError(f"{at}: a mapping with name, metric and above/below, anomaly or forecast")
        name = r.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise WorkbenchError(f"{at}: name {name!r} must be letters, digits, '-' or '_'")
        at = f"{at} ({name})"
        if name in names:
            raise WorkbenchError(f"{at}: another rule has this name")
        names.add(name)
        for k in r:
            if k not in RULE_KEYS:
                near = difflib.get_close_matches(str(k), RULE_KEYS, n=1)
                raise WorkbenchError(f"{at}: unknown key {k!r}" + (f" (did you mean '{near[0]}'?)" if near else "")
                                     + f"; keys: {', '.join(RULE_KEYS)}")
        metric = r.get("metric")
        if metric not in KPI_COLUMNS:
            near = difflib.get_close_matches(str(metric), KPI_COLUMNS, n=1)
            raise WorkbenchError(f"{at}: metric {metric!r} does not exist" + (f" (did you mean '{near[0]}'?)" if near
                                                                                else "")
                                 + f"; daily KPIs: {', '.join(KPI_COLUMNS)}")
        kinds = [k for k, keys in (("threshold", ("above", "below")), ("anomaly", ("anomaly",)),
                                   ("forecast", ("forecast",))) if any(r.get(x) is not None for x in keys)]
        if len(kinds) != 1:
            raise WorkbenchError(f"{at}: give exactly one of above/below (a threshold), anomaly (a sensitivity) "
                                 "or forecast ({capacity, horizon})")
        team = r.get("team")
        if team is not None and (not isinstance(team, str) or not team):
            raise WorkbenchError(f"{at}: team {team!r} must be a team name")
        lookback = r.get("lookback_days", 90)
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 14:
            raise WorkbenchError(f"{at}: lookback_days {lookback!r} must be a whole number >= 14")
        kw: dict[str, Any] = {"name": name, "metric": metric, "kind": kinds[0], "team": team, "lookback_days": lookback}
        if kinds[0] == "threshold":
            kw.update({k: _number(r[k], f"{at}: {k}") for k in ("above", "below") if r.get(k) is not None})
        elif kinds[0] == "anomaly":
            try:
                score_threshold(r["anomaly"])
            except WorkbenchError as exc:
                raise WorkbenchError(f"{at}: anomaly: {exc}") from None
            kw["sensitivity"] = r["anomaly"]
        else:
            f = r["forecast"]
            if not isinstance(f, dict) or "capacity" not in f or any(k not in ("capacity", "horizon") for k in f):
                raise WorkbenchError(f"{at}: forecast must be {{capacity: <number>, horizon: <days>}}")
            kw["capacity"] = _number(f["capacity"], f"{at}: forecast.capacity")
            h = f.get("horizon", 28)
            if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 366:
                raise WorkbenchError(f"{at}: forecast.horizon {h!r} must be a whole number of days in 1..366")
            kw["horizon"] = h
        out.append(Rule(**kw))
    return out


def _daily(events: pd.DataFrame, team: str | None, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    from analytics_lib.analysis.workflow.kpis import kpi_table

    ev = events[(events["ts"] >= first) & (events["ts"] < last + pd.Timedelta(days=1))]
    if team is not None:
        ev = ev[ev["team"].astype(str) == team]
    if ev.empty:
        return pd.DataFrame()
    k = kpi_table(ev, granularity="D")
    k = k.set_index("period") if "period" in k.columns else k
    k.index = pd.DatetimeIndex(k.index)
    days = pd.date_range(first, last, freq="D", tz="UTC")
    return k.reindex(k.index.union(days)).loc[first:last]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}"


def evaluate_rules(events: pd.DataFrame, rules: Sequence[Rule | Mapping[str, Any]], *,
                   at: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Judge each rule on the newest complete day before ``at`` (and the history before it).

    Parameters
    ----------
    events : DataFrame
        Validated events covering at least the rules' ``lookback_days`` before ``at``.
    rules : list of Rule or dict
        :func:`parse_rules` input or output.
    at : Timestamp or str, optional
        The evaluation time (a scheduled run's time); default now. The day judged is the UTC
        day before ``at``'s day.

    Returns
    -------
    DataFrame
        ``rule, kind, metric, team, state, value, limit, day, message`` (one row per rule;
        ``state`` is ``firing``, ``ok`` or ``no data``).

    Examples
    --------
    >>> from analytics_lib.data.synthetic.events import synthetic_events
    >>> ev = synthetic_events(5_000, days=60, seed=1, end="2025-07-01", malformed_share=0).events
    >>> t = evaluate_rules(ev, [{"name": "busy", "metric": "events", "above": 1}], at="2025-07-01 06:00")
    >>> t[["rule", "state", "day"]].to_dict("records")
    [{'rule': 'busy', 'state': 'firing', 'day': '2025-06-30'}]
    """
    parsed = parse_rules(list(rules))
    now = pd.Timestamp(at if at is not None else pd.Timestamp.now("UTC"))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    last = now.floor("D") - pd.Timedelta(days=1)
    rows = []
    for r in parsed:
        first = last - pd.Timedelta(days=r.lookback_days - 1)
        daily = _daily(events, r.team, first, last)
        series = daily[r.metric] if r.metric in daily.columns else pd.Series(dtype=float)
        value = series.get(last, np.nan) if len(series) else np.nan
        base = {"rule": r.name, "kind": r.kind, "metric": r.metric, "team": r.team or "", "day": f"{last:%Y-%m-%d}"}
        who = f"{r.metric}" + (f" ({r.team})" if r.team else "")
        if r.kind != "forecast" and pd.isna(value):
            rows.append({**base, "state": "no data", "value": np.nan, "limit": "",
                         "message": f"no {who} on {last:%Y-%m-%d}: no events that day"})
            continue
        if r.kind == "threshold":
            hi = r.above is not None and value > r.above
            lo = r.below is not None and value < r.below
            limit = " and ".join(x for x in (f"above {_fmt(r.above)}" if r.above is not None else "",
                                             f"below {_fmt(r.below)}" if r.below is not None else "") if x)
            firing = hi or lo
            msg = (f"{who} was {_fmt(value)} on {last:%Y-%m-%d}, " + ("above" if hi else "below")
                   + f" {_fmt(r.above if hi else r.below)}") if firing else \
                f"{who} was {_fmt(value)} on {last:%Y-%m-%d}, within the limits ({limit})"
            rows.append({**base, "state": "firing" if firing else "ok", "value": float(value),
                         "limit": f"alert when {limit}", "message": msg})
        elif r.kind == "anomaly":
            rows.append({**base, **_anomaly(r, series.dropna(), last, who)})
        else:
            rows.append({**base, **_forecast(r, series, last, who)})
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


def _anomaly(r: Rule, series: pd.Series, last: pd.Timestamp, who: str) -> dict:
    from analytics_lib.analysis.anomaly.detect import detect_anomalies
    from analytics_lib.analysis.anomaly.series import score_threshold

    value = float(series.get(last))
    if len(series) < 14:
        return {"state": "no data", "value": value, "limit": "",
                "message": f"{len(series)} days of {who}: an anomaly needs at least 14 days of history"}
    found = detect_anomalies(series.rename(r.metric).to_frame(), sensitivity=r.sensitivity)
    hit = found[pd.DatetimeIndex(found["timestamp"]).tz_convert("UTC") == last] if len(found) else found
    limit = f"|score| >= {score_threshold(r.sensitivity):g} (sensitivity {r.sensitivity})"
    if len(hit):
        h = hit.iloc[0]
        return {"state": "firing", "value": value, "limit": limit,
                "message": f"{who} was {_fmt(value)} on {last:%Y-%m-%d}, unusual: expected {_fmt(h['expected'])} "
                           f"({_fmt(h['lower'])} .. {_fmt(h['upper'])}), score {h['score']:+.1f}"}
    return {"state": "ok", "value": value, "limit": limit,
            "message": f"{who} was {_fmt(value)} on {last:%Y-%m-%d}, as usual for the last {len(series)} days"}


def _forecast(r: Rule, series: pd.Series, last: pd.Timestamp, who: str) -> dict:
    from analytics_lib.analysis.anomaly.series import EXTENSIVE_KPIS
    from analytics_lib.forecast.selection import auto_forecast

    hist = series.fillna(0.0) if r.metric in EXTENSIVE_KPIS else series.dropna()  # a day without events: 0
    limit = f"reaches {_fmt(r.capacity)} within {r.horizon} days"
    if len(hist.dropna()) < 14:
        return {"state": "no data", "value": np.nan, "limit": limit,
                "message": f"{len(hist.dropna())} days of {who}: a forecast needs at least 14 days of history"}
    frame = pd.DataFrame({"unique_id": who, "ds": hist.index.tz_localize(None), "y": hist.to_numpy(dtype=float)})
    res = auto_forecast(frame, horizon=r.horizon, granularity="D", models=["seasonal_naive", "ets", "theta"], n_windows=2,
                        level=(80,), calibrate=False)
    fc = res.forecast
    crossing = fc[fc["forecast"] >= r.capacity]
    peak = float(fc["forecast"].max())
    if len(crossing):
        when = pd.Timestamp(crossing["ds"].iloc[0])
        return {"state": "firing", "value": peak, "limit": limit,
                "message": f"{who} is forecast to reach {_fmt(r.capacity)} on {when:%Y-%m-%d} "
                           f"({(when - last.tz_localize(None)).days} days after {last:%Y-%m-%d}; peak {_fmt(peak)})"}
    return {"state": "ok", "value": peak, "limit": limit,
            "message": f"{who} stays below {_fmt(r.capacity)} for {r.horizon} days (forecast peak {_fmt(peak)})"}


def state_changes(before: pd.DataFrame | None, after: pd.DataFrame) -> pd.DataFrame:
    """The rules whose state changed between two evaluations (a rule new in ``after`` counts as
    changed when it fires): the rows of ``after`` with a ``previous`` column.

    Examples
    --------
    >>> a = pd.DataFrame({"rule": ["x", "y"], "state": ["ok", "firing"]})
    >>> b = pd.DataFrame({"rule": ["x", "y", "z"], "state": ["firing", "firing", "firing"]})
    >>> state_changes(a, b)[["rule", "previous", "state"]].to_dict("records")
    [{'rule': 'x', 'previous': 'ok', 'state': 'firing'}, {'rule': 'z', 'previous': None, 'state': 'firing'}]
    """
    prev = {} if before is None or before.empty else dict(zip(before["rule"], before["state"]))
    previous = [prev.get(r) for r in after["rule"]]
    changed = [(p != s) and not (p is None and s != "firing") for p, s in zip(previous, after["state"])]
    out = after.assign(previous=pd.Series(previous, index=after.index, dtype=object))
    return out[changed].reset_index(drop=True)


def evaluate_source(source: str | None, rules: Sequence[Rule | Mapping[str, Any]], *,
                    at: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """:func:`evaluate_rules` on a store or file: reads only the days the rules look back over.

    Parameters
    ----------
    source : str or None
        A SQLAlchemy URL or an events file; None: the workbench store.
    rules : list of Rule or dict
    at : Timestamp or str, optional
        The evaluation time (default now).

    Returns
    -------
    DataFrame
        As :func:`evaluate_rules`.

    Examples
    --------
    >>> evaluate_source("sqlite:///data/workbench.db", [{"name": "e", "metric": "error_rate", "above": 0.05}])  # doctest: +SKIP
    """
    from analytics_lib.core import paths
    from analytics_lib.core.sources import check_source
    from analytics_lib.data.load import load_events

    parsed = parse_rules(list(rules))
    now = pd.Timestamp(at if at is not None else pd.Timestamp.now("UTC"))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    if not parsed:
        return pd.DataFrame(columns=STATE_COLUMNS)
    lookback = max(r.lookback_days for r in parsed)
    start = now.floor("D") - pd.Timedelta(days=lookback)
    src = check_source(source or paths.DEFAULT_DB_URL)
    events = load_events(src, start=start, end=now.floor("D"), now=now).events
    return evaluate_rules(events, parsed, at=now)


def rules_summary(states: pd.DataFrame) -> str:
    r"""One Markdown line per rule, firing first (values from the data are escaped).

    Examples
    --------
    >>> rules_summary(pd.DataFrame({"rule": ["a"], "state": ["firing"], "message": ["x was 5, above 1"]}))
    '**1 of 1 rule firing.**\n\n- **a** (firing): x was 5, above 1'
    """
    from analytics_lib.core.markup import md_escape

    if states.empty:
        return "No rules."
    order = states.assign(_o=states["state"].map({"firing": 0, "no data": 1, "ok": 2})).sort_values("_o", kind="stable")
    firing = int((states["state"] == "firing").sum())
    head = f"**{firing} of {len(states)} rule{'s' if len(states) != 1 else ''} firing.**"
    return head + "\n\n" + "\n".join(f"- **{md_escape(r.rule)}** ({r.state}): {md_escape(r.message)}"
                                      for r in order.itertuples())
