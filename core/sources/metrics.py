"""Metric series: the ``MetricSource`` protocol, file and bundle readers, and series checks.

Every reader returns a :class:`MetricSeries`: a frame with a UTC ``timestamp``
column, a float ``value`` column and any label columns (``platform``,
``instance`` ...), plus the human-readable ``notes`` of what was repaired on the
way in (duplicate timestamps averaged, NaN/inf rows dropped, gaps, irregular
sampling). Input that cannot be analysed at all (no rows, too few points, no
``value`` column, unparseable times) raises :class:`InvalidInputError` naming
the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from core.errors import InvalidInputError
from core.models import TimeWindow, format_duration
from core.sources.tables import read_table

SERIES_SUFFIXES = (".csv", ".parquet", ".txt")

MIN_POINTS = 10
GAP_FACTOR = 3.0  # a gap is a step at least this many times the median step
IRREGULAR_SHARE = 0.1  # more than this share of steps off the median step -> irregular


@dataclass(frozen=True)
class SeriesCheck:
    """What :func:`check_series` found; ``notes`` are ready to show to a person."""

    n_points: int
    step_seconds: float | None
    n_duplicates: int = 0
    n_non_finite: int = 0
    n_gaps: int = 0
    largest_gap_seconds: float | None = None
    irregular: bool = False
    constant: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricSeries:
    """A validated series: ``frame`` has ``timestamp`` (UTC), ``value`` and ``labels`` columns."""

    name: str
    frame: pd.DataFrame
    labels: tuple[str, ...] = ()
    check: SeriesCheck | None = None
    source: str = ""

    @property
    def notes(self) -> tuple[str, ...]:
        return self.check.notes if self.check else ()

    def total(self) -> pd.DataFrame:
        """The series without labels: values of the same timestamp averaged across label values."""
        if not self.labels:
            return self.frame[["timestamp", "value"]]
        return self.frame.groupby("timestamp", as_index=False)["value"].mean()


@runtime_checkable
class MetricSource(Protocol):
    """Anything that reads a named metric (or a query) over a time window."""

    def read(self, query: str, window: TimeWindow | None = None) -> MetricSeries:
        """Return the series ``query`` restricted to ``window`` (all of it when None)."""
        ...


def _labels_of(df: pd.DataFrame) -> tuple[str, ...]:
    return tuple(c for c in df.columns if c not in ("timestamp", "value"))


def check_series(df: pd.DataFrame, *, what: str = "series") -> SeriesCheck:
    """Describe the quality of a series frame (``timestamp``, ``value``, labels) without changing it.

    Args:
        df: frame with a UTC ``timestamp`` column and a numeric ``value`` column.
        what: name used in the notes (a file name or a metric name).

    Returns:
        A :class:`SeriesCheck`; its ``notes`` say what is unusual and what it means.
    """
    labels = _labels_of(df)
    values = pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    notes: list[str] = []
    n_bad = int((~finite).sum())
    if n_bad:
        notes.append(f"{what}: {n_bad} NaN or infinite value(s) were dropped")
    ok = df.loc[finite]
    keys = ["timestamp", *labels]
    n_dup = int(ok.duplicated(subset=keys).sum())
    if n_dup:
        notes.append(f"{what}: {n_dup} duplicate timestamp(s); values of the same time were averaged")
    step = None
    n_gaps = 0
    largest = None
    irregular = False
    groups = [g for _, g in ok.groupby(list(labels), sort=False)] if labels else [ok]
    steps_all = []
    for g in groups:
        ts = np.sort(g["timestamp"].drop_duplicates().to_numpy(dtype="datetime64[ns]"))
        if len(ts) > 1:
            steps_all.append(np.diff(ts).astype("timedelta64[ns]").astype(np.int64) / 1e9)
    if steps_all:
        steps = np.concatenate(steps_all)
        steps = steps[steps > 0]
        if len(steps):
            step = float(np.median(steps))
            big = steps >= GAP_FACTOR * step
            n_gaps = int(big.sum())
            largest = float(steps.max())
            off = np.abs(steps - step) > 0.1 * step
            irregular = bool((off & ~big).mean() > IRREGULAR_SHARE)
    if n_gaps:
        notes.append(
            f"{what}: {n_gaps} gap(s) in the data, the longest {format_duration(pd.Timedelta(seconds=largest))}"
            f" (usual step {format_duration(pd.Timedelta(seconds=step))}); change points next to a gap are less certain"
        )
    if irregular:
        notes.append(f"{what}: irregular sampling; points are averaged into regular bins before detection")
    finite_vals = values[finite]
    constant = bool(len(finite_vals) > 0 and np.all(finite_vals == finite_vals[0]))
    if constant:
        notes.append(f"{what}: every value is {finite_vals[0]:g}; a constant series has no change to find")
    n_points = int(len(ok.drop_duplicates(subset=keys)))
    return SeriesCheck(
        n_points=n_points, step_seconds=step, n_duplicates=n_dup, n_non_finite=n_bad, n_gaps=n_gaps,
        largest_gap_seconds=largest, irregular=irregular, constant=constant, notes=tuple(notes),
    )


def clean_series(
    df: pd.DataFrame, *, name: str = "series", source: str = "", window: TimeWindow | None = None,
    min_points: int = MIN_POINTS,
) -> MetricSeries:
    """Validate and normalise a raw frame into a :class:`MetricSeries`.

    Sorts by time, drops NaN/inf values, averages duplicate timestamps (per label
    combination) and restricts to ``window``.

    Raises:
        InvalidInputError: no ``timestamp``/``value`` column, unparseable times or values,
            or fewer than ``min_points`` usable points.
    """
    missing = {"timestamp", "value"} - set(df.columns)
    if missing:
        raise InvalidInputError(
            f"{name}: missing column(s) {', '.join(sorted(missing))}; a series needs timestamp,value[,labels]"
        )
    df = df.copy()
    if not pd.api.types.is_datetime64_any_dtype(df["timestamp"]):
        parsed = pd.to_datetime(df["timestamp"], utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna() & df["timestamp"].notna()
        if bad.any():
            first = df["timestamp"][bad].iloc[0]
            raise InvalidInputError(
                f"{name}: {int(bad.sum())} timestamp(s) are not ISO 8601, first {first!r}; "
                "write times like 2024-05-01T12:00:00Z"
            )
        df["timestamp"] = parsed
    elif df["timestamp"].dt.tz is None:
        df["timestamp"] = df["timestamp"].dt.tz_localize("UTC")
    else:
        df["timestamp"] = df["timestamp"].dt.tz_convert("UTC")
    df = df[df["timestamp"].notna()]
    raw_values = df["value"]
    numeric = pd.to_numeric(raw_values, errors="coerce")
    not_number = numeric.isna() & raw_values.notna() & ~raw_values.astype(str).str.lower().isin(
        ["nan", "inf", "-inf", "+inf", "infinity", "-infinity", ""]
    )
    if not_number.any():
        first = raw_values[not_number].iloc[0]
        raise InvalidInputError(
            f"{name}: {int(not_number.sum())} value(s) are not numbers, first {first!r}; "
            "the value column must be numeric"
        )
    df["value"] = pd.to_numeric(raw_values.replace({"inf": np.inf, "-inf": -np.inf, "+inf": np.inf}),
                                errors="coerce").astype(float)
    if window is not None:
        df = df[(df["timestamp"] >= window.start) & (df["timestamp"] < window.end)]
    labels = _labels_of(df)
    for col in labels:
        df[col] = df[col].astype(str)
    check = check_series(df, what=name)
    df = df[np.isfinite(df["value"].to_numpy())]
    if check.n_duplicates:
        df = df.groupby(["timestamp", *labels], as_index=False, sort=False)["value"].mean()
    df = df.sort_values([*labels, "timestamp"] if labels else "timestamp", kind="stable").reset_index(drop=True)
    df = df[["timestamp", "value", *labels]]
    n_times = df["timestamp"].nunique()
    if n_times < min_points:
        where = f" in {window.start:%Y-%m-%d %H:%M}–{window.end:%Y-%m-%d %H:%M} UTC" if window else ""
        raise InvalidInputError(
            f"{name}: only {n_times} usable point(s){where}; at least {min_points} are needed — "
            "widen the time range or give a longer series"
        )
    return MetricSeries(name=name, frame=df, labels=labels, check=check, source=source)


def read_series_file(
    path: Path | str, *, timestamp: str = "timestamp", value: str = "value",
    window: TimeWindow | None = None, min_points: int = MIN_POINTS,
) -> MetricSeries:
    """Read a CSV or Parquet series (``timestamp,value[,labels]``).

    Args:
        path: a ``.csv`` or ``.parquet`` file.
        timestamp: name of the time column (ISO 8601; naive times are taken as UTC).
        value: name of the numeric column.
        window: keep only points inside this window.
        min_points: fewest usable points accepted.

    Raises:
        InvalidInputError: the file is missing, unreadable or not a series.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file; give a CSV or Parquet file with timestamp,value columns")
    suffix = path.suffix.lower()
    if suffix not in SERIES_SUFFIXES:
        raise InvalidInputError(f"{path}: unknown series format '{suffix}'; use .csv or .parquet")
    df = read_table(path, allowed=SERIES_SUFFIXES)
    if df.empty:
        raise InvalidInputError(f"{path}: the file has no rows; a series needs timestamp,value rows")
    rename = {}
    if timestamp != "timestamp":
        if timestamp not in df.columns:
            raise InvalidInputError(f"{path}: no time column '{timestamp}'; columns are {', '.join(map(str, df.columns))}")
        rename[timestamp] = "timestamp"
    if value != "value":
        if value not in df.columns:
            raise InvalidInputError(f"{path}: no value column '{value}'; columns are {', '.join(map(str, df.columns))}")
        rename[value] = "value"
    if rename:
        # a column already called timestamp/value that is not the chosen one would be duplicated: drop it
        collide = [c for c in rename.values() if c in df.columns and c not in rename]
        df = df.drop(columns=collide).rename(columns=rename)
    return clean_series(df, name=path.name, source=str(path), window=window, min_points=min_points)


@dataclass(frozen=True)
class FileMetricSource:
    """Series in a folder of ``NAME.csv`` / ``NAME.parquet`` files."""

    folder: Path

    def read(self, query: str, window: TimeWindow | None = None) -> MetricSeries:
        for suffix in (".parquet", ".csv"):
            p = Path(self.folder) / f"{query}{suffix}"
            if p.is_file():
                return read_series_file(p, window=window)
        raise InvalidInputError(f"no series '{query}' in {self.folder} (looked for {query}.csv and {query}.parquet)")


@dataclass(frozen=True)
class BundleMetricSource:
    """The ``metrics/*.csv`` files of an incident bundle (see core.bundle)."""

    bundle: object  # core.bundle.Bundle; typed loosely to keep this module import-light

    def metric_names(self) -> list[str]:
        return self.bundle.metric_names()

    def read(self, query: str, window: TimeWindow | None = None) -> MetricSeries:
        df = self.bundle.read_metric(query)
        return clean_series(df, name=query, source=f"bundle {self.bundle.id}", window=window)


@dataclass(frozen=True)
class SeriesFileSource:
    """One series file (``.csv``/``.parquet`` with timestamp,value[,labels]); ``query`` names the series shown."""

    path: Path

    def read(self, query: str = "", window: TimeWindow | None = None) -> MetricSeries:
        series = read_series_file(self.path, window=window)
        return series if not query else MetricSeries(query, series.frame, series.labels, series.check,
                                                     series.source)
