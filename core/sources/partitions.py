"""Date-partitioned Parquet folders (``dt=YYYY-MM-DD/part-*.parquet``) as versions of one table.

Each partition is a version: its value (``2024-05-01``) is the version's name, its midnight UTC its
time, its row count and columns come from the Parquet footers (no rows are read to list them), and
its declared schema change is against the partition before it. A reference to read is one date
or an inclusive range ``2024-05-01..2024-05-03`` (the partitions in it, concatenated).

The partition key is the first ``KEY=YYYY-MM-DD`` folder level; ``dt``, ``date``, ``ds``, ``day`` and
``event_date`` are recognised. Files of other types in a partition are ignored; a partition with no
Parquet file, or a footer that cannot be read, is an :class:`~core.errors.InvalidInputError` naming it.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from core.analysis.versions import TableVersion, diff_columns
from core.errors import InvalidInputError
from core.models import TimeWindow

__all__ = ["PartitionedParquetSource", "is_partitioned"]

KEYS = ("dt", "date", "ds", "day", "event_date")
_PART = re.compile(r"^(?P<key>[A-Za-z_]+)=(?P<value>\d{4}-\d{2}-\d{2})$")


def _partition_dirs(path: Path) -> list[tuple[str, str, Path]]:
    out = []
    for sub in path.iterdir():
        m = _PART.match(sub.name)
        if sub.is_dir() and m and m.group("key").lower() in KEYS:
            out.append((m.group("key"), m.group("value"), sub))
    return sorted(out, key=lambda t: t[1])


def is_partitioned(path: Path) -> bool:
    """A folder whose sub-folders include at least one ``dt=YYYY-MM-DD`` partition."""
    return path.is_dir() and bool(_partition_dirs(path))


def _date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise InvalidInputError(f"'{value}' is not a date; write YYYY-MM-DD") from exc


class PartitionedParquetSource:
    """A folder of date partitions read as the versions of one table."""

    kind = "partitions"

    def __init__(self, path: Path | str, *, name: str | None = None):
        self.path = Path(path).expanduser()
        self.name = name or self.path.name
        if not is_partitioned(self.path):
            raise InvalidInputError(f"{self.path} has no dt=YYYY-MM-DD partition folders; give the partitioned "
                                    "table's folder")
        parts = _partition_dirs(self.path)
        self.key = parts[0][0]
        self._parts = {value: sub for _k, value, sub in parts}
        self._history: list[TableVersion] | None = None

    @property
    def label(self) -> str:
        return f"partitions {self.name}"

    def _files(self, value: str) -> list[Path]:
        files = sorted(p for p in self._parts[value].rglob("*.parquet") if p.is_file())
        if not files:
            raise InvalidInputError(f"partition {self.key}={value} of {self.name} holds no .parquet file")
        return files

    def history(self) -> list[TableVersion]:
        """One version per partition, oldest first, from the Parquet footers."""
        if self._history is not None:
            return self._history
        import pyarrow.parquet as pq

        out: list[TableVersion] = []
        previous: dict[str, str] | None = None
        for value in self._parts:
            rows, cols = 0, {}
            for f in self._files(value):
                try:
                    meta = pq.ParquetFile(f)
                except (OSError, ValueError) as exc:
                    raise InvalidInputError(f"{f.relative_to(self.path)} is not a readable Parquet file "
                                            f"({str(exc).splitlines()[0][:160]})") from exc
                rows += meta.metadata.num_rows
                for fld in meta.schema_arrow:
                    cols.setdefault(fld.name, str(fld.type))
            change = diff_columns(previous, cols) if previous is not None else None
            out.append(TableVersion(value, _date(value), "partition", rows, cols, schema_change=change))
            previous = cols
        self._history = out
        return out

    def versions(self, table: str | None = None, window: TimeWindow | None = None) -> pd.DataFrame:
        from core.sources.datasets_delta import versions_frame

        return versions_frame(self.history(), window)

    def resolve(self, ref: Any) -> list[str]:
        """The partition values ``ref`` names: a date, or an inclusive range ``FROM..TO``.

        Raises:
            InvalidInputError: not a date, no such partition, or an empty range.
        """
        text = str(ref).strip()
        values = list(self._parts)
        if ".." in text:
            lo, hi = (s.strip() for s in text.split("..", 1))
            _date(lo), _date(hi)
            picked = [v for v in values if lo <= v <= hi]
            if not picked:
                raise InvalidInputError(f"{self.label} has no partition from {lo} to {hi}; it runs from "
                                        f"{values[0]} to {values[-1]}")
            return picked
        _date(text[:10] if len(text) >= 10 else text)
        if text not in self._parts:
            raise InvalidInputError(f"{self.label} has no partition {self.key}={text}; it runs from {values[0]} to "
                                    f"{values[-1]} ({len(values)} partitions)")
        return [text]

    def columns_at(self, ref: Any) -> dict[str, str]:
        picked = set(self.resolve(ref))
        cols: dict[str, str] = {}
        for h in self.history():
            if h.version in picked:
                for c, t in h.columns.items():
                    cols.setdefault(c, t)
        return cols

    def read(self, table: str | None = None, version: Any = None, *, columns: list[str] | None = None,
             limit: int | None = None) -> pd.DataFrame:
        """The rows of the partitions ``version`` names (default: the latest partition).

        Raises:
            InvalidInputError: see :meth:`resolve`; the files exceed the size limit.
        """
        from core.sources.datasets import max_bytes
        from core.sources.tables import read_table

        picked = self.resolve(version) if version is not None else [list(self._parts)[-1]]
        files = [f for v in picked for f in self._files(v)]
        total, cap = sum(f.stat().st_size for f in files), limit if limit is not None else max_bytes()
        if total > cap:
            raise InvalidInputError(f"{self.label} {picked[0]}..{picked[-1]} holds {total / 1e6:.0f} MB, above the "
                                    f"{cap / 1e6:.0f} MB limit; pick fewer partitions or raise WORKBENCH_MAX_UPLOAD_MB")
        frames = [read_table(f) for f in files]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return frame[columns] if columns else frame

    def events(self) -> list[dict[str, Any]]:
        """A ``data_pipeline`` event per partition whose declared schema differs from the one before."""
        from core.sources.datasets_delta import history_events

        return history_events(self.label, self.history())
