"""An example plug-in of the analytics workbench: one extension of each kind.

Installed (``pip install .``), its entry points make ``season21`` a forecast model that
``auto_forecast`` considers by default, ``spikes`` an anomaly detector method, ``events_per_team``
an analysis engines can run, and ``row_counts`` a report output job specs can list.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analytics_lib.analysis.anomaly.scores import Scores
from analytics_lib.forecast.models import ModelFit


def season21(y, ds, future, ctx, memo=None):
    """The value 21 steps earlier (a three-week cycle), with the spread of its past errors."""
    y = pd.Series(y).interpolate(limit_direction="both").to_numpy()
    h, m = len(future), 21
    mean = y[-m:][np.arange(h) % m]
    err = y[m:] - y[:-m]
    sd = np.full(h, float(np.std(err)) if len(err) > 1 else 0.0) * np.sqrt(np.floor(np.arange(h) / m) + 1)
    return ModelFit(mean, sd=sd)


season21.workbench = {"auto": True, "complexity": 0.5}


def spikes(series, threshold, *, factor: float = 3.0):
    """Observations more than ``factor`` times the series' median."""
    y = series.y
    median = np.nanmedian(y)
    expected = np.full(len(y), median)
    score = np.where(np.isnan(y), np.nan, (y - median) / max(median, 1e-9) * threshold / factor)
    return Scores(expected=expected, score=score, lower=np.full(len(y), -np.inf), upper=expected * factor,
                  flag=np.nan_to_num(y) > factor * median)


def events_per_team(events, *, top: int = 3):
    """Events per team, most first."""
    return events.groupby("team", observed=True).size().rename("events").sort_values(ascending=False).head(top) \
        .reset_index()


def row_counts(ctx):
    """``row_counts.json``: how many rows each table of the run has."""
    target = ctx.run_dir / "row_counts.json"
    target.write_text(json.dumps({name: int(len(frame)) for name, frame in ctx.frames.items()}))
    return [target]
