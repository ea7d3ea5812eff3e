"""Edited post-mortem sections (table ``report_sections``), with optimistic concurrency.

A section that was never edited has no row: the post-mortem shows its drafted
text. Saving a section for the first time passes ``version=0``; every later save
passes the version the editor last saw. A stale save is refused with
:class:`~core.errors.ConcurrentEditError` whose ``current`` holds the fresh
:class:`ReportSection` (or ``None`` when it was reset meanwhile), so the page can
show the other person's text and nothing is silently overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.store import Store
from core.store.tables import incidents, report_sections

SECTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_SECTION_TEXT = 100_000


@dataclass(frozen=True)
class ReportSection:
    """The saved text of one post-mortem section."""

    incident_id: str
    section: str
    text: str
    version: int
    updated_at: datetime


def _from_row(row: Any) -> ReportSection:
    m = row._mapping
    return ReportSection(incident_id=m["incident_id"], section=m["section"], text=m["text"] or "",
                         version=m["version"], updated_at=m["updated_at"])


def _check(section: str, text: str | None = None) -> None:
    if not isinstance(section, str) or not SECTION_PATTERN.match(section):
        raise InvalidInputError(
            f"'{section}' is not a section name; use lower-case letters, digits and '_' (max 60), e.g. 'summary'"
        )
    if text is not None:
        if not isinstance(text, str):
            raise InvalidInputError(f"the text of section '{section}' must be text, got {type(text).__name__}")
        if len(text) > MAX_SECTION_TEXT:
            raise InvalidInputError(
                f"section '{section}' is {len(text):,} characters long; keep it under {MAX_SECTION_TEXT:,} "
                "(link long material as evidence instead)"
            )


def get_section(store: Store, incident_id: str, section: str) -> ReportSection | None:
    """The saved section, or None when it was never edited (the draft applies)."""
    _check(section)
    with store.engine.connect() as conn:
        row = conn.execute(select(report_sections).where(
            report_sections.c.incident_id == incident_id, report_sections.c.section == section)).first()
    return _from_row(row) if row else None


def list_sections(store: Store, incident_id: str) -> dict[str, ReportSection]:
    """Every saved section of an incident, by section name."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(report_sections).where(report_sections.c.incident_id == incident_id)
                            .order_by(report_sections.c.section)).fetchall()
    return {r._mapping["section"]: _from_row(r) for r in rows}


def save_section(store: Store, incident_id: str, section: str, text: str, *, version: int) -> ReportSection:
    """Save a section's text if it is still at ``version`` (0: never saved before).

    Raises:
        InvalidInputError: bad section name or too long a text.
        NotFoundError: no such incident.
        ConcurrentEditError: someone else saved (or reset) it first; ``.current`` is the fresh
            section or None.
    """
    _check(section, text)
    text = text.replace("\r\n", "\n")
    now = datetime.now(timezone.utc)
    what = f"Post-mortem section '{section}'"
    if version == 0:
        with store.engine.connect() as conn:
            if not conn.execute(select(incidents.c.id).where(incidents.c.id == incident_id)).first():
                raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
        try:
            with store.engine.begin() as conn:
                conn.execute(insert(report_sections).values(
                    incident_id=incident_id, section=section, text=text, version=1, updated_at=now))
        except IntegrityError:
            raise ConcurrentEditError(what, current=get_section(store, incident_id, section)) from None
        return get_section(store, incident_id, section)
    with store.engine.begin() as conn:
        result = conn.execute(
            update(report_sections)
            .where(report_sections.c.incident_id == incident_id, report_sections.c.section == section,
                   report_sections.c.version == version)
            .values(text=text, version=report_sections.c.version + 1, updated_at=now))
        if result.rowcount != 1:
            row = conn.execute(select(report_sections).where(
                report_sections.c.incident_id == incident_id, report_sections.c.section == section)).first()
            raise ConcurrentEditError(what, current=_from_row(row) if row else None)
    return get_section(store, incident_id, section)


def reset_section(store: Store, incident_id: str, section: str, *, version: int) -> None:
    """Drop the edited text (the draft applies again) if still at ``version``.

    Raises:
        ConcurrentEditError: someone else changed it since; ``.current`` is the fresh section or None.
    """
    _check(section)
    with store.engine.begin() as conn:
        result = conn.execute(delete(report_sections).where(
            report_sections.c.incident_id == incident_id, report_sections.c.section == section,
            report_sections.c.version == version))
        if result.rowcount != 1:
            row = conn.execute(select(report_sections).where(
                report_sections.c.incident_id == incident_id, report_sections.c.section == section)).first()
            raise ConcurrentEditError(f"Post-mortem section '{section}'",
                                      current=_from_row(row) if row else None)


def sections_revision(store: Store, incident_id: str) -> tuple[tuple[str, int], ...]:
    """(section, version) of every saved section: a cheap value pages poll to notice others' edits."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(report_sections.c.section, report_sections.c.version)
                            .where(report_sections.c.incident_id == incident_id)
                            .order_by(report_sections.c.section)).fetchall()
    return tuple((r[0], r[1]) for r in rows)
