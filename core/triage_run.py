"""Run triage over an incident bundle: read each source, call the pure steps, score.

This is the thin reading layer around :mod:`core.analysis.triage`: it opens the
bundle, reads what it has (KPI and other metrics, events, datasets, logs, and a model
registry when a tracking URI is given), and turns every missing or unusable
source into a *skipped* step with the reason — never into "no problem".
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import pandas as pd

from core.analysis import triage as tr
from core.bundle import Bundle, read_bundle
from core.errors import InvalidInputError, WorkbenchError
from core.models import TimeWindow, iso, utc

ProgressFn = Callable[[str, str, str], None]  # (step name, status "running"/"ok"/"skipped"/"failed", message)
LOG_SPAN = timedelta(hours=24)
LOG_COLUMNS = {"@timestamp": "timestamp", "message": "message", "log.level": "level", "service.name": "service"}


def read_bundle_logs(bundle: Bundle) -> pd.DataFrame | None:
    """All log lines of a bundle as ``timestamp, message, level, service`` (None without logs)."""
    frames = []
    for path in bundle.log_files():
        df = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
        if df.empty:
            continue
        if "log" in df.columns and "log.level" not in df.columns:  # nested ECS objects
            df["log.level"] = df["log"].map(lambda v: v.get("level") if isinstance(v, dict) else None)
        if "service" in df.columns and "service.name" not in df.columns:
            df["service.name"] = df["service"].map(lambda v: v.get("name") if isinstance(v, dict) else v)
        keep = {k: v for k, v in LOG_COLUMNS.items() if k in df.columns}
        frames.append(df[list(keep)].rename(columns=keep))
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True, format="ISO8601")
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _started(events: list[dict]) -> datetime | None:
    for ev in events:
        if ev.get("kind") == "milestone" and (ev.get("attributes") or {}).get("milestone") == "started":
            return utc(ev["timestamp"])
    return None


def _data_pair(bundle: Bundle, onset: datetime) -> dict:
    """The reference/current frames (snapshot roles or one role split at the onset)."""
    from core.sources.datasets import bundle_roles, pair_from_bundle

    roles = bundle_roles(bundle)
    if not roles:
        return {"skip_reason": "the bundle has no datasets: data could not be checked"}
    errors = []
    for role in roles:
        try:
            pair = pair_from_bundle(bundle, role, split_at=None if role == "reference/current" else onset,
                                    reference=bundle.baseline if role != "reference/current" else None)
        except InvalidInputError as exc:
            errors.append(f"{role}: {exc}")
            continue
        return dict(reference=pair.reference, current=pair.current, timestamp=pair.timestamp,
                    prediction=pair.prediction, label=pair.label, description=pair.description,
                    reference_window=pair.reference_window, current_window=pair.current_window)
    return {"skip_reason": "datasets could not be compared: " + "; ".join(errors)}


def _registry_verdict(bundle: Bundle, onset: datetime, tracking_uri: str | None):
    """(verdict or None, skip reason)."""
    model = (bundle.manifest.get("model") or {}).get("name")
    if not tracking_uri:
        return None, "no model registry configured (give --tracking-uri or set MLFLOW_TRACKING_URI)"
    if not model:
        return None, "the bundle names no model (bundle.json 'model.name'), so no registry history to compare"
    from core.analysis.rundiff import choose_runs, diff_runs, regression_verdict
    from core.sources.mlflow_runs import MlflowRunSource

    source = MlflowRunSource(tracking_uri)
    history = source.registry_history(model)
    choice = choose_runs(history, onset)
    if choice.incident is None or choice.last_good is None:
        return None, f"registry: {choice.reason}"
    diff = diff_runs(source.get_run(choice.last_good.run_id, artifacts=False),
                     source.get_run(choice.incident.run_id, artifacts=False))
    return regression_verdict(diff, choice.incident, onset), ""


def triage_bundle(path: Path | str | Bundle, *, tracking_uri: str | None = None,
                  progress: ProgressFn | None = None) -> tr.TriageResult:
    """Triage one bundle end to end.

    Args:
        path: a bundle directory or zip, or an opened :class:`~core.bundle.Bundle`.
        tracking_uri: an MLflow tracking URI for the model-registry step (skipped without one).
        progress: called as each step starts and ends.

    Raises:
        BundleError: the bundle is invalid.
    """
    t0 = time.perf_counter()
    bundle = path if isinstance(path, Bundle) else read_bundle(path)
    say = progress or (lambda _n, _s, _m: None)
    titles = dict(tr.STEPS)
    notes: list[str] = []

    def start(name: str) -> None:
        say(name, "running", titles[name])

    def done(step: tr.StepResult) -> None:
        say(step.name, step.status, step.summary)

    events = bundle.events() if (bundle.path / "events.jsonl").is_file() else None
    metric_names = bundle.metric_names()
    start(tr.STEP_ONSET)
    kpi = bundle.read_metric(bundle.kpi_metric)
    onset = tr.analyse_onset(kpi, metric=bundle.kpi_metric, direction=bundle.kpi_direction, window=bundle.window,
                             baseline=bundle.baseline, fallback=_started(events or []))
    done(onset.step)
    at = onset.at
    data_end = min(bundle.window.end, kpi["timestamp"].max().to_pydatetime() + timedelta(seconds=1))
    if not onset.detected:
        notes.append(onset.step.summary)
    if data_end <= at:
        data_end = bundle.window.end

    start(tr.STEP_CHANGES)
    changes = tr.analyse_changes(events, at, data_end=data_end)
    done(changes.step)

    start(tr.STEP_DATA)
    try:
        pair = _data_pair(bundle, at)
        data = tr.analyse_data(pair.pop("reference", None), pair.pop("current", None), window_end=data_end, **pair)
    except InvalidInputError as exc:
        data = tr.analyse_data(None, None, skip_reason=f"datasets could not be compared: {exc}")
    done(data.step)

    start(tr.STEP_LOGS)
    logs = read_bundle_logs(bundle)
    if logs is None:
        log_finding = tr.analyse_logs(None, at, baseline=bundle.window, window=bundle.window)
    else:
        first, last = logs["timestamp"].min().to_pydatetime(), logs["timestamp"].max().to_pydatetime()
        b_start = max(first, at - LOG_SPAN)
        w_end = min(last + timedelta(seconds=1), at + LOG_SPAN)
        if b_start >= at or w_end <= at:
            log_finding = tr.analyse_logs(None, at, baseline=bundle.window, window=bundle.window, skip_reason=(
                f"the logs run from {iso(first)} to {iso(last)} and do not cover both sides of the onset "
                f"{iso(at)}: log patterns could not be compared"))
        else:
            try:
                log_finding = tr.analyse_logs(logs, at, baseline=TimeWindow(b_start, at), window=TimeWindow(at, w_end))
            except InvalidInputError as exc:
                log_finding = tr.analyse_logs(None, at, baseline=bundle.window, window=bundle.window,
                                              skip_reason=f"log patterns could not be compared: {exc}")
    done(log_finding.step)

    start(tr.STEP_METRICS)
    others = {name: bundle.read_metric(name) for name in metric_names if name != bundle.kpi_metric}
    metrics = tr.analyse_metrics(others, at, kpi=bundle.kpi_metric)
    done(metrics.step)

    start(tr.STEP_REGISTRY)
    try:
        verdict, reason = _registry_verdict(bundle, at, tracking_uri)
    except WorkbenchError as exc:
        verdict, reason = None, f"the model registry could not be read: {exc}"
    registry = tr.analyse_registry(verdict, skip_reason=reason)
    done(registry.step)

    hypotheses = tr.score_hypotheses(onset=onset, changes=changes, data=data, logs=log_finding, metrics=metrics,
                                     registry=registry, service=bundle.service, data_end=data_end)
    steps = (onset.step, changes.step, data.step, log_finding.step, metrics.step, registry.step)
    return tr.TriageResult(
        incident=bundle.id, kpi=bundle.kpi_metric, onset=onset.change,
        onset_note=onset.step.summary if onset.change is None else f"detected at {iso(onset.at)}",
        steps=steps, hypotheses=hypotheses, onset_at=at, notes=tuple(notes), seconds=time.perf_counter() - t0,
    )
