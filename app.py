"""ML Incident Workbench: page config, navigation and the shared sidebar. No logic here."""

import streamlit as st

from ui import presence, presentation, sidebar, state, team

st.set_page_config(page_title="ML Incident Workbench", page_icon=":material/emergency:", layout="wide")
__import__("core.telemetry", fromlist=["start"]).start()  # unexpected errors to Sentry when SENTRY_DSN is set

PAGES = [
    st.Page("app_pages/incidents.py", title="Incidents", icon=":material/list_alt:", default=True),
    st.Page("app_pages/timeline.py", title="Timeline", icon=":material/timeline:", url_path="timeline"),
    st.Page("app_pages/distributions.py", title="Distributions", icon=":material/bar_chart:", url_path="distributions"),
    st.Page("app_pages/logs.py", title="Logs", icon=":material/receipt_long:", url_path="logs"),
    st.Page("app_pages/metrics.py", title="Metrics", icon=":material/monitoring:", url_path="metrics"),
    st.Page("app_pages/models.py", title="Models", icon=":material/model_training:", url_path="models"),
    st.Page("app_pages/fishbone.py", title="Fishbone", icon=":material/account_tree:", url_path="fishbone"),
    st.Page("app_pages/triage.py", title="Triage", icon=":material/troubleshoot:", url_path="triage"),
    st.Page("app_pages/lineage.py", title="Lineage", icon=":material/schema:", url_path="lineage"),
    st.Page("app_pages/traces.py", title="Traces", icon=":material/lan:", url_path="traces"),
    st.Page("app_pages/runbooks.py", title="Runbooks", icon=":material/menu_book:", url_path="runbooks"),
    st.Page("app_pages/postmortem.py", title="Post-mortem", icon=":material/description:", url_path="postmortem"),
]

presentation.install_masking()
identity = team.gate(state.get_store())  # sign-in when [auth] is configured, else the local commander
asked = state.requested_page()
page = st.navigation(PAGES)
state.begin_run(state.get_store(), page.url_path)
sidebar.render()
team.sidebar(identity)
presentation.refresh_shared_state()  # what this run shows; the presence timer reruns the page when it changes
with st.sidebar:
    presence.live(state.get_store(), identity)  # who is here, follow the commander, others' edits
if asked is not None and asked not in {p.url_path for p in PAGES}:
    st.error(f"There is no page '/{asked}'; showing {page.title} instead. Pick a page in the sidebar.")
presentation.apply_presentation_style()
page.run()
