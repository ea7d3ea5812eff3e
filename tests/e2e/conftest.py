"""Shared browser-test fixtures: one ``streamlit run app.py`` and one headless Chromium per test session.

No browser test writes to the store (they change the address, session widgets and
presentation mode only), so every test file uses the same app on a fresh, empty
``WORKBENCH_HOME`` that builds the demo incidents once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from screenshot import ARGS, CHROMIUM  # noqa: E402

from tests.servers import free_port, http_ok, running  # noqa: E402


def app_pages() -> dict[str, str]:
    """Every page of the app as {url path: title}, read from app.py's navigation ("" is the default page)."""
    import re

    pages = {}
    for line in (ROOT / "app.py").read_text(encoding="utf-8").splitlines():
        page = re.search(r'st\.Page\("[^"]+", title="([^"]+)"', line)
        if page:
            path = re.search(r'url_path="([^"]*)"', line)
            pages[path.group(1) if path and "default=True" not in line else ""] = page.group(1)
    return pages


DEMOS_READY = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const h = main && main.querySelector('h1');
    const header = document.querySelector('[data-testid="stHeader"]');
    const running = (header && [...header.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop'))
        || document.querySelector('[data-testid="stApp"][data-test-script-state="running"]');
    return h && h.innerText.trim().startsWith('Incidents') && !running
        && main.querySelector('[data-testid="stDataFrame"]') !== null
        && !main.innerText.includes('still being built') && !document.querySelector('[data-testid="stException"]');
}"""


def wait_for_demos(browser, base: str, timeout_ms: int = 300_000) -> None:
    """Open the app once (which starts building the demos in the background) and wait until they are built."""
    page = browser.new_page()
    try:
        page.goto(base)
        page.wait_for_function(DEMOS_READY, timeout=timeout_ms, polling=500)
    finally:
        page.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory, browser):
    """The base address of ``streamlit run app.py`` on a free port, on the embedded SQLite default.

    The home starts empty; the fixture waits until the app has built the demo incidents (in the
    background, with progress on the Incidents page), so every browser test finds them.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; scripts/test.sh installs Debian's chromium")
    home = tmp_path_factory.mktemp("e2e-home")
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    with running(cmd, home / "streamlit.log", lambda: http_ok(f"{base}/_stcore/health"), what="streamlit",
                 cwd=ROOT, env=env):
        wait_for_demos(browser, base)
        yield base


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def screenshot_dir() -> Path:
    """Where browser tests save their screenshots (``$SCREENSHOT_DIR`` or tests/e2e/screenshots)."""
    d = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "tests" / "e2e" / "screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d
