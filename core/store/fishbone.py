"""Repository functions for the fishbone and the Five Whys of an incident.

Every change is saved at once and carries the version the editor last saw; a
stale write is refused with :class:`~core.errors.ConcurrentEditError` whose
``current`` holds the fresh object (or ``None`` when it was deleted), so a
concurrent change is never lost. Structural changes (adding, moving, deleting)
take a row lock on the incident's ``fishbones`` row first, which serialises
concurrent editors on SQLite and PostgreSQL alike, so the duplicate and
two-level checks see every committed cause.

:func:`fishbone_revision` is a cheap digest of every row's id and version;
pages poll it to pick up others' changes. Action items are in
:mod:`core.store.action_items`; :func:`get_fishbone` returns them with the fishbone.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import ActionItem, ActionStatus, Category, Cause, CauseStatus, WhyStep
from core.store import Store
from core.store.tables import action_items, categories, causes, fishbones, incidents, why_steps

DEFAULT_CATEGORIES = (
    "Data",
    "Features & pipeline",
    "Model",
    "Code & config",
    "Infrastructure",
    "Environment & external",
    "Process & people",
)
MAX_CATEGORY = 60
MAX_CAUSE = 300
MAX_NOTES = 5000
MAX_PROBLEM = 500
MAX_WHY = 1000
MAX_CHAIN = 80
EVIDENCE_TYPES = ("evidence", "timeline_event", "log_query", "link", "note")


class CategoryHasCausesError(InvalidInputError):
    """A category that still holds causes was asked to be deleted without a destination."""

    def __init__(self, name: str, count: int):
        super().__init__(
            f"category '{name}' holds {count} cause(s); choose another category to move them to, "
            "then delete it again"
        )
        self.count = count


@dataclass(frozen=True)
class Fishbone:
    """Everything of one incident's fishbone, read in one go."""

    incident_id: str
    problem: str
    version: int
    categories: tuple[Category, ...]
    causes: tuple[Cause, ...]
    whys: tuple[WhyStep, ...]
    actions: tuple[ActionItem, ...]
    revision: str

    def category(self, category_id: int) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise NotFoundError(f"no fishbone category {category_id} in incident '{self.incident_id}'")

    def cause(self, cause_id: int) -> Cause:
        for c in self.causes:
            if c.id == cause_id:
                return c
        raise NotFoundError(f"no cause {cause_id} in incident '{self.incident_id}'; it may have been deleted")

    def top_causes(self, category_id: int) -> list[Cause]:
        """Causes of a category without a parent, in display order."""
        return [c for c in self.causes if c.category_id == category_id and c.parent_id is None]

    def children(self, cause_id: int) -> list[Cause]:
        return [c for c in self.causes if c.parent_id == cause_id]

    def actions_for(self, cause_id: int) -> list[ActionItem]:
        return [a for a in self.actions if a.cause_id == cause_id]


# ---------------------------------------------------------------- helpers


def normalise(text: str) -> str:
    """Key under which two cause texts count as the same (case and spacing ignored)."""
    return re.sub(r"\s+", " ", text or "").strip().casefold()


def _text(value: Any, what: str, limit: int, *, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInputError(f"the {what} must be text, got {type(value).__name__}")
    value = value.replace("\r\n", "\n").strip()
    if required and not value:
        raise InvalidInputError(f"the {what} is empty; type a few words")
    if len(value) > limit:
        raise InvalidInputError(
            f"the {what} is {len(value)} characters long; keep it under {limit} "
            "(put the details in the notes or in evidence)"
        )
    return value


def _single_line(value: str) -> str:
    """Collapse newlines and runs of spaces of a one-line label."""
    return re.sub(r"\s+", " ", value) if value else value


def _status(value: Any) -> str:
    try:
        return CauseStatus(value).value
    except ValueError:
        allowed = ", ".join(s.value for s in CauseStatus)
        raise InvalidInputError(f"'{value}' is not a cause status; choose one of {allowed}") from None


def _evidence(refs: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Validate evidence links: dicts with a ``type`` and a ``title`` (plus ``id``/``query``/``url``)."""
    out: list[dict[str, Any]] = []
    for ref in refs or ():
        if not isinstance(ref, dict):
            raise InvalidInputError(f"an evidence link must be a mapping, got {type(ref).__name__}")
        kind = ref.get("type", "evidence")
        if kind not in EVIDENCE_TYPES:
            raise InvalidInputError(
                f"'{kind}' is not an evidence link type; use one of {', '.join(EVIDENCE_TYPES)}"
            )
        title = str(ref.get("title") or "").strip()
        if not title:
            raise InvalidInputError("an evidence link needs a title saying what it shows")
        clean = {k: v for k, v in ref.items() if v is not None}
        clean["type"], clean["title"] = kind, title[:300]
        if clean not in out:
            out.append(clean)
    return out


def evidence_ref(evidence: Any) -> dict[str, Any]:
    """An evidence link to a pinned :class:`~core.models.Evidence`."""
    return {"type": "evidence", "id": evidence.id, "kind": evidence.kind, "title": evidence.title}


def event_ref(event: Any) -> dict[str, Any]:
    """An evidence link to a :class:`~core.models.TimelineEvent`."""
    return {"type": "timeline_event", "id": event.id, "kind": str(event.kind), "title": event.title}


def log_query_ref(query: str, title: str | None = None, window: Any = None) -> dict[str, Any]:
    """An evidence link to a log query (Lucene syntax) over an optional window."""
    ref: dict[str, Any] = {"type": "log_query", "query": query, "title": title or f"Logs: {query}"}
    if window is not None:
        ref["window"] = window.to_dict()
    return ref


def _cause(row: Any) -> Cause:
    m = row._mapping
    return Cause(
        id=m["id"], incident_id=m["incident_id"], category_id=m["category_id"], text=m["text"],
        status=CauseStatus(m["status"]), parent_id=m["parent_id"], notes=m["notes"] or "",
        evidence=tuple(m["evidence"] or ()), position=m["position"], version=m["version"],
    )


def _category(row: Any) -> Category:
    m = row._mapping
    return Category(id=m["id"], incident_id=m["incident_id"], name=m["name"], position=m["position"],
                    version=m["version"])


def _why(row: Any) -> WhyStep:
    m = row._mapping
    return WhyStep(
        id=m["id"], incident_id=m["incident_id"], chain=m["chain"], question=m["question"],
        answer=m["answer"] or "", parent_id=m["parent_id"], evidence=tuple(m["evidence"] or ()),
        cause_id=m["cause_id"], position=m["position"], version=m["version"],
    )


def _action(row: Any) -> ActionItem:
    m = row._mapping
    return ActionItem(
        id=m["id"], incident_id=m["incident_id"], text=m["text"], owner=m["owner"] or "", due=m["due"],
        status=ActionStatus(m["status"]), cause_id=m["cause_id"], version=m["version"],
    )


def _ensure(conn: Connection, incident_id: str) -> None:
    """Create the fishbone row and the default categories if the incident has none yet."""
    if conn.execute(select(fishbones.c.incident_id).where(fishbones.c.incident_id == incident_id)).first():
        return
    if not conn.execute(select(incidents.c.id).where(incidents.c.id == incident_id)).first():
        raise NotFoundError(f"no incident with id '{incident_id}'; pick one from the incident list")
    conn.execute(insert(fishbones).values(incident_id=incident_id, problem="", version=1))
    conn.execute(insert(categories), [
        {"incident_id": incident_id, "name": name, "position": i, "version": 1}
        for i, name in enumerate(DEFAULT_CATEGORIES)
    ])


def ensure_fishbone(store: Store, incident_id: str) -> None:
    """Create the incident's fishbone with the default ML categories (idempotent, race-safe)."""
    store = __import__("core.team.guard", fromlist=["as_system"]).as_system(store)  # defaults, not an edit
    try:
        with store.engine.begin() as conn:
            _ensure(conn, incident_id)
    except IntegrityError:
        pass  # another editor created it at the same moment; theirs is identical


def _lock(conn: Connection, incident_id: str) -> None:
    """Serialise structural changes of one fishbone (row lock on PostgreSQL, write lock on SQLite)."""
    result = conn.execute(
        update(fishbones).where(fishbones.c.incident_id == incident_id).values(version=fishbones.c.version)
    )
    if result.rowcount != 1:
        raise NotFoundError(f"incident '{incident_id}' has no fishbone yet; open its fishbone first")


def _begin_locked(store: Store, incident_id: str):
    ensure_fishbone(store, incident_id)
    return store.engine.begin()


def _row(conn: Connection, table, row_id: int):
    return conn.execute(select(table).where(table.c.id == row_id)).first()


def _incident_of(store: Store, table, row_id: int, what: str) -> str:
    with store.engine.connect() as conn:
        found = conn.execute(select(table.c.incident_id).where(table.c.id == row_id)).first()
    if found is None:
        raise NotFoundError(f"no {what} {row_id}; it may have been deleted by someone else — reload")
    return found[0]


def _stale(what: str, fresh: Any) -> ConcurrentEditError:
    return ConcurrentEditError(what, current=fresh)


@contextmanager
def _locked_at(store: Store, table, row_id: int, version: int, *, what: str, label: str,
               to_object: Callable[[Any], Any]) -> Iterator[tuple[Connection, Any, str]]:
    """A transaction holding the fishbone lock, with the row re-read and still at ``version``.

    Yields (connection, row, incident id). Raises ``ConcurrentEditError`` carrying the fresh
    object (or None when it was deleted) if someone else changed it first.
    """
    incident_id = _incident_of(store, table, row_id, what)
    with store.engine.begin() as conn:
        _lock(conn, incident_id)
        row = _row(conn, table, row_id)
        if row is None or row._mapping["version"] != version:
            raise _stale(label, to_object(row) if row else None)
        yield conn, row, incident_id


# ---------------------------------------------------------------- reading


def get_fishbone(store: Store, incident_id: str) -> Fishbone:
    """The whole fishbone of an incident (created with default categories on first read).

    Raises:
        NotFoundError: no such incident.
    """
    ensure_fishbone(store, incident_id)
    with store.engine.connect() as conn:
        head = conn.execute(select(fishbones).where(fishbones.c.incident_id == incident_id)).first()
        cats = conn.execute(select(categories).where(categories.c.incident_id == incident_id)
                            .order_by(categories.c.position, categories.c.id)).fetchall()
        cs = conn.execute(select(causes).where(causes.c.incident_id == incident_id)
                          .order_by(causes.c.position, causes.c.id)).fetchall()
        ws = conn.execute(select(why_steps).where(why_steps.c.incident_id == incident_id)
                          .order_by(why_steps.c.chain, why_steps.c.position, why_steps.c.id)).fetchall()
        acts = conn.execute(select(action_items).where(action_items.c.incident_id == incident_id)
                            .order_by(action_items.c.id)).fetchall()
    categories_ = tuple(_category(r) for r in cats)
    causes_ = tuple(_cause(r) for r in cs)
    whys_ = tuple(_why(r) for r in ws)
    actions_ = tuple(_action(r) for r in acts)
    return Fishbone(
        incident_id=incident_id, problem=head._mapping["problem"] or "", version=head._mapping["version"],
        categories=categories_, causes=causes_, whys=whys_, actions=actions_,
        revision=_revision_of(head._mapping["version"], categories_, causes_, whys_, actions_),
    )


def _digest(version: int, *groups: Iterable[Any]) -> str:
    h = hashlib.sha1(str(version).encode())
    for i, group in enumerate(groups):
        for obj in group:
            h.update(f"{i}:{obj.id}:{obj.version};".encode())
    return h.hexdigest()[:16]


def fishbone_revision(store: Store, incident_id: str) -> str:
    """A short digest that changes whenever anything of the fishbone changes (for polling)."""
    with store.engine.connect() as conn:
        head = conn.execute(select(fishbones.c.version).where(fishbones.c.incident_id == incident_id)).first()
        groups = []
        for table in (categories, causes, why_steps, action_items):
            rows = conn.execute(select(table.c.id, table.c.version).where(table.c.incident_id == incident_id)
                                .order_by(table.c.id)).fetchall()
            groups.append([_IdVersion(r[0], r[1]) for r in rows])
    if head is None:
        return "none"
    return _revision_of(head[0], *groups)


@dataclass(frozen=True)
class _IdVersion:
    id: int
    version: int


def _revision_of(version: int, *groups: list[Any]) -> str:
    return _digest(version, *[sorted(g, key=lambda o: o.id) for g in groups])


def get_cause(store: Store, cause_id: int) -> Cause:
    with store.engine.connect() as conn:
        row = _row(conn, causes, cause_id)
    if row is None:
        raise NotFoundError(f"no cause {cause_id}; it may have been deleted by someone else — reload")
    return _cause(row)


# ---------------------------------------------------------------- problem statement


def update_problem(store: Store, incident_id: str, problem: str, *, version: int) -> Fishbone:
    """Set the problem statement (the fish's head) if it is still at ``version``.

    Raises:
        ConcurrentEditError: someone else changed it first; ``.current`` is the fresh fishbone.
    """
    text = _single_line(_text(problem, "problem statement", MAX_PROBLEM))
    ensure_fishbone(store, incident_id)
    with store.engine.begin() as conn:
        result = conn.execute(
            update(fishbones).where(fishbones.c.incident_id == incident_id, fishbones.c.version == version)
            .values(problem=text, version=fishbones.c.version + 1)
        )
    if result.rowcount != 1:
        raise _stale("The problem statement", get_fishbone(store, incident_id))
    return get_fishbone(store, incident_id)


# ---------------------------------------------------------------- categories


def _check_category_name(conn: Connection, incident_id: str, name: str, exclude: int | None = None) -> None:
    rows = conn.execute(select(categories.c.id, categories.c.name)
                        .where(categories.c.incident_id == incident_id)).fetchall()
    for cid, existing in rows:
        if cid != exclude and normalise(existing) == normalise(name):
            raise InvalidInputError(f"there is already a category '{existing}'; choose another name")


def add_category(store: Store, incident_id: str, name: str) -> Category:
    """Add a category (a bone) at the end."""
    name = _single_line(_text(name, "category name", MAX_CATEGORY))
    with _begin_locked(store, incident_id) as conn:
        _lock(conn, incident_id)
        _check_category_name(conn, incident_id, name)
        pos = conn.execute(select(func.coalesce(func.max(categories.c.position), -1))
                           .where(categories.c.incident_id == incident_id)).scalar_one() + 1
        new_id = conn.execute(insert(categories).values(
            incident_id=incident_id, name=name, position=pos, version=1)).inserted_primary_key[0]
        return _category(_row(conn, categories, new_id))


def rename_category(store: Store, category_id: int, name: str, *, version: int) -> Category:
    """Rename a category if it is still at ``version``."""
    name = _single_line(_text(name, "category name", MAX_CATEGORY))
    incident_id = _incident_of(store, categories, category_id, "category")
    with store.engine.begin() as conn:
        _lock(conn, incident_id)
        _check_category_name(conn, incident_id, name, exclude=category_id)
        result = conn.execute(update(categories).where(categories.c.id == category_id,
                                                       categories.c.version == version)
                              .values(name=name, version=categories.c.version + 1))
        if result.rowcount != 1:
            row = _row(conn, categories, category_id)
            raise _stale("The category", _category(row) if row else None)
        return _category(_row(conn, categories, category_id))


def delete_category(store: Store, category_id: int, *, version: int, move_to: int | None = None) -> int:
    """Delete a category; its causes (with their sub-causes) move to ``move_to`` first.

    Returns:
        How many causes were moved.

    Raises:
        CategoryHasCausesError: it holds causes and no ``move_to`` was given (ask the user where).
        ConcurrentEditError: the category changed since ``version``.
    """
    with _locked_at(store, categories, category_id, version, what="category", label="The category",
                    to_object=_category) as (conn, row, incident_id):
        count = conn.execute(select(func.count()).select_from(causes)
                             .where(causes.c.category_id == category_id)).scalar_one()
        if count and move_to is None:
            raise CategoryHasCausesError(row._mapping["name"], count)
        if count:
            if move_to == category_id:
                raise InvalidInputError("choose a different category to move the causes to")
            target = _row(conn, categories, move_to)
            if target is None or target._mapping["incident_id"] != incident_id:
                raise InvalidInputError(f"category {move_to} is not part of this fishbone; choose one listed")
            conn.execute(update(causes).where(causes.c.category_id == category_id)
                         .values(category_id=move_to, version=causes.c.version + 1))
        conn.execute(delete(categories).where(categories.c.id == category_id))
        return count


# ---------------------------------------------------------------- causes


def _check_duplicate(conn: Connection, incident_id: str, text: str, exclude: int | None = None) -> None:
    key = normalise(text)
    rows = conn.execute(
        select(causes.c.id, causes.c.text, categories.c.name)
        .join(categories, categories.c.id == causes.c.category_id)
        .where(causes.c.incident_id == incident_id)
    ).fetchall()
    for cid, existing, cat in rows:
        if cid != exclude and normalise(existing) == key:
            raise InvalidInputError(
                f"the cause '{existing}' is already on the fishbone (category '{cat}'); "
                "edit that one, or word this one so it says something different"
            )


def _check_parent(conn: Connection, incident_id: str, parent_id: int, child_id: int | None = None) -> Any:
    if child_id is not None and parent_id == child_id:
        raise InvalidInputError("a cause cannot be its own sub-cause; choose another parent")
    parent = _row(conn, causes, parent_id)
    if parent is None or parent._mapping["incident_id"] != incident_id:
        raise InvalidInputError(f"cause {parent_id} is not on this fishbone; choose a parent that is listed")
    if parent._mapping["parent_id"] is not None:
        if child_id is not None and parent._mapping["parent_id"] == child_id:
            raise InvalidInputError(
                "that would make a circle: the chosen parent is already a sub-cause of this cause"
            )
        raise InvalidInputError(
            f"'{parent._mapping['text']}' is itself a sub-cause; the fishbone keeps two levels — "
            "attach to its parent instead"
        )
    if child_id is not None:
        has_children = conn.execute(select(func.count()).select_from(causes)
                                    .where(causes.c.parent_id == child_id)).scalar_one()
        if has_children:
            raise InvalidInputError(
                "this cause has sub-causes of its own, so it cannot become a sub-cause (two levels at most); "
                "move or delete its sub-causes first"
            )
    return parent


def _category_in(conn: Connection, incident_id: str, category_id: Any) -> int:
    row = _row(conn, categories, category_id) if category_id is not None else None
    if row is None or row._mapping["incident_id"] != incident_id:
        raise InvalidInputError(f"category {category_id} is not part of this fishbone; choose one listed")
    return row._mapping["id"]


def add_cause(
    store: Store,
    incident_id: str,
    *,
    category_id: int | None = None,
    text: str,
    status: CauseStatus | str = CauseStatus.SUSPECTED,
    parent_id: int | None = None,
    notes: str = "",
    evidence: Iterable[dict[str, Any]] = (),
) -> Cause:
    """Add a cause to a category, or a sub-cause under ``parent_id`` (it takes the parent's category).

    Raises:
        InvalidInputError: empty or too long text, a duplicate, an unknown category or parent,
            or a third level.
    """
    text = _single_line(_text(text, "cause", MAX_CAUSE))
    notes = _text(notes, "notes", MAX_NOTES, required=False)
    status = _status(status)
    refs = _evidence(evidence)
    with _begin_locked(store, incident_id) as conn:
        _lock(conn, incident_id)
        if parent_id is not None:
            parent = _check_parent(conn, incident_id, parent_id)
            category_id = parent._mapping["category_id"]
        else:
            category_id = _category_in(conn, incident_id, category_id)
        _check_duplicate(conn, incident_id, text)
        pos = conn.execute(select(func.coalesce(func.max(causes.c.position), -1))
                           .where(causes.c.incident_id == incident_id)).scalar_one() + 1
        new_id = conn.execute(insert(causes).values(
            incident_id=incident_id, category_id=category_id, parent_id=parent_id, text=text,
            status=status, notes=notes, evidence=refs, position=pos, version=1,
        )).inserted_primary_key[0]
        return _cause(_row(conn, causes, new_id))


_NO_CHANGE = object()


def update_cause(store: Store, cause_id: int, *, version: int, **changes: Any) -> Cause:
    """Change a cause (text, status, notes, evidence, category_id, parent_id) if still at ``version``.

    Moving a cause to another category moves its sub-causes along; ``parent_id=None`` makes a
    sub-cause a top-level cause again.

    Raises:
        ConcurrentEditError: someone else changed or deleted it; ``.current`` is the fresh cause or None.
        InvalidInputError: bad text, duplicate, circular or three-level parent links.
    """
    allowed = {"text", "status", "notes", "evidence", "category_id", "parent_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"unknown cause field(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if "text" in changes:
        values["text"] = _single_line(_text(changes["text"], "cause", MAX_CAUSE))
    if "notes" in changes:
        values["notes"] = _text(changes["notes"], "notes", MAX_NOTES, required=False)
    if "status" in changes:
        values["status"] = _status(changes["status"])
    if "evidence" in changes:
        values["evidence"] = _evidence(changes["evidence"])
    with _locked_at(store, causes, cause_id, version, what="cause", label="The cause",
                    to_object=_cause) as (conn, row, incident_id):
        if "text" in values:
            _check_duplicate(conn, incident_id, values["text"], exclude=cause_id)
        if "parent_id" in changes and changes["parent_id"] != row._mapping["parent_id"]:
            parent_id = changes["parent_id"]
            if parent_id is not None:
                parent = _check_parent(conn, incident_id, parent_id, child_id=cause_id)
                values["category_id"] = parent._mapping["category_id"]
            values["parent_id"] = parent_id
        if "category_id" in changes and "category_id" not in values:
            target = _category_in(conn, incident_id, changes["category_id"])
            if row._mapping["parent_id"] is not None and values.get("parent_id", _NO_CHANGE) is not None \
                    and target != row._mapping["category_id"]:
                raise InvalidInputError(
                    "a sub-cause stays in its parent's category; detach it from its parent first"
                )
            values["category_id"] = target
        result = conn.execute(update(causes).where(causes.c.id == cause_id, causes.c.version == version)
                              .values(version=causes.c.version + 1, **values))
        if result.rowcount != 1:  # pragma: no cover - the lock above makes this unreachable
            raise _stale("The cause", None)
        if "category_id" in values and values["category_id"] != row._mapping["category_id"]:
            conn.execute(update(causes).where(causes.c.parent_id == cause_id)
                         .values(category_id=values["category_id"], version=causes.c.version + 1))
        return _cause(_row(conn, causes, cause_id))


def delete_cause(store: Store, cause_id: int, *, version: int) -> None:
    """Delete a cause and its sub-causes; Five Whys steps and action items keep existing, unlinked."""
    with _locked_at(store, causes, cause_id, version, what="cause", label="The cause",
                    to_object=_cause) as (conn, row, incident_id):
        ids = [cause_id] + [r[0] for r in conn.execute(
            select(causes.c.id).where(causes.c.parent_id == cause_id)).fetchall()]
        # explicit unlinking, so it does not depend on the backend enforcing ON DELETE SET NULL
        conn.execute(update(why_steps).where(why_steps.c.cause_id.in_(ids))
                     .values(cause_id=None, version=why_steps.c.version + 1))
        conn.execute(update(action_items).where(action_items.c.cause_id.in_(ids))
                     .values(cause_id=None, version=action_items.c.version + 1))
        conn.execute(delete(causes).where(causes.c.parent_id == cause_id))
        conn.execute(delete(causes).where(causes.c.id == cause_id))


# ---------------------------------------------------------------- five whys


def _chain(value: Any) -> str:
    return _single_line(_text(value or "main", "chain name", MAX_CHAIN))


def _cause_in(conn: Connection, incident_id: str, cause_id: Any) -> int | None:
    if cause_id is None:
        return None
    row = _row(conn, causes, cause_id)
    if row is None or row._mapping["incident_id"] != incident_id:
        raise InvalidInputError(f"cause {cause_id} is not on this fishbone; choose a listed cause")
    return row._mapping["id"]


def add_why(
    store: Store,
    incident_id: str,
    *,
    question: str,
    answer: str = "",
    chain: str = "main",
    parent_id: int | None = None,
    evidence: Iterable[dict[str, Any]] = (),
    cause_id: int | None = None,
) -> WhyStep:
    """Add a Five Whys step; a step with ``parent_id`` continues (or branches) that step's chain."""
    question = _text(question, "question", MAX_WHY)
    answer = _text(answer, "answer", MAX_WHY, required=False)
    refs = _evidence(evidence)
    with _begin_locked(store, incident_id) as conn:
        _lock(conn, incident_id)
        if parent_id is not None:
            parent = _row(conn, why_steps, parent_id)
            if parent is None or parent._mapping["incident_id"] != incident_id:
                raise InvalidInputError(f"why step {parent_id} is not part of this incident; reload")
            chain = parent._mapping["chain"]
        else:
            chain = _chain(chain)
        cause = _cause_in(conn, incident_id, cause_id)
        pos = conn.execute(select(func.coalesce(func.max(why_steps.c.position), -1))
                           .where(why_steps.c.incident_id == incident_id)).scalar_one() + 1
        new_id = conn.execute(insert(why_steps).values(
            incident_id=incident_id, chain=chain, parent_id=parent_id, question=question, answer=answer,
            evidence=refs, cause_id=cause, position=pos, version=1,
        )).inserted_primary_key[0]
        return _why(_row(conn, why_steps, new_id))


def update_why(store: Store, step_id: int, *, version: int, **changes: Any) -> WhyStep:
    """Change a step (question, answer, evidence, cause_id, parent_id) if still at ``version``.

    Raises:
        InvalidInputError: a circular parent link (a step under its own descendant), bad text.
        ConcurrentEditError: someone else changed or deleted it.
    """
    allowed = {"question", "answer", "evidence", "cause_id", "parent_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"unknown why-step field(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if "question" in changes:
        values["question"] = _text(changes["question"], "question", MAX_WHY)
    if "answer" in changes:
        values["answer"] = _text(changes["answer"], "answer", MAX_WHY, required=False)
    if "evidence" in changes:
        values["evidence"] = _evidence(changes["evidence"])
    with _locked_at(store, why_steps, step_id, version, what="why step", label="The why step",
                    to_object=_why) as (conn, row, incident_id):
        if "cause_id" in changes:
            values["cause_id"] = _cause_in(conn, incident_id, changes["cause_id"])
        if "parent_id" in changes and changes["parent_id"] is not None:
            parent_id = changes["parent_id"]
            seen = set()
            walk = parent_id
            while walk is not None:
                if walk == step_id:
                    raise InvalidInputError(
                        "that would make a circle: the chosen step comes after this one in the chain"
                    )
                if walk in seen:  # pragma: no cover - defensive, cycles are never stored
                    break
                seen.add(walk)
                r = _row(conn, why_steps, walk)
                if r is None or r._mapping["incident_id"] != incident_id:
                    raise InvalidInputError(f"why step {parent_id} is not part of this incident; reload")
                walk = r._mapping["parent_id"]
            values["parent_id"] = parent_id
            values["chain"] = _row(conn, why_steps, parent_id)._mapping["chain"]
        elif "parent_id" in changes:
            values["parent_id"] = None
        conn.execute(update(why_steps).where(why_steps.c.id == step_id)
                     .values(version=why_steps.c.version + 1, **values))
        return _why(_row(conn, why_steps, step_id))


def delete_why(store: Store, step_id: int, *, version: int) -> None:
    """Delete a step and every step after it (its branches)."""
    with _locked_at(store, why_steps, step_id, version, what="why step", label="The why step",
                    to_object=_why) as (conn, row, incident_id):
        doomed, frontier = [step_id], [step_id]
        while frontier:
            frontier = [r[0] for r in conn.execute(
                select(why_steps.c.id).where(why_steps.c.parent_id.in_(frontier))).fetchall()]
            doomed.extend(frontier)
        conn.execute(delete(why_steps).where(why_steps.c.id.in_(doomed)))


def list_whys(store: Store, incident_id: str) -> list[WhyStep]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(why_steps).where(why_steps.c.incident_id == incident_id)
                            .order_by(why_steps.c.chain, why_steps.c.position, why_steps.c.id)).fetchall()
    return [_why(r) for r in rows]


def why_paths(steps: Iterable[WhyStep]) -> list[tuple[WhyStep, ...]]:
    """Every path from a chain's first question to a last step (one path per branch), in order."""
    steps = list(steps)
    by_parent: dict[int | None, list[WhyStep]] = {}
    ids = {s.id for s in steps}
    for s in steps:
        key = s.parent_id if s.parent_id in ids else None
        by_parent.setdefault(key, []).append(s)
    paths: list[tuple[WhyStep, ...]] = []

    def walk(step: WhyStep, prefix: tuple[WhyStep, ...]) -> None:
        path = prefix + (step,)
        kids = by_parent.get(step.id, [])
        if not kids:
            paths.append(path)
        for kid in kids:
            walk(kid, path)

    for root in by_parent.get(None, []):
        walk(root, ())
    return paths
