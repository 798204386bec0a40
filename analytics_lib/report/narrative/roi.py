"""The ROI notebook's narrative: the executive summary and the sentences around its tables.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analytics_lib.analysis.roi.assumptions import USAGE
from analytics_lib.core.markup import md_escape

if TYPE_CHECKING:
    from analytics_lib.analysis.roi.inputs import RoiInputs
    from analytics_lib.analysis.roi.result import RoiResult
    from analytics_lib.analysis.roi.simulation import RoiSimulation


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

    Parameters
    ----------
    result : RoiResult
        The appraisal (:func:`~analytics_lib.analysis.roi.result.roi_result`): totals, payback, NPV, IRR, and
        the value by team and feature.
    simulation : RoiSimulation, optional
        Monte Carlo draws (:func:`~analytics_lib.analysis.roi.simulation.roi_simulation`); adds the chance that ROI
        is positive and the P10-P90 range of the NPV.
    break_even : DataFrame, optional
        :func:`~analytics_lib.analysis.roi.result.break_even_table`; adds the hourly and realisation rates at
        which ROI is zero.

    Returns
    -------
    str
        One Markdown paragraph; team and feature names from the data are escaped.

    Examples
    --------
    >>> from analytics_lib import roi_inputs, roi_result, synthetic_events
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
        text = f"By {what}, {md_escape(top['group'])} brings the most value to date ({_usd(float(top['benefits_usd']))}{share})"
        if float(bottom["benefits_usd"]) < 0:
            text += (f", while {md_escape(bottom['group'])} loses value ({_usd(float(bottom['benefits_usd']))}): its session time "
                     "exceeds the realised effort saved")
        parts.append(text + ".")
    return " ".join(parts)


def roi_data_summary(inputs: RoiInputs, *, rows_kept: int, rows_quarantined: int) -> str:
    """The data behind the appraisal: events kept, observed days and months, rows quarantined.

    Parameters
    ----------
    inputs : RoiInputs
        :func:`~analytics_lib.analysis.roi.inputs.roi_inputs` (``start``, ``observed_end``,
        ``observed_months``, ``projection``).
    rows_kept : int
        Events kept after validation (``load_events(...).summary.rows_kept``).
    rows_quarantined : int
        Rows quarantined for breaking the event contract (``...summary.rows_quarantined``).

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> inputs = SimpleNamespace(start=pd.Timestamp("2025-05-01", tz="UTC"), projection="forecast",
    ...                          observed_end=pd.Timestamp("2025-06-30", tz="UTC"), observed_months=1.97)
    >>> print(roi_data_summary(inputs, rows_kept=5000, rows_quarantined=3))  # doctest: +NORMALIZE_WHITESPACE
    **5,000** events from 2025-05-01 to 2025-06-29 (2.0 months observed; later months are projected by the
    forecast); 3 rows quarantined.
    """
    start, end = getattr(inputs, "start", None), getattr(inputs, "observed_end", None)
    tail = f"; {rows_quarantined:,} rows quarantined."
    if start is None or end is None or pd.isna(start) or pd.isna(end) or end <= start:
        return f"**{rows_kept:,}** events, but no observed day to measure{tail}"
    months = inputs.observed_months
    return (f"**{rows_kept:,}** events from {start:%Y-%m-%d} to {end - pd.Timedelta(days=1):%Y-%m-%d} "
            f"({'n/a' if pd.isna(months) else f'{months:.1f}'} months observed; later months are projected by the "
            f"{md_escape(inputs.projection)}){tail}")


def roi_notes(result: RoiResult) -> str:
    """The result's notes on the data and the projection, as a Markdown list.

    Parameters
    ----------
    result : RoiResult
        :func:`~analytics_lib.analysis.roi.result.roi_result` (its ``notes``).

    Returns
    -------
    str
        One list item per note, or a sentence when there is none.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> print(roi_notes(SimpleNamespace(notes=("35 of the 36 months are projected", "only 20 observed days"))))
    - 35 of the 36 months are projected
    - only 20 observed days
    """
    notes = [n for n in (getattr(result, "notes", None) or ()) if n]
    if not notes:
        return "No notes on the data or the projection."
    return "\n".join(f"- {md_escape(n)}" for n in notes)


def break_even_summary(break_even: pd.DataFrame) -> str:
    """For each assumption, the value at which the horizon's ROI is zero, in words.

    Parameters
    ----------
    break_even : DataFrame
        :func:`~analytics_lib.analysis.roi.result.break_even_table`: ``assumption, break_even, unit,
        current, feasible, note``.

    Returns
    -------
    str
        One sentence per assumption, or a sentence saying there is none.

    Examples
    --------
    >>> be = pd.DataFrame({"assumption": ["hourly_rate", "licence_per_seat"], "break_even": [87.5, -12.0],
    ...                    "feasible": [True, False], "note": ["ROI is positive above USD 87.50 per hour",
    ...                                                        "ROI is negative even with free licences"]})
    >>> print(break_even_summary(be))  # doctest: +NORMALIZE_WHITESPACE
    hourly\\_rate: ROI is positive above USD 87.50 per hour. licence\\_per\\_seat: ROI is negative even with
    free licences.
    """
    if break_even is None or break_even.empty or "assumption" not in break_even.columns:
        return "No break-even values were computed."
    parts = []
    for _, row in break_even.iterrows():
        note = row.get("note")
        if note is None or pd.isna(note) or not str(note).strip():
            value = row.get("break_even")
            note = ("no break-even value" if value is None or pd.isna(value)
                    else f"ROI is zero at {value:,.4g}")
        parts.append(f"{md_escape(row['assumption'])}: {md_escape(note)}.")
    return " ".join(parts)


def monte_carlo_summary(simulation: RoiSimulation) -> str:
    """The chance that ROI is positive and the share of draws that pay back, over the Monte Carlo draws.

    Parameters
    ----------
    simulation : RoiSimulation
        :func:`~analytics_lib.analysis.roi.simulation.roi_simulation` (``prob_positive``, ``n``,
        ``seed`` and ``summary.attrs["share_paying_back"]``).

    Returns
    -------
    str
        One Markdown paragraph.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> summary = pd.DataFrame({"metric": ["npv"], "p50": [1.0]})
    >>> summary.attrs["share_paying_back"] = 0.4
    >>> sim = SimpleNamespace(prob_positive=0.6234, n=2000, seed=7, summary=summary)
    >>> print(monte_carlo_summary(sim))  # doctest: +NORMALIZE_WHITESPACE
    P(ROI > 0) = **62 %** over 2,000 draws (seed 7); 40 % of the draws pay back within the horizon (the payback
    percentiles cover those draws only).
    """
    n = getattr(simulation, "n", 0) or 0
    p = getattr(simulation, "prob_positive", None)
    if not n or p is None or pd.isna(p):
        return "No Monte Carlo draws to report."
    seed = getattr(simulation, "seed", None)
    text = f"P(ROI > 0) = **{_pct(p)}** over {n:,} draws" + ("" if seed is None else f" (seed {seed})")
    summary = getattr(simulation, "summary", None)
    paying = summary.attrs.get("share_paying_back") if summary is not None else None
    if paying is None or pd.isna(paying):
        return text + "."
    return (text + f"; {_pct(paying)} of the draws pay back within the horizon (the payback percentiles cover "
            "those draws only).")
