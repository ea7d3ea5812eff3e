"""Fishbone page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Fishbone")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show an interactive Ishikawa diagram and Five Whys, with causes tied to evidence.")
