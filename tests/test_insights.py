"""Insights: statistics checked against references, FDR control, the ranked insights of the
sample data, the `workbench insights` command and the notebook's Insights section."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from analytics_lib import WorkbenchError, kpi_table
from analytics_lib.cli import main
from analytics_lib.analysis.insights.model import INSIGHT_KINDS, Insight, insight_table
from analytics_lib.analysis.insights.impact import ImpactRule, impact_table, outlook_table
from analytics_lib.analysis.insights.stats import benjamini_hochberg, correlation_table, mann_kendall, trend_table
from analytics_lib.report.narrative import insights_markdown
from analytics_lib.analysis.insights.ranking import ranked_insights

T90 = pd.date_range("2025-01-01", periods=90, freq="D", tz="UTC")


@pytest.fixture(scope="module")
def insights(sample_small):
    return ranked_insights(sample_small.events)


# --------------------------------------------------------------------------------------------
# statistics against references
def test_mann_kendall_matches_kendall_tau_and_theil_sen():
    rng = np.random.default_rng(0)
    x = np.arange(40.0)
    y = 0.3 * x + rng.normal(0, 3, 40)
    mk = mann_kendall(y)
    tau, _ = stats.kendalltau(x, y)
    assert mk.tau == pytest.approx(tau)
    assert mk.sen_slope == pytest.approx(stats.theilslopes(y, x)[0])
    assert mk.var_s == pytest.approx(40 * 39 * 85 / 18)
    assert mk.p_value == pytest.approx(2 * stats.norm.sf((abs(mk.s) - 1) / np.sqrt(mk.var_s)))
    ties = mann_kendall([1, 1, 2, 2, 2, 3, 4, 4])
    assert ties.var_s == pytest.approx((8 * 7 * 21 - (2 * 1 * 9 + 3 * 2 * 11 + 2 * 1 * 9)) / 18)
    with pytest.raises(WorkbenchError, match="at least 3"):
        mann_kendall([1.0, np.nan, 2.0])


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(1).uniform(size=500) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    q = benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02)
    with pytest.raises(WorkbenchError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, 1.5])


def _random_kpis(rng, n=60, k=200) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, k)), index=T90[:n], columns=[f"m{i:03d}" for i in range(k)])


def test_correlations_of_200_independent_series_stay_within_the_false_discovery_rate():
    """All 19,900 pairs are null: any discovery is false, so FDR = P(any discovery) <= 0.05."""
    replicates = 25
    any_discovery = sum(bool(correlation_table(_random_kpis(np.random.default_rng(r)))["significant"].any())
                        for r in range(replicates))
    assert any_discovery / replicates <= 0.05


def test_correlations_keep_the_fdr_with_real_signal_and_find_it():
    fdp, power = [], []
    for r in range(6):
        rng = np.random.default_rng(100 + r)
        k = _random_kpis(rng, n=90)
        for j in range(0, 40, 2):  # 20 truly correlated pairs among 200 series
            k.iloc[:, j + 1] = 0.6 * k.iloc[:, j] + 0.8 * rng.normal(size=90)
        c = correlation_table(k)
        found = set(zip(c.loc[c["significant"], "a"], c.loc[c["significant"], "b"]))
        true = {(f"m{j:03d}", f"m{j + 1:03d}") for j in range(0, 40, 2)}
        fdp.append(len(found - true) / max(len(found), 1))
        power.append(len(found & true) / len(true))
    assert np.mean(fdp) <= 0.05 and np.mean(power) >= 0.9


def test_correlation_is_about_co_movement_not_shared_trend_or_weekdays():
    rng = np.random.default_rng(2)
    weekly = 10.0 * (T90.day_of_week < 5)
    k = pd.DataFrame({"a": 100 + np.arange(90) + weekly + rng.normal(0, 1, 90),
                      "b": 50 + 2 * np.arange(90) + weekly + rng.normal(0, 1, 90)}, index=T90)
    assert not correlation_table(k)["significant"].any()
    assert correlation_table(k, detrend=False)["significant"].all()
    fam = pd.DataFrame({"events": k["a"], "sessions": k["a"] + rng.normal(0, 1, 90)}, index=T90)
    assert correlation_table(fam).empty  # definitional siblings are not insights
    assert len(correlation_table(fam, skip_families=False)) == 1


def test_trend_table_chooses_regression_or_mann_kendall():
    rng = np.random.default_rng(3)
    weekly = 20.0 * (T90.day_of_week < 5)
    k = pd.DataFrame({
        "linear": 100 + 0.5 * np.arange(90) + weekly + rng.normal(0, 2, 90),
        "curved": 100 + 40 * np.log1p(np.arange(90)) + rng.normal(0, 2, 90),
        "flat": 100 + weekly + rng.normal(0, 2, 90),
    }, index=T90)
    t = trend_table(k).set_index("metric")
    assert t.loc["linear", "method"] == "linear" and t.loc["linear", "slope"] == pytest.approx(0.5, abs=0.05)
    assert t.loc["linear", "r2"] > 0.9  # the weekday pattern is not counted against the line
    assert t.loc["curved", "method"] == "mann-kendall" and t.loc["curved", "significant"]
    assert not t.loc["flat", "significant"]
    assert t.loc["linear", "change_per_week"] == pytest.approx(t.loc["linear", "slope"] * 7 / k["linear"].mean())


def test_impact_rules_fire_in_the_bad_direction_only():
    k = pd.DataFrame({"latency_p95": np.r_[np.full(28, 4000.0), np.full(7, 6000.0)],
                      "events": np.r_[np.full(28, 900.0), np.full(7, 1200.0)]}, index=T90[:35])
    rules = [ImpactRule("latency_p95", "up", relative=0.2), ImpactRule("events", "down", relative=0.2)]
    t = impact_table(k, rules=rules).set_index("metric")
    assert bool(t.loc["latency_p95", "breached"]) and t.loc["latency_p95", "multiple"] == pytest.approx(2.5)
    assert t.loc["latency_p95", "severity"] == "high" and t.loc["latency_p95", "p_value"] < 0.001
    assert not t.loc["events", "breached"]  # throughput went up
    with pytest.raises(WorkbenchError, match="direction"):
        ImpactRule("events", "sideways", relative=0.1)
    with pytest.raises(WorkbenchError, match="relative= and/or absolute="):
        ImpactRule("events", "down")


def test_outlook_finds_the_day_a_limit_is_crossed():
    k = pd.DataFrame({"events": 1000 + 10.0 * np.arange(70) + 100 * (T90[:70].day_of_week < 5)}, index=T90[:70])
    row = outlook_table(k, metrics=["events"], horizon=14, limits={"events": 1800}).iloc[0]
    assert row["growth"] > 0 and row["crossing"] is not None and row["p_exceed"] > 0.5
    assert row["crossing"] >= T90[70].tz_localize(None)


# --------------------------------------------------------------------------------------------
# the ranked insights of the sample data
def test_the_planted_incident_is_the_top_insight_and_names_model_and_team(sample_small, insights):
    truth = sample_small.truth
    top = insights[0]
    assert top.kind == "anomaly" and top.severity == "critical" and top.confidence > 0.99
    assert top.start == truth.incident_start and top.end == truth.incident_end
    assert truth.incident_model in top.recommendation and truth.incident_team in top.recommendation
    drill = top.evidence["drill_down"]["top"]
    assert drill["segment"] == f"{truth.incident_team} / {truth.incident_model}"
    assert f"{min(drill['contribution'], 1):.0%} of the excess" in top.description


def test_insights_are_ranked_deduplicated_and_typed(sample_small, insights):
    scores = [round(x.score, 6) for x in insights]
    assert scores == sorted(scores, reverse=True)
    assert {x.kind for x in insights} <= set(INSIGHT_KINDS) and len({x.kind for x in insights}) >= 3
    assert len({(x.kind, x.title) for x in insights}) == len(insights)
    for x in insights:
        assert 0 <= x.confidence <= 1 and 0 <= x.impact <= 1 and x.recommendation and x.description
    holidays = [x for x in insights if x.evidence.get("holidays")]
    assert holidays and all(x.impact <= 0.5 for x in holidays)  # a calendar effect, not an incident
    assert {pd.Timestamp(x.start).normalize() for x in holidays} & set(sample_small.truth.holiday_dates) or \
        any(d in set(sample_small.truth.holiday_dates) for x in holidays for d in pd.to_datetime(x.evidence["days"]))


def test_a_threshold_breach_explained_by_an_incident_is_folded_into_it(sample_small):
    events, truth = sample_small.events, sample_small.truth
    window = events[events["ts"] < truth.incident_end]  # the incident is now the last days
    found = ranked_insights(window, kinds=["anomaly", "business_impact"])
    incident = next(x for x in found if x.kind == "anomaly" and x.start == truth.incident_start)
    assert any("p95 latency" in t for t in incident.evidence.get("related", []))
    assert not any(x.kind == "business_impact" and x.metric == "latency_p95" for x in found)


def test_records_serialise_and_render(insights):
    records = json.loads(json.dumps([x.to_dict() for x in insights]))
    assert records[0]["kind"] == "anomaly" and records[0]["score"] == pytest.approx(insights[0].score, abs=1e-6)
    table = insight_table(insights)
    assert table["rank"].tolist() == list(range(1, len(insights) + 1))
    assert table.columns.tolist()[:4] == ["rank", "kind", "severity", "score"]
    md = insights_markdown(insights, top=3)
    assert md.count("\n") == 2 and md.startswith("1. **") and "*Recommendation:*" in md
    assert "nothing unusual" in insights_markdown([])


def test_ranked_insights_rejects_bad_parameters(sample_small):
    with pytest.raises(WorkbenchError, match="kinds"):
        ranked_insights(sample_small.events, kinds=["gossip"])
    with pytest.raises(WorkbenchError, match="sensitivity"):
        ranked_insights(sample_small.events, sensitivity="extreme")
    with pytest.raises(WorkbenchError, match="no events"):
        ranked_insights(sample_small.events.iloc[:0])


def test_insight_record_properties():
    x = Insight("trend", "t", "d", "low", 0.8, 0.5, "events", None, None, "r")
    assert x.score == pytest.approx(0.4) and x.sentence() == "t. d Recommendation: r"


# --------------------------------------------------------------------------------------------
# the command line
def test_cli_insights_prints_ranked_insights_and_writes_json(tmp_path, sample_small):
    src = tmp_path / "events.parquet"
    sample_small.events.to_parquet(src, index=False)
    out = tmp_path / "insights.json"
    res = CliRunner().invoke(main, ["insights", str(src), "--json", str(out), "--top", "5"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "best first" in res.output and "critical" in res.output
    assert sample_small.truth.incident_model in res.output
    data = json.loads(out.read_text())
    assert data[0]["kind"] == "anomaly" and all({"title", "evidence", "recommendation"} <= set(d) for d in data)
    bad = CliRunner().invoke(main, ["insights", str(src), "--sensitivity", "extreme"])
    assert bad.exit_code == 2 and "sensitivity" in bad.output
    assert CliRunner().invoke(main, ["insights", "--help"]).exit_code == 0
    team = CliRunner().invoke(main, ["insights", str(src), "--team", "team-b", "--start", "2025-06-01"])
    assert team.exit_code == 0 and "insights for" in team.output


# --------------------------------------------------------------------------------------------
# the notebook's Insights section
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    from analytics_lib import validate_events, write_events
    from analytics_lib.data.synthetic.events import synthetic_events

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    write_events(validate_events(synthetic_events(30_000, days=60, seed=0).events), url)
    return url


@pytest.mark.slow
def test_notebook_insights_section_shows_the_incident_and_marks_the_anomalies(store, tmp_path):
    import nbformat
    import papermill
    from conftest import ROOT

    from analytics_lib.data.synthetic.events import synthetic_events

    truth = synthetic_events(30_000, days=60, seed=0).truth
    out_nb = tmp_path / "run.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "workflow_analysis.ipynb"), str(out_nb),
                               parameters={"source": store, "output_dir": str(tmp_path / "out"), "sensitivity": "high"},
                               kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    nb = nbformat.read(out_nb, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    i = next(k for k, c in enumerate(cells) if "ranked_insights(" in c.source)
    text = "".join(o["data"].get("text/markdown", "") for o in cells[i].outputs if "data" in o)
    first = text.split("\n")[0]
    assert first.startswith("1. **") and truth.incident_model in first and truth.incident_team in first
    chart = cells[i + 1]
    assert any("image/png" in o.get("data", {}) for o in chart.outputs)
    assert "at sensitivity *high*" in "".join(o["data"].get("text/markdown", "") for o in chart.outputs if "data" in o)


@pytest.mark.slow
def test_notebook_bad_sensitivity_stops_in_the_first_cell(store, tmp_path):
    import papermill
    from conftest import ROOT
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(ROOT / "notebooks" / "workflow_analysis.ipynb"), str(tmp_path / "bad.ipynb"),
                                   parameters={"source": store, "output_dir": str(tmp_path / "out"),
                                               "sensitivity": "extreme"},
                                   kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert exc.value.ename == "WorkbenchError" and "sensitivity='extreme'" in str(exc.value)
