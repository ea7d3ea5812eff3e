"""Masking of sensitive values: the ONE place where their patterns live.

Presentation mode, the post-mortem exports and anything else that shows
user-supplied text to a room pass it through :func:`mask_text` (strings),
:func:`mask_obj` (nested dicts and lists, e.g. evidence results) or
:func:`mask_frame` (pandas frames). Each match is replaced by a label in square
brackets, so a reader sees *what* was there without the value:

===============  =======================================================  ==================
name             what it matches                                          replaced by
===============  =======================================================  ==================
private_key      PEM and PGP private-key blocks                           ``[private key]``
pem_body         lone lines of a PEM/DER body (``MII…``, 64-character     ``[key material]``
                 base64 lines of mixed case and digits)
webhook          Slack (``hooks.slack.com/services/…``) and Discord       ``[webhook]``
                 (``discord.com/api/webhooks/…``) webhook URLs
url_credentials  the password in ``scheme://user:password@host`` (also    ``[secret]``
                 ``redis://:password@host`` and passwords holding ``@``)
jwt              JSON Web Tokens (``eyJ….eyJ….sig``)                      ``[token]``
bearer           ``Bearer <token>``, ``Basic …``, ``Token …`` (HTTP         ``Bearer [token]``
                 Authorization values); ``bearer``/``basic`` in any case when the
                 value holds a digit or is 20+ characters long
api_key          provider keys: OpenAI/Anthropic ``sk-…``, GitHub          ``[api key]``
                 ``ghp_/gho_/ghu_/ghs_/ghr_…`` and ``github_pat_…``, AWS
                 ``AKIA…``/``ASIA…``, Slack ``xox?-…`` and ``xapp-…``,
                 Google ``AIza…``, Stripe ``sk_live_…``/``rk_live_…``
                 and webhook secrets ``whsec_…``, GitLab ``glpat-…``,
                 Hugging Face ``hf_…``, SendGrid ``SG.….…``, Databricks
                 ``dapi…``, npm ``npm_…``, PyPI ``pypi-…``, Twilio
                 ``SK…``, Square ``sq0atp-…``, Telegram bot tokens
cookie           every value of a ``Cookie:``/``Set-Cookie:`` header     ``a=[secret]; b=[secret]``
                 (attributes such as ``Path`` stay readable)
key_value        values of secret-named keys: ``password=…``,              ``key=[secret]``
                 ``"api_key": "…"``, ``token: …``, ``client_secret=…``,
                 ``SECRET_KEY='…'`` (a quoted value in full),
                 ``passphrase=``, Azure ``sig=`` and ``AccountKey=``
email            e-mail addresses, also URL-encoded (``a%40b.example``)   ``[email]``
iban             IBANs (country code, length, mod-97 checksum)            ``[iban]``
card             payment card numbers (13–19 digits, spaces, dashes or   ``[card]``
                 dots allowed, known issuer prefix, Luhn checksum valid)
phone            phone numbers: international ``+CC …`` (8–15 digits),   ``[phone]``
                 North American ``(415) 555-0132``/``415-555-0132``, and
                 numbers after ``tel:``/``phone``/``mobile``
ipv4             IPv4 addresses (each octet 0–255; not part of a longer   ``[ip]``
                 dotted version such as 1.2.3.4.5)
ipv6             IPv6 addresses (validated with :mod:`ipaddress`, so      ``[ip]``
                 clock times like 12:30:45 are left alone)
===============  =======================================================  ==================

Patterns run in that order (a JWT inside ``Authorization: Bearer …`` is masked
once). Anything shown or exported masked goes through :func:`mask_obj` *before* it is laid
out (wrapped, truncated, joined into hover text), since a secret split over two lines no
longer matches; :func:`mask_obj` also reaches into dataclasses such as incidents, events,
evidence and causes. Ordinary log content — timestamps, versions, UUIDs, hashes, epoch
milliseconds, port numbers, ids — is left unchanged; ``tests/core/masking_corpus.jsonl``
holds planted secrets and such look-alikes and is checked by the tests.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
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
    text = match.group(0)
    seps = set(re.findall(r"[ .-]", text))
    if len(seps) > 1:
        return None
    if "." in seps and min(len(g) for g in text.split(".")) < 4:  # 1.2.3… is a version, not a card
        return None
    digits = re.sub(r"[ .-]", "", text)
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


# IBAN length per country (ISO 13616 registry); the check digits are validated with mod 97.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_valid(text: str) -> bool:
    """True for an IBAN (spaces allowed) of its country's length whose check digits pass mod 97."""
    iban = text.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _iban(match: re.Match[str]) -> str | None:
    text = match.group(0)
    groups = text.split(" ")
    for n in range(len(groups), 0, -1):  # trailing upper-case words may have been swallowed
        head = " ".join(groups[:n])
        if iban_valid(head):
            return "[iban]" + text[len(head):]
    return None


def _phone(match: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", match.group("number"))
    if not 7 <= len(digits) <= 15:
        return None
    if match.group("number").startswith("+") and len(digits) < 8:
        return None
    return (match.group("pre") or "") + "[phone]"


def _bearer(match: re.Match[str]) -> str | None:
    scheme, value = match.group("scheme"), match.group("value")
    if scheme not in ("Bearer", "Basic", "Token") and not (re.search(r"\d", value) or len(value) >= 20):
        return None  # "bearer of bad news": lower-case prose, not a credential
    return f"{match.group('pre')}[token]"


def _pem_body(match: re.Match[str]) -> str | None:
    text = match.group(0)
    mixed = re.search(r"[A-Z]", text) and re.search(r"[a-z]", text) and re.search(r"\d", text)
    if not mixed:
        return None
    if text.startswith(("MII", "MIG", "MIH")) or len(text.rstrip("=")) == 64:
        return "[key material]"
    return None


_COOKIE_ATTRIBUTES = {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority",
                      "partitioned", "version", "comment"}


def _cookie(match: re.Match[str]) -> str | None:
    parts = match.group("body").split(";")
    out = []
    for part in parts:
        name, eq, value = part.partition("=")
        if name.strip().lower() in _COOKIE_ATTRIBUTES or value.strip().startswith(("[", "***")) \
                or (not eq and (not name.strip() or name.strip().startswith("["))):
            out.append(part)
        elif eq:
            out.append(f"{name}=[secret]")
        else:
            lead = part[:len(part) - len(part.lstrip())]
            out.append(f"{lead}[secret]")
    body = ";".join(out)
    if body == match.group("body"):
        return None
    return match.group("pre") + body


def _key_value(match: re.Match[str]) -> str:
    q = match.group("q")
    return f"{match.group('pre')}{q}[secret]{q}" if q else f"{match.group('pre')}[secret]"


@dataclass(frozen=True)
class SensitivePattern:
    """One kind of sensitive value.

    Attributes:
        name: short name (used by :func:`find_sensitive` and the tests).
        regex: compiled pattern of a candidate.
        replace: replacement template (``re.sub`` syntax) or a function returning the
            replacement, or None to keep a candidate that fails validation.
        description: what it matches, for docs and UI help.
        needles: lower-case substrings one of which every match contains, so that texts without
            any of them skip the regex (an optimisation; empty means always run it).
    """

    name: str
    regex: re.Pattern[str]
    replace: str | Callable[[re.Match[str]], str | None]
    description: str
    needles: tuple[str, ...] = ()

    def may_match(self, text: str) -> bool:
        """False when none of the ``needles`` (lower case) occurs in ``text``: no match is possible."""
        if not self.needles:
            return True
        low = text.lower()
        return any(n in low for n in self.needles)

    def sub(self, text: str) -> str:
        if not self.may_match(text):
            return text
        if isinstance(self.replace, str):
            return self.regex.sub(self.replace, text)
        fn = self.replace
        return self.regex.sub(lambda m: fn(m) or m.group(0), text)

    def finds(self, text: str) -> list[str]:
        out = []
        if not self.may_match(text):
            return out
        for m in self.regex.finditer(text):
            if isinstance(self.replace, str) or self.replace(m) is not None:
                out.append(m.group(0))
        return out


_SECRET_KEYS = (
    r"password|passwd|pwd|pass|passphrase|secret|client[_-]?secret|api[_-]?key|apikey|x-api-key"
    r"|access[_-]?key(?:[_-]?id)?|secret[_-]?access[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token"
    r"|id[_-]?token|token|private[_-]?key|session[_-]?(?:id|key|token)|credentials?|signature|sig"
    r"|(?:secret|encryption|signing|master|account|shared[_-]?access)[_-]?key"
)
_B64 = r"A-Za-z0-9+/"

PATTERNS: tuple[SensitivePattern, ...] = (
    SensitivePattern(
        "private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?"
                   r"(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)", re.S),
        "[private key]", "PEM and PGP private-key blocks", ("private key",),
    ),
    SensitivePattern(
        "pem_body",
        re.compile(rf"(?<![{_B64}=_.-])[{_B64}]{{40,76}}={{0,2}}(?![{_B64}=_.-])"),
        _pem_body, "lone base64 lines of a PEM/DER key body",
    ),
    SensitivePattern(
        "webhook",
        re.compile(r"https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,}"
                   r"|(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{10,})"),
        "[webhook]", "Slack and Discord webhook URLs", ("hooks.slack.com", "discord"),
    ),
    SensitivePattern(
        "url_credentials",
        re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?!\[secret\]@|\*\*\*@)[^\s/]+?"
                   r"(?=@[^\s@/?#]*(?:[/\s?#]|$))"),
        r"\g<pre>[secret]", "password part of user:password@ in URLs", ("://",),
    ),
    SensitivePattern(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
        "[token]", "JSON Web Tokens", ("eyj",),
    ),
    SensitivePattern(
        "bearer",
        re.compile(r"\b(?P<pre>(?P<scheme>Bearer|Basic|Token|(?i:bearer|basic))\s+)(?!\[|\*\*\*)(?P<value>[A-Za-z0-9._~+/=-]{8,})"),
        _bearer, "HTTP Authorization values (Bearer, Basic, Token)", ("bearer", "basic", "token"),
    ),
    SensitivePattern(
        "api_key",
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:"
            r"sk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_-]{16,}"        # OpenAI / Anthropic style
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"   # Stripe
            r"|whsec_[A-Za-z0-9+/=]{24,}"                     # Stripe webhook signing secrets
            r"|gh[pousr]_[A-Za-z0-9]{30,}"                    # GitHub tokens
            r"|github_pat_[A-Za-z0-9_]{22,}"                  # GitHub fine-grained tokens
            r"|(?:AKIA|ASIA)[0-9A-Z]{16}"                     # AWS access key ids
            r"|xox[abeoprs]-[A-Za-z0-9-]{10,}"                # Slack tokens
            r"|xapp-\d-[A-Za-z0-9-]{10,}"                     # Slack app-level tokens
            r"|AIza[0-9A-Za-z_-]{35}"                         # Google API keys
            r"|glpat-[A-Za-z0-9_-]{20,}"                      # GitLab tokens
            r"|hf_[A-Za-z0-9]{30,}"                           # Hugging Face tokens
            r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"    # SendGrid
            r"|dapi[0-9a-f]{32}(?:-\d+)?"                     # Databricks
            r"|npm_[A-Za-z0-9]{36}"                           # npm
            r"|pypi-AgE[A-Za-z0-9_-]{50,}"                    # PyPI
            r"|SK[0-9a-fA-F]{32}"                             # Twilio API keys
            r"|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,}"             # Square
            r"|\d{8,10}:AA[0-9A-Za-z_-]{33}"                  # Telegram bot tokens
            r")(?![A-Za-z0-9_-])"
        ),
        "[api key]", "provider API keys and tokens (sk-, ghp_, github_pat_, AKIA, xox?-, xapp-, AIza, glpat-, "
                     "hf_, SG., whsec_, dapi, npm_, pypi-)",
    ),
    SensitivePattern(
        "cookie",
        re.compile(r"(?i)(?P<pre>(?<![A-Za-z0-9_-])[\"']?(?:[A-Za-z0-9]+[_-])*(?:set-)?cookie[\"']?\s*[:=]\s*[\"']?)"
                   r"(?P<body>[^\"'\n]+)"),
        _cookie, "every value of a Cookie or Set-Cookie header", ("cookie",),
    ),
    SensitivePattern(
        "key_value",
        re.compile(
            r"(?i)(?P<pre>(?<![A-Za-z0-9_])(?<![A-Za-z0-9]-)[\"']?(?:[A-Za-z0-9]+[_-])*(?:" + _SECRET_KEYS + r")[\"']?\s*[:=]\s*)"
            r"(?:(?P<q>[\"'])(?!\[|\*\*\*)(?:(?<=\")[^\"\n]+(?=\")|(?<=')[^'\n]+(?='))(?P=q)"
            r"|(?!\[|\*\*\*)(?P<value>[^\s\"',;&}\]]+))"
        ),
        _key_value, "values of secret-named keys (password=, api_key:, token=, SECRET_KEY='…', sig=, ...)",
        ("pass", "pwd", "secret", "key", "token", "session", "credential", "sig"),
    ),
    SensitivePattern(
        "email",
        re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        "[email]", "e-mail addresses (also URL-encoded)", ("@", "%40"),
    ),
    SensitivePattern(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        _iban, "IBANs (country length and mod-97 checksum checked)",
    ),
    SensitivePattern(
        "card",
        re.compile(r"(?<![\d.-])\d(?:[ .-]?\d){12,18}(?![\d.-]?\d)"),
        _card, "payment card numbers (issuer prefix and Luhn checksum checked)",
    ),
    SensitivePattern(
        "phone",
        re.compile(
            r"(?P<pre>(?i:\b(?:tel|phone|mobile|cell|fax)\b)[.:=]?\s*(?:no\.?|number)?[:=]?\s*)?"
            r"(?P<number>(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)|\d{1,4})(?:[ .-]?\d{2,5}){1,5}"
            r"|(?<![\w.+-])(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}"
            r"|(?(pre)(?<![\w.+-])\(?\d[\d ./()-]{5,16}\d|(?!)))"  # bare digits only after tel:/phone
            r"(?![\w.-]?\d)"
        ),
        _phone, "phone numbers (international, North American, or after tel:/phone/mobile)",
    ),
    SensitivePattern(
        "ipv4",
        re.compile(
            r"(?<![\w.-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
            r"(?!\.?\d|[\w-])"
        ),
        "[ip]", "IPv4 addresses", (".",),
    ),
    SensitivePattern(
        "ipv6",
        re.compile(r"(?<![\w:.-])(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}"
                   r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])"),
        _ipv6, "IPv6 addresses", (":",),
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
    """Mask every string inside ``value``: the ONE function to call before anything is laid out.

    Reaches nested dicts and other mappings (keys included), lists, tuples, pandas frames and
    series, and dataclass instances (incidents, events, evidence, causes, report inputs: a copy
    with every string field masked). Enums, numbers, times and other values are returned unchanged,
    and so is an object in which nothing needed masking.
    """
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {mask_text(k) if isinstance(k, str) and not isinstance(k, Enum) else k: mask_obj(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_obj(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(mask_obj(v) for v in value)
    if isinstance(value, pd.DataFrame):
        return mask_frame(value)
    if isinstance(value, pd.Series):
        return mask_frame(value.to_frame()).iloc[:, 0]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = mask_obj(old)
            if new is not old and not _same(new, old):
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (pd.DataFrame, pd.Series)) or isinstance(b, (pd.DataFrame, pd.Series)):
        return isinstance(a, type(b)) and a.equals(b)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - values that do not compare (arrays): treat as changed
        return False


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell masked (numeric and time columns untouched)."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_string_dtype(series) or series.dtype == object:
            out[col] = series.map(mask_obj)
    return out
