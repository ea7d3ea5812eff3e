"""``trace_cascade``: where a cascade started, from the distributed traces.

The frozen copy of :func:`core.analysis.traces.cascade_ranking` for the incident window (the
Traces page, ``python -m core traces --json``'s ``cascade``): ``{window, baseline, origin,
category, ranking: [CascadeRank.to_dict()]}``. Numbers: the origin, its category, first own-error
time, inherited share and the services affected downstream; chart: own errors per service in
rank order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, mapping, number, records, text
from core.viz.evidence import ranked_bars_figure


@dataclass(frozen=True)
class CascadeRow:
    rank: int | None
    service: str
    category: str = ""
    degraded: bool = False
    first_own_error: str | None = None
    own_errors: int | None = None
    inherited_errors: int | None = None
    inherited_share: float | None = None
    downstream_affected: tuple[str, ...] = ()
    sample: str = ""


@dataclass(frozen=True)
class TraceCascadePayload(StoredPayload):
    origin: str = ""
    category: str = ""
    window: Mapping[str, Any] | None = None
    baseline: Mapping[str, Any] | None = None
    ranking: tuple[CascadeRow, ...] = ()

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "TraceCascadePayload":
        rows = tuple(CascadeRow(integer(r.get("rank")), text(r.get("service")), text(r.get("category")),
                                bool(r.get("degraded")), r.get("first_own_error") if isinstance(
                                    r.get("first_own_error"), str) else None,
                                integer(r.get("own_errors")), integer(r.get("inherited_errors")),
                                number(r.get("inherited_share")),
                                tuple(text(s) for s in r.get("downstream_affected") or () if isinstance(s, str)),
                                text(r.get("sample")))
                     for r in records(data.get("ranking")))
        return cls(origin=text(data.get("origin")), category=text(data.get("category")),
                   window=dict(mapping(data.get("window"))) or None,
                   baseline=dict(mapping(data.get("baseline"))) or None, ranking=rows, stored=dict(data))

    @classmethod
    def from_ranking(cls, ranking: list, *, window: Any = None, baseline: Any = None) -> "TraceCascadePayload":
        """The payload of a :func:`~core.analysis.traces.cascade_ranking` result."""
        top = ranking[0] if ranking and ranking[0].degraded else None
        data = {"origin": top.service if top else "", "category": top.category if top else "",
                "window": window.to_dict() if window is not None else None,
                "baseline": baseline.to_dict() if baseline is not None else None,
                "ranking": [r.to_dict() for r in ranking]}
        return cls.from_payload(data)

    def fields_payload(self) -> dict[str, Any]:
        return {"origin": self.origin, "category": self.category, "window": self.window, "baseline": self.baseline,
                "ranking": [{"rank": r.rank, "service": r.service, "category": r.category, "degraded": r.degraded,
                             "first_own_error": r.first_own_error, "own_errors": r.own_errors,
                             "inherited_errors": r.inherited_errors, "inherited_share": r.inherited_share,
                             "downstream_affected": list(r.downstream_affected), "sample": r.sample}
                            for r in self.ranking]}


class TraceCascadeRenderer(TableRenderer):
    def figure(self, payload: TraceCascadePayload, *, dark: bool = False) -> Any:
        rows = [(f"{r.rank}. {r.service}", float(r.own_errors)) for r in payload.ranking if r.own_errors]
        return ranked_bars_figure(rows, axis="own errors in the window", dark=dark)
