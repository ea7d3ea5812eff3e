"""Real browser: start ``streamlit run app.py`` on a free port, visit every page in headless Chromium.

Fails on any Streamlit exception element; saves a screenshot of every page under
``tests/e2e/screenshots/`` (or ``$SCREENSHOT_DIR``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from screenshot import wait_idle  # noqa: E402

from tests.e2e.conftest import app_pages, screenshot_dir  # noqa: E402

PAGES = list(app_pages())  # every page of app.py's navigation
INCIDENTS = ["demo-ctr-drop", "demo-schema-change", "demo-fraud-stale", "demo-image-downscale"]

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("incident", INCIDENTS)
def test_every_page_renders_without_exception(server, browser, incident):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    failures = []
    for path in PAGES:
        page.goto(f"{server}/{path}?incident={incident}")
        wait_idle(page)
        name = path or "incidents"
        page.screenshot(path=str(screenshot_dir() / f"{incident}-{name}.png"), full_page=True)
        n = page.locator('[data-testid="stException"]').count()
        if n:
            failures.append(f"{name}: {n} exception(s): {page.locator('[data-testid=stException]').first.inner_text()[:500]}")
        heading = page.locator('[data-testid="stMain"] h1').first.inner_text()
        assert heading, f"{name} has no title"
    page.close()
    assert not failures, "\n".join(failures)


def test_shared_link_reopens_the_same_view(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/timeline?incident=demo-fraud-stale&from=2026-02-04T00:00:00Z&to=2026-02-04T12:00:00Z")
    wait_idle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_role("textbox", name="From (UTC)").input_value() == "2026-02-04 00:00"
    assert sidebar.get_by_role("textbox", name="To (UTC)").input_value() == "2026-02-04 12:00"
    assert "demo-fraud-stale" in page.url
    page.close()


def test_unknown_incident_link_shows_a_message(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/?incident=INC-does-not-exist")
    wait_idle(page)
    assert page.get_by_text("does not exist").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


@pytest.mark.parametrize("incident", INCIDENTS)
def test_postmortem_in_presentation_mode(server, browser, incident):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/postmortem?incident={incident}")
    wait_idle(page)
    page.get_by_text("Presentation mode").click()
    wait_idle(page)
    background = page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=\"stAppViewContainer\"]')).backgroundColor")
    assert background == "rgb(5, 7, 12)", "presentation mode did not switch to the dark theme"
    page.screenshot(path=str(screenshot_dir() / f"{incident}-postmortem-presentation.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_role("tab", name="Walkthrough").click()
    wait_idle(page)
    page.screenshot(path=str(screenshot_dir() / f"{incident}-walkthrough-presentation.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_triage_can_be_cancelled(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/triage?incident=demo-ctr-drop")
    wait_idle(page)
    page.get_by_role("button", name="Run triage").click()
    cancel = page.get_by_role("button", name="Cancel triage")
    cancel.wait_for(timeout=30000)
    cancel.click()
    page.get_by_text("Triage was cancelled").wait_for(timeout=60000)
    wait_idle(page)
    assert page.get_by_text("Triage finished in").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0, "a cancelled run stored a result"
    assert page.locator('[data-testid="stException"]').count() == 0
    # the page works again: a second run finishes and ranks the hypotheses
    page.get_by_role("button", name="Run triage").click()
    page.get_by_text("Triage finished in").first.wait_for(timeout=120000)
    wait_idle(page)
    assert page.get_by_role("button", name="Cancel triage").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() > 0
    page.close()
