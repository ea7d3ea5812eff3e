"""Page speed as a user sees it: start the app on a fresh home, then visit every page of every demo by
clicking the sidebar in headless Chromium, twice, and print cold and warm seconds per page.

    python tests/bench/bench_pages.py [--rounds 2] [--keep-home DIR]
    python tests/bench/bench_pages.py --pages Distributions,Post-mortem --incidents demo-ctr-drop --rounds 4

``--pages`` and ``--incidents`` time only those pages and demos (each visit still starts from
another page, the Incidents page); with ``--keep-home`` on a home built once, a focused run takes
under a minute.

A visit's time runs from the sidebar click until the page has stopped changing: its title is drawn,
no script run is in progress, no skeleton is left, the address carries the range, and the page's
text is unchanged for 300 ms (the same settled test as tests/e2e/test_links.py). "First start" is
the time from launching ``streamlit run app.py`` on an empty home until the Incidents page is
listed and usable; "demos ready" is when the background build of the three demos has ended.
Targets (issue #24): warm ≤ 1.0 s, cold ≤ 2.0 s, first start ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot import ARGS, CHROMIUM, wait_idle  # noqa: E402

from tests.e2e.conftest import DEMOS_READY  # noqa: E402
from tests.e2e.test_links import INCIDENTS, SETTLED  # noqa: E402
from tests.servers import free_port, http_ok, running  # noqa: E402

USABLE = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const h = main && main.querySelector('h1');
    const header = document.querySelector('[data-testid="stHeader"]');
    const running = header && [...header.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop');
    return h && h.innerText.trim().startsWith('Incidents') && !running
        && main.querySelector('[data-testid="stTabs"]') !== null;
}"""
TEXT = "() => (document.querySelector('[data-testid=\"stMain\"]') || {innerText: ''}).innerText"


def settle(page, title: str, t0: float, timeout: float = 120.0) -> float:
    """Seconds from ``t0`` until ``title``'s page is settled and its text unchanged for 300 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.wait_for_function(SETTLED, arg=title, timeout=timeout * 1000, polling=50)
        at, text = time.monotonic(), page.evaluate(TEXT)
        page.wait_for_timeout(300)
        if page.evaluate(SETTLED, title) and page.evaluate(TEXT) == text:
            return at - t0
    raise TimeoutError(f"{title} did not settle in {timeout:.0f} s")


def click(page, title: str) -> float:
    t0 = time.monotonic()
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    return settle(page, title, t0)


def nav_titles(page) -> list[str]:
    """The page titles in the sidebar navigation, in order (the last line of each link; the first is its icon)."""
    return [t.strip().splitlines()[-1].strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
            if t.strip()]


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="visits of every page per demo (the first is cold)")
    ap.add_argument("--keep-home", type=Path, help="use this (empty or existing) home instead of a temporary one")
    ap.add_argument("--pages", help="comma-separated page titles to time (default: every page)")
    ap.add_argument("--incidents", help=f"comma-separated demo incidents (default: {','.join(INCIDENTS)})")
    args = ap.parse_args(argv)
    only = [t.strip() for t in args.pages.split(",")] if args.pages else None
    incidents = [i.strip() for i in args.incidents.split(",")] if args.incidents else INCIDENTS

    home = args.keep_home or Path(tempfile.mkdtemp(prefix="bench-pages-"))
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--server.fileWatcherType", "none"]  # the app, not the file watcher over a busy work tree
    times: dict[str, list[list[float]]] = {}
    load0 = os.getloadavg()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        launched = time.monotonic()
        with running(cmd, home / "streamlit.log", lambda: http_ok(f"{base}/_stcore/health"), what="streamlit",
                     cwd=ROOT, env=env):
            page.goto(base)
            page.wait_for_function(USABLE, timeout=300_000, polling=50)
            first_start = time.monotonic() - launched
            page.wait_for_function(DEMOS_READY, timeout=600_000, polling=250)
            demos_ready = time.monotonic() - launched
            wait_idle(page)
            for incident in incidents:
                page.goto(f"{base}/?incident={incident}")
                settle(page, "Incidents", time.monotonic())
                titles = nav_titles(page)
                unknown = sorted(set(only or ()) - set(titles))
                if unknown:
                    raise SystemExit(f"no such page in the sidebar: {', '.join(unknown)}; the pages are {', '.join(titles)}")
                visits = [*titles[1:], titles[0]]  # end on Incidents, so every page is a real switch
                if only:  # each chosen page, then back to Incidents (timed too when chosen)
                    visits = [v for t in titles[1:] if t in only for v in (t, titles[0])] or [titles[1], titles[0]]
                for round_ in range(args.rounds):
                    for title in visits:
                        seconds = click(page, title)
                        if only and title not in only:
                            continue
                        times.setdefault(title, [[] for _ in range(args.rounds)])[round_].append(seconds)
                        print(f"  {incident:20s} round {round_ + 1} {title:14s} {seconds:6.2f} s", flush=True)
                    if page.locator('[data-testid="stException"]').count():
                        print(f"  ! an exception is shown on {incident}", flush=True)
        browser.close()
    load1 = os.getloadavg()

    print(f"\nfirst start to a usable Incidents page: {first_start:.1f} s (target 5 s); "
          f"demos built in the background after {demos_ready:.1f} s")
    print(f"load average (1, 5, 15 min) at start {load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}, "
          f"at end {load1[0]:.1f} {load1[1]:.1f} {load1[2]:.1f}; {os.cpu_count()} cores\n")
    print(f"{'page':14s} {'cold median':>11s} {'cold worst':>10s} {'warm median':>11s} {'warm worst':>10s}")
    cold_all, warm_all = [], []
    for title, rounds in times.items():
        cold, warm = rounds[0], [s for r in rounds[1:] for s in r]
        cold_all += cold
        warm_all += warm
        wm = f"{statistics.median(warm):11.2f}" if warm else f"{'—':>11s}"
        ww = f"{max(warm):10.2f}" if warm else f"{'—':>10s}"
        print(f"{title:14s} {statistics.median(cold):11.2f} {max(cold):10.2f} {wm} {ww}")
    if warm_all:
        print(f"{'all pages':14s} {statistics.median(cold_all):11.2f} {max(cold_all):10.2f} "
              f"{statistics.median(warm_all):11.2f} {max(warm_all):10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
