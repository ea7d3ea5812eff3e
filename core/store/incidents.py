"""Repository functions for incidents (optimistic concurrency on ``version``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.bundle import INCIDENT_ID_PATTERN, check_incident_id
from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import (
    Incident,
    Milestone,
    Role,
    RootCause,
    Severity,
    Status,
    TimeWindow,
    utc,
)
from core.store import Store
from core.store.tables import incidents

ID_PATTERN = INCIDENT_ID_PATTERN  # the one id rule lives in core.bundle (check_incident_id)
EDITABLE = {
    "title", "summary", "service", "severity", "status", "root_cause", "milestones", "roles",
    "participants", "kpi_metric", "kpi_direction", "window", "baseline", "bundle_path",
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _window(start, end) -> TimeWindow | None:
    if start is None or end is None:
        return None
    return TimeWindow(start, end)


def _from_row(row: Any) -> Incident:
    m = row._mapping
    return Incident(
        id=m["id"],
        title=m["title"],
        summary=m["summary"] or "",
        service=m["service"] or "",
        severity=Severity(m["severity"]),
        status=Status(m["status"]),
        milestones={k: utc(v) for k, v in (m["milestones"] or {}).items() if v},
        roles=dict(m["roles"] or {}),
        participants=tuple(m["participants"] or ()),
        root_cause=RootCause(m["root_cause"]) if m["root_cause"] else None,
        kpi_metric=m["kpi_metric"] or "",
        kpi_direction=m["kpi_direction"] or "higher_is_better",
        window=_window(m["window_start"], m["window_end"]),
        baseline=_window(m["baseline_start"], m["baseline_end"]),
        bundle_path=m["bundle_path"],
        version=m["version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Validate editable fields and turn them into column values."""
    unknown = set(values) - EDITABLE
    if unknown:
        raise InvalidInputError(f"unknown incident field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "title":
            value = (value or "").strip()
            if not value:
                raise InvalidInputError("an incident needs a title; type a short description of the impact")
            if len(value) > 300:
                raise InvalidInputError(f"the title is {len(value)} characters long; keep it under 300")
            out["title"] = value
        elif key in ("summary", "service", "kpi_metric", "bundle_path"):
            out[key] = (value or "").strip() if key != "bundle_path" else value
        elif key == "severity":
            out[key] = _enum(Severity, value, "severity").value
        elif key == "status":
            out[key] = _enum(Status, value, "status").value
        elif key == "root_cause":
            out[key] = _enum(RootCause, value, "root-cause class").value if value else None
        elif key == "kpi_direction":
            if value not in ("higher_is_better", "lower_is_better"):
                raise InvalidInputError("kpi direction must be higher_is_better or lower_is_better")
            out[key] = value
        elif key == "milestones":
            ms = {}
            for name, when in (value or {}).items():
                _enum(Milestone, name, "milestone")
                t = utc(when)
                if t is not None:
                    ms[str(name)] = t.isoformat()
            _check_milestone_order(ms)
            out[key] = ms
        elif key == "roles":
            roles = {}
            for name, person in (value or {}).items():
                _enum(Role, name, "role")
                if person and str(person).strip():
                    roles[str(name)] = str(person).strip()
            out[key] = roles
        elif key == "participants":
            seen: list[str] = []
            for p in value or ():
                p = str(p).strip()
                if p and p not in seen:
                    seen.append(p)
            out[key] = seen
        elif key in ("window", "baseline"):
            w = value
            out[f"{key}_start"] = w.start if w else None
            out[f"{key}_end"] = w.end if w else None
    return out


def _check_milestone_order(ms: dict[str, str]) -> None:
    started = ms.get("started")
    if not started:
        return
    t0 = datetime.fromisoformat(started)
    for name, when in ms.items():
        if name != "started" and datetime.fromisoformat(when) < t0:
            raise InvalidInputError(
                f"milestone '{name}' ({when}) is before 'started' ({started}); "
                "impact start must come first — correct one of the two"
            )


def _enum(cls, value, label):
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(v.value for v in cls)
        raise InvalidInputError(f"'{value}' is not a valid {label}; choose one of {allowed}") from None


def new_incident_id(store: Store, when: datetime | None = None) -> str:
    """A readable id like INC-2024-05-01-3."""
    day = (when or _now()).strftime("%Y-%m-%d")
    with store.engine.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(incidents).where(incidents.c.id.like(f"INC-{day}-%"))
        ).scalar_one()
    return f"INC-{day}-{n + 1}"


def create_incident(store: Store, *, id: str | None = None, title: str, **fields: Any) -> Incident:
    """Create an incident and return it (version 1)."""
    incident_id = id or new_incident_id(store)
    with store.engine.begin() as conn:
        insert_incident(conn, id=incident_id, title=title, **fields)
    return get_incident(store, incident_id)


def insert_incident(conn: Connection, *, id: str, title: str, **fields: Any) -> None:
    """Insert a new incident row on ``conn``, inside the caller's transaction.

    Raises:
        InvalidInputError: a field is invalid, or the id exists (``IncidentExistsError``);
            on PostgreSQL the caller's transaction is then unusable and must be rolled back.
    """
    problem = check_incident_id(id)  # the one id rule, shared with bundle validation and import
    if problem:
        raise InvalidInputError(problem)
    values = _clean({"title": title, **fields})
    values.setdefault("severity", Severity.SEV3.value)
    values.setdefault("status", Status.INVESTIGATING.value)
    for key, default in (("milestones", {}), ("roles", {}), ("participants", []), ("summary", ""),
                         ("service", ""), ("kpi_metric", "")):
        values.setdefault(key, default)
    now = _now()
    try:
        conn.execute(insert(incidents).values(id=id, version=1, created_at=now, updated_at=now, **values))
    except IntegrityError:
        raise IncidentExistsError(id) from None


class IncidentExistsError(InvalidInputError):
    """An incident with this id is already in the store; ``incident_id`` names it."""

    def __init__(self, incident_id: str):
        super().__init__(f"an incident with id '{incident_id}' already exists; choose another id")
        self.incident_id = incident_id


def set_milestones(conn: Connection, incident_id: str, milestones: dict[str, Any]) -> None:
    """Replace the milestones of a just-inserted incident on ``conn`` (checked and ordered like an edit)."""
    values = _clean({"milestones": milestones})
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))


def get_incident(store: Store, incident_id: str) -> Incident:
    with store.engine.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    if row is None:
        raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
    return _from_row(row)


def find_incident(store: Store, incident_id: str) -> Incident | None:
    try:
        return get_incident(store, incident_id)
    except NotFoundError:
        return None


def list_incidents(
    store: Store,
    *,
    text: str = "",
    statuses: list[str] | None = None,
    severities: list[str] | None = None,
    services: list[str] | None = None,
    root_causes: list[str] | None = None,
) -> list[Incident]:
    """Incidents, newest first, filtered by free text (title, summary, id, service) and fields."""
    q = select(incidents).order_by(incidents.c.created_at.desc(), incidents.c.id)
    if statuses:
        q = q.where(incidents.c.status.in_(statuses))
    if severities:
        q = q.where(incidents.c.severity.in_(severities))
    if services:
        q = q.where(incidents.c.service.in_(services))
    if root_causes:
        q = q.where(incidents.c.root_cause.in_(root_causes))
    if text.strip():
        like = f"%{text.strip().lower()}%"
        q = q.where(
            func.lower(incidents.c.title).like(like)
            | func.lower(incidents.c.summary).like(like)
            | func.lower(incidents.c.id).like(like)
            | func.lower(incidents.c.service).like(like)
        )
    with store.engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    return [_from_row(r) for r in rows]


def update_incident(store: Store, incident_id: str, *, version: int, **changes: Any) -> Incident:
    """Apply ``changes`` if the stored version is still ``version``.

    Raises:
        ConcurrentEditError: someone else saved first; ``.current`` holds the fresh incident.
        NotFoundError: no such incident.
    """
    values = _clean(changes)
    with store.engine.begin() as conn:
        result = conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id, incidents.c.version == version)
            .values(version=incidents.c.version + 1, updated_at=_now(), **values)
        )
        if result.rowcount != 1:
            row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
            if row is None:
                raise NotFoundError(f"no incident with id '{incident_id}'")
            raise ConcurrentEditError(f"Incident {incident_id}", current=_from_row(row))
    return get_incident(store, incident_id)


def delete_incident(store: Store, incident_id: str) -> None:
    from sqlalchemy import delete

    with store.engine.begin() as conn:
        conn.execute(delete(incidents).where(incidents.c.id == incident_id))
