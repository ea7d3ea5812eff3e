"""Which access role each write to the store needs: one table, read by :mod:`core.team.guard`.

A write is (table, action) with action ``insert``, ``update`` or ``delete``; ``incidents`` also
has per-column rules (status, severity and ICS roles are the commander's). A table missing from
:data:`TABLES` needs :data:`DEFAULT_ROLE` (a test checks that every store table is listed here).
"""

from __future__ import annotations

from typing import Iterable

from core.team import AccessRole, Identity, PermissionDeniedError

V, R, C = AccessRole.VIEWER, AccessRole.RESPONDER, AccessRole.COMMANDER
NEVER = None  # nobody, not even a commander: the audit log is append-only

DEFAULT_ROLE = R

#: table -> {action: role needed}; ``NEVER`` refuses the action for everyone.
TABLES: dict[str, dict[str, AccessRole | None]] = {
    # declaring an incident (or importing a bundle) is open to responders; deleting one is the commander's
    "incidents": {"insert": R, "update": R, "delete": C},
    "timeline_events": {"insert": R, "update": R, "delete": R},
    "timeline_revisions": {"insert": R, "update": R, "delete": R},
    "evidence": {"insert": R, "update": R, "delete": R},
    "fishbones": {"insert": R, "update": R, "delete": R},
    "fishbone_categories": {"insert": R, "update": R, "delete": R},
    "causes": {"insert": R, "update": R, "delete": R},
    "why_steps": {"insert": R, "update": R, "delete": R},
    "action_items": {"insert": R, "update": R, "delete": R},
    "report_sections": {"insert": R, "update": R, "delete": R},
    "runbooks": {"insert": R, "update": R, "delete": C},
    "runbook_versions": {"insert": R, "update": R, "delete": C},
    "handovers": {"insert": C, "update": NEVER, "delete": NEVER},
    "team_members": {"insert": C, "update": C, "delete": C},
    "team_tokens": {"insert": C, "update": C, "delete": C},
    "presence": {"insert": V, "update": V, "delete": V},
    "drafts": {"insert": V, "update": V, "delete": V},
    "audit_log": {"insert": V, "update": NEVER, "delete": NEVER},
}

#: incidents columns only a commander may change (status covers closing).
COMMANDER_COLUMNS = {"incidents": frozenset({"status", "severity", "roles"})}

#: What a refused write was, in words, for the message.
WHAT = {
    "incidents": "incidents", "timeline_events": "the timeline", "timeline_revisions": "the timeline",
    "evidence": "evidence", "fishbones": "the fishbone", "fishbone_categories": "the fishbone",
    "causes": "the fishbone", "why_steps": "the Five Whys", "action_items": "action items",
    "report_sections": "the post-mortem", "runbooks": "runbooks", "runbook_versions": "runbooks",
    "handovers": "ICS roles", "team_members": "team roles", "team_tokens": "automation tokens",
    "presence": "presence", "drafts": "drafts", "audit_log": "the audit log",
}
_VERB = {"insert": "add to", "update": "change", "delete": "delete from"}

#: Tables whose writes are not audited (the audit log itself, heartbeats, drafts and derived history rows).
NOT_AUDITED = frozenset({"audit_log", "presence", "drafts", "timeline_revisions"})


def needed_role(table: str, action: str, columns: Iterable[str] = ()) -> AccessRole | None:
    """The role a write needs (None: refused for everyone)."""
    rules = TABLES.get(table)
    needed = rules.get(action, DEFAULT_ROLE) if rules is not None else DEFAULT_ROLE
    if needed is None:
        return None
    special = COMMANDER_COLUMNS.get(table, frozenset())
    if action == "update" and special.intersection(columns):
        return C
    return needed


def check_write(identity: Identity, table: str, action: str, columns: Iterable[str] = ()) -> None:
    """Raise :class:`PermissionDeniedError` when ``identity`` may not do this write."""
    columns = set(columns)
    needed = needed_role(table, action, columns)
    what = WHAT.get(table, table.replace("_", " "))
    if needed is None:
        raise PermissionDeniedError(f"{what} is append-only: nobody can {action} its rows", identity=identity)
    if identity.source == "expired" and needed is not AccessRole.VIEWER:
        raise PermissionDeniedError(
            f"your sign-in session has expired, so nothing was saved to {what}. What you typed is still on the "
            "page: copy it, use 'Sign in again' in the sidebar, and save it again.", identity=identity, needed=needed)
    if identity.can(needed):
        return
    fields = sorted(COMMANDER_COLUMNS.get(table, frozenset()) & columns)
    detail = f" ({', '.join(fields)})" if fields and needed is C else ""
    source = {"default": " Your sign-in token carries no role and no role is assigned to you in the team "
                         "list, so you can only read.",
              "store": " (role assigned in the team list)", "claim": " (role from your sign-in token)"}
    raise PermissionDeniedError(
        f"{identity.label} is a {identity.role.value}{source.get(identity.source, '')}; "
        f"only a {needed.value} can {_VERB.get(action, action)} {what}{detail}. Nothing was saved. "
        f"Ask an incident commander to do it or to give you the {needed.value} role.",
        identity=identity, needed=needed)
