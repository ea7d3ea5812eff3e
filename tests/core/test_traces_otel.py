"""OTLP JSON traces: spans made by the real OpenTelemetry SDK in a simulated call chain, encoded with the
SDK's own OTLP encoder, read back into DuckDB; service map, window diffs, waterfall, cascade origin, and
bad input (truncated lines, non-OTLP JSON, missing parents, clock skew).

The chain: txn-processor → scorer → feature-store (→ redis). From 10:35 the feature store fails
("feature feed stale"); the scorer and the transaction processor fail because of it (inherited errors).
A stray transaction-processor error at 10:31 must not make it the origin.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk.trace")
pytest.importorskip("opentelemetry.exporter.otlp.proto.common")

from google.protobuf.json_format import MessageToJson  # noqa: E402
from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: E402

from core.analysis.traces import (  # noqa: E402
    cascade_ranking, parse_search, search, service_map, service_map_diff, span_diff, waterfall,
)
from core.errors import InvalidInputError  # noqa: E402
from core.models import TimeWindow  # noqa: E402
from core.sources.traces_otel import OtelTraceSource, load_traces  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 10, 10, 0, tzinfo=timezone.utc)
BASELINE = TimeWindow(T0, T0 + timedelta(minutes=30))
WINDOW = TimeWindow(T0 + timedelta(minutes=30), T0 + timedelta(minutes=60))
FAIL_AT = T0 + timedelta(minutes=35)
STRAY_AT = T0 + timedelta(minutes=31)


def ns(t: datetime) -> int:
    return int(t.timestamp() * 1e9)


class Chain:
    """Three services, each with its own TracerProvider (its own resource), exporting into one memory exporter."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracers = {}
        for name in ("txn-processor", "scorer", "feature-store"):
            provider = TracerProvider(resource=Resource.create({"service.name": name, "deployment.environment": "prod"}))
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.tracers[name] = provider.get_tracer("fraud-demo")

    def request(self, at: datetime, *, feature_fails: bool = False, stray: bool = False, skew_ms: float = 0.0,
                slow_ms: float = 0.0, cache_fails: bool = False):
        t = ns(at)
        txn = self.tracers["txn-processor"].start_span("POST /transactions", kind=SpanKind.SERVER, start_time=t,
                                                      attributes={"http.route": "/transactions"})
        ctx = otel_trace.set_span_in_context(txn)
        score = self.tracers["scorer"].start_span("score", kind=SpanKind.SERVER, context=ctx,
                                                  start_time=t + int(2e6 - skew_ms * 1e6),
                                                  attributes={"model.name": "fraud"})
        ctx2 = otel_trace.set_span_in_context(score)
        fs = self.tracers["feature-store"].start_span("get_features", kind=SpanKind.SERVER, context=ctx2,
                                                      start_time=t + int(4e6), attributes={"feature.set": "txn_7d"})
        ctx3 = otel_trace.set_span_in_context(fs)
        cache = self.tracers["feature-store"].start_span("GET", kind=SpanKind.CLIENT, context=ctx3,
                                                        start_time=t + int(5e6), attributes={"db.system": "redis"})
        if cache_fails:
            cache.set_status(Status(StatusCode.ERROR, "connection reset by peer"))
        cache.end(end_time=t + int(6e6))
        if feature_fails or cache_fails:
            fs.set_status(Status(StatusCode.ERROR, "feature feed stale: newest row 47 min old"))
            score.set_status(Status(StatusCode.ERROR, "features unavailable"))
            txn.set_status(Status(StatusCode.ERROR, "scoring failed"))
        elif stray:
            txn.set_status(Status(StatusCode.ERROR, "request body unreadable"))
        fs.end(end_time=t + int(8e6 + slow_ms * 1e6))
        score.end(end_time=t + int(12e6 + slow_ms * 1e6))
        txn.end(end_time=t + int(20e6 + slow_ms * 1e6))
        return txn

    def spans(self):
        return list(self.exporter.get_finished_spans())


def fraud_chain() -> Chain:
    chain = Chain()
    for i in range(120):  # one request every 30 s from 10:00 to 11:00
        at = T0 + timedelta(seconds=30 * i)
        chain.request(at, feature_fails=at >= FAIL_AT, stray=at == STRAY_AT, slow_ms=40.0 if at >= FAIL_AT else 0.0)
    return chain


def write_collector_file(path: Path, spans, *, per_line: int = 40, otlp_json: bool = False,
                         snake_case: bool = False) -> Path:
    """One ExportTraceServiceRequest per line, as the collector's file exporter writes.

    ``otlp_json``: the OTLP/JSON spelling (hex ids, integer enums) the collector uses; otherwise protobuf's
    canonical JSON (base64 ids, enum names) exactly as ``MessageToJson`` gives it.
    """
    lines = []
    for i in range(0, len(spans), per_line):
        request = encode_spans(spans[i:i + per_line])
        text = MessageToJson(request, indent=None, use_integers_for_enums=otlp_json,
                             preserving_proto_field_name=snake_case)
        if otlp_json:
            doc = json.loads(text)
            for rs in doc["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        for key in ("traceId", "spanId", "parentSpanId"):
                            if sp.get(key):
                                sp[key] = base64.b64decode(sp[key]).hex()
            text = json.dumps(doc)
        lines.append(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def chain_spans():
    return fraud_chain().spans()


@pytest.fixture(scope="module")
def source(chain_spans, tmp_path_factory):
    folder = tmp_path_factory.mktemp("traces")
    write_collector_file(folder / "a.jsonl", chain_spans[: len(chain_spans) // 2])
    write_collector_file(folder / "b.json", chain_spans[len(chain_spans) // 2:], otlp_json=True)
    return load_traces(folder)


def test_both_json_spellings_load_every_span(source, chain_spans):
    assert source.info.spans == len(chain_spans) == 480
    assert source.info.traces == 120
    assert source.info.services == ["feature-store", "scorer", "txn-processor"]
    assert source.info.warnings == []
    row = source.sql("SELECT * FROM spans WHERE name = 'get_features' LIMIT 1").iloc[0]
    assert len(row["trace_id"]) == 32 and len(row["span_id"]) == 16
    assert row["kind"] == "server"
    attrs = json.loads(row["attributes"])
    assert attrs["feature.set"] == "txn_7d" and attrs["resource.deployment.environment"] == "prod"
    assert row["duration_ms"] == pytest.approx(4.0)


def test_service_map_edges_and_window_diff(source):
    edges = service_map(source)
    assert set(zip(edges["caller"], edges["callee"])) == {("txn-processor", "scorer"), ("scorer", "feature-store")}
    one = edges.set_index(["caller", "callee"]).loc[("scorer", "feature-store")]
    assert one["calls"] == 120 and one["errors"] == 50
    diff = service_map_diff(source, BASELINE, WINDOW).set_index(["caller", "callee"])
    fs = diff.loc[("scorer", "feature-store")]
    assert fs["calls_base"] == 60 and fs["calls_window"] == 60
    assert fs["error_rate_base"] == 0 and fs["error_rate_window"] == pytest.approx(50 / 60)
    assert fs["rate_per_min_window"] == pytest.approx(2.0)
    assert fs["p95_ms_window"] == pytest.approx(44.0) and fs["p95_ms_base"] == pytest.approx(4.0)
    assert set(diff["change"]) == {"worse"}


def test_span_diff_per_operation(source):
    diff = span_diff(source, BASELINE, WINDOW).set_index(["service", "operation"])
    assert diff.loc[("feature-store", "get_features"), "error_rate_change"] == pytest.approx(50 / 60)
    assert diff.loc[("feature-store", "GET"), "change"] == "same"  # the cache is fine
    assert diff.loc[("txn-processor", "POST /transactions"), "errors_window"] == 51  # 50 inherited + the stray


def test_cascade_origin_is_the_feature_store(source):
    ranking = cascade_ranking(source, WINDOW, BASELINE)
    top = ranking[0]
    assert top.service == "feature-store" and top.rank == 1
    assert top.first_own_error == FAIL_AT + timedelta(milliseconds=4)  # get_features starts 4 ms in
    assert top.own_errors == 50 and top.inherited_errors == 0 and top.inherited_share == 0
    assert top.downstream_affected == ("scorer", "txn-processor")
    assert top.category == "data"
    assert "feature feed stale" in top.sample
    by = {r.service: r for r in ranking}
    assert by["scorer"].own_errors == 0 and by["scorer"].inherited_share == 1.0
    # the stray error is the transaction processor's first own error, but one error is no degradation
    assert by["txn-processor"].first_own_error == STRAY_AT and by["txn-processor"].own_errors == 1
    assert by["txn-processor"].rank > 1
    # without a baseline the ranking is the same
    assert cascade_ranking(source, WINDOW)[0].service == "feature-store"


def test_search_and_waterfall(source):
    hits = search(source, **parse_search('service:feature-store status:error duration>30ms'), window=WINDOW)
    assert len(hits) == 50 and set(hits["name"]) == {"get_features"}
    by_attr = search(source, **parse_search("db.system:redis"), limit=1000)
    assert len(by_attr) == 120
    tid = hits.iloc[0]["trace_id"]
    wf = waterfall(source, tid)
    assert list(wf["name"]) == ["POST /transactions", "score", "get_features", "GET"]
    assert list(wf["depth"]) == [0, 1, 2, 3]
    assert list(wf["offset_ms"]) == pytest.approx([0, 2, 4, 5])
    assert not wf["skew"].any() and not wf["orphan"].any()
    assert len(source.trace(tid)) == 4
    assert set(source.spans("service:scorer", WINDOW, limit=5)["service.name"]) == {"scorer"}


def test_missing_parents_and_clock_skew_are_reported_not_fatal(tmp_path):
    chain = Chain()
    chain.request(T0)
    chain.request(T0 + timedelta(seconds=30), skew_ms=5.0)  # the scorer's clock runs 5 ms early
    spans = chain.spans()
    first_txn = next(s for s in spans if s.name == "POST /transactions")
    kept = [s for s in spans if s is not first_txn]  # the first trace's root never reached the collector
    path = write_collector_file(tmp_path / "traces" / "spans.jsonl", kept, per_line=2)
    src = load_traces(tmp_path / "traces")
    assert src.info.spans == 7 and src.info.missing_parents == 1 and src.info.skewed == 1
    text = "\n".join(src.warnings)
    assert "1 span(s) in 1 trace(s) name a parent span that is not in the files" in text
    assert f"scorer 'score' in trace" in text and f"(first: {path}:2:" in text  # lines: 2 spans each
    assert "clock skew: 1 scorer span(s) start before their txn-processor parent, by up to 3.0 ms" in text
    skewed = [s for s in spans if s.name == "POST /transactions" and s is not first_txn][0]
    wf = waterfall(src, format(skewed.context.trace_id, "032x"))
    assert list(wf["skew"]) == [False, True, False, False]
    orphan = waterfall(src, format(first_txn.context.trace_id, "032x"))
    assert orphan.iloc[0]["name"] == "score" and orphan.iloc[0]["orphan"]


def test_truncated_and_non_otlp_lines_name_file_and_line(tmp_path, chain_spans):
    folder = tmp_path / "traces"
    good = write_collector_file(folder / "spans.jsonl", chain_spans[:40], per_line=20)
    text = good.read_text()
    # bad input: a line cut in the middle (the collector still writing) and a line of other JSON
    good.write_text(text + '{"resourceSpans": [{"resource": {"attr\n', encoding="utf-8")
    (folder / "other.json").write_text('{"data": [{"traceID": "abc"}]}\n', encoding="utf-8")
    src = load_traces(folder)
    assert src.info.spans == 40
    msgs = "\n".join(src.warnings)
    assert f"{folder / 'other.json'}:1: JSON but not an OTLP trace export (no resourceSpans; keys: data)" in msgs
    assert f"{good}:3: not valid JSON" in msgs and "the last line is truncated" in msgs


def test_nothing_usable_is_a_clear_error(tmp_path):
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "export.json").write_text('{\n  "resourceSpans": [\n    {"resource": ', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"export\.json:3: not valid JSON"):
        load_traces(folder)
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        load_traces(tmp_path / "nowhere")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "bundle.json").write_text("{}")
    with pytest.raises(InvalidInputError, match="no traces/ folder"):
        load_traces(tmp_path / "bundle")


def test_factory_opens_traces(source, tmp_path, chain_spans):
    from core.sources.factory import open_source
    from core.sources.protocols import TraceSource

    write_collector_file(tmp_path / "traces" / "x.jsonl", chain_spans[:8])
    got = open_source("traces", tmp_path / "traces")
    assert isinstance(got, OtelTraceSource) and isinstance(got, TraceSource)
    assert got.info.spans == 8


def test_cli_prints_ranking_and_map_diff(tmp_path, chain_spans):
    folder = tmp_path / "traces"
    write_collector_file(folder / "spans.jsonl", chain_spans)
    args = [sys.executable, "-m", "core", "traces", str(folder), "--baseline",
            f"{BASELINE.start.isoformat()}/{BASELINE.end.isoformat()}", "--window",
            f"{WINDOW.start.isoformat()}/{WINDOW.end.isoformat()}"]
    proc = subprocess.run(args + ["--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cascade"][0]["service"] == "feature-store"
    assert {(e["caller"], e["callee"]) for e in out["service_map"]} == {("txn-processor", "scorer"),
                                                                      ("scorer", "feature-store")}
    text = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and "1. feature-store" in text.stdout and "scorer -> feature-store" in text.stdout
    bad = subprocess.run([sys.executable, "-m", "core", "traces", str(tmp_path / "nowhere")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such file or folder" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------- triage


def _fraud_bundle(path: Path, chain_spans, *, traces: bool = True) -> Path:
    import numpy as np
    import pandas as pd

    from core.bundle import write_bundle

    rng = np.random.default_rng(5)
    idx = pd.date_range(T0 - timedelta(hours=4), T0 + timedelta(hours=2), freq="1min", inclusive="left", tz="UTC")
    value = np.where(idx >= pd.Timestamp(FAIL_AT), 0.6, 0.9) + rng.normal(0, 0.005, len(idx))
    manifest = {"id": "fraud-cascade", "title": "Fraud scores fall back to defaults",
                "kpi": {"metric": "approval_precision", "direction": "higher_is_better"},
                "baseline": {"start": (T0 - timedelta(hours=4)).isoformat(), "end": T0.isoformat()},
                "window": {"start": T0.isoformat(), "end": (T0 + timedelta(hours=2)).isoformat()}}
    bundle = write_bundle(path, manifest, metrics={"approval_precision": pd.DataFrame({"timestamp": idx,
                                                                                       "value": value})})
    if traces:
        write_collector_file(Path(bundle) / "traces" / "otel-spans.jsonl", chain_spans)
    return Path(bundle)


@pytest.fixture
def traces_step():
    from core.triage import register, unregister
    from core.triage.registry import registered_steps
    from core.triage.steps.traces import TracesStep

    added = "traces" not in {getattr(s, "name", None) for s in registered_steps()}
    if added:
        register(TracesStep())
    yield
    if added:
        unregister("traces")


def test_triage_takes_the_cascade_from_the_traces(tmp_path, chain_spans, traces_step):
    from core.models import RootCause
    from core.triage import triage_bundle

    result = triage_bundle(_fraud_bundle(tmp_path / "b", chain_spans))
    step = result.step("traces")
    assert step.status == "ok" and "the cascade starts in feature-store (data)" in step.summary
    stale = next(h for h in result.hypotheses if h.root_cause == RootCause.STALE_DATA)
    assert any(e.kind == "trace_cascade_stale_data" for e in stale.evidence)
    infra = next(h for h in result.hypotheses if h.root_cause == RootCause.INFRASTRUCTURE)
    assert not any(e.kind.startswith("trace_cascade") for e in infra.evidence)


def test_triage_without_traces_says_so_at_no_cost_to_confidence(tmp_path, chain_spans, traces_step):
    from core.triage import triage_bundle

    result = triage_bundle(_fraud_bundle(tmp_path / "b", chain_spans, traces=False))
    absent = {s.name: s for s in result.not_configured}  # optional: not used, not "unchecked"
    assert "traces" in absent and "no traces/ folder" in absent["traces"].summary
    assert "traces" not in {s.name for s in result.skipped}
    assert all("trace" not in u.lower() for h in result.hypotheses for u in h.unchecked)


def test_a_cascade_from_a_cache_span_is_infrastructure(tmp_path):
    from core.models import RootCause
    from core.triage.steps.traces import assess

    chain = Chain()
    for i in range(120):
        at = T0 + timedelta(seconds=30 * i)
        chain.request(at, cache_fails=at >= FAIL_AT)
    src = load_traces(write_collector_file(tmp_path / "traces" / "spans.jsonl", chain.spans()))
    ranking = cascade_ranking(src, WINDOW, BASELINE)
    assert ranking[0].service == "feature-store" and ranking[0].category == "cache"
    assert "GET: connection reset by peer" == ranking[0].sample
    by = {r.service: r for r in ranking}
    assert by["feature-store"].own_errors == 50 and by["feature-store"].inherited_errors == 50  # get_features
    signals, facts = assess(ranking, FAIL_AT)
    assert facts["origin"] == "feature-store"
    assert [(s.root_cause, s.rule) for s in signals] == [(RootCause.INFRASTRUCTURE, "trace_cascade_infrastructure")]



def test_a_plain_pretty_printed_export_with_proto_field_names_loads(tmp_path, chain_spans):
    request = encode_spans(chain_spans[:12])
    path = tmp_path / "export.json"
    path.write_text(MessageToJson(request, indent=2, preserving_proto_field_name=True), encoding="utf-8")
    assert '"resource_spans"' in path.read_text()
    src = load_traces(path)
    assert src.info.spans == 12 and src.warnings == []
    assert set(src.sql("SELECT DISTINCT kind FROM spans")["kind"]) <= {"server", "client"}


def test_the_cascade_is_typed_evidence(source):
    from core.evidence.kinds.trace_cascade import TraceCascadePayload, TraceCascadeRenderer
    from core.evidence.registry import registered_kinds, typed_payload

    ranking = cascade_ranking(source, WINDOW, BASELINE)
    payload = TraceCascadePayload.from_ranking(ranking, window=WINDOW, baseline=BASELINE)
    stored = json.loads(json.dumps(payload.to_payload()))
    assert stored["origin"] == "feature-store" and stored["ranking"][0]["downstream_affected"] == ["scorer",
                                                                                                 "txn-processor"]
    assert "trace_cascade" in {k.kind for k in registered_kinds()}  # a built-in kind
    again = typed_payload("trace_cascade", stored)
    assert isinstance(again, TraceCascadePayload) and again.to_payload() == stored
    numbers = dict(TraceCascadeRenderer().numbers(again))  # the stored copy's own values
    assert numbers["origin"] == "feature-store" and numbers["category"] == "data"
    assert TraceCascadeRenderer().figure(again) is not None
    old = TraceCascadePayload.from_payload({"ranking": [{"service": "x"}]})  # a partial old row
    TraceCascadeRenderer().figure(old)  # a partial row draws or draws nothing, never raises


def test_the_fraud_demo_traces_show_the_cascade_from_the_feature_store(tmp_path):
    from core.demo import fraud_stale
    from core.demo.traces import write_cascade_traces

    write_cascade_traces(tmp_path / "traces", fraud_stale.DATA_START, fraud_stale.DATA_END, fraud_stale.ONSET)
    src = load_traces(tmp_path / "traces")
    assert src.warnings == [] and src.info.services == ["feature-store", "fraud-scorer", "txn-processor"]
    window = TimeWindow(fraud_stale.ONSET - timedelta(minutes=30), fraud_stale.DATA_END)
    baseline = TimeWindow(window.start - timedelta(hours=6), window.start)
    ranking = cascade_ranking(src, window, baseline)
    top = ranking[0]
    assert top.service == "feature-store" and top.category == "data"
    assert fraud_stale.ONSET <= top.first_own_error < fraud_stale.ONSET + timedelta(minutes=2)
    assert top.downstream_affected == ("txn-processor",)  # the scorer hides the failure: no error of its own
    by = {r.service: r for r in ranking}
    assert by["txn-processor"].rank == 2 and by["txn-processor"].first_own_error > top.first_own_error
    assert "fraud-scorer" not in by
