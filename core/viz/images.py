"""Static images of Plotly figures, rendered by kaleido in one headless browser session.

The browser is ``BROWSER_PATH`` when set, else the first Chrome-family browser on
``PATH``, else Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import asyncio
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import plotly.graph_objects as go

from core.config import settings
from core.errors import InvalidInputError, SourceUnavailableError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FORMATS = ("svg", "png")


def browser_path() -> str | None:
    """The Chrome-family browser kaleido should drive (``BROWSER_PATH``, ``PATH``, Debian's chromium)."""
    given = settings().limits.browser_path
    if given:
        return given
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def render_images(jobs: list[tuple[go.Figure, str, float]], *, what: str = "the figures",
                  timeout: float = 90) -> list[bytes]:
    """Render ``(figure, format, scale)`` jobs in order with one browser session.

    Raises:
        InvalidInputError: a format is not svg or png.
        SourceUnavailableError: no browser was found, or it failed to render.
    """
    for _fig, fmt, _scale in jobs:
        if fmt not in FORMATS:
            raise InvalidInputError(f"'{fmt}' is not an image format; use svg or png")
    path = browser_path()
    if path is None:
        raise SourceUnavailableError(
            f"cannot render {what}: no Chrome or Chromium found; install chromium or set BROWSER_PATH")
    import kaleido

    async def render() -> list[bytes]:
        out = []
        async with kaleido.Kaleido(n=1, timeout=timeout, path=path) as k:
            for fig, fmt, scale in jobs:
                opts = {"format": fmt, "width": fig.layout.width or 1000, "height": fig.layout.height or 500,
                        "scale": scale}
                out.append(await k.calc_fig(fig, opts=opts))
        return out

    try:
        # a fresh event loop in a worker thread: callers (Streamlit, pytest) may already run one
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, render()).result()
    except Exception as exc:  # kaleido/choreographer raise many unrelated types when the browser fails
        raise SourceUnavailableError(
            f"cannot render {what} with the browser at {path}: {type(exc).__name__}: {exc}. "
            "Check that the browser starts headless, or set BROWSER_PATH to another one") from exc
