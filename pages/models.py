"""Models page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Models")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show MLflow runs and model registry history, with a last-good vs incident diff.")
