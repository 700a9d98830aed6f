"""JupyterLab as a user opens it, checked in a real headless Chromium (Debian's package, driven by
Playwright): the server starts on loopback with a token, its kernel imports hybridlib, the
ipywidgets browser renders as widgets (not the "Error displaying widget" fallback or a text
repr), figures show, and a study notebook run under the smoke preset shows its table and figure.

Skipped where no Chromium or Playwright exists (``.ci/run`` installs both, so CI runs it).
Screenshots go to ``results/screenshots/``. Every wait is bounded; the server and its kernels
are stopped on success and on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import papermill
import pytest

from hybridlib.paths import REPOSITORY_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test,lab]')"
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)"),
]

SCREENSHOTS = REPOSITORY_ROOT / "results" / "screenshots"
START_TIMEOUT_S = 90
CELL_TIMEOUT_MS = 150_000
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, config_dir: Path) -> Iterator[str]:
    """JupyterLab from this environment on ``root``, bound to 127.0.0.1: yields its base URL
    (the token as a query string); stops the server and its kernels however the block ends."""
    port, token = _free_loopback_port(), secrets.token_hex(16)
    config_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(config_dir / "runtime"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
    log = (config_dir / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {server.returncode}: {(config_dir / 'jupyterlab.log').read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterLab did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.send_signal(signal.SIGINT)  # jupyter's clean shutdown: asks twice, then stops kernels
        time.sleep(0.2)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # kernels it started, if any survived
        log.close()


@contextlib.contextmanager
def chromium_page() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_notebook(page, base_url: str, token: str, name: str) -> None:
    """Open a notebook and start its kernel (the kernel picker JupyterLab may ask first: accept
    the offered Python 3 kernel, this environment's)."""
    page.goto(f"{base_url}/lab/tree/{name}?token={token}")
    page.locator(".jp-Notebook").first.wait_for()
    picker = page.locator(".jp-Dialog", has_text="Select Kernel")
    with contextlib.suppress(playwright_api.TimeoutError):
        picker.wait_for(timeout=10_000)
        picker.locator("button.jp-mod-accept").click()
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle")).first.wait_for()  # the kernel is up
    with contextlib.suppress(playwright_api.Error):  # JupyterLab's news question: answer it, it hides the outputs
        page.locator(".Toastify__toast", has_text="Jupyter news").get_by_role("button", name="No", exact=True).click(
            timeout=3_000
        )


def run_all_cells(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def widgets_rendered(page) -> bool:
    """True once the browser's widgets are on the page as widgets (dropdowns and an image)."""
    return (
        page.locator(".jp-OutputArea-output .widget-dropdown select").count() >= 2
        and page.locator(".jp-OutputArea-output img.widget-image").count() >= 1
    )


@pytest.fixture()
def lab_root(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(REPOSITORY_ROOT / "notebooks" / "04_browse.ipynb", root)
    return root


def test_the_widget_browser_renders_in_jupyterlab(lab_root: Path, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab(lab_root, tmp_path / "config") as (base_url, token), chromium_page() as page:
        open_notebook(page, base_url, token, "04_browse.ipynb")
        run_all_cells(page)
        try:
            page.locator(".jp-OutputArea-output img.widget-image").first.wait_for(timeout=CELL_TIMEOUT_MS)
            page.locator(".jp-RenderedImage img").first.wait_for(timeout=CELL_TIMEOUT_MS)  # the matplotlib figure
        finally:
            page.screenshot(path=str(SCREENSHOTS / "04_browse.png"), full_page=True)
        assert widgets_rendered(page)
        assert page.get_by_text("Error displaying widget").count() == 0
        assert "data:" in page.locator("img.widget-image").first.get_attribute("src") or "blob:" in page.locator(
            "img.widget-image"
        ).first.get_attribute("src")
        # the widgets talk to the kernel: another split redraws the picture
        before = page.locator("img.widget-image").first.get_attribute("src")
        page.locator(".widget-dropdown select").first.select_option(index=1)
        page.wait_for_function(
            "before => document.querySelector('img.widget-image').src !== before", arg=before, timeout=CELL_TIMEOUT_MS
        )
        assert (
            page.get_by_text("Traceback").count() == 0 and page.get_by_text("ModuleNotFoundError").count() == 0
        )  # the kernel imports hybridlib


def test_without_the_widgets_extension_the_check_fails(lab_root: Path, tmp_path: Path) -> None:
    """The widget check is not vacuous: with ipywidgets' JupyterLab extension disabled, the same
    notebook shows no widgets."""
    config_dir = tmp_path / "config"
    (config_dir / "labconfig").mkdir(parents=True)
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {WIDGETS_EXTENSION: True}})
    )
    with jupyterlab(lab_root, config_dir) as (base_url, token), chromium_page() as page:
        open_notebook(page, base_url, token, "04_browse.ipynb")
        run_all_cells(page)
        page.locator(".jp-RenderedImage img").first.wait_for(timeout=CELL_TIMEOUT_MS)  # the last cell ran
        assert not widgets_rendered(page)


def test_a_study_notebook_run_under_smoke_shows_its_table_and_figure(tmp_path: Path) -> None:
    root = tmp_path / "notebooks"
    root.mkdir()
    papermill.execute_notebook(
        str(REPOSITORY_ROOT / "notebooks" / "03_lspet_vs_hmr.ipynb"),
        str(root / "03_lspet_vs_hmr.ipynb"),
        parameters={"PRESET": "smoke", "OUT_DIR": str(tmp_path / "table2")},
        progress_bar=False,
        cwd=str(REPOSITORY_ROOT / "notebooks"),
    )
    with jupyterlab(root, tmp_path / "config") as (base_url, token), chromium_page() as page:
        open_notebook(page, base_url, token, "03_lspet_vs_hmr.ipynb")
        table = page.locator(".jp-RenderedHTMLCommon table", has_text="HMR baseline").first
        table.wait_for()
        page.locator(".jp-RenderedImage img").first.wait_for()
        table.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "03_lspet_vs_hmr.png"))
        assert table.is_visible() and page.locator(".jp-RenderedImage img").count() >= 2
