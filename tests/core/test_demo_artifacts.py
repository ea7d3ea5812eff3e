"""The schema-change demo's GX results and dbt artifacts: in the bundle, read by the CLI and by triage.

The artifacts were made with real Great Expectations and dbt by ``scripts/make_demo_artifacts.py``
and are committed under ``core/demo/data/schema_change/``; reading them needs neither tool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.bundle import validate_bundle
from core.demo import schema_change
from core.triage import triage_bundle

ROOT = Path(__file__).resolve().parents[2]
ONSET = schema_change.CHANGE
DEMO = "demo-schema-change"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_the_bundle_carries_the_artifacts_and_validates(demo_bundles):
    bundle = demo_bundles[DEMO]
    assert validate_bundle(bundle) == []
    for name in ("dbt/manifest.json", "dbt/run_results.json", "dbt/catalog.json", "dbt/previous/manifest.json",
                 "quality/expectations/lab_results.json"):
        assert (bundle / name).is_file(), name
    assert len(list((bundle / "quality" / "lab_results_hourly").glob("*.json"))) == 24
    stored = list((ROOT / "core/demo/data/schema_change").rglob("*.json"))
    assert stored and all(f.stat().st_size < 100_000 for f in stored)
    assert sum(f.stat().st_size for f in stored) < 400_000


def test_quality_reports_the_failed_column_set_check_from_the_first_run_after_the_onset(demo_bundles):
    res = _cli("quality", str(demo_bundles[DEMO]), "--json")
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    failed = {f["expectation"]: f for f in report["failed"]}
    cols = failed["expect_table_columns_to_match_set"]
    assert cols["category"] == "schema"
    assert ONSET < _at(cols["since"]) <= ONSET + timedelta(hours=1)  # the first hourly run after 09:00
    assert "radius_mean" in cols["observed"] and "mean radius" not in cols["observed"]
    assert failed["expect_column_values_to_be_between"]["column"] == "mean area"  # the ×10 unit


def test_the_column_set_check_passed_in_every_run_before_the_onset(demo_bundles):
    from core.sources.factory import open_source

    source = open_source("quality", demo_bundles[DEMO])
    runs = [r for r in source.runs if r.expectation == "expect_table_columns_to_match_set"]
    before = [r for r in runs if r.run_time <= ONSET]
    after = [r for r in runs if r.run_time > ONSET]
    assert len(before) >= 6 and all(r.success for r in before)
    assert after and not any(r.success for r in after)


def test_lineage_reports_the_changed_model_upstream_of_the_feature(demo_bundles):
    res = _cli("lineage", str(demo_bundles[DEMO]), "--feature", "mean area", "--json")
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    feature = report["features"]["mean area"]
    assert feature["model"] == "model.lab_features.lab_features"  # the feature model
    assert "stg_lab_results" in feature["upstream"]
    changed = next(f for f in report["findings"] if f["kind"] == "changed")
    assert changed["node"] == "model.lab_features.stg_lab_results"
    assert changed["columns"] == ["mean radius"] and "radius_mean" in changed["detail"]
    assert abs(_at(changed["at"]) - ONSET) < timedelta(hours=1)  # the 08:48 build, well inside ±48 h
    assert any("stg_lab_results" in p and "feature `mean area`" in p for p in feature["paths"])


def test_reading_the_artifacts_needs_neither_gx_nor_dbt(demo_bundles):
    code = (
        "import sys\n"
        "from core.sources.factory import open_source\n"
        f"b = {str(demo_bundles[DEMO])!r}\n"
        "assert open_source('quality', b).findings()\n"
        "from core.sources.lineage_dbt import findings\n"
        "assert findings(open_source('lineage', b))\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('great_expectations', 'dbt')], 'imported'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def demo_triage(demo_bundles):
    return triage_bundle(demo_bundles[DEMO])


def test_triage_ranks_schema_change_first_with_gx_and_dbt_evidence(demo_triage):
    top = demo_triage.top
    assert top.root_cause.value == "schema_change" and top.status == "likely"
    assert demo_triage.hypotheses[1].score < top.score - 0.3
    signals = {s.rule: s for s in top.signals}
    gx = signals["gx_schema_check_failed"]
    assert "expect_table_columns_to_match_set" in gx.evidence.title + gx.evidence.detail and gx.strength == 1
    dbt = signals["dbt_upstream_schema_change"]
    assert dbt.evidence.view == "lineage" and dbt.evidence.data["node"] == "model.lab_features.stg_lab_results"
    assert "stg_lab_results" in dbt.evidence.data["path"] and "lab_features" in dbt.evidence.data["path"]
    assert dbt.strength > 0.99  # 12 minutes before the onset
    assert demo_triage.step("quality").status == "ok" and demo_triage.step("lineage").status == "ok"


def test_bundles_of_an_older_generator_are_stale_and_rebuilt(tmp_path, monkeypatch):
    """A home built by an older generator gets the new folders (dbt/, quality/, traces/) on the next start."""
    import core.demo as demo

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    folder = tmp_path / "demo-bundles"
    demo.generate_demo_bundles(folder, ("demo-schema-change",))
    assert demo.stale_demo_bundles() == []
    (folder / "demo-schema-change" / ".generator-version").write_text("3")
    shutil.rmtree(folder / "demo-schema-change" / "dbt")
    assert demo.stale_demo_bundles() == ["demo-schema-change"]
    demo.generate_demo_bundles(folder, tuple(demo.stale_demo_bundles()))
    assert demo.stale_demo_bundles() == [] and (folder / "demo-schema-change" / "dbt").is_dir()


def test_import_puts_failed_checks_and_dbt_changes_on_the_timeline(demo_bundles, sqlite_store):
    from core.flows.import_bundle import import_bundle
    from core.store.timeline import list_events

    import_bundle(sqlite_store, demo_bundles["demo-schema-change"], copy=False)
    events = list_events(sqlite_store, "demo-schema-change")
    gx = [e for e in events if e.source == "great_expectations"]
    dbt = [e for e in events if e.source == "dbt"]
    assert gx and all(e.kind.value == "alert" for e in gx)
    assert any("mean radius" in e.title or "column" in e.title.lower() for e in gx)
    assert any(e.title == "dbt: stg_lab_results changed" or "stg_lab_results" in e.title for e in dbt)


def test_a_malformed_tool_folder_imports_nothing(demo_bundles, sqlite_store, tmp_path):
    from core.errors import WorkbenchError
    from core.flows.import_bundle import import_bundle
    from core.store.incidents import find_incident

    bundle = Path(shutil.copytree(demo_bundles["demo-schema-change"], tmp_path / "b"))
    manifest = bundle / "dbt" / "manifest.json"
    manifest.write_text(manifest.read_text()[:500])  # cut off
    with pytest.raises(WorkbenchError, match="manifest.json"):
        import_bundle(sqlite_store, bundle, copy=False)
    assert find_incident(sqlite_store, "demo-schema-change") is None
