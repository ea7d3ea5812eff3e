"""The Spark engine: the drift report over a Spark table or path, computed where the data lives.

Spark runs the same two passes as DuckDB (exact column statistics, then exact counts on the shared
grid with ``Bucketizer``, one grouped count for all columns) and returns a sample of about 200,000
rows that places the grid; only those summaries reach this process.

Which Spark (first that applies):

* a location ``sc://host:15002/TABLE``: Spark Connect at that address (``pip install 'pyspark[connect]'``);
* a location ``spark://host:7077/TABLE``: a standalone master at that URL;
* ``SPARK_REMOTE`` (Spark Connect URL) or ``SPARK_MASTER`` (``spark://…``, ``yarn``, ``k8s://…``), from the
  environment or ``[spark]`` in ``.streamlit/secrets.toml``;
* else ``local[2]`` in this process (Java 17 or newer needed: ``apt-get install openjdk-17-jre-headless``).

A location after the address (or a ``spark:`` prefix) is a catalog table (``db.table``) or a path
(``/data/x.parquet``, ``s3a://bucket/x/``, a folder of Parquet/CSV/JSONL files, a Delta folder).
pyspark is imported only when this engine is used (``requirements-spark.txt``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import warnings
from datetime import timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from core.analysis import schema as sch
from core.compute.base import SketchEngine, kind_of
from core.compute.grid import SKETCH_SAMPLE, Histogram, sample_quantiles
from core.compute.protocol import (
    ColumnStats, EngineTimeoutError, EngineUnavailableError, Location, TableNotFoundError,
)
from core.config import settings
from core.errors import InvalidInputError

DEFAULT_MASTER = "local[2]"
DEFAULT_TIMEOUT_S = 3600.0
_URL = re.compile(r"^(?P<url>(?:sc|spark)://[^/]+)(?:/(?P<rest>.*))?$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
JAVA_HINT = ("Spark needs Java 17 or newer and none was found: install it (Debian/Ubuntu: "
             "apt-get install openjdk-17-jre-headless) or set JAVA_HOME")


def split_location(spec: str) -> tuple[str | None, str]:
    """(Spark address or None, table name or path) of a Spark location."""
    m = _URL.match(spec)
    if m:
        return m.group("url"), m.group("rest") or ""
    if spec.lower().startswith("spark:"):
        return None, spec[len("spark:"):]
    return None, spec


def looks_like_table(text: str) -> bool:
    """``name``, ``db.name`` or ``catalog.db.name`` that is not an existing path and has no file suffix."""
    return bool(_TABLE.match(text)) and not Path(text).exists() and Path(text).suffix.lower() not in (
        ".parquet", ".csv", ".jsonl", ".ndjson", ".json")


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool((home and Path(home, "bin", "java").exists()) or shutil.which("java"))


@contextlib.contextmanager
def _without_spark_remote() -> Iterator[None]:
    """Start the classic session the engine was asked for (a master given by the caller) even when the
    environment also names ``SPARK_REMOTE``, which pyspark's builder would otherwise follow instead."""
    saved = os.environ.pop("SPARK_REMOTE", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["SPARK_REMOTE"] = saved


def shown_address(remote: str) -> str:
    """A Spark Connect address fit to show: its ``;token=…``/``;user_id=…`` parameters left out."""
    return remote.split(";", 1)[0] + (";…" if ";" in remote else "")


def _check_reachable(remote: str, timeout: float = 5.0) -> None:
    """Refuse at once when nothing listens at a Spark Connect address (``sc://host[:port][/;params]``)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(remote.split(";", 1)[0])
        host, port = parts.hostname or "", parts.port or 15002
    except ValueError:
        raise EngineUnavailableError(f"{shown_address(remote)} is not a Spark Connect address; write sc://host:15002") from None
    if not host:
        raise EngineUnavailableError(f"{shown_address(remote)} names no host; write sc://host:15002")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EngineUnavailableError(
            f"Spark Connect at {shown_address(remote)} cannot be reached ({reason}); check SPARK_REMOTE or the address and "
            "that the Connect server is running") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class SparkWindow:
    """One side: a Spark DataFrame over a table or path, optionally cut by time."""

    def __init__(self, engine: SparkEngine, location: Location, target: str):
        from pyspark.sql import functions as F

        self.engine = engine
        self.location = location
        self.label = location.label
        self.F = F
        df = engine.guard(lambda: self._open(target))
        if location.split is not None and location.side != "all":
            ts = location.timestamp or ""
            if ts not in engine.guard(lambda: df.columns):
                raise InvalidInputError(f"timestamp column '{ts}' is not in {target}; columns: "
                                        f"{', '.join(df.columns[:12])}")
            at = F.lit(location.split.astimezone(timezone.utc).replace(tzinfo=None)).cast("timestamp")
            col = F.col(f"`{ts}`").cast("timestamp")
            df = df.where(col < at if location.side == "before" else col >= at)
        self.df = df
        self._types = dict(engine.guard(lambda: df.dtypes))
        self._n: int | None = None

    def _open(self, target: str) -> Any:
        spark = self.engine.spark
        path = Path(target)
        if looks_like_table(target):
            if not spark.catalog.tableExists(target):
                raise TableNotFoundError(
                    f"table '{target}' does not exist in the Spark catalog ({self.engine.where}); "
                    "check the name (db.table) or give a path")
            return spark.table(target)
        if not self.engine.local:
            # a cluster reads its own file system: nothing here can be checked, Spark names a missing path
            suffix = path.suffix.lower()
            if suffix == ".csv":
                return spark.read.option("header", True).option("inferSchema", True).csv(target)
            if suffix in (".jsonl", ".ndjson", ".json"):
                return spark.read.json(target)
            return spark.read.parquet(target)
        if "://" not in target and not path.exists():
            raise TableNotFoundError(f"{target}: no such file, folder or Spark table; check the path or the table name")
        if path.is_dir() and (path / "_delta_log").is_dir():
            from core.compute.duckdb_engine import _delta_files

            return spark.read.parquet(*_delta_files(path))
        suffix = path.suffix.lower()
        if path.is_dir():
            found = next((s for s in (".parquet", ".csv", ".jsonl", ".ndjson")
                          if any(path.rglob(f"*{s}"))), None)
            if found is None:
                raise TableNotFoundError(f"{target}: the folder holds no .parquet, .csv or .jsonl file; check the path")
            suffix = found
        if suffix == ".csv":
            return spark.read.option("header", True).option("inferSchema", True).csv(target)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return spark.read.json(target)
        return spark.read.parquet(target)

    def columns(self) -> dict[str, tuple[str, str]]:
        return {c: kind_of(t) for c, t in self._types.items()}

    def _value(self, col: str, kind: str) -> Any:
        c = self.F.col(f"`{col}`")
        if kind == sch.DATETIME:
            return c.cast("timestamp").cast("double") * 1e9
        return c.cast("double")

    def _text(self, col: str) -> Any:
        F = self.F
        c = F.col(f"`{col}`")
        if kind_of(self._types[col])[1] == "bool":
            return F.when(c, F.lit("True")).otherwise(F.lit("False"))
        return c.cast("string")

    def _finite(self, v: Any) -> Any:
        F = self.F
        return F.when(~F.isnan(v) & (F.abs(v) != float("inf")), v)

    def stats(self, kinds: dict[str, str], probabilities: np.ndarray, top: int) -> tuple[int, dict[str, ColumnStats]]:
        F = self.F
        aggs, layout = [F.count(F.lit(1))], []
        for col, kind in kinds.items():
            if kind in (sch.NUMERIC, sch.DATETIME):
                v = self._value(col, kind)
                fv = self._finite(v)
                aggs += [F.count(v) - F.sum(F.when(F.isnan(v), 1).otherwise(0)),
                         F.sum(F.when(F.abs(v) == float("inf"), 1).otherwise(0)),
                         F.min(fv), F.max(fv), F.avg(fv), F.stddev_pop(fv)]
                layout.append((col, kind, 6))
            else:
                aggs += [F.count(F.col(f"`{col}`")), F.approx_count_distinct(self._text(col))]
                layout.append((col, kind, 2))
        row = self.engine.guard(lambda: self.df.agg(*aggs).collect()[0])
        n = int(row[0])
        self._n = n
        numeric = {col: kind for col, kind, width in layout if width == 6}
        sketch = self._sketch(n, numeric)
        out: dict[str, ColumnStats] = {}
        i = 1
        for col, kind, width in layout:
            vals = list(row[i:i + width])
            i += width
            dtype = kind_of(self._types[col])[1]
            if width == 6:
                nonnull, ninf, lo, hi, mean, std = vals
                nonnull, ninf = int(nonnull or 0), int(ninf or 0)
                values = sketch[f"__v{list(numeric).index(col)}"].to_numpy(dtype=float, na_value=np.nan)
                out[col] = ColumnStats(
                    col, kind, dtype, n, n - nonnull, ninf,
                    minimum=None if lo is None else float(lo), maximum=None if hi is None else float(hi),
                    mean=None if mean is None else float(mean), std=None if std is None else float(std),
                    quantiles=sample_quantiles(values, probabilities) if nonnull - ninf > 0 else None,
                    n_unique=int(np.unique(values[np.isfinite(values)]).size))
            else:
                nonnull, distinct = int(vals[0] or 0), int(vals[1] or 0)
                identifier = nonnull >= 50 and distinct > 0.5 * nonnull
                counts = None if identifier or nonnull == 0 else self._top(col, top)
                out[col] = ColumnStats(col, sch.CATEGORICAL if nonnull else sch.EMPTY, dtype, n, n - nonnull,
                                       n_unique=distinct, counts=counts)
        return n, out

    def _sketch(self, n: int, numeric: dict[str, str]) -> pd.DataFrame:
        """About SKETCH_SAMPLE rows: every column, plus each numeric column's value as ``__v<i>``."""
        F = self.F
        cols = [F.col(f"`{c}`") for c in self.df.columns]
        cols += [self._value(c, k).alias(f"__v{i}") for i, (c, k) in enumerate(numeric.items())]
        fraction = 1.2 * SKETCH_SAMPLE / max(n, 1)
        df = self.df if fraction >= 0.5 else self.df.sample(fraction=fraction, seed=17)
        with warnings.catch_warnings():  # pyspark warns about pandas 3 on every conversion
            warnings.simplefilter("ignore", FutureWarning)
            frame = self.engine.guard(lambda: df.select(*cols).toPandas())
        self._sample_frame = frame[[c for c in frame.columns if not str(c).startswith("__v")]]
        return frame

    def _top(self, col: str, top: int) -> dict[str, int]:
        F = self.F
        rows = self.engine.guard(lambda: self.df.where(F.col(f"`{col}`").isNotNull())
                                 .groupBy(self._text(col).alias("v")).count()
                                 .orderBy(F.desc("count"), F.asc("v")).limit(top + 1).collect())
        counts = {str(r["v"]): int(r["count"]) for r in rows[:top]}
        if len(rows) > top:
            total = self.engine.guard(lambda: self.df.where(F.col(f"`{col}`").isNotNull()).count())
            counts["(other)"] = int(total) - sum(counts.values())
        return counts

    def histograms(self, edges: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]]) -> dict[str, Histogram]:
        from pyspark.ml.feature import Bucketizer

        F = self.F
        cols = list(edges)
        if not cols:
            return {}
        kinds = self.columns()
        vals = self.df.select(*[F.coalesce(self._finite(self._value(c, kinds[c][0])), F.lit(float("nan"))).alias(f"v{i}")
                                for i, c in enumerate(cols)])
        splits = [[-float("inf")] + [float(x) for x in edges[c]] + [float("inf")] for c in cols]
        bucketizer = Bucketizer(splitsArray=splits, inputCols=[f"v{i}" for i in range(len(cols))],
                                outputCols=[f"b{i}" for i in range(len(cols))], handleInvalid="keep")
        buckets = bucketizer.transform(vals)
        long = buckets.select(F.explode(F.array(*[F.struct(F.lit(i).alias("c"), F.col(f"b{i}").cast("int").alias("b"))
                                                  for i in range(len(cols))])).alias("x"))
        rows = self.engine.guard(lambda: long.groupBy("x.c", "x.b").count().collect())
        out = {}
        counts = {i: np.zeros(edges[c].size + 2, dtype=np.int64) for i, c in enumerate(cols)}
        for r in rows:
            counts[int(r["c"])][int(r["b"])] += int(r["count"])
        for i, c in enumerate(cols):
            e = edges[c]
            cnt = counts[i]
            finite = cnt[:e.size + 1]  # buckets 0..m; bucket m+1 holds NaN (nulls and ±inf)
            cum = np.cumsum(finite)[:e.size]  # cum[j] = values < e[j]
            n = int(finite.sum())
            below = above = 0
            if c in ranges:
                lo, hi = ranges[c]
                jlo = int(np.searchsorted(e, lo))
                below = int(cum[jlo]) if jlo < e.size and e[jlo] == lo else 0
                nxt = np.nextafter(hi, np.inf)
                jhi = int(np.searchsorted(e, nxt))
                above = n - int(cum[jhi]) if jhi < e.size and e[jhi] == nxt else 0
            out[c] = Histogram(e, cum, n, "left", below, above)
        return out

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        frame = getattr(self, "_sample_frame", None)
        if frame is None:
            total = self._n if self._n is not None else self.engine.guard(lambda: self.df.count())
            fraction = min(1.0, 1.5 * n / max(total, 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                frame = self.engine.guard(lambda: self.df.sample(fraction=fraction, seed=seed).limit(n).toPandas())
        if len(frame) > n:
            rng = np.random.default_rng(seed)
            frame = frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))].reset_index(drop=True)
        return frame


class SparkEngine(SketchEngine):
    """Drift summaries computed by Spark: local[2] here, a cluster by master URL or Spark Connect."""

    name = "spark"

    def __init__(self, *, master: str | None = None, remote: str | None = None, timeout: float | None = None,
                 app_name: str = "ml-incident-workbench"):
        conf = settings().section("spark")
        self.remote = remote or (None if master else conf.text("remote"))
        self.master = master or (None if self.remote else conf.text("master")) or (None if self.remote else DEFAULT_MASTER)
        self.timeout = timeout if timeout is not None else conf.number("timeout", DEFAULT_TIMEOUT_S, message="SPARK_TIMEOUT must be a number of seconds, not '{raw}'")
        self.where = f"Spark Connect {shown_address(self.remote)}" if self.remote else f"master {self.master}"
        #: whether Spark reads this machine's files (``local[…]``): only then are paths checked here
        self.local = not self.remote and str(self.master or "").lower().startswith("local")
        self._stopped = False
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise EngineUnavailableError(
                "the Spark engine needs pyspark: pip install -r requirements-spark.txt") from exc
        builder = SparkSession.builder.appName(app_name).config("spark.sql.session.timeZone", "UTC")
        if self.remote:
            try:
                import grpc  # noqa: F401  (Spark Connect's transport)
            except ImportError as exc:
                raise EngineUnavailableError(
                    f"Spark Connect ({shown_address(self.remote)}) needs pyspark's connect extra: pip install 'pyspark[connect]'") from exc
            _check_reachable(self.remote)  # the Connect client retries an absent server for minutes
            from pyspark import SparkContext

            if SparkContext._active_spark_context is not None:  # pyspark: one kind of session per process
                raise EngineUnavailableError(
                    f"this process already runs a local Spark session, and pyspark cannot open Spark Connect "
                    f"({shown_address(self.remote)}) beside it: restart the app, or run the report from the command line "
                    "(python -m core drift …)")
            builder = builder.remote(self.remote)
        else:
            if os.environ.get("SPARK_CONNECT_MODE_ENABLED"):  # set by pyspark once a Connect session was made
                raise EngineUnavailableError(
                    f"this process has used Spark Connect, and pyspark cannot start a local session "
                    f"({self.where}) after it: restart the app, or run the report from the command line "
                    "(python -m core drift …)")
            if not _java_available():
                raise EngineUnavailableError(JAVA_HINT)
            builder = (builder.master(self.master).config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.shuffle.partitions", "4")
                       .config("spark.driver.memory", conf.text("driver_memory") or "2g"))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                if self.remote:
                    self.spark = builder.create()  # a session of its own on that server, stopped by close()
                else:
                    with _without_spark_remote():
                        self.spark = builder.getOrCreate()
        except Exception as exc:  # py4j and pyspark raise several unrelated types when the JVM cannot start
            raise EngineUnavailableError(
                f"the Spark session ({self.where}) could not start: {_first_line(exc)}; check the address, "
                "that Java 17+ is installed (apt-get install openjdk-17-jre-headless) and JAVA_HOME") from exc
        if not self.remote:
            self.spark.sparkContext.setLogLevel("ERROR")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "master": self.master,
                "remote": shown_address(self.remote) if self.remote else None, "version": self.spark.version}

    def window(self, location: Location) -> SparkWindow:
        url, target = split_location(location.spec)
        if url and url != (self.remote or self.master):
            raise InvalidInputError(
                f"{location.spec} names another Spark ({url}) than the engine's ({self.where}); "
                "compare two locations on one Spark")
        if not target:
            raise InvalidInputError(f"{location.spec} names no table or path after the Spark address; "
                                    "write e.g. sc://host:15002/db.table")
        return SparkWindow(self, location, target)

    def guard(self, fn: Any) -> Any:
        """Run one Spark action, cancelled after the engine's timeout; Spark's errors become ours."""
        from pyspark.errors import AnalysisException, PySparkException

        cancelled = threading.Event()

        def cancel() -> None:
            cancelled.set()
            try:
                if self.remote:
                    self.spark.interruptAll()
                else:
                    self.spark.sparkContext.cancelAllJobs()
            except Exception:  # noqa: BLE001 - best effort: the session may be going away
                pass

        timer = threading.Timer(self.timeout, cancel) if self.timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            return fn()
        except (TableNotFoundError, InvalidInputError):
            raise
        except AnalysisException as exc:
            message = _first_line(exc)
            if "PATH_NOT_FOUND" in message or "TABLE_OR_VIEW_NOT_FOUND" in message:
                raise TableNotFoundError(f"Spark cannot find it: {message}; check the table name or path") from exc
            raise InvalidInputError(f"Spark refused the query: {message}; check the columns and the data") from exc
        except (PySparkException, Exception) as exc:  # py4j errors carry the JVM's exception as text
            if cancelled.is_set():
                raise EngineTimeoutError(
                    f"Spark did not finish within {self.timeout:g} s ({self.where}); raise --timeout, or "
                    "compare fewer columns or a narrower window") from exc
            raise EngineUnavailableError(f"Spark failed ({self.where}): {_first_line(exc)}") from exc
        finally:
            if timer:
                timer.cancel()

    def close(self) -> None:
        """A local session is shared per process (Spark allows one local context): it stays up for the next
        report. A Spark Connect session is this engine's own and is released on the server."""
        if self.remote and not self._stopped:
            self._stopped = True
            try:
                self.spark.stop()
            except Exception:  # noqa: BLE001 - the server may already be gone; nothing is left to release
                pass
