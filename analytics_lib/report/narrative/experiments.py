"""The experiments notebook's narrative: the split check and one decision per metric, from the results.
"""
from __future__ import annotations

from analytics_lib.core.markup import md_escape


def experiment_summary(result) -> str:
    """The users per variant, the split check, and the decision line of every metric (Markdown).

    Parameters
    ----------
    result : ExperimentResult
        :func:`analytics_lib.analysis.experiments.experiment_results`.

    Examples
    --------
    >>> import pandas as pd
    >>> from analytics_lib.analysis.experiments import ExperimentResult
    >>> e = pd.DataFrame({"metric": ["accept_rate"], "role": ["primary"], "decision": ["b better than a (+5.0%)"]})
    >>> print(experiment_summary(ExperimentResult("x", "a", {"a": 500, "b": 510}, 0.75, e)))
    **x**: 500 users in a (control), 510 in b; the split matches the plan (sample-ratio check p = 0.75).
    <BLANKLINE>
    - `accept_rate` (primary): b better than a (+5.0%)
    """
    others = ", ".join(f"{n:,} in {md_escape(v)}" for v, n in result.users.items() if v != result.control)
    lines = [f"**{md_escape(result.experiment)}**: {result.users[result.control]:,} users in "
             f"{md_escape(result.control)} (control), {others}; the split matches the plan (sample-ratio check "
             f"p = {result.srm_p:.2f}).", ""]
    for r in result.effects.itertuples():
        lines.append(f"- `{r.metric}` ({r.role}): {md_escape(r.decision)}")  # metric names are ours, not data
    return "\n".join(lines)
