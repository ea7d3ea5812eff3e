"""The post-mortem cites the generated guard rails with their proof and carries their files as attachments."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import replace

import pytest

from core.report import guardrails as gr_mod
from core.report.postmortem import build_postmortem, gather_inputs
from core.report.render import export_postmortem

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None or shutil.which("amtool") is None,
                                reason="promtool/amtool are not installed (scripts/install_test_deps.sh installs them)")


@pytest.fixture(scope="module")
def demo_store(demo_bundles, tmp_path_factory):
    from core.demo.fishbones import seed_demo_fishbone
    from core.flows.import_bundle import import_bundle
    from core.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('pm-rails') / 'store.db'}")
    for name in ("demo-fraud-stale", "demo-schema-change", "demo-ctr-drop"):
        import_bundle(store, demo_bundles[name], copy=False)
        seed_demo_fishbone(store, name)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def fraud(demo_store, tmp_path_factory):
    inputs = gather_inputs(demo_store, "demo-fraud-stale")
    rails, plan = gr_mod.generate_for_incident(demo_store, inputs.incident, out_dir=tmp_path_factory.mktemp("gr"))
    return inputs, rails, plan


def test_action_items_and_star_cite_the_guard_rails_and_their_proof(fraud):
    inputs, rails, plan = fraud
    pm = build_postmortem(replace(inputs, guard_rails=rails), charts=False)
    actions = pm.section("action_items").text
    kpi = next(s for s in plan.saved if s.alert == "FraudCatchRateLow")
    minutes = f"{kpi.minutes_before_detection:.0f} min before the incident was detected"
    assert "Guard rails generated from the root cause" in actions
    assert "FraudCatchRateLow" in actions and minutes in actions
    assert "amtool check-config: passed" in actions and "alertmanager.yml" in actions
    assert "the breaker would have tripped" in actions and "fallback.yaml" in actions
    assert "data contract proven" in actions
    best = max(s.minutes_before_detection for s in plan.saved)
    assert rails.headline.endswith(f"would have fired {best:.0f} min before detection")
    assert rails.headline in pm.star.action and "guard rail(s)" in pm.star.result
    # without guard rails the sections stay as they were
    plain = build_postmortem(inputs, charts=False)
    assert "Guard rails" not in plain.section("action_items").text and "guard rail" not in plain.star.action
    md = export_postmortem(pm, "md").decode()
    assert "Guard rails generated from the root cause" in md and rails.headline in md


def test_the_attachments_carry_rules_routes_contract_and_policy(fraud, tmp_path):
    _inputs, rails, plan = fraud
    names = set(zipfile.ZipFile(io.BytesIO(gr_mod.attachments_zip(rails))).namelist())
    want = {"rules.yml", "rules_test.yml", "alertmanager.yml", "fallback.yaml", "fallback.py", "proof.md",
            plan.contract.file_name}
    assert {f"demo-fraud-stale-attachments/{n}" for n in want} <= names
    written = gr_mod.write_attachments(rails, tmp_path / "dir")
    assert {p.name for p in written} >= want
    assert (tmp_path / "dir" / "rules.yml").read_text() == plan.files["rules.yml"]
    with pytest.raises(Exception, match="does not exist"):
        gr_mod.write_attachments(rails, tmp_path / "missing" / "a.zip")


def test_runbook_link_is_used_when_the_store_has_one(fraud, demo_store):
    _inputs, rails, _plan = fraud
    link = gr_mod.runbook_link(demo_store, "stale_data", "demo-fraud-stale")
    assert link is not None and link.link.startswith("/runbooks?incident=demo-fraud-stale")
    with_link = replace(rails, runbook=link)
    assert link.link in gr_mod.action_items_markdown(with_link)
    assert "runbook.md" in gr_mod.attachments(with_link)
    assert "Runbook: none linked yet" in gr_mod.action_items_markdown(replace(rails, runbook=None))
    assert rails.runbook is not None  # generate_for_incident looks the entry up


def test_cli_writes_the_report_and_the_attachments_zip(demo_store, tmp_path, capsys):
    from core.__main__ import main

    url = demo_store.url.replace("sqlite+pysqlite", "sqlite")
    out, zip_path = tmp_path / "pm.md", tmp_path / "pm-attachments.zip"
    assert main(["postmortem", "demo-schema-change", "-o", str(out), "--attachments", str(zip_path),
                 "--database", url, "--no-charts", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["attachments"] == [str(zip_path)]
    assert any(g["kind"] == "alert" and g["proven"] for g in info["guard_rails"])
    names = {n.split("/", 1)[1] for n in zipfile.ZipFile(zip_path).namelist()}
    assert {"rules.yml", "alertmanager.yml", "fallback.yaml", "fallback.py", "proof.md"} <= names
    assert any(n.startswith("contract_") for n in names)
    text = out.read_text()
    assert "AccuracyLow would have fired" in text and "min before the incident was detected" in text
    # a zip whose folder is missing is a one-line error before anything is generated
    assert main(["postmortem", "demo-schema-change", "--attachments", str(tmp_path / "nope" / "a.zip"),
                 "--database", url, "--no-charts"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_incident_without_a_bundle_says_guard_rails_need_one(demo_store):
    inputs = gather_inputs(demo_store, "demo-ctr-drop", with_kpi=False)
    with pytest.raises(Exception, match="has no bundle"):
        gr_mod.generate_for_incident(demo_store, replace(inputs.incident, bundle_path=None))
