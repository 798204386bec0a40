"""JupyterLab, for real: the data scientists' front door. A JupyterLab server on loopback with the
project's kernel, driven in headless Chromium: the workflow notebook run cell by cell through the
UI (Run > Run All Cells) shows its plots and no error; the workflow overview dashboard notebook
shows its widgets live in Lab. The notebooks are copies in a tmp folder (Lab autosaves), and the
server and its kernels are stopped at the end."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TOKEN = "lab-test-token-7f3a"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(store, tmp_path_factory):
    require_chromium()
    home = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", home / "notebooks", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    port = _free_port()
    settings = home / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # every cell in the page (Lab 4 renders only the visible ones by default)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}, "WORKBENCH_DB": store,
           "MPLBACKEND": "module://matplotlib_inline.backend_inline", "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={home / 'notebooks'}", "--allow-root",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(home / "lab.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(home / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _run_all(page, url: str, notebook: str, *, timeout_s: float = 180) -> None:
    """Open ``notebook`` in Lab, Run > Run All Cells, wait until every code cell has run.

    A kernel that is still starting can miss the command (nothing queued: every prompt stays
    ``[ ]:``); then the command is given again, as a user would, at most three times. Cells never
    run twice in one pass: a second command is given only while no cell has started. A Lab dialog
    in the way (a make test run saw one block the Run menu) is answered with its default button
    first, as a user would, and its text goes into the failure message."""
    page.goto(f"{url}/lab/tree/{notebook}?reset&token={TOKEN}", timeout=120_000)  # reset: only this notebook open
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    deadline = time.monotonic() + timeout_s
    prompts: list[str] = []
    dialogs: list[str] = []
    for attempt in range(3):
        for dialog in page.locator(".jp-Dialog").all():  # answered as a user would: its default button
            dialogs.append(" ".join(dialog.inner_text().split()))
            accept = dialog.locator(".jp-mod-accept")
            accept.first.click() if accept.count() else page.keyboard.press("Escape")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        retry_at = time.monotonic() + 30
        while time.monotonic() < deadline:  # every code cell has an execution count, none is running ("[*]")
            prompts = page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
            if prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts):
                return
            if attempt < 2 and time.monotonic() > retry_at and all(p.strip() in ("[ ]:", "") for p in prompts):
                break  # nothing started: the command did not reach the kernel
            page.wait_for_timeout(1000)
        else:
            break
    raise AssertionError(f"{notebook}: not every cell ran within {timeout_s} s: {prompts}; dialogs: {dialogs}")


def test_the_workflow_notebook_runs_in_jupyterlab_with_its_plots_and_no_error(lab):
    from playwright.sync_api import sync_playwright

    url, _ = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            _run_all(page, url, "workflow_analysis.ipynb")
            errors = page.locator(f"{PANEL} [data-mime-type='application/vnd.jupyter.error']")
            assert errors.count() == 0, errors.first.inner_text()
            assert page.locator(f"{PANEL} .jp-OutputArea-output img").count() >= 5  # the plots
            assert "Every number comes from" in page.inner_text(f"{PANEL} .jp-Notebook")
            # the dashboard notebook: its widgets live in Lab (one Lab tab at a time, as a user has)
            page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            _run_all(page, url, "dashboards/workflow_overview.ipynb")
            page.wait_for_selector(f"{PANEL} .jp-OutputArea-output .jupyter-widgets", timeout=60_000)
            assert page.locator(f"{PANEL} [data-mime-type='application/vnd.jupyter.error']").count() == 0
            assert page.locator(f"{PANEL} .jp-OutputArea-output select").count() >= 1  # the team picker, live
        finally:
            browser.close()
