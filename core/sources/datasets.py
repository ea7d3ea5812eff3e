"""Datasets for the drift report: files, uploads, bundle roles, and splitting one frame by time.

Reading checks the size (default limit 500 MB, ``WORKBENCH_MAX_UPLOAD_MB``), the
extension, duplicate column names and emptiness, so a bad file gives one clear
message. ``split_by_time`` cuts a frame at an instant into reference (before) and
current (at or after); ``pair_from_bundle`` chooses the reference and current
samples of an incident bundle: two snapshot roles (``reference``/``current``), or
one role with a timestamp column split at the incident's start.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from core.bundle import Bundle
from core.config import DEFAULT_MAX_UPLOAD_MB, settings
from core.errors import InvalidInputError
from core.models import TimeWindow, iso, utc
from core.sources.tables import read_table

DEFAULT_MAX_MB = DEFAULT_MAX_UPLOAD_MB
SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")  # those of core.sources.tables.TABLE_SUFFIXES


def max_bytes() -> int:
    """The size limit of one dataset file: ``WORKBENCH_MAX_UPLOAD_MB`` megabytes (default 500)."""
    return settings().limits.max_upload_bytes


def _check_size(name: str, size: int, limit: int | None) -> None:
    limit = max_bytes() if limit is None else limit
    if size > limit:
        raise InvalidInputError(
            f"{name} is {size / 1e6:.0f} MB, above the {limit / 1e6:.0f} MB limit; pass a sample, "
            "or raise WORKBENCH_MAX_UPLOAD_MB"
        )
    if size == 0:
        raise InvalidInputError(f"{name} is empty (0 bytes); pick a file with a header and rows")


def _check_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(f"{name}: unsupported file type '{suffix or '(none)'}'; use .csv, .parquet or .jsonl")
    return suffix


def _csv_header_duplicates(head: bytes) -> list[str]:
    first = head.decode("utf-8", errors="replace").splitlines()[:1]
    if not first:
        return []
    names = next(csv.reader(first), [])
    return sorted({n for n in names if names.count(n) > 1})


def _check_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InvalidInputError(f"{name} has no rows; pick a file with a header and at least 2 rows")
    names = [str(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInputError(f"{name} has duplicate column names: {', '.join(dupes)}; rename them")
    return frame


def read_dataset(path: Path | str, *, limit: int | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or JSONL file within the size limit.

    Raises:
        InvalidInputError: missing, empty, too large, unsupported or unreadable file; duplicate
            column names.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: file not found; check the path")
    suffix = _check_suffix(path.name)
    _check_size(path.name, path.stat().st_size, limit)
    if suffix == ".csv":
        with path.open("rb") as fh:
            dupes = _csv_header_duplicates(fh.read(65536))
        if dupes:
            raise InvalidInputError(f"{path.name} has duplicate column names: {', '.join(dupes)}; rename them")
    if suffix == ".ndjson":
        return _check_frame(path.name, _read_bytes(path.name, path.read_bytes(), ".jsonl"))
    return _check_frame(path.name, read_table(path))


def _read_bytes(name: str, data: bytes, suffix: str) -> pd.DataFrame:
    return read_table(data, name=name, suffix=suffix)


def read_upload(name: str, data: bytes, *, limit: int | None = None) -> pd.DataFrame:
    """Read an uploaded file's bytes (type from its name) within the size limit."""
    suffix = _check_suffix(name)
    _check_size(name, len(data), limit)
    if suffix == ".csv":
        dupes = _csv_header_duplicates(data[:65536])
        if dupes:
            raise InvalidInputError(f"{name} has duplicate column names: {', '.join(dupes)}; rename them")
    return _check_frame(name, _read_bytes(name, data, ".jsonl" if suffix == ".ndjson" else suffix))


# ---------------------------------------------------------------- time

def timestamps(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column as UTC timestamps; naive values are read as UTC.

    Raises:
        InvalidInputError: the column is missing or its values are not times (or mix zone-aware
            and naive values).
    """
    if column not in frame.columns:
        raise InvalidInputError(
            f"timestamp column '{column}' is not in the data; columns are: {', '.join(map(str, frame.columns[:20]))}"
        )
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is None:
            return values.dt.tz_localize("UTC")
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(values.dtype):
        raise InvalidInputError(
            f"timestamp column '{column}' holds numbers, not times; store ISO 8601 times such as 2024-05-01T12:00:00Z"
        )
    text = values.dropna().astype(str)
    has_zone = text.str.contains(r"(?:Z|z|[+-]\d\d:?\d\d)$", regex=True)
    if has_zone.any() and not has_zone.all():
        bad = text[~has_zone].iloc[0]
        raise InvalidInputError(
            f"timestamp column '{column}' mixes times with and without a time zone (e.g. '{bad}' has none); "
            "write every time with its offset, e.g. 2024-05-01T12:00:00Z"
        )
    try:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"timestamp column '{column}' has values that are not ISO 8601 times, or mixes zone-aware and "
            f"naive times ({str(exc).splitlines()[0]}); write every time with its offset, e.g. 2024-05-01T12:00:00Z"
        ) from exc


def _py(value: pd.Timestamp) -> datetime:
    return value.floor("us").to_pydatetime()


@dataclass(frozen=True)
class Split:
    """Reference and current rows of one frame cut by time."""

    reference: pd.DataFrame
    current: pd.DataFrame
    reference_window: TimeWindow
    current_window: TimeWindow
    timestamp: str


def split_by_time(
    frame: pd.DataFrame,
    column: str,
    at: datetime | str,
    *,
    reference: TimeWindow | None = None,
    current: TimeWindow | None = None,
) -> Split:
    """Cut ``frame`` at ``at``: reference rows before it, current rows at or after it.

    Args:
        frame: rows with a timestamp column.
        column: the timestamp column.
        at: the split instant (aware datetime or ISO 8601 with offset).
        reference: optionally keep only reference rows inside this window.
        current: optionally keep only current rows inside this window.

    Raises:
        InvalidInputError: the split time is naive, outside the data, or leaves a side empty.
    """
    at = utc(at)
    ts = timestamps(frame, column)
    valid = ts.dropna()
    if valid.empty:
        raise InvalidInputError(f"timestamp column '{column}' has no times; check the file")
    first, last = _py(valid.min()), _py(valid.max())
    if not first < at <= last:
        raise InvalidInputError(
            f"split time {iso(at)} is outside the data, which runs from {iso(first)} to {iso(last)}; "
            "pick a time inside that range"
        )
    before = ts < at
    after = ts >= at
    if reference is not None:
        before &= (ts >= reference.start) & (ts < reference.end)
    if current is not None:
        after &= (ts >= current.start) & (ts < current.end)
    ref, cur = frame[before.to_numpy()], frame[after.to_numpy()]
    for name, part in (("reference (before the split)", ref), ("current (after the split)", cur)):
        if len(part) < 2:
            raise InvalidInputError(
                f"the {name} side has {len(part)} row(s); move the split time or widen the windows"
            )
    ref_ts, cur_ts = ts[before.to_numpy()], ts[after.to_numpy()]
    rw = TimeWindow(_py(ref_ts.min()), at)
    cw = TimeWindow(at, max(_py(cur_ts.max()) + timedelta(microseconds=1), at + timedelta(seconds=1)))
    return Split(ref.reset_index(drop=True), cur.reset_index(drop=True), rw, cw, column)


# ---------------------------------------------------------------- bundles

@dataclass(frozen=True)
class DatasetPair:
    """What the drift report compares, and where it came from."""

    reference: pd.DataFrame
    current: pd.DataFrame
    description: str
    reference_window: TimeWindow | None = None
    current_window: TimeWindow | None = None
    timestamp: str | None = None
    prediction: str | None = None
    label: str | None = None
    split_at: datetime | None = None

    def query(self) -> dict[str, object]:
        """The inputs, for pinned evidence."""
        return {
            "source": self.description, "timestamp": self.timestamp, "prediction": self.prediction,
            "label": self.label, "split_at": iso(self.split_at),
            "reference_window": self.reference_window.to_dict() if self.reference_window else None,
            "current_window": self.current_window.to_dict() if self.current_window else None,
        }


def bundle_roles(bundle: Bundle) -> list[str]:
    """The dataset roles worth comparing: a ``reference``/``current`` pair counts as one choice."""
    roles = list(bundle.datasets)
    if "reference" in roles and "current" in roles:
        return ["reference/current"] + [r for r in roles if r not in ("reference", "current")]
    return roles


def pair_from_bundle(bundle: Bundle, role: str, *, split_at: datetime | None = None,
                     reference: TimeWindow | None = None, current: TimeWindow | None = None) -> DatasetPair:
    """The reference and current samples of a bundle.

    ``role`` is ``"reference/current"`` for two snapshot roles, or one role with a
    timestamp column, split at ``split_at`` (default: the start of the bundle window,
    or the end of its baseline).

    Raises:
        InvalidInputError: the role is unknown, has no timestamp column, or the split fails.
    """
    if role == "reference/current":
        ref_spec, cur_spec = bundle.datasets["reference"], bundle.datasets["current"]
        ref, cur = bundle.read_dataset("reference"), bundle.read_dataset("current")
        exclude_ts = ref_spec.timestamp
        return DatasetPair(
            ref, cur, f"bundle {bundle.id}: {ref_spec.file} vs {cur_spec.file}",
            reference_window=bundle.baseline, current_window=bundle.window, timestamp=exclude_ts,
            prediction=cur_spec.prediction or ref_spec.prediction, label=cur_spec.label or ref_spec.label,
        )
    if role not in bundle.datasets:
        raise InvalidInputError(
            f"bundle {bundle.id} has no dataset role '{role}'; roles: {', '.join(bundle_roles(bundle))}"
        )
    spec = bundle.datasets[role]
    if not spec.timestamp:
        raise InvalidInputError(
            f"dataset role '{role}' of bundle {bundle.id} has no timestamp column to split by; "
            "compare it with another snapshot instead"
        )
    frame = bundle.read_dataset(role)
    at = split_at or default_split(bundle)
    split = split_by_time(frame, spec.timestamp, at, reference=reference, current=current)
    return DatasetPair(
        split.reference, split.current, f"bundle {bundle.id}: {spec.file} split at {iso(at)}",
        reference_window=split.reference_window, current_window=split.current_window,
        timestamp=spec.timestamp, prediction=spec.prediction, label=spec.label, split_at=at,
    )


def default_split(bundle: Bundle) -> datetime:
    """Where a bundle's data is cut when no incident start is known: the end of its baseline,
    else the start of its window."""
    return bundle.baseline.end if bundle.baseline is not None else bundle.window.start
