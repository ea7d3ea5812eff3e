"""Screenshot app pages in headless Chromium: python scripts/screenshot.py URL OUT.png [URL OUT.png ...].

Waits for Streamlit to finish running the page before taking the picture.
Set PRESENT=1 to switch on presentation mode first (clicks the sidebar toggle).
"""

import os
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def wait_idle(page, timeout_ms: int = 90000) -> None:
    """Wait until the script run finished: a heading is drawn and the header shows no Stop button."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            if (!main || !main.querySelector('h1')) return false;
            const header = document.querySelector('[data-testid="stHeader"]');
            const running = header && [...header.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop');
            return !running && !document.querySelector('[data-testid="stSkeleton"]');
        }""",
        timeout=timeout_ms,
        polling=250,
    )
    page.wait_for_timeout(1200)


def main(argv: list[str]) -> int:
    pairs = list(zip(argv[0::2], argv[1::2]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": int(os.environ.get("WIDTH", 1600)),
                                          "height": int(os.environ.get("HEIGHT", 1100))})
        for url, out in pairs:
            page.goto(url)
            wait_idle(page)
            if os.environ.get("PRESENT"):
                page.get_by_text("Presentation mode").click()
                wait_idle(page)
            page.screenshot(path=out, full_page=bool(os.environ.get("FULL")))
            errors = page.locator('[data-testid="stException"]').count()
            print(f"{out}: {errors} exception element(s)")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
