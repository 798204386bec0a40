"""Published reports are self-contained: every shipped report notebook runs as its job on a store
(with delivery events for the delivery report) whose data ends today (gates included; the grid job runs the workflow notebook again and the marts
job publishes no HTML), and each report.html, opened in a real headless Chromium with
every request outside the file blocked, makes no request, typesets no math, prints money as
money and shows no table with meaningless 0, 1, 2... row labels; and each job published its PDF."""
from __future__ import annotations

import json

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, axe_violations, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


JOBS = ("daily-workflow", "weekly-forecast", "monthly-roi", "weekly-user-predictions", "daily-kpi-alerts",
        "weekly-experiments", "monthly-delivery-impact")


@pytest.fixture(scope="module")
def published(shipped_runs):
    return shipped_runs(*JOBS)[1]  # tests/jobs/conftest.py: the store and the command


def test_every_report_is_self_contained_and_prints_money_as_money(published, axe_js):
    require_chromium()
    from playwright.sync_api import sync_playwright

    reports = sorted(published.glob("*/latest/report.html"))
    assert {p.relative_to(published).parts[0] for p in reports} == set(JOBS)
    for report in reports:  # and each shipped report job published its PDF
        pdf = report.with_name("report.pdf")
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size < 5 << 20, report
        assert json.loads(report.with_name("run.json").read_text())["output_problems"] == {}, report
    money = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for report in reports:
                page = browser.new_page()
                outside, failed = [], []

                def route(r, outside=outside):
                    if r.request.url.startswith(("file://", "data:")):
                        return r.continue_()
                    outside.append(r.request.url)
                    return r.abort()

                page.route("**/*", route)
                page.on("requestfailed", lambda req, failed=failed: failed.append(req.url))
                page.goto(report.resolve().as_uri(), wait_until="load")
                page.wait_for_timeout(300)
                where = report.relative_to(published)
                assert outside == [] and failed == [], (where, outside, failed)
                assert page.locator("script[src], mjx-container, .MathJax, .MathJax_Display, span.math").count() == 0, \
                    where
                numbered = page.evaluate("""() => [...document.querySelectorAll('table.dataframe')].filter(t => {
                    const ths = [...t.querySelectorAll('tbody tr')].map(r => r.querySelector('th'));
                    return ths.length > 1 && ths.every((th, i) => th && th.textContent.trim() === String(i));
                }).length""")
                assert numbered == 0, (where, "a table shows 0, 1, 2... row labels")
                text = page.inner_text("body")
                assert "Data as of" in text and "Data gates" in text, where
                assert "\\$" not in text, where  # an escaped dollar sign never shows
                assert axe_violations(page, axe_js) == [], where  # no serious or critical accessibility problem
                money += text.count("$")
                page.close()
        finally:
            browser.close()
    assert money > 10  # the reports do print money, as text
