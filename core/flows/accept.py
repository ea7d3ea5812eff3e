"""Accept a triage hypothesis onto the fishbone, and the one root-cause class → category mapping.

Accepting a triage :class:`~core.models.Hypothesis` (or a ranked hypothesis of a
:class:`~core.triage.TriageResult`) creates a *suspected* cause in the matching category,
carrying the hypothesis' evidence, and a first Five Whys chain whose last step links to that
cause. The Triage page's Accept button and ``python -m core accept`` both call
:func:`accept_hypothesis`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import InvalidInputError
from core.models import ROOT_CAUSE_LABELS, Cause, CauseStatus, Hypothesis, RootCause, WhyStep
from core.store import Store
from core.store import fishbone as fb

if TYPE_CHECKING:
    from core.triage import RankedHypothesis

CATEGORY_FOR_ROOT_CAUSE: dict[RootCause, str] = {
    RootCause.DATA_DRIFT: "Data",
    RootCause.SCHEMA_CHANGE: "Data",
    RootCause.STALE_DATA: "Features & pipeline",
    RootCause.CODE_REGRESSION: "Model",
    RootCause.INFRASTRUCTURE: "Infrastructure",
    RootCause.EXTERNAL_EVENT: "Environment & external",
}


@dataclass(frozen=True)
class AcceptedHypothesis:
    """What accepting a hypothesis produced (``created`` is False when it had been accepted before)."""

    cause: Cause
    whys: tuple[WhyStep, ...]
    created: bool


def category_for(root_cause: RootCause | str) -> str:
    """The default fishbone category of a root-cause class."""
    return CATEGORY_FOR_ROOT_CAUSE[RootCause(root_cause)]


def _category_id(store: Store, incident_id: str, name: str) -> int:
    """The id of category ``name`` (case-insensitive); re-created if the team deleted it."""
    fishbone = fb.get_fishbone(store, incident_id)
    for c in fishbone.categories:
        if fb.normalise(c.name) == fb.normalise(name):
            return c.id
    try:
        return fb.add_category(store, incident_id, name).id
    except InvalidInputError:  # created concurrently by another editor
        return next(c.id for c in fb.get_fishbone(store, incident_id).categories
                    if fb.normalise(c.name) == fb.normalise(name))


MAX_LABEL = 80  # a cause label fits on a fishbone bone; the whole explanation goes to the cause's notes


def cause_text(hypothesis: Hypothesis) -> str:
    """The short cause label a hypothesis becomes: its class and the gist of its first finding.

    The explanation's own "<class> (score …):" lead is dropped, and the label is cut at a word
    boundary to ``MAX_LABEL`` characters.
    """
    label = ROOT_CAUSE_LABELS[RootCause(hypothesis.root_cause)]
    first = (hypothesis.explanation or "").strip().split("\n")[0]
    first = re.sub(rf"^{re.escape(label)}\s*(\(score [^)]*\))?\s*:\s*", "", first, flags=re.IGNORECASE)
    if ". " in first:
        first = first.split(". ")[0]
    text = f"{label}: {first.rstrip('.')}" if first else label
    if len(text) <= MAX_LABEL:
        return text
    cut = text[: MAX_LABEL - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[len(label) + 2:] else cut).rstrip(" ,;:") + "…"


def accept_hypothesis(store: Store, incident_id: str, hypothesis: Hypothesis | RankedHypothesis,
                      author: str) -> AcceptedHypothesis:
    """Turn a triage hypothesis into a suspected cause with its evidence and a first Five Whys chain.

    Accepting the same hypothesis twice returns the existing cause (``created=False``).

    Args:
        store: the incident store.
        incident_id: the incident whose fishbone receives the cause.
        hypothesis: the accepted triage hypothesis, or a ranked one of a triage result.
        author: who accepted it (kept in the cause's notes; surrounding blanks are dropped).

    Raises:
        NotFoundError: no such incident.
    """
    if not isinstance(hypothesis, Hypothesis):
        hypothesis = hypothesis.to_hypothesis()
    author = (author or "").strip()
    root = RootCause(hypothesis.root_cause)
    text = cause_text(hypothesis)
    fishbone = fb.get_fishbone(store, incident_id)
    for existing in fishbone.causes:
        if fb.normalise(existing.text) == fb.normalise(text):
            whys = tuple(w for w in fishbone.whys if w.cause_id == existing.id)
            return AcceptedHypothesis(cause=existing, whys=whys, created=False)
    evidence = [dict(e) for e in hypothesis.evidence if isinstance(e, dict)]
    for ref in evidence:
        ref.setdefault("type", "evidence" if "id" in ref else "note")
        ref.setdefault("title", str(ref.get("kind") or ref.get("summary") or "triage finding"))
    notes = (
        f"Accepted from triage by {author or 'someone'} "
        f"(score {hypothesis.score:.2f}, confidence {hypothesis.confidence:.0%}).\n\n{hypothesis.explanation}"
    )
    cause = fb.add_cause(
        store, incident_id, category_id=_category_id(store, incident_id, category_for(root)), text=text,
        status=CauseStatus.SUSPECTED, notes=notes[: fb.MAX_NOTES], evidence=evidence,
    )
    problem = fishbone.problem or "the incident"
    label = ROOT_CAUSE_LABELS[root]
    first = fb.add_why(
        store, incident_id, chain=f"Triage: {label}"[: fb.MAX_CHAIN],
        question=f"Why did {problem.rstrip('.')} happen?"[: fb.MAX_WHY],
        answer=(hypothesis.explanation or label)[: fb.MAX_WHY], evidence=evidence,
    )
    second = fb.add_why(
        store, incident_id, parent_id=first.id, cause_id=cause.id,
        question=f"Why did the {label.lower()} reach production unnoticed?",
    )
    return AcceptedHypothesis(cause=cause, whys=(first, second), created=True)
