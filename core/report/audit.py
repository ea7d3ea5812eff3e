"""The post-mortem's optional "Who did what, when" section, from the audit log.

Off by default (a post-mortem is blameless; the team turns it on when the record of the response
itself is wanted, e.g. for a handover review): ``python -m core postmortem ID --who-did-what`` or the
Post-mortem page's Export tab. It is appended to the Response section. It lists the audited writes of the incident in time
order — the person, their access role, what they changed and from which page or command — with
handovers and status changes first-class, and collapses runs of edits of one object by one person.
"""

from __future__ import annotations

from datetime import timedelta

from core.models import iso
from core.report.text import md_cell
from core.store import Store
from core.store.audit import AuditEntry, list_audit

__all__ = ["WHO_DID_WHAT_TITLE", "who_did_what", "who_did_what_markdown"]

WHO_DID_WHAT_TITLE = "Who did what, when"
MERGE_WITHIN = timedelta(minutes=2)
MAX_ROWS = 200


def _merge(entries: list[AuditEntry]) -> list[tuple[AuditEntry, int]]:
    """Consecutive edits of the same object by the same person within two minutes count once."""
    out: list[tuple[AuditEntry, int]] = []
    for e in entries:
        if e.object_type in ("fishbones",) and e.action == "update" and not e.changed:
            continue  # the fishbone's lock row
        if out:
            last, n = out[-1]
            if (last.user, last.object_type, last.object_id, last.action) == (e.user, e.object_type, e.object_id,
                                                                                e.action) \
                    and e.at - last.at <= MERGE_WITHIN and e.action == "update":
                out[-1] = (e, n + 1)
                continue
        out.append((e, 1))
    return out


def who_did_what(store: Store, incident_id: str) -> str:
    """The section's Markdown for an incident ('' when its audit log is empty)."""
    return who_did_what_markdown(list_audit(store, incident_id))


def who_did_what_markdown(entries: list[AuditEntry]) -> str:
    rows = _merge([e for e in entries if e.user != "system"])
    if not rows:
        return ""
    lines = [f"**{WHO_DID_WHAT_TITLE}**", "",
             "From the workbench's audit log: every change, who made it (and their access role), and where.", "",
             "| Time (UTC) | Who | What | From |", "|---|---|---|---|"]
    for e, n in rows[-MAX_ROWS:]:
        what = e.sentence().split(f"({e.role}) ", 1)[-1]
        if e.via and what.endswith(f" from {e.via}"):
            what = what[: -len(f" from {e.via}")]
        if n > 1:
            what += f" — {n} edits"
        lines.append(f"| {iso(e.at)[:19].replace('T', ' ')} | {md_cell(e.user)} ({e.role}) | {md_cell(what)} | "
                     f"{md_cell(e.via or '—')} |")
    if len(rows) > MAX_ROWS:
        lines.append("")
        lines.append(f"_{len(rows) - MAX_ROWS} earlier entries left out; export the whole log with "
                     "`python -m core team audit INCIDENT --format csv`._")
    return "\n".join(lines) + "\n"
