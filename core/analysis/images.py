"""Compare two sets of images through their derived columns (see docs/images.md).

:func:`compare_images` takes two :class:`core.sources.images.ImageProfile` (one row per image:
width, height, JPEG quality, brightness, sharpness, …), runs the drift engine
(:func:`core.analysis.drift.compare_distributions`, with its schema findings) over those columns and
adds plain findings a person reads at a glance: "resolution halved (512×512 → 256×256)",
"JPEG quality 95 → 60", "images 40% darker", "12 of 300 images unreadable". It also picks the most
extreme images of each side on the most changed measure, for thumbnails side by side.

Pure: profiles in, an :class:`ImageComparison` out; no image is read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.drift import DriftReport, compare_distributions
from core.errors import InvalidInputError

__all__ = ["ImageComparison", "ImageFinding", "compare_images", "extremes", "MEASURES"]

#: Per measure: (words for "more", words for "less", relative change that is a finding).
MEASURES: dict[str, tuple[str, str, float]] = {
    "brightness": ("brighter", "darker", 0.15),
    "contrast": ("more contrast", "less contrast", 0.2),
    "colourfulness": ("more colourful", "less colourful", 0.2),
    "sharpness": ("sharper", "blurrier", 0.3),
    "file_size": ("larger files", "smaller files", 0.3),
}
RESOLUTION_CHANGE = 0.2  # median width or height moved by this share
QUALITY_CHANGE = 8.0  # JPEG quality points
ASPECT_CHANGE = 0.05
CHANNEL_CAST = 0.1  # one channel moved this much more than the others (relative)
BAD_RATE_CHANGE = 0.02
SEVERITY = {"resolution": 0.9, "jpeg_quality": 0.8, "format": 0.8, "unreadable": 0.85, "aspect_ratio": 0.7,
            "sharpness": 0.6, "brightness": 0.6, "contrast": 0.5, "colourfulness": 0.5, "colour_cast": 0.5,
            "file_size": 0.5, "mode": 0.6}
#: Which findings are a change of what the images *are* (encoding, size, format): schema_change;
#: the others are a change of what they show: data_drift.
FORMAT_KINDS = frozenset({"resolution", "jpeg_quality", "format", "aspect_ratio", "mode", "unreadable"})


@dataclass(frozen=True)
class ImageFinding:
    """One plain finding about the images, with the numbers behind it."""

    kind: str
    column: str
    message: str
    reference: Any
    current: Any
    score: float

    @property
    def is_format_change(self) -> bool:
        return self.kind in FORMAT_KINDS

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "column": self.column, "message": self.message,
                "reference": _plain(self.reference), "current": _plain(self.current), "score": self.score,
                "format_change": self.is_format_change}


@dataclass(frozen=True)
class ImageComparison:
    """Two image sets compared: plain findings first, then the drift report over derived columns."""

    reference_label: str
    current_label: str
    n_reference: int
    n_current: int
    bad_reference: tuple[tuple[str, str], ...]
    bad_current: tuple[tuple[str, str], ...]
    findings: tuple[ImageFinding, ...]
    report: DriftReport | None
    focus: str  # the measure the extremes are picked on
    extremes: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return bool(self.findings) or bool(self.report and any(c.drifted for c in self.report.columns))

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference_label, "current": self.current_label,
            "n_reference": self.n_reference, "n_current": self.n_current,
            "unreadable": {"reference": [{"name": n, "reason": r} for n, r in self.bad_reference[:200]],
                           "current": [{"name": n, "reason": r} for n, r in self.bad_current[:200]],
                           "reference_count": len(self.bad_reference), "current_count": len(self.bad_current)},
            "findings": [f.to_dict() for f in self.findings],
            "drifted": self.drifted,
            "focus": self.focus,
            "extremes": {side: {end: [{"name": n, "value": _plain(v)} for n, v in rows] for end, rows in ends.items()}
                         for side, ends in self.extremes.items()},
            "report": self.report.to_dict() if self.report else None,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else round(v, 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _median(frame: pd.DataFrame, col: str) -> float:
    if col not in frame.columns:
        return math.nan
    values = pd.to_numeric(frame[col], errors="coerce").dropna()
    return float(values.median()) if len(values) else math.nan


def _mean(frame: pd.DataFrame, col: str) -> float:
    if col not in frame.columns:
        return math.nan
    values = pd.to_numeric(frame[col], errors="coerce").dropna()
    return float(values.mean()) if len(values) else math.nan


def _num(value: float) -> str:
    """A number for a sentence: 2,480 rather than 2.48e+03; 0.498; 7.6."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _pct(rel: float) -> str:
    return f"{abs(rel) * 100:.0f}%"


def _resolution(ref: pd.DataFrame, cur: pd.DataFrame) -> ImageFinding | None:
    rw, rh, cw, ch = (_median(f, c) for f, c in ((ref, "width"), (ref, "height"), (cur, "width"), (cur, "height")))
    if any(math.isnan(v) or v <= 0 for v in (rw, rh, cw, ch)):
        return None
    ratio = math.sqrt((cw * ch) / (rw * rh))  # linear scale of the median image
    if abs(ratio - 1) < RESOLUTION_CHANGE:
        return None
    if 0.45 <= ratio <= 0.55:
        word = "resolution halved"
    elif 1.8 <= ratio <= 2.2:
        word = "resolution doubled"
    elif ratio < 1:
        word = f"resolution down {_pct(1 - ratio)}"
    else:
        word = f"resolution up {_pct(ratio - 1)}"
    message = f"{word} (median {rw:.0f}×{rh:.0f} → {cw:.0f}×{ch:.0f} px)"
    return ImageFinding("resolution", "width", message, f"{rw:.0f}×{rh:.0f}", f"{cw:.0f}×{ch:.0f}",
                        SEVERITY["resolution"])


def _quality(ref: pd.DataFrame, cur: pd.DataFrame) -> ImageFinding | None:
    rq, cq = _median(ref, "jpeg_quality"), _median(cur, "jpeg_quality")
    if math.isnan(rq) or math.isnan(cq) or abs(cq - rq) < QUALITY_CHANGE:
        return None
    return ImageFinding("jpeg_quality", "jpeg_quality", f"JPEG quality {rq:.0f} → {cq:.0f} (median estimate)",
                        rq, cq, SEVERITY["jpeg_quality"])


def _shares(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns or frame.empty:
        return pd.Series(dtype=float)
    return frame[col].fillna("(none)").astype(str).value_counts(normalize=True)


def _category(ref: pd.DataFrame, cur: pd.DataFrame, col: str, kind: str, what: str) -> ImageFinding | None:
    rs, cs = _shares(ref, col), _shares(cur, col)
    if rs.empty or cs.empty:
        return None
    keys = set(rs.index) | set(cs.index)
    moved = max(abs(cs.get(k, 0.0) - rs.get(k, 0.0)) for k in keys)
    if moved < 0.1:
        return None

    def show(s: pd.Series) -> str:
        return ", ".join(f"{k} {v * 100:.0f}%" for k, v in s.head(3).items())

    return ImageFinding(kind, col, f"{what}: {show(rs)} → {show(cs)}", rs.index[0], cs.index[0], SEVERITY[kind])


def _relative(ref: pd.DataFrame, cur: pd.DataFrame, col: str, report: DriftReport | None) -> ImageFinding | None:
    more, less, limit = MEASURES[col]
    r, c = _mean(ref, col), _mean(cur, col)
    if math.isnan(r) or math.isnan(c) or r == 0:
        return None
    rel = (c - r) / abs(r)
    if abs(rel) < limit or not _drifted(report, col):
        return None
    word = more if rel > 0 else less
    subject = "images" if col not in ("file_size",) else "files"
    if col == "file_size":
        message = f"files {_pct(rel)} {'larger' if rel > 0 else 'smaller'} (mean {r / 1024:.1f} → {c / 1024:.1f} KiB)"
    else:
        message = f"{subject} {_pct(rel)} {word} (mean {col} {_num(r)} → {_num(c)})"
    return ImageFinding(col, col, message, r, c, SEVERITY[col])


def _drifted(report: DriftReport | None, col: str) -> bool:
    if report is None:
        return True
    try:
        return report.column(col).drifted
    except InvalidInputError:
        return False


def _aspect(ref: pd.DataFrame, cur: pd.DataFrame) -> ImageFinding | None:
    r, c = _median(ref, "aspect_ratio"), _median(cur, "aspect_ratio")
    if math.isnan(r) or math.isnan(c) or r == 0 or abs(c - r) / r < ASPECT_CHANGE:
        return None
    return ImageFinding("aspect_ratio", "aspect_ratio", f"aspect ratio {r:.2f} → {c:.2f} (median width / height)",
                        r, c, SEVERITY["aspect_ratio"])


def _cast(ref: pd.DataFrame, cur: pd.DataFrame) -> ImageFinding | None:
    rel = {}
    for ch in ("r", "g", "b"):
        r, c = _mean(ref, f"mean_{ch}"), _mean(cur, f"mean_{ch}")
        if math.isnan(r) or math.isnan(c) or r <= 0:
            return None
        rel[ch] = (c - r) / r
    avg = sum(rel.values()) / 3
    ch, off = max(((k, v - avg) for k, v in rel.items()), key=lambda kv: abs(kv[1]))
    if abs(off) < CHANNEL_CAST:
        return None
    name = {"r": "red", "g": "green", "b": "blue"}[ch]
    return ImageFinding("colour_cast", f"mean_{ch}", f"colour cast: the {name} channel moved {off * 100:+.0f}% "
                        "against the others", _mean(ref, f"mean_{ch}"), _mean(cur, f"mean_{ch}"), SEVERITY["colour_cast"])


def _unreadable(n_ref: int, bad_ref: int, n_cur: int, bad_cur: int) -> ImageFinding | None:
    r = bad_ref / n_ref if n_ref else 0.0
    c = bad_cur / n_cur if n_cur else 0.0
    if c - r < BAD_RATE_CHANGE or bad_cur == 0:
        return None
    return ImageFinding("unreadable", "", f"{bad_cur:,} of {n_cur:,} images unreadable or refused ({c * 100:.0f}%), "
                        f"against {bad_ref:,} of {n_ref:,} before", r, c, SEVERITY["unreadable"])


def extremes(frame: pd.DataFrame, column: str, k: int = 4) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` images with the lowest and the highest ``column`` (name, value)."""
    if column not in frame.columns or frame.empty:
        return {"lowest": [], "highest": []}
    values = pd.to_numeric(frame[column], errors="coerce")
    ok = frame.assign(_v=values).dropna(subset=["_v"]).sort_values(["_v", "name"], kind="stable")
    low = list(zip(ok["name"].head(k), ok["_v"].head(k)))
    high = list(zip(ok["name"].tail(k)[::-1], ok["_v"].tail(k)[::-1]))
    return {"lowest": low, "highest": high}


def compare_images(reference: Any, current: Any, *, seed: int = 0, k: int = 4) -> ImageComparison:
    """Compare two :class:`~core.sources.images.ImageProfile`.

    Args:
        reference: the baseline images' profile.
        current: the profile under suspicion.
        seed: seed of the drift engine's samples.
        k: extreme images per end and side.

    Returns:
        The :class:`ImageComparison`; the drift report is None when a side has fewer than two
        readable images (the findings then come from what was readable, unreadable counts first).

    Raises:
        InvalidInputError: neither side has a readable image.
    """
    ref, cur = reference.frame, current.frame
    if ref.empty and cur.empty:
        raise InvalidInputError(f"no readable image in either set ({reference.label}: {reference.n_bad} unreadable, "
                                f"{current.label}: {current.n_bad} unreadable)")
    report = None
    if len(ref) >= 2 and len(cur) >= 2:
        report = compare_distributions(ref, cur, exclude=("name",), seed=seed, multivariate=False)
    found: list[ImageFinding | None] = [
        _unreadable(reference.n_images, reference.n_bad, current.n_images, current.n_bad),
        _resolution(ref, cur), _aspect(ref, cur), _quality(ref, cur),
        _category(ref, cur, "format", "format", "format"), _category(ref, cur, "mode", "mode", "colour mode"),
    ]
    found += [_relative(ref, cur, col, report) for col in MEASURES]
    found.append(_cast(ref, cur))
    findings = tuple(sorted((f for f in found if f is not None), key=lambda f: -f.score))
    focus = _focus(findings, report, ref, cur)
    ext = {"reference": extremes(ref, focus, k), "current": extremes(cur, focus, k)}
    return ImageComparison(reference.label, current.label, reference.n_images, current.n_images, reference.bad,
                           current.bad, findings, report, focus, ext)


def _spread(ref: pd.DataFrame, cur: pd.DataFrame, col: str) -> bool:
    """True when ``col`` varies within a side (the extremes of a constant measure show nothing)."""
    return any(col in f.columns and pd.to_numeric(f[col], errors="coerce").nunique() > 1 for f in (ref, cur))


def _focus(findings: tuple[ImageFinding, ...], report: DriftReport | None, ref: pd.DataFrame,
           cur: pd.DataFrame) -> str:
    """The measure the thumbnails are picked on: the strongest finding's, else the most drifted numeric
    column, that varies within a side."""
    for f in findings:
        if f.column and f.column not in ("format", "mode") and _spread(ref, cur, f.column):
            return f.column
    if report is not None:
        for c in report.ranked_columns():
            if c.type == "numeric" and _spread(ref, cur, c.column):
                return c.column
    return "brightness"
