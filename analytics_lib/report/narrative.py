"""Narrative text for notebooks and reports, computed from results (values from the data are escaped).
"""
from __future__ import annotations

from typing import Sequence, TYPE_CHECKING

import pandas as pd

from analytics_lib.analysis.roi.assumptions import USAGE
from analytics_lib.core.markup import md_escape

if TYPE_CHECKING:
    from analytics_lib.analysis.insights.model import Insight
    from analytics_lib.analysis.roi.result import RoiResult
    from analytics_lib.analysis.roi.simulation import RoiSimulation


def insights_markdown(insights: Sequence[Insight], *, top: int | None = 10) -> str:
    """The insights as a numbered Markdown list: headline, kind, severity, confidence, evidence
    and recommendation, one item each (for notebooks and reports).

    Examples
    --------
    >>> print(insights_markdown([Insight("trend", "Events +3%/week", "Linear, p = 0.001.", "medium",
    ...                                  0.99, 0.5, "events", None, None, "Plan capacity.")]))
    1. **Events +3%/week** (trend, medium, confidence 99%). Linear, p = 0.001. *Recommendation:* Plan capacity.

    Values from the data are shown literally (:func:`~analytics_lib.markup.md_escape`): a
    segment called ``<b>x</b>`` is not bold.
    """
    shown = list(insights)[:top] if top else list(insights)
    if not shown:
        return ("No insight passed the thresholds: nothing unusual, no significant trend or correlation, "
                "no threshold breached.")
    e = md_escape  # titles and descriptions name teams, features and models from the data
    return "\n".join(f"{i}. **{e(x.title)}** ({x.kind.replace('_', ' ')}, {x.severity}, confidence {x.confidence:.0%}). "
                     f"{e(x.description)} *Recommendation:* {e(x.recommendation)}" for i, x in enumerate(shown, start=1))


# ============================================================================================
# Narrative
def _usd(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}USD {x / 1e6:,.2f} million"
    return f"{sign}USD {x:,.0f}"


def _pct(p: float) -> str:
    """A probability as a percentage that never rounds a rare event to 0 % or a near-certain one to 100 %."""
    if 0 < p < 0.001:
        return "below 0.1 %"
    if 0.999 < p < 1:
        return "above 99.9 %"
    return f"{100 * p:.1f} %" if p < 0.01 or p > 0.99 else f"{100 * p:.0f} %"


def executive_summary(result: RoiResult, simulation: RoiSimulation | None = None,
                      break_even: pd.DataFrame | None = None) -> str:
    """The headline in plain sentences (Markdown), every number taken from the results.

    Examples
    --------
    >>> from analytics_lib.datasets import synthetic_events
    >>> inputs = roi_inputs(synthetic_events(3_000, days=28, end="2025-06-30", seed=0).events, months=36,
    ...                     projection="flat")
    >>> executive_summary(roi_result(inputs)).startswith("Over 36 months the assistant")
    True
    """
    a = result.assumptions
    H = a.horizon_months
    verdict = "pays for itself" if result.net > 0 else "does not pay for itself"
    parts = [f"Over {H} months the assistant {verdict}: benefits of {_usd(result.benefits)} against costs of "
             f"{_usd(result.costs)}, a net benefit of {_usd(result.net)} and an ROI of {result.roi_pct:,.0f} %."]
    cf = result.cashflows
    hours = float(cf["hours_saved"].sum())
    time_value, cache = float(cf["time_value_usd"].sum()), float(cf["cache_savings_usd"].sum())
    if hours >= 0:
        parts.append(f"Developers save {hours:,.0f} hours net of the time they spend in sessions (with "
                     f"{100 * a.realisation_rate:g} % of the recorded manual effort realised), worth "
                     f"{_usd(time_value)} at USD {a.hourly_rate:,.0f} per hour; the cache avoids {_usd(cache)} "
                     "of LLM cost.")
    else:
        parts.append(f"Developers spend {-hours:,.0f} hours more in sessions than the realised manual effort the "
                     f"accepted work replaced ({100 * a.realisation_rate:g} % of the recorded effort), a cost of "
                     f"{_usd(-time_value)} at USD {a.hourly_rate:,.0f} per hour; the cache avoids {_usd(cache)} "
                     "of LLM cost.")
    usage = float((cf["llm_usd"] + cf["metered_usd"]).sum())
    parts.append(f"Licences cost {_usd(float(cf['licence_usd'].sum()))}, fixed infrastructure "
                 f"{_usd(float(cf['infra_usd'].sum()))}, LLM and metered usage {_usd(usage)} "
                 f"and the implementation {_usd(a.one_off_cost)}.")
    if result.payback_months is not None:
        parts.append(f"It pays back after {result.payback_months:,.1f} months.")
    else:
        end, last = float(cf["cumulative_net_usd"].iloc[-1]), float(cf["net_usd"].iloc[-1])
        tail = (f"at the last month's net of {_usd(last)} it would need about {-end / last:,.0f} more months"
                if last > 0 and end < 0 else "the monthly net is still negative at the end, so it never pays back "
                "at this rate" if last <= 0 else "")
        parts.append(f"It does not pay back within {H} months: the cumulative net cash flow ends at {_usd(end)}"
                     + (f"; {tail}." if tail else "."))
    irr = "" if result.irr is None else f", with an internal rate of return of {100 * result.irr:,.0f} % a year"
    parts.append(f"Discounted at {100 * a.discount_rate:g} % a year, the NPV is {_usd(result.npv)}{irr}.")
    if simulation is not None:
        s = simulation.summary.set_index("metric")
        parts.append(f"Across {simulation.n:,} Monte Carlo draws of the uncertain assumptions"
                     f"{' and the usage forecast' if (simulation.distributions['assumption'] == USAGE).any() else ''}, "
                     f"the probability that ROI is positive is {_pct(simulation.prob_positive)}; "
                     f"the NPV is between {_usd(s.loc['npv', 'p10'])} (P10) and {_usd(s.loc['npv', 'p90'])} (P90), "
                     f"median {_usd(s.loc['npv', 'p50'])}.")
    if break_even is not None and len(break_even):
        be = break_even.set_index("assumption")
        bits = []
        if "hourly_rate" in be.index and bool(be.loc["hourly_rate", "feasible"]):
            bits.append(f"an hourly rate of USD {be.loc['hourly_rate', 'break_even']:,.2f}")
        if "realisation_rate" in be.index and bool(be.loc["realisation_rate", "feasible"]):
            bits.append(f"a realisation rate of {be.loc['realisation_rate', 'break_even']:.2f}")
        if bits:
            parts.append("ROI is exactly zero at " + " or ".join(bits) + " (other assumptions unchanged).")
    for table, what in ((result.by_team, "team"), (result.by_feature, "feature")):
        if len(table) < 2 or float(table["benefits_usd"].iloc[0]) <= 0:
            continue
        top, bottom = table.iloc[0], table.iloc[-1]
        share = (f", {100 * top['benefit_share']:.0f} % of the total" if (table["benefits_usd"] >= 0).all() else "")
        text = f"By {what}, {top['group']} brings the most value to date ({_usd(float(top['benefits_usd']))}{share})"
        if float(bottom["benefits_usd"]) < 0:
            text += (f", while {bottom['group']} loses value ({_usd(float(bottom['benefits_usd']))}): its session time "
                     "exceeds the realised effort saved")
        parts.append(text + ".")
    return " ".join(parts)
