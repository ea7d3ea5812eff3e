"""Team mode: who is acting (an :class:`Identity`), with which access role, and what that role may write.

Access roles are ordered ``viewer < responder < commander``: a viewer reads (and presents), a
responder edits the timeline, the fishbone, evidence, action items, runbooks and the post-mortem, a
commander also changes an incident's status, severity and ICS roles, closes it and manages the team.
The check happens in core, on every write the store executes (:mod:`core.team.guard`), so a page,
the command line and a script are held to the same rules.

The embedded default (SQLite, no ``[auth]`` in ``.streamlit/secrets.toml``) has no sign-in: the one
person at the machine acts as :data:`LOCAL`, a commander.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from core.errors import InvalidInputError, WorkbenchError

__all__ = [
    "AccessRole", "Identity", "LOCAL", "SYSTEM", "PermissionDeniedError", "SessionExpiredError",
    "DEFAULT_ROLE_CLAIM", "parse_role", "role_from_claims", "identity_from_claims",
]

DEFAULT_ROLE_CLAIM = "workbench_role"


class AccessRole(StrEnum):
    """What a person may do in the workbench (not their ICS role on an incident)."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    COMMANDER = "commander"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: "AccessRole") -> bool:
        return self.rank >= needed.rank


_RANK = {AccessRole.VIEWER: 0, AccessRole.RESPONDER: 1, AccessRole.COMMANDER: 2}

ROLE_HELP = {
    AccessRole.VIEWER: "reads every page and presents; cannot change anything",
    AccessRole.RESPONDER: "edits the timeline, fishbone, evidence, action items, runbooks and post-mortem",
    AccessRole.COMMANDER: "also sets status, severity and ICS roles, hands over command, closes incidents",
}


class PermissionDeniedError(WorkbenchError):
    """A write the acting person's role does not allow; nothing was written."""

    exit_code = 5

    def __init__(self, message: str, *, identity: "Identity | None" = None, needed: AccessRole | None = None):
        super().__init__(message)
        self.identity = identity
        self.needed = needed


class SessionExpiredError(WorkbenchError):
    """The sign-in session (or an automation token) is no longer valid; sign in again."""

    exit_code = 5


@dataclass(frozen=True)
class Identity:
    """Who acts: a user name (the sign-in subject, or the CLI's ``--as``), an e-mail and an access role.

    ``source`` says where the role came from: ``local`` (single-user mode), ``claim`` (the ID token),
    ``store`` (the team's role mapping), ``default`` (neither: read-only), ``token`` (CLI automation)
    or ``system`` (the app's own background work, such as building the demo incidents).
    """

    user: str
    email: str = ""
    role: AccessRole = AccessRole.VIEWER
    source: str = "claim"
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.email or self.user

    def can(self, needed: AccessRole) -> bool:
        return self.role.allows(needed)

    def with_role(self, role: AccessRole, source: str) -> "Identity":
        return Identity(self.user, self.email, role, source, self.name)


LOCAL = Identity(user="local", role=AccessRole.COMMANDER, source="local", name="You (single-user mode)")
SYSTEM = Identity(user="system", role=AccessRole.COMMANDER, source="system", name="the workbench")


def parse_role(value: Any, *, what: str = "role") -> AccessRole:
    """An access role from text ('Responder', 'commander'); a clear error names the allowed ones."""
    text = str(value or "").strip().lower()
    try:
        return AccessRole(text)
    except ValueError:
        allowed = ", ".join(r.value for r in AccessRole)
        raise InvalidInputError(f"'{value}' is not a {what}; use one of {allowed}") from None


def role_from_claims(claims: Mapping[str, Any], claim: str = DEFAULT_ROLE_CLAIM) -> AccessRole | None:
    """The role a token's ``claim`` grants: a role name, or a list of names/groups (the highest known one
    wins, so ``["workbench-responder", "viewer"]`` style group lists work when they hold a role name).
    None when the claim is absent or names no role."""
    raw = claims.get(claim)
    if raw is None:
        return None
    values = raw if isinstance(raw, (list, tuple, set)) else [raw]
    found: list[AccessRole] = []
    for v in values:
        text = str(v).strip().lower()
        for role in AccessRole:
            if text == role.value or text.endswith(("-" + role.value, "_" + role.value, ":" + role.value)):
                found.append(role)
    return max(found, key=lambda r: r.rank) if found else None


def identity_from_claims(claims: Mapping[str, Any], claim: str = DEFAULT_ROLE_CLAIM) -> Identity:
    """The identity of a signed-in person from their ID-token claims (``st.user``).

    The user name is the e-mail when there is one (it is what people recognise and what the
    store's role mapping is keyed by), else ``preferred_username``, else ``sub``. The role is the
    claim's, or viewer with ``source='default'`` when the token has no usable role claim (the
    caller then looks for a mapping in the store).

    Raises:
        InvalidInputError: the claims name nobody (no e-mail, username or subject).
    """
    email = str(claims.get("email") or "").strip()
    user = email or str(claims.get("preferred_username") or "").strip() or str(claims.get("sub") or "").strip()
    if not user:
        raise InvalidInputError("the sign-in token names nobody (no email, preferred_username or sub claim); "
                                "check the identity provider's client scopes include 'openid email profile'")
    role = role_from_claims(claims, claim)
    return Identity(user=user, email=email, role=role or AccessRole.VIEWER,
                    source="claim" if role else "default", name=str(claims.get("name") or "").strip())
