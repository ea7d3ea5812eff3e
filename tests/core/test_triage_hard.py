"""Triage on harder incidents: data-side change points, unit changes in a mixed reference,
coincident deploys, missing sources, external events without a mix shift, calibrated scores."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from core.analysis.datachange import clean_factor, locate_column_changes
from core.demo.common import UTC
from core.demo.scenarios import HARD_MIX, ScenarioSpec, generate_scenario, hard_specs
from core.errors import InvalidInputError
from core.triage import triage_bundle
from core.triage.scoring import UNCHECKED_PRIOR, calibrated
from core.triage.steps.changes import off_path


def _run(spec: ScenarioSpec, root):
    path = generate_scenario(spec, root / spec.id)
    truth = json.loads((path / "ground_truth.json").read_text())
    return triage_bundle(path), truth


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("hard")


# ---------------------------------------------------------------- data-side change points

def _mixed_amount(n: int = 3000, factor: float = 100.0):
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2026-04-01T00:00", tz="UTC")
    ts = start + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 86400, n)), unit="s")
    change = start + pd.Timedelta(hours=40, minutes=10)
    amount = rng.lognormal(3.5, 0.8, n)
    amount = np.where(ts >= change, amount * factor, amount)
    return pd.DataFrame({"timestamp": ts, "amount": amount, "price": rng.normal(50, 12, n)}), change


def test_a_unit_change_is_located_at_its_own_time_with_its_clean_factor():
    frame, change = _mixed_amount()
    found = locate_column_changes(frame, "timestamp", ["amount", "price"])
    top = found[0]
    assert top.column == "amount" and top.measure == "scale"
    assert top.clean_factor == 100.0
    assert abs(top.time - change.to_pydatetime()) <= timedelta(minutes=20)
    assert top.describe() == f"`amount` ×100 from {top.time:%H:%M}"
    assert all(c.column != "price" or c.z < 3 for c in found)  # the steady column shows no strong step


def test_a_drift_factor_is_not_a_clean_unit_factor():
    frame, _ = _mixed_amount(factor=1.8)
    top = locate_column_changes(frame, "timestamp", ["amount"])[0]
    assert top.factor == pytest.approx(1.8, rel=0.2)
    assert top.clean_factor is None
    assert clean_factor(59.2) == 60.0 and clean_factor(0.0102) == 0.01 and clean_factor(1.8) is None


def test_column_changes_refuse_a_missing_timestamp():
    frame, _ = _mixed_amount()
    with pytest.raises(InvalidInputError, match="timestamp column 'ts'"):
        locate_column_changes(frame, "ts", ["amount"])


# ---------------------------------------------------------------- scenarios of the hard mix

def test_a_unit_change_before_a_slow_kpi_drop_is_a_schema_change_with_both_onsets(root):
    # reference snapshot = the 24 h before the KPI onset, so it already holds rows in cents
    spec = ScenarioSpec("schema_change", 1101, hardships=("early_data_change", "slow_impact"), snapshots=True)
    result, truth = _run(spec, root)
    assert truth["variant"] == "unit"
    top = result.top
    assert top.root_cause.value == "schema_change"
    data_onset = pd.Timestamp(truth["data_onset"])
    m = re.search(r"`amount` ×100 from (\d\d):(\d\d), KPI fell (?:from|at) \d\d:\d\d", top.explanation)
    assert m, top.explanation
    assert abs(int(m.group(1)) * 60 + int(m.group(2)) - (data_onset.hour * 60 + data_onset.minute)) <= 20
    data = result.step("data")
    assert "compared at the data change point instead of the KPI onset" in data.summary
    assert result.hypotheses[1].score < top.score


def test_a_deploy_of_an_unrelated_service_minutes_before_the_onset_is_discounted(root):
    spec = ScenarioSpec("data_drift", 1102, hardships=("coincident_deploy",))
    result, _ = _run(spec, root)
    assert result.top.root_cause.value == "data_drift"
    code = next(h for h in result.hypotheses if h.root_cause.value == "code_regression")
    assert "is not on the path of model 'scoring-model'" in code.explanation
    assert "probably a coincidence" in code.explanation
    assert code.score < 0.3


def test_off_path_reads_the_service_from_details_or_title():
    assert off_path({}, "payments-gateway 3.2.1 deployed", "scoring-service") == "payments-gateway"
    assert off_path({}, "notifications 4.10.0 deployed", "scoring-service") == "notifications"
    assert off_path({"service": "search-api"}, "Release", "scoring-service") == "search-api"
    assert off_path({}, "scoring-service 4.2.1 deployed", "scoring-service") is None
    assert off_path({}, "scoring-model v42 promoted", "scoring-service", frozenset({"scoring-model"})) is None
    assert off_path({}, "Feature table schema migration applied", "scoring-service") is None
    assert off_path({}, "db-primary failover", "scoring-service", from_title=False) is None


def test_without_datasets_the_data_classes_are_unconfirmed_not_zero(root):
    spec = ScenarioSpec("code_regression", 1103, hardships=("no_datasets",))
    result, _ = _run(spec, root)
    assert result.top.root_cause.value == "code_regression"
    for cls in ("data_drift", "schema_change", "stale_data"):
        h = next(h for h in result.hypotheses if h.root_cause.value == cls)
        assert h.status == "unconfirmed"
        assert h.score >= UNCHECKED_PRIOR
        assert "key evidence could not be looked at" in h.explanation
        assert "Baseline against incident data" in h.explanation
        assert "prior" in h.arithmetic()


def test_an_external_event_without_a_mix_shift_still_comes_first(root):
    spec = ScenarioSpec("external_event", 1104, hardships=("external_no_mix", "slow_impact"))
    result, _ = _run(spec, root)
    assert result.top.root_cause.value == "external_event"
    assert "external" in result.top.explanation


def test_defaults_served_for_most_rows_are_stale_data(root):
    spec = ScenarioSpec("stale_data", 1111)
    result, truth = _run(spec, root)
    assert truth["variant"] == "defaults" and not truth["freshness_column"]
    assert result.top.root_cause.value == "stale_data"


def test_probabilities_are_calibrated_numbers(root):
    spec = ScenarioSpec("infrastructure", 1105, hardships=("slow_impact", "no_logs"))
    result, _ = _run(spec, root)
    ps = [h.probability for h in result.hypotheses]
    assert all(0.0 <= p <= 1.0 for p in ps)
    assert ps[0] == max(ps)
    assert result.to_dict()["hypotheses"][0]["probability"] == pytest.approx(ps[0], abs=1e-4)
    assert calibrated(0.9, 0.6) > calibrated(0.5, 0.1) > calibrated(0.1, -0.5)


def test_the_hard_mix_draws_every_hardship_and_keeps_the_data_classes_identifiable():
    specs = hard_specs(range(3000, 3030))
    seen = {h for s in specs for h in s.hardships}
    assert seen == set(HARD_MIX)
    for s in specs:
        if s.root_cause in ("data_drift", "schema_change", "stale_data"):
            assert "no_datasets" not in s.hardships
        if "early_data_change" in s.hardships:
            assert s.root_cause in ("data_drift", "schema_change", "stale_data")


def test_an_early_data_change_lands_in_the_baseline(root):
    spec = ScenarioSpec("schema_change", 1102, hardships=("early_data_change",))
    path = generate_scenario(spec, root / "baseline-check")
    manifest = json.loads((path / "bundle.json").read_text())
    truth = json.loads((path / "ground_truth.json").read_text())
    data_onset = pd.Timestamp(truth["data_onset"]).to_pydatetime()
    assert pd.Timestamp(manifest["baseline"]["start"]).to_pydatetime() < data_onset
    assert data_onset < pd.Timestamp(manifest["baseline"]["end"]).to_pydatetime().astimezone(UTC)


def test_an_external_event_with_a_mix_shift_names_the_segments_that_moved(root):
    result, _ = _run(ScenarioSpec("external_event", 1106), root)
    top = result.top
    assert top.root_cause.value == "external_event"
    mix = next(s for s in top.signals if s.rule == "mix_shift")
    assert re.search(r"the mix of 'country' changed .*: [A-Z]{2} \d+% → \d+%", mix.evidence.detail)
    assert "segments" in mix.evidence.detail
