"""``schema``: one schema finding (added, removed or renamed column, type, scale or null-rate change, …).

Pinned by the Distributions page (``SchemaFinding.to_dict()``). No chart: the message and the
numbers of its details say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, mapping, number, text


@dataclass(frozen=True)
class SchemaPayload(StoredPayload):
    finding: str = ""  # the finding's kind, e.g. "renamed_column"
    severity: str = ""
    score: float | None = None
    columns: tuple[str, ...] = ()
    message: str = ""
    details: Mapping[str, Any] | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "SchemaPayload":
        cols = data.get("columns")
        return cls(finding=text(data.get("kind")), severity=text(data.get("severity")), score=number(data.get("score")),
                   columns=tuple(str(c) for c in cols) if isinstance(cols, list) else (),
                   message=text(data.get("message")), details=dict(mapping(data.get("details"))), stored=dict(data))

    def fields_payload(self) -> dict[str, Any]:
        return {"kind": self.finding, "severity": self.severity, "score": self.score, "columns": list(self.columns),
                "message": self.message, "details": dict(self.details or {})}


class SchemaRenderer(TableRenderer):
    pass
