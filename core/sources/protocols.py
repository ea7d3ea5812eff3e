"""One ``typing.Protocol`` per signal kind: what pages, the command line, triage and analyses may ask of a source.

A source is a small class in ``core/sources/`` that satisfies one of these; :mod:`core.sources.factory`
opens it from a spec. The first three have implementations today:

* :class:`LogSource` (``core/sources/logs.py``): local files through DuckDB, Elasticsearch;
* :class:`MetricSource` (``core/sources/metrics.py``): bundle series, CSV/Parquet files, Prometheus;
* :class:`RunSource`: MLflow tracking and model registry (``core/sources/mlflow_runs.py``).

The others are contracts for the connectors to come (traces, errors, data quality, lineage,
data versions): a connector implements the protocol of its kind, registers an opener with
:func:`core.sources.factory.register_source`, and reads its settings with
``core.config.settings().section(name)``. Every method takes an absolute UTC
:class:`~core.models.TimeWindow` where time matters, returns frozen dataclasses or DataFrames
(never client-library objects), and raises :class:`~core.errors.SourceUnavailableError` naming
the URL, never the credentials, when the system cannot be reached.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, runtime_checkable

import pandas as pd

from core.models import TimeWindow
from core.sources.logs import LogSource
from core.sources.metrics import MetricSource

__all__ = [
    "DataQualitySource", "DataVersionSource", "ErrorSource", "LineageSource", "LogSource", "MetricSource",
    "RunSource", "TraceSource", "KINDS",
]


@runtime_checkable
class RunSource(Protocol):
    """Experiment runs and the model registry (MLflow today; W&B runs are the next candidate).

    Results are :mod:`core.sources.mlflow_runs` records (``RunRecord``, ``RegistryHistory``),
    which any run source returns so :mod:`core.analysis.rundiff` needs no other input.
    """

    display_uri: str

    def check(self) -> None:
        """One cheap call; raises SourceUnavailableError when the store cannot be reached."""
        ...

    def get_run(self, run_id: str, *, artifacts: bool = True) -> Any:
        """One run: params, metrics, tags, input datasets and (unless ``artifacts`` is False) artifacts."""
        ...

    def search_runs(self, experiment_ids: Iterable[str] | None = None, **kwargs: Any) -> pd.DataFrame:
        """Runs of some experiments as a table (one row per run)."""
        ...

    def list_models(self, *, service: str | None = None) -> list[str]:
        """Registered model names (those tagged with ``service`` when given)."""
        ...

    def registry_history(self, model: str) -> Any:
        """Every version of ``model`` with its effective time, aliases, stage and run."""
        ...


# ------------------------------------------------------------------ contracts for coming connectors

@runtime_checkable
class TraceSource(Protocol):
    """Distributed traces (OTLP files, Jaeger, Tempo; issue #17).

    ``spans`` returns one row per span with at least ``trace.id``, ``span.id``, ``parent.id``,
    ``service.name``, ``name``, ``start`` (UTC), ``duration_ms`` and ``status``; ``trace`` returns
    the spans of one trace the same way.
    """

    def spans(self, query: str, window: TimeWindow, *, limit: int = 10_000) -> pd.DataFrame: ...

    def trace(self, trace_id: str) -> pd.DataFrame: ...


@runtime_checkable
class ErrorSource(Protocol):
    """Application errors grouped into issues (Sentry; issue #17).

    ``issues`` returns one row per issue seen in ``window``: ``id``, ``title``, ``culprit``,
    ``level``, ``count``, ``first_seen``, ``last_seen``, ``release``, ``link``.
    """

    def issues(self, window: TimeWindow, *, query: str = "", limit: int = 100) -> pd.DataFrame: ...


@runtime_checkable
class DataQualitySource(Protocol):
    """Data-quality check results (Great Expectations validation results; issue #18).

    ``results`` returns one row per expectation run in ``window``: ``suite``, ``expectation``,
    ``column``, ``success``, ``observed``, ``run_time`` (UTC), ``asset``.
    """

    def results(self, window: TimeWindow, *, asset: str | None = None) -> pd.DataFrame: ...


@runtime_checkable
class LineageSource(Protocol):
    """What feeds what (dbt artifacts: manifest and run results; issue #18).

    ``upstream`` returns the nodes ``asset`` depends on (``name``, ``kind``, ``depth``); ``runs``
    returns the node runs in ``window`` (``name``, ``status``, ``started``, ``finished``, ``rows``).
    """

    def upstream(self, asset: str, *, depth: int = 3) -> pd.DataFrame: ...

    def runs(self, window: TimeWindow) -> pd.DataFrame: ...


@runtime_checkable
class DataVersionSource(Protocol):
    """Versions of a table over time (Delta Lake, partitioned Parquet, a feature store; issue #19).

    ``versions`` returns one row per version committed in ``window`` (``version``, ``at`` UTC,
    ``operation``, ``rows``); ``read`` returns the table as of ``version``.
    """

    def versions(self, table: str, window: TimeWindow) -> pd.DataFrame: ...

    def read(self, table: str, version: Any, *, columns: list[str] | None = None) -> pd.DataFrame: ...


#: The protocol of each signal kind the factory knows (``open_source(kind, …)``).
KINDS: dict[str, type] = {
    "logs": LogSource, "metrics": MetricSource, "runs": RunSource, "traces": TraceSource,
    "errors": ErrorSource, "quality": DataQualitySource, "lineage": LineageSource,
    "data_versions": DataVersionSource,
}
