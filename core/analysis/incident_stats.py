"""Statistics across incidents: counts and duration distributions (median and p90, not only means)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from core.models import DURATIONS, Incident, summarize_durations


@dataclass(frozen=True)
class DurationStats:
    name: str
    definition: str
    n: int
    median: timedelta | None
    p90: timedelta | None
    mean: timedelta | None


@dataclass(frozen=True)
class IncidentStats:
    total: int
    by_status: dict[str, int]
    by_severity: dict[str, int]
    by_root_cause: dict[str, int]
    by_service: dict[str, int]
    durations: dict[str, DurationStats]


def summarize_incidents(incidents: list[Incident]) -> IncidentStats:
    """Counts by status, severity, root-cause class and service; TTD/TTA/TTM/TTR median, p90 and mean."""
    durations = {}
    for name, (_milestone, definition) in DURATIONS.items():
        summary = summarize_durations(d for i in incidents if (d := i.durations()[name]) is not None)
        durations[name] = DurationStats(name=name, definition=definition, n=summary.n, median=summary.median,
                                        p90=summary.p90, mean=summary.mean)
    return IncidentStats(
        total=len(incidents),
        by_status=dict(Counter(i.status.value for i in incidents)),
        by_severity=dict(Counter(i.severity.value for i in incidents)),
        by_root_cause=dict(Counter(i.root_cause.value if i.root_cause else "unknown" for i in incidents)),
        by_service=dict(Counter(i.service or "—" for i in incidents)),
        durations=durations,
    )
