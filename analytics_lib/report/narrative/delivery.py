"""The delivery notebook's narrative: the four keys' tiers, and the adoption effect with its caveats.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_lib.core.markup import md_escape

_UNITS = {"lead_time": "lead time for changes", "deployment_frequency": "deployment frequency",
          "change_failure_rate": "change failure rate", "time_to_restore": "time to restore service"}


def _pct(v: float) -> str:
    return f"{v:+.1%}" if np.isfinite(v) else "n/a"


def delivery_data_summary(data) -> str:
    """The rows kept per kind and the rows quarantined (Markdown, one line).

    Parameters
    ----------
    data : DeliveryData
        :func:`analytics_lib.data.delivery.read_delivery`.

    Examples
    --------
    >>> from analytics_lib.data.synthetic.delivery import synthetic_delivery
    >>> delivery_data_summary(synthetic_delivery(seed=0).data).endswith("9 rows quarantined.")
    True
    """
    return (f"Delivery events: {data.counts['kept'].to_dict()} kept, "
            f"{int(data.counts['quarantined'].sum())} rows quarantined.")


def effect_summary(effect) -> str:
    """One line per metric: the effect of adoption with its interval, the pre-trend check, what a
    before/after comparison would have said; then the design and the caveats (Markdown).

    Parameters
    ----------
    effect : AdoptionEffect
        :func:`analytics_lib.analysis.delivery.adoption_effect`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> e = pd.DataFrame({"metric": ["lead_time"], "relative": [-0.16], "relative_low": [-0.24],
    ...                   "relative_high": [-0.08], "p_value": [0.004], "pretrend_p": [0.5], "naive_relative": [-0.2],
    ...                   "treated_teams": [6], "control_teams": [4], "verdict": ["better with the assistant"]})
    >>> print(effect_summary(SimpleNamespace(effects=e, alpha=0.05, caveats=("Observational.",))).splitlines()[2])
    - **lead time for changes**: -16.0% (95% interval -24.0% to -8.0%, p = 0.004): better with the assistant. Pre-trend check p = 0.50 (no sign of diverging before adoption). A plain before/after comparison of the adopting teams would say -20.0%.
    """
    if effect.effects.empty:
        return "No metric could be estimated: no team has both delivery events before and after adopting."
    first = effect.effects.iloc[0]
    lines = [f"{int(first['treated_teams'])} teams adopted the assistant at staggered dates; "
             f"{int(first['control_teams'])} never did. Each adopting team is compared with the teams that had not "
             "adopted yet and those that never did (imputation estimator, intervals from a jackknife over teams).", ""]
    level = f"{1 - effect.alpha:.0%}"
    for r in effect.effects.itertuples():
        pre = ("the adopting teams already diverged before adopting: the estimate is not credible"
               if r.pretrend_p < effect.alpha else "no sign of diverging before adoption") \
            if np.isfinite(r.pretrend_p) else "not testable (no periods before adoption)"
        lines.append(f"- **{_UNITS.get(r.metric, md_escape(str(r.metric)))}**: {_pct(r.relative)} ({level} interval "
                     f"{_pct(r.relative_low)} to {_pct(r.relative_high)}, p = {r.p_value:.3f}): {r.verdict}. "
                     f"Pre-trend check p = {r.pretrend_p:.2f} ({pre}). A plain before/after comparison of the "
                     f"adopting teams would say {_pct(r.naive_relative)}.")
    lines += ["", "**Read with care.** " + " ".join(effect.caveats)]
    return "\n".join(lines)


def tier_summary(summary: pd.DataFrame, *, by: str = "team") -> str:
    """How many teams reach each DORA tier per metric (Markdown, one line per metric).

    Parameters
    ----------
    summary : DataFrame
        :func:`analytics_lib.analysis.delivery.dora_summary`.
    by : str
        Its group column.

    Examples
    --------
    >>> s = pd.DataFrame({"team": ["a", "b"], "frequency_tier": ["elite", "high"], "lead_time_tier": ["high", "high"],
    ...                   "change_failure_tier": ["low", "elite"], "time_to_restore_tier": ["high", None]})
    >>> print(tier_summary(s).splitlines()[0])
    - deployment frequency: 1 elite, 1 high
    """
    names = {"frequency_tier": "deployment frequency", "lead_time_tier": "lead time for changes",
             "change_failure_tier": "change failure rate", "time_to_restore_tier": "time to restore service"}
    lines = []
    for col, label in names.items():
        counts = summary[col].dropna().value_counts()
        parts = [f"{int(counts[t])} {t}" for t in ("elite", "high", "medium", "low") if t in counts]
        lines.append(f"- {label}: {', '.join(parts) or 'no data'}")
    return "\n".join(lines)
