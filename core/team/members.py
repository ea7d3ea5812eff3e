"""The team list (access roles kept in the store) and who a signed-in person or an automation token is.

The store's mapping wins over the ID token's role claim, so a commander can raise or lower someone's
role while they work: the next click of that person runs with the new role (the role is resolved on
every page run, not cached in the session).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import delete, insert, select, update

from core.errors import InvalidInputError
from core.store import Store
from core.store.tables import team_members, team_tokens
from core.team import DEFAULT_ROLE_CLAIM, AccessRole, Identity, SessionExpiredError, identity_from_claims, parse_role

__all__ = ["set_role", "remove_member", "list_members", "role_of", "resolve_identity", "create_token",
           "revoke_tokens", "identity_for_token", "MIN_TOKEN_CHARS"]

MIN_TOKEN_CHARS = 32


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _user(user: str) -> str:
    user = str(user or "").strip().lower()
    if not user or len(user) > 200:
        raise InvalidInputError("a team member needs a user name or e-mail of 1 to 200 characters")
    return user


def set_role(store: Store, user: str, role: AccessRole | str, *, by: str = "") -> None:
    """Give ``user`` (their e-mail, as the sign-in shows it) an access role (commander only)."""
    user, role = _user(user), parse_role(role)
    with store.engine.begin() as conn:
        done = conn.execute(update(team_members).where(team_members.c.user_name == user)
                            .values(role=role.value, updated_by=by, updated_at=_now()))
        if not done.rowcount:
            conn.execute(insert(team_members).values(user_name=user, role=role.value, updated_by=by,
                                                     updated_at=_now()))


def remove_member(store: Store, user: str) -> bool:
    """Drop ``user`` from the team list (their token's claim, or viewer, applies again)."""
    with store.engine.begin() as conn:
        return bool(conn.execute(delete(team_members).where(team_members.c.user_name == _user(user))).rowcount)


def list_members(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(team_members).order_by(team_members.c.user_name)).mappings().fetchall()
    return [dict(r) for r in rows]


def role_of(store: Store, user: str) -> AccessRole | None:
    """The role the team list gives ``user`` (None: not listed)."""
    with store.engine.connect() as conn:
        value = conn.execute(select(team_members.c.role)
                             .where(team_members.c.user_name == str(user).strip().lower())).scalar()
    return AccessRole(value) if value else None


def resolve_identity(store: Store, claims: Mapping[str, Any], claim: str = DEFAULT_ROLE_CLAIM) -> Identity:
    """Who a signed-in person is: their claims, with the team list's role when it lists them."""
    ident = identity_from_claims(claims, claim)
    listed = role_of(store, ident.user)
    if listed is not None:
        return ident.with_role(listed, "store")
    return ident


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, user: str, *, by: str = "") -> str:
    """A new automation token for ``user`` (shown once; only its SHA-256 is stored). Commander only."""
    user = _user(user)
    token = "wbt_" + secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        conn.execute(insert(team_tokens).values(user_name=user, token_sha256=_digest(token), created_by=by,
                                                created_at=_now(), revoked=False))
    return token


def revoke_tokens(store: Store, user: str) -> int:
    with store.engine.begin() as conn:
        return conn.execute(update(team_tokens).where(team_tokens.c.user_name == _user(user),
                                                      team_tokens.c.revoked.is_(False))
                            .values(revoked=True)).rowcount


def identity_for_token(store: Store, user: str, token: str | None) -> Identity:
    """The identity the command line acts as with ``--as USER`` and ``WORKBENCH_TOKEN``.

    Raises:
        SessionExpiredError: no token, or it is not a live token of ``user``.
    """
    user = _user(user)
    if not token or len(token.strip()) < MIN_TOKEN_CHARS:
        raise SessionExpiredError(
            f"--as {user} needs that person's automation token in WORKBENCH_TOKEN; a commander creates one with "
            f"'python -m core team token {user}'")
    digest = _digest(token.strip())
    with store.engine.connect() as conn:
        rows = conn.execute(select(team_tokens.c.token_sha256, team_tokens.c.revoked)
                            .where(team_tokens.c.user_name == user)).fetchall()
    live = [r for r in rows if hmac.compare_digest(r[0], digest)]
    if not live or live[0][1]:
        raise SessionExpiredError(
            f"WORKBENCH_TOKEN is not a valid token of {user} (revoked, or made for someone else); "
            f"ask a commander for a new one: python -m core team token {user}")
    role = role_of(store, user)
    return Identity(user=user, email=user if "@" in user else "", role=role or AccessRole.VIEWER, source="token")
