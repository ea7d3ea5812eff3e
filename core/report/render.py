"""Rendering a :class:`~core.report.postmortem.Postmortem`: Markdown, self-contained HTML and PDF.

* **Markdown** (``postmortem.md.j2``) pastes into a wiki or an issue; section
  texts are Markdown already (user text in drafts is escaped by :func:`core.markdown_text.md_escape`).
  The title line is escaped and ``javascript:``/``vbscript:``/``data:``/``file:``
  link destinations are replaced (:func:`core.markdown_text.strip_unsafe_links`).
* **HTML** (``postmortem.html.j2``) is one file with no outside requests: the
  section Markdown is rendered by markdown-it with raw HTML *disabled* (user text
  can never inject markup or ``javascript:`` links), Markdown images become plain
  links (a viewer's browser never loads a picture named in user text), and the
  charts are live Plotly figures with plotly.js embedded once.
* **PDF** renders an HTML variant with static PNG charts (kaleido 1.x driving a
  Chrome-family browser, :func:`core.viz.images.browser_path`) through
  weasyprint, whose URL fetcher refuses everything but ``data:`` URIs and files
  of the packaged templates folder (no request ever leaves the machine). When no
  browser works, the PDF is still produced and each chart is replaced by a note saying why.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from core.errors import InvalidInputError, SourceUnavailableError
from core.markdown_text import md_escape, strip_unsafe_links
from core.report.model import Postmortem
from core.report.sections import evidence_blocks
from core.viz.images import render_images

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("md", "html", "pdf")
MEDIA_TYPES = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf"}


def _env(autoescape: bool) -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(["html", "j2"]) if autoescape else False,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _image_as_link(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    """A Markdown image drawn as a plain link to it: nothing is fetched when the page is opened."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    href = escapeHtml(token.attrGet("src") or "")
    return f'<a class="image-link" href="{href}" rel="noopener noreferrer nofollow">[image: {escapeHtml(alt)}]</a>'


def markdown_to_html(text: str) -> str:
    """CommonMark plus tables, raw HTML disabled (shown as text), unsafe link schemes refused, images as links."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.add_render_rule("image", _image_as_link)
    return md.render(text or "")


def render_markdown(pm: Postmortem) -> str:
    """The post-mortem as Markdown."""
    text = _env(False).get_template("postmortem.md.j2").render(
        title=md_escape(pm.incident.title), incident=pm.incident, sections=pm.sections,
        generated=pm.generated_at.strftime("%Y-%m-%d %H:%M UTC"), masked=pm.masked)
    return strip_unsafe_links(text.rstrip()) + "\n"


@dataclass(frozen=True)
class _ChartView:
    title: str
    caption: str
    div: str = ""
    image: str = ""
    error: str = ""


def _images(figures: list[go.Figure], scale: float = 2.0) -> list[bytes]:
    """PNG bytes of several figures with one browser session."""
    return render_images([(fig, "png", scale) for fig in figures], what="chart images")


def _for_print(fig: go.Figure) -> go.Figure:
    """A copy suited to paper: light theme, fixed size."""
    out = go.Figure(fig)
    out.update_layout(template="plotly_white", paper_bgcolor="white", plot_bgcolor="white")
    return out


def _figure_html(view: _ChartView) -> str:
    """A chart as a <figure> (titles escaped; the div and image come from plotly and base64)."""
    return _env(True).from_string(
        '<figure>{% if v.image %}<img src="data:image/png;base64,{{ v.image }}" alt="{{ v.title }}">'
        '{% elif v.div %}{{ v.div | safe }}{% else %}<p class="note">Chart not available: {{ v.error }}</p>{% endif %}'
        '<figcaption><b>{{ v.title }}</b>{% if v.caption %} — {{ v.caption }}{% endif %}</figcaption></figure>'
    ).render(v=view)


def render_html(pm: Postmortem, *, static: bool = False, progress: Callable[[str], None] | None = None) -> str:
    """The post-mortem as one self-contained HTML file.

    Args:
        static: charts as embedded PNG images (the PDF variant) instead of interactive Plotly.
        progress: called with a one-line description of each step (the slow one is drawing the images).
    """
    views: dict[int, _ChartView] = {}
    plotlyjs = ""
    if static and pm.charts:
        if progress:
            progress(f"Drawing {len(pm.charts)} chart(s) as images")
        try:
            pngs = _images([_for_print(c.figure) for c in pm.charts])
            for i, (c, png) in enumerate(zip(pm.charts, pngs)):
                views[i] = _ChartView(c.title, c.caption, image=base64.b64encode(png).decode())
        except SourceUnavailableError as exc:
            for i, c in enumerate(pm.charts):
                views[i] = _ChartView(c.title, c.caption, error=str(exc))
    elif pm.charts:
        from plotly.offline import get_plotlyjs

        plotlyjs = get_plotlyjs()
        for i, c in enumerate(pm.charts):
            fig = go.Figure(c.figure)
            fig.update_layout(width=None, autosize=True)
            div = fig.to_html(full_html=False, include_plotlyjs=False, default_width="100%",
                              config={"displaylogo": False, "responsive": True})
            views[i] = _ChartView(c.title, c.caption, div=div)
    sections = []
    for s in pm.sections:
        charts = [views[i] for i, c in enumerate(pm.charts) if c.section == s.key and i in views]
        if s.key == "evidence" and not s.edited and pm.evidence:
            # each finding followed by its own chart
            html = []
            for n, block in enumerate(evidence_blocks(pm.evidence)):
                html.append(markdown_to_html(block))
                for i, c in enumerate(pm.charts):
                    if c.section == "evidence" and c.anchor == n and i in views:
                        html.append(_figure_html(views[i]))
            sections.append({"key": s.key, "title": s.title, "html": "\n".join(html), "charts": []})
            continue
        sections.append({"key": s.key, "title": s.title, "html": markdown_to_html(s.text), "charts": charts})
    return _env(True).get_template("postmortem.html.j2").render(
        title=pm.incident.title, incident=pm.incident, sections=sections, static=static, plotlyjs=plotlyjs,
        generated=pm.generated_at.strftime("%Y-%m-%d %H:%M UTC"), masked=pm.masked)


def _embedded_only_fetcher() -> Any:
    """A weasyprint URL fetcher that serves ``data:`` URIs and packaged template files, and refuses the rest."""
    from weasyprint.urls import URLFetcher

    class EmbeddedOnlyFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                from urllib.parse import unquote, urlsplit

                path = Path(unquote(urlsplit(url).path)).resolve()
                if path.is_relative_to(TEMPLATES.resolve()):
                    return super().fetch(url, headers)
            raise ValueError(f"the PDF export fetches no outside resource; refused {url[:200]}")

    return EmbeddedOnlyFetcher(allowed_protocols={"data", "file"}, allow_redirects=False)


def render_pdf(pm: Postmortem, progress: Callable[[str], None] | None = None) -> bytes:
    """The post-mortem as PDF (weasyprint over the static-image HTML variant; nothing outside is fetched).

    ``progress`` is called with each step's description (drawing the chart images, laying out the pages).
    """
    from weasyprint import HTML

    html = render_html(pm, static=True, progress=progress)
    if progress:
        progress("Laying out the pages")
    return HTML(string=html, base_url=str(TEMPLATES), url_fetcher=_embedded_only_fetcher()).write_pdf()


_PROMPT = re.compile(r"(?:-\s*\*Add [^\n]*\*\s*)+")


def without_prompts(pm: Postmortem) -> Postmortem:
    """The post-mortem without sections that still hold only the editor's prompt ("- *Add what …*")."""
    from dataclasses import replace

    return replace(pm, sections=tuple(s for s in pm.sections if not _PROMPT.fullmatch(s.text.strip())))


def export_postmortem(pm: Postmortem, fmt: str, progress: Callable[[str], None] | None = None) -> bytes:
    """One export as bytes: ``md``, ``html`` or ``pdf``; sections left at their prompt are not exported.

    ``progress`` (PDF only, the slow one) is called with each step's description.

    Raises:
        InvalidInputError: unknown format.
    """
    pm = without_prompts(pm)
    if fmt == "md":
        return render_markdown(pm).encode()
    if fmt == "html":
        return render_html(pm).encode()
    if fmt == "pdf":
        return render_pdf(pm, progress)
    raise InvalidInputError(f"'{fmt}' is not a post-mortem format; use one of {', '.join(FORMATS)}")


def export_filename(pm: Postmortem, fmt: str) -> str:
    return f"{pm.incident.id}-postmortem.{fmt}"


def export_info(pm: Postmortem) -> dict[str, Any]:
    """A JSON-able summary for the command line's ``--json``."""
    return {
        "incident": pm.incident.id, "sections": [s.key for s in pm.sections],
        "edited": [s.key for s in pm.sections if s.edited], "charts": len(pm.charts),
        "evidence": len(pm.evidence), "key_events": len(pm.key_events), "masked": pm.masked,
        "warnings": [{"section": w.section, "problem": w.problem, "excerpt": w.excerpt, "suggestion": w.suggestion}
                     for w in pm.warnings],
        "guard_rails": ([{"kind": i.kind, "name": i.name, "file": i.file or None, "proof": i.proof,
                          "proven": i.proven} for i in pm.guard_rails.items] if pm.guard_rails is not None else None),
    }
