"""Routine jobs on a timeline: regular repeated runs folded into one entry, and jobs that stopped.

A routine is at least ``min_runs`` events of the same kind and job (``details["job"]``, else the
title with its numbers blanked out, so "run #1031 succeeded" and "run #1032 succeeded" match)
whose spacing is regular (every gap within half the median gap of it). A routine *stopped* when
the time after its last run up to ``until`` exceeds the median interval by more than ``grace``
of it: the next run was due and never came, which is how stale data announces itself.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Iterable

from core.models import EventKind, TimelineEvent, format_duration

MIN_RUNS = 3
ROUTINE_KINDS = (EventKind.DATA_PIPELINE, EventKind.DEPLOY, EventKind.CONFIG_CHANGE, EventKind.MODEL_VERSION,
                 EventKind.LOG, EventKind.EXTERNAL)
_NUMBER = re.compile(r"#?\d+")


@dataclass(frozen=True)
class Routine:
    """A run of regular, repeated events of one job."""

    key: str
    kind: EventKind
    events: tuple[TimelineEvent, ...]
    interval: timedelta
    stopped: bool

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def first(self) -> datetime:
        return self.events[0].timestamp

    @property
    def last(self) -> datetime:
        return self.events[-1].timestamp

    def summary(self) -> str:
        """'daily-refresh ran 5× (daily), last at 02:05, then stopped'."""
        named = {timedelta(hours=1): "hourly", timedelta(days=1): "daily", timedelta(weeks=1): "weekly"}
        every = named.get(self.interval) or f"every {format_duration(self.interval)}"
        text = f"{self.key} ran {self.count}× ({every}), last at {self.last:%H:%M}"
        return text + (", then stopped" if self.stopped else "")


def routine_key(event: TimelineEvent) -> str:
    """The job an event belongs to: ``details['job']``, else its title without numbers."""
    job = (event.details or {}).get("job") if isinstance(event.details, dict) else None
    if job:
        return str(job)
    return re.sub(r"\s+", " ", _NUMBER.sub("#", event.title)).strip()


def find_routines(events: Iterable[TimelineEvent], *, until: datetime | None = None,
                  min_runs: int = MIN_RUNS, grace: float = 0.5) -> list[Routine]:
    """Regular repeated events, grouped by kind and job, oldest first.

    Args:
        events: timeline events in any order (pinned events are never part of a routine).
        until: the end of what the timeline covers; a routine whose next run was due before it stopped.
        min_runs: the fewest events that make a routine.
        grace: how late (a fraction of the interval) the next run may be before the routine counts as stopped.
    """
    groups: dict[tuple[EventKind, str, str], list[TimelineEvent]] = {}
    for e in events:
        if e.kind in ROUTINE_KINDS and not e.pinned:
            state = str((e.details or {}).get("state", "")) if isinstance(e.details, dict) else ""
            groups.setdefault((e.kind, routine_key(e), state), []).append(e)
    found = []
    for (kind, key, _state), runs in groups.items():
        runs.sort(key=lambda e: e.timestamp)
        if len(runs) < min_runs:
            continue
        gaps = [(b.timestamp - a.timestamp).total_seconds() for a, b in zip(runs, runs[1:])]
        median = statistics.median(gaps)
        if median <= 0 or any(abs(g - median) > median / 2 for g in gaps):
            continue
        interval = timedelta(seconds=median)
        stopped = until is not None and (until - runs[-1].timestamp) > interval * (1 + grace)
        found.append(Routine(key, kind, tuple(runs), interval, stopped))
    return sorted(found, key=lambda r: r.first)


def fold_routines(events: Iterable[TimelineEvent], *, until: datetime | None = None,
                  min_runs: int = MIN_RUNS) -> list[TimelineEvent]:
    """The events with each routine replaced by one entry at its last run, titled with its summary.

    The entry keeps the last run's fields (id, source, kind) and carries ``runs``, ``first``,
    ``every`` and ``stopped`` in its details.
    """
    events = list(events)
    routines = find_routines(events, until=until, min_runs=min_runs)
    folded = {id(e) for r in routines for e in r.events}
    out = [e for e in events if id(e) not in folded]
    for r in routines:
        last = r.events[-1]
        details = {**(last.details or {}), "runs": r.count, "first": f"{r.first:%Y-%m-%d %H:%M} UTC",
                   "every": format_duration(r.interval), "stopped": r.stopped}
        out.append(replace(last, title=r.summary(), details=details))
    return sorted(out, key=lambda e: (e.timestamp, e.id or 0))


def stopped_routines(events: Iterable[TimelineEvent], *, before: datetime,
                     min_runs: int = MIN_RUNS) -> list[Routine]:
    """Routines whose runs stopped before ``before`` (an onset): the next run was overdue by then.

    A routine counts only when it does not run again before the onset.
    """
    early = [e for e in events if e.timestamp < before]
    return [r for r in find_routines(early, until=before, min_runs=min_runs, grace=0.05) if r.stopped]
