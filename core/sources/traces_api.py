"""Distributed traces from a Jaeger or Grafana Tempo query API, into the same DuckDB ``spans`` table.

Where a Jaeger query service or a Tempo is configured, the spans of a time window are fetched over
HTTP, turned into the rows the OTLP JSON loader builds (:mod:`core.sources.traces_otel`) and loaded
by that same code: the result is an :class:`~core.sources.traces_otel.OtelTraceSource`, so every
analysis (service map, diffs, waterfall, cascade origin) runs on it unchanged.

Settings (:func:`core.config.Settings.section`: ``JAEGER_*`` / ``TEMPO_*`` in the environment, else
``[jaeger]`` / ``[tempo]`` in ``.streamlit/secrets.toml``): ``url`` (the query service root, e.g.
``http://jaeger:16686`` or ``http://tempo:3200``), ``token`` (sent as ``Authorization: Bearer``) or
``username`` and ``password`` (HTTP basic auth), ``timeout`` (seconds per request, default 10),
``max_traces`` (at most this many traces per window, default :data:`MAX_TRACES`), ``service`` (only
traces that touch this service), ``lookback_minutes`` (the window when none is given, default 60)
and, for Tempo, ``tenant`` (sent as ``X-Scope-OrgID``).

* **Jaeger** (the query service's JSON API that the Jaeger UI uses, ``/api/...``, as served by
  Jaeger 1.x ``jaeger-query`` and Jaeger 2.x): ``GET /api/services``, then per service ``GET
  /api/traces?service=S&start=µs&end=µs&limit=N`` → ``{"data": [{"traceID", "spans": [...],
  "processes": {...}}]}``. Spans: ``spanID``, ``operationName``, ``references`` (``CHILD_OF`` gives
  the parent), ``startTime`` and ``duration`` in µs, ``tags`` (``span.kind``; ``otel.status_code`` /
  ``error=true`` give the status, ``otel.status_description`` its message) and ``processID`` (the
  process's ``serviceName``; its tags become ``resource.*`` attributes).
* **Tempo** (the HTTP API of Tempo 2.x): ``GET /api/search?start=s&end=s&limit=N[&tags=service.name=S]``
  → ``{"traces": [{"traceID", ...}]}``, then ``GET /api/traces/<traceID>`` per trace → OTLP JSON
  (``{"batches": [...]}``, or ``{"resourceSpans": [...]}`` / ``{"trace": {"resourceSpans": ...}}``),
  read by the OTLP loader itself.

Errors: an unreachable server, a timeout, HTTP 401 or 403 are one
:class:`~core.errors.SourceUnavailableError` (CLI exit 4) naming the URL, never the credentials; an
answer that is not JSON or not the documented shape is a ``SourceUnavailableError`` saying what was
expected; no spans in the window is an :class:`~core.errors.InvalidInputError` (exit 2).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from core.errors import InvalidInputError, SourceUnavailableError
from core.models import TimeWindow, utc
from core.sources.traces_otel import (
    _STATUS, STATUS_ERROR, STATUS_UNSET, OtelTraceSource, _Columns, _dumps, _parse_request,
)

__all__ = ["DEFAULT_TIMEOUT_S", "MAX_TRACES", "JaegerClient", "TempoClient", "open_api_traces", "split_spec"]

DEFAULT_TIMEOUT_S = 10.0
#: the most traces fetched for one window (per source), unless ``max_traces`` says otherwise
MAX_TRACES = 500
DEFAULT_LOOKBACK_MIN = 60
_NAMES = {"jaeger": "Jaeger", "tempo": "Tempo"}
#: Jaeger tags that carry span fields (kind, status, scope), not attributes
_FIELD_TAGS = {"span.kind", "otel.status_code", "otel.status_description", "error", "otel.scope.name",
               "otel.scope.version", "otel.library.name", "otel.library.version", "internal.span.format"}


class _Client:
    """One query API: the base URL, credentials, timeout and the one way errors are reported."""

    system = ""

    def __init__(self, url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, max_traces: int = MAX_TRACES,
                 service: str | None = None, tenant: str | None = None):
        label = _NAMES[self.system]
        if not url:
            raise InvalidInputError(f"{label} is not configured: set {self.system.upper()}_URL "
                                    f"(or url under [{self.system}] in .streamlit/secrets.toml)")
        from core.config import display_url

        self.url = str(url).rstrip("/")
        self.display_url = display_url(self.url)
        self._token = token
        self._auth = (username, password or "") if username and not token else None
        self.timeout = float(timeout)
        self.max_traces = int(max_traces)
        if self.max_traces < 1:
            raise InvalidInputError(f"{self.system.upper()}_MAX_TRACES must be at least 1")
        self.service = service or None
        self.tenant = tenant or None
        self.where = f"{label} at {self.display_url}"

    @classmethod
    def from_settings(cls, config: Any) -> "_Client":
        sec = config.section(cls.system)
        return cls(sec.text("url") or "", token=sec.text("token"), username=sec.text("username"),
                   password=sec.text("password"), timeout=sec.number("timeout", DEFAULT_TIMEOUT_S),
                   max_traces=int(sec.number("max_traces", MAX_TRACES)), service=sec.text("service"),
                   tenant=sec.text("tenant"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r}, credentials=***)"

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        from core.sources.http_json import request_json

        headers = {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self.tenant:
            headers["X-Scope-OrgID"] = self.tenant
        var = self.system.upper()
        refused = (lambda r: f"refused the credentials (HTTP {r.status_code} to GET {path}); "
                             f"set a valid {var}_TOKEN or {var}_USERNAME and {var}_PASSWORD")
        got, _ = request_json(
            "GET", f"{self.url}{path}", params=params, headers=headers, auth=self._auth,
            where=self.where, url_setting=f"{var}_URL", timeout=self.timeout, what=f"GET {path}",
            not_json_hint=f"is {var}_URL the {_NAMES[self.system]} query API?",
            status_messages={401: refused, 403: refused})
        return got

    def _malformed(self, path: str, expected: str) -> SourceUnavailableError:
        return SourceUnavailableError(f"{self.where} answered GET {path} in an unexpected shape (expected {expected})")

    def load(self, window: TimeWindow) -> OtelTraceSource:
        """The spans of at most ``max_traces`` traces in ``window``, as an ``OtelTraceSource``."""
        cols, origins, problems = _Columns(), [], []
        self._fetch(window, cols, origins, problems)
        name = f"{self.where} ({window.to_dict()['start']} to {window.to_dict()['end']})"
        if not len(cols):
            raise InvalidInputError(f"{name}: no spans in this window"
                                    + (f" for service {self.service}" if self.service else "")
                                    + (f" ({'; '.join(problems[:3])})" if problems else ""))
        return OtelTraceSource.from_columns(cols, name=name, origins=origins, problems=problems)

    def _fetch(self, window: TimeWindow, cols: _Columns, origins: list[str], problems: list[str]) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------ Jaeger

def _jaeger_value(tag: dict[str, Any]) -> Any:
    value = tag.get("value")
    kind = str(tag.get("type") or "string").lower()
    try:
        if kind == "bool" and isinstance(value, str):
            return value.lower() == "true"
        if kind == "int64" and not isinstance(value, bool):
            return int(value)
        if kind == "float64":
            return float(value)
    except (TypeError, ValueError):
        return value
    return value


def _tags(items: Any) -> dict[str, Any]:
    return {str(t["key"]): _jaeger_value(t) for t in items or () if isinstance(t, dict) and "key" in t}


class JaegerClient(_Client):
    """The Jaeger query service's JSON API (``/api/services``, ``/api/traces``)."""

    system = "jaeger"

    def services(self) -> list[str]:
        got = self._get("/api/services")
        data = got.get("data") if isinstance(got, dict) else None
        if not isinstance(data, list):
            raise self._malformed("/api/services", '{"data": [service names]}')
        return sorted(str(s) for s in data if s)

    def _fetch(self, window: TimeWindow, cols: _Columns, origins: list[str], problems: list[str]) -> None:
        start_us, end_us = _epoch(window.start, 1_000_000), _epoch(window.end, 1_000_000)
        seen: set[str] = set()
        cut = False
        for service in [self.service] if self.service else self.services():
            if len(seen) >= self.max_traces:
                cut = True
                break
            params = {"service": service, "start": start_us, "end": end_us, "limit": self.max_traces}
            got = self._get("/api/traces", params)
            data = got.get("data") if isinstance(got, dict) else None
            if not isinstance(data, list):
                raise self._malformed("/api/traces", '{"data": [traces]}')
            cut = cut or len(data) >= self.max_traces  # Jaeger stops at the limit: there may be more
            for trace in data:
                if not isinstance(trace, dict) or not isinstance(trace.get("spans"), list):
                    raise self._malformed("/api/traces", 'traces with "traceID", "spans" and "processes"')
                tid = str(trace.get("traceID") or "")
                if tid in seen:
                    continue
                if len(seen) >= self.max_traces:
                    cut = True
                    break
                seen.add(tid)
                origins.append(f"{self.display_url}/api/traces?service={service} trace {tid}")
                self._trace(trace, len(origins) - 1, cols, problems)
        if cut:
            problems.append(f"the query reached JAEGER_MAX_TRACES={self.max_traces}; more traces may be in the "
                            "window (narrow the window or set a service)")

    def _trace(self, trace: dict[str, Any], file_no: int, out: _Columns, problems: list[str]) -> None:
        c = out.cols
        processes = trace.get("processes") if isinstance(trace.get("processes"), dict) else {}
        resources: dict[str, tuple[str, dict[str, Any]]] = {}
        for pid, proc in processes.items():
            proc = proc if isinstance(proc, dict) else {}
            tags = _tags(proc.get("tags"))
            tags.pop("service.name", None)
            resources[pid] = (str(proc.get("serviceName") or "unknown_service"),
                              {f"resource.{k}": v for k, v in tags.items()})
        bad: list[str] = []
        for n, sp in enumerate(trace["spans"], start=1):
            try:
                trace_id = _hex(sp.get("traceID") or trace.get("traceID"), 32)
                span_id = _hex(sp.get("spanID"), 16)
                start = int(sp["startTime"]) * 1000
                end = start + int(sp.get("duration") or 0) * 1000
                refs = [r for r in sp.get("references") or () if isinstance(r, dict) and r.get("spanID")]
                ref = next((r for r in refs if r.get("refType") == "CHILD_OF"), refs[0] if refs else None)
                parent = _hex(ref["spanID"], 16) if ref else None
            except (KeyError, TypeError, ValueError, AttributeError):
                bad.append(f"span {n} has no readable traceID, spanID, parent reference or startTime")
                continue
            service, res = resources.get(sp.get("processID"), ("unknown_service", {}))
            tags = _tags(sp.get("tags"))
            code = str(tags.get("otel.status_code") or "").upper()
            status = _STATUS.get(code, STATUS_UNSET)
            if tags.get("error") is True or str(tags.get("error")).lower() == "true":
                status = STATUS_ERROR
            attrs = {k: v for k, v in tags.items() if k not in _FIELD_TAGS}
            attrs.update(res)
            c["trace_id"].append(trace_id)
            c["span_id"].append(span_id)
            c["parent_span_id"].append(parent)
            c["service"].append(service)
            c["name"].append(str(sp.get("operationName") or ""))
            c["kind"].append(str(tags.get("span.kind") or "unspecified").lower())
            c["start_ns"].append(start)
            c["end_ns"].append(max(end, start))
            c["status_code"].append(status)
            c["status_message"].append(str(tags.get("otel.status_description") or ""))
            c["attributes"].append(_dumps(attrs) if attrs else "{}")
            c["src_file"].append(file_no)
            c["src_line"].append(n)
        if bad:
            problems.append(f"trace {trace.get('traceID')}: {len(bad)} span(s) skipped ({bad[0]})")


def _hex(value: Any, digits: int) -> str:
    text = str(value).strip().lower()
    if not text or any(ch not in "0123456789abcdef" for ch in text):
        raise ValueError(f"id {text[:40]!r} is not hex")
    return text.rjust(digits, "0") if len(text) < digits else text


def _epoch(at: datetime, per_second: int) -> int:
    return int(utc(at).timestamp() * per_second)


# ------------------------------------------------------------------ Tempo

class TempoClient(_Client):
    """Grafana Tempo's HTTP API (``/api/search``, ``/api/traces/<traceID>``)."""

    system = "tempo"

    def search(self, window: TimeWindow) -> list[str]:
        """The ids of at most ``max_traces`` traces that start in ``window``."""
        params: dict[str, Any] = {"start": int(utc(window.start).timestamp()),
                                  "end": int(-(-utc(window.end).timestamp() // 1)), "limit": self.max_traces}
        if self.service:
            params["tags"] = f"service.name={self.service}"
        got = self._get("/api/search", params)
        traces = got.get("traces") if isinstance(got, dict) else None
        if traces is None and isinstance(got, dict) and "metrics" in got:
            traces = []  # Tempo leaves "traces" out when nothing matched
        if not isinstance(traces, list) or not all(isinstance(t, dict) and t.get("traceID") for t in traces):
            raise self._malformed("/api/search", '{"traces": [{"traceID": …}]}')
        return list(dict.fromkeys(str(t["traceID"]) for t in traces))[: self.max_traces]

    def _fetch(self, window: TimeWindow, cols: _Columns, origins: list[str], problems: list[str]) -> None:
        ids = self.search(window)
        if len(ids) >= self.max_traces:
            problems.append(f"the search reached TEMPO_MAX_TRACES={self.max_traces}; more traces may be in the "
                            "window (narrow the window or set a service)")
        for tid in ids:
            path = f"/api/traces/{tid}"
            got = self._get(path)
            doc = got.get("trace") if isinstance(got, dict) and isinstance(got.get("trace"), dict) else got
            if isinstance(doc, dict) and "batches" in doc and "resourceSpans" not in doc:
                doc = {"resourceSpans": doc["batches"]}
            if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
                raise self._malformed(path, 'OTLP JSON ({"batches": [...]} or {"resourceSpans": [...]})')
            origins.append(f"{self.display_url}{path}")
            _parse_request(doc, len(origins) - 1, 1, cols, origins[-1], problems)


# ------------------------------------------------------------------ the factory's opener

_CLIENTS = {"jaeger": JaegerClient, "tempo": TempoClient}


def split_spec(spec: Any) -> tuple[str, TimeWindow | None]:
    """``jaeger`` or ``jaeger:START/END`` (``tempo`` alike) → (system, window or None)."""
    text = str(spec).strip()
    system, _, rest = text.partition(":")
    system = system.lower()
    if system not in _CLIENTS:
        raise InvalidInputError(f"'{text}' names no trace query API; write jaeger[:START/END] or tempo[:START/END]")
    return system, (TimeWindow.parse(rest) if rest.strip() else None)


def open_api_traces(spec: Any, config: Any) -> OtelTraceSource:
    """The factory's opener for ``open_source("traces", "jaeger[:START/END]")`` (and ``tempo``).

    Without a window, the last ``lookback_minutes`` (default 60) up to now are read.
    """
    system, window = split_spec(spec)
    client = _CLIENTS[system].from_settings(config)
    if window is None:
        minutes = config.section(system).number("lookback_minutes", DEFAULT_LOOKBACK_MIN)
        now = datetime.now(timezone.utc)
        window = TimeWindow(now - timedelta(minutes=minutes), now)
    return client.load(window)
