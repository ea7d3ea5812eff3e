"""Import an incident bundle into the store: the incident, its milestones and its change events."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.bundle import Bundle, read_bundle
from core.errors import InvalidInputError
from core.models import EventKind, Milestone, RootCause, Severity, Status
from core.store import Store, workbench_home
from core.store.incidents import create_incident, find_incident
from core.store.timeline import add_events


def _milestones(bundle: Bundle) -> dict[str, str]:
    out = {}
    names = {m.value for m in Milestone}
    for ev in bundle.events():
        if ev["kind"] == EventKind.MILESTONE.value:
            name = (ev.get("attributes") or {}).get("milestone") or ev["title"].strip().lower()
            if name in names:
                out[name] = ev["timestamp"].isoformat()
    return out


def import_bundle(store: Store, path: Path | str, *, copy: bool = True, if_exists: str = "error",
                  author: str = "bundle import") -> str:
    """Load a bundle as an incident and return its id.

    Args:
        copy: copy the bundle under the workbench home (needed for uploads and temp files).
        if_exists: "error" refuses an existing id, "skip" leaves it, "rename" adds a suffix.

    Raises:
        BundleError: the bundle is invalid.
        InvalidInputError: the incident exists and ``if_exists`` is "error".
    """
    bundle = read_bundle(path)
    incident_id = bundle.id
    if find_incident(store, incident_id) is not None:
        if if_exists == "skip":
            return incident_id
        if if_exists == "rename":
            n = 2
            while find_incident(store, f"{bundle.id}-{n}") is not None:
                n += 1
            incident_id = f"{bundle.id}-{n}"
        else:
            raise InvalidInputError(
                f"an incident with id '{incident_id}' already exists; delete it or import with a new id"
            )
    bundle_path = bundle.path
    if copy:
        target = workbench_home() / "bundles" / incident_id
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(bundle.path, target)
        bundle_path = target
    m = bundle.manifest
    severity = m.get("severity") if m.get("severity") in {s.value for s in Severity} else Severity.SEV3.value
    status = m.get("status") if m.get("status") in {s.value for s in Status} else Status.INVESTIGATING.value
    root_cause = m.get("root_cause") if m.get("root_cause") in {r.value for r in RootCause} else None
    try:
        create_incident(
            store, id=incident_id, title=bundle.title, summary=bundle.summary, service=bundle.service,
            severity=severity, status=status, root_cause=root_cause, kpi_metric=bundle.kpi_metric, kpi_direction=bundle.kpi_direction,
            window=bundle.window, baseline=bundle.baseline, milestones=_milestones(bundle),
            bundle_path=str(bundle_path.resolve()),
        )
    except InvalidInputError:
        if if_exists == "skip" and find_incident(store, incident_id) is not None:
            return incident_id  # a concurrent first start imported it
        raise
    events = [
        {"timestamp": ev["timestamp"], "end": ev.get("end"), "kind": ev["kind"], "title": ev["title"],
         "source": ev.get("source") or "bundle", "details": ev.get("attributes") or {}, "author": author}
        for ev in bundle.events() if ev["kind"] != EventKind.MILESTONE.value
    ]
    add_events(store, incident_id, events)
    return incident_id
