"""Streamlit helpers of the Post-mortem page: building the report, section editors, exports, analytics."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core.analysis.incident_analytics import GROUPINGS, analytics_frame, analyze_incidents
from core.errors import ConcurrentEditError, WorkbenchError
from core.models import Incident, Milestone
from core.report.guardrails import GuardRails, attachments, attachments_zip, from_plan, runbook_link
from core.report.postmortem import Postmortem, Section, build_postmortem, gather_inputs
from core.report.render import MEDIA_TYPES, export_postmortem
from core.report.text import md_text
from core.store import Store
from core.store.analytics import load_analytics_inputs
from core.store.reports import reset_section, save_section
from core.viz.analytics import GROUP_TITLES, counts_figure, durations_figure
from ui import progress as cancelling, state
from ui import timeline as tl

MESSAGES = "postmortem_messages"


def guard_rails(store: Store, incident: Incident) -> GuardRails | None:
    """The guard rails generated in this session for the incident (Triage's Prevention panel or the Export
    tab), with the runbook link when the runbook store has one."""
    from ui.prevention import plan_for

    plan = plan_for(incident)
    if plan is None:
        return None
    return from_plan(plan, runbook_link(store, plan.cause.value, incident.id))


def build(store: Store, incident: Incident, *, mask: bool, dark: bool, charts: bool = True,
          rails: GuardRails | None = None, who_did_what: bool = False) -> Postmortem:
    """The post-mortem from fresh shared state; the KPI series and its onset come from cached readers.

    ``who_did_what`` adds the audit log's "who did what, when" to the Response section."""
    inputs = replace(gather_inputs(store, incident.id, with_kpi=False), guard_rails=rails)
    if who_did_what:
        from core.report.audit import who_did_what as audit_markdown

        inputs = replace(inputs, who_did_what=audit_markdown(store, incident.id))
    onset = None
    if incident.bundle_path and incident.kpi_metric:
        inputs = replace(inputs, kpi=tl.load_kpi(incident.bundle_path, incident.kpi_metric))
        if not incident.milestone(Milestone.STARTED):
            onset = tl.detected_onset(incident.bundle_path, incident.kpi_metric, incident.kpi_direction)
    return build_postmortem(inputs, mask=mask, dark=dark, charts=charts, onset=onset, detect_onset=False)


# ---------------------------------------------------------------- section editing

# widgets whose values outlive a tab switch: the page builds only the open tab, and Streamlit forgets the
# value of a widget that a run did not draw
KEPT_WIDGETS = ("postmortem_mask", "postmortem_who_did_what", "postmortem_an_by", "postmortem_an_freq")


def keep_tab_state(incident_id: str, sections: tuple[Section, ...] | list[Section]) -> None:
    """Keep the switches, choices and typed (unsaved) section text of the tabs that this run does not draw."""
    for key in (*KEPT_WIDGETS, *(_keys(incident_id, s.key)[0] for s in sections)):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]



def _keys(incident_id: str, section: str) -> tuple[str, str, str]:
    base = f"postmortem_{incident_id}_{section}"
    return f"{base}_text", f"{base}_seen", f"{base}_base"


def _load(incident_id: str, section: str, text: str, version: int) -> None:
    text_key, seen_key, base_key = _keys(incident_id, section)
    st.session_state[text_key] = text
    st.session_state[seen_key] = version
    st.session_state[base_key] = text


def _say(kind: str, message: str, fresh: str | None = None) -> None:
    st.session_state.setdefault(MESSAGES, []).append((kind, message, fresh))


def _save(store: Store, incident_id: str, section: Section) -> None:
    text_key, seen_key, _base = _keys(incident_id, section.key)
    try:
        saved = save_section(store, incident_id, section.key, st.session_state[text_key],
                             version=st.session_state[seen_key])
    except ConcurrentEditError as exc:
        fresh = exc.current.text if exc.current is not None else section.draft
        _say("error", f"**{section.title}:** {exc}", fresh)
        st.session_state[f"postmortem_{incident_id}_{section.key}_fresh"] = (
            fresh, exc.current.version if exc.current is not None else 0)
        return
    except WorkbenchError as exc:
        _say("error", f"**{section.title}** not saved. {exc}")
        return
    _load(incident_id, section.key, saved.text, saved.version)
    _say("success", f"{section.title} saved (version {saved.version}).")


def _reset(store: Store, incident_id: str, section: Section) -> None:
    _text, seen_key, _base = _keys(incident_id, section.key)
    try:
        if st.session_state[seen_key]:
            reset_section(store, incident_id, section.key, version=st.session_state[seen_key])
    except ConcurrentEditError as exc:
        _say("error", f"**{section.title}:** {exc}", exc.current.text if exc.current else None)
        return
    _load(incident_id, section.key, section.draft, 0)
    _say("success", f"{section.title} reset to the draft.")


def _take_fresh(incident_id: str, section: str) -> None:
    fresh, version = st.session_state.pop(f"postmortem_{incident_id}_{section}_fresh")
    _load(incident_id, section, fresh, version)


def show_messages() -> None:
    messages = state.take_once(MESSAGES, [])
    slot = st.empty()  # always one element: a message coming or going never moves the editors below it
    if not messages:
        return
    box = slot.container()
    for kind, message, fresh in messages:
        (box.error if kind == "error" else box.success)(message)
        if fresh is not None:
            box.markdown("Their current text (now loaded for you to compare; press **Use their version** to "
                         "edit from it):")
            box.code(fresh, language="markdown", wrap_lines=True)


def section_editor(store: Store, incident_id: str, section: Section) -> None:
    """A text area for one section with Save and Reset; the saved version travels with the edit."""
    text_key, seen_key, base_key = _keys(incident_id, section.key)
    untouched = text_key in st.session_state and st.session_state[text_key] == st.session_state.get(base_key)
    if text_key not in st.session_state or (untouched and st.session_state.get(seen_key) != section.version):
        _load(incident_id, section.key, section.text, section.version)  # first view, or someone else saved
    st.text_area(f"Edit “{section.title}” (Markdown)", key=text_key, height=220, help=section.hint)
    c1, c2, c3, c4 = st.columns([1, 1, 1.4, 3])
    c1.button("Save", key=f"{text_key}_save", on_click=_save, args=(store, incident_id, section), type="primary")
    c2.button("Reset to draft", key=f"{text_key}_reset", on_click=_reset, args=(store, incident_id, section),
              disabled=not section.edited)
    if f"postmortem_{incident_id}_{section.key}_fresh" in st.session_state:
        c3.button("Use their version", key=f"{text_key}_fresh", on_click=_take_fresh,
                  args=(incident_id, section.key))
    c4.caption(f"version {section.version}" + (" · edited" if section.edited else " · drafted from the incident"))


# ---------------------------------------------------------------- exports


def _generate_rails(incident: Incident) -> None:
    from ui.prevention import generate

    try:
        generate(incident, incident.root_cause, contract=True)
    except WorkbenchError as exc:
        _say("error", f"**The guard rails could not be generated.** {exc}")


def guard_rails_panel(incident: Incident, rails: GuardRails | None) -> None:
    """The guard rails the report cites: a button to generate them, else their proofs and the attachments zip."""
    st.subheader("Guard rails and attachments")
    if rails is None:
        st.caption("Generate the guard rails from the root cause (Prometheus rules checked with promtool, "
                   "Alertmanager routes checked with amtool, the data contract and the circuit breaker, each "
                   "proven on this incident's data): the Action items and the STAR summary then cite their "
                   "proofs, and the files come as a zip beside the PDF. Takes a few seconds.")
        st.button("Generate guard rails", key="postmortem_guard_rails", icon=":material/shield:",
                  on_click=_generate_rails, args=(incident,), disabled=not incident.bundle_path,
                  help=None if incident.bundle_path else "This incident has no bundle to take series from.")
        return
    if rails.headline:
        st.success(f"The report cites {len(rails.proven)} proven guard rail(s): {md_text(rails.headline)}.")
    for item in rails.items:
        st.markdown(f"- {':material/check_circle:' if item.proven else ':material/pending:'} "
                    f"**{md_text(item.name)}** — {md_text(item.proof)}")
    if rails.runbook is None:
        st.caption("No runbook entry is linked for this root-cause class yet.")
    st.download_button("Attachments (zip)", attachments_zip(rails), f"{incident.id}-attachments.zip",
                       "application/zip", key="postmortem_export_attachments", icon=":material/folder_zip:",
                       on_click="ignore", type="primary")
    st.caption("In the zip: " + md_text(", ".join(sorted(attachments(rails)))))


def export_buttons(store: Store, incident: Incident, *, mask: bool, rails: GuardRails | None = None,
                   who_did_what: bool = False) -> None:
    """Download buttons; Markdown and HTML are built when their button is pressed; the PDF (about ten
    seconds: its charts are drawn as images) is built on request with its steps shown and a Cancel button."""
    def maker(fmt: str):
        def make() -> bytes:
            return export_postmortem(build(store, incident, mask=mask, dark=False, rails=rails,
                                           who_did_what=who_did_what), fmt)
        return make

    cols = st.columns(3)
    labels = {"md": "Markdown (wiki, issue)", "html": "HTML (interactive charts)"}
    for col, fmt in zip(cols, ("md", "html")):
        col.download_button(labels[fmt], maker(fmt), f"{incident.id}-postmortem.{fmt}", MEDIA_TYPES[fmt],
                            key=f"postmortem_export_{fmt}", width="stretch", on_click="ignore")
    with cols[2]:
        _pdf_button(store, incident, mask=mask, rails=rails, who_did_what=who_did_what)
    st.caption("Built from the current state when you press a button; the PDF takes a few seconds more "
               "(its charts are rendered as images)." + (" Sensitive values are masked." if mask else ""))


def _pdf_button(store: Store, incident: Incident, *, mask: bool, rails: GuardRails | None = None,
                who_did_what: bool = False) -> None:
    if cancelling.take_cancelled("postmortem_pdf"):
        st.caption("The PDF was cancelled; nothing was built.")
    if not st.button("PDF (print)", key="postmortem_export_pdf", width="stretch",
                     help="Builds the PDF from the current state, then offers it for download."):
        return
    cancel = cancelling.cancel_button("postmortem_pdf", "PDF")
    try:
        with st.status("Building the PDF…", expanded=True) as box:
            def step(message: str) -> None:
                box.update(label=f"{message}…")
                st.write(message)

            step("Gathering the report")
            data = export_postmortem(build(store, incident, mask=mask, dark=False, rails=rails,
                                           who_did_what=who_did_what), "pdf",
                                     progress=step)
            box.update(label="PDF ready", state="complete", expanded=False)
    except WorkbenchError as exc:
        state.show_error(exc, "The PDF could not be built.")
        return
    finally:
        cancel.empty()
    st.download_button("Download the PDF", data, f"{incident.id}-postmortem.pdf", MEDIA_TYPES["pdf"],
                       key="postmortem_export_pdf_ready", width="stretch", on_click="ignore", type="primary")


# ---------------------------------------------------------------- analytics


def analytics_panel(store: Store) -> None:
    """Counts over time, TTD/TTM/TTR distributions, recurring causes and overdue action items."""
    from ui.presentation import present

    dark = state.presentation_mode()
    c1, c2 = st.columns(2)
    by = c1.selectbox("Count by", GROUPINGS, format_func=lambda g: GROUP_TITLES[g], key="postmortem_an_by")
    freq = c2.selectbox("Period", ["month", "week", "quarter"], key="postmortem_an_freq")
    incidents, causes, actions = load_analytics_inputs(store)
    result = analyze_incidents(incidents, causes, actions, frequency=freq)
    st.metric("Incidents", result.stats.total)
    st.plotly_chart(counts_figure(result.counts[by], by, dark=dark), key="postmortem_an_counts", theme=None,
                    width="stretch", config={"displaylogo": False})
    st.plotly_chart(durations_figure(result.durations, dark=dark), key="postmortem_an_durations", theme=None,
                    width="stretch", config={"displaylogo": False})
    tables = analytics_frame(result)
    st.caption("Median and p90 describe skewed durations better than the mean (shown for reference).")
    st.dataframe(tables["durations"], hide_index=True, key="postmortem_an_dur_table", width="stretch")
    st.subheader("Recurring causes")
    if tables["recurring"].empty:
        st.caption("No cause appears in more than one incident (wording compared without case, numbers "
                   "or punctuation; ruled-out causes ignored).")
    else:
        st.dataframe(present(tables["recurring"]), hide_index=True, key="postmortem_an_recurring", width="stretch")
    st.subheader("Open action items past due")
    if tables["overdue"].empty:
        st.caption("None: every open action item is within its due date (or has none).")
    else:
        st.dataframe(present(tables["overdue"]), hide_index=True, key="postmortem_an_overdue", width="stretch")
