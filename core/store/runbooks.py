"""Runbook entries in the incident store: versioned, editable, one per failure pattern.

Every save is a new numbered version (old versions stay readable with
:func:`list_versions` / :func:`get_version`). A save carries the version the editor
started from; when someone else saved in between it is refused with
:class:`~core.errors.ConcurrentEditError` ("changed by someone else", ``.current`` holding
the fresh entry) and nothing is written, so the editor keeps the typed text.

The default entry of every root-cause class (:mod:`core.prevention.runbooks`) is created
on first use (:func:`ensure_default_runbooks`); :func:`learn_from_incident` adds the entry
of an incident's failure pattern, or a new version of it, from the incident's evidence.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import RootCause
from core.prevention.runbooks import (
    Runbook,
    RunbookContent,
    RunbookVersion,
    cause_class,
    content_from_dict,
    default_content,
    default_pattern,
    learned_content,
    learned_pattern,
    validate_content,
)
from core.store import Store
from core.store.tables import runbook_versions, runbooks

ORIGINS = ("default", "learned")
MAX_PATTERN = 120
MAX_AUTHOR = 200


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _content_values(content: RunbookContent) -> dict[str, Any]:
    d = content.to_dict()
    return {k: d[k] for k in ("title", "symptoms", "views", "checks", "mitigations", "owners", "signature")}


def _runbook(head: Any, ver: Any) -> Runbook:
    h, v = head._mapping, ver._mapping
    return Runbook(id=h["id"], pattern=h["pattern"], cause_class=RootCause(h["cause_class"]), origin=h["origin"],
                   source_incident_id=h["source_incident_id"], version=h["version"],
                   content=content_from_dict(dict(v)), author=v["author"] or "", updated_at=h["updated_at"])


def _select_current():
    return (select(runbooks, runbook_versions.c.title, runbook_versions.c.symptoms, runbook_versions.c.views,
                   runbook_versions.c.checks, runbook_versions.c.mitigations, runbook_versions.c.owners,
                   runbook_versions.c.signature, runbook_versions.c.author)
            .join(runbook_versions, (runbook_versions.c.runbook_id == runbooks.c.id)
                  & (runbook_versions.c.version == runbooks.c.version)))


def _from_joined(row: Any) -> Runbook:
    return _runbook(row, row)


def _pattern(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidInputError("a runbook needs a pattern name, e.g. 'stale_data/fraud-scorer'")
    if len(text) > MAX_PATTERN or any(c.isspace() for c in text):
        raise InvalidInputError(f"pattern '{text[:60]}' must be one word of at most {MAX_PATTERN} characters "
                                "(letters, digits, / - _)")
    return text


def _author(value: Any) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > MAX_AUTHOR:
        raise InvalidInputError(f"the author name is {len(text)} characters long; keep it under {MAX_AUTHOR}")
    return text


def _insert(store: Store, *, pattern: str, cause: RootCause, origin: str, content: RunbookContent,
            author: str, note: str, source_incident_id: str | None) -> bool:
    """Insert a new entry at version 1; False when the pattern already exists (someone else was first)."""
    now = _now()
    try:
        with store.engine.begin() as conn:
            new_id = conn.execute(insert(runbooks).values(
                pattern=pattern, cause_class=cause.value, origin=origin, source_incident_id=source_incident_id,
                version=1, created_at=now, updated_at=now)).inserted_primary_key[0]
            conn.execute(insert(runbook_versions).values(runbook_id=new_id, version=1, author=author, note=note,
                                                         saved_at=now, **_content_values(content)))
        return True
    except IntegrityError:
        return False


def ensure_default_runbooks(store: Store) -> None:
    """Create the default entry of every root-cause class that has none yet (idempotent, safe in parallel)."""
    store = __import__("core.team.guard", fromlist=["as_system"]).as_system(store)  # defaults, not an edit
    with store.engine.connect() as conn:
        have = set(conn.execute(select(runbooks.c.pattern)).scalars())
    for cause in RootCause:
        if default_pattern(cause) not in have:
            _insert(store, pattern=default_pattern(cause), cause=cause, origin="default",
                    content=default_content(cause), author="workbench", note="default entry",
                    source_incident_id=None)


def list_runbooks(store: Store, cause: RootCause | str | None = None) -> list[Runbook]:
    """Every entry (of one class when given): defaults first, then learned ones by pattern."""
    ensure_default_runbooks(store)
    q = _select_current().order_by(runbooks.c.cause_class, runbooks.c.origin, runbooks.c.pattern)
    if cause:
        q = q.where(runbooks.c.cause_class == cause_class(cause).value)
    with store.engine.connect() as conn:
        return [_from_joined(r) for r in conn.execute(q).fetchall()]


def find_runbook(store: Store, pattern: str) -> Runbook | None:
    ensure_default_runbooks(store)
    with store.engine.connect() as conn:
        row = conn.execute(_select_current().where(runbooks.c.pattern == str(pattern).strip())).first()
    return _from_joined(row) if row else None


def get_runbook(store: Store, pattern: str) -> Runbook:
    """The current version of an entry.

    Raises:
        NotFoundError: no entry of that pattern; the message lists the patterns.
    """
    found = find_runbook(store, pattern)
    if found is None:
        names = ", ".join(r.pattern for r in list_runbooks(store))
        raise NotFoundError(f"no runbook '{pattern}'; the runbooks are {names}")
    return found


def runbook_for(store: Store, cause: RootCause | str, *, incident_id: str | None = None) -> Runbook:
    """The runbook to follow for a root-cause class: the entry learned for the incident's failure
    pattern when ``incident_id`` is given and one exists, else the class's default entry.

    Raises:
        InvalidInputError: ``cause`` is not a root-cause class.
    """
    c = cause_class(cause)
    if incident_id:
        from core.store.incidents import find_incident

        incident = find_incident(store, incident_id)
        if incident is not None:
            from core.analysis.similar import pattern_key

            learned = find_runbook(store, pattern_key(c.value, incident.service, incident.id))
            if learned is not None:
                return learned
    return get_runbook(store, default_pattern(c))


def save_runbook(store: Store, pattern: str, content: RunbookContent, *, version: int, author: str = "",
                 note: str = "") -> Runbook:
    """Save ``content`` as the next version of an entry if it is still at ``version``.

    Raises:
        InvalidInputError: the content is invalid (see :func:`core.prevention.runbooks.validate_content`).
        NotFoundError: no such entry.
        ConcurrentEditError: someone else saved a newer version first; ``.current`` is the fresh entry.
    """
    content = validate_content(content)
    author = _author(author)
    note = " ".join(str(note or "").split())[:500]
    current = get_runbook(store, pattern)
    if not content.signature:
        content = RunbookContent(**{**content.__dict__, "signature": dict(current.content.signature)})
    now = _now()
    with store.engine.begin() as conn:
        done = conn.execute(update(runbooks).where(runbooks.c.id == current.id, runbooks.c.version == version)
                            .values(version=version + 1, updated_at=now))
        if done.rowcount != 1:
            raise ConcurrentEditError(f"The runbook '{current.pattern}'", current=current)
        conn.execute(insert(runbook_versions).values(runbook_id=current.id, version=version + 1, author=author,
                                                     note=note, saved_at=now, **_content_values(content)))
    return get_runbook(store, pattern)


def create_runbook(store: Store, pattern: str, cause: RootCause | str, content: RunbookContent, *,
                   author: str = "", source_incident_id: str | None = None, note: str = "") -> Runbook:
    """A new learned entry at version 1.

    Raises:
        InvalidInputError: bad pattern or content, or the pattern exists already.
    """
    pattern = _pattern(pattern)
    c = cause_class(cause)
    content = validate_content(content)
    if not _insert(store, pattern=pattern, cause=c, origin="learned", content=content, author=_author(author),
                   note=note or "new entry", source_incident_id=source_incident_id):
        raise InvalidInputError(f"a runbook '{pattern}' exists already; open it and save a new version instead")
    return get_runbook(store, pattern)


def list_versions(store: Store, pattern: str) -> list[RunbookVersion]:
    """Every saved version of an entry, newest first."""
    rb = get_runbook(store, pattern)
    with store.engine.connect() as conn:
        rows = conn.execute(select(runbook_versions).where(runbook_versions.c.runbook_id == rb.id)
                            .order_by(runbook_versions.c.version.desc())).fetchall()
    return [RunbookVersion(r._mapping["version"], content_from_dict(dict(r._mapping)), r._mapping["author"] or "",
                           r._mapping["note"] or "", r._mapping["saved_at"]) for r in rows]


def get_version(store: Store, pattern: str, version: int) -> RunbookVersion:
    """One saved version of an entry.

    Raises:
        NotFoundError: no such version; the message gives the range.
    """
    versions = list_versions(store, pattern)
    for v in versions:
        if v.version == version:
            return v
    raise NotFoundError(f"runbook '{pattern}' has no version {version}; it has versions 1 to {versions[0].version}")


def learn_from_incident(store: Store, incident_id: str, *, author: str = "", cause: RootCause | str | None = None
                        ) -> tuple[Runbook, bool]:
    """Add the incident's failure pattern to the runbooks: a new learned entry, or a new version of it.

    The cause is the one given, else the incident's root-cause class. Returns the entry and whether
    it was created (False: a new version of an existing entry).

    Raises:
        NotFoundError: no such incident.
        InvalidInputError: no cause given and the incident has no root-cause class yet.
        ConcurrentEditError: someone else saved the entry at the same moment (try again).
    """
    from core.store.analytics import load_signature
    from core.store.incidents import get_incident

    incident = get_incident(store, incident_id)
    if cause is None or cause == "":
        if incident.root_cause is None:
            raise InvalidInputError(f"incident {incident_id} has no root-cause class yet; confirm a cause (or set "
                                    "the class on the Incidents page) before adding it to the runbook")
        cause = incident.root_cause
    c = cause_class(cause)
    signature = load_signature(store, incident_id)
    pattern = learned_pattern(signature, c)
    existing = find_runbook(store, pattern)
    if existing is None:
        content = learned_content(signature, c, default_content(c))
        if _insert(store, pattern=pattern, cause=c, origin="learned", content=content, author=_author(author),
                   note=f"learned from {incident_id}", source_incident_id=incident_id):
            return get_runbook(store, pattern), True
        existing = get_runbook(store, pattern)
    content = learned_content(signature, c, existing.content)
    return save_runbook(store, pattern, content, version=existing.version, author=author,
                        note=f"learned from {incident_id}"), False

