"""Real browser: links keep the whole view. For every page × demo, switch page from the sidebar, copy the
address, open it in a fresh browser context (a new session) and check the same incident and range.

Drives headless Chromium (playwright) against the app all browser tests share (tests/e2e/conftest.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from screenshot import wait_idle  # noqa: E402

from core.timerange import format_input  # noqa: E402
from core.models import utc  # noqa: E402
from tests.e2e.conftest import app_pages  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # the first start alone takes 20–100 s on a busy machine

PAGES = app_pages()  # every page of app.py's navigation, {url path: title}
INCIDENTS = ["demo-ctr-drop", "demo-schema-change", "demo-fraud-stale", "demo-image-downscale"]
SETTLED = """(title) => {
    const h = document.querySelector('[data-testid="stMain"] h1');
    const header = document.querySelector('[data-testid="stHeader"]');
    const running = (header && [...header.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop'))
        || document.querySelector('[data-testid="stApp"][data-test-script-state="running"]');
    return h && h.innerText.trim().startsWith(title) && !running
        && !document.querySelector('[data-testid="stSkeleton"]') && location.search.includes('to=');
}"""


def _settle(page, title: str) -> None:
    page.wait_for_function(SETTLED, arg=title, timeout=90000, polling=100)
    page.wait_for_timeout(300)


def _switch(page, title: str) -> float:
    """Click ``title`` in the sidebar navigation; the seconds until that page finished running."""
    t0 = time.monotonic()
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    _settle(page, title)
    return time.monotonic() - t0


def _params(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(url).query, keep_blank_values=True).items()}


def _shown(page) -> tuple[str, str, str]:
    """What the sidebar shows: the incident picker's text and the From/To fields."""
    side = page.locator('[data-testid="stSidebar"]')
    picker = side.locator('[data-testid="stSelectbox"]').first.evaluate(
        "e => [e.innerText, ...[...e.querySelectorAll('input,[aria-label],[title]')].map("
        "i => [i.value, i.getAttribute('aria-label'), i.getAttribute('title')].join(' '))].join(' ')")
    return (picker, side.get_by_role("textbox", name="From (UTC)").input_value(), side.get_by_role("textbox", name="To (UTC)").input_value())


@pytest.mark.parametrize("incident", INCIDENTS)
def test_copied_links_reopen_the_same_view(server, browser, incident):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/?incident={incident}")
    wait_idle(page, 300000)  # the first start loads the demo incidents
    # a range that is not the incident's default, so that a link that lost it would show
    before = page.url
    side = page.locator('[data-testid="stSidebar"]')
    side.locator('[data-testid="stSelectbox"]').nth(1).click()
    page.get_by_role("option", name="±6 h around onset").click()
    page.wait_for_function("(u) => location.href !== u", arg=before, timeout=60000)
    _settle(page, "Incidents")
    wanted = _params(page.url)
    assert wanted["incident"] == incident
    copied: dict[str, str] = {}
    timings: dict[str, float] = {}
    for path, title in [*list(PAGES.items())[1:], ("", "Incidents")]:
        timings[title] = _switch(page, title)
        if title == "Logs" and incident == "demo-fraud-stale":
            box = page.get_by_role("textbox", name="Query (Lucene syntax)")
            box.fill('"feature cache miss"')
            box.press("Enter")
            page.wait_for_function("() => location.search.includes('logs_query=')", timeout=30000)
            _settle(page, "Logs")
        params = _params(page.url)
        assert urlparse(page.url).path.rstrip("/") == f"/{path}".rstrip("/"), page.url
        assert (params.get("incident"), params.get("from"), params.get("to")) == \
               (incident, wanted["from"], wanted["to"]), f"{title}: the switch lost the view: {page.url}"
        copied[title] = page.url
    print(f"\n{incident} warm page switches (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    # back to Logs: the page's own focus comes back with the page
    if incident == "demo-fraud-stale":
        _switch(page, "Logs")
        assert _params(page.url).get("logs_query") == '"feature cache miss"', page.url
        copied["Logs"] = page.url
    page.close()

    start, end = format_input(utc(wanted["from"])), format_input(utc(wanted["to"]))
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    fresh = context.new_page()
    problems = []
    for title, url in copied.items():
        fresh.goto(url)
        _settle(fresh, title)
        picker, f, t = _shown(fresh)
        if incident not in picker or (f, t) != (start, end):
            problems.append(f"{title}: shows {picker!r} {f}–{t}, the link says {incident} {start}–{end}")
        if _params(fresh.url).get("incident") != incident:
            problems.append(f"{title}: the address changed to {fresh.url}")
        if fresh.locator('[data-testid="stException"]').count():
            problems.append(f"{title}: exception {fresh.locator('[data-testid=stException]').first.inner_text()[:300]}")
        if title == "Logs" and "logs_query" in url:
            value = fresh.get_by_role("textbox", name="Query (Lucene syntax)").input_value()
            if value != '"feature cache miss"':
                problems.append(f"Logs: the query is {value!r}")
    context.close()
    assert not problems, "\n".join(problems)


def test_unknown_page_and_incident_say_so(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/timeline?incident=nope")
    _settle_any(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "No incident 'nope'" in main
    assert "demo-" not in main
    assert _params(page.url).get("incident") == "nope"
    page.goto(f"{server}/nosuchpage?incident=demo-ctr-drop")
    page.wait_for_function("() => document.body.innerText.includes(\"There is no page '/nosuchpage'\")",
                           timeout=60000)
    page.close()


def _settle_any(page) -> None:
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=90000)
    page.wait_for_function("""() => { const header = document.querySelector('[data-testid="stHeader"]');
        return !(header && [...header.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop'))
            && !document.querySelector('[data-testid="stApp"][data-test-script-state="running"]'); }""",
                           timeout=90000, polling=100)
    page.wait_for_timeout(500)
