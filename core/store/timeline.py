"""Repository functions for timeline events; every edit is kept as a revision."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import EventKind, TimelineEvent, iso, utc
from core.store import Store
from core.store.tables import timeline_events, timeline_revisions

_FIELDS = ("timestamp", "end", "kind", "source", "title", "details", "link", "pinned", "author")


def _from_row(row: Any) -> TimelineEvent:
    m = row._mapping
    return TimelineEvent(
        id=m["id"], incident_id=m["incident_id"], timestamp=m["ts"], end=m["end_ts"],
        kind=EventKind(m["kind"]), source=m["source"], title=m["title"],
        details=dict(m["details"] or {}), link=m["link"], pinned=bool(m["pinned"]),
        author=m["author"] or "", evidence_id=m["evidence_id"], version=m["version"],
    )


def _values(ev: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "timestamp" in ev:
        ts = utc(ev["timestamp"])
        if ts is None:
            raise InvalidInputError("a timeline event needs a timestamp")
        out["ts"] = ts
    if "end" in ev:
        out["end_ts"] = utc(ev["end"])
    if "kind" in ev:
        try:
            out["kind"] = EventKind(ev["kind"]).value
        except ValueError:
            raise InvalidInputError(
                f"'{ev['kind']}' is not an event kind; use one of {', '.join(k.value for k in EventKind)}"
            ) from None
    if "title" in ev:
        title = str(ev["title"] or "").strip()
        if not title:
            raise InvalidInputError("a timeline event needs a title")
        out["title"] = title
    for key in ("source", "link", "author"):
        if key in ev:
            out[key] = ev[key] if ev[key] is not None else ("" if key != "link" else None)
    if "details" in ev:
        out["details"] = dict(ev["details"] or {})
    if "pinned" in ev:
        out["pinned"] = bool(ev["pinned"])
    if "evidence_id" in ev:
        out["evidence_id"] = ev["evidence_id"]
    start, end = out.get("ts"), out.get("end_ts")
    if start is not None and end is not None and end < start:
        raise InvalidInputError(
            f"event '{out.get('title', '')}' ends ({iso(end)}) before it starts ({iso(start)})"
        )
    return out


def add_events(store: Store, incident_id: str, events: Iterable[dict[str, Any]]) -> list[int]:
    """Insert events (dicts with timestamp, kind, title, …) atomically; all or nothing."""
    now = datetime.now(timezone.utc)
    rows = []
    for ev in events:
        v = _values(ev)
        for required in ("ts", "kind", "title"):
            if required not in v:
                raise InvalidInputError(f"a timeline event needs '{required.replace('ts', 'timestamp')}'")
        v.setdefault("source", "manual")
        v.setdefault("details", {})
        v.setdefault("pinned", False)
        v.setdefault("author", "")
        rows.append({"incident_id": incident_id, "created_at": now, "version": 1, "deleted": False, **v})
    ids: list[int] = []
    if not rows:
        return ids
    with store.engine.begin() as conn:
        for row in rows:
            ids.append(conn.execute(insert(timeline_events).values(**row)).inserted_primary_key[0])
    return ids


def insert_event_rows(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert prepared ``timeline_events`` rows on ``conn`` in bulk (no ids returned); returns the count.

    The caller owns the transaction, so a bulk import commits or rolls back with its incident.
    Rows hold column values: incident_id, ts, end_ts (aware UTC datetimes or None), kind, source,
    title, details (a JSON-ready dict of finite numbers), author, created_at (the same for all rows
    of a call). PostgreSQL gets one
    COPY per call, SQLite one executemany; both store exactly what an ORM insert would.
    """
    if not rows:
        return 0
    __import__("core.team.guard", fromlist=["bulk_write"]).bulk_write(conn, "timeline_events", rows)  # COPY skips the hooks
    driver = conn.dialect.driver
    if conn.dialect.name == "sqlite" and driver == "pysqlite":
        created = _sqlite_time(rows[0]["created_at"])
        conn.exec_driver_sql(_SQLITE_INSERT, [_sqlite_row(r, created) for r in rows])
    elif conn.dialect.name == "postgresql" and driver == "psycopg2":
        buf = io.StringIO()
        buf.writelines(_copy_line(r) for r in rows)
        buf.seek(0)
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(_COPY, buf)
        finally:
            cursor.close()
    else:
        conn.execute(insert(timeline_events), [{**_BULK_DEFAULTS, **row} for row in rows])
    return len(rows)


_BULK_DEFAULTS = {"end_ts": None, "link": None, "pinned": False, "evidence_id": None, "deleted": False, "version": 1}
_BULK_COLUMNS = "incident_id, ts, end_ts, kind, source, title, details, author, created_at, pinned, deleted, version"
_SQLITE_INSERT = f"INSERT INTO timeline_events ({_BULK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 1)"
_COPY = f"COPY timeline_events ({_BULK_COLUMNS}) FROM STDIN"


def _sqlite_time(t: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME stores for an aware time (naive UTC, microseconds)."""
    if t is None:
        return None
    if t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    return t.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_row(r: dict[str, Any], created: str) -> tuple:
    ts, end = r["ts"], r.get("end_ts")
    ts = ts.replace(tzinfo=None).isoformat(" ", "microseconds") if ts.tzinfo is timezone.utc else _sqlite_time(ts)
    return (r["incident_id"], ts, _sqlite_time(end) if end is not None else None, r["kind"],
            r["source"], r["title"], _json(r["details"]), r["author"], created)


_json = json.JSONEncoder().encode
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value: str | None) -> str:
    """A field of PostgreSQL's COPY text format (backslash escapes, \\N for null)."""
    if value is None:
        return "\\N"
    if not _COPY_SPECIAL.search(value):
        return value
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_line(r: dict[str, Any]) -> str:
    end = r.get("end_ts")
    return "\t".join((
        _copy_text(r["incident_id"]), r["ts"].isoformat(), end.isoformat() if end is not None else "\\N",
        _copy_text(r["kind"]), _copy_text(r["source"]), _copy_text(r["title"]),
        _copy_text(_json(r["details"])), _copy_text(r["author"]), r["created_at"].isoformat(), "f", "f", "1",
    )) + "\n"


def add_event(store: Store, incident_id: str, **event: Any) -> TimelineEvent:
    (event_id,) = add_events(store, incident_id, [event])
    return get_event(store, event_id)


def get_event(store: Store, event_id: int) -> TimelineEvent:
    with store.engine.connect() as conn:
        row = conn.execute(select(timeline_events).where(timeline_events.c.id == event_id)).first()
    if row is None:
        raise NotFoundError(f"no timeline event {event_id}")
    return _from_row(row)


def list_events(
    store: Store,
    incident_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: list[str] | None = None,
) -> list[TimelineEvent]:
    q = (
        select(timeline_events)
        .where(timeline_events.c.incident_id == incident_id, timeline_events.c.deleted.is_(False))
        .order_by(timeline_events.c.ts, timeline_events.c.id)
    )
    if start is not None:
        q = q.where(timeline_events.c.ts >= start)
    if end is not None:
        q = q.where(timeline_events.c.ts < end)
    if kinds:
        q = q.where(timeline_events.c.kind.in_(kinds))
    with store.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(q).fetchall()]


def _snapshot(ev: TimelineEvent) -> dict[str, Any]:
    return {
        "timestamp": iso(ev.timestamp), "end": iso(ev.end), "kind": ev.kind.value, "source": ev.source,
        "title": ev.title, "details": ev.details, "link": ev.link, "pinned": ev.pinned,
    }


def update_event(store: Store, event_id: int, *, version: int, author: str = "", **changes: Any) -> TimelineEvent:
    """Edit an event if unchanged since ``version``; the before/after is kept as a revision."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise InvalidInputError(f"unknown event field(s): {', '.join(sorted(unknown))}")
    before = get_event(store, event_id)
    values = _values(changes)
    merged_start = values.get("ts", before.timestamp)
    merged_end = values.get("end_ts", before.end)
    if merged_end is not None and merged_end < merged_start:
        raise InvalidInputError("an event cannot end before it starts")
    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        res = conn.execute(
            update(timeline_events)
            .where(timeline_events.c.id == event_id, timeline_events.c.version == version)
            .values(version=timeline_events.c.version + 1, **values)
        )
        if res.rowcount != 1:
            raise ConcurrentEditError(f"Timeline event '{before.title}'", current=get_event(store, event_id))
        after_row = conn.execute(select(timeline_events).where(timeline_events.c.id == event_id)).first()
        conn.execute(insert(timeline_revisions).values(
            event_id=event_id, changed_at=now, author=author,
            before=_snapshot(before), after=_snapshot(_from_row(after_row)),
        ))
    return get_event(store, event_id)


def delete_event(store: Store, event_id: int, *, version: int, author: str = "") -> None:
    """Soft-delete (kept in the revision history)."""
    before = get_event(store, event_id)
    with store.engine.begin() as conn:
        res = conn.execute(
            update(timeline_events)
            .where(timeline_events.c.id == event_id, timeline_events.c.version == version)
            .values(deleted=True, version=timeline_events.c.version + 1)
        )
        if res.rowcount != 1:
            raise ConcurrentEditError(f"Timeline event '{before.title}'", current=get_event(store, event_id))
        conn.execute(insert(timeline_revisions).values(
            event_id=event_id, changed_at=datetime.now(timezone.utc), author=author,
            before=_snapshot(before), after=None,
        ))


def event_history(store: Store, event_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(timeline_revisions).where(timeline_revisions.c.event_id == event_id)
            .order_by(timeline_revisions.c.id)
        ).fetchall()
    return [dict(r._mapping) for r in rows]


def timeline_revision(store: Store, incident_id: str) -> tuple[int, int, int]:
    """(events, sum of versions, highest id) of an incident's timeline: changes whenever anyone edits it."""
    from sqlalchemy import func

    with store.engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.coalesce(func.sum(timeline_events.c.version), 0),
                   func.coalesce(func.max(timeline_events.c.id), 0))
            .where(timeline_events.c.incident_id == incident_id, timeline_events.c.deleted.is_(False))
        ).one()
    return int(row[0]), int(row[1]), int(row[2])
