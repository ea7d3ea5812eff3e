"""The blameless post-mortem: every section drafted from what the incident already holds.

:func:`gather_inputs` reads an incident's timeline, pinned evidence, fishbone
(causes, Five Whys, action items), saved section edits and, when it has a
bundle, its KPI series. :func:`build_postmortem` turns these into a
:class:`Postmortem`: one :class:`Section` per entry of :data:`SECTIONS`, each
with a Markdown *draft* and the *text* shown (the saved edit when there is one,
else the draft), the charts that go with them, a STAR summary for leadership and
the warnings of the blameless check (:func:`check_blameless`).

The parts live beside this module, which assembles them and re-exports their public names:

* :mod:`core.report.model` — the sections and the data classes (inputs, sections, charts, result);
* :mod:`core.report.gather` — reading the inputs from the store (and the KPI from the bundle);
* :mod:`core.report.impact` — impact window and numbers, durations, key events, overdue actions;
* :mod:`core.report.sections` — the drafted Markdown of every section and the STAR summary;
* :mod:`core.report.blameless` — the blameless check;
* :mod:`core.report.charts` — the timeline chart and each finding's chart (drawn by its evidence kind,
  :mod:`core.evidence`);
* :mod:`core.report.render` — Markdown, HTML and PDF;
* :mod:`core.report.guardrails` — the generated guard rails in the action items and STAR, and the attachments.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from core.errors import InvalidInputError
from core.evidence import evidence_figure, evidence_numbers, frozen_numbers
from core.masking import mask_obj, mask_text
from core.models import Milestone, durations_from
from core.report.blameless import BLAMING_PHRASES, check_blameless, check_text, known_people
from core.report.charts import build_charts
from core.report.gather import gather_inputs, kpi_series
from core.report.impact import impact_window, key_events, measure_impact, overdue_actions
from core.report.model import (
    CHANGE_KINDS,
    KEY_KINDS,
    MAX_EVIDENCE_CHARTS,
    MAX_KEY_EVENTS,
    SECTION_KEYS,
    SECTION_TITLES,
    SECTIONS,
    BlamelessWarning,
    Chart,
    ImpactNumbers,
    Postmortem,
    PostmortemInputs,
    Section,
    SectionSpec,
    Star,
)
from core.report.sections import draft_sections, evidence_blocks, star_summary
from core.report.text import md_cell, md_text


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
                      generated_at=now or datetime.now(timezone.utc), masked=mask, guard_rails=inputs.guard_rails)


__all__ = [
    "BLAMING_PHRASES", "CHANGE_KINDS", "KEY_KINDS", "MAX_EVIDENCE_CHARTS", "MAX_KEY_EVENTS", "SECTIONS",
    "SECTION_KEYS", "SECTION_TITLES", "BlamelessWarning", "Chart", "ImpactNumbers", "Postmortem",
    "PostmortemInputs", "Section", "SectionSpec", "Star", "build_charts", "build_postmortem", "check_blameless",
    "check_text", "draft_sections", "durations_from", "evidence_blocks", "evidence_figure", "evidence_numbers",
    "frozen_numbers", "gather_inputs", "impact_window", "key_events", "known_people", "kpi_series",
    "md_cell", "md_text", "measure_impact", "overdue_actions", "star_summary",
]
