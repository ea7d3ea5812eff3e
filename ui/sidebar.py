"""The shared sidebar: incident picker, absolute time range (UTC) and presentation mode.

Widgets change the shared state in ``on_change`` callbacks, which run before the
page script, so every page of this run already sees the new incident or range.
"""

from __future__ import annotations

import streamlit as st

from core.errors import InvalidInputError
from core.models import TimeWindow
from core.store.incidents import list_incidents
from ui import state
from ui.incidents import parse_time_field
from ui.presentation import present

FMT = "%Y-%m-%d %H:%M"
FROM_KEY, TO_KEY, PICK_KEY = "app_from", "app_to", "app_pick"
SHOWN_KEY = "app_range_shown"
RANGE_ERROR_KEY = "app_range_error"


def _apply_range() -> None:
    try:
        start = parse_time_field(st.session_state[FROM_KEY], "From")
        end = parse_time_field(st.session_state[TO_KEY], "To")
        if start is None or end is None:
            raise InvalidInputError("both ends of the time range are needed")
        state.set_time_range(TimeWindow(start, end))
        st.session_state.pop(RANGE_ERROR_KEY, None)
    except InvalidInputError as exc:
        st.session_state[RANGE_ERROR_KEY] = f"Time range not changed: {exc}"


def _reset_range() -> None:
    st.session_state.pop(state.RANGE_KEY, None)
    st.session_state.pop(RANGE_ERROR_KEY, None)
    st.query_params.pop("from", None)
    st.query_params.pop("to", None)


def _pick() -> None:
    state.select_incident(st.session_state[PICK_KEY])


def _range_inputs(window: TimeWindow) -> None:
    shown = (window.start, window.end)
    if st.session_state.get(SHOWN_KEY) != shown and RANGE_ERROR_KEY not in st.session_state:
        st.session_state[FROM_KEY] = window.start.strftime(FMT)
        st.session_state[TO_KEY] = window.end.strftime(FMT)
        st.session_state[SHOWN_KEY] = shown
    st.sidebar.text_input("From (UTC)", key=FROM_KEY, on_change=_apply_range)
    st.sidebar.text_input("To (UTC)", key=TO_KEY, on_change=_apply_range)
    if RANGE_ERROR_KEY in st.session_state:
        st.sidebar.error(st.session_state[RANGE_ERROR_KEY])
    st.sidebar.button("Reset to incident window", key="app_range_reset", width="stretch", on_click=_reset_range)


def render() -> None:
    store = state.get_store()
    state.sync_from_url(store)
    incidents = list_incidents(store)
    ids = [i.id for i in incidents]
    labels = {i.id: present(f"{i.severity.value} · {i.title}") for i in incidents}
    st.sidebar.markdown("### ML Incident Workbench")
    current = state.incident_id()
    if ids:
        if current in ids:
            st.session_state[PICK_KEY] = current
        st.sidebar.selectbox("Incident", ids, format_func=lambda i: labels.get(i, i), key=PICK_KEY,
                             on_change=_pick)
        _range_inputs(state.time_range())
    else:
        st.sidebar.info("No incidents yet: create one on the Incidents page.")
    st.sidebar.toggle("Presentation mode", key=state.PRESENT_KEY,
                      help="Large type and a clean screen for a war room or a walkthrough.")
    state.show_notes()
