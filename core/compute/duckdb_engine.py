"""The DuckDB engine: the drift report over Parquet, CSV, JSONL files, folders and Delta tables, out of core.

Nothing but summaries is loaded into Python: DuckDB scans the files twice (exact column statistics,
then exact counts on the shared grid, ``histogram(x, edges)``) and returns a sample of about
200,000 rows that places the grid and feeds the joint check. Its memory is capped (``WORKBENCH_DUCKDB_MEMORY``, default ``4GB``) and what
does not fit spills to ``WORKBENCH_DUCKDB_TEMP`` (default: a folder in the system temp folder).
An engine timeout (``timeout`` seconds) interrupts the running query.

Locations: a file (``.parquet``, ``.csv``, ``.jsonl``/``.ndjson``), a folder of them (read
recursively, ``key=value`` folders as Hive partitions), a glob (``data/*.parquet``) or a Delta
table folder (its current files, listed by ``deltalake``).
"""

from __future__ import annotations

import glob as globlib
import tempfile
import threading
from datetime import timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis import schema as sch
from core.compute.base import SketchEngine, kind_of
from core.compute.grid import SKETCH_SAMPLE, Histogram, sample_quantiles
from core.compute.protocol import (
    ColumnStats, EngineTimeoutError, EngineUnavailableError, Location, SchemaMismatchError, TableNotFoundError,
)
from core.config import settings
from core.errors import InvalidInputError

DEFAULT_MEMORY = "4GB"
DEFAULT_TIMEOUT_S = 3600.0
READERS = {".parquet": "read_parquet", ".csv": "read_csv", ".jsonl": "read_json", ".ndjson": "read_json"}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files_of(spec: str) -> tuple[str, list[str]]:
    """(suffix, files) of a location; raises TableNotFoundError when there is nothing to read."""
    if any(ch in spec for ch in "*?["):
        files = sorted(globlib.glob(spec, recursive=True))
        if not files:
            raise TableNotFoundError(f"{spec}: no file matches; check the pattern")
        return Path(files[0]).suffix.lower(), files
    path = Path(spec)
    if path.is_file():
        return path.suffix.lower(), [str(path)]
    if path.is_dir():
        if (path / "_delta_log").is_dir():
            return ".parquet", _delta_files(path)
        for suffix in (".parquet", ".csv", ".jsonl", ".ndjson"):
            files = sorted(str(p) for p in path.rglob(f"*{suffix}") if not p.name.startswith((".", "_")))
            if files:
                return suffix, files
        raise TableNotFoundError(f"{spec}: the folder holds no .parquet, .csv or .jsonl file; check the path")
    raise TableNotFoundError(
        f"{spec}: no such file, folder or table; give a Parquet/CSV/JSONL file, a folder of them, a Delta "
        "table folder, or a Spark table with --engine spark"
    )


def _delta_files(path: Path) -> list[str]:
    try:
        from deltalake import DeltaTable
    except ImportError as exc:
        raise EngineUnavailableError(
            f"{path} is a Delta table and reading it needs the deltalake package: pip install -r requirements-delta.txt"
        ) from exc
    try:
        return [uri.removeprefix("file://") for uri in DeltaTable(str(path)).file_uris()]
    except Exception as exc:  # deltalake raises its own exception types for a broken log
        raise InvalidInputError(f"{path}: the Delta table cannot be read ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0][:200]}); check its _delta_log") from exc


class DuckDBWindow:
    """One side: a relation over the files, optionally cut by time."""

    def __init__(self, engine: DuckDBEngine, location: Location):
        self.engine = engine
        self.location = location
        self.label = location.label
        suffix, files = _files_of(location.spec)
        if suffix not in READERS:
            raise InvalidInputError(f"{location.spec}: unsupported file type '{suffix}'; use .parquet, .csv or .jsonl")
        self.files = files
        listed = "[" + ", ".join(_literal(f) for f in files) + "]"
        hive = ", hive_partitioning = true" if suffix == ".parquet" and Path(location.spec).is_dir() else ""
        if suffix == ".parquet":
            self._check_parquet_schemas(files)
            source = f"read_parquet({listed}{hive})"
        elif suffix == ".csv":
            source = f"read_csv({listed}, union_by_name = true)"
        else:
            source = f"read_json({listed}, format = 'newline_delimited', union_by_name = true)"
        self.source = source
        self.where = ""
        types = self._describe(f"SELECT * FROM {source}")
        if location.split is not None and location.side != "all":
            ts = location.timestamp or ""
            if ts not in types:
                raise InvalidInputError(f"timestamp column '{ts}' is not in {location.spec}; columns: "
                                        f"{', '.join(list(types)[:12])}")
            at = location.split.astimezone(timezone.utc).isoformat()
            expr = f"CAST({_ident(ts)} AS TIMESTAMPTZ)"
            op = "<" if location.side == "before" else ">="
            self.where = f" WHERE {expr} {op} CAST({_literal(at)} AS TIMESTAMPTZ)"
        self._types = types

    @property
    def relation(self) -> str:
        return f"(SELECT * FROM {self.source}{self.where})"

    def _describe(self, sql: str) -> dict[str, str]:
        rows = self.engine.run(f"DESCRIBE {sql}").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def _check_parquet_schemas(self, files: list[str]) -> None:
        if len(files) < 2:
            return
        listed = "[" + ", ".join(_literal(f) for f in files) + "]"
        rows = self.engine.run(
            f"SELECT file_name, name, type, logical_type FROM parquet_schema({listed}) WHERE num_children IS NULL"
        ).fetchall()
        per_file: dict[str, dict[str, str]] = {}
        for file, name, typ, logical in rows:
            per_file.setdefault(file, {})[name] = f"{typ}/{logical}"
        first_file = files[0] if files[0] in per_file else next(iter(per_file))
        first = per_file[first_file]
        for file, cols in per_file.items():
            if cols == first:
                continue
            missing = sorted(set(first) - set(cols))
            extra = sorted(set(cols) - set(first))
            changed = sorted(c for c in set(first) & set(cols) if first[c] != cols[c])
            what = "; ".join(filter(None, [
                f"missing {', '.join(missing[:5])}" if missing else "",
                f"extra {', '.join(extra[:5])}" if extra else "",
                ", ".join(f"'{c}' is {cols[c].split('/')[0]} there and {first[c].split('/')[0]} in {Path(first_file).name}"
                          for c in changed[:3]),
            ]))
            raise SchemaMismatchError(
                f"{self.location.spec}: the files of this window disagree on their schema ({Path(file).name}: {what}); "
                "compare windows whose files share one schema, or point at one version of the table"
            )

    def columns(self) -> dict[str, tuple[str, str]]:
        return {c: kind_of(t) for c, t in self._types.items()}

    def _value(self, col: str, kind: str) -> str:
        c = _ident(col)
        if kind == sch.DATETIME:
            return f"CAST(epoch_ns(CAST({c} AS TIMESTAMP)) AS DOUBLE)"
        return f"CAST({c} AS DOUBLE)"

    def _text(self, col: str) -> str:
        c = _ident(col)
        if kind_of(self._types[col])[1] == "bool":
            return f"CASE WHEN {c} THEN 'True' ELSE 'False' END"
        return f"CAST({c} AS VARCHAR)"

    def stats(self, kinds: dict[str, str], probabilities: np.ndarray, top: int) -> tuple[int, dict[str, ColumnStats]]:
        selects, layout = ["count(*)"], []
        for col, kind in kinds.items():
            if kind in (sch.NUMERIC, sch.DATETIME):
                v = self._value(col, kind)
                fin = f"FILTER (WHERE isfinite({v}))"
                selects += [f"count({v}) - count_if(isnan({v}))", f"count_if(isinf({v}))", f"min({v}) {fin}",
                            f"max({v}) {fin}", f"avg({v}) {fin}", f"stddev_pop({v}) {fin}"]
                layout.append((col, kind, 6))
            else:
                t = self._text(col)
                selects += [f"count({_ident(col)})", f"approx_count_distinct({t})"]
                layout.append((col, kind, 2))
        row = self.engine.run(f"SELECT {', '.join(selects)} FROM {self.relation}").fetchone()
        n = int(row[0])
        numeric = {col: kind for col, kind, width in layout if width == 6}
        sketch = self._sketch(n, numeric)
        out: dict[str, ColumnStats] = {}
        i = 1
        for col, kind, width in layout:
            vals = row[i:i + width]
            i += width
            dtype = kind_of(self._types[col])[1]
            if width == 6:
                nonnull, ninf, lo, hi, mean, std = vals
                nonnull = int(nonnull or 0)
                values = sketch[f"__v{list(numeric).index(col)}"].to_numpy(dtype=float, na_value=np.nan)
                qs = sample_quantiles(values, probabilities) if nonnull - int(ninf or 0) > 0 else None
                out[col] = ColumnStats(
                    col, kind, dtype, n, n - nonnull, int(ninf or 0),
                    minimum=None if lo is None else float(lo), maximum=None if hi is None else float(hi),
                    mean=None if mean is None else float(mean), std=None if std is None else float(std),
                    quantiles=qs, n_unique=int(np.unique(values[np.isfinite(values)]).size))
            else:
                nonnull, distinct = int(vals[0] or 0), int(vals[1] or 0)
                identifier = nonnull >= 50 and distinct > 0.5 * nonnull
                counts = None if identifier or nonnull == 0 else self._top(col, top)
                out[col] = ColumnStats(col, sch.CATEGORICAL if nonnull else sch.EMPTY, dtype, n, n - nonnull,
                                       n_unique=distinct, counts=counts)
        return n, out

    def _sketch(self, n: int, numeric: dict[str, str]) -> pd.DataFrame:
        """About SKETCH_SAMPLE rows: every column, plus each numeric column's value as ``__v<i>``."""
        extra = ", ".join(f"{self._value(c, k)} AS __v{i}" for i, (c, k) in enumerate(numeric.items()))
        pct = 100.0 * 1.2 * SKETCH_SAMPLE / max(n, 1)
        sampling = "" if pct >= 50 else f" USING SAMPLE {pct:.6f}% (system, 17)"
        frame = self.engine.run(f"SELECT *{', ' + extra if extra else ''} FROM {self.relation}{sampling}").df()
        self._sample_frame = frame[[c for c in frame.columns if not str(c).startswith("__v")]]
        return frame

    def _top(self, col: str, top: int) -> dict[str, int]:
        t = self._text(col)
        rows = self.engine.run(
            f"SELECT {t} AS v, count(*) AS c FROM {self.relation} WHERE {_ident(col)} IS NOT NULL "
            f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(top) + 1}").fetchall()
        counts = {str(v): int(c) for v, c in rows[:top]}
        if len(rows) > top:  # the rest, pooled (the report pools past 200 categories anyway)
            total = self.engine.run(f"SELECT count({_ident(col)}) FROM {self.relation}").fetchone()[0]
            counts["(other)"] = int(total) - sum(counts.values())
        return counts

    def histograms(self, edges: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]]) -> dict[str, Histogram]:
        selects, params, layout = [], [], []
        for col, e in edges.items():
            kind = self.columns()[col][0]
            v = self._value(col, kind)
            params.append([float(x) for x in e])
            hist = f"histogram({v}, ${len(params)}::DOUBLE[]) FILTER (WHERE isfinite({v}))"
            selects.append(f"map_keys({hist})")
            selects.append(f"map_values({hist})")
            selects.append(f"count_if(isfinite({v}))")
            if col in ranges:
                lo, hi = ranges[col]
                selects.append(f"count_if({v} < {float(lo)!r})")
                selects.append(f"count_if(isfinite({v}) AND {v} > {float(hi)!r})")
            else:
                selects += ["0", "0"]
            layout.append(col)
        row = self.engine.run(f"SELECT {', '.join(selects)} FROM {self.relation}", params).fetchone()
        out = {}
        for k, col in enumerate(layout):
            hkeys, hvals, n, below, above = row[5 * k: 5 * k + 5]
            e = edges[col]
            counts = np.zeros(e.size, dtype=np.int64)
            if hkeys:
                keys = np.asarray(hkeys, dtype=float)
                vals = np.asarray(hvals, dtype=np.int64)
                idx = np.clip(np.searchsorted(e, keys), 0, e.size - 1)
                np.add.at(counts, idx, vals)
            out[col] = Histogram(e, np.cumsum(counts), int(n or 0), "right", int(below or 0), int(above or 0))
        return out

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        frame = getattr(self, "_sample_frame", None)
        if frame is None:
            frame = self.engine.run(f"SELECT * FROM {self.relation} USING SAMPLE reservoir({int(n)} ROWS) "
                                    f"REPEATABLE ({int(seed)})").df()
        if len(frame) > n:
            rng = np.random.default_rng(seed)
            frame = frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))].reset_index(drop=True)
        return frame


class DuckDBEngine(SketchEngine):
    """Drift summaries computed by an embedded DuckDB with capped memory and spill to disk."""

    name = "duckdb"

    def __init__(self, *, memory_limit: str | None = None, temp_directory: str | None = None,
                 threads: int | None = None, timeout: float | None = None):
        import duckdb

        self._duckdb = duckdb
        conf = settings().section("duckdb", "WORKBENCH_DUCKDB_")
        self.memory_limit = memory_limit or conf.text("memory") or DEFAULT_MEMORY
        self.temp_directory = temp_directory or conf.text("temp") or str(Path(tempfile.gettempdir()) / "workbench-duckdb")
        self.timeout = timeout if timeout is not None else conf.number("timeout", DEFAULT_TIMEOUT_S, message="WORKBENCH_DUCKDB_TIMEOUT must be a number of seconds, not '{raw}'")
        Path(self.temp_directory).mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(":memory:")
        try:
            self.con.execute(f"SET memory_limit = {_literal(self.memory_limit)}")
        except duckdb.Error as exc:
            raise InvalidInputError(f"WORKBENCH_DUCKDB_MEMORY={self.memory_limit!r} is not a memory size "
                                    "DuckDB accepts; write it like 4GB or 512MB") from exc
        self.con.execute(f"SET temp_directory = {_literal(self.temp_directory)}")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "memory_limit": self.memory_limit, "temp_directory": self.temp_directory,
                "threads": int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])}

    def window(self, location: Location) -> DuckDBWindow:
        return DuckDBWindow(self, location)

    def run(self, sql: str, params: list[Any] | None = None) -> Any:
        """Run one statement, interrupted after the engine's timeout."""
        duckdb = self._duckdb
        timer = threading.Timer(self.timeout, self.con.interrupt) if self.timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            return self.con.execute(sql, params) if params else self.con.execute(sql)
        except duckdb.InterruptException as exc:
            raise EngineTimeoutError(
                f"DuckDB did not finish within {self.timeout:g} s; raise --timeout, or compare fewer columns or a "
                "narrower window") from exc
        except duckdb.OutOfMemoryException as exc:
            raise EngineUnavailableError(
                f"DuckDB ran out of its {self.memory_limit} memory limit even spilling to {self.temp_directory}; "
                "raise WORKBENCH_DUCKDB_MEMORY or free disk space there") from exc
        except duckdb.IOException as exc:
            raise InvalidInputError(f"DuckDB cannot read the data ({str(exc).splitlines()[0][:300]}); "
                                    "check the files and their format") from exc
        except duckdb.Error as exc:
            raise InvalidInputError(f"DuckDB refused the query ({type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0][:300]}); check the files and the column names") from exc
        finally:
            if timer:
                timer.cancel()

    def close(self) -> None:
        self.con.close()
