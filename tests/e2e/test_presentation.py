"""Presentation mode in a real browser: no clipped headline number and WCAG AA text contrast on every page.

Starts ``streamlit run app.py``, switches presentation mode on in headless Chromium,
and visits every page at 1280x720 and at 1920x1080. On each page the browser
measures

* every ``st.metric`` value: its text must fit (``scrollWidth <= clientWidth``), so
  an onset time or a "before -> after" level is never cut to "2026-01-…";
* every visible text element: the contrast of its computed colour against its
  effective background (the first opaque ancestor background, alpha-composited)
  must reach WCAG AA (4.5:1, or 3:1 for large text);
* every data-grid table (drawn on a canvas, so no DOM text to read): a screenshot of
  it must be mostly dark, i.e. it follows the dark theme instead of a white block.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from screenshot import wait_idle  # noqa: E402

from tests.e2e.conftest import app_pages, screenshot_dir  # noqa: E402

pytestmark = pytest.mark.e2e

PAGES = list(app_pages().values())  # every page of app.py's navigation
VIEWPORTS = {"1280x720": (1280, 720), "1920x1080": (1920, 1080)}

# Runs in the page: returns clipped metric values and low-contrast text elements.
PROBE = r"""
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {  // alpha-composite top over an opaque bottom
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) return false;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) return false;
    }
    return true;
  };
  const name = (el) => {
    let n = el.tagName.toLowerCase();
    const t = el.closest('[data-testid]');
    if (t) n = t.getAttribute('data-testid') + ' > ' + n;
    return n;
  };
  const clipped = [];
  for (const el of document.querySelectorAll('[data-testid="stMetricValue"]')) {
    if (!visible(el)) continue;
    for (const e of [el, ...el.querySelectorAll('*')]) {
      if (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0) {
        clipped.push(`${el.innerText.trim()} (${e.scrollWidth}px of text in ${e.clientWidth}px)`);
        break;
      }
    }
  }
  const low = [];
  const seen = new Set();
  const root = document.querySelector('.stApp');
  const skip = '.js-plotly-plot, [data-testid="stDataFrameResizable"], canvas, svg, [data-testid="stSkeleton"], iframe';
  for (const el of root.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest(skip) || !visible(el)) continue;
    const s = getComputedStyle(el);
    const fg = parse(s.color);
    if (!fg) continue;
    const bg = background(el);
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    const shown = over([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const icon = el.closest('[data-testid="stIconMaterial"]');  // a glyph: non-text contrast, 3:1
    const need = (icon || size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    const r = ratio(shown, bg);
    if (r + 0.01 < need) {
      const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()).join(' ').slice(0, 40);
      const key = name(el) + text;
      if (seen.has(key)) continue;
      seen.add(key);
      low.push(`${name(el)} "${text}": ${r.toFixed(2)}:1 < ${need}:1 (${s.color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
    }
  }
  return {clipped, low};
}
"""


def _light_tables(page) -> list[str]:
    """Data grids (canvas) whose pixels are mostly light: a white table on the dark screen."""
    from PIL import Image

    found = []
    grids = page.locator('[data-testid="stDataFrame"]')
    for i in range(grids.count()):
        grid = grids.nth(i)
        if not grid.is_visible():
            continue
        grid.scroll_into_view_if_needed()
        image = Image.open(io.BytesIO(grid.screenshot())).convert("L")
        pixels = list(image.getdata())
        light = sum(1 for v in pixels if v > 160) / max(1, len(pixels))
        if light > 0.5:
            found.append(f"data grid #{i + 1} is {light:.0%} light pixels")
    return found


def _check(page, where: str) -> list[str]:
    got = page.evaluate(PROBE)
    problems = [f"{where}: metric value clipped: {c}" for c in got["clipped"]]
    problems += [f"{where}: low contrast: {c}" for c in got["low"]]
    problems += [f"{where}: {t}" for t in _light_tables(page)]
    if page.locator('[data-testid="stException"]').count():
        problems.append(f"{where}: exception element")
    return problems


def settle(page, timeout_ms: int = 180000) -> None:
    """Wait until the script run is over (Streamlit's own run state) and charts had a moment to draw."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            const main = document.querySelector('[data-testid="stMain"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning' && main
                && main.querySelector('h1') && !document.querySelector('[data-testid="stSkeleton"]')
                && !document.querySelector('[data-stale="true"]');  // nothing left faded from the last run
        }""",
        timeout=timeout_ms, polling=200)
    page.wait_for_timeout(800)


def _open(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.wait_for_function("t => document.querySelector('[data-testid=\"stMain\"] h1')?.innerText.trim() === t",
                           arg=title, timeout=180000, polling=200)
    settle(page)


@pytest.mark.timeout(900)  # cold pages on a loaded machine; about a minute and a half when warm
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_presentation_mode_reads_on_every_page(server, browser, size):
    """Every page (and the walkthrough): no clipped metric, AA contrast, dark tables."""
    width, height = VIEWPORTS[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/?incident=demo-ctr-drop")
    wait_idle(page, timeout_ms=240000)  # the first start loads the demo incidents
    page.locator('[data-testid="stSidebar"]').get_by_text("Presentation mode").click()
    settle(page)
    problems: list[str] = []
    for title in PAGES:
        _open(page, title)
        if title == "Triage" and page.get_by_role("button", name="Run triage").count():
            page.get_by_role("button", name="Run triage").click()
            page.wait_for_function("() => document.body.innerText.includes('Hypotheses, most likely first')",
                                   timeout=120000, polling=250)
            settle(page)
        problems += _check(page, f"{title} at {size}")
        page.screenshot(path=str(screenshot_dir() / f"present-{size}-{title.lower()}.png"))
        if title == "Post-mortem":
            page.get_by_role("tab", name="Walkthrough").click()
            settle(page)
            problems += _check(page, f"Post-mortem walkthrough at {size}")
            page.screenshot(path=str(screenshot_dir() / f"present-{size}-walkthrough.png"))
    page.close()
    assert not problems, f"{len(problems)} problem(s) in presentation mode:\n" + "\n".join(problems)


def _moment(page) -> str:
    caption = page.locator('[data-testid="stCaptionContainer"]:visible').filter(has_text="Moment ").first
    return caption.inner_text().split(" · ")[0]


def _press(page, key: str, expect: str) -> None:
    page.keyboard.press(key)
    page.wait_for_function(
        """t => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
                 .some(e => e.offsetParent && e.innerText.startsWith(t + ' ·'))""",
        arg=expect, timeout=60000, polling=200)
    settle(page)


@pytest.mark.timeout(600)
def test_walkthrough_steps_with_presenter_keys(server, browser):
    """A presenter remote's keys step the walkthrough, even while its tab has focus; routine runs are one moment."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/postmortem?incident=demo-fraud-stale")
    wait_idle(page, timeout_ms=240000)
    page.get_by_role("tab", name="Walkthrough").click()  # the tab keeps the focus
    settle(page)
    first = _moment(page)
    assert first.startswith("Moment 1 of ")
    total = int(first.rsplit(" ", 1)[1])
    _press(page, "PageDown", f"Moment 2 of {total}")
    _press(page, "ArrowRight", f"Moment 3 of {total}")
    _press(page, "ArrowLeft", f"Moment 2 of {total}")
    _press(page, "PageUp", f"Moment 1 of {total}")
    titles = []
    for n in range(2, total + 1):
        _press(page, "ArrowRight", f"Moment {n} of {total}")
        titles.append(page.locator('[data-testid="stMain"] h3:visible').first.inner_text())
    stopped = [t for t in titles if "account-features-refresh ran" in t]
    assert stopped == ["account-features-refresh ran 63× (hourly), last at 02:05, then stopped"], titles
    assert not any("run #" in t for t in titles), "routine runs were not folded"
    page.close()
