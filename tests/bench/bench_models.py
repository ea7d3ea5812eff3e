"""Benchmark: the Models page and its run search over an MLflow store holding 500 runs.

Builds (once, reused afterwards) a SQLite MLflow store with one experiment of N runs
(default 500), each with 60 params and 40 metrics, and a registered model whose last 20
versions point at the newest runs. Then measures, side by side in one run:

* run table, ours: ``MlflowRunSource.search_runs`` paged, keeping only the needed columns
  (run info, 1 param, 6 metrics, 1 tag);
* run table, MLflow's own ``mlflow.search_runs`` (what a user would call), which returns
  every param, metric and tag column;
* the whole Models page in Streamlit's AppTest: a cold run (empty caches, includes the
  registry read, two ``get_run`` calls with artifact listing, the diff and the run search)
  and a warm rerun (cached reads, as after a widget change).

Usage::

    python tests/bench/bench_models.py              # 500 runs
    python tests/bench/bench_models.py --runs 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ONSET = datetime(2026, 3, 12, 14, 20, tzinfo=timezone.utc)
MODEL = "bench-ranker"
SERVICE = "bench-recs"


def build_store(root: Path, n_runs: int) -> str:
    """A SQLite store with ``n_runs`` runs and 20 model versions (reused if already built)."""
    from mlflow.entities import Metric, Param, RunTag

    from core.models import iso
    from core.sources.mlflow_runs import MlflowRunSource

    uri = f"sqlite:///{root / 'mlflow.db'}"
    done = root / f".built-{n_runs}"
    if done.exists():
        return uri
    source = MlflowRunSource(uri, create=True)
    c = source.client
    exp = c.create_experiment("bench-training", artifact_location=(root / "artifacts").as_uri())
    t0 = time.perf_counter()
    runs = []
    for i in range(n_runs):
        at = ONSET - timedelta(hours=6 * (n_runs - i))
        ms = int(at.timestamp() * 1000)
        run = c.create_run(exp, start_time=ms, run_name=f"train-{i:04d}",
                           tags={"mlflow.source.git.commit": f"{i // 25:040x}", "mlflow.user": "ci"})
        transform = "identity" if i == n_runs - 1 else "log1p"
        params = [Param(f"p{j:02d}", str(j)) for j in range(59)] + [Param("tenure_transform", transform)]
        metrics = [Metric(f"m{j:02d}", 0.5 + 0.001 * ((i * 7 + j) % 50), ms, 0) for j in range(40)]
        c.log_batch(run.info.run_id, params=params, metrics=metrics, tags=[RunTag("pipeline", "weekly")])
        c.log_text(run.info.run_id, f"transform={transform}", "model/spec.txt") if i >= n_runs - 20 else None
        c.set_terminated(run.info.run_id, "FINISHED", end_time=ms + 600_000)
        runs.append((run.info.run_id, run.info.artifact_uri, at))
    c.create_registered_model(MODEL, tags={"service": SERVICE})
    for rid, art, at in runs[-20:]:
        c.create_model_version(MODEL, source=f"{art}/model", run_id=rid, tags={"deployed_at": iso(at)})
    c.set_registered_model_alias(MODEL, "champion", "20")
    print(f"built {n_runs} runs in {time.perf_counter() - t0:.1f} s", flush=True)
    done.touch()
    return uri


def bench_search(uri: str, repeat: int = 3) -> tuple[float, float, int, int]:
    import mlflow

    from core.sources.mlflow_runs import MlflowRunSource

    source = MlflowRunSource(uri)
    exp = source.experiment_ids(["bench-training"])
    ours, theirs = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        df = source.search_runs(exp, params=["tenure_transform"], metrics=[f"m{j:02d}" for j in range(6)],
                                tags=["mlflow.source.git.commit"], max_runs=500)
        ours.append(time.perf_counter() - t)
        mlflow.set_tracking_uri(uri)
        t = time.perf_counter()
        full = mlflow.search_runs(experiment_ids=exp, max_results=500)
        theirs.append(time.perf_counter() - t)
    return statistics.median(ours), statistics.median(theirs), df.shape[1], full.shape[1]


def bench_page(uri: str, home: Path, repeat: int = 3) -> tuple[list[float], list[float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from core.store import open_store
    from core.store.incidents import create_incident, find_incident

    os.environ["WORKBENCH_HOME"] = str(home)
    store = open_store(f"sqlite:///{home / 'workbench.db'}")
    if find_incident(store, "bench-incident") is None:
        create_incident(store, id="bench-incident", title="Bench: CTR drop", service=SERVICE,
                        milestones={"started": ONSET.isoformat()})
    store.dispose()
    os.chdir(ROOT)
    cold, warm = [], []
    for _ in range(repeat):
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.query_params["incident"] = "bench-incident"
        at.session_state["models_uri"] = uri
        at.run()
        at.switch_page("app_pages/models.py")
        t = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - t)
        assert not at.exception, at.exception
        assert at.selectbox(key="models_version_b").value == 20, "the newest version should be the incident's"
        t = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t)
        rows = next(d.value for d in at.dataframe if "name" in d.value.columns)
        assert len(rows) == 200, len(rows)  # the default table size
        at.segmented_control(key="models_max_runs").set_value(500)
        t = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t)
        rows = next(d.value for d in at.dataframe if "name" in d.value.columns)
        assert len(rows) == 500, len(rows)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "bench-models"))
    args = parser.parse_args()
    root = Path(args.dir) / f"runs-{args.runs}"
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WORKBENCH_HOME", str(root / "home"))
    (root / "home").mkdir(exist_ok=True)
    uri = build_store(root, args.runs)

    ours, theirs, ours_cols, their_cols = bench_search(uri)
    print(f"\n== run table, {args.runs} runs × (60 params, 40 metrics) in SQLite ==")
    print(f"ours  search_runs (paged, {ours_cols} columns)        {ours:7.3f} s")
    print(f"mlflow.search_runs (all columns, {their_cols} columns)  {theirs:7.3f} s")
    print(f"ratio mlflow/ours: {theirs / ours:.2f}x")

    cold, warm = bench_page(uri, root / "home")
    print(f"\n== Models page (AppTest), {args.runs} runs in the experiment ==")
    print(f"cold run (empty caches): median {statistics.median(cold):.2f} s  (runs: "
          + ", ".join(f"{c:.2f}" for c in cold) + ")")
    print(f"warm rerun (cached, incl. switching to 500 rows): median {statistics.median(warm):.2f} s  (runs: "
          + ", ".join(f"{w:.2f}" for w in warm) + ")")
    print(f"ratio cold/warm: {statistics.median(cold) / statistics.median(warm):.1f}x")


if __name__ == "__main__":
    main()
