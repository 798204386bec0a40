"""Saved cohorts: a named set of users, defined by properties and behaviour in a window, reused
by funnels, retention, lifecycle and experiments alike.

A definition (YAML or a dict)::

    name: active-chat-users
    window: {start: "-28d", end: "today"}       # relative dates resolve when the cohort is used
    properties: {team: [team-a, team-b], feature: [chat]}
    behaviour:
      - {event_type: accept, at_least: 5}
      - {event_type: error, at_most: 2}

A user belongs when, within the window, at least one of their events has every listed property
value (any of the values given per column) and their count of each behaviour's event type lies
within its bounds (``at_least``, ``at_most``; an event type never seen counts 0). Without
properties every user with an event in the window qualifies on that side.

:meth:`Cohort.users` lists the members; :meth:`Cohort.filter` keeps their events (all of them,
not only the window's: pass the result to ``funnel_table``, ``retention_matrix``,
``lifecycle_table``); ``experiment_results(..., cohort=...)`` analyses the cohort's users only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.timewindow import time_window

_PROPERTY_COLUMNS = (S.TEAM, S.FEATURE, S.MODEL, S.EVENT_TYPE)


@dataclass(frozen=True)
class Cohort:
    """A saved cohort definition (see the module docstring).

    Attributes
    ----------
    name : str
    start, end : str or None
        The window (ISO dates or relative forms; a date-valued end includes that day).
    properties : dict of str to tuple of str
        Column (``team``, ``feature``, ``model``, ``event_type``) to accepted values.
    behaviour : tuple of dict
        ``{event_type, at_least?, at_most?}`` each.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(20_000, days=28, end="2025-06-30", seed=0).events
    >>> c = Cohort.from_dict({"name": "busy-team-a", "window": {"start": "2025-06-16", "end": "2025-06-29"},
    ...                       "properties": {"team": ["team-a"]}, "behaviour": [{"event_type": "accept", "at_least": 3}]})
    >>> users = c.users(ev)
    >>> bool(len(users) > 0), set(c.filter(ev)["user_id"].astype(str)) == set(users)
    (True, True)
    """

    name: str
    start: str | None = None
    end: str | None = None
    properties: dict = field(default_factory=dict)
    behaviour: tuple = ()

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "Cohort":
        """A cohort from its definition; a bad key or value is a clear error.

        Parameters
        ----------
        spec : mapping
            ``name``, optional ``window`` (``start``, ``end``), ``properties`` and ``behaviour``.
        """
        if not isinstance(spec, Mapping) or not str(spec.get("name") or "").strip():
            raise WorkbenchError("a cohort needs a name: {name: ..., window: ..., properties: ..., behaviour: ...}")
        unknown = set(spec) - {"name", "window", "properties", "behaviour", "description"}
        if unknown:
            raise WorkbenchError(f"cohort {spec['name']!r}: unknown key(s) {', '.join(sorted(unknown))}; use window, "
                                 "properties, behaviour")
        window = spec.get("window") or {}
        props = {}
        for col, values in (spec.get("properties") or {}).items():
            if col not in _PROPERTY_COLUMNS:
                raise WorkbenchError(f"cohort {spec['name']!r}: property {col!r} is not one of "
                                     f"{', '.join(_PROPERTY_COLUMNS)}")
            values = [values] if isinstance(values, str) else list(values)
            if not values:
                raise WorkbenchError(f"cohort {spec['name']!r}: property {col!r} lists no value")
            props[col] = tuple(str(v) for v in values)
        rules = []
        for rule in spec.get("behaviour") or []:
            if not isinstance(rule, Mapping) or "event_type" not in rule or not ({"at_least", "at_most"} & set(rule)):
                raise WorkbenchError(f"cohort {spec['name']!r}: a behaviour is {{event_type, at_least and/or at_most}}, "
                                     f"got {rule!r}")
            bounds = {k: rule[k] for k in ("at_least", "at_most") if k in rule}
            if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in bounds.values()):
                raise WorkbenchError(f"cohort {spec['name']!r}: at_least/at_most must be whole numbers >= 0, got {rule!r}")
            rules.append({"event_type": str(rule["event_type"]), **bounds})
        c = cls(str(spec["name"]).strip(), window.get("start"), window.get("end"), props, tuple(rules))
        c.window()  # a bad date stops here
        return c

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Cohort":
        """A cohort saved as YAML (:meth:`save`)."""
        import yaml

        p = Path(path)
        if not p.is_file():
            raise WorkbenchError(f"{path}: no such cohort file")
        return cls.from_dict(yaml.safe_load(p.read_text(encoding="utf-8")))

    def to_dict(self) -> dict:
        """The definition, as :meth:`from_dict` reads it."""
        out: dict = {"name": self.name}
        if self.start is not None or self.end is not None:
            out["window"] = {k: v for k, v in (("start", self.start), ("end", self.end)) if v is not None}
        if self.properties:
            out["properties"] = {k: list(v) for k, v in self.properties.items()}
        if self.behaviour:
            out["behaviour"] = [dict(r) for r in self.behaviour]
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the definition as YAML (replaced in one step)."""
        import yaml

        from analytics_lib.core.files import atomic_write

        return atomic_write(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def window(self):
        """The window as a :class:`~analytics_lib.core.timewindow.TimeWindow` (relative dates resolved now)."""
        return time_window(self.start, self.end)

    def users(self, events: pd.DataFrame) -> pd.Index:
        """The members among the users of ``events`` (sorted user ids)."""
        w = self.window()
        keep = np.ones(len(events), dtype=bool)
        if w.start is not None:
            keep &= (events[S.TS] >= w.start).to_numpy()
        if w.end is not None:
            keep &= (events[S.TS] < w.end).to_numpy()
        ev = events[keep]
        user = ev[S.USER_ID].astype(str)
        match = np.ones(len(ev), dtype=bool)
        for col, values in self.properties.items():
            if col not in ev.columns:
                raise WorkbenchError(f"cohort {self.name!r}: the events have no column {col!r}")
            match &= ev[col].astype(str).isin(values).to_numpy()
        members = pd.Index(user[match].unique())
        if self.behaviour:
            counts = pd.crosstab(user, ev[S.EVENT_TYPE].astype(str))
            counts = counts.reindex(members, fill_value=0)
            ok = np.ones(len(counts), dtype=bool)
            for rule in self.behaviour:
                n = counts[rule["event_type"]].to_numpy() if rule["event_type"] in counts else np.zeros(len(counts))
                if "at_least" in rule:
                    ok &= n >= rule["at_least"]
                if "at_most" in rule:
                    ok &= n <= rule["at_most"]
            members = counts.index[ok]
        return pd.Index(sorted(members), name="user_id")

    def filter(self, events: pd.DataFrame) -> pd.DataFrame:
        """Every event of the cohort's members (for funnels, retention, lifecycle...)."""
        return events[events[S.USER_ID].astype(str).isin(set(self.users(events))).to_numpy()]
