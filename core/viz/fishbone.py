"""Plotly Ishikawa (fishbone) diagram whose labels never overlap.

The layout works in pixels: every label is measured with the advance widths of
DejaVu Sans (the font the figure asks for; a conservative safety factor covers
Verdana/Arial fall-backs), wrapped to a maximum width, and stacked. Each
category owns a column on its side of the spine (alternating above and below);
columns on one side are disjoint in x, labels inside a column are disjoint in
y, the category name sits beyond its causes and the head sits to the right of
every column, so no two labels can overlap. The figure grows with the content
and its axes map one unit to one pixel. :func:`label_boxes` returns the boxes
so tests can check this.
"""

from __future__ import annotations

import html
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

import plotly.graph_objects as go

from core.models import Category, Cause, CauseStatus

FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
LINE_SPACING = 1.3  # plotly's line height for <br>-separated lines, in em
SAFETY = 1.10  # measured widths are multiplied by this, for fall-back fonts and rounding

# Advance widths (1/1000 em) of DejaVu Sans, characters 32..126, measured with PIL ImageFont.getlength.
_REGULAR = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636,
    636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775,
    752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390,
    337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)
_BOLD = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696,
    696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821,
    837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457,
    365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687,
    716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
)

STATUS_COLORS = {
    CauseStatus.CONFIRMED: "#D62728",
    CauseStatus.SUSPECTED: "#E69F00",
    CauseStatus.RULED_OUT: "#8C8C8C",
}
STATUS_LABELS = {
    CauseStatus.CONFIRMED: "Confirmed",
    CauseStatus.SUSPECTED: "Suspected",
    CauseStatus.RULED_OUT: "Ruled out",
}
_TEXT_LIGHT = {CauseStatus.CONFIRMED: "#9B1C1C", CauseStatus.SUSPECTED: "#6B4A00", CauseStatus.RULED_OUT: "#7A7A7A"}
_TEXT_DARK = {CauseStatus.CONFIRMED: "#FF8A80", CauseStatus.SUSPECTED: "#FFD166", CauseStatus.RULED_OUT: "#A0A0A0"}


def char_width(ch: str, bold: bool = False) -> float:
    """Advance width of one character in em (conservative for characters outside the table)."""
    code = ord(ch)
    if 32 <= code <= 126:
        return (_BOLD if bold else _REGULAR)[code - 32] / 1000
    if unicodedata.combining(ch):
        return 0.0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.05
    return 1.0 if bold else 0.95  # wider than any Latin letter of DejaVu Sans


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Rendered width of a one-line ``text`` in pixels at font ``size`` (with the safety factor)."""
    return sum(char_width(ch, bold) for ch in text) * size * SAFETY


def wrap_text(text: str, max_width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap by measured width; words longer than a line are split."""
    lines: list[str] = []
    for paragraph in (text or "").split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if text_width(candidate, size, bold) <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while text_width(word, size, bold) > max_width:
                cut = 1
                while cut < len(word) and text_width(word[: cut + 1], size, bold) <= max_width:
                    cut += 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return [ln for ln in lines if ln] or [""]


@dataclass(frozen=True)
class LabelBox:
    """A placed label: its kind (head, category, cause, subcause), object id, lines and pixel box."""

    kind: str
    ref: int | None
    lines: tuple[str, ...]
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    bold: bool
    anchor: str  # "right" or "center" (horizontal), text always vertically centred

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    def overlaps(self, other: "LabelBox") -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


@dataclass(frozen=True)
class Marker:
    cause_id: int
    x: float
    y: float
    status: CauseStatus
    sub: bool


@dataclass(frozen=True)
class FishboneLayout:
    """Pixel geometry of a fishbone: labels, line segments and cause markers inside ``width`` x ``height``."""

    width: float
    height: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    labels: tuple[LabelBox, ...]
    segments: tuple[tuple[float, float, float, float, str], ...]  # x0, y0, x1, y1, status or "" (structure)
    markers: tuple[Marker, ...]


@dataclass(frozen=True)
class _Style:
    cause: float
    sub: float
    category: float
    head: float
    cause_width: float
    sub_width: float
    category_width: float
    head_width: float
    pad: float
    gap: float
    spine_gap: float
    indent: float
    column_gap: float
    branch: float
    lean: float  # the largest horizontal extent of a bone


def _style(presentation: bool, font: float = 1.0, wrap: float = 1.0, lean: float = 1.0) -> _Style:
    k = (1.35 if presentation else 1.0) * font
    w = k * wrap
    return _Style(cause=12 * k, sub=11 * k, category=13 * k, head=14 * k, cause_width=210 * w,
                  sub_width=190 * w, category_width=max(170 * w, 120 * k), head_width=max(230 * w, 150 * k),
                  pad=3 * k, gap=5 * k, spine_gap=22 * k, indent=18 * k, column_gap=26 * k, branch=22 * k,
                  lean=200 * k * lean)


# Tried in order by ``fit_width``: (font scale, wrap-width scale, bone-slant scale). Slant goes first (it
# costs no readability), then wrapping, then type size; the smallest type is 9.4 px.
_FITS = ((1.0, 1.0, 1.0), (1.0, 1.0, 0.5), (1.0, 0.85, 0.3), (0.92, 0.8, 0.25), (0.85, 0.75, 0.2),
         (0.78, 0.7, 0.15))


def _measure(text: str, size: float, max_width: float, bold: bool = False) -> tuple[list[str], float, float]:
    lines = wrap_text(text, max_width, size, bold)
    width = max(text_width(ln, size, bold) for ln in lines)
    height = len(lines) * size * LINE_SPACING
    return lines, width, height


def layout_fishbone(
    problem: str,
    categories: Iterable[Category],
    causes: Iterable[Cause],
    *,
    presentation: bool = False,
    fit_width: float | None = None,
) -> FishboneLayout:
    """Place the head, the category bones and the cause labels without overlaps (pixel units, y up).

    Args:
        problem: the problem statement (the head).
        categories: the bones, in order; even positions go above the spine, odd below.
        causes: causes and sub-causes (two levels).
        presentation: larger type.
        fit_width: when given, narrower wrapping and then smaller type are tried until the figure
            is at most this many pixels wide (the height grows instead); the smallest candidate is
            returned when none fits. Labels never overlap either way.
    """
    categories = list(categories)
    causes = list(causes)
    if fit_width is None:
        return _layout(problem, categories, causes, _style(presentation))
    best = None
    for font, wrap, lean in _FITS:
        best = _layout(problem, categories, causes, _style(presentation, font, wrap, lean))
        if best.width + 20 <= fit_width:
            break
    return best


def _layout(problem: str, categories: list[Category], causes: list[Cause], st: _Style) -> FishboneLayout:
    ids = {c.id for c in causes}
    tops: dict[int, list[Cause]] = {c.id: [] for c in categories}
    kids: dict[int, list[Cause]] = {}
    for cause in causes:
        if cause.parent_id is not None and cause.parent_id in ids:
            kids.setdefault(cause.parent_id, []).append(cause)
        elif cause.category_id in tops:
            tops[cause.category_id].append(cause)

    # 1. stack every column (distance from the spine, label sizes) independently of x
    columns = []
    for index, cat in enumerate(categories):
        rows = []  # (cause, is_sub, parent, lines, w, h, centre distance)
        dist = st.spine_gap
        for cause in tops[cat.id]:
            for sub, item, parent in [(False, cause, None)] + [(True, k, cause) for k in kids.get(cause.id, [])]:
                size = st.sub if sub else st.cause
                lines, w, h = _measure(item.text, size, st.sub_width if sub else st.cause_width)
                h_box = h + 2 * st.pad
                rows.append((item, sub, parent, lines, w, h, dist + h_box / 2, size))
                dist += h_box + st.gap
        cat_lines, cat_w, cat_h = _measure(cat.name, st.category, st.category_width, bold=True)
        columns.append({"cat": cat, "side": 1 if index % 2 == 0 else -1, "rows": rows, "stack": dist,
                        "cat_lines": cat_lines, "cat_w": cat_w, "cat_h": cat_h})

    side_height = {}
    for side in (1, -1):
        stacks = [c["stack"] for c in columns if c["side"] == side]
        side_height[side] = max(stacks + [st.spine_gap + 30])
    slope = {s: min(0.45, st.lean / side_height[s]) for s in (1, -1)}

    # 2. widths: labels right-aligned on a line left of the whole bone, so branches never cross labels
    for col in columns:
        s, h = col["side"], side_height[col["side"]]
        lean = slope[s] * h  # horizontal extent of the bone
        label_w = max([w + (st.indent if sub else 0) for (_i, sub, _p, _l, w, _h, _d, _s) in col["rows"]] + [0])
        # from the attachment point on the spine (x = 0 locally) leftwards
        label_right = -lean - st.branch
        left = label_right - label_w - st.pad
        bone_end = -lean
        left = min(left, bone_end - col["cat_w"] / 2 - st.pad)
        right = max(0.0, bone_end + col["cat_w"] / 2 + st.pad)
        col.update(lean=lean, label_right=label_right, left=left, right=right, width=right - left)

    # 3. x positions: each side's columns left to right, both sides ending at the head
    cursor = {1: 0.0, -1: 0.0}
    for col in columns:
        s = col["side"]
        col["x_attach"] = cursor[s] - col["left"]
        cursor[s] += col["width"] + st.column_gap
    spine_end = max(cursor.values())
    for side in (1, -1):  # right-align each side to the head
        shift = spine_end - cursor[side]
        for col in columns:
            if col["side"] == side:
                col["x_attach"] += shift

    labels: list[LabelBox] = []
    segments: list[tuple[float, float, float, float, str]] = []
    markers: list[Marker] = []
    for col in columns:
        s, xa = col["side"], col["x_attach"]
        h = side_height[s]
        k = slope[s]
        top = h
        segments.append((xa, 0.0, xa - k * top, s * top, ""))
        lr = xa + col["label_right"]
        cat_y = s * (top + st.pad + col["cat_h"] / 2 + 4)
        cx = xa - k * top
        labels.append(LabelBox("category", col["cat"].id, tuple(col["cat_lines"]),
                               cx - col["cat_w"] / 2 - st.pad, cat_y - col["cat_h"] / 2 - st.pad,
                               cx + col["cat_w"] / 2 + st.pad, cat_y + col["cat_h"] / 2 + st.pad,
                               st.category, True, "center"))
        parent_y: dict[int, float] = {}
        for item, sub, parent, lines, w, th, dist, size in col["rows"]:
            y = s * dist
            status = CauseStatus(item.status)
            right = lr - (st.indent if sub else 0)
            labels.append(LabelBox("subcause" if sub else "cause", item.id, tuple(lines),
                                   right - w - st.pad, y - th / 2 - st.pad, right + st.pad, y + th / 2 + st.pad,
                                   size, False, "right"))
            if not sub:
                bx = xa - k * dist
                segments.append((lr + st.pad, y, bx, y, status.value))
                markers.append(Marker(item.id, bx, y, status, False))
                parent_y[item.id] = y
            else:
                stem = lr + st.pad + st.branch * 0.35
                py = parent_y[parent.id]
                segments.append((right + st.pad, y, stem, y, status.value))
                segments.append((stem, y, stem, py, ""))
                markers.append(Marker(item.id, stem, y, status, True))

    head_lines, head_w, head_h = _measure(problem or "Problem statement (click to write it)", st.head,
                                          st.head_width, bold=True)
    hx0 = spine_end + st.pad
    labels.append(LabelBox("head", None, tuple(head_lines), hx0, -head_h / 2 - 3 * st.pad,
                           hx0 + head_w + 6 * st.pad, head_h / 2 + 3 * st.pad, st.head, True, "center"))
    segments.insert(0, (0.0 - st.pad, 0.0, hx0, 0.0, ""))

    xs = [b.x0 for b in labels] + [b.x1 for b in labels] + [0.0]
    ys = [b.y0 for b in labels] + [b.y1 for b in labels]
    margin = 10.0
    x_min, x_max = min(xs) - margin, max(xs) + margin
    y_min, y_max = min(ys) - margin, max(ys) + margin
    return FishboneLayout(width=x_max - x_min, height=y_max - y_min, x_min=x_min, x_max=x_max, y_min=y_min,
                          y_max=y_max, labels=tuple(labels), segments=tuple(segments), markers=tuple(markers))


def label_boxes(layout: FishboneLayout) -> list[LabelBox]:
    """Every label's pixel box (head, categories, causes, sub-causes)."""
    return list(layout.labels)


def overlapping_labels(layout: FishboneLayout) -> list[tuple[LabelBox, LabelBox]]:
    """Pairs of labels whose boxes overlap (empty for a correct layout)."""
    boxes = sorted(layout.labels, key=lambda b: b.x0)
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if b.x0 >= a.x1:
                break
            if a.overlaps(b):
                out.append((a, b))
    return out


def _pad_of(box: LabelBox) -> float:
    """The padding around a box's text (the same on every side)."""
    return ((box.y1 - box.y0) - len(box.lines) * box.size * LINE_SPACING) / 2


def _escape(text: str) -> str:
    """Plotly renders a subset of HTML in text; escaping shows user text literally."""
    return html.escape(text, quote=False)


def _hover(cause: Cause, category: str, parent: Cause | None) -> str:
    status = STATUS_LABELS[CauseStatus(cause.status)]
    parts = [f"<b>{_escape(cause.text)}</b>", f"{status} · {_escape(category)}"]
    if parent is not None:
        parts.append(f"Sub-cause of: {_escape(textwrap.shorten(parent.text, 60))}")
    if cause.evidence:
        parts.append("<b>Evidence</b>")
        for ref in cause.evidence[:8]:
            kind = str(ref.get("type", "evidence")).replace("_", " ")
            parts.append(f"• {_escape(textwrap.shorten(str(ref.get('title', '')), 80))} ({kind})")
        if len(cause.evidence) > 8:
            parts.append(f"… and {len(cause.evidence) - 8} more")
    else:
        parts.append("No evidence linked yet")
    if cause.notes:
        for line in textwrap.wrap(textwrap.shorten(cause.notes, 240), 70):
            parts.append(f"<i>{_escape(line)}</i>")
    return "<br>".join(parts)


def fishbone_figure(
    problem: str,
    categories: Iterable[Category],
    causes: Iterable[Cause],
    *,
    presentation: bool = False,
    selected: int | None = None,
    layout: FishboneLayout | None = None,
    fit_width: float | None = None,
    mask: bool = False,
) -> go.Figure:
    """The Ishikawa diagram as a Plotly figure; cause markers carry ``customdata=[cause_id]`` for selection.

    Args:
        problem: the problem statement (the head).
        categories: the bones, in order (even positions above the spine, odd below).
        causes: causes and sub-causes.
        presentation: dark theme and larger type.
        selected: a cause id to highlight.
        layout: a precomputed :func:`layout_fishbone` result (computed when omitted).
        fit_width: passed to :func:`layout_fishbone` when the layout is computed here.
        mask: mask sensitive values (:func:`core.masking.mask_obj`) in the problem, bone names,
            causes, notes and evidence titles *before* they are wrapped into labels and hover text
            (a wrapped secret would no longer be recognised); ``layout`` is then recomputed.
    """
    categories = list(categories)
    causes = list(causes)
    if mask:
        from core.masking import mask_obj

        problem, categories, causes = mask_obj([problem, categories, causes])
        layout = None
    lay = layout or layout_fishbone(problem, categories, causes, presentation=presentation, fit_width=fit_width)
    by_id = {c.id: c for c in causes}
    cat_names = {c.id: c.name for c in categories}
    dark = presentation
    ink = "#E8E8E8" if dark else "#262730"
    bone = "#9AA0A6" if dark else "#5F6368"
    texts = _TEXT_DARK if dark else _TEXT_LIGHT
    fig = go.Figure()

    def line_trace(segs: list[tuple[float, float, float, float]], color: str, width: float, name: str) -> None:
        xs: list[Any] = []
        ys: list[Any] = []
        for x0, y0, x1, y1 in segs:
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": width},
                                 hoverinfo="skip", showlegend=False, name=name))

    structure = [s[:4] for s in lay.segments if not s[4]]
    spine = [structure[0]] if structure else []
    line_trace(spine, ink, 4, "spine")
    line_trace(structure[1:], bone, 2, "bones")
    for status in CauseStatus:
        segs = [s[:4] for s in lay.segments if s[4] == status.value]
        if segs:
            line_trace(segs, STATUS_COLORS[status], 1.5, f"{status.value} branches")

    for status in CauseStatus:
        ms = [m for m in lay.markers if m.status == status]
        hovers = []
        for m in ms:
            c = by_id[m.cause_id]
            hovers.append(_hover(c, cat_names.get(c.category_id, ""), by_id.get(c.parent_id)))
        fig.add_trace(go.Scatter(  # an empty status still gets its legend entry (x=[None])
            x=[m.x for m in ms] or [None], y=[m.y for m in ms] or [None], mode="markers",
            name=STATUS_LABELS[status],
            marker={"color": STATUS_COLORS[status], "size": [8 if m.sub else 11 for m in ms],
                    "line": {"color": ink if any(m.cause_id == selected for m in ms) else STATUS_COLORS[status],
                             "width": [3 if m.cause_id == selected else 1 for m in ms]},
                    "symbol": "circle"},
            customdata=[[m.cause_id] for m in ms], hovertext=hovers, hovertemplate="%{hovertext}<extra></extra>",
            showlegend=True,
        ))

    annotations = []
    for box in lay.labels:
        if box.kind in ("cause", "subcause"):
            c = by_id[box.ref]
            color = texts[CauseStatus(c.status)]
        else:
            color = ink
        text = "<br>".join(_escape(ln) for ln in box.lines)
        if box.bold:
            text = f"<b>{text}</b>"
        if box.kind in ("cause", "subcause") and box.ref == selected:
            text = f"<u>{text}</u>"
        annotations.append({
            "x": box.cx if box.anchor == "center" else box.x1 - _pad_of(box),
            "y": box.cy, "xref": "x", "yref": "y", "text": text, "showarrow": False,
            "xanchor": "center" if box.anchor == "center" else "right", "yanchor": "middle",
            "align": "center" if box.anchor == "center" else "right",
            "font": {"size": box.size, "color": color, "family": FONT_FAMILY},
        })
        if box.kind == "head":
            fig.add_shape(type="rect", x0=box.x0, y0=box.y0, x1=box.x1, y1=box.y1, xref="x", yref="y",
                          line={"color": ink, "width": 2}, fillcolor="rgba(0,0,0,0)", layer="below")
    margin = {"l": 10, "r": 10, "t": 40, "b": 10}
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white",
        annotations=annotations,
        width=int(lay.width + margin["l"] + margin["r"]), height=int(lay.height + margin["t"] + margin["b"]),
        margin=margin, autosize=False, hovermode="closest", dragmode="pan",
        font={"family": FONT_FAMILY, "size": 12 * (1.35 if presentation else 1.0)},
        legend={"orientation": "h", "x": 0, "y": 1, "yanchor": "bottom", "xanchor": "left",
                "itemclick": False, "itemdoubleclick": False},
        xaxis={"range": [lay.x_min, lay.x_max], "visible": False, "fixedrange": True},
        yaxis={"range": [lay.y_min, lay.y_max], "visible": False, "fixedrange": True},
        hoverlabel={"align": "left"},
    )
    return fig
