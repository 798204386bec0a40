"""Scoring detectors against labelled data: NAB files and windows, detection scores.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics_lib.analysis.anomaly.series import _numeric, _times
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Evaluation harness
#: NAB's standard application profile (Lavin & Ahmad 2015): true positive, false positive, false negative weights.
NAB_STANDARD = {"tp": 1.0, "fp": 0.11, "fn": 1.0}


@dataclass(frozen=True)
class NabData:
    """A series and its labelled anomaly windows, as NAB ships them.

    Attributes
    ----------
    series : DataFrame
        ``timestamp, value``, the file's rows in file order (NAB scores rows by position;
        timestamps repeated at a daylight-saving change stay).
    windows : DataFrame
        ``start, end`` (both inclusive, as in NAB's label files).
    """

    series: pd.DataFrame
    windows: pd.DataFrame


def read_nab(csv_path: str | os.PathLike, windows_path: str | os.PathLike, *, key: str | None = None) -> NabData:
    """Read a NAB data file (``timestamp,value``) and its windows from a NAB label JSON.

    The JSON maps data-file names (``"realKnownCause/nyc_taxi.csv"``) to lists of
    ``[start, end]`` pairs; the entry whose name ends with the CSV's file name is used
    (or ``key``). A JSON holding just a list of pairs is accepted too. The rows stay as in
    the file (NAB scores each row; :func:`~analytics_lib.analysis.anomaly.nab.nab_corpus`
    reads a whole NAB folder).

    Parameters
    ----------
    csv_path, windows_path : path
    key : str, optional
        The entry of the label file to use.

    Returns
    -------
    NabData

    Raises
    ------
    WorkbenchError
        For a missing file or column, or no matching entry in the labels.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "s.csv").write_text("timestamp,value\\n2024-01-01 00:00:00,1\\n2024-01-01 00:05:00,9\\n")
    >>> _ = (d / "w.json").write_text('{"x/s.csv": [["2024-01-01 00:05:00.000000", "2024-01-01 00:05:00.000000"]]}')
    >>> nab = read_nab(d / "s.csv", d / "w.json")
    >>> len(nab.series), len(nab.windows)
    (2, 1)
    """
    csv_path, windows_path = Path(csv_path), Path(windows_path)
    for p in (csv_path, windows_path):
        if not p.is_file():
            raise WorkbenchError(f"read_nab: {p} does not exist")
    raw = pd.read_csv(csv_path)
    if not {"timestamp", "value"} <= set(raw.columns):
        raise WorkbenchError(f"read_nab: {csv_path.name} must have columns timestamp,value (has {list(raw.columns)})")
    ts = _times(raw["timestamp"], csv_path.name)
    series = pd.DataFrame({"timestamp": ts, "value": _numeric(raw["value"], csv_path.name)})
    try:
        labels = json.loads(windows_path.read_text())
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"read_nab: {windows_path.name} is not JSON ({exc})") from exc
    if isinstance(labels, dict):
        names = [k for k in labels if (k == key if key else Path(k).name == csv_path.name)]
        if not names:
            raise WorkbenchError(f"read_nab: no entry for {key or csv_path.name} in {windows_path.name}")
        pairs = labels[names[0]]
    else:
        pairs = labels
    return NabData(series=series, windows=_nab_windows(pairs, ts.tz))


def _nab_windows(pairs: Any, tz: Any = None) -> pd.DataFrame:
    """``start, end`` from a NAB label entry (a list of ``[start, end]`` pairs), in ``tz`` when given."""
    windows = pd.DataFrame({"start": pd.to_datetime([p[0] for p in pairs]),
                            "end": pd.to_datetime([p[1] for p in pairs])})
    if len(windows) and tz is not None:
        windows = windows.apply(lambda c: c.dt.tz_localize(tz) if c.dt.tz is None else c)
    return windows


def label_windows(timestamps: Any, labels: Any) -> pd.DataFrame:
    """Windows ``start, end`` (inclusive) of consecutive labelled observations.

    Parameters
    ----------
    timestamps : array-like of date-times
        The series' timestamps (any order).
    labels : array-like of bool
        True for an anomalous observation, aligned with ``timestamps``.

    Returns
    -------
    DataFrame
        ``start, end``: one row per run of labelled observations in time order.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=6, freq="D")
    >>> label_windows(t, [False, True, True, False, True, False]).astype(str).values.tolist()
    [['2024-01-02', '2024-01-03'], ['2024-01-05', '2024-01-05']]
    """
    ts = _times(timestamps, "timestamps")
    lab = np.asarray(labels, dtype=bool)
    if len(lab) != len(ts):
        raise WorkbenchError(f"label_windows: {len(lab)} labels for {len(ts)} timestamps")
    order = np.argsort(ts.asi8, kind="stable")
    ts, lab = ts[order], lab[order]
    edges = np.diff(np.r_[0, lab.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return pd.DataFrame({"start": ts[starts], "end": ts[ends]})


@dataclass(frozen=True)
class DetectionScores:
    """How well detections match labelled windows.

    Attributes
    ----------
    windows, detected_windows, false_positive_events : int
        Labelled windows, windows with at least one detection, and runs of consecutive
        detections outside every window.
    event_precision, event_recall, event_f1 : float
        ``detected / (detected + false_positive_events)``, ``detected / windows``, harmonic mean.
    point_precision, point_recall, point_f1 : float
        Over observations: labelled = inside a window.
    nab_raw, nab_score : float
        NAB-style score (see :func:`detection_scores`) and its normalization to 0-100
        (100 = every window detected at its start and no false positive, 0 = no detection).
    """

    windows: int
    detected_windows: int
    false_positive_events: int
    event_precision: float
    event_recall: float
    event_f1: float
    point_precision: float
    point_recall: float
    point_f1: float
    nab_raw: float
    nab_score: float

    def as_dict(self) -> dict[str, float]:
        """The scores as a plain dict (for tables and JSON).

        Examples
        --------
        >>> d = DetectionScores(1, 1, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 100.0).as_dict()
        >>> d["event_f1"], d["nab_score"]
        (1.0, 100.0)
        """
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0)


def detection_scores(detections: Any, windows: pd.DataFrame, timestamps: Any, *,
                     weights: Mapping[str, float] = NAB_STANDARD, probation: float = 0.0) -> DetectionScores:
    """Score detections against labelled windows: event level, point level and NAB-style.

    **Event level**: a window is detected when at least one detection falls inside it
    (``start <= t <= end``); detections outside every window form false-positive events
    (runs of consecutive detected observations count once).

    **Point level**: observations inside a window are the positives.

    **NAB-style score** (the standard profile of the Numenta Anomaly Benchmark, Lavin &
    Ahmad 2015): each window scores ``tp x sigma(first detection)`` where
    ``sigma(y) = 2 / (1 + exp(5y)) - 1`` of the relative position ``y`` in the window
    (-1 at its start, 0 at its end; normalized so the start scores ``tp``), or ``-fn`` when
    missed; each detection outside a window adds ``fp x sigma(y)`` with ``y`` its distance
    past the previous window's end in window lengths (-``fp`` when no window precedes it or
    it is 3 lengths or more away), so later detections count more negative.
    ``nab_score = 100 x (raw - null) / (perfect - null)`` with ``null = -fn x windows`` and
    ``perfect = tp x windows``. ``probation`` (a share of the series, NAB uses 0.15) leaves
    the first observations out of the NAB score.

    Parameters
    ----------
    detections : DataFrame, array of timestamps, or boolean array
        A detector's result (its ``timestamp`` column), detected timestamps, or one bool per
        timestamp of ``timestamps``.
    windows : DataFrame
        ``start, end`` (inclusive), e.g. from :func:`label_windows` or :func:`read_nab`.
    timestamps : array-like
        Every timestamp of the series (for point-level scores and positions).
    weights : dict
        ``tp``, ``fp``, ``fn`` weights (default ``NAB_STANDARD``: 1, 0.11, 1).
    probation : float
        Share of the series at its start excluded from the NAB score (0 <= probation < 1).

    Returns
    -------
    DetectionScores

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=20, freq="D")
    >>> w = pd.DataFrame({"start": [t[5]], "end": [t[7]]})
    >>> s = detection_scores(pd.DatetimeIndex([t[5], t[15]]), w, t)
    >>> s.event_precision, s.event_recall, round(s.nab_score, 1)
    (0.5, 1.0, 94.5)
    """
    ts = _times(timestamps, "timestamps")
    ts = ts[np.argsort(ts.asi8, kind="stable")]
    n = len(ts)
    if isinstance(detections, pd.DataFrame):
        if "timestamp" not in detections.columns:
            raise WorkbenchError("detection_scores: detections need a timestamp column")
        detections = detections["timestamp"]
    arr = np.asarray(detections)
    if arr.dtype == bool:
        if len(arr) != n:
            raise WorkbenchError(f"detection_scores: {len(arr)} flags for {n} timestamps")
        det = arr
    else:
        dt = _times(detections, "detections") if len(arr) else pd.DatetimeIndex([], tz=ts.tz)
        if len(dt) and (dt.tz is None) != (ts.tz is None):
            raise WorkbenchError("detection_scores: detections and timestamps must both be tz-aware or both naive")
        det = np.isin(ts.asi8, dt.asi8) if len(dt) else np.zeros(n, bool)
        unknown = len(np.setdiff1d(dt.asi8, ts.asi8)) if len(dt) else 0
        if unknown:
            raise WorkbenchError(f"detection_scores: {unknown} detection(s) are not timestamps of the series")
    if not {"start", "end"} <= set(windows.columns):
        raise WorkbenchError("detection_scores: windows need columns start and end")
    if not 0 <= probation < 1:
        raise WorkbenchError(f"probation={probation} must be in [0, 1)")
    w0 = _times(windows["start"], "windows").asi8 if len(windows) else np.array([], dtype=np.int64)
    w1 = _times(windows["end"], "windows").asi8 if len(windows) else np.array([], dtype=np.int64)
    t = ts.asi8
    lo = np.searchsorted(t, w0, side="left")          # first index inside each window
    hi = np.searchsorted(t, w1, side="right") - 1     # last index inside
    inside = np.zeros(n, dtype=bool)
    win_of = np.full(n, -1)
    for i, (a, b) in enumerate(zip(lo, hi)):  # one slice per window
        if b >= a:
            inside[a:b + 1] = True
            win_of[a:b + 1] = i
    n_win = len(w0)
    hit = np.zeros(n_win, dtype=bool)
    if n_win:
        hit_idx = np.unique(win_of[det & inside])
        hit[hit_idx[hit_idx >= 0]] = True
    fp_points = det & ~inside
    fp_events = int(np.sum(fp_points & ~np.r_[False, fp_points[:-1]]))
    tp = int(hit.sum())
    ep = tp / (tp + fp_events) if tp + fp_events else 0.0
    er = tp / n_win if n_win else 0.0
    pp = float((det & inside).sum() / det.sum()) if det.sum() else 0.0
    pr = float((det & inside).sum() / inside.sum()) if inside.sum() else 0.0
    # NAB-style
    start_at = int(math.floor(probation * n)) if probation else 0
    tpw, fpw, fnw = (float(weights[k]) for k in ("tp", "fp", "fn"))
    max_tp = float(_scaled_sigmoid(np.array([-1.0]))[0])
    raw = 0.0
    counted = [i for i in range(n_win) if hi[i] >= max(lo[i], start_at)]
    for i in counted:
        a, b = max(lo[i], start_at), hi[i]
        width = hi[i] - lo[i] + 1
        d = np.flatnonzero(det[a:b + 1])
        if len(d):
            first = a + d[0]
            raw += tpw * float(_scaled_sigmoid(np.array([-(hi[i] - first + 1) / width]))[0]) / max_tp
        else:
            raw -= fnw
    fp_idx = np.flatnonzero(fp_points)
    fp_idx = fp_idx[fp_idx >= start_at]
    if len(fp_idx):
        ends = hi[hi >= lo] if n_win else np.array([], dtype=np.int64)
        widths = (hi - lo + 1)[hi >= lo] if n_win else np.array([], dtype=np.int64)
        order = np.argsort(ends)
        ends, widths = ends[order], widths[order]
        k = np.searchsorted(ends, fp_idx, side="left") - 1   # the previous window ended before the point
        pos = np.full(len(fp_idx), 3.0)
        has = k >= 0
        pos[has] = np.abs(fp_idx[has] - ends[k[has]]) / np.maximum(widths[k[has]] - 1, 1)
        raw += fpw * float(_scaled_sigmoid(pos).sum())
    n_counted = len(counted)
    null, perfect = -fnw * n_counted, tpw * n_counted
    nab = 100.0 * (raw - null) / (perfect - null) if perfect > null else float("nan")
    return DetectionScores(windows=n_win, detected_windows=tp, false_positive_events=fp_events,
                           event_precision=ep, event_recall=er, event_f1=_f1(ep, er), point_precision=pp,
                           point_recall=pr, point_f1=_f1(pp, pr), nab_raw=raw, nab_score=nab)
