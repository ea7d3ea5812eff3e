"""Bundle format: read, validate (every problem with file and line), write as directory or zip, import."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.bundle import read_bundle, validate_bundle, write_bundle
from core.demo import DEMO_IDS
from core.errors import BundleError, InvalidInputError
from core.flows.import_bundle import import_bundle
from core.store.incidents import get_incident
from core.store.timeline import list_events

ROOT = Path(__file__).resolve().parents[2]


def _minimal(tmp_path: Path, **overrides) -> Path:
    manifest = {
        "id": "b-1", "title": "Small", "summary": "", "service": "svc",
        "kpi": {"metric": "kpi", "direction": "higher_is_better"},
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        "datasets": {"features": {"file": "datasets/f.csv", "timestamp": "ts"}},
        **overrides,
    }
    metrics = {"kpi": pd.DataFrame({"timestamp": pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC"),
                                    "value": [1.0, 2.0, 3.0]})}
    datasets = {"f.csv": pd.DataFrame({"ts": ["2026-01-01T00:00:00Z"], "x": [1]})}
    logs = {"app.jsonl": [{"@timestamp": "2026-01-01T00:00:00Z", "message": "hello", "log": {"level": "INFO"}}]}
    events = [{"timestamp": "2026-01-01T01:00:00Z", "kind": "deploy", "title": "v2"}]
    return write_bundle(tmp_path / "b", manifest, metrics=metrics, logs=logs, events=events, datasets=datasets)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_demo_bundles_are_valid_and_deterministic(demo_bundles, tmp_path):
    from core.demo import generate_demo_bundles

    assert set(demo_bundles) == set(DEMO_IDS)
    for path in demo_bundles.values():
        assert validate_bundle(path) == []
        b = read_bundle(path)
        assert len(b.events()) >= 5 and b.log_files() and b.datasets
        assert b.kpi_metric in b.metric_names()
        assert sum(1 for f in b.log_files() for _ in f.open()) >= 10_000
        assert len(b.read_metric(b.kpi_metric)) >= 2 * 1440
    again = generate_demo_bundles(tmp_path, ("demo-ctr-drop",))["demo-ctr-drop"]
    original = demo_bundles["demo-ctr-drop"]
    for rel in ("metrics/ctr.csv", "logs/recs-api.jsonl", "events.jsonl"):
        assert (again / rel).read_bytes() == (original / rel).read_bytes(), rel


def test_read_minimal_bundle(tmp_path):
    b = read_bundle(_minimal(tmp_path))
    assert b.id == "b-1" and b.kpi_direction == "higher_is_better" and b.baseline is None
    assert list(b.read_metric("kpi")["value"]) == [1.0, 2.0, 3.0]
    assert str(b.read_metric("kpi")["timestamp"].dt.tz) == "UTC"
    assert b.events()[0]["kind"] == "deploy" and b.events()[0]["timestamp"].tzinfo is not None
    assert b.read_dataset("features").shape == (1, 2)
    with pytest.raises(InvalidInputError, match="no dataset role 'labels'"):
        b.dataset_path("labels")


def test_a_bundle_is_validated_once_per_version_of_its_files(tmp_path, monkeypatch):
    import core.bundle as bundle_module

    path = _minimal(tmp_path)
    checks = []
    real = bundle_module._validate_dir
    monkeypatch.setattr(bundle_module, "_validate_dir", lambda *a: checks.append(a) or real(*a))
    read_bundle(path)
    read_bundle(path)
    assert len(checks) == 1  # the same files: not checked again
    log = path / "logs" / "app.jsonl"
    log.write_text(log.read_text() + '{"message": "no time"}\n')  # a new version of one file
    with pytest.raises(BundleError, match="missing '@timestamp'"):
        read_bundle(path)
    with pytest.raises(BundleError, match="missing '@timestamp'"):
        read_bundle(path)  # an invalid version is remembered as invalid
    assert len(checks) == 2


def test_zip_round_trip(tmp_path):
    src = _minimal(tmp_path)
    manifest = json.loads((src / "bundle.json").read_text())
    z = write_bundle(tmp_path / "out.zip", manifest, metrics={"kpi": read_bundle(src).read_metric("kpi")},
                     datasets={"f.csv": pd.read_csv(src / "datasets" / "f.csv")}, as_zip=True)
    assert z.suffix == ".zip" and validate_bundle(z) == []
    assert read_bundle(z).id == "b-1"


def test_every_problem_is_reported_with_file_and_line(tmp_path):
    root = _minimal(tmp_path)
    (root / "logs" / "app.jsonl").write_text(
        '{"@timestamp": "2026-01-01T00:00:00Z", "message": "ok"}\n'
        '{"message": "no time"}\n'
        'not json\n'
        '{"@timestamp": "2026-01-01T00:00:00", "message": "naive"}\n'
    )
    (root / "logs" / "bin.jsonl").write_bytes(b'{"@timestamp": "2026-01-01T00:00:00Z", "message": "\xff"}\n')
    (root / "events.jsonl").write_text(
        '{"timestamp": "2026-01-01T01:00:00Z", "kind": "deploy", "title": "ok"}\n'
        '{"timestamp": "2026-01-01T01:00:00Z", "kind": "party", "title": "bad kind"}\n'
        '{"timestamp": "2026-01-01T02:00:00Z", "end": "2026-01-01T01:00:00Z", "kind": "alert", "title": "x"}\n'
    )
    (root / "metrics" / "kpi.csv").write_text("timestamp,value\n2026-01-01T00:00:00Z,1\nsoon,2\n2026-01-01T02:00:00Z,abc\n")
    problems = {str(p) for p in validate_bundle(root)}
    assert "logs/app.jsonl:2: missing '@timestamp'" in problems
    assert any(p.startswith("logs/app.jsonl:3: not valid JSON") for p in problems)
    assert any(p.startswith("logs/app.jsonl:4: @timestamp:") and "no time zone" in p for p in problems)
    assert "logs/bin.jsonl:1: not UTF-8" in problems
    assert any(p.startswith("events.jsonl:2: kind 'party'") for p in problems)
    assert "events.jsonl:3: end is before timestamp" in problems
    assert any(p.startswith("metrics/kpi.csv:3: timestamp 'soon'") for p in problems)
    assert "metrics/kpi.csv:4: value 'abc' is not a number" in problems
    with pytest.raises(BundleError) as err:
        read_bundle(root)
    assert len(err.value.problems) == len(problems)


@pytest.mark.parametrize("overrides, fragment", [
    ({"format": "incident-bundle/2"}, "expected 'incident-bundle/1'"),
    ({"kpi": {"metric": "missing", "direction": "higher_is_better"}}, "has no file metrics/missing.csv"),
    ({"kpi": {"metric": "kpi", "direction": "up"}}, "kpi.direction"),
    ({"window": {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}, "window.end is not after"),
    ({"datasets": {"features": {"file": "../../etc/passwd"}}}, "relative path inside the bundle"),
    ({"datasets": {"features": {"file": "datasets/f.csv", "timestamp": "when"}}}, "timestamp column 'when'"),
    ({"title": ""}, "'title' is required"),
])
def test_manifest_problems(tmp_path, overrides, fragment):
    problems = validate_bundle(_minimal(tmp_path, **overrides))
    assert any(fragment in str(p) for p in problems), problems


def test_not_a_bundle(tmp_path):
    f = tmp_path / "x.zip"
    f.write_text("not a zip")
    assert "neither a directory nor a zip" in str(validate_bundle(f)[0])
    (tmp_path / "empty").mkdir()
    assert "missing" in str(validate_bundle(tmp_path / "empty")[0])
    (tmp_path / "badjson").mkdir()
    (tmp_path / "badjson" / "bundle.json").write_text("{nope")
    assert "not valid JSON" in str(validate_bundle(tmp_path / "badjson")[0])


def test_import_bundle_creates_incident_and_events(sqlite_store, demo_bundles, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    iid = import_bundle(sqlite_store, demo_bundles["demo-fraud-stale"])
    inc = get_incident(sqlite_store, iid)
    assert inc.kpi_metric == "fraud_catch_rate" and inc.severity.value == "SEV1"
    assert inc.milestone("detected") is not None and inc.durations()["TTD"] is not None
    kinds = {e.kind.value for e in list_events(sqlite_store, iid)}
    assert {"data_pipeline", "deploy", "alert"} <= kinds and "milestone" not in kinds
    assert Path(inc.bundle_path).is_dir() and (Path(inc.bundle_path) / "bundle.json").is_file()
    with pytest.raises(InvalidInputError, match="already exists"):
        import_bundle(sqlite_store, demo_bundles["demo-fraud-stale"])
    assert import_bundle(sqlite_store, demo_bundles["demo-fraud-stale"], if_exists="rename") == "demo-fraud-stale-2"


def test_invalid_bundle_imports_nothing(sqlite_store, tmp_path):
    root = _minimal(tmp_path)
    shutil.rmtree(root / "metrics")
    with pytest.raises(BundleError):
        import_bundle(sqlite_store, root)
    from core.store.incidents import list_incidents

    assert list_incidents(sqlite_store) == []


def test_cli_validate_and_import(tmp_path, demo_bundles):
    ok = _run_cli("bundle", "validate", str(demo_bundles["demo-ctr-drop"]))
    assert ok.returncode == 0 and "valid incident-bundle/1" in ok.stdout
    root = _minimal(tmp_path)
    (root / "events.jsonl").write_text('{"timestamp": "x", "kind": "deploy", "title": "t"}\n')
    bad = _run_cli("bundle", "validate", str(root))
    assert bad.returncode == 1 and "events.jsonl:1: timestamp:" in bad.stderr and "Traceback" not in bad.stderr
    as_json = _run_cli("bundle", "validate", str(root), "--json")
    assert json.loads(as_json.stdout)["valid"] is False
    db = tmp_path / "cli.db"
    imp = _run_cli("bundle", "import", str(demo_bundles["demo-schema-change"]), "--database", f"sqlite:///{db}",
                   "--json")
    assert imp.returncode == 0, imp.stderr
    assert json.loads(imp.stdout) == {"incident": "demo-schema-change"}
    again = _run_cli("bundle", "import", str(demo_bundles["demo-schema-change"]), "--database", f"sqlite:///{db}")
    assert again.returncode != 0 and again.stderr.count("\n") == 1 and "already exists" in again.stderr
    nodb = _run_cli("bundle", "import", str(root), "--database", f"sqlite:///{tmp_path}/no/such/dir.db")
    assert nodb.returncode != 0 and "Traceback" not in nodb.stderr
