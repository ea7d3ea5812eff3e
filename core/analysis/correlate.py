"""Which change events precede an onset: a ranked "what changed before it broke" list.

Every change event in a look-back window before the onset (default 72 hours)
gets a score::

    score = prior(kind) * closeness(age)
    closeness(age) = 0.5 ** (age / half_life)        # 1.0 at the onset, 0.5 one half-life earlier

``prior`` says how often a change of that kind causes an ML incident; the
defaults in :data:`DEFAULT_PRIORS` are documented in ``docs/timeline.md`` and
can be replaced per call (``priors={"deploy": 0.9}``). A change that spans
the onset (started before, ends after it) has age 0. A change up to
``tolerance`` after the onset is still listed (onset estimates and clocks are
not exact) with closeness 1 and a note saying so.

Routine changes are discounted: when three or more events of the same kind
share a title up to their numbers ("run #1061 succeeded", "run #1062
succeeded"), each is multiplied by ``routine_factor`` (default 0.5) — an hourly
job that ran as always is less suspicious than a one-off change.

The ranking reads only the events and the onset; it never reads a bundle's
ground truth.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from core.errors import InvalidInputError
from core.models import EventKind, TimelineEvent, format_duration, iso, utc

DEFAULT_LOOKBACK = timedelta(hours=72)
DEFAULT_HALF_LIFE = timedelta(hours=6)
DEFAULT_TOLERANCE = timedelta(minutes=10)
DEFAULT_ROUTINE_FACTOR = 0.5
ROUTINE_MIN_COUNT = 3
_DIGITS = re.compile(r"\d+")

#: How often a change of each kind turns out to cause an ML incident (0..1).
#: Model versions and data-pipeline changes are the most direct way to change
#: what a model sees or does; code deploys and config changes come next (most
#: production incidents follow a change to the live system); external events
#: (a marketing campaign, a holiday) move the inputs but seldom break them.
#: Alerts, logs, findings, annotations and milestones are observations, not
#: changes, and are not ranked (prior 0).
DEFAULT_PRIORS: Mapping[str, float] = MappingProxyType({
    EventKind.MODEL_VERSION.value: 1.0,
    EventKind.DATA_PIPELINE.value: 0.9,
    EventKind.DEPLOY.value: 0.8,
    EventKind.CONFIG_CHANGE.value: 0.7,
    EventKind.EXTERNAL.value: 0.4,
})

#: The sentence that explains each default prior in the evidence of a ranked change.
PRIOR_REASONS: Mapping[str, str] = MappingProxyType({
    EventKind.MODEL_VERSION.value: "a new model version changes predictions directly",
    EventKind.DATA_PIPELINE.value: "a pipeline change alters what the model is fed (schema, units, freshness)",
    EventKind.DEPLOY.value: "most incidents follow a change to the live system",
    EventKind.CONFIG_CHANGE.value: "configuration changes alter behaviour without a code review",
    EventKind.EXTERNAL.value: "external events shift inputs but seldom break a system",
})


@dataclass(frozen=True)
class ChangeEvent:
    """One change event, normalised from a :class:`TimelineEvent` or a bundle event dict."""

    timestamp: datetime
    kind: str
    title: str
    end: datetime | None = None
    source: str = ""
    id: int | str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "timestamp": iso(self.timestamp), "end": iso(self.end), "kind": self.kind,
            "title": self.title, "source": self.source, "details": dict(self.details), "link": self.link,
        }


@dataclass(frozen=True)
class RankedChange:
    """A change event with its score and the reasons for it."""

    rank: int
    event: ChangeEvent
    score: float
    prior: float
    closeness: float
    age: timedelta
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "score": round(self.score, 6), "prior": self.prior,
            "closeness": round(self.closeness, 6), "age_seconds": self.age.total_seconds(),
            "age": format_duration(self.age), "event": self.event.to_dict(), "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class ChangeRanking:
    """The ranked change events before an onset, with the parameters actually used."""

    onset: datetime
    lookback: timedelta
    half_life: timedelta
    tolerance: timedelta
    priors: Mapping[str, float]
    changes: tuple[RankedChange, ...]
    considered: int
    onset_source: str = ""

    @property
    def top(self) -> RankedChange | None:
        return self.changes[0] if self.changes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "onset": iso(self.onset), "onset_source": self.onset_source,
            "lookback_hours": self.lookback.total_seconds() / 3600,
            "half_life_hours": self.half_life.total_seconds() / 3600,
            "tolerance_minutes": self.tolerance.total_seconds() / 60,
            "priors": dict(self.priors), "considered": self.considered,
            "changes": [c.to_dict() for c in self.changes],
        }


def resolve_priors(priors: Mapping[str, float] | None = None) -> dict[str, float]:
    """The default priors updated with ``priors``; kinds are validated, weights must be in [0, 1].

    Raises:
        InvalidInputError: an unknown kind or a weight outside [0, 1].
    """
    out = dict(DEFAULT_PRIORS)
    for kind, weight in (priors or {}).items():
        try:
            EventKind(kind)
        except ValueError:
            raise InvalidInputError(
                f"prior for unknown event kind '{kind}'; use one of {', '.join(k.value for k in EventKind)}"
            ) from None
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise InvalidInputError(f"prior for '{kind}' is {weight!r}; give a number between 0 and 1") from None
        if not 0.0 <= w <= 1.0 or math.isnan(w):
            raise InvalidInputError(f"prior for '{kind}' is {w}; give a number between 0 and 1")
        out[str(kind)] = w
    return out


def parse_prior_args(items: Iterable[str]) -> dict[str, float]:
    """Parse ``KIND=WEIGHT`` strings (the CLI's ``--prior``)."""
    out: dict[str, float] = {}
    for item in items:
        if "=" not in item:
            raise InvalidInputError(f"prior '{item}' is not KIND=WEIGHT, e.g. deploy=0.9")
        kind, _, weight = item.partition("=")
        try:
            out[kind.strip()] = float(weight)
        except ValueError:
            raise InvalidInputError(f"prior '{item}': '{weight}' is not a number; e.g. deploy=0.9") from None
    resolve_priors(out)
    return out


def as_change_event(event: TimelineEvent | Mapping[str, Any]) -> ChangeEvent:
    """Normalise a timeline event or a bundle/JSON event dict.

    Raises:
        InvalidInputError: the event has no timestamp, kind or title, or ends before it starts.
    """
    if isinstance(event, TimelineEvent):
        ce = ChangeEvent(
            timestamp=event.timestamp, end=event.end, kind=event.kind.value, title=event.title,
            source=event.source, id=event.id, details=MappingProxyType(dict(event.details)), link=event.link,
        )
    else:
        ts = utc(event.get("timestamp"))
        if ts is None:
            raise InvalidInputError(f"event {event.get('title', '')!r} has no timestamp; every change needs one")
        title = str(event.get("title") or "").strip()
        kind = str(event.get("kind") or "").strip()
        if not title or not kind:
            raise InvalidInputError(f"event at {iso(ts)} needs a kind and a title")
        details = dict(event.get("details") or {})
        details.update(event.get("attributes") or {})
        ce = ChangeEvent(
            timestamp=ts, end=utc(event.get("end")), kind=kind, title=title,
            source=str(event.get("source") or ""), id=event.get("id"),
            details=MappingProxyType(details), link=event.get("link"),
        )
    if ce.end is not None and ce.end < ce.timestamp:
        raise InvalidInputError(
            f"event '{ce.title}' ends ({iso(ce.end)}) before it starts ({iso(ce.timestamp)}); fix its end time"
        )
    return ce


def rank_changes(
    events: Iterable[TimelineEvent | Mapping[str, Any]],
    onset: datetime | str,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    priors: Mapping[str, float] | None = None,
    half_life: timedelta = DEFAULT_HALF_LIFE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    routine_factor: float = DEFAULT_ROUTINE_FACTOR,
    onset_source: str = "",
) -> ChangeRanking:
    """Rank the change events in ``[onset - lookback, onset + tolerance]`` by closeness and kind prior.

    Args:
        events: timeline events or event dicts (``timestamp``, ``kind``, ``title``, optional ``end``).
        onset: the impact start (aware datetime or ISO 8601).
        lookback: how far before the onset to look.
        priors: kind -> weight in [0, 1], merged over :data:`DEFAULT_PRIORS`; weight 0 drops a kind.
        half_life: the age at which closeness halves.
        tolerance: how far after the onset a change is still listed.
        routine_factor: multiplier in [0, 1] for routine (recurring) changes; 1 turns the discount off.
        onset_source: where the onset came from (shown with the result).

    Returns:
        A :class:`ChangeRanking`, best first; ties go to the closer change, then the title.

    Raises:
        InvalidInputError: a bad onset, look-back, half-life, prior or event.
    """
    at = utc(onset)
    if at is None:
        raise InvalidInputError("no onset given; pass the impact start as an ISO 8601 time")
    if lookback <= timedelta(0):
        raise InvalidInputError(f"look-back must be positive, got {lookback}; e.g. 72 hours")
    if half_life <= timedelta(0):
        raise InvalidInputError(f"half-life must be positive, got {half_life}")
    if tolerance < timedelta(0):
        raise InvalidInputError(f"tolerance must not be negative, got {tolerance}")
    if not 0.0 <= routine_factor <= 1.0:
        raise InvalidInputError(f"routine factor must be between 0 and 1, got {routine_factor}")
    weights = resolve_priors(priors)
    start = at - lookback
    normalised = [as_change_event(raw) for raw in events]
    templates = Counter(_template(ev) for ev in normalised)
    scored: list[tuple[float, timedelta, str, ChangeEvent, float, float, list[str]]] = []
    considered = 0
    for ev in normalised:
        prior = weights.get(ev.kind, 0.0)
        if prior <= 0.0:
            continue
        end = ev.end or ev.timestamp
        if end < start or ev.timestamp > at + tolerance:
            continue
        considered += 1
        notes: list[str] = []
        if ev.timestamp > at:
            age = timedelta(0)
            notes.append(f"starts {format_duration(ev.timestamp - at)} after the onset, within the "
                         f"{format_duration(tolerance)} tolerance for onset and clock error")
        elif ev.end is not None and ev.end >= at:
            age = timedelta(0)
            notes.append(f"was in progress at the onset (from {iso(ev.timestamp)} to {iso(ev.end)})")
        else:
            age = at - ev.timestamp
            notes.append(f"{format_duration(age)} before the onset")
        closeness = 0.5 ** (age / half_life)
        score = prior * closeness
        similar = templates[_template(ev)]
        if similar >= ROUTINE_MIN_COUNT and routine_factor < 1.0:
            score *= routine_factor
            notes.append(f"routine: one of {similar} similar '{ev.kind}' events (x{routine_factor:g})")
        reason = PRIOR_REASONS.get(ev.kind) if ev.kind in DEFAULT_PRIORS and prior == DEFAULT_PRIORS[ev.kind] else None
        notes.append(f"kind '{ev.kind}' prior {prior:g}" + (f" ({reason})" if reason else " (configured)"))
        notes.append(f"closeness {closeness:.2f} (half-life {format_duration(half_life)})")
        for key, value in list(ev.details.items())[:6]:
            if isinstance(value, (str, int, float, bool)) and str(value).strip():
                notes.append(f"{key}: {value}")
        scored.append((score, age, ev.title.casefold(), ev, prior, closeness, notes))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    changes = tuple(
        RankedChange(rank=i + 1, event=ev, score=score, prior=prior, closeness=closeness, age=age,
                     evidence=tuple(notes))
        for i, (score, age, _t, ev, prior, closeness, notes) in enumerate(scored)
    )
    return ChangeRanking(
        onset=at, lookback=lookback, half_life=half_life, tolerance=tolerance,
        priors=MappingProxyType(weights), changes=changes, considered=considered, onset_source=onset_source,
    )


def _template(ev: ChangeEvent) -> tuple[str, str]:
    return ev.kind, _DIGITS.sub("#", " ".join(ev.title.casefold().split()))
