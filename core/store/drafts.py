"""Drafts: a person's unsent text, kept in the store so it survives a reload of the tab (and a replica).

One row per person and purpose (``handover:INC-1:incident_commander``). Anyone signed in may keep their
own drafts, a viewer too (like presence); drafts are not audited: they are not changes to an incident.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, insert, select, update

from core.store import Store
from core.store.tables import drafts

__all__ = ["save_draft", "get_draft", "drop_draft", "MAX_DRAFT"]

MAX_DRAFT = 20_000


def save_draft(store: Store, user: str, purpose: str, text: str) -> None:
    """Keep ``text`` as ``user``'s draft for ``purpose`` (an empty text removes the draft)."""
    if not (text or "").strip():
        drop_draft(store, user, purpose)
        return
    values = {"text": text[:MAX_DRAFT], "updated_at": datetime.now(timezone.utc)}
    key = (drafts.c.user_name == user[:200]) & (drafts.c.purpose == purpose[:200])
    with store.engine.begin() as conn:
        if not conn.execute(update(drafts).where(key).values(**values)).rowcount:
            conn.execute(insert(drafts).values(user_name=user[:200], purpose=purpose[:200], **values))


def get_draft(store: Store, user: str, purpose: str) -> str:
    """``user``'s draft for ``purpose`` ('' when there is none)."""
    q = select(drafts.c.text).where((drafts.c.user_name == user[:200]) & (drafts.c.purpose == purpose[:200]))
    with store.engine.connect() as conn:
        return conn.execute(q).scalar() or ""


def drop_draft(store: Store, user: str, purpose: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(drafts).where((drafts.c.user_name == user[:200]) & (drafts.c.purpose == purpose[:200])))
