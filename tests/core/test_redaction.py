"""``redact``: passwords in database URLs are hidden wherever text is shown, the dashboards'
message area included."""
from __future__ import annotations

from analytics_lib.core.redaction import redact
from analytics_lib.dashboards.widgets import MessageArea


def test_redact_hides_passwords_everywhere():
    text = "postgresql+psycopg://ana:s3cr@t@db/x and mysql://bob:pw@h/y and sqlite:////tmp/a.db"
    out = redact(text)
    assert "s3cr" not in out and ":pw@" not in out and "sqlite:////tmp/a.db" in out
    m = MessageArea()
    m.error("cannot connect to postgresql://ana:hunter2@db:5432/x")
    assert "hunter2" not in m.value and "ana:***@db" in m.value
