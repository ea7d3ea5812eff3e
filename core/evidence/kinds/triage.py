"""``triage``: the ranked root-cause hypotheses of an automatic triage, with its onset and skipped steps.

Pinned by the Triage page (``core.flows.pin.compact_triage``). Chart: the KPI level before and after
the onset; without an onset, the hypotheses' scores as ranked bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.kinds.changepoint import ChangeMark
from core.evidence.payload import StoredPayload, TableRenderer, number, records, text
from core.viz.evidence import levels_figure, ranked_bars_figure


@dataclass(frozen=True)
class HypothesisRow:
    root_cause: str
    label: str
    score: float | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class TriagePayload(StoredPayload):
    kpi: str = ""
    onset: ChangeMark | None = None
    onset_used: str | None = None
    onset_source: str = ""
    hypotheses: tuple[HypothesisRow, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (step, reason)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "TriagePayload":
        onset = data.get("onset")
        return cls(
            kpi=text(data.get("kpi")), onset=ChangeMark.from_payload(onset) if isinstance(onset, Mapping) else None,
            onset_used=data.get("onset_used"), onset_source=text(data.get("onset_source")),
            hypotheses=tuple(HypothesisRow(text(h.get("class")), text(h.get("label")), number(h.get("score")),
                                           number(h.get("confidence"))) for h in records(data.get("hypotheses"))),
            skipped=tuple((text(s.get("step")), text(s.get("reason"))) for s in records(data.get("skipped"))),
            stored=dict(data),
        )

    def fields_payload(self) -> dict[str, Any]:
        return {"kpi": self.kpi, "onset": self.onset.to_payload() if self.onset else None,
                "onset_used": self.onset_used, "onset_source": self.onset_source,
                "hypotheses": [{"class": h.root_cause, "label": h.label, "score": h.score, "confidence": h.confidence}
                               for h in self.hypotheses],
                "skipped": [{"step": s, "reason": r} for s, r in self.skipped]}


class TriageRenderer(TableRenderer):
    def figure(self, payload: TriagePayload, *, dark: bool = False) -> Any:
        o = payload.onset
        if o is not None and o.level_before is not None and o.level_after is not None:
            return levels_figure(o.level_before, o.level_after, axis="level", dark=dark)
        rows = [(h.label, h.score) for h in payload.hypotheses if h.score is not None]
        return ranked_bars_figure(rows, axis="score", dark=dark)
