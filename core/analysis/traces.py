"""Trace analyses over a span table: service map, window diffs, search, waterfall, cascade origin.

Every function takes a span source with ``sql(query, params)`` (an
:class:`core.sources.traces_otel.OtelTraceSource`: the ``spans`` table in DuckDB) and runs its
question as one SQL query there, so a million spans answer in about a second; results are
DataFrames or frozen dataclasses.

**Service map.** An edge ``caller → callee`` is a span whose parent span belongs to another
service (the dependency direction comes from the span tree, not from names). Per edge: calls,
rate (calls per minute of the window), errors and error rate (the callee span's status), p50 and
p95 of the callee span's duration. :func:`service_map_diff` puts the baseline and the incident
window side by side with the change of each number and a ``change`` label (``new``, ``gone``,
``worse``, ``better``, ``same``).

**Dependency graph.** :func:`dependency_graph` keeps only who calls whom (a :class:`ServiceGraph`):
the services a given one calls or is called by, transitively (its *path*), and the call chain
between two services. Triage reads it to tell a change on the model's path from a coincidence.

**Cascade origin.** An error span's error is *inherited* when one of its direct children is an
error span too (the failure came from below), *own* otherwise. Per service, within the window:
own and inherited errors, the share of inherited errors, the first own-error time, and the
services affected downstream of the cascade (callers, direct or not, with error spans in the
traces where this service's own errors occur). Services are ranked by the start of their own
degradation: the time of their third own error (their first when they have fewer), so one
stray error does not make an origin (a service with fewer own errors than that is not degraded,
unless no service has that many); when a baseline is given, a service whose own-error rate
is not above its baseline rate is not degraded and ranks after those that are. Two starts less
than :data:`TIE_SECONDS` apart (clock skew) are ordered by dependency: the callee first. The
origin's own-error spans say what kind of failure it is (:func:`origin_category`): ``database``,
``cache`` or ``network`` spans, a ``data`` (feature, data, pipeline) service, or ``service``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.errors import InvalidInputError
from core.models import TimeWindow

__all__ = ["CascadeRank", "ServiceGraph", "TIE_SECONDS", "cascade_ranking", "dependency_graph", "origin_category",
           "parse_search", "search", "service_map", "service_map_diff", "span_diff", "waterfall"]

TIE_SECONDS = 2.0
DEGRADE_AT = 3  # the own error whose time starts a service's degradation
DATA_SERVICE = re.compile(r"feature|data|etl|ingest|pipeline|warehouse|feed", re.I)
CACHE_SYSTEMS = {"redis", "memcached", "hazelcast", "aerospike"}
NETWORK_WORDS = re.compile(r"timeout|timed out|connection (refused|reset|closed)|unreachable|dns|"
                           r"network|socket|ECONNRESET|ECONNREFUSED|503|502|504", re.I)


def _window_sql(window: TimeWindow | None, alias: str = "") -> tuple[str, list[Any]]:
    if window is None:
        return "TRUE", []
    col = f"{alias}start_ns" if alias else "start_ns"
    return f"{col} >= ? AND {col} < ?", [_ns(window.start), _ns(window.end)]


def _ns(t: datetime) -> int:
    return int(pd.Timestamp(t).value)


def _minutes(src: Any, window: TimeWindow | None) -> float:
    if window is not None:
        return max(window.duration.total_seconds() / 60.0, 1e-9)
    lo, hi = src.rows("SELECT min(start_ns), max(end_ns) FROM spans")[0]
    return max((hi - lo) / 6e10, 1e-9) if lo is not None else 1.0


# ------------------------------------------------------------------ service map

_EDGE_SQL = """
    SELECT p.service AS caller, c.service AS callee, {period} AS period,
           count(*) AS calls, count(*) FILTER (WHERE c.status_code = 'error') AS errors,
           quantile_cont(c.duration_ms, 0.5) AS p50_ms, quantile_cont(c.duration_ms, 0.95) AS p95_ms
    FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE c.parent_span_id IS NOT NULL AND p.service <> c.service AND ({where})
    GROUP BY ALL"""


def service_map(src: Any, window: TimeWindow | None = None) -> pd.DataFrame:
    """The calls between services in ``window`` (all spans when None): one row per edge."""
    where, params = _window_sql(window, "c.")
    frame = src.sql(_EDGE_SQL.format(period="'window'", where=where), params)
    frame = frame.drop(columns="period")
    frame["error_rate"] = frame["errors"] / frame["calls"]
    frame["rate_per_min"] = frame["calls"] / _minutes(src, window)
    return frame.sort_values(["caller", "callee"]).reset_index(drop=True)


_GRAPH_SQL = """
    SELECT DISTINCT p.service AS caller, c.service AS callee
    FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE c.parent_span_id IS NOT NULL AND p.service <> c.service"""


@dataclass(frozen=True)
class ServiceGraph:
    """Who calls whom among the services of a set of traces: ``(caller, callee)`` edges from the span tree.

    ``services`` also holds services that appear in the traces without calling or being called.
    Names are matched without regard to case (:meth:`find`).
    """

    edges: frozenset[tuple[str, str]]
    services: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", frozenset(self.services) | {s for e in self.edges for s in e})

    def find(self, name: str) -> str | None:
        """The graph's own spelling of the service ``name`` (case-insensitive), else None."""
        folded = name.strip().casefold()
        return next((s for s in sorted(self.services) if s.casefold() == folded), None) if folded else None

    def callers(self, service: str) -> set[str]:
        """Every service that calls ``service``, directly or through others."""
        graph: dict[str, set[str]] = {}
        for caller, callee in self.edges:
            graph.setdefault(callee, set()).add(caller)
        return _transitive(graph, service)

    def callees(self, service: str) -> set[str]:
        """Every service ``service`` calls, directly or through others."""
        graph: dict[str, set[str]] = {}
        for caller, callee in self.edges:
            graph.setdefault(caller, set()).add(callee)
        return _transitive(graph, service)

    def on_path(self, service: str) -> set[str]:
        """``service`` with every service that calls it or that it calls, transitively."""
        return {service} | self.callers(service) | self.callees(service)

    def chain(self, a: str, b: str) -> list[str]:
        """The shortest call chain between ``a`` and ``b`` in call order (caller first), either way; [] if none."""
        for src, dst in ((a, b), (b, a)):
            prev: dict[str, str] = {src: src}
            todo = [src]
            while todo and dst not in prev:
                nxt = []
                for node in todo:
                    for caller, callee in sorted(self.edges):
                        if caller == node and callee not in prev:
                            prev[callee] = node
                            nxt.append(callee)
                todo = nxt
            if dst in prev:
                out = [dst]
                while out[-1] != src:
                    out.append(prev[out[-1]])
                return out[::-1]
        return []

    def describe(self, service: str) -> str:
        """``service``'s place in the graph: ``txn-processor → fraud-scorer → feature-store`` (callers, it, callees;
        several at one place are joined by commas)."""
        up, down = sorted(self.callers(service)), sorted(self.callees(service))
        return " → ".join([*([", ".join(up)] if up else []), service, *([", ".join(down)] if down else [])])


def dependency_graph(src: Any, window: TimeWindow | None = None) -> ServiceGraph:
    """The service dependency graph of the spans in ``window`` (all spans when None)."""
    where, params = _window_sql(window, "c.")
    edges = src.rows(_GRAPH_SQL + f" AND ({where})", params)
    w, p = _window_sql(window)
    services = [r[0] for r in src.rows(f"SELECT DISTINCT service FROM spans WHERE {w}", p) if r[0]]
    return ServiceGraph(frozenset((str(a), str(b)) for a, b in edges if a and b), frozenset(services))


def _label(row: pd.Series, rel: float = 0.2) -> str:
    if not row["calls_base"]:
        return "new"
    if not row["calls_window"]:
        return "gone"
    err = row["error_rate_window"] - row["error_rate_base"]
    lat = (row["p95_ms_window"] - row["p95_ms_base"]) / max(row["p95_ms_base"], 1e-9)
    if err > 0.01 or lat > rel:
        return "worse"
    if err < -0.01 or lat < -rel:
        return "better"
    return "same"


def _two_windows(src: Any, sql: str, keys: list[str], baseline: TimeWindow, window: TimeWindow) -> pd.DataFrame:
    period = ("CASE WHEN c.start_ns >= ? AND c.start_ns < ? THEN 'window' ELSE 'base' END")
    where = "(c.start_ns >= ? AND c.start_ns < ?) OR (c.start_ns >= ? AND c.start_ns < ?)"
    params = [_ns(window.start), _ns(window.end), _ns(baseline.start), _ns(baseline.end),
              _ns(window.start), _ns(window.end)]
    frame = src.sql(sql.format(period=period, where=where), params)
    minutes = {"base": _minutes(src, baseline), "window": _minutes(src, window)}
    frame["error_rate"] = frame["errors"] / frame["calls"]
    frame["rate_per_min"] = frame["calls"] / frame["period"].map(minutes)
    wide = frame.pivot_table(index=keys, columns="period",
                             values=["calls", "errors", "error_rate", "rate_per_min", "p50_ms", "p95_ms"],
                             aggfunc="first")
    wide.columns = [f"{v}_{p}" for v, p in wide.columns]
    for v in ("calls", "errors", "error_rate", "rate_per_min", "p50_ms", "p95_ms"):
        for p in ("base", "window"):
            if f"{v}_{p}" not in wide:
                wide[f"{v}_{p}"] = float("nan")
    wide = wide.reset_index()
    for v in ("calls", "errors", "rate_per_min"):
        for p in ("base", "window"):
            wide[f"{v}_{p}"] = wide[f"{v}_{p}"].fillna(0)
    wide["error_rate_change"] = wide["error_rate_window"].fillna(0) - wide["error_rate_base"].fillna(0)
    wide["p95_change_ms"] = wide["p95_ms_window"] - wide["p95_ms_base"]
    wide["rate_change"] = wide["rate_per_min_window"] - wide["rate_per_min_base"]
    wide["change"] = wide.apply(_label, axis=1) if len(wide) else pd.Series(dtype=str)
    order = {"new": 0, "worse": 1, "gone": 2, "better": 3, "same": 4}
    wide["_o"] = wide["change"].map(order)
    return wide.sort_values(["_o", "error_rate_change"], ascending=[True, False]).drop(columns="_o") \
        .reset_index(drop=True)


def service_map_diff(src: Any, baseline: TimeWindow, window: TimeWindow) -> pd.DataFrame:
    """Each edge's calls, rate, error rate and latency in ``baseline`` and ``window``, and the change."""
    return _two_windows(src, _EDGE_SQL, ["caller", "callee"], baseline, window)


_SPAN_SQL = """
    SELECT c.service AS service, c.name AS operation, {period} AS period,
           count(*) AS calls, count(*) FILTER (WHERE c.status_code = 'error') AS errors,
           quantile_cont(c.duration_ms, 0.5) AS p50_ms, quantile_cont(c.duration_ms, 0.95) AS p95_ms
    FROM spans c WHERE {where} GROUP BY ALL"""


def span_diff(src: Any, baseline: TimeWindow, window: TimeWindow) -> pd.DataFrame:
    """Latency and errors per (service, operation) in ``baseline`` and ``window``, and the change."""
    return _two_windows(src, _SPAN_SQL, ["service", "operation"], baseline, window)


# ------------------------------------------------------------------ search and waterfall

_DURATION = re.compile(r"^(duration|dur|ms)\s*(>=|<=|>|<)\s*([0-9.]+)\s*(ms|s)?$", re.I)


def parse_search(query: str) -> dict[str, Any]:
    """``service:NAME operation:NAME status:error duration>250ms trace:ID KEY:VALUE`` → :func:`search` filters.

    Any other ``KEY:VALUE`` term is an attribute (``http.route:/score``); quote values with spaces.
    """
    out: dict[str, Any] = {"attributes": {}}
    try:
        terms = shlex.split(query or "")
    except ValueError as exc:
        raise InvalidInputError(f"trace search '{query}': {exc}") from None
    for term in terms:
        m = _DURATION.match(term)
        if m:
            value = float(m.group(3)) * (1000.0 if (m.group(4) or "ms").lower() == "s" else 1.0)
            out["min_ms" if m.group(2).startswith(">") else "max_ms"] = value
            continue
        if ":" not in term:
            raise InvalidInputError(f"trace search term '{term}': use KEY:VALUE (service, operation, status, "
                                    "trace, or an attribute) or duration>MS")
        key, value = term.split(":", 1)
        key = key.strip().lower() if key.strip().lower() in ("service", "operation", "name", "status", "trace") \
            else key.strip()
        if key == "service":
            out["service"] = value
        elif key in ("operation", "name"):
            out["operation"] = value
        elif key == "status":
            out["status"] = value.lower()
        elif key == "trace":
            out["trace_id"] = value.lower()
        else:
            out["attributes"][key] = value
    return out


def search(src: Any, *, service: str | None = None, operation: str | None = None, status: str | None = None,
           min_ms: float | None = None, max_ms: float | None = None, attributes: dict[str, str] | None = None,
           trace_id: str | None = None, window: TimeWindow | None = None, limit: int = 100) -> pd.DataFrame:
    """Spans matching every given filter, slowest first within the newest ``limit``."""
    where, params = _window_sql(window)
    clauses = [where]
    for col, value in (("service", service), ("name", operation), ("status_code", status),
                       ("trace_id", trace_id)):
        if value:
            clauses.append(f"{col} = ?")
            params.append(value)
    if min_ms is not None:
        clauses.append("duration_ms >= ?")
        params.append(float(min_ms))
    if max_ms is not None:
        clauses.append("duration_ms <= ?")
        params.append(float(max_ms))
    for key, value in (attributes or {}).items():
        clauses.append("json_extract_string(attributes, ?) = ?")
        params += ["$." + json.dumps(str(key)), str(value)]
    params.append(int(limit))
    return src.sql(f"SELECT * FROM spans WHERE {' AND '.join(clauses)} ORDER BY start_ns DESC LIMIT ?", params)


def waterfall(src: Any, trace_id: str) -> pd.DataFrame:
    """One trace's spans in tree order with ``depth``, ``offset_ms`` from the trace start and ``skew``.

    ``skew`` marks a span starting before its parent (clock skew); a span whose parent is not in
    the trace is a root (``orphan`` True).
    """
    spans = src.sql("SELECT trace_id, span_id, parent_span_id, service, name, kind, start, \"end\", start_ns, "
                    "end_ns, duration_ms, status_code, status_message, attributes FROM spans "
                    "WHERE trace_id = ? ORDER BY start_ns", [str(trace_id).lower()])
    if spans.empty:
        from core.errors import NotFoundError

        raise NotFoundError(f"trace {trace_id} has no spans here")
    ids = set(spans["span_id"])
    children: dict[str | None, list[int]] = {}
    for i, parent in enumerate(spans["parent_span_id"]):
        children.setdefault(parent if isinstance(parent, str) and parent in ids else None, []).append(i)
    order: list[tuple[int, int]] = []
    stack = [(i, 0) for i in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:
        i, depth = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        order.append((i, depth))
        stack += [(j, depth + 1) for j in reversed(children.get(spans.at[i, "span_id"], []))]
    order += [(i, 0) for i in range(len(spans)) if i not in seen]  # a cycle of parents: shown flat
    out = spans.iloc[[i for i, _ in order]].reset_index(drop=True)
    out["depth"] = [d for _, d in order]
    t0 = int(spans["start_ns"].min())
    out["offset_ms"] = (out["start_ns"] - t0) / 1e6
    start_of = dict(zip(spans["span_id"], spans["start_ns"]))
    out["orphan"] = [isinstance(p, str) and p not in ids for p in out["parent_span_id"]]
    out["skew"] = [p in start_of and s < start_of[p] for p, s in zip(out["parent_span_id"], out["start_ns"])]
    return out


# ------------------------------------------------------------------ cascade origin

@dataclass(frozen=True)
class CascadeRank:
    """One service's part in a cascade, with the evidence for its rank."""

    rank: int
    service: str
    degraded: bool  # own errors above the baseline (always True without a baseline when it has own errors)
    first_own_error: datetime | None
    degradation_start: datetime | None
    own_errors: int
    inherited_errors: int
    inherited_share: float
    spans: int
    own_error_rate: float
    baseline_own_error_rate: float | None
    downstream_affected: tuple[str, ...]
    callees: tuple[str, ...]
    category: str = "service"
    sample: str = ""  # one own error: operation and status message
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda t: t.isoformat().replace("+00:00", "Z") if t is not None else None)  # noqa: E731
        return {"rank": self.rank, "service": self.service, "degraded": self.degraded,
                "first_own_error": iso(self.first_own_error), "degradation_start": iso(self.degradation_start),
                "own_errors": self.own_errors, "inherited_errors": self.inherited_errors,
                "inherited_share": round(self.inherited_share, 4), "spans": self.spans,
                "own_error_rate": round(self.own_error_rate, 6),
                "baseline_own_error_rate": None if self.baseline_own_error_rate is None
                else round(self.baseline_own_error_rate, 6),
                "downstream_affected": list(self.downstream_affected), "callees": list(self.callees),
                "category": self.category, "sample": self.sample, "reason": self.reason}


_OWN_SQL = """
    WITH err_parents AS (SELECT DISTINCT trace_id, parent_span_id AS span_id FROM spans
                         WHERE status_code = 'error' AND parent_span_id IS NOT NULL AND ({where})),
    e AS (SELECT s.service, s.start, s.start_ns, s.trace_id, s.name, s.status_message,
                 ep.span_id IS NOT NULL AS inherited
          FROM spans s LEFT JOIN err_parents ep ON ep.trace_id = s.trace_id AND ep.span_id = s.span_id
          WHERE s.status_code = 'error' AND ({where_s}))
    SELECT service, count(*) FILTER (WHERE NOT inherited) AS own, count(*) FILTER (WHERE inherited) AS inherited,
           min(start) FILTER (WHERE NOT inherited) AS first_own,
           list(start ORDER BY start_ns) FILTER (WHERE NOT inherited)[{k}] AS kth_own,
           arg_min(name || ': ' || status_message, start_ns) FILTER (WHERE NOT inherited) AS sample
    FROM e GROUP BY service"""


def _own_errors(src: Any, window: TimeWindow | None) -> pd.DataFrame:
    where, params = _window_sql(window)
    where_s, params_s = _window_sql(window, "s.")
    return src.sql(_OWN_SQL.format(where=where, where_s=where_s, k=DEGRADE_AT), params + params_s)


def _callers_graph(edges: pd.DataFrame) -> dict[str, set[str]]:
    callers: dict[str, set[str]] = {}
    for caller, callee in zip(edges["caller"], edges["callee"]):
        callers.setdefault(callee, set()).add(caller)
    return callers


def _transitive(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen and nxt != start:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def origin_category(src: Any, service: str, window: TimeWindow | None = None) -> str:
    """What kind of failure ``service``'s own errors are: database, cache, network, data or service."""
    where, params = _window_sql(window, "s.")
    rows = src.rows(f"""
        SELECT s.name, s.kind, s.status_message, s.attributes FROM spans s
        ANTI JOIN (SELECT DISTINCT trace_id, parent_span_id FROM spans WHERE status_code = 'error'
                   AND parent_span_id IS NOT NULL) c ON c.trace_id = s.trace_id AND c.parent_span_id = s.span_id
        WHERE s.service = ? AND s.status_code = 'error' AND ({where})
        ORDER BY s.start_ns LIMIT 200""", [service] + params)
    votes = {"database": 0, "cache": 0, "network": 0}
    for name, kind, message, attrs in rows:
        try:
            a = json.loads(attrs or "{}")
        except ValueError:
            a = {}
        system = str(a.get("db.system") or a.get("db.system.name") or "").lower()
        if system in CACHE_SYSTEMS or "cache" in str(name).lower():
            votes["cache"] += 1
        elif system:
            votes["database"] += 1
        elif NETWORK_WORDS.search(f"{message} {a.get('error.type', '')}") or \
                any(k.startswith(("net.", "network.")) for k in a) and kind == "client":
            votes["network"] += 1
    if rows:
        best = max(votes, key=votes.get)
        if votes[best] * 2 > len(rows):
            return best
    if DATA_SERVICE.search(service):
        return "data"
    return "service"


def cascade_ranking(src: Any, window: TimeWindow | None = None,
                    baseline: TimeWindow | None = None) -> list[CascadeRank]:
    """Services ranked by how likely their own failure started the cascade (see the module docstring)."""
    errs = _own_errors(src, window)
    base = _own_errors(src, baseline).set_index("service") if baseline is not None else None
    where, params = _window_sql(window)
    counts = dict(src.rows(f"SELECT service, count(*) FROM spans WHERE {where} GROUP BY 1", params))
    base_counts: dict[str, int] = {}
    if baseline is not None:
        bw, bp = _window_sql(baseline)
        base_counts = dict(src.rows(f"SELECT service, count(*) FROM spans WHERE {bw} GROUP BY 1", bp))
    edges = service_map(src, window)
    callers = _callers_graph(edges)
    callees: dict[str, set[str]] = {}
    for caller, callee in zip(edges["caller"], edges["callee"]):
        callees.setdefault(caller, set()).add(callee)
    # per own-error service: the services with error spans in the same traces
    w_s, p_s = _window_sql(window, "s.")
    pairs = src.rows(f"""
        WITH err AS (SELECT trace_id, span_id, parent_span_id, service FROM spans s
                     WHERE status_code = 'error' AND ({w_s})),
             own AS (SELECT DISTINCT s.trace_id, s.service FROM err s
                     ANTI JOIN err c ON c.trace_id = s.trace_id AND c.parent_span_id = s.span_id),
             bad AS (SELECT DISTINCT trace_id, service FROM err)
        SELECT own.service, bad.service FROM own JOIN bad USING (trace_id)
        WHERE own.service <> bad.service GROUP BY 1, 2""", p_s)
    together: dict[str, set[str]] = {}
    for a, b in pairs:
        together.setdefault(a, set()).add(b)
    rows = []
    # a degradation is sustained: DEGRADE_AT own errors (fewer only when no service has that many)
    need = min(DEGRADE_AT, int(errs["own"].max())) if len(errs) else DEGRADE_AT
    for r in errs.itertuples(index=False):
        own, inh = int(r.own), int(r.inherited)
        n = int(counts.get(r.service, 0)) or 1
        rate = own / n
        b_rate = None
        degraded = own >= max(need, 1)
        if base is not None:
            b_own = int(base.at[r.service, "own"]) if r.service in base.index else 0
            b_rate = b_own / max(int(base_counts.get(r.service, 0)), 1)
            degraded = degraded and rate > 1.5 * b_rate + 0.001
        first = r.first_own if own else None
        kth = r.kth_own if own >= DEGRADE_AT else (first if degraded else None)
        affected = tuple(sorted(together.get(r.service, set()) & _transitive(callers, r.service)))
        rows.append(dict(service=r.service, degraded=degraded, first_own_error=_ts(first),
                         degradation_start=_ts(kth), own_errors=own, inherited_errors=inh,
                         inherited_share=inh / (own + inh) if own + inh else 0.0, spans=n, own_error_rate=rate,
                         baseline_own_error_rate=b_rate, downstream_affected=affected,
                         callees=tuple(sorted(callees.get(r.service, set()))),
                         sample=str(r.sample or "") if own else ""))
    far = pd.Timestamp.max.tz_localize("UTC")
    rows.sort(key=lambda d: (not d["degraded"], d["degradation_start"] or d["first_own_error"] or far,
                             d["inherited_share"]))
    # within TIE_SECONDS, a callee of a candidate goes first (it is where the failure came from)
    changed = True
    while changed:
        changed = False
        for i in range(len(rows) - 1):
            a, b = rows[i], rows[i + 1]
            if a["degraded"] != b["degraded"] or a["degradation_start"] is None or b["degradation_start"] is None:
                continue
            close = abs((b["degradation_start"] - a["degradation_start"]).total_seconds()) < TIE_SECONDS
            if close and b["service"] in _transitive(callees, a["service"]) \
                    and a["service"] not in _transitive(callees, b["service"]):
                rows[i], rows[i + 1] = b, a
                changed = True
    out = []
    for i, d in enumerate(rows, 1):
        category = origin_category(src, d["service"], window) if i == 1 and d["own_errors"] else \
            ("data" if DATA_SERVICE.search(d["service"]) else "service")
        out.append(CascadeRank(rank=i, category=category, reason=_reason(d, i), **d))
    return out


def _ts(value: Any) -> datetime | None:
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime() if pd.Timestamp(value).tzinfo \
        else pd.Timestamp(value).tz_localize("UTC").to_pydatetime()


def _reason(d: dict[str, Any], rank: int) -> str:
    if not d["own_errors"]:
        return f"no errors of its own: {d['inherited_errors']} error(s), all inherited from the services it calls"
    when = d["first_own_error"].strftime("%H:%M:%S") if d["first_own_error"] else "?"
    text = (f"own errors from {when} ({d['own_errors']} own, {d['inherited_share']:.0%} of its errors "
            f"inherited)")
    if d["downstream_affected"]:
        text += f"; errors followed in {', '.join(d['downstream_affected'])}"
    if not d["degraded"]:
        text += "; not above its baseline own-error rate"
    return text
