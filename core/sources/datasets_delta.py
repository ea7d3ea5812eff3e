"""Data versions: Delta Lake tables (the ``deltalake`` package) and the data-version source kind.

A Delta table is a folder with a ``_delta_log/`` of JSON commits. :class:`DeltaTableSource`
lists its history (version, commit time, operation, rows written, the declared schema at each
version and its change against the version before), reads the table as of a version or a time,
and turns schema changes and overwrites into timeline events.

:func:`open_versions` is the opener of the source kind ``data_versions``
(``open_source("data_versions", spec)``): a Delta table folder, a folder of date partitions
(``dt=YYYY-MM-DD/``, :mod:`core.sources.partitions`), or an incident bundle — whose tables are the
Delta tables and partition folders under ``datasets/`` (``datasets/NAME/_delta_log/``;
docs/bundle-format.md). Anything else is an :class:`~core.errors.InvalidInputError` naming the
path and what would work.

A version reference is a version number (``3``), a time (``2024-05-01T12:00:00Z``: the version
current at that time) or, for partitions, a date or a range ``2024-05-01..2024-05-03``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from core.analysis.versions import TableVersion, diff_columns
from core.errors import InvalidInputError, MissingPackageError
from core.models import TimeWindow, iso, utc

__all__ = ["DataVersions", "DeltaTableSource", "is_delta_table", "open_versions", "resolve_time"]

INSTALL = "pip install deltalake (requirements-delta.txt)"
MAX_VERSIONS = 2000  # history rows read at most (newest first)


def is_delta_table(path: Path) -> bool:
    """A folder holding a ``_delta_log/`` with at least one commit or checkpoint."""
    log = path / "_delta_log"
    return log.is_dir() and any(p.suffix in (".json", ".parquet") for p in log.iterdir())


def _deltalake() -> Any:
    try:
        import deltalake
    except ImportError as exc:  # pragma: no cover - deltalake is in requirements-test.txt
        raise MissingPackageError(f"reading Delta tables needs the deltalake package; {INSTALL}") from exc
    return deltalake


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, dict):
        return str(t.get("type", "struct"))
    return str(t)


def _columns(schema_json: str | dict[str, Any]) -> dict[str, str]:
    data = json.loads(schema_json) if isinstance(schema_json, str) else schema_json
    return {str(f["name"]): _type_name(f.get("type")) for f in data.get("fields", [])}


def resolve_time(text: str) -> datetime | None:
    """``text`` as an aware UTC time when it reads as one (ISO 8601 with an offset or ``Z``), else None."""
    text = str(text).strip()
    if len(text) < 11 or "T" not in text.upper():
        return None
    try:
        return utc(text)
    except (InvalidInputError, ValueError, TypeError):
        return None


class DeltaTableSource:
    """One Delta Lake table: its history, its versions' rows, its schema changes as events."""

    kind = "delta"

    def __init__(self, path: Path | str, *, name: str | None = None):
        self.path = Path(path).expanduser()
        self.name = name or self.path.name
        if not self.path.is_dir() or not is_delta_table(self.path):
            raise InvalidInputError(
                f"{self.path} is not a Delta table (no _delta_log/ folder with commits); give the table's folder, "
                "a folder of dt=YYYY-MM-DD partitions, or a bundle"
            )
        dl = _deltalake()
        try:
            self._table = dl.DeltaTable(str(self.path))
        except (dl.exceptions.DeltaError, OSError) as exc:
            raise InvalidInputError(f"{self.path}: the Delta table cannot be read ({_first_line(exc)})") from exc
        self._history: list[TableVersion] | None = None

    @property
    def label(self) -> str:
        return f"Delta table {self.name}"

    def latest(self) -> int:
        return int(self._table.version())

    # ------------------------------------------------------------ history
    def _schemas(self, versions: Iterable[int]) -> dict[int, dict[str, str]]:
        """The declared columns at each version: from the ``metaData`` actions of the JSON commits,
        and from the table itself for versions whose commit file a checkpoint has cleaned up."""
        log = self.path / "_delta_log"
        changes: dict[int, dict[str, str]] = {}
        for f in sorted(log.glob("*.json")):
            if not f.stem.isdigit():
                continue
            for line in f.read_text(encoding="utf-8").splitlines():
                if '"metaData"' in line:
                    meta = json.loads(line).get("metaData") or {}
                    if meta.get("schemaString"):
                        changes[int(f.stem)] = _columns(meta["schemaString"])
        out: dict[int, dict[str, str]] = {}
        current: dict[str, str] | None = None
        for v in sorted(versions):
            if v in changes:
                current = changes[v]
            elif current is None:  # the commit holding the schema was checkpointed away: ask the table
                current = self._schema_at(v)
            out[v] = current
        return out

    def _schema_at(self, version: int) -> dict[str, str]:
        dl = _deltalake()
        return _columns(dl.DeltaTable(str(self.path), version=version).schema().to_json())

    def history(self) -> list[TableVersion]:
        """Every commit, oldest first, with its declared schema and its change against the one before."""
        if self._history is not None:
            return self._history
        raw = sorted(self._table.history(MAX_VERSIONS), key=lambda h: int(h.get("version", -1)))
        schemas = self._schemas(int(h["version"]) for h in raw if "version" in h)
        out: list[TableVersion] = []
        previous: dict[str, str] | None = None
        for h in raw:
            if "version" not in h:
                continue
            v = int(h["version"])
            cols = schemas.get(v, {})
            metrics = h.get("operationMetrics") or {}
            rows = metrics.get("num_added_rows", metrics.get("numOutputRows"))
            params = h.get("operationParameters") or {}
            ts = h.get("timestamp")
            at = datetime.fromtimestamp(int(ts) / 1000, tz=timezone.utc) if ts is not None else None
            change = diff_columns(previous, cols) if previous is not None else None
            out.append(TableVersion(v, at, str(h.get("operation") or ""), int(rows) if rows is not None else None,
                                    cols, mode=str(params.get("mode") or ""), schema_change=change))
            previous = cols
        self._history = out
        return out

    def versions(self, table: str | None = None, window: TimeWindow | None = None) -> pd.DataFrame:
        """One row per version (``version``, ``at``, ``operation``, ``mode``, ``rows``, ``columns``,
        ``schema_change``, ``overwrite``), in ``window`` when given."""
        return versions_frame(self.history(), window)

    # ------------------------------------------------------------ reading
    def resolve(self, ref: Any) -> int:
        """The version number that ``ref`` names: a number, or a time (the version current then).

        Raises:
            InvalidInputError: the version does not exist, or the time is before the first commit.
        """
        history = self.history()
        numbers = [h.version for h in history]
        text = str(ref).strip()
        if text.lstrip("-").isdigit():
            v = int(text)
            if v not in numbers:
                raise InvalidInputError(
                    f"{self.label} has no version {v}; its versions run from {min(numbers)} to {max(numbers)}"
                )
            return v
        at = resolve_time(text)
        if at is None:
            raise InvalidInputError(
                f"'{text}' is neither a version number nor a time; give a version such as {max(numbers)} "
                "or a time such as 2024-05-01T12:00:00Z"
            )
        before = [h for h in history if h.at is not None and h.at <= at]
        if not before:
            first = history[0].at
            raise InvalidInputError(
                f"{self.label} did not exist at {iso(at)}; its first commit is at {iso(first)}"
            )
        return int(before[-1].version)

    def columns_at(self, ref: Any) -> dict[str, str]:
        v = self.resolve(ref)
        return next(h.columns for h in self.history() if h.version == v)

    def read(self, table: str | None = None, version: Any = None, *, columns: list[str] | None = None,
             limit: int | None = None) -> pd.DataFrame:
        """The table's rows as of ``version`` (a number or a time; default the latest).

        Raises:
            InvalidInputError: the version does not exist, or its files exceed the size limit.
        """
        from core.sources.datasets import max_bytes

        v = self.latest() if version is None else self.resolve(version)
        dl = _deltalake()
        import pyarrow as pa

        try:
            dt = dl.DeltaTable(str(self.path), version=v)
            sizes = pa.table(dt.get_add_actions(flatten=True)).column("size_bytes").to_pylist()
            total, cap = sum(int(s or 0) for s in sizes), limit if limit is not None else max_bytes()
            if total > cap:
                raise InvalidInputError(
                    f"{self.label} version {v} holds {total / 1e6:.0f} MB of Parquet, above the {cap / 1e6:.0f} MB "
                    "limit; raise WORKBENCH_MAX_UPLOAD_MB or compare a smaller table"
                )
            frame = dt.to_pyarrow_table(columns=columns).to_pandas()
        except (dl.exceptions.DeltaError, OSError) as exc:
            raise InvalidInputError(f"{self.label} version {v} cannot be read ({_first_line(exc)})") from exc
        return frame

    # ------------------------------------------------------------ events
    def events(self) -> list[dict[str, Any]]:
        """Schema changes and overwrites in the history, as timeline events (``events.jsonl`` shape)."""
        return history_events(self.label, self.history())


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def versions_frame(history: list[TableVersion], window: TimeWindow | None = None) -> pd.DataFrame:
    rows = [{"version": h.version, "at": h.at, "operation": h.operation, "mode": h.mode, "rows": h.rows,
             "columns": len(h.columns), "schema_change": h.schema_change.text() if h.schema_change else "",
             "overwrite": h.overwrite}
            for h in history if window is None or (h.at is not None and window.start <= h.at < window.end)]
    return pd.DataFrame(rows, columns=["version", "at", "operation", "mode", "rows", "columns", "schema_change",
                                       "overwrite"])


def history_events(label: str, history: list[TableVersion]) -> list[dict[str, Any]]:
    """A ``data_pipeline`` event per version whose declared schema changed or that overwrote the table."""
    out = []
    for h in history:
        if h.at is None:
            continue
        what = []
        if h.schema_change:
            what.append(f"schema changed ({h.schema_change.text()})")
        if h.overwrite and h.schema_change is not None:  # the first write is a creation, not an overwrite
            what.append("contents overwritten")
        if not what:
            continue
        out.append({"timestamp": iso(h.at), "kind": "data_pipeline", "source": label[:60],
                    "title": f"{label} version {h.version}: {' and '.join(what)}",
                    "attributes": {"table": label, "version": h.version, "operation": h.operation,
                                   "mode": h.mode, "rows": h.rows,
                                   "schema_change": h.schema_change.to_dict() if h.schema_change else None}})
    return out


class DataVersions:
    """The versioned tables of one spec (a Delta table, a partition folder, or a bundle's ``datasets/``)."""

    def __init__(self, tables: dict[str, Any], *, label: str):
        self.tables = tables
        self.label = label

    def table(self, name: str | None = None) -> Any:
        """The table called ``name`` (default: the only one).

        Raises:
            InvalidInputError: no such table, or several and no name.
        """
        if name is None:
            if len(self.tables) == 1:
                return next(iter(self.tables.values()))
            raise InvalidInputError(f"{self.label} holds {len(self.tables)} tables ({', '.join(self.tables)}); "
                                    "name one with --table")
        if name not in self.tables:
            raise InvalidInputError(f"{self.label} has no table '{name}'; tables: {', '.join(self.tables) or 'none'}")
        return self.tables[name]

    def versions(self, table: str | None = None, window: TimeWindow | None = None) -> pd.DataFrame:
        return self.table(table).versions(window=window)

    def read(self, table: str | None, version: Any, *, columns: list[str] | None = None) -> pd.DataFrame:
        return self.table(table).read(version=version, columns=columns)

    def events(self) -> list[dict[str, Any]]:
        return [ev for t in self.tables.values() for ev in t.events()]


def bundle_tables(root: Path) -> dict[str, Any]:
    """The Delta tables and date-partition folders directly under a bundle's ``datasets/``."""
    from core.sources.partitions import PartitionedParquetSource, is_partitioned

    out: dict[str, Any] = {}
    folder = root / "datasets"
    if not folder.is_dir():
        return out
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if is_delta_table(sub):
            out[sub.name] = DeltaTableSource(sub)
        elif is_partitioned(sub):
            out[sub.name] = PartitionedParquetSource(sub)
    return out


def open_versions(spec: Any, _settings: Any = None) -> DataVersions:
    """The ``data_versions`` source of ``spec`` (see the module docstring).

    Raises:
        InvalidInputError: the path is missing or is neither a Delta table, a partition folder nor a bundle.
    """
    from core.sources.partitions import PartitionedParquetSource, is_partitioned

    if not isinstance(spec, (str, Path)) and hasattr(spec, "manifest"):  # a Bundle already read
        return DataVersions(bundle_tables(spec.path), label=f"bundle {spec.id}")
    path = Path(str(spec)).expanduser()
    if not path.exists():
        raise InvalidInputError(f"{path}: not found; give a Delta table folder, a folder of dt=YYYY-MM-DD "
                                "partitions, or a bundle")
    if path.is_dir() and (path / "bundle.json").is_file() or path.suffix.lower() == ".zip":
        from core.bundle import read_bundle

        bundle = read_bundle(path)
        return DataVersions(bundle_tables(bundle.path), label=f"bundle {bundle.id}")
    if path.is_dir() and is_delta_table(path):
        return DataVersions({path.name: DeltaTableSource(path)}, label=f"Delta table {path.name}")
    if path.is_dir() and is_partitioned(path):
        return DataVersions({path.name: PartitionedParquetSource(path)}, label=f"partitions {path.name}")
    raise InvalidInputError(
        f"{path} is not a Delta table (no _delta_log/ folder with commits) nor a folder of dt=YYYY-MM-DD "
        "partitions; give the table's folder, the partitioned folder, or a bundle"
    )
