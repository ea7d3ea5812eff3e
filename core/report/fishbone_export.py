"""Fishbone exports: JSON (also stored in the incident bundle), Markdown outline, Mermaid, SVG and PNG.

Images are rendered by kaleido 1.x, which drives a Chrome-family browser through
choreographer. The browser is ``BROWSER_PATH`` when set, else the first of
chromium/chrome on ``PATH``, else Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from core.errors import InvalidInputError
from core.markdown_text import md_escape
from core.models import CauseStatus
from core.store.fishbone import Fishbone, why_paths
from core.viz.fishbone import fishbone_figure
from core.viz.images import render_images

FORMAT = "fishbone/1"
FORMATS = ("md", "mermaid", "json", "svg", "png")
BUNDLE_FILE = "fishbone.json"


# ---------------------------------------------------------------- JSON


def fishbone_to_dict(fishbone: Fishbone) -> dict[str, Any]:
    """Plain data of a fishbone; loadable again with ``core.demo.fishbones.seed_fishbone``."""
    cats = {c.id: c.name for c in fishbone.categories}
    texts = {c.id: c.text for c in fishbone.causes}

    def cause(c) -> dict[str, Any]:
        out: dict[str, Any] = {"text": c.text, "status": str(c.status)}
        if c.parent_id is None:
            out = {"category": cats.get(c.category_id, ""), **out}
        if c.notes:
            out["notes"] = c.notes
        if c.evidence:
            out["evidence"] = [dict(e) for e in c.evidence]
        kids = fishbone.children(c.id)
        if kids:
            out["children"] = [cause(k) for k in kids]
        return out

    by_parent: dict[int | None, list] = {}
    ids = {w.id for w in fishbone.whys}
    for w in fishbone.whys:
        by_parent.setdefault(w.parent_id if w.parent_id in ids else None, []).append(w)

    def step(w) -> dict[str, Any]:
        out: dict[str, Any] = {"question": w.question, "answer": w.answer}
        if w.parent_id is None or w.parent_id not in ids:
            out = {"chain": w.chain, **out}
        if w.cause_id in texts:
            out["cause"] = texts[w.cause_id]
        if w.evidence:
            out["evidence"] = [dict(e) for e in w.evidence]
        nxt = by_parent.get(w.id, [])
        if nxt:
            out["then"] = [step(n) for n in nxt]
        return out

    actions = []
    for a in fishbone.actions:
        item: dict[str, Any] = {"text": a.text, "owner": a.owner, "status": str(a.status)}
        if a.due:
            item["due"] = a.due.isoformat()
        if a.cause_id in texts:
            item["cause"] = texts[a.cause_id]
        actions.append(item)
    top = [c for c in fishbone.causes if c.parent_id is None]
    return {
        "format": FORMAT,
        "incident": fishbone.incident_id,
        "problem": fishbone.problem,
        "categories": [c.name for c in fishbone.categories],
        "causes": [cause(c) for c in top],
        "whys": [step(w) for w in by_parent.get(None, [])],
        "actions": actions,
    }


def fishbone_to_json(fishbone: Fishbone) -> str:
    return json.dumps(fishbone_to_dict(fishbone), indent=2, ensure_ascii=False) + "\n"


def write_bundle_fishbone(fishbone: Fishbone, bundle_dir: Path | str) -> Path:
    """Write ``fishbone.json`` into an incident bundle directory and return its path."""
    folder = Path(bundle_dir)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a bundle directory; unzip the bundle or give its folder")
    path = folder / BUNDLE_FILE
    path.write_text(fishbone_to_json(fishbone), encoding="utf-8")
    return path


# ---------------------------------------------------------------- Markdown and Mermaid




def _mermaid_label(text: str) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    for ch, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(ch, code)
    return f'"{text}"'


def fishbone_to_mermaid(fishbone: Fishbone) -> str:
    """A Mermaid flowchart: causes -> categories -> problem, styled by status."""
    lines = ["flowchart LR", f"  P[{_mermaid_label(fishbone.problem or 'Problem')}]"]
    for cat in fishbone.categories:
        lines.append(f"  C{cat.id}[{_mermaid_label(cat.name)}] --> P")
        for cause in fishbone.top_causes(cat.id):
            lines.append(f"  K{cause.id}({_mermaid_label(cause.text)}):::{cause.status} --> C{cat.id}")
            for kid in fishbone.children(cause.id):
                lines.append(f"  K{kid.id}({_mermaid_label(kid.text)}):::{kid.status} --> K{cause.id}")
    lines += [
        "  classDef confirmed fill:#fde2e2,stroke:#D62728,color:#9B1C1C",
        "  classDef suspected fill:#fff3d6,stroke:#E69F00,color:#6B4A00",
        "  classDef ruled_out fill:#eeeeee,stroke:#8C8C8C,color:#7A7A7A,stroke-dasharray:4 3",
    ]
    return "\n".join(lines) + "\n"


def _evidence_line(ref: dict[str, Any]) -> str:
    kind = str(ref.get("type", "evidence")).replace("_", " ")
    return f"{md_escape(str(ref.get('title', '')))} ({kind})"


def fishbone_to_markdown(fishbone: Fishbone, *, mermaid: bool = True) -> str:
    """A Markdown outline: problem, categories with causes and evidence, Five Whys, action items."""
    out = [f"# Fishbone: {md_escape(fishbone.problem or 'no problem statement yet')}", ""]
    out.append(f"Incident `{fishbone.incident_id}`. Status legend: **confirmed**, *suspected*, ~~ruled out~~.")
    out.append("")

    def label(c) -> str:
        text = md_escape(c.text)
        status = CauseStatus(c.status)
        if status == CauseStatus.CONFIRMED:
            return f"**{text}** (confirmed)"
        if status == CauseStatus.RULED_OUT:
            return f"~~{text}~~ (ruled out)"
        return f"*{text}* (suspected)"

    for cat in fishbone.categories:
        out.append(f"## {md_escape(cat.name)}")
        top = fishbone.top_causes(cat.id)
        if not top:
            out.append("- no causes")
        for cause in top:
            out.append(f"- {label(cause)}")
            for ref in cause.evidence:
                out.append(f"  - evidence: {_evidence_line(ref)}")
            for kid in fishbone.children(cause.id):
                out.append(f"  - {label(kid)}")
                for ref in kid.evidence:
                    out.append(f"    - evidence: {_evidence_line(ref)}")
        out.append("")
    paths = why_paths(fishbone.whys)
    if paths:
        out += ["## Five Whys", ""]
        texts = {c.id: c.text for c in fishbone.causes}
        seen: set[int] = set()
        for n, path in enumerate(paths, 1):
            out.append(f"### Chain {md_escape(path[0].chain)}, branch {n}")
            for depth, step in enumerate(path, 1):
                answer = md_escape(step.answer) if step.answer else "_(not answered yet)_"
                repeat = " (shared with the branch above)" if step.id in seen else ""
                out.append(f"{depth}. **Q:** {md_escape(step.question)}{repeat}  ")
                out.append(f"   **A:** {answer}  ")
                if step.cause_id in texts:
                    out.append(f"   **Cause:** {md_escape(texts[step.cause_id])}")
                seen.add(step.id)
            out.append("")
    if fishbone.actions:
        out += ["## Action items", "", "| Action | Owner | Due | Status | Cause |", "|---|---|---|---|---|"]
        texts = {c.id: c.text for c in fishbone.causes}
        for a in fishbone.actions:
            due = a.due.isoformat() if isinstance(a.due, date) else ""
            out.append(f"| {md_escape(a.text)} | {md_escape(a.owner)} | {due} | {str(a.status).replace('_', ' ')} | "
                       f"{md_escape(texts.get(a.cause_id, ''))} |")
        out.append("")
    if mermaid:
        out += ["## Diagram", "", "```mermaid", fishbone_to_mermaid(fishbone).rstrip(), "```", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- images


def figure_images(fig: go.Figure, formats: tuple[str, ...] = ("svg", "png"), *,
                  scale: float = 2.0) -> dict[str, bytes]:
    """Render a figure to several image formats in one browser session (PNG at ``scale``).

    Raises:
        InvalidInputError: a format is not svg or png.
        SourceUnavailableError: no browser found, or it failed to render.
    """
    jobs = [(fig, fmt, scale if fmt == "png" else 1.0) for fmt in formats]
    images = render_images(jobs, what=f"the fishbone as {'/'.join(formats)}")
    return dict(zip(formats, images))


def figure_image(fig: go.Figure, fmt: str, *, scale: float = 1.0) -> bytes:
    """Render a figure to SVG or PNG bytes with kaleido (see :func:`figure_images`)."""
    return figure_images(fig, (fmt,), scale=scale)[fmt]


def fishbone_images(fishbone: Fishbone, formats: tuple[str, ...] = ("svg", "png"), *,
                    presentation: bool = False) -> dict[str, bytes]:
    """The diagram as SVG and/or PNG (PNG at 2x for sharp slides), rendered in one browser session."""
    fig = fishbone_figure(fishbone.problem, fishbone.categories, fishbone.causes, presentation=presentation)
    return figure_images(fig, formats, scale=2.0)


def export_fishbone(fishbone: Fishbone, fmt: str, *, presentation: bool = False) -> bytes:
    """One export of a fishbone as bytes: ``md``, ``mermaid``, ``json``, ``svg`` or ``png``."""
    if fmt == "md":
        return fishbone_to_markdown(fishbone).encode()
    if fmt == "mermaid":
        return fishbone_to_mermaid(fishbone).encode()
    if fmt == "json":
        return fishbone_to_json(fishbone).encode()
    if fmt in ("svg", "png"):
        return fishbone_images(fishbone, (fmt,), presentation=presentation)[fmt]
    raise InvalidInputError(f"'{fmt}' is not an export format; use one of {', '.join(FORMATS)}")


def export_filename(fishbone: Fishbone, fmt: str) -> str:
    ext = {"md": "md", "mermaid": "mmd", "json": "json", "svg": "svg", "png": "png"}[fmt]
    return f"{fishbone.incident_id}-fishbone.{ext}"

