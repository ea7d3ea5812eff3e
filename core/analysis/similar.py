"""Similar past incidents: rank stored incidents by what they share with one incident, and say why.

An incident's :class:`IncidentSignature` is what it is known by: its root-cause class, the
service and model it hit, the features involved, the data checks and alerts that failed, and
the log templates that appeared. :func:`signature_of` builds it from the incident, its
timeline events, its pinned evidence and its fishbone causes; :func:`rank_similar` scores
every other incident facet by facet (:data:`WEIGHTS`) and keeps, for each, the sentences
that explain the score. :func:`pattern_key` names the failure pattern an incident belongs
to (class and service), which runbooks and recurrence analytics share.

Pure functions over domain objects; :func:`core.store.analytics.load_signatures` reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from core.errors import InvalidInputError
from core.models import ROOT_CAUSE_LABELS, CauseRecord, CauseStatus, Evidence, EventKind, Incident, RootCause, \
    TimelineEvent

#: How much each shared facet weighs; set facets (features, checks, templates) count by overlap (Jaccard).
WEIGHTS: dict[str, float] = {"root_cause": 3.0, "service": 2.0, "model": 1.5, "features": 2.0,
                             "failing_checks": 1.5, "log_templates": 1.5}
FACET_LABELS = {"root_cause": "root-cause class", "service": "service", "model": "model", "features": "features",
                "failing_checks": "failing checks", "log_templates": "log templates"}
MAX_NAMES = 4
_QUOTED = re.compile(r"['‘’`\"“”]([A-Za-z_][\w .\-]{1,60}?)['‘’`\"“”]")
_DBT_COLUMN = re.compile(r'\."([^"]{1,60})"')
_GONE = re.compile(r"columns? (?:gone|removed|renamed|added)[^:]*:\s*([^;\n]+)", re.I)


@dataclass(frozen=True)
class IncidentSignature:
    incident_id: str
    title: str = ""
    root_cause: str = ""  # a RootCause value, or "" while unknown
    service: str = ""
    model: str = ""
    features: frozenset[str] = frozenset()
    failing_checks: frozenset[str] = frozenset()
    log_templates: frozenset[str] = frozenset()
    started: datetime | None = None
    status: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident_id, "title": self.title, "root_cause": self.root_cause or None,
                "service": self.service, "model": self.model, "features": sorted(self.features),
                "failing_checks": sorted(self.failing_checks), "log_templates": sorted(self.log_templates),
                "started": self.started.isoformat().replace("+00:00", "Z") if self.started else None,
                "status": self.status}


@dataclass(frozen=True)
class Reason:
    facet: str
    weight: float  # the facet's contribution to the score before normalising
    text: str


@dataclass(frozen=True)
class SimilarIncident:
    signature: IncidentSignature
    score: float  # 0..1: the share of the weight of the facets the target has that this incident matches
    reasons: tuple[Reason, ...]

    @property
    def incident_id(self) -> str:
        return self.signature.incident_id

    @property
    def why(self) -> str:
        return "; ".join(r.text for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident_id, "title": self.signature.title, "score": round(self.score, 4),
                "root_cause": self.signature.root_cause or None, "service": self.signature.service,
                "started": self.signature.started.isoformat().replace("+00:00", "Z") if self.signature.started
                else None,
                "why": [{"facet": r.facet, "weight": round(r.weight, 4), "text": r.text} for r in self.reasons]}


def _norm(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _features_from_text(text: str) -> set[str]:
    """Names quoted in a sentence ('mean radius', `radius_mean`)."""
    return {f for f in (m.group(1).strip() for m in _QUOTED.finditer(text or "")) if f and len(f) <= 60}


def _features_from_dbt(text: str) -> set[str]:
    """Columns a dbt finding names: 'columns gone: a, b' and a table's quoted column (`t."a"`)."""
    out = {f.group(1).strip() for f in _DBT_COLUMN.finditer(text or "")}
    for m in _GONE.finditer(text or ""):
        out |= {_norm(p).strip("`'\" ") for p in m.group(1).split(",") if _norm(p)}
    return {f for f in out if f and len(f) <= 60}


def _from_event(ev: TimelineEvent, features: set[str], checks: set[str], models: list[str]) -> None:
    d = ev.details if isinstance(ev.details, Mapping) else {}
    if ev.kind == EventKind.MODEL_VERSION and d.get("model"):
        models.append(_norm(d["model"]))
    if ev.kind != EventKind.ALERT:
        if ev.kind == EventKind.DATA_PIPELINE and d.get("detail"):
            features |= _features_from_dbt(str(d["detail"]))
        return
    if d.get("expectation"):
        col = _norm(d.get("column"))
        checks.add(f"{_norm(d['expectation'])}({col})" if col else _norm(d["expectation"]))
        if col:
            features.add(col)
    elif d.get("finding") and d.get("node"):
        checks.add(f"dbt {_norm(d['finding']).replace('_', ' ')}: {_norm(d['node']).split('.')[-1]}")
        features |= _features_from_dbt(str(d.get("detail") or ""))
    elif d.get("rule"):
        checks.add(f"alert {_norm(d['rule'])}")
    else:
        checks.add(f"alert {_norm(ev.title)[:80]}")


def _from_evidence(e: Evidence, features: set[str], templates: set[str]) -> None:
    r = e.result if isinstance(e.result, Mapping) else {}
    if e.kind == "drift":
        cols = r.get("columns")
        if isinstance(cols, list):
            features |= {_norm(c.get("column")) for c in cols
                         if isinstance(c, Mapping) and c.get("column") and c.get("drifted", True)}
        elif r.get("column"):
            features.add(_norm(r["column"]))
    elif e.kind == "schema":
        cols = r.get("columns")
        if isinstance(cols, list):
            features |= {_norm(c) for c in cols if isinstance(c, str) and c.strip()}
    elif e.kind == "log_patterns":
        for t in r.get("templates") or ():
            if isinstance(t, Mapping) and t.get("template") and t.get("status") in ("new", "increased", "changed"):
                templates.add(_norm(t["template"])[:200])


def signature_of(incident: Incident, events: Iterable[TimelineEvent] = (), evidence: Iterable[Evidence] = (),
                 causes: Iterable[CauseRecord] = ()) -> IncidentSignature:
    """What an incident is known by, from its record, timeline, pinned evidence and fishbone causes.

    Features come from failed data checks (their column), dbt findings (columns gone), drift and
    schema evidence, and names quoted in causes that were not ruled out; failing checks from alert
    events (an expectation and its column, a dbt test, an alert rule); log templates from pinned
    log-pattern evidence (new or increased); the model from model-version events.
    """
    features: set[str] = set()
    checks: set[str] = set()
    templates: set[str] = set()
    models: list[str] = []
    for ev in events:
        _from_event(ev, features, checks, models)
    for e in evidence:
        _from_evidence(e, features, templates)
    for c in causes:
        if c.status != CauseStatus.RULED_OUT:
            features |= _features_from_text(c.text)
    from core.analysis.incident_analytics import incident_start

    return IncidentSignature(
        incident_id=incident.id, title=incident.title,
        root_cause=incident.root_cause.value if incident.root_cause else "", service=_norm(incident.service),
        model=models[-1] if models else "", features=frozenset(f for f in features if f),
        failing_checks=frozenset(c for c in checks if c), log_templates=frozenset(templates),
        started=incident_start(incident), status=incident.status.value)


def _names(items: Iterable[str]) -> str:
    items = sorted(items)
    shown = ", ".join(items[:MAX_NAMES])
    return shown + (f" and {len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else "")


def compare(target: IncidentSignature, other: IncidentSignature,
            weights: Mapping[str, float] = WEIGHTS) -> SimilarIncident:
    """How similar ``other`` is to ``target``, facet by facet, with a sentence per shared facet."""
    reasons: list[Reason] = []
    possible = 0.0
    for facet in ("root_cause", "service", "model"):
        mine, theirs = getattr(target, facet), getattr(other, facet)
        if not mine:
            continue
        possible += weights[facet]
        if mine.casefold() == (theirs or "").casefold():
            shown = ROOT_CAUSE_LABELS.get(RootCause(mine), mine) if facet == "root_cause" else mine
            reasons.append(Reason(facet, weights[facet], f"same {FACET_LABELS[facet]}: {shown}"))
    for facet in ("features", "failing_checks", "log_templates"):
        mine, theirs = getattr(target, facet), getattr(other, facet)
        if not mine:
            continue
        possible += weights[facet]
        fold_theirs = {t.casefold(): t for t in theirs}
        shared = {m for m in mine if m.casefold() in fold_theirs}
        if shared:
            union = len({m.casefold() for m in mine} | set(fold_theirs))
            share = len(shared) / union
            reasons.append(Reason(facet, weights[facet] * share,
                                  f"shares {len(shared)} of {len(mine)} {FACET_LABELS[facet]}: {_names(shared)}"))
    score = sum(r.weight for r in reasons) / possible if possible else 0.0
    return SimilarIncident(other, min(score, 1.0), tuple(sorted(reasons, key=lambda r: -r.weight)))


def rank_similar(target: IncidentSignature, candidates: Iterable[IncidentSignature], *, limit: int = 5,
                 min_score: float = 0.0) -> list[SimilarIncident]:
    """Other incidents sharing anything with ``target``, most similar first (ties: most recent first).

    Raises:
        InvalidInputError: ``limit`` below 1 or ``min_score`` outside 0..1.
    """
    if limit < 1:
        raise InvalidInputError(f"limit {limit} is below 1; ask for at least one similar incident")
    if not 0.0 <= min_score <= 1.0:
        raise InvalidInputError(f"min_score {min_score} is outside 0..1")
    found = [compare(target, c) for c in candidates if c.incident_id != target.incident_id]
    found = [f for f in found if f.reasons and f.score > min_score]
    found.sort(key=lambda f: (-f.score, -(f.signature.started.timestamp() if f.signature.started else 0),
                              f.incident_id))
    return found[:limit]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").casefold()).strip("-")[:60]


def pattern_key(root_cause: str, service: str = "", incident_id: str = "") -> str:
    """The failure pattern an incident belongs to: ``<class>/<service>`` (the incident id when no service)."""
    return f"{root_cause}/{_slug(service) or _slug(incident_id) or 'any'}"


def pattern_of(signature: IncidentSignature) -> str | None:
    """The failure pattern of an incident, or None while its root-cause class is unknown."""
    return pattern_key(signature.root_cause, signature.service, signature.incident_id) if signature.root_cause \
        else None
