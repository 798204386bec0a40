"""Delivery events beside the usage events: changes, deployments and incidents (the DORA inputs).

The contract (``docs/delivery.md``), one frame per kind, optional columns in brackets:

- **changes**: ``change_id, team, committed_at`` (the change's first commit) ``[author, merged_at, service]``;
- **deployments**: ``deploy_id, team, deployed_at, status`` (``success``/``failure``)
  ``[environment, service, changes]`` where ``changes`` lists the change ids it shipped (a list,
  or text separated by spaces, commas or semicolons), or the link frame ``deploy_id, change_id``
  is given on its own;
- **incidents**: ``incident_id, opened_at, resolved_at`` (empty while open) ``, deploy_id`` (the
  deployment that caused it) ``[team, service]``;
- **adoption** (optional): ``team, adopted_at``, when each team started using the assistant.

:func:`validate_delivery` checks them together and quarantines what cannot be used, with the
reason and the source row, so that rows in = rows kept + rows quarantined for every kind:
``malformed_row`` (a CSV line that does not split into the header's columns),
``missing_required``, ``unparsable_timestamp``, ``duplicate_id`` (the first is kept),
``unknown_status``; a deployment with no known change is ``no_changes``; a link to a change or
deployment that is not there is ``unknown_change``/``unknown_deployment``; a change committed
after the deployment that shipped it, or an incident resolved before it opened, is
``clock_skew``; an incident with no deployment is ``no_deployment``.

In a SQL store the frames are the tables ``delivery_changes``, ``delivery_deployments``,
``delivery_deployment_changes``, ``delivery_incidents`` and ``assistant_adoption``; elsewhere a
folder with ``changes``, ``deployments``, ``incidents`` (and ``deployment_changes``,
``adoption``) as CSV or Parquet files.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.redaction import redact
from analytics_lib.core.sources import is_sql_url

#: Required columns of each kind (the optional ones are kept when present).
REQUIRED: dict[str, tuple[str, ...]] = {
    "changes": ("change_id", "team", "committed_at"),
    "deployments": ("deploy_id", "team", "deployed_at", "status"),
    "links": ("deploy_id", "change_id"),
    "incidents": ("incident_id", "opened_at", "deploy_id"),
    "adoption": ("team", "adopted_at"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "changes": ("author", "merged_at", "service"),
    "deployments": ("environment", "service"),
    "links": (),
    "incidents": ("resolved_at", "team", "service"),
    "adoption": (),
}
TABLES = {"changes": "delivery_changes", "deployments": "delivery_deployments",
          "links": "delivery_deployment_changes", "incidents": "delivery_incidents", "adoption": "assistant_adoption"}
QUARANTINE_TABLE = "delivery_quarantine"
_FILES = {"changes": "changes", "deployments": "deployments", "links": "deployment_changes",
          "incidents": "incidents", "adoption": "adoption"}
_TIMES = {"changes": ("committed_at", "merged_at"), "deployments": ("deployed_at",), "links": (),
          "incidents": ("opened_at", "resolved_at"), "adoption": ("adopted_at",)}
_IDS = {"changes": "change_id", "deployments": "deploy_id", "incidents": "incident_id", "adoption": "team"}
#: Status words read as a successful or a failed deployment (case-insensitive).
STATUS_WORDS = {"success": "success", "succeeded": "success", "successful": "success", "ok": "success",
                "completed": "success", "deployed": "success", "failure": "failure", "failed": "failure",
                "error": "failure", "errored": "failure", "rolled_back": "failure", "cancelled": "failure",
                "canceled": "failure"}
PRODUCTION = "production"


@dataclass(frozen=True)
class DeliveryData:
    """Validated delivery events and what was quarantined.

    ``changes``, ``deployments``, ``links`` (``deploy_id, change_id``), ``incidents`` and
    ``adoption`` hold the usable rows with UTC times; ``quarantine`` holds every refused row as
    ``kind, source_row, id, reason``; ``counts`` reconciles: per kind ``rows``, ``kept``,
    ``quarantined``."""

    changes: pd.DataFrame
    deployments: pd.DataFrame
    links: pd.DataFrame
    incidents: pd.DataFrame
    adoption: pd.DataFrame
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    counts: pd.DataFrame = field(default_factory=pd.DataFrame)

    def reasons(self) -> pd.DataFrame:
        """Quarantined rows per kind and reason."""
        if self.quarantine.empty:
            return pd.DataFrame(columns=["kind", "reason", "rows"])
        return self.quarantine.groupby(["kind", "reason"]).size().rename("rows").reset_index()


def _split_ids(value) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return []
    return [v for v in re.split(r"[\s,;]+", str(value).strip().strip("[]")) if v.strip("'\"")]


def _links_from_deployments(deployments: pd.DataFrame) -> pd.DataFrame:
    """The link frame from a ``changes`` column of the deployments."""
    ids = deployments["changes"].map(_split_ids)
    rows = ids.explode().dropna()
    return pd.DataFrame({"deploy_id": deployments.loc[rows.index, "deploy_id"].astype(str).to_numpy(),
                         "change_id": rows.astype(str).str.strip("'\"").to_numpy()})


def _check(kind: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Columns checked, times parsed, ids text; the reason of every row that is unusable by itself."""
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    if missing:
        raise WorkbenchError(f"the {kind} lack the column(s) {', '.join(missing)}: they need "
                             f"{', '.join(REQUIRED[kind])} (docs/delivery.md)")
    frame = frame.reset_index(drop=True)
    keep = [*REQUIRED[kind], *(c for c in OPTIONAL[kind] if c in frame.columns)]
    f = frame[keep].copy()
    reason = pd.Series(pd.NA, index=f.index, dtype="object")
    text = [c for c in REQUIRED[kind] if c not in _TIMES[kind]]
    needed = [c for c in REQUIRED[kind] if (kind, c) != ("incidents", "deploy_id")]  # no deployment: its own reason
    text_needed = [c for c in text if c in needed]
    blank = f[needed].isna().any(axis=1)
    if text_needed:
        blank |= f[text_needed].astype(str).apply(lambda s: s.str.strip().eq("")).any(axis=1)
    reason[blank] = "missing_required"
    if "@raw_line" in frame.columns:
        ragged = frame["@raw_line"].notna()
        reason[ragged] = "malformed_row"
        f["@raw_line"] = frame["@raw_line"]
    for c in _TIMES[kind]:
        if c not in f.columns:
            continue
        raw = f[c]
        ts = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        given = raw.notna() & raw.astype(str).str.strip().ne("")
        reason[reason.isna() & given & ts.isna()] = "unparsable_timestamp"
        f[c] = ts
    for c in text:
        f[c] = f[c].astype("string").str.strip().fillna("")
    for c in OPTIONAL[kind]:
        if c in f.columns and c not in _TIMES[kind]:
            f[c] = f[c].astype("string").str.strip()
    if kind in _IDS:
        ok = reason.isna()
        repeat = f[ok].duplicated(_IDS[kind], keep="first")
        reason[repeat[repeat].index] = "duplicate_id"
    return f, reason


def _quarantined(kind: str, frame: pd.DataFrame, reason: pd.Series) -> pd.DataFrame:
    bad = reason.notna()
    ident = frame[_IDS[kind]] if kind in _IDS else frame["deploy_id"].astype(str) + "/" + frame["change_id"].astype(str)
    if "@raw_line" in frame.columns:  # a ragged row is named by its line as read
        ident = ident.where(frame["@raw_line"].isna(), frame["@raw_line"])
    return pd.DataFrame({"kind": kind, "source_row": np.flatnonzero(bad.to_numpy()),
                         "id": ident[bad].astype(str).to_numpy(), "reason": reason[bad].to_numpy()})


def validate_delivery(changes: pd.DataFrame, deployments: pd.DataFrame, incidents: pd.DataFrame | None = None, *,
                      links: pd.DataFrame | None = None, adoption: pd.DataFrame | None = None) -> DeliveryData:
    """Check delivery events together; quarantine what cannot be used, with the reason.

    Parameters
    ----------
    changes, deployments : DataFrame
        The contract's columns (module docstring); ``deployments`` may carry a ``changes``
        column instead of ``links``.
    incidents : DataFrame, optional
        None: no incidents (every change failure rate is then 0).
    links : DataFrame, optional
        ``deploy_id, change_id``.
    adoption : DataFrame, optional
        ``team, adopted_at``.

    Raises
    ------
    WorkbenchError
        When a required column is missing or a deployment has neither links nor ``changes``.

    Examples
    --------
    >>> ch = pd.DataFrame({"change_id": ["c1", "c2"], "team": "a",
    ...                    "committed_at": ["2025-06-01T09:00Z", "2025-06-03T09:00Z"]})
    >>> dp = pd.DataFrame({"deploy_id": ["d1", "d2"], "team": "a", "deployed_at": ["2025-06-02T10:00Z", "2025-06-02"],
    ...                    "status": ["success", "success"], "changes": ["c1", ""]})
    >>> inc = pd.DataFrame({"incident_id": ["i1"], "opened_at": ["2025-06-02T12:00Z"],
    ...                     "resolved_at": ["2025-06-02T11:00Z"], "deploy_id": ["d1"]})
    >>> v = validate_delivery(ch, dp, inc)
    >>> v.deployments["deploy_id"].tolist(), v.quarantine["reason"].tolist()
    (['d1'], ['no_changes', 'clock_skew'])
    >>> v.counts.loc["changes"].tolist()  # rows, kept, quarantined
    [2, 2, 0]
    """
    if links is None:
        if "changes" not in deployments.columns:
            raise WorkbenchError("the deployments need a 'changes' column (the change ids each shipped) or a "
                                 "separate link table deploy_id, change_id (docs/delivery.md)")
        d0 = deployments.reset_index(drop=True)
        links = _links_from_deployments(d0.assign(deploy_id=d0["deploy_id"].astype(str).str.strip()))
    if incidents is None:
        incidents = pd.DataFrame(columns=list(REQUIRED["incidents"]) + ["resolved_at"])
    if adoption is None:
        adoption = pd.DataFrame(columns=list(REQUIRED["adoption"]))
    checked = {k: _check(k, f) for k, f in (("changes", changes), ("deployments", deployments), ("links", links),
                                           ("incidents", incidents), ("adoption", adoption))}
    c, rc = checked["changes"]
    d, rd = checked["deployments"]
    lk, rl = checked["links"]
    i, ri = checked["incidents"]
    a, ra = checked["adoption"]
    status = d["status"].astype(str).str.strip().str.lower().map(STATUS_WORDS)
    rd[rd.isna() & status.isna()] = "unknown_status"
    d["status"] = status
    d["environment"] = (d["environment"].fillna(PRODUCTION).str.lower() if "environment" in d.columns
                        else PRODUCTION)
    # links: to known changes and deployments, never before the commit
    good_c = c.loc[rc.isna(), ["change_id", "committed_at"]]
    good_d = d.loc[rd.isna(), ["deploy_id", "deployed_at"]]
    rl[rl.isna() & ~lk["deploy_id"].isin(good_d["deploy_id"])] = "unknown_deployment"
    rl[rl.isna() & ~lk["change_id"].isin(good_c["change_id"])] = "unknown_change"
    when = lk.merge(good_c, on="change_id", how="left").merge(good_d, on="deploy_id", how="left")
    rl[rl.isna() & (when["committed_at"] > when["deployed_at"]).to_numpy()] = "clock_skew"
    repeat = lk[rl.isna()].duplicated(["deploy_id", "change_id"])
    rl[repeat[repeat].index] = "duplicate_id"
    shipped = set(lk.loc[rl.isna(), "deploy_id"])
    rd[rd.isna() & ~d["deploy_id"].isin(shipped)] = "no_changes"
    # incidents: caused by a known deployment, resolved after they opened
    ok_d = d.loc[rd.isna()]
    ri[ri.isna() & i["deploy_id"].eq("")] = "no_deployment"
    ri[ri.isna() & ~i["deploy_id"].isin(ok_d["deploy_id"])] = "unknown_deployment"
    if "resolved_at" not in i.columns:
        i["resolved_at"] = pd.NaT
    ri[ri.isna() & (i["resolved_at"] < i["opened_at"])] = "clock_skew"
    team_of = ok_d.set_index("deploy_id")["team"]
    i["team"] = (i["team"].fillna(i["deploy_id"].map(team_of)) if "team" in i.columns
                 else i["deploy_id"].map(team_of))
    kept = {k: f[r.isna()].drop(columns="@raw_line", errors="ignore") for k, f, r in
            (("changes", c, rc), ("deployments", d, rd), ("links", lk, rl), ("incidents", i, ri), ("adoption", a, ra))}
    quarantine = pd.concat([_quarantined(k, checked[k][0], r) for k, r in
                            (("changes", rc), ("deployments", rd), ("links", rl), ("incidents", ri),
                             ("adoption", ra))], ignore_index=True)
    counts = pd.DataFrame({"rows": [len(checked[k][0]) for k in kept], "kept": [len(v) for v in kept.values()]},
                          index=pd.Index(list(kept), name="kind"))
    counts["quarantined"] = quarantine.groupby("kind").size().reindex(counts.index, fill_value=0)
    assert (counts["kept"] + counts["quarantined"] == counts["rows"]).all()  # every row is accounted for
    return DeliveryData(*(v.reset_index(drop=True) for v in kept.values()), quarantine=quarantine, counts=counts)


def _as_mapping(mapping: Mapping[str, Mapping[str, str]] | str | os.PathLike | None) -> dict[str, dict[str, str]]:
    if mapping is None:
        return {}
    if isinstance(mapping, (str, os.PathLike)):
        from analytics_lib.data.load import read_yaml

        mapping = read_yaml(mapping, what="mapping file")
    if not isinstance(mapping, Mapping) or any(k not in REQUIRED or not isinstance(v, Mapping)
                                               for k, v in mapping.items()):
        raise WorkbenchError(f"a delivery mapping is {{kind: {{contract column: your column}}}} with kinds "
                             f"{', '.join(REQUIRED)}")
    return {k: dict(v) for k, v in mapping.items()}


def _renamed(kind: str, frame: pd.DataFrame, mapping: Mapping[str, str], where: str) -> pd.DataFrame:
    absent = [v for v in mapping.values() if v not in frame.columns]
    if absent:
        raise WorkbenchError(f"{where}: the mapping of {kind} names column(s) {', '.join(absent)} that are not there")
    out = frame.copy()
    for contract, col in mapping.items():
        out[contract] = frame[col]
    return out


def read_delivery(source: str | os.PathLike, *, mapping: Mapping[str, Mapping[str, str]] | str | None = None,
                  encoding: str = "utf-8") -> DeliveryData:
    """Read and validate the delivery events of a SQL store or of a folder of CSV/Parquet files.

    Parameters
    ----------
    source : str or path
        A SQLAlchemy URL (the ``delivery_*`` tables and ``assistant_adoption`` when present) or a
        folder with ``changes``, ``deployments``, ``incidents`` (and optionally
        ``deployment_changes``, ``adoption``) as ``.csv`` or ``.parquet``.
    mapping : dict or YAML path, optional
        ``{kind: {contract column: your column}}`` for exports with other names, e.g.
        ``{"deployments": {"deploy_id": "id", "deployed_at": "finished_at", "changes": "commit_shas"}}``.
    encoding : str
        Text encoding of CSV files (a UTF-8 byte-order mark is skipped).

    Examples
    --------
    >>> read_delivery("no/such/folder")
    Traceback (most recent call last):
    ...
    analytics_lib.core.errors.WorkbenchError: no/such/folder: no delivery events here (give a store URL or a folder with changes, deployments and incidents files; docs/delivery.md)
    """
    raw = load_delivery_tables(source, encoding=encoding)
    maps = _as_mapping(mapping)
    frames = {k: _renamed(k, f, maps.get(k, {}), redact(str(source))) if f is not None else None
              for k, f in raw.items()}
    if frames["changes"] is None or frames["deployments"] is None:
        raise WorkbenchError(f"{redact(str(source))}: the changes and the deployments are both needed (docs/delivery.md)")
    data = validate_delivery(frames["changes"], frames["deployments"], frames["incidents"], links=frames["links"],
                             adoption=frames["adoption"])
    earlier = raw.get("quarantine")
    if earlier is None or earlier.empty:
        return data
    # a store keeps what was quarantined when the events were written: the counts include it
    counts = data.counts.copy()
    before = earlier.groupby("kind").size().reindex(counts.index, fill_value=0)
    counts["rows"] += before
    counts["quarantined"] += before
    return dataclasses.replace(data, quarantine=pd.concat([earlier, data.quarantine], ignore_index=True),
                               counts=counts)


def load_delivery_tables(source: str | os.PathLike, *, encoding: str = "utf-8") -> dict[str, pd.DataFrame | None]:
    """The delivery frames as stored (``None`` for a kind that is absent), before any check; a
    store also gives its ``quarantine`` (the rows refused when the events were written).

    Parameters
    ----------
    source : str or path
        A SQLAlchemy URL or a folder (:func:`read_delivery`).
    encoding : str
        Text encoding of CSV files.
    """
    source = str(source)
    if is_sql_url(source):
        import sqlalchemy as sa

        from analytics_lib.data.sql import db_connect, engine_for

        engine = engine_for(source)
        try:
            with db_connect(engine, source) as conn:
                have = set(sa.inspect(conn).get_table_names())
                if TABLES["deployments"] not in have:
                    raise WorkbenchError(f"{redact(source)} has no delivery events (table {TABLES['deployments']}): "
                                         "load them with `workbench delivery ingest` or write them with "
                                         "write_delivery (workbench sample plants a set; docs/delivery.md)")
                tables = {**TABLES, "quarantine": QUARANTINE_TABLE}
                return {k: pd.read_sql_table(t, conn) if t in have else None for k, t in tables.items()}
        finally:
            engine.dispose()
    from analytics_lib.data.files import read_file

    folder = Path(source)
    found: dict[str, pd.DataFrame | None] = {}
    for kind, stem in _FILES.items():
        paths = [p for p in (folder / f"{stem}{s}" for s in (".csv", ".csv.gz", ".parquet")) if p.is_file()]
        frame = read_file(paths[0], encoding=encoding) if paths else None
        found[kind] = frame  # a ragged row stays a row with @raw_line, quarantined as malformed_row
    if not folder.is_dir() or all(v is None for v in found.values()):
        raise WorkbenchError(f"{source}: no delivery events here (give a store URL or a folder with changes, "
                             "deployments and incidents files; docs/delivery.md)")
    return found


def adoption_usage(source: str | os.PathLike, data: DeliveryData) -> pd.DataFrame | None:
    """The usage events to read the adoption dates from: a store's, when its delivery events carry
    none; else None (the dates are stored, or a folder of delivery files has no usage log).

    Parameters
    ----------
    source : str or path
        Where ``data`` was read from.
    data : DeliveryData

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> adoption_usage("sqlite:///data/workbench.db", synthetic_delivery(seed=0).data) is None  # dates stored
    True
    """
    if len(data.adoption) or not is_sql_url(str(source)):
        return None
    from analytics_lib.data.load import load_events

    return load_events(str(source)).events


def write_delivery(data: DeliveryData, store: str) -> dict[str, int]:
    """Write validated delivery events and their quarantine (``kind, source_row, id, reason``) into
    a SQL store, replacing the delivery tables.

    Parameters
    ----------
    data : DeliveryData
        From :func:`validate_delivery` (only the kept rows are written).
    store : str
        A SQLAlchemy URL.

    Returns
    -------
    dict
        Rows written per table.

    Examples
    --------
    >>> import tempfile
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> n = write_delivery(synthetic_delivery(seed=0).data, f"sqlite:///{tempfile.mkdtemp()}/d.db")
    >>> n["delivery_quarantine"]
    9
    """
    from analytics_lib.data.sql import db_connect, engine_for

    engine = engine_for(store, create=True)
    written = {}
    try:
        with db_connect(engine, store) as conn, conn.begin():
            for kind, table in TABLES.items():
                frame = getattr(data, kind).copy()
                for c in _TIMES[kind]:
                    if c in frame.columns:
                        frame[c] = frame[c].dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
                frame.to_sql(table, conn, if_exists="replace", index=False)
                written[table] = int(len(frame))
            data.quarantine.to_sql(QUARANTINE_TABLE, conn, if_exists="replace", index=False)
            written[QUARANTINE_TABLE] = int(len(data.quarantine))
    finally:
        engine.dispose()
    return written
