"""Alertmanager routes checked by the real amtool and data contracts proven on the three demo incidents."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from core.bundle import read_bundle
from core.errors import InvalidInputError
from core.onset import bundle_onset
from core.prevention import contract as ct
from core.prevention import routes
from core.prevention.plan import ALERTMANAGER_FILE, FILES, PROOF_FILE, add_contract, prevent

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ("demo-fraud-stale", "demo-schema-change", "demo-ctr-drop")
HAS_GX = ct.gx_available()

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None or shutil.which("amtool") is None,
                                reason="promtool/amtool are not installed (scripts/install_test_deps.sh installs them)")


@pytest.fixture(scope="module")
def plans(demo_bundles, tmp_path_factory):
    out = tmp_path_factory.mktemp("guardrails")
    return {name: prevent(demo_bundles[name], out_dir=out / name, contract=True, contract_engine="schema_check")
            for name in DEMOS}


@pytest.mark.parametrize("name", DEMOS)
def test_the_alertmanager_snippet_passes_amtool_and_routes_every_rule_to_the_team_pager(plans, name):
    plan = plans[name]
    path = plan.out_dir / ALERTMANAGER_FILE
    assert path.is_file()
    assert plan.routes.check.ok and "SUCCESS" in plan.routes.check.output
    assert plan.routes.routes and all(r.ok for r in plan.routes.routes)
    assert plan.tools_ok and plan.failed_tool() is None
    # every rule carries the labels the routes match on
    doc = yaml.safe_load(path.read_text())
    team_route = doc["route"]["routes"][0]
    for rule in plan.ruleset.rules:
        assert rule.labels["team"] == plan.ruleset.team
        assert f'team="{rule.labels["team"]}"' in team_route["matchers"]
        assert f'service="{rule.labels["service"]}"' in team_route["matchers"]
    # run the real amtool again: a page goes to the pager, anything else to the tickets receiver
    pager, tickets = routes.receivers(plan.ruleset.team)
    labels = [f"team={plan.ruleset.team}", f"service={plan.ruleset.service}"]
    out = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={path}", *labels, "severity=page"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == pager
    out = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={path}", *labels,
                          "severity=warning"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == tickets


def test_a_broken_alertmanager_file_fails_with_amtools_message(plans, tmp_path):
    plan = plans["demo-fraud-stale"]
    bad = plan.files[ALERTMANAGER_FILE].replace(f"receiver: {plan.ruleset.team}-pager",
                                                "receiver: nobody-pager", 1)
    assert bad != plan.files[ALERTMANAGER_FILE]
    (tmp_path / ALERTMANAGER_FILE).write_text(bad)
    proof = routes.prove_routes(tmp_path / ALERTMANAGER_FILE, plan.ruleset, plan.ruleset.team)
    assert not proof.ok and not proof.check.ok
    assert 'undefined receiver "nobody-pager"' in proof.check.output
    assert proof.failure() is proof.check and "FAILED" in proof.lines()[0]
    # a route that sends pages to the wrong receiver fails the route test
    wrong = plan.files[ALERTMANAGER_FILE].replace("- severity=\"page\"", "- severity=\"critical\"", 1)
    (tmp_path / ALERTMANAGER_FILE).write_text(wrong)
    proof = routes.prove_routes(tmp_path / ALERTMANAGER_FILE, plan.ruleset, plan.ruleset.team)
    assert proof.check.ok and not proof.ok
    assert "did not match" in proof.failure().output


def test_without_amtool_the_routes_say_how_to_install_it(plans, tmp_path, monkeypatch):
    plan = plans["demo-ctr-drop"]
    monkeypatch.setattr(routes.shutil, "which", lambda _name: None)
    proof = routes.prove_routes(plan.out_dir / ALERTMANAGER_FILE, plan.ruleset, plan.ruleset.team)
    assert not proof.installed and not proof.ok
    assert "prometheus-alertmanager" in proof.lines()[0]


@pytest.mark.parametrize("name", DEMOS)
def test_the_schema_check_contract_passes_on_the_reference_and_fails_on_the_incident(plans, name):
    c = plans[name].contract
    assert c.engine == ct.SCHEMA_CHECK and not c.skipped
    assert c.reference.ok and c.reference.rows > 0
    assert not c.incident_check.ok and c.incident_check.failed
    assert c.proven and "data contract proven" in c.lines()[-1]
    assert (plans[name].out_dir / ct.SCHEMA_FILE).is_file()
    doc = json.loads((plans[name].out_dir / ct.SCHEMA_FILE).read_text())
    assert set(doc["columns"]) == {col for col, _ in c.columns}


def test_the_contracts_hold_the_columns_each_incident_changed(plans):
    cols = {name: {c for c, _ in plans[name].contract.columns} for name in DEMOS}
    assert {"mean area", "mean radius"} <= cols["demo-schema-change"]
    assert "user_tenure_days" in cols["demo-ctr-drop"]
    assert {"fraud_score", "txn_count_24h"} <= cols["demo-fraud-stale"]
    failed = " ".join(plans["demo-schema-change"].contract.incident_check.failed)
    assert "column set changed" in failed and "mean radius" in failed and "mean area" in failed


@pytest.mark.skipif(not HAS_GX, reason="Great Expectations is not installed (requirements-gx.txt)")
@pytest.mark.parametrize("name", ("demo-schema-change", "demo-ctr-drop"))
def test_the_gx_suite_passes_on_the_reference_and_fails_on_the_incident(plans, name):
    plan = add_contract(plans[name], engine=ct.GX)
    c = plan.contract
    assert c.engine == ct.GX and c.proven
    suite = json.loads((plan.out_dir / ct.GX_FILE).read_text())
    kinds = {e["type"] for e in suite["expectations"]}
    assert {"expect_table_columns_to_match_set", "expect_column_values_to_be_between",
            "expect_column_proportion_of_non_null_values_to_be_between"} <= kinds
    assert {e["kwargs"].get("column") for e in suite["expectations"]} - {None} <= {col for col, _ in c.columns}
    # validate the written suite again with real GX: the same verdicts
    from core.analysis.expectations import load_suite, validate_frame
    from core.triage.steps.data import data_pair

    b = read_bundle(plan.bundle_path)
    pair = data_pair(b, plan.onset)
    assert validate_frame(pair["reference"], load_suite(plan.out_dir / ct.GX_FILE)).success
    assert not validate_frame(pair["current"], load_suite(plan.out_dir / ct.GX_FILE)).success
    assert ct.GX_FILE in plan.files and "contract on the incident window" in plan.files[PROOF_FILE]


def test_without_gx_the_contract_falls_back_to_the_schema_check_and_says_so(demo_bundles, monkeypatch):
    monkeypatch.setattr(ct, "gx_available", lambda: False)
    b = read_bundle(demo_bundles["demo-ctr-drop"])
    c = ct.build_contract(b, bundle_onset(b).at)
    assert c.engine == ct.SCHEMA_CHECK and "requirements-gx.txt" in c.note and c.proven
    with pytest.raises(InvalidInputError, match="requirements-gx.txt"):
        ct.build_contract(b, bundle_onset(b).at, engine=ct.GX)
    with pytest.raises(InvalidInputError, match="unknown contract engine"):
        ct.build_contract(b, bundle_onset(b).at, engine="pydantic")


def test_a_bundle_without_datasets_gets_no_contract_and_says_why(demo_bundles):
    b = read_bundle(demo_bundles["demo-ctr-drop"])
    c = ct.build_contract(replace(b, datasets={}), bundle_onset(b).at, engine=ct.SCHEMA_CHECK)
    assert c.skipped and "no datasets" in c.skipped and not c.proven
    assert c.lines() == [f"data contract: not built ({c.skipped})"]


def test_the_zip_holds_every_file(plans):
    plan = plans["demo-fraud-stale"]
    names = set(zipfile.ZipFile(io.BytesIO(plan.zip_bytes())).namelist())
    assert names == {f"demo-fraud-stale-guard-rails/{n}" for n in (*FILES, ct.SCHEMA_FILE)}
    proof_md = plan.files[PROOF_FILE]
    assert "amtool check-config: passed" in proof_md and "min before the incident was detected" in proof_md


def test_cli_writes_the_new_files_and_reports_their_proofs_in_json(demo_bundles, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "core", "prevent", str(demo_bundles["demo-schema-change"]),
                           "--out", str(out), "--contract-engine", "schema_check", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["alertmanager"]["ok"] and doc["alertmanager"]["check"]["ok"] and doc["tools_ok"]
    assert doc["contract"]["engine"] == "schema_check" and doc["contract"]["proven"]
    assert doc["contract"]["reference"]["passed"] and not doc["contract"]["incident"]["passed"]
    for f in (ALERTMANAGER_FILE, PROOF_FILE, ct.SCHEMA_FILE):
        assert f in doc["files"] and (out / f).is_file()


def test_a_baseline_too_short_for_a_threshold_becomes_a_template_with_the_reason(demo_bundles):
    from datetime import timedelta

    from core.models import RootCause, TimeWindow
    from core.prevention.rules import generate_rules

    b = read_bundle(demo_bundles["demo-schema-change"])
    onset = bundle_onset(b).at
    short = replace(b, baseline=TimeWindow(b.baseline.end - timedelta(minutes=40), b.baseline.end))
    rs = generate_rules(short, RootCause.SCHEMA_CHANGE, onset)
    assert not any(r.guard == "kpi" for r in rs.rules)
    kpi = next(t for t in rs.templates if t.guard == "kpi")
    assert "point(s) in the baseline" in kpi.missing and "needed to choose a threshold" in kpi.missing
    assert rs.notes and "# - alert: Kpi" in rs.to_yaml()
