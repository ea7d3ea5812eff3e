"""Pre-drawn fishbones for the demo incidents, and loading a fishbone from a spec dict.

A *spec* is the plain-data form of a fishbone, the same shape the JSON export
writes (``core.report.fishbone_export.fishbone_to_dict``)::

    {"problem": "...",
     "categories": ["Data", ...],            # optional; default ML categories otherwise
     "causes": [{"category": "Data", "text": "...", "status": "confirmed", "notes": "...",
                 "evidence": [{"type": "note", "title": "..."}],
                 "events": ["title fragment"],  # links timeline events whose title contains it
                 "children": [{"text": "...", ...}]}],
     "whys": [{"chain": "main", "question": "...", "answer": "...", "cause": "cause text",
               "then": [{"question": "...", ...}]}],   # "then" holds the next step(s); several = a branch
     "actions": [{"text": "...", "owner": "...", "due": "2026-03-01", "status": "open", "cause": "cause text"}]}
"""

from __future__ import annotations

from typing import Any

from core.errors import ConcurrentEditError, InvalidInputError
from core.models import CauseStatus
from core.store import Store
from core.store import action_items as ai
from core.store import fishbone as fb
from core.store.timeline import list_events

_SCHEMA_CHANGE = {
    "problem": "Lab-result classifier accuracy dropped after the upstream export changed",
    "causes": [
        {"category": "Data", "text": "Upstream export v2 renamed column 'mean radius' to 'radius_mean'",
         "status": "confirmed", "events": ["lab-results export v2"],
         "notes": "The serving layer no longer finds 'mean radius' and imputes the training median.",
         "children": [{"text": "Missing column silently imputed instead of failing the request",
                       "status": "confirmed"}]},
        {"category": "Data", "text": "'mean area' now arrives in a ten times finer unit (values x10)",
         "status": "confirmed", "events": ["lab-results export v2"],
         "children": [{"text": "No range check on numeric inputs", "status": "confirmed"}]},
        {"category": "Features & pipeline", "text": "No schema contract between the export and the scorer",
         "status": "confirmed"},
        {"category": "Code & config", "text": "lab-scorer 1.8.3 deploy (log format change)", "status": "ruled_out",
         "events": ["lab-scorer 1.8.3"], "notes": "Deployed two days before the drop; accuracy stayed normal."},
        {"category": "Code & config", "text": "lab-ingest batch size 50 -> 80", "status": "ruled_out",
         "events": ["batch size"], "notes": "A day before the onset; no effect on features."},
        {"category": "Process & people", "text": "Upstream change not announced to downstream consumers",
         "status": "suspected"},
    ],
    "whys": [
        {"chain": "main", "question": "Why did accuracy drop?",
         "answer": "Two input features reached the model wrong: one missing (imputed), one rescaled.",
         "then": [{"question": "Why were the features wrong?",
                   "answer": "The upstream export v2 renamed one column and changed the unit of another.",
                   "cause": "Upstream export v2 renamed column 'mean radius' to 'radius_mean'",
                   "then": [{"question": "Why did the scorer accept them?",
                             "answer": "Nothing checks the columns, types or ranges of incoming records.",
                             "cause": "No schema contract between the export and the scorer"}]}]},
    ],
    "actions": [
        {"text": "Validate columns, types and value ranges at ingestion; reject instead of imputing",
         "owner": "data-platform", "status": "in_progress",
         "cause": "No schema contract between the export and the scorer"},
        {"text": "Subscribe the ML team to upstream export change notices", "owner": "ml-team",
         "cause": "Upstream change not announced to downstream consumers"},
    ],
}

_CTR_DROP = {
    "problem": "Recommendation CTR dropped about 15% shortly after a ranker release",
    "causes": [
        {"category": "Model", "text": "recs-ranker v42 changed the transform of user_tenure_days",
         "status": "confirmed", "events": ["recs-ranker v42"],
         "notes": "v42 was promoted ~30 min before the onset; the feature's serving distribution shifted.",
         "children": [{"text": "Release review did not compare feature transforms between versions",
                       "status": "suspected"}]},
        {"category": "Features & pipeline", "text": "Training/serving skew on user_tenure_days",
         "status": "confirmed", "events": ["recs-ranker v42"]},
        {"category": "Code & config", "text": "checkout-service 3.2.0 deploy the day before", "status": "ruled_out",
         "events": ["checkout-service 3.2.0"], "notes": "CTR stayed normal for the day after this deploy."},
        {"category": "Code & config", "text": "recs-api candidate pool size 800 -> 850", "status": "ruled_out",
         "events": ["candidate pool"], "notes": "Days before the onset; CTR unchanged afterwards."},
        {"category": "Environment & external", "text": "Spring sale e-mail campaign shifted traffic",
         "status": "ruled_out", "events": ["campaign"],
         "notes": "On another day; CTR by platform did not move during the campaign."},
        {"category": "Process & people", "text": "Model promoted without a CTR canary", "status": "suspected"},
    ],
    "whys": [
        {"chain": "main", "question": "Why did CTR drop?",
         "answer": "The ranker's scores shifted for every platform right after v42 was promoted.",
         "then": [
             {"question": "Why did the scores shift?",
              "answer": "v42 computes user_tenure_days differently from the features it was trained on.",
              "cause": "recs-ranker v42 changed the transform of user_tenure_days"},
             {"question": "Why was it not caught before full rollout?",
              "answer": "Promotion to champion has no canary comparing CTR with the previous model.",
              "cause": "Model promoted without a CTR canary"},
         ]},
    ],
    "actions": [
        {"text": "Roll back to the previous ranker and fix the user_tenure_days transform", "owner": "recs-team",
         "status": "done", "cause": "recs-ranker v42 changed the transform of user_tenure_days"},
        {"text": "Add a feature-transform parity test to the model release checklist", "owner": "ml-platform",
         "cause": "Release review did not compare feature transforms between versions"},
        {"text": "Canary new rankers on 5% of traffic with a CTR guardrail", "owner": "ml-platform",
         "cause": "Model promoted without a CTR canary"},
    ],
}

_FRAUD_STALE = {
    "problem": "Fraud scores collapsed to a constant 0.5 and transactions backed up in manual review",
    "causes": [
        {"category": "Features & pipeline", "text": "Account feature feed went stale after 02:05",
         "status": "confirmed", "events": ["account-features-refresh"],
         "notes": "The hourly refresh waited for an upstream partition that never arrived.",
         "children": [{"text": "Feature cache misses fall back to default features silently",
                       "status": "confirmed"}]},
        {"category": "Model", "text": "Model returns the default score 0.5 when features are missing",
         "status": "confirmed"},
        {"category": "Infrastructure", "text": "txn-processor latency and timeouts", "status": "ruled_out",
         "events": ["p95 latency"],
         "notes": "A downstream effect: every transaction went to manual review. Failover did not help."},
        {"category": "Code & config", "text": "fraud-scorer block threshold 0.80 -> 0.82", "status": "ruled_out",
         "events": ["block threshold"], "notes": "A day earlier; cannot produce constant scores."},
        {"category": "Process & people", "text": "No freshness alert on the feature feed", "status": "confirmed"},
    ],
    "whys": [
        {"chain": "main", "question": "Why did fraud scores collapse to 0.5?",
         "answer": "The model received default features for almost every account.",
         "cause": "Model returns the default score 0.5 when features are missing",
         "then": [{"question": "Why were the features defaults?",
                   "answer": "The account feature feed stopped refreshing; the cache missed and used defaults.",
                   "cause": "Account feature feed went stale after 02:05",
                   "then": [{"question": "Why did nobody notice for two hours?",
                             "answer": "The feed has no freshness alert; only downstream latency alerted.",
                             "cause": "No freshness alert on the feature feed"}]}]},
    ],
    "actions": [
        {"text": "Add a freshness SLO and alert on account-features-refresh", "owner": "data-platform",
         "cause": "No freshness alert on the feature feed"},
        {"text": "Alert when more than 5% of predictions use default features", "owner": "fraud-ml",
         "cause": "Feature cache misses fall back to default features silently"},
    ],
}

DEMO_SPECS = {"demo-schema-change": _SCHEMA_CHANGE, "demo-ctr-drop": _CTR_DROP, "demo-fraud-stale": _FRAUD_STALE,
              "demo-image-downscale": __import__("core.demo.images_demo", fromlist=["FISHBONE"]).FISHBONE}


def demo_fishbone_spec(incident_id: str) -> dict[str, Any]:
    """The pre-drawn fishbone spec of a demo incident.

    Raises:
        InvalidInputError: ``incident_id`` is not one of the demo incidents.
    """
    import copy

    if incident_id not in DEMO_SPECS:
        raise InvalidInputError(
            f"'{incident_id}' is not a demo incident; choose one of {', '.join(sorted(DEMO_SPECS))}"
        )
    return copy.deepcopy(DEMO_SPECS[incident_id])


def seed_fishbone(store: Store, incident_id: str, spec: dict[str, Any], *, only_if_empty: bool = True) -> bool:
    """Load a spec into an incident's fishbone (categories, causes, whys, action items).

    Args:
        store: the incident store.
        incident_id: the incident to fill.
        spec: the spec (see the module docstring); also what the JSON export writes.
        only_if_empty: do nothing when the fishbone already has a problem statement or causes
            (idempotent seeding, safe when several processes seed at once).

    Returns:
        True when something was loaded.

    Raises:
        InvalidInputError: the spec names an unknown category or cause, or has bad texts.
    """
    if not isinstance(spec, dict):
        raise InvalidInputError("a fishbone spec must be a mapping with 'problem', 'causes', 'whys', 'actions'")
    current = fb.get_fishbone(store, incident_id)
    if only_if_empty and (current.causes or current.problem):
        return False
    if spec.get("problem"):
        try:  # also claims the seeding: of several processes seeding at once, only one gets here
            current = fb.update_problem(store, incident_id, spec["problem"], version=current.version)
        except ConcurrentEditError:
            if only_if_empty:
                return False
            raise
    names = {fb.normalise(c.name): c.id for c in current.categories}
    for name in spec.get("categories") or ():
        if fb.normalise(name) not in names:
            names[fb.normalise(name)] = fb.add_category(store, incident_id, name).id
    events = list_events(store, incident_id)
    by_text: dict[str, int] = {fb.normalise(c.text): c.id for c in current.causes}

    def refs(item: dict[str, Any]) -> list[dict[str, Any]]:
        out = list(item.get("evidence") or ())
        for fragment in item.get("events") or ():
            matches = [ev for ev in events if fragment.lower() in ev.title.lower()]
            if matches:  # the latest match: e.g. the last successful run before a feed went stale
                out.append(fb.event_ref(matches[-1]))
        return out

    def add(item: dict[str, Any], parent: int | None, category: str | None) -> None:
        category = item.get("category") or category
        if parent is None and fb.normalise(category or "") not in names:
            raise InvalidInputError(
                f"the spec puts cause '{item.get('text')}' in category '{category}', which does not exist; "
                "list it under 'categories'"
            )
        cause = fb.add_cause(
            store, incident_id, category_id=None if parent else names[fb.normalise(category)], parent_id=parent,
            text=item.get("text", ""), status=item.get("status", CauseStatus.SUSPECTED),
            notes=item.get("notes", ""), evidence=refs(item),
        )
        by_text[fb.normalise(cause.text)] = cause.id
        for child in item.get("children") or ():
            add(child, cause.id, category)

    for item in spec.get("causes") or ():
        add(item, None, None)

    def cause_id(text: str | None) -> int | None:
        if not text:
            return None
        if fb.normalise(text) not in by_text:
            raise InvalidInputError(f"the spec links to cause '{text}', which is not among its causes")
        return by_text[fb.normalise(text)]

    def add_step(step: dict[str, Any], parent: int | None, chain: str) -> None:
        made = fb.add_why(store, incident_id, chain=step.get("chain") or chain, parent_id=parent,
                          question=step.get("question", ""), answer=step.get("answer", ""),
                          evidence=refs(step), cause_id=cause_id(step.get("cause")))
        for nxt in step.get("then") or ():
            add_step(nxt, made.id, made.chain)

    for step in spec.get("whys") or ():
        add_step(step, None, step.get("chain") or "main")
    for action in spec.get("actions") or ():
        ai.add_action_item(store, incident_id, text=action.get("text", ""), owner=action.get("owner", ""),
                           due=action.get("due"), status=action.get("status", "open"),
                           cause_id=cause_id(action.get("cause")))
    return True


def seed_demo_fishbone(store: Store, incident_id: str, spec: dict[str, Any] | None = None) -> bool:
    """Give a demo incident its pre-drawn fishbone unless it already has one (idempotent)."""
    return seed_fishbone(store, incident_id, spec if spec is not None else demo_fishbone_spec(incident_id))
