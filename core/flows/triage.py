"""Triage of a stored incident: its bundle, with its stored milestones, as the Triage page runs it.

The Triage page's Run button and ``python -m core accept`` / ``python -m core pin --kind triage``
call :func:`triage_incident`, so they cut at the same onset (core.onset with the incident's
stored milestones) as the Timeline, Metrics and post-mortem views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import InvalidInputError
from core.models import Incident

if TYPE_CHECKING:
    from core.triage import TriageResult
    from core.triage.runner import ProgressFn


def triage_incident(incident: Incident, *, tracking_uri: str | None = None,
                    progress: ProgressFn | None = None) -> TriageResult:
    """Run triage over the incident's bundle with its stored milestones.

    Raises:
        InvalidInputError: the incident has no bundle.
        BundleError: its bundle is invalid.
    """
    from core.triage import triage_bundle

    if not incident.bundle_path:
        raise InvalidInputError(f"incident '{incident.id}' has no bundle to triage; import one with "
                                "'python -m core bundle import'")
    return triage_bundle(incident.bundle_path, tracking_uri=tracking_uri, progress=progress,
                         milestones=incident.milestones)
