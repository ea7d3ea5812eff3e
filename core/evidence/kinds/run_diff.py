"""``run_diff``: a model version that took effect shortly before the onset, and what it changed.

Pinned by the Models page (``RegressionVerdict.to_result()`` plus ``counts``). No chart: the changed
parameters, code version and datasets are the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, mapping, number, records, text


@dataclass(frozen=True)
class RunDiffPayload(StoredPayload):
    finding: bool = False
    model: str = ""
    version: str = ""
    effective_at: str | None = None
    onset: str | None = None
    lead_time_s: float | None = None
    changed_params: tuple[tuple[str, Any, Any], ...] = ()  # (key, a, b)
    code_change: Mapping[str, Any] | None = None
    counts: Mapping[str, int] | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "RunDiffPayload":
        code = data.get("code_change")
        return cls(finding=bool(data.get("finding")), model=text(data.get("model")), version=text(data.get("version")),
                   effective_at=data.get("effective_at"), onset=data.get("onset"),
                   lead_time_s=number(data.get("lead_time_s")),
                   changed_params=tuple((text(p.get("key")), p.get("a"), p.get("b"))
                                        for p in records(data.get("changed_params"))),
                   code_change=dict(code) if isinstance(code, Mapping) else None,
                   counts={str(k): v for k, v in mapping(data.get("counts")).items() if integer(v) is not None},
                   stored=dict(data))

    def fields_payload(self) -> dict[str, Any]:
        return {"finding": self.finding, "model": self.model, "version": self.version,
                "effective_at": self.effective_at, "onset": self.onset, "lead_time_s": self.lead_time_s,
                "changed_params": [{"key": k, "a": a, "b": b} for k, a, b in self.changed_params],
                "code_change": dict(self.code_change) if self.code_change else None,
                "counts": dict(self.counts or {})}


class RunDiffRenderer(TableRenderer):
    pass
