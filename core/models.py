"""Frozen dataclasses and enums of the incident domain (see docs/DESIGN.md §3)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Iterable

from core.errors import InvalidInputError


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class Status(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class RootCause(StrEnum):
    DATA_DRIFT = "data_drift"
    SCHEMA_CHANGE = "schema_change"
    STALE_DATA = "stale_data"
    CODE_REGRESSION = "code_regression"
    INFRASTRUCTURE = "infrastructure"
    EXTERNAL_EVENT = "external_event"


ROOT_CAUSE_LABELS = {
    RootCause.DATA_DRIFT: "Data drift",
    RootCause.SCHEMA_CHANGE: "Schema change",
    RootCause.STALE_DATA: "Stale data",
    RootCause.CODE_REGRESSION: "Code or model regression",
    RootCause.INFRASTRUCTURE: "Infrastructure",
    RootCause.EXTERNAL_EVENT: "External event",
}


class EventKind(StrEnum):
    DEPLOY = "deploy"
    MODEL_VERSION = "model_version"
    CONFIG_CHANGE = "config_change"
    DATA_PIPELINE = "data_pipeline"
    ALERT = "alert"
    EXTERNAL = "external"
    LOG = "log"
    FINDING = "finding"
    ANNOTATION = "annotation"
    MILESTONE = "milestone"


# Kinds a bundle's events.jsonl may carry (log and finding come from pins).
BUNDLE_EVENT_KINDS = tuple(
    k for k in EventKind if k not in (EventKind.LOG, EventKind.FINDING)
)


class Milestone(StrEnum):
    STARTED = "started"
    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class Role(StrEnum):
    INCIDENT_COMMANDER = "incident_commander"
    OPS_LEAD = "ops_lead"
    SCRIBE = "scribe"
    COMMS_LEAD = "comms_lead"
    LIAISON = "liaison"
    SUBJECT_MATTER = "subject_matter"  # one or more experts, comma-separated


ROLE_LABELS = {
    Role.INCIDENT_COMMANDER: "Incident commander",
    Role.OPS_LEAD: "Ops lead",
    Role.SCRIBE: "Scribe",
    Role.COMMS_LEAD: "Comms lead",
    Role.LIAISON: "Liaison",
    Role.SUBJECT_MATTER: "Subject-matter experts",
}


class CauseStatus(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    RULED_OUT = "ruled_out"


@dataclass(frozen=True)
class CauseRecord:
    """One fishbone cause as analytics across incidents sees it."""

    incident_id: str
    text: str
    status: CauseStatus
    category: str = ""


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"


# Durations measured from the `started` milestone, with the definitions shown in the UI.
DURATIONS = {
    "TTD": (Milestone.DETECTED, "Time to detect: from impact start to detection."),
    "TTA": (Milestone.ACKNOWLEDGED, "Time to acknowledge: from impact start to a responder acknowledging."),
    "TTM": (Milestone.MITIGATED, "Time to mitigate: from impact start to user impact being stopped or reduced."),
    "TTR": (Milestone.RESOLVED, "Time to resolve: from impact start to the underlying problem being fixed."),
}


def utc(value: datetime | str | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime; naive inputs are refused, strings parsed as ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInputError(
                f"'{value}' is not an ISO 8601 time; write it like 2024-05-01T12:00:00Z"
            ) from exc
    if not isinstance(value, datetime):
        raise InvalidInputError(f"expected a time, got {type(value).__name__}")
    if value.tzinfo is None:
        raise InvalidInputError(
            f"'{value.isoformat()}' has no time zone; add an offset such as +00:00 or Z"
        )
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class TimeWindow:
    """A half-open absolute UTC time window [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise InvalidInputError(
                f"time window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()}); "
                "swap the two times"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def to_dict(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end)}

    @classmethod
    def parse(cls, text: str) -> "TimeWindow":
        """Parse ``START/END`` (ISO 8601 both)."""
        if not isinstance(text, str) or text.count("/") != 1:
            raise InvalidInputError(
                f"'{text}' is not a time range; write START/END, e.g. 2024-05-01T00:00Z/2024-05-02T00:00Z"
            )
        a, b = text.split("/")
        return cls(utc(a), utc(b))


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a trailing Z, seconds precision."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(td: timedelta | None) -> str:
    """Human duration: '2h 05m', '3d 4h', '45s'."""
    if td is None:
        return "—"
    seconds = td.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{int(seconds)}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d {hours}h"


def when_text(value: datetime | None, onset: datetime | None = None) -> str:
    """A time as the pages show it: '2026-02-04 02:05 UTC (1h 05m before the onset)'; without an onset
    just the time; '—' for None."""
    if value is None:
        return "—"
    text = f"{value.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    if onset is None:
        return text
    delta = value - onset
    if abs(delta.total_seconds()) < 60:
        return f"{text} (at the onset)"
    return f"{text} ({format_duration(abs(delta))} {'after' if delta > timedelta(0) else 'before'} the onset)"


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    summary: str = ""
    service: str = ""
    severity: Severity = Severity.SEV3
    status: Status = Status.INVESTIGATING
    milestones: dict[str, datetime | None] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    participants: tuple[str, ...] = ()
    root_cause: RootCause | None = None
    kpi_metric: str = ""
    kpi_direction: str = "higher_is_better"
    window: TimeWindow | None = None
    baseline: TimeWindow | None = None
    bundle_path: str | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def milestone(self, name: Milestone | str) -> datetime | None:
        return self.milestones.get(str(name))

    def durations(self) -> dict[str, timedelta | None]:
        """TTD, TTA, TTM and TTR measured from the ``started`` milestone (None when unknown)."""
        return durations_from(self, self.milestone(Milestone.STARTED))

    def time_range(self) -> TimeWindow | None:
        """The natural investigation range: the bundle window, else milestones padded by a day."""
        if self.window is not None:
            return self.window
        times = [t for t in self.milestones.values() if t]
        if not times:
            return None
        return TimeWindow(min(times) - timedelta(days=1), max(times) + timedelta(hours=6))


@dataclass(frozen=True)
class TimelineEvent:
    id: int | None
    incident_id: str
    timestamp: datetime
    kind: EventKind
    title: str
    end: datetime | None = None
    source: str = "manual"
    details: dict[str, Any] = field(default_factory=dict)
    link: str | None = None
    pinned: bool = False
    author: str = ""
    evidence_id: int | None = None
    version: int = 1


@dataclass(frozen=True)
class Evidence:
    """A frozen finding: what was asked, over which window, and a compact copy of the answer."""

    id: int | None
    incident_id: str
    kind: str  # analysis or query name: "drift", "schema", "log_query", "changepoint", "run_diff", ...
    title: str
    query: dict[str, Any]
    window: TimeWindow | None
    result: dict[str, Any]
    digest: str
    created_at: datetime | None = None
    author: str = ""


@dataclass(frozen=True)
class Category:
    id: int | None
    incident_id: str
    name: str
    position: int = 0
    version: int = 1


@dataclass(frozen=True)
class Cause:
    id: int | None
    incident_id: str
    category_id: int
    text: str
    status: CauseStatus = CauseStatus.SUSPECTED
    parent_id: int | None = None
    notes: str = ""
    evidence: tuple[dict[str, Any], ...] = ()
    position: int = 0
    version: int = 1


@dataclass(frozen=True)
class WhyStep:
    id: int | None
    incident_id: str
    chain: str
    question: str
    answer: str = ""
    parent_id: int | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    cause_id: int | None = None
    position: int = 0
    version: int = 1


@dataclass(frozen=True)
class ActionItem:
    id: int | None
    incident_id: str
    text: str
    owner: str = ""
    due: date | None = None
    status: ActionStatus = ActionStatus.OPEN
    cause_id: int | None = None
    version: int = 1


@dataclass(frozen=True)
class Hypothesis:
    root_cause: RootCause
    score: float
    confidence: float
    explanation: str
    evidence: tuple[dict[str, Any], ...] = ()


def durations_from(incident: Incident, start: datetime | None) -> dict[str, timedelta | None]:
    """TTD, TTA, TTM and TTR measured from ``start`` (None when unknown or before ``start``).

    The one definition of the incident durations: :meth:`Incident.durations` measures from
    the ``started`` milestone, the post-mortem from the impact start it reports.
    """
    out: dict[str, timedelta | None] = {}
    for name, (milestone, _definition) in DURATIONS.items():
        at = incident.milestone(milestone)
        out[name] = (at - start) if (start and at and at >= start) else None
    return out


@dataclass(frozen=True)
class DurationSummary:
    """Median, p90 (linear interpolation, numpy's default) and mean of some durations; None for none."""

    n: int
    median: timedelta | None
    p90: timedelta | None
    mean: timedelta | None


def summarize_durations(values: Iterable[timedelta]) -> DurationSummary:
    """The one summary of a duration distribution, used by the incident list and the analytics."""
    secs = [v.total_seconds() for v in values]

    def td(s: float | None) -> timedelta | None:
        return None if s is None else timedelta(seconds=s)

    return DurationSummary(n=len(secs), median=td(quantile(secs, 0.5)), p90=td(quantile(secs, 0.9)),
                           mean=td(sum(secs) / len(secs)) if secs else None)


def quantile(values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default), None for no values."""
    xs = sorted(v for v in values if v is not None and not math.isnan(v))
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
