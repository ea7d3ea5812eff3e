"""What the DuckDB and Spark engines share: windows over one table, time cuts, the report call."""

from __future__ import annotations

from typing import Any

from core.analysis import schema as sch
from core.analysis.drift import DriftReport
from core.compute.protocol import DriftOptions, Location, Window
from core.compute.report import ProgressFn, compare_windows

#: engine type names (lower case, without parameters) → (schema kind, pandas-like dtype)
TYPES = {
    "double": (sch.NUMERIC, "float64"), "float": (sch.NUMERIC, "float32"), "real": (sch.NUMERIC, "float32"),
    "bigint": (sch.NUMERIC, "int64"), "long": (sch.NUMERIC, "int64"), "integer": (sch.NUMERIC, "int32"),
    "int": (sch.NUMERIC, "int32"), "smallint": (sch.NUMERIC, "int16"), "short": (sch.NUMERIC, "int16"),
    "tinyint": (sch.NUMERIC, "int8"), "byte": (sch.NUMERIC, "int8"), "hugeint": (sch.NUMERIC, "int128"),
    "ubigint": (sch.NUMERIC, "uint64"), "uinteger": (sch.NUMERIC, "uint32"), "usmallint": (sch.NUMERIC, "uint16"),
    "utinyint": (sch.NUMERIC, "uint8"), "decimal": (sch.NUMERIC, "float64"),
    "boolean": (sch.CATEGORICAL, "bool"), "varchar": (sch.CATEGORICAL, "object"), "string": (sch.CATEGORICAL, "object"),
    "timestamp": (sch.DATETIME, "datetime64[ns]"), "timestamp_ntz": (sch.DATETIME, "datetime64[ns]"),
    "timestamp with time zone": (sch.DATETIME, "datetime64[ns, UTC]"), "timestamptz": (sch.DATETIME, "datetime64[ns, UTC]"),
    "timestamp_ns": (sch.DATETIME, "datetime64[ns]"), "timestamp_ms": (sch.DATETIME, "datetime64[ms]"),
    "timestamp_s": (sch.DATETIME, "datetime64[s]"), "date": (sch.DATETIME, "datetime64[s]"),
}


def kind_of(type_name: str) -> tuple[str, str]:
    """(schema kind, dtype) of an engine type name; anything unknown (lists, structs) is compared as text."""
    base = type_name.strip().lower().split("(")[0].strip()
    return TYPES.get(base, (sch.CATEGORICAL, type_name.lower()))


class SketchEngine:
    """An engine whose report comes from summaries (:mod:`core.compute.report`).

    Subclasses set ``name`` and implement ``window(location)`` and ``describe()``.
    """

    name = "sketch"
    exact = False

    def window(self, location: Location) -> Window:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:  # pragma: no cover - abstract
        return {"name": self.name}

    def compare(self, reference: Location, current: Location, options: DriftOptions,
                progress: ProgressFn | None = None) -> DriftReport:
        ref = self.window(reference)
        cur = self.window(current)
        return compare_windows(ref, cur, options, engine=self.describe(), progress=progress)

    def close(self) -> None:
        return None
