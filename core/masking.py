"""Masking of sensitive values: the ONE place where their patterns live.

Presentation mode, the post-mortem exports and anything else that shows
user-supplied text to a room pass it through :func:`mask_text` (strings),
:func:`mask_obj` (nested dicts and lists, e.g. evidence results) or
:func:`mask_frame` (pandas frames). Each match is replaced by a label in square
brackets, so a reader sees *what* was there without the value:

==============  =======================================================  ================
name            what it matches                                          replaced by
==============  =======================================================  ================
private_key     PEM private-key blocks                                   ``[private key]``
url_credentials the password in ``scheme://user:password@host``         ``[secret]``
jwt             JSON Web Tokens (``eyJ….eyJ….sig``)                      ``[token]``
bearer          ``Bearer <token>`` (HTTP Authorization values)           ``Bearer [token]``
api_key         provider keys: OpenAI/Anthropic ``sk-…``, GitHub          ``[api key]``
                ``ghp_/gho_/ghu_/ghs_/ghr_…`` and ``github_pat_…``, AWS
                ``AKIA…``/``ASIA…``, Slack ``xox?-…``, Google ``AIza…``,
                Stripe ``sk_live_…``/``rk_live_…``
key_value       values of secret-named keys: ``password=…``,              ``key=[secret]``
                ``"api_key": "…"``, ``token: …``, ``client_secret=…``
email           e-mail addresses                                         ``[email]``
card            payment card numbers (13–19 digits, spaces or dashes     ``[card]``
                allowed, known issuer prefix, Luhn checksum valid)
ipv4            IPv4 addresses (each octet 0–255; not part of a longer   ``[ip]``
                dotted version such as 1.2.3.4.5)
ipv6            IPv6 addresses (validated with :mod:`ipaddress`, so      ``[ip]``
                clock times like 12:30:45 are left alone)
==============  =======================================================  ================

Patterns run in that order (a JWT inside ``Authorization: Bearer …`` is masked
once). Ordinary log content — timestamps, versions, UUIDs, hashes, epoch
milliseconds, port numbers, ids — is left unchanged; ``tests/core/masking_corpus.jsonl``
holds planted secrets and such look-alikes and is checked by the tests.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

__all__ = ["PATTERNS", "SensitivePattern", "find_sensitive", "mask_frame", "mask_obj", "mask_text"]


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(
    r"^(?:4\d{12}(?:\d{3}){0,2}"                # Visa 13/16/19
    r"|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01])\d{13}|2720\d{12}"  # Mastercard
    r"|3[47]\d{13}"                             # American Express
    r"|6(?:011|5\d\d|4[4-9]\d)\d{12,15}"        # Discover
    r"|35(?:2[89]|[3-8]\d)\d{12,15}"            # JCB
    r"|3(?:0[0-5]|[68]\d)\d{11,16}"             # Diners Club
    r"|62\d{14,17})$"                           # UnionPay
)


def _card(match: re.Match[str]) -> str | None:
    digits = re.sub(r"[ -]", "", match.group(0))
    if _CARD_PREFIX.match(digits) and luhn_valid(digits):
        return "[card]"
    return None


def _ipv6(match: re.Match[str]) -> str | None:
    text = match.group(0)
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return "[ip]"


@dataclass(frozen=True)
class SensitivePattern:
    """One kind of sensitive value.

    Attributes:
        name: short name (used by :func:`find_sensitive` and the tests).
        regex: compiled pattern of a candidate.
        replace: replacement template (``re.sub`` syntax) or a function returning the
            replacement, or None to keep a candidate that fails validation.
        description: what it matches, for docs and UI help.
    """

    name: str
    regex: re.Pattern[str]
    replace: str | Callable[[re.Match[str]], str | None]
    description: str

    def sub(self, text: str) -> str:
        if isinstance(self.replace, str):
            return self.regex.sub(self.replace, text)
        fn = self.replace
        return self.regex.sub(lambda m: fn(m) or m.group(0), text)

    def finds(self, text: str) -> list[str]:
        out = []
        for m in self.regex.finditer(text):
            if isinstance(self.replace, str) or self.replace(m) is not None:
                out.append(m.group(0))
        return out


_SECRET_KEYS = (
    r"password|passwd|pwd|pass|secret|client[_-]?secret|api[_-]?key|apikey|x-api-key|access[_-]?key(?:[_-]?id)?"
    r"|secret[_-]?access[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token|id[_-]?token|token"
    r"|private[_-]?key|session[_-]?(?:id|key|token)|cookie|credentials?|signature"
)

PATTERNS: tuple[SensitivePattern, ...] = (
    SensitivePattern(
        "private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        "[private key]", "PEM private-key blocks",
    ),
    SensitivePattern(
        "url_credentials",
        re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)"),
        r"\g<pre>[secret]", "password part of user:password@ in URLs",
    ),
    SensitivePattern(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
        "[token]", "JSON Web Tokens",
    ),
    SensitivePattern(
        "bearer",
        re.compile(r"\b(?P<pre>(?:Bearer|Basic|Token)\s+)(?!\[)[A-Za-z0-9._~+/=-]{8,}"),
        r"\g<pre>[token]", "HTTP Authorization values (Bearer, Basic, Token)",
    ),
    SensitivePattern(
        "api_key",
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:"
            r"sk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_-]{16,}"        # OpenAI / Anthropic style
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"   # Stripe
            r"|gh[pousr]_[A-Za-z0-9]{30,}"                    # GitHub tokens
            r"|github_pat_[A-Za-z0-9_]{22,}"                  # GitHub fine-grained tokens
            r"|(?:AKIA|ASIA)[0-9A-Z]{16}"                     # AWS access key ids
            r"|xox[abprs]-[A-Za-z0-9-]{10,}"                  # Slack tokens
            r"|AIza[0-9A-Za-z_-]{35}"                         # Google API keys
            r"|glpat-[A-Za-z0-9_-]{20,}"                      # GitLab tokens
            r")(?![A-Za-z0-9_-])"
        ),
        "[api key]", "provider API keys and tokens (sk-, ghp_, github_pat_, AKIA, xox?-, AIza, glpat-)",
    ),
    SensitivePattern(
        "key_value",
        re.compile(
            r"(?i)(?P<pre>(?<![A-Za-z0-9_-])[\"']?(?:[A-Za-z0-9]+[_-])*(?:" + _SECRET_KEYS + r")[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[)(?P<value>[^\s\"',;&}\]]+)"
        ),
        r"\g<pre>[secret]", "values of secret-named keys (password=, api_key:, token=, client_secret=, ...)",
    ),
    SensitivePattern(
        "email",
        re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        "[email]", "e-mail addresses",
    ),
    SensitivePattern(
        "card",
        re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d.-]?\d)"),
        _card, "payment card numbers (issuer prefix and Luhn checksum checked)",
    ),
    SensitivePattern(
        "ipv4",
        re.compile(
            r"(?<![\w.-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
            r"(?!\.?\d|[\w-])"
        ),
        "[ip]", "IPv4 addresses",
    ),
    SensitivePattern(
        "ipv6",
        re.compile(r"(?<![\w:.-])(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}"
                   r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])"),
        _ipv6, "IPv6 addresses",
    ),
)


def mask_text(text: Any) -> Any:
    """Replace every sensitive value in ``text`` by its label; non-strings are returned unchanged."""
    if not isinstance(text, str) or not text:
        return text
    for pattern in PATTERNS:
        text = pattern.sub(text)
    return text


def find_sensitive(text: str) -> list[tuple[str, str]]:
    """The sensitive values in ``text`` as (pattern name, matched text), in pattern order.

    Each pattern sees the text with earlier patterns already masked, as :func:`mask_text` does.
    """
    found: list[tuple[str, str]] = []
    for pattern in PATTERNS:
        found.extend((pattern.name, m) for m in pattern.finds(text))
        text = pattern.sub(text)
    return found


def mask_obj(value: Any) -> Any:
    """Mask every string inside nested dicts, lists and tuples (keys included); other values unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_text(k) if isinstance(k, str) else k: mask_obj(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_obj(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_obj(v) for v in value)
    return value


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell masked (numeric and time columns untouched)."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_string_dtype(series) or series.dtype == object:
            out[col] = series.map(mask_obj)
    return out
