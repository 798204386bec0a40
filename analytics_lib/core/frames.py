"""Small helpers on frames that several layers share.
"""
from __future__ import annotations

import pandas as pd


def flat_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Named index levels become columns; column names become text."""
    named = any(n is not None for n in table.index.names)
    frame = table.reset_index() if named else table.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame
