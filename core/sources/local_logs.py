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
import queue
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import duckdb

from core.config import DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_MEMORY_MB, check_log_memory_mb, settings
from core.errors import InvalidInputError, NotFoundError
from core.logquery import CompiledQuery, FieldKind, compile_query
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
_WORKER_IDLE_S = 2.0  # a query thread with nothing to do for this long ends


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


class _QueryWorker:
    """A thread running one query at a time on a cursor of the source's connection.

    Only the queries run DuckDB code on this thread: an idle worker that ends hands its cursor
    back to the source (closed or reused from a caller's thread), so no DuckDB call is left
    running on a daemon thread when the interpreter exits.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, give_back: Callable[["_QueryWorker"], bool],
                 leave: Callable[["_QueryWorker"], bool]):
        self.cursor = cursor
        self._give_back, self._leave = give_back, leave
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.retired = False  # stopped on a deadline or failed: ends after its query, never reused
        threading.Thread(target=self._loop, name="log-query", daemon=True).start()

    def submit(self, work: Callable[[duckdb.DuckDBPyConnection], Any], outcome: dict[str, Any],
               done: threading.Event) -> None:
        self._jobs.put((work, outcome, done))

    def stop(self) -> None:
        self._jobs.put(None)

    def interrupt(self) -> None:
        try:
            self.cursor.interrupt()
        except duckdb.Error:  # the query ended and the cursor is closed
            pass

    def _loop(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=_WORKER_IDLE_S)
            except queue.Empty:
                if self._leave(self):
                    return
                continue  # taken for a query just now: it is on its way
            if job is None:
                return
            work, outcome, done = job
            try:
                outcome["value"] = work(self.cursor)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc
                self.retired = True  # a failed or stopped query may leave its cursor unusable
            done.set()
            if not self._give_back(self):
                break
        try:  # retired: this cursor is not handed on
            self.cursor.close()
        except duckdb.Error:  # the source was closed first
            pass


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
        self._idle: list[_QueryWorker] = []  # worker threads waiting for a query (see _execute)
        self._spare: list[duckdb.DuckDBPyConnection] = []  # cursors of workers that ended while idle
        self._closed = False
        self._time_field = time_field
        self._fields: dict[str, FieldKind] = {}
        self._ascii_fields: frozenset[str] = frozenset()
        self._compiled: dict[str, CompiledQuery] = {}
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

    def _raw_sql(self, path: Path) -> tuple[str, list[Any]]:
        suffix = path.suffix.lower()
        if suffix in JSON_SUFFIXES:
            sample = -1 if path.stat().st_size < 200_000_000 else 20480
            return ("SELECT * FROM read_json(?, "
                    f"format='newline_delimited', ignore_errors=true, sample_size={sample}, "
                    f"maximum_object_size={2 * MAX_LINE_BYTES}, union_by_name=true)", [str(path)])
        if suffix in CSV_SUFFIXES:
            return ("SELECT * FROM read_csv(?, header=true, "
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
               "CASE WHEN regexp_matches(line, ?) THEN m.message ELSE line END AS message "
               f"FROM (SELECT line, regexp_extract(line, ?, {names!r}) AS m "
               "FROM (SELECT rtrim(column0, chr(13)) AS line FROM read_csv(?, "
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
        for path in self._paths:
            readable = self._readable(path)
            sql, params = self._raw_sql(readable)
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
        names = list(all_cols)
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
            parts.append((f"SELECT {', '.join(exprs)} FROM ({sql})", params))
        union = " UNION ALL ".join(p for p, _ in parts)
        params = [x for _, ps in parts for x in ps]
        tf = self._time_field
        ttype = types[tf].upper()
        # __naive (kept only for times read from text): NULL without a time, else whether it lacks a zone
        naive_col = ""
        if ttype.startswith("TIMESTAMP"):
            ts_expr = f"CAST({_ident(tf)} AS TIMESTAMPTZ)"
        elif _kind_of(ttype) == FieldKind.NUMBER:
            # epoch seconds, or milliseconds when the numbers are too large to be seconds
            c = _ident(tf)
            ts_expr = f"CASE WHEN {c} > 1e11 THEN to_timestamp({c} / 1000.0) ELSE to_timestamp({c}) END"
        else:
            c = f"trim(CAST({_ident(tf)} AS VARCHAR))"
            ts_expr = f"TRY_CAST(replace({c}, ',', '.') AS TIMESTAMPTZ)"
            naive_col = f", CASE WHEN {c} IS NULL THEN NULL ELSE NOT regexp_matches({c}, '{_ZONE_RX}') END AS __naive"
        # the time field was present (whether or not it could be read as a time)
        has_time = "__naive IS NOT NULL" if naive_col else "__ts IS NOT NULL"
        other = [n for n in names if n != tf]
        select_other = ", ".join(_ident(n) for n in other)
        # the table holds the records as read, in file order (DuckDB keeps insertion order, so rowid is the
        # position in the files), with no helper columns: what the checks below need is computed from it
        try:
            con.execute(f"CREATE TABLE __raw AS SELECT {ts_expr} AS __ts{', ' + select_other if select_other else ''}"
                        f"{naive_col} FROM ({union})", params)
        except duckdb.Error as exc:
            hint = "; raise WORKBENCH_LOG_MEMORY_MB" if "Out of Memory" in str(exc) else ""
            raise InvalidInputError(f"the log files cannot be loaded ({str(exc).splitlines()[0]}){hint}") from None
        # all-NULL rows are lines that were not JSON (read_json with ignore_errors yields NULLs)
        bad_expr = " AND ".join([f"{_ident(n)} IS NULL" for n in other] + [f"NOT ({has_time})"])
        # text fields whose values are all ASCII (byte length = character count) get cheaper regexes
        text = [n for n in other if n in _TEXT_FIELDS and _kind_of(types[n]) == FieldKind.KEYWORD]
        ascii_checks = "".join(f", bool_and(strlen({_ident(n)}) = length({_ident(n)}))" for n in text)
        naive_count = "count(*) FILTER (__naive AND __ts IS NOT NULL)" if naive_col else "0"
        bad, no_ts, naive, total, lo, hi, *ascii_only = con.execute(
            f"SELECT count(*) FILTER ({bad_expr}), count(*) FILTER (NOT ({bad_expr}) AND __ts IS NULL), "
            f"{naive_count}, count(*), min(__ts), max(__ts){ascii_checks} FROM __raw").fetchall()[0]
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
            self._order(con, names, other, select_other, bad_expr, naive=bool(naive_col),
                        sorted_already=bad == 0 and self._in_time_order(con))
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
        # bad rows have no time, so the time range and count of the good records are those of __raw
        self._records = total - bad
        self._span = TimeWindow(lo, hi + timedelta(milliseconds=1)) if lo is not None else None

    @staticmethod
    def _in_time_order(con: duckdb.DuckDBPyConnection) -> bool:
        """Whether ``__raw`` is already in time order (records without a time last).

        Log files are usually written in time order; then the table needs no sort. Records of the
        same time stay in file order either way, so only a time earlier than the one before breaks it.
        """
        key = f"COALESCE(epoch_us(__ts), {_NO_TIME_KEY})"
        # one column, read in table order (a streaming window keeps it)
        return con.execute(
            f"SELECT count(*) FROM (SELECT {key} < lag({key}) OVER () AS brk FROM __raw) WHERE brk").fetchall()[0][0] == 0

    def _order(self, con: duckdb.DuckDBPyConnection, names: list[str], other: list[str], select_other: str,
               bad_expr: str, *, naive: bool, sorted_already: bool) -> None:
        """Turn ``__raw`` into ``logs``, the good records in time order (see ``_row_col`` for the ids).

        Records of the same time keep their file order: ``__raw``'s rowid is the position in the files.
        """
        if any(n.lower() in ("rowid", "__row") for n in names) or TIME_FIELD in other:
            # a field named like the row number: keep the row number in a column of its own (a field named
            # rowid hides DuckDB's, so the file position is numbered in table order here)
            con.execute(
                f"CREATE TABLE logs AS SELECT row_number() OVER (ORDER BY __ts NULLS LAST, __pos) AS __row, "
                f"__ts AS {_ident(TIME_FIELD)}{', ' + select_other if select_other else ''} FROM "
                f"(SELECT *, row_number() OVER () AS __pos FROM __raw) WHERE NOT ({bad_expr}) ORDER BY __row")
            con.execute("DROP TABLE __raw")
            self._row_col, self._row_base = "__row", 0
        elif sorted_already:
            # already in order: the loaded table becomes the log table without a copy; the row number
            # is DuckDB's rowid (position in the table) + 1
            if naive:
                con.execute("ALTER TABLE __raw DROP COLUMN __naive")
            con.execute(f"ALTER TABLE __raw RENAME COLUMN __ts TO {_ident(TIME_FIELD)}")
            con.execute("ALTER TABLE __raw RENAME TO logs")
        else:
            # one sort; the table keeps the order it is written in, so rowid + 1 is the row number
            con.execute(
                f"CREATE TABLE logs AS SELECT __ts AS {_ident(TIME_FIELD)}{', ' + select_other if select_other else ''} "
                f"FROM __raw WHERE NOT ({bad_expr}) ORDER BY __ts NULLS LAST, rowid")
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
        Workers are kept for the next query (starting a thread costs as much as a small query);
        one that was stopped is not reused.
        """
        remaining = (deadline if deadline is not None else self._deadline()) - time.monotonic()
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            with self._lock:
                cursor = self._spare.pop() if self._spare else None
            worker = _QueryWorker(cursor or self._con.cursor(), self._give_back, self._leave)
        outcome: dict[str, Any] = {}
        done = threading.Event()
        worker.submit(work, outcome, done)
        if not done.wait(max(remaining, 0.0)):
            with self._lock:
                finished = done.is_set()
                if not finished:
                    worker.retired = True
            if not finished:
                worker.interrupt()
                raise InvalidInputError(
                    f"the log query took longer than {self._timeout_s:g} s and was stopped; narrow the time range "
                    "or make the query more selective (fewer terms, no leading wildcards)")
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

    def _give_back(self, worker: "_QueryWorker") -> bool:
        """Called by a worker after each query: whether it waits for another one (else it ends)."""
        with self._lock:
            if worker.retired or self._closed:
                return False
            self._idle.append(worker)
            return True

    def _leave(self, worker: "_QueryWorker") -> bool:
        """Called by a worker idle for a while: whether it may end (not taken for a query meanwhile).
        Its cursor is kept for the next worker."""
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)
                self._spare.append(worker.cursor)
                return True
            return False

    def _run(self, sql: str, params: list[Any], deadline: float | None = None) -> list[tuple]:
        return self._execute(lambda cur: cur.execute(sql, params).fetchall(), deadline)

    def _compile(self, query: str) -> CompiledQuery:
        c = self._compiled.get(query)
        if c is None:
            # the page asks several questions of one query text; parse it once
            c = compile_query(query, self._fields, ascii_fields=self._ascii_fields)
            with self._lock:
                if len(self._compiled) >= 64:
                    self._compiled.pop(next(iter(self._compiled)))
                self._compiled[query] = c
        return c

    def _where(self, query: str, window: TimeWindow) -> tuple[str, list[Any]]:
        c = self._compile(query)
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
        t = _ident(TIME_FIELD)
        after = ""
        extra: list[Any] = []
        newest = window.end  # no hit is at or after this time
        if cursor:
            ts_iso, rid = decode_cursor(cursor)
            # (time, row) before the cursor's; "time <=" lets the scan skip row groups by their time range
            after = f" AND {t} <= ? AND ({t} < ? OR {self._row_col} < ?)"
            ts = datetime.fromisoformat(ts_iso)
            extra = [ts, ts, self._row_param(rid)]
            newest = min(newest, ts + timedelta(microseconds=1))
        count_sql = f"SELECT count(*) FROM logs WHERE {where}"
        page_sql = f"SELECT {self._select()} FROM logs WHERE {where}{after}"
        newest_first = f" ORDER BY {t} DESC, {self._row_col} DESC LIMIT ?"

        def work(cur: duckdb.DuckDBPyConnection) -> tuple[int, list[tuple]]:
            total = int(cur.execute(count_sql, params).fetchall()[0][0])
            if total == 0:
                return 0, []
            # The table is in time order, so the newest hits are in the last stretch of time before
            # `newest`: look there first (a stretch expected to hold about 4 pages of hits) and widen it
            # until a full page is found. Every record before the stretch sorts after every record in it,
            # so the page is the same as one sorted over the whole window, without sorting the window.
            span = newest - window.start
            share = 4 * (size + 1) / total
            while share < 1 and span > timedelta(0):
                since = newest - span * share
                if since <= window.start:
                    break
                rows = cur.execute(f"{page_sql} AND {t} >= ?{newest_first}", params + extra + [since, size + 1]).fetchall()
                if len(rows) > size or (not cursor and len(rows) == total):
                    return total, rows
                share *= 16 if not rows else max(4.0, 2 * (size + 1) / len(rows))
            return total, cur.execute(page_sql + newest_first, params + extra + [size + 1]).fetchall()

        total, rows = self._execute(work, deadline)
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
        for f in fields:
            if f not in self._fields:
                raise InvalidInputError(f"unknown field '{f}'; fields: {', '.join(sorted(self._fields))}")
        if fields and self._compile(query).sql != "TRUE":
            per_field = self._execute(lambda cur: self._top_values_of_matches(cur, fields, where, params, size),
                                      deadline)
        else:
            sqls = [f"SELECT {_ident(f)}, count(*) AS n, sum(count(*)) OVER () FROM logs WHERE {where} AND "
                    f"{_ident(f)} IS NOT NULL GROUP BY {_ident(f)} ORDER BY n DESC, {_ident(f)} LIMIT ?" for f in fields]
            # one worker for all fields (a thread per query costs more than a small query)
            per_field = self._execute(lambda cur: [cur.execute(sql, params + [size]).fetchall() for sql in sqls],
                                      deadline)
        out = []
        for f, rows in zip(fields, per_field):
            if not rows:
                continue
            total = int(rows[0][2])
            vals = tuple((v, int(n)) for v, n, _ in rows)
            out.append(FieldFacet(f, vals, total - sum(n for _, n in vals)))
        return tuple(out)

    @staticmethod
    def _top_values_of_matches(cur: duckdb.DuckDBPyConnection, fields: list[str], where: str, params: list[Any],
                               size: int) -> list[list[tuple]]:
        """Per field, rows (value, count, count of all values) like the per-field queries of ``top_values``,
        from one statement that tests the query once and keeps the matching records' fields."""
        parts = []
        for f in fields:
            c = _ident(f)
            parts.append(f"(SELECT list({{'v': {c}, 'n': n}} ORDER BY n DESC, {c}) FROM (SELECT {c}, count(*) AS n "
                         f"FROM m WHERE {c} IS NOT NULL GROUP BY {c} ORDER BY n DESC, {c} LIMIT ?)), "
                         f"(SELECT count({c}) FROM m)")
        cols = ", ".join(dict.fromkeys(_ident(f) for f in fields))
        row = cur.execute(f"WITH m AS MATERIALIZED (SELECT {cols} FROM logs WHERE {where}) SELECT {', '.join(parts)}",
                          params + [size] * len(fields)).fetchall()[0]
        return [[(x["v"], x["n"], row[2 * i + 1]) for x in row[2 * i] or ()] for i in range(len(fields))]

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
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
            spare, self._spare = self._spare, []
        for worker in idle:
            worker.stop()  # it ends without touching its cursor
        for cur in spare + [w.cursor for w in idle]:
            cur.close()
        self._con.close()
        self._tmp.cleanup()

