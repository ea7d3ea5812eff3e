"""Pin evidence of every kind onto an incident: one function per kind, used by the pages and the CLI.

Each function builds the evidence's title, query and compact result from a finding, freezes it with
:func:`core.store.evidence.pin_evidence` (which also puts it on the timeline) and returns the stored
:class:`~core.models.Evidence`. The pages add only their buttons and messages; ``python -m core pin``
and ``python -m core accept --pin`` call the same functions, so a pin from either stores the same row.

Every function raises :class:`~core.errors.WorkbenchError` subclasses only (an oversized finding, an
unknown incident, a stale edit); the caller shows the message.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInputError
from core.models import Evidence, EventKind, Incident, Milestone, TimeWindow, iso
from core.store import Store
from core.store.evidence import pin_evidence
from core.store.incidents import update_incident

if TYPE_CHECKING:
    from core.analysis.changepoint import OnsetResult, SegmentBreakdown
    from core.analysis.correlate import ChangeRanking
    from core.analysis.drift import DriftReport
    from core.analysis.logpatterns import PatternDiff
    from core.analysis.rundiff import RegressionVerdict, RunDiff
    from core.sources.datasets import DatasetPair
    from core.sources.logs import Histogram, SearchPage
    from core.sources.metrics import MetricSeries
    from core.triage import TriageResult

TRIAGE_TOP = 6  # hypotheses kept in a pinned triage result


# ---------------------------------------------------------------- triage

def compact_triage(result: TriageResult, top: int = TRIAGE_TOP) -> dict[str, Any]:
    """The triage result small enough to pin (hypotheses with their evidence, skipped steps)."""
    data = result.to_dict()
    data["steps"] = [{k: s[k] for k in ("name", "title", "status", "summary")} for s in data["steps"]]
    for h in data["hypotheses"]:
        for e in h["evidence"]:
            e["evidence"]["data"] = {}
    data["hypotheses"] = data["hypotheses"][:top]
    return data


def triage_title(result: TriageResult) -> str:
    """'Triage: Data drift most likely (score 0.82, confidence 90%)', or 'Triage result' with no hypothesis."""
    top = result.top
    return (f"Triage: {top.label} most likely (score {top.score:.2f}, confidence {top.confidence:.0%})"
            if top is not None else "Triage result")


def pin_triage(store: Store, incident: Incident, result: TriageResult, author: str, *,
               tracking_uri: str | None) -> Evidence:
    """Pin a triage result of the incident's bundle (``tracking_uri``: the registry the run used, if any)."""
    return pin_evidence(store, incident.id, kind="triage", title=triage_title(result),
                        query={"bundle": incident.bundle_path, "registry": bool(tracking_uri)},
                        result=compact_triage(result), window=incident.window, author=author)


# ---------------------------------------------------------------- distributions

def pin_drift(store: Store, incident: Incident, pair: DatasetPair, report: DriftReport, *, kind: str,
              title: str, result: dict[str, Any], author: str) -> Evidence:
    """Pin a drift or schema finding (``kind`` "drift" or "schema") with the pair's inputs and windows."""
    query = {**pair.query(), "thresholds": report.thresholds, "n_reference": report.n_reference,
             "n_current": report.n_current, "sampled": report.sampled}
    return pin_evidence(store, incident.id, kind=kind, title=title, query=query, result=result,
                        window=pair.current_window, author=author)


def pin_images(store: Store, incident: Incident, comparison: Any, *, source: str, author: str,
               medians: dict[str, tuple[str, str]] | None = None) -> Evidence:
    """Pin an image comparison (:class:`~core.analysis.images.ImageComparison`): its plain findings, the
    counts and each measure's drift, on the timeline at the incident window's end.

    ``source`` says where the images came from ("the bundle's images/reference and images/current", two
    uploads, two paths); ``medians`` maps a measure to its reference and current median as shown.
    """
    from core.evidence.kinds.images import ImagesPayload

    payload = ImagesPayload.from_comparison(comparison, medians)
    title = f"Images: {payload.finding}" + (f" (+{len(payload.findings) - 1} more)" if len(payload.findings) > 1 else "")
    query = {"source": source, "reference": comparison.reference_label, "current": comparison.current_label,
             "focus": comparison.focus}
    return pin_evidence(store, incident.id, kind="images", title=title[:200], query=query, result=payload,
                        window=incident.window, author=author)


# ---------------------------------------------------------------- timeline

def ranking_title(ranking: ChangeRanking) -> str:
    top = ranking.top
    return "What changed before the onset" + (f": top suspect '{top.event.title}'" if top else ": nothing")


def pin_ranking(store: Store, incident: Incident, ranking: ChangeRanking, author: str) -> Evidence:
    """Pin the ranked changes before the onset (with the onset, look-back and priors), on the timeline at the onset."""
    return pin_evidence(
        store, incident.id, kind="changes", title=ranking_title(ranking),
        query={"onset": iso(ranking.onset), "onset_source": ranking.onset_source,
               "lookback_hours": ranking.lookback.total_seconds() / 3600, "priors": dict(ranking.priors)},
        result={"changes": [c.to_dict() for c in ranking.changes[:20]], "considered": ranking.considered},
        window=TimeWindow(ranking.onset - ranking.lookback, ranking.onset + ranking.tolerance),
        author=author, timeline_at=ranking.onset,
    )


# ---------------------------------------------------------------- logs

def pin_log_query(store: Store, incident: Incident, *, source_name: str, query: str, window: TimeWindow,
                  page: SearchPage, hist: Histogram | None, author: str) -> Evidence:
    """Freeze a log query: its window, hit count, counts per level and up to ten sample hits."""
    levels: dict[str, int] = {}
    for b in (hist.buckets if hist else ()):
        levels[b.key] = levels.get(b.key, 0) + b.count
    result = {"count": page.total, "levels": levels,
              "sample": [h.to_dict() for h in page.hits[:10]]}
    title = f"Logs: {query or '*'} — {page.total:,} hits"
    return pin_evidence(store, incident.id, kind="log_query", title=title[:200],
                        query={"source": source_name, "query": query, "syntax": "lucene"}, result=result,
                        window=window, author=author, event_kind=EventKind.LOG)


def pin_log_patterns(store: Store, incident: Incident, *, source_name: str, query: str, diff: PatternDiff,
                     author: str) -> Evidence:
    """Freeze a log-pattern diff: the new, changed and vanished templates (up to 30).

    Raises:
        InvalidInputError: no template changed.
    """
    changed = [c.to_dict() for c in diff.changes if c.status != "unchanged"][:30]
    if not changed:
        raise InvalidInputError("no template changed; there is nothing to pin")
    result = {"summary": diff.to_dict()["summary"], "baseline": diff.baseline.to_dict(),
              "baseline_lines": diff.baseline_lines, "window_lines": diff.window_lines, "templates": changed}
    title = f"Log patterns: {len(diff.new)} new, {len(diff.changed)} changed, {len(diff.vanished)} vanished"
    return pin_evidence(store, incident.id, kind="log_patterns", title=title,
                        query={"source": source_name, "query": query, "baseline": diff.baseline.to_dict(),
                               "config": diff.config.to_dict()}, result=result, window=diff.window,
                        author=author, event_kind=EventKind.LOG)


# ---------------------------------------------------------------- metrics

def pin_change_point(store: Store, incident: Incident, series: MetricSeries, result: OnsetResult,
                     breakdown: SegmentBreakdown | None, query: dict[str, Any], author: str = "") -> Evidence | None:
    """Pin the main onset of a series (and its segment breakdown) as ``changepoint`` evidence.

    Returns None, pinning nothing, when the detection found no onset.
    """
    from core.analysis.changepoint import onset_window

    o = result.onset
    if o is None:
        return None
    rel = f" ({o.relative_change:+.1%})" if o.relative_change is not None else ""
    title = f"{series.name} changed at {iso(o.time)}: {o.level_before:.4g} → {o.level_after:.4g}{rel}"
    payload = result.to_dict()
    payload["segments"] = breakdown.to_dict() if breakdown else None
    payload["source"] = series.source
    return pin_evidence(store, incident.id, kind="changepoint", title=title, query=query, result=payload,
                        window=onset_window(result), author=author, timeline_at=o.time)


def set_impact_start(store: Store, incident: Incident, when: datetime) -> Incident:
    """Write the incident's ``started`` milestone (its other milestones kept); returns the saved incident.

    Raises:
        ConcurrentEditError: someone saved the incident since ``incident`` was read.
        InvalidInputError: the milestones would be out of order.
    """
    milestones = {k: v for k, v in incident.milestones.items() if v}
    milestones[Milestone.STARTED.value] = when
    return update_incident(store, incident.id, version=incident.version, milestones=milestones)


# ---------------------------------------------------------------- models

def pin_run_diff(store: Store, incident: Incident, *, verdict: RegressionVerdict, diff: RunDiff,
                 tracking_uri: str | None, model: str, version_a: Any, version_b: Any, onset: datetime,
                 within_hours: float, author: str = "") -> Evidence:
    """Pin a model-version verdict with its run diff counts, on the timeline when the version took effect.

    ``tracking_uri`` is stored redacted ("embedded" when None).
    """
    from core.sources.mlflow_runs import redact_uri

    when = verdict.effective_at or onset
    return pin_evidence(
        store, incident.id, kind="run_diff", title=verdict.title,
        query={"tracking_uri": redact_uri(tracking_uri) if tracking_uri else "embedded", "model": model,
               "version_a": version_a, "version_b": version_b, "run_a": diff.run_a, "run_b": diff.run_b,
               "onset": iso(onset), "within_hours": float(within_hours)},
        result={**verdict.to_result(), "counts": diff.counts()},
        window=TimeWindow(min(when, onset), max(when, onset)) if when != onset else None,
        timeline_at=when, author=author,
    )
