"""A measured effect in place of self-reported minutes: the ROI's realisation rate from the
assistant's effect on delivery (``analysis.delivery.adoption_effect``).

The ROI values time saved as ``realisation_rate * manual_minutes - session_minutes``, where
``manual_minutes`` are the effort users *say* accepted work replaced. A measured relative effect
on lead time for changes (e.g. -0.15 from the delivery notebook) gives another figure: the
assistant's users save ``-effect * effort_share`` of their working hours, where ``effort_share``
is the part of a change's lead time that is developer work (the rest is waiting: review, CI,
release trains). :func:`realisation_from_effect` turns that into the realisation rate that
makes the ROI's time saved over the observed days equal it, so the rest of the ROI (tornado,
Monte Carlo, scenarios) is unchanged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from analytics_lib.core.errors import WorkbenchError


@dataclass(frozen=True)
class MeasuredRealisation:
    """The realisation rate a measured effect implies, and the figures behind it."""

    rate: float
    measured_hours: float
    recorded_hours: float
    session_hours: float
    user_months: float
    clipped: bool

    def note(self) -> str:
        """One sentence for the report."""
        text = (f"Time saved is measured, not self-reported: {self.measured_hours:,.0f} hours over "
                f"{self.user_months:,.1f} user-months of the observed days, against {self.recorded_hours:,.0f} "
                f"recorded manual hours; the realisation rate is set to {self.rate:.2f}.")
        return text + (" (The measured saving exceeds what users recorded: the rate is capped at 1.)"
                       if self.clipped else "")


def lead_time_effect(effect: float | str | os.PathLike) -> float:
    """The measured relative effect on lead time: a number, or read from the delivery notebook's
    ``delivery_effects`` table (``.csv``/``.parquet``, or the folder that holds it).

    Parameters
    ----------
    effect : float, str or path

    Raises
    ------
    WorkbenchError
        When the table is missing, has no ``lead_time`` row, or its effect is not significant
        (a measured effect of zero is no basis for an ROI: use the self-reported minutes).

    Examples
    --------
    >>> lead_time_effect(-0.15)
    -0.15
    """
    if isinstance(effect, (int, float)):
        return float(effect)
    import pandas as pd

    path = Path(effect)
    if path.is_dir():
        path = next((p for p in (path / "delivery_effects.parquet", path / "delivery_effects.csv") if p.is_file()),
                    path / "delivery_effects.csv")
    if not path.is_file():
        raise WorkbenchError(f"{path}: no delivery effects table (run notebooks/delivery_impact.ipynb or the job "
                             "monthly-delivery-impact first)")
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    rows = table[table.get("metric", pd.Series(dtype=str)) == "lead_time"]
    if rows.empty:
        raise WorkbenchError(f"{path}: no lead_time row in the delivery effects")
    r = rows.iloc[0]
    if not str(r.get("verdict", "")).startswith("better"):
        raise WorkbenchError(f"{path}: the lead-time effect is '{r.get('verdict')}', not a measured improvement: "
                             "use the self-reported minutes (delivery_effect None)")
    return float(r["relative"])


def realisation_from_effect(inputs, relative_effect: float, *, effort_share: float = 0.5,
                            hours_per_user_month: float = 140.0) -> MeasuredRealisation:
    """The realisation rate implied by a measured relative effect on lead time.

    Parameters
    ----------
    inputs : RoiInputs
        :func:`~analytics_lib.analysis.roi.inputs.roi_inputs` of the same events.
    relative_effect : float
        The measured relative change of lead time (negative: faster), e.g. the ``relative`` of
        ``lead_time`` in ``adoption_effect(...).effects`` (:func:`lead_time_effect` reads it from
        the delivery notebook's table).
    effort_share : float
        Share (0-1] of lead time that is developer work.
    hours_per_user_month : float
        Working hours of a developer per month.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> d = pd.DataFrame({"day": pd.date_range("2025-06-01", periods=30, tz="UTC"), "active_users": 10,
    ...                   "manual_minutes": 6000.0, "session_minutes": 600.0})
    >>> m = realisation_from_effect(SimpleNamespace(daily=d), -0.15)
    >>> round(m.measured_hours), round(m.rate, 3)
    (103, 0.134)
    """
    if not -1 < relative_effect <= 0:
        raise WorkbenchError(f"relative_effect={relative_effect}: give the measured relative change of lead time, "
                             "between -1 and 0 (a slower lead time saves nothing)")
    if not 0 < effort_share <= 1:
        raise WorkbenchError(f"effort_share={effort_share}: a share in (0, 1]")
    d = inputs.daily
    days = len(d)
    if days == 0 or d["manual_minutes"].sum() <= 0:
        raise WorkbenchError("no recorded manual minutes in the observed days: nothing to calibrate")
    user_months = float(d["active_users"].mean()) * days / 30.4375
    measured = -relative_effect * effort_share * hours_per_user_month * user_months
    recorded, session = float(d["manual_minutes"].sum()) / 60, float(d["session_minutes"].sum()) / 60
    rate = (measured + session) / recorded
    return MeasuredRealisation(min(max(rate, 0.0), 1.0), measured, recorded, session, user_months, rate > 1)
