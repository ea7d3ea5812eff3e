"""``changepoint``: the main onset of a metric, its change points and, when asked, the segments that moved.

Pinned by the Metrics page (``OnsetResult.to_dict()`` plus ``segments`` and ``source``).
Chart: the change points' relative change over time; else the onset's level before and after;
else the segments' relative change as ranked bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, mapping, number, records, text
from core.viz.evidence import levels_figure, ranked_bars_figure, series_figure


@dataclass(frozen=True)
class ChangeMark:
    """One change of a level (a change point, or the onset)."""

    time: str | None = None
    level_before: float | None = None
    level_after: float | None = None
    relative_change: float | None = None
    effect: str = ""
    confidence: float | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "ChangeMark":
        return cls(time=data.get("time"), level_before=number(data.get("level_before")),
                   level_after=number(data.get("level_after")), relative_change=number(data.get("relative_change")),
                   effect=text(data.get("effect")), confidence=number(data.get("confidence")))

    def to_payload(self) -> dict[str, Any]:
        return {"time": self.time, "level_before": self.level_before, "level_after": self.level_after,
                "relative_change": self.relative_change, "effect": self.effect, "confidence": self.confidence}


@dataclass(frozen=True)
class SegmentMove:
    segment: str
    relative_change: float | None = None
    moved: bool = False


@dataclass(frozen=True)
class ChangePointPayload(StoredPayload):
    metric: str = ""
    direction: str | None = None
    onset: ChangeMark | None = None
    change_points: tuple[ChangeMark, ...] = ()
    segment_label: str = ""
    segments: tuple[SegmentMove, ...] = ()
    source: str = ""

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "ChangePointPayload":
        onset = data.get("onset")
        seg = mapping(data.get("segments"))
        return cls(
            metric=text(data.get("metric")), direction=data.get("direction"),
            onset=ChangeMark.from_payload(onset) if isinstance(onset, Mapping) else None,
            change_points=tuple(ChangeMark.from_payload(c) for c in records(data.get("change_points"))),
            segment_label=text(seg.get("label")),
            segments=tuple(SegmentMove(text(s.get("segment")), number(s.get("relative_change")), bool(s.get("moved")))
                           for s in records(seg.get("segments"))),
            source=text(data.get("source")), stored=dict(data),
        )

    def fields_payload(self) -> dict[str, Any]:
        return {"metric": self.metric, "direction": self.direction,
                "onset": self.onset.to_payload() if self.onset else None,
                "change_points": [c.to_payload() for c in self.change_points],
                "segments": ({"label": self.segment_label, "segments": [
                    {"segment": s.segment, "relative_change": s.relative_change, "moved": s.moved}
                    for s in self.segments]} if self.segments else None),
                "source": self.source}


class ChangePointRenderer(TableRenderer):
    def figure(self, payload: ChangePointPayload, *, dark: bool = False) -> Any:
        cps = payload.change_points
        if cps and cps[0].relative_change is not None:
            return series_figure([c.time for c in cps], [c.relative_change for c in cps], name="relative_change",
                                 dark=dark)
        o = payload.onset
        if o is not None and o.level_before is not None and o.level_after is not None:
            return levels_figure(o.level_before, o.level_after, axis=payload.metric or "level", dark=dark)
        rows = [(s.segment, s.relative_change) for s in payload.segments if s.relative_change is not None]
        return ranked_bars_figure(rows, axis="relative_change", dark=dark) if payload.segments else None
