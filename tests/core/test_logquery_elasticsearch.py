"""ElasticsearchLogSource against a local HTTP stand-in server (NOT Elasticsearch).

No Elasticsearch server can be installed on these machines. These tests point the
official client at ``StandInElasticsearchServer``, a tiny HTTP server that records
each request and answers with canned, correctly shaped JSON or a chosen error.
They check what we send (compiled DSL, time range, point in time, search_after,
aggregations, authentication, timeouts) and how failures read; they do not
check search results. Result counts against a real cluster are covered by
tests/core/test_logquery_corpus.py when ``ES_URL`` is set.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from core.logquery import FieldKind, to_es_dsl
from core.models import TimeWindow
from core.sources.elastic import ElasticConfig, ElasticsearchLogSource, safe_url
from core.sources.logs import LogSource

WINDOW = TimeWindow.parse("2024-05-01T00:00:00Z/2024-05-02T00:00:00Z")
MAPPING = {"logs-demo": {"mappings": {"properties": {
    "@timestamp": {"type": "date"},
    "message": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
    "log": {"properties": {"level": {"type": "keyword"}}},
    "service": {"properties": {"name": {"type": "keyword"}}},
    "latency_ms": {"type": "long"},
}}}}


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class StandInElasticsearchServer:
    """A stand-in for Elasticsearch (it is NOT Elasticsearch): records requests, returns canned JSON.

    ``fail_with`` makes every request fail with that HTTP status; ``delay_s`` delays every answer.
    """

    hits: list[dict[str, Any]] = field(default_factory=list)
    mapping: dict[str, Any] = field(default_factory=lambda: MAPPING)
    fail_with: int | None = None
    delay_s: float = 0.0
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                body = json.loads(raw) if raw else None
                standin.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                                 {k.lower(): v for k, v in self.headers.items()}, body))
                if standin.delay_s:
                    time.sleep(standin.delay_s)
                if standin.fail_with:
                    err = {"type": {401: "security_exception", 403: "security_exception",
                                    404: "index_not_found_exception"}.get(standin.fail_with, "parsing_exception"),
                           "reason": "stand-in failure"}
                    self._reply(standin.fail_with, {"error": {"root_cause": [err], **err},
                                                    "status": standin.fail_with})
                    return
                try:
                    self._reply(200, standin.answer(self.command, parts.path, body or {}))
                except BrokenPipeError:  # the client gave up (timeout tests)
                    pass

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "StandInElasticsearchServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, body: dict[str, Any]) -> Any:
        if path.endswith("/_mapping"):
            return self.mapping
        if path.endswith("/_pit") and method == "POST":
            return {"id": "pit-1"}
        if path == "/_pit" and method == "DELETE":
            return {"succeeded": True, "num_freed": 1}
        if path.endswith("/_count"):
            return {"count": len(self.hits)}
        if body.get("aggs"):
            aggs = {}
            for name, spec in body["aggs"].items():
                if "date_histogram" in spec:
                    aggs[name] = {"buckets": [{"key": 1714564800000, "doc_count": 3, "split": {"buckets": [
                        {"key": "ERROR", "doc_count": 1}, {"key": "INFO", "doc_count": 2}]}}]}
                else:
                    aggs[name] = {"sum_other_doc_count": 4, "buckets": [{"key": "checkout", "doc_count": 3}]}
            return {"hits": {"total": {"value": 3, "relation": "eq"}, "hits": []}, "aggregations": aggs}
        after = body.get("search_after")
        start = 0 if not after else next((i + 1 for i, h in enumerate(self.hits) if h["sort"] == after),
                                         len(self.hits))
        page = self.hits[start:start + body.get("size", 10)]
        out: dict[str, Any] = {"hits": {"total": {"value": len(self.hits), "relation": "eq"}, "hits": page}}
        if "pit" in body:
            out["pit_id"] = "pit-2"
        return out


def make_hits(n: int) -> list[dict[str, Any]]:
    return [{"_index": "logs-demo", "_id": f"doc-{i}", "sort": [1714564799000 - i * 1000, n - i],
             "_source": {"@timestamp": f"2024-05-01T11:{59 - i // 60:02d}:{59 - i % 60:02d}.000Z",
                         "message": f"line {i}", "log": {"level": "INFO"}, "service": {"name": "checkout"}}}
            for i in range(n)]


@pytest.fixture
def standin():
    with StandInElasticsearchServer(hits=make_hits(7)) as srv:
        yield srv


def source_for(srv: StandInElasticsearchServer, **kw: Any) -> ElasticsearchLogSource:
    return ElasticsearchLogSource(ElasticConfig(url=srv.url, index="logs-*", **kw))


def searches(srv: StandInElasticsearchServer) -> list[Recorded]:
    return [r for r in srv.requests if r.path.endswith("/_search")]


def test_fields_come_from_the_flattened_mapping(standin):
    source = source_for(standin)
    assert isinstance(source, LogSource)
    assert source.info.fields == {
        "@timestamp": FieldKind.DATE, "message": FieldKind.TEXT, "message.keyword": FieldKind.KEYWORD,
        "log.level": FieldKind.KEYWORD, "service.name": FieldKind.KEYWORD, "latency_ms": FieldKind.NUMBER}
    assert standin.requests[0].method == "GET" and standin.requests[0].path == "/logs-*/_mapping"


def test_search_uses_compiled_dsl_time_range_and_a_point_in_time(standin):
    source = source_for(standin, api_key="id:secret")
    page = source.search('log.level:ERROR AND "cache miss"', WINDOW, size=3)
    assert page.total == 7 and [h.id for h in page.hits] == ["doc-0", "doc-1", "doc-2"]
    assert page.hits[0].fields["service.name"] == "checkout" and page.hits[0].timestamp is not None
    pit = [r for r in standin.requests if r.path == "/logs-*/_pit"]
    assert pit and pit[0].params["keep_alive"] == ["2m"]
    body = searches(standin)[0].body
    assert searches(standin)[0].path == "/_search"  # with a PIT the index is not named
    assert body["pit"] == {"id": "pit-1", "keep_alive": "2m"}
    assert body["track_total_hits"] is True and body["size"] == 3
    assert body["sort"][1] == {"_shard_doc": {"order": "desc"}}
    time_filter, query = body["query"]["bool"]["filter"]
    assert time_filter == {"range": {"@timestamp": {"gte": "2024-05-01T00:00:00.000Z", "lt": "2024-05-02T00:00:00.000Z",
                                                    "format": "strict_date_optional_time"}}}
    assert query == to_es_dsl('log.level:ERROR AND "cache miss"', source.info.fields)
    # the next page continues with search_after and the newest PIT id
    nxt = source.search("log.level:ERROR", WINDOW, size=3, cursor=page.cursor)
    assert [h.id for h in nxt.hits] == ["doc-3", "doc-4", "doc-5"]
    body2 = searches(standin)[1].body
    assert body2["search_after"] == list(page.hits[-1].sort) and body2["pit"]["id"] == "pit-2"
    assert standin.requests[0].headers["authorization"].startswith("ApiKey ")


def test_histogram_and_top_values_use_aggregations(standin):
    source = source_for(standin)
    hist = source.histogram("", WINDOW, buckets=48)
    agg = searches(standin)[0].body["aggs"]["h"]
    assert agg["date_histogram"] == {"field": "@timestamp", "fixed_interval": "1800s", "min_doc_count": 1}
    assert agg["aggs"]["split"]["terms"]["field"] == "log.level"
    assert {(b.key, b.count) for b in hist.buckets} == {("ERROR", 1), ("INFO", 2)} and hist.total == 3
    facets = source.top_values("", WINDOW, ["service.name", "message"])
    aggs = searches(standin)[1].body["aggs"]
    assert aggs["f0"]["terms"]["field"] == "service.name"
    assert aggs["f1"]["terms"]["field"] == "message.keyword"  # text facets use the keyword sub-field
    assert searches(standin)[1].body["size"] == 0
    assert facets[0].values == (("checkout", 3),) and facets[0].other == 4


def test_messages_page_through_with_search_after_and_close_the_pit(standin):
    source = source_for(standin)
    lines = source.messages("", WINDOW)
    assert lines == [f"line {i}" for i in range(7)]
    body = searches(standin)[0].body
    assert body["_source"] == ["message"] and body["sort"][0]["@timestamp"]["order"] == "asc"
    assert standin.requests[-1].method == "DELETE" and standin.requests[-1].body == {"id": "pit-2"}


def test_surrounding_lines_stay_in_the_same_service(standin):
    source = source_for(standin)
    hit = source.search("", WINDOW, size=1).hits[0]
    around = source.surrounding(hit, n=2)
    assert hit in around
    before, after = searches(standin)[-2:]
    assert {"term": {"service.name": "checkout"}} in before.body["query"]["bool"]["filter"]
    assert before.body["size"] == 2 and after.body["sort"] == [{"@timestamp": {"order": "asc"}}]


def test_basic_auth_and_no_credentials_in_messages_or_repr():
    with StandInElasticsearchServer(fail_with=401) as srv:
        url = srv.url.replace("http://", "http://bob:hunter2@")
        config = ElasticConfig(url=url, index="logs-*", username="bob", password="hunter2")
        assert "hunter2" not in repr(config) and "bob" not in str(config)
        with pytest.raises(SourceUnavailableError, match="refused the credentials") as info:
            ElasticsearchLogSource(config)
        assert "hunter2" not in str(info.value) and "bob" not in str(info.value)
        assert srv.requests[0].headers["authorization"].startswith("Basic ")


@pytest.mark.parametrize("status, error, words", [
    (403, SourceUnavailableError, "may not read"),
    (404, NotFoundError, "not found"),
    (400, InvalidInputError, "rejected the query"),
    (500, SourceUnavailableError, "failed to read the index mapping"),
])
def test_http_errors_read_clearly(status, error, words):
    with StandInElasticsearchServer(fail_with=status) as srv, pytest.raises(error, match=words):
        source_for(srv)


def test_unreachable_and_slow_clusters_fail_within_the_timeout():
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match="unreachable"):
        ElasticsearchLogSource(ElasticConfig(url="http://127.0.0.1:9", timeout_s=2))
    assert time.monotonic() - started < 5
    with StandInElasticsearchServer(delay_s=2) as srv:
        started = time.monotonic()
        with pytest.raises(SourceUnavailableError, match="did not answer within 1 s"):
            ElasticsearchLogSource(ElasticConfig(url=srv.url, timeout_s=1))
        assert time.monotonic() - started < 2.5


def test_missing_index_pattern_and_time_field():
    with StandInElasticsearchServer() as srv:
        srv.mapping = {}
        with pytest.raises(NotFoundError, match="matches no index"):
            source_for(srv)
        srv.mapping = MAPPING
        with pytest.raises(InvalidInputError, match="ES_TIME_FIELD"):
            ElasticsearchLogSource(ElasticConfig(url=srv.url, time_field="ts"))


def test_config_from_env_and_secrets(tmp_path):
    with pytest.raises(InvalidInputError, match="ES_URL"):
        ElasticConfig.from_env({}, secrets_path=tmp_path / "none.toml")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[elasticsearch]\nurl = "https://es.example:9200"\napi_key = "k"\nindex = "app-*"\n')
    c = ElasticConfig.from_env({"ES_TIMEOUT": "3"}, secrets_path=secrets)
    assert (c.url, c.index, c.api_key, c.timeout_s) == ("https://es.example:9200", "app-*", "k", 3.0)
    c = ElasticConfig.from_env({"ES_URL": "http://x:9200", "ES_INDEX": "i"}, secrets_path=secrets)
    assert (c.url, c.index) == ("http://x:9200", "i")
    with pytest.raises(InvalidInputError, match="ES_TIMEOUT"):
        ElasticConfig.from_env({"ES_URL": "http://x", "ES_TIMEOUT": "soon"}, secrets_path=secrets)
    with pytest.raises(InvalidInputError, match="CA certificate"):
        ElasticConfig(url="https://x", ca_certs=str(tmp_path / "ca.pem")).client()
    assert safe_url("https://u:p@es.example:9200/x?y=1") == "https://es.example:9200/x"
