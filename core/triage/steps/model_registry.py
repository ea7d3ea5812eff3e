"""Triage step ``registry``: what the model registry says changed before the onset.

Reads the MLflow registry history of the bundle's model (``bundle.json`` ``model.name``)
from the tracking URI given to the run, picks the "last good" and "incident" versions
around the onset and diffs their runs (:mod:`core.analysis.rundiff`). A changed model is
strong evidence for ``code_regression``; a registry that shows no change discounts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.errors import WorkbenchError
from core.models import RootCause, format_duration
from core.triage.models import StepOutcome, StepResult, TriageContext
from core.triage.registry import signal
from core.triage.rules import around, factor

NAME = "registry"
TITLE = "Model versions and runs"


@dataclass(frozen=True)
class RegistryFinding:
    changed: bool | None  # None: not checked
    title: str
    lead_time: timedelta | None
    step: StepResult


def analyse_registry(verdict: Any | None, *, skip_reason: str = "") -> RegistryFinding:
    """Wrap a :class:`core.analysis.rundiff.RegressionVerdict` (or its absence)."""
    title = TITLE
    if verdict is None:
        return RegistryFinding(None, "", None, StepResult(
            NAME, title, "skipped", skip_reason or "no model registry configured: runs not compared"))
    return RegistryFinding(bool(verdict.finding), verdict.title, verdict.lead_time, StepResult(
        NAME, title, "ok", verdict.explanation, verdict.to_result()))



def registry_verdict(bundle: Any, onset: datetime, tracking_uri: str | None):
    """(verdict or None, skip reason)."""
    model = (bundle.manifest.get("model") or {}).get("name")
    if not tracking_uri:
        return None, "no model registry configured (give --tracking-uri or set MLFLOW_TRACKING_URI)"
    if not model:
        return None, "the bundle names no model (bundle.json 'model.name'), so no registry history to compare"
    from core.analysis.rundiff import choose_runs, diff_runs, regression_verdict
    from core.sources.factory import open_source

    source = open_source("runs", tracking_uri)
    history = source.registry_history(model)
    choice = choose_runs(history, onset)
    if choice.incident is None or choice.last_good is None:
        return None, f"registry: {choice.reason}"
    diff = diff_runs(source.get_run(choice.last_good.run_id, artifacts=False),
                     source.get_run(choice.incident.run_id, artifacts=False))
    return regression_verdict(diff, choice.incident, onset), ""


class RegistryStep:
    """Compare the model versions deployed before and at the onset."""

    name = NAME
    title = TITLE
    relevance = {RootCause.CODE_REGRESSION: 0.4}

    def run(self, context: TriageContext) -> StepOutcome:
        at = context.at
        try:
            verdict, reason = registry_verdict(context.bundle, at, context.tracking_uri)
        except WorkbenchError as exc:
            verdict, reason = None, f"the model registry could not be read: {exc}"
        found = analyse_registry(verdict, skip_reason=reason)
        if found.changed:
            lead = f", {format_duration(found.lead_time)} before the onset" if found.lead_time is not None else ""
            sig = signal("registry", 1.0, found.title + lead, step=NAME, view="models", title=found.title,
                         window=around(at, timedelta(days=2), timedelta(hours=12)))
            return StepOutcome(found.step, (sig,), finding=found)
        if found.changed is False:
            return StepOutcome(found.step, factors=(factor("registry_no_change"),), finding=found)
        return StepOutcome(found.step, finding=found)
