"""The in-process engine: both windows read into pandas and compared exactly (the default).

Before reading, it estimates the memory the comparison needs (about 2.5 × rows × columns × 8
bytes, from the Parquet footers or the file sizes) and refuses, with the engines that would
do it, when that is more than the memory available — rather than swapping for an hour.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from core.analysis.drift import DriftReport, compare_distributions
from core.compute.duckdb_engine import _files_of
from core.compute.protocol import DriftOptions, Location
from core.compute.report import ProgressFn
from core.errors import InvalidInputError

BYTES_PER_VALUE = 8 * 2.5  # the frame, one sorted copy per column in flight, and the rest
CSV_EXPANSION = 1.5  # in-memory bytes per CSV/JSONL byte, roughly


def available_memory() -> int:
    """Bytes the system says are available (MemAvailable), or a large number where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def estimate_bytes(files: list[str], suffix: str) -> tuple[int, int | None, int | None]:
    """(bytes needed, rows, columns) of reading ``files`` and comparing them in process."""
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        rows, cols = 0, 0
        for f in files:
            meta = pq.ParquetFile(f).metadata
            rows += meta.num_rows
            cols = max(cols, meta.num_columns)
        return int(rows * cols * BYTES_PER_VALUE), rows, cols
    size = sum(os.path.getsize(f) for f in files)
    return int(size * CSV_EXPANSION * 2.5), None, None


def check_fits(location: Location) -> None:
    """Refuse a location too large for this machine's memory (InvalidInputError naming the other engines)."""
    if not Path(location.spec).exists() and not any(ch in location.spec for ch in "*?["):
        return  # the reader says the file is not there
    suffix, files = _files_of(location.spec)
    need, rows, cols = estimate_bytes(files, suffix)
    have = available_memory()
    if need > 0.8 * have:
        what = f"{rows:,} rows × {cols} columns" if rows is not None else f"{len(files)} file(s)"
        raise InvalidInputError(
            f"{location.spec}: the in-process engine would need about {need / 1e9:.1f} GB for {what}, and "
            f"{have / 1e9:.1f} GB is available; use --engine duckdb (out of core) or --engine spark"
        )


def _read(spec: str) -> pd.DataFrame:
    from core.sources.datasets import read_dataset

    path = Path(spec)
    if path.is_file() or (not path.exists() and not any(ch in spec for ch in "*?[")):
        return read_dataset(path)  # says "file not found" for a missing one
    suffix, files = _files_of(spec)
    if path.is_dir() and (path / "_delta_log").is_dir():
        from core.sources.datasets_delta import DeltaTableSource

        return DeltaTableSource(path).read()
    frames = [read_dataset(f) for f in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


class MemoryEngine:
    """Today's drift report: exact statistics over the rows read into this process."""

    name = "memory"
    exact = True

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "exact": True}

    def compare(self, reference: Location, current: Location, options: DriftOptions,
                progress: ProgressFn | None = None) -> DriftReport:
        from core.sources.datasets import split_by_time

        check_fits(reference)
        if current.spec != reference.spec:
            check_fits(current)
        if reference.spec == current.spec and reference.split is not None and reference.side != "all":
            frame = _read(reference.spec)
            split = split_by_time(frame, reference.timestamp or "", reference.split)
            ref, cur = split.reference, split.current
        else:
            ref, cur = _read(reference.spec), _read(current.spec)
        report = compare_distributions(
            ref, cur, prediction=options.prediction, label=options.label, exclude=options.exclude,
            thresholds=options.thresholds, max_rows=options.max_rows, seed=options.seed,
            multivariate=options.multivariate, positional=options.positional, progress=progress,
        )
        return report

    def close(self) -> None:
        return None
