"""What a compute back-end does for the drift report, and the errors it raises.

A back-end (an *engine*) opens a **window** — a table, file, folder or Spark table, optionally
cut at a time on a timestamp column — and answers three small questions about it, so only
summaries leave the engine:

* ``stats(kinds, probabilities, top)``: per column the exact row, null and ±inf counts, exact
  minimum, maximum, mean and standard deviation, an approximate quantile sketch (numeric and
  datetime columns) or the top category counts (text and boolean columns);
* ``histograms(edges, ranges)``: exact counts of each numeric column at the given edges, and
  the values outside a range;
* ``sample(n, seed)``: a few thousand rows for the joint (domain classifier) check and for
  pairing renamed columns.

:mod:`core.compute.report` turns the answers into the same :class:`~core.analysis.drift.DriftReport`
(same tests, findings and JSON) as the in-process path, with error bounds where a figure comes
from a sketch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from core.analysis.drift import DriftReport
from core.compute.grid import Histogram
from core.errors import InvalidInputError, NotFoundError, SourceUnavailableError

__all__ = ["ColumnStats", "DriftOptions", "Engine", "EngineTimeoutError", "EngineUnavailableError",
           "Location", "TableNotFoundError", "Window", "SchemaMismatchError"]


class EngineUnavailableError(SourceUnavailableError):
    """The engine cannot run here (package or Java missing, a Spark session that does not start).

    Exit code 4, like any unreachable source.
    """


class EngineTimeoutError(SourceUnavailableError):
    """The engine did not answer within the time allowed (``--timeout``). Exit code 5."""

    exit_code = 5


class TableNotFoundError(NotFoundError):
    """The table, file or folder named does not exist. Exit code 2."""


class SchemaMismatchError(InvalidInputError):
    """The files of one window disagree on a column's type, or the windows share no column. Exit code 2."""


@dataclass(frozen=True)
class Location:
    """Where one side's rows are: a file, folder, Delta table, Spark table or URL, optionally cut by time.

    ``side`` says which part of a time cut this window keeps: ``before`` (rows with
    ``timestamp < split``), ``after`` (``>= split``) or ``all``.
    """

    spec: str
    timestamp: str | None = None
    split: datetime | None = None
    side: str = "all"

    @property
    def label(self) -> str:
        if self.split is None or self.side == "all":
            return self.spec
        op = "<" if self.side == "before" else ">="
        return f"{self.spec} where {self.timestamp} {op} {self.split.isoformat()}"


@dataclass(frozen=True)
class DriftOptions:
    """The drift report's options, the same for every engine."""

    prediction: str | None = None
    label: str | None = None
    exclude: tuple[str, ...] = ()
    thresholds: dict[str, float] | None = None
    multivariate: bool = True
    positional: bool = False
    seed: int = 0
    max_rows: int | None = None  # in-process only: compare a sample


@dataclass(frozen=True)
class ColumnStats:
    """One column on one side, as the engine summarised it (pass one)."""

    name: str
    kind: str  # core.analysis.schema kinds: numeric, datetime, categorical, empty
    dtype: str
    n: int
    n_null: int
    n_non_finite: int = 0
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: np.ndarray | None = field(default=None, repr=False)  # at grid.probabilities()
    n_unique: int = 0  # approximate
    counts: dict[str, int] | None = None  # categorical: the top categories (nulls excluded)


class Window(Protocol):
    """One side of the comparison inside an engine."""

    label: str

    def columns(self) -> dict[str, tuple[str, str]]:
        """Column name → (kind, dtype), in table order."""
        ...

    def stats(self, kinds: dict[str, str], probabilities: np.ndarray, top: int) -> tuple[int, dict[str, ColumnStats]]:
        """Row count and each column's :class:`ColumnStats`."""
        ...

    def histograms(self, edges: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]]) -> dict[str, Histogram]:
        """Exact counts at ``edges`` per numeric column; values below/above ``ranges`` (current side)."""
        ...

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        """About ``n`` rows, seeded."""
        ...


class Engine(Protocol):
    """A compute back-end: its name, whether its figures are exact, and the report over two locations."""

    name: str
    exact: bool

    def describe(self) -> dict[str, Any]:
        """What ran: engine name, where (session, master URL, memory limit), for the report."""
        ...

    def compare(self, reference: Location, current: Location, options: DriftOptions) -> DriftReport:
        """The drift report of ``current`` against ``reference``."""
        ...

    def close(self) -> None:
        """Release the engine's resources (a connection, a Spark session it started)."""
        ...
