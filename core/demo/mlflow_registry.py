"""Seed an MLflow tracking store with the demo incidents' training runs and model versions.

``seed_demo_registry(tracking_uri, bundles)`` logs, through the real MLflow API, one
training run per registered model version of each demo bundle's model (the bundle
manifest's ``model.name``), with params, metrics, tags (git commit, source, user),
an input dataset (digest and the bundle dataset's schema) and small artifacts, and
sets the ``champion`` alias on the newest version. Version times come from the
bundle's ``model_version`` events (``deployed_at`` tag); versions without an event
are placed weekly before the first known one. It is idempotent: a model carrying the
current seed marker is left alone; a half-seeded one is rebuilt.

For ``demo-ctr-drop`` version 42 of ``recs-ranker`` changes the param
``user_tenure_days_transform`` from ``log1p`` to ``identity`` and the git commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.bundle import Bundle, read_bundle
from core.errors import InvalidInputError
from core.models import iso
from core.sources.mlflow_runs import DEPLOYED_AT_TAG, GIT_COMMIT_TAG, SERVICE_TAG, MlflowRunSource

SEED_MARKER = "workbench.demo_seed"
SEED_VERSION = "1"
CHAMPION = "champion"
_MLFLOW_TYPES = {"double": "double", "float": "float", "int64": "long", "int32": "integer", "bool": "boolean",
                 "string": "string", "large_string": "string"}


@dataclass(frozen=True)
class ModelPlan:
    """How to seed one demo model: base params and metrics and per-version overrides."""

    versions: int
    source_name: str
    params: dict[str, str]
    metrics: dict[str, float]
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)
    description: str = ""


PLANS: dict[str, ModelPlan] = {
    "recs-ranker": ModelPlan(
        versions=42, source_name="recs/ranker/train.py",
        description="Home-feed ranking model (gradient-boosted trees over user and item features).",
        params={"model_type": "lightgbm_lambdarank", "n_estimators": "600", "learning_rate": "0.05",
                "num_leaves": "63", "min_data_in_leaf": "40", "objective": "lambdarank",
                "user_tenure_days_transform": "log1p", "item_popularity_transform": "log1p",
                "session_length_s_transform": "clip_3600", "days_since_last_visit_transform": "log1p",
                "label": "clicked", "train_window_days": "28"},
        metrics={"val_auc": 0.781, "val_ndcg_at_10": 0.412, "val_logloss": 0.163, "train_seconds": 2410.0},
        overrides={42: {"params": {"user_tenure_days_transform": "identity"},
                        "metrics": {"val_auc": 0.779, "val_ndcg_at_10": 0.409},
                        "commit": "a93f0b4e1c2d7f6e8b9a0c1d2e3f405162738495",
                        "description": "Weekly retrain; feature transforms moved into the shared pipeline.",
                        "same_data_as": 41}},
    ),
    "lab-classifier": ModelPlan(
        versions=7, source_name="lab/train_classifier.py",
        description="Lab-result classifier: median imputation, scaling, logistic regression.",
        params={"model_type": "LogisticRegression", "C": "1.0", "max_iter": "2000", "imputer": "median",
                "scaler": "standard", "label": "label"},
        metrics={"val_accuracy": 0.956, "val_roc_auc": 0.991, "val_f1": 0.965},
    ),
    "fraud-scorer": ModelPlan(
        versions=12, source_name="fraud/train.py",
        description="Card-fraud scorer over account features from the feature cache.",
        params={"model_type": "xgboost", "n_estimators": "400", "max_depth": "6", "learning_rate": "0.05",
                "default_score": "0.5", "feature_ttl_minutes": "60", "label": "is_fraud"},
        metrics={"val_auc": 0.934, "val_recall_at_1pct_fpr": 0.612, "val_logloss": 0.041},
    ),
}


def _hex(*parts: Any) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()


def _jitter(*parts: Any) -> float:
    """A deterministic number in [-1, 1) from ``parts`` (no global random state)."""
    return int(_hex(*parts)[:8], 16) / 2**31 - 1.0


def _schema(bundle: Bundle) -> tuple[str, dict[str, str], int | None]:
    """(dataset name, {column: mlflow type}, rows) of the bundle's first dataset."""
    import pyarrow.parquet as pq

    if not bundle.datasets:
        return "training_data", {}, None
    spec = next(iter(bundle.datasets.values()))
    path = bundle.path / spec.file
    name = Path(spec.file).stem
    if path.suffix != ".parquet":
        return name, {}, None
    schema = pq.read_schema(path)
    cols = {}
    for f in schema:
        t = str(f.type)
        cols[f.name] = "datetime" if t.startswith("timestamp") else _MLFLOW_TYPES.get(t, "string")
    return name, cols, pq.read_metadata(path).num_rows


def _version_times(bundle: Bundle, model: str, plan: ModelPlan) -> dict[int, tuple[datetime, dict[str, Any]]]:
    """Effective time and event attributes of every version: from events, else weekly before."""
    known: dict[int, tuple[datetime, dict[str, Any]]] = {}
    for ev in bundle.events():
        attrs = ev.get("attributes") or {}
        if ev["kind"] == "model_version" and attrs.get("model", model) == model and attrs.get("version"):
            known[int(attrs["version"])] = (ev["timestamp"], attrs)
    if known:
        anchor_v = min(known)
        anchor_t = known[anchor_v][0]
    else:
        anchor_v = plan.versions
        start = bundle.baseline.start if bundle.baseline else bundle.window.start
        anchor_t = (start - timedelta(days=9)).replace(hour=10, minute=15, second=0, microsecond=0)
    out = {}
    for v in range(1, plan.versions + 1):
        if v in known:
            out[v] = known[v]
        else:
            out[v] = (anchor_t - timedelta(days=7 * (anchor_v - v)), {})
    return out


def seed_demo_registry(tracking_uri: str | None, bundles: dict[str, Path], *,
                       artifact_root: Path | None = None) -> None:
    """Log the demo bundles' training runs and model versions into ``tracking_uri`` (idempotent).

    Args:
        tracking_uri: any tracking URI; None for the embedded ``sqlite:///<WORKBENCH_HOME>/mlflow.db``
            (created if missing).
        bundles: demo id -> bundle path, as returned by ``generate_demo_bundles``.
        artifact_root: where new experiments keep artifacts for a local store (default:
            ``<WORKBENCH_HOME>/mlartifacts`` for the embedded store, ``mlartifacts`` next to a
            SQLite file); ignored for a tracking server, which manages its own.

    Raises:
        BundleError: a bundle is invalid.
        SourceUnavailableError: the tracking store cannot be reached.
    """
    from mlflow.exceptions import MlflowException

    from core.sources.mlflow_runs import default_artifact_root

    source = MlflowRunSource(tracking_uri, create=True)
    if artifact_root is None and source.uri.startswith("sqlite:"):
        db = Path(source.uri.split("///", 1)[1])
        artifact_root = default_artifact_root() if not tracking_uri else db.parent / "mlartifacts"
    for demo_id, path in sorted(bundles.items()):
        bundle = read_bundle(path)
        model = (bundle.manifest.get("model") or {}).get("name")
        plan = PLANS.get(model or "")
        if plan is None:
            continue
        try:
            _seed_model(source, bundle, model, plan, artifact_root)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS":
                continue  # another process is seeding the same model at this moment
            raise source._translate(exc, f"seed demo model '{model}'") from exc


def _seed_model(source: MlflowRunSource, bundle: Bundle, model: str, plan: ModelPlan,
                artifact_root: Path | None) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    client = source.client
    try:
        existing = client.get_registered_model(model)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        existing = None
    if existing is not None:
        if (existing.tags or {}).get(SEED_MARKER) == SEED_VERSION:
            return
        client.delete_registered_model(model)  # half-seeded or an older seed: rebuild
    exp_name = f"{model}-training"
    exp = client.get_experiment_by_name(exp_name)
    if exp is None:
        location = (artifact_root / exp_name).resolve().as_uri() if artifact_root else None
        exp_id = client.create_experiment(exp_name, artifact_location=location,
                                          tags={SERVICE_TAG: bundle.service})
    else:
        exp_id = exp.experiment_id
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp_id)
        for run in client.search_runs([exp_id], max_results=1000):
            client.delete_run(run.info.run_id)
    client.create_registered_model(model, tags={SERVICE_TAG: bundle.service}, description=plan.description)
    ds_name, schema, rows = _schema(bundle)
    schema_json = json.dumps({"mlflow_colspec": [{"type": t, "name": c, "required": True}
                                                 for c, t in schema.items()]})
    times = _version_times(bundle, model, plan)
    commit = _hex(model, "commit", 0)
    for v in range(1, plan.versions + 1):
        deployed_at, attrs = times[v]
        over = plan.overrides.get(v, {})
        if v % 5 == 1:
            commit = _hex(model, "commit", v)  # the training code changes every few releases
        run_commit = over.get("commit", commit)
        data_v = over.get("same_data_as", v)
        snapshot = (times[data_v][0] - timedelta(days=1)).date().isoformat()
        params = {**plan.params, **over.get("params", {})}
        metrics = {k: round(val * (1 + 0.004 * _jitter(model, v, k)), 4) for k, val in plan.metrics.items()}
        metrics.update(over.get("metrics", {}))
        start = deployed_at - timedelta(hours=3)
        end = start + timedelta(minutes=42)
        ms = int(start.timestamp() * 1000)
        run_name = attrs.get("run_name") or f"{model.split('-')[-1]}-train-{start.date().isoformat()}"
        tags = {GIT_COMMIT_TAG: run_commit, "mlflow.source.git.branch": "main",
                "mlflow.source.git.repoURL": f"https://git.example.com/ml/{model}",
                "mlflow.source.name": plan.source_name, "mlflow.source.type": "JOB",
                "mlflow.user": "ml-platform-ci", "pipeline": "weekly-retrain"}
        run = client.create_run(exp_id, start_time=ms, tags=tags, run_name=run_name)
        rid = run.info.run_id
        client.log_batch(rid, params=[Param(k, str(val)) for k, val in params.items()],
                         metrics=[Metric(k, float(val), ms + 2_400_000, 0) for k, val in metrics.items()],
                         tags=[RunTag("training_snapshot", snapshot)])
        digest = _hex(model, "data", snapshot)[:8]
        dataset = Dataset(name=ds_name, digest=digest, source_type="delta",
                          source=json.dumps({"uri": f"s3://ml-data/{model}/snapshots/{snapshot}"}),
                          schema=schema_json, profile=json.dumps({"num_rows": (rows or 0) * 10 + data_v}))
        client.log_inputs(rid, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
        transforms = {k[: -len("_transform")]: val for k, val in params.items() if k.endswith("_transform")}
        client.log_text(rid, f"artifact_path: model\nflavor: {params.get('model_type')}\nrun_id: {rid}\n",
                        "model/MLmodel")
        client.log_dict(rid, {"features": list(schema), "transforms": transforms}, "model/feature_spec.json")
        client.log_dict(rid, {"metrics": metrics, "snapshot": snapshot}, "eval/metrics.json")
        client.set_terminated(rid, "FINISHED", end_time=int(end.timestamp() * 1000))
        mv = client.create_model_version(
            model, source=f"{run.info.artifact_uri}/model", run_id=rid,
            tags={DEPLOYED_AT_TAG: iso(deployed_at), "validation_status": "passed", "git_commit": run_commit[:7]},
            description=over.get("description", f"Weekly retrain on snapshot {snapshot}."),
        )
        if int(mv.version) != v:
            raise InvalidInputError(
                f"model '{model}' got version {mv.version} while seeding version {v}; "
                "delete the model from the tracking store and start again"
            )
    client.set_registered_model_alias(model, CHAMPION, str(plan.versions))
    client.set_registered_model_tag(model, SEED_MARKER, SEED_VERSION)
