"""Post-mortem page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Post-mortem")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show a blameless post-mortem drafted from the incident, exported as Markdown, HTML and PDF.")
