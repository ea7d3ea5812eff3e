"""Distributed traces from OTLP JSON files, loaded into DuckDB (``OtelTraceSource``).

Reads what the OpenTelemetry collector's file exporter writes (one ``ExportTraceServiceRequest``
as JSON per line, ``.json``/``.jsonl``/``.ndjson``) and plain OTLP JSON exports (one request per
file, pretty-printed or not) from a folder, a file, or a bundle's ``traces/`` folder. Both JSON
spellings are read: the OTLP/JSON mapping (camelCase keys, hex ids, enums as integers) and
protobuf's canonical JSON (``json_format.MessageToJson``: base64 ids, enum names, snake_case keys
when field names are preserved). No OpenTelemetry package is needed.

The spans land in one in-memory DuckDB table ``spans`` (``trace_id, span_id, parent_span_id,
service, name, kind, start, end, start_ns, end_ns, duration_ms, status_code, status_message,
attributes`` (JSON text: span attributes, then resource attributes under ``resource.``),
``src_file, src_line``), so a million spans stay interactive.

Bad input never crashes the load and never passes silently: a line that is not JSON (a truncated
last line), JSON that is no OTLP trace export, or a span without ids or times is skipped and
reported as ``FILE:LINE: problem`` in ``warnings``; spans whose parent is not in the files, and
children that start before their parent (clock skew between services), are counted and reported
the same way. When nothing usable is read at all, :class:`~core.errors.InvalidInputError` says
why, naming the files and lines.
"""

from __future__ import annotations

import base64
import binascii
import gc
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd

try:  # optional: large exports load about twice as fast; the standard library reads the same JSON
    import orjson

    def _loads(text: str | bytes) -> Any:
        return orjson.loads(text)

    def _dumps(value: Any) -> str:
        return orjson.dumps(value, default=str).decode()

except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

    def _loads(text: str | bytes) -> Any:
        return json.loads(text)

    def _dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), default=str)

from core.errors import InvalidInputError, NotFoundError
from core.models import TimeWindow

__all__ = ["SUFFIXES", "OtelTraceSource", "TraceInfo", "load_traces", "open_traces", "trace_files",
           "traces_folder", "STATUS_ERROR", "STATUS_OK", "STATUS_UNSET", "KIND_NAMES"]

SUFFIXES = (".json", ".jsonl", ".ndjson")
STATUS_UNSET, STATUS_OK, STATUS_ERROR = "unset", "ok", "error"
_STATUS = {0: STATUS_UNSET, 1: STATUS_OK, 2: STATUS_ERROR, "STATUS_CODE_UNSET": STATUS_UNSET,
           "STATUS_CODE_OK": STATUS_OK, "STATUS_CODE_ERROR": STATUS_ERROR, "UNSET": STATUS_UNSET,
           "OK": STATUS_OK, "ERROR": STATUS_ERROR}
KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_KIND = {**KIND_NAMES, **{f"SPAN_KIND_{v.upper()}": v for v in KIND_NAMES.values()}}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
#: the most problems listed one by one; the rest are counted
MAX_LISTED = 20
#: a child starting this much before its parent is clock skew (smaller gaps are rounding)
SKEW_TOLERANCE_MS = 1.0


@dataclass
class TraceInfo:
    """What was read: files, spans, traces, services, the time range and every problem met."""

    files: list[str] = field(default_factory=list)
    spans: int = 0
    traces: int = 0
    services: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    missing_parents: int = 0
    skewed: int = 0

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda t: t.isoformat().replace("+00:00", "Z") if t else None)  # noqa: E731
        return {"files": self.files, "spans": self.spans, "traces": self.traces, "services": self.services,
                "start": iso(self.start), "end": iso(self.end), "missing_parents": self.missing_parents,
                "clock_skew": self.skewed, "warnings": self.warnings}


def traces_folder(spec: Any) -> Path:
    """The file or folder to read: a bundle's ``traces/`` (a ``Bundle``, its folder or .zip), else ``spec``."""
    if hasattr(spec, "path") and hasattr(spec, "manifest"):
        base = Path(spec.path)
        if not (base / "traces").is_dir():
            raise InvalidInputError(f"bundle {getattr(spec, 'id', base)} has no traces/ folder (OTLP JSON traces)")
        return base / "traces"
    path = Path(str(spec)).expanduser()
    if str(spec).startswith("bundle:"):
        path = Path(str(spec)[len("bundle:"):]).expanduser()
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder; give a folder of OTLP JSON files or a bundle")
    if path.is_file() and path.suffix.lower() == ".zip":
        from core.bundle import read_bundle

        return traces_folder(read_bundle(path))
    if path.is_dir() and (path / "bundle.json").is_file():
        if not (path / "traces").is_dir():
            raise InvalidInputError(f"{path}: the bundle has no traces/ folder (OTLP JSON traces)")
        return path / "traces"
    return path


def trace_files(spec: Any) -> list[Path]:
    """The OTLP JSON files of ``spec`` (see :func:`traces_folder`), sorted by path."""
    root = traces_folder(spec)
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise InvalidInputError(f"{root}: no OTLP JSON files ({', '.join(SUFFIXES)}) in this folder")
    return files


# ------------------------------------------------------------------ OTLP JSON → rows

def _get(d: dict, camel: str, snake: str) -> Any:
    v = d.get(camel)
    return d.get(snake) if v is None else v


def _span_id(value: Any, size: int) -> str | None:
    """An id as lower-case hex: OTLP/JSON writes hex, protobuf's JSON writes base64."""
    if not value:
        return None
    text = str(value)
    if len(text) == 2 * size and _HEX.match(text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw.hex()
    if _HEX.match(text):
        return text.lower()
    raise ValueError(f"id {text[:40]!r} is neither {2 * size} hex digits nor base64 of {size} bytes")


def _any_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "string_value"):
        if key in v:
            return v[key]
    for key in ("intValue", "int_value"):
        if key in v:
            try:
                return int(v[key])
            except (TypeError, ValueError):
                return v[key]
    for key in ("doubleValue", "double_value"):
        if key in v:
            return float(v[key])
    for key in ("boolValue", "bool_value"):
        if key in v:
            return bool(v[key])
    for key in ("arrayValue", "array_value"):
        if key in v:
            return [_any_value(x) for x in (v[key] or {}).get("values", [])]
    for key in ("kvlistValue", "kvlist_value"):
        if key in v:
            return _attributes((v[key] or {}).get("values", []))
    for key in ("bytesValue", "bytes_value"):
        if key in v:
            return v[key]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in items or ():
        if isinstance(kv, dict) and "key" in kv:
            v = kv.get("value")
            sv = v.get("stringValue") if v.__class__ is dict else None
            out[str(kv["key"])] = sv if sv is not None else _any_value(v)
    return out


class _Columns:
    """Column lists the parsed spans are appended to (one list per table column)."""

    NAMES = ("trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_ns", "end_ns",
             "status_code", "status_message", "attributes", "src_file", "src_line")

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {n: [] for n in self.NAMES}

    def __len__(self) -> int:
        return len(self.cols["span_id"])


def _hex_id(value: Any, size: int) -> str | None:
    """Fast path of :func:`_span_id`: OTLP/JSON's hex ids."""
    if value.__class__ is str and len(value) == 2 * size:
        try:
            bytes.fromhex(value)
        except ValueError:
            return _span_id(value, size)
        return value.lower()
    return _span_id(value, size)


def _parse_request(doc: Any, file_no: int, line: int, out: _Columns, where: str,
                   problems: list[str]) -> int:
    """Append the spans of one export request ``doc``; returns how many were read."""
    if not isinstance(doc, dict):
        problems.append(f"{where}: JSON but not an OTLP trace export (a {type(doc).__name__}, not an object)")
        return 0
    resource_spans = _get(doc, "resourceSpans", "resource_spans")
    if resource_spans is None:
        keys = ", ".join(list(doc)[:5]) or "none"
        problems.append(f"{where}: JSON but not an OTLP trace export (no resourceSpans; keys: {keys})")
        return 0
    n = 0
    c = out.cols
    trace_ids, span_ids, parents, services, names = (c["trace_id"], c["span_id"], c["parent_span_id"],
                                                     c["service"], c["name"])
    kinds, starts, ends, codes, messages = c["kind"], c["start_ns"], c["end_ns"], c["status_code"], c["status_message"]
    attributes, files, lines = c["attributes"], c["src_file"], c["src_line"]
    bad: list[str] = []
    for rs in resource_spans or ():
        if not isinstance(rs, dict):
            continue
        res_attrs = _attributes((rs.get("resource") or {}).get("attributes"))
        service = str(res_attrs.get("service.name") or "unknown_service")
        res_extra = {f"resource.{k}": v for k, v in res_attrs.items() if k != "service.name"}
        scopes = _get(rs, "scopeSpans", "scope_spans") or rs.get("instrumentationLibrarySpans") or ()
        for ss in scopes:
            for sp in (ss or {}).get("spans") or ():
                try:
                    trace_id = _hex_id(sp.get("traceId") or sp.get("trace_id"), 16)
                    span_id = _hex_id(sp.get("spanId") or sp.get("span_id"), 8)
                    parent = sp.get("parentSpanId") or sp.get("parent_span_id")
                    parent = _hex_id(parent, 8) if parent else None
                    start = int(sp.get("startTimeUnixNano") or sp.get("start_time_unix_nano"))
                    end = int(sp.get("endTimeUnixNano") or sp.get("end_time_unix_nano") or start)
                except (TypeError, ValueError) as exc:
                    bad.append(str(exc) if "id " in str(exc) else "missing or unreadable id or time")
                    continue
                if not trace_id or not span_id:
                    bad.append("span without traceId or spanId")
                    continue
                status = sp.get("status") or {}
                kind = sp.get("kind", 0)
                raw_attrs = sp.get("attributes")
                attrs = _attributes(raw_attrs) if raw_attrs else {}
                if res_extra:
                    attrs.update(res_extra)
                trace_ids.append(trace_id)
                span_ids.append(span_id)
                parents.append(parent)
                services.append(service)
                names.append(str(sp.get("name") or ""))
                kinds.append(_KIND.get(kind) or str(kind).lower())
                starts.append(start)
                ends.append(end if end > start else start)
                codes.append(_STATUS.get(status.get("code", 0), STATUS_UNSET) if status else STATUS_UNSET)
                messages.append(str(status.get("message") or "") if status else "")
                attributes.append(_dumps(attrs) if attrs else "{}")
                files.append(file_no)
                lines.append(line)
                n += 1
    if bad:
        problems.append(f"{where}: {len(bad)} span(s) skipped ({bad[0]})")
    return n


def _std_error(raw: str) -> json.JSONDecodeError:
    """The standard library's description of why ``raw`` is not JSON (its messages name the column)."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return exc
    return json.JSONDecodeError("not valid JSON", raw, 0)


def _parse_lines(path: Path, file_no: int, lines: list[str], first_no: int, out: _Columns, problems: list[str],
                 *, ends_file: bool = True) -> int:
    """Parse collector lines (one export request each); ``first_no`` is the 1-based number of ``lines[0]``."""
    n = 0
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    for k, line in enumerate(lines):
        raw = line.strip()
        if not raw:
            continue
        try:
            doc = _loads(raw)
        except ValueError:
            exc = _std_error(raw)
            problems.append(f"{path}:{first_no + k}: not valid JSON ({exc.msg}, column {exc.colno})"
                            + ("; the last line is truncated (the collector still writing?)"
                               if ends_file and k == last else ""))
            continue
        n += _parse_request(doc, file_no, first_no + k, out, f"{path}:{first_no + k}", problems)
    return n


def _read_file(path: Path, file_no: int, out: _Columns, problems: list[str]) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text (byte {exc.start}); OTLP JSON is UTF-8")
        return 0
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({type(exc).__name__})")
        return 0
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        problems.append(f"{path}: empty file")
        return 0
    try:
        _loads(lines[first])
        per_line = True
    except ValueError:
        per_line = False
    if not per_line:  # one pretty-printed export
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}); "
                            "a truncated or partly written file?")
            return 0
        return _parse_request(doc, file_no, first + 1, out, f"{path}:{first + 1}", problems)
    del text
    return _parse_lines(path, file_no, lines, 1, out, problems)


def _arrow(cols: _Columns) -> Any:
    import pyarrow as pa

    types = {"start_ns": pa.int64(), "end_ns": pa.int64(), "src_file": pa.int32(), "src_line": pa.int64()}
    return pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in cols.cols.items()})


# ------------------------------------------------------------------ the source

class OtelTraceSource:
    """Spans of OTLP JSON files in an in-memory DuckDB table ``spans`` (see the module docstring).

    Satisfies :class:`core.sources.protocols.TraceSource` (``spans``, ``trace``); :meth:`sql` runs any
    read query on the table (the analyses of :mod:`core.analysis.traces` use it).
    """

    def __init__(self, files: Iterable[Path | str], *, name: str | None = None):
        self.files = [Path(f) for f in files]
        self.name = name or (str(self.files[0].parent) if self.files else "traces")
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone='UTC'")
        self.info = TraceInfo(files=[str(f) for f in self.files])
        self._load()

    @classmethod
    def from_path(cls, spec: Any) -> "OtelTraceSource":
        files = trace_files(spec)
        return cls(files, name=str(traces_folder(spec)))

    @classmethod
    def from_columns(cls, cols: "_Columns", *, name: str, origins: list[str],
                     problems: list[str] | None = None) -> "OtelTraceSource":
        """A source over spans already parsed into ``cols`` (e.g. by a query API client).

        ``origins[i]`` names where the spans with ``src_file == i`` came from (a request, a trace);
        warnings then read ``ORIGIN:LINE``. The same table, checks and warnings as for files.
        """
        self = cls.__new__(cls)
        self.files = list(origins)
        self.name = name
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone='UTC'")
        self.info = TraceInfo(files=[str(o) for o in origins])
        self._build(_arrow(cols), list(problems or []), what=f"{len(origins)} request(s)")
        return self

    # -------------------------------------------------------------- loading
    def _load(self) -> None:
        cols = _Columns()
        problems: list[str] = []
        # The parsed requests are millions of short-lived dicts: the cyclic collector would rescan the
        # growing column lists again and again (about 3x the parse time at 1M spans). Nothing here makes
        # cycles, so it pauses while the files are read.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for no, path in enumerate(self.files):
                _read_file(path, no, cols, problems)
            frame = _arrow(cols)
        finally:
            if collecting:
                gc.enable()
        del cols
        self._build(frame, problems, what=f"{len(self.files)} file(s)")

    def _build(self, frame: Any, problems: list[str], *, what: str) -> None:
        """Create the ``spans`` table from the parsed columns (an Arrow table) and check it."""
        if not frame.num_rows:
            shown = "; ".join(problems[:5]) or "no spans in the files"
            raise InvalidInputError(f"{self.name}: no spans read from {what}: {shown}")
        con = self._con
        con.register("_frame", frame)
        con.execute("""
            CREATE TABLE spans AS
            SELECT trace_id, span_id, parent_span_id, service, name, kind,
                   make_timestamptz(start_ns // 1000) AS start, make_timestamptz(end_ns // 1000) AS "end",
                   start_ns, end_ns, (end_ns - start_ns) / 1e6 AS duration_ms,
                   status_code, status_message, attributes, src_file, src_line
            FROM _frame ORDER BY start_ns""")
        con.unregister("_frame")
        del frame
        self._check(problems)

    def _where(self, file_no: int, line: int) -> str:
        return f"{self.files[file_no]}:{line}"

    def _check(self, problems: list[str]) -> None:
        con = self._con
        info = self.info
        n, traces, t0, t1 = con.execute(
            "SELECT count(*), count(DISTINCT trace_id), min(start), max(\"end\") FROM spans").fetchone()
        info.spans, info.traces, info.start, info.end = int(n), int(traces), t0, t1
        info.services = [r[0] for r in con.execute("SELECT DISTINCT service FROM spans ORDER BY 1").fetchall()]
        dup = con.execute("""SELECT count(*) - count(DISTINCT (trace_id, span_id)) FROM spans""").fetchone()[0]
        if dup:
            problems.append(f"{dup} span(s) appear more than once (same trace and span id); all copies are kept")
        missing = con.execute("""
            SELECT c.service, c.name, c.trace_id, c.parent_span_id, c.src_file, c.src_line,
                   count(*) OVER () AS n, count(DISTINCT c.trace_id) OVER () AS nt
            FROM spans c ANTI JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
            WHERE c.parent_span_id IS NOT NULL ORDER BY c.start_ns LIMIT 1""").fetchall()
        if missing:
            svc, name, tid, pid, f, ln, cnt, nt = missing[0]
            info.missing_parents = int(cnt)
            problems.append(f"{cnt} span(s) in {nt} trace(s) name a parent span that is not in the files "
                            f"(first: {self._where(f, ln)}: {svc} '{name}' in trace {tid} has parent {pid}); "
                            "they are kept as roots of their own subtree")
        skew = con.execute(f"""
            SELECT p.service, c.service, count(*), max((p.start_ns - c.start_ns) / 1e6),
                   arg_min(c.src_file, c.start_ns), arg_min(c.src_line, c.start_ns)
            FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
            WHERE c.start_ns < p.start_ns - {int(SKEW_TOLERANCE_MS * 1e6)}
            GROUP BY 1, 2 ORDER BY 3 DESC""").fetchall()
        for parent_svc, child_svc, cnt, worst, f, ln in skew:
            info.skewed += int(cnt)
            problems.append(f"clock skew: {cnt} {child_svc} span(s) start before their {parent_svc} parent, "
                            f"by up to {worst:.1f} ms (first: {self._where(f, ln)}); the clocks of the two "
                            "services disagree: durations stand, orderings across them are approximate")
        info.warnings = problems[:MAX_LISTED] + (
            [f"… and {len(problems) - MAX_LISTED} more problem(s)"] if len(problems) > MAX_LISTED else [])

    # -------------------------------------------------------------- queries
    @property
    def warnings(self) -> list[str]:
        return self.info.warnings

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """A read query on the ``spans`` table, as a DataFrame."""
        with self._lock:
            return self._con.execute(query, params or []).df()

    def rows(self, query: str, params: list[Any] | None = None) -> list[tuple]:
        with self._lock:
            return self._con.execute(query, params or []).fetchall()

    def spans(self, query: str = "", window: TimeWindow | None = None, *, limit: int = 10_000) -> pd.DataFrame:
        """Spans matching ``query`` in ``window``, newest first (:func:`core.analysis.traces.search` syntax).

        Besides the table's columns the frame carries the protocol's names (``trace.id``, ``span.id``,
        ``parent.id``, ``service.name``, ``status``).
        """
        from core.analysis.traces import parse_search, search

        return _with_protocol_names(search(self, window=window, limit=limit, **parse_search(query)))

    def trace(self, trace_id: str) -> pd.DataFrame:
        """Every span of one trace, by start time."""
        got = self.sql("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns", [str(trace_id).lower()])
        if got.empty:
            raise NotFoundError(f"trace {trace_id} is not in {self.name}")
        return _with_protocol_names(got)

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _with_protocol_names(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for proto, col in (("trace.id", "trace_id"), ("span.id", "span_id"), ("parent.id", "parent_span_id"),
                       ("service.name", "service"), ("status", "status_code")):
        if col in out:
            out[proto] = out[col]
    return out


def load_traces(spec: Any) -> OtelTraceSource:
    """The spans of a folder, a file or a bundle's ``traces/`` folder."""
    return OtelTraceSource.from_path(spec)


def open_traces(spec: Any, _settings: Any = None) -> OtelTraceSource:
    """The factory's opener for kind ``traces`` (``open_source("traces", PATH_OR_BUNDLE)``)."""
    return load_traces(spec)


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
