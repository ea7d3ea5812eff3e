"""Triage: ranked root-cause hypotheses with the evidence behind each (see docs/triage.md).

The flow follows the order the field recommends — data first, then environment and
code, then infrastructure — and every step is a pure function over frames:

1. :func:`analyse_onset` — when the KPI changed and by how much (``changepoint``).
2. :func:`analyse_changes` — the change events before the onset (``correlate``), and
   routine jobs (hourly feature refreshes...) that stopped running before it.
3. :func:`analyse_data` — baseline against incident data: schema findings, drift,
   prediction collapse, and the freshness of timestamp-like columns (``drift``).
4. :func:`analyse_logs` — log templates and the error rate, before and after (``logpatterns``).
5. :func:`analyse_metrics` — the other metrics: latency/error/saturation and traffic.
6. :func:`analyse_registry` — a model registry verdict (``rundiff``), where one is available.
7. :func:`score_hypotheses` — every root-cause class scored from the signals above.

Scoring (the whole rule book is :data:`RULES`; docs/triage.md explains it): each
piece of evidence is a :class:`Signal` with a *strength* in [0, 1] (how strongly the
measurement shows it) and a *weight* in [0, 1] (how specific that kind of evidence is
for the class). A class's raw score combines its signals as a noisy-OR,
``1 - Π(1 - weight·strength)``: the chance that at least one piece of evidence is
explained by the class. Counter-evidence multiplies the score by a documented factor
(for example, errors that only began 40 minutes after the onset are a symptom, not
the cause). *Confidence* is the share of the checks relevant to the class that
could run (a missing source lowers it, it never counts as "no problem"), times the
confidence of the onset itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from core.analysis import schema as sch
from core.analysis.changepoint import ChangePoint, OnsetResult, detect_onset
from core.analysis.correlate import ChangeRanking, rank_changes
from core.analysis.drift import DriftReport, compare_distributions
from core.analysis.logpatterns import INCREASED, NEW, PARAM as PARAM_TOKEN, PatternDiff, diff_patterns
from core.errors import InvalidInputError
from core.models import ROOT_CAUSE_LABELS, Hypothesis, RootCause, TimeWindow, format_duration, iso, utc

#: Investigation order: data first, then environment and code, then infrastructure.
CLASS_ORDER: tuple[RootCause, ...] = (
    RootCause.SCHEMA_CHANGE, RootCause.STALE_DATA, RootCause.DATA_DRIFT,
    RootCause.EXTERNAL_EVENT, RootCause.CODE_REGRESSION, RootCause.INFRASTRUCTURE,
)

STEP_ONSET, STEP_CHANGES, STEP_DATA, STEP_LOGS, STEP_METRICS, STEP_REGISTRY = (
    "onset", "changes", "data", "logs", "metrics", "registry")
STEPS: tuple[tuple[str, str], ...] = (
    (STEP_ONSET, "Onset and size of the KPI change"),
    (STEP_CHANGES, "Change events before the onset"),
    (STEP_DATA, "Baseline against incident data"),
    (STEP_LOGS, "Log patterns and error rate"),
    (STEP_METRICS, "Latency, errors and traffic"),
    (STEP_REGISTRY, "Model versions and runs"),
)

#: Which checks bear on which class, and how much (the confidence is the covered share).
RELEVANCE: Mapping[RootCause, Mapping[str, float]] = {
    RootCause.DATA_DRIFT: {STEP_DATA: 1.0, STEP_CHANGES: 0.3, STEP_LOGS: 0.1},
    RootCause.SCHEMA_CHANGE: {STEP_DATA: 1.0, STEP_CHANGES: 0.4, STEP_LOGS: 0.2},
    RootCause.STALE_DATA: {STEP_DATA: 0.8, STEP_CHANGES: 0.5, STEP_LOGS: 0.3},
    RootCause.CODE_REGRESSION: {STEP_CHANGES: 0.8, STEP_REGISTRY: 0.4, STEP_DATA: 0.4, STEP_LOGS: 0.2},
    RootCause.INFRASTRUCTURE: {STEP_LOGS: 0.8, STEP_METRICS: 0.6, STEP_CHANGES: 0.2},
    RootCause.EXTERNAL_EVENT: {STEP_CHANGES: 0.8, STEP_METRICS: 0.3, STEP_DATA: 0.2},
}

#: Evidence weights: how specific each kind of evidence is for a class (see docs/triage.md).
RULES: Mapping[str, tuple[RootCause, float, str]] = {
    "schema_finding": (RootCause.SCHEMA_CHANGE, 0.9, "a column was renamed, removed, retyped or rescaled"),
    "schema_pipeline_event": (RootCause.SCHEMA_CHANGE, 0.5, "a data-pipeline change just before the onset"),
    "schema_log": (RootCause.SCHEMA_CHANGE, 0.5, "new log lines about missing or malformed columns"),
    "category_change": (RootCause.SCHEMA_CHANGE, 0.4, "new or vanished category values"),
    "null_jump_schema": (RootCause.SCHEMA_CHANGE, 0.35, "a column's null rate jumped"),
    "collapse": (RootCause.STALE_DATA, 0.85, "features or predictions collapsed to a default value"),
    "freshness": (RootCause.STALE_DATA, 0.9, "timestamp-like columns fell behind (features not refreshed)"),
    "job_stopped": (RootCause.STALE_DATA, 0.8, "a routine data job stopped running before the onset"),
    "frozen_values": (RootCause.STALE_DATA, 0.8, "features stopped varying (a frozen snapshot is served)"),
    "stale_log": (RootCause.STALE_DATA, 0.6, "new log lines about cache misses, defaults or old data"),
    "null_jump_stale": (RootCause.STALE_DATA, 0.35, "a column's null rate jumped"),
    "data_arrival": (RootCause.STALE_DATA, 0.4, "the incident data stops well before the window ends"),
    "feature_drift": (RootCause.DATA_DRIFT, 0.85, "input features shifted at the onset"),
    "drift_pipeline_event": (RootCause.DATA_DRIFT, 0.2, "a data-pipeline change just before the onset"),
    "code_event": (RootCause.CODE_REGRESSION, 0.85, "a model version, deploy or config change just before the onset"),
    "prediction_shift": (RootCause.CODE_REGRESSION, 0.6, "predictions moved while the inputs did not"),
    "shift_at_code_change": (RootCause.CODE_REGRESSION, 0.5, "a feature shifted exactly when the code changed"),
    "registry": (RootCause.CODE_REGRESSION, 0.9, "the registry shows a changed model deployed before the onset"),
    "version_log": (RootCause.CODE_REGRESSION, 0.7, "a new version appears in the logs just before the onset"),
    "code_log": (RootCause.CODE_REGRESSION, 0.4, "new exceptions in the logs"),
    "collapse_code": (RootCause.CODE_REGRESSION, 0.2, "predictions collapsed to a constant"),
    "infra_log": (RootCause.INFRASTRUCTURE, 0.8, "new errors about timeouts, connections or resources"),
    "error_rate": (RootCause.INFRASTRUCTURE, 0.6, "the error rate rose at the onset"),
    "infra_metric": (RootCause.INFRASTRUCTURE, 0.6, "latency, error or saturation metrics rose at the onset"),
    "infra_event": (RootCause.INFRASTRUCTURE, 0.7, "an infrastructure change just before the onset"),
    "external_change": (RootCause.EXTERNAL_EVENT, 0.9, "an external event spans or just precedes the onset"),
    "traffic_shift": (RootCause.EXTERNAL_EVENT, 0.35, "traffic volume changed at the onset"),
    "mix_shift": (RootCause.EXTERNAL_EVENT, 0.3, "the mix of users or segments changed (categories)"),
}

#: Counter-evidence factors (multiply the raw score).
FACTORS: Mapping[str, tuple[RootCause, float, str]] = {
    "drift_explained_by_code": (RootCause.DATA_DRIFT, 0.45,
                                "the shift starts with a code or model change, which explains it better"),
    "drift_explained_by_external": (RootCause.DATA_DRIFT, 0.55,
                                    "the shift starts with an external event, which explains it better"),
    "drift_explained_by_schema": (RootCause.DATA_DRIFT, 0.5,
                                  "the shifted columns are the ones whose schema changed"),
    "drift_explained_by_staleness": (RootCause.DATA_DRIFT, 0.4,
                                     "the shifted columns are stale or collapsed, not new data"),
    "drift_is_audience_shift": (RootCause.DATA_DRIFT, 0.5,
                                "the main shift is in the user mix and traffic moved with it: the audience "
                                "changed (an outside event), not the data pipeline"),
    "errors_after_onset": (RootCause.INFRASTRUCTURE, 0.35,
                           "errors began well after the onset: a downstream symptom, not the cause"),
    "registry_no_change": (RootCause.CODE_REGRESSION, 0.6,
                           "the registry shows no parameter, code or data change before the onset"),
}

CLOSE = timedelta(hours=3)  # half-life of closeness for cause candidates (events)
LOOKBACK = timedelta(hours=48)
SYMPTOM_DELAY = timedelta(minutes=20)
MAX_RAMP = timedelta(hours=2)
LIKELY_SCORE = 0.5
POSSIBLE_SCORE = 0.2

INFRA_WORDS = re.compile(
    r"timeout|timed out|connection|refused|reset by peer|unreachable|unavailable|\b50[234]\b|out of memory|"
    r"\boom|memory|disk|cpu|throttl|node|pod|evict|crashloop|restart|dns|network|socket|broken pipe|"
    r"too many (?:open files|connections)|deadline exceeded|circuit|failover|replica|cluster|region|"
    r"load balancer|certificate|tls|quota|capacity|autoscal|instance|database|\bdb\b|kafka|redis", re.I)
STALE_WORDS = re.compile(
    r"stale|cache miss|using default|default value|fallback|older than|not (?:been )?(?:updated|refreshed)|"
    r"outdated|lag(?:ging)?\b|freshness|expired|last refresh|no new data|missing partition|waiting for upstream",
    re.I)
SCHEMA_WORDS = re.compile(
    r"column|schema|field|unknown key|missing key|keyerror|cannot (?:parse|cast)|type ?error|dtype|"
    r"could not convert|unexpected (?:type|format)|renamed|unit", re.I)
CODE_WORDS = re.compile(
    r"exception|traceback|nonetype|attributeerror|indexerror|valueerror|nan in|assert|bug|"
    r"not implemented|segfault|panic", re.I)
INFRA_METRIC_WORDS = re.compile(
    r"latency|error|5xx|timeout|cpu|mem|saturation|queue|gc|disk|restart|p9\d|duration|fail", re.I)
TRAFFIC_METRIC_WORDS = re.compile(
    r"request|traffic|impression|transaction|session|volume|qps|rps|per_min|visits|orders|users|count", re.I)
INFRA_EVENT_WORDS = re.compile(
    r"node|cluster|kubernetes|k8s|database|\bdb\b|network|dns|load balancer|region|failover|autoscal|"
    r"instance|pod|disk|certificate|infra|terraform|capacity|vm\b|host|storage|kafka|redis|upgrade of",
    re.I)
SCHEMA_EVENT_WORDS = re.compile(r"schema|column|export|format|field|rename|unit|v\d+ released|contract", re.I)
TIMESTAMP_NAME = re.compile(r"(?:_at|_time|_ts|timestamp|updated|refreshed|computed|as_of|_date)$", re.I)


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class EvidenceItem:
    """One finding behind a hypothesis, with where to look at it.

    ``view`` names the page that shows it (``metrics``, ``timeline``, ``distributions``,
    ``logs``, ``models``); ``window`` is the time range to open it on.
    """

    step: str
    kind: str
    title: str
    detail: str
    view: str
    window: TimeWindow | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "kind": self.kind, "title": self.title, "detail": self.detail,
                "view": self.view, "window": self.window.to_dict() if self.window else None,
                "data": _jsonable(dict(self.data))}


@dataclass(frozen=True)
class Signal:
    """A piece of evidence for one class: ``contribution = weight * strength``."""

    root_cause: RootCause
    rule: str
    strength: float
    weight: float
    reason: str
    evidence: EvidenceItem

    @property
    def contribution(self) -> float:
        return self.weight * self.strength

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "strength": round(self.strength, 3), "weight": self.weight,
                "contribution": round(self.contribution, 3), "reason": self.reason,
                "evidence": self.evidence.to_dict()}


@dataclass(frozen=True)
class Factor:
    """Counter-evidence: the class's score is multiplied by ``value``."""

    root_cause: RootCause
    rule: str
    value: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "factor": self.value, "reason": self.reason}


@dataclass(frozen=True)
class StepResult:
    """What one step found, or why it was skipped (``status`` ok / skipped / failed)."""

    name: str
    title: str
    status: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ran(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "status": self.status, "summary": self.summary,
                "details": _jsonable(dict(self.details))}


@dataclass(frozen=True)
class RankedHypothesis:
    """A root-cause class with its score, confidence, the arithmetic and the evidence."""

    rank: int
    root_cause: RootCause
    score: float
    raw_score: float
    confidence: float
    status: str  # likely | possible | unlikely | unconfirmed
    explanation: str
    signals: tuple[Signal, ...]
    factors: tuple[Factor, ...]
    coverage: float
    unchecked: tuple[str, ...]

    @property
    def label(self) -> str:
        return ROOT_CAUSE_LABELS[self.root_cause]

    @property
    def evidence(self) -> tuple[EvidenceItem, ...]:
        return tuple(s.evidence for s in self.signals)

    def arithmetic(self) -> str:
        """The score in numbers: ``1 - (1 - 0.9×0.80)(1 - 0.5×1.00) × 0.45 = 0.39``."""
        if not self.signals:
            return "no evidence: 0"
        terms = " ".join(f"(1 − {s.weight:g}×{s.strength:.2f})" for s in self.signals)
        text = f"1 − {terms} = {self.raw_score:.2f}"
        for f in self.factors:
            text += f" × {f.value:g}"
        if self.factors:
            text += f" = {self.score:.2f}"
        return text

    def to_hypothesis(self) -> Hypothesis:
        """The domain :class:`~core.models.Hypothesis` handed to the fishbone."""
        evidence = tuple({"type": "note", "kind": e.kind, "title": e.title, "summary": e.detail,
                          "view": e.view, "window": e.window.to_dict() if e.window else None}
                         for e in self.evidence)
        return Hypothesis(root_cause=self.root_cause, score=round(self.score, 4),
                          confidence=round(self.confidence, 4), explanation=self.explanation, evidence=evidence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.root_cause.value, "label": self.label, "rank": self.rank,
            "score": round(self.score, 4), "raw_score": round(self.raw_score, 4),
            "confidence": round(self.confidence, 4), "status": self.status, "explanation": self.explanation,
            "arithmetic": self.arithmetic(), "coverage": round(self.coverage, 4),
            "unchecked": list(self.unchecked),
            "evidence": [s.to_dict() for s in self.signals],
            "factors": [f.to_dict() for f in self.factors],
        }


@dataclass(frozen=True)
class TriageResult:
    """The whole triage: the onset, what each step found or skipped, the ranked hypotheses."""

    incident: str
    kpi: str
    onset: ChangePoint | None
    onset_note: str
    steps: tuple[StepResult, ...]
    hypotheses: tuple[RankedHypothesis, ...]
    onset_at: datetime | None = None  # the instant the analysis cut at (detected, or the fallback)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def skipped(self) -> tuple[StepResult, ...]:
        return tuple(s for s in self.steps if not s.ran)

    @property
    def top(self) -> RankedHypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident, "kpi": self.kpi,
            "onset": ({**self.onset.to_dict(), "used": iso(self.onset_at)} if self.onset else None),
            "onset_used": iso(self.onset_at), "onset_note": self.onset_note,
            "hypotheses": [h.to_dict() for h in self.hypotheses],
            "skipped": [{"step": s.name, "title": s.title, "reason": s.summary} for s in self.skipped],
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes), "seconds": round(self.seconds, 3),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _clip(x: float) -> float:
    return 0.0 if not math.isfinite(x) else max(0.0, min(1.0, x))


def _signal(rule: str, strength: float, detail: str, *, step: str, view: str, title: str,
            window: TimeWindow | None = None, data: Mapping[str, Any] | None = None,
            weight_scale: float = 1.0) -> Signal:
    cls, weight, reason = RULES[rule]
    item = EvidenceItem(step=step, kind=rule, title=title, detail=detail, view=view, window=window,
                        data=dict(data or {}))
    return Signal(cls, rule, _clip(strength), round(weight * weight_scale, 4), reason, item)


def _factor(rule: str) -> Factor:
    cls, value, reason = FACTORS[rule]
    return Factor(cls, rule, value, reason)


def _around(at: datetime, before: timedelta = timedelta(hours=6), after: timedelta = timedelta(hours=6)) -> TimeWindow:
    return TimeWindow(at - before, at + after)


# ---------------------------------------------------------------- step 1: onset

@dataclass(frozen=True)
class OnsetFinding:
    """The onset used for the rest of the triage and where it came from."""

    at: datetime
    change: ChangePoint | None  # None when no change was detected (``at`` is then a fallback)
    source: str
    result: OnsetResult | None
    step: StepResult

    @property
    def detected(self) -> bool:
        return self.change is not None


def analyse_onset(kpi: pd.DataFrame | None, *, metric: str, direction: str, window: TimeWindow,
                  baseline: TimeWindow | None, fallback: datetime | None = None) -> OnsetFinding:
    """Find the KPI onset inside the incident window (the largest bad change there).

    Without a detectable change the onset falls back to ``fallback`` (the incident's
    ``started`` milestone), else the end of the baseline, else the window start, and the
    step says so.

    A KPI that does not overlap the incident window gives a *failed* step that says so.
    """
    title = dict(STEPS)[STEP_ONSET]
    default_at = fallback or (baseline.end if baseline else window.start)
    if kpi is None or kpi.empty:
        return OnsetFinding(default_at, None, "no KPI series", None, StepResult(
            STEP_ONSET, title, "skipped", f"the KPI '{metric}' has no data; the onset falls back to {iso(default_at)}"))
    ts = pd.to_datetime(kpi["timestamp"], utc=True)
    first, last = ts.min().to_pydatetime(), ts.max().to_pydatetime()
    if last < window.start or first >= window.end:
        return OnsetFinding(default_at, None, "fallback", None, StepResult(
            STEP_ONSET, title, "failed",
            f"the incident window {iso(window.start)}/{iso(window.end)} does not overlap the KPI '{metric}', "
            f"whose data runs from {iso(first)} to {iso(last)}: no onset can be found; fix the bundle's window "
            "or its metrics", {"detected": False, "data_start": iso(first), "data_end": iso(last)}))
    start = baseline.start if baseline else min(first, window.start - (window.end - window.start))
    frame = kpi[(ts >= start) & (ts < window.end)]
    try:
        result = detect_onset(frame, direction=direction, metric=metric)
    except InvalidInputError as exc:
        return OnsetFinding(default_at, None, "fallback", None, StepResult(
            STEP_ONSET, title, "failed", f"{exc}; the onset falls back to {iso(default_at)}"))
    inside = [c for c in result.change_points if c.effect == "bad" and window.start <= c.time < window.end]
    strong = [c for c in inside if c.confidence >= 0.9]
    pool = strong or inside
    if not pool:
        why = ("no change point in the incident window made the KPI worse" if result.change_points else
               "the KPI stays within its normal variation")
        return OnsetFinding(default_at, None, "fallback", result, StepResult(
            STEP_ONSET, title, "ok",
            f"No detectable change: {why}. The comparison windows are cut at {iso(default_at)} "
            "(the incident's start or the end of the baseline); nothing can be confirmed.",
            {"detected": False, "change_points": [c.to_dict() for c in result.change_points],
             "notes": list(result.notes)}))
    onset = max(pool, key=lambda c: abs(c.relative_change or 0.0) * c.confidence)
    at = step_time(result, onset)
    rel = f" ({onset.relative_change:+.1%})" if onset.relative_change is not None else ""
    summary = (f"{metric} changed at {iso(at)}: {onset.level_before:.4g} → {onset.level_after:.4g}{rel}, "
               f"confidence {onset.confidence:.0%}")
    if onset.settled and onset.settled > onset.time:
        summary += f" (transition {iso(onset.time)} to {iso(onset.settled)})"
    return OnsetFinding(at, onset, "the detected KPI change point", result, StepResult(
        STEP_ONSET, title, "ok", summary,
        {"detected": True, "onset": onset.to_dict(), "step_time": iso(at), "seasonality": result.seasonality,
         "notes": list(result.notes)}))


def step_time(result: OnsetResult, change: ChangePoint) -> datetime:
    """The instant a change is taken to start.

    A transition (``time`` .. ``settled``) of up to :data:`MAX_RAMP` is a real gradual
    change and its start is used. A longer one is usually the ramp fit spreading a step
    over hours of noise; then the least-squares step split of the de-seasonalised series
    inside the transition is used, because the triage needs one instant to order the
    change events and to cut the data.
    """
    settled = change.settled or change.time
    grid = result.grid
    if settled - change.time <= MAX_RAMP or grid is None or "adjusted" not in grid:
        return change.time
    ts = grid["timestamp"]
    mask = ((ts >= change.before_start) & (ts < change.after_end)).to_numpy()
    x = grid["adjusted"].to_numpy(dtype=float)[mask]
    times = ts[mask].reset_index(drop=True)
    n = len(x)
    if n < 4 or not np.isfinite(x).all():
        return change.time
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    k = np.arange(1, n)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    sse = left + right
    allowed = ((times[1:] >= change.time) & (times[1:] <= settled)).to_numpy()
    if not allowed.any():
        return change.time
    sse = np.where(allowed, sse, np.inf)
    return times[int(np.argmin(sse)) + 1].to_pydatetime()


# ---------------------------------------------------------------- step 2: changes

@dataclass(frozen=True)
class StoppedJob:
    """A routine job that stopped running before the onset."""

    title: str
    kind: str
    last_run: datetime
    period: timedelta
    runs: int


@dataclass(frozen=True)
class ChangeFinding:
    ranking: ChangeRanking | None
    stopped: tuple[StoppedJob, ...]
    step: StepResult


def _job_key(title: str) -> str:
    return re.sub(r"\d+", "#", " ".join(title.casefold().split()))


def find_stopped_jobs(events: Sequence[Mapping[str, Any]], onset: datetime, data_end: datetime) -> list[StoppedJob]:
    """Routine events (three or more with the same title up to numbers) whose runs stopped
    before the onset while the data goes on: the last run is at most a few periods before
    the onset and no run follows for at least two periods."""
    groups: dict[tuple[str, str], list[datetime]] = {}
    for ev in events:
        kind = str(ev.get("kind") or "")
        if kind not in ("data_pipeline", "deploy", "config_change"):
            continue
        groups.setdefault((kind, _job_key(str(ev.get("title") or ""))), []).append(utc(ev["timestamp"]))
    out = []
    for (kind, title), times in groups.items():
        if len(times) < 3:
            continue
        times.sort()
        gaps = np.diff([t.timestamp() for t in times])
        period = timedelta(seconds=float(np.median(gaps)))
        if period <= timedelta(0):
            continue
        last = times[-1]
        if last > onset:
            continue
        silent = data_end - last
        if silent >= 2.5 * period and onset - last <= 3 * period + timedelta(hours=1):
            out.append(StoppedJob(title, kind, last, period, len(times)))
    return out


def analyse_changes(events: Sequence[Mapping[str, Any]] | None, onset: datetime, *, data_end: datetime,
                    lookback: timedelta = LOOKBACK, half_life: timedelta = CLOSE) -> ChangeFinding:
    """Rank the change events before the onset and find routine jobs that stopped."""
    title = dict(STEPS)[STEP_CHANGES]
    if events is None:
        return ChangeFinding(None, (), StepResult(STEP_CHANGES, title, "skipped",
                                                  "the bundle has no events.jsonl: changes could not be checked"))
    ranking = rank_changes(events, onset, lookback=lookback, half_life=half_life)
    stopped = tuple(find_stopped_jobs(events, onset, data_end))
    top = ranking.top
    parts = [f"{ranking.considered} change(s) in the {format_duration(lookback)} before the onset"]
    if top is not None:
        parts.append(f"closest suspect: {top.event.kind} '{top.event.title}' {format_duration(top.age)} before")
    for job in stopped:
        parts.append(f"routine job '{job.title}' stopped after {iso(job.last_run)}")
    return ChangeFinding(ranking, stopped, StepResult(
        STEP_CHANGES, title, "ok", "; ".join(parts),
        {"top": [c.to_dict() for c in ranking.changes[:5]],
         "stopped_jobs": [{"title": j.title, "last_run": iso(j.last_run), "period_s": j.period.total_seconds()}
                          for j in stopped]}))


# ---------------------------------------------------------------- step 3: data

@dataclass(frozen=True)
class FreshnessFinding:
    """How far a timestamp-like column lags behind the row time, before and after."""

    column: str
    lag_reference: timedelta
    lag_current: timedelta

    @property
    def ratio(self) -> float:
        ref = max(self.lag_reference.total_seconds(), 60.0)
        return self.lag_current.total_seconds() / ref


@dataclass(frozen=True)
class DataFinding:
    report: DriftReport | None
    freshness: tuple[FreshnessFinding, ...]
    arrival_gap: float | None  # share of the incident window after the last current row
    step: StepResult
    reference_window: TimeWindow | None = None
    current_window: TimeWindow | None = None


def _timestamp_like(frame: pd.DataFrame, exclude: str | None) -> list[str]:
    out = []
    for col in frame.columns:
        if col == exclude:
            continue
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out.append(str(col))
        elif s.dtype == object and TIMESTAMP_NAME.search(str(col)):
            out.append(str(col))
    return out


def _as_utc(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.dt.tz_localize("UTC") if getattr(series.dt, "tz", None) is None else series.dt.tz_convert("UTC")
    return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")


def data_freshness(reference: pd.DataFrame, current: pd.DataFrame, timestamp: str | None) -> list[FreshnessFinding]:
    """Median lag of every timestamp-like column behind the row timestamp, in both samples."""
    if not timestamp or timestamp not in reference.columns or timestamp not in current.columns:
        return []
    out = []
    ref_ts, cur_ts = _as_utc(reference[timestamp]), _as_utc(current[timestamp])
    for col in _timestamp_like(current, timestamp):
        if col not in reference.columns:
            continue
        ref_lag = (ref_ts - _as_utc(reference[col])).dropna()
        cur_lag = (cur_ts - _as_utc(current[col])).dropna()
        if len(ref_lag) < 5 or len(cur_lag) < 5:
            continue
        out.append(FreshnessFinding(col, ref_lag.median().to_pytimedelta(), cur_lag.median().to_pytimedelta()))
    return out


def _drop_absent_columns(reference: pd.DataFrame, current: pd.DataFrame
                         ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A column that is entirely null on one side only is treated as absent there.

    In a table logged over time, a column the upstream stopped sending (removed or
    renamed) is null for every row after the change; dropping it on that side lets
    the schema diff report it as removed, added or renamed instead of as a null jump.
    """
    notes = []
    ref_null = {c for c in reference.columns if len(reference) and reference[c].isna().all()}
    cur_null = {c for c in current.columns if len(current) and current[c].isna().all()}
    only_cur = [c for c in cur_null - ref_null if c in reference.columns]
    only_ref = [c for c in ref_null - cur_null if c in current.columns]
    if only_cur:
        current = current.drop(columns=only_cur)
        notes.append(f"absent after the onset (all null): {', '.join(map(str, only_cur))}")
    if only_ref:
        reference = reference.drop(columns=only_ref)
        notes.append(f"absent before the onset (all null): {', '.join(map(str, only_ref))}")
    return reference, current, notes


def analyse_data(reference: pd.DataFrame | None, current: pd.DataFrame | None, *, timestamp: str | None = None,
                 prediction: str | None = None, label: str | None = None, window_end: datetime | None = None,
                 description: str = "", reference_window: TimeWindow | None = None,
                 current_window: TimeWindow | None = None, skip_reason: str = "") -> DataFinding:
    """Compare baseline and incident data: schema findings, drift, collapse, freshness, arrival."""
    title = dict(STEPS)[STEP_DATA]
    if reference is None or current is None:
        return DataFinding(None, (), None, StepResult(
            STEP_DATA, title, "skipped", skip_reason or "the bundle has no datasets: data could not be checked"))
    exclude = tuple(c for c in (timestamp,) if c)
    reference, current, absent = _drop_absent_columns(reference, current)
    report = compare_distributions(reference, current, prediction=prediction, label=label, exclude=exclude,
                                   multivariate=False, max_rows=50_000, workers=1)
    fresh = tuple(data_freshness(reference, current, timestamp))
    gap = None
    if timestamp and window_end is not None and current_window is not None and timestamp in current.columns:
        last = _as_utc(current[timestamp]).max()
        if pd.notna(last):
            span = (window_end - current_window.start).total_seconds()
            if span > 0:
                gap = _clip((window_end - last.floor("us").to_pydatetime()).total_seconds() / span)
    drifted = [c for c in report.columns if c.drifted and c.role == "feature"]
    summary = (f"{len(report.schema)} schema finding(s), {len(drifted)} of {len(report.columns)} column(s) "
               f"drifted ({description or 'reference vs current'}; {report.n_reference} vs {report.n_current} rows)")
    if absent:
        summary += "; " + "; ".join(absent)
    stale = [f for f in fresh if f.ratio >= 3]
    if stale:
        summary += "; stale: " + ", ".join(f"{f.column} lag {format_duration(f.lag_reference)} → "
                                           f"{format_duration(f.lag_current)}" for f in stale)
    return DataFinding(report, fresh, gap, StepResult(
        STEP_DATA, title, "ok", summary,
        {"schema": [f.to_dict() for f in report.schema[:10]],
         "drifted": [c.label for c in drifted][:20],
         "freshness": [{"column": f.column, "lag_reference_s": f.lag_reference.total_seconds(),
                        "lag_current_s": f.lag_current.total_seconds()} for f in fresh]}),
        reference_window, current_window)


# ---------------------------------------------------------------- step 4: logs

@dataclass(frozen=True)
class LogFinding:
    diff: PatternDiff | None
    error_rate_before: float | None
    error_rate_after: float | None
    error_delay: timedelta | None  # first sustained rise of errors relative to the onset
    step: StepResult
    versions: tuple["NewVersion", ...] = ()


@dataclass(frozen=True)
class NewVersion:
    """A version string first seen in the logs shortly before the onset (a deploy or model change)."""

    value: str
    first_seen: datetime
    example: str
    lines_after: int


VERSION_PATTERNS = (
    re.compile(r"(?i)\bmodel[_ ]version[=: ]+v?([0-9][\w.\-]*)"),
    re.compile(r"(?i)\b(?:version|release|build)[=: ]+v?([0-9][\w.\-]*)"),
    re.compile(r"(?<![\w.])v?(\d+\.\d+\.\d+)(?![\w.])"),
)


def find_new_versions(logs: pd.DataFrame, onset: datetime, *, lookback: timedelta = timedelta(hours=6),
                      tolerance: timedelta = timedelta(minutes=15)) -> list[NewVersion]:
    """Version strings (``model_version=42``, ``version 42``, ``4.23.1``) never seen before
    ``onset - lookback`` that first appear between then and ``onset + tolerance``."""
    msgs = logs["message"].fillna("").astype(str)
    ts = logs["timestamp"]
    out: dict[str, NewVersion] = {}
    for pat in VERSION_PATTERNS:
        found = msgs.str.extract(pat, expand=False)
        has = found.notna().to_numpy()
        if not has.any():
            continue
        frame = pd.DataFrame({"v": found[has].to_numpy(), "t": ts[has].to_numpy(), "m": msgs[has].to_numpy()})
        first = frame.groupby("v")["t"].min()
        for value, at in first.items():
            at = pd.Timestamp(at).tz_localize("UTC") if pd.Timestamp(at).tzinfo is None else pd.Timestamp(at)
            at_dt = at.floor("us").to_pydatetime()
            if not (onset - lookback <= at_dt <= onset + tolerance) or value in out:
                continue
            rows = frame[frame["v"] == value]
            after = int((pd.to_datetime(rows["t"], utc=True) >= pd.Timestamp(onset)).sum())
            out[value] = NewVersion(str(value), at_dt, str(rows["m"].iloc[0])[:200], after)
    return sorted(out.values(), key=lambda v: v.first_seen)


def _error_delay(times: pd.Series, onset: datetime, baseline_start: datetime) -> timedelta | None:
    """When the error rate stepped up, relative to the onset (None when it did not).

    Errors are counted in 5-minute bins from 6 h before to 6 h after the onset and the
    single Poisson rate change of greatest likelihood is located; only a rise counts.
    """
    if times.empty:
        return None
    bin_s, span = 300, 6 * 3600
    t = (times - pd.Timestamp(onset)).dt.total_seconds().to_numpy()
    t = t[(t >= -span) & (t < span)]
    if t.size < 5:
        return None
    counts = np.bincount(((t + span) // bin_s).astype(int), minlength=2 * span // bin_s).astype(float)
    n = len(counts)
    c = np.cumsum(counts)
    k = np.arange(1, n)
    left, right = c[k - 1], c[-1] - c[k - 1]
    r1, r2 = left / k, right / (n - k)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.where(left > 0, left * np.log(np.where(r1 > 0, r1, 1)), 0) + \
            np.where(right > 0, right * np.log(np.where(r2 > 0, r2, 1)), 0)
    ll = np.where(r2 > r1, ll, -np.inf)
    if not np.isfinite(ll).any():
        return None
    best = int(np.argmax(ll))
    if right[best] < 5:
        return None
    return timedelta(seconds=float((best + 1) * bin_s - span))


def analyse_logs(logs: pd.DataFrame | None, onset: datetime, *, baseline: TimeWindow,
                 window: TimeWindow, skip_reason: str = "") -> LogFinding:
    """Diff log templates (level and service included) and the error rate before and after the onset.

    Args:
        logs: ``timestamp`` (UTC), ``message``, optional ``level`` and ``service`` columns.
        baseline: the lines before the onset to compare with.
        window: the lines after the onset.
    """
    title = dict(STEPS)[STEP_LOGS]
    if logs is None or logs.empty:
        return LogFinding(None, None, None, None, StepResult(
            STEP_LOGS, title, "skipped", skip_reason or "the bundle has no logs: log patterns could not be checked"))
    ts = logs["timestamp"]
    level = logs["level"].fillna("").astype(str).str.upper() if "level" in logs else pd.Series("", index=logs.index)
    service = logs["service"].fillna("").astype(str) if "service" in logs else pd.Series("", index=logs.index)
    text = (level + " " + service + ": " + logs["message"].fillna("").astype(str))
    in_base = ((ts >= baseline.start) & (ts < baseline.end)).to_numpy()
    in_win = ((ts >= window.start) & (ts < window.end)).to_numpy()
    if in_base.sum() == 0 or in_win.sum() == 0:
        side = "baseline" if in_base.sum() == 0 else "incident window"
        return LogFinding(None, None, None, None, StepResult(
            STEP_LOGS, title, "skipped",
            f"no log lines in the {side} ({iso(ts.min())} to {iso(ts.max())} in the logs): log patterns "
            "could not be compared"))
    diff = diff_patterns(text[in_base].tolist(), text[in_win].tolist(), baseline=baseline, window=window)
    is_err = level.isin(["ERROR", "FATAL", "CRITICAL"]).to_numpy()
    hours_b = baseline.duration.total_seconds() / 3600
    hours_w = window.duration.total_seconds() / 3600
    before = float((is_err & in_base).sum()) / max(float(in_base.sum()), 1.0)
    after = float((is_err & in_win).sum()) / max(float(in_win.sum()), 1.0)
    delay = _error_delay(ts[is_err & (in_base | in_win)], onset, baseline.start) if after > before else None
    versions = tuple(find_new_versions(logs, onset, lookback=min(timedelta(hours=6), onset - baseline.start)))
    new = diff.new
    up = [c for c in diff.changes if c.status == INCREASED]
    summary = (f"{diff.baseline_lines} lines before ({hours_b:.0f} h), {diff.window_lines} after ({hours_w:.0f} h); "
               f"{len(new)} new and {len(up)} increased template(s); error share {before:.2%} → {after:.2%}")
    if delay is not None:
        summary += f"; errors rose {format_duration(abs(delay))} {'after' if delay >= timedelta(0) else 'before'} the onset"
    if versions:
        summary += "; new version(s) in the logs: " + ", ".join(v.value for v in versions[:3])
    return LogFinding(diff, before, after, delay, versions=versions, step=StepResult(
        STEP_LOGS, title, "ok", summary,
        {"new": [c.template for c in new[:10]], "increased": [c.template for c in up[:10]],
         "error_share_before": before, "error_share_after": after,
         "error_delay_s": delay.total_seconds() if delay is not None else None,
         "new_versions": [{"value": v.value, "first_seen": iso(v.first_seen), "example": v.example}
                          for v in versions[:5]]}))


# ---------------------------------------------------------------- step 5: metrics

@dataclass(frozen=True)
class MetricShift:
    """A non-KPI metric around the onset, compared with the same time one day earlier when possible.

    ``before``/``after`` are medians of the metric in the 6 hours before and after the
    onset; ``z`` is the shift of the (day-over-day) difference in units of its robust noise;
    ``delay`` is when the metric first moved clearly, relative to the onset.
    """

    name: str
    kind: str  # infra | traffic
    before: float
    after: float
    z: float
    relative: float | None
    delay: timedelta | None
    day_over_day: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "before": self.before, "after": self.after,
                "z": round(self.z, 2), "relative": self.relative, "day_over_day": self.day_over_day,
                "delay_s": self.delay.total_seconds() if self.delay is not None else None}


@dataclass(frozen=True)
class MetricFinding:
    shifts: tuple[MetricShift, ...]
    step: StepResult


def metric_shift(frame: pd.DataFrame, onset: datetime, *, name: str = "", kind: str = "infra",
                 span: timedelta = timedelta(hours=6)) -> MetricShift | None:
    """How a metric moved at ``onset`` (5-minute means; day-over-day differences remove a daily cycle).

    Returns None when there are too few points on either side.
    """
    ts = pd.to_datetime(frame["timestamp"], utc=True)
    vals = pd.to_numeric(frame["value"], errors="coerce")
    g = pd.Series(vals.to_numpy(), index=ts).dropna()
    if g.empty:
        return None
    g = g.groupby(level=0).mean().resample("5min").mean().dropna()
    at = pd.Timestamp(onset)
    lo, hi = at - span, at + span
    raw_before = g[(g.index >= lo) & (g.index < at)]
    raw_after = g[(g.index >= at + timedelta(minutes=10)) & (g.index < hi)]
    if len(raw_before) < 5 or len(raw_after) < 5:
        return None
    yesterday = g.reindex(g.index - pd.Timedelta(days=1))
    yesterday.index = g.index
    dod = bool(yesterday[(g.index >= lo) & (g.index < hi)].notna().mean() > 0.8)
    d = (g - yesterday).dropna() if dod else g
    before = d[(d.index >= lo) & (d.index < at)]
    after = d[(d.index >= at + timedelta(minutes=10)) & (d.index < hi)]
    if len(before) < 5 or len(after) < 5:
        return None
    mb, ma = float(before.median()), float(after.median())
    mad = float((before - mb).abs().median()) * 1.4826
    scale = mad if mad > 0 else (float(before.std()) or abs(float(raw_before.median())) * 0.01 or 1.0)
    z = (ma - mb) / scale
    level = float(raw_before.median())
    rel = (ma - mb) / abs(level) if level else None
    delay = None
    if abs(z) >= 4:
        thr = max(4 * scale, 0.2 * abs(ma - mb))
        watch = d[(d.index >= at - timedelta(hours=1)) & (d.index < hi)]
        moved = ((watch - mb) * np.sign(ma - mb) > thr).astype(int)
        run = moved.rolling(3).sum()
        hit = run[run >= 3]
        if len(hit):
            delay = (hit.index[0] - pd.Timedelta(minutes=10)).to_pydatetime() - onset
    return MetricShift(name, kind, level, float(raw_after.median()), z, rel, delay, dod)


def analyse_metrics(metrics: Mapping[str, pd.DataFrame] | None, onset: datetime, *, kpi: str = "") -> MetricFinding:
    """Shifts of the latency/error/saturation and traffic metrics at the onset (the KPI excluded)."""
    title = dict(STEPS)[STEP_METRICS]
    others = {k: v for k, v in (metrics or {}).items() if k != kpi}
    if not others:
        return MetricFinding((), StepResult(STEP_METRICS, title, "skipped",
                                            "no metrics besides the KPI: latency, errors and traffic not checked"))
    shifts = []
    for name, frame in sorted(others.items()):
        kind = "infra" if INFRA_METRIC_WORDS.search(name) else "traffic" if TRAFFIC_METRIC_WORDS.search(name) else None
        if kind is None or not {"timestamp", "value"} <= set(frame.columns):
            continue
        got = metric_shift(frame, onset, name=name, kind=kind)
        if got is not None:
            shifts.append(got)
    moved = [s for s in shifts if abs(s.z) >= 5 and s.relative is not None and abs(s.relative) >= 0.15]
    summary = (f"{len(shifts)} metric(s) compared 6 h before and after the onset; moved: "
               + (", ".join(f"{s.name} {s.relative:+.0%}" for s in moved) if moved else "none"))
    return MetricFinding(tuple(shifts), StepResult(STEP_METRICS, title, "ok", summary,
                                                   {"shifts": [s.to_dict() for s in shifts]}))


# ---------------------------------------------------------------- step 6: registry

@dataclass(frozen=True)
class RegistryFinding:
    changed: bool | None  # None: not checked
    title: str
    lead_time: timedelta | None
    step: StepResult


def analyse_registry(verdict: Any | None, *, skip_reason: str = "") -> RegistryFinding:
    """Wrap a :class:`core.analysis.rundiff.RegressionVerdict` (or its absence)."""
    title = dict(STEPS)[STEP_REGISTRY]
    if verdict is None:
        return RegistryFinding(None, "", None, StepResult(
            STEP_REGISTRY, title, "skipped", skip_reason or "no model registry configured: runs not compared"))
    return RegistryFinding(bool(verdict.finding), verdict.title, verdict.lead_time, StepResult(
        STEP_REGISTRY, title, "ok", verdict.explanation, verdict.to_result()))


# ---------------------------------------------------------------- step 7: scoring

def _closeness(age: timedelta) -> float:
    return 0.5 ** (max(age.total_seconds(), 0.0) / CLOSE.total_seconds())


def _service_factor(ev_details: Mapping[str, Any], title: str, service: str) -> float:
    """1 when the change names our service (or names none), 0.25 when it names another one."""
    if not service:
        return 1.0
    names = {str(v).casefold() for k, v in ev_details.items() if k in ("service", "model", "dataset", "job")}
    text = title.casefold()
    ours = service.casefold()
    if ours in text or any(ours in n or n in ours for n in names if n):
        return 1.0
    return 0.25 if names else 0.8


def _signals_from_changes(ch: ChangeFinding, onset: datetime, service: str, data_end: datetime) -> list[Signal]:
    out: list[Signal] = []
    if ch.ranking is None:
        return out
    best: dict[str, Signal] = {}

    def keep(sig: Signal) -> None:
        if sig.contribution > 0 and (sig.rule not in best or sig.contribution > best[sig.rule].contribution):
            best[sig.rule] = sig

    routine = {_job_key(j.title) for j in ch.stopped}
    for rc in ch.ranking.changes:
        ev = rc.event
        close = _closeness(rc.age)
        if rc.score < rc.prior * rc.closeness * 0.99:  # a routine (recurring) change: hardly a change
            close *= 0.15
        if _job_key(ev.title) in routine:
            continue
        svc = _service_factor(ev.details, ev.title, service)
        text = f"{ev.kind} '{ev.title}' {format_duration(rc.age)} before the onset"
        window = _around(ev.timestamp, timedelta(hours=12), timedelta(hours=12))
        common = dict(step=STEP_CHANGES, view="timeline", title=ev.title, window=window,
                      data={"kind": ev.kind, "timestamp": iso(ev.timestamp), "age_s": rc.age.total_seconds(),
                            "closeness": round(close, 3), "service_factor": svc})
        infra = bool(INFRA_EVENT_WORDS.search(ev.title + " " + " ".join(map(str, ev.details.values()))))
        if ev.kind == "external":
            keep(_signal("external_change", close, text, **common))
        elif ev.kind == "data_pipeline":
            schema_like = bool(SCHEMA_EVENT_WORDS.search(ev.title + " " + " ".join(map(str, ev.details.values()))))
            keep(_signal("schema_pipeline_event", close * (1.0 if schema_like else 0.6), text, **common))
            keep(_signal("drift_pipeline_event", close, text, **common))
        elif ev.kind in ("model_version", "deploy", "config_change"):
            if infra and ev.kind != "model_version":
                keep(_signal("infra_event", close * svc, text, **common))
            else:
                kind_w = {"model_version": 1.0, "deploy": 0.9, "config_change": 0.7}[ev.kind]
                keep(_signal("code_event", close * svc * kind_w, text, **common))
    for job in ch.stopped:
        lead = onset - job.last_run
        strength = 1.0 if lead <= 2 * job.period + timedelta(minutes=30) else 0.6
        keep(_signal("job_stopped", strength,
                     f"'{job.title}' ran every {format_duration(job.period)} ({job.runs} runs) and last ran at "
                     f"{iso(job.last_run)}, {format_duration(lead)} before the onset; no run since "
                     f"(up to {iso(data_end)})",
                     step=STEP_CHANGES, view="timeline", title=f"Routine job stopped: {job.title}",
                     window=_around(job.last_run, timedelta(hours=12), timedelta(hours=12)),
                     data={"last_run": iso(job.last_run), "period_s": job.period.total_seconds()}))
    out.extend(best.values())
    return out


def _data_signals(d: DataFinding, onset: datetime) -> tuple[list[Signal], dict[str, Any]]:
    """Signals from the data step, plus facts the cross-checks need."""
    out: list[Signal] = []
    facts: dict[str, Any] = {"input_drift": 0.0, "prediction_drift": 0.0, "schema": 0.0, "stale_cols": set(),
                             "schema_cols": set(), "drift_cols": [], "top_drift_categorical": False}
    rep = d.report
    if rep is None:
        return out, facts
    win = TimeWindow(d.reference_window.start, d.current_window.end) if (d.reference_window and d.current_window) \
        else _around(onset, timedelta(days=1), timedelta(days=1))
    view = dict(step=STEP_DATA, view="distributions", window=win)
    roles = {c.column: c.role for c in rep.columns}
    for c in rep.columns:
        if c.current_column:
            roles[c.current_column] = c.role
    best: dict[str, Signal] = {}

    def keep(sig: Signal) -> None:
        if sig.rule not in best or sig.contribution > best[sig.rule].contribution:
            best[sig.rule] = sig

    for f in rep.schema:
        cols = set(f.columns)
        is_pred = any(roles.get(c) in ("prediction", "label") for c in cols)
        data = {"finding": f.kind, "columns": list(f.columns), "score": round(f.score, 3)}
        if f.kind in ("renamed_column", "removed_column", "type_change", "scale_change"):
            if not is_pred:
                keep(_signal("schema_finding", f.score, f.message, title=f"Schema: {f.kind.replace('_', ' ')}",
                             data=data, **view))
                facts["schema_cols"] |= cols
                facts["schema"] = max(facts["schema"], f.score)
        elif f.kind == "added_column":
            keep(_signal("schema_finding", 0.5 * f.score, f.message, title="Schema: added column", data=data, **view))
            facts["schema_cols"] |= cols
        elif f.kind == "column_order":
            keep(_signal("schema_finding", 0.4 * f.score, f.message, title="Schema: column order", data=data, **view))
        elif f.kind in ("new_categories", "vanished_categories"):
            share = float(f.details.get("share", 0.0))
            if share >= 0.5 or f.kind == "vanished_categories" and share >= 0.9:
                keep(_signal("category_change", f.score, f.message, title="Categories changed", data=data, **view))
        elif f.kind == "null_jump":
            keep(_signal("null_jump_schema", f.score, f.message, title="Null rate jumped", data=data, **view))
            keep(_signal("null_jump_stale", f.score, f.message, title="Null rate jumped", data=data, **view))
            facts["stale_cols"] |= cols
        elif f.kind == "collapsed":
            pred = bool(f.details.get("prediction"))
            keep(_signal("collapse", 1.0 if pred else 0.85, f.message,
                         title="Prediction collapsed" if pred else "Column collapsed", data=data, **view))
            if pred:
                keep(_signal("collapse_code", 1.0, f.message, title="Prediction collapsed", data=data, **view))
            facts["stale_cols"] |= cols
    for fr in d.freshness:
        if fr.ratio >= 3 and fr.lag_current - fr.lag_reference >= timedelta(minutes=30):
            strength = _clip(math.log10(fr.ratio) / 1.0)
            keep(_signal("freshness", strength,
                         f"'{fr.column}' lagged the row time by {format_duration(fr.lag_reference)} (median) before and "
                         f"{format_duration(fr.lag_current)} after: the data stopped being refreshed",
                         title=f"Stale column: {fr.column}",
                         data={"column": fr.column, "lag_reference_s": fr.lag_reference.total_seconds(),
                               "lag_current_s": fr.lag_current.total_seconds(), "ratio": round(fr.ratio, 2)}, **view))
            facts["stale_cols"].add(fr.column)
    frozen = _frozen_columns(rep, roles)
    if frozen:
        names = [f"{c} ({r} → {k} distinct values)" for c, r, k in frozen]
        keep(_signal("frozen_values", 0.9, "columns stopped varying: " + ", ".join(names[:4]),
                     title=f"Frozen values: {frozen[0][0]}", data={"columns": [c for c, _r, _k in frozen]}, **view))
        facts["stale_cols"] |= {c for c, _r, _k in frozen}
    if d.arrival_gap is not None and d.arrival_gap >= 0.3:
        keep(_signal("data_arrival", d.arrival_gap,
                     f"the incident data ends {d.arrival_gap:.0%} of the window before the window does",
                     title="Data stopped arriving", data={"share": d.arrival_gap}, **view))
    excluded = facts["schema_cols"] | facts["stale_cols"]
    inputs = [c for c in rep.columns if c.drifted and c.role == "feature" and c.type in ("numeric", "categorical")
              and not ({c.column, c.current_column} & excluded)]
    preds = [c for c in rep.columns if c.drifted and c.role == "prediction"]

    def strength(score: float) -> float:
        return _clip((score - 1.0) / 4.0)

    if inputs:
        top = max(inputs, key=lambda c: c.score)
        s = _clip(strength(top.score) + 0.1 * (len(inputs) - 1))
        facts["input_drift"] = s
        facts["drift_cols"] = [c.label for c in sorted(inputs, key=lambda c: -c.score)]
        facts["top_drift_categorical"] = top.type == "categorical"
        shown = ", ".join(f"{c.label} ({c.score:.1f}× threshold)" for c in sorted(inputs, key=lambda c: -c.score)[:4])
        keep(_signal("feature_drift", s, f"{len(inputs)} input column(s) drifted: {shown}",
                     title=f"Input drift: {top.label}",
                     data={"columns": facts["drift_cols"][:10], "top_score": round(top.score, 2)}, **view))
        cats = [c for c in inputs if c.type == "categorical"]
        if cats:
            ct = max(cats, key=lambda c: c.score)
            keep(_signal("mix_shift", strength(ct.score),
                         f"the mix of '{ct.label}' changed ({ct.score:.1f}× threshold)",
                         title=f"Mix shift: {ct.label}", data={"column": ct.label}, **view))
    if preds:
        p = max(preds, key=lambda c: c.score)
        facts["prediction_drift"] = strength(p.score)
    return list(best.values()), facts


def _frozen_columns(rep: DriftReport, roles: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """Numeric feature columns whose distinct values collapsed from many to a handful."""
    ref_p, cur_p = rep.profiles.get("reference", {}), rep.profiles.get("current", {})
    out = []
    for col, r in ref_p.items():
        c = cur_p.get(col)
        if c is None or roles.get(col) != "feature" or r.kind != sch.NUMERIC:
            continue
        rn, cn = r.n - r.n_null, c.n - c.n_null
        if rn < 50 or cn < 50 or r.n_unique < 12:
            continue
        if c.n_unique <= max(8, 0.02 * cn) and c.n_unique <= r.n_unique / 2:
            out.append((col, r.n_unique, c.n_unique))
    return out


def _log_query(template: str) -> str:
    """A Lucene query for the Logs page that finds a template's lines (level, service, longest fixed text)."""
    head, _, body = template.partition(": ")
    level, _, service = head.partition(" ")
    parts = [p.strip(" ,;:=()[]'\"") for p in body.replace(PARAM_TOKEN, "\x00").split("\x00")]
    phrase = max(parts, key=len) if parts else ""
    clauses = [f"log.level:{level}"] if level.isalpha() else []
    if service.strip():
        clauses.append(f'service.name:"{service.strip()}"')
    if phrase:
        clauses.append('"' + phrase.replace("\\", " ").replace('"', " ") + '"')
    return " AND ".join(clauses)


def _log_signals(lg: LogFinding, onset: datetime) -> tuple[list[Signal], bool]:
    out: list[Signal] = []
    if lg.diff is None:
        return out, False
    win = _around(onset, timedelta(hours=6), timedelta(hours=6))
    best: dict[str, Signal] = {}

    def keep(sig: Signal) -> None:
        if sig.rule not in best or sig.contribution > best[sig.rule].contribution:
            best[sig.rule] = sig

    total_after = max(lg.diff.window_lines, 1)
    for c in lg.diff.changes:
        if c.status not in (NEW, INCREASED):
            continue
        level = c.template.split(" ", 1)[0].upper()
        if level not in ("WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"):
            continue
        share = c.window_count / total_after
        if c.window_count < 5:
            continue
        strength = _clip(0.5 + 0.5 * min(share / 0.05, 1.0)) if c.status == NEW else _clip(
            0.3 + 0.4 * min(((c.ratio or 1) - 1) / 9, 1.0))
        body = c.template.split(": ", 1)[-1]
        query = _log_query(c.template)
        detail = (f"{c.status} {level} template '{c.template}': {c.window_count} lines after the onset, "
                  f"{c.baseline_count} before")
        data = {"template": c.template, "status": c.status, "window_count": c.window_count,
                "baseline_count": c.baseline_count, "ratio": c.ratio, "example": c.example[:300], "query": query}
        common = dict(step=STEP_LOGS, view="logs", title=f"Log: {body[:80]}", window=win, data=data)
        if STALE_WORDS.search(body):
            keep(_signal("stale_log", strength, detail, **common))
        elif SCHEMA_WORDS.search(body):
            keep(_signal("schema_log", strength, detail, **common))
        elif INFRA_WORDS.search(body):
            keep(_signal("infra_log", strength, detail, **common))
        elif CODE_WORDS.search(body):
            keep(_signal("code_log", strength, detail, **common))
    for v in lg.versions:
        age = max(onset - v.first_seen, timedelta(0))
        keep(_signal("version_log", _closeness(age),
                     f"version '{v.value}' first appears in the logs {format_duration(age)} before the onset "
                     f"(\"{v.example}\")", step=STEP_LOGS, view="logs", title=f"New version in the logs: {v.value}",
                     window=_around(v.first_seen, timedelta(hours=3), timedelta(hours=3)),
                     data={"value": v.value, "first_seen": iso(v.first_seen), "lines_after": v.lines_after}))
    before, after = lg.error_rate_before or 0.0, lg.error_rate_after or 0.0
    rose = after - before >= 0.005 and after >= 2 * before
    if rose:
        keep(_signal("error_rate", _clip((after - before) / 0.05), f"error share of log lines {before:.2%} → {after:.2%}",
                     step=STEP_LOGS, view="logs", title="Error rate rose", window=win,
                     data={"before": before, "after": after}))
    late = lg.error_delay is not None and lg.error_delay > SYMPTOM_DELAY
    return list(best.values()), late


def _metric_signals(mf: MetricFinding, onset: datetime) -> tuple[list[Signal], bool]:
    out: list[Signal] = []
    late = False
    win = _around(onset)
    best_infra: Signal | None = None
    best_traffic: Signal | None = None
    for s in mf.shifts:
        if abs(s.z) < 5 or s.relative is None:
            continue
        if s.kind == "infra" and s.relative >= 0.2:
            strength = _clip((s.relative - 0.1) / 0.9)
            early_up = s.delay is None or s.delay <= SYMPTOM_DELAY
            if not early_up:
                late = True
                strength *= 0.4
            sig = _signal("infra_metric", strength,
                          f"{s.name} median {s.before:.4g} → {s.after:.4g} ({s.relative:+.0%}, z {s.z:.1f})"
                          + ("" if early_up else f"; it rose only {format_duration(s.delay)} after the onset"),
                          step=STEP_METRICS, view="metrics", title=f"{s.name} rose", window=win,
                          data={**s.to_dict(), "metric": s.name})
            if best_infra is None or sig.contribution > best_infra.contribution:
                best_infra = sig
        elif s.kind == "traffic" and abs(s.relative) >= 0.15:
            sig = _signal("traffic_shift", _clip((abs(s.relative) - 0.1) / 0.4),
                          f"{s.name} median {s.before:.4g} → {s.after:.4g} ({s.relative:+.0%})",
                          step=STEP_METRICS, view="metrics", title=f"{s.name} changed", window=win,
                          data={**s.to_dict(), "metric": s.name})
            if best_traffic is None or sig.contribution > best_traffic.contribution:
                best_traffic = sig
    out += [s for s in (best_infra, best_traffic) if s is not None]
    return out, late


def score_hypotheses(*, onset: OnsetFinding, changes: ChangeFinding, data: DataFinding, logs: LogFinding,
                     metrics: MetricFinding, registry: RegistryFinding, service: str = "",
                     data_end: datetime | None = None) -> tuple[RankedHypothesis, ...]:
    """Score every root-cause class from the step findings and rank them (see :data:`RULES`)."""
    at = onset.at
    signals: list[Signal] = []
    signals += _signals_from_changes(changes, at, service, data_end or at)
    data_sigs, facts = _data_signals(data, at)
    signals += data_sigs
    log_sigs, errors_late = _log_signals(logs, at)
    signals += log_sigs
    metric_sigs, metrics_late = _metric_signals(metrics, at)
    signals += metric_sigs
    factors: list[Factor] = []
    code = max((s.strength for s in signals if s.rule in ("code_event", "version_log")), default=0.0)
    pipeline = max((s.strength for s in signals if s.rule == "schema_pipeline_event"), default=0.0)
    external = max((s.strength for s in signals if s.rule == "external_change"), default=0.0)
    if registry.changed:
        lead = f", {format_duration(registry.lead_time)} before the onset" if registry.lead_time is not None else ""
        signals.append(_signal("registry", 1.0, registry.title + lead, step=STEP_REGISTRY, view="models",
                               title=registry.title, window=_around(at, timedelta(days=2), timedelta(hours=12))))
    elif registry.changed is False:
        factors.append(_factor("registry_no_change"))
    if facts["prediction_drift"] > 0 and facts["input_drift"] < 0.1 and facts["schema"] < 0.5 \
            and not facts["stale_cols"]:
        signals.append(_signal("prediction_shift", facts["prediction_drift"],
                               "the prediction distribution shifted while no input column drifted",
                               step=STEP_DATA, view="distributions", title="Predictions shifted, inputs did not",
                               window=_around(at, timedelta(days=1), timedelta(days=1))))
    if facts["input_drift"] > 0 and code >= 0.5 and pipeline < 0.5:
        signals.append(_signal("shift_at_code_change", facts["input_drift"] * code,
                               f"the drift in {', '.join(facts['drift_cols'][:3])} starts with the code change "
                               "(a feature transform inside the model or service changed)",
                               step=STEP_DATA, view="distributions", title="Feature shift at the code change",
                               window=_around(at, timedelta(days=1), timedelta(days=1))))
        factors.append(_factor("drift_explained_by_code"))
    elif facts["input_drift"] > 0 and external >= 0.5:
        factors.append(_factor("drift_explained_by_external"))
    traffic = max((s.strength for s in signals if s.rule == "traffic_shift"), default=0.0)
    if facts["input_drift"] > 0 and facts["top_drift_categorical"] and traffic >= 0.3 and external < 0.5:
        factors.append(_factor("drift_is_audience_shift"))
    if facts["input_drift"] > 0 and facts["schema"] >= 0.8:
        factors.append(_factor("drift_explained_by_schema"))
    if facts["input_drift"] > 0 and any(s.rule in ("collapse", "freshness", "frozen_values") for s in signals):
        factors.append(_factor("drift_explained_by_staleness"))
    if errors_late or (metrics_late and not any(s.rule == "infra_log" for s in signals)):
        if any(s.root_cause == RootCause.INFRASTRUCTURE for s in signals):
            factors.append(_factor("errors_after_onset"))
    ran = {s.name for s in (onset.step, changes.step, data.step, logs.step, metrics.step, registry.step) if s.ran}
    titles = dict(STEPS)
    onset_factor = onset.change.confidence if onset.change is not None else 0.4
    scored = []
    for cls in CLASS_ORDER:
        mine = sorted((s for s in signals if s.root_cause == cls), key=lambda s: -s.contribution)
        mine = [s for s in mine if s.contribution > 0.005]
        raw = 1.0 - math.prod(1.0 - s.contribution for s in mine) if mine else 0.0
        fs = tuple(f for f in factors if f.root_cause == cls)
        score = raw * math.prod(f.value for f in fs)
        rel = RELEVANCE[cls]
        coverage = sum(w for k, w in rel.items() if k in ran) / sum(rel.values())
        unchecked = tuple(f"{titles[k]} ({'not available' if k not in ran else ''})".replace(" ()", "")
                          for k in rel if k not in ran)
        conf = _clip(coverage * onset_factor)
        scored.append((cls, score, raw, conf, tuple(mine), fs, coverage, unchecked))
    scored.sort(key=lambda x: (-round(x[1], 6), CLASS_ORDER.index(x[0])))
    out = []
    for i, (cls, score, raw, conf, mine, fs, coverage, unchecked) in enumerate(scored):
        if not onset.detected:
            status = "unconfirmed"
        elif i == 0 and score >= LIKELY_SCORE:
            status = "likely"
        elif score >= POSSIBLE_SCORE:
            status = "possible"
        else:
            status = "unlikely"
        out.append(RankedHypothesis(
            rank=i + 1, root_cause=cls, score=score, raw_score=raw, confidence=conf, status=status,
            explanation=_explain(cls, score, mine, fs, unchecked, onset), signals=mine, factors=fs,
            coverage=coverage, unchecked=unchecked))
    return tuple(out)


def _explain(cls: RootCause, score: float, signals: Sequence[Signal], factors: Sequence[Factor],
             unchecked: Sequence[str], onset: OnsetFinding) -> str:
    label = ROOT_CAUSE_LABELS[cls]
    if signals:
        head = signals[0]
        text = f"{label} (score {score:.2f}): {head.evidence.detail}."
        if len(signals) > 1:
            text += " Also: " + "; ".join(s.evidence.title for s in signals[1:4]) + "."
    else:
        text = f"{label} (score 0): no evidence found for it."
    for f in factors:
        text += f" Discounted ×{f.value:g}: {f.reason}."
    if unchecked:
        text += " Not checked: " + ", ".join(unchecked) + "."
    if not onset.detected:
        text += " No KPI change was detected, so nothing is confirmed."
    return text


def summarise(result: TriageResult, top: int = 3) -> list[str]:
    """Plain-text lines: the onset, the top hypotheses, the skipped steps."""
    lines = [f"Incident {result.incident} · KPI {result.kpi}"]
    if result.onset is not None:
        lines.append(f"Onset: {iso(result.onset_at or result.onset.time)} ({result.onset.describe()})")
    else:
        lines.append(f"Onset: {result.onset_note}")
    for h in result.hypotheses[:top]:
        lines.append(f"{h.rank}. {h.label:<26} score {h.score:.2f}  confidence {h.confidence:.0%}  [{h.status}]")
        for s in h.signals[:4]:
            lines.append(f"     · {s.evidence.detail}")
        for f in h.factors:
            lines.append(f"     × {f.value:g} {f.reason}")
        lines.append(f"     = {h.arithmetic()}")
    for s in result.skipped:
        lines.append(f"Skipped {s.title}: {s.summary}")
    return lines


__all__ = [
    "CLASS_ORDER", "RULES", "FACTORS", "RELEVANCE", "STEPS", "EvidenceItem", "Signal", "Factor", "StepResult",
    "RankedHypothesis", "TriageResult", "OnsetFinding", "ChangeFinding", "DataFinding", "LogFinding",
    "MetricFinding", "RegistryFinding", "analyse_onset", "analyse_changes", "analyse_data", "analyse_logs",
    "analyse_metrics", "analyse_registry", "score_hypotheses", "find_stopped_jobs", "data_freshness",
    "summarise", "step_time", "find_new_versions", "NewVersion", "MetricShift",
]
