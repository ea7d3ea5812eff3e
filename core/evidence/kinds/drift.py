"""``drift``: a drift report of two datasets (its drifted columns) or the drift of one column.

Pinned by the Distributions page: ``DriftReport.to_dict()`` with the drifted columns only, or
``ColumnDrift.to_dict()``. Chart: for a report, the columns' drift score (strongest effect size
over its threshold) as ranked bars; none for one column (its numbers say it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.evidence.payload import StoredPayload, TableRenderer, integer, number, records, text
from core.viz.evidence import ranked_bars_figure


@dataclass(frozen=True)
class ColumnScore:
    column: str
    drifted: bool = False
    score: float | None = None
    current_column: str | None = None


@dataclass(frozen=True)
class DriftPayload(StoredPayload):
    scope: str = "report"  # "report" (several columns) or "column" (one)
    columns: tuple[ColumnScore, ...] = ()
    drift_share: float | None = None
    n_reference: int | None = None
    n_current: int | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "DriftPayload":
        def col(d: Mapping[str, Any]) -> ColumnScore:
            return ColumnScore(text(d.get("column")), bool(d.get("drifted")), number(d.get("score")),
                               d.get("current_column"))

        if "columns" not in data and isinstance(data.get("column"), str):
            return cls(scope="column", columns=(col(data),), stored=dict(data))
        return cls(scope="report", columns=tuple(col(c) for c in records(data.get("columns"))),
                   drift_share=number(data.get("drift_share")), n_reference=integer(data.get("n_reference")),
                   n_current=integer(data.get("n_current")), stored=dict(data))

    def fields_payload(self) -> dict[str, Any]:
        cols = [{"column": c.column, **({"current_column": c.current_column} if c.current_column else {}),
                 "drifted": c.drifted, "score": c.score} for c in self.columns]
        if self.scope == "column" and cols:
            return cols[0]
        return {"n_reference": self.n_reference, "n_current": self.n_current, "columns": cols,
                "drift_share": self.drift_share}


class DriftRenderer(TableRenderer):
    def figure(self, payload: DriftPayload, *, dark: bool = False) -> Any:
        if payload.scope != "report":
            return None
        rows = [(c.column, c.score) for c in payload.columns if c.score is not None]
        return ranked_bars_figure(rows, axis="score", dark=dark)
