"""``changes``: the change events before the onset, ranked by kind prior × closeness.

Pinned by the Timeline page (``{changes: [RankedChange.to_dict()], considered}``). No chart: the
ranked list is on the timeline itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, mapping, number, records, text


@dataclass(frozen=True)
class RankedChangeRow:
    rank: int | None
    score: float | None
    title: str = ""
    kind: str = ""
    timestamp: str | None = None
    age: str = ""


@dataclass(frozen=True)
class ChangesPayload(StoredPayload):
    changes: tuple[RankedChangeRow, ...] = ()
    considered: int | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "ChangesPayload":
        rows = []
        for c in records(data.get("changes")):
            ev = mapping(c.get("event"))
            rows.append(RankedChangeRow(integer(c.get("rank")), number(c.get("score")), text(ev.get("title")),
                                        text(ev.get("kind")), ev.get("timestamp"), text(c.get("age"))))
        return cls(changes=tuple(rows), considered=integer(data.get("considered")), stored=dict(data))

    def fields_payload(self) -> dict[str, Any]:
        return {"changes": [{"rank": r.rank, "score": r.score, "age": r.age,
                             "event": {"title": r.title, "kind": r.kind, "timestamp": r.timestamp}}
                            for r in self.changes], "considered": self.considered}


class ChangesRenderer(TableRenderer):
    pass
