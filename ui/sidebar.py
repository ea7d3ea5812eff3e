"""The shared sidebar: incident picker, absolute time range (UTC) and presentation mode."""

from __future__ import annotations

from datetime import datetime, time, timezone

import streamlit as st

from core.errors import InvalidInputError
from core.models import TimeWindow
from core.store.incidents import list_incidents
from ui import state


def _range_inputs(window: TimeWindow) -> None:
    st.sidebar.caption("Time range (UTC)")
    c1, c2 = st.sidebar.columns(2)
    key = f"{state.incident_id()}_{window.start.isoformat()}_{window.end.isoformat()}"
    d0 = c1.date_input("From", window.start.date(), key=f"app_from_d_{key}")
    t0 = c2.time_input("at", window.start.time().replace(tzinfo=None), key=f"app_from_t_{key}",
                       step=900, label_visibility="hidden")
    d1 = c1.date_input("To", window.end.date(), key=f"app_to_d_{key}")
    t1 = c2.time_input("at ", window.end.time().replace(tzinfo=None), key=f"app_to_t_{key}",
                       step=900, label_visibility="hidden")
    start = datetime.combine(d0, t0 or time(), tzinfo=timezone.utc)
    end = datetime.combine(d1, t1 or time(), tzinfo=timezone.utc)
    if (start, end) != (window.start, window.end):
        try:
            state.set_time_range(TimeWindow(start, end))
            st.rerun()
        except InvalidInputError as exc:
            st.sidebar.error(f"Time range not changed: {exc}")
    if st.sidebar.button("Reset to incident window", key="app_range_reset", use_container_width=True):
        st.session_state.pop(state.RANGE_KEY, None)
        st.query_params.pop("from", None)
        st.query_params.pop("to", None)
        st.rerun()


def render() -> None:
    store = state.get_store()
    state.sync_from_url(store)
    incidents = list_incidents(store)
    ids = [i.id for i in incidents]
    labels = {i.id: f"{i.severity.value} · {i.title}" for i in incidents}
    st.sidebar.markdown("### 🧯 ML Incident Workbench")
    current = state.incident_id()
    if ids:
        index = ids.index(current) if current in ids else 0
        chosen = st.sidebar.selectbox(
            "Incident", ids, index=index, format_func=lambda i: labels.get(i, i), key=f"app_pick_{current}",
        )
        if chosen != current:
            state.select_incident(chosen)
            st.rerun()
        _range_inputs(state.time_range())
    else:
        st.sidebar.info("No incidents yet: create one on the Incidents page.")
    st.sidebar.toggle("Presentation mode", key=state.PRESENT_KEY,
                      help="Large type and a clean screen for a war room or a walkthrough.")
    state.show_notes()
