"""Small text helpers of the post-mortem drafts: escaped user text, times, tables, percentages."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from core.markdown_text import md_escape


def md_text(text: Any) -> str:
    """User text made safe for Markdown prose: one line, no raw HTML, links, images or emphasis."""
    return md_escape(text or "")


def md_cell(text: Any) -> str:
    """User text made safe for a Markdown table cell (``|`` is escaped too)."""
    return md_text(text)


def utc_text(t: datetime | None) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if t else "unknown"


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_cell(c) if c not in (None, "") else "—" for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None) -> str:
    return "unknown" if x is None else f"{x:+.1%}"

