"""Traces from a Jaeger query service and from Grafana Tempo, against recorded responses.

No Jaeger or Tempo server runs here: a local ``http.server`` answers the documented endpoints
(Jaeger's ``/api/services`` and ``/api/traces``; Tempo's ``/api/search`` and ``/api/traces/<id>``)
with responses shaped exactly as those APIs answer. They are recorded from spans the real
OpenTelemetry SDK produced (the fraud call chain of ``test_traces_otel``): converted to Jaeger's JSON
model as Jaeger's OTLP receiver stores them, and, for Tempo, the SDK's own OTLP encoding of each
trace (protobuf JSON: base64 ids, enum names) under ``batches``. The same spans written as OTLP files
must give the same cascade ranking and service map.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("opentelemetry.sdk.trace")
pytest.importorskip("opentelemetry.exporter.otlp.proto.common")

from google.protobuf.json_format import MessageToJson  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from core.analysis.traces import cascade_ranking, service_map, service_map_diff  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.errors import InvalidInputError, SourceUnavailableError  # noqa: E402
from core.models import TimeWindow, iso  # noqa: E402
from core.sources.factory import open_source  # noqa: E402
from core.sources.traces_otel import load_traces  # noqa: E402
from tests.core.test_traces_otel import BASELINE, WINDOW, fraud_chain, write_collector_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "jgr_secret_token_42"
USER, PASSWORD = "reader", "tempo-s3cret-pw"
BOTH = TimeWindow(BASELINE.start, WINDOW.end)


# ------------------------------------------------------------------ recording: SDK spans → the APIs' answers

def _jaeger_tag(key, value):
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    return {"key": key, "type": "string", "value": str(value)}


def jaeger_trace(spans) -> dict:
    """One trace in the Jaeger query API's JSON model (as Jaeger stores OTLP spans it receives)."""
    processes, by_service, out = {}, {}, []
    for sp in spans:
        service = sp.resource.attributes["service.name"]
        if service not in by_service:
            pid = f"p{len(by_service) + 1}"
            by_service[service] = pid
            processes[pid] = {"serviceName": service,
                              "tags": [_jaeger_tag(k, v) for k, v in sp.resource.attributes.items()
                                       if k != "service.name"]}
        tags = [_jaeger_tag(k, v) for k, v in (sp.attributes or {}).items()]
        tags.append(_jaeger_tag("otel.scope.name", sp.instrumentation_scope.name))
        tags.append(_jaeger_tag("span.kind", sp.kind.name.lower()))
        if sp.status.status_code is not StatusCode.UNSET:
            tags.append(_jaeger_tag("otel.status_code", sp.status.status_code.name))
        if sp.status.status_code is StatusCode.ERROR:
            tags.append(_jaeger_tag("error", True))
            if sp.status.description:
                tags.append(_jaeger_tag("otel.status_description", sp.status.description))
        tid = f"{sp.context.trace_id:032x}"
        refs = ([{"refType": "CHILD_OF", "traceID": tid, "spanID": f"{sp.parent.span_id:016x}"}]
                if sp.parent is not None else [])
        out.append({"traceID": tid, "spanID": f"{sp.context.span_id:016x}", "flags": 1,
                    "operationName": sp.name, "references": refs, "startTime": sp.start_time // 1000,
                    "duration": (sp.end_time - sp.start_time) // 1000, "tags": tags, "logs": [],
                    "processID": by_service[service], "warnings": None})
    return {"traceID": f"{spans[0].context.trace_id:032x}", "spans": out, "processes": processes, "warnings": None}


def tempo_trace(spans) -> dict:
    """One trace as Tempo's ``GET /api/traces/<id>`` answers it: OTLP (protobuf JSON) under ``batches``."""
    doc = json.loads(MessageToJson(encode_spans(spans), indent=None))
    return {"batches": doc["resourceSpans"]}


class Recorded:
    """The recorded answers of both APIs for one set of SDK spans."""

    def __init__(self, spans) -> None:
        traces = defaultdict(list)
        for sp in spans:
            traces[sp.context.trace_id].append(sp)
        self.traces = []
        for tid, group in traces.items():
            root = min(group, key=lambda s: s.start_time)
            self.traces.append({
                "id": f"{tid:032x}", "start_ns": root.start_time,
                "services": {s.resource.attributes["service.name"] for s in group},
                "jaeger": jaeger_trace(group), "tempo": tempo_trace(group),
                "search": {"traceID": f"{tid:x}",  # Tempo's search drops leading zeros
                           "rootServiceName": root.resource.attributes["service.name"],
                           "rootTraceName": root.name, "startTimeUnixNano": str(root.start_time),
                           "durationMs": (root.end_time - root.start_time) // 1_000_000}})
        self.traces.sort(key=lambda t: t["start_ns"])


class _Server(BaseHTTPRequestHandler):
    recorded: Recorded | None = None
    requests: list[tuple[str, dict, dict]] = []
    mode = "ok"  # ok | 401 | 403 | slow | html | shape | 500

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        type(self).requests.append((parts.path, q, dict(self.headers)))
        mode = type(self).mode
        if mode == "slow":
            time.sleep(2)
        if mode in ("401", "403", "500"):
            return self._send(int(mode), {"message": "unauthorized" if mode != "500" else "boom"})
        if mode == "html":
            return self._send(200, "<html><body>Grafana login</body></html>", raw=True)
        if mode == "shape":
            return self._send(200, {"result": "something else"})
        auth = self.headers.get("Authorization")
        want = (f"Bearer {TOKEN}", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        if auth not in want:
            return self._send(401, {"message": "no credentials"})
        rec = type(self).recorded
        if parts.path == "/api/services":
            services = sorted({s for t in rec.traces for s in t["services"]})
            return self._send(200, {"data": services, "total": len(services), "limit": 0, "offset": 0,
                                    "errors": None})
        if parts.path == "/api/traces":  # Jaeger: start/end in microseconds
            start, end, limit = int(q["start"]) * 1000, int(q["end"]) * 1000, int(q.get("limit", 20))
            hits = [t["jaeger"] for t in rec.traces
                    if q["service"] in t["services"] and start <= t["start_ns"] <= end][:limit]
            return self._send(200, {"data": hits, "total": 0, "limit": 0, "offset": 0, "errors": None})
        if parts.path == "/api/search":  # Tempo: start/end in seconds
            start, end, limit = int(q["start"]) * 10**9, int(q["end"]) * 10**9, int(q.get("limit", 20))
            hits = [t for t in rec.traces if start <= t["start_ns"] <= end]
            if "tags" in q:
                key, _, value = q["tags"].partition("=")
                assert key == "service.name"
                hits = [t for t in hits if value.strip('"') in t["services"]]
            body = {"traces": [t["search"] for t in hits[:limit]],
                    "metrics": {"inspectedBytes": "4096", "completedJobs": 1, "totalJobs": 1}}
            if not hits:
                body.pop("traces")  # Tempo leaves the list out when nothing matched
            return self._send(200, body)
        if parts.path.startswith("/api/traces/"):
            tid = parts.path.rsplit("/", 1)[1].rjust(32, "0")
            for t in rec.traces:
                if t["id"] == tid:
                    return self._send(200, t["tempo"])
            return self._send(404, {"message": "trace not found"})
        return self._send(404, {"message": "404 page not found"})

    def _send(self, status, body, raw=False):
        data = (body if raw else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def chain_spans():
    return fraud_chain().spans()


@pytest.fixture(scope="module")
def from_files(chain_spans, tmp_path_factory):
    folder = tmp_path_factory.mktemp("otlp")
    write_collector_file(folder / "spans.jsonl", chain_spans, otlp_json=True)
    return load_traces(folder)


@pytest.fixture()
def server(chain_spans):
    _Server.recorded = Recorded(chain_spans)
    _Server.requests = []
    _Server.mode = "ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _env(system: str, url: str, **extra) -> dict:
    env = {f"{system.upper()}_URL": url, f"{system.upper()}_TIMEOUT": "1"}
    if system == "jaeger":
        env["JAEGER_TOKEN"] = TOKEN
    else:
        env.update({"TEMPO_USERNAME": USER, "TEMPO_PASSWORD": PASSWORD, "TEMPO_TENANT": "fraud"})
    env.update({f"{system.upper()}_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def _open(system: str, url: str, window: TimeWindow = BOTH, **extra):
    settings = load_settings(_env(system, url, **extra), secrets_path=Path("/nonexistent.toml"))
    return open_source("traces", f"{system}:{iso(window.start)}/{iso(window.end)}", settings)


def _same_analyses(api, files) -> None:
    assert api.info.spans == files.info.spans == 480
    assert api.info.traces == files.info.traces == 120
    assert api.info.services == files.info.services
    assert api.info.warnings == []
    for window, baseline in ((WINDOW, BASELINE), (WINDOW, None), (None, None)):
        assert ([r.to_dict() for r in cascade_ranking(api, window, baseline)]
                == [r.to_dict() for r in cascade_ranking(files, window, baseline)])
    assert cascade_ranking(api, WINDOW, BASELINE)[0].service == "feature-store"
    assert service_map(api).to_dict(orient="records") == service_map(files).to_dict(orient="records")
    assert (service_map_diff(api, BASELINE, WINDOW).to_dict(orient="records")
            == service_map_diff(files, BASELINE, WINDOW).to_dict(orient="records"))
    cols = ["trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_ns", "end_ns",
            "status_code", "status_message"]
    order = "ORDER BY trace_id, span_id"
    assert api.sql(f"SELECT {', '.join(cols)} FROM spans {order}").equals(
        files.sql(f"SELECT {', '.join(cols)} FROM spans {order}"))


# ------------------------------------------------------------------ the same analyses as from OTLP files

def test_jaeger_gives_the_same_cascade_and_service_map_as_otlp_files(server, from_files):
    src = _open("jaeger", server)
    _same_analyses(src, from_files)
    row = src.sql("SELECT attributes FROM spans WHERE name = 'GET' LIMIT 1").iloc[0, 0]
    attrs = json.loads(row)
    assert attrs["db.system"] == "redis" and attrs["resource.deployment.environment"] == "prod"
    paths = [p for p, _q, _h in _Server.requests]
    assert paths[0] == "/api/services" and paths.count("/api/traces") == 3
    for _p, q, headers in _Server.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
    q = _Server.requests[1][1]
    assert int(q["start"]) == int(BOTH.start.timestamp() * 1e6) and int(q["end"]) == int(BOTH.end.timestamp() * 1e6)


def test_tempo_gives_the_same_cascade_and_service_map_as_otlp_files(server, from_files):
    src = _open("tempo", server)
    _same_analyses(src, from_files)
    search = [(q, h) for p, q, h in _Server.requests if p == "/api/search"]
    assert len(search) == 1
    q, headers = search[0]
    assert int(q["start"]) == int(BOTH.start.timestamp()) and int(q["limit"]) == 500
    assert headers["Authorization"].startswith("Basic ") and headers["X-Scope-OrgID"] == "fraud"
    assert sum(p.startswith("/api/traces/") for p, _q, _h in _Server.requests) == 120


def test_the_window_and_the_service_narrow_what_is_fetched(server):
    baseline = TimeWindow(BASELINE.start, BASELINE.end - timedelta(seconds=1))  # the 10:30 trace is the window's
    src = _open("jaeger", server, baseline)
    assert src.info.traces == 60 and src.info.end < BASELINE.end
    tempo = _open("tempo", server, WINDOW, service="feature-store")
    assert tempo.info.traces == 60
    assert [q["tags"] for p, q, _h in _Server.requests if p == "/api/search"] == ["service.name=feature-store"]


@pytest.mark.parametrize("system", ["jaeger", "tempo"])
def test_at_most_max_traces_are_read_and_the_cut_is_said(server, system):
    src = _open(system, server, max_traces=10)
    assert src.info.traces == 10
    assert any("MAX_TRACES=10" in w for w in src.info.warnings)
    assert len([p for p, _q, _h in _Server.requests if p.startswith("/api/traces/")]) <= 10


@pytest.mark.parametrize("system", ["jaeger", "tempo"])
def test_no_spans_in_the_window_is_a_clear_message(server, system):
    empty = TimeWindow(WINDOW.end + timedelta(days=1), WINDOW.end + timedelta(days=2))
    with pytest.raises(InvalidInputError, match="no spans in this window"):
        _open(system, server, empty)


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("system", ["jaeger", "tempo"])
@pytest.mark.parametrize("mode, expected", [("401", "refused the credentials"), ("403", "refused the credentials"),
                                            ("slow", "did not answer within 1 s"), ("500", "HTTP 500"),
                                            ("html", "not JSON"), ("shape", "unexpected shape")])
def test_api_errors_are_one_clear_message_without_credentials(server, system, mode, expected):
    _Server.mode = mode
    with pytest.raises(SourceUnavailableError) as err:
        _open(system, server)
    msg = str(err.value)
    assert expected in msg and "127.0.0.1" in msg
    assert TOKEN not in msg and PASSWORD not in msg and USER not in msg


def test_unreachable_and_unconfigured():
    from tests.servers import free_port

    with pytest.raises(SourceUnavailableError, match="cannot be reached") as err:
        _open("jaeger", f"http://127.0.0.1:{free_port()}")
    assert TOKEN not in str(err.value)
    settings = load_settings({}, secrets_path=Path("/nonexistent.toml"))
    with pytest.raises(InvalidInputError, match="TEMPO_URL"):
        open_source("traces", "tempo", settings)
    with pytest.raises(InvalidInputError, match="not a time range"):
        open_source("traces", "jaeger:yesterday", settings)


def test_credentials_never_show_in_repr(server):
    from core.sources.traces_api import JaegerClient, TempoClient

    env = {**_env("jaeger", server), **_env("tempo", server)}
    settings = load_settings(env, secrets_path=Path("/nonexistent.toml"))
    for cls in (JaegerClient, TempoClient):
        shown = repr(cls.from_settings(settings)) + repr(settings.section(cls.system))
        assert TOKEN not in shown and PASSWORD not in shown


# ------------------------------------------------------------------ the command line

def _cli(args, env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("JAEGER_", "TEMPO_"))}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "core", "traces", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def test_cli_reads_jaeger_and_tempo_through_the_factory(server):
    win = f"{iso(WINDOW.start)}/{iso(WINDOW.end)}"
    base = f"{iso(BASELINE.start)}/{iso(BASELINE.end)}"
    for system in ("jaeger", "tempo"):
        proc = _cli([system, "--window", win, "--baseline", base, "--json"], _env(system, server))
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["cascade"][0]["service"] == "feature-store"
        assert out["read"]["traces"] == 120  # the baseline and the window together
        assert {(e["caller"], e["callee"]) for e in out["service_map"]} == {("txn-processor", "scorer"),
                                                                            ("scorer", "feature-store")}
        assert TOKEN not in proc.stdout and PASSWORD not in proc.stdout


def test_cli_unauthorised_api_exits_4_without_the_token(server):
    _Server.mode = "401"
    proc = _cli(["jaeger", "--window", f"{iso(WINDOW.start)}/{iso(WINDOW.end)}"], _env("jaeger", server))
    assert proc.returncode == 4
    assert "refused the credentials" in proc.stderr and TOKEN not in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
