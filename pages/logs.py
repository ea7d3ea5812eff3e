"""Logs page (placeholder until its issue lands)."""

import streamlit as st

from ui import state

st.title("Logs")
incident = state.current_incident()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
st.info("This page will show Lucene-syntax queries over Elasticsearch or the incident's log files, a histogram, field facets and log-pattern diffs.")
