"""Triage page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Triage")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show automatic, ranked root-cause hypotheses with their evidence.")
