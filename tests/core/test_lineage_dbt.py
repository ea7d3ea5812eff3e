"""dbt lineage: a real dbt project on DuckDB, built, then broken the way incidents break it.

One module-scoped project: ``dbt build`` / ``source freshness`` / ``docs generate`` run for real
(dbt-core + dbt-duckdb, in process through ``dbtRunner``). The healthy run's artifacts are kept as
the baseline; then the upstream model renames a column, the source stops loading and gets null
keys, and the second run's artifacts (with the baseline manifest as ``previous/``) are the incident.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import InvalidInputError
from core.sources.factory import open_source
from core.sources.lineage_dbt import changed_between, findings, load_lineage, path_text, timeline_events
from core.triage.steps.lineage import RULES, assess, rule_for

ROOT = Path(__file__).resolve().parents[2]

PROJECT = {
    "dbt_project.yml": "name: features\nversion: '1.0'\nprofile: features\nmodel-paths: ['models']\n",
    "models/sources.yml": """version: 2
sources:
  - name: raw
    schema: raw
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 6, period: hour}
      error_after: {count: 12, period: hour}
    tables:
      - name: events
        columns:
          - name: user_id
            tests:
              - not_null:
                  config: {severity: warn}
          - name: amount
""",
    "models/schema.yml": """version: 2
models:
  - name: stg_events
    columns:
      - name: user_id
      - name: amount
  - name: fct_features
    columns:
      - name: user_id
        tests: [unique, not_null]
      - name: amount_7d
        tests: [not_null]
      - name: n_events_7d
""",
    "models/stg_events.sql": "select user_id, amount, event_time from {{ source('raw', 'events') }}\n",
    "models/fct_features.sql": ("select user_id, sum(amount) as amount_7d, count(*) as n_events_7d\n"
                                "from {{ ref('stg_events') }} group by user_id\n"),
}


def _dbt(project: Path, *args: str) -> None:
    from dbt.cli.main import dbtRunner

    res = dbtRunner().invoke([*args, "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"])
    assert res.exception is None, res.exception


def _run_all(project: Path, out: Path) -> Path:
    """build (run results, kept), source freshness, docs generate (catalog); the artifacts into ``out``."""
    target = project / "target"
    out.mkdir(parents=True)
    _dbt(project, "build")
    shutil.copy(target / "run_results.json", out)
    shutil.copy(target / "manifest.json", out)
    _dbt(project, "source", "freshness")
    shutil.copy(target / "sources.json", out)
    _dbt(project, "docs", "generate")
    shutil.copy(target / "catalog.json", out)
    return out


def _load_raw(db: Path, *, hours_ago: float, null_users: int = 0) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists raw")
        con.execute("create or replace table raw.events as select (i % 10) as user_id, i * 1.5 as amount, "
                    f"now() - interval '{hours_ago} hours' as event_time, "
                    f"now() - interval '{hours_ago} hours' as loaded_at from range(100) t(i)")
        if null_users:
            con.execute(f"insert into raw.events select null, 1.0, now(), now() - interval '{hours_ago} hours' "
                        f"from range({null_users})")
    finally:
        con.close()


@pytest.fixture(scope="module")
def dbt_runs(tmp_path_factory):
    pytest.importorskip("dbt.cli.main", reason="dbt-core is in requirements-dbt.txt")
    root = tmp_path_factory.mktemp("dbt")
    project = root / "project"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    db = root / "warehouse.duckdb"
    (project / "profiles.yml").write_text(
        f"features:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{db}'\n      threads: 1\n")
    old = {k: os.environ.get(k) for k in ("DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_PARTIAL_PARSE")}
    os.environ.update(DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_PARTIAL_PARSE="false")
    try:
        _load_raw(db, hours_ago=1)
        healthy = _run_all(project, root / "healthy")
        # the incident: the upstream model renames a column, the source stops loading, null keys arrive
        (project / "models/stg_events.sql").write_text(
            "select user_id, amount as amt, event_time from {{ source('raw', 'events') }}\n")
        _load_raw(db, hours_ago=20, null_users=3)
        broken = _run_all(project, root / "broken")
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    (broken / "previous").mkdir()
    shutil.copy(healthy / "manifest.json", broken / "previous" / "manifest.json")
    return {"healthy": healthy, "broken": broken, "project": project, "at": datetime.now(timezone.utc)}


def test_healthy_run_reads_the_graph_and_finds_nothing(dbt_runs):
    lin = load_lineage(dbt_runs["healthy"])
    assert {n.resource_type for n in lin.nodes.values()} >= {"model", "source", "test"}
    assert lin.upstream_of("fct_features") == ["model.features.stg_events", "source.features.raw.events"]
    assert "amount_7d" in lin.find("fct_features").columns
    assert "sum(amount)" in lin.find("fct_features").sql
    assert {t.test_name for t in lin.tests_of("fct_features")} == {"unique", "not_null"}
    assert lin.results["model.features.fct_features"].status == "success"
    assert lin.freshness["source.features.raw.events"].status == "pass"
    assert findings(lin) == []
    # the mapping rule: column level where a model has the column, else the feature model
    assert lin.map_features(["amount_7d", "country"]) == {
        "amount_7d": ("model.features.fct_features", "amount_7d"), "country": ("model.features.fct_features", None)}
    assert lin.map_features(["amount"])["amount"] == ("model.features.stg_events", "amount")


def test_the_broken_run_shows_the_rename_the_stale_source_and_the_failing_test(dbt_runs):
    lin = open_source("lineage", dbt_runs["broken"])
    found = {(f.kind, f.label): f for f in findings(lin)}
    changed = found[("changed", "stg_events")]
    assert "amount" in changed.columns and "amt" in changed.detail
    assert ("errored", "fct_features") in found and "amount" in found[("errored", "fct_features")].detail
    stale = found[("stale", "raw.events")]
    assert abs((dbt_runs["at"] - stale.at) - timedelta(hours=20)) < timedelta(minutes=10)
    assert found[("test_failed", "raw.events")].test_name == "not_null"
    assert "warned (3 row(s))" in found[("test_failed", "raw.events")].detail
    assert changed_between(json.loads((dbt_runs["healthy"] / "manifest.json").read_text()),
                           json.loads((dbt_runs["broken"] / "manifest.json").read_text())) == {
        "model.features.stg_events": "modified"}
    events = timeline_events(findings(lin))
    assert {e["attributes"]["finding"] for e in events} == {"changed", "errored", "stale", "test_failed"}
    assert all(e["timestamp"].endswith("Z") for e in events)
    kinds = {e["attributes"]["finding"]: e["kind"] for e in events}
    assert kinds["changed"] == "data_pipeline" and kinds["test_failed"] == "alert" and kinds["stale"] == "alert"
    text = path_text(lin, stale, "amount_7d", "model.features.fct_features")
    assert text.startswith("source `raw.events` stale since ")
    assert text.endswith("→ `stg_events` → `fct_features` → feature `amount_7d`")


def test_triage_evidence_carries_the_path_and_the_class(dbt_runs):
    lin = load_lineage(dbt_runs["broken"])
    signals, facts = assess(lin, ["amount_7d"], dbt_runs["at"])
    by_rule = {s.rule: s for s in signals}
    assert set(by_rule) == {"dbt_upstream_schema_change", "dbt_source_stale", "dbt_test_schema"}
    assert by_rule["dbt_source_stale"].root_cause.value == "stale_data"
    assert by_rule["dbt_upstream_schema_change"].root_cause.value == "schema_change"
    assert "→ `fct_features` → feature `amount_7d`" in by_rule["dbt_source_stale"].evidence.detail
    assert facts["mapped"] == {"amount_7d": ["model.features.fct_features", "amount_7d"]}
    # a feature nothing upstream feeds gets no evidence; findings far from the onset do not count
    assert assess(lin, ["amount_7d"], dbt_runs["at"] + timedelta(days=5))[0] == []
    assert rule_for(next(f for f in findings(lin) if f.kind == "changed"), lin) in RULES


def _without_dbt(demo_bundles, dst: Path) -> Path:
    """A copy of the schema-change demo without its own dbt artifacts (and GX results)."""
    shutil.copytree(demo_bundles["demo-schema-change"], dst)
    shutil.rmtree(dst / "dbt")
    shutil.rmtree(dst / "quality")
    return dst


def test_triage_step_runs_on_a_bundle_with_a_dbt_folder(dbt_runs, demo_bundles, tmp_path):
    from core.bundle import read_bundle
    from core.triage.models import TriageContext
    from core.triage.steps.lineage import LineageStep

    src = _without_dbt(demo_bundles, tmp_path / "bare")
    bare = read_bundle(src)
    ctx = TriageContext(bundle=bare, onset=None, at=dbt_runs["at"], data_end=dbt_runs["at"])
    outcome = LineageStep().run(ctx)
    assert outcome.result.status == "skipped" and "no dbt/ folder" in outcome.result.summary
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst)
    shutil.copytree(dbt_runs["broken"], dst / "dbt")
    ctx = TriageContext(bundle=read_bundle(dst), onset=None, at=dbt_runs["at"], data_end=dbt_runs["at"])
    outcome = LineageStep().run(ctx)
    assert outcome.result.status == "ok"
    assert {s.rule for s in outcome.signals} >= {"dbt_source_stale", "dbt_upstream_schema_change"}


def _shift_times(folder: Path, delta: timedelta) -> None:
    """Move every time in the run's artifacts by ``delta`` (the run, replayed at the incident's onset)."""
    keys = {"started_at", "completed_at", "max_loaded_at", "snapshotted_at", "generated_at"}

    def walk(obj):
        if isinstance(obj, dict):
            return {k: (_iso_shift(v, delta) if k in keys and isinstance(v, str) else walk(v)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    for path in folder.rglob("*.json"):
        path.write_text(json.dumps(walk(json.loads(path.read_text()))))


def _iso_shift(text: str, delta: timedelta) -> str:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return (t + delta).isoformat().replace("+00:00", "Z")


def test_triage_ranks_with_lineage_evidence(dbt_runs, demo_bundles, tmp_path):
    """The built-in lineage step adds path evidence to the schema-change demo's triage."""
    from core.triage import triage_bundle

    dst = _without_dbt(demo_bundles, tmp_path / "bundle")
    shutil.copytree(dbt_runs["broken"], dst / "dbt")
    onset = datetime(2026, 1, 21, 9, 0, tzinfo=timezone.utc)  # the demo's started milestone
    _shift_times(dst / "dbt", onset + timedelta(minutes=30) - dbt_runs["at"])
    result = triage_bundle(dst)
    assert result.step("lineage").status == "ok"
    assert result.top.root_cause.value == "schema_change"
    lineage_evidence = [e for h in result.hypotheses for e in h.evidence if e.step == "lineage"]
    assert any("→ `stg_events` → `fct_features` → feature `" in e.detail for e in lineage_evidence)
    schema = next(h for h in result.hypotheses if h.root_cause.value == "schema_change")
    assert any(e.kind == "dbt_upstream_schema_change" for e in schema.evidence)


def test_without_dbt_artifacts_lineage_is_not_used_and_costs_no_confidence(demo_bundles, tmp_path):
    """A team that does not use dbt: the step is listed as not used, not as an unchecked source."""
    from core.triage import triage_bundle
    from core.triage.steps.lineage import LineageStep

    assert LineageStep.optional
    result = triage_bundle(_without_dbt(demo_bundles, tmp_path / "bundle"))
    assert "lineage" not in {s.name for s in result.skipped}
    assert [s.name for s in result.not_configured] == ["lineage"] or "lineage" in {s.name for s in result.not_configured}
    assert all("dbt" not in u for h in result.hypotheses for u in h.unchecked)
    assert result.to_dict()["not_configured"][0]["reason"]


# ---------------------------------------------------------------- bad input

def _copy(dbt_runs, tmp_path) -> Path:
    return Path(shutil.copytree(dbt_runs["healthy"], tmp_path / "target"))


def test_empty_folder_and_missing_manifest(tmp_path):
    with pytest.raises(InvalidInputError, match="no manifest.json"):
        load_lineage(tmp_path)
    with pytest.raises(InvalidInputError, match="no such file"):
        load_lineage(tmp_path / "nothing")


@pytest.mark.parametrize("name", ["manifest.json", "run_results.json", "sources.json", "catalog.json"])
def test_malformed_json_names_the_file(dbt_runs, tmp_path, name):
    folder = _copy(dbt_runs, tmp_path)
    text = (folder / name).read_text()
    (folder / name).write_text(text[: len(text) // 2])  # a partial copy
    with pytest.raises(InvalidInputError, match=rf"{name}: not valid JSON"):
        load_lineage(folder)


def test_partial_and_unsupported_artifacts(dbt_runs, tmp_path):
    folder = _copy(dbt_runs, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v4.json"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInputError, match=r"manifest.json: manifest v4 .* not supported; supported are v7"):
        load_lineage(folder)
    manifest["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v12.json"
    del manifest["nodes"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInputError, match="manifest.json: partial artifact: 'nodes'"):
        load_lineage(folder)
    (folder / "manifest.json").write_text(json.dumps([1, 2]))
    with pytest.raises(InvalidInputError, match="manifest.json: not a dbt manifest"):
        load_lineage(folder)
    (folder / "manifest.json").write_text((dbt_runs["healthy"] / "manifest.json").read_text())
    (folder / "sources.json").write_text(json.dumps({"metadata": {"dbt_schema_version": "x"}, "results": []}))
    with pytest.raises(InvalidInputError, match="sources.json: metadata.dbt_schema_version 'x'"):
        load_lineage(folder)


# ---------------------------------------------------------------- command line

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "lineage", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_text_json_and_exit_codes(dbt_runs, tmp_path):
    ok = _cli(str(dbt_runs["healthy"]), "--feature", "amount_7d")
    assert ok.returncode == 0, ok.stderr
    assert "fct_features" in ok.stdout and "raw.events" in ok.stdout
    broken = _cli(str(dbt_runs["broken"]), "--feature", "amount_7d", "--json")
    assert broken.returncode == 1, broken.stderr
    out = json.loads(broken.stdout)
    assert {f["kind"] for f in out["findings"]} == {"changed", "errored", "stale", "test_failed"}
    assert out["features"]["amount_7d"]["model"] == "model.features.fct_features"
    assert any(p.startswith("source `raw.events` stale since") for p in out["features"]["amount_7d"]["paths"])
    bad = _cli(str(tmp_path))
    assert bad.returncode == 2 and "no manifest.json" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- performance

def test_a_5000_node_manifest_loads_and_traces_in_well_under_2_s(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_lineage", ROOT / "tests" / "bench" / "bench_lineage.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    planted = bench.write_large_project(tmp_path, 5000)
    got = min((bench.measure(tmp_path, planted) for _ in range(2)), key=lambda g: g["total_s"])
    assert got["nodes"] == 5000 and got["findings_on_path"] >= 1
    assert got["total_s"] < 1.0, got
