"""The Numenta Anomaly Benchmark (NAB) scoring, exactly as NAB computes it.

A port of numenta/NAB (commit ea702d75, MIT licence): ``nab/sweeper.py`` (per-row weights and
the score of every threshold), ``nab/optimizer.py`` (one threshold for the whole corpus),
``nab/scorer.py`` (per-file scores at that threshold), ``nab/runner.py`` (normalization) and
``config/profiles.json`` (the application profiles). With Numenta HTM's published anomaly
scores it reproduces NAB's published per-file scores to 1e-11 (the precision they are printed
with).

The rules, as NAB's code has them:

- **Probation**: the first ``min(floor(0.15 n), 0.15 x 5000)`` rows of a file (at most 750)
  are never scored: no true/false positive, no false negative, not counted.
- **Windows** ``[start, end]`` (inclusive) are found by exact timestamp: a window runs from the
  first row whose timestamp equals ``start`` to the first row whose timestamp equals ``end``
  (rows, not times: a timestamp repeated at a daylight-saving change is a separate row).
- **Per-row weight** (the sweep score): a row ``i`` of a window with last row ``R`` and width
  ``W`` rows weighs ``tp x sigma(-(R - i + 1) / W) / sigma(-1)``, with the scaled sigmoid
  ``sigma(x) = 2 / (1 + exp(5x)) - 1`` (-1 beyond ``x > 3``): ``tp`` at the window's first row,
  decreasing to about 0 at its end. A row outside every window weighs ``fp x sigma((i - R) /
  (W - 1))`` after the preceding window (``R``, ``W`` of that window), and ``-fp`` before
  the first window.
- **Score at a threshold**: rows with ``anomaly score >= threshold`` are detections. Each
  window with a scored row adds the largest weight of its detections (= its earliest
  detection), or ``-fn`` when none is detected; every detection outside a window adds its
  (negative) weight. ``TP``/``FP``/``FN``/``TN`` count scored *rows*.
- **Threshold**: NAB sweeps every distinct anomaly score of all files together (plus 1.1,
  detecting nothing) and keeps the threshold with the largest total; on ties the highest
  threshold. Here that sweep is one sort and cumulative sums over all rows (``O(n log n)``).
- **Normalization**: ``100 x (raw - null) / (perfect - null)`` over the corpus, with ``null``
  the raw score of a detector that flags nothing (``-fn`` per window that has a scored row)
  and ``perfect = tp x`` the number of windows.

:func:`nab_file_score` scores one file at a threshold, :func:`nab_threshold_sweep` gives the
corpus score of every threshold, :func:`nab_corpus_score` optimizes the threshold and
normalizes, :func:`nab_normalize` normalizes a raw total; :func:`nab_corpus`,
:func:`nab_results` and :func:`nab_reference_scores` read a NAB directory (``data/``,
``labels/combined_windows.json``, ``results/``).
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

from analytics_lib.analysis.anomaly.evaluation import NabData, _nab_windows
from analytics_lib.analysis.anomaly.series import _times
from analytics_lib.core.errors import WorkbenchError

#: NAB's application profiles (``config/profiles.json``): weights of a true positive, false
#: positive, false negative and true negative (NAB never uses ``tn``).
NAB_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0, "tn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0, "tn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0, "tn": 1.0},
}

#: NAB's share of each file left out of the score (``probationaryPercent``, nab/runner.py).
NAB_PROBATION = 0.15

#: The first threshold of NAB's sweep, above every anomaly score: nothing is detected.
_START_THRESHOLD = 1.1

FILE_COLUMNS = ["File", "Threshold", "Score", "TP", "TN", "FP", "FN", "Total_Count"]


def _scaled_sigmoid(x: Any) -> np.ndarray:
    """NAB's ``scaledSigmoid``: ``2 sigmoid(-5x) - 1``, and -1 beyond ``x > 3``."""
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore"):
        v = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, v)


_MAX_TP = float(_scaled_sigmoid(-1.0))


# ============================================================================================
# Inputs
def _weights(profile: str | Mapping[str, float]) -> dict[str, float]:
    if isinstance(profile, str):
        if profile not in NAB_PROFILES:
            raise WorkbenchError(f"unknown NAB profile {profile!r}: use one of {', '.join(NAB_PROFILES)}")
        return NAB_PROFILES[profile]
    missing = {"tp", "fp", "fn"} - set(profile)
    if missing:
        raise WorkbenchError(f"NAB profile weights need tp, fp and fn (missing {', '.join(sorted(missing))})")
    return {k: float(profile[k]) for k in ("tp", "fp", "fn")}


def nab_probation(n: int, probation: float = NAB_PROBATION) -> float:
    """NAB's ``getProbationPeriod``: ``min(floor(p n), p x 5000)`` rows at the start of a file of
    ``n`` rows are not scored (at most 750 with NAB's ``p`` = 0.15).

    Examples
    --------
    >>> nab_probation(4032), nab_probation(22695)
    (604, 750.0)
    """
    if not 0 <= probation < 1:
        raise WorkbenchError(f"probation={probation} must be in [0, 1) (NAB uses 0.15)")
    return min(math.floor(probation * n), probation * 5000)


def _anomaly_scores(scores: Any, n: int, name: str) -> tuple[np.ndarray, bool]:
    """Scores as floats and whether they were detections (booleans)."""
    arr = np.asarray(scores)
    if arr.ndim != 1 or len(arr) != n:
        raise WorkbenchError(f"{name}: {len(arr) if arr.ndim == 1 else arr.shape} anomaly scores for {n} timestamps")
    if arr.dtype == bool:
        return arr.astype(float), True
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise WorkbenchError(f"{name}: anomaly scores must be numbers ({exc})") from exc
    if not np.isfinite(arr).all():
        raise WorkbenchError(f"{name}: {int((~np.isfinite(arr)).sum())} anomaly score(s) are NaN or infinite")
    return arr, False


def _window_limits(windows: Any, ts: pd.DatetimeIndex, name: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    if isinstance(windows, pd.DataFrame):
        if not {"start", "end"} <= set(windows.columns):
            raise WorkbenchError(f"{name}: windows need columns start and end (has {list(windows.columns)})")
        starts, ends = list(windows["start"]), list(windows["end"])
    else:
        pairs = list(windows) if windows is not None else []
        if any(np.ndim(p) != 1 or len(p) != 2 for p in pairs):
            raise WorkbenchError(f"{name}: windows must be [start, end] pairs or a frame with columns start, end")
        starts, ends = [p[0] for p in pairs], [p[1] for p in pairs]
    out = []
    for v in (starts, ends):
        t = _times(v, f"{name} windows") if len(v) else pd.DatetimeIndex([], tz=ts.tz)
        if t.tz is None and ts.tz is not None:
            t = t.tz_localize(ts.tz)
        elif (t.tz is None) != (ts.tz is None):
            raise WorkbenchError(f"{name}: windows and timestamps must both be tz-aware or both naive")
        out.append(t)
    return out[0], out[1]


def _first_rows(t: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of the first occurrence of each wanted time in ``t``, -1 when absent."""
    order = np.argsort(t, kind="stable")
    st = t[order]
    pos = np.searchsorted(st, wanted, side="left")
    found = pos < len(st)
    found[found] = st[pos[found]] == wanted[found]
    rows = np.full(len(wanted), -1)
    rows[found] = order[pos[found]]
    return rows


def _window_rows(ts: pd.DatetimeIndex, windows: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """First and last row of each window (NAB: first row equal to ``start`` / to ``end``)."""
    w0, w1 = _window_limits(windows, ts, name)
    t = ts.asi8
    lo, hi = _first_rows(t, w0.asi8), _first_rows(t, w1.asi8)
    for k in range(len(lo)):
        for row, lim in ((lo[k], w0[k]), (hi[k], w1[k])):
            if row < 0:
                raise WorkbenchError(f"{name}: window {k} limit {lim} is not a timestamp of the series "
                                     "(NAB window limits must be timestamps of the file)")
        if hi[k] < lo[k]:
            raise WorkbenchError(f"{name}: window {k} ends ({w1[k]}) before it starts ({w0[k]})")
        if k and lo[k] <= hi[k - 1]:
            raise WorkbenchError(f"{name}: window {k} ({w0[k]}) overlaps or precedes window {k - 1}: "
                                 "give disjoint windows in time order")
    return lo, hi


# ============================================================================================
# Per-row weights (NAB's Sweeper.calcSweepScore)
@dataclass(frozen=True)
class _Rows:
    """The scored rows of one file (after probation) and what NAB needs of them."""

    score: np.ndarray    # anomaly scores
    weight: np.ndarray   # NAB's sweep score of the row
    window: np.ndarray   # window number, -1 outside every window
    n_rows: int          # rows of the file (NAB's Total_Count)
    n_windows: int       # windows of the file
    scored: np.ndarray   # windows with at least one scored row (the only ones NAB scores)


def _row_weights(n: int, lo: np.ndarray, hi: np.ndarray, w: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    weight = np.full(n, -1.0 * w["fp"])          # before the first window: sigma = -1
    window = np.full(n, -1)
    for k, (a, b) in enumerate(zip(lo, hi)):
        width = b - a + 1
        i = np.arange(a, b + 1)
        weight[a:b + 1] = _scaled_sigmoid(-(b - i + 1) / width) * w["tp"] / _MAX_TP
        window[a:b + 1] = k
        stop = lo[k + 1] if k + 1 < len(lo) else n
        j = np.arange(b + 1, stop)
        # NAB divides by width - 1 (a ZeroDivisionError for a one-row window): its limit, -1, here
        pos = (j - b) / (width - 1) if width > 1 else np.full(len(j), np.inf)
        weight[b + 1:stop] = _scaled_sigmoid(pos) * w["fp"]
    return weight, window


def _prepare(timestamps: Any, scores: Any, windows: Any, w: Mapping[str, float], probation: float,
             name: str) -> tuple[_Rows, bool]:
    ts = _times(timestamps, name)
    n = len(ts)
    arr, flags = _anomaly_scores(scores, n, name)
    lo, hi = _window_rows(ts, windows, name)
    weight, window = _row_weights(n, lo, hi, w)
    keep = np.arange(n) >= nab_probation(n, probation)
    win = window[keep]
    rows = _Rows(score=arr[keep], weight=weight[keep], window=win, n_rows=n, n_windows=len(lo),
                 scored=np.unique(win[win >= 0]))
    return rows, flags


# ============================================================================================
# Scores
@dataclass(frozen=True)
class NabFileScore:
    """NAB's score of one file at one threshold (a row of NAB's ``*_scores.csv``).

    Attributes
    ----------
    threshold : float
        Rows with ``anomaly score >= threshold`` are detections (NaN when detections were given).
    score : float
        Raw NAB score of the file.
    tp, tn, fp, fn : int
        Scored rows (after probation) inside/outside windows, detected or not.
    total_count : int
        Rows of the file, probation included (as NAB's published ``Total_Count``).
    """

    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total_count: int

    def as_row(self) -> dict[str, float]:
        """The score with NAB's column names (``Threshold, Score, TP, TN, FP, FN, Total_Count``).

        Examples
        --------
        >>> NabFileScore(0.5, 1.0, 3, 90, 0, 7, 120).as_row()["Total_Count"]
        120
        """
        return dict(zip(FILE_COLUMNS[1:], (self.threshold, self.score, self.tp, self.tn, self.fp, self.fn,
                                          self.total_count)))


def _score_at(rows: _Rows, threshold: float, w: Mapping[str, float]) -> tuple[float, int, int, int, int]:
    det = rows.score >= threshold
    inside = rows.window >= 0
    fp_part = float(rows.weight[det & ~inside].sum())
    best = np.full(rows.n_windows, -w["fn"])
    np.maximum.at(best, rows.window[det & inside], rows.weight[det & inside])
    tp, fp = int((det & inside).sum()), int((det & ~inside).sum())
    return fp_part + float(best[rows.scored].sum()), tp, int((~inside).sum()) - fp, fp, int(inside.sum()) - tp


def nab_file_score(timestamps: Any, scores: Any, windows: Any, *, threshold: float | None = None,
                   profile: str | Mapping[str, float] = "standard",
                   probation: float = NAB_PROBATION) -> NabFileScore:
    """NAB's score of one data file at a fixed threshold.

    Parameters
    ----------
    timestamps : array-like of date-times
        The file's timestamps, in file order (repeated timestamps are separate rows, as in NAB).
    scores : array-like of float or bool
        One anomaly score per row, or one detection flag per row (then give no ``threshold``).
    windows : DataFrame or list of pairs
        ``start, end`` (inclusive) of the labelled windows, in time order; both limits must be
        timestamps of the file (e.g. ``NabData.windows`` or a list from a NAB label JSON).
    threshold : float
        Rows with ``score >= threshold`` are detections; required for anomaly scores.
    profile : str or dict
        A name of ``NAB_PROFILES`` or weights ``{"tp", "fp", "fn"}``.
    probation : float
        Share of the file (at most ``probation x 5000`` rows) left out at its start.

    Returns
    -------
    NabFileScore

    Raises
    ------
    WorkbenchError
        For scores and timestamps of different lengths, a window limit that is not a timestamp,
        overlapping windows, an unknown profile or a missing threshold.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=20, freq="h")
    >>> s = np.zeros(20); s[10] = 0.9
    >>> r = nab_file_score(t, s, [[t[10], t[12]]], threshold=0.5)
    >>> round(r.score, 6), (r.tp, r.tn, r.fp, r.fn, r.total_count)
    (1.0, (1, 14, 0, 2, 20))
    """
    w = _weights(profile)
    rows, flags = _prepare(timestamps, scores, windows, w, probation, "nab_file_score")
    if flags:
        if threshold is not None:
            raise WorkbenchError("nab_file_score: give a threshold with anomaly scores, none with detections (booleans)")
        score, tp, tn, fp, fn = _score_at(rows, 0.5, w)
        return NabFileScore(float("nan"), score, tp, tn, fp, fn, rows.n_rows)
    if threshold is None:
        raise WorkbenchError("nab_file_score: give the threshold above which an anomaly score is a detection")
    score, tp, tn, fp, fn = _score_at(rows, float(threshold), w)
    return NabFileScore(float(threshold), score, tp, tn, fp, fn, rows.n_rows)


def _prepare_corpus(per_file: Mapping[str, Any], w: Mapping[str, float], probation: float) -> dict[str, _Rows]:
    if not len(per_file):
        raise WorkbenchError("NAB corpus: no files given")
    out = {}
    for key in sorted(per_file):
        item = per_file[key]
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise WorkbenchError(f"NAB corpus: {key} must map to (timestamps, anomaly_scores, windows)")
        out[key], _ = _prepare(*item, w, probation, str(key))
    return out


def _group_prev(values: np.ndarray, groups: np.ndarray, first: float) -> np.ndarray:
    """The previous value in the same group (rows in order), ``first`` for the group's first row."""
    return pd.Series(values).groupby(groups).shift(1).fillna(first).to_numpy()


def _sweep(files: Mapping[str, _Rows], w: Mapping[str, float]) -> pd.DataFrame:
    """NAB's ``calcScoreByThreshold`` over all rows of all files: one sort, cumulative sums."""
    offsets = np.cumsum([0] + [r.n_windows for r in files.values()])[:-1]
    score = np.concatenate([r.score for r in files.values()])
    weight = np.concatenate([r.weight for r in files.values()])
    window = np.concatenate([np.where(r.window >= 0, r.window + off, -1) for r, off in zip(files.values(), offsets)])
    n_scored_windows = sum(len(r.scored) for r in files.values())
    order = np.argsort(-score, kind="stable")
    s, wt, win = score[order], weight[order], window[order]
    inside = win >= 0
    gain = np.where(inside, 0.0, wt)                      # a false positive adds its weight
    at = np.flatnonzero(inside)                           # a window keeps its best detection:
    best = np.maximum(pd.Series(wt[at]).groupby(win[at]).cummax().to_numpy(), -w["fn"])
    gain[at] = best - _group_prev(best, win[at], -w["fn"])  # ... so it gains when its best improves
    total = w["fn"] * -n_scored_windows + np.cumsum(gain)
    tp, fp = np.cumsum(inside), np.cumsum(~inside)
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if len(s) else np.array([], dtype=int)
    table = pd.DataFrame({"threshold": s[last], "score": total[last], "tp": tp[last], "tn": n_out - fp[last],
                          "fp": fp[last], "fn": n_in - tp[last]})
    if not (len(s) and s[0] == _START_THRESHOLD):         # NAB's first row: nothing detected
        start = pd.DataFrame({"threshold": [_START_THRESHOLD], "score": [w["fn"] * -n_scored_windows],
                              "tp": [0], "tn": [n_out], "fp": [0], "fn": [n_in]})
        table = pd.concat([start, table], ignore_index=True)
    table["total"] = n_in + n_out
    return table


def nab_threshold_sweep(per_file: Mapping[str, Any], *, profile: str | Mapping[str, float] = "standard",
                        probation: float = NAB_PROBATION) -> pd.DataFrame:
    """The raw NAB score of a corpus at every threshold NAB tries (its ``calcScoreByThreshold``).

    The thresholds are 1.1 (nothing detected) and every distinct anomaly score of the scored
    rows of all files, from the highest down; at each, rows with ``score >= threshold`` are
    detections. Computed with one sort of all rows and cumulative sums.

    Parameters
    ----------
    per_file : mapping
        File key to ``(timestamps, anomaly_scores, windows)`` (see :func:`nab_file_score`).
    profile : str or dict
        A name of ``NAB_PROFILES`` or weights ``{"tp", "fp", "fn"}``.
    probation : float
        Share of each file left out at its start (NAB: 0.15, at most 750 rows).

    Returns
    -------
    DataFrame
        ``threshold, score, tp, tn, fp, fn, total`` (NAB's ``ThresholdScore``; ``total`` counts
        the scored rows), thresholds decreasing.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=20, freq="h")
    >>> s = np.zeros(20); s[10], s[16] = 0.9, 0.95
    >>> sw = nab_threshold_sweep({"a": (t, s, [[t[10], t[12]]])})
    >>> sw["threshold"].tolist(), sw["score"].round(3).tolist()
    ([1.1, 0.95, 0.9, 0.0], [-1.0, -1.11, 0.89, -0.522])
    """
    w = _weights(profile)
    return _sweep(_prepare_corpus(per_file, w, probation), w)


@dataclass(frozen=True)
class NabCorpusScore:
    """NAB's score of a detector on a corpus.

    Attributes
    ----------
    profile : str
        The profile's name (``"custom"`` for given weights).
    threshold : float
        The threshold used (NAB's optimum over the corpus unless one was given).
    raw, null, perfect : float
        Total raw score; the raw score of a detector that flags nothing (``-fn`` per window
        with a scored row); ``tp x`` the number of windows.
    score : float
        ``100 x (raw - null) / (perfect - null)`` (NaN without windows).
    files : DataFrame
        One row per file: ``File, Threshold, Score, TP, TN, FP, FN, Total_Count``.
    """

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    score: float
    files: pd.DataFrame


def nab_normalize(raw: float, *, null: float, perfect: float) -> float:
    """NAB's normalized score ``100 x (raw - null) / (perfect - null)`` (nab/runner.py).

    Parameters
    ----------
    raw : float
        A detector's total raw score over the corpus.
    null : float
        The null detector's total (it flags nothing: ``-fn`` per window).
    perfect : float
        ``tp`` weight x the number of windows.

    Returns
    -------
    float
        0 for the null detector, 100 for a perfect one; NaN when ``perfect == null``.

    Examples
    --------
    >>> nab_normalize(34.8, null=-92.0, perfect=92.0)
    68.91304347826087
    """
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else float("nan")


def nab_corpus_score(per_file: Mapping[str, Any], *, profile: str | Mapping[str, float] = "standard",
                     threshold: float | None = None, probation: float = NAB_PROBATION) -> NabCorpusScore:
    """Score a detector on a corpus as NAB does: one threshold for every file, normalized total.

    With ``threshold=None`` the threshold is NAB's optimum (``nab/optimizer.py``): the one of
    :func:`nab_threshold_sweep` with the largest raw total, the highest one on ties.

    Parameters
    ----------
    per_file : mapping
        File key to ``(timestamps, anomaly_scores, windows)`` (see :func:`nab_file_score`).
    profile : str or dict
        A name of ``NAB_PROFILES`` or weights ``{"tp", "fp", "fn"}``.
    threshold : float, optional
        A fixed threshold (e.g. NAB's published one) instead of the optimum.
    probation : float
        Share of each file left out at its start (NAB: 0.15, at most 750 rows).

    Returns
    -------
    NabCorpusScore

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=20, freq="h")
    >>> s = np.zeros(20); s[10], s[16] = 0.9, 0.95
    >>> r = nab_corpus_score({"a": (t, s, [[t[10], t[12]]])})
    >>> r.threshold, round(r.raw, 3), round(r.score, 1), r.files["FP"].tolist()
    (0.9, 0.89, 94.5, [1])
    """
    w = _weights(profile)
    files = _prepare_corpus(per_file, w, probation)
    if threshold is None:
        sweep = _sweep(files, w)
        threshold = float(sweep["threshold"].iloc[int(np.argmax(sweep["score"].to_numpy()))])
    rows = [(key, float(threshold), *_score_at(r, float(threshold), w), r.n_rows) for key, r in files.items()]
    table = pd.DataFrame(rows, columns=FILE_COLUMNS)
    raw = float(table["Score"].sum())
    null = w["fn"] * -sum(len(r.scored) for r in files.values())  # not -0.0
    perfect = w["tp"] * sum(r.n_windows for r in files.values())
    return NabCorpusScore(profile=profile if isinstance(profile, str) else "custom", threshold=float(threshold),
                          raw=raw, null=null, perfect=perfect, score=nab_normalize(raw, null=null, perfect=perfect),
                          files=table)


# ============================================================================================
# The NAB directory
def _nab_dir(root: str | os.PathLike) -> tuple[Path, dict[str, list]]:
    root = Path(root)
    labels = root / "labels" / "combined_windows.json"
    if not labels.is_file():
        raise WorkbenchError(f"NAB: {labels} does not exist (give the NAB folder holding data/ and labels/)")
    try:
        windows = json.loads(labels.read_text())
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"NAB: {labels.name} is not JSON ({exc})") from exc
    return root, dict(sorted(windows.items()))


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise WorkbenchError(f"NAB: {path} does not exist")
    raw = pd.read_csv(path)
    if not set(columns) <= set(raw.columns):
        raise WorkbenchError(f"NAB: {path.name} must have columns {','.join(columns)} (has {list(raw.columns)})")
    return raw


def nab_corpus(root: str | os.PathLike) -> dict[str, NabData]:
    """Read the data files of a NAB folder with their windows, by key (``category/file.csv``).

    Every file named in ``labels/combined_windows.json`` is read from ``data/`` in file order
    (NAB scores rows by position: timestamps repeated at a daylight-saving change stay).

    Parameters
    ----------
    root : path
        The NAB folder (with ``data/`` and ``labels/combined_windows.json``).

    Returns
    -------
    dict of str to NabData
        Sorted by key; ``series`` has ``timestamp, value``, ``windows`` has ``start, end``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "data" / "x").mkdir(parents=True); (d / "labels").mkdir()
    >>> _ = (d / "data/x/s.csv").write_text("timestamp,value\\n2024-01-01 00:00:00,1\\n2024-01-01 00:05:00,9\\n")
    >>> _ = (d / "labels/combined_windows.json").write_text('{"x/s.csv": [["2024-01-01 00:05:00.000000", '
    ...                                                     '"2024-01-01 00:05:00.000000"]]}')
    >>> c = nab_corpus(d)
    >>> list(c), len(c["x/s.csv"].series), len(c["x/s.csv"].windows)
    (['x/s.csv'], 2, 1)
    """
    root, labels = _nab_dir(root)
    out = {}
    for key, pairs in labels.items():
        raw = _read_csv(root / "data" / key, ["timestamp", "value"])
        series = pd.DataFrame({"timestamp": _times(raw["timestamp"], key), "value": raw["value"].to_numpy()})
        out[key] = NabData(series=series, windows=_nab_windows(pairs))
    return out


def nab_results(root: str | os.PathLike, detector: str) -> dict[str, pd.DataFrame]:
    """Read a detector's per-row anomaly scores from a NAB folder, by key.

    NAB keeps them as ``results/<detector>/<category>/<detector>_<file>.csv``.

    Parameters
    ----------
    root : path
        The NAB folder.
    detector : str
        The detector's name (e.g. ``"numenta"``).

    Returns
    -------
    dict of str to DataFrame
        ``timestamp, anomaly_score`` for every file of the labels, sorted by key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "results/det/x").mkdir(parents=True); (d / "labels").mkdir()
    >>> _ = (d / "labels/combined_windows.json").write_text('{"x/s.csv": []}')
    >>> _ = (d / "results/det/x/det_s.csv").write_text("timestamp,anomaly_score\\n2024-01-01,0.5\\n")
    >>> nab_results(d, "det")["x/s.csv"]["anomaly_score"].tolist()
    [0.5]
    """
    root, labels = _nab_dir(root)
    out = {}
    for key in labels:
        category, name = key.rsplit("/", 1) if "/" in key else ("", key)
        raw = _read_csv(root / "results" / detector / category / f"{detector}_{name}", ["timestamp", "anomaly_score"])
        out[key] = pd.DataFrame({"timestamp": _times(raw["timestamp"], key),
                                 "anomaly_score": raw["anomaly_score"].to_numpy(dtype=float)})
    return out


def nab_reference_scores(root: str | os.PathLike, detector: str, profile: str = "standard") -> pd.DataFrame:
    """NAB's published per-file scores of a detector (``results/<detector>_<profile>_scores.csv``).

    Parameters
    ----------
    root : path
        The NAB folder.
    detector : str
        The detector's name (e.g. ``"numenta"``, ``"null"``).
    profile : str
        The profile of the file.

    Returns
    -------
    DataFrame
        ``Detector, Profile, File, Threshold, Score, TP, TN, FP, FN, Total_Count``, sorted by
        ``File``, without NAB's ``Totals`` row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "results").mkdir()
    >>> _ = (d / "results/det_standard_scores.csv").write_text(
    ...     "Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\\n"
    ...     "det,standard,x/s.csv,0.5,-1.0,0,10,0,2,14\\n")
    >>> nab_reference_scores(d, "det")["Score"].tolist()
    [-1.0]
    """
    if profile not in NAB_PROFILES:
        raise WorkbenchError(f"unknown NAB profile {profile!r}: use one of {', '.join(NAB_PROFILES)}")
    cols = ["Detector", "Profile", "File", "Threshold", "Score", "TP", "TN", "FP", "FN", "Total_Count"]
    raw = _read_csv(Path(root) / "results" / f"{detector}_{profile}_scores.csv", cols)
    raw = raw[raw["Detector"] != "Totals"]
    return raw[cols].sort_values("File", ignore_index=True)
