"""Data versions: real Delta tables written with deltalake, dt= partition folders, the versions CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("deltalake")

from core.analysis.versions import diff_columns  # noqa: E402
from core.demo.versions import Commit, write_delta_history, write_partitions  # noqa: E402
from core.errors import InvalidInputError  # noqa: E402
from core.sources.factory import open_source  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)


def _rows(seed: int, n: int = 400, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(50 + shift, 10, n), "country": rng.choice(["DE", "FR", "US"], n),
                         "clicks": rng.integers(0, 20, n)})


@pytest.fixture(scope="module")
def delta(tmp_path_factory) -> Path:
    """v0 create, v1 append, v2 overwrite with clicks long → string and amount shifted, v3 append with a new column."""
    path = tmp_path_factory.mktemp("delta") / "transactions"
    changed = _rows(3, shift=25.0).assign(clicks=lambda f: f["clicks"].astype(str))
    extra = _rows(4, n=50, shift=25.0).assign(clicks=lambda f: f["clicks"].astype(str), channel="app")
    return write_delta_history(path, [
        Commit(_rows(1), T0),
        Commit(_rows(2), T0 + timedelta(hours=1)),
        Commit(changed, T0 + timedelta(hours=5), mode="overwrite", schema_mode="overwrite"),
        Commit(extra, T0 + timedelta(hours=6), schema_mode="merge"),
    ])


@pytest.fixture(scope="module")
def partitions(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parts") / "events"
    return write_partitions(path, {
        "2024-05-01": _rows(1, n=300), "2024-05-02": _rows(2, n=300),
        "2024-05-03": _rows(3, n=300, shift=30.0).rename(columns={"country": "country_code"}),
    })


def test_delta_history_has_versions_times_operations_and_schemas(delta):
    table = open_source("data_versions", delta).table()
    history = table.history()
    assert [h.version for h in history] == [0, 1, 2, 3]
    assert [h.at for h in history] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=5), T0 + timedelta(hours=6)]
    assert [h.rows for h in history] == [400, 400, 400, 50]
    assert history[0].schema_change is None and not history[1].schema_change
    assert history[2].overwrite and history[2].schema_change.retyped == (("clicks", "long", "string"),)
    assert history[3].schema_change.added == ("channel",) and not history[3].overwrite
    frame = table.versions()
    assert list(frame["version"]) == [0, 1, 2, 3] and frame["overwrite"].tolist() == [False, False, True, False]


def test_delta_schema_changes_and_overwrites_are_timeline_events(delta):
    events = open_source("data_versions", delta).events()
    assert [e["attributes"]["version"] for e in events] == [2, 3]
    assert "clicks: long → string" in events[0]["title"] and "overwritten" in events[0]["title"]
    assert events[0]["timestamp"].startswith("2024-05-01T13:00") and events[0]["kind"] == "data_pipeline"
    assert "added channel" in events[1]["title"] and "overwritten" not in events[1]["title"]


def test_delta_reads_a_version_by_number_and_by_time(delta):
    table = open_source("data_versions", delta).table()
    assert len(table.read(version=1)) == 800
    assert len(table.read(version="2024-05-01T12:59:00Z")) == 800  # still version 1 then
    assert table.resolve("2024-05-01T13:00:00Z") == 2
    latest = table.read()
    assert len(latest) == 450 and "channel" in latest.columns


def test_two_delta_versions_compared_with_drift_and_schema_diff(delta):
    from core.analysis.versions import compare_versions

    table = open_source("data_versions", delta).table()
    result = compare_versions("t", "1", table.read(version=1), "2", table.read(version=2),
                              columns_a=table.columns_at(1), columns_b=table.columns_at(2))
    assert result.schema.retyped == (("clicks", "long", "string"),)
    assert result.report.column("amount").drifted
    assert not result.report.column("country").drifted


@pytest.mark.parametrize("ref, words", [(9, "no version 9; its versions run from 0 to 3"),
                                        ("2024-04-30T00:00:00Z", "did not exist at 2024-04-30"),
                                        ("yesterday", "neither a version number nor a time")])
def test_bad_versions_are_named(delta, ref, words):
    with pytest.raises(InvalidInputError, match=words):
        open_source("data_versions", delta).table().read(version=ref)


def test_a_folder_that_is_no_table_is_refused(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInputError, match="is not a Delta table"):
        open_source("data_versions", tmp_path / "plain")
    with pytest.raises(InvalidInputError, match="not found"):
        open_source("data_versions", tmp_path / "missing")


def test_partitions_history_ranges_and_schema_change(partitions):
    table = open_source("data_versions", partitions).table()
    history = table.history()
    assert [h.version for h in history] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert [h.rows for h in history] == [300, 300, 300]
    assert history[2].schema_change.added == ("country_code",) and history[2].schema_change.removed == ("country",)
    assert len(table.read(version="2024-05-01..2024-05-02")) == 600
    events = table.events()
    assert len(events) == 1 and "2024-05-03" in events[0]["title"]


@pytest.mark.parametrize("ref, words", [("2024-06-01", "no partition dt=2024-06-01"),
                                        ("2024-06-01..2024-06-09", "no partition from 2024-06-01 to 2024-06-09"),
                                        ("May 1st", "is not a date")])
def test_bad_partitions_are_named(partitions, ref, words):
    with pytest.raises(InvalidInputError, match=words):
        open_source("data_versions", partitions).table().read(version=ref)


def test_diff_columns_names_every_kind_of_change():
    change = diff_columns({"a": "long", "b": "string"}, {"a": "double", "c": "string"})
    assert (change.added, change.removed, change.retyped) == (("c",), ("b",), (("a", "long", "double"),))
    assert not diff_columns({"a": "long"}, {"a": "long"})


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "versions", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_history_compare_and_exit_codes(delta, partitions):
    listed = _cli(delta, "--json")
    assert listed.returncode == 1, listed.stderr
    data = json.loads(listed.stdout)
    assert [v["version"] for v in data["versions"]] == [0, 1, 2, 3] and len(data["events"]) == 2
    same = _cli(delta, "--a", "0", "--b", "0")
    assert same.returncode == 0, same.stdout + same.stderr
    moved = _cli(partitions, "--a", "2024-05-01..2024-05-02", "--b", "2024-05-03", "--json")
    assert moved.returncode == 1
    out = json.loads(moved.stdout)
    assert out["schema_change"]["added"] == ["country_code"]
    assert any(c["column"] == "amount" and c["drifted"] for c in out["drift"]["columns"])
    bad = _cli(delta, "--a", "0", "--b", "12")
    assert bad.returncode == 2 and "no version 12" in bad.stderr and "Traceback" not in bad.stderr
    half = _cli(delta, "--a", "0")
    assert half.returncode == 2 and "both --a and --b" in half.stderr


# ---------------------------------------------------------------- triage and bundle import

def _bundle_with_delta(path: Path, delta: Path | None) -> Path:
    """A KPI that drops at 13:00 (when the overwrite retyped a column), and the table under datasets/."""
    import shutil

    from core.bundle import write_bundle

    times = pd.date_range(T0 - timedelta(hours=6), T0 + timedelta(hours=12), freq="5min", inclusive="left")
    rng = np.random.default_rng(5)
    values = np.where(times < T0 + timedelta(hours=5), 0.9, 0.6) + rng.normal(0, 0.005, len(times))
    manifest = {
        "id": "delta-incident", "title": "Fraud model degraded", "service": "payments",
        "kpi": {"metric": "kpi", "direction": "higher_is_better"},
        "window": {"start": (T0 + timedelta(hours=2)).isoformat(), "end": (T0 + timedelta(hours=12)).isoformat()},
        "baseline": {"start": (T0 - timedelta(hours=6)).isoformat(), "end": (T0 + timedelta(hours=2)).isoformat()},
        "datasets": {"features": {"file": "datasets/f.csv"}},
    }
    out = write_bundle(path, manifest, metrics={"kpi": pd.DataFrame({"timestamp": times, "value": values})},
                       datasets={"f.csv": pd.DataFrame({"amount": [1.0, 2.0]})})
    if delta is not None:
        shutil.copytree(delta, out / "datasets" / "transactions")
    return out


def test_triage_reads_the_schema_change_of_the_bundles_delta_table(delta, tmp_path):
    from core.bundle import read_bundle
    from core.triage import triage_bundle

    path = _bundle_with_delta(tmp_path / "b", delta)
    assert not [p for p in __import__("core.bundle", fromlist=["x"]).validate_bundle(path)]
    result = triage_bundle(read_bundle(path))
    step = next(s for s in result.steps if s.name == "versions")
    assert step.status == "ok" and "transactions v2" in step.summary
    schema = next(h for h in result.hypotheses if h.root_cause.value == "schema_change")
    sig = next(s for s in schema.signals if s.rule == "version_schema_change")
    assert sig.strength == 1.0 and "clicks: long → string" in sig.evidence.detail


def test_without_versioned_tables_the_step_is_not_used_and_costs_nothing(tmp_path):
    import core.triage as tr
    from core.triage import triage_bundle
    from core.triage.steps.versions import VersionsStep

    path = _bundle_with_delta(tmp_path / "b", None)
    with_step = triage_bundle(path)
    step = next(s for s in with_step.not_configured if s.name == "versions")
    assert "no Delta table" in step.summary
    tr.unregister("versions")
    try:
        without = triage_bundle(path)
    finally:
        tr.register(VersionsStep())
    assert [h.confidence for h in with_step.hypotheses] == [h.confidence for h in without.hypotheses]


def test_bundle_import_puts_schema_changes_and_overwrites_on_the_timeline(delta, tmp_path, sqlite_store):
    from core.flows.import_bundle import import_bundle
    from core.store.timeline import list_events

    iid = import_bundle(sqlite_store, _bundle_with_delta(tmp_path / "b", delta))
    titles = [e.title for e in list_events(sqlite_store, iid) if e.source == "Delta table transactions"]
    assert len(titles) == 2 and "version 2: schema changed" in titles[0] and "overwritten" in titles[0]


# ---------------------------------------------------------------- the schema-change demo's Delta table

def test_the_schema_change_demo_carries_its_log_as_a_delta_table_with_the_change(demo_bundles):
    from core.bundle import validate_bundle
    from core.demo import schema_change
    from core.triage import triage_bundle

    path = demo_bundles["demo-schema-change"]
    assert validate_bundle(path) == []
    table = open_source("data_versions", path).table("lab_results")
    history = table.history()
    changed = [h for h in history if h.schema_change]
    assert len(changed) == 1 and changed[0].at == schema_change.CHANGE and changed[0].overwrite
    assert changed[0].schema_change.added == ("radius_mean",) and changed[0].schema_change.removed == ("mean radius",)
    result = triage_bundle(path)
    assert result.top.root_cause.value == "schema_change"
    sig = next(s for s in result.top.signals if s.rule == "version_schema_change")
    assert sig.strength == 1.0 and "lab_results" in sig.evidence.detail


def test_the_source_is_a_data_version_source_and_broken_tables_are_messages(delta, tmp_path):
    import shutil

    from core.sources.protocols import DataVersionSource

    assert isinstance(open_source("data_versions", delta), DataVersionSource)
    broken = tmp_path / "broken"
    (broken / "_delta_log").mkdir(parents=True)
    (broken / "_delta_log" / "00000000000000000000.json").write_text("{not json\n")
    with pytest.raises(InvalidInputError, match="the Delta table cannot be read"):
        open_source("data_versions", broken)
    gutted = shutil.copytree(delta, tmp_path / "gutted")
    for f in gutted.glob("*.parquet"):
        f.unlink()
    with pytest.raises(InvalidInputError, match="version 1 cannot be read .*not found"):
        open_source("data_versions", gutted).table().read(version=1)


def test_without_deltalake_a_bundle_still_imports_and_opening_the_table_says_what_to_install(
        demo_bundles, sqlite_store, monkeypatch):
    """The app's own install (requirements.txt) has no deltalake: the demo bundles must still import,
    without their Delta events, and the Delta table itself names the package to install."""
    import sys

    from core.errors import MissingPackageError
    from core.flows.import_bundle import import_bundle
    from core.sources.datasets_delta import DeltaTableSource
    from core.store.timeline import list_events

    monkeypatch.setitem(sys.modules, "deltalake", None)  # import deltalake now raises ImportError
    bundle = demo_bundles["demo-schema-change"]
    import_bundle(sqlite_store, bundle, copy=False)
    titles = [e.title for e in list_events(sqlite_store, "demo-schema-change")]
    assert "Upstream lab-results export v2 released" in titles
    assert not [t for t in titles if t.startswith("Delta table")]
    with pytest.raises(MissingPackageError, match="pip install deltalake"):
        DeltaTableSource(next(bundle.rglob("_delta_log")).parent).history()
