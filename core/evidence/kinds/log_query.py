"""``log_query``: a log search frozen with its count, hits per level and sample hits.

Pinned by the Logs page (``{count, levels, sample}``). No chart: the count and levels are the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, mapping, records


@dataclass(frozen=True)
class LogQueryPayload(StoredPayload):
    count: int | None = None
    levels: Mapping[str, int] | None = None
    sample: tuple[Mapping[str, Any], ...] = ()  # hits: {id, timestamp, fields}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "LogQueryPayload":
        levels = {str(k): v for k, v in mapping(data.get("levels")).items() if integer(v) is not None}
        return cls(count=integer(data.get("count")), levels=levels,
                   sample=tuple(dict(h) for h in records(data.get("sample"))), stored=dict(data))

    def fields_payload(self) -> dict[str, Any]:
        return {"count": self.count, "levels": dict(self.levels or {}), "sample": [dict(h) for h in self.sample]}


class LogQueryRenderer(TableRenderer):
    pass
