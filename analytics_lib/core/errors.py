"""The one exception type for problems a user can fix (a message that says what to fix).
"""
from __future__ import annotations


class WorkbenchError(ValueError):
    """A structural problem with the input or a parameter, with a message that says what to fix.

    Raised for a missing required column, an empty or unreadable source, a mapping
    that names columns that do not exist, a bad database URL, or an invalid
    parameter. Row-level problems never raise: those rows are quarantined.

    Examples
    --------
    >>> from analytics_lib import WorkbenchError, validate_events
    >>> import pandas as pd
    >>> try:
    ...     validate_events(pd.DataFrame({"event_id": ["a"]}))
    ... except WorkbenchError as e:
    ...     print(str(e).splitlines()[0])
    events are missing required columns: ts, user_id, event_type
    """
