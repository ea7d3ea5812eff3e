"""Reading what a post-mortem is drafted from: the incident, its timeline, evidence, fishbone, edits and KPI."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.models import Incident
from core.report.model import PostmortemInputs


def kpi_series(incident: Incident) -> pd.DataFrame | None:
    """The incident bundle's KPI as ``timestamp, value`` (labels averaged; the one loader,
    :func:`core.onset.load_kpi`), or None without one."""
    from core.onset import load_kpi

    if not incident.bundle_path or not incident.kpi_metric:
        return None
    return load_kpi(incident.bundle_path, incident.kpi_metric)


def gather_inputs(store: Any, incident_id: str, *, with_kpi: bool = True) -> PostmortemInputs:
    """Read everything the post-mortem of ``incident_id`` is drafted from.

    Raises:
        NotFoundError: no such incident.
    """
    from core.store.evidence import list_evidence
    from core.store.fishbone import get_fishbone
    from core.store.incidents import get_incident
    from core.store.reports import list_sections
    from core.store.timeline import list_events

    incident = get_incident(store, incident_id)
    fishbone = get_fishbone(store, incident_id)
    return PostmortemInputs(
        incident=incident,
        events=tuple(list_events(store, incident_id)),
        evidence=tuple(list_evidence(store, incident_id)),
        causes=fishbone.causes,
        category_names={c.id: c.name for c in fishbone.categories},
        whys=fishbone.whys,
        actions=fishbone.actions,
        problem=fishbone.problem,
        kpi=kpi_series(incident) if with_kpi else None,
        edits=list_sections(store, incident_id),
    )
