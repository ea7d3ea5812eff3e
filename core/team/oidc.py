"""Sign-in settings (``[auth]`` for Streamlit's ``st.login``, ``[team]`` for roles and sessions) and
a reachability check of the identity provider, so "the provider is down" is a clear message before
the browser is sent away.

``[team]`` (or ``TEAM_*`` variables): ``role_claim`` (default ``workbench_role``), the ID-token claim
holding the access role; ``session_minutes`` (default 720), how long a sign-in stays valid for
writing after the token was issued (``iat``); past it the person can still read and is asked to sign
in again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from core.config import display_url, settings
from core.errors import InvalidInputError
from core.team import DEFAULT_ROLE_CLAIM

DEFAULT_SESSION_MINUTES = 720.0
REQUIRED_AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class SignInSettings:
    enabled: bool
    role_claim: str = DEFAULT_ROLE_CLAIM
    session: timedelta = timedelta(minutes=DEFAULT_SESSION_MINUTES)
    metadata_url: str = ""
    missing: tuple[str, ...] = ()


def sign_in_settings() -> SignInSettings:
    """Whether sign-in is on (an ``[auth]`` table exists) and the team settings.

    Raises:
        InvalidInputError: the secrets file does not parse, or ``session_minutes`` is not a positive number.
    """
    s = settings()
    auth = s.table("auth")
    team = s.section("team")
    minutes = team.number("session_minutes", DEFAULT_SESSION_MINUTES,
                          message="[team] session_minutes (TEAM_SESSION_MINUTES) must be a number of minutes, "
                                  "not '{raw}'")
    if minutes <= 0:
        raise InvalidInputError("[team] session_minutes (TEAM_SESSION_MINUTES) must be more than 0")
    if not auth:
        return SignInSettings(enabled=False, session=timedelta(minutes=minutes))
    missing = tuple(k for k in REQUIRED_AUTH_KEYS if not auth.get(k))
    return SignInSettings(enabled=True, role_claim=team.text("role_claim") or DEFAULT_ROLE_CLAIM,
                          session=timedelta(minutes=minutes), metadata_url=str(auth.get("server_metadata_url") or ""),
                          missing=missing)


def session_expiry(claims: Mapping[str, Any], session: timedelta) -> datetime | None:
    """When a sign-in stops allowing writes: the token's issue time (``iat``) plus ``session``."""
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)):
        return None
    return datetime.fromtimestamp(iat, timezone.utc) + session


def provider_problem(metadata_url: str, timeout: float = 3.0) -> str | None:
    """None when the provider's discovery document answers; else a sentence naming the URL and the fix."""
    shown = display_url(metadata_url)
    try:
        with urllib.request.urlopen(metadata_url, timeout=timeout) as resp:  # noqa: S310 - configured https URL
            doc = json.loads(resp.read(1_000_000))
        if not isinstance(doc, dict) or "authorization_endpoint" not in doc:
            return (f"the sign-in provider's discovery document at {shown} has no authorization_endpoint; check "
                    "[auth] server_metadata_url in .streamlit/secrets.toml")
        return None
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "reason", exc) or exc)
    return (f"the sign-in provider at {shown} cannot be reached ({reason}). Nothing you typed is lost; try again "
            "in a minute. If it persists, the operator should check the provider and [auth] server_metadata_url "
            "in .streamlit/secrets.toml")


def open_access_warning(dialect: str, cfg: SignInSettings) -> str | None:
    """The warning for a shared store without sign-in, or None.

    On the embedded SQLite file the workbench is one person's tool and needs no sign-in. On a shared
    store (PostgreSQL, several replicas, a team) without an ``[auth]`` table, everyone who reaches the
    app acts as the incident commander: say so, and how to turn sign-in on.
    """
    if cfg.enabled or dialect == "sqlite":
        return None
    return ("Sign-in is off on a shared store: anyone who can reach this workbench can change everything, "
            "as the incident commander, and the audit log cannot tell people apart. To require sign-in, add "
            "an [auth] table (OpenID Connect) to .streamlit/secrets.toml on every replica; see docs/team.md, "
            "\"Sign-in\".")
