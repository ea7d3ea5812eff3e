"""What analytics across incidents reads from the store: every incident, fishbone cause and action item.

The analysis (:mod:`core.analysis.incident_analytics`) is pure; this is its one reader.
"""

from __future__ import annotations

from sqlalchemy import select

from core.models import ActionItem, CauseRecord, CauseStatus, Incident
from core.store import Store
from core.store.action_items import list_action_items
from core.store.incidents import list_incidents
from core.store.tables import categories, causes


def load_analytics_inputs(store: Store) -> tuple[list[Incident], list[CauseRecord], list[ActionItem]]:
    """Read every incident, fishbone cause and action item (read-only)."""
    incidents = list_incidents(store)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(causes.c.incident_id, causes.c.text, causes.c.status, categories.c.name)
            .join(categories, categories.c.id == causes.c.category_id)
            .order_by(causes.c.id)).fetchall()
    records = [CauseRecord(r[0], r[1], CauseStatus(r[2]), r[3] or "") for r in rows]
    actions = [a for i in incidents for a in list_action_items(store, i.id)]
    return incidents, records, actions
