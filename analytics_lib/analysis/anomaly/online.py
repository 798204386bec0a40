"""Online anomaly detection for streams of operational metrics: a causal sequence-novelty
detector (:class:`NoveltyDetector`) and the ``"novelty"`` method of
:func:`~analytics_lib.analysis.anomaly.scores.anomaly_scores`.

**The novelty detector** quantises each value with several uniform quantizers over a value
range ``[lo, hi]`` (7, 8 and 9 levels, each at offsets 0 and half a level: "jittered", so no
single choice of bin edges decides), plus one overflow bin below and one above the range. A
point's *raw novelty* is the share of (quantizer, pattern length ``k`` = 1..4) pairs for which
the pattern of the last ``k`` bins, ending at the point, was never seen before: a never-seen
level, jump or short motif. After a raw novelty of at least ``alarm`` the next ``rest`` points
score 0 (one alarm per incident, as NAB's CAD OSE detector does). Everything is causal: a
point's score depends on the points before it and itself only, and scoring a stream in chunks
of any size gives exactly the scores of one batch run.

On the Numenta Anomaly Benchmark (the 47 files of the shared copy, NAB's exact scoring in
:mod:`~analytics_lib.analysis.anomaly.nab`) it scores 68.2 on the standard profile (Numenta HTM
68.9, randomCutForest 50.1, twitterADVec 49.2, windowedGaussian 45.0) with one parameter set,
given the file's min/max as NAB gives every detector and NAB's rest convention
(:func:`nab_rest`); about 65 when the parameters are chosen without the scored category.

The calibrated anomaly probability of any detector's scores lives in
:mod:`~analytics_lib.analysis.anomaly.calibration`.

:func:`_novelty_detector` is the ``"novelty"`` method of
:func:`~analytics_lib.analysis.anomaly.scores.anomaly_scores`.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Sequence, TYPE_CHECKING

import numpy as np

from analytics_lib.analysis.anomaly.calibration import _as_values
from analytics_lib.analysis.anomaly.nab import nab_probation
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import atomic_write

if TYPE_CHECKING:
    from analytics_lib.analysis.anomaly.scores import Scores
    from analytics_lib.analysis.anomaly.series import MetricSeries

#: Identifies a saved :class:`NoveltyDetector` state (``get_state()["format"]``).
STATE_FORMAT = "analytics_lib.NoveltyDetector"
#: Version of the state layout; :meth:`NoveltyDetector.set_state` refuses any other.
STATE_VERSION = 1
#: Most cells the pattern tables of one detector may take (levels + 3) ** k summed (50 MB).
_MAX_TABLE_CELLS = 50_000_000
#: ``last_alarm`` before any alarm: so far back that no rest period covers the first point.
_NO_ALARM = -(2 ** 62)
#: Chunks shorter than this are scored point by point (the scalar path is faster there).
_SCALAR_CHUNK = 8


def nab_rest(n: int, *, share: float = 0.15) -> int:
    """Rest period in points by NAB's convention: ``share`` of the probationary period.

    NAB's probationary period is ``min(floor(0.15 n), 750)`` rows; CAD OSE and the default
    here rest for 15 % of it after an alarm (at most 112 points).

    Parameters
    ----------
    n : int
        Points in the series (NAB: rows of the file).
    share : float
        Share of the probationary period (default 0.15).

    Returns
    -------
    int
        ``int(min(floor(0.15 n), 750) * share)``.

    Raises
    ------
    WorkbenchError
        For a negative ``n`` or a negative ``share``.

    Examples
    --------
    >>> nab_rest(4032), nab_rest(22695), nab_rest(100)
    (90, 112, 2)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise WorkbenchError(f"n={n!r} must be a number of points (an integer >= 0)")
    if not isinstance(share, (int, float, np.integer, np.floating)) or isinstance(share, bool) or not share >= 0:
        raise WorkbenchError(f"share={share!r} must be a number >= 0")
    return int(nab_probation(int(n)) * share)


class NoveltyDetector:
    """Causal "jittered-quantizer sequence novelty" detector; scores a stream in chunks.

    Each value is quantised by one uniform quantizer per (``levels``, ``offsets``) pair over
    ``[lo, hi]`` (bin width ``(hi - lo) / (levels - 1)``, edges shifted by ``offset`` bins),
    values below ``lo`` or above the top level go to two overflow bins. The raw novelty of a
    point is the share of (quantizer, ``k`` = 1..``max_order``) pairs for which the ``k``
    bins ending at the point form a pattern never seen before (in [0, 1]). The score is the raw
    novelty, except 0 for ``rest`` points after a point whose raw novelty was ``>= alarm``.

    The defaults are the best of the prototype's search on NAB (standard profile 68.2 on 47
    files with NAB's min/max and :func:`nab_rest`; 65 leave-one-category-out).

    Parameters
    ----------
    levels : sequence of int
        Levels of each quantizer family (each at least 2), default ``(7, 8, 9)``.
    offsets : sequence of float
        Bin-edge shifts in [0, 1) as a share of a bin, applied to every family (default
        ``(0.0, 0.5)``): 6 quantizers by default.
    max_order : int
        Longest pattern, in points (default 4).
    alarm : float
        Raw novelty in (0, 1] that starts a rest period (default 0.6).
    rest : int
        Points scored 0 after a raw novelty of at least ``alarm`` (default 112 =
        ``nab_rest(n)`` for every ``n >= 5000``; on NAB pass ``nab_rest(len(file))``).

    Attributes
    ----------
    lo_, hi_ : float
        The value range (set by :meth:`fit`).
    n_points_ : int
        Points scored so far (missing values are not counted).

    Notes
    -----
    *Value range.* NAB gives every detector the whole file's min and max (``fit(values)`` on
    the file, or ``fit(lo=..., hi=...)``). In production fit on history: a value outside
    the range lands in an overflow bin, so a new level is still novel the first time (but
    all values beyond ``hi`` look alike).

    *Missing values.* NaN is never scored: its score is NaN and the state is unchanged (the
    pattern, the point count and the rest period skip it). ``+-inf`` fall in the overflow bins.

    *State.* :meth:`get_state` / :meth:`set_state` give and take a plain dict (numbers, lists
    and one boolean array); :meth:`save` / :meth:`load` write and read it as an NPZ file
    without pickled objects. Memory: ``sum((levels + 3) ** k)`` bytes per offset, 100 kB with
    the defaults.

    Examples
    --------
    >>> y = np.tile([1.0, 2.0, 3.0, 2.0], 50); y[150] = 9.0
    >>> det = NoveltyDetector(rest=10).fit(y[:100])   # the range of the history
    >>> _ = det.update(y[:100])                      # learn the history's patterns
    >>> s = det.update(y[100:])
    >>> int(np.argmax(s)) + 100, round(float(s.max()), 2), float(s[60:].max())
    (150, 1.0, 0.0)
    """

    def __init__(self, levels: Sequence[int] = (7, 8, 9), offsets: Sequence[float] = (0.0, 0.5),
                 max_order: int = 4, alarm: float = 0.6, rest: int = 112) -> None:
        self.levels = levels
        self.offsets = offsets
        self.max_order = max_order
        self.alarm = alarm
        self.rest = rest

    # ------------------------------------------------------------------ parameters and state
    def _check_params(self) -> tuple[tuple[int, ...], tuple[float, ...], int, float, int]:
        def integer(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def number(v: Any) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        try:
            levels, offsets = list(self.levels), list(self.offsets)
        except TypeError:
            raise WorkbenchError(f"levels={self.levels!r} and offsets={self.offsets!r} must be sequences") from None
        if not levels or not all(integer(b) and b >= 2 for b in levels):
            raise WorkbenchError(f"levels={self.levels!r} must be a non-empty sequence of integers >= 2")
        if not offsets or not all(number(o) and 0 <= o < 1 for o in offsets):
            raise WorkbenchError(f"offsets={self.offsets!r} must be a non-empty sequence of numbers in [0, 1)")
        if not integer(self.max_order) or self.max_order < 1:
            raise WorkbenchError(f"max_order={self.max_order!r} must be an integer >= 1")
        if not number(self.alarm) or not 0 < self.alarm <= 1:
            raise WorkbenchError(f"alarm={self.alarm!r} must be a number in (0, 1]")
        if not integer(self.rest) or self.rest < 0:
            raise WorkbenchError(f"rest={self.rest!r} must be a number of points (an integer >= 0)")
        cells = len(offsets) * sum((int(b) + 3) ** k for b in levels for k in range(1, self.max_order + 1))
        if cells > _MAX_TABLE_CELLS:
            raise WorkbenchError(f"levels={self.levels!r} with max_order={self.max_order} need {cells:,} table "
                                 f"cells (at most {_MAX_TABLE_CELLS:,}): use fewer levels or a lower max_order")
        return (tuple(int(b) for b in levels), tuple(float(o) for o in offsets), int(self.max_order),
                float(self.alarm), int(self.rest))

    def get_params(self) -> dict:
        """The constructor's parameters (as scikit-learn's ``get_params``).

        Returns
        -------
        dict
            ``levels, offsets, max_order, alarm, rest``.

        Examples
        --------
        >>> NoveltyDetector(rest=5).get_params()["rest"]
        5
        """
        return {"levels": self.levels, "offsets": self.offsets, "max_order": self.max_order, "alarm": self.alarm,
                "rest": self.rest}

    def _reset(self, lo: float, hi: float) -> None:
        levels, offsets, K, alarm, rest = self._check_params()
        self._levels, self._K, self._alarm, self._rest = levels, K, alarm, rest
        span = hi - lo
        # quantizer q: (levels B, offset o, bin width); bins 0 (below) .. B + 1 (above), B + 2 = "no value yet"
        self._quant = [(b, o, span / (b - 1) if span > 0 else 1.0) for b in levels for o in offsets]
        self._tables = [[bytearray((b + 3) ** k) for k in range(1, K + 1)] for b, _, _ in self._quant]
        self._views = [[np.frombuffer(t, dtype=bool) for t in tabs] for tabs in self._tables]
        self._hist = [[b + 2] * (K - 1) for b, _, _ in self._quant]
        self._last_alarm = _NO_ALARM
        self.lo_, self.hi_ = float(lo), float(hi)
        self.n_points_ = 0

    def _check_fitted(self) -> None:
        if not hasattr(self, "lo_"):
            raise WorkbenchError("this NoveltyDetector has no value range yet: call fit(history) or "
                                 "fit(lo=..., hi=...) first")

    def get_state(self) -> dict:
        """Everything needed to continue scoring, as a plain dict.

        Returns
        -------
        dict
            ``format`` (:data:`STATE_FORMAT`), ``version``, ``params`` (as
            :meth:`get_params`, lists), ``lo``, ``hi``, ``n_points``, ``last_alarm`` (index of
            the last raw novelty ``>= alarm``, a large negative number before any),
            ``history`` (last ``max_order - 1`` bins per quantizer) and ``seen`` (one flat
            boolean array: the pattern tables of every quantizer and order, in that order).

        Raises
        ------
        WorkbenchError
            Before :meth:`fit`.

        Examples
        --------
        >>> st = NoveltyDetector().fit(lo=0, hi=1).get_state()
        >>> st["format"], st["n_points"], st["seen"].shape
        ('analytics_lib.NoveltyDetector', 0, (99668,))
        """
        self._check_fitted()
        levels, offsets, K, alarm, rest = self._check_params()
        return {"format": STATE_FORMAT, "version": STATE_VERSION,
                "params": {"levels": list(levels), "offsets": list(offsets), "max_order": K, "alarm": alarm,
                           "rest": rest},
                "lo": self.lo_, "hi": self.hi_, "n_points": int(self.n_points_), "last_alarm": int(self._last_alarm),
                "history": [list(map(int, h)) for h in self._hist],
                "seen": np.concatenate([v for views in self._views for v in views]).copy()}

    def set_state(self, state: dict) -> NoveltyDetector:
        """Restore a state from :meth:`get_state` (parameters included).

        Parameters
        ----------
        state : dict
            As :meth:`get_state` returns it.

        Returns
        -------
        NoveltyDetector
            ``self``, ready to continue scoring.

        Raises
        ------
        WorkbenchError
            For a dict of another format or version, or with inconsistent contents.

        Examples
        --------
        >>> a = NoveltyDetector(rest=3).fit(lo=0, hi=10)
        >>> _ = a.update([1.0, 5.0, 9.0])
        >>> b = NoveltyDetector().set_state(a.get_state())
        >>> b.rest, b.n_points_, bool((b.update([2.0, 7.0]) == a.update([2.0, 7.0])).all())
        (3, 3, True)
        """
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise WorkbenchError(f"not a NoveltyDetector state (expected format {STATE_FORMAT!r})")
        if state.get("version") != STATE_VERSION:
            raise WorkbenchError(f"NoveltyDetector state version {state.get('version')!r} is not supported "
                                 f"(this version reads {STATE_VERSION})")
        try:
            params = dict(state["params"])
            self.levels, self.offsets = tuple(params["levels"]), tuple(params["offsets"])
            self.max_order, self.alarm, self.rest = params["max_order"], params["alarm"], params["rest"]
            lo, hi = float(state["lo"]), float(state["hi"])
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError("bad range")
            self._reset(lo, hi)
            seen = np.asarray(state["seen"])
            sizes = [len(v) for views in self._views for v in views]
            if seen.ndim != 1 or len(seen) != sum(sizes) or seen.dtype.kind not in "bui":
                raise ValueError("pattern tables of the wrong size")
            hist = [[int(b) for b in h] for h in state["history"]]
            if len(hist) != len(self._quant) or any(
                    len(h) != self._K - 1 or not all(0 <= v <= b + 2 for v in h) for h, (b, _, _) in zip(hist, self._quant)):
                raise ValueError("bad history")
            n_points, last = int(state["n_points"]), int(state["last_alarm"])
        except WorkbenchError as exc:
            raise WorkbenchError(f"the NoveltyDetector state is inconsistent: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkbenchError(f"the NoveltyDetector state is inconsistent or damaged ({exc})") from None
        pos = 0
        for views in self._views:
            for v in views:
                v[:] = seen[pos:pos + len(v)] != 0
                pos += len(v)
        self._hist, self.n_points_, self._last_alarm = hist, n_points, last
        return self

    def save(self, path: str | os.PathLike) -> None:
        """Write the state to an NPZ file (no pickled objects), atomically.

        Parameters
        ----------
        path : path
            The file to write (replaced if it exists; the name is kept as given).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "det.npz"
        >>> det = NoveltyDetector().fit(lo=0, hi=1); _ = det.update([0.2, 0.9])
        >>> det.save(p); NoveltyDetector.load(p).n_points_
        2
        """
        st = self.get_state()
        seen = st.pop("seen")
        meta = json.dumps({**st, "n_seen": int(len(seen))})
        path = Path(path)
        body = io.BytesIO()
        np.savez_compressed(body, meta=np.array(meta), seen=np.packbits(seen.astype(bool)))
        atomic_write(path, body.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> NoveltyDetector:
        """Read a detector written by :meth:`save`.

        Parameters
        ----------
        path : path
            An NPZ file from :meth:`save`.

        Returns
        -------
        NoveltyDetector
            With the saved parameters and state: it continues exactly where the saved one was.

        Raises
        ------
        WorkbenchError
            When the file is missing, is not such an NPZ file (another format, damaged), or
            holds another version of the state.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.npz"
        >>> _ = p.write_text("not a state")
        >>> NoveltyDetector.load(p)
        Traceback (most recent call last):
        ...
        analytics_lib.core.errors.WorkbenchError: x.npz is not a saved NoveltyDetector (not an NPZ file)
        """
        path = Path(path)
        if not path.is_file():
            raise WorkbenchError(f"{path} does not exist")
        files: list[str] = []
        try:
            with np.load(path, allow_pickle=False) as z:
                files = sorted(z.files)
                if files == ["meta", "seen"]:
                    header, packed = str(z["meta"][()]), z["seen"]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, AttributeError, TypeError):
            raise WorkbenchError(f"{path.name} is not a saved NoveltyDetector (not an NPZ file)") from None
        if files != ["meta", "seen"]:
            raise WorkbenchError(f"{path.name} is not a saved NoveltyDetector (it holds {files})")
        try:
            meta = json.loads(header)
        except json.JSONDecodeError:
            raise WorkbenchError(f"{path.name} is not a saved NoveltyDetector (damaged header)") from None
        if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
            raise WorkbenchError(f"{path.name} is not a saved NoveltyDetector")
        if meta.get("version") != STATE_VERSION:
            raise WorkbenchError(f"{path.name} holds NoveltyDetector state version {meta.get('version')!r}; "
                                 f"this version reads {STATE_VERSION}")
        try:
            n_seen = int(meta.pop("n_seen"))
            seen = np.unpackbits(np.asarray(packed, dtype=np.uint8), count=n_seen).astype(bool)
        except (KeyError, TypeError, ValueError):
            raise WorkbenchError(f"{path.name} is a damaged NoveltyDetector state") from None
        return cls().set_state({**meta, "seen": seen})

    # ------------------------------------------------------------------ fitting and scoring
    def fit(self, values: Any = None, *, lo: float | None = None, hi: float | None = None) -> NoveltyDetector:
        """Set the value range and reset the state.

        NAB gives every detector the whole file's minimum and maximum: ``fit(file_values)``.
        In production, fit on history (values outside the range go to the overflow bins, so
        a new level is still novel), or give the range of the metric (``lo=0, hi=1`` for a
        rate).

        Parameters
        ----------
        values : array-like, optional
            History: the range is its finite minimum and maximum.
        lo, hi : float, optional
            The range, instead of ``values`` (both, ``lo <= hi``).

        Returns
        -------
        NoveltyDetector
            ``self``, with no point seen yet (``fit`` does not score ``values``).

        Raises
        ------
        WorkbenchError
            For bad parameters, neither or both of ``values`` and ``lo``/``hi``, history without
            a finite value, or a range that is not finite or has ``lo > hi``.

        Examples
        --------
        >>> det = NoveltyDetector().fit([3.0, np.nan, 1.0, 2.0])
        >>> det.lo_, det.hi_, det.n_points_
        (1.0, 3.0, 0)
        """
        if values is not None:
            if lo is not None or hi is not None:
                raise WorkbenchError("give either history values or lo= and hi=, not both")
            v = _as_values(values)
            v = v[np.isfinite(v)]
            if not len(v):
                raise WorkbenchError("fit needs history with at least one finite value (or lo= and hi=)")
            lo, hi = float(v.min()), float(v.max())
        elif lo is None or hi is None:
            raise WorkbenchError("fit needs history values or both lo= and hi= (the value range)")
        try:
            lo, hi = float(lo), float(hi)
        except (TypeError, ValueError):
            raise WorkbenchError(f"lo={lo!r} and hi={hi!r} must be numbers") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise WorkbenchError(f"the value range lo={lo}, hi={hi} must be finite with lo <= hi")
        self._reset(lo, hi)
        return self

    def update(self, values: Any) -> np.ndarray:
        """Score new points, in order, and remember them.

        Causal: each score depends on the points before it and itself only; any split of a
        stream into chunks (or single points with :meth:`update_one`) gives exactly the
        scores of one call on the whole stream.

        Parameters
        ----------
        values : array-like of float
            The next points (1-D; a scalar counts as one point).

        Returns
        -------
        ndarray of float
            One score in [0, 1] per point; NaN for a NaN value (which leaves the state unchanged).

        Raises
        ------
        WorkbenchError
            Before :meth:`fit`, or for values that are not numbers or not 1-D.

        Examples
        --------
        >>> det = NoveltyDetector(rest=0).fit(lo=0, hi=10)
        >>> det.update([5.0, 5.0, np.nan, 5.0]).round(3).tolist()
        [1.0, 0.75, nan, 0.5]
        """
        self._check_fitted()
        x = _as_values(values)
        out = np.full(len(x), np.nan)
        ok = ~np.isnan(x)
        xs = x[ok]
        if len(xs) < _SCALAR_CHUNK:
            out[ok] = [self.update_one(v) for v in xs.tolist()]
            return out
        raw = self._raw(xs)
        n = len(raw)
        idx = self.n_points_ + np.arange(n)
        big = idx[raw >= self._alarm]
        prev = np.concatenate([[self._last_alarm], big])[np.searchsorted(big, idx)]  # last alarm strictly before
        out[ok] = np.where(idx - prev <= self._rest, 0.0, raw)
        if len(big):
            self._last_alarm = int(big[-1])
        self.n_points_ += n
        return out

    def update_one(self, value: float) -> float:
        """Score one new point (the fast path for streams: same result and state as ``update([value])``).

        Parameters
        ----------
        value : float
            The next point.

        Returns
        -------
        float
            Its score in [0, 1]; NaN for NaN (the state is unchanged).

        Examples
        --------
        >>> det = NoveltyDetector(rest=0).fit(lo=0, hi=10)
        >>> det.update_one(5.0), round(det.update_one(5.0), 3)
        (1.0, 0.75)
        """
        self._check_fitted()
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise WorkbenchError(f"value={value!r} is not a number") from None
        if x != x:
            return float("nan")
        K, lo = self._K, self.lo_
        nov = 0
        for (B, off, step), tabs, h in zip(self._quant, self._tables, self._hist):
            if x == math.inf:
                b = B + 1
            elif x == -math.inf:
                b = 0
            else:
                z = math.floor((x - lo) / step + off) + 1
                b = 0 if z < 0 else (B + 1 if z > B + 1 else z)
            t = tabs[0]
            if not t[b]:
                nov += 1
                t[b] = 1
            A = B + 3
            code, mult = b, A
            for k in range(2, K + 1):
                code += h[K - k] * mult
                mult *= A
                t = tabs[k - 1]
                if not t[code]:
                    nov += 1
                    t[code] = 1
            if K > 1:
                del h[0]
                h.append(b)
        raw = nov / (len(self._quant) * K)
        out = 0.0 if self.n_points_ - self._last_alarm <= self._rest else raw
        if raw >= self._alarm:
            self._last_alarm = self.n_points_
        self.n_points_ += 1
        return out

    def _raw(self, x: np.ndarray) -> np.ndarray:
        """Raw novelty of finite-or-infinite values (no NaN), advancing the pattern tables."""
        n, K = len(x), self._K
        nov = np.zeros(n)
        for qi, (B, off, step) in enumerate(self._quant):
            with np.errstate(invalid="ignore", over="ignore"):
                z = np.floor((x - self.lo_) / step + off) + 1
            b = np.clip(z, 0, B + 1).astype(np.int64)
            full = np.concatenate([np.asarray(self._hist[qi], dtype=np.int64), b])
            A = B + 3
            code = np.zeros(n, dtype=np.int64)
            for k in range(1, K + 1):
                # the k bins ending at each point: sum_j full[t + K - 1 - j] * A ** j, j < k
                code += full[K - k:K - k + n] * A ** (k - 1)
                seen = self._views[qi][k - 1]
                _, first = np.unique(code, return_index=True)
                first = first[~seen[code[first]]]
                nov[first] += 1
                seen[code[first]] = True
            self._hist[qi] = full[len(full) - (K - 1):].tolist() if K > 1 else []
        return nov / (len(self._quant) * K)


# ============================================================================================
# The "novelty" method of anomaly_scores
#: Novelty score flagged at each named sensitivity (score_threshold 4.5 / 3.5 / 2.5).
NOVELTY_THRESHOLDS = {"low": 0.75, "medium": 0.625, "high": 0.5}


def _novelty_threshold(thr: float) -> float:
    """Novelty score flagged for a robust-z threshold: ``(thr + 1.5) / 8``, so low (4.5) 0.75,
    medium (3.5) 0.625 (NAB's optimum for the standard profile), high (2.5) 0.5."""
    return (float(thr) + 1.5) / 8.0


def _novelty_detector(m: MetricSeries, thr: float, *, lo: float | None = None, hi: float | None = None,
                      rest: int | None = None, warmup: int | None = None, levels: Sequence[int] = (7, 8, 9),
                      offsets: Sequence[float] = (0.0, 0.5), max_order: int = 4, alarm: float = 0.6) -> Scores:
    """The ``"novelty"`` method of :func:`~analytics_lib.analysis.anomaly.scores.anomaly_scores`.

    Scores the series' observations in time order with a :class:`NoveltyDetector` (timestamps,
    gaps and repeats play no part). ``expected`` is the previous observed value (NaN for
    the first), ``lower``/``upper`` are NaN, ``score`` is the novelty in [0, 1] (always >= 0:
    every flag reads as a "spike"), flagged from ``(thr + 1.5) / 8``: sensitivity low 0.75,
    medium 0.625, high 0.5 (:data:`NOVELTY_THRESHOLDS`). Missing values are not scored. The
    first ``warmup`` observations are scored but never flagged: everything is new to the
    detector then.

    Parameters
    ----------
    m : MetricSeries
        The series.
    thr : float
        The robust-z threshold of the sensitivity (:func:`score_threshold`).
    lo, hi : float, optional
        The value range; default the series' own min and max (as NAB: this looks ahead; for
        a causal run fit a :class:`NoveltyDetector` on history).
    rest : int, optional
        Points after an alarm; default ``nab_rest(observations)``.
    warmup : int, optional
        Observations never flagged at the start; default NAB's probation,
        ``min(floor(0.15 observations), 750)``.
    levels, offsets, max_order, alarm
        As :class:`NoveltyDetector`.

    Returns
    -------
    Scores

    Examples
    --------
    >>> import pandas as pd
    >>> from analytics_lib.analysis.anomaly.series import metric_series
    >>> y = np.tile([1.0, 2.0, 3.0], 40); y[100] = 8.0
    >>> s = pd.Series(y, index=pd.date_range("2024-01-01", periods=120, freq="h"))
    >>> sc = _novelty_detector(metric_series(s)[0], 3.5)
    >>> (np.flatnonzero(sc.flag[10:]) + 10).tolist(), float(sc.expected[100])
    ([100], 1.0)
    """
    from analytics_lib.analysis.anomaly.scores import Scores

    y = m.y
    ok = ~np.isnan(y)
    obs = y[ok]
    n = len(y)
    score = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    if len(obs):
        if (lo is None) != (hi is None):
            raise WorkbenchError("method='novelty' takes both lo= and hi= (the value range) or neither")
        det = NoveltyDetector(levels=levels, offsets=offsets, max_order=max_order, alarm=alarm,
                              rest=nab_rest(len(obs)) if rest is None else rest)
        det = det.fit(obs) if lo is None else det.fit(lo=lo, hi=hi)
        score[ok] = det.update(obs)
        expected[np.flatnonzero(ok)[1:]] = obs[:-1]
    if warmup is None:
        warmup = int(nab_probation(len(obs)))
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
        raise WorkbenchError(f"warmup={warmup!r} must be a number of observations (an integer >= 0)")
    with np.errstate(invalid="ignore"):
        flag = score >= _novelty_threshold(thr)
    flag[np.flatnonzero(ok)[:warmup]] = False
    nan = np.full(n, np.nan)
    return Scores(expected, score, nan, nan.copy(), flag)
