"""Incidents: browse, filter, create, edit and import incidents; analytics across them."""

import streamlit as st

from core.models import ROOT_CAUSE_LABELS, RootCause, Severity, Status
from core.store.incidents import list_incidents
from ui import actions, bundle_import, incidents as widgets, runbooks, similar, state, team

store = state.get_store()
st.title("Incidents")
if state.demos_building() or state.demo_build().error:
    state.demo_progress()

everything = list_incidents(store)
widgets.analytics(everything)
with st.expander("Recurrence per failure pattern, before and after its guard rail shipped"):
    similar.recurrence(store)

tab_list, tab_edit, tab_new, tab_import = st.tabs(["All incidents", "Selected incident", "New incident", "Import bundle"])

with tab_list:
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
    text = c1.text_input("Search", key="incidents_q", placeholder="title, summary, id or service")
    statuses = c2.multiselect("Status", [s.value for s in Status], key="incidents_status")
    severities = c3.multiselect("Severity", [s.value for s in Severity], key="incidents_sev")
    services = c4.multiselect("Service", sorted({i.service for i in everything if i.service}), key="incidents_svc")
    classes = c5.multiselect("Root cause", [r.value for r in RootCause], key="incidents_rc",
                             format_func=lambda v: ROOT_CAUSE_LABELS[v])
    found = list_incidents(store, text=text, statuses=statuses, severities=severities, services=services,
                           root_causes=classes)
    if not found:
        st.info("No incident matches these filters.")
    else:
        table = widgets.incidents_table(found)
        event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                             selection_mode="single-row", key="incidents_table")
        rows = event.selection.rows if event and event.selection else []
        if rows and found[rows[0]].id != state.incident_id():
            state.select_incident(found[rows[0]].id)
            st.rerun()
        st.caption("Select a row to open the incident on every page.")
        chosen = next((i for i in found if i.id == state.incident_id()), None)
        if chosen is not None and chosen.bundle_path:
            st.page_link("app_pages/triage.py", label=f"Run triage on {chosen.id}", icon=":material/troubleshoot:",
                         query_params={"incident": chosen.id})

with tab_edit:
    incident = state.current_incident()
    if incident is None:
        st.info("No incident selected: pick one in the sidebar or create one.")
    else:
        st.subheader(f"{incident.id} · {widgets.md_text(incident.title)}")
        if incident.bundle_path:
            st.page_link("app_pages/triage.py", label="Run triage on this incident", icon=":material/troubleshoot:",
                         query_params={"incident": incident.id})
        widgets.editor(store, incident)
        team.incident_panel(store, incident)
        st.divider()
        actions.section(store, incident)
        widgets.guard_rails(store, incident)
        st.divider()
        runbooks.add_to_runbook(store, incident, None, key=f"incidents_add_runbook_{incident.id}")
        similar.panel(store, incident, key="incidents")

with tab_new:
    widgets.show_created()
    with st.form("incidents_new", clear_on_submit=False):
        st.text_input("Title", placeholder="e.g. CTR down 15% on the home feed", key="incidents_new_title")
        c1, c2 = st.columns(2)
        c1.text_input("Service", key="incidents_new_service")
        c2.selectbox("Severity", [s.value for s in Severity], index=2, key="incidents_new_severity")
        st.text_area("Summary", key="incidents_new_summary")
        st.form_submit_button("Create incident", type="primary", on_click=widgets.create_from_form, args=(store,))

with tab_import:
    bundle_import.panel(store)
