"""A monitor for scheduled jobs and stream consumers: each call scores only the KPI points not
seen yet, from the past only, with one causal :class:`~analytics_lib.analysis.anomaly.online.NoveltyDetector`
per metric, and remembers where it stopped (:class:`AnomalyMonitor`).

The state lives in a folder: one NPZ file per metric (the detector's pattern tables, the scored
timestamps, the last scores and a JSON header with the last timestamp, the range, the count and
the format version; no pickled objects), named from the metric (sanitised, plus a hash, so any
name is safe), and ``index.json`` mapping each metric to its file. Files are replaced
atomically, and an exclusive ``flock`` on ``.lock`` in the folder covers every
read-score-write, so two processes updating the same folder never score a point twice nor
corrupt a file.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from analytics_lib.analysis.anomaly.calibration import anomaly_probability
from analytics_lib.analysis.anomaly.online import NoveltyDetector, _novelty_threshold, nab_rest
from analytics_lib.analysis.anomaly.series import metric_series, score_threshold
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import write_temp

#: Identifies a monitor's metric state file (its JSON header's ``format``).
MONITOR_FORMAT = "analytics_lib.AnomalyMonitor"
#: Version of the state file layout; other versions are refused.
MONITOR_VERSION = 1
#: Columns of :meth:`AnomalyMonitor.update`'s result, in order.
MONITOR_COLUMNS = ["timestamp", "metric", "observed", "score", "probability", "is_anomaly"]
#: Columns of :attr:`AnomalyMonitor.summary` (one row per metric of the last update).
SUMMARY_COLUMNS = ["metric", "given", "scored", "skipped", "late", "missing", "history", "flagged", "last_timestamp"]
#: Past scores kept per metric for :func:`~analytics_lib.analysis.anomaly.calibration.anomaly_probability`.
PROBABILITY_WINDOW = 10_000
_INDEX, _LOCK = "index.json", ".lock"
_STATE_FILES = ["meta", "recent", "seen", "ts_diff"]


@dataclass
class _MetricState:
    """One metric's state in memory (``token``: the stat of the file it matches, None when unsaved)."""

    name: str
    detector: NoveltyDetector
    last_ns: int                 # the last scored timestamp (ns since the epoch, UTC when aware)
    aware: bool                  # timestamps carry a time zone
    n_history: int               # observations of the first call: scored, never flagged
    margin: float
    scored_ts: np.ndarray        # int64, every scored timestamp, ascending
    recent: np.ndarray           # the last PROBABILITY_WINDOW scores
    token: tuple | None = None


def _file_name(metric: str) -> str:
    """A file name safe for any metric name: the name sanitised (at most 40 characters) and a hash."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", metric)[:40].lstrip(".") or "metric"
    return f"{stem}-{hashlib.sha256(metric.encode('utf-8')).hexdigest()[:12]}.npz"


def _token(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _timestamp(ns: int, aware: bool) -> pd.Timestamp:
    return pd.Timestamp(ns, tz="UTC") if aware else pd.Timestamp(ns)


def _probabilities(scores: np.ndarray, n_past: int) -> np.ndarray:
    """:func:`anomaly_probability` of ``scores[n_past:]`` (no NaN), each among its previous
    ``PROBABILITY_WINDOW`` scores; a few new points are ranked directly (same numbers, no sort)."""
    n_new = len(scores) - n_past
    if n_new > 256:
        return anomaly_probability(scores, window=PROBABILITY_WINDOW)[n_past:]
    out = np.empty(n_new)
    for j in range(n_new):
        i = n_past + j
        prev = scores[max(0, i - PROBABILITY_WINDOW):i]
        out[j] = 1.0 - (1.0 + np.count_nonzero(prev >= scores[i])) / (1.0 + len(prev))
    return out


class AnomalyMonitor:
    """Scores the newest points of KPI series, once each, and keeps its state in a folder.

    Create it with :meth:`open`, then call :meth:`update` with the latest data as often as
    needed (a scheduled job, a stream consumer): for each metric the observations newer than
    its last scored timestamp are scored by its :class:`NoveltyDetector`, from the past
    only, and the state is saved before :meth:`update` returns. Calling :meth:`update` on a
    series in consecutive slices gives the scores of one detector run over the whole series
    at once, and a monitor opened again on the same folder continues exactly where the last
    one stopped.

    The first call for a metric sets its value range (the values given, widened by
    ``margin`` x their span on each side; a constant history by ``margin`` x its value, at
    least ``margin``) and its detector learns them: those points are *history*, scored but
    never flagged (everything is new to a fresh detector). Give the first call enough
    history (e.g. the last 90 days).

    Parameters
    ----------
    state_dir : path
        The state folder (created by :meth:`open`).
    sensitivity : {"low", "medium", "high"} or float
        Flag scores from :data:`~analytics_lib.analysis.anomaly.online.NOVELTY_THRESHOLDS`
        (0.75 / 0.625 / 0.5), or ``(score_threshold(s) + 1.5) / 8`` for a number.
    margin : float
        Share of the history's span added below and above it for the value range (default 0.1).
    rest : int, optional
        Points scored 0 after an alarm, for metrics seen for the first time (then kept in
        their state); default ``nab_rest(n)`` for ``n`` history observations.
    timeout : float
        Seconds to wait for another process's lock before giving up (default 60).

    Attributes
    ----------
    summary : DataFrame
        Counts per metric of the last :meth:`update` (``SUMMARY_COLUMNS``): ``given`` =
        ``scored + skipped + missing``; ``skipped`` are observations at or before the last
        scored timestamp, of which ``late`` were never scored (they arrived after newer
        points: not scored, the detector only goes forward); ``missing`` are NaN values
        (never scored; scored when a value arrives later, if nothing newer was scored
        meanwhile); ``history`` the scored points of a first call.
    skipped : int
        Observations skipped by the last :meth:`update`, all metrics together.

    Notes
    -----
    Delivery is at most once: the state is saved before the rows are returned, so a caller
    that crashes before using them does not see them again. The files of all metrics are
    written first and then renamed over the old ones, so a failed write leaves the old
    state. Delete a metric's file to start that metric over. Memory and disk: about 100 kB
    per metric plus 8 bytes per scored point (the timestamps, to tell late points apart).

    Examples
    --------
    >>> import tempfile
    >>> y = pd.Series(np.tile([1.0, 2.0, 3.0, 2.0], 30), name="cpu",
    ...               index=pd.date_range("2024-01-01", periods=120, freq="h"))
    >>> y.iloc[110] = 9.0
    >>> mon = AnomalyMonitor.open(tempfile.mkdtemp(), rest=5)
    >>> len(mon.update(y.iloc[:100]))        # history: scored, never flagged
    100
    >>> new = mon.update(y)                  # only the 20 new points
    >>> len(new), new.loc[new.is_anomaly, "observed"].tolist(), mon.skipped
    (20, [9.0], 100)
    """

    def __init__(self, state_dir: str | os.PathLike, *, sensitivity: str | float = "medium", margin: float = 0.1,
                 rest: int | None = None, timeout: float = 60.0) -> None:
        self.state_dir = state_dir
        self.sensitivity = sensitivity
        self.margin = margin
        self.rest = rest
        self.timeout = timeout

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, state_dir: str | os.PathLike, *, sensitivity: str | float = "medium", margin: float = 0.1,
             rest: int | None = None, timeout: float = 60.0) -> AnomalyMonitor:
        """Open (and create) a state folder and load the metrics' states found there.

        Parameters
        ----------
        state_dir : path
            The folder; created with its parents if missing.
        sensitivity : {"low", "medium", "high"} or float
            As :class:`AnomalyMonitor`.
        margin : float
            As :class:`AnomalyMonitor` (used for metrics seen for the first time).
        rest : int, optional
            As :class:`AnomalyMonitor`.
        timeout : float
            As :class:`AnomalyMonitor`.

        Returns
        -------
        AnomalyMonitor

        Raises
        ------
        WorkbenchError
            For a bad parameter, a folder that cannot be created or written, or a damaged
            state file.

        Examples
        --------
        >>> import tempfile
        >>> AnomalyMonitor.open(tempfile.mkdtemp(), sensitivity="high").metrics
        []
        """
        return cls(state_dir, sensitivity=sensitivity, margin=margin, rest=rest, timeout=timeout)._open()

    def _open(self) -> AnomalyMonitor:
        self._threshold = _novelty_threshold(score_threshold(self.sensitivity))
        m = self.margin
        if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or not (
                math.isfinite(m) and m >= 0):
            raise WorkbenchError(f"margin={m!r} must be a number >= 0 (a share of the history's span)")
        if self.rest is not None and (isinstance(self.rest, bool) or not isinstance(self.rest, (int, np.integer))
                                      or self.rest < 0):
            raise WorkbenchError(f"rest={self.rest!r} must be a number of points (an integer >= 0) or None")
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0:
            raise WorkbenchError(f"timeout={t!r} must be a number of seconds >= 0")
        self.dir_ = Path(self.state_dir)
        try:
            self.dir_.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkbenchError(f"cannot create the monitor state folder {self.dir_}: "
                                 f"{exc.strerror or exc}") from None
        self._states: dict[str, _MetricState] = {}
        self._mutex = threading.Lock()
        self.summary = pd.DataFrame(columns=SUMMARY_COLUMNS)
        with self._locked():
            for name in self._read_index():
                self._current(name)
        return self

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the folder's lock (an exclusive ``flock`` on ``.lock``), waiting up to ``timeout`` s."""
        path = self.dir_ / _LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WorkbenchError(f"cannot write the monitor state folder {self.dir_}: {exc.strerror or exc}") from None
        try:
            deadline = time.monotonic() + float(self.timeout)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise WorkbenchError(f"the monitor state folder {self.dir_} stayed locked by another "
                                             f"process for {self.timeout:g} s") from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _check_open(self) -> None:
        if not hasattr(self, "dir_"):
            raise WorkbenchError("use AnomalyMonitor.open(state_dir) to create a monitor")

    # ------------------------------------------------------------------ the index and the state files
    def _read_index(self) -> dict[str, str]:
        path = self.dir_ / _INDEX
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
            metrics = dict(data["metrics"])
        except (OSError, ValueError, KeyError, TypeError):
            raise WorkbenchError(f"{path} is damaged: delete it (the metrics' files are read again by name)") from None
        return {str(k): str(v) for k, v in metrics.items()}

    def _write_temp(self, name: str, write) -> Path:
        """A temporary file next to ``name`` in the folder, written by ``write(binary file)`` (rename it yourself)."""
        def to_path(p: Path) -> None:
            with open(p, "wb") as f:
                write(f)

        return write_temp(self.dir_ / name, to_path)

    def _current(self, name: str) -> _MetricState | None:
        """The metric's state as on disk: the cached one while its file is unchanged, else read again."""
        path = self.dir_ / _file_name(name)
        token = _token(path)
        if token is None:
            self._states.pop(name, None)
            return None
        cached = self._states.get(name)
        if cached is not None and cached.token == token:
            return cached
        st = self._read_state(path, name)
        st.token = token
        self._states[name] = st
        return st

    def _read_state(self, path: Path, name: str) -> _MetricState:
        damaged = (f"{path} is not a readable anomaly-monitor state (damaged or another format): "
                   f"delete it to start metric {name!r} over")
        try:
            with np.load(path, allow_pickle=False) as z:
                if sorted(z.files) != _STATE_FILES:
                    raise WorkbenchError(damaged)
                meta = json.loads(str(z["meta"][()]))
                seen, ts_diff, recent = z["seen"], z["ts_diff"], z["recent"]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, AttributeError, TypeError):
            raise WorkbenchError(damaged) from None
        if not isinstance(meta, dict) or meta.get("format") != MONITOR_FORMAT:
            raise WorkbenchError(damaged)
        if meta.get("version") != MONITOR_VERSION:
            raise WorkbenchError(f"{path} holds anomaly-monitor state version {meta.get('version')!r}; this "
                                 f"version reads {MONITOR_VERSION}")
        if meta.get("metric") != name:
            raise WorkbenchError(f"{path} holds metric {meta.get('metric')!r}, not {name!r}")
        try:
            det_state = dict(meta["detector"])
            det_state["seen"] = np.unpackbits(np.asarray(seen, dtype=np.uint8), count=int(meta["n_seen"])).astype(bool)
            det = NoveltyDetector().set_state(det_state)
            scored = np.cumsum(np.asarray(ts_diff, dtype=np.int64))
            if len(scored) != det.n_points_:
                raise ValueError("the scored timestamps do not match the detector's count")
            return _MetricState(name, det, int(meta["last_timestamp_ns"]), bool(meta["tz_aware"]),
                                int(meta["history"]), float(meta["margin"]), scored,
                                np.asarray(recent, dtype="float64"))
        except (KeyError, TypeError, ValueError, WorkbenchError):
            raise WorkbenchError(damaged) from None

    def _state_writer(self, st: _MetricState):
        det = st.detector.get_state()
        seen = det.pop("seen")
        meta = {"format": MONITOR_FORMAT, "version": MONITOR_VERSION, "metric": st.name,
                "last_timestamp": _timestamp(st.last_ns, st.aware).isoformat(), "last_timestamp_ns": int(st.last_ns),
                "tz_aware": st.aware, "lo": det["lo"], "hi": det["hi"], "margin": st.margin,
                "count": int(st.detector.n_points_), "history": int(st.n_history), "n_seen": int(len(seen)),
                "detector": det}

        def write(f) -> None:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)), seen=np.packbits(seen),
                                ts_diff=np.diff(st.scored_ts, prepend=np.int64(0)), recent=st.recent)
        return write

    # ------------------------------------------------------------------ scoring
    @property
    def metrics(self) -> list[str]:
        """The metrics this monitor has a state for (as of the last :meth:`open` or :meth:`update`).

        Examples
        --------
        >>> import tempfile
        >>> s = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2), name="x")
        >>> mon = AnomalyMonitor.open(tempfile.mkdtemp()); _ = mon.update(s); mon.metrics
        ['x']
        """
        self._check_open()
        return sorted(self._states)

    @property
    def skipped(self) -> int:
        """Observations skipped by the last :meth:`update` (at or before each metric's last scored time)."""
        return int(self.summary["skipped"].sum()) if len(self.summary) else 0

    def update(self, series: Any, *, metrics: Sequence[str] | str | None = None) -> pd.DataFrame:
        """Score the observations newer than each metric's last scored timestamp, and save the state.

        Parameters
        ----------
        series : DataFrame or Series
            The latest KPI data in any shape :func:`~analytics_lib.analysis.anomaly.series.metric_series`
            accepts (e.g. :func:`~analytics_lib.kpi_table`'s frame); it may repeat points already
            scored (they are skipped).
        metrics : str or list of str, optional
            The metrics to score (default: every numeric one).

        Returns
        -------
        DataFrame
            One row per newly scored observation, ``MONITOR_COLUMNS``: ``timestamp, metric,
            observed, score`` (novelty in [0, 1]), ``probability`` (its conformal anomaly
            probability among the metric's previous 10,000 scores) and ``is_anomaly`` (score
            at least the sensitivity's threshold, never for history), sorted by timestamp
            and metric. Counts per metric are in :attr:`summary`.

        Raises
        ------
        WorkbenchError
            For input :func:`metric_series` refuses, timestamps with a time zone where the
            state has none (or the reverse), or a state folder that cannot be written.

        Examples
        --------
        >>> import tempfile
        >>> s = pd.Series([1.0, 2.0, np.nan, 1.0], index=pd.date_range("2024-01-01", periods=4), name="x")
        >>> mon = AnomalyMonitor.open(tempfile.mkdtemp())
        >>> len(mon.update(s.iloc[:2])), len(mon.update(s))
        (2, 1)
        >>> mon.summary[["given", "scored", "skipped", "missing"]].values.tolist()
        [[4, 1, 2, 1]]
        """
        self._check_open()
        series_list = metric_series(series, metrics)
        with self._mutex, self._locked():
            try:
                return self._update(series_list)
            except BaseException:
                self._states.clear()  # the cache may be ahead of the files: read them again next time
                raise

    def _update(self, series_list: list) -> pd.DataFrame:
        frames, rows, changed = [], [], []
        for m in series_list:
            st = self._current(m.name)
            frame, row, st = self._score(m, st)
            rows.append(row)
            if len(frame):
                frames.append(frame)
                changed.append(st)
        if changed:
            tmps: list[Path] = []
            try:
                for st in changed:  # each name kept as soon as it exists, so a later failure removes it too
                    tmps.append(self._write_temp(_file_name(st.name), self._state_writer(st)))
                index = self._read_index()
                new_index = {**index, **{st.name: _file_name(st.name) for st in changed}}
                if new_index != index:
                    body = json.dumps({"format": MONITOR_FORMAT, "version": MONITOR_VERSION,
                                       "metrics": dict(sorted(new_index.items()))}, indent=1).encode()
                    tmps.append(write_temp(self.dir_ / _INDEX, body))
                for st, tmp in zip(changed, tmps):
                    path = self.dir_ / _file_name(st.name)
                    os.replace(tmp, path)
                    st.token = _token(path)
                    self._states[st.name] = st
                if len(tmps) > len(changed):
                    os.replace(tmps[-1], self.dir_ / _INDEX)
            except OSError as exc:
                for tmp in tmps:
                    tmp.unlink(missing_ok=True)
                raise WorkbenchError(f"cannot write the monitor state in {self.dir_}: {exc.strerror or exc}") from None
        self.summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        if not frames:
            return pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns]"), "metric": pd.Series(dtype=object),
                                 "observed": pd.Series(dtype="float64"), "score": pd.Series(dtype="float64"),
                                 "probability": pd.Series(dtype="float64"), "is_anomaly": pd.Series(dtype=bool)})
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["timestamp", "metric"], kind="stable", ignore_index=True)[MONITOR_COLUMNS]

    def _score(self, m, st: _MetricState | None) -> tuple[pd.DataFrame, list, _MetricState | None]:
        """Score one metric's new observations: (rows, summary row, the advanced state)."""
        ns = m.ts.as_unit("ns").asi8
        aware = m.ts.tz is not None
        ok = ~np.isnan(m.y)
        given, missing = len(ns), int((~ok).sum())
        first = st is None
        if first:
            new = ok
            skipped = late = 0
            if new.any():
                vals = m.y[ok]
                lo, hi = float(vals.min()), float(vals.max())
                pad = float(self.margin) * ((hi - lo) if hi > lo else max(abs(lo), 1.0))
                rest = nab_rest(len(vals)) if self.rest is None else int(self.rest)
                det = NoveltyDetector(rest=rest).fit(lo=lo - pad, hi=hi + pad)
                st = _MetricState(m.name, det, int(ns[0]), aware, len(vals), float(self.margin),
                                  np.zeros(0, dtype=np.int64), np.zeros(0))
        else:
            if aware != st.aware:
                have = "with a time zone" if st.aware else "without a time zone"
                raise WorkbenchError(f"metric {m.name!r} was scored with timestamps {have}; give the same kind "
                                     "(e.g. all UTC)")
            newer = ns > st.last_ns
            new = ok & newer
            old = ns[ok & ~newer]
            skipped = len(old)
            pos = np.searchsorted(st.scored_ts, old)
            known = (pos < len(st.scored_ts)) & (st.scored_ts[np.minimum(pos, len(st.scored_ts) - 1)] == old) \
                if len(st.scored_ts) else np.zeros(len(old), dtype=bool)
            late = int((~known).sum())
        idx = np.flatnonzero(new)
        if st is None or not len(idx):
            last = None if st is None else _timestamp(st.last_ns, st.aware)
            return pd.DataFrame(), [m.name, given, 0, skipped, late, missing, 0, 0, last], st
        before = st.detector.n_points_
        scores = st.detector.update(m.y[idx])
        both = np.concatenate([st.recent, scores])
        prob = _probabilities(both, len(st.recent))
        flag = (scores >= self._threshold) & (before + np.arange(len(idx)) >= st.n_history)
        st.recent = both[-PROBABILITY_WINDOW:].copy()
        st.scored_ts = np.concatenate([st.scored_ts, ns[idx]])
        st.last_ns = int(ns[idx[-1]])
        frame = pd.DataFrame({"timestamp": m.ts[idx], "metric": m.name, "observed": m.y[idx], "score": scores,
                              "probability": prob, "is_anomaly": flag})
        row = [m.name, given, len(idx), skipped, late, missing, len(idx) if first else 0, int(flag.sum()),
               _timestamp(st.last_ns, st.aware)]
        return frame, row, st

    def status(self) -> pd.DataFrame:
        """One row per metric with a saved state, as on disk now.

        Returns
        -------
        DataFrame
            ``metric, count`` (points scored), ``history, lo, hi, rest, last_timestamp, file``.

        Examples
        --------
        >>> import tempfile
        >>> s = pd.Series([1.0, 3.0], index=pd.date_range("2024-01-01", periods=2), name="x")
        >>> mon = AnomalyMonitor.open(tempfile.mkdtemp(), margin=0.5); _ = mon.update(s)
        >>> mon.status()[["metric", "count", "lo", "hi"]].values.tolist()
        [['x', 2, 0.0, 4.0]]
        """
        self._check_open()
        with self._mutex, self._locked():
            names = sorted(set(self._read_index()) | set(self._states))
            states = [st for st in map(self._current, names) if st is not None]
        return pd.DataFrame([[st.name, int(st.detector.n_points_), st.n_history, st.detector.lo_, st.detector.hi_,
                              int(st.detector.rest), _timestamp(st.last_ns, st.aware), _file_name(st.name)]
                             for st in states],
                            columns=["metric", "count", "history", "lo", "hi", "rest", "last_timestamp", "file"])
