"""ROI assumptions: each has a unit, a default, a rationale and a range; bad values are clear errors;
the user documentation lists every one; ``replace`` checks names and values."""
from __future__ import annotations

import pytest
from conftest import ROOT

from analytics_lib import WorkbenchError
from analytics_lib.analysis.roi.assumptions import ASSUMPTIONS, Assumptions


def test_every_assumption_has_unit_default_rationale_and_range():
    a = Assumptions()
    assert list(ASSUMPTIONS) == [f for f in a.__dataclass_fields__]
    for name, spec in ASSUMPTIONS.items():
        assert spec.unit and spec.meaning and len(spec.rationale) > 40, name
        assert getattr(a, name) == spec.default, name
        assert spec.low <= spec.high, name
    table = a.table()
    assert table["assumption"].tolist() == list(ASSUMPTIONS)
    assert table[["unit", "default", "range", "monte_carlo", "rationale"]].ne("").all().all()
    assert table.set_index("assumption").loc["seats", "value"] == "from data"


@pytest.mark.parametrize("changes, message", [
    ({"hourly_rate": -5}, r"hourly_rate=-5 is out of range: .* must be above 0 .*negative value would give a mean"),
    ({"hourly_rate": 0}, r"hourly_rate=0 is out of range"),
    ({"hourly_rate": "100"}, r"hourly_rate='100' is not a number"),
    ({"hourly_rate": True}, r"hourly_rate=True is not a number"),
    ({"hourly_rate": float("nan")}, r"not a finite number"),
    ({"hourly_rate": None}, r"hourly_rate=None is not allowed"),
    ({"realisation_rate": 1.2}, r"realisation_rate=1.2 is out of range: .* at most 1"),
    ({"discount_rate": 1.0}, r"discount_rate=1.0 is out of range: .* below 1"),
    ({"horizon_months": 0}, r"horizon_months=0 is out of range"),
    ({"horizon_months": 12.5}, r"horizon_months=12.5 must be a whole number"),
    ({"horizon_months": 121}, r"at most 120"),
    ({"seats": -1}, r"seats=-1 is out of range"),
    ({"one_off_cost": -1.0}, r"one_off_cost=-1.0 is out of range"),
    ({"avoided_cost_per_hit": -0.01}, r"avoided_cost_per_hit=-0.01 is out of range"),
])
def test_bad_assumptions_are_clear_errors(changes, message):
    with pytest.raises(WorkbenchError, match=message):
        Assumptions(**changes)


def test_the_user_documentation_lists_every_assumption_with_unit_and_default():
    text = (ROOT / "docs" / "roi.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")}
    for name, spec in ASSUMPTIONS.items():
        assert f"`{name}`" in rows, f"docs/roi.md has no row for {name}"
        cells = [c.strip() for c in rows[f"`{name}`"].split("|")]
        assert cells[2] == spec.unit, name
        default = "from data" if spec.default is None else spec.default
        assert cells[3] == "from data" if default == "from data" else float(cells[3].replace(",", "")) == default, name
        assert cells[4] == spec.range_text(), name
        assert cells[5] == ("triangular" if spec.uncertain else "fixed"), name
    for fn in ("roi_inputs", "roi_result", "tornado_table", "break_even_table", "roi_simulation", "scenario_table",
               "roi_measures", "executive_summary", "plot_cashflows", "plot_tornado", "plot_roi_distribution"):
        assert fn in text, fn


def test_replace_checks_names_and_values():
    a = Assumptions()
    assert a.replace(seats=250, horizon_months=24.0).horizon_months == 24
    with pytest.raises(WorkbenchError, match="unknown assumption.*hourly_wage"):
        a.replace(hourly_wage=10)
    with pytest.raises(WorkbenchError, match="licence_per_seat=-3"):
        a.replace(licence_per_seat=-3)
