"""Result types of triage: evidence, signals, factors, step results, ranked hypotheses, the whole result.

Also the two types a step works with: :class:`TriageContext` (what a step may read) and
:class:`StepOutcome` (what it returns). See :mod:`core.triage.registry` for the ``Step``
protocol and docs/architecture.md for how to add a step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from core.jsonsafe import jsonable
from core.models import ROOT_CAUSE_LABELS, Hypothesis, RootCause, TimeWindow, iso

if TYPE_CHECKING:
    from core.analysis.changepoint import ChangePoint

#: The first step of every triage: the onset (decided by core.onset, not a registered step).
STEP_ONSET = "onset"
ONSET_TITLE = "Onset and size of the KPI change"


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
                "data": jsonable(dict(self.data))}


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
                "details": jsonable(dict(self.details))}


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
    probability: float | None = None  # calibrated probability that this class is the cause (core.triage.scoring)
    prior: float = 0.0  # the neutral prior the score was raised to when the key evidence could not be looked at

    @property
    def label(self) -> str:
        return ROOT_CAUSE_LABELS[self.root_cause]

    @property
    def evidence(self) -> tuple[EvidenceItem, ...]:
        return tuple(s.evidence for s in self.signals)

    def arithmetic(self) -> str:
        """The score in numbers: ``1 - (1 - 0.9×0.80)(1 - 0.5×1.00) × 0.45 = 0.39``."""
        if not self.signals:
            if self.prior and self.score > 0:
                return f"no evidence, key evidence not looked at: prior {self.prior:g}"
            return "no evidence: 0"
        terms = " ".join(f"(1 − {s.weight:g}×{s.strength:.2f})" for s in self.signals)
        text = f"1 − {terms} = {self.raw_score:.2f}"
        for f in self.factors:
            text += f" × {f.value:g}"
        if self.factors:
            text += f" = {self.score:.2f}"
        if self.prior and self.score <= self.prior + 1e-9 and self.score > self.raw_score * _prod(self.factors) + 1e-9:
            text += f"; unconfirmed, so max(…, prior {self.prior:g}) = {self.score:.2f}"
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
            "probability": None if self.probability is None else round(self.probability, 4),
            "confidence": round(self.confidence, 4), "status": self.status, "explanation": self.explanation,
            "arithmetic": self.arithmetic(), "coverage": round(self.coverage, 4),
            "unchecked": list(self.unchecked),
            "evidence": [s.to_dict() for s in self.signals],
            "factors": [f.to_dict() for f in self.factors],
        }


def _prod(factors: Any) -> float:
    out = 1.0
    for f in factors:
        out *= f.value
    return out


@dataclass(frozen=True)
class TriageResult:
    """The whole triage: the onset, what each step found or skipped, the ranked hypotheses."""

    incident: str
    kpi: str
    onset: ChangePoint | None
    onset_note: str
    steps: tuple[StepResult, ...]
    hypotheses: tuple[RankedHypothesis, ...]
    onset_at: datetime | None = None  # the instant the analysis cut at (core.onset policy)
    onset_source: str = ""  # where onset_at came from (core.onset: milestone, detected change, window)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    not_configured: tuple[StepResult, ...] = ()  # optional steps whose tool (dbt, GX, …) the incident lacks

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
            "onset_used": iso(self.onset_at), "onset_source": self.onset_source, "onset_note": self.onset_note,
            "hypotheses": [h.to_dict() for h in self.hypotheses],
            "skipped": [{"step": s.name, "title": s.title, "reason": s.summary} for s in self.skipped],
            "not_configured": [{"step": s.name, "title": s.title, "reason": s.summary} for s in self.not_configured],
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes), "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class StepOutcome:
    """What one step returns: its result line, the signals (evidence for classes) and counter-evidence
    factors it found, ``facts`` for the cross-checks of :mod:`core.triage.scoring`, and ``finding`` (the
    step's own result object, which later steps may read through :meth:`TriageContext.finding`)."""

    result: StepResult
    signals: tuple[Signal, ...] = ()
    factors: tuple[Factor, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    finding: Any = None


@dataclass
class TriageContext:
    """What a step may read: the bundle, the onset and the cut times, earlier steps' outcomes.

    ``at`` is the instant the analysis cuts at (the incident onset); ``data_end`` is where
    the KPI data ends inside the window. ``outcomes`` fills in as the steps run, in
    registry order, so a step can build on an earlier one (:meth:`finding`). What several
    steps read is read once here: the change events (:meth:`events`), the traces
    (:meth:`traces`) and their service dependency graph (:meth:`service_graph`).
    """

    bundle: Any  # core.bundle.Bundle
    onset: Any  # core.onset.IncidentOnset
    at: datetime
    data_end: datetime
    tracking_uri: str | None = None
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    _events: list[dict[str, Any]] | None = field(default=None, repr=False)
    _events_read: bool = field(default=False, repr=False)
    _traces: Any = field(default=None, repr=False)
    _traces_error: Exception | None = field(default=None, repr=False)
    _traces_read: bool = field(default=False, repr=False)
    _graph: Any = field(default=None, repr=False)
    _graph_read: bool = field(default=False, repr=False)
    #: why :meth:`service_graph` is None ("" while it was not asked for or when there is a graph)
    graph_note: str = field(default="", repr=False)

    @property
    def service(self) -> str:
        return self.bundle.service

    def events(self) -> list[dict[str, Any]] | None:
        """The bundle's change events (read once), or None when it has no events.jsonl."""
        if not self._events_read:
            has = (self.bundle.path / "events.jsonl").is_file()
            self._events = self.bundle.events() if has else None
            self._events_read = True
        return self._events

    def traces(self) -> Any:
        """The bundle's spans (read once, :mod:`core.sources.traces_otel`), or None without a ``traces/`` folder.

        Raises:
            WorkbenchError: the traces could not be read (raised again on every call).
        """
        if not self._traces_read:
            self._traces_read = True
            if (self.bundle.path / "traces").is_dir():
                from core.errors import WorkbenchError
                from core.sources.factory import open_source

                try:
                    self._traces = open_source("traces", self.bundle)
                except WorkbenchError as exc:
                    self._traces_error = exc
        if self._traces_error is not None:
            raise self._traces_error
        return self._traces

    def service_graph(self) -> Any:
        """The service dependency graph of the bundle's traces (computed once; a
        :class:`core.analysis.traces.ServiceGraph`), or None when the bundle has no usable traces
        (:attr:`graph_note` says why)."""
        if not self._graph_read:
            self._graph_read = True
            from core.errors import WorkbenchError

            try:
                source = self.traces()
            except WorkbenchError as exc:
                source, self.graph_note = None, f"the traces could not be read ({exc})"
            if source is None:
                self.graph_note = self.graph_note or "the bundle has no traces"
            else:
                from core.analysis.traces import dependency_graph

                graph = dependency_graph(source)
                if graph.edges:
                    self._graph = graph
                else:
                    self.graph_note = "no service calls another in the traces"
        return self._graph

    def finding(self, step: str) -> Any:
        """The ``finding`` of an earlier step that ran, else None."""
        got = self.outcomes.get(step)
        return got.finding if got is not None and got.result.ran else None
