"""AppTest of the Lineage page: no dbt artifacts, a bundle with a dbt/ folder, a node's SQL and tests, speed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

PAGE = "app_pages/lineage.py"
ID = "demo-ctr-drop"  # no dbt artifacts of its own (the schema-change demo has them)
V = "https://schemas.getdbt.com/dbt/{}/v{}.json"


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _write_dbt(folder: Path) -> None:
    """A small dbt target: source raw.lab_results (stale) → stg_lab (changed) → fct_lab (the feature table)."""
    now = datetime.now(timezone.utc)
    meta = {"dbt_version": "1.11.0", "generated_at": _iso(now)}

    def model(name, deps, sql, check, **extra):
        return {"resource_type": "model", "name": name, "unique_id": f"model.lab.{name}", "raw_code": sql,
                "checksum": {"name": "sha256", "checksum": check}, "depends_on": {"nodes": deps},
                "relation_name": f'"wh"."main"."{name}"', "columns": {}, **extra}

    nodes = {
        "model.lab.stg_lab": model("stg_lab", ["source.lab.raw.lab_results"], "select * from raw.lab_results", "b"),
        "model.lab.fct_lab": model("fct_lab", ["model.lab.stg_lab"], "select * from {{ ref('stg_lab') }}", "c",
                                   meta={"feature_table": True}),
        "test.lab.not_null_fct_lab_id": {
            "resource_type": "test", "name": "not_null_fct_lab_id", "unique_id": "test.lab.not_null_fct_lab_id",
            "column_name": "id", "attached_node": "model.lab.fct_lab", "test_metadata": {"name": "not_null"},
            "depends_on": {"nodes": ["model.lab.fct_lab"]}},
    }
    sources = {"source.lab.raw.lab_results": {"resource_type": "source", "name": "lab_results", "source_name": "raw",
                                              "unique_id": "source.lab.raw.lab_results", "columns": {}}}
    manifest = {"metadata": {**meta, "dbt_schema_version": V.format("manifest", 12)}, "nodes": nodes,
                "sources": sources}
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    timing = [{"name": "execute", "started_at": _iso(now), "completed_at": _iso(now)}]
    (folder / "run_results.json").write_text(json.dumps({
        "metadata": {**meta, "dbt_schema_version": V.format("run-results", 6)}, "args": {"which": "build"},
        "results": [{"unique_id": u, "status": "fail" if u.startswith("test") else "success", "timing": timing,
                     "failures": 4 if u.startswith("test") else None, "execution_time": 0.1} for u in nodes]}))
    (folder / "sources.json").write_text(json.dumps({
        "metadata": {**meta, "dbt_schema_version": V.format("sources", 3)},
        "results": [{"unique_id": "source.lab.raw.lab_results", "status": "error",
                     "max_loaded_at": _iso(now - timedelta(hours=20)), "snapshotted_at": _iso(now),
                     "criteria": {"error_after": {"count": 12, "period": "hour"}}}]}))
    nodes["model.lab.stg_lab"]["checksum"]["checksum"] = "a"
    (folder / "previous").mkdir()
    (folder / "previous" / "manifest.json").write_text(json.dumps(manifest))


def _bundle_path(home: Path) -> Path:
    from core.store import open_store
    from core.store.incidents import get_incident

    store = open_store(f"sqlite:///{home / 'workbench.db'}")
    try:
        return Path(get_incident(store, ID).bundle_path)
    finally:
        store.dispose()


def test_without_dbt_artifacts_the_page_says_so(app_test):
    at = app_test(PAGE, incident=ID)
    assert not at.exception
    assert at.title[0].value == "Lineage"
    assert any("no dbt artifacts" in i.value for i in at.info)


def test_the_path_graph_findings_and_a_node(app_test, workbench_home):
    _write_dbt(_bundle_path(workbench_home) / "dbt")
    at = app_test(PAGE, incident=ID)
    assert not at.exception, at.exception
    assert at.get("plotly_chart")
    assert not at.info and not at.error
    table = at.dataframe[0].value
    assert set(table["finding"]) == {"changed", "test failed", "stale"}
    stale = table[table["finding"] == "stale"].iloc[0]
    assert stale["path"].startswith("source `raw.lab_results` stale since")
    assert "→ `stg_lab` → `fct_lab` → feature `" in stale["path"]
    node = at.selectbox(key="lineage_node")
    node.set_value("model.lab.fct_lab").run()
    assert not at.exception
    assert any("select * from {{ ref('stg_lab') }}" in c.value for c in at.code)
    tests = at.dataframe[-1].value
    assert list(tests["test"]) == ["not_null"] and list(tests["status"]) == ["fail"]


def test_a_5000_node_manifest_is_read_once_and_cached(app_test, workbench_home, monkeypatch):
    from core.sources.factory import open_source

    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("bench_lineage", root / "tests" / "bench" / "bench_lineage.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.write_large_project(_bundle_path(workbench_home) / "dbt", 5000)
    at = app_test(PAGE, incident=ID)
    assert not at.exception, at.exception
    assert at.get("plotly_chart") and any("collapsed" in c.value for c in at.caption)
    import core.sources.lineage_dbt as dbt_module
    import ui.lineage as ui_lineage

    reads = []
    monkeypatch.setattr(ui_lineage, "open_source", lambda *a, **k: reads.append(a) or open_source(*a, **k))
    monkeypatch.setattr(ui_lineage, "findings", lambda *a, **k: reads.append(a) or dbt_module.findings(*a, **k))
    at.run()  # a rerun (a click, a selection): the artifacts and their findings are cached
    assert not at.exception
    assert reads == []
