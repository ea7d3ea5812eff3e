"""Measured impact (start, end, durations, KPI before and during) and the timeline's key events."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterable

import pandas as pd

from core.models import ActionItem, ActionStatus, EventKind, Incident, Milestone, TimelineEvent
from core.report.model import KEY_KINDS, MAX_KEY_EVENTS, ImpactNumbers


def impact_window(incident: Incident, onset: datetime | None = None) -> tuple[datetime | None, datetime | None, str]:
    """Impact start and end, and where the start came from.

    Start: the ``started`` milestone, else ``onset`` (detected on the KPI), else the
    bundle window start. End: mitigated, else resolved, else the window end.
    """
    if incident.milestone(Milestone.STARTED):
        start, source = incident.milestone(Milestone.STARTED), "started milestone"
    elif onset is not None:
        start, source = onset, "KPI onset, detected (no started milestone)"
    elif incident.window is not None:
        start, source = incident.window.start, "bundle window start (no started milestone)"
    else:
        start, source = None, "unknown"
    end = (incident.milestone(Milestone.MITIGATED) or incident.milestone(Milestone.RESOLVED)
           or (incident.window.end if incident.window else None))
    if start and end and end <= start:
        end = None
    return start, end, source


def end_source(incident: Incident) -> str:
    if incident.milestone(Milestone.MITIGATED):
        return "mitigated milestone"
    if incident.milestone(Milestone.RESOLVED):
        return "resolved milestone"
    return "end of the bundle window; not mitigated yet" if incident.window else "not mitigated yet"


def measure_impact(incident: Incident, kpi: pd.DataFrame | None, onset: datetime | None = None) -> ImpactNumbers:
    """Duration, KPI level before/during and the share of readings worse than the baseline's 5th percentile.

    "Worse" follows the incident's KPI direction (below the 5th percentile when higher
    is better, above the 95th when lower is better); a normal period scores about 5%.

    The baseline is the incident's baseline window, else the 24 hours before impact start.
    """
    start, end, source = impact_window(incident, onset)
    duration = (end - start) if (start and end) else None
    before = during = change = share = None
    readings = 0
    if kpi is not None and len(kpi) and start is not None:
        ts = pd.to_datetime(kpi["timestamp"], utc=True)
        values = pd.to_numeric(kpi["value"], errors="coerce")
        if incident.baseline is not None:
            b0, b1 = incident.baseline.start, min(incident.baseline.end, start)
        else:
            b0, b1 = start - timedelta(days=1), start
        base = values[(ts >= b0) & (ts < b1)].dropna()
        stop = end or ts.max() + timedelta(seconds=1)
        cur = values[(ts >= start) & (ts < stop)].dropna()
        readings = int(len(cur))
        if len(base) and len(cur):
            before, during = float(base.mean()), float(cur.mean())
            change = (during - before) / abs(before) if before else None
            if incident.kpi_direction == "lower_is_better":
                share = float((cur > base.quantile(0.95)).mean())
            else:
                share = float((cur < base.quantile(0.05)).mean())
    return ImpactNumbers(start=start, end=end, start_source=source, duration=duration, kpi_name=incident.kpi_metric or "KPI",
                         kpi_before=before, kpi_during=during, kpi_change=change, affected_share=share,
                         readings=readings)


# ---------------------------------------------------------------- key events


def key_events(incident: Incident, events: Iterable[TimelineEvent], limit: int = MAX_KEY_EVENTS,
               start: datetime | None = None) -> list[TimelineEvent]:
    """The curated timeline's key moments: milestones, pinned events, alerts, changes and notes.

    Plain log events are left out unless pinned. Above ``limit``, pinned events,
    milestones and alerts are kept first, then the changes closest to impact start.
    """
    events = list(events)
    ms = [TimelineEvent(id=None, incident_id=incident.id, timestamp=t, kind=EventKind.MILESTONE,
                        title=f"{str(name).capitalize()}", source="milestone")
          for name, t in incident.milestones.items() if t]
    picked = [e for e in events if e.pinned or e.kind in KEY_KINDS]
    seen_ms = {(e.title.lower(), e.timestamp) for e in picked if e.kind == EventKind.MILESTONE}
    picked += [m for m in ms if (m.title.lower(), m.timestamp) not in seen_ms]
    if len(picked) > limit:
        start = start or impact_window(incident)[0] or min(e.timestamp for e in picked)
        def priority(e: TimelineEvent) -> tuple[int, float]:
            tier = 0 if (e.pinned or e.kind in (EventKind.MILESTONE, EventKind.ALERT)) else 1
            return (tier, abs((e.timestamp - start).total_seconds()))
        picked = sorted(picked, key=priority)[:limit]
    return sorted(picked, key=lambda e: (e.timestamp, e.id or 0))


def overdue_actions(actions: Iterable[ActionItem], today: date | None = None) -> list[ActionItem]:
    """Open or in-progress action items whose due date has passed."""
    today = today or datetime.now(timezone.utc).date()
    return [a for a in actions if a.due is not None and a.due < today
            and a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)]
