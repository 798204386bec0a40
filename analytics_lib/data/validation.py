"""VALIDATION_DOC
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analytics_lib.core.compat import renamed
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError

if TYPE_CHECKING:
    from analytics_lib.core.timewindow import TimeWindow


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
        blank_cats = _blank_categories(s.cat.categories)
        if blank_cats.any():
            codes = s.cat.codes.to_numpy()
            miss |= (codes >= 0) & blank_cats[np.maximum(codes, 0)]
    elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        text = s if isinstance(s.dtype, pd.StringDtype) else s.astype("str")
        miss |= _blank_text(text)
    return miss


def _blank_text(text: pd.Series) -> np.ndarray:
    """Empty or whitespace-only strings (missing -> False), with Arrow kernels when Arrow-backed."""
    if hasattr(text.array, "__arrow_array__"):
        import pyarrow.compute as pc

        arr = text.array.__arrow_array__()
        blank = pc.fill_null(pc.or_(pc.utf8_is_space(arr), pc.equal(pc.binary_length(arr), 0)), False)
        if not pc.any(blank).as_py():  # the common case: no bitmap-to-bytes conversion
            return np.zeros(len(text), dtype=bool)
        return np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)
    return (text.str.isspace() | (text.str.len() == 0)).fillna(False).to_numpy(dtype=bool)


#: Text columns checked for NUL characters (a NUL elsewhere already fails its type or time check).
_TEXT_COLUMNS = (S.EVENT_ID, S.USER_ID, S.EVENT_TYPE, S.SESSION_ID, S.TEAM, S.FEATURE, S.MODEL)


def _has_nul(s: pd.Series) -> np.ndarray:
    """Values holding a NUL character, vectorized (categories checked once; Arrow kernels when Arrow-backed)."""
    none = np.zeros(len(s), dtype=bool)
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if not (cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype)):
            return none
        bad = np.asarray(pd.Series(cats).astype(str).str.contains("\x00", regex=False), dtype=bool)
        if not bad.any():
            return none
        codes = s.cat.codes.to_numpy()
        return (codes >= 0) & bad[np.maximum(codes, 0)]
    if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
        return none
    if hasattr(s.array, "__arrow_array__"):
        import pyarrow.compute as pc

        hit = pc.match_substring(s.array.__arrow_array__(), "\x00")
        if not pc.any(hit).as_py():
            return none
        return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
    return s.astype("str").str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)


def _blank_categories(cats: pd.Index) -> np.ndarray:
    if not (cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype)):
        return np.zeros(len(cats), dtype=bool)
    return np.asarray(pd.Series(cats).astype(str).str.strip() == "")


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
    if pd.api.types.is_numeric_dtype(s.dtype):  # typed already: compared as it is, no copy
        return s, np.zeros(len(s), dtype=bool)
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
    """A categorical with text categories that are sorted, used and not blank (blank -> NA).

    For categorical input (e.g. dictionary-encoded Parquet) only the codes are remapped:
    no pass over the values' text.
    """
    if not isinstance(s.dtype, pd.CategoricalDtype):
        text = s if isinstance(s.dtype, pd.StringDtype) else s.astype("str")
        return text.mask(_blank(text)).astype("category")
    import pyarrow as pa
    import pyarrow.compute as pc

    cats = s.cat.categories
    text_cats = pd.Index(cats.astype(str), dtype="str")
    codes = s.cat.codes.to_numpy()  # int8/int16/int32; -1 = missing
    present = codes.min() >= 0 if len(codes) else True
    pa_codes = pa.array(codes, mask=None if present else codes < 0)  # Arrow works on the small ints as they are
    seen = pc.unique(pa_codes).drop_null().to_numpy()
    used = np.zeros(len(cats), dtype=bool)
    used[seen] = True
    used &= ~_blank_categories(cats)
    if used.all() and text_cats.is_monotonic_increasing and text_cats.is_unique and cats.dtype == text_cats.dtype:
        return s
    kept = np.flatnonzero(used)
    order = np.argsort(np.asarray(text_cats[kept], dtype=object), kind="stable")
    new_cats = text_cats[kept[order]]
    if not new_cats.is_unique:  # e.g. categories 1 and "1": fall back to text
        return s.astype("str").astype("category")
    remap = np.full(len(cats), -1, dtype=codes.dtype)
    remap[kept[order]] = np.arange(len(kept), dtype=codes.dtype)
    new_codes = pc.fill_null(pc.take(pa.array(remap), pa_codes), -1).to_numpy(zero_copy_only=False)
    dtype = pd.CategoricalDtype(new_cats)
    return pd.Series(pd.Categorical.from_codes(new_codes, dtype=dtype, validate=False), index=s.index, name=s.name)


def _duplicates(ids: pd.Series) -> np.ndarray:
    """Later repeats of an id (the first is not flagged).

    Ids that arrive in ascending order (sequences, ULIDs, UUIDv7, time-prefixed ids) are
    checked with one comparison of neighbours; any other order with a hash table.
    """
    n = len(ids)
    if n < 2:
        return np.zeros(n, dtype=bool)
    if hasattr(ids.array, "__arrow_array__"):  # Arrow kernels on neighbours, no pandas round trips
        import pyarrow.compute as pc

        arr = ids.array.__arrow_array__()
        head, tail = arr.slice(0, n - 1), arr.slice(1)
        if not pc.any(pc.less_equal(tail, head)).as_py():
            return np.zeros(n, dtype=bool)  # strictly ascending: no repeats at all
        if not pc.any(pc.less(tail, head)).as_py():  # ascending with ties
            eq = pc.fill_null(pc.equal(tail, head), False).to_numpy(zero_copy_only=False)
            return np.concatenate([[False], np.asarray(eq, dtype=bool)])
    else:
        values = ids.array
        head, tail = values[:-1], values[1:]
        try:
            if not bool(np.asarray(tail <= head, dtype=bool).any()):
                return np.zeros(n, dtype=bool)
            if not bool(np.asarray(tail < head, dtype=bool).any()):
                return np.concatenate([[False], np.asarray(tail == head, dtype=bool)])
        except TypeError:  # mixed types that do not compare: use the hash table
            pass
    return _duplicates_hashed(ids)


def _duplicates_hashed(ids: pd.Series) -> np.ndarray:
    """Repeats in any order: DuckDB's parallel hash aggregate finds the repeated values (usually
    few), then pandas marks the later occurrences among those candidates only."""
    if len(ids) < 500_000 or not hasattr(ids.array, "__arrow_array__"):
        return ids.duplicated(keep="first").to_numpy()
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = ids.array.__arrow_array__()
    with duckdb.connect() as con:
        con.register("ids", pa.table({"id": arr}))
        repeated = con.execute("SELECT id FROM ids GROUP BY id HAVING count(*) > 1").fetchnumpy()["id"]
    out = np.zeros(len(ids), dtype=bool)
    if len(repeated) == 0:
        return out
    value_set = pa.array(np.asarray(repeated, dtype=object), type=pa.large_string())
    candidates = np.asarray(pc.is_in(arr, value_set=value_set.cast(arr.type)).to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(candidates)
    out[rows] = ids.iloc[rows].duplicated(keep="first").to_numpy()
    return out


@renamed(df='events', window='dates')
def validate_events(events: pd.DataFrame, *, naive_utc: bool = False, now: pd.Timestamp | str | None = None,
                    future_tolerance: str = "5min", dates: TimeWindow | None = None,
                    source: str = "<frame>") -> ValidatedEvents:
    """Check events against the contract and split them into clean events and a quarantine.

    Each row is checked in this order and gets the first reason that applies
    (see ``schema.REASONS``): a line the reader could not split (``@reader_error`` set by
    :func:`~analytics_lib.data.load.load_events` for CSV files); a NUL character in a text column;
    a required value missing; ``ts`` unparsable; ``ts`` without
    a time zone while other rows have one; ``ts`` more than ``future_tolerance`` after
    ``now``; a number or boolean column holding another type (``"fast"`` as latency,
    ``2.5`` tokens, ``"maybe"`` as success); a negative latency, token count, cost or
    manual minutes; satisfaction outside 1-5; and last a repeated ``event_id`` (the first
    otherwise valid row is kept, later ones are quarantined). Valid rows outside
    ``dates`` are counted as outside the window, neither kept nor quarantined.

    Parameters
    ----------
    events : DataFrame
        Events with the contract's column names (map them first with ``apply_mapping``).
        Columns may hold text (as from CSV) or typed values.
    naive_utc : bool
        Read timestamps without a time zone as UTC. Without it, a ``ts`` column with no
        offsets at all is a structural error, and single naive rows are quarantined.
    now : Timestamp or str, optional
        Reference time for the future check (default: the current time).
    future_tolerance : str
        Allowed clock skew for the future check.
    dates : TimeWindow, optional
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
    _check_structure(events, source)
    parsed = _parse_columns(events, naive_utc=naive_utc, now=now, future_tolerance=future_tolerance)
    code, col = _first_reasons(events, parsed)
    ok = code == 0
    inside = ok.copy()
    if dates is not None and (dates.start is not None or dates.end is not None):
        inside &= _mask(dates.mask(parsed.ts))
    clean = _typed_frame(events, inside, parsed.ts, parsed.numbers, parsed.bools, parsed.ids, parsed.categoricals,
                         parsed.blank.get(S.SESSION_ID))
    rows = np.flatnonzero(code != 0)
    quarantine = events.iloc[rows].copy() if len(rows) else events.iloc[:0].copy()  # untouched rows
    quarantine.insert(0, "source_row", rows)
    quarantine["reason"] = pd.Categorical.from_codes(code[rows] - 1, categories=_REASON_CODES)
    quarantine["reason_column"] = np.asarray((None, *S.COLUMNS), dtype=object)[col[rows]]
    quarantine = quarantine.reset_index(drop=True)

    counts = np.bincount(code, minlength=len(_REASON_CODES) + 1)
    by_reason = {r: int(counts[i + 1]) for i, r in enumerate(_REASON_CODES)}
    et_counts = clean[S.EVENT_TYPE].value_counts()
    unknown = {str(t): int(k) for t, k in et_counts.items() if k and t not in S.EVENT_TYPES}
    summary = ValidationSummary(
        source=source, rows_read=len(events), rows_kept=len(clean), rows_quarantined=len(rows),
        rows_outside_window=int(np.count_nonzero(ok) - np.count_nonzero(inside)), by_reason=by_reason,
        unknown_event_types=unknown)
    assert summary.reconciles, summary  # an internal invariant, not input checking
    return ValidatedEvents(clean, quarantine, summary)


def _check_structure(events: Any, source: str) -> None:
    """Stop on what no row can fix: not a frame, a required column missing, no rows."""
    if not isinstance(events, pd.DataFrame):
        raise WorkbenchError(f"events must be a pandas DataFrame, not {type(events).__name__}")
    missing = [c for c in S.REQUIRED if c not in events.columns]
    if missing:
        raise WorkbenchError(
            f"events are missing required columns: {', '.join(missing)}\n"
            f"the source has: {', '.join(map(str, events.columns[:30]))}\n"
            "fix: rename your columns to the contract's names, or pass a column mapping "
            "such as {'ts': 'timestamp', 'user_id': 'actor'} (CLI: --mapping mapping.yaml)"
        )
    if len(events) == 0:
        raise WorkbenchError(f"the events source {source} is empty: it holds no rows to analyse")


@dataclass
class _Parsed:
    """Every column parsed and checked on its own (internal to :func:`validate_events`)."""

    ts: pd.Series
    unparsable: np.ndarray
    naive: np.ndarray
    future: np.ndarray
    numbers: dict[str, pd.Series]
    bools: dict[str, pd.Series]
    wrong: list[tuple[np.ndarray, str]]
    negative: list[tuple[np.ndarray, str]]
    out_of_range: np.ndarray | None
    blank: dict[str, np.ndarray]
    categoricals: dict[str, pd.Series]
    ids: pd.Series
    duplicates: np.ndarray
    nul: dict[str, np.ndarray]


def _parse_columns(events: pd.DataFrame, *, naive_utc: bool, now: pd.Timestamp | str | None,
                   future_tolerance: str) -> _Parsed:
    """Parse timestamps, numbers and booleans and find blanks, NULs and repeated ids, column by column.

    Per-column work that needs no other column runs on two threads (Arrow and numpy release the
    GIL) while this thread parses timestamps, numbers and booleans.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        blank_jobs = {c: pool.submit(_blank, events[c]) for c in (*S.REQUIRED, S.SESSION_ID) if c in events.columns}
        cat_jobs = {c: pool.submit(_categorical, events[c]) for c in S.COLUMNS
                    if S.DTYPES[c] == "category" and c in events.columns}
        ids = events[S.EVENT_ID] if isinstance(events[S.EVENT_ID].dtype, pd.StringDtype) else events[S.EVENT_ID].astype("str")
        dup_job = pool.submit(_duplicates, ids)  # speculative: valid if every row passes the other checks
        nul_jobs = {c: pool.submit(_has_nul, events[c]) for c in _TEXT_COLUMNS if c in events.columns}

        ts, unparsable, naive = _parse_ts(events[S.TS], naive_utc, ~events[S.TS].isna().to_numpy())
        ref = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        ref = ref.tz_localize("UTC") if ref.tzinfo is None else ref
        future = _mask(ts > ref + pd.Timedelta(future_tolerance))
        numbers: dict[str, pd.Series] = {}
        wrong: list[tuple[np.ndarray, str]] = []
        for c in (*S.NONNEG_FLOAT, *S.NONNEG_INT, S.SATISFACTION):
            if c in events.columns:
                values, bad = _parse_numeric(events[c])
                if c in S.NONNEG_INT and not pd.api.types.is_integer_dtype(events[c].dtype):
                    bad = bad | (values.notna().to_numpy() & (values.to_numpy() % 1 != 0))
                wrong.append((bad, c))
                numbers[c] = values
        bools: dict[str, pd.Series] = {}
        for c in S.BOOL:
            if c in events.columns:
                bools[c], bad = _parse_bool(events[c])
                wrong.append((bad, c))
        negative = [(np.less(_floats(numbers[c]), 0), c) for c in (*S.NONNEG_FLOAT, *S.NONNEG_INT) if c in numbers]
        out_of_range = None
        if S.SATISFACTION in numbers:
            lo, hi = S.SATISFACTION_RANGE
            sat = _floats(numbers[S.SATISFACTION])
            out_of_range = np.less(sat, lo) | np.greater(sat, hi)
        return _Parsed(ts=ts, unparsable=unparsable, naive=naive, future=future, numbers=numbers, bools=bools,
                       wrong=wrong, negative=negative, out_of_range=out_of_range,
                       blank={c: job.result() for c, job in blank_jobs.items()},
                       categoricals={c: job.result() for c, job in cat_jobs.items()}, ids=ids,
                       duplicates=dup_job.result(), nul={c: job.result() for c, job in nul_jobs.items()})


def _first_reasons(events: pd.DataFrame, parsed: _Parsed) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first reason (0 = valid, else 1 + index into the reasons) and its column (0 = none,
    else 1 + index into the contract's columns), the checks applied in the documented order."""
    n = len(events)
    code = np.zeros(n, dtype=np.int8)
    col = np.zeros(n, dtype=np.int8)

    def flag(mask: np.ndarray, reason: str, column: str | None) -> None:
        if not mask.any():
            return
        hit = mask & (code == 0)
        code[hit] = _REASON_CODES.index(reason) + 1
        col[hit] = 0 if column is None else S.COLUMNS.index(column) + 1

    if S.READER_ERROR in events.columns:                      # 0. lines the reader could not split
        flag(events[S.READER_ERROR].notna().to_numpy(), S.MALFORMED_ROW, None)
    for c, mask in parsed.nul.items():                    # 0. NUL characters (corrupt or binary data)
        flag(mask, S.NUL_CHARACTER, c)
    for c in S.REQUIRED:                                  # 1. required values present
        flag(parsed.blank[c], S.MISSING_REQUIRED, c)
    flag(parsed.unparsable, S.UNPARSABLE_TIMESTAMP, S.TS)  # 2-4. timestamps
    flag(parsed.naive, S.NAIVE_TIMESTAMP, S.TS)
    flag(parsed.future, S.FUTURE_TIMESTAMP, S.TS)
    for bad, c in parsed.wrong:                           # 5. types
        flag(bad, S.WRONG_TYPE, c)
    for bad, c in parsed.negative:                        # 6. signs
        flag(bad, S.NEGATIVE_VALUE, c)
    if parsed.out_of_range is not None:                   # 7. ranges
        flag(parsed.out_of_range, S.OUT_OF_RANGE, S.SATISFACTION)
    ok = code == 0                                        # 8. duplicates among otherwise valid rows
    if ok.all():
        dup = parsed.duplicates
    else:
        dup = np.zeros(n, dtype=bool)
        dup[ok] = _duplicates(parsed.ids[ok])
    flag(dup, S.DUPLICATE_EVENT_ID, S.EVENT_ID)
    return code, col


def _floats(values: pd.Series) -> np.ndarray:
    """Numbers as a float64 array with NaN for missing (no copy when already float64)."""
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _mask(cond: pd.Series) -> np.ndarray:
    """A comparison result as a plain bool array, missing -> False, without a fillna copy."""
    return cond.to_numpy(dtype=bool, na_value=False)


def _typed_frame(df: pd.DataFrame, keep: np.ndarray, ts: pd.Series, numbers: dict[str, pd.Series],
                 bools: dict[str, pd.Series], ids: pd.Series, categoricals: dict[str, pd.Series],
                 session_blank: np.ndarray | None) -> pd.DataFrame:
    """Build the clean frame (contract columns with contract dtypes, then extras), sorted by ts.

    Columns that already have their contract dtype are passed through, and when every row
    is kept nothing is copied by masking.
    """
    everything = bool(keep.all())
    take = (lambda x: x) if everything else (lambda x: x[keep])  # noqa: E731
    index = df.index if everything else df.index[keep]
    out: dict[str, pd.Series] = {}
    for c in S.COLUMNS:
        dtype = S.DTYPES[c]
        given = df[c] if c in df.columns else None
        if c == S.TS:
            v = take(ts).dt.as_unit("us")
        elif c == S.EVENT_ID:
            v = take(ids).astype("str")
        elif given is not None and str(given.dtype) == dtype and dtype != "category" and c != S.SESSION_ID:
            v = take(given)  # already typed and checked
        elif c in numbers:
            v = take(numbers[c]).astype(dtype)
        elif c in bools:
            v = take(bools[c])
        elif c in categoricals:  # normalised on the whole column; drop categories only the rejects used
            v = categoricals[c] if everything else _categorical(take(categoricals[c]))
        elif given is not None:  # session_id: text, blank -> missing
            src = take(given)
            blank = take(session_blank) if session_blank is not None else _blank(src)
            v = (src.mask(blank) if blank.any() else src).astype("str")
        elif dtype == "category":  # absent optional column: all missing, still typed
            v = pd.Series(pd.Categorical.from_codes(np.full(len(index), -1), categories=pd.Index([], dtype="str")),
                          index=index)
        else:
            v = pd.Series(pd.NA if dtype in ("Int64", "boolean") else np.nan, index=index, dtype=dtype)
        out[c] = v
    for c in df.columns:
        if c not in S.DTYPES and c not in (S.READER_ERROR, S.RAW_LINE):  # reader marks stay in the quarantine
            out[c] = take(df[c])
    clean = pd.DataFrame(out, copy=False)
    if not clean[S.TS].is_monotonic_increasing:
        clean = clean.iloc[np.argsort(clean[S.TS].to_numpy(), kind="stable")]
    return clean.reset_index(drop=True)
