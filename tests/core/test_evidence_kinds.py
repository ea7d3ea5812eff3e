"""Typed evidence: every built-in kind reads its stored payload back unchanged and renders through one registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import pytest

from core.analysis.changepoint import detect_onset
from core.analysis.correlate import rank_changes
from core.analysis.drift import compare_distributions
from core.bundle import read_bundle
from core.errors import InvalidInputError
from core.evidence import (
    evidence_figure,
    evidence_numbers,
    frozen_numbers,
    kind_entry,
    register_kind,
    registered_kinds,
    typed_payload,
    unregister_kind,
)
from core.evidence.generic import GenericPayload
from core.evidence.kinds.changepoint import ChangeMark, ChangePointPayload
from core.evidence.kinds.drift import DriftPayload
from core.evidence.kinds.triage import TriagePayload
from core.models import Evidence
from core.onset import load_kpi
from core.store.evidence import get_evidence, list_evidence, pin_evidence
from core.store.incidents import create_incident

BUILT_IN = ("triage", "drift", "schema", "changepoint", "log_query", "log_patterns", "changes", "run_diff",
            "trace_cascade", "images")
T0 = datetime(2026, 3, 12, 12, 0, tzinfo=timezone.utc)


def ev(kind: str, result: Any) -> Evidence:
    return Evidence(1, "x", kind, "t", {}, None, result, "d" * 64)


@pytest.fixture(scope="module")
def payloads(demo_bundles) -> dict[str, list[dict[str, Any]]]:
    """Stored results of every built-in kind, in the shapes the pages pin, from real analyses of a demo."""
    path = demo_bundles["demo-schema-change"]
    b = read_bundle(path)
    report = compare_distributions(b.read_dataset("reference"), b.read_dataset("current"), max_rows=5_000,
                                   multivariate=False)
    summary = report.to_dict()
    summary["columns"] = [c for c in summary["columns"] if c["drifted"]][:30]
    onset = detect_onset(load_kpi(path), direction=b.kpi_direction, metric=b.kpi_metric)
    cp = {**onset.to_dict(), "segments": None, "source": "bundle"}
    ranking = rank_changes(b.events(), onset.onset.time, lookback=timedelta(hours=48))
    return {
        "drift": [summary, report.ranked_columns()[0].to_dict()],
        "schema": [f.to_dict() for f in report.schema[:2]],
        "changepoint": [cp],
        "changes": [{"changes": [c.to_dict() for c in ranking.changes[:20]], "considered": ranking.considered}],
        "log_query": [{"count": 3, "levels": {"error": 3}, "sample": [
            {"id": "1", "timestamp": "2026-03-12T12:00:00Z", "fields": {"message": "x"}}]}],
        "log_patterns": [{"summary": {"new": 1, "vanished": 0}, "baseline": {"start": "a", "end": "b"},
                          "baseline_lines": 10, "window_lines": 12, "templates": [
                              {"template_id": 1, "template": "timeout <*>", "status": "new", "baseline_count": 0,
                               "window_count": 5, "expected": 0.1, "ratio": None, "p_value": 0.001,
                               "q_value": 0.002, "example": "timeout 3"}]}],
        "triage": [{"incident": "x", "kpi": "accuracy", "onset": cp["onset"], "hypotheses": [
            {"class": "schema_change", "label": "Schema change", "score": 0.8, "confidence": 0.9}], "skipped": []}],
        "run_diff": [{"finding": True, "model": "m", "version": "3", "changed_params": [
            {"key": "lr", "a": "0.1", "b": "0.3", "status": "changed"}], "code_change": None,
            "counts": {"params": 1}}],
        "images": [{"finding": "resolution halved (median 128×128 → 64×64 px)", "reference": "reference",
                    "current": "current", "n_reference": 240, "n_current": 240, "unreadable_reference": 0,
                    "unreadable_current": 3, "focus": "width",
                    "findings": ["resolution halved (median 128×128 → 64×64 px)", "JPEG quality 92 → 55"],
                    "measures": [{"measure": "width", "drifted": True, "score": 9.5, "reference_median": "128",
                                  "current_median": "64"},
                                 {"measure": "brightness", "drifted": False, "score": 0.2,
                                  "reference_median": "0.5", "current_median": "0.49"}]}],
        "trace_cascade": [{"origin": "feature-store", "category": "data",
                           "window": {"start": "2026-03-12T12:00:00Z", "end": "2026-03-12T14:00:00Z"},
                           "baseline": None, "ranking": [
                               {"rank": 1, "service": "feature-store", "category": "data", "degraded": True,
                                "first_own_error": "2026-03-12T12:05:00Z", "own_errors": 40, "inherited_errors": 0,
                                "inherited_share": 0.0, "downstream_affected": ["scorer", "txn-processor"]}]}],
    }


def test_every_built_in_kind_is_registered_once():
    kinds = [k.kind for k in registered_kinds()]
    assert sorted(kinds) == sorted(BUILT_IN) and len(set(kinds)) == len(kinds)


@pytest.mark.parametrize("kind", BUILT_IN)
def test_stored_payloads_round_trip_and_render(payloads, kind):
    for stored in payloads[kind]:
        payload = typed_payload(kind, stored)
        assert isinstance(payload, kind_entry(kind).payload_type)
        assert payload.to_payload() == stored  # the frozen copy comes back as it was stored
        e = ev(kind, stored)
        assert evidence_numbers(e) == frozen_numbers(stored)
        evidence_figure(e)  # never raises
        evidence_figure(e, dark=True)


@pytest.mark.parametrize("kind", BUILT_IN)
def test_old_or_partial_rows_never_raise(kind):
    for stored in ({}, {"onset": "not a dict", "columns": 3, "changes": [1, "x"]}, None):
        e = ev(kind, stored)
        assert evidence_numbers(e) == frozen_numbers(stored or {})  # the copy as stored, nothing invented
        evidence_figure(e)


def test_each_kind_draws_its_own_chart(payloads):
    cp = evidence_figure(ev("changepoint", payloads["changepoint"][0]))
    assert cp.data[0].type == "scatter" and cp.layout.yaxis.title.text == "relative_change"
    drift = evidence_figure(ev("drift", payloads["drift"][0]))
    assert drift.data[0].type == "bar" and drift.data[0].orientation == "h"
    assert drift.layout.xaxis.title.text == "score"
    assert evidence_figure(ev("drift", payloads["drift"][1])) is None  # one column: its numbers say it
    triage = evidence_figure(ev("triage", payloads["triage"][0]))
    assert list(triage.data[0].x) == ["before", "after"]
    images = evidence_figure(ev("images", payloads["images"][0]))
    assert list(images.data[0].y) == ["brightness", "width"] and "drift score" in images.layout.xaxis.title.text
    for kind in ("schema", "log_query", "log_patterns", "changes", "run_diff"):
        assert evidence_figure(ev(kind, payloads[kind][0])) is None


def test_charts_follow_the_kind_not_the_key_names():
    series = {"series": [{"timestamp": "2025-01-01T00:00:00Z", "value": 1.0},
                         {"timestamp": "2025-01-01T00:01:00Z", "value": 2.0}]}
    assert evidence_figure(ev("unknown_kind", series)) is None  # nothing guessed from "timestamp"/"value"
    assert evidence_figure(ev("drift", {"columns": [{"column": "a", "statistic": 0.1}]})) is None  # no score
    bars = evidence_figure(ev("drift", {"columns": [{"column": "a", "score": 0.1}, {"column": "b", "score": 0.9}]}))
    assert list(bars.data[0].y) == ["a", "b"]  # largest last (drawn on top)
    level = evidence_figure(ev("changepoint", {"metric": "ctr", "onset": {"level_before": 1.0, "level_after": 0.5},
                                               "change_points": []}))
    assert list(level.data[0].y) == [1.0, 0.5] and level.layout.yaxis.title.text == "ctr"
    segs = evidence_figure(ev("changepoint", {"change_points": [], "segments": {"label": "country", "segments": [
        {"segment": "DE", "relative_change": -0.3}, {"segment": "FR", "relative_change": 0.01}]}}))
    assert list(segs.data[0].y) == ["FR", "DE"]
    no_onset = evidence_figure(ev("triage", {"onset": None, "hypotheses": [
        {"label": "Data drift", "score": 0.4}, {"label": "Schema change", "score": 0.7}]}))
    assert list(no_onset.data[0].y) == ["Data drift", "Schema change"]


def test_unknown_kinds_get_the_generic_table():
    nums = frozen_numbers({"count": 3, "ok": True, "x": {"y": 0.123456}, "long": "z" * 200, "rows": [1, 2]})
    assert nums == [("count", "3"), ("ok", "yes"), ("x.y", "0.1235")]
    e = ev("from_an_extension", {"count": 3, "ok": True, "x": {"y": 0.123456}, "long": "z" * 200})
    assert evidence_numbers(e) == nums and evidence_figure(e) is None
    assert isinstance(typed_payload("from_an_extension", {"a": 1}), GenericPayload)


@dataclass(frozen=True)
class AucPayload:
    auc: float

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "AucPayload":
        return cls(float(data["auc"]))

    def to_payload(self) -> dict[str, Any]:
        return {"auc": self.auc}


class AucRenderer:
    def numbers(self, payload: AucPayload) -> list[tuple[str, str]]:
        return [("AUC", f"{payload.auc:.2f}")]

    def figure(self, payload: AucPayload, *, dark: bool = False) -> Any:
        from core.viz.evidence import levels_figure

        return levels_figure(0.5, payload.auc, axis="AUC", dark=dark)


def test_an_extension_registers_a_kind_and_the_post_mortem_uses_it(sqlite_store):
    from core.report.postmortem import build_postmortem, gather_inputs

    register_kind("auc_check", AucPayload, AucRenderer())
    try:
        with pytest.raises(InvalidInputError, match="already registered"):
            register_kind("auc_check", AucPayload, AucRenderer())
        with pytest.raises(InvalidInputError, match="numbers"):
            register_kind("auc_other", AucPayload, object())
        with pytest.raises(InvalidInputError, match="from_payload"):
            register_kind("auc_other", dict, AucRenderer())
        create_incident(sqlite_store, id="ext", title="Extension evidence")
        pinned = pin_evidence(sqlite_store, "ext", kind="auc_check", title="classifier tells them apart",
                              query={}, result=AucPayload(0.91))  # a typed payload is stored as its dict
        assert pinned.result == {"auc": 0.91}
        pin_evidence(sqlite_store, "ext", kind="auc_check", title="old row", query={}, result={"no_auc": 1})
        pm = build_postmortem(gather_inputs(sqlite_store, "ext", with_kpi=False))
        text = pm.section("evidence").text
        assert "| AUC | 0.91 |" in text and "| no_auc | 1 |" in text  # a malformed row falls back to the table
        charts = pm.charts_for("evidence")
        assert [c.anchor for c in charts] == [0] and list(charts[0].figure.data[0].y) == [0.5, 0.91]
    finally:
        unregister_kind("auc_check")
    assert kind_entry("auc_check").kind == "generic"


def test_pin_evidence_takes_a_typed_payload_of_a_built_in_kind(sqlite_store):
    create_incident(sqlite_store, id="typed", title="Typed pin")
    payload = ChangePointPayload(metric="ctr", onset=ChangeMark(time="2026-03-12T12:00:00Z", level_before=0.04,
                                                                level_after=0.03, relative_change=-0.25))
    pinned = pin_evidence(sqlite_store, "typed", kind="changepoint", title="ctr dropped", query={}, result=payload)
    stored = get_evidence(sqlite_store, pinned.id)
    assert stored.result["onset"]["level_after"] == 0.03
    again = typed_payload("changepoint", stored.result)
    assert again.onset == payload.onset and again.metric == "ctr"
    assert list(evidence_figure(stored).data[0].y) == [0.04, 0.03]
    assert [e.kind for e in list_evidence(sqlite_store, "typed")] == ["changepoint"]


def test_typed_payloads_read_their_fields(payloads):
    drift = typed_payload("drift", payloads["drift"][0])
    assert isinstance(drift, DriftPayload) and drift.scope == "report" and all(c.drifted for c in drift.columns)
    one = typed_payload("drift", payloads["drift"][1])
    assert one.scope == "column" and len(one.columns) == 1
    tri = typed_payload("triage", payloads["triage"][0])
    assert isinstance(tri, TriagePayload) and tri.hypotheses[0].root_cause == "schema_change"
    assert tri.onset.level_before == payloads["changepoint"][0]["onset"]["level_before"]
