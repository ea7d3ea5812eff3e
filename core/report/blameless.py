"""The blameless check: names of known people, @-mentions, e-mail addresses and blaming phrases.

Blameless by construction: people appear only in the roles table of the Response section (and
as action-item owners); event and evidence authors are never printed. The check flags names of
known people (roles, participants, owners, authors), @-mentions and e-mail addresses in causes
and in the analysis sections, and blaming phrases ("human error" as a root cause, "careless",
"should have known", ...), each with a suggestion in systems terms.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable

from core.models import CauseStatus
from core.report.model import BlamelessWarning, PostmortemInputs, Section

BLAMING_PHRASES: tuple[tuple[str, str, str], ...] = (
    (r"\bhuman[ -]error\b", "'human error' is not a root cause",
     "Ask why the system let a person's action cause harm: which check, guard-rail or default was missing?"),
    (r"\b(?:operator|user|engineer|developer|analyst)[ -]error\b", "blames a person's mistake",
     "Describe the condition that made the mistake possible or likely (unclear runbook, missing validation)."),
    (r"\b(?:careless(?:ly|ness)?|negligen(?:t|ce)|sloppy|lazy|incompetent|reckless)\b", "judges a person",
     "State what happened and which safeguard did not catch it, without judging anyone."),
    (r"\bshould(?:\s+not)? have\s+(?:known|noticed|checked|caught|tested|realised|realized)\b",
     "hindsight about what someone should have done",
     "Describe what information was available at the time and how to surface it earlier."),
    (r"\b(?:forgot|neglected|failed) to\b", "frames a gap as someone's failure",
     "Name the missing step in the process or automation (e.g. 'no checklist step for ...')."),
    (r"\b(?:fault|blame[ds]?|to blame|culprit|guilty)\b", "assigns fault",
     "Write about contributing conditions and decisions in context, not fault."),
)


def known_people(inputs: PostmortemInputs) -> list[str]:
    """Names of people the incident knows about: roles, participants, owners and authors."""
    names: set[str] = set()
    inc = inputs.incident
    names.update(v for v in inc.roles.values() if v)
    names.update(inc.participants)
    names.update(a.owner for a in inputs.actions if a.owner)
    names.update(e.author for e in inputs.events if e.author)
    names.update(e.author for e in inputs.evidence if e.author)
    generic = {"bundle import", "manual", "system", "triage", "bundle", "demo", "import"}
    out = []
    for n in names:
        n = n.strip()
        # team-like owners ("data-platform", "ml-team") are not people
        if len(n) < 3 or n.lower() in generic or re.search(r"[-_/]|team|platform|squad|ops\b|oncall|on-call", n.lower()):
            continue
        out.append(n)
    return sorted(out, key=len, reverse=True)


_MENTION = re.compile(r"(?<![\w@.])@[A-Za-z][\w.-]{1,38}\b")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BLAME_SECTIONS = ("summary", "root_causes", "five_whys", "went_wrong", "detection", "recovery", "got_lucky",
                   "went_well", "impact", "star")


def _excerpt(text: str, start: int, end: int) -> str:
    a, b = max(0, start - 40), min(len(text), end + 40)
    return ("…" if a else "") + re.sub(r"\s+", " ", text[a:b]).strip() + ("…" if b < len(text) else "")


def check_text(section: str, text: str, people: Iterable[str]) -> list[BlamelessWarning]:
    """Blaming language in one piece of text (see :data:`BLAMING_PHRASES`), names and @-mentions."""
    out: list[BlamelessWarning] = []
    if not text:
        return out
    for pattern, problem, suggestion in BLAMING_PHRASES:
        for m in re.finditer(pattern, text, flags=re.I):
            out.append(BlamelessWarning(section, _excerpt(text, m.start(), m.end()), problem, suggestion))
    for name in people:
        for m in re.finditer(r"(?<![\w])" + re.escape(name) + r"(?![\w])", text, flags=re.I):
            out.append(BlamelessWarning(
                section, _excerpt(text, m.start(), m.end()), f"names a person ('{name}')",
                "Refer to the role (e.g. 'the on-call engineer') or the system, not the person."))
    for rx, what in ((_MENTION, "mentions a person"), (_EMAIL, "contains a person's e-mail address")):
        for m in rx.finditer(text):
            if rx is _MENTION and _EMAIL.match(text, max(0, m.start() - 64)):
                continue
            out.append(BlamelessWarning(section, _excerpt(text, m.start(), m.end()), what,
                                        "Refer to the role or team instead of the individual."))
    return out


def check_blameless(inputs: PostmortemInputs, sections: Iterable[Section] = ()) -> list[BlamelessWarning]:
    """Flag blaming language: names in causes, 'human error' as a root cause, judging phrases.

    Checks every fishbone cause (text and notes), every Five Whys answer and the
    analysis sections' texts. The roles table of the Response section and the
    action items' owners are where people belong and are not checked.
    """
    people = known_people(inputs)
    out: list[BlamelessWarning] = []
    for c in inputs.causes:
        if c.status == CauseStatus.RULED_OUT:
            continue
        where = "root_causes"
        out += [replace(w, excerpt=f"Cause: {w.excerpt}") for w in check_text(where, c.text, people)]
        out += [replace(w, excerpt=f"Cause notes: {w.excerpt}") for w in check_text(where, c.notes, people)]
    for w in inputs.whys:
        out += check_text("five_whys", f"{w.question} {w.answer}", people)
    checked_draft = {"root_causes", "five_whys"}
    for s in sections:
        if s.key not in _BLAME_SECTIONS or (s.key in checked_draft and not s.edited):
            continue
        out += check_text(s.key, s.text, people)
    unique: list[BlamelessWarning] = []
    for w in out:
        if w not in unique:
            unique.append(w)
    return unique
