"""Triage end to end: the demo incidents, missing sources, no change, bad windows, the scoring, the CLI."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import triage as tr
from core.bundle import read_bundle, validate_bundle, write_bundle
from core.demo.common import t, z
from core.demo.scenarios import CLASSES, ScenarioSpec, generate_scenario
from core.errors import BundleError, InvalidInputError
from core.models import RootCause
from core.triage import triage_bundle
from core.triage.scoring import UNCHECKED_PRIOR

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"demo-schema-change": "schema_change", "demo-ctr-drop": "code_regression",
            "demo-fraud-stale": "stale_data", "demo-image-downscale": "schema_change"}


@pytest.fixture(scope="module")
def demo_results(demo_bundles):
    return {name: triage_bundle(path) for name, path in demo_bundles.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_incidents_come_out_right(demo_results, name):
    result = demo_results[name]
    top = result.top
    assert top.root_cause.value == EXPECTED[name]
    assert top.status == "likely"
    assert top.score >= 0.8
    assert result.hypotheses[1].score < top.score - 0.3  # a clear margin over the runner-up
    assert result.onset is not None and result.onset.effect == "bad"
    assert result.seconds > 0  # timed and reported; its speed is measured by tests/bench/bench_triage.py


def test_demo_evidence_names_the_planted_cause(demo_results):
    ctr = demo_results["demo-ctr-drop"].top
    assert any("recs-ranker v42" in s.evidence.title for s in ctr.signals)
    schema = demo_results["demo-schema-change"].top
    assert {"schema_finding", "schema_pipeline_event"} <= {s.rule for s in schema.signals}
    # the bundle's GX results and dbt artifacts (core/demo/data/schema_change) add their own evidence
    assert {"gx_schema_check_failed", "dbt_upstream_schema_change"} <= {s.rule for s in schema.signals}
    stale = demo_results["demo-fraud-stale"]
    rules = {s.rule for s in stale.top.signals}
    assert {"freshness", "collapse", "job_stopped", "stale_log"} <= rules
    log_ev = next(s.evidence for s in stale.top.signals if s.rule == "stale_log")
    assert log_ev.view == "logs" and "feature cache miss for account" in log_ev.data["query"]
    infra = next(h for h in stale.hypotheses if h.root_cause == RootCause.INFRASTRUCTURE)
    assert "errors_after_onset" in {f.rule for f in infra.factors}  # the downstream timeouts are a symptom


def test_hypotheses_are_ranked_and_every_class_is_present(demo_results):
    for result in demo_results.values():
        scores = [h.score for h in result.hypotheses]
        assert scores == sorted(scores, reverse=True)
        assert {h.root_cause.value for h in result.hypotheses} == set(CLASSES)
        assert [h.rank for h in result.hypotheses] == list(range(1, 7))


def test_score_is_the_documented_noisy_or(demo_results):
    for result in demo_results.values():
        for h in result.hypotheses:
            raw = 1 - math.prod(1 - s.weight * s.strength for s in h.signals)
            assert h.raw_score == pytest.approx(raw)
            assert h.score == pytest.approx(raw * math.prod(f.value for f in h.factors))
            for s in h.signals:
                cls, weight, _reason = tr.RULES[s.rule]
                assert cls == h.root_cause and s.weight == pytest.approx(weight)


def test_missing_registry_lowers_confidence_and_is_reported(demo_results):
    result = demo_results["demo-ctr-drop"]
    assert [s.name for s in result.skipped] == ["registry"]
    code = result.top
    assert code.coverage < 1 and code.confidence < 1
    assert any("Model versions" in u for u in code.unchecked)
    assert "Not checked" in code.explanation


def test_to_dict_is_json_and_sorted(demo_results):
    data = json.loads(json.dumps(demo_results["demo-fraud-stale"].to_dict()))
    assert data["onset"]["time"].endswith("Z")
    assert data["hypotheses"][0]["class"] == "stale_data"
    assert set(data["hypotheses"][0]) >= {"class", "score", "confidence", "evidence", "explanation", "arithmetic"}
    assert data["skipped"][0]["step"] == "registry"
    ev = data["hypotheses"][0]["evidence"][0]
    assert {"rule", "weight", "strength", "reason", "evidence"} <= set(ev)
    assert ev["evidence"]["view"] in ("distributions", "timeline", "logs", "metrics", "models")


def test_accepted_hypothesis_is_a_domain_hypothesis(demo_results):
    h = demo_results["demo-ctr-drop"].top.to_hypothesis()
    assert h.root_cause == RootCause.CODE_REGRESSION
    assert h.evidence and all(e["type"] == "note" and e["title"] for e in h.evidence)


# ---------------------------------------------------------------- bad input

@pytest.fixture(scope="module")
def stale_scenario(tmp_path_factory):
    spec = ScenarioSpec(root_cause="stale_data", seed=7, severity=0.8, noise=0.3, snapshots=False)
    return generate_scenario(spec, tmp_path_factory.mktemp("scen") / spec.id)


def _strip(src: Path, dst: Path, *, logs=False, datasets=False, metrics=False, events=False) -> Path:
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "bundle.json").read_text())
    if logs:
        shutil.rmtree(dst / "logs")
    if datasets:
        shutil.rmtree(dst / "datasets")
        manifest.pop("datasets", None)
    if metrics:
        for p in (dst / "metrics").glob("*.csv"):
            if p.stem != manifest["kpi"]["metric"]:
                p.unlink()
    if events:
        (dst / "events.jsonl").unlink()
    (dst / "bundle.json").write_text(json.dumps(manifest))
    assert validate_bundle(dst) == []
    return dst


@pytest.fixture(scope="module")
def stale_full(stale_scenario):
    return triage_bundle(stale_scenario)


def test_full_scenario_is_found(stale_full):
    result = stale_full
    assert result.top.root_cause == RootCause.STALE_DATA
    assert [s.name for s in result.skipped] == ["registry"]


@pytest.mark.parametrize("missing, step", [("logs", "logs"), ("datasets", "data"), ("metrics", "metrics"),
                                           ("events", "changes")])
def test_missing_source_is_skipped_and_lowers_confidence(stale_scenario, stale_full, tmp_path, missing, step):
    full = stale_full
    stripped = triage_bundle(_strip(stale_scenario, tmp_path / "b", **{missing: True}))
    skipped = {s.name: s for s in stripped.skipped}
    assert step in skipped and skipped[step].summary
    for cls in RootCause:
        a = next(h for h in full.hypotheses if h.root_cause == cls)
        b = next(h for h in stripped.hypotheses if h.root_cause == cls)
        if step in tr.RELEVANCE[cls]:
            assert b.confidence < a.confidence
            assert any(dict(tr.STEPS)[step] in u for u in b.unchecked)
        else:
            assert b.confidence == pytest.approx(a.confidence)


def test_only_a_kpi_still_runs_and_says_what_it_skipped(stale_scenario, tmp_path):
    path = _strip(stale_scenario, tmp_path / "b", logs=True, datasets=True, metrics=True, events=True)
    result = triage_bundle(path)
    assert {s.name for s in result.skipped} == {"changes", "data", "logs", "metrics", "registry"}
    assert result.onset is not None
    # no class could be looked at: every one keeps the same neutral prior and says why it is unconfirmed
    assert {h.score for h in result.hypotheses} == {UNCHECKED_PRIOR}
    assert all(h.status == "unconfirmed" for h in result.hypotheses)
    assert all("key evidence could not be looked at" in h.explanation for h in result.hypotheses)


def _flat_bundle(path: Path, *, window_year: int = 2026) -> Path:
    rng = np.random.default_rng(3)
    idx = pd.date_range(t("2026-03-01T00:00"), t("2026-03-04T00:00"), freq="5min", inclusive="left", tz="UTC")
    kpi = pd.DataFrame({"timestamp": idx, "value": 0.1 + rng.normal(0, 0.002, len(idx))})
    shift = timedelta(days=365 * (window_year - 2026))
    manifest = {"id": "flat", "title": "Nothing happened", "kpi": {"metric": "ctr", "direction": "higher_is_better"},
                "baseline": {"start": z(t("2026-03-01T00:00") + shift), "end": z(t("2026-03-02T12:00") + shift)},
                "window": {"start": z(t("2026-03-02T12:00") + shift), "end": z(t("2026-03-04T00:00") + shift)}}
    logs = [{"@timestamp": z(ts), "message": f"served request {i}", "log.level": "INFO", "service.name": "api"}
            for i, ts in enumerate(idx[::3])]
    return write_bundle(path, manifest, metrics={"ctr": kpi}, logs={"api.jsonl": logs})


def test_kpi_without_change_confirms_nothing(tmp_path):
    result = triage_bundle(_flat_bundle(tmp_path / "flat"))
    assert result.onset is None
    assert "No detectable change" in result.onset_note
    assert all(h.status == "unconfirmed" for h in result.hypotheses)
    assert all("nothing is confirmed" in h.explanation for h in result.hypotheses)


def test_windows_not_overlapping_the_data_give_a_clear_message(tmp_path):
    result = triage_bundle(_flat_bundle(tmp_path / "far", window_year=2030))
    onset = result.step("onset")
    assert onset.status == "failed"
    assert "does not overlap the KPI 'ctr'" in onset.summary and "2026-03-01" in onset.summary
    assert "onset" in {s.name for s in result.skipped}
    assert all(h.status == "unconfirmed" for h in result.hypotheses)


def test_invalid_bundle_raises(tmp_path):
    (tmp_path / "bad").mkdir()
    with pytest.raises(BundleError):
        triage_bundle(tmp_path / "bad")


# ---------------------------------------------------------------- pure steps

def test_stopped_job_is_found_only_when_it_stops():
    at = t("2026-01-01T00:05")
    runs = [{"timestamp": at + timedelta(hours=i), "kind": "data_pipeline", "title": f"refresh run #{i} ok"}
            for i in range(10)]
    onset, end = at + timedelta(hours=10, minutes=30), at + timedelta(hours=20)
    [job] = tr.find_stopped_jobs(runs, onset, end)
    assert job.period == timedelta(hours=1) and job.runs == 10
    more = runs + [{"timestamp": at + timedelta(hours=i), "kind": "data_pipeline", "title": f"refresh run #{i} ok"}
                   for i in range(10, 20)]
    assert tr.find_stopped_jobs(more, onset, end) == []


def test_freshness_measures_lag_growth():
    ts = pd.date_range("2026-01-01", periods=200, freq="10min", tz="UTC")
    ref = pd.DataFrame({"ts": ts[:100], "updated_at": ts[:100] - pd.Timedelta(minutes=20)})
    cur = pd.DataFrame({"ts": ts[100:], "updated_at": pd.Timestamp(ts[99])})
    [f] = tr.data_freshness(ref, cur, "ts")
    assert f.column == "updated_at"
    assert f.lag_reference == timedelta(minutes=20)
    assert f.ratio > 10


def test_scenario_spec_validates_its_parameters():
    with pytest.raises(InvalidInputError, match="root cause"):
        ScenarioSpec(root_cause="gremlins", seed=1)
    with pytest.raises(InvalidInputError, match="severity"):
        ScenarioSpec(root_cause="data_drift", seed=1, severity=2)
    with pytest.raises(InvalidInputError, match="distractor"):
        ScenarioSpec(root_cause="data_drift", seed=1, distractors=("cat",))


def test_scenarios_are_deterministic_and_carry_ground_truth(tmp_path):
    spec = ScenarioSpec(root_cause="external_event", seed=11)
    a = generate_scenario(spec, tmp_path / "a")
    b = generate_scenario(spec, tmp_path / "b")
    for rel in ("bundle.json", "events.jsonl", "metrics/conversion_rate.csv", "logs/scoring-service.jsonl"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    truth = json.loads((a / "ground_truth.json").read_text())
    assert truth["root_cause"] == "external_event" and truth["seed"] == 11
    assert read_bundle(a).kpi_metric == "conversion_rate"


# ---------------------------------------------------------------- CLI

def _cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    """The triage command with no registry configured (an empty workbench home, no MLFLOW_TRACKING_URI)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["WORKBENCH_HOME"] = str(home or Path(tempfile.mkdtemp(prefix="triage-cli-home-")))
    return subprocess.run([sys.executable, "-m", "core", "triage", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_json_matches_the_library(demo_bundles, demo_results):
    proc = _cli(str(demo_bundles["demo-fraud-stale"]), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    lib = demo_results["demo-fraud-stale"]
    assert [h["class"] for h in data["hypotheses"]] == [h.root_cause.value for h in lib.hypotheses]
    assert [h["score"] for h in data["hypotheses"]] == [round(h.score, 4) for h in lib.hypotheses]
    assert data["onset"]["time"] == lib.to_dict()["onset"]["time"]
    assert [s["step"] for s in data["skipped"]] == ["registry"]


def test_cli_text_and_exit_codes(tmp_path):
    flat = _flat_bundle(tmp_path / "flat")
    proc = _cli(str(flat))
    assert proc.returncode == 0, proc.stderr
    assert "No detectable change" in proc.stdout and "Skipped" in proc.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    proc = _cli(str(bad), "--json")
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr.startswith("error:") and len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- model registry (real MLflow store)

def test_registry_step_with_a_real_mlflow_store(demo_bundles, demo_results, tmp_path, monkeypatch):
    from core.demo.mlflow_registry import seed_demo_registry

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seed_demo_registry(uri, {"demo-ctr-drop": demo_bundles["demo-ctr-drop"]})
    result = triage_bundle(demo_bundles["demo-ctr-drop"], tracking_uri=uri)
    assert result.skipped == ()
    assert "user_tenure_days_transform" in result.step("registry").summary
    top = result.top
    assert top.root_cause == RootCause.CODE_REGRESSION and "registry" in {s.rule for s in top.signals}
    without = demo_results["demo-ctr-drop"].top
    assert top.confidence > without.confidence and top.score > without.score
    # a model the registry does not know is reported, not counted as "no change"
    other = triage_bundle(demo_bundles["demo-fraud-stale"], tracking_uri=uri)
    assert [s.name for s in other.skipped] == ["registry"]
    assert "fraud-scorer" in other.step("registry").summary


@pytest.mark.parametrize("cls", CLASSES)
def test_each_planted_class_ranks_first(cls, tmp_path):
    spec = ScenarioSpec(root_cause=cls, seed=1003, severity=0.6, noise=0.5)
    result = triage_bundle(generate_scenario(spec, tmp_path / spec.id))
    assert result.top.root_cause.value == cls
    assert result.top.signals and result.top.status == "likely"


# ---------------------------------------------------------------- the step registry

def test_built_in_steps_come_from_the_registry():
    names = [s.name for s in tr.registered_steps()]
    assert names[:5] == ["changes", "data", "logs", "metrics", "registry"]
    assert [n for n, _t in tr.STEPS] == ["onset", *names]
    for step in tr.registered_steps():
        assert isinstance(step, tr.Step) and step.title and step.relevance
    for cls in RootCause:  # every class is covered by some step, and the weights are the steps' own
        assert tr.RELEVANCE[cls] == {s.name: s.relevance[cls] for s in tr.registered_steps() if cls in s.relevance}


def test_register_refuses_bad_steps_with_a_clear_message():
    class Half:
        name = "half"
        title = "A step without run"
        relevance = {RootCause.DATA_DRIFT: 0.5}

    with pytest.raises(InvalidInputError, match="not a triage step"):
        tr.register(Half())
    changes = tr.registered_steps()[0]
    with pytest.raises(InvalidInputError, match="already registered"):
        tr.register(changes)

    class BadWeight(Half):
        def run(self, context):
            raise AssertionError("never run")

    BadWeight.name, BadWeight.relevance = "bad-weight", {RootCause.DATA_DRIFT: 1.5}
    with pytest.raises(InvalidInputError, match=r"weights in \(0, 1\]"):
        tr.register(BadWeight())


class _AlwaysSkipped:
    """A real extension step, registered for one test: it bears on infrastructure and never has its source."""

    name = "pager"
    title = "Pager alerts"
    relevance = {RootCause.INFRASTRUCTURE: 0.5}
    rules = {"pager_alert": (RootCause.INFRASTRUCTURE, 0.7, "the pager fired for a dependency")}

    def run(self, context):
        return tr.StepOutcome(tr.StepResult(self.name, self.title, "skipped", "no pager export in the bundle"))


def test_an_extension_step_is_scored_and_lowers_confidence_when_skipped(stale_scenario, stale_full):
    tr.register(_AlwaysSkipped())
    try:
        result = triage_bundle(stale_scenario)
    finally:
        tr.unregister("pager")
    assert "pager" not in [s.name for s in tr.registered_steps()]
    assert [s.name for s in result.skipped] == ["registry", "pager"]
    for h in result.hypotheses:
        before = next(x for x in stale_full.hypotheses if x.root_cause == h.root_cause)
        assert h.score == pytest.approx(before.score)
        if h.root_cause == RootCause.INFRASTRUCTURE:
            assert h.confidence < before.confidence and any("Pager alerts" in u for u in h.unchecked)
        else:
            assert h.confidence == pytest.approx(before.confidence)


# ---------------------------------------------------------------- logs through the Logs page's source

def test_logs_step_reads_the_same_source_as_the_logs_page(demo_bundles):
    from core.sources.local_logs import LocalLogSource

    bundle = read_bundle(demo_bundles["demo-fraud-stale"])
    frame = tr.read_bundle_logs(bundle)
    source = LocalLogSource.from_path(demo_bundles["demo-fraud-stale"])
    try:
        span = source.info.span
        assert len(frame) == source.count("*", span)
        errors = int((frame["level"] == "ERROR").sum())
        assert errors > 0 and errors == source.count("log.level:ERROR", span)
    finally:
        source.close()
    assert frame["timestamp"].is_monotonic_increasing and str(frame["timestamp"].dt.tz) == "UTC"


# ---------------------------------------------------------------- the non_finite step (an extension)

def _with_infinities(src: Path, dst: Path, column: str = "price", share: float = 0.1) -> Path:
    """A copy of a bundle whose dataset gets ±inf in ``column`` for ``share`` of the rows after the onset."""
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "bundle.json").read_text())
    [spec] = manifest["datasets"].values()
    path = dst / spec["file"]
    df = pd.read_parquet(path)
    onset = pd.Timestamp(json.loads((dst / "ground_truth.json").read_text())["onset"])
    after = np.flatnonzero((df[spec["timestamp"]] >= onset).to_numpy())
    rows = after[:: int(1 / share)]
    df.loc[df.index[rows], column] = np.where(np.arange(len(rows)) % 2, np.inf, -np.inf)
    df.to_parquet(path)
    return dst


def test_non_finite_values_are_schema_evidence(stale_scenario, stale_full, tmp_path):
    assert stale_full.step("non_finite").status == "ok"
    assert "no column gained" in stale_full.step("non_finite").summary
    result = triage_bundle(_with_infinities(stale_scenario, tmp_path / "inf"))
    step = result.step("non_finite")
    assert step.status == "ok" and step.details["columns"] == ["price"]
    schema = next(h for h in result.hypotheses if h.root_cause == RootCause.SCHEMA_CHANGE)
    [sig] = [s for s in schema.signals if s.rule == "non_finite_values"]
    assert sig.evidence.view == "distributions" and "price" in sig.evidence.title
    assert sig.weight == tr.RULES["non_finite_values"][1] and sig.strength >= 0.6
    assert "infinite values" in sig.evidence.detail
    before = next(h for h in stale_full.hypotheses if h.root_cause == RootCause.SCHEMA_CHANGE)
    assert schema.score > before.score
    assert result.top.root_cause == RootCause.STALE_DATA  # the planted cause still ranks first


def test_non_finite_step_is_unchecked_without_data(stale_scenario, tmp_path):
    result = triage_bundle(_strip(stale_scenario, tmp_path / "b", datasets=True))
    assert result.step("non_finite") is None and result.step("data").status == "skipped"
    schema = next(h for h in result.hypotheses if h.root_cause == RootCause.SCHEMA_CHANGE)
    assert any("Infinite values in the data" in u for u in schema.unchecked)
