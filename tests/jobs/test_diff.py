"""What changed between two runs: headline figures with a tolerance, method and data told apart,
and `workbench jobs diff` exiting non-zero past the tolerance."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from analytics_lib.cli import main
from analytics_lib.jobs.diff import compare_runs, headline_figures, previous_success


def _run(root: Path, run_id: str, *, events: list[int], start: str, version: str = "v1", status="succeeded",
         digest: str = "d1", funnel: int = 100) -> Path:
    d = root / "job" / run_id
    (d / "tables").mkdir(parents=True)
    pd.DataFrame({"period": range(len(events)), "events": events, "rank": range(len(events))}).to_parquet(
        d / "tables" / "kpis.parquet")
    pd.DataFrame({"step": ["open", "accept"], "users": [funnel, funnel // 2]}).to_csv(d / "tables" / "funnel.csv",
                                                                                    index=False)
    (d / "run.json").write_text(json.dumps({
        "run_id": run_id, "status": status, "parameters": {"start": start, "output_dir": str(d / "tables")},
        "version": version, "notebook": "/x/workflow.ipynb", "window": f"{start} .. end",
        "spec": {"gates": {"max_age": "36h"}}, "fingerprint": {"rows": sum(events), "min_ts": start,
                                                                 "max_ts": "2025-06-30", "digest": digest}}))
    return d


def test_figures_method_and_data_are_told_apart(tmp_path):
    a = _run(tmp_path, "20250601T000000Z-aaaaaa", events=[100, 100], start="2025-06-01")
    b = _run(tmp_path, "20250602T000000Z-bbbbbb", events=[100, 104], start="2025-06-01", digest="d2", funnel=140)
    d = compare_runs(a, b)
    assert d.method == []  # output_dir differs, but it is not the method
    assert d.data == [("events read", "200", "204"), ("data fingerprint", "d1", "d2")]
    beyond = d.beyond.set_index("figure")["relative"].round(3).to_dict()
    assert beyond == {"funnel[open].users": 0.4, "funnel[accept].users": 0.4}  # the events level moved 2 %
    assert "kpis.rank (mean per period)" not in headline_figures({"kpis": pd.read_parquet(a / "tables/kpis.parquet")})
    text = d.text()
    assert "Method unchanged" in text and "funnel[open].users: 100 → 140 (+40.0%)" in text
    c = _run(tmp_path, "20250603T000000Z-cccccc", events=[100, 100], start="2025-06-02", version="v2")
    m = compare_runs(a, c)
    assert m.method == [("parameter start", '"2025-06-01"', '"2025-06-02"'), ("code version", "v1", "v2"),
                        ("data window", "2025-06-01 .. end", "2025-06-02 .. end")]
    assert "Method changed (so part of any change below is the method's" in m.markdown()
    assert previous_success(tmp_path / "job", "20250603T000000Z-cccccc") == b
    _run(tmp_path, "20250604T000000Z-dddddd", events=[1], start="x", status="failed")
    assert previous_success(tmp_path / "job") == c  # failed runs are not compared with


def test_the_command_exits_non_zero_past_the_tolerance(tmp_path):
    a = _run(tmp_path, "20250601T000000Z-aaaaaa", events=[100, 100], start="2025-06-01")
    _run(tmp_path, "20250602T000000Z-bbbbbb", events=[100, 130], start="2025-06-01")

    def diff(*args):
        return CliRunner().invoke(main, ["jobs", "--reports", str(tmp_path), "diff", *args])

    out = diff("20250602T000000Z-bbbbbb")  # with the previous successful run of its job
    assert out.exit_code == 1 and "kpis.events (mean per period): 100 → 115 (+15.0%)" in out.output, out.output
    assert diff("20250602T000000Z-bbbbbb", "--tolerance", "0.2").exit_code == 0
    assert diff(str(a), "20250602T000000Z-bbbbbb", "--tolerance", "0.2").exit_code == 0
    bad = diff("20990101T000000Z-000000")
    assert bad.exit_code == 2 and "no run '20990101T000000Z-000000'" in bad.output
    first = diff(str(a))
    assert first.exit_code == 2 and "has no earlier successful run" in first.output
