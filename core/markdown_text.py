"""User text inside Markdown: the one escaper, and the one check of link schemes.

Every place that puts user or log text into Markdown (the post-mortem and fishbone
exports, Streamlit labels and captions) goes through :func:`md_escape`, so a title such
as ``![x](http://tracker/p.png)`` or ``[click](javascript:…)`` shows literally instead
of becoming an image, a link, emphasis or HTML.
"""

from __future__ import annotations

import re

from markdown_it.common.utils import unescapeAll

# CommonMark structure characters, plus ``$`` (Streamlit renders $…$ as LaTeX); a ``]`` only where it
# could close a link, an ``_`` only where it could open or close emphasis (not inside a word: ``n_rows``)
_MD_SPECIAL = re.compile(r"[\\`*\[#|<>~$]|\](?=[(\[:])|(?<![^\W_])_|_(?![^\W_])")
UNSAFE_SCHEMES = ("javascript", "vbscript", "data", "file")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]+")
# a link destination: after "](", at a reference definition "[id]:", or an autolink "<scheme:...>"
_DESTINATION = re.compile(r"((?<!\\)\]\(\s*|^ {0,3}\[[^\]\n]+\]:[ \t]*|(?<!\\)<)(<[^>\n]*>|[^\s()<>]+)", re.M)
_HTML_URL_ATTR = re.compile(r"""(\b(?:href|src|action|formaction|srcset|poster)\s*=\s*["']?)\s*([^"'\s>]+)""", re.I)
REMOVED_LINK = "#unsafe-link-removed"


def md_escape(text: object) -> str:
    """User text on one line, escaped so Markdown shows it literally (no links, images, emphasis or HTML)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), re.sub(r"\s+", " ", str(text if text is not None else "")).strip())


def is_unsafe_url(url: str) -> bool:
    """True for a ``javascript:``, ``vbscript:``, ``data:`` or ``file:`` URL, however it is escaped or spaced."""
    plain = _CONTROL.sub("", unescapeAll(url.strip("<>"))).lower()
    return plain.split(":", 1)[0] in UNSAFE_SCHEMES and ":" in plain


def strip_unsafe_links(markdown: str) -> str:
    """``markdown`` with every unsafe link destination (see :func:`is_unsafe_url`) replaced by a harmless anchor."""

    def link(m: re.Match) -> str:
        return m.group(1) + REMOVED_LINK if is_unsafe_url(m.group(2)) else m.group(0)

    return _HTML_URL_ATTR.sub(link, _DESTINATION.sub(link, markdown))
