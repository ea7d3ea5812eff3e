"""Run triage over an incident bundle: decide the onset, run every registered step, score.

The onset comes from the one onset policy (:func:`core.onset.bundle_onset`: the
``started`` milestone, else the detected KPI onset, else the windows). Each registered
step then reads what it needs from the bundle through the :class:`TriageContext`; a missing
or unusable source is a *skipped* step with the reason — never "no problem" — and a step
that raises :class:`~core.errors.WorkbenchError` is a *failed* one.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Mapping

from core.bundle import Bundle, read_bundle
from core.errors import WorkbenchError
from core.models import iso
from core.onset import DETECTED, IncidentOnset, bundle_onset, load_kpi
from core.triage.models import ONSET_TITLE, STEP_ONSET, StepOutcome, StepResult, TriageContext, TriageResult
from core.triage.registry import registered_steps
from core.triage.scoring import score_hypotheses

ProgressFn = Callable[[str, str, str], None]  # (step name, status "running"/"ok"/"skipped"/"failed", message)


def onset_step(onset: IncidentOnset) -> StepResult:
    """The onset's step result: what the KPI detection found, and which instant the analysis cuts at."""
    d = onset.detection
    status = d.status if d is not None else "skipped"
    summary = d.summary if d is not None else "the KPI was not analysed"
    details = dict(d.details) if d is not None else {"detected": False}
    details.update({"used": iso(onset.at), "source": onset.source})
    if d is None or not d.detected:
        if status == "ok":
            summary += (f" The comparison windows are cut at {iso(onset.at)} ({onset.source}); "
                        "nothing can be confirmed.")
        else:
            summary += f"; the onset falls back to {iso(onset.at)} ({onset.source})"
    elif onset.source != DETECTED:
        summary += f"; the analysis is cut at {onset.source}, {iso(onset.at)}"
    return StepResult(STEP_ONSET, ONSET_TITLE, status, summary, details)


def triage_bundle(path: Path | str | Bundle, *, tracking_uri: str | None = None,
                  progress: ProgressFn | None = None,
                  milestones: Mapping[str, datetime | str | None] | None = None) -> TriageResult:
    """Triage one bundle end to end.

    Args:
        path: a bundle directory or zip, or an opened :class:`~core.bundle.Bundle`.
        tracking_uri: an MLflow tracking URI for the model-registry step (skipped without one).
        progress: called as each step starts and ends.
        milestones: the incident's stored milestones (the app passes them); default the
            bundle's milestone events.

    Raises:
        BundleError: the bundle is invalid.
    """
    t0 = time.perf_counter()
    bundle = path if isinstance(path, Bundle) else read_bundle(path)
    say = progress or (lambda _n, _s, _m: None)
    notes: list[str] = []

    say(STEP_ONSET, "running", ONSET_TITLE)
    kpi = load_kpi(bundle)
    onset = bundle_onset(bundle, milestones=milestones, kpi=kpi, detect=True)
    first = onset_step(onset)
    say(first.name, first.status, first.summary)
    at = onset.at
    data_end = bundle.window.end
    if kpi is not None:
        data_end = min(bundle.window.end, kpi["timestamp"].max().to_pydatetime() + timedelta(seconds=1))
    if not onset.detected:
        notes.append(first.summary)
    if data_end <= at:
        data_end = bundle.window.end

    context = TriageContext(bundle=bundle, onset=onset, at=at, data_end=data_end, tracking_uri=tracking_uri)
    outcomes: list[StepOutcome] = []
    absent: list[StepResult] = []  # optional steps whose tool this incident does not use at all
    for step in registered_steps():
        if not all(r in context.outcomes and context.outcomes[r].result.ran for r in getattr(step, "requires", ())):
            continue  # built on a step that did not run: that step's skip says why; counted as unchecked
        say(step.name, "running", step.title)
        try:
            outcome = step.run(context)
        except WorkbenchError as exc:
            outcome = StepOutcome(StepResult(step.name, step.title, "failed", str(exc)))
        context.outcomes[step.name] = outcome
        if getattr(step, "optional", False) and outcome.result.status == "skipped":
            absent.append(outcome.result)  # not counted as unchecked: the team may not use this tool
            continue
        outcomes.append(outcome)
        say(outcome.result.name, outcome.result.status, outcome.result.summary)

    hypotheses = score_hypotheses(outcomes, at=at, change=onset.change, onset_step=first,
                                  absent={r.name for r in absent})
    if onset.change is None:
        note = first.summary
    else:
        note = f"detected at {iso(onset.detection.at)}"
        if onset.source != DETECTED:
            note += f"; the analysis uses {onset.source}, {iso(at)}"
    return TriageResult(
        incident=bundle.id, kpi=bundle.kpi_metric, onset=onset.change, onset_note=note,
        steps=(first, *(o.result for o in outcomes)), hypotheses=hypotheses, onset_at=at,
        onset_source=onset.source, notes=tuple(notes), seconds=time.perf_counter() - t0,
        not_configured=tuple(absent),
    )


__all__ = ["ProgressFn", "onset_step", "triage_bundle"]
