"""The blameless post-mortem: every section drafted from what the incident already holds.

:func:`gather_inputs` reads an incident's timeline, pinned evidence, fishbone
(causes, Five Whys, action items), saved section edits and, when it has a
bundle, its KPI series. :func:`build_postmortem` turns these into a
:class:`Postmortem`: one :class:`Section` per entry of :data:`SECTIONS`, each
with a Markdown *draft* and the *text* shown (the saved edit when there is one,
else the draft), the charts that go with them, a STAR summary for leadership and
the warnings of the blameless check (:func:`check_blameless`).

Blameless by construction: people appear only in the roles table of the
Response section (and as action-item owners); event and evidence authors are
never printed. The check flags names of known people (roles, participants,
owners, authors), @-mentions and e-mail addresses in causes and in the analysis
sections, and blaming phrases ("human error" as a root cause, "careless",
"should have known", ...), each with a suggestion in systems terms.

Rendering (Markdown, HTML, PDF) lives in :mod:`core.report.render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go

from core.errors import InvalidInputError
from core.markdown_text import md_escape
from core.masking import mask_obj, mask_text
from core.models import (
    ROLE_LABELS,
    ROOT_CAUSE_LABELS,
    ActionItem,
    ActionStatus,
    Cause,
    CauseStatus,
    EventKind,
    Evidence,
    Incident,
    Milestone,
    Role,
    TimelineEvent,
    WhyStep,
    format_duration,
)

MAX_KEY_EVENTS = 40
MAX_EVIDENCE_CHARTS = 20
MAX_FROZEN_NUMBERS = 12
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

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise InvalidInputError(f"'{key}' is not a post-mortem section; use one of {', '.join(SECTION_KEYS)}")

    def charts_for(self, key: str) -> list[Chart]:
        return [c for c in self.charts if c.section == key]


# ---------------------------------------------------------------- reading


def kpi_series(incident: Incident) -> pd.DataFrame | None:
    """The incident bundle's KPI as ``timestamp, value`` (labels averaged; the one loader,
    :func:`core.onset.load_kpi`), or None without one."""
    from core.onset import load_kpi

    if not incident.bundle_path or not incident.kpi_metric:
        return None
    return load_kpi(incident.bundle_path, incident.kpi_metric)


def gather_inputs(store: Any, incident_id: str, *, with_kpi: bool = True) -> PostmortemInputs:
    """Read everything the post-mortem of ``incident_id`` is drafted from.

    Raises:
        NotFoundError: no such incident.
    """
    from core.store.evidence import list_evidence
    from core.store.fishbone import get_fishbone
    from core.store.incidents import get_incident
    from core.store.reports import list_sections
    from core.store.timeline import list_events

    incident = get_incident(store, incident_id)
    fishbone = get_fishbone(store, incident_id)
    return PostmortemInputs(
        incident=incident,
        events=tuple(list_events(store, incident_id)),
        evidence=tuple(list_evidence(store, incident_id)),
        causes=fishbone.causes,
        category_names={c.id: c.name for c in fishbone.categories},
        whys=fishbone.whys,
        actions=fishbone.actions,
        problem=fishbone.problem,
        kpi=kpi_series(incident) if with_kpi else None,
        edits=list_sections(store, incident_id),
    )


# ---------------------------------------------------------------- text helpers


def md_text(text: Any) -> str:
    """User text made safe for Markdown prose: one line, no raw HTML, links, images or emphasis."""
    return md_escape(text or "")


def md_cell(text: Any) -> str:
    """User text made safe for a Markdown table cell (``|`` is escaped too)."""
    return md_text(text)


def _when(t: datetime | None) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if t else "unknown"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_cell(c) if c not in (None, "") else "—" for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{x:+.1%}"


def _num(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


# ---------------------------------------------------------------- impact


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


def _end_source(incident: Incident) -> str:
    if incident.milestone(Milestone.MITIGATED):
        return "mitigated milestone"
    if incident.milestone(Milestone.RESOLVED):
        return "resolved milestone"
    return "end of the bundle window; not mitigated yet" if incident.window else "not mitigated yet"


def durations_from(incident: Incident, start: datetime | None) -> dict[str, timedelta | None]:
    """TTD, TTA, TTM and TTR measured from ``start`` (the impact start used by the report)."""
    from core.models import DURATIONS

    out: dict[str, timedelta | None] = {}
    for name, (milestone, _definition) in DURATIONS.items():
        at = incident.milestone(milestone)
        out[name] = (at - start) if (start and at and at >= start) else None
    return out


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


# ---------------------------------------------------------------- evidence


def frozen_numbers(result: Mapping[str, Any], limit: int = MAX_FROZEN_NUMBERS) -> list[tuple[str, str]]:
    """Scalar values of an evidence result (one level of nesting flattened), as (name, text)."""
    out: list[tuple[str, str]] = []
    for key, value in result.items():
        if len(out) >= limit:
            break
        if isinstance(value, (int, float, bool)) and value is not None:
            out.append((str(key), _num(value)))
        elif isinstance(value, str) and len(value) <= 80:
            out.append((str(key), value))
        elif isinstance(value, dict):
            for k2, v2 in value.items():
                if len(out) >= limit:
                    break
                if isinstance(v2, (int, float, bool)) or (isinstance(v2, str) and len(v2) <= 80):
                    out.append((f"{key}.{k2}", _num(v2)))
    return out


_TIME_KEYS = ("timestamp", "time", "ts", "bucket", "@timestamp")
_LABEL_KEYS = ("name", "column", "segment", "template", "feature", "param", "key", "title", "label")
_VALUE_KEYS = ("relative_change", "statistic", "score", "psi", "wasserstein", "value", "count", "delta",
               "change", "rate_ratio", "share")


def _records(result: Mapping[str, Any]) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    for key, value in result.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield key, value
        elif isinstance(value, dict):
            for k2, v2 in value.items():
                if isinstance(v2, list) and v2 and all(isinstance(v, dict) for v in v2):
                    yield f"{key}.{k2}", v2


def evidence_figure(ev: Evidence, *, dark: bool = False) -> go.Figure | None:
    """A small chart of an evidence result, when its frozen copy holds something to draw.

    Tried in order: a time series (records with a time and a numeric value), a
    before/after level (``level_before``/``level_after``, also under ``onset``),
    a ranked bar chart of records with a label and a numeric value. None otherwise.
    """
    result = ev.result or {}
    template = "plotly_dark" if dark else "plotly_white"
    layout = dict(template=template, height=300, width=760, margin=dict(l=60, r=20, t=40, b=50),
                  title=dict(text=None), font=dict(size=16 if dark else 12), showlegend=False)
    for _name, recs in _records(result):
        tkey = next((k for k in _TIME_KEYS if k in recs[0]), None)
        vkey = next((k for k in _VALUE_KEYS if isinstance(recs[0].get(k), (int, float))), None)
        if tkey and vkey:
            xs = pd.to_datetime([r.get(tkey) for r in recs], utc=True, errors="coerce")
            ys = [r.get(vkey) for r in recs]
            fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", name=vkey))
            fig.update_layout(**layout, yaxis_title=vkey)
            return fig
    for src in (result, result.get("onset") if isinstance(result.get("onset"), dict) else None):
        if src and isinstance(src.get("level_before"), (int, float)) and isinstance(src.get("level_after"), (int, float)):
            fig = go.Figure(go.Bar(x=["before", "after"], y=[src["level_before"], src["level_after"]],
                                   marker_color=["#4C78A8", "#D62728"],
                                   text=[f"{src['level_before']:.4g}", f"{src['level_after']:.4g}"],
                                   textposition="auto"))
            fig.update_layout(**layout, yaxis_title=str(result.get("metric") or "level"))
            return fig
    for _name, recs in _records(result):
        lkey = next((k for k in _LABEL_KEYS if isinstance(recs[0].get(k), str)), None)
        vkey = next((k for k in _VALUE_KEYS if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)
                                                   for r in recs)), None)
        if lkey and vkey:
            rows = [(str(r.get(lkey))[:40], float(r[vkey])) for r in recs
                    if isinstance(r.get(vkey), (int, float)) and not isinstance(r.get(vkey), bool)]
            rows = sorted(rows, key=lambda x: abs(x[1]), reverse=True)[:12][::-1]
            if not rows:
                continue
            fig = go.Figure(go.Bar(x=[v for _, v in rows], y=[label for label, _ in rows], orientation="h",
                                   marker_color="#4C78A8"))
            fig.update_layout(**{**layout, "height": max(220, 40 + 28 * len(rows))}, xaxis_title=vkey)
            return fig
    return None


# ---------------------------------------------------------------- blameless check

BLAMING_PHRASES: tuple[tuple[str, str, str], ...] = (
    (r"\bhuman[ -]error\b", "'human error' is not a root cause",
     "Ask why the system let a person's action cause harm: which check, guard-rail or default was missing?"),
    (r"\b(?:operator|user|engineer|developer|analyst)[ -]error\b", "blames a person's mistake",
     "Describe the condition that made the mistake possible or likely (unclear runbook, missing validation)."),
    (r"\b(?:careless(?:ly|ness)?|negligen(?:t|ce)|sloppy|lazy|incompetent|reckless)\b", "judges a person",
     "State what happened and which safeguard did not catch it, without judging anyone."),
    (r"\bshould(?:\s+not)? have\s+(?:known|noticed|checked|caught|tested|realised|realized)\b",
     "hindsight about what someone should have done",
     "Describe what information was available at the time and how to surface it earlier."),
    (r"\b(?:forgot|neglected|failed) to\b", "frames a gap as someone's failure",
     "Name the missing step in the process or automation (e.g. 'no checklist step for ...')."),
    (r"\b(?:fault|blame[ds]?|to blame|culprit|guilty)\b", "assigns fault",
     "Write about contributing conditions and decisions in context, not fault."),
)


def known_people(inputs: PostmortemInputs) -> list[str]:
    """Names of people the incident knows about: roles, participants, owners and authors."""
    names: set[str] = set()
    inc = inputs.incident
    names.update(v for v in inc.roles.values() if v)
    names.update(inc.participants)
    names.update(a.owner for a in inputs.actions if a.owner)
    names.update(e.author for e in inputs.events if e.author)
    names.update(e.author for e in inputs.evidence if e.author)
    generic = {"bundle import", "manual", "system", "triage", "bundle", "demo", "import"}
    out = []
    for n in names:
        n = n.strip()
        # team-like owners ("data-platform", "ml-team") are not people
        if len(n) < 3 or n.lower() in generic or re.search(r"[-_/]|team|platform|squad|ops\b|oncall|on-call", n.lower()):
            continue
        out.append(n)
    return sorted(out, key=len, reverse=True)


_MENTION = re.compile(r"(?<![\w@.])@[A-Za-z][\w.-]{1,38}\b")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BLAME_SECTIONS = ("summary", "root_causes", "five_whys", "went_wrong", "detection", "recovery", "got_lucky",
                   "went_well", "impact", "star")


def _excerpt(text: str, start: int, end: int) -> str:
    a, b = max(0, start - 40), min(len(text), end + 40)
    return ("…" if a else "") + re.sub(r"\s+", " ", text[a:b]).strip() + ("…" if b < len(text) else "")


def check_text(section: str, text: str, people: Iterable[str]) -> list[BlamelessWarning]:
    """Blaming language in one piece of text (see :data:`BLAMING_PHRASES`), names and @-mentions."""
    out: list[BlamelessWarning] = []
    if not text:
        return out
    for pattern, problem, suggestion in BLAMING_PHRASES:
        for m in re.finditer(pattern, text, flags=re.I):
            out.append(BlamelessWarning(section, _excerpt(text, m.start(), m.end()), problem, suggestion))
    for name in people:
        for m in re.finditer(r"(?<![\w])" + re.escape(name) + r"(?![\w])", text, flags=re.I):
            out.append(BlamelessWarning(
                section, _excerpt(text, m.start(), m.end()), f"names a person ('{name}')",
                "Refer to the role (e.g. 'the on-call engineer') or the system, not the person."))
    for rx, what in ((_MENTION, "mentions a person"), (_EMAIL, "contains a person's e-mail address")):
        for m in rx.finditer(text):
            if rx is _MENTION and _EMAIL.match(text, max(0, m.start() - 64)):
                continue
            out.append(BlamelessWarning(section, _excerpt(text, m.start(), m.end()), what,
                                        "Refer to the role or team instead of the individual."))
    return out


def check_blameless(inputs: PostmortemInputs, sections: Iterable[Section] = ()) -> list[BlamelessWarning]:
    """Flag blaming language: names in causes, 'human error' as a root cause, judging phrases.

    Checks every fishbone cause (text and notes), every Five Whys answer and the
    analysis sections' texts. The roles table of the Response section and the
    action items' owners are where people belong and are not checked.
    """
    people = known_people(inputs)
    out: list[BlamelessWarning] = []
    for c in inputs.causes:
        if c.status == CauseStatus.RULED_OUT:
            continue
        where = "root_causes"
        out += [replace(w, excerpt=f"Cause: {w.excerpt}") for w in check_text(where, c.text, people)]
        out += [replace(w, excerpt=f"Cause notes: {w.excerpt}") for w in check_text(where, c.notes, people)]
    for w in inputs.whys:
        out += check_text("five_whys", f"{w.question} {w.answer}", people)
    checked_draft = {"root_causes", "five_whys"}
    for s in sections:
        if s.key not in _BLAME_SECTIONS or (s.key in checked_draft and not s.edited):
            continue
        out += check_text(s.key, s.text, people)
    unique: list[BlamelessWarning] = []
    for w in out:
        if w not in unique:
            unique.append(w)
    return unique


# ---------------------------------------------------------------- drafting


def _durations_line(incident: Incident, impact: ImpactNumbers) -> str:
    known = {k: v for k, v in durations_from(incident, impact.start).items() if v is not None}
    if not known:
        return "No durations yet: set the incident's milestones (started, detected, mitigated, resolved)."
    return ("Measured from impact start: " + " · ".join(f"**{k}** {format_duration(v)}" for k, v in known.items())
            + ".")


def _cause_label(c: Cause, names: Mapping[int, str]) -> str:
    cat = names.get(c.category_id, "")
    return f"{md_text(c.text)}" + (f" *({md_text(cat)})*" if cat else "")


def draft_sections(inputs: PostmortemInputs, impact: ImpactNumbers, keys: list[TimelineEvent],
                   star: Star) -> dict[str, str]:
    """The drafted Markdown of every section."""
    inc = inputs.incident
    ms = inc.milestones
    events = list(inputs.events)
    d: dict[str, str] = {}
    rc = ROOT_CAUSE_LABELS.get(inc.root_cause, "not classified yet") if inc.root_cause else "not classified yet"
    d["title_status"] = "\n".join([
        f"**{md_text(inc.title)}**", "",
        _table(["Incident", "Service", "Severity", "Status", "Root-cause class"],
               [[inc.id, inc.service or "—", inc.severity.value, inc.status.value, rc]]),
    ])
    d["star"] = star.as_markdown()
    summary = md_text(inc.summary) or f"{md_text(inc.title)}."
    confirmed = [c for c in inputs.causes if c.status == CauseStatus.CONFIRMED and c.parent_id is None]
    parts = [summary]
    if impact.kpi_change is not None:
        parts.append(f"{md_text(impact.kpi_name)} moved {_pct(impact.kpi_change)} against its baseline "
                     f"for {format_duration(impact.duration)}.")
    if confirmed:
        parts.append("Confirmed cause" + ("s" if len(confirmed) > 1 else "") + ": "
                     + "; ".join(md_text(c.text) for c in confirmed) + ".")
    d["summary"] = " ".join(parts)

    rows = [["Impact start", f"{_when(impact.start)} ({impact.start_source})"], ["Impact end", f"{_when(impact.end)} ({_end_source(inc)})"],
            ["Duration", format_duration(impact.duration)]]
    if impact.kpi_before is not None:
        rows += [[f"{md_text(impact.kpi_name)} before (baseline mean)", f"{impact.kpi_before:.4g}"],
                 [f"{md_text(impact.kpi_name)} during impact (mean)", f"{impact.kpi_during:.4g}"],
                 ["KPI change", _pct(impact.kpi_change)],
                 ["Affected share", f"{impact.affected_share:.0%} of {impact.readings:,} KPI readings during impact "
                                    "were worse than 95% of baseline readings (normal: 5%)"]]
    else:
        rows.append(["KPI change", "no KPI series attached to this incident"])
    d["impact"] = _table(["Measure", "Value"], rows) + "\n\n" + _durations_line(inc, impact)

    if keys:
        trows = [[e.timestamp.strftime("%Y-%m-%d %H:%M"), e.kind.value.replace("_", " "),
                  e.title + (" (pinned)" if e.pinned and e.kind != EventKind.MILESTONE else "")] for e in keys]
        more = len(events) - len([k for k in keys if k.id is not None])
        d["timeline"] = _table(["Time (UTC)", "Kind", "Event"], trows) + (
            f"\n\n{more:,} further events (logs and routine entries) are on the full timeline." if more > 0 else "")
    else:
        d["timeline"] = "No events on the timeline yet."

    started, detected = impact.start, ms.get(Milestone.DETECTED.value)
    alerts = [e for e in events if e.kind == EventKind.ALERT and (started is None or e.timestamp >= started)]
    det = [f"Detected at {_when(detected)}" + (f", {format_duration(detected - started)} after impact start (TTD)."
                                              if started and detected else ".")]
    if alerts:
        det.append(f"First alert: *{md_text(alerts[0].title)}* at {_when(alerts[0].timestamp)}.")
    else:
        det.append("No alert is on the timeline: detection came from a person or a report.")
    if detected and started and detected - started > timedelta(minutes=30):
        det.append("Detection took longer than 30 minutes; consider an alert on the KPI itself.")
    d["detection"] = " ".join(det)

    roles = [[ROLE_LABELS.get(Role(r), r) if r in {x.value for x in Role} else r, p] for r, p in inc.roles.items()]
    ack, mitigated = ms.get(Milestone.ACKNOWLEDGED.value), ms.get(Milestone.MITIGATED.value)
    resp = []
    if ack:
        resp.append(f"Acknowledged at {_when(ack)}" + (f" (TTA {format_duration(ack - started)})." if started else "."))
    lo, hi = detected or started, mitigated or ms.get(Milestone.RESOLVED.value)
    acts = [e for e in events if lo and e.timestamp >= lo and (hi is None or e.timestamp <= hi)
            and e.kind in (EventKind.ANNOTATION, EventKind.CONFIG_CHANGE, EventKind.DEPLOY, EventKind.MODEL_VERSION,
                           EventKind.FINDING, EventKind.LOG)]
    if acts:
        resp.append("Steps taken between detection and mitigation:\n\n" + "\n".join(
            f"- {e.timestamp.strftime('%Y-%m-%d %H:%M')} — {md_text(e.title)}" for e in acts[:15]))
    if not resp:
        resp.append("No response steps recorded yet; add them as notes on the timeline.")
    resp.append("Roles (people appear only here):\n\n" + (_table(["Role", "Person"], roles) if roles
                                                          else "No roles assigned."))
    d["response"] = "\n\n".join(resp)

    resolved = ms.get(Milestone.RESOLVED.value)
    rec = []
    if mitigated:
        rec.append(f"Impact mitigated at {_when(mitigated)}"
                   + (f" (TTM {format_duration(mitigated - started)})." if started else "."))
    if resolved:
        rec.append(f"Resolved at {_when(resolved)}" + (f" (TTR {format_duration(resolved - started)})." if started else "."))
    fixes = [e for e in events if mitigated and e.timestamp >= mitigated and (resolved is None or e.timestamp <= resolved)
             and e.kind in CHANGE_KINDS + (EventKind.ANNOTATION,)]
    rec += [f"- {e.timestamp.strftime('%Y-%m-%d %H:%M')} — {md_text(e.title)}" for e in fixes[:10]]
    d["recovery"] = "\n".join(rec) if rec else "Not mitigated yet: set the mitigated and resolved milestones."

    names = inputs.category_names
    lines = [f"Root-cause class: **{rc}**.", ""]
    if confirmed:
        for i, c in enumerate(confirmed, 1):
            lines.append(f"{i}. **{_cause_label(c, names)}**" + (f" — {md_text(c.notes)}" if c.notes else ""))
            for k in [x for x in inputs.causes if x.parent_id == c.id]:
                lines.append(f"    - contributing: {md_text(k.text)} ({k.status.value.replace('_', ' ')})")
            for ref in c.evidence[:5]:
                lines.append(f"    - evidence: {md_text(ref.get('title', ''))}")
    else:
        lines.append("No cause is confirmed on the fishbone yet.")
    contributing = [c for c in inputs.causes if c.status == CauseStatus.CONFIRMED and c.parent_id is not None
                    and c.parent_id not in {x.id for x in confirmed}]
    suspected = [c for c in inputs.causes if c.status == CauseStatus.SUSPECTED]
    ruled = [c for c in inputs.causes if c.status == CauseStatus.RULED_OUT]
    if contributing:
        lines += ["", "Contributing factors:"] + [f"- {_cause_label(c, names)}" for c in contributing]
    if suspected:
        lines += ["", "Still suspected (not confirmed):"] + [f"- {_cause_label(c, names)}" for c in suspected]
    if ruled:
        lines += ["", "Ruled out:"] + [f"- {_cause_label(c, names)}" + (f" — {md_text(c.notes)}" if c.notes else "")
                                       for c in ruled]
    d["root_causes"] = "\n".join(lines)

    from core.store.fishbone import why_paths

    paths = why_paths(inputs.whys)
    if paths:
        causes_by_id = {c.id: c for c in inputs.causes}
        blocks = []
        for n, path in enumerate(paths, 1):
            head = f"**Chain {n}" + (f" ({md_text(path[0].chain)})" if path[0].chain != "main" else "") + "**"
            steps = []
            for i, w in enumerate(path, 1):
                step = f"{i}. {md_text(w.question)} — {md_text(w.answer) or '*unanswered*'}"
                if w.cause_id in causes_by_id:
                    step += f" → cause: *{md_text(causes_by_id[w.cause_id].text)}*"
                steps.append(step)
            blocks.append(head + "\n\n" + "\n".join(steps))
        d["five_whys"] = "\n\n".join(blocks)
    else:
        d["five_whys"] = "No Five Whys chain yet: add one on the Fishbone page."

    well = []
    durs = durations_from(inc, impact.start)
    if durs["TTD"] is not None and durs["TTD"] <= timedelta(minutes=30):
        well.append(f"Fast detection: TTD {format_duration(durs['TTD'])}.")
    if alerts:
        well.append("Monitoring fired an alert.")
    if inputs.evidence:
        well.append(f"{len(inputs.evidence)} finding(s) were pinned as evidence, so the analysis is reproducible.")
    if ruled:
        well.append(f"{len(ruled)} plausible change(s) were ruled out with evidence instead of being rolled back blindly.")
    d["went_well"] = "\n".join(f"- {x}" for x in well) or "- *Add what helped the response.*"
    wrong = []
    if durs["TTD"] is not None and durs["TTD"] > timedelta(minutes=30):
        wrong.append(f"Slow detection: impact ran for {format_duration(durs['TTD'])} before anyone knew.")
    if not alerts:
        wrong.append("No alert fired on the timeline.")
    wrong += [f"{md_text(c.text)}" for c in confirmed]
    d["went_wrong"] = "\n".join(f"- {x}" for x in wrong) or "- *Add system conditions that made it worse.*"
    d["got_lucky"] = ("- *Add what could have made this worse, e.g. timing, traffic level, or a check that "
                      "happened to catch it.*")

    if inputs.actions:
        causes_by_id = {c.id: c for c in inputs.causes}
        today = datetime.now(timezone.utc).date()
        arows = []
        for a in inputs.actions:
            overdue = a.due is not None and a.due < today and a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
            arows.append([a.text, a.owner or "unassigned", (a.due.isoformat() if a.due else "—") + (" (past due)" if overdue else ""),
                          a.status.value.replace("_", " "),
                          causes_by_id[a.cause_id].text if a.cause_id in causes_by_id else "—"])
        d["action_items"] = _table(["Action", "Owner", "Due", "Status", "Linked cause"], arows)
    else:
        d["action_items"] = "No action items yet: add them on the Fishbone page."

    blocks = evidence_blocks(inputs.evidence)
    d["evidence"] = "\n\n".join(blocks) if blocks else \
        "No evidence pinned: pin findings from the analysis pages to support the causes."
    return d


def evidence_blocks(evidence: Iterable[Evidence]) -> list[str]:
    """One Markdown block per pinned finding: title, kind, window, digest and its frozen numbers."""
    blocks = []
    for i, ev in enumerate(evidence, 1):
        window = f"{_when(ev.window.start)} – {_when(ev.window.end)}" if ev.window else "no window"
        head = f"**E{i}. {md_text(ev.title)}** — {md_text(ev.kind)}, {window}, digest `{ev.digest[:12]}`"
        nums = frozen_numbers(ev.result or {})
        blocks.append(head + ("\n\n" + _table(["Measure (frozen copy)", "Value"], [[k, v] for k, v in nums])
                              if nums else ""))
    return blocks


def star_summary(inputs: PostmortemInputs, impact: ImpactNumbers) -> Star:
    """Situation, task, action, result in one sentence each."""
    inc = inputs.incident
    svc = f" on {md_text(inc.service)}" if inc.service else ""
    kpi = (f"; {md_text(impact.kpi_name)} moved {_pct(impact.kpi_change)} against its baseline"
           if impact.kpi_change is not None else "")
    situation = f"{inc.severity.value} incident{svc} starting {_when(impact.start)}: {md_text(inc.title)}{kpi}."
    task = ("Restore normal service, find the root cause without blaming anyone, and prevent a recurrence.")
    confirmed = [c for c in inputs.causes if c.status == CauseStatus.CONFIRMED and c.parent_id is None]
    ruled = [c for c in inputs.causes if c.status == CauseStatus.RULED_OUT]
    act = []
    if inputs.evidence:
        act.append(f"pinned {len(inputs.evidence)} finding(s) as evidence")
    if ruled:
        act.append(f"ruled out {len(ruled)} plausible change(s)")
    if confirmed:
        shown = "; ".join(md_text(c.text) for c in confirmed[:3]) + ("; …" if len(confirmed) > 3 else "")
        act.append(f"confirmed {len(confirmed)} cause(s): {shown}")
    if not act:
        action = "Investigation is under way; no cause confirmed yet."
    else:
        action = "The team " + (", ".join(act[:-1]) + " and " + act[-1] if len(act) > 1 else act[0]) + "."
    durs = durations_from(inc, impact.start)
    res = []
    if durs["TTM"] is not None:
        res.append(f"impact mitigated after {format_duration(durs['TTM'])}")
    if durs["TTR"] is not None:
        res.append(f"resolved after {format_duration(durs['TTR'])}")
    open_items = sum(a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS) for a in inputs.actions)
    res.append(f"{len(inputs.actions)} action item(s), {open_items} still open")
    result = (res[0][0].upper() + "; ".join(res)[1:] + ".") if res else "Not resolved yet."
    return Star(situation=situation, task=task, action=action, result=result)


def _masked_inputs(inputs: PostmortemInputs) -> PostmortemInputs:
    """Every string of the inputs masked (incident, service, roles, events, evidence, KPI labels,
    causes, whys, actions, edits) before anything is drafted, charted or laid out."""
    return mask_obj(inputs)


def build_postmortem(inputs: PostmortemInputs, *, mask: bool = False, dark: bool = False,
                     charts: bool = True, now: datetime | None = None, onset: datetime | None = None,
                     detect_onset: bool = True) -> Postmortem:
    """Draft every section, apply saved edits, add charts, the STAR summary and blameless warnings.

    Args:
        inputs: from :func:`gather_inputs`.
        mask: mask sensitive values (e-mails, IPs, keys, cards) everywhere, edits included.
        dark: dark chart theme with larger type (presentation mode).
        charts: build the timeline and evidence charts (off for a quick text-only draft).
        now: the generation time shown in exports (default: now).
        onset: impact start detected on the KPI, when the caller already has it (used without a
            ``started`` milestone).
        detect_onset: detect the KPI onset when ``onset`` is not given (change-point analysis).
    """
    warnings_source = inputs
    if mask:
        inputs = _masked_inputs(inputs)
    inc = inputs.incident
    if onset is None and detect_onset and not inc.milestone(Milestone.STARTED) and inputs.kpi is not None:
        from core.onset import DETECTED, onset_of_incident  # the one onset policy, as every view uses

        try:
            found = onset_of_incident(inc, kpi=inputs.kpi)
        except InvalidInputError:
            found = None
        onset = found.at if found is not None and found.source == DETECTED else None
    impact = measure_impact(inc, inputs.kpi, onset)
    keys = key_events(inc, inputs.events, start=impact.start)
    star = star_summary(inputs, impact)
    drafts = draft_sections(inputs, impact, keys, star)
    sections = []
    for spec in SECTIONS:
        edit = inputs.edits.get(spec.key)
        text = edit.text if edit is not None else drafts[spec.key]
        sections.append(Section(spec.key, spec.title, spec.hint, drafts[spec.key],
                                mask_text(text) if mask else text, edit is not None,
                                edit.version if edit is not None else 0))
    warnings = check_blameless(warnings_source, sections)
    if mask:
        warnings = [replace(w, excerpt=mask_text(w.excerpt), problem=mask_text(w.problem)) for w in warnings]
    chart_list: list[Chart] = []
    if charts:
        chart_list = build_charts(inputs, dark=dark, impact=impact)
    return Postmortem(incident=inc, sections=tuple(sections), charts=tuple(chart_list), star=star, impact=impact,
                      warnings=tuple(warnings), key_events=tuple(keys), evidence=inputs.evidence,
                      generated_at=now or datetime.now(timezone.utc), masked=mask)


def build_charts(inputs: PostmortemInputs, *, dark: bool = False, impact: ImpactNumbers | None = None) -> list[Chart]:
    """The timeline chart (KPI above the event lanes) and one chart per drawable evidence item.

    Without a ``started`` milestone, the impact start the report used (e.g. the detected
    KPI onset) is drawn as the ``started`` line and the caption says so.
    """
    from core.viz.timeline import build_timeline_figure

    inc = inputs.incident
    out: list[Chart] = []
    window = inc.time_range()
    if inputs.events or inputs.kpi is not None:
        kpi = inputs.kpi
        if kpi is not None and window is not None:
            ts = pd.to_datetime(kpi["timestamp"], utc=True)
            kpi = kpi[(ts >= window.start) & (ts < window.end)]
        milestones = dict(inc.milestones)
        note = ""
        if impact is not None and impact.start and not inc.milestone(Milestone.STARTED) \
                and impact.start_source.startswith("KPI onset"):
            milestones[Milestone.STARTED.value] = impact.start
            note = " The 'started' line is the KPI onset detected by change-point analysis (no milestone set)."
        fig = build_timeline_figure(
            list(inputs.events), kpi=kpi, kpi_name=inc.kpi_metric or "KPI", milestones=milestones,
            window=(window.start, window.end) if window else None, dark=dark, height=560,
        )
        fig.update_layout(width=1000)
        out.append(Chart("timeline", "Timeline", fig,
                         "KPI above, one lane per event kind below; vertical lines are the milestones." + note))
    drawn = 0
    for i, ev in enumerate(inputs.evidence, 1):
        if drawn >= MAX_EVIDENCE_CHARTS:
            break
        fig = evidence_figure(ev, dark=dark)
        if fig is not None:
            out.append(Chart("evidence", f"E{i}. {ev.title}", fig, f"From the frozen copy pinned {_when(ev.created_at)}.",
                             anchor=i - 1))
            drawn += 1
    return out


def overdue_actions(actions: Iterable[ActionItem], today: date | None = None) -> list[ActionItem]:
    """Open or in-progress action items whose due date has passed."""
    today = today or datetime.now(timezone.utc).date()
    return [a for a in actions if a.due is not None and a.due < today
            and a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)]


__all__ = [
    "SECTIONS", "SECTION_KEYS", "BlamelessWarning", "Chart", "ImpactNumbers", "Postmortem", "PostmortemInputs",
    "Section", "Star", "build_postmortem", "check_blameless", "check_text", "draft_sections", "evidence_figure",
    "frozen_numbers", "gather_inputs", "key_events", "measure_impact", "overdue_actions", "star_summary",
]
