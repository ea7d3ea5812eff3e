"""Reading the audit log: who changed what, when, from where (the rows are written by :mod:`core.team.guard`).

The log is append-only: the store refuses to update or delete its rows, and the database's own
triggers refuse it too. Export as CSV or JSON with :func:`export_audit`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import iso
from core.store import Store
from core.store.tables import audit_log

__all__ = ["AuditEntry", "list_audit", "export_audit", "EXPORT_FORMATS", "OBJECT_LABELS"]

EXPORT_FORMATS = ("csv", "json")

#: What each table's rows are, for people.
OBJECT_LABELS = {
    "incidents": "incident", "timeline_events": "timeline event", "evidence": "evidence",
    "fishbones": "fishbone", "fishbone_categories": "fishbone category", "causes": "cause",
    "why_steps": "why", "action_items": "action item", "report_sections": "post-mortem section",
    "runbooks": "runbook", "runbook_versions": "runbook version", "handovers": "handover",
    "team_members": "team role", "team_tokens": "automation token",
}
_VERBS = {"insert": "added", "update": "changed", "delete": "deleted"}


@dataclass(frozen=True)
class AuditEntry:
    """One audited write."""

    id: int
    at: datetime
    user: str
    role: str
    via: str
    incident_id: str | None
    object_type: str
    object_id: str
    action: str
    label: str
    version_before: int | None
    version_after: int | None
    changed: tuple[str, ...] = ()
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    summary: str = ""

    @property
    def what(self) -> str:
        return OBJECT_LABELS.get(self.object_type, self.object_type.replace("_", " "))

    def sentence(self) -> str:
        """'alice (responder) changed timeline event 12 "Deploy v2" (v1→v2: title) from page timeline'."""
        obj = f"{self.what} {self.object_id}".strip()
        if self.label:
            obj += f' "{self.label}"'
        text = f"{self.user} ({self.role}) {_VERBS.get(self.action, self.action)} {obj}"
        if self.summary:
            text += f": {self.summary}"
        if self.version_before is not None or self.version_after is not None:
            text += f" (v{self.version_before or '–'}→v{self.version_after or '–'}"
            text += f": {', '.join(self.changed)})" if self.changed else ")"
        if self.via:
            text += f" from {self.via}"
        return text


def _entry(row: Any) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        id=m["id"], at=m["at"], user=m["user_name"], role=m["role"], via=m["via"] or "",
        incident_id=m["incident_id"], object_type=m["object_type"], object_id=m["object_id"] or "",
        action=m["action"], label=m["label"] or "", version_before=m["version_before"],
        version_after=m["version_after"], changed=tuple(m["changed"] or ()), before=m["before"],
        after=m["after"], summary=m["summary"] or "",
    )


def list_audit(store: Store, incident_id: str | None = None, *, user: str | None = None,
               limit: int | None = None, newest_first: bool = False) -> list[AuditEntry]:
    """Audited writes (of one incident, when given), oldest first unless ``newest_first``."""
    order = (audit_log.c.at.desc(), audit_log.c.id.desc()) if newest_first else (audit_log.c.at, audit_log.c.id)
    q = select(audit_log).order_by(*order)
    if incident_id is not None:
        q = q.where(audit_log.c.incident_id == incident_id)
    if user:
        q = q.where(audit_log.c.user_name == user)
    if limit:
        q = q.limit(limit)
    with store.engine.connect() as conn:
        return [_entry(r) for r in conn.execute(q).fetchall()]


CSV_COLUMNS = ("id", "at", "user", "role", "via", "incident_id", "object_type", "object_id", "action", "label",
               "version_before", "version_after", "changed", "summary", "before", "after")


def export_audit(entries: list[AuditEntry], fmt: str = "csv") -> str:
    """The entries as CSV (one row each; before/after as JSON text) or as a JSON array.

    Raises:
        InvalidInputError: an unknown format.
    """
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"'{fmt}' is not an audit export format; use csv or json")
    rows = []
    for e in entries:
        d = asdict(e)
        d["at"] = iso(e.at)
        d["changed"] = list(e.changed)
        rows.append(d)
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for d in rows:
        d["changed"] = ",".join(d["changed"])
        d["before"] = json.dumps(d["before"], default=str) if d["before"] is not None else ""
        d["after"] = json.dumps(d["after"], default=str) if d["after"] is not None else ""
        writer.writerow({k: d[k] for k in CSV_COLUMNS})
    return buf.getvalue()
