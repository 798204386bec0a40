"""Events partitioned by user (a shuffle with a checkpoint), so per-user analyses run per partition.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from analytics_lib.compute.dask.cluster import ROWS_PER_PARTITION, _keeps_dtypes
from analytics_lib.compute.dask.readers import DaskEvents
from analytics_lib.core import schema as S
from analytics_lib.core.errors import WorkbenchError


# ============================================================================================
# Events partitioned by user
@dataclass(frozen=True)
class UserPartitioned:
    """Validated events in which every user's events are in one partition, in source order.

    Attributes
    ----------
    frame : dask.dataframe.DataFrame
        The events (index ``row``); each partition is sorted by ``ts`` then ``row``, so a
        pandas function sees a user's events exactly as in the whole frame.
    """

    frame: Any

    def persist(self) -> "UserPartitioned":
        """Keep the partitions in the cluster's memory (when they fit) for several analyses.

        Examples
        --------
        >>> from analytics_lib import synthetic_events
        >>> up = events_by_user(synthetic_events(2_000, days=28, seed=0).events).persist()
        >>> up.frame.npartitions
        1
        """
        return UserPartitioned(self.frame.persist())

    @_keeps_dtypes
    def checkpoint(self, path: str | os.PathLike, *, compute: bool = True):
        """Write the partitions to Parquet, one file per partition, and continue from those files.

        This keeps the workers' memory bounded when several results are computed from the same
        events (``dask.compute(dask_kpi_table(s), dask_session_table(s).to_parquet(...))``).
        Dask starts a shuffle's output partitions as soon as the shuffle ends, and a partition
        that several analyses read stays in memory until the last of them ran: on data larger
        than the cluster's memory, they pile up and spill. Read back from files, the partitions
        are root tasks again, which the scheduler hands out only as fast as the workers finish
        them. The cost is one write and one read of the shuffled events.

        Parameters
        ----------
        path : str or path
            A new or empty folder that every worker can write and read: a local disk for a local
            cluster, a mounted shared folder for a cluster of several machines. Delete it when done.
        compute : bool
            True: write now and return the partitions read back. False: return a
            :class:`Checkpoint` whose ``write`` is computed together with other results
            (``dask.compute(cp.write, events.counts)``: one pass over the source for both).

        Returns
        -------
        UserPartitioned or Checkpoint
            The same partitions (users, order, dtypes), read from ``path/part.<n>.parquet``.

        Examples
        --------
        >>> import tempfile
        >>> from analytics_lib import synthetic_events
        >>> up = events_by_user(synthetic_events(2_000, days=28, seed=0).events, npartitions=2)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     again = up.checkpoint(tmp)
        ...     again.frame.compute().sort_index().equals(up.frame.compute().sort_index())
        True
        """
        from dask import delayed

        folder = Path(path)
        if folder.is_file() or (folder.is_dir() and any(folder.iterdir())):
            raise WorkbenchError(f"checkpoint folder {folder} must be new or empty (it holds files): "
                                 "give a fresh folder, the partitions are written as part.<n>.parquet")
        folder.mkdir(parents=True, exist_ok=True)
        files = [str(folder / f"part.{i}.parquet") for i in range(self.frame.npartitions)]
        # a Dask frame, not a delayed: computed with other Dask frames, the shared reading is done once
        write = self.frame.map_partitions(_written_partition, str(folder), meta=_WRITTEN_META, enforce_metadata=False)
        import dask.dataframe as dd

        reads = [delayed(_read_partition, pure=False)(f) for f in files]
        users = UserPartitioned(dd.from_delayed(reads, meta=self.frame._meta, verify_meta=False))
        if not compute:
            return Checkpoint(users=users, write=write)
        write.compute()
        return users


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint to write along with other results (``UserPartitioned.checkpoint(path, compute=False)``).

    Attributes
    ----------
    users : UserPartitioned
        The partitions read back from the files: use them once ``write`` was computed.
    write : dask.dataframe.DataFrame
        Writes the files when computed; one row per partition: ``rows`` written.

    Examples
    --------
    >>> import dask, tempfile
    >>> from analytics_lib import synthetic_events
    >>> from analytics_lib.compute.dask.readers import dask_events
    >>> loaded = dask_events(synthetic_events(2_000, days=28, end="2025-06-30", seed=0).events, now="2025-07-01")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cp = events_by_user(loaded).checkpoint(tmp, compute=False)
    ...     written, counts = dask.compute(cp.write, loaded.counts)   # one pass over the source
    ...     back = len(cp.users.frame.compute())
    >>> int(written["rows"].sum()) == back == int(counts["rows_kept"].sum())
    True
    """

    users: UserPartitioned
    write: Any


_WRITTEN_META = pd.DataFrame({"rows": pd.Series([], dtype="int64")})


def _written_partition(part: pd.DataFrame, folder: str, partition_info: dict | None = None) -> pd.DataFrame:
    """Write one partition (index included, its own categories) to ``folder/part.<n>.parquet``."""
    if partition_info is None:  # Dask probing the function: nothing to write
        return _WRITTEN_META
    part.to_parquet(Path(folder) / f"part.{partition_info['number']}.parquet", index=True)
    return pd.DataFrame({"rows": [len(part)]}, dtype="int64")


def _read_partition(file: str) -> pd.DataFrame:
    return pd.read_parquet(file)


@_keeps_dtypes
def events_by_user(events, *, columns: Sequence[str] | None = None, npartitions: int | None = None,
                   shuffle_method: str | None = None) -> UserPartitioned:
    """Shuffle events so that each user's events are in one partition, each in source order.

    Parameters
    ----------
    events : DaskEvents, dask DataFrame, pandas DataFrame or UserPartitioned
        Validated events (a pandas frame is split into partitions of
        ``ROWS_PER_PARTITION`` rows; a ``UserPartitioned`` is returned as it is).
    columns : list of str, optional
        Keep only these columns (``ts`` and ``user_id`` always): less to move in the shuffle
        when the analyses need few columns (``event_id`` is the widest and rarely needed).
    npartitions : int, optional
        Output partitions (default: as many as the input).
    shuffle_method : str, optional
        Dask's shuffle: ``"p2p"`` (default on a distributed cluster: disk-backed, bounded
        memory) or ``"tasks"``.

    Returns
    -------
    UserPartitioned

    Examples
    --------
    >>> from analytics_lib import synthetic_events
    >>> up = events_by_user(synthetic_events(2_000, days=28, seed=0).events, npartitions=3)
    >>> parts = up.frame.map_partitions(lambda d: d["user_id"].astype(str).drop_duplicates()).compute()
    >>> parts.is_unique  # no user in two partitions
    True
    """
    if isinstance(events, UserPartitioned):
        return events
    frame = _as_dask(events)
    if columns is not None:
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise WorkbenchError(f"columns={unknown} are not columns of the events ({', '.join(frame.columns)})")
        frame = frame[[c for c in frame.columns if c in {*columns, S.TS, S.USER_ID}]]
    n = int(npartitions) if npartitions else frame.npartitions
    if n < 1:
        raise WorkbenchError(f"npartitions={npartitions} must be at least 1")
    # user_id travels as text: its categories grow with the data, and the shuffle's Arrow tables cannot
    # unify dictionaries beyond the width of the pieces' codes (int16 for up to 32,767 users per piece)
    text_meta = frame._meta.assign(**{S.USER_ID: frame._meta[S.USER_ID].astype("str")})
    as_text = frame.map_partitions(_user_as_text, meta=text_meta)
    shuffled = as_text.shuffle(on=S.USER_ID, npartitions=n, shuffle_method=shuffle_method)
    return UserPartitioned(shuffled.map_partitions(_source_order, meta=frame._meta))


def _as_dask(events):
    import dask.dataframe as dd

    if isinstance(events, DaskEvents):
        return events.events
    if isinstance(events, pd.DataFrame):
        frame = events.rename_axis("row").copy(deep=False)
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index(drop=True).rename_axis("row")
        frame.index = frame.index.astype("int64")
        n = max(1, math.ceil(len(frame) / ROWS_PER_PARTITION))
        return dd.from_pandas(frame, npartitions=n, sort=False)
    if isinstance(events, dd.DataFrame):
        return events
    raise WorkbenchError(f"events must be DaskEvents, a Dask or pandas DataFrame of validated events, "
                         f"not {type(events).__name__}")


def _user_as_text(part: pd.DataFrame) -> pd.DataFrame:
    return part.assign(**{S.USER_ID: part[S.USER_ID].astype("str")})


def _source_order(part: pd.DataFrame) -> pd.DataFrame:
    """A shuffled partition in source order (``ts``, then ``row``), ``user_id`` a categorical again."""
    part = part.assign(**{S.USER_ID: part[S.USER_ID].astype("category")})
    if len(part) < 2:
        return part
    ts = part[S.TS].dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None).to_numpy().view(np.int64)
    order = np.lexsort((part.index.to_numpy(dtype=np.int64), ts))
    return part.iloc[order]


def _probe(meta: pd.DataFrame) -> pd.DataFrame:
    """A tiny valid events frame with the columns of ``meta``, to run a pandas function on."""
    from analytics_lib.data.validation import validate_events

    raw = pd.DataFrame({
        S.EVENT_ID: ["p1", "p2", "p3", "p4"],
        S.TS: ["2024-01-01T10:00:00Z", "2024-01-01T10:05:00Z", "2024-01-08T10:00:00Z", "2024-01-08T10:01:00Z"],
        S.USER_ID: ["a", "a", "a", "b"], S.EVENT_TYPE: ["session_start", "generation", "session_start", "accept"],
        S.TEAM: ["t", "t", "t", "u"], S.FEATURE: ["f", "f", "f", "f"], S.MODEL: [None, "m", None, None],
        S.LATENCY_MS: ["10", "20", None, None], S.CACHE_HIT: [None, "false", None, None],
        S.SATISFACTION: [None, "4", None, None], S.COST_USD: ["0", "0.1", "0", "0"],
    })
    ev = validate_events(raw, now="2024-02-01").events
    for c in meta.columns:
        if c not in ev.columns:
            ev[c] = pd.Series(pd.NA, index=ev.index).astype(meta[c].dtype)
    return ev
