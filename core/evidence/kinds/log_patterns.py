"""``log_patterns``: the log templates that are new, vanished or changed rate against the baseline.

Pinned by the Logs page (``{summary, baseline, baseline_lines, window_lines, templates}``). No chart:
the summary counts are the numbers; the templates are listed on the Logs page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, mapping, number, records, text


@dataclass(frozen=True)
class TemplateChange:
    template: str
    status: str
    baseline_count: int | None = None
    window_count: int | None = None
    ratio: float | None = None


@dataclass(frozen=True)
class LogPatternsPayload(StoredPayload):
    summary: Mapping[str, Any] | None = None
    baseline_lines: int | None = None
    window_lines: int | None = None
    templates: tuple[TemplateChange, ...] = ()

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "LogPatternsPayload":
        return cls(summary=dict(mapping(data.get("summary"))), baseline_lines=integer(data.get("baseline_lines")),
                   window_lines=integer(data.get("window_lines")),
                   templates=tuple(TemplateChange(text(t.get("template")), text(t.get("status")),
                                                  integer(t.get("baseline_count")), integer(t.get("window_count")),
                                                  number(t.get("ratio"))) for t in records(data.get("templates"))),
                   stored=dict(data))

    def fields_payload(self) -> dict[str, Any]:
        return {"summary": dict(self.summary or {}), "baseline_lines": self.baseline_lines,
                "window_lines": self.window_lines,
                "templates": [{"template": t.template, "status": t.status, "baseline_count": t.baseline_count,
                               "window_count": t.window_count, "ratio": t.ratio} for t in self.templates]}


class LogPatternsRenderer(TableRenderer):
    pass
