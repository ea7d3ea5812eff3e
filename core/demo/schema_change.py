"""Demo 1: an upstream schema change silently corrupts a scikit-learn pipeline's features.

The model is a real scikit-learn pipeline (median imputation, scaling, logistic
regression) trained on the breast-cancer data set that ships inside
scikit-learn. At 09:00 the upstream lab-results export v2 renames
``mean radius`` to ``radius_mean`` and reports ``mean area`` in a ten times
finer unit (values ×10). The serving layer fills the now-missing column with the training
median and passes the rescaled area through, so accuracy falls with no error.
The accuracies per minute are drawn from the pipeline's real accuracy on clean
and on corrupted inputs.

The bundle also carries what the data teams' tools recorded, made once with real
Great Expectations and dbt by ``scripts/make_demo_artifacts.py`` and stored under
``core/demo/data/schema_change/``: ``quality/`` (hourly GX validations of the
prediction log: the column set passes until 09:00 and fails from the 10:00 run on)
and ``dbt/`` (the 08:48 ``dbt build`` in which the upstream model
``stg_lab_results`` changed and lost ``mean radius``, upstream of the feature model
``lab_features``; the nightly run's manifest as ``dbt/previous/manifest.json``).
They are copied as they are: their times are already the demo's.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.bundle import write_bundle
from core.demo.common import random_times, daily_cycle, event, log, log_stream, minutes, ramp, series, t, z

ID = "demo-schema-change"
SEED = 20260121
DATA_START = t("2026-01-18T00:00")
DATA_END = t("2026-01-22T00:00")
CHANGE = t("2026-01-21T09:00")
UPSTREAM_RELEASE = CHANGE - timedelta(minutes=12)
BASELINE = (DATA_START, t("2026-01-20T12:00"))
WINDOW = (t("2026-01-20T12:00"), DATA_END)
RENAMED = ("mean radius", "radius_mean")
RESCALED = ("mean area", 10.0)
ARTIFACTS = Path(__file__).resolve().parent / "data" / "schema_change"
"""The GX results (``quality/``) and dbt artifacts (``dbt/``) copied into the bundle."""


def _pipeline_and_data(rng: np.random.Generator):
    from sklearn.datasets import load_breast_cancer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000))
    train = rng.random(len(X)) < 0.6
    model.fit(X[train], y[train])
    return model, X, y, train


def _corrupt_for_serving(current: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """What the serving layer feeds the model after the change: the renamed column is missing (NaN,
    imputed with the training median) and the area is in the new unit."""
    fed = current.rename(columns={RENAMED[1]: "__ignored__"}).reindex(columns=columns)
    return fed


def _snapshots(rng: np.random.Generator):
    model, X, y, train = _pipeline_and_data(rng)
    held_X, held_y = X[~train].reset_index(drop=True), y[~train].reset_index(drop=True)
    n_ref, n_cur = 3200, 3000

    def sample(n, start, end):
        idx = rng.integers(0, len(held_X), n)
        frame = held_X.iloc[idx].reset_index(drop=True)
        frame = frame * rng.normal(1.0, 0.015, frame.shape)  # measurement noise between requests
        ts = random_times(rng, start, end, n)
        return frame, held_y.iloc[idx].reset_index(drop=True), ts

    ref_X, ref_y, ref_ts = sample(n_ref, DATA_START, CHANGE)
    cur_X, cur_y, cur_ts = sample(n_cur, CHANGE, DATA_END)
    cur_X = cur_X.rename(columns={RENAMED[0]: RENAMED[1]})
    cur_X[RESCALED[0]] = cur_X[RESCALED[0]] * RESCALED[1]
    ref_pred = model.predict(ref_X)
    fed = _corrupt_for_serving(cur_X, list(X.columns))
    cur_pred = model.predict(fed)
    acc_before = float((ref_pred == ref_y).mean())
    acc_after = float((cur_pred == cur_y).mean())

    def frame(X_, y_, ts, pred, proba):
        out = X_.copy()
        out.insert(0, "ts", ts)
        out.insert(1, "request_id", [f"lab-{int(v):06d}" for v in rng.integers(0, 999999, len(X_))])
        out["prediction"] = pred.astype(int)
        out["probability_benign"] = np.round(proba, 5)
        out["label"] = y_.astype(int).to_numpy()
        numeric = out.select_dtypes("float").columns
        out[numeric] = out[numeric].round(6)
        return out

    reference = frame(ref_X, ref_y, ref_ts, ref_pred, model.predict_proba(ref_X)[:, 1])
    current = frame(cur_X, cur_y, cur_ts, cur_pred, model.predict_proba(fed)[:, 1])
    return reference, current, acc_before, acc_after


def _logs(rng: np.random.Generator) -> dict[str, list[dict]]:
    def scorer(when, r):
        after = when >= CHANGE
        roll = r.random()
        if after and roll < 0.08:
            return log(when, "WARN", "lab-scorer", "column 'mean radius' missing from request, imputed training median", r)
        if roll < 0.9:
            return log(when, "INFO", "lab-scorer", f"scored request lab-{int(r.integers(0, 999999)):06d} "
                       f"prediction={int(r.integers(0, 2))} latency_ms={int(r.gamma(3, 5))}", r)
        return log(when, "DEBUG", "lab-scorer", f"batch flush size={int(r.integers(5, 40))}", r)

    def ingest(when, r):
        version = 2 if when >= CHANGE else 1
        cols = 30
        return log(when, "INFO", "lab-ingest", f"received batch rows={int(r.integers(20, 90))} columns={cols} "
                   f"schema_version={version}", r)

    return {
        "lab-scorer.jsonl": log_stream(rng, DATA_START, DATA_END, 11.0, scorer),
        "lab-ingest.jsonl": log_stream(rng, DATA_START, DATA_END, 60.0, ingest),
    }


def _events() -> list[dict]:
    return sorted([
        event(t("2026-01-19T15:40"), "deploy", "lab-scorer 1.8.3 deployed (log format change)", "argo-cd",
              service="lab-scorer", version="1.8.3", commit="77ab3e0"),
        event(t("2026-01-20T11:00"), "config_change", "lab-ingest: batch size 50 → 80", "config-repo",
              service="lab-ingest", key="batch_size", old=50, new=80),
        event(UPSTREAM_RELEASE, "data_pipeline", "Upstream lab-results export v2 released", "lab-systems",
              dataset="lab_results", schema_version=2, note="column names normalised; areas now in 0.1 mm² units"),
        event(t("2026-01-21T13:30"), "alert", "Labelled accuracy below 0.85 for 30 min", "grafana",
              rule="accuracy_slo", severity="warning"),
        event(t("2026-01-21T13:30"), "milestone", "detected", "incident", milestone="detected"),
        event(t("2026-01-21T13:42"), "milestone", "acknowledged", "incident", milestone="acknowledged"),
        event(t("2026-01-21T15:10"), "milestone", "mitigated", "incident", milestone="mitigated"),
        event(t("2026-01-21T19:00"), "milestone", "resolved", "incident", milestone="resolved"),
        event(t("2026-01-21T09:00"), "milestone", "started", "incident", milestone="started"),
    ], key=lambda e: e["timestamp"])


def build(target: Path) -> Path:
    rng = np.random.default_rng(SEED)
    reference, current, acc_before, acc_after = _snapshots(rng)
    idx = minutes(DATA_START, DATA_END)
    labelled = rng.poisson(60 * daily_cycle(idx, 0.4, 14.0))
    p = acc_before + (acc_after - acc_before) * ramp(idx, CHANGE, 5)
    accuracy = rng.binomial(np.maximum(labelled, 1), p) / np.maximum(labelled, 1)
    requests = rng.poisson(110 * daily_cycle(idx, 0.4, 14.0))
    latency = rng.gamma(6, 4, len(idx))
    manifest = {
        "id": ID,
        "title": "Lab-result classifier accuracy drops after upstream export change",
        "summary": "Labelled accuracy of the lab-result classifier fell sharply on 21 January with no errors; "
                   "an upstream export change renamed a column and changed a unit.",
        "service": "lab-scorer",
        "severity": "SEV2",
        "status": "resolved",
        "root_cause": "schema_change",
        "kpi": {"metric": "accuracy", "direction": "higher_is_better"},
        "baseline": {"start": z(BASELINE[0]), "end": z(BASELINE[1])},
        "window": {"start": z(WINDOW[0]), "end": z(WINDOW[1])},
        "datasets": {
            "reference": {"file": "datasets/reference.parquet", "timestamp": "ts", "prediction": "prediction",
                          "label": "label"},
            "current": {"file": "datasets/current.parquet", "timestamp": "ts", "prediction": "prediction",
                        "label": "label"},
        },
        "model": {"name": "lab-classifier"},
    }
    truth = {"root_cause": "schema_change", "onset": z(CHANGE),
             "planted_event": {"kind": "data_pipeline", "title": "Upstream lab-results export v2 released"},
             "renamed": list(RENAMED), "rescaled": {"column": RESCALED[0], "factor": RESCALED[1]},
             "accuracy_before": round(acc_before, 4), "accuracy_after": round(acc_after, 4)}
    path = write_bundle(
        target, manifest,
        metrics={"accuracy": series(idx, accuracy), "requests_per_min": series(idx, requests),
                 "latency_p95_ms": series(idx, latency)},
        logs=_logs(rng), events=_events(),
        datasets={"reference.parquet": reference, "current.parquet": current},
        ground_truth=truth,
    )
    for folder in ("quality", "dbt"):
        shutil.copytree(ARTIFACTS / folder, path / folder, dirs_exist_ok=True)
    shutil.copytree(ARTIFACTS / "delta" / "lab_results", path / "datasets" / "lab_results")  # the log as a Delta table
    return path
