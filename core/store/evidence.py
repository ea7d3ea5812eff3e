"""Pinned evidence: frozen findings with their query, window and a compact result."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from core.errors import InvalidInputError, NotFoundError
from core.jsonsafe import jsonable
from core.models import Evidence, EventKind, TimeWindow
from core.store import Store
from core.store.tables import evidence as evidence_table
from core.store.timeline import add_events

if TYPE_CHECKING:
    from core.evidence.registry import EvidencePayload

MAX_RESULT_BYTES = 256_000


def digest_of(kind: str, query: dict[str, Any], window: TimeWindow | None, result: dict[str, Any]) -> str:
    payload = json.dumps(
        {"kind": kind, "query": query, "window": window.to_dict() if window else None, "result": result},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def pin_evidence(
    store: Store,
    incident_id: str,
    *,
    kind: str,
    title: str,
    query: dict[str, Any],
    result: dict[str, Any] | EvidencePayload,
    window: TimeWindow | None = None,
    author: str = "",
    timeline_at: datetime | None = None,
    event_kind: EventKind = EventKind.FINDING,
) -> Evidence:
    """Freeze a finding onto an incident, and put it on the timeline (at ``timeline_at`` or the window end).

    ``result`` is the finding's JSON dict, or a typed payload of its kind (``core.evidence.kinds``),
    stored as its ``to_payload()``.
    """
    from core.evidence.registry import payload_dict

    query = jsonable(query)
    result = jsonable(payload_dict(result))
    size = len(json.dumps(result))
    if size > MAX_RESULT_BYTES:
        raise InvalidInputError(
            f"the finding is {size // 1000} kB; evidence keeps at most {MAX_RESULT_BYTES // 1000} kB — "
            "pin a summary or fewer sample rows"
        )
    digest = digest_of(kind, query, window, result)
    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        evidence_id = conn.execute(insert(evidence_table).values(
            incident_id=incident_id, kind=kind, title=title, query=query,
            window_start=window.start if window else None, window_end=window.end if window else None,
            result=result, digest=digest, created_at=now, author=author,
        )).inserted_primary_key[0]
    when = timeline_at or (window.end if window else now)
    add_events(store, incident_id, [{
        "timestamp": when, "kind": event_kind.value, "source": kind, "title": title, "pinned": True,
        "author": author, "evidence_id": evidence_id, "details": {"digest": digest[:12]},
    }])
    return get_evidence(store, evidence_id)


def _from_row(row: Any) -> Evidence:
    m = row._mapping
    window = TimeWindow(m["window_start"], m["window_end"]) if m["window_start"] and m["window_end"] else None
    return Evidence(
        id=m["id"], incident_id=m["incident_id"], kind=m["kind"], title=m["title"], query=m["query"],
        window=window, result=m["result"], digest=m["digest"], created_at=m["created_at"], author=m["author"],
    )


def get_evidence(store: Store, evidence_id: int) -> Evidence:
    with store.engine.connect() as conn:
        row = conn.execute(select(evidence_table).where(evidence_table.c.id == evidence_id)).first()
    if row is None:
        raise NotFoundError(f"no evidence {evidence_id}")
    return _from_row(row)


def list_evidence(store: Store, incident_id: str, kind: str | None = None) -> list[Evidence]:
    q = select(evidence_table).where(evidence_table.c.incident_id == incident_id).order_by(evidence_table.c.id)
    if kind:
        q = q.where(evidence_table.c.kind == kind)
    with store.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(q).fetchall()]


def count_evidence(store: Store, incident_id: str) -> int:
    from sqlalchemy import func

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(evidence_table)
                                .where(evidence_table.c.incident_id == incident_id)).scalar_one())
