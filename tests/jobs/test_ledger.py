"""The run ledger in a PostgreSQL store: timestamps keep their time zone, due and index agree."""
from __future__ import annotations

import pandas as pd
import pytest
from jobs_helpers import Place

from analytics_lib.jobs.ledger import run_history
from analytics_lib.jobs.schedule import due_runs
from analytics_lib.jobs.spec import load_job_specs


@pytest.mark.slow
@pytest.mark.postgres
def test_the_ledger_works_in_postgresql(pg_url, tmp_path):
    """The same ledger in a PostgreSQL store: timestamps keep their time zone, due and index agree."""
    from analytics_lib.jobs.runner import run_job

    place = Place(tmp_path)
    place.spec("quick", "quick.ipynb", parameters={"rows": 2})
    job = load_job_specs(place.jobs)
    [r] = run_job(job[0], store=pg_url, reports=place.reports, parallel=1)
    assert r.ok, r.error
    h = run_history(pg_url, job="quick")
    assert h["status"].tolist() == ["succeeded"] and str(h["started_at"].dt.tz) == "UTC"
    assert abs(h["started_at"].iloc[0] - pd.Timestamp(r.started_at)) < pd.Timedelta(seconds=5)
    assert not due_runs(job, store=pg_url, now=r.ended_at)["due"].any()
    assert f"quick/{r.run_id}/report.html" in (place.reports / "index.html").read_text()
