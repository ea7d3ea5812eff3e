"""Compute back-ends for the drift report: in-process (exact), DuckDB (out of core) and Spark.

See :mod:`core.compute.registry` for how an engine is chosen and registered,
:mod:`core.compute.protocol` for what an engine does, and docs/scale.md.
"""

from core.compute.protocol import (
    DriftOptions, EngineTimeoutError, EngineUnavailableError, Location, SchemaMismatchError, TableNotFoundError,
)
from core.compute.registry import (
    AUTO, EngineChoice, choose_engine, open_engine, register_engine, registered_engines, run_drift,
)

__all__ = ["AUTO", "DriftOptions", "EngineChoice", "EngineTimeoutError", "EngineUnavailableError", "Location",
           "SchemaMismatchError", "TableNotFoundError", "choose_engine", "open_engine", "register_engine",
           "registered_engines", "run_drift"]
