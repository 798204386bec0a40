"""Splits that respect time: cutoffs for churn, sessions by date for satisfaction.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics_lib.analysis.predict.features import (
    SESSION_FEATURES, _check_active_days, _check_events, _cutoff, _data_end)
from analytics_lib.core import schema as S
from analytics_lib.core.checks import check_positive_int
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Time-based validation
@dataclass(frozen=True)
class TimeSplit:
    """Cutoffs for honest validation over time: train early, validate later, test last.

    Every label window is ``churn_window_days`` long. A training cutoff's label window ends
    on or before the validation cutoff, and the validation's on or before the test cutoff,
    so no step learns from a period it is scored on.

    Attributes
    ----------
    train : tuple of Timestamp
        Training cutoffs, oldest first.
    validation : Timestamp
        Where candidates are compared and the chosen one is calibrated.
    test : Timestamp
        The held-out cutoff for :meth:`ChurnModel.evaluate`.
    churn_window_days : int
    """

    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    test: pd.Timestamp
    churn_window_days: int

    def table(self) -> pd.DataFrame:
        """One row per cutoff: ``role, cutoff, labels_until`` (the last day its labels look at).

        Examples
        --------
        >>> s = TimeSplit(train=(pd.Timestamp("2025-03-01", tz="UTC"),), validation=pd.Timestamp("2025-04-01", tz="UTC"),
        ...               test=pd.Timestamp("2025-05-01", tz="UTC"), churn_window_days=28)
        >>> s.table()["role"].tolist()
        ['train', 'validation', 'test']
        """
        rows = [("train", c) for c in self.train] + [("validation", self.validation), ("test", self.test)]
        out = pd.DataFrame(rows, columns=["role", "cutoff"])
        out["labels_until"] = out["cutoff"] + pd.Timedelta(days=self.churn_window_days - 1)
        return out


def time_split(events: pd.DataFrame, *, churn_window_days: int = 28, n_train: int = 8, step_days: int = 7,
               active_days: int = 28, end: str | pd.Timestamp | None = None) -> TimeSplit:
    """Choose training, validation and test cutoffs from the period the events cover.

    With ``W = churn_window_days`` and ``end`` the day after the last event (or the given
    end, when the events reach it: a store a day or two behind a scheduled run's "today"
    ends the labelled period at its last event instead, since no label can be told beyond
    it): the test cutoff is ``end - W`` (its labels are the last ones the data can tell),
    the validation cutoff ``end - 2W``, and up to ``n_train`` training cutoffs go back from
    ``end - 3W`` every ``step_days``, none earlier than ``active_days`` after the first
    event (so each has a full activity window of history).

    Parameters
    ----------
    events : DataFrame
        Validated events.
    churn_window_days, active_days : int
        As for :func:`churn_labels`.
    n_train : int
        Training cutoffs wanted (at least one must fit).
    step_days : int
        Days between training cutoffs.
    end : str or Timestamp, optional
        End of the labelled period (exclusive, a midnight); default, and at most: the day after
        the last event.

    Returns
    -------
    TimeSplit

    Raises
    ------
    WorkbenchError
        When the events are too short for one training cutoff; the message says how many
        days are needed.

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> ev = synthetic_events(5_000, days=120, end="2025-06-30", seed=0).events
    >>> s = time_split(ev, churn_window_days=21, n_train=3)
    >>> [c.date().isoformat() for c in (*s.train, s.validation, s.test)]
    ['2025-04-14', '2025-04-21', '2025-04-28', '2025-05-19', '2025-06-09']
    """
    window = check_positive_int(churn_window_days, "churn_window_days", high=3650)
    n_train = check_positive_int(n_train, "n_train", high=520)
    step = check_positive_int(step_days, "step_days", high=3650)
    days = _check_active_days(active_days)
    _check_events(events)
    if events.empty:
        raise WorkbenchError("events is empty: load a period with data")
    stop = _data_end(events) if end is None else min(_cutoff(end, "end"), _data_end(events))
    first = events[S.TS].min().floor("D") + pd.Timedelta(days=days)
    test = stop - pd.Timedelta(days=window)
    validation = test - pd.Timedelta(days=window)
    latest_train = validation - pd.Timedelta(days=window)
    train = [latest_train - pd.Timedelta(days=step * i) for i in range(n_train)]
    train = sorted(c for c in train if c >= first)
    if not train:
        span = (stop - events[S.TS].min().floor("D")).days
        raise WorkbenchError(
            f"the events cover {span} days up to {(stop - pd.Timedelta(days=1)).date().isoformat()}, too few for "
            f"time-based validation with churn_window_days={window} and active_days={days}: it needs at least "
            f"{3 * window + days} days (an activity window, then train, validation and test label windows); "
            "load a longer history or use a shorter churn_window_days")
    return TimeSplit(train=tuple(train), validation=validation, test=test, churn_window_days=window)


@dataclass(frozen=True)
class SessionSplit:
    """Time boundaries for the satisfaction model: train before ``validation_start``, compare
    candidates on ``[validation_start, test_start)``, refit on everything before ``test_start``,
    test on sessions starting at or after it.

    Attributes
    ----------
    validation_start, test_start : Timestamp
        UTC midnights.
    """

    validation_start: pd.Timestamp
    test_start: pd.Timestamp

    def table(self) -> pd.DataFrame:
        """``role, from, until`` of the three periods (``until`` exclusive; open ends are NaT).

        Examples
        --------
        >>> s = SessionSplit(pd.Timestamp("2025-05-01", tz="UTC"), pd.Timestamp("2025-06-01", tz="UTC"))
        >>> s.table()["role"].tolist()
        ['train', 'validation', 'test']
        """
        return pd.DataFrame({"role": ["train", "validation", "test"],
                             "from": [pd.NaT, self.validation_start, self.test_start],
                             "until": [self.validation_start, self.test_start, pd.NaT]})


def _rated(sessions: pd.DataFrame) -> pd.DataFrame:
    need = ["start", "satisfaction", *SESSION_FEATURES]
    missing = [c for c in need if c not in sessions.columns]
    if missing:
        raise WorkbenchError(f"sessions are missing the columns {', '.join(missing)}: build them with "
                             "session_features(events)")
    return sessions[sessions["satisfaction"].notna().to_numpy()]


def session_split(sessions: pd.DataFrame, *, validation_share: float = 0.15, test_share: float = 0.25) -> SessionSplit:
    """Cut the rated sessions into train, validation and test periods by start time.

    The test period starts at the midnight at or before the time by which ``1 - test_share``
    of the rated sessions had started; the validation period likewise with
    ``validation_share`` more. Each period must hold at least 30 rated sessions.

    Parameters
    ----------
    sessions : DataFrame
        Session features (:func:`session_features`) with ``start``, ``satisfaction`` and the
        ``SESSION_FEATURES`` columns; only sessions with a satisfaction score count (at least 100).
    validation_share, test_share : float
        Shares of the rated sessions in the validation and the test period, each strictly
        between 0 and 1 and together below 0.9 (default 0.15 and 0.25).

    Examples
    --------
    >>> from analytics_lib.analysis.predict.features import session_features
    >>> from analytics_lib import synthetic_events
    >>> sf = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    >>> s = session_split(sf)
    >>> s.validation_start < s.test_start
    True
    """
    ok = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1  # noqa: E731
    if not ok(validation_share) or not ok(test_share) or validation_share + test_share >= 0.9:
        raise WorkbenchError(f"validation_share={validation_share!r} and test_share={test_share!r} must be "
                             "fractions between 0 and 1 that leave at least 10 % of the sessions for training")
    rated = _rated(sessions)
    start = rated["start"]
    if len(rated) < 100:
        raise WorkbenchError(f"{len(rated)} rated sessions: at least 100 with a satisfaction score are needed to "
                             "train, validate and test a satisfaction model; load a longer period")
    test_start = start.quantile(1 - test_share).floor("D")
    val_start = start.quantile(1 - test_share - validation_share).floor("D")
    counts = [(start < val_start).sum(), ((start >= val_start) & (start < test_start)).sum(), (start >= test_start).sum()]
    if min(counts) < 30:
        raise WorkbenchError(f"the train / validation / test periods hold {counts} rated sessions: each needs at "
                             "least 30; load a longer period or change the shares")
    return SessionSplit(validation_start=val_start, test_start=test_start)
