"""Reading CSV and Parquet files as they come: text columns, byte-order marks and encodings,
ragged lines kept for the quarantine, long rows, unterminated quotes (``docs/events.md``).
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd

from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError


def read_file(path: Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    if not path.exists():
        raise WorkbenchError(f"{path} does not exist: give a CSV or Parquet file, a folder of Parquet files, "
                             "or a database URL such as sqlite:///data/workbench.db")
    suffixes = "".join(path.suffixes).lower()
    try:
        if path.is_dir() or suffixes.endswith((".parquet", ".pq")):
            return _read_parquet(path)
        if suffixes.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            return _read_csv(path, encoding=encoding)
    except WorkbenchError:
        raise
    except Exception as exc:  # any parser failure is a structural problem with the file
        raise WorkbenchError(f"could not read {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    raise WorkbenchError(f"{path}: unknown file type {suffixes or '(none)'}; use .csv, .csv.gz or .parquet")


#: Rows (CSV records) longer than this are refused with a message naming the line: a value that
#: long is an unbalanced quote or a file that is not a CSV of events, never an event.
MAX_ROW_BYTES = 16 << 20


def _codec(encoding: str) -> str:
    """Python's name of an encoding, or a WorkbenchError naming a few that exist."""
    import codecs

    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise WorkbenchError(f"encoding={encoding!r} is unknown: use e.g. utf-8, latin-1, cp1252 or utf-16") from None


def _read_csv(path: Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read every column as text (nothing is coerced before validation sees it).

    A UTF-8 byte-order mark is skipped (spreadsheet exports start with one); other encodings
    (``latin-1``, ``cp1252``, ``utf-16``...) are decoded as given. A line that does not split
    into the header's columns keeps its place as a row with ``@reader_error`` and ``@raw_line``
    set (quarantined as ``malformed_row``), so the rest of the file is read and every row is
    accounted for.
    """
    if path.stat().st_size == 0:
        raise WorkbenchError(f"{path} is empty: it holds no header and no rows")
    import pyarrow as pa
    import pyarrow.csv as pacsv

    codec = _codec(encoding)
    if codec == "utf-8":
        codec = "utf-8-sig"  # the same bytes, without the mark some exports put first
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding=codec) as fh:
            header = next(csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), None)
    except UnicodeDecodeError as exc:
        raise WorkbenchError(_not_decodable(path, encoding, exc)) from None
    if not header:
        raise WorkbenchError(f"{path} has no header line")
    bad: list = []

    def on_bad_row(row) -> str:
        bad.append(row)
        return "skip"

    def read(threads: bool, block: int) -> pa.Table:
        return pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(encoding="utf8" if codec == "utf-8-sig" else codec,
                                                 use_threads=threads, block_size=block),
            parse_options=pacsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",",
                                             newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))

    block = 1 << 20
    while True:
        try:
            table = read(True, block)
            break
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "straddling" in message and block < MAX_ROW_BYTES:  # a long row: read again with room for it
                bad.clear()
                block = min(block * 4, MAX_ROW_BYTES)
                continue
            if "straddling" in message:
                raise WorkbenchError(_row_too_long(path, codec)) from None
            if "UTF8" in message or "utf-8" in message.lower():
                raise WorkbenchError(_not_decodable(path, encoding, message)) from None
            raise
    if bad:  # row numbers are known only to a single-threaded read
        bad.clear()
        table = read(False, block)
        for row in bad:
            if "\n" in row.text and row.text.count('"') % 2:  # the quote swallowed every later line
                first = row.text.split("\n", 1)[0]
                raise WorkbenchError(
                    f"{path}: data row {row.number - 1 if row.number else '?'} opens a quoted value that never "
                    f"closes, so the {row.text.count(chr(10)) + 1:,} lines from there on would read as one value: "
                    f"fix the double quote (\") in {first[:80]!r}")
    df = table.to_pandas()
    df.columns = [("Unnamed: 0" if c == "" else c) for c in df.columns]
    if bad:
        df = _with_malformed_rows(df, bad, len(header))
    return df


def _with_malformed_rows(df: pd.DataFrame, bad: list, expected: int) -> pd.DataFrame:
    """Put the lines the reader skipped back at their places, marked for the quarantine."""
    import numpy as np

    n = len(df) + len(bad)
    where = [(r.number - 2) if r.number is not None else n - len(bad) + i for i, r in enumerate(bad)]  # 1 = header
    is_bad = np.zeros(n, dtype=bool)
    is_bad[where] = True
    df.index = np.flatnonzero(~is_bad)
    marked = pd.DataFrame({S.READER_ERROR: [f"{r.actual_columns} fields where the header has {expected}"
                                            for r in bad],
                           S.RAW_LINE: [r.text for r in bad]}, index=where)
    return pd.concat([df, marked]).sort_index().reset_index(drop=True)


def _not_decodable(path: Path, encoding: str, detail: object) -> str:
    return (f"{path} is not {encoding} text ({str(detail).splitlines()[0][:120]}): give the file's encoding, "
            "e.g. encoding='latin-1', 'cp1252' or 'utf-16' (command line: --encoding latin-1)")


def _row_too_long(path: Path, codec: str) -> str:
    """Name the line that is too long, and why it probably is."""
    opener = gzip.open if str(path).endswith(".gz") else open
    number, longest, at = 0, 0, 0
    with opener(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):  # noqa: B007 - streaming, constant memory
            if len(line) > longest:
                longest, at = len(line), number
    if longest > MAX_ROW_BYTES:
        return (f"{path}: line {at:,} is {longest / 1e6:,.1f} MB long, more than a row may be "
                f"({MAX_ROW_BYTES >> 20} MB): it is not an event (a binary file, or text pasted into one cell?); "
                "remove or fix that line")
    return (f"{path}: a quoted value does not end: from some line on, the rest of the file ({number:,} lines) "
            "reads as one value longer than a row may be; look for an unbalanced double quote (\")")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq
    schema = pq.read_schema(next(path.rglob("*.parquet")) if path.is_dir() else path)
    low_card = [c for c in (S.USER_ID, S.EVENT_TYPE, S.TEAM, S.FEATURE, S.MODEL) if c in schema.names]
    table = pq.read_table(path, read_dictionary=low_card)
    return table.to_pandas()
