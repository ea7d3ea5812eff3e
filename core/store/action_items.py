"""Repository functions for the action items of an incident, optionally linked to a fishbone cause.

An item may name the guard rail it implements (``prevents``: ``rule:<alert or guard>``,
``contract:<suite or column set>`` or ``fallback:<policy or condition>``, the guard rails of
:mod:`core.prevention`); the store records when its status became done (``done_at``), which
for a guard rail is when it shipped. :func:`guard_rail_links` reads both for recurrence analytics.

The same rules as :mod:`core.store.fishbone`: every change carries the version the
editor last saw, and a stale write is refused with
:class:`~core.errors.ConcurrentEditError` holding the fresh item (or ``None`` when it
was deleted). :func:`core.store.fishbone.get_fishbone` also returns an incident's items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import delete, insert, select, update

from core.errors import InvalidInputError, NotFoundError
from core.models import ActionItem, ActionStatus
from core.store import Store
from core.store.fishbone import _action, _cause_in, _incident_of, _row, _single_line, _stale, _text
from core.store.tables import action_items, incidents

MAX_ACTION = 500
MAX_PREVENTS = 200
#: The kinds of guard rail an action item can implement (core.prevention: rules, data contracts, fallbacks).
GUARD_RAIL_KINDS = ("rule", "contract", "fallback")


@dataclass(frozen=True)
class GuardRailLink:
    """An action item that implements a guard rail: what it prevents, its status and when it was done."""

    item_id: int
    incident_id: str
    text: str
    prevents: str  # "<kind>:<name>"
    status: ActionStatus
    done_at: datetime | None
    version: int

    @property
    def kind(self) -> str:
        return self.prevents.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.prevents.split(":", 1)[1]

    @property
    def shipped(self) -> bool:
        return self.status == ActionStatus.DONE and self.done_at is not None


def parse_prevents(value: Any) -> str | None:
    """A guard-rail reference ``kind:name`` cleaned, None for empty, or a message showing the form.

    Raises:
        InvalidInputError: not ``rule:…``, ``contract:…`` or ``fallback:…``, or too long.
    """
    if value is None or str(value).strip() == "":
        return None
    text = _single_line(str(value).strip())
    kind, sep, name = text.partition(":")
    kind, name = kind.strip().lower(), name.strip()
    if not sep or kind not in GUARD_RAIL_KINDS or not name:
        raise InvalidInputError(
            f"'{text[:80]}' is not a guard rail; write it as rule:<alert name>, contract:<suite> or "
            "fallback:<policy>, e.g. rule:FeatureFreshness or fallback:circuit_breaker")
    if len(text) > MAX_PREVENTS:
        raise InvalidInputError(f"the guard rail name is {len(text)} characters long; keep it under {MAX_PREVENTS}")
    return f"{kind}:{name}"


def _action_status(value: Any) -> str:
    try:
        return ActionStatus(value).value
    except ValueError:
        allowed = ", ".join(s.value for s in ActionStatus)
        raise InvalidInputError(f"'{value}' is not an action status; choose one of {allowed}") from None


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError(f"'{value}' is not a date; write it like 2024-05-31") from None


def _action_values(store: Store, incident_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "text" in changes:
        values["text"] = _single_line(_text(changes["text"], "action item", MAX_ACTION))
    if "owner" in changes:
        values["owner"] = _text(changes["owner"], "owner", 200, required=False)
    if "due" in changes:
        values["due"] = _date(changes["due"])
    if "status" in changes:
        values["status"] = _action_status(changes["status"])
    if "prevents" in changes:
        values["prevents"] = parse_prevents(changes["prevents"])
    if "cause_id" in changes:
        with store.engine.connect() as conn:
            values["cause_id"] = _cause_in(conn, incident_id, changes["cause_id"])
    return values


def add_action_item(
    store: Store,
    incident_id: str,
    *,
    text: str,
    owner: str = "",
    due: date | str | None = None,
    status: ActionStatus | str = ActionStatus.OPEN,
    cause_id: int | None = None,
    prevents: str | None = None,
) -> ActionItem:
    """Add an action item, optionally linked to a fishbone cause and to the guard rail it implements."""
    with store.engine.connect() as conn:
        if not conn.execute(select(incidents.c.id).where(incidents.c.id == incident_id)).first():
            raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
    values = _action_values(store, incident_id, {"text": text, "owner": owner, "due": due, "status": status,
                                                 "cause_id": cause_id, "prevents": prevents})
    if values["status"] == ActionStatus.DONE.value:
        values["done_at"] = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        new_id = conn.execute(insert(action_items).values(incident_id=incident_id, version=1, **values)
                              ).inserted_primary_key[0]
        return _action(_row(conn, action_items, new_id))


def list_action_items(store: Store, incident_id: str, *, cause_id: int | None = None) -> list[ActionItem]:
    """Action items of an incident (only those of ``cause_id`` when given), oldest first."""
    q = select(action_items).where(action_items.c.incident_id == incident_id).order_by(action_items.c.id)
    if cause_id is not None:
        q = q.where(action_items.c.cause_id == cause_id)
    with store.engine.connect() as conn:
        return [_action(r) for r in conn.execute(q).fetchall()]


def get_action_item(store: Store, item_id: int) -> ActionItem:
    with store.engine.connect() as conn:
        row = _row(conn, action_items, item_id)
    if row is None:
        raise NotFoundError(f"no action item {item_id}; it may have been deleted by someone else — reload")
    return _action(row)


def update_action_item(store: Store, item_id: int, *, version: int, **changes: Any) -> ActionItem:
    """Change an action item (text, owner, due, status, cause_id, prevents) if still at ``version``.

    Setting the status to done records when (``done_at``); moving it back from done clears it.

    Raises:
        ConcurrentEditError: someone else changed or deleted it; ``.current`` is the fresh item or None.
    """
    allowed = {"text", "owner", "due", "status", "cause_id", "prevents"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"unknown action-item field(s): {', '.join(sorted(unknown))}")
    incident_id = _incident_of(store, action_items, item_id, "action item")
    values = _action_values(store, incident_id, changes)
    with store.engine.begin() as conn:
        if "status" in values:
            before = conn.execute(select(action_items.c.status, action_items.c.done_at)
                                  .where(action_items.c.id == item_id)).first()
            if values["status"] != ActionStatus.DONE.value:
                values["done_at"] = None
            elif before is None or before[0] != ActionStatus.DONE.value or before[1] is None:
                values["done_at"] = datetime.now(timezone.utc)
        result = conn.execute(update(action_items)
                              .where(action_items.c.id == item_id, action_items.c.version == version)
                              .values(version=action_items.c.version + 1, **values))
        if result.rowcount != 1:
            row = _row(conn, action_items, item_id)
            raise _stale("The action item", _action(row) if row else None)
        return _action(_row(conn, action_items, item_id))


def delete_action_item(store: Store, item_id: int, *, version: int) -> None:
    """Delete an action item if it is still at ``version``."""
    with store.engine.begin() as conn:
        result = conn.execute(delete(action_items).where(action_items.c.id == item_id,
                                                         action_items.c.version == version))
        if result.rowcount != 1:
            row = _row(conn, action_items, item_id)
            raise _stale("The action item", _action(row) if row else None)


def _link(row: Any) -> GuardRailLink:
    m = row._mapping
    return GuardRailLink(item_id=m["id"], incident_id=m["incident_id"], text=m["text"], prevents=m["prevents"],
                         status=ActionStatus(m["status"]), done_at=m["done_at"], version=m["version"])


def guard_rail_links(store: Store, incident_id: str | None = None) -> list[GuardRailLink]:
    """Action items that name a guard rail (of one incident, or all), oldest first."""
    q = select(action_items).where(action_items.c.prevents.is_not(None)).order_by(action_items.c.id)
    if incident_id is not None:
        q = q.where(action_items.c.incident_id == incident_id)
    with store.engine.connect() as conn:
        return [_link(r) for r in conn.execute(q).fetchall()]


def set_done_at(store: Store, item_id: int, *, version: int, done_at: datetime) -> ActionItem:
    """Record when a done item was done (an import of past work, or a correction) if still at ``version``.

    Raises:
        InvalidInputError: the item is not done, or the time is naive or in the future.
        ConcurrentEditError: someone else changed it first.
    """
    if done_at.tzinfo is None:
        raise InvalidInputError("the done time has no time zone; give it in UTC, like 2026-03-01T12:00:00Z")
    if done_at > datetime.now(timezone.utc):
        raise InvalidInputError(f"the done time {done_at.isoformat()} is in the future")
    with store.engine.begin() as conn:
        row = _row(conn, action_items, item_id)
        if row is None or row._mapping["version"] != version:
            raise _stale("The action item", _action(row) if row else None)
        if row._mapping["status"] != ActionStatus.DONE.value:
            raise InvalidInputError(f"action item {item_id} is not done; set its status to done first")
        conn.execute(update(action_items).where(action_items.c.id == item_id, action_items.c.version == version)
                     .values(version=version + 1, done_at=done_at))
        return _action(_row(conn, action_items, item_id))
