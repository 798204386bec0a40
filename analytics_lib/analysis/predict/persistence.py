"""At-risk lists and saved models with their metadata (checksums, versions, features).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence, TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics_lib.analysis.predict.churn import EXPLAIN_DRIVERS, _library_versions
from analytics_lib.analysis.predict.features import SESSION_FEATURES, USER_FEATURES
from analytics_lib.core.checks import check_positive_int
from analytics_lib.core.compat import moved_modules_quietly
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.files import atomic_write
from analytics_lib.core.sources import check_team

if TYPE_CHECKING:
    from analytics_lib.analysis.predict.churn import ChurnModel
    from analytics_lib.analysis.predict.satisfaction import SatisfactionModel


# ============================================================================================
# The at-risk list
def at_risk_table(model: ChurnModel, features: pd.DataFrame, *, top_k: int = 50, team: str | Sequence[str] | None = None,
                  reasons: int = 3) -> pd.DataFrame:
    """The ``top_k`` users most likely to churn, with their reasons in plain words.

    Parameters
    ----------
    model : ChurnModel
        Fitted.
    features : DataFrame
        :func:`user_features` at the cutoff to score (usually the latest day).
    top_k : int
        Users listed.
    team : str or list of str, optional
        List only these teams' users (the model is the same for all).
    reasons : int
        Reasons per user (:meth:`ChurnModel.explain`).

    Returns
    -------
    DataFrame
        ``rank, user_id, team, churn_probability, recency_rule_probability, last_active_days,
        sessions_28d, reason_1 ... reason_<reasons>, cutoff``, highest risk first. A user whose
        risk nothing stands out for has empty reasons.

    Raises
    ------
    WorkbenchError
        For a team that none of the scored users belongs to (the message lists the teams).

    Examples
    --------
    >>> model = ChurnModel().fit(events)  # doctest: +SKIP
    >>> at_risk_table(model, user_features(events, cutoff="today"), top_k=20, team="team-a")  # doctest: +SKIP
    """
    k = check_positive_int(top_k, "top_k")
    n_reasons = check_positive_int(reasons, "reasons", high=len(EXPLAIN_DRIVERS))
    pred = model.predict(features)
    pred["team"] = features["team"].astype("str").to_numpy() if "team" in features else None
    pred["last_active_days"] = features["recency_days"].to_numpy()
    pred["sessions_28d"] = features["sessions_28d"].to_numpy()
    if team is not None:
        teams = check_team(team)
        known = sorted(pred["team"].dropna().unique().tolist())
        unknown = [t for t in teams if t not in known]
        if unknown:
            raise WorkbenchError(f"team={team!r}: no scored user belongs to {', '.join(unknown)}; the teams are "
                                 f"{', '.join(known) or 'none'}")
        pred = pred[pred["team"].isin(teams).to_numpy()]
    top = pred.sort_values(["churn_probability", "user_id"], ascending=[False, True], kind="stable").head(k)
    top = top.reset_index(drop=True)
    expl = model.explain(features, users=top["user_id"], top=n_reasons)
    wide = expl.pivot(index="user_id", columns="rank", values="reason").reindex(
        index=top["user_id"], columns=range(1, n_reasons + 1))
    out = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "user_id": top["user_id"], "team": top["team"],
                        "churn_probability": top["churn_probability"],
                        "recency_rule_probability": top["recency_rule"],
                        "last_active_days": top["last_active_days"], "sessions_28d": top["sessions_28d"]})
    for r in range(1, n_reasons + 1):
        out[f"reason_{r}"] = wide[r].fillna("").to_numpy(dtype=object)
    out["cutoff"] = top["cutoff"].array
    return out


def write_at_risk(table: pd.DataFrame, output_dir: str | os.PathLike, *, name: str = "at_risk_users") -> list[Path]:
    """Write the at-risk list as ``<name>.csv`` and ``<name>.xlsx`` (one sheet, openpyxl).

    Each file is written under a temporary name and renamed, so a reader never sees half a
    file. Excel cannot hold time zones: timestamps are written as UTC without a zone.

    Parameters
    ----------
    table : DataFrame
        The at-risk list (from :func:`at_risk_table`), written as it is, without its index.
    output_dir : str or path
        The folder to write to; created (with its parents) if missing. Existing files of the
        same name are replaced.
    name : str
        The files' name without extension: letters, digits, ``_``, ``-`` and ``.``, not
        starting with ``.`` (default ``"at_risk_users"``).

    Returns
    -------
    list of pathlib.Path
        The CSV and the XLSX file.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_at_risk(pd.DataFrame({"user_id": ["u1"]}), tempfile.mkdtemp())]
    ['at_risk_users.csv', 'at_risk_users.xlsx']
    """
    import re

    if not isinstance(table, pd.DataFrame):
        raise WorkbenchError(f"table must be a DataFrame (from at_risk_table), got {type(table).__name__}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise WorkbenchError(f"name={name!r} is not a plain file name: use letters, digits, '_', '-' or '.'")
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot create the output folder {out}: {exc.strerror}") from exc
    excel = table.copy()
    for c in excel.columns:
        if isinstance(excel[c].dtype, pd.DatetimeTZDtype):
            excel[c] = excel[c].dt.tz_convert("UTC").dt.tz_localize(None)
    csv_path, xlsx_path = out / f"{name}.csv", out / f"{name}.xlsx"
    atomic_write(csv_path, lambda p: table.to_csv(p, index=False))
    atomic_write(xlsx_path, lambda p: excel.to_excel(p, index=False, sheet_name="at risk", engine="openpyxl"))
    return [csv_path, xlsx_path]


# ============================================================================================
# Saving and loading models
_MODEL_FEATURES = {"ChurnModel": lambda: list(USER_FEATURES), "SatisfactionModel": lambda: list(SESSION_FEATURES)}


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def model_metadata(model: ChurnModel | SatisfactionModel) -> dict[str, Any]:
    """What :func:`save_model` writes next to a model: kind, features, training window, scores, versions.

    Examples
    --------
    >>> from analytics_lib import ChurnModel
    >>> model_metadata(ChurnModel())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    WorkbenchError: this ChurnModel is not fitted yet
    """
    kind = type(model).__name__
    if kind not in _MODEL_FEATURES:
        raise WorkbenchError(f"save_model saves a ChurnModel or a SatisfactionModel, got {kind}")
    model._fitted()
    return _jsonable({
        "kind": kind, "created_utc": pd.Timestamp.now("UTC").isoformat(), "features": list(model.features_),
        "chosen_model": model.model_name_, "training_window": model.training_window_,
        "validation_scores": model.validation_scores_.to_dict(orient="records"), "params": model.get_params(),
        **_library_versions(),
    })


def save_model(model: ChurnModel | SatisfactionModel, path: str | os.PathLike) -> tuple[Path, Path]:
    """Save a fitted model (joblib) and its metadata (a JSON sidecar with the same stem).

    The sidecar holds the feature list, the training window, the validation scores, the
    library and scikit-learn versions and the model file's SHA-256, so a scheduled job or a
    dashboard can show what the model is without unpickling it, and :func:`load_model` can
    refuse a file that changed or a model whose features this library no longer computes.
    Both files are written under temporary names and renamed.

    Parameters
    ----------
    model : ChurnModel or SatisfactionModel
        Fitted.
    path : str or path
        The model file, e.g. ``reports/predictions/churn_model.joblib`` (sidecar
        ``churn_model.json``).

    Returns
    -------
    tuple of pathlib.Path
        The model file and the sidecar.

    Examples
    --------
    >>> import tempfile
    >>> from analytics_lib import SatisfactionModel, session_features, synthetic_events
    >>> sf = session_features(synthetic_events(30_000, days=60, end="2025-06-30", seed=0).events)
    >>> model_file, sidecar = save_model(SatisfactionModel(n_repeats=1).fit(sf), f"{tempfile.mkdtemp()}/sat.joblib")
    >>> sidecar.name, load_model(model_file).features_ == list(SESSION_FEATURES)
    ('sat.json', True)
    """
    import joblib

    meta = model_metadata(model)
    path = Path(path)
    if path.suffix == ".json":
        raise WorkbenchError(f"path={str(path)!r}: the model file cannot end in .json (that is its sidecar's name); "
                             "use e.g. churn_model.joblib")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot create the folder {path.parent}: {exc.strerror}") from exc
    atomic_write(path, lambda p: joblib.dump(model, p))
    meta["file"], meta["sha256"] = path.name, _sha256(path)
    side = _sidecar(path)
    atomic_write(side, lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True)))
    return path, side


def load_model(path: str | os.PathLike, *, kind: str | None = None) -> ChurnModel | SatisfactionModel:
    """Load a model saved by :func:`save_model`, after checking it against its sidecar and this library.

    Refused (with a :class:`WorkbenchError` that says what to do): a missing file or sidecar,
    a model file whose checksum differs from the sidecar's, a model of another ``kind``, and
    a model whose feature list differs from the one this library computes (retrain it). A
    different scikit-learn version only warns. Only load files you saved yourself: joblib
    files run code when loaded.

    Parameters
    ----------
    path : str or path
        The model file.
    kind : {"ChurnModel", "SatisfactionModel"}, optional
        The kind expected.

    Returns
    -------
    ChurnModel or SatisfactionModel

    Examples
    --------
    >>> load_model("reports/predictions/churn_model.joblib", kind="ChurnModel")  # doctest: +SKIP
    """
    import warnings

    import joblib

    path = Path(path)
    side = _sidecar(path)
    if not path.is_file():
        raise WorkbenchError(f"no model file at {path}: train and save one with save_model(model, path)")
    if not side.is_file():
        raise WorkbenchError(f"the model {path} has no metadata sidecar {side.name}: save models with save_model(...)")
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"the sidecar {side} is not readable JSON ({exc}); save the model again") from exc
    if meta.get("sha256") != _sha256(path):
        raise WorkbenchError(f"{path.name} changed after it was saved (its checksum differs from {side.name}): "
                             "save the model again with save_model(...)")
    saved_kind = meta.get("kind")
    if saved_kind not in _MODEL_FEATURES:
        raise WorkbenchError(f"{side.name} names an unknown model kind {saved_kind!r}")
    if kind is not None and kind != saved_kind:
        raise WorkbenchError(f"{path.name} holds a {saved_kind}, not a {kind}")
    expected = _MODEL_FEATURES[saved_kind]()
    if meta.get("features") != expected:
        got = list(meta.get("features") or [])
        missing, extra = [f for f in expected if f not in got], [f for f in got if f not in expected]
        raise WorkbenchError(
            f"{path.name} was trained on other features than this library computes (missing: {missing or 'none'}; "
            f"unknown: {extra or 'none'}; or another order): retrain the model with this library version")
    versions = _library_versions()
    if meta.get("sklearn_version") != versions["sklearn_version"]:
        warnings.warn(f"{path.name} was saved with scikit-learn {meta.get('sklearn_version')}, this is "
                      f"{versions['sklearn_version']}: retrain it if predictions look wrong", UserWarning, stacklevel=2)
    with moved_modules_quietly():  # a model saved by 0.1 names its classes' old modules
        model = joblib.load(path)
    if type(model).__name__ != saved_kind or getattr(model, "features_", None) != expected:
        raise WorkbenchError(f"{path.name} does not hold the {saved_kind} its sidecar describes: save it again")
    return model
