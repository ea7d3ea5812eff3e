"""Analytics across incidents: counts over time, duration distributions, recurring causes, overdue actions.

Builds on :mod:`core.analysis.incident_stats` (totals, median/p90/mean of
TTD/TTA/TTM/TTR) with what a reliability review needs:

* counts by root-cause class, service and severity per period (month, week or quarter);
* TTD, TTM and TTR as *distributions* (every value, with median and p90 — the mean
  alone misleads on skewed durations);
* causes that recur across incidents (same text once case, spacing and numbers
  such as versions are ignored; ruled-out causes do not count);
* open or in-progress action items past their due date.

Pure functions over domain objects; the caller reads them from the store with
:func:`core.store.analytics.load_analytics_inputs`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Mapping

import pandas as pd

from core.analysis.incident_stats import IncidentStats, summarize_incidents
from core.errors import InvalidInputError
from core.models import (
    DURATIONS,
    ActionItem,
    ActionStatus,
    CauseRecord,
    CauseStatus,
    Incident,
    Milestone,
    summarize_durations,
)

GROUPINGS = ("root_cause", "service", "severity")
FREQUENCIES = {"month": "M", "week": "W", "quarter": "Q"}
DISTRIBUTIONS = ("TTD", "TTM", "TTR")


@dataclass(frozen=True)
class DurationDistribution:
    name: str
    definition: str
    values: tuple[timedelta, ...]
    incidents: tuple[str, ...]
    median: timedelta | None
    p90: timedelta | None
    mean: timedelta | None

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class RecurringCause:
    key: str
    text: str  # the most recent wording
    incidents: tuple[str, ...]
    confirmed_in: tuple[str, ...]
    categories: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.incidents)


@dataclass(frozen=True)
class OverdueAction:
    incident_id: str
    item: ActionItem
    days_overdue: int


@dataclass(frozen=True)
class IncidentAnalytics:
    stats: IncidentStats
    counts: Mapping[str, pd.DataFrame]  # grouping -> frame[period, key, count]
    durations: Mapping[str, DurationDistribution]
    recurring: tuple[RecurringCause, ...]
    overdue: tuple[OverdueAction, ...]
    frequency: str


def incident_start(incident: Incident) -> datetime:
    """When an incident began: ``started``, else its earliest milestone, else its window start, else creation."""
    if incident.milestone(Milestone.STARTED):
        return incident.milestone(Milestone.STARTED)
    times = [t for t in incident.milestones.values() if t]
    if incident.window is not None:
        times.append(incident.window.start)
    if times:
        return min(times)
    return incident.created_at or datetime.now(timezone.utc)


def _key(incident: Incident, by: str) -> str:
    if by == "root_cause":
        return incident.root_cause.value if incident.root_cause else "unknown"
    if by == "service":
        return incident.service or "—"
    return incident.severity.value


def counts_over_time(incidents: Iterable[Incident], by: str = "root_cause", frequency: str = "month") -> pd.DataFrame:
    """Incident counts per period and key (root-cause class, service or severity).

    Returns:
        Frame with ``period`` (period start, UTC timestamp), ``key`` and ``count``, sorted;
        periods without incidents are absent.

    Raises:
        InvalidInputError: unknown ``by`` or ``frequency``.
    """
    if by not in GROUPINGS:
        raise InvalidInputError(f"'{by}' is not a grouping; use one of {', '.join(GROUPINGS)}")
    if frequency not in FREQUENCIES:
        raise InvalidInputError(f"'{frequency}' is not a period; use one of {', '.join(FREQUENCIES)}")
    rows = [{"start": incident_start(i), "key": _key(i, by)} for i in incidents]
    if not rows:
        return pd.DataFrame({"period": pd.Series(dtype="datetime64[ns, UTC]"), "key": pd.Series(dtype=str),
                             "count": pd.Series(dtype=int)})
    frame = pd.DataFrame(rows)
    starts = pd.to_datetime(frame["start"], utc=True).dt.tz_localize(None)
    frame["period"] = starts.dt.to_period(FREQUENCIES[frequency]).dt.start_time.dt.tz_localize("UTC")
    out = frame.groupby(["period", "key"], as_index=False).size().rename(columns={"size": "count"})
    return out.sort_values(["period", "key"]).reset_index(drop=True)


def duration_distributions(incidents: Iterable[Incident], names: Iterable[str] = DISTRIBUTIONS
                           ) -> dict[str, DurationDistribution]:
    """Every known TTD/TTM/TTR value with median, p90 (linear interpolation) and mean."""
    incidents = list(incidents)
    out = {}
    for name in names:
        if name not in DURATIONS:
            raise InvalidInputError(f"'{name}' is not a duration; use one of {', '.join(DURATIONS)}")
        pairs = sorted(((d, i.id) for i in incidents if (d := i.durations()[name]) is not None),
                       key=lambda p: p[0])
        summary = summarize_durations(d for d, _ in pairs)
        out[name] = DurationDistribution(
            name=name, definition=DURATIONS[name][1], values=tuple(d for d, _ in pairs),
            incidents=tuple(i for _, i in pairs), median=summary.median, p90=summary.p90, mean=summary.mean)
    return out


def cause_key(text: str) -> str:
    """Grouping key of a cause: case, spacing, punctuation and numbers (versions, sizes) ignored."""
    s = (text or "").casefold()
    s = re.sub(r"\d+(?:[.,]\d+)*", "#", s)
    s = re.sub(r"[^\w#]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def recurring_causes(causes: Iterable[CauseRecord], min_incidents: int = 2) -> list[RecurringCause]:
    """Causes seen in at least ``min_incidents`` incidents (ruled-out causes ignored), most frequent first."""
    groups: dict[str, list[CauseRecord]] = defaultdict(list)
    for c in causes:
        if c.status != CauseStatus.RULED_OUT and cause_key(c.text):
            groups[cause_key(c.text)].append(c)
    out = []
    for key, items in groups.items():
        incidents = tuple(dict.fromkeys(c.incident_id for c in items))
        if len(incidents) < min_incidents:
            continue
        out.append(RecurringCause(
            key=key, text=items[-1].text, incidents=incidents,
            confirmed_in=tuple(dict.fromkeys(c.incident_id for c in items if c.status == CauseStatus.CONFIRMED)),
            categories=tuple(dict.fromkeys(c.category for c in items if c.category))))
    return sorted(out, key=lambda r: (-r.count, r.key))


def overdue_actions(actions: Iterable[ActionItem], today: date | None = None) -> list[OverdueAction]:
    """Open or in-progress action items past their due date, most overdue first."""
    today = today or datetime.now(timezone.utc).date()
    out = [OverdueAction(a.incident_id, a, (today - a.due).days) for a in actions
           if a.due is not None and a.due < today and a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)]
    return sorted(out, key=lambda o: (-o.days_overdue, o.incident_id, o.item.id or 0))


def analyze_incidents(incidents: Iterable[Incident], causes: Iterable[CauseRecord] = (),
                      actions: Iterable[ActionItem] = (), *, frequency: str = "month",
                      today: date | None = None, min_recurrence: int = 2) -> IncidentAnalytics:
    """All analytics in one result."""
    incidents = list(incidents)
    return IncidentAnalytics(
        stats=summarize_incidents(incidents),
        counts={by: counts_over_time(incidents, by, frequency) for by in GROUPINGS},
        durations=duration_distributions(incidents),
        recurring=tuple(recurring_causes(causes, min_recurrence)),
        overdue=tuple(overdue_actions(actions, today)),
        frequency=frequency,
    )


def analytics_frame(analytics: IncidentAnalytics) -> dict[str, pd.DataFrame]:
    """Tables for display and export: durations summary, recurring causes, overdue actions."""
    def hours(td: timedelta | None) -> float | None:
        return None if td is None else round(td.total_seconds() / 3600, 2)

    durations = pd.DataFrame([{"measure": d.name, "n": d.n, "median_h": hours(d.median), "p90_h": hours(d.p90),
                               "mean_h": hours(d.mean), "definition": d.definition}
                              for d in analytics.durations.values()])
    recurring = pd.DataFrame([{"cause": r.text, "incidents": r.count, "in": ", ".join(r.incidents),
                               "confirmed in": ", ".join(r.confirmed_in), "category": ", ".join(r.categories)}
                              for r in analytics.recurring], columns=["cause", "incidents", "in", "confirmed in",
                                                                      "category"])
    overdue = pd.DataFrame([{"incident": o.incident_id, "action": o.item.text, "owner": o.item.owner,
                             "due": o.item.due.isoformat() if o.item.due else "", "status": o.item.status.value,
                             "days overdue": o.days_overdue} for o in analytics.overdue],
                           columns=["incident", "action", "owner", "due", "status", "days overdue"])
    return {"durations": durations, "recurring": recurring, "overdue": overdue}


# ---------------------------------------------------------------- recurrence per failure pattern

@dataclass(frozen=True)
class PatternRecurrence:
    """How often one failure pattern came back, before and after its guard rail shipped.

    ``shipped`` is the earliest done time of an action item that names a guard rail (``prevents``)
    in an incident of this pattern; None while no such item is done (then every incident counts
    as "before"). Rates are incidents per month over the months from the pattern's first incident
    to the ship month, and from the ship month to ``today`` (at least one month each).
    """

    pattern: str
    incidents: tuple[str, ...]
    guard_rails: tuple[str, ...]  # "kind:name" of the items, shipped or not
    shipped: datetime | None
    monthly: pd.DataFrame  # month (UTC start), count, phase ("before" | "after" the ship time; a month can have both)
    before: int
    after: int
    rate_before: float
    rate_after: float | None  # None while nothing shipped

    @property
    def sentence(self) -> str:
        if self.shipped is None:
            return (f"{self.pattern}: {self.before} incident(s), {self.rate_before:.2f} a month; no guard rail "
                    "shipped yet" + (f" ({', '.join(self.guard_rails)} not done)" if self.guard_rails else ""))
        return (f"{self.pattern}: {self.rate_before:.2f} incidents a month before {', '.join(self.guard_rails)} "
                f"shipped on {self.shipped:%Y-%m-%d}, {self.rate_after:.2f} a month after "
                f"({self.before} before, {self.after} after)")


def _months_between(start: pd.Timestamp, end: pd.Timestamp) -> int:
    return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)


def recurrence_by_pattern(signatures: Iterable, guard_rails: Iterable = (), *,
                          today: date | None = None) -> list[PatternRecurrence]:
    """Incidents per month of each failure pattern, before and after its guard rail shipped.

    Args:
        signatures: :class:`core.analysis.similar.IncidentSignature` of every incident; those
            without a root-cause class have no pattern and are left out.
        guard_rails: :class:`core.store.action_items.GuardRailLink` of every incident.
        today: the end of the "after" period (default: now, UTC).

    Returns:
        One entry per pattern, most incidents first.
    """
    from core.analysis.similar import pattern_of

    end = pd.Timestamp(today or datetime.now(timezone.utc).date()).tz_localize(None)
    by_pattern: dict[str, list] = defaultdict(list)
    for sig in signatures:
        p = pattern_of(sig)
        if p is not None and sig.started is not None:
            by_pattern[p].append(sig)
    pattern_of_incident = {s.incident_id: p for p, sigs in by_pattern.items() for s in sigs}
    rails: dict[str, list] = defaultdict(list)
    for link in guard_rails:
        if link.incident_id in pattern_of_incident:
            rails[pattern_of_incident[link.incident_id]].append(link)
    out = []
    for pattern, sigs in by_pattern.items():
        links = rails.get(pattern, [])
        done = [l.done_at for l in links if l.shipped]
        shipped = min(done) if done else None
        starts = [s.started.astimezone(timezone.utc).replace(tzinfo=None) for s in sigs]
        cut = shipped.astimezone(timezone.utc).replace(tzinfo=None) if shipped is not None else None
        counted: dict[tuple[datetime, str], int] = defaultdict(int)
        for t in starts:
            counted[(datetime(t.year, t.month, 1, tzinfo=timezone.utc),
                     "after" if cut is not None and t >= cut else "before")] += 1
        keys = sorted(counted, key=lambda k: (k[0], k[1] == "after"))
        frame = pd.DataFrame({"month": pd.to_datetime([k[0] for k in keys], utc=True),
                              "count": [counted[k] for k in keys], "phase": [k[1] for k in keys]})
        after = sum(n for (_m, ph), n in counted.items() if ph == "after")
        before = len(starts) - after
        first, last = pd.Timestamp(min(starts)), pd.Timestamp(max(starts))
        if cut is not None:
            rate_before = before / _months_between(first, pd.Timestamp(cut)) if before else 0.0
            rate_after = after / _months_between(pd.Timestamp(cut), max(end, pd.Timestamp(cut)))
        else:
            rate_before = before / _months_between(first, max(end, last))
            rate_after = None
        out.append(PatternRecurrence(
            pattern=pattern, incidents=tuple(s.incident_id for s in sorted(sigs, key=lambda s: s.started)),
            guard_rails=tuple(dict.fromkeys(l.prevents for l in links)), shipped=shipped,
            monthly=frame, before=before, after=after,
            rate_before=rate_before, rate_after=rate_after))
    return sorted(out, key=lambda r: (-len(r.incidents), r.pattern))


def recurrence_frame(recurrence: Iterable[PatternRecurrence]) -> pd.DataFrame:
    """One row per pattern for display and export."""
    rows = [{"pattern": r.pattern, "incidents": len(r.incidents), "guard rail": ", ".join(r.guard_rails) or "—",
             "shipped": r.shipped.strftime("%Y-%m-%d") if r.shipped else "not yet", "before": r.before,
             "after": str(r.after) if r.shipped else "—", "per month before": round(r.rate_before, 2),
             "per month after": f"{r.rate_after:.2f}" if r.rate_after is not None else "—"}
            for r in recurrence]
    return pd.DataFrame(rows, columns=["pattern", "incidents", "guard rail", "shipped", "before", "after",
                                       "per month before", "per month after"])
