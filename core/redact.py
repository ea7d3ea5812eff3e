"""Credentials out of messages: the ONE place that redacts them.

Every error, log line or ``repr`` that may carry a URL or a server's answer is built from
text passed through :func:`redact` (free text) or :func:`redact_url` (one URL) first:

* the password of ``scheme://user:password@host`` becomes ``***`` (also when it holds ``@``,
  ``/`` or spaces, and when the URL cannot be parsed at all);
* query-string and ``key=value`` credentials (``?password=``, ``token=``, ``sig=``,
  ``AccountKey=``, ``api_key=`` …) become ``***``;
* the credential families of :mod:`core.masking` (``Authorization: Bearer …``/``Basic …``
  values a server echoes back, provider API keys, JWTs, private keys, cookies) get their
  masking label (``Bearer [token]``, ``[api key]``, ...);
* every value listed in ``secrets`` (the configured token or password, its URL-encoded form,
  the Base64 ``user:password`` of HTTP Basic auth) becomes ``***`` wherever it appears.

Neither function ever raises, whatever the input.
"""

from __future__ import annotations

import base64
import re
from typing import Iterable
from urllib.parse import quote, unquote

__all__ = ["REDACTED", "auth_secrets", "redact", "redact_url", "unparsable_url", "url_secrets"]

REDACTED = "***"

_SECRET_PARAMS = (
    r"password|passwd|pwd|pass|passphrase|secret|client[_-]?secret|token|access[_-]?token|refresh[_-]?token"
    r"|id[_-]?token|auth[_-]?token|api[_-]?key|apikey|key|sig|signature|accountkey|sharedaccesskey"
    r"|sharedaccesssignature|credentials?|auth|authorization|session(?:[_-]?id)?|x-amz-signature"
    r"|x-amz-security-token|x-goog-signature"
)
_PARAM = re.compile(r"(?i)(?P<pre>(?:^|(?<=[?&;#\s,(\"']))(?:" + _SECRET_PARAMS + r")=)(?!\*\*\*)[^&;#\s\"')]+")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
# The credential families of core.masking that belong in no message; e-mails, IPs, phone numbers and
# cards are left alone (an error naming the host 10.0.0.5 is useful).
_CREDENTIAL_PATTERNS = ("private_key", "pem_body", "webhook", "url_credentials", "jwt", "bearer", "api_key",
                        "cookie", "key_value")


def _userinfo_end(rest: str) -> int:
    """Index of the ``@`` that ends the user info of ``rest`` (the URL after ``://``), or -1."""
    first_seg = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in first_seg:
        return first_seg.rfind("@")
    at = rest.rfind("@")
    if at > 0:
        before = rest[:at]
        head = re.split(r"[/?#]", before, maxsplit=1)[0]
        if ":" in head:  # user:pa/ss@host: the password holds a / ? or #
            return at
    return -1


def redact_url(url: object) -> str:
    """``url`` without its password and credential query parameters (``scheme://user:***@host/?token=***``).

    Works on URLs that do not parse (a bad port, a stray ``[``, spaces): the text is redacted,
    never validated.
    """
    text = "" if url is None else str(url)
    if "://" in text:
        scheme, rest = text.split("://", 1)
        end = _userinfo_end(rest)
        if end >= 0:
            userinfo, host = rest[:end], rest[end + 1:]
            user, colon, _password = userinfo.partition(":")
            text = f"{scheme}://{user}:{REDACTED}@{host}" if colon else f"{scheme}://{userinfo}@{host}"
    return _PARAM.sub(lambda m: m.group("pre") + REDACTED, text)


def unparsable_url(url: object) -> str:
    """How to name a URL that does not parse: its scheme only (``postgresql://…``).

    Where a URL cannot be parsed, nothing says which part is the password (``user:secret/db``
    without a host reads as host ``user``, port ``secret``), and parsers quote the piece they
    choke on; so neither the URL nor the parser's message is shown.
    """
    text = "" if url is None else str(url)
    scheme = text.split("://", 1)[0] if "://" in text else ""
    return f"{scheme}://…" if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) else "the URL"


def url_secrets(url: object) -> list[str]:
    """The credentials inside a URL (password, secret query values), to pass to :func:`redact`."""
    text = "" if url is None else str(url)
    out: list[str] = []
    if "://" in text:
        rest = text.split("://", 1)[1]
        end = _userinfo_end(rest)
        if end >= 0 and ":" in rest[:end]:
            out.append(rest[:end].split(":", 1)[1])
    out.extend(m.group(0)[len(m.group("pre")):] for m in _PARAM.finditer(text))
    return [s for s in out if s]


def auth_secrets(token: str | None = None, username: str | None = None, password: str | None = None,
                 api_key: str | None = None) -> list[str]:
    """Every form a configured credential can take in a server's answer (raw, URL-encoded, Basic base64)."""
    out = [s for s in (token, password, api_key) if s]
    if username and password is not None:
        out.append(base64.b64encode(f"{username}:{password}".encode()).decode())
    if api_key and ":" in api_key:  # id:key pairs are sent Base64-encoded (Elasticsearch ApiKey)
        out.append(base64.b64encode(api_key.encode()).decode())
    return out


def _forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote(secret), unquote(secret)}
    return {f for f in forms if len(f) >= 3}


def redact(text: object, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every credential replaced (see the module docstring); the one function for messages.

    Args:
        text: any message, server answer or exception text (non-strings are converted).
        secrets: known credential values (configured token, password, URL password) to remove
            wherever they appear, in raw and URL-encoded form; values shorter than 3 characters
            are ignored (they would garble the message without protecting anything).
    """
    from core.masking import PATTERNS

    out = "" if text is None else str(text)
    forms: set[str] = set()
    for s in secrets:
        if s:
            forms |= _forms(str(s))
    for form in sorted(forms, key=len, reverse=True):
        out = out.replace(form, REDACTED)
    out = _URL.sub(lambda m: redact_url(m.group(0)), out)
    out = _PARAM.sub(lambda m: m.group("pre") + REDACTED, out)
    for pattern in PATTERNS:
        if pattern.name in _CREDENTIAL_PATTERNS:
            out = pattern.sub(out)
    return out
