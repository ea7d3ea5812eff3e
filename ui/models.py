"""Streamlit helpers of the Models page: the run source (MLflow, or W&B runs), cached registry reads."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.rundiff import RunDiff, diff_runs
from core.config import settings
from core.errors import BundleError, InvalidInputError
from core.models import Incident, TimeWindow
from core.sources.factory import open_source
from core.sources.mlflow_runs import RegistryHistory, missing_model_version_events
from core.sources.protocols import RunSource
from core.store import Store
from core.store.timeline import add_events, list_events
from ui.incidents import md_text  # noqa: F401 - re-exported for the page

URI_KEY = "models_uri"
SYSTEM_KEY = "models_system"
WANDB_KEY = "models_wandb"
MLFLOW, WANDB = "MLflow", "W&B"


def bundle_wandb(incident: Incident) -> str | None:
    """``wandb:PATH`` of the incident bundle's ``wandb/`` folder of W&B runs, if it has one."""
    if not incident.bundle_path:
        return None
    folder = Path(incident.bundle_path) / "wandb"
    return f"wandb:{folder}" if folder.is_dir() else None


def wandb_configured() -> bool:
    """True when the W&B API is configured (``WANDB_API_KEY`` and ``WANDB_PROJECT``, or ``[wandb]``)."""
    try:
        s = settings().section("wandb")
        return bool(s.text("api_key") and s.text("project"))
    except InvalidInputError:
        return False


def systems(incident: Incident) -> list[str]:
    """The run systems to offer, the incident's own first: W&B when its bundle carries W&B runs."""
    return [WANDB, MLFLOW] if bundle_wandb(incident) else [MLFLOW, WANDB]


def wandb_spec(incident: Incident) -> str | None:
    """The W&B source the page reads: the box on the page (a run folder, checked against the Local paths
    policy), else the bundle's runs, else the configured API (``wandb``); None when there is none."""
    typed = (st.session_state.get(WANDB_KEY) or "").strip()
    if typed:
        if typed.lower() == "wandb":
            return "wandb"
        from core.data_dirs import local_paths_policy

        path = typed[len("wandb:"):] if typed.lower().startswith("wandb:") else typed
        local_paths_policy().check(path)
        return f"wandb:{path}"
    return bundle_wandb(incident) or ("wandb" if wandb_configured() else None)


def source_label(uri: str | None) -> str:
    """How the page names the source it reads (no credentials)."""
    from core.sources.mlflow_runs import redact_uri

    if uri and uri.lower().startswith("wandb"):
        return "W&B: " + ("the configured W&B project (API)" if uri.lower() == "wandb" else uri[len("wandb:"):])
    return f"MLflow: {redact_uri(uri) if uri else 'embedded store'}"


def tracking_uri() -> str | None:
    """The page's tracking URI: the box on the page, else ``MLFLOW_TRACKING_URI`` or ``[mlflow]
    tracking_uri`` in secrets (core.config), else None (the embedded store). The token and password
    stay in the settings and travel with the source's own client, never through ``os.environ``."""
    typed = (st.session_state.get(URI_KEY) or "").strip()
    if typed:
        return typed
    try:
        return settings().mlflow.tracking_uri
    except InvalidInputError:  # a bad MLFLOW_* value or secrets file: opening "mlflow" shows the fix
        return "mlflow"


@st.cache_resource(show_spinner="Connecting to the run store…", max_entries=8)
def source(uri: str | None) -> RunSource:
    return open_source("runs", uri)


@st.cache_resource(show_spinner="Checking the demo models in the embedded MLflow store…",
                   max_entries=8)
def ensure_demo_registry(incident_id: str, bundle_path: str) -> bool:
    """Seed the embedded store with this demo bundle's model (idempotent; no-op for other bundles)."""
    from core.demo.mlflow_registry import seed_demo_registry

    seed_demo_registry(None, {incident_id: Path(bundle_path)})
    return True


def bundle_model(incident: Incident) -> str | None:
    """The model named by the incident bundle's manifest (``model.name``), if any."""
    if not incident.bundle_path:
        return None
    try:
        from ui.bundle_cache import read_bundle_cached

        return (read_bundle_cached(incident.bundle_path).manifest.get("model") or {}).get("name")
    except BundleError:
        return None


@st.cache_data(show_spinner="Reading the model registry…", ttl=60, max_entries=32)
def models(uri: str | None, service: str | None) -> list[str]:
    return source(uri).list_models(service=service)


@st.cache_data(show_spinner="Reading the model registry…", ttl=60, max_entries=32)
def history(uri: str | None, model: str) -> RegistryHistory:
    return source(uri).registry_history(model)


@st.cache_data(show_spinner="Reading and comparing the two runs…", ttl=300, max_entries=32)
def run_diff(uri: str | None, run_a: str, run_b: str) -> tuple[RunDiff, str]:
    """The diff and run B's experiment id."""
    src = source(uri)
    b = src.get_run(run_b)
    return diff_runs(src.get_run(run_a), b), b.experiment_id


@st.cache_data(show_spinner="Searching runs…", ttl=60, max_entries=32)
def runs_table(uri: str | None, experiment_id: str, params: tuple[str, ...], metrics: tuple[str, ...],
               max_runs: int) -> pd.DataFrame:
    return source(uri).search_runs([experiment_id], params=params, metrics=metrics,
                                   tags=("mlflow.source.git.commit",), max_runs=max_runs)


def default_onset(incident: Incident, window: TimeWindow) -> tuple[datetime, str]:
    """(onset, how it was found) by the one onset policy (core.onset, as the Timeline and triage use it);
    the start of the shared range only when the incident gives no onset at all."""
    from core.onset import DETECTED, MILESTONE
    from ui.timeline import onset_for

    try:
        found = onset_for(incident)
    except (BundleError, InvalidInputError):
        return window.start, "the start of the time range"
    if found.source == MILESTONE:
        return found.at, "the incident's impact-start milestone"
    if found.source == DETECTED:
        return found.at, f"the change point of the KPI '{incident.kpi_metric}'"
    return found.at, found.source


def add_registry_events(store: Store, incident: Incident, hist: RegistryHistory, window: TimeWindow) -> int:
    """Put registry versions inside ``window`` on the timeline unless an event already names them."""
    existing = list_events(store, incident.id)
    new = missing_model_version_events(hist, existing, window)
    wandb = hist.description.startswith("W&B")
    if new:
        for ev in new:
            ev["author"] = "W&B model artifacts" if wandb else "mlflow registry"
            if wandb:
                ev["source"] = "wandb"
                ev["title"] = ev["title"].replace(" registered", " logged (W&B)")
        add_events(store, incident.id, new)
    return len(new)


def diff_frames(diff: RunDiff, show_all: bool) -> dict[str, pd.DataFrame]:
    """One table per diff section; unchanged rows only when ``show_all``."""
    def keep(rows: tuple[Any, ...]) -> list[Any]:
        return [r for r in rows if show_all or r.status != "same"]

    def values(rows: tuple[Any, ...]) -> pd.DataFrame:
        return pd.DataFrame([{"key": r.key, "last good": r.a, "incident": r.b, "change": r.status}
                             for r in keep(rows)], columns=["key", "last good", "incident", "change"])

    metrics = pd.DataFrame([{"metric": m.key, "last good": m.a, "incident": m.b, "delta": m.delta,
                             "relative": m.relative, "change": m.status} for m in keep(diff.metrics)],
                           columns=["metric", "last good", "incident", "delta", "relative", "change"])
    datasets = pd.DataFrame([{
        "dataset": d.name, "context": d.context, "digest (last good)": d.digest_a, "digest (incident)": d.digest_b,
        "rows (last good)": d.rows_a, "rows (incident)": d.rows_b, "change": d.status,
        "schema change": "; ".join(
            ([f"+{', '.join(d.columns_added)}"] if d.columns_added else [])
            + ([f"−{', '.join(d.columns_removed)}"] if d.columns_removed else [])
            + [f"{c}: {a} → {b}" for c, a, b in d.type_changes]),
    } for d in keep(diff.datasets)], columns=["dataset", "context", "digest (last good)", "digest (incident)",
                                              "rows (last good)", "rows (incident)", "change", "schema change"])
    artifacts = pd.DataFrame([{"path": a.path, "bytes (last good)": a.size_a, "bytes (incident)": a.size_b,
                               "change": a.status} for a in keep(diff.artifacts)],
                             columns=["path", "bytes (last good)", "bytes (incident)", "change"])
    return {"Params": values(diff.params), "Metrics": metrics, "Tags": values(diff.tags),
            "Input datasets": datasets, "Artifacts": artifacts}


def version_label(hist: RegistryHistory, number: int) -> str:
    v = hist.version(number)
    at = v.effective_at.strftime("%Y-%m-%d %H:%M") if v.effective_at else "?"
    aliases = f" · {', '.join(v.aliases)}" if v.aliases else ""
    return f"v{v.version} · {v.time_basis} {at}{aliases}"
