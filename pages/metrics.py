"""Metrics page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Metrics")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show the KPI series with change-point detection that finds when the impact began.")
