"""The event contract: column names, types, the event vocabulary and quarantine reasons.

Every other module refers to these constants instead of spelling column names.
See ``docs/events.md`` for the contract as a table.
"""
from __future__ import annotations


# --- columns -------------------------------------------------------------------------------
EVENT_ID, TS, USER_ID, EVENT_TYPE = "event_id", "ts", "user_id", "event_type"
SESSION_ID, TEAM, FEATURE, MODEL = "session_id", "team", "feature", "model"
LATENCY_MS, TOKENS_IN, TOKENS_OUT, COST_USD = "latency_ms", "tokens_in", "tokens_out", "cost_usd"
CACHE_HIT, SUCCESS, SATISFACTION, MANUAL_MINUTES = "cache_hit", "success", "satisfaction", "manual_minutes"
REQUIRED: tuple[str, ...] = (EVENT_ID, TS, USER_ID, EVENT_TYPE)
#: Optional string columns; low-cardinality ones become categoricals.
OPTIONAL_STR: tuple[str, ...] = (SESSION_ID, TEAM, FEATURE, MODEL)
#: Optional float columns that must be >= 0.
NONNEG_FLOAT: tuple[str, ...] = (LATENCY_MS, COST_USD, MANUAL_MINUTES)
#: Optional integer columns that must be >= 0.
NONNEG_INT: tuple[str, ...] = (TOKENS_IN, TOKENS_OUT)
BOOL: tuple[str, ...] = (CACHE_HIT, SUCCESS)
SATISFACTION_RANGE = (1.0, 5.0)
#: All contract columns in their canonical order.
COLUMNS: tuple[str, ...] = (
    EVENT_ID, TS, USER_ID, EVENT_TYPE, SESSION_ID, TEAM, FEATURE, MODEL,
    LATENCY_MS, TOKENS_IN, TOKENS_OUT, COST_USD, CACHE_HIT, SUCCESS, SATISFACTION, MANUAL_MINUTES,
)
#: Clean-frame dtypes. Strings that repeat a lot are categoricals; ``ts`` is UTC.
DTYPES: dict[str, str] = {
    EVENT_ID: "str", TS: "datetime64[us, UTC]", USER_ID: "category", EVENT_TYPE: "category",
    SESSION_ID: "str", TEAM: "category", FEATURE: "category", MODEL: "category",
    LATENCY_MS: "float64", TOKENS_IN: "Int64", TOKENS_OUT: "Int64", COST_USD: "float64",
    CACHE_HIT: "boolean", SUCCESS: "boolean", SATISFACTION: "float64", MANUAL_MINUTES: "float64",
}
#: Reader columns (not part of the contract): a non-empty ``@reader_error`` marks a row the reader
#: could not split (quarantined as ``malformed_row``), ``@raw_line`` holds its text as it was.
READER_ERROR, RAW_LINE = "@reader_error", "@raw_line"
# --- the event vocabulary (extensible: unknown types are kept and reported) ------------------
EVENT_TYPES: dict[str, str] = {
    "session_start": "a developer opens the assistant (IDE panel, chat, CLI)",
    "search": "a search over code or docs",
    "cache_query": "a lookup in the answer cache (cache_hit says whether it answered)",
    "generation": "an LLM generation (code or chat answer)",
    "edit": "the developer edits generated output",
    "test_run": "tests run against generated code (success says whether they passed)",
    "accept": "the developer accepts the generated change",
    "export": "the result is exported (copied, committed, shared)",
    "feedback": "a satisfaction score is given",
    "error": "a failed request (timeouts, provider errors)",
    "deploy": "the accepted change is deployed",
    "session_end": "explicit end of a session",
}
# --- quarantine reasons, in the order they are checked (a row gets the first that applies) ---
MALFORMED_ROW = "malformed_row"
NUL_CHARACTER = "nul_character"
MISSING_REQUIRED = "missing_required"
UNPARSABLE_TIMESTAMP = "unparsable_timestamp"
NAIVE_TIMESTAMP = "naive_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
WRONG_TYPE = "wrong_type"
NEGATIVE_VALUE = "negative_value"
OUT_OF_RANGE = "out_of_range"
DUPLICATE_EVENT_ID = "duplicate_event_id"
REASONS: dict[str, str] = {
    MALFORMED_ROW: "the reader could not split the line into the header's columns (too few or too many fields); "
                   "the line is kept as it was in the column @raw_line",
    NUL_CHARACTER: "a text value holds a NUL character (a corrupt or binary file; databases refuse it)",
    MISSING_REQUIRED: "a required column (event_id, ts, user_id, event_type) is empty",
    UNPARSABLE_TIMESTAMP: "ts is not a date-time",
    NAIVE_TIMESTAMP: "ts has no time zone while other rows have one (pass naive_utc=True if such times are UTC)",
    FUTURE_TIMESTAMP: "ts lies in the future (beyond the allowed clock skew)",
    WRONG_TYPE: "a numeric or boolean column holds a value of another type (text in latency_ms, 2.5 tokens, 'maybe' in success)",
    NEGATIVE_VALUE: "latency_ms, tokens, cost_usd or manual_minutes is negative",
    OUT_OF_RANGE: "satisfaction is outside 1-5",
    DUPLICATE_EVENT_ID: "event_id repeats an earlier valid row (the first is kept)",
}
#: The reasons a frame in memory can earn (``malformed_row`` is a file reader's).
FRAME_REASONS: tuple[str, ...] = tuple(r for r in REASONS if r != MALFORMED_ROW)
