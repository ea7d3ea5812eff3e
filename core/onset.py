"""The one onset policy: when an incident's impact started, and the one KPI loader.

Every view that needs the impact start — triage, ``python -m core changes`` and
``onset``, the Timeline, Metrics and Triage pages and the post-mortem — asks
:func:`incident_onset` (or its wrappers :func:`bundle_onset` and
:func:`onset_of_incident`), so no two views show different onsets for the same
incident. The policy, in order:

1. an explicit time (``--onset``), when the caller was given one;
2. the incident's stored ``started`` milestone (a person decided it);
3. the KPI onset detected by change-point analysis, with the rules of
   :func:`detect_kpi_change`: inside the incident window, a change that made the KPI
   worse, strong changes (confidence ≥ 0.9) preferred, the largest
   ``|relative change| × confidence`` chosen, and a long fitted ramp cut at its
   least-squares step (:func:`step_time`);
4. the end of the baseline window;
5. the start of the incident window.

The KPI is read once, by :func:`load_kpi`: the bundle's KPI metric with label
columns averaged per timestamp (what change-point detection analyses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

import numpy as np
import pandas as pd

from core.errors import InvalidInputError, WorkbenchError
from core.models import Milestone, TimeWindow, iso, utc

#: A fitted transition longer than this is cut at its least-squares step (see :func:`step_time`).
MAX_RAMP = timedelta(hours=2)
#: Changes at least this confident are preferred over weaker ones inside the window.
STRONG_CONFIDENCE = 0.9

GIVEN = "given"
MILESTONE = "the incident's 'started' milestone"
DETECTED = "the detected KPI change point"
BASELINE_END = "the end of the bundle's baseline window"
WINDOW_START = "the start of the bundle's window"


@dataclass(frozen=True)
class KpiOnset:
    """What change-point detection found on the KPI inside the incident window.

    ``status`` is ``ok`` (the analysis ran, with or without a change), ``skipped`` (no KPI
    data) or ``failed`` (the KPI does not cover the window, or is unusable); ``summary``
    says which in one sentence. ``at`` is the instant the change is taken to start.
    """

    at: datetime | None
    change: Any | None  # core.analysis.changepoint.ChangePoint
    result: Any | None  # core.analysis.changepoint.OnsetResult
    status: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def detected(self) -> bool:
        return self.change is not None


@dataclass(frozen=True)
class IncidentOnset:
    """The impact start every view uses, where it came from, and the KPI detection behind it.

    ``source`` is one of :data:`GIVEN`, :data:`MILESTONE`, :data:`DETECTED`,
    :data:`BASELINE_END`, :data:`WINDOW_START`. ``detection`` is None when the KPI was
    not analysed (a milestone or explicit time made it unnecessary, or there is no KPI).
    """

    at: datetime
    source: str
    detection: KpiOnset | None = None

    @property
    def change(self) -> Any | None:
        """The detected KPI change point, when one was found."""
        return self.detection.change if self.detection is not None else None

    @property
    def detected(self) -> bool:
        return self.change is not None

    def to_dict(self) -> dict[str, Any]:
        return {"at": iso(self.at), "source": self.source,
                "detected": iso(self.detection.at) if self.detection is not None and self.detection.detected
                else None}


def load_kpi(bundle: Any, metric: str | None = None) -> pd.DataFrame | None:
    """A bundle's KPI (or ``metric``) as ``timestamp, value`` with label columns averaged away.

    Args:
        bundle: an opened :class:`core.bundle.Bundle`, or a bundle path.
        metric: the metric to read (default: the bundle's KPI).

    Returns:
        The series sorted by time, or None when the bundle lacks the metric or it is empty.
    """
    if not hasattr(bundle, "read_metric"):
        from core.bundle import read_bundle

        try:
            bundle = read_bundle(bundle)
        except WorkbenchError:
            return None
    name = metric or bundle.kpi_metric
    try:
        frame = bundle.read_metric(name)
    except WorkbenchError:
        return None
    if frame.empty:
        return None
    if set(frame.columns) - {"timestamp", "value"}:
        return frame.groupby("timestamp", as_index=False)["value"].mean()
    return frame[["timestamp", "value"]].sort_values("timestamp", kind="stable").reset_index(drop=True)


def step_time(result: Any, change: Any) -> datetime:
    """The instant a change is taken to start.

    A transition (``time`` .. ``settled``) of up to :data:`MAX_RAMP` is a real gradual
    change and its start is used. A longer one is usually the ramp fit spreading a step
    over hours of noise; then the least-squares step split of the de-seasonalised series
    inside the transition is used, because the analyses need one instant to order the
    change events and to cut the data.
    """
    settled = change.settled or change.time
    grid = result.grid
    if settled - change.time <= MAX_RAMP or grid is None or "adjusted" not in grid:
        return change.time
    ts = grid["timestamp"]
    mask = ((ts >= change.before_start) & (ts < change.after_end)).to_numpy()
    x = grid["adjusted"].to_numpy(dtype=float)[mask]
    times = ts[mask].reset_index(drop=True)
    n = len(x)
    if n < 4 or not np.isfinite(x).all():
        return change.time
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    k = np.arange(1, n)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    sse = left + right
    allowed = ((times[1:] >= change.time) & (times[1:] <= settled)).to_numpy()
    if not allowed.any():
        return change.time
    sse = np.where(allowed, sse, np.inf)
    return times[int(np.argmin(sse)) + 1].to_pydatetime()


def detect_kpi_change(kpi: pd.DataFrame | None, *, metric: str, direction: str, window: TimeWindow,
                      baseline: TimeWindow | None) -> KpiOnset:
    """The KPI onset inside the incident window: the largest change there that made the KPI worse.

    The series from the baseline start (else one window length before the window) to the
    window end is analysed by :func:`core.analysis.changepoint.detect_onset`.

    Returns:
        A :class:`KpiOnset`; ``skipped`` without KPI data, ``failed`` when the KPI does not
        overlap the window or cannot be analysed, ``ok`` otherwise (``change`` None when no
        change point inside the window made the KPI worse).
    """
    from core.analysis.changepoint import detect_onset

    if kpi is None or kpi.empty:
        return KpiOnset(None, None, None, "skipped", f"the KPI '{metric}' has no data")
    ts = pd.to_datetime(kpi["timestamp"], utc=True)
    first, last = ts.min().to_pydatetime(), ts.max().to_pydatetime()
    if last < window.start or first >= window.end:
        return KpiOnset(None, None, None, "failed",
                        f"the incident window {iso(window.start)}/{iso(window.end)} does not overlap the KPI "
                        f"'{metric}', whose data runs from {iso(first)} to {iso(last)}: no onset can be found; fix "
                        "the bundle's window or its metrics",
                        {"detected": False, "data_start": iso(first), "data_end": iso(last)})
    start = baseline.start if baseline else min(first, window.start - (window.end - window.start))
    frame = kpi[(ts >= start) & (ts < window.end)]
    try:
        result = detect_onset(frame, direction=direction, metric=metric)
    except InvalidInputError as exc:
        return KpiOnset(None, None, None, "failed", str(exc))
    inside = [c for c in result.change_points if c.effect == "bad" and window.start <= c.time < window.end]
    pool = [c for c in inside if c.confidence >= STRONG_CONFIDENCE] or inside
    if not pool:
        why = ("no change point in the incident window made the KPI worse" if result.change_points else
               "the KPI stays within its normal variation")
        return KpiOnset(None, None, result, "ok", f"No detectable change: {why}.",
                        {"detected": False, "change_points": [c.to_dict() for c in result.change_points],
                         "notes": list(result.notes)})
    change = max(pool, key=lambda c: abs(c.relative_change or 0.0) * c.confidence)
    at = step_time(result, change)
    rel = f" ({change.relative_change:+.1%})" if change.relative_change is not None else ""
    summary = (f"{metric} changed at {iso(at)}: {change.level_before:.4g} → {change.level_after:.4g}{rel}, "
               f"confidence {change.confidence:.0%}")
    if change.settled and change.settled > change.time:
        summary += f" (transition {iso(change.time)} to {iso(change.settled)})"
    return KpiOnset(at, change, result, "ok", summary,
                    {"detected": True, "onset": change.to_dict(), "step_time": iso(at),
                     "seasonality": result.seasonality, "notes": list(result.notes)})


def incident_onset(*, explicit: datetime | str | None = None, started: datetime | str | None = None,
                   kpi: pd.DataFrame | None = None, metric: str = "kpi", direction: str = "higher_is_better",
                   window: TimeWindow | None = None, baseline: TimeWindow | None = None,
                   detect: bool | None = None) -> IncidentOnset:
    """The impact start by the policy in the module docstring.

    Args:
        explicit: a time the caller was given (``--onset``); wins over everything.
        started: the incident's ``started`` milestone.
        kpi: the KPI series from :func:`load_kpi` (None: no detection).
        metric, direction: the KPI's name and direction.
        window, baseline: the incident and baseline windows.
        detect: run the KPI detection even when an explicit time or milestone decides
            (triage reports the detected change either way); default only when needed.

    Raises:
        InvalidInputError: nothing decides an onset (no milestone, KPI change or window).
    """
    decided = utc(explicit) if explicit else None
    source = GIVEN if decided else ""
    if decided is None and started:
        decided, source = utc(started), MILESTONE
    detection = None
    if kpi is not None and window is not None and (detect or (detect is None and decided is None)):
        detection = detect_kpi_change(kpi, metric=metric, direction=direction, window=window, baseline=baseline)
    if decided is None and detection is not None and detection.detected:
        decided, source = detection.at, DETECTED
    if decided is None and baseline is not None:
        decided, source = baseline.end, BASELINE_END
    if decided is None and window is not None:
        decided, source = window.start, WINDOW_START
    if decided is None:
        raise InvalidInputError(
            "no onset known: give one (--onset 2024-05-01T12:00Z), set the incident's 'started' milestone, "
            "or add a baseline window to the bundle")
    return IncidentOnset(decided, source, detection)


def bundle_milestones(bundle: Any) -> dict[str, datetime]:
    """Milestones named by a bundle's milestone events (``attributes.milestone`` or the title)."""
    names = {m.value for m in Milestone}
    out: dict[str, datetime] = {}
    for ev in bundle.events():
        if ev.get("kind") == "milestone":
            name = (ev.get("attributes") or {}).get("milestone") or str(ev.get("title") or "").strip().lower()
            if name in names:
                out[name] = utc(ev["timestamp"])
    return out


def bundle_onset(bundle: Any, *, explicit: datetime | str | None = None,
                 milestones: Mapping[str, datetime | str | None] | None = None,
                 kpi: pd.DataFrame | None = None, detect: bool | None = None) -> IncidentOnset:
    """The onset of a bundle: its ``started`` milestone event (or ``milestones`` when the caller holds the
    incident's stored ones), else its detected KPI onset, else its windows."""
    ms = bundle_milestones(bundle) if milestones is None else milestones
    started = ms.get(Milestone.STARTED.value)
    needs_kpi = detect or (detect is None and not explicit and not started)
    if kpi is None and needs_kpi:
        kpi = load_kpi(bundle)
    return incident_onset(explicit=explicit, started=started, kpi=kpi, metric=bundle.kpi_metric,
                          direction=bundle.kpi_direction, window=bundle.window, baseline=bundle.baseline,
                          detect=detect)


def onset_of_incident(incident: Any, *, kpi: pd.DataFrame | None = None, detect: bool | None = None) -> IncidentOnset:
    """The onset of a stored incident: its ``started`` milestone, else the KPI onset detected in its bundle,
    else its windows.

    Args:
        incident: a :class:`core.models.Incident`.
        kpi: the KPI when the caller already read it with :func:`load_kpi` (else it is read when needed).
        detect: see :func:`incident_onset`.

    Raises:
        InvalidInputError: the incident has no milestone, no KPI change and no window.
    """
    started = incident.milestone(Milestone.STARTED)
    needs_kpi = detect or (detect is None and not started)
    if kpi is None and needs_kpi and incident.bundle_path and incident.kpi_metric:
        kpi = load_kpi(incident.bundle_path, incident.kpi_metric)
    return incident_onset(started=started, kpi=kpi, metric=incident.kpi_metric or "kpi",
                          direction=incident.kpi_direction, window=incident.window, baseline=incident.baseline,
                          detect=detect)


__all__ = [
    "MAX_RAMP", "STRONG_CONFIDENCE", "GIVEN", "MILESTONE", "DETECTED", "BASELINE_END", "WINDOW_START",
    "KpiOnset", "IncidentOnset", "load_kpi", "step_time", "detect_kpi_change", "incident_onset",
    "bundle_milestones", "bundle_onset", "onset_of_incident",
]
