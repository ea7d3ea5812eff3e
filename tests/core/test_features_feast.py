"""Feature store: Feast snapshots (no Feast needed) and a real Feast repository (in the feast venv).

The tests marked ``feast`` need the real ``feast`` package, which pins pandas<3 and so lives in its own
venv (.venv/feast, made by scripts/install_test_deps.sh; scripts/test.sh runs this file there too). In the
app's environment they are skipped; the snapshot, freshness, triage and CLI tests run in both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.sources.features_feast import FORMAT, freshness, from_dict, read_repo, read_snapshot

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _snapshot(card_end: datetime, merchant_end: datetime | None) -> dict:
    def view(name, ttl_h, end, keys):
        return {"name": name, "entities": [keys], "features": {"x": "Float32"}, "source": f"{name}_source",
                "source_path": f"data/{name}.parquet", "ttl_seconds": ttl_h * 3600, "online": True,
                "intervals": [[(T0).isoformat(), end.isoformat()]] if end else []}
    return {"format": FORMAT, "project": "fraud", "read_at": (T0 + timedelta(days=1)).isoformat(),
            "entities": {"card": ["card_id"], "merchant": ["merchant_id"]},
            "feature_views": [view("card_stats", 2, card_end, "card"), view("merchant_stats", 1, merchant_end, "merchant")]}


def test_freshness_compares_the_last_materialisation_with_the_ttl():
    repo = from_dict(_snapshot(T0 + timedelta(hours=11), T0 + timedelta(hours=3)), "snap.json")
    states = {s.view: s for s in freshness(repo, T0 + timedelta(hours=12))}
    assert not states["card_stats"].stale and states["card_stats"].age == timedelta(hours=1)
    merchant = states["merchant_stats"]
    assert merchant.stale and merchant.since == T0 + timedelta(hours=4) and merchant.age == timedelta(hours=9)
    never = {s.view: s for s in freshness(from_dict(_snapshot(T0, None), "s"), T0)}["merchant_stats"]
    assert never.stale and never.last_end is None and "never materialised" in never.text()


@pytest.mark.parametrize("content, words", [("{", "not valid JSON"), ('{"format": "other"}', "not a Feast snapshot"),
                                            (json.dumps({"format": FORMAT, "feature_views": [{"intervals": []}]}),
                                             "needs a name")])
def test_bad_snapshots_are_named(tmp_path, content, words):
    (tmp_path / "s.json").write_text(content)
    with pytest.raises(InvalidInputError, match=words):
        read_snapshot(tmp_path / "s.json")


def test_a_folder_that_is_no_repo_and_a_repo_without_registry_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="not a Feast repository"):
        read_repo(tmp_path)
    (tmp_path / "feature_store.yaml").write_text("project: p\nregistry: data/registry.db\nprovider: local\n")
    with pytest.raises(InvalidInputError, match="registry .*registry.db does not exist; run feast apply"):
        read_repo(tmp_path)


def _bundle(path: Path, snapshot: dict | None) -> Path:
    from core.bundle import write_bundle

    times = pd.date_range(T0, T0 + timedelta(hours=12), freq="5min", inclusive="left")
    rng = np.random.default_rng(2)
    values = np.where(times < T0 + timedelta(hours=4), 0.9, 0.7) + rng.normal(0, 0.004, len(times))
    manifest = {"id": "feast-incident", "title": "Fraud recall dropped", "service": "fraud",
                "kpi": {"metric": "kpi", "direction": "higher_is_better"},
                "window": {"start": (T0 + timedelta(hours=2)).isoformat(), "end": (T0 + timedelta(hours=12)).isoformat()},
                "baseline": {"start": T0.isoformat(), "end": (T0 + timedelta(hours=2)).isoformat()}}
    out = write_bundle(path, manifest, metrics={"kpi": pd.DataFrame({"timestamp": times, "value": values})})
    if snapshot is not None:
        (out / "features").mkdir()
        (out / "features" / "feast.json").write_text(json.dumps(snapshot))
    return out


def test_triage_takes_a_stale_feature_view_as_stale_data_evidence(tmp_path):
    from core.triage import triage_bundle

    result = triage_bundle(_bundle(tmp_path / "b", _snapshot(T0 + timedelta(hours=11), T0 + timedelta(hours=3))))
    step = next(s for s in result.steps if s.name == "features")
    assert step.status == "ok" and "1 of 2" in step.summary and "merchant_stats" in step.summary
    stale = next(h for h in result.hypotheses if h.root_cause.value == "stale_data")
    sig = next(s for s in stale.signals if s.rule == "feature_view_stale")
    assert sig.strength == 1.0 and "stale since 2024-05-01T04:00:00Z" in sig.evidence.detail


def test_fresh_views_give_no_evidence_and_no_features_folder_costs_nothing(tmp_path):
    import core.triage as tr
    from core.triage import triage_bundle
    from core.triage.steps.features import FeaturesStep

    fresh = triage_bundle(_bundle(tmp_path / "f", _snapshot(T0 + timedelta(hours=11), T0 + timedelta(hours=11.5))))
    assert not any(s.rule == "feature_view_stale" for h in fresh.hypotheses for s in h.signals)
    plain = _bundle(tmp_path / "p", None)
    with_step = triage_bundle(plain)
    assert any(s.name == "features" for s in with_step.not_configured)
    tr.unregister("features")
    try:
        without = triage_bundle(plain)
    finally:
        tr.register(FeaturesStep())
    assert [h.confidence for h in with_step.hypotheses] == [h.confidence for h in without.hypotheses]


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "features", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_on_a_snapshot_and_a_bundle(tmp_path):
    bundle = _bundle(tmp_path / "b", _snapshot(T0 + timedelta(hours=11), T0 + timedelta(hours=3)))
    out = _cli(bundle, "--json")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert [s["view"] for s in data["freshness"] if s["stale"]] == ["merchant_stats"]
    fresh = _cli(bundle / "features" / "feast.json", "--at", "2024-05-01T03:30:00Z")
    assert fresh.returncode == 0 and "0 stale" in fresh.stdout
    bad = _cli(tmp_path)
    assert bad.returncode == 2 and "not a Feast repository" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------- a real Feast repository (feast venv)

FEATURES_PY = textwrap.dedent("""
    from datetime import timedelta
    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Float32, Int64

    card = Entity(name="card", join_keys=["card_id"])
    merchant = Entity(name="merchant", join_keys=["merchant_id"])
    card_stats = FeatureView(
        name="card_stats", entities=[card], ttl=timedelta(hours=2),
        schema=[Field(name="txn_count_1h", dtype=Int64), Field(name="avg_amount_1h", dtype=Float32)],
        source=FileSource(name="card_source", path="data/card_stats.parquet", timestamp_field="event_timestamp"))
    merchant_stats = FeatureView(
        name="merchant_stats", entities=[merchant], ttl=timedelta(hours=1),
        schema=[Field(name="chargeback_rate", dtype=Float32)],
        source=FileSource(name="merchant_source", path="data/merchant_stats.parquet", timestamp_field="event_timestamp"))
""")


@pytest.fixture(scope="module")
def feast_repo(tmp_path_factory) -> Path:
    """A real repository: feast apply, both views materialised to 03:00, then only card_stats to 11:00."""
    pytest.importorskip("feast", reason="feast lives in its own venv (.venv/feast); see README")
    from feast import FeatureStore

    repo = tmp_path_factory.mktemp("feast") / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        "project: fraud\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
        "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
    (repo / "features.py").write_text(FEATURES_PY)
    rng = np.random.default_rng(7)
    hours = [T0 + timedelta(hours=h) for h in range(12)]
    cards = pd.DataFrame([{"card_id": c, "event_timestamp": t, "txn_count_1h": int(rng.poisson(3 + 4 * (t >= T0 + timedelta(hours=6)))),
                           "avg_amount_1h": float(rng.normal(50 + 30 * (t >= T0 + timedelta(hours=6)), 5))}
                          for t in hours for c in range(60)])
    cards.to_parquet(repo / "data" / "card_stats.parquet", index=False)
    merchants = pd.DataFrame([{"merchant_id": m, "event_timestamp": t, "chargeback_rate": float(rng.uniform(0, 0.02))}
                              for t in hours for m in range(10)])
    merchants.to_parquet(repo / "data" / "merchant_stats.parquet", index=False)
    feast_cli = Path(sys.executable).parent / "feast"
    done = subprocess.run([str(feast_cli), "apply"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    store = FeatureStore(repo_path=str(repo))
    store.materialize(T0, T0 + timedelta(hours=3))
    store.materialize(T0 + timedelta(hours=3), T0 + timedelta(hours=11), feature_views=["card_stats"])
    return repo


def test_a_real_repo_lists_views_sources_ttls_and_materialisations(feast_repo):
    repo = read_repo(feast_repo)
    assert repo.project == "fraud" and [v.name for v in repo.views] == ["card_stats", "merchant_stats"]
    card, merchant = repo.views
    assert card.ttl == timedelta(hours=2) and merchant.ttl == timedelta(hours=1)
    assert card.entities == ("card",) and repo.entities["card"] == ("card_id",)
    assert card.source == "card_source" and card.source_path.endswith("card_stats.parquet")
    assert set(card.features) == {"txn_count_1h", "avg_amount_1h"}
    assert card.last_materialized[1] == T0 + timedelta(hours=11)
    assert merchant.last_materialized[1] == T0 + timedelta(hours=3)
    stale = [s.view for s in freshness(repo, T0 + timedelta(hours=12)) if s.stale]
    assert stale == ["merchant_stats"]
    again = from_dict(json.loads(json.dumps(repo.to_dict())), "round trip")
    assert again.views == repo.views


def test_historical_values_at_two_times_show_the_drift(feast_repo):
    from core.analysis.versions import compare_versions
    from core.sources.features_feast import historical_values

    entities = pd.DataFrame({"card_id": range(60)})
    a, b = historical_values(feast_repo, "card_stats", entities, T0 + timedelta(hours=3), T0 + timedelta(hours=9))
    assert len(a) == len(b) == 60 and list(a["card_id"]) == list(b["card_id"])
    result = compare_versions("card_stats", "03:00", a, "09:00", b, exclude=["card_id"])
    assert result.report.column("avg_amount_1h").drifted
    with pytest.raises(InvalidInputError, match="no feature view 'cards'"):
        historical_values(feast_repo, "cards", entities, T0, T0)
    with pytest.raises(InvalidInputError, match="join key column"):
        historical_values(feast_repo, "card_stats", pd.DataFrame({"id": [1]}), T0, T0)


def test_cli_on_a_real_repo_exports_a_snapshot_and_compares_two_times(feast_repo, tmp_path):
    snap = tmp_path / "feast.json"
    out = _cli(feast_repo, "--at", "2024-05-01T12:00:00Z", "--export", snap)
    assert out.returncode == 1 and "merchant_stats" in out.stdout and "stale since" in out.stdout, out.stderr
    assert [v.name for v in read_snapshot(snap).views] == ["card_stats", "merchant_stats"]
    cmp = _cli(feast_repo, "--view", "card_stats", "--a", "2024-05-01T03:00:00Z", "--b", "2024-05-01T09:00:00Z",
               "--json")
    assert cmp.returncode == 1, cmp.stderr
    data = json.loads(cmp.stdout)
    assert data["entities"] == 60 and any(c["column"] == "avg_amount_1h" and c["drifted"] for c in data["drift"]["columns"])


def test_cli_says_how_to_install_feast_when_it_is_missing(tmp_path):
    try:
        import feast  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("feast is installed here")
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: p\nregistry: data/registry.db\nprovider: local\n")
    (repo / "data" / "registry.db").write_bytes(b"")
    out = _cli(repo)
    assert out.returncode == 2 and "requirements-feast.txt" in out.stderr and "Traceback" not in out.stderr
    shutil.rmtree(repo)


def test_the_fraud_demo_carries_a_feast_snapshot_whose_account_features_went_stale(demo_bundles):
    from core.demo import fraud_stale
    from core.sources.factory import open_source
    from core.triage import triage_bundle

    path = demo_bundles["demo-fraud-stale"]
    repo = open_source("features", path)
    states = {s.view: s for s in freshness(repo, fraud_stale.DATA_END)}
    assert states["account_features"].stale and states["account_features"].since == fraud_stale.LAST_REFRESH + timedelta(hours=1)
    assert not states["merchant_risk"].stale
    result = triage_bundle(path)
    assert result.top.root_cause.value == "stale_data"
    assert any(s.rule == "feature_view_stale" and "account_features" in s.evidence.detail for s in result.top.signals)


def test_bundle_import_puts_each_views_last_materialisation_on_the_timeline(tmp_path, sqlite_store):
    from core.flows.import_bundle import import_bundle
    from core.store.timeline import list_events

    path = _bundle(tmp_path / "b", _snapshot(T0 + timedelta(hours=11), T0 + timedelta(hours=3)))
    iid = import_bundle(sqlite_store, path)
    events = [e for e in list_events(sqlite_store, iid) if e.source == "feast fraud"]
    assert [e.title.split(" last")[0] for e in events] == ["Feature view merchant_stats", "Feature view card_stats"]
    assert events[0].timestamp == T0 + timedelta(hours=3) and events[0].kind == "data_pipeline"


# ---------------------------------------------------------------- the app's way in: Feast in its own Python

def _feast_python() -> str | None:
    from core.errors import WorkbenchError
    from core.sources.features_feast import feast_python

    try:
        return feast_python()
    except WorkbenchError:
        return None


def test_a_bundles_snapshot_finds_the_repository_kept_beside_it(demo_bundles, tmp_path):
    from core.sources.factory import open_source
    from core.sources.features_feast import repository_of

    path = demo_bundles["demo-fraud-stale"]
    snapshot = path / "features" / "feast.json"
    assert repository_of(snapshot, open_source("features", path)) == path / "features" / "feature_repo"
    alone = tmp_path / "feast.json"
    alone.write_text(snapshot.read_text())
    assert repository_of(alone, read_snapshot(alone)) is None  # the snapshot without its repository


@pytest.mark.skipif(_feast_python() is None, reason="no Python with feast (.venv/feast); see README")
def test_compare_in_feast_keeps_the_entities_without_values_and_names_bad_input(demo_bundles):
    from core.demo import fraud_stale
    from core.errors import SourceUnavailableError
    from core.sources.features_feast import compare_in_feast

    repo = demo_bundles["demo-fraud-stale"] / "features" / "feature_repo"
    before = sorted(p.name for p in repo.rglob("*"))
    data = compare_in_feast(repo, "account_features", fraud_stale.LAST_REFRESH - timedelta(minutes=30),
                            fraud_stale.DATA_END)
    assert data["entities"] == 40 and (data["missing_a"], data["missing_b"]) == (0, 40)
    assert not data["schema_change"]["retyped"]  # empty integer features are not a type change
    assert {c["column"] for c in data["drift"]["columns"] if c["null_rate"]["current"] == 1.0} == {
        "txn_count_1h", "avg_amount_24h", "distinct_merchants_24h"}
    assert sorted(p.name for p in repo.rglob("*")) == before  # Feast ran on a copy
    with pytest.raises(InvalidInputError, match="no feature view 'cards'"):
        compare_in_feast(repo, "cards", fraud_stale.DATA_START, fraud_stale.DATA_END)
    with pytest.raises(SourceUnavailableError, match="did not answer within"):
        compare_in_feast(repo, "account_features", fraud_stale.DATA_START, fraud_stale.DATA_END, timeout=0.5)
