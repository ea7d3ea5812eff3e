"""The post-mortem's data: its sections, what it is drafted from, and what it is made of.

:data:`SECTIONS` lists the sections in order; :class:`PostmortemInputs` is everything a
post-mortem is drafted from (read by :func:`core.report.gather.gather_inputs`);
:class:`Postmortem` is the result of :func:`core.report.postmortem.build_postmortem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

import pandas as pd
import plotly.graph_objects as go

from core.errors import InvalidInputError
from core.models import ActionItem, Cause, EventKind, Evidence, Incident, TimelineEvent, WhyStep

MAX_KEY_EVENTS = 40
MAX_EVIDENCE_CHARTS = 20
CHANGE_KINDS = (EventKind.DEPLOY, EventKind.MODEL_VERSION, EventKind.CONFIG_CHANGE, EventKind.DATA_PIPELINE,
                EventKind.EXTERNAL)
KEY_KINDS = CHANGE_KINDS + (EventKind.ALERT, EventKind.MILESTONE, EventKind.ANNOTATION)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    hint: str


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("title_status", "Title and status", "What happened, in one line, and where the incident stands."),
    SectionSpec("star", "Summary for leadership (STAR)", "Situation, task, action, result in four sentences."),
    SectionSpec("summary", "Summary", "A short paragraph a newcomer understands."),
    SectionSpec("impact", "Impact", "Duration, KPI change and the affected share, with numbers."),
    SectionSpec("timeline", "Timeline", "Key events from the curated timeline (UTC)."),
    SectionSpec("detection", "Detection", "How and when the problem was noticed."),
    SectionSpec("response", "Response", "Who held which role, and what was done."),
    SectionSpec("recovery", "Recovery", "How impact was stopped and the fix confirmed."),
    SectionSpec("root_causes", "Root causes and contributing factors",
                "The fishbone's confirmed causes; several are allowed."),
    SectionSpec("five_whys", "Five Whys", "Each chain from the symptom to a cause."),
    SectionSpec("went_well", "What went well", "Keep doing these."),
    SectionSpec("went_wrong", "What went wrong", "System conditions, not people."),
    SectionSpec("got_lucky", "Where we got lucky", "What could have made it worse."),
    SectionSpec("action_items", "Action items", "Owner, due date, status and the cause each addresses."),
    SectionSpec("evidence", "Supporting evidence", "Each pinned finding with its frozen numbers and chart."),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)
SECTION_TITLES = {s.key: s.title for s in SECTIONS}


# ---------------------------------------------------------------- inputs and results


@dataclass(frozen=True)
class PostmortemInputs:
    """Everything a post-mortem is drafted from (read by :func:`gather_inputs`, or built in tests)."""

    incident: Incident
    events: tuple[TimelineEvent, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    causes: tuple[Cause, ...] = ()
    category_names: Mapping[int, str] = field(default_factory=dict)
    whys: tuple[WhyStep, ...] = ()
    actions: tuple[ActionItem, ...] = ()
    problem: str = ""
    kpi: pd.DataFrame | None = field(default=None, compare=False)
    edits: Mapping[str, Any] = field(default_factory=dict)  # section -> core.store.reports.ReportSection
    guard_rails: Any = None  # core.report.guardrails.GuardRails, when generated
    who_did_what: str = ""  # Markdown from core.report.audit, when the team asks for it (Response section)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    hint: str
    draft: str
    text: str
    edited: bool
    version: int  # 0 when never saved (the draft applies)


@dataclass(frozen=True)
class Chart:
    """A chart that goes with a section (``section`` names it)."""

    section: str
    title: str
    figure: go.Figure = field(compare=False)
    caption: str = ""
    anchor: int | None = None  # for evidence charts: the index of the evidence item


@dataclass(frozen=True)
class BlamelessWarning:
    section: str
    excerpt: str
    problem: str
    suggestion: str


@dataclass(frozen=True)
class Star:
    situation: str
    task: str
    action: str
    result: str

    def as_markdown(self) -> str:
        return (f"- **Situation.** {self.situation}\n- **Task.** {self.task}\n"
                f"- **Action.** {self.action}\n- **Result.** {self.result}")


@dataclass(frozen=True)
class ImpactNumbers:
    """Measured impact; ``None`` where the incident does not hold what is needed."""

    start: datetime | None
    end: datetime | None
    start_source: str
    duration: timedelta | None
    kpi_name: str
    kpi_before: float | None
    kpi_during: float | None
    kpi_change: float | None  # relative, e.g. -0.15
    affected_share: float | None  # share of KPI readings during impact worse than the baseline's 5th percentile
    readings: int


@dataclass(frozen=True)
class Postmortem:
    incident: Incident
    sections: tuple[Section, ...]
    charts: tuple[Chart, ...]
    star: Star
    impact: ImpactNumbers
    warnings: tuple[BlamelessWarning, ...]
    key_events: tuple[TimelineEvent, ...]
    evidence: tuple[Evidence, ...]
    generated_at: datetime
    masked: bool = False
    guard_rails: Any = None  # core.report.guardrails.GuardRails: action items and attachments

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise InvalidInputError(f"'{key}' is not a post-mortem section; use one of {', '.join(SECTION_KEYS)}")

    def charts_for(self, key: str) -> list[Chart]:
        return [c for c in self.charts if c.section == key]

