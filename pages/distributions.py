"""Distributions page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Distributions")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show reference vs current data: schema diff and per-feature drift with effect sizes and corrected p-values.")
