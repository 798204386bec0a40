"""Malformed rows for the sample log: one quarantine reason each, as a CSV export would carry them.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.data.synthetic.world import _DAY_MS, _padded


# --- malformed rows ------------------------------------------------------------------------
_TEXT_COLUMNS = (S.TS, S.LATENCY_MS, S.TOKENS_IN, S.TOKENS_OUT, S.COST_USD, S.SUCCESS,
                 S.SATISFACTION, S.MANUAL_MINUTES)


def _as_text(events: pd.DataFrame) -> pd.DataFrame:
    """Render the columns that can hold bad values as text, the way a CSV reader sees them."""
    out = events.copy()
    ts = events[S.TS].dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    text = np.char.add(np.datetime_as_string(ts, unit="ms"), "+00:00").astype(object)
    out[S.TS] = pd.Series(text, index=events.index, dtype="str")
    for c in (S.LATENCY_MS, S.COST_USD, S.SATISFACTION, S.MANUAL_MINUTES, S.TOKENS_IN, S.TOKENS_OUT):
        s = events[c]
        out[c] = s.astype(str).where(s.notna()).astype("str")
    s = events[S.SUCCESS]
    out[S.SUCCESS] = pd.Series(np.where(s.fillna(False).to_numpy(dtype=bool), "true", "false"),
                               index=events.index, dtype="str").where(s.notna())
    return out


def _with_malformed(rng: np.random.Generator, clean: pd.DataFrame, share: float,
                    end: pd.Timestamp) -> tuple[pd.DataFrame, dict[str, int]]:
    """Interleave extra malformed rows (one quarantine reason each) with the clean rows."""
    n = len(clean)
    reasons = list(S.FRAME_REASONS)
    total = max(len(reasons), round(share * n))
    counts = np.full(len(reasons), total // len(reasons))
    counts[: total % len(reasons)] += 1
    text = _as_text(clean)
    next_id = n + 1
    parts, keys = [], []
    feedback_rows = np.flatnonzero((clean[S.EVENT_TYPE] == "feedback").to_numpy())
    for reason, k in zip(reasons, counts):
        k = int(k)
        if reason == S.OUT_OF_RANGE and len(feedback_rows):
            src = rng.choice(feedback_rows, size=k)
        else:
            src = rng.integers(0, n, k)
        rows = text.iloc[src].reset_index(drop=True)
        variant = np.arange(k)
        if reason != S.DUPLICATE_EVENT_ID:
            rows[S.EVENT_ID] = pd.array(_padded("e", np.arange(next_id, next_id + k), max(10, len(str(n + total)))),
                                        dtype=S.DTYPES[S.EVENT_ID])
            next_id += k
            pos = rng.integers(0, n, k)
        else:
            pos = src + (rng.random(k) * (n - src)).astype(np.int64)  # at or after the original
        _corrupt(rows, reason, variant, rng, clean, src, end)
        parts.append(rows)
        keys.append(2 * pos + 1)
    bad = pd.concat(parts, ignore_index=True)
    combined = pd.concat([text, bad], ignore_index=True)
    order = np.argsort(np.concatenate([2 * np.arange(n), *keys]), kind="stable")
    combined = combined.iloc[order].reset_index(drop=True)
    for c in (S.USER_ID, S.EVENT_TYPE, S.TEAM, S.FEATURE, S.MODEL):
        combined[c] = combined[c].astype(pd.CategoricalDtype(clean[c].cat.categories))
    for c in _TEXT_COLUMNS:
        combined[c] = combined[c].astype("str")
    return combined, {r: 0 for r in S.REASONS} | dict(zip(reasons, map(int, counts)))


def _corrupt(rows: pd.DataFrame, reason: str, variant: np.ndarray, rng: np.random.Generator,
             clean: pd.DataFrame, src: np.ndarray, end: pd.Timestamp) -> None:
    """Make every row of ``rows`` fail exactly ``reason`` (variants cycle through the columns)."""
    def pick(options: list[Any]) -> np.ndarray:
        return np.asarray(options, dtype=object)[variant % len(options)]

    if reason == S.MISSING_REQUIRED:
        for i, c in enumerate(S.REQUIRED):
            sel = variant % len(S.REQUIRED) == i
            rows.loc[sel, c] = None
    elif reason == S.UNPARSABLE_TIMESTAMP:
        rows[S.TS] = pick(["not a date", "2024-13-45", "2025-02-30T10:00:00+00:00", "yesterday 10am"])
    elif reason == S.NAIVE_TIMESTAMP:
        naive = np.datetime_as_string(clean[S.TS].dt.tz_convert(None).to_numpy()[src], unit="ms")
        rows[S.TS] = naive.astype(object)
    elif reason == S.FUTURE_TIMESTAMP:
        # far enough ahead to lie in the future for any clock the data is read with
        base = (end + pd.DateOffset(years=80)).value // 1000
        offs = rng.integers(0, 365 * _DAY_MS, len(rows)) * 1000
        future = np.datetime_as_string((base + offs).astype("datetime64[us]"), unit="ms")
        rows[S.TS] = np.char.add(future, "+00:00").astype(object)
    elif reason == S.WRONG_TYPE:
        cols = [S.LATENCY_MS, S.TOKENS_IN, S.TOKENS_IN, S.SUCCESS]
        vals = ["fast", "2.5", "many", "maybe"]
        for i, (c, v) in enumerate(zip(cols, vals)):
            rows.loc[variant % len(cols) == i, c] = v
    elif reason == S.NEGATIVE_VALUE:
        cols = [S.LATENCY_MS, S.COST_USD, S.TOKENS_OUT, S.MANUAL_MINUTES]
        vals = ["-120.5", "-0.01", "-5", "-3.0"]
        for i, (c, v) in enumerate(zip(cols, vals)):
            rows.loc[variant % len(cols) == i, c] = v
    elif reason == S.OUT_OF_RANGE:
        rows[S.SATISFACTION] = pick(["0", "7.5"])
    elif reason == S.NUL_CHARACTER:  # a corrupt export: a NUL inside an id
        for i, c in enumerate((S.EVENT_ID, S.SESSION_ID)):
            sel = variant % 2 == i
            rows.loc[sel, c] = rows.loc[sel, c].astype(str) + "\x00"
