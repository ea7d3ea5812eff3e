"""The one place that decides which compute engine runs the drift report.

``register_engine(name, factory)`` adds an engine (the built-ins register through the same call,
at the end of this module); ``open_engine(name, **options)`` builds one; ``choose_engine(spec)``
is the ``auto`` policy:

==============================================  ==========
location                                         engine
==============================================  ==========
``sc://…`` or ``spark://…`` URL, ``spark:…``     spark
a table name (``db.table``, not a path)          spark
a folder, a glob or a Delta table folder         duckdb
a file larger than the in-process engine takes   duckdb
any other file                                   memory
==============================================  ==========

``run_drift`` compares two locations (or one location cut at a time) with the engine asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from core.analysis.drift import DriftReport
from core.compute.protocol import DriftOptions, Engine, Location
from core.errors import InvalidInputError

__all__ = ["AUTO", "EngineChoice", "choose_engine", "open_engine", "register_engine", "registered_engines",
           "run_drift"]

AUTO = "auto"
Factory = Callable[..., Engine]
_ENGINES: dict[str, tuple[Factory, str]] = {}


def register_engine(name: str, factory: Factory, description: str = "") -> None:
    """Make ``open_engine(name, **options)`` call ``factory(**options)``."""
    _ENGINES[name] = (factory, description)


def registered_engines() -> dict[str, str]:
    """Engine name → one-line description."""
    return {name: desc for name, (_f, desc) in _ENGINES.items()}


def open_engine(name: str, **options: Any) -> Engine:
    """Build the engine ``name`` (``memory``, ``duckdb``, ``spark`` or one an extension registered)."""
    if name not in _ENGINES:
        raise InvalidInputError(f"engine '{name}' is unknown; use {AUTO} or one of {', '.join(_ENGINES)}")
    return _ENGINES[name][0](**options)


@dataclass(frozen=True)
class EngineChoice:
    """The engine ``auto`` picked and why (shown by the CLI and the page)."""

    name: str
    reason: str


def choose_engine(spec: str) -> EngineChoice:
    """The ``auto`` policy (see the module docstring)."""
    from core.compute.spark_engine import looks_like_table, split_location

    text = spec.strip()
    low = text.lower()
    if low.startswith(("sc://", "spark://", "spark:")):
        url, _target = split_location(text)
        return EngineChoice("spark", f"{url or 'spark:'} names a Spark location")
    if looks_like_table(text):
        return EngineChoice("spark", f"'{text}' is a table name, not a file or folder")
    path = Path(text)
    if any(ch in text for ch in "*?[") or path.is_dir():
        what = "a Delta table" if (path / "_delta_log").is_dir() else "a glob" if not path.is_dir() else "a folder"
        return EngineChoice("duckdb", f"{text} is {what}")
    if path.is_file():
        from core.compute.memory import check_fits
        from core.sources.datasets import max_bytes

        size = path.stat().st_size
        if size > max_bytes():
            return EngineChoice("duckdb", f"{path.name} is {size / 1e6:.0f} MB, above the in-process limit "
                                          f"({max_bytes() / 1e6:.0f} MB, WORKBENCH_MAX_UPLOAD_MB)")
        try:
            check_fits(Location(text))
        except InvalidInputError:
            return EngineChoice("duckdb", f"{path.name} would not fit in memory")
        return EngineChoice("memory", f"{path.name} fits in memory")
    if "://" not in text:  # a local file that is not there: the in-process reader says so
        return EngineChoice("memory", f"{text} is a file name")
    return EngineChoice("duckdb", f"{text} is a URL DuckDB may read")


def run_drift(
    reference: str,
    current: str | None = None,
    *,
    engine: str = AUTO,
    timestamp: str | None = None,
    split: datetime | None = None,
    options: DriftOptions | None = None,
    engine_options: dict[str, Any] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[DriftReport, EngineChoice]:
    """The drift report of two locations, or of one location cut at ``split`` on ``timestamp``.

    Returns:
        The report (its ``engine`` says what ran, for the sketch engines) and the engine choice.

    Raises:
        InvalidInputError, NotFoundError, SourceUnavailableError: see :mod:`core.compute.protocol`.
    """
    options = options or DriftOptions()
    if current is None:
        if not (timestamp and split):
            raise InvalidInputError(
                "give two locations (REFERENCE CURRENT), or one with --timestamp COL and --split ISO_TIME")
        ref_loc = Location(reference, timestamp, split, "before")
        cur_loc = Location(reference, timestamp, split, "after")
        options = DriftOptions(**{**options.__dict__, "exclude": tuple(dict.fromkeys((*options.exclude, timestamp)))})
    else:
        ref_loc, cur_loc = Location(reference), Location(current)
    if engine == AUTO:
        first, second = choose_engine(reference), (choose_engine(current) if current else None)
        order = ["memory", "duckdb", "spark"]
        choice = first if second is None or order.index(first.name) >= order.index(second.name) else second
    else:
        choice = EngineChoice(engine, "asked for")
    engine_options = dict(engine_options or {})
    if choice.name == "spark" and not (engine_options.get("remote") or engine_options.get("master")):
        engine_options.update(_spark_address(reference, current))
    eng = open_engine(choice.name, **engine_options)
    try:
        report = eng.compare(ref_loc, cur_loc, options, progress=progress)
    finally:
        eng.close()
    if report.engine is None:
        from dataclasses import replace

        report = replace(report, engine={**eng.describe(), "exact": not report.sampled})
    return report, choice


def _spark_address(reference: str, current: str | None) -> dict[str, str]:
    """The Spark a location names (``sc://…`` → ``remote``, ``spark://…`` → ``master``), or nothing."""
    from core.compute.spark_engine import split_location

    urls = list(dict.fromkeys(u for u in (split_location(reference)[0],
                                          split_location(current)[0] if current else None) if u))
    if len(urls) > 1:
        raise InvalidInputError(f"the two locations name two Sparks ({urls[0]} and {urls[1]}); "
                                "compare two locations on one Spark")
    if not urls:
        return {}
    return {"remote": urls[0]} if urls[0].lower().startswith("sc://") else {"master": urls[0]}


def _memory(**options: Any) -> Engine:
    from core.compute.memory import MemoryEngine

    return MemoryEngine()


def _duckdb(**options: Any) -> Engine:
    from core.compute.duckdb_engine import DuckDBEngine

    return DuckDBEngine(**{k: v for k, v in options.items() if k in ("memory_limit", "temp_directory", "threads", "timeout")})


def _spark(**options: Any) -> Engine:
    from core.compute.spark_engine import SparkEngine

    return SparkEngine(**{k: v for k, v in options.items() if k in ("master", "remote", "timeout")})


register_engine("memory", _memory, "in this process, exact (the default for files that fit in memory)")
register_engine("duckdb", _duckdb, "DuckDB over files and folders, out of core, with error bounds")
register_engine("spark", _spark, "Spark (local[2], a master URL or Spark Connect), with error bounds")
