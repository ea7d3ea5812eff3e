"""Repository functions for the action items of an incident, optionally linked to a fishbone cause.

The same rules as :mod:`core.store.fishbone`: every change carries the version the
editor last saw, and a stale write is refused with
:class:`~core.errors.ConcurrentEditError` holding the fresh item (or ``None`` when it
was deleted). :func:`core.store.fishbone.get_fishbone` also returns an incident's items.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, update

from core.errors import InvalidInputError, NotFoundError
from core.models import ActionItem, ActionStatus
from core.store import Store
from core.store.fishbone import _action, _cause_in, _incident_of, _row, _single_line, _stale, _text
from core.store.tables import action_items, incidents

MAX_ACTION = 500


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
) -> ActionItem:
    """Add an action item, optionally linked to a fishbone cause."""
    with store.engine.connect() as conn:
        if not conn.execute(select(incidents.c.id).where(incidents.c.id == incident_id)).first():
            raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
    values = _action_values(store, incident_id, {"text": text, "owner": owner, "due": due, "status": status,
                                                 "cause_id": cause_id})
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
    """Change an action item (text, owner, due, status, cause_id) if still at ``version``.

    Raises:
        ConcurrentEditError: someone else changed or deleted it; ``.current`` is the fresh item or None.
    """
    allowed = {"text", "owner", "due", "status", "cause_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"unknown action-item field(s): {', '.join(sorted(unknown))}")
    incident_id = _incident_of(store, action_items, item_id, "action item")
    values = _action_values(store, incident_id, changes)
    with store.engine.begin() as conn:
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
