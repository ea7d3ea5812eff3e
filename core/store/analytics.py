"""What analytics across incidents reads from the store: incidents, fishbone causes, action items, signatures.

The analyses (:mod:`core.analysis.incident_analytics`, :mod:`core.analysis.similar`) are pure;
this is their one reader.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from core.analysis.similar import IncidentSignature, signature_of
from core.errors import NotFoundError
from core.models import ActionItem, CauseRecord, CauseStatus, EventKind, Incident
from core.store import Store
from core.store.action_items import GuardRailLink, guard_rail_links, list_action_items
from core.store.incidents import list_incidents
from core.store.tables import action_items, categories, causes, evidence, incidents, timeline_events

#: Timeline kinds and evidence kinds a signature reads (the rest cannot change it).
SIGNATURE_EVENT_KINDS = (EventKind.ALERT.value, EventKind.MODEL_VERSION.value, EventKind.DATA_PIPELINE.value)
SIGNATURE_EVIDENCE_KINDS = ("drift", "schema", "log_patterns")


def _cause_records(store: Store, incident_ids: list[str] | None = None) -> list[CauseRecord]:
    q = (select(causes.c.incident_id, causes.c.text, causes.c.status, categories.c.name)
         .join(categories, categories.c.id == causes.c.category_id).order_by(causes.c.id))
    if incident_ids is not None:
        q = q.where(causes.c.incident_id.in_(incident_ids))
    with store.engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    return [CauseRecord(r[0], r[1], CauseStatus(r[2]), r[3] or "") for r in rows]


def load_analytics_inputs(store: Store) -> tuple[list[Incident], list[CauseRecord], list[ActionItem]]:
    """Read every incident, fishbone cause and action item (read-only)."""
    incidents = list_incidents(store)
    records = _cause_records(store)
    actions = [a for i in incidents for a in list_action_items(store, i.id)]
    return incidents, records, actions


def load_guard_rails(store: Store) -> list[GuardRailLink]:
    """Every action item that names the guard rail it implements, with its status and done time."""
    return guard_rail_links(store)


def _signatures(store: Store, incidents: list[Incident]) -> list[IncidentSignature]:
    from core.models import Evidence, TimelineEvent

    ids = [i.id for i in incidents]
    events: dict[str, list[TimelineEvent]] = defaultdict(list)
    found: dict[str, list[Evidence]] = defaultdict(list)
    with store.engine.connect() as conn:
        for r in conn.execute(select(timeline_events.c.incident_id, timeline_events.c.kind, timeline_events.c.ts,
                                     timeline_events.c.title, timeline_events.c.details)
                              .where(timeline_events.c.incident_id.in_(ids),
                                     timeline_events.c.kind.in_(SIGNATURE_EVENT_KINDS),
                                     timeline_events.c.deleted.is_(False))
                              .order_by(timeline_events.c.ts, timeline_events.c.id)):
            events[r[0]].append(TimelineEvent(None, r[0], r[2], EventKind(r[1]), r[3], details=dict(r[4] or {})))
        for r in conn.execute(select(evidence.c.incident_id, evidence.c.kind, evidence.c.title, evidence.c.result)
                              .where(evidence.c.incident_id.in_(ids),
                                     evidence.c.kind.in_(SIGNATURE_EVIDENCE_KINDS))
                              .order_by(evidence.c.id)):
            found[r[0]].append(Evidence(None, r[0], r[1], r[2], {}, None, dict(r[3] or {}), ""))
    by_incident: dict[str, list[CauseRecord]] = defaultdict(list)
    for c in _cause_records(store, ids):
        by_incident[c.incident_id].append(c)
    return [signature_of(i, events[i.id], found[i.id], by_incident[i.id]) for i in incidents]


def load_signatures(store: Store) -> list[IncidentSignature]:
    """The signature of every stored incident (:func:`core.analysis.similar.signature_of`)."""
    return _signatures(store, list_incidents(store))


def load_signature(store: Store, incident_id: str) -> IncidentSignature:
    """One incident's signature.

    Raises:
        NotFoundError: no such incident.
    """
    from core.store.incidents import find_incident

    incident = find_incident(store, incident_id)
    if incident is None:
        raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
    return _signatures(store, [incident])[0]


def signatures_revision(store: Store) -> tuple[int, ...]:
    """A value that changes whenever anything a signature or a guard-rail link reads changes (rows added,
    edited or removed): a cache key for :func:`load_signatures` and :func:`load_guard_rails`."""
    parts = []
    with store.engine.connect() as conn:
        for table in (incidents, causes, timeline_events, action_items):
            row = conn.execute(select(func.count(), func.coalesce(func.sum(table.c.version), 0))
                               .select_from(table)).one()
            parts += [int(row[0]), int(row[1])]
        row = conn.execute(select(func.count(), func.coalesce(func.max(evidence.c.id), 0))).one()
        parts += [int(row[0]), int(row[1])]
    return tuple(parts)
