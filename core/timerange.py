"""The shared time range as people know it from Grafana and Kibana: quick ranges, zoom out, shift.

Every range is absolute UTC in the end (that is what the link keeps); quick ranges are
anchored on the incident ("incident window", "±2 h around onset") or on now ("last 6 h").
Typed times use one format everywhere, the one the hints show: ``2026-03-12 06:00``
(UTC; full ISO 8601 such as ``2026-03-12T06:00:00Z`` is accepted too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import InvalidInputError
from core.models import TimeWindow, format_duration

INPUT_FORMAT = "%Y-%m-%d %H:%M"
EXAMPLE = "2026-03-12 06:00"

QUICK_RANGES: dict[str, str] = {
    "incident": "Incident window",
    "baseline": "Baseline → incident window",
    "onset1": "±1 h around onset",
    "onset2": "±2 h around onset",
    "onset6": "±6 h around onset",
    "onset24": "±24 h around onset",
    "last1": "Last 1 h",
    "last6": "Last 6 h",
    "last24": "Last 24 h",
    "last168": "Last 7 days",
}


@dataclass(frozen=True)
class Anchors:
    """What quick ranges are anchored on; any of them may be unknown."""

    now: datetime
    incident: TimeWindow | None = None
    baseline: TimeWindow | None = None
    onset: datetime | None = None


def quick_range(key: str, anchors: Anchors) -> TimeWindow:
    """The absolute window of a quick range; InvalidInputError names what is missing."""
    if key not in QUICK_RANGES:
        raise InvalidInputError(f"unknown quick range '{key}'; choose one of: {', '.join(QUICK_RANGES)}")
    if key == "incident" or key == "baseline":
        if anchors.incident is None:
            raise InvalidInputError("this incident has no window yet: give it a bundle or a 'started' milestone")
        if key == "baseline":
            if anchors.baseline is None:
                raise InvalidInputError("this incident has no baseline window; choose 'Incident window'")
            return TimeWindow(min(anchors.baseline.start, anchors.incident.start),
                              max(anchors.baseline.end, anchors.incident.end))
        return anchors.incident
    hours = int(key[5:] if key.startswith("onset") else key[4:])
    if key.startswith("onset"):
        if anchors.onset is None:
            raise InvalidInputError("no onset is known: set the incident's 'started' milestone or detect it on Metrics")
        return TimeWindow(anchors.onset - timedelta(hours=hours), anchors.onset + timedelta(hours=hours))
    end = anchors.now.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return TimeWindow(end - timedelta(hours=hours), end)


def zoom_out(window: TimeWindow, factor: float = 2.0) -> TimeWindow:
    """The window ``factor`` times as long, around the same centre (Grafana's zoom out)."""
    extra = window.duration * (factor - 1) / 2
    return TimeWindow(window.start - extra, window.end + extra)


def shift(window: TimeWindow, steps: float) -> TimeWindow:
    """Move the window by ``steps`` times half its length: negative is earlier, positive later."""
    delta = window.duration * steps / 2
    return TimeWindow(window.start + delta, window.end + delta)


def format_input(value: datetime) -> str:
    """A time as typed in the range fields: ``2026-03-12 06:00`` (UTC)."""
    return value.astimezone(timezone.utc).strftime(INPUT_FORMAT)


def describe(window: TimeWindow) -> str:
    """``2026-03-12 06:00 → 2026-03-13 06:00 UTC (1d 0h)``."""
    return f"{format_input(window.start)} → {format_input(window.end)} UTC ({format_duration(window.duration)})"


def parse_input(text: str | None, label: str) -> datetime | None:
    """A typed UTC time (``2026-03-12 06:00``, seconds and ISO 8601 with an offset also accepted); '' -> None.

    The error echoes the input exactly as typed and shows the format of the hint.
    """
    typed = text or ""
    value = typed.strip()
    if not value:
        return None
    candidate = value.replace(" ", "T", 1) if "T" not in value and " " in value else value
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise InvalidInputError(f"{label}: '{typed}' is not a time; write it like {EXAMPLE} (UTC)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_range(start_text: str | None, end_text: str | None) -> TimeWindow:
    """Two typed times as a window; the error names the field and echoes the input."""
    start = parse_input(start_text, "From")
    end = parse_input(end_text, "To")
    if start is None or end is None:
        raise InvalidInputError(f"both ends of the time range are needed; write them like {EXAMPLE}")
    if end <= start:
        raise InvalidInputError(f"'{(end_text or '').strip()}' is not after '{(start_text or '').strip()}'; "
                                "the range must end after it starts")
    return TimeWindow(start, end)


def box_selection_window(selection: Any, tz: str = "UTC") -> TimeWindow | None:
    """The x span of a chart's box selection as a UTC window, or None (no box, unreadable or empty span).

    ``selection`` is what a Plotly chart's selection event holds (``{"selection": {"box":
    [{"x": [a, b], ...}]}}``, or the same as attributes). The x values are times; one
    without a zone is wall-clock time in ``tz``. The first box with two x values decides.
    """
    import pandas as pd

    if hasattr(selection, "get"):
        inner = selection.get("selection")
        boxes = inner.get("box") if hasattr(inner, "get") else None
    else:
        boxes = getattr(getattr(selection, "selection", None), "box", None)
    zone = ZoneInfo(tz)
    for box in boxes or []:
        xs = (box.get("x") if hasattr(box, "get") else None) or []
        if len(xs) == 2:
            try:
                a, b = sorted(pd.Timestamp(x) for x in xs)
            except (ValueError, TypeError):
                return None
            start, end = (t.to_pydatetime().replace(tzinfo=zone) if t.tzinfo is None else t.to_pydatetime()
                          for t in (a, b))
            start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
            if end > start:
                return TimeWindow(start, end)
    return None
