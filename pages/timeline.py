"""Timeline page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Timeline")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show a curated time line of deploys, model versions, pipeline runs, alerts, external events, pinned logs and findings, beside the KPI.")
