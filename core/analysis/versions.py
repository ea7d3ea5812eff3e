"""Versions of one table compared: the declared schema between two versions, and their data.

Pure functions over what a data-version source read (:mod:`core.sources.datasets_delta`,
:mod:`core.sources.partitions`, a training baseline): ``diff_columns`` gives the declared schema
change between two versions (columns added, removed, retyped); ``compare_versions`` runs the
drift engine (:func:`core.analysis.drift.compare_distributions`, which carries the data-level
schema findings of :mod:`core.analysis.schema`) over the two versions' rows and keeps both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

import pandas as pd

from core.analysis.drift import DriftReport, compare_distributions
from core.models import iso

__all__ = ["SchemaChange", "TableVersion", "VersionComparison", "compare_versions", "diff_columns"]


@dataclass(frozen=True)
class SchemaChange:
    """The declared columns that changed between two versions of a table."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()  # (column, type before, type after)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def text(self) -> str:
        """One line: ``added x; removed y; z: long → string``."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append(", ".join(f"{c}: {a} → {b}" for c, a, b in self.retyped))
        return "; ".join(parts) or "no change"

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed),
                "retyped": [{"column": c, "before": a, "after": b} for c, a, b in self.retyped]}


def diff_columns(before: Mapping[str, str], after: Mapping[str, str]) -> SchemaChange:
    """The declared schema change from ``before`` to ``after`` (``{column: type}`` each)."""
    added = tuple(c for c in after if c not in before)
    removed = tuple(c for c in before if c not in after)
    retyped = tuple((c, before[c], after[c]) for c in after if c in before and before[c] != after[c])
    return SchemaChange(added, removed, retyped)


@dataclass(frozen=True)
class TableVersion:
    """One version of a table: a Delta commit, a date partition, or a training dataset.

    ``version`` is the Delta version number or the partition's value (``2024-05-01``);
    ``schema_change`` is the declared change against the version before it (None for the first).
    """

    version: int | str
    at: datetime | None
    operation: str
    rows: int | None
    columns: dict[str, str] = field(default_factory=dict)
    mode: str = ""
    schema_change: SchemaChange | None = None

    @property
    def overwrite(self) -> bool:
        """The commit replaced the table's contents (a write in overwrite mode, CREATE OR REPLACE)."""
        op = self.operation.upper()
        return self.mode.lower() == "overwrite" or "REPLACE" in op

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "at": iso(self.at), "operation": self.operation, "mode": self.mode,
                "rows": self.rows, "columns": dict(self.columns), "overwrite": self.overwrite,
                "schema_change": self.schema_change.to_dict() if self.schema_change else None}


@dataclass(frozen=True)
class VersionComparison:
    """Two versions of one table compared: the declared schema change and the drift report."""

    table: str
    a: str
    b: str
    schema: SchemaChange
    report: DriftReport

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "a": self.a, "b": self.b, "schema_change": self.schema.to_dict(),
                "drift": self.report.to_dict()}


def compare_versions(table: str, a: str, reference: pd.DataFrame, b: str, current: pd.DataFrame, *,
                     columns_a: Mapping[str, str] | None = None, columns_b: Mapping[str, str] | None = None,
                     exclude: tuple[str, ...] | list[str] = (), max_rows: int | None = None,
                     multivariate: bool = True) -> VersionComparison:
    """Compare version ``a`` (reference rows) with version ``b`` (current rows) of ``table``.

    Args:
        table: the table's name (for the result).
        a: the reference version's label.
        reference: its rows.
        b: the current version's label.
        current: its rows.
        columns_a: the declared ``{column: type}`` of ``a`` (default: the frame's dtypes).
        columns_b: the same for ``b``.
        exclude: columns left out of the drift report (a partition or timestamp column).
        max_rows: compare a seeded sample of at most this many rows per side.
        multivariate: run the domain classifier.

    Raises:
        InvalidInputError: a side has fewer than 2 rows (from the drift engine).
    """
    declared_a = dict(columns_a) if columns_a is not None else {str(c): str(t) for c, t in reference.dtypes.items()}
    declared_b = dict(columns_b) if columns_b is not None else {str(c): str(t) for c, t in current.dtypes.items()}
    report = compare_distributions(reference, current, exclude=tuple(exclude), max_rows=max_rows,
                                   multivariate=multivariate)
    return VersionComparison(table, str(a), str(b), diff_columns(declared_a, declared_b), report)
