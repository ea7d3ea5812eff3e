"""``python -m core team``: access roles, automation tokens, the audit log and ICS handovers.

- ``team role set USER ROLE`` / ``team role remove USER`` / ``team role list [--json]``: the team list
  (commander only when a commander acts with ``--as``);
- ``team token USER``: a new automation token for ``python -m core --as USER`` (printed once);
- ``team audit INCIDENT [--format text|csv|json] [--output FILE]``: who changed what, when, from where;
- ``team handover INCIDENT --role ROLE --to NAME --summary TEXT``: hand an ICS role over (commander).

Exit codes: 0 done, 2 bad input, 3 changed by someone else, 4 store unavailable, 5 not allowed for
your role or the token is not valid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("team", help="team mode: access roles, automation tokens, audit log, ICS handover")
    parser.add_argument("--database", metavar="URL", help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    sub = parser.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    role = sub.add_parser("role", help="the team list of access roles (viewer, responder, commander)")
    rsub = role.add_subparsers(dest="role_command", metavar="ACTION", required=True)
    rset = rsub.add_parser("set", help="give a person (their sign-in e-mail) an access role")
    rset.add_argument("user")
    rset.add_argument("role", choices=("viewer", "responder", "commander"))
    rset.set_defaults(func=run_role_set)
    rrm = rsub.add_parser("remove", help="drop a person from the team list (their token's role claim applies)")
    rrm.add_argument("user")
    rrm.set_defaults(func=run_role_remove)
    rls = rsub.add_parser("list", help="list the team list")
    rls.add_argument("--json", action="store_true", help='print [{"user", "role", "updated_by", "updated_at"}]')
    rls.set_defaults(func=run_role_list)
    token = sub.add_parser("token", help="create an automation token for --as USER (printed once)")
    token.add_argument("user")
    token.add_argument("--revoke", action="store_true", help="revoke every token of USER instead")
    token.set_defaults(func=run_token)
    audit = sub.add_parser("audit", help="an incident's audit log: who changed what, when, from which page or command")
    audit.add_argument("incident")
    audit.add_argument("--format", "-f", choices=("text", "csv", "json"), default="text", help="default: text")
    audit.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    audit.set_defaults(func=run_audit)
    hand = sub.add_parser("handover", help="hand an ICS role of an incident to someone, with a summary")
    hand.add_argument("incident")
    hand.add_argument("--role", default="incident_commander",
                      help="ICS role: incident_commander (default), ops_lead, scribe, comms_lead, liaison, subject_matter")
    hand.add_argument("--to", dest="incoming", required=True, metavar="NAME", help="the incoming person")
    hand.add_argument("--summary", required=True, help="the state handed over (at least 20 characters)")
    hand.add_argument("--json", action="store_true", help='print {"incident", "role", "outgoing", "incoming", "event"}')
    hand.set_defaults(func=run_handover)


def _store(args):
    from core.store import open_store

    return open_store(args.database)


def _warn_open_access(store) -> None:
    """On a shared store without sign-in, the team list decides nothing in the app: say so on stderr."""
    from core.team.oidc import open_access_warning, sign_in_settings

    warning = open_access_warning(store.dialect, sign_in_settings())
    if warning:
        print(f"warning: {warning} The team list applies once sign-in is on.", file=sys.stderr)


def _by() -> str:
    from core.team.guard import ACTOR

    who = ACTOR.get()
    return who.user if who else "cli"


def run_role_set(args) -> int:
    from core.team.members import set_role

    store = _store(args)
    try:
        _warn_open_access(store)
        set_role(store, args.user, args.role, by=_by())
    finally:
        store.dispose()
    print(f"{args.user.strip().lower()} is now a {args.role}")
    return 0


def run_role_remove(args) -> int:
    from core.team.members import remove_member

    store = _store(args)
    try:
        _warn_open_access(store)
        removed = remove_member(store, args.user)
    finally:
        store.dispose()
    if not removed:
        raise InvalidInputError(f"{args.user} is not in the team list; see python -m core team role list")
    print(f"{args.user.strip().lower()} removed from the team list")
    return 0


def run_role_list(args) -> int:
    from core.models import iso
    from core.team.members import list_members

    store = _store(args)
    try:
        _warn_open_access(store)
        members = list_members(store)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps([{"user": m["user_name"], "role": m["role"], "updated_by": m["updated_by"],
                           "updated_at": iso(m["updated_at"])} for m in members], indent=2))
    else:
        for m in members:
            print(f"{m['user_name']}\t{m['role']}")
    return 0


def run_token(args) -> int:
    from core.team.members import create_token, revoke_tokens

    store = _store(args)
    try:
        if args.revoke:
            print(f"revoked {revoke_tokens(store, args.user)} token(s) of {args.user}")
            return 0
        token = create_token(store, args.user, by=_by())
    finally:
        store.dispose()
    print(token)
    return 0


def run_audit(args) -> int:
    from core.store.audit import export_audit, list_audit
    from core.store.incidents import get_incident

    store = _store(args)
    try:
        get_incident(store, args.incident)
        entries = list_audit(store, args.incident)
    finally:
        store.dispose()
    if args.format == "text":
        from core.models import iso

        out = "".join(f"{iso(e.at)}  {e.sentence()}\n" for e in entries)
    else:
        out = export_audit(entries, args.format)
    if args.output is not None:
        if not args.output.parent.exists():
            raise InvalidInputError(f"folder {args.output.parent} does not exist; create it first")
        args.output.write_text(out, encoding="utf-8")
    else:
        print(out, end="")
    return 0


def run_handover(args) -> int:
    from core.store.incidents import get_incident
    from core.team.handover import hand_over

    store = _store(args)
    try:
        incident = get_incident(store, args.incident)
        done = hand_over(store, incident.id, role=args.role, incoming=args.incoming, summary=args.summary,
                         version=incident.version, recorded_by=_by())
    finally:
        store.dispose()
    if args.json:
        print(json.dumps({"incident": done.incident_id, "role": done.role, "outgoing": done.outgoing,
                          "incoming": done.incoming, "event": done.event_id}))
    else:
        print(f"{done.role_label}: {done.outgoing or 'nobody'} → {done.incoming} (timeline event {done.event_id})")
    return 0
