"""The one place every store write passes through: the engine's execute hooks.

:func:`install` adds two SQLAlchemy event listeners to a store's engine. Before any INSERT, UPDATE
or DELETE (SQLAlchemy statements and raw driver SQL alike) the acting :class:`~core.team.Identity`
is checked against :mod:`core.team.permissions`; a refused write raises
:class:`~core.team.PermissionDeniedError` before anything reaches the database, and the caller's
transaction rolls back. After the write, one audit row per changed object is added on the same
connection, so the audit entry commits or rolls back with the change itself.

Who acts comes from the engine's execution options (``Store.as_user(identity, via=…)`` sets
``workbench_actor`` and ``workbench_via``), else from :data:`ACTOR` / :data:`VIA` (the command
line sets them for ``--as``), else :data:`core.team.SYSTEM` (the app's own background work and
single-user use without sign-in). PostgreSQL's ``COPY`` of a bulk timeline import bypasses the
hooks, so :func:`bulk_write` is called for it explicitly.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import event, insert, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Delete, Insert, Update

from core.team import SYSTEM, Identity
from core.team.permissions import COMMANDER_COLUMNS, NOT_AUDITED, check_write

ACTOR_OPTION = "workbench_actor"
VIA_OPTION = "workbench_via"
#: The acting identity and origin when the store was not bound with ``as_user`` (the CLI sets these).
ACTOR: ContextVar[Identity | None] = ContextVar("workbench_actor", default=None)
VIA: ContextVar[str] = ContextVar("workbench_via", default="")

_PENDING = "workbench_audit_pending"
_RAW_DML = re.compile(r"^\s*(insert\s+into|update|delete\s+from)\s+\"?([A-Za-z_][\w]*)\"?", re.I)
_LABEL_COLUMNS = ("title", "text", "question", "pattern", "name", "section", "problem", "user_name", "role")
_MAX_TEXT = 300
_BOOKKEEPING = frozenset({"version", "updated_at"})


def install(engine: Engine) -> None:
    """Check and audit every write on ``engine`` (idempotent)."""
    if event.contains(engine, "before_execute", _before_execute):
        return
    event.listen(engine, "before_execute", _before_execute)
    event.listen(engine, "after_execute", _after_execute)
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)


def actor_of(conn: Connection) -> Identity:
    """Who is acting on ``conn``."""
    return conn.get_execution_options().get(ACTOR_OPTION) or ACTOR.get() or SYSTEM


def via_of(conn: Connection) -> str:
    return conn.get_execution_options().get(VIA_OPTION) or VIA.get() or ""


def _columns(stmt, multiparams, params) -> set[str]:
    cols = {getattr(k, "key", None) or str(k) for k in (getattr(stmt, "_values", None) or {})}
    for group in (multiparams or ()):
        for item in (group if isinstance(group, (list, tuple)) else [group]):
            if isinstance(item, dict):
                cols.update(item)
    if isinstance(params, dict):
        cols.update(params)
    return cols


def _action(stmt) -> str | None:
    if isinstance(stmt, Insert):
        return "insert"
    if isinstance(stmt, Update):
        return "update"
    if isinstance(stmt, Delete):
        return "delete"
    return None


def _migrating(conn) -> bool:
    return bool(conn.get_execution_options().get("workbench_migrating"))


def _before_rows(conn, stmt) -> list[dict]:
    if stmt.whereclause is None:
        return []
    return [dict(r) for r in conn.execute(select(stmt.table).where(stmt.whereclause)).mappings().fetchall()]


def _new_values(stmt, multiparams, params) -> dict[str, Any]:
    """The plain values an UPDATE sets (expressions such as ``version + 1`` are left out)."""
    out: dict[str, Any] = {}
    for k, v in (getattr(stmt, "_values", None) or {}).items():
        if hasattr(v, "value") and not callable(getattr(v, "value")):
            out[getattr(k, "key", None) or str(k)] = v.value
    if isinstance(params, dict):
        out.update(params)
    return out


def _before_execute(conn, stmt, multiparams, params, execution_options):
    action = _action(stmt)
    if action is None or _migrating(conn):
        return
    table = stmt.table.name
    columns = _columns(stmt, multiparams, params)
    rows = None
    special = COMMANDER_COLUMNS.get(table, frozenset()) & columns
    if action == "update" and special:
        # a form that sends the command fields back unchanged (status, severity, roles) edits only the rest
        rows = _before_rows(conn, stmt)
        new = _new_values(stmt, multiparams, params)
        columns -= {c for c in special
                    if c in new and all(_comparable(r.get(c)) == _comparable(new[c]) for r in rows)}
    check_write(actor_of(conn), table, action, columns)
    if table in NOT_AUDITED or action == "insert":
        return
    # the rows as they are before the change, for the audit entry
    if rows is None:
        rows = _before_rows(conn, stmt)
    conn.info.setdefault(_PENDING, []).append((stmt, rows))


def _after_execute(conn, stmt, multiparams, params, execution_options, result):
    action = _action(stmt)
    if action is None or _migrating(conn):
        return
    table = stmt.table
    if table.name in NOT_AUDITED:
        return
    if action == "insert":
        _audit_insert(conn, stmt, multiparams, params, result)
        return
    pending = conn.info.get(_PENDING) or []
    before = next((rows for s, rows in reversed(pending) if s is stmt), [])
    conn.info[_PENDING] = [p for p in pending if p[0] is not stmt]
    if not before or not result.rowcount:
        return
    pk = list(table.primary_key.columns)
    after: dict[tuple, dict] = {}
    if action == "update":
        keys = [tuple(r[c.name] for c in pk) for r in before]
        rows = conn.execute(select(table).where(tuple_(*pk).in_(keys))).mappings().fetchall() if len(pk) > 1 \
            else conn.execute(select(table).where(pk[0].in_([k[0] for k in keys]))).mappings().fetchall()
        after = {tuple(r[c.name] for c in pk): dict(r) for r in rows}
    entries = []
    for old in before:
        key = tuple(old[c.name] for c in pk)
        new = after.get(key)
        if action == "update" and new is None:
            continue
        changed = sorted(k for k in old if new is not None and k not in _BOOKKEEPING
                         and _comparable(old[k]) != _comparable(new.get(k)))
        if action == "update" and not changed:
            continue
        shown_old = {k: old[k] for k in changed} if action == "update" else old
        shown_new = {k: new[k] for k in changed} if new is not None else None
        entries.append(_entry(conn, table.name, action, key, old, new, shown_old, shown_new, changed))
    _write(conn, entries)


def _audit_insert(conn, stmt, multiparams, params, result) -> None:
    table = stmt.table
    rows: list[dict] = []
    if multiparams:
        for group in multiparams:
            rows.extend(group if isinstance(group, (list, tuple)) else [group])
    values = {getattr(k, "key", None) or str(k): v for k, v in (getattr(stmt, "_values", None) or {}).items()}
    values = {k: getattr(v, "value", v) for k, v in values.items()}
    if isinstance(params, dict):
        values.update(params)
    if len(rows) > 1:
        first = {**values, **rows[0]}
        _write(conn, [_entry(conn, table.name, "insert", (), None, first, None,
                             {"rows": len(rows)}, [], summary=f"added {len(rows)} rows")])
        return
    if rows:
        values.update(rows[0])
    try:
        key = tuple(result.inserted_primary_key or ())
    except Exception:  # noqa: BLE001 - executemany or a driver that does not report it: keep the values
        key = ()
    if not key:
        key = tuple(values.get(c.name) for c in table.primary_key.columns)
    _write(conn, [_entry(conn, table.name, "insert", key, None, values, None, values, [])])


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    return value


def _compact(row: dict | None) -> dict | None:
    if row is None:
        return None
    from core.jsonsafe import jsonable

    out = {}
    for k, v in row.items():
        v = jsonable(v)
        if isinstance(v, str) and len(v) > _MAX_TEXT:
            v = v[:_MAX_TEXT] + "…"
        elif isinstance(v, (dict, list)):
            text = json.dumps(v, default=str)
            if len(text) > _MAX_TEXT:
                v = f"[{len(text)} characters]"
        out[k] = v
    return out


def _label(row: dict | None) -> str:
    if not row:
        return ""
    for col in _LABEL_COLUMNS:
        value = row.get(col)
        if isinstance(value, str) and value.strip():
            text = value.strip().splitlines()[0]
            return text[:120] + ("…" if len(text) > 120 else "")
    return ""


def _incident_of(table: str, row: dict | None) -> str | None:
    if not row:
        return None
    if table == "incidents":
        return row.get("id")
    value = row.get("incident_id") or row.get("source_incident_id")
    return str(value) if value is not None else None


def _entry(conn, table, action, key, old, new, shown_old, shown_new, changed, summary: str = "") -> dict:
    who = actor_of(conn)
    row = new or old or {}
    version_before = old.get("version") if old else None
    version_after = new.get("version") if new else None
    if not isinstance(version_after, int):
        version_after = None
    return {
        "at": datetime.now(timezone.utc), "user_name": who.user[:200], "role": who.role.value,
        "via": via_of(conn)[:200], "incident_id": _incident_of(table, row),
        "object_type": table, "object_id": "/".join(str(k) for k in key)[:200] if key else "",
        "action": action, "label": _label(row),
        "version_before": version_before if isinstance(version_before, int) else None,
        "version_after": version_after, "changed": list(changed),
        "before": _compact(shown_old), "after": _compact(shown_new), "summary": summary,
    }


def _write(conn: Connection, entries: list[dict]) -> None:
    if not entries:
        return
    from core.store.tables import audit_log

    conn.execute(insert(audit_log), entries) if len(entries) > 1 else conn.execute(insert(audit_log).values(**entries[0]))


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
    """Raw driver SQL (``exec_driver_sql``) skips ``before_execute``: check its table here (the code that
    issues it audits through :func:`bulk_write`)."""
    if context is None or getattr(context, "compiled", None) is not None or _migrating(conn):
        return
    match = _RAW_DML.match(statement or "")
    if not match:
        return
    verb = match.group(1).split()[0].lower()
    table = match.group(2)
    check_write(actor_of(conn), table, verb)


def bulk_write(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Check and audit a bulk write the hooks cannot see (PostgreSQL ``COPY``, SQLite executemany)."""
    check_write(actor_of(conn), table, "insert")
    if not rows or table in NOT_AUDITED:
        return
    _write(conn, [_entry(conn, table, "insert", (), None, rows[0], None, {"rows": len(rows)}, [],
                         summary=f"added {len(rows)} rows")])


def as_system(store):
    """``store`` acting as the workbench itself, for rows created on first read (a new fishbone's default
    categories, the default runbooks): a viewer opening a page must not be refused for them."""
    return store.as_user(SYSTEM, via=store.engine.get_execution_options().get(VIA_OPTION, ""))
