"""Make the demos' data-version artifacts with the real tools: a Delta table and a Feast snapshot.

Run once, from the repository root, when a demo's data or story changes:

    python scripts/make_version_artifacts.py delta                 # needs deltalake (requirements-delta.txt)
    .venv/feast/bin/python scripts/make_version_artifacts.py feast # needs feast (its own venv; README)

Both outputs are committed and copied into the demo bundles as they are, so the app needs neither
package to show them:

* **delta** → ``core/demo/data/schema_change/delta/lab_results/``: the schema-change demo's prediction
  log as a small Delta table written with ``deltalake``: version 0 the first reference rows
  (2026-01-19 02:00Z), version 1 the nightly append (2026-01-21 02:00Z), version 2 the upstream export v2
  rebuilding the table at the change (2026-01-21 09:00Z: overwrite, ``mean radius`` renamed
  ``radius_mean``, ``mean area`` ×10), version 3 an append of later rows (2026-01-21 15:00Z). A sample of
  the demo's own rows, 200 per version. The commits are dated to the story (``core.demo.versions``).
* **feast** → ``core/demo/data/fraud_stale/features/feast.json``: a real Feast repository (local
  provider, file offline store) in a temporary folder with the fraud demo's two feature views,
  ``account_features`` (TTL 1 h, the hourly refresh: materialised up to 02:05Z on 2026-02-04, when the
  feed stopped) and ``merchant_risk`` (TTL 1 day, materialised to 2026-02-04 22:00Z); ``feast apply``,
  ``materialize``, then the registry is exported as the snapshot ``python -m core features --export``
  writes (its temporary path replaced by ``feature_repo``), and the repository itself (definitions,
  registry, offline parquet files; not the online store) is kept beside it in ``features/feature_repo/``,
  so that the app can ask Feast for the values at two times (Distributions → Feature store).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.demo.common import t  # noqa: E402

DELTA_OUT = ROOT / "core" / "demo" / "data" / "schema_change" / "delta" / "lab_results"
FEAST_OUT = ROOT / "core" / "demo" / "data" / "fraud_stale" / "features" / "feast.json"
FEAST_REPO_OUT = FEAST_OUT.parent / "feature_repo"
ROWS = 200


def make_delta() -> None:
    from core.demo import schema_change as demo
    from core.demo.versions import Commit, write_delta_history

    reference, current, _a, _b = demo._snapshots(np.random.default_rng(demo.SEED))
    reference = reference.sort_values("ts").reset_index(drop=True)
    current = current.sort_values("ts").reset_index(drop=True)
    rng = np.random.default_rng(7)

    def pick(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
        ts = pd.to_datetime(frame["ts"], utc=True)
        part = frame[(ts >= t(start)) & (ts < t(end))]
        return part.iloc[np.sort(rng.choice(len(part), min(ROWS, len(part)), replace=False))].reset_index(drop=True)

    if DELTA_OUT.exists():
        shutil.rmtree(DELTA_OUT)
    DELTA_OUT.parent.mkdir(parents=True, exist_ok=True)
    write_delta_history(DELTA_OUT, [
        Commit(pick(reference, "2026-01-18T00:00", "2026-01-19T02:00"), t("2026-01-19T02:00")),
        Commit(pick(reference, "2026-01-19T02:00", "2026-01-21T02:00"), t("2026-01-21T02:00")),
        Commit(pick(current, "2026-01-21T09:00", "2026-01-21T15:00"), demo.CHANGE, mode="overwrite",
               schema_mode="overwrite"),
        Commit(pick(current, "2026-01-21T15:00", "2026-01-22T00:00"), t("2026-01-21T15:00")),
    ])
    print(f"wrote {DELTA_OUT.relative_to(ROOT)}")


FEATURES_PY = textwrap.dedent("""
    from datetime import timedelta
    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Float32, Int64

    account = Entity(name="account", join_keys=["account_id"])
    merchant = Entity(name="merchant", join_keys=["merchant_id"])
    account_features = FeatureView(
        name="account_features", entities=[account], ttl=timedelta(hours=1),
        schema=[Field(name="txn_count_1h", dtype=Int64), Field(name="avg_amount_24h", dtype=Float32),
                Field(name="distinct_merchants_24h", dtype=Int64)],
        source=FileSource(name="account_features_feed", path="data/account_features.parquet",
                          timestamp_field="event_timestamp"))
    merchant_risk = FeatureView(
        name="merchant_risk", entities=[merchant], ttl=timedelta(days=1),
        schema=[Field(name="chargeback_rate_30d", dtype=Float32)],
        source=FileSource(name="merchant_risk_daily", path="data/merchant_risk.parquet",
                          timestamp_field="event_timestamp"))
""")


def make_feast() -> None:
    from feast import FeatureStore

    from core.demo import fraud_stale as demo
    from core.sources.features_feast import read_repo

    rng = np.random.default_rng(demo.SEED)
    with tempfile.TemporaryDirectory(prefix="feast-demo-") as tmp:
        repo = Path(tmp) / "feature_repo"
        (repo / "data").mkdir(parents=True)
        (repo / "feature_store.yaml").write_text(
            "project: fraud\nregistry: data/registry.db\nprovider: local\n"
            "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
            "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
        (repo / "features.py").write_text(FEATURES_PY)
        hours = pd.date_range(demo.DATA_START, demo.LAST_REFRESH, freq="h")
        pd.DataFrame([{"account_id": a, "event_timestamp": h, "txn_count_1h": int(rng.poisson(2)),
                       "avg_amount_24h": float(rng.gamma(4, 15)), "distinct_merchants_24h": int(rng.poisson(3))}
                      for h in hours for a in range(40)]).to_parquet(repo / "data" / "account_features.parquet")
        days = pd.date_range(demo.DATA_START, t("2026-02-04T22:00"), freq="D")
        pd.DataFrame([{"merchant_id": m, "event_timestamp": d, "chargeback_rate_30d": float(rng.uniform(0, 0.02))}
                      for d in days for m in range(15)]).to_parquet(repo / "data" / "merchant_risk.parquet")
        feast_cli = Path(sys.executable).parent / "feast"
        subprocess.run([str(feast_cli), "apply"], cwd=repo, check=True, capture_output=True)
        store = FeatureStore(repo_path=str(repo))
        store.materialize(demo.DATA_START, demo.LAST_REFRESH - timedelta(hours=1), feature_views=["account_features"])
        store.materialize(demo.LAST_REFRESH - timedelta(hours=1), demo.LAST_REFRESH, feature_views=["account_features"])
        store.materialize(demo.DATA_START, t("2026-02-04T22:00"), feature_views=["merchant_risk"])
        snapshot = read_repo(repo).to_dict()
        if FEAST_REPO_OUT.exists():
            shutil.rmtree(FEAST_REPO_OUT)
        shutil.copytree(repo, FEAST_REPO_OUT, ignore=shutil.ignore_patterns("online_store.db", "__pycache__"))
    snapshot["path"] = "feature_repo"  # the repository beside the snapshot
    FEAST_OUT.parent.mkdir(parents=True, exist_ok=True)
    FEAST_OUT.write_text(json.dumps(snapshot, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {FEAST_OUT.relative_to(ROOT)} and {FEAST_REPO_OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    what = sys.argv[1:] or ["delta"]
    if "delta" in what:
        make_delta()
    if "feast" in what:
        make_feast()
