"""Presence: who is looking at which incident and page, from heartbeats kept in the store.

Every open page sends a heartbeat every few seconds (``ui/presence.py``); a session whose last
heartbeat is older than :data:`STALE_AFTER` is gone. Because the rows live in the store, several
app replicas on one PostgreSQL see the same people. "Follow the commander" reads the commander's
row: their page and time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select, update

from core.models import TimeWindow
from core.store import Store
from core.store.tables import presence

__all__ = ["Presence", "PersonHere", "heartbeat", "leave", "present", "people_here", "commander_view", "STALE_AFTER",
           "HEARTBEAT_SECONDS"]

HEARTBEAT_SECONDS = 4.0
STALE_AFTER = timedelta(seconds=15)


@dataclass(frozen=True)
class Presence:
    session_id: str
    user: str
    name: str
    role: str
    incident_id: str | None
    page: str
    window: TimeWindow | None
    replica: str
    seen_at: datetime

    @property
    def label(self) -> str:
        return self.name or self.user


def _now() -> datetime:
    return datetime.now(timezone.utc)


def heartbeat(store: Store, session_id: str, *, user: str, name: str = "", role: str, incident_id: str | None,
              page: str, window: TimeWindow | None = None, replica: str = "", at: datetime | None = None) -> None:
    """Record that this browser session is looking at ``incident_id`` on ``page`` now."""
    values = dict(user_name=user[:200], display_name=(name or "")[:200], role=role, incident_id=incident_id,
                  page=(page or "")[:100], range_start=window.start if window else None,
                  range_end=window.end if window else None, replica=(replica or "")[:100], seen_at=at or _now())
    with store.engine.begin() as conn:
        done = conn.execute(update(presence).where(presence.c.session_id == session_id).values(**values))
        if not done.rowcount:
            conn.execute(insert(presence).values(session_id=session_id, **values))


def leave(store: Store, session_id: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(presence).where(presence.c.session_id == session_id))


def _row(m) -> Presence:
    window = TimeWindow(m["range_start"], m["range_end"]) if m["range_start"] and m["range_end"] else None
    return Presence(session_id=m["session_id"], user=m["user_name"], name=m["display_name"] or "", role=m["role"],
                    incident_id=m["incident_id"], page=m["page"] or "", window=window, replica=m["replica"] or "",
                    seen_at=m["seen_at"])


def present(store: Store, incident_id: str | None = None, *, now: datetime | None = None) -> list[Presence]:
    """Sessions seen within :data:`STALE_AFTER` (on one incident, when given), most recent first."""
    since = (now or _now()) - STALE_AFTER
    q = select(presence).where(presence.c.seen_at >= since).order_by(presence.c.seen_at.desc())
    if incident_id is not None:
        q = q.where(presence.c.incident_id == incident_id)
    with store.engine.connect() as conn:
        return [_row(m) for m in conn.execute(q).mappings().fetchall()]


@dataclass(frozen=True)
class PersonHere:
    """One person on an incident, however many tabs they have open: their pages, most recent first."""

    user: str
    name: str
    role: str
    pages: tuple[str, ...]
    tabs: int
    session_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.name or self.user


def people_here(sessions: list[Presence]) -> list[PersonHere]:
    """Sessions grouped by person (their user name), in the order of each person's latest heartbeat.

    The role and name are those of the person's most recent session; ``pages`` lists each page once.
    """
    grouped: dict[str, list[Presence]] = {}
    for p in sorted(sessions, key=lambda p: p.seen_at, reverse=True):
        grouped.setdefault(p.user, []).append(p)
    out = []
    for user, rows in grouped.items():
        pages = tuple(dict.fromkeys(r.page or "incidents" for r in rows))
        name = next((r.name for r in rows if r.name), "")
        out.append(PersonHere(user=user, name=name, role=rows[0].role, pages=pages, tabs=len(rows),
                              session_ids=tuple(r.session_id for r in rows)))
    return out


def _matches(person: str, p: Presence) -> bool:
    want = person.strip().lower()
    if not want:
        return False
    names = {p.user.lower(), p.name.lower(), p.user.lower().split("@")[0]}
    return want in names or want.split("@")[0] in names


def commander_view(store: Store, incident_id: str, commander: str | None, *,
                   exclude_session: str | None = None) -> Presence | None:
    """The incident commander's live view: the session of the person named as incident commander, else the
    most recent session of someone with the commander access role; None when no commander is looking."""
    sessions = [p for p in present(store, incident_id) if p.session_id != exclude_session]
    named = [p for p in sessions if commander and _matches(commander, p)]
    if named:
        return named[0]
    return next((p for p in sessions if p.role == "commander"), None)
