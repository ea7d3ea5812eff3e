"""Import an incident bundle into the store: the incident, its milestones and its change events.

An import is all or nothing ("never imported, not even partly", docs/bundle-format.md):

- rows: the incident, its milestones and every event are written in one transaction; the
  events are streamed from ``events.jsonl`` and inserted in chunks (executemany), so a
  bundle of a million events neither waits on a million round trips nor sits in memory;
- files: the bundle is copied into a staging folder under ``<home>/bundles/.staging/`` and
  renamed to ``<home>/bundles/<id>`` inside that transaction, just before it commits; on
  any failure the staging folder is removed and the store holds nothing of the bundle;
- concurrency: the incident row decides who wins an id (the unique key makes a concurrent
  insert wait for the first transaction), and only the winner renames its folder into place;
- interruption: each staging folder is owned through an advisory lock on its lock file, so
  the next import removes the folders left by killed ones, and a retry succeeds.

Text that no store can hold (lone UTF-16 surrogates, NUL characters) is refused with the
file and line; NaN and infinite numbers in event attributes become null on every backend.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy.exc import DataError, OperationalError

from core.bundle import Bundle, Problem, read_bundle, require_incident_id, unstorable_text
from core.errors import BundleError, InvalidInputError, MissingPackageError, StoreError
from core.models import EventKind, Milestone, RootCause, Severity, Status, utc
from core.paths import home_path, inside
from core.store import Store
from core.store.incidents import IncidentExistsError, find_incident, insert_incident, set_milestones
from core.store.locks import lock, try_lock  # a lock tells a live staging folder from a killed import's
from core.store.timeline import insert_event_rows


EVENTS_FILE = "events.jsonl"
CHUNK_ROWS = 5_000
MAX_SOURCE = 100  # timeline_events.source is VARCHAR(100)
IF_EXISTS = ("error", "skip", "rename")

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: step is "copy", "events" or "done"; done/total count events."""

__all__ = ["IncidentExistsError", "import_bundle", "next_free_id", "remove_stale_staging", "Progress"]


# ---------------------------------------------------------------- sanitising

def _finite(value: Any) -> Any:
    """``value`` with NaN and infinite numbers (also 1e999, which overflows) replaced by None.

    PostgreSQL's JSON refuses them and SQLite would store text no JSON reader accepts, so both
    backends store null.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, (float, dict, list)) and _finite(item) is not item:
                return {k: _finite(v) for k, v in value.items()}
        return value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, (float, dict, list)) and _finite(item) is not item:
                return [_finite(v) for v in value]
        return value
    return value


_SUSPECT = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")  # escaped surrogate or NUL in the raw line
_loads = json.JSONDecoder().decode


def _refuse(file: str, line: int | None, message: str) -> BundleError:
    where = f"{file}:{line}" if line else file
    return BundleError(f"{where}: {message}", [Problem(file, line, message)])


def _check_manifest_text(manifest: dict[str, Any]) -> None:
    found = unstorable_text(manifest, "")
    if found:
        field, what = found
        raise _refuse("bundle.json", None, f"'{field}' holds {what}, which cannot be stored; remove it")


def _utc(text: str) -> datetime:
    """An ISO 8601 time with a zone (already checked by validation) as aware UTC."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:  # forms fromisoformat does not take (e.g. "z"): the general parser
        return utc(text)
    if t.tzinfo is None:
        return utc(text)  # raises the "no time zone" error
    return t if t.tzinfo is timezone.utc else t.astimezone(timezone.utc)


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def _event_rows(path: Path, incident_id: str, author: str, milestones: dict[str, str],
                ) -> Iterator[list[dict[str, Any]]]:
    """Chunks of ready ``timeline_events`` rows from ``events.jsonl``, streamed line by line.

    Milestone events fill ``milestones`` instead of becoming rows.

    Raises:
        BundleError: a line holds text no store can hold, or a source that is too long.
    """
    now = datetime.now(timezone.utc)
    names = {m.value for m in Milestone}
    chunk: list[dict[str, Any]] = []
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            ev = _loads(line)
            if "\\u" in line and _SUSPECT.search(line):
                found = unstorable_text(ev, "")
                if found:
                    field, what = found
                    raise _refuse(EVENTS_FILE, lineno,
                                  f"'{field}' holds {what}, which cannot be stored; fix or remove that text")
            attrs = _finite(ev.get("attributes") or {})
            ts = _utc(ev["timestamp"])
            if ev["kind"] == EventKind.MILESTONE.value:
                name = attrs.get("milestone") or ev["title"].strip().lower()
                if isinstance(name, str) and name in names:
                    milestones[name] = ts.isoformat()
                continue
            source = ev.get("source") or "bundle"
            source = source if isinstance(source, str) else json.dumps(source)
            if len(source) > MAX_SOURCE:
                raise _refuse(EVENTS_FILE, lineno,
                              f"'source' is {len(source)} characters long; keep it under {MAX_SOURCE + 1}")
            chunk.append({"incident_id": incident_id, "ts": ts, "end_ts": _utc(ev["end"]) if ev.get("end") else None,
                          "kind": ev["kind"], "source": source, "title": ev["title"].strip(),
                          "details": attrs, "author": author, "created_at": now})
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


#: Folders of a bundle whose sources give timeline events at import: (source kind, folder). Each source
#: opened by :func:`core.sources.factory.open_source` has ``events()`` in the ``events.jsonl`` shape.
EVENT_SOURCES = (("quality", "quality"), ("lineage", "dbt"), ("errors", "errors"), ("data_versions", "datasets"), ("wandb", "wandb"),
                 ("features", "features"))


def _when(value: Any) -> datetime:
    """A tool event's time (ISO text or an aware datetime) as aware UTC."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else utc(value.isoformat())
    return _utc(str(value))


def _source_event_rows(bundle: Bundle, incident_id: str, author: str) -> list[dict[str, Any]]:
    """Timeline rows from the bundle's tool folders (failed GX checks, changed or stale dbt nodes).

    Raises:
        InvalidInputError: a folder is malformed (the message names the file); nothing is imported.
    """
    from core.sources.factory import open_source

    now = datetime.now(timezone.utc)
    rows = []
    for kind, folder in EVENT_SOURCES:
        if not (bundle.path / folder).is_dir():
            continue
        try:
            events = list(open_source(kind, bundle).events())
        except MissingPackageError:
            continue  # an optional extra is not installed: the folder's events are left out, the rest imports
        for ev in events:
            rows.append({"incident_id": incident_id, "ts": _when(ev["timestamp"]),
                         "end_ts": _when(ev["end"]) if ev.get("end") else None, "kind": ev["kind"],
                         "source": str(ev.get("source") or kind)[:MAX_SOURCE], "title": str(ev["title"]).strip(),
                         "details": _finite(ev.get("attributes") or {}), "author": author, "created_at": now})
    return rows


def _choice(value: Any, allowed: type, default: str | None) -> str | None:
    return value if isinstance(value, str) and value in {v.value for v in allowed} else default


def _incident_fields(bundle: Bundle, bundle_path: str) -> dict[str, Any]:
    m = bundle.manifest
    return {
        "title": bundle.title, "summary": bundle.summary, "service": bundle.service,
        "severity": _choice(m.get("severity"), Severity, Severity.SEV3.value),
        "status": _choice(m.get("status"), Status, Status.INVESTIGATING.value),
        "root_cause": _choice(m.get("root_cause"), RootCause, None),
        "kpi_metric": bundle.kpi_metric, "kpi_direction": bundle.kpi_direction,
        "window": bundle.window, "baseline": bundle.baseline, "bundle_path": bundle_path,
    }


# ---------------------------------------------------------------- staging files

def _staging_root() -> Path:
    root = home_path("bundles", ".staging")
    root.mkdir(parents=True, exist_ok=True)
    return root


def remove_stale_staging() -> int:
    """Remove the staging folders of imports that no longer run (killed or crashed); returns how many."""
    root = _staging_root()
    removed = 0
    for pending in root.glob("*.locking"):  # killed between creating and publishing its lock
        try:
            if time.time() - pending.stat().st_mtime > 3600:
                pending.unlink(missing_ok=True)
        except OSError:
            continue
    for lockfile in root.glob("*.lock"):
        try:
            fh = lockfile.open("a+")
        except OSError:
            continue
        with fh:
            if not try_lock(fh):
                continue  # a running import owns it
            shutil.rmtree(inside(root, lockfile.stem), ignore_errors=True)
            lockfile.unlink(missing_ok=True)
            removed += 1
    return removed


class _Staging:
    """A private folder under ``bundles/.staging``, owned through a lock held until ``close``."""

    def __init__(self) -> None:
        root = _staging_root()
        token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        pending = inside(root, f"{token}.locking")
        self._fh = pending.open("a+")
        lock(self._fh)
        # renamed only once locked, so a cleaner never sees an unlocked live folder
        self.lock = inside(root, f"{token}.lock")
        os.replace(pending, self.lock)
        self.dir = inside(root, token)
        self.dir.mkdir()
        self.bundle = self.dir / "bundle"
        self.published: tuple[Path, int] | None = None

    def copy(self, source: Path) -> None:
        shutil.copytree(source, self.bundle)

    def publish(self, final: Path) -> None:
        """Rename the staged copy to ``final``; a folder already there (left without a row) is replaced."""
        if final.exists() or final.is_symlink():
            os.replace(final, self.dir / "replaced")
        os.replace(self.bundle, final)
        self.published = (final, final.stat().st_ino)

    def unpublish(self) -> None:
        """Undo ``publish`` after the transaction failed to commit."""
        if self.published is None:
            return
        final, ino = self.published
        try:
            if final.stat().st_ino == ino:
                os.replace(final, self.dir / "unpublished")
        except OSError:
            pass
        self.published = None

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.lock.unlink(missing_ok=True)
        self._fh.close()


# ---------------------------------------------------------------- import

def _renamed(base: str, n: int) -> str:
    suffix = f"-{n}"
    return require_incident_id(base[: 64 - len(suffix)] + suffix)


def next_free_id(store: Store, base: str) -> str:
    """The id a "rename" import of ``base`` would take now: ``base-2``, ``base-3``, …"""
    n = 2
    while find_incident(store, _renamed(base, n)) is not None:
        n += 1
    return _renamed(base, n)


def import_bundle(store: Store, path: Path | str, *, copy: bool = True, if_exists: str = "error",
                  author: str = "bundle import", progress: Progress | None = None) -> str:
    """Load a bundle as an incident, all or nothing, and return its id.

    Args:
        store: the incident store.
        path: the bundle directory or zip.
        copy: copy the bundle under the workbench home (needed for uploads and temp files).
        if_exists: "error" refuses an existing id, "skip" leaves it, "rename" adds a suffix.
        author: recorded as the author of the imported events.
        progress: called as ``progress(step, done, total)`` while the import runs.

    Raises:
        BundleError: the bundle is invalid (also: its id, or text no store can hold).
        IncidentExistsError: the incident exists and ``if_exists`` is "error".
        InvalidInputError: ``if_exists`` is not one of error, skip, rename.
    """
    if if_exists not in IF_EXISTS:
        raise InvalidInputError(f"if_exists is {if_exists!r}; use one of {', '.join(IF_EXISTS)}")
    bundle = read_bundle(path)
    require_incident_id(bundle.id)
    _check_manifest_text(bundle.manifest)
    events_path = bundle.path / EVENTS_FILE
    total = _count_lines(events_path) if events_path.is_file() else 0
    report = progress or (lambda _step, _done, _total: None)

    incident_id = bundle.id
    if find_incident(store, incident_id) is not None:
        if if_exists == "skip":
            return incident_id
        if if_exists == "error":
            raise IncidentExistsError(incident_id)
    staging: _Staging | None = None
    try:
        if copy:
            remove_stale_staging()
            staging = _Staging()
            report("copy", 0, total)
            staging.copy(bundle.path)
        while True:
            if if_exists == "rename" and find_incident(store, incident_id) is not None:
                incident_id = next_free_id(store, bundle.id)
            try:
                _write(store, bundle, incident_id, events_path, total, author, staging, report)
                break
            except IncidentExistsError:
                if if_exists == "skip":
                    return incident_id  # a concurrent import (another replica's first start) won
                if if_exists == "error":
                    raise
                # rename: another import took this name meanwhile; try the next one
    finally:
        if staging is not None:
            staging.close()
    report("done", total, total)
    return incident_id


def _write(store: Store, bundle: Bundle, incident_id: str, events_path: Path, total: int, author: str,
           staging: _Staging | None, report: Progress) -> None:
    """One transaction: the incident row, its events and milestones; the folder renamed just before commit."""
    final = home_path("bundles", incident_id) if staging is not None else None
    bundle_path = str(final if final is not None else bundle.path.resolve())
    milestones: dict[str, str] = {}
    tool_rows = _source_event_rows(bundle, incident_id, author)  # read before the transaction opens
    try:
        with store.engine.begin() as conn:
            # first statement: the row claims the id (a concurrent insert of the same id waits here)
            insert_incident(conn, id=incident_id, **_incident_fields(bundle, bundle_path))
            done = 0
            report("events", 0, total)
            if events_path.is_file():
                for chunk in _event_rows(events_path, incident_id, author, milestones):
                    insert_event_rows(conn, chunk)
                    done += len(chunk)
                    report("events", min(done, total), total)
            if tool_rows:
                insert_event_rows(conn, tool_rows)
            if milestones:
                set_milestones(conn, incident_id, milestones)
            if staging is not None:
                final.parent.mkdir(parents=True, exist_ok=True)
                staging.publish(final)
    except DataError as exc:
        if staging is not None:
            staging.unpublish()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise InvalidInputError(f"the store refused a value of bundle {bundle.id} ({reason}); nothing was "
                                "imported; fix that value in the bundle and import again") from exc
    except OperationalError as exc:
        if staging is not None:
            staging.unpublish()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreError(f"the import of {bundle.id} was rolled back, nothing was stored: {reason}; "
                         "retry when the store is reachable and not busy") from exc
    except BaseException:
        if staging is not None:
            staging.unpublish()
        raise
