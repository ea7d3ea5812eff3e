"""Triage: ranked root-cause hypotheses with the evidence behind each (see docs/triage.md).

The flow follows the order the field recommends — data first, then environment and code,
then infrastructure:

- the onset: when the KPI changed and by how much, decided by the one onset policy
  (:mod:`core.onset`);
- the registered steps (:mod:`core.triage.registry`, one file each under
  ``core/triage/steps/``): change events, data, logs, metrics, model registry, and any
  step an extension registers;
- scoring (:mod:`core.triage.scoring`) over every root-cause class, with the rule book in
  :mod:`core.triage.rules`; the runner (:mod:`core.triage.runner`) ties them together.

docs/architecture.md shows how to add a step.
"""

from core.triage.models import (
    ONSET_TITLE,
    STEP_ONSET,
    EvidenceItem,
    Factor,
    RankedHypothesis,
    Signal,
    StepOutcome,
    StepResult,
    TriageContext,
    TriageResult,
)
from core.triage.registry import (
    RELEVANCE,
    RULES,
    STEPS,
    Step,
    register,
    registered_steps,
    relevance,
    rule,
    signal,
    step_titles,
    unregister,
)
from core.triage.rules import CLASS_ORDER, FACTORS
from core.triage.runner import triage_bundle
from core.triage.scoring import cross_checks, score_hypotheses, summarise
from core.triage.steps.changes import find_stopped_jobs
from core.triage.steps.data import data_freshness
from core.triage.steps.logs import find_new_versions, read_bundle_logs

__all__ = [
    "ONSET_TITLE", "STEP_ONSET", "EvidenceItem", "Factor", "RankedHypothesis", "Signal", "StepOutcome",
    "StepResult", "TriageContext", "TriageResult", "RELEVANCE", "RULES", "STEPS", "Step", "register",
    "registered_steps", "relevance", "rule", "signal", "step_titles", "unregister", "CLASS_ORDER", "FACTORS",
    "triage_bundle", "cross_checks", "score_hypotheses", "summarise", "find_stopped_jobs", "data_freshness",
    "find_new_versions", "read_bundle_logs",
]
