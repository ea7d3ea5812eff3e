"""ICS role board and command handover.

The ICS roles of an incident (incident commander, ops lead, scribe, comms lead, liaison and the
subject-matter experts) are the incident's ``roles``. A handover moves one role from the outgoing
to the incoming person with a required summary (the state of the incident as handed over), and
records, in one transaction: the new role holder on the incident (version-checked: a stale board
is refused), a ``handovers`` row and a milestone event on the timeline. Changing ICS roles is the
commander's (checked by the store on the incident update).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select, update

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import ROLE_LABELS, EventKind, Role
from core.store import Store
from core.store.incidents import get_incident
from core.store.tables import handovers, incidents, timeline_events

__all__ = ["Handover", "hand_over", "list_handovers", "MIN_SUMMARY_CHARS"]

MIN_SUMMARY_CHARS = 20
MAX_SUMMARY_CHARS = 4000


@dataclass(frozen=True)
class Handover:
    id: int
    incident_id: str
    role: str
    outgoing: str
    incoming: str
    summary: str
    at: datetime
    recorded_by: str
    event_id: int | None

    @property
    def role_label(self) -> str:
        try:
            return ROLE_LABELS[Role(self.role)]
        except (KeyError, ValueError):
            return self.role


def hand_over(store: Store, incident_id: str, *, role: Role | str, incoming: str, summary: str, version: int,
              recorded_by: str = "", at: datetime | None = None) -> Handover:
    """Hand ``role`` of the incident to ``incoming``; the outgoing person is the current holder.

    Raises:
        InvalidInputError: unknown role, nobody incoming, the same person, or a summary under
            :data:`MIN_SUMMARY_CHARS` characters.
        ConcurrentEditError: the incident changed since ``version`` (someone else handed over or edited it).
        PermissionDeniedError: the acting person is not a commander.
    """
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"'{role}' is not an ICS role; use one of {allowed}") from None
    incoming = " ".join(str(incoming or "").split())
    summary = str(summary or "").strip()
    if not incoming:
        raise InvalidInputError("a handover needs the incoming person's name")
    if len(summary) < MIN_SUMMARY_CHARS:
        raise InvalidInputError(
            f"a handover needs a summary of at least {MIN_SUMMARY_CHARS} characters (current state, open "
            f"actions, next decision); this one has {len(summary)}")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise InvalidInputError(f"the handover summary is {len(summary)} characters; keep it under {MAX_SUMMARY_CHARS}")
    when = at or datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        row = conn.execute(select(incidents.c.roles, incidents.c.version).where(incidents.c.id == incident_id)).first()
        if row is None:
            raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
        roles = dict(row.roles or {})
        outgoing = roles.get(role.value, "")
        if outgoing.strip().lower() == incoming.lower():
            raise InvalidInputError(f"{incoming} already holds the {ROLE_LABELS[role]} role; choose someone else")
        roles[role.value] = incoming
        done = conn.execute(update(incidents).where(incidents.c.id == incident_id, incidents.c.version == version)
                            .values(roles=roles, version=incidents.c.version + 1, updated_at=when))
        if done.rowcount != 1:
            conn.rollback()
            raise ConcurrentEditError(f"Incident {incident_id}'s roles", current=get_incident(store, incident_id))
        label = ROLE_LABELS[role]
        title = f"{label} handed over: {outgoing or 'nobody'} → {incoming}"
        event_id = conn.execute(insert(timeline_events).values(
            incident_id=incident_id, ts=when, kind=EventKind.MILESTONE.value, source="handover", title=title,
            details={"role": role.value, "outgoing": outgoing, "incoming": incoming, "summary": summary},
            pinned=True, author=recorded_by, deleted=False, version=1, created_at=when)).inserted_primary_key[0]
        hid = conn.execute(insert(handovers).values(
            incident_id=incident_id, role=role.value, outgoing=outgoing, incoming=incoming, summary=summary,
            at=when, recorded_by=recorded_by, event_id=event_id)).inserted_primary_key[0]
    return Handover(hid, incident_id, role.value, outgoing, incoming, summary, when, recorded_by, event_id)


def list_handovers(store: Store, incident_id: str) -> list[Handover]:
    """The incident's handovers, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(handovers).where(handovers.c.incident_id == incident_id)
                            .order_by(handovers.c.at, handovers.c.id)).mappings().fetchall()
    return [Handover(r["id"], r["incident_id"], r["role"], r["outgoing"], r["incoming"], r["summary"], r["at"],
                     r["recorded_by"], r["event_id"]) for r in rows]
