"""Coincident deploys judged on the trace dependency graph: a deploy of a service that calls (or is called by)
the model's service in the bundle's traces is on its path even when the names differ; one outside that path
is discounted with the graph as the reason; without traces the name rule decides as before.

The traces are real OTLP spans made with the OpenTelemetry SDK (one TracerProvider per service), encoded
with the SDK's OTLP encoder and written as the collector's file exporter does.
"""

from __future__ import annotations

import json
import shutil
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
from opentelemetry.trace import SpanKind  # noqa: E402

from core.analysis.traces import ServiceGraph, dependency_graph  # noqa: E402
from core.demo.scenarios import ScenarioSpec, generate_scenario  # noqa: E402
from core.sources.traces_otel import load_traces  # noqa: E402
from core.triage import triage_bundle  # noqa: E402
from core.triage.steps.changes import GRAPH_RULE, NAME_RULE, judge_path  # noqa: E402

#: The scenario: data drift, and payments-gateway deploying minutes before the onset (its only deploy that close).
SPEC = ScenarioSpec("data_drift", 1102, hardships=("coincident_deploy",))
DEPLOYED = "payments-gateway"
WHO = "model 'scoring-model' (service 'scoring-service')"


def ns(t: datetime) -> int:
    return int(t.timestamp() * 1e9)


def write_traces(folder: Path, chains: list[list[str]], start: datetime, end: datetime,
                 every: timedelta = timedelta(minutes=20)) -> Path:
    """Requests along each chain (caller first) every ``every`` from ``start`` to ``end``, as OTLP JSON lines."""
    exporter = InMemorySpanExporter()
    tracers = {}
    for name in sorted({s for chain in chains for s in chain}):
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracers[name] = provider.get_tracer("path-test")
    at = start
    while at < end:
        for chain in chains:
            t = ns(at)
            spans, ctx = [], None
            for depth, service in enumerate(chain):
                span = tracers[service].start_span(f"{service} handle", kind=SpanKind.SERVER, context=ctx,
                                                   start_time=t + depth * 1_000_000)
                ctx = otel_trace.set_span_in_context(span)
                spans.append(span)
            for depth, span in reversed(list(enumerate(spans))):
                span.end(end_time=t + (20 - depth) * 1_000_000)
        at += every
    finished = list(exporter.get_finished_spans())
    lines = [MessageToJson(encode_spans(finished[i:i + 50]), indent=None) for i in range(0, len(finished), 50)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spans.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("path")
    path = generate_scenario(SPEC, root / "plain")
    manifest = json.loads((path / "bundle.json").read_text())
    start = datetime.fromisoformat(manifest["baseline"]["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(manifest["window"]["end"].replace("Z", "+00:00"))
    return root, path, start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def _with_traces(scenario, name: str, chains: list[list[str]]) -> Path:
    root, plain, start, end = scenario
    copy = root / name
    if not copy.exists():
        shutil.copytree(plain, copy)
        write_traces(copy / "traces", chains, start, end)
    return copy


def _code_event(result):
    code = next(h for h in result.hypotheses if h.root_cause.value == "code_regression")
    sig = next(s for s in code.signals if s.rule == "code_event")
    return code, sig


def test_the_scenario_deploys_the_unrelated_service_minutes_before_the_onset(scenario):
    _root, plain, _s, _e = scenario
    close = [json.loads(line) for line in (plain / "events.jsonl").read_text().splitlines()]
    deploys = [e for e in close if e["kind"] == "deploy"]
    assert any(e["title"].startswith(DEPLOYED) for e in deploys)


def test_a_deploy_that_calls_the_models_service_in_the_traces_is_on_its_path(scenario):
    # payments-gateway → scoring-service → feature-store: the names differ, the graph ties them
    bundle = _with_traces(scenario, "upstream", [[DEPLOYED, "scoring-service", "feature-store"]])
    result = triage_bundle(bundle)
    code, sig = _code_event(result)
    assert sig.evidence.data["service_factor"] == 1.0
    assert sig.evidence.data["path_rule"] == GRAPH_RULE
    assert (f"'{DEPLOYED}' is on the path of {WHO} in the trace dependency graph "
            f"({DEPLOYED} → scoring-service), so it is not discounted") in sig.evidence.detail
    assert "discounted ×" not in code.explanation and "coincidence" not in code.explanation
    changes = result.step("changes")
    assert changes.summary.endswith(
        f"the model's path in the trace dependency graph: {DEPLOYED} → scoring-service → feature-store")
    # the traces step read the same spans: they carry no errors, so no cascade
    assert result.step("traces").status == "ok" and "no cascade" in result.step("traces").summary
    # the same deploy, judged by name without traces, is discounted: the graph raised it
    plain_code, _ = _code_event(triage_bundle(scenario[1]))
    assert code.score > plain_code.score * 2


def test_a_deploy_called_by_the_models_service_is_on_its_path_too(scenario):
    bundle = _with_traces(scenario, "downstream", [["checkout-web", "scoring-service", DEPLOYED, "ledger"]])
    _code, sig = _code_event(triage_bundle(bundle))
    assert sig.evidence.data["service_factor"] == 1.0
    assert f"({'scoring-service'} → {DEPLOYED})" in sig.evidence.detail


def test_a_deploy_outside_the_graph_path_is_discounted_with_the_graph_as_reason(scenario):
    # payments-gateway is in the traces, but in another component (it only calls the ledger)
    bundle = _with_traces(scenario, "elsewhere", [["checkout-web", "scoring-service", "feature-store"],
                                                  [DEPLOYED, "ledger"]])
    result = triage_bundle(bundle)
    assert result.top.root_cause.value == "data_drift"
    code, sig = _code_event(result)
    assert sig.evidence.data["service_factor"] == pytest.approx(0.15)
    assert sig.evidence.data["path_rule"] == GRAPH_RULE
    assert (f"discounted ×0.15: '{DEPLOYED}' is not on the path of {WHO} in the trace dependency graph: "
            "it is in the traces but neither calls nor is called by scoring-service, directly or through others "
            "(the path there: checkout-web → scoring-service → feature-store), "
            "so the timing is probably a coincidence") in code.explanation
    assert code.score < 0.3


def test_a_deploy_absent_from_the_traces_is_discounted_with_the_graph_as_reason(scenario):
    bundle = _with_traces(scenario, "absent", [["checkout-web", "scoring-service", "feature-store"]])
    code, sig = _code_event(triage_bundle(bundle))
    assert sig.evidence.data["service_factor"] == pytest.approx(0.15)
    assert f"'{DEPLOYED}' is not on the path of {WHO} in the trace dependency graph: it does not appear in the " \
           "traces" in code.explanation


def test_without_traces_the_name_rule_decides_as_before(scenario):
    result = triage_bundle(scenario[1])
    assert result.top.root_cause.value == "data_drift"
    code, sig = _code_event(result)
    assert sig.evidence.data["service_factor"] == pytest.approx(0.15)
    assert sig.evidence.data["path_rule"] == NAME_RULE
    assert (f"discounted ×0.15: '{DEPLOYED}' is not on the path of {WHO}, judged by name (the bundle has no "
            "traces): it is neither the bundle's service nor the model, so the timing is probably a coincidence"
            ) in code.explanation
    assert "trace dependency graph" not in result.step("changes").summary


def test_unreadable_traces_fall_back_to_the_name_rule_and_fail_the_traces_step(scenario):
    root, plain, _s, _e = scenario
    bundle = root / "broken"
    shutil.copytree(plain, bundle)
    (bundle / "traces").mkdir()
    (bundle / "traces" / "spans.jsonl").write_text("this is not OTLP JSON\n", encoding="utf-8")
    result = triage_bundle(bundle)
    _code, sig = _code_event(result)
    assert sig.evidence.data["path_rule"] == NAME_RULE
    assert "judged by name (the traces could not be read (" in sig.evidence.detail
    traces = result.step("traces")
    assert traces.status == "failed" and "no spans read" in traces.summary


def test_the_dependency_graph_of_real_spans(tmp_path):
    t0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    folder = write_traces(tmp_path / "traces", [["gateway", "txn-processor", "fraud-scorer", "feature-store"],
                                                ["gateway", "search-api"], ["mailer"]],
                          t0, t0 + timedelta(hours=1))
    graph = dependency_graph(load_traces(folder))
    assert graph.edges == {("gateway", "txn-processor"), ("txn-processor", "fraud-scorer"),
                           ("fraud-scorer", "feature-store"), ("gateway", "search-api")}
    assert "mailer" in graph.services  # in the traces, calling nobody
    assert graph.on_path("fraud-scorer") == {"gateway", "txn-processor", "fraud-scorer", "feature-store"}
    assert graph.chain("gateway", "fraud-scorer") == ["gateway", "txn-processor", "fraud-scorer"]
    assert graph.chain("feature-store", "txn-processor") == ["txn-processor", "fraud-scorer", "feature-store"]
    assert graph.chain("search-api", "fraud-scorer") == []
    assert graph.describe("fraud-scorer") == "gateway, txn-processor → fraud-scorer → feature-store"
    assert graph.find("Fraud-Scorer") == "fraud-scorer" and graph.find("nope") is None


def test_judge_path_siblings_names_and_the_rule_that_decided():
    graph = ServiceGraph(frozenset({("gateway", "fraud-scorer"), ("gateway", "search-api"),
                                    ("fraud-scorer", "feature-store")}))
    # a sibling (both called by the gateway) neither calls nor is called by the model's service
    sib = judge_path({}, "search-api 2.1.0 deployed", "fraud-scorer", graph=graph)
    assert sib is not None and not sib.on_path and sib.rule == GRAPH_RULE and sib.service == "search-api"
    assert "neither calls nor is called by fraud-scorer" in sib.why
    # a transitive caller is on the path; the details' service wins over the title
    up = judge_path({"service": "Gateway"}, "Release 7", "fraud-scorer", graph=graph)
    assert up is not None and up.on_path and up.service == "gateway"
    assert "(gateway → fraud-scorer)" in up.why
    # the model's own service or model needs no graph; a change naming nothing is not judged
    assert judge_path({}, "fraud-scorer 3.0.0 deployed", "fraud-scorer", graph=graph) is None
    assert judge_path({}, "Feature table schema migration applied", "fraud-scorer", graph=graph) is None
    # the graph cannot place the model's service: the name rule decides, and says why
    other = judge_path({}, "search-api 2.1.0 deployed", "scoring-service", graph=graph)
    assert other is not None and other.rule == NAME_RULE and not other.on_path
    assert "'scoring-service' does not appear in the traces" in other.why
    # a dataset or job is not a service the graph could place
    job = judge_path({"job": "nightly-export"}, "nightly export changed", "fraud-scorer", graph=graph)
    assert job is not None and job.rule == NAME_RULE
