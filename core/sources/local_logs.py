"""``LocalLogSource``: JSONL, CSV and plain-text log files queried through DuckDB.

The files are loaded once into an in-memory DuckDB table sorted by time, with
nested JSON objects flattened to dotted column names (``{"log": {"level": ..}}``
and ``{"log.level": ..}`` both become ``log.level``). Queries are compiled by
:mod:`core.logquery` to parameterised SQL. Problems met while loading (lines that
are not JSON, invalid UTF-8, lines without a timestamp, times without a zone) are
counted and reported in ``info.warnings``; they never stop the load.
"""

from __future__ import annotations

import codecs
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import duckdb

from core.config import DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_MEMORY_MB, check_log_memory_mb, settings
from core.errors import InvalidInputError, NotFoundError
from core.logquery import FieldKind, compile_query
from core.models import TimeWindow
from core.sources.logs import (
    LEVEL_FIELD, MESSAGE_FIELD, NO_VALUE, SERVICE_FIELD, TIME_FIELD, FieldFacet, Histogram, HistogramBucket,
    LogHit, SearchPage, SourceInfo, check_page_size, decode_cursor, encode_cursor, pick_interval,
)

if TYPE_CHECKING:
    import pandas as pd

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
# Default plain-text line: "<ISO time> <LEVEL> [service] message" (level and service optional).
DEFAULT_LINE_PATTERN = (
    r"^(?P<timestamp>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+"
    r"(?:(?P<log__level>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL)\s+)?"
    r"(?:\[(?P<service__name>[^\]]*)\]\s*)?(?P<message>.*)$"
)
DEFAULT_MAX_BYTES = DEFAULT_LOG_MAX_BYTES
# The longest line (one log record) read, in bytes: longer lines are skipped and reported as FILE:LINE.
# Bundle validation uses the same limit (core.bundle), so what validates is what the log search reads.
MAX_LINE_BYTES = 16 * 1024 * 1024
_SCAN_CHUNK = 1 << 24
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = DEFAULT_LOG_MEMORY_MB
TIME_CANDIDATES = ("@timestamp", "timestamp", "time", "ts", "datetime", "date")
_TEXT_FIELDS = ("message", "error.message")
_ZONE_RX = r"(Z|z|[+-]\d\d:?\d\d)$"
_NO_TIME_KEY = 2**63 - 1  # sorts records without a time after every time (NULLS LAST)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class LongLine:
    """A line longer than the limit: its 1-based number, byte offset and length (without the newline)."""

    line: int
    start: int
    length: int


def scan_lines(path: Path | str, limit: int = MAX_LINE_BYTES) -> tuple[list[LongLine], bool]:
    """The lines of ``path`` longer than ``limit`` bytes, and whether the whole file is valid UTF-8.

    Reads the file once in 16 MiB chunks (memory stays at one chunk, whatever the line lengths).
    """
    long: list[LongLine] = []
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    line_start, newlines, pos = 0, 0, 0  # offset where the current line starts; newlines seen before it
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            # ASCII needs no decoding (a byte check is ~50x faster), unless a character was cut at the last chunk
            if utf8 and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            first = chunk.find(b"\n")
            if first >= 0:
                if pos + first - line_start > limit:
                    long.append(LongLine(newlines + 1, line_start, pos + first - line_start))
                count = chunk.count(b"\n")
                last = chunk.rfind(b"\n")
                if count > 1 and limit < _SCAN_CHUNK:  # inner lines can only be too long for a small limit
                    at = first
                    for inner in range(count - 1):  # the line after the (inner+1)-th newline of the chunk
                        nxt = chunk.find(b"\n", at + 1)
                        if nxt - at - 1 > limit:
                            long.append(LongLine(newlines + inner + 2, pos + at + 1, nxt - at - 1))
                        at = nxt
                newlines += count
                line_start = pos + last + 1
            pos += len(chunk)
        if pos - line_start > limit:
            long.append(LongLine(newlines + 1, line_start, pos - line_start))
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return long, utf8


def _kind_of(type_name: str) -> FieldKind:
    t = type_name.upper()
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                     "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")):
        return FieldKind.NUMBER
    if t.startswith("BOOLEAN"):
        return FieldKind.BOOLEAN
    if t.startswith(("TIMESTAMP", "DATE")):
        return FieldKind.DATE
    return FieldKind.KEYWORD


def _memory_mb(given: int | None) -> int:
    """DuckDB's memory limit in MB: ``given``, else ``WORKBENCH_LOG_MEMORY_MB``, else 1024."""
    if given is not None:
        return check_log_memory_mb(given)
    return settings().limits.log_memory_mb


def _copy_range(src: Any, dst: Any, start: int, end: int | None) -> None:
    src.seek(start)
    left = None if end is None else end - start
    while left is None or left > 0:
        chunk = src.read(_SCAN_CHUNK if left is None else min(_SCAN_CHUNK, left))
        if not chunk:
            return
        dst.write(chunk)
        if left is not None:
            left -= len(chunk)


class LocalLogSource:
    """Log files (JSONL, CSV, plain text) loaded into DuckDB and queried with Lucene syntax.

    Args:
        paths: one or more log files.
        time_field: the field holding each record's time (default ``@timestamp``;
            ``timestamp``/``time``/``ts`` are tried when it is absent).
        line_pattern: a regular expression (RE2 syntax) with named groups for plain-text
            lines; ``timestamp`` and ``message`` are expected, ``__`` in a group name becomes
            a dot (``log__level`` -> ``log.level``).
        max_bytes: refuse files larger than this in total (default 1.5 GB, or the
            ``WORKBENCH_LOG_MAX_BYTES`` environment variable).
        timeout_s: a call (search, histogram, ...) running longer is stopped with a clear error.
        memory_mb: DuckDB's memory for this source (default 1024, or ``WORKBENCH_LOG_MEMORY_MB``);
            beyond it, data and sorts spill to a temporary folder, so a large file costs disk, not RAM.
        name: a display name.

    Raises:
        NotFoundError: a file does not exist.
        InvalidInputError: the files are too large, or no file could be read.
    """

    def __init__(self, paths: Path | str | Iterable[Path | str], *, time_field: str = TIME_FIELD,
                 line_pattern: str = DEFAULT_LINE_PATTERN, max_bytes: int | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int | None = None, name: str | None = None):
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self._paths = [Path(p) for p in paths]
        if not self._paths:
            raise InvalidInputError("no log files were given; pass at least one .jsonl, .csv or .log file")
        for p in self._paths:
            if not p.is_file():
                raise NotFoundError(f"log file {p} not found; check the path")
        limit = max_bytes if max_bytes is not None else settings().limits.log_max_bytes
        size = sum(p.stat().st_size for p in self._paths)
        if size > limit:
            raise InvalidInputError(
                f"the log files total {size / 1e9:.1f} GB, more than the {limit / 1e9:.1f} GB a local source loads; "
                "narrow them to the incident's time range (e.g. split by hour), index them into Elasticsearch, "
                "or raise WORKBENCH_LOG_MAX_BYTES if the machine has the memory"
            )
        self._timeout_s = timeout_s
        self._line_pattern = line_pattern
        self._warnings: list[str] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="workbench-logs-")
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone='UTC'")
        self._con.execute(f"SET temp_directory='{self._tmp.name.replace(chr(39), chr(39) * 2)}'")
        self._con.execute(f"SET memory_limit='{_memory_mb(memory_mb)}MB'")
        self._lock = threading.Lock()
        self._time_field = time_field
        self._fields: dict[str, FieldKind] = {}
        self._ascii_fields: frozenset[str] = frozenset()
        # a record's id is its 1-based position in time order: DuckDB's rowid + 1, or a __row column (see _load)
        self._row_col, self._row_base = "rowid", 1
        self._load()
        self._info = SourceInfo(
            name=name or ", ".join(p.name for p in self._paths), kind="local", fields=dict(self._fields),
            time_field=self._time_field, records=self._records, span=self._span, warnings=tuple(self._warnings),
        )

    @classmethod
    def from_path(cls, path: Path | str, **kwargs: Any) -> "LocalLogSource":
        """A source for a log file, a directory of log files, or an incident bundle (directory or zip)."""
        p = Path(path)
        if p.is_file() and p.suffix.lower() != ".zip":
            return cls([p], **kwargs)
        if p.is_dir() and not (p / "bundle.json").is_file():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in
                           JSON_SUFFIXES + CSV_SUFFIXES + (".log", ".txt"))
            if not files:
                raise InvalidInputError(f"{p} has no .jsonl, .csv or .log files")
            return cls(files, **kwargs)
        from core.bundle import read_bundle

        bundle = read_bundle(p)
        files = bundle.log_files()
        if not files:
            raise InvalidInputError(f"bundle {bundle.id} has no logs (logs/*.jsonl)")
        kwargs.setdefault("name", f"bundle {bundle.id}")
        return cls(files, **kwargs)

    # ------------------------------------------------------------ loading
    def _readable(self, path: Path) -> Path:
        """``path``, or a copy without lines over :data:`MAX_LINE_BYTES` (reported as FILE:LINE) and with
        invalid UTF-8 bytes replaced by U+FFFD (counted in the warnings)."""
        long, utf8 = scan_lines(path)
        if long:
            path = self._without_long_lines(path, long)
        if utf8:
            return path
        bad = 0
        target = Path(self._tmp.name) / f"{len(os.listdir(self._tmp.name))}-{path.name}"
        with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
            for raw in src:
                try:
                    dst.write(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    bad += 1
                    dst.write(raw.decode("utf-8", errors="replace"))
        self._warnings.append(f"{path.name}: {bad} line(s) had invalid UTF-8 bytes; they are shown with �")
        return target

    def _without_long_lines(self, path: Path, long: list[LongLine]) -> Path:
        """A copy of ``path`` without the ``long`` lines; each is reported as FILE:LINE in the warnings."""
        shown = "; ".join(f"{path.name}:{x.line} ({x.length / 2**20:,.1f} MiB)" for x in long[:5])
        more = f" and {len(long) - 5} more" if len(long) > 5 else ""
        self._warnings.append(
            f"{shown}{more}: longer than the {MAX_LINE_BYTES // 2**20} MiB a log record may have; "
            f"{'this line was' if len(long) == 1 else 'these lines were'} skipped (split or truncate such records)")
        target = Path(self._tmp.name) / f"{len(os.listdir(self._tmp.name))}-{path.name}"
        with path.open("rb") as src, target.open("wb") as dst:
            at = 0
            for x in long:
                _copy_range(src, dst, at, x.start)
                at = x.start + x.length + 1  # the newline goes too
            _copy_range(src, dst, at, None)
        return target

    def _raw_sql(self, path: Path, index: int) -> tuple[str, list[Any]]:
        suffix = path.suffix.lower()
        if suffix in JSON_SUFFIXES:
            sample = -1 if path.stat().st_size < 200_000_000 else 20480
            return (f"SELECT *, {index} AS __file, row_number() OVER () AS __line FROM read_json(?, "
                    f"format='newline_delimited', ignore_errors=true, sample_size={sample}, "
                    f"maximum_object_size={2 * MAX_LINE_BYTES}, union_by_name=true)", [str(path)])
        if suffix in CSV_SUFFIXES:
            return (f"SELECT *, {index} AS __file, row_number() OVER () AS __line FROM read_csv(?, header=true, "
                    f"auto_detect=true, ignore_errors=true, sample_size=-1, max_line_size={2 * MAX_LINE_BYTES})", [str(path)])
        rx = re.compile(self._line_pattern)
        if "message" not in rx.groupindex:
            raise InvalidInputError("the line pattern needs a (?P<message>...) group")
        names = [None] * rx.groups
        for gname, gi in rx.groupindex.items():
            names[gi - 1] = gname
        names = [n or f"_g{i}" for i, n in enumerate(names)]
        keep = [n for n in names if not n.startswith("_g")]
        cols = ", ".join(
            f"NULLIF(m.{_ident(n)}, '') AS {_ident(TIME_FIELD if n == 'timestamp' else n.replace('__', '.'))}"
            for n in keep if n != "message"
        )
        sql = (f"SELECT {cols + ',' if cols else ''} "
               "CASE WHEN regexp_matches(line, ?) THEN m.message ELSE line END AS message, "
               f"{index} AS __file, __line FROM (SELECT line, __line, regexp_extract(line, ?, {names!r}) AS m "
               "FROM (SELECT rtrim(column0, chr(13)) AS line, row_number() OVER () AS __line FROM read_csv(?, "
               "columns={'column0': 'VARCHAR'}, header=false, delim='\x1f', quote='', escape='', "
               f"auto_detect=false, strict_mode=false, null_padding=true, max_line_size={2 * MAX_LINE_BYTES})))")
        return sql, [self._line_pattern, self._line_pattern, str(path)]

    def _flat_columns(self, rel: duckdb.DuckDBPyRelation) -> dict[str, list[tuple[str, str]]]:
        """dotted name -> [(SQL expression, type name)] for every leaf column (structs expanded)."""
        out: dict[str, list[tuple[str, str]]] = {}

        def walk(expr: str, name: str, typ: Any) -> None:
            tid = getattr(typ, "id", "")
            if tid == "struct":
                for child, ctype in typ.children:
                    walk(f"{expr}.{_ident(child)}", f"{name}.{child}", ctype)
                return
            out.setdefault(name, []).append((expr, str(typ)))

        for col, typ in zip(rel.columns, rel.types):
            walk(_ident(col), col, typ)
        return out

    def _load(self) -> None:
        con = self._con
        parts = []
        all_cols: dict[str, list[tuple[str, str]]] = {}
        per_file: list[tuple[str, list[Any], dict[str, list[tuple[str, str]]]]] = []
        for i, path in enumerate(self._paths):
            readable = self._readable(path)
            sql, params = self._raw_sql(readable, i)
            try:
                rel = con.sql(sql, params=params)
                cols = self._flat_columns(rel)
            except duckdb.Error as exc:
                raise InvalidInputError(f"{path.name}: cannot be read ({str(exc).splitlines()[0]})") from None
            per_file.append((sql, params, cols))
            for k, v in cols.items():
                all_cols.setdefault(k, []).extend(v)
        if self._time_field not in all_cols:
            found = next((c for c in TIME_CANDIDATES if c in all_cols), None)
            if found is None:
                raise InvalidInputError(
                    f"no time field in {', '.join(p.name for p in self._paths)}: expected '{self._time_field}' "
                    f"(or one of {', '.join(TIME_CANDIDATES)}); fields found: {', '.join(sorted(all_cols)[:12])}"
                )
            self._time_field = found
        names = [n for n in all_cols if n not in ("__file", "__line")]
        # one SELECT per file with every column (NULL where the file lacks it), then UNION ALL
        types: dict[str, str] = {}
        for n in names:
            ts = {t for _, t in all_cols[n]}
            types[n] = ts.pop() if len(ts) == 1 else "VARCHAR"
        for sql, params, cols in per_file:
            exprs = []
            for n in names:
                have = cols.get(n, [])
                if not have:
                    exprs.append(f"CAST(NULL AS {types[n]}) AS {_ident(n)}")
                    continue
                casted = [e if t == types[n] else f"CAST({e} AS {types[n]})" for e, t in have]
                e = casted[0] if len(casted) == 1 else f"COALESCE({', '.join(casted)})"
                exprs.append(f"{e} AS {_ident(n)}")
            parts.append((f"SELECT {', '.join(exprs)}, __file, __line FROM ({sql})", params))
        union = " UNION ALL ".join(p for p, _ in parts)
        params = [x for _, ps in parts for x in ps]
        tf = self._time_field
        ttype = types[tf].upper()
        if ttype.startswith("TIMESTAMP"):
            ts_expr = f"CAST({_ident(tf)} AS TIMESTAMPTZ)"
            naive_expr = "FALSE"
        elif _kind_of(ttype) == FieldKind.NUMBER:
            # epoch seconds, or milliseconds when the numbers are too large to be seconds
            c = _ident(tf)
            ts_expr = f"CASE WHEN {c} > 1e11 THEN to_timestamp({c} / 1000.0) ELSE to_timestamp({c}) END"
            naive_expr = "FALSE"
        else:
            c = f"trim(CAST({_ident(tf)} AS VARCHAR))"
            ts_expr = f"TRY_CAST(replace({c}, ',', '.') AS TIMESTAMPTZ)"
            naive_expr = f"({c} IS NOT NULL AND NOT regexp_matches({c}, '{_ZONE_RX}'))"
        other = [n for n in names if n != tf]
        select_other = ", ".join(_ident(n) for n in other)
        # all-NULL rows are lines that were not JSON (read_json with ignore_errors yields NULLs)
        empty = " AND ".join(f"{_ident(n)} IS NULL" for n in names) or "FALSE"
        # __order_break: this row does not come after the previous one in (time NULLS LAST, file, line) order;
        # with no such row (log files are usually written in time order) the table is already sorted
        key = f"row(COALESCE(epoch_us(__ts), {_NO_TIME_KEY}), __file, __line)"
        try:
            con.execute(
                f"CREATE TABLE __raw AS SELECT *, COALESCE({key} <= lag({key}) OVER (), FALSE) AS __order_break "
                f"FROM (SELECT {ts_expr} AS __ts, {naive_expr} AS __naive, ({empty}) AS __bad, "
                f"{select_other + ',' if select_other else ''} __file, __line FROM ({union}))", params)
        except duckdb.Error as exc:
            hint = "; raise WORKBENCH_LOG_MEMORY_MB" if "Out of Memory" in str(exc) else ""
            raise InvalidInputError(f"the log files cannot be loaded ({str(exc).splitlines()[0]}){hint}") from None
        # text fields whose values are all ASCII (byte length = character count) get cheaper regexes
        text = [n for n in other if n in _TEXT_FIELDS and _kind_of(types[n]) == FieldKind.KEYWORD]
        ascii_checks = "".join(f", bool_and(strlen({_ident(n)}) = length({_ident(n)}))" for n in text)
        bad, no_ts, naive, total, breaks, *ascii_only = con.execute(
            "SELECT count(*) FILTER (__bad), count(*) FILTER (NOT __bad AND __ts IS NULL), "
            "count(*) FILTER (__naive AND __ts IS NOT NULL), count(*), count(*) FILTER (__order_break)"
            f"{ascii_checks} FROM __raw").fetchone()
        self._ascii_fields = frozenset(n for n, yes in zip(text, ascii_only) if yes is not False)
        if bad:
            self._warnings.append(f"{bad} line(s) are not valid records (malformed JSON or CSV) and were skipped")
        if no_ts:
            self._warnings.append(
                f"{no_ts} record(s) have no readable '{tf}' time and are left out of time-range queries")
        if naive:
            self._warnings.append(f"{naive} record(s) have times without a zone; they were read as UTC")
        if total - bad == 0:
            raise InvalidInputError(
                f"no records could be read from {', '.join(p.name for p in self._paths)}; "
                "check that the files are JSONL, CSV or text lines")
        try:
            self._order(con, names, other, select_other, sorted_already=breaks == 0 and bad == 0)
        except duckdb.Error as exc:
            hint = "; raise WORKBENCH_LOG_MEMORY_MB" if "Out of Memory" in str(exc) else ""
            raise InvalidInputError(f"the log files cannot be loaded ({str(exc).splitlines()[0]}){hint}") from None
        self._fields = {TIME_FIELD: FieldKind.DATE}
        for n in other:
            kind = _kind_of(types[n])
            if n in _TEXT_FIELDS and kind == FieldKind.KEYWORD:
                kind = FieldKind.TEXT
            self._fields[n] = kind
        if tf != TIME_FIELD:
            self._fields.pop(tf, None)
        self._columns = [TIME_FIELD] + other
        self._records, lo, hi = con.execute(
            f"SELECT count(*), min({_ident(TIME_FIELD)}), max({_ident(TIME_FIELD)}) FROM logs").fetchone()
        from datetime import timedelta

        self._span = TimeWindow(lo, hi + timedelta(milliseconds=1)) if lo is not None else None

    def _order(self, con: duckdb.DuckDBPyConnection, names: list[str], other: list[str], select_other: str, *,
               sorted_already: bool) -> None:
        """Turn ``__raw`` into ``logs``, the good records in time order (see ``_row_col`` for the ids)."""
        if any(n.lower() in ("rowid", "__row") for n in names) or TIME_FIELD in other:
            # a field named like the row number: keep the row number in a column of its own
            con.execute(
                f"CREATE TABLE logs AS SELECT row_number() OVER (ORDER BY __ts NULLS LAST, __file, __line) AS __row, "
                f"__ts AS {_ident(TIME_FIELD)}{', ' + select_other if select_other else ''} FROM __raw "
                "WHERE NOT __bad ORDER BY __row")
            con.execute("DROP TABLE __raw")
            self._row_col, self._row_base = "__row", 0
        elif sorted_already:
            # already in order: the loaded table becomes the log table without a copy; the row number
            # is DuckDB's rowid (position in the table) + 1
            for helper in ("__naive", "__bad", "__file", "__line", "__order_break"):
                con.execute(f"ALTER TABLE __raw DROP COLUMN {helper}")
            con.execute(f"ALTER TABLE __raw RENAME COLUMN __ts TO {_ident(TIME_FIELD)}")
            con.execute("ALTER TABLE __raw RENAME TO logs")
        else:
            # one sort; the table keeps the order it is written in, so rowid + 1 is the row number
            con.execute(
                f"CREATE TABLE logs AS SELECT __ts AS {_ident(TIME_FIELD)}{', ' + select_other if select_other else ''} "
                "FROM __raw WHERE NOT __bad ORDER BY __ts NULLS LAST, __file, __line")
            con.execute("DROP TABLE __raw")

    # ------------------------------------------------------------ querying
    @property
    def info(self) -> SourceInfo:
        return self._info

    def _deadline(self) -> float:
        """When the operation starting now must have answered (``time.monotonic()``)."""
        return time.monotonic() + self._timeout_s

    def _execute(self, work: Callable[[duckdb.DuckDBPyConnection], Any], deadline: float | None = None) -> Any:
        """``work(cursor)`` on a watchdog: past ``deadline`` the caller gets a clear error at once.

        DuckDB is asked to stop (``interrupt()``), but it only notices between chunks of work and
        not while it plans a large expression, so the query runs on a worker thread: the caller
        never waits past the deadline, and the worker closes its cursor when DuckDB has stopped.
        """
        remaining = (deadline if deadline is not None else self._deadline()) - time.monotonic()
        cur = self._con.cursor()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = work(cur)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="log-query", daemon=True)
        worker.start()
        worker.join(max(remaining, 0.0))
        if worker.is_alive():
            cur.interrupt()
            threading.Thread(target=lambda: (worker.join(), cur.close()), name="log-query-cleanup",
                             daemon=True).start()
            raise InvalidInputError(
                f"the log query took longer than {self._timeout_s:g} s and was stopped; narrow the time range "
                "or make the query more selective (fewer terms, no leading wildcards)")
        cur.close()
        exc = outcome.get("error")
        if isinstance(exc, duckdb.InterruptException):
            raise InvalidInputError(
                f"the log query took longer than {self._timeout_s:g} s and was stopped; narrow the time range "
                "or make the query more selective") from None
        if isinstance(exc, duckdb.Error):
            raise InvalidInputError(f"the log query failed: {str(exc).splitlines()[0]}") from None
        if exc is not None:
            raise exc
        return outcome["value"]

    def _run(self, sql: str, params: list[Any], deadline: float | None = None) -> list[tuple]:
        return self._execute(lambda cur: cur.execute(sql, params).fetchall(), deadline)

    def _where(self, query: str, window: TimeWindow) -> tuple[str, list[Any]]:
        c = compile_query(query, self._fields, ascii_fields=self._ascii_fields)
        t = _ident(TIME_FIELD)
        return f"{t} >= ? AND {t} < ? AND ({c.sql})", [window.start, window.end, *c.params]

    def _hit(self, row: tuple) -> LogHit:
        rid, ts, *vals = row
        fields = {k: v for k, v in zip(self._columns[1:], vals) if v is not None}
        ts = ts.astimezone(timezone.utc) if isinstance(ts, datetime) else None
        return LogHit(id=str(rid), timestamp=ts, fields=fields,
                      sort=(ts.isoformat() if ts else None, rid))

    def _select(self) -> str:
        return ", ".join([f"{self._row_col} + {self._row_base}"] + [_ident(c) for c in self._columns])

    def _row_param(self, rid: int) -> int:
        """A record id as a value of the row column (so filters on rowid use DuckDB's row-range scan)."""
        return int(rid) - self._row_base

    def count(self, query: str, window: TimeWindow) -> int:
        deadline = self._deadline()
        where, params = self._where(query, window)
        return int(self._run(f"SELECT count(*) FROM logs WHERE {where}", params, deadline)[0][0])

    def search(self, query: str, window: TimeWindow, *, size: int = 50, cursor: str | None = None) -> SearchPage:
        check_page_size(size)
        deadline = self._deadline()
        where, params = self._where(query, window)
        total = int(self._run(f"SELECT count(*) FROM logs WHERE {where}", params, deadline)[0][0])
        t = _ident(TIME_FIELD)
        after = ""
        extra: list[Any] = []
        if cursor:
            ts_iso, rid = decode_cursor(cursor)
            # (time, row) before the cursor's; "time <=" lets the scan skip row groups by their time range
            after = f" AND {t} <= ? AND ({t} < ? OR {self._row_col} < ?)"
            ts = datetime.fromisoformat(ts_iso)
            extra = [ts, ts, self._row_param(rid)]
        rows = self._run(
            f"SELECT {self._select()} FROM logs WHERE {where}{after} ORDER BY {t} DESC, {self._row_col} DESC LIMIT ?",
            params + extra + [size + 1], deadline)
        hits = tuple(self._hit(r) for r in rows[:size])
        nxt = encode_cursor(hits[-1].sort) if len(rows) > size and hits else None
        return SearchPage(query=query, window=window, total=total, hits=hits, cursor=nxt)

    def histogram(self, query: str, window: TimeWindow, *, buckets: int = 60,
                  split_field: str = LEVEL_FIELD) -> Histogram:
        step = pick_interval(window, buckets)
        deadline = self._deadline()
        where, params = self._where(query, window)
        key = (f"COALESCE(CAST({_ident(split_field)} AS VARCHAR), '{NO_VALUE}')"
               if split_field in self._fields else f"'{NO_VALUE}'")
        ms = step * 1000
        rows = self._run(
            f"SELECT (epoch_ms({_ident(TIME_FIELD)}) // {ms}) * {ms} AS b, {key} AS k, count(*) FROM logs "
            f"WHERE {where} GROUP BY b, k ORDER BY b, k", params, deadline)
        return Histogram(step, split_field, tuple(
            HistogramBucket(datetime.fromtimestamp(b / 1000, tz=timezone.utc), str(k), int(n)) for b, k, n in rows))

    def top_values(self, query: str, window: TimeWindow, fields: list[str] | None = None, *,
                   size: int = 8) -> tuple[FieldFacet, ...]:
        if fields is None:
            fields = [f for f, k in self._fields.items()
                      if k in (FieldKind.KEYWORD, FieldKind.NUMBER, FieldKind.BOOLEAN)]
        deadline = self._deadline()
        where, params = self._where(query, window)
        out = []
        for f in fields:
            if f not in self._fields:
                raise InvalidInputError(f"unknown field '{f}'; fields: {', '.join(sorted(self._fields))}")
            col = _ident(f)
            rows = self._run(
                f"SELECT {col}, count(*) AS n, sum(count(*)) OVER () FROM logs WHERE {where} AND {col} IS NOT NULL "
                f"GROUP BY {col} ORDER BY n DESC, {col} LIMIT ?", params + [size], deadline)
            if not rows:
                continue
            total = int(rows[0][2])
            vals = tuple((v, int(n)) for v, n, _ in rows)
            out.append(FieldFacet(f, vals, total - sum(n for _, n in vals)))
        return tuple(out)

    def surrounding(self, hit: LogHit, *, n: int = 5, same_field: str = SERVICE_FIELD) -> tuple[LogHit, ...]:
        rid = int(hit.id)
        deadline = self._deadline()
        cond, params = "", []
        value = hit.fields.get(same_field)
        if same_field in self._fields and value is not None:
            cond, params = f" AND {_ident(same_field)} = ?", [value]
        r, at = self._row_col, self._row_param(rid)
        before = self._run(f"SELECT {self._select()} FROM logs WHERE {r} < ?{cond} ORDER BY {r} DESC LIMIT ?",
                           [at, *params, n], deadline)
        me = self._run(f"SELECT {self._select()} FROM logs WHERE {r} = ?", [at], deadline)
        after = self._run(f"SELECT {self._select()} FROM logs WHERE {r} > ?{cond} ORDER BY {r} LIMIT ?",
                          [at, *params, n], deadline)
        return tuple(self._hit(r) for r in [*reversed(before), *me, *after])

    def messages(self, query: str, window: TimeWindow, *, limit: int | None = None) -> list[str]:
        if MESSAGE_FIELD not in self._fields:
            raise InvalidInputError(f"these logs have no '{MESSAGE_FIELD}' field to mine patterns from")
        deadline = self._deadline()
        where, params = self._where(query, window)
        lim = " LIMIT ?" if limit else ""
        tbl = self._execute(lambda cur: cur.sql(
            f"SELECT CAST({_ident(MESSAGE_FIELD)} AS VARCHAR) AS m FROM logs WHERE {where} ORDER BY {self._row_col}{lim}",
            params=params + ([limit] if limit else [])).to_arrow_table(), deadline)
        return [m if m is not None else "" for m in tbl.column("m").to_pylist()]

    def frame(self, fields: list[str], window: TimeWindow | None = None) -> "pd.DataFrame":
        """The records (of ``window``, else all) as a pandas table with one column per field, in time order.

        Raises:
            InvalidInputError: a field is unknown.
        """
        unknown = [f for f in fields if f not in self._fields]
        if unknown:
            raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(sorted(self._fields))}")
        where, params = self._where("*", window) if window is not None else ("TRUE", [])
        cur = self._con.cursor()
        try:
            return cur.sql(f"SELECT {', '.join(_ident(f) for f in fields)} FROM logs WHERE {where} ORDER BY {self._row_col}",
                           params=params).df()
        finally:
            cur.close()

    def close(self) -> None:
        self._con.close()
        self._tmp.cleanup()

