"""``images``: two sets of images compared through their derived statistics.

Pinned by the Images panel of the Distributions page (:func:`core.flows.pin.pin_images`): the plain
findings ("resolution halved (median 512×512 → 256×256 px)", "JPEG quality 95 → 60", "images 40%
darker"), the counts of images and unreadable ones, and per measure (width, JPEG quality,
brightness, …) whether it drifted, its drift score and its median on each side. Chart: the measures'
drift scores as ranked bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, number, records, text
from core.viz.evidence import ranked_bars_figure

MAX_MEASURES = 30


@dataclass(frozen=True)
class MeasureRow:
    measure: str
    drifted: bool = False
    score: float | None = None
    reference_median: str = ""
    current_median: str = ""


@dataclass(frozen=True)
class ImagesPayload(StoredPayload):
    finding: str = ""
    reference: str = ""
    current: str = ""
    n_reference: int | None = None
    n_current: int | None = None
    unreadable_reference: int | None = None
    unreadable_current: int | None = None
    focus: str = ""
    findings: tuple[str, ...] = ()
    measures: tuple[MeasureRow, ...] = ()

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "ImagesPayload":
        findings = data.get("findings")
        return cls(finding=text(data.get("finding")), reference=text(data.get("reference")),
                   current=text(data.get("current")), n_reference=integer(data.get("n_reference")),
                   n_current=integer(data.get("n_current")),
                   unreadable_reference=integer(data.get("unreadable_reference")),
                   unreadable_current=integer(data.get("unreadable_current")), focus=text(data.get("focus")),
                   findings=tuple(f for f in findings if isinstance(f, str)) if isinstance(findings, list) else (),
                   measures=tuple(MeasureRow(text(m.get("measure")), bool(m.get("drifted")), number(m.get("score")),
                                             text(m.get("reference_median")), text(m.get("current_median")))
                                  for m in records(data.get("measures"))),
                   stored=dict(data))

    @classmethod
    def from_comparison(cls, comparison: Any, medians: Mapping[str, tuple[str, str]] | None = None) -> "ImagesPayload":
        """The payload of a :class:`~core.analysis.images.ImageComparison` (``medians``: measure → the
        reference and current median as shown)."""
        medians = medians or {}
        ranked = comparison.report.ranked_columns() if comparison.report is not None else []
        findings = tuple(f.message for f in comparison.findings)
        data = {"finding": findings[0] if findings else "no change in resolution, quality, format or content",
                "reference": comparison.reference_label, "current": comparison.current_label,
                "n_reference": comparison.n_reference, "n_current": comparison.n_current,
                "unreadable_reference": len(comparison.bad_reference),
                "unreadable_current": len(comparison.bad_current), "focus": comparison.focus,
                "findings": list(findings),
                "measures": [{"measure": c.column, "drifted": c.drifted, "score": round(float(c.score), 4),
                              "reference_median": medians.get(c.column, ("", ""))[0],
                              "current_median": medians.get(c.column, ("", ""))[1]}
                             for c in ranked[:MAX_MEASURES]]}
        return cls.from_payload(data)

    def fields_payload(self) -> dict[str, Any]:
        return {"finding": self.finding, "reference": self.reference, "current": self.current,
                "n_reference": self.n_reference, "n_current": self.n_current,
                "unreadable_reference": self.unreadable_reference, "unreadable_current": self.unreadable_current,
                "focus": self.focus, "findings": list(self.findings),
                "measures": [{"measure": m.measure, "drifted": m.drifted, "score": m.score,
                              "reference_median": m.reference_median, "current_median": m.current_median}
                             for m in self.measures]}


class ImagesRenderer(TableRenderer):
    def figure(self, payload: ImagesPayload, *, dark: bool = False) -> Any:
        rows = [(m.measure, m.score) for m in payload.measures if m.score is not None]
        return ranked_bars_figure(rows, axis="drift score of the measure", dark=dark)
