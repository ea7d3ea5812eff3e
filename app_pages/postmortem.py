"""Post-mortem: a blameless report drafted from the incident, edited section by section, exported."""

import streamlit as st

from core.errors import WorkbenchError
from ui import postmortem as pmui
from ui import state
from ui.incidents import md_text
from ui.presentation import present, walkthrough

st.title("Post-mortem")
incident = state.current_incident()
if incident is None:
    st.info("Choose or create an incident to draft its post-mortem.")
    st.stop()
store = state.get_store()
presenting = state.presentation_mode()
st.caption(f"{incident.id} · {md_text(present(incident.title))} · blameless: people appear only in roles")
pmui.show_messages()

rails = pmui.guard_rails(store, incident)
try:
    pm = pmui.build(store, incident, mask=presenting, dark=presenting, rails=rails,
                    who_did_what=bool(st.session_state.get("postmortem_who_did_what")))
except WorkbenchError as exc:
    state.show_error(exc, "The post-mortem could not be drafted.")
    st.stop()

# the tab's state is in the address, so only the open tab is built (each switch reruns the page)
pmui.keep_tab_state(incident.id, pm.sections)
report, walk, analytics, export = st.tabs(["Report", "Walkthrough", "Analytics", "Export"], key="postmortem_tab",
                                          bind="query-params")
with report:
    if report.open:
        if pm.warnings:
            with st.container(border=True):
                st.warning(f"Blameless check: {len(pm.warnings)} passage(s) to reword.")
                for w in pm.warnings:
                    st.markdown(f"- **{pm.section(w.section).title}** — {w.problem}: “{w.excerpt}”  \n"
                                f"  *Suggestion:* {w.suggestion}")
        for section in pm.sections:
            st.subheader(section.title, anchor=section.key, divider="gray")
            if section.key == "star":
                with st.container(border=True):
                    st.markdown(section.text)
            else:
                st.markdown(section.text)
            for i, chart in enumerate(pm.charts_for(section.key)):
                chart.figure.update_layout(width=None)
                st.plotly_chart(chart.figure, key=f"postmortem_chart_{section.key}_{i}", theme=None, width="stretch",
                                config={"displaylogo": False})
                st.caption(f"{chart.title} — {chart.caption}")
            if not presenting:
                with st.expander(f"Edit “{section.title}”", expanded=False):
                    pmui.section_editor(store, incident.id, section)
with walk:
    if walk.open:
        walkthrough(store, incident, key="postmortem_walk")
with analytics:
    if analytics.open:
        pmui.analytics_panel(store)
with export:
    if export.open:
        if presenting:
            mask = True
            st.caption("Presentation mode is on: exports mask sensitive values.")
        else:
            mask = st.toggle("Mask sensitive values (e-mails, IPs, keys, tokens, card numbers)", key="postmortem_mask")
        st.toggle("Add “who did what, when” from the audit log to the Response section", key="postmortem_who_did_what",
                  help="Off by default: a blameless report names roles, not people. Turn it on for a handover review.")
        pmui.export_buttons(store, incident, mask=mask, rails=rails,
                            who_did_what=bool(st.session_state.get("postmortem_who_did_what")))
        pmui.guard_rails_panel(incident, rails)
