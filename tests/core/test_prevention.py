"""Guard rails from the root cause, proven with the real promtool on the three demo incidents."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.bundle import read_bundle
from core.errors import InvalidInputError
from core.models import RootCause
from core.onset import bundle_milestones, bundle_onset
from core.prevention import proof
from core.prevention.plan import FILES, prevent
from core.prevention.rules import KPI_GUARD, SeriesTooShort, build_rule, generate_rules, load_series, prom_name

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ("demo-fraud-stale", "demo-schema-change", "demo-ctr-drop")

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None,
                                reason="promtool is not installed (scripts/install_test_deps.sh installs it)")


@pytest.fixture(scope="module")
def plans(demo_bundles, tmp_path_factory):
    out = tmp_path_factory.mktemp("prevent")
    return {name: prevent(demo_bundles[name], out_dir=out / name, contract=False) for name in DEMOS}


@pytest.mark.parametrize("name", DEMOS)
def test_generated_rules_pass_promtool_check_and_their_unit_tests(plans, name):
    plan = plans[name]
    assert plan.ruleset.rules, "every demo has at least its KPI rule"
    for f in FILES:
        assert (plan.out_dir / f).is_file()
    # re-run the real promtool on the written files
    check = proof.check_rules(plan.out_dir / "rules.yml")
    assert check.ok, check.output
    assert f"SUCCESS: {len(plan.ruleset.rules)} rules found" in check.output
    test = proof.run_tests(plan.out_dir / "rules_test.yml")
    assert test.ok, test.output
    assert plan.promtool_ok


@pytest.mark.parametrize("name", DEMOS)
def test_the_alert_fires_during_the_impact_before_detection_and_not_on_the_baseline(plans, demo_bundles, name):
    plan = plans[name]
    bundle = read_bundle(demo_bundles[name])
    detected = bundle_milestones(bundle)["detected"]
    kpi = next(r for r in plan.ruleset.rules if r.guard == "kpi")
    assert kpi.fires_at is not None
    assert plan.onset <= kpi.fires_at < detected
    saved = next(s for s in plan.saved if s.alert == kpi.alert)
    assert saved.minutes_before_detection == pytest.approx((detected - kpi.fires_at).total_seconds() / 60)
    assert "before the incident was detected" in saved.sentence
    # the unit test looks at the baseline (no alert) and at the first firing (the alert)
    checks = proof.checkpoints(plan.ruleset, kpi)
    assert any(not c.fires and c.at < plan.ruleset.baseline_end for c in checks)
    assert any(c.fires and c.at == kpi.fires_at for c in checks)
    # the threshold lies beyond everything the baseline's smoothed KPI did
    base = kpi.series.smoothed(kpi.window_min)
    base = base[(base.index >= plan.ruleset.origin + pd.Timedelta(minutes=kpi.window_min))
                & (base.index < plan.ruleset.baseline_end)]
    assert (base > kpi.threshold).all()  # the demo KPIs are higher-is-better


def test_a_broken_expectation_makes_promtool_test_fail_with_its_message(plans, tmp_path):
    plan = plans["demo-fraud-stale"]
    for f in ("rules.yml", "rules_test.yml"):
        shutil.copy(plan.out_dir / f, tmp_path / f)
    text = (tmp_path / "rules_test.yml").read_text()
    # claim the KPI alert fires at the end of the baseline: promtool must refuse it
    rule = next(r for r in plan.ruleset.rules if r.guard == "kpi")
    at = proof.checkpoints(plan.ruleset, rule)[-1].minute
    assert f"eval_time: {at}m" in text
    bad = text.replace(f"eval_time: {at}m", "eval_time: 60m", 1)
    (tmp_path / "rules_test.yml").write_text(bad)
    run = proof.run_tests(tmp_path / "rules_test.yml")
    assert not run.ok and "FAILED" in run.output and rule.alert in run.output


def test_the_stale_data_rules_name_the_missing_freshness_series(plans, demo_bundles):
    plan = plans["demo-fraud-stale"]
    assert plan.cause is RootCause.STALE_DATA
    guards = {t.guard: t for t in plan.ruleset.templates}
    assert "feature_freshness" in guards and "no metric matching" in guards["feature_freshness"].missing
    text = (plan.out_dir / "rules.yml").read_text()
    assert "# - alert: FeatureFreshness" in text  # a commented template, never a guessed rule
    names = read_bundle(demo_bundles["demo-fraud-stale"]).metric_names()
    assert {r.prom_metric for r in plan.ruleset.rules} <= {prom_name(n) for n in names}
    assert any(r.metric == "prediction_mean" and r.direction == "shift" for r in plan.ruleset.rules)


@pytest.mark.parametrize("name", DEMOS)
def test_the_breaker_trips_after_the_onset_and_never_on_the_baseline(plans, name):
    rep = plans[name].replay
    assert rep.tripped_at is not None and rep.tripped_at >= plans[name].onset
    assert rep.false_trips_before_onset == 0
    assert 0 < rep.prevented <= rep.bad_predictions
    assert "would have tripped" in rep.sentence


def test_the_fraud_breaker_uses_the_default_score_and_feature_age(plans):
    policy = plans["demo-fraud-stale"].policy
    conds = {c.name: c for c in policy.conditions}
    assert conds["default_share"].enabled and conds["default_share"].default_value == 0.5
    assert conds["feature_age"].enabled and conds["feature_age"].threshold > 0
    assert plans["demo-fraud-stale"].replay.condition == "default_share"
    # the exported Python runs and agrees
    ns: dict = {}
    exec(compile(policy.to_python(), "fallback.py", "exec"), ns)
    assert "default" in ns["should_fall_back"](predictions=[0.5] * 20)
    assert ns["should_fall_back"](predictions=[0.01, 0.07, 0.12, 0.05]) is None
    assert "feature age" in ns["should_fall_back"](feature_age_s=conds["feature_age"].threshold + 1)
    # and the YAML is the same policy
    import yaml

    doc = yaml.safe_load(policy.to_yaml())["circuit_breaker"]
    assert {c["name"] for c in doc["conditions"]} == set(conds)


def test_a_disabled_condition_says_why(plans):
    conds = {c.name: c for c in plans["demo-ctr-drop"].policy.conditions}
    assert not conds["feature_age"].enabled and "feature timestamp column" in conds["feature_age"].reason
    assert not conds["default_share"].enabled and conds["default_share"].reason


def test_too_short_a_baseline_is_a_clear_message(demo_bundles):
    bundle = read_bundle(demo_bundles["demo-fraud-stale"])
    onset = bundle_onset(bundle).at
    start = bundle.baseline.start
    series = load_series(bundle, bundle.kpi_metric, start, start + pd.Timedelta(minutes=40))
    with pytest.raises(SeriesTooShort, match="point\\(s\\) in the baseline"):
        build_rule(KPI_GUARD, series, baseline=(start, start + pd.Timedelta(minutes=20)), onset=onset,
                   direction="below")


def test_unknown_cause_is_bad_input(demo_bundles, tmp_path):
    with pytest.raises(InvalidInputError, match="unknown root cause"):
        prevent(demo_bundles["demo-ctr-drop"], out_dir=tmp_path, cause="gremlins")


def test_cli_prevent_writes_files_and_prints_the_proof(demo_bundles, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "core", "prevent", str(demo_bundles["demo-fraud-stale"]),
                           "--out", str(out), "--no-contract", "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["root_cause"] == "stale_data" and doc["promtool"]["ok"]
    assert doc["ttd_saved"] and all(s["minutes_before_detection"] > 0 for s in doc["ttd_saved"])
    assert sorted(doc["files"]) == sorted(FILES) and all((out / f).is_file() for f in FILES)
    bad = subprocess.run([sys.executable, "-m", "core", "prevent", str(tmp_path / "missing")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_cli_exit_5_when_promtool_is_missing(demo_bundles, tmp_path):
    import os

    env = {**os.environ, "PATH": str(tmp_path)}  # a PATH without promtool
    proc = subprocess.run([sys.executable, "-m", "core", "prevent", str(demo_bundles["demo-fraud-stale"]),
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 5 and "promtool is not installed" in proc.stderr


def test_rules_for_a_cause_without_series_are_templates(demo_bundles):
    bundle = read_bundle(demo_bundles["demo-schema-change"])
    rs = generate_rules(bundle, RootCause.INFRASTRUCTURE, bundle_onset(bundle).at)
    # latency_p95_ms exists, error rate does not
    assert any(r.guard == "latency" for r in rs.rules)
    assert any(t.guard == "error_rate" for t in rs.templates)
    assert "# - alert: ErrorRate" in rs.to_yaml()
