"""Validate an events frame against the contract: clean events, quarantine, reconciled summary.

Row-level problems never raise; the offending rows go to the quarantine untouched, with a
reason code. Structural problems (missing required columns, an empty frame, a time column
without any time zone) raise :class:`~analytics_lib.errors.WorkbenchError`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import schema as S
from .errors import WorkbenchError
from .params import TimeWindow

_REASON_CODES = list(S.REASONS)  # position + 1 = integer code; 0 = valid
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_OFFSET_RE = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class ValidationSummary:
    """Counts that reconcile: ``rows_read == rows_outside_window + rows_kept + rows_quarantined``.

    ``by_reason`` has an entry for every reason code (zeros included) and sums to
    ``rows_quarantined``. ``unknown_event_types`` counts kept events whose type is not in
    the documented vocabulary (they are kept: the vocabulary is extensible).
    """

    source: str
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    rows_outside_window: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    unknown_event_types: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        """True when every row read is accounted for exactly once."""
        return (self.rows_read == self.rows_outside_window + self.rows_kept + self.rows_quarantined
                and sum(self.by_reason.values()) == self.rows_quarantined)

    def table(self) -> pd.DataFrame:
        """The summary as a two-column frame (``item``, ``rows``) for printing or reports."""
        rows = [("read", self.rows_read), ("outside window / filter", self.rows_outside_window),
                ("kept", self.rows_kept), ("quarantined", self.rows_quarantined)]
        rows += [(f"  {reason}", n) for reason, n in self.by_reason.items() if n]
        rows += [(f"unknown event type '{t}' (kept)", n) for t, n in self.unknown_event_types.items()]
        return pd.DataFrame(rows, columns=["item", "rows"])


@dataclass(frozen=True)
class ValidatedEvents:
    """The outcome of loading or validating events.

    Attributes
    ----------
    events : DataFrame
        Clean events: every contract column (absent optional ones filled with NA) with the
        dtypes of ``schema.DTYPES``, then any extra source columns; sorted by ``ts`` (stable).
    quarantine : DataFrame
        The offending rows exactly as they came, plus ``source_row`` (0-based position in
        the source), ``reason`` (a code from ``schema.REASONS``) and ``reason_column``.
    summary : ValidationSummary
    """

    events: pd.DataFrame
    quarantine: pd.DataFrame
    summary: ValidationSummary


# --------------------------------------------------------------------------------------------
def _blank(s: pd.Series) -> np.ndarray:
    """Missing or whitespace-only, vectorized for any dtype."""
    miss = s.isna().to_numpy().copy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype):
            empty_cats = np.asarray(pd.Series(cats).astype(str).str.strip() == "")
            if empty_cats.any():
                codes = s.cat.codes.to_numpy()
                miss |= (codes >= 0) & empty_cats[np.maximum(codes, 0)]
    elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        miss |= (s.astype("str").str.strip() == "").fillna(False).to_numpy(dtype=bool)
    return miss


def _as_text(s: pd.Series) -> pd.Series:
    return s.astype("str").str.strip()


def _parse_ts(s: pd.Series, naive_utc: bool, present: np.ndarray) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse ``ts`` to UTC. Returns (parsed, unparsable mask, naive mask)."""
    n = len(s)
    no = np.zeros(n, dtype=bool)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC"), no, no
    if pd.api.types.is_datetime64_dtype(s.dtype):
        if not naive_utc:
            raise WorkbenchError(
                "ts has no time zone: if these times are UTC, pass naive_utc=True "
                "(command line: --naive-utc); otherwise convert them to UTC or give them an offset"
            )
        return s.dt.tz_localize("UTC"), no, no
    text = _as_text(s)
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    failed = parsed.isna().to_numpy() & present
    if failed.any():  # second chance for other unambiguous layouts, only on the failures
        retry = pd.to_datetime(text[failed], utc=True, format="mixed", errors="coerce")
        parsed = parsed.copy()
        parsed.loc[retry.index] = retry
        failed = parsed.isna().to_numpy() & present
    has_offset = text.str.contains(_OFFSET_RE, regex=True).fillna(False).to_numpy(dtype=bool)
    naive = present & ~failed & ~has_offset
    if not naive_utc and naive.any():
        if not (has_offset & present).any():
            raise WorkbenchError(
                "ts values carry no time zone: if they are UTC, pass naive_utc=True "
                "(command line: --naive-utc); otherwise add an offset such as +00:00"
            )
    else:
        naive = no
    return parsed, failed, naive


def _parse_numeric(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """To float64. Returns (values, wrong-type mask) where wrong type = present but not a number."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64"), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64"), np.zeros(len(s), dtype=bool)
    values = pd.to_numeric(s if s.dtype != object else _as_text(s).replace("", None), errors="coerce")
    values = values.astype("float64")
    wrong = values.isna().to_numpy() & ~_blank(s)
    return values, wrong


def _parse_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean"), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.astype("float64")
        wrong = (v.notna() & ~v.isin([0.0, 1.0])).to_numpy()
        out = v.where(~wrong).astype("boolean")
        return out, wrong
    text = _as_text(s).str.lower()
    is_true, is_false = text.isin(_TRUE).to_numpy(), text.isin(_FALSE).to_numpy()
    blank = _blank(s)
    wrong = ~blank & ~is_true & ~is_false
    arr = pd.array(np.where(is_true, True, False), dtype="boolean")
    arr[~(is_true | is_false)] = pd.NA
    return pd.Series(arr, index=s.index), wrong


def _categorical(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if not pd.api.types.is_string_dtype(cats.dtype) or not cats.is_monotonic_increasing:
            return s.astype("str").astype("category")
        return s.cat.remove_unused_categories()
    return s.astype("str").astype("category")


def validate_events(df: pd.DataFrame, *, naive_utc: bool = False, now: pd.Timestamp | str | None = None,
                    future_tolerance: str = "5min", window: TimeWindow | None = None,
                    source: str = "<frame>") -> ValidatedEvents:
    """Check events against the contract and split them into clean events and a quarantine.

    Each row is checked in this order and gets the first reason that applies
    (see ``schema.REASONS``): a required value missing; ``ts`` unparsable; ``ts`` without
    a time zone while other rows have one; ``ts`` more than ``future_tolerance`` after
    ``now``; a number or boolean column holding another type (``"fast"`` as latency,
    ``2.5`` tokens, ``"maybe"`` as success); a negative latency, token count, cost or
    manual minutes; satisfaction outside 1-5; and last a repeated ``event_id`` (the first
    otherwise valid row is kept, later ones are quarantined). Valid rows outside
    ``window`` are counted as outside the window, neither kept nor quarantined.

    Parameters
    ----------
    df : DataFrame
        Events with the contract's column names (map them first with ``apply_mapping``).
        Columns may hold text (as from CSV) or typed values.
    naive_utc : bool
        Read timestamps without a time zone as UTC. Without it, a ``ts`` column with no
        offsets at all is a structural error, and single naive rows are quarantined.
    now : Timestamp or str, optional
        Reference time for the future check (default: the current time).
    future_tolerance : str
        Allowed clock skew for the future check.
    window : TimeWindow, optional
        Keep only events inside this window.
    source : str
        A name for the source, shown in the summary.

    Returns
    -------
    ValidatedEvents
        ``events`` (clean, typed, sorted by ``ts``), ``quarantine`` and ``summary``.

    Raises
    ------
    WorkbenchError
        When the frame is empty, lacks a required column, or no timestamp has a time zone.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"event_id": ["a", "b", "b"], "ts": ["2024-01-01T10:00Z"] * 3,
    ...                     "user_id": ["u1"] * 3, "event_type": ["generation"] * 3,
    ...                     "latency_ms": ["120", "-5", "80"]})
    >>> v = validate_events(raw)
    >>> v.summary.rows_kept, v.quarantine["reason"].tolist()
    (2, ['negative_value'])
    """
    if not isinstance(df, pd.DataFrame):
        raise WorkbenchError(f"events must be a pandas DataFrame, not {type(df).__name__}")
    missing = [c for c in S.REQUIRED if c not in df.columns]
    if missing:
        raise WorkbenchError(
            f"events are missing required columns: {', '.join(missing)}\n"
            f"the source has: {', '.join(map(str, df.columns[:30]))}\n"
            "fix: rename your columns to the contract's names, or pass a column mapping "
            "such as {'ts': 'timestamp', 'user_id': 'actor'} (CLI: --mapping mapping.yaml)"
        )
    if len(df) == 0:
        raise WorkbenchError(f"the events source {source} is empty: it holds no rows to analyse")

    n = len(df)
    code = np.zeros(n, dtype=np.int8)
    col = np.full(n, None, dtype=object)

    def flag(mask: np.ndarray, reason: str, column: str) -> None:
        hit = mask & (code == 0)
        code[hit] = _REASON_CODES.index(reason) + 1
        col[hit] = column

    # 1. required values present
    blank = {c: _blank(df[c]) for c in S.REQUIRED}
    for c in S.REQUIRED:
        flag(blank[c], S.MISSING_REQUIRED, c)
    # 2-4. timestamps
    ts, unparsable, naive = _parse_ts(df[S.TS], naive_utc, ~blank[S.TS])
    flag(unparsable, S.UNPARSABLE_TIMESTAMP, S.TS)
    flag(naive, S.NAIVE_TIMESTAMP, S.TS)
    ref = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    ref = ref.tz_localize("UTC") if ref.tzinfo is None else ref
    flag((ts > ref + pd.Timedelta(future_tolerance)).fillna(False).to_numpy(dtype=bool), S.FUTURE_TIMESTAMP, S.TS)

    # 5-7. numbers and booleans
    numbers: dict[str, pd.Series] = {}
    for c in (*S.NONNEG_FLOAT, *S.NONNEG_INT, S.SATISFACTION):
        if c in df.columns:
            values, wrong = _parse_numeric(df[c])
            if c in S.NONNEG_INT:
                frac = values.notna().to_numpy() & (values.to_numpy() % 1 != 0)
                wrong = wrong | frac
            flag(wrong, S.WRONG_TYPE, c)
            numbers[c] = values
    bools: dict[str, pd.Series] = {}
    for c in S.BOOL:
        if c in df.columns:
            bools[c], wrong = _parse_bool(df[c])
            flag(wrong, S.WRONG_TYPE, c)
    for c in (*S.NONNEG_FLOAT, *S.NONNEG_INT):
        if c in numbers:
            flag((numbers[c] < 0).fillna(False).to_numpy(dtype=bool), S.NEGATIVE_VALUE, c)
    if S.SATISFACTION in numbers:
        lo, hi = S.SATISFACTION_RANGE
        sat = numbers[S.SATISFACTION]
        flag(((sat < lo) | (sat > hi)).fillna(False).to_numpy(dtype=bool), S.OUT_OF_RANGE, S.SATISFACTION)
    # 8. duplicates among otherwise valid rows
    ok = code == 0
    ids = _as_text(df[S.EVENT_ID]) if df[S.EVENT_ID].dtype == object else df[S.EVENT_ID]
    dup = np.zeros(n, dtype=bool)
    dup[ok] = ids[ok].duplicated(keep="first").to_numpy()
    flag(dup, S.DUPLICATE_EVENT_ID, S.EVENT_ID)

    ok = code == 0
    inside = ok.copy()
    if window is not None:
        inside &= window.mask(ts).fillna(False).to_numpy(dtype=bool)

    clean = _typed_frame(df, inside, ts, numbers, bools, ids)
    quarantined = code != 0
    quarantine = df.loc[quarantined].copy()
    quarantine.insert(0, "source_row", np.flatnonzero(quarantined))
    quarantine["reason"] = pd.Categorical(
        np.asarray(_REASON_CODES, dtype=object)[code[quarantined] - 1], categories=_REASON_CODES)
    quarantine["reason_column"] = col[quarantined]
    quarantine = quarantine.reset_index(drop=True)

    counts = np.bincount(code, minlength=len(_REASON_CODES) + 1)
    by_reason = {r: int(counts[i + 1]) for i, r in enumerate(_REASON_CODES)}
    et_counts = clean[S.EVENT_TYPE].value_counts()
    unknown = {str(t): int(k) for t, k in et_counts.items() if k and t not in S.EVENT_TYPES}
    summary = ValidationSummary(
        source=source, rows_read=n, rows_kept=len(clean), rows_quarantined=int(quarantined.sum()),
        rows_outside_window=int(ok.sum() - inside.sum()), by_reason=by_reason, unknown_event_types=unknown)
    assert summary.reconciles, summary  # an internal invariant, not input checking
    return ValidatedEvents(clean, quarantine, summary)


def _typed_frame(df: pd.DataFrame, keep: np.ndarray, ts: pd.Series, numbers: dict[str, pd.Series],
                 bools: dict[str, pd.Series], ids: pd.Series) -> pd.DataFrame:
    """Build the clean frame (contract columns with contract dtypes, then extras), sorted by ts."""
    out: dict[str, pd.Series] = {}
    k = keep
    index = df.index[k]
    for c in S.COLUMNS:
        dtype = S.DTYPES[c]
        if c == S.TS:
            v = ts[k].dt.as_unit("us")
        elif c == S.EVENT_ID:
            v = ids[k].astype("str")
        elif c in numbers:
            v = numbers[c][k].astype(dtype)
        elif c in bools:
            v = bools[c][k]
        elif c in df.columns:
            src = df[c][k]
            v = src.mask(_blank(src)) if not isinstance(src.dtype, pd.CategoricalDtype) else src
            v = _categorical(v) if dtype == "category" else v.astype("str")
        elif dtype == "category":  # absent optional column: all missing, still typed
            v = pd.Series(pd.Categorical([None] * len(index), categories=pd.Index([], dtype="str")), index=index)
        else:
            v = pd.Series(pd.NA if dtype in ("Int64", "boolean") else np.nan, index=index, dtype=dtype)
        out[c] = v
    extras = [c for c in df.columns if c not in S.DTYPES]
    for c in extras:
        out[c] = df[c][k]
    clean = pd.DataFrame(out)
    if not clean[S.TS].is_monotonic_increasing:
        clean = clean.iloc[np.argsort(clean[S.TS].to_numpy(), kind="stable")]
    return clean.reset_index(drop=True)
