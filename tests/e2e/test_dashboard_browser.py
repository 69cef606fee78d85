"""The dashboard in a real browser: ``streamlit run`` on a populated home, driven by Chromium.

Every page is loaded in both languages; none may show Streamlit's exception
block or an error alert, and each is saved as a screenshot into
``ROADTEST_SCREENSHOTS_DIR`` (default ``artifacts/screenshots``), the test's
artefacts. The committed ``docs/screenshots`` come from a run with
``ROADTEST_SCREENSHOTS_DIR=docs/screenshots``.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright;
Playwright's own browser download is not used. No API runs here, so the
health page reports it down, which is a state, not an error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import polars as pl
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from roadtest.dashboard import sources
from roadtest.dashboard.i18n import LANGUAGES, Lang, translate
from roadtest.dashboard.launch import streamlit_command
from tests.integration.test_dashboard_support import DashboardHome, dashboard_home

__all__ = ["dashboard_home"]

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES: Final = ("planning", "vehicle", "quality", "models", "data", "health")
HOME: Final = "planning"
"""The default page: it is served at ``/``."""
START_TIMEOUT_S: Final = 90
PAGE_TIMEOUT_MS: Final = 90_000
EXCEPTION: Final = '[data-testid="stException"]'
ERROR_ALERT: Final = '[data-testid="stAlertContentError"]'

SETTLED: Final = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app?.dataset.testScriptState === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]');
}"""
"""The script has finished and every lazily loaded element (charts, tables) has drawn."""
MAIN_HEIGHT: Final = (
    "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def dashboard_url(
    dashboard_home: DashboardHome, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A dashboard served on a free local port over the populated home."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {
        **os.environ,
        "ROADTEST_HOME": str(dashboard_home.home),
        "ROADTEST_API_URL": f"http://127.0.0.1:{_free_port()}",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            streamlit_command("127.0.0.1", port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """Where the screenshots go (the test's artefacts)."""
    folder = Path(os.environ.get("ROADTEST_SCREENSHOTS_DIR", "artifacts/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _failed_vehicle(home: Path) -> str:
    store = sources.open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    labels = sources.read_table(store, "vehicle_label")
    return str(labels.filter(pl.col("road_test_failed")).sort("knr")["knr"][0])


def _settle(page: Page, title: str) -> None:
    """Wait until the page's title shows and it stays settled (see ``SETTLED``)."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    for pause_ms in (500, 0):
        page.wait_for_function(SETTLED, timeout=PAGE_TIMEOUT_MS)
        page.wait_for_timeout(pause_ms)


def _screenshot(page: Page, path: Path) -> None:
    """The whole page: the viewport is stretched to the main column's height first."""
    width = page.viewport_size["width"] if page.viewport_size else 1440
    height = min(int(page.evaluate(MAIN_HEIGHT)) + 120, 8000)
    page.set_viewport_size({"width": width, "height": max(height, 800)})
    page.wait_for_timeout(700)
    page.screenshot(path=path)
    page.set_viewport_size({"width": width, "height": 1000})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_without_error(
    browser: Browser,
    dashboard_url: str,
    dashboard_home: DashboardHome,
    screenshots: Path,
    lang: Lang,
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    knr = _failed_vehicle(dashboard_home.home)
    try:
        for name in PAGES:
            query = f"?lang={lang}" + (f"&knr={knr}" if name == "vehicle" else "")
            page.goto(f"{dashboard_url}/{'' if name == HOME else name}{query}")
            _settle(page, translate(f"{name}.title", lang))
            _screenshot(page, screenshots / f"{name}.{lang}.png")
            assert page.locator(EXCEPTION).count() == 0, f"{name}: an exception is shown"
            if name == HOME:
                assert page.locator(".js-plotly-plot").count() == 2, "risk and catch charts"
                assert page.get_by_test_id("stDataFrame").count() == 1, "the planning list"
            if name == "vehicle":
                assert page.get_by_text(translate("vehicle.failed_badge", lang)).count() >= 1
            assert page.locator(ERROR_ALERT).count() == 0, (
                f"{name}: an error alert is shown: {page.locator(ERROR_ALERT).all_inner_texts()}"
            )
    finally:
        page.close()
