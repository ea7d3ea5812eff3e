"""The shared sidebar: incident picker, the time picker (UTC) and presentation mode.

Widgets change the shared state in ``on_change``/``on_click`` callbacks, which run before
the page script, so every page of this run already sees the new incident or range. The
time picker works like Grafana's: quick ranges anchored on the incident or on now, zoom
out, shift earlier/later, and the absolute UTC range shown and kept in the link.
"""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from core import timerange as tr
from core.errors import InvalidInputError, WorkbenchError
from core.models import TimeWindow, format_duration
from core.store.incidents import list_incidents
from ui import state
from ui.presentation import present

FROM_KEY, TO_KEY, PICK_KEY = "app_from", "app_to", "app_pick"
QUICK_KEY = "app_quick"
SHOWN_KEY = "app_range_shown"
RANGE_ERROR_KEY = "app_range_error"


def _apply_range() -> None:
    try:
        state.set_time_range(tr.parse_range(st.session_state[FROM_KEY], st.session_state[TO_KEY]))
        st.session_state.pop(RANGE_ERROR_KEY, None)
    except InvalidInputError as exc:
        st.session_state[RANGE_ERROR_KEY] = f"Time range not changed: {exc}"


def _anchors() -> tr.Anchors:
    incident = state.current_incident()
    onset = None
    if incident is not None:
        from ui.timeline import onset_for

        try:
            onset = onset_for(incident).at
        except WorkbenchError:
            onset = None
    return tr.Anchors(now=datetime.now(timezone.utc), incident=incident.time_range() if incident else None,
                      baseline=incident.baseline if incident else None, onset=onset)


def _quick() -> None:
    key = st.session_state.get(QUICK_KEY)
    st.session_state[QUICK_KEY] = None
    if not key:
        return
    try:
        anchors = _anchors()
        window = tr.quick_range(key, anchors)
        label = tr.QUICK_RANGES[key]
        if key.startswith("onset") and anchors.onset is not None:
            label += f" ({tr.format_input(anchors.onset)})"
        state.set_time_range(window, label)
        st.session_state.pop(RANGE_ERROR_KEY, None)
    except InvalidInputError as exc:
        st.session_state[RANGE_ERROR_KEY] = f"Time range not changed: {exc}"


def _move(how: str) -> None:
    window = state.time_range()
    new = tr.zoom_out(window) if how == "zoom" else tr.shift(window, -1 if how == "earlier" else 1)
    state.set_time_range(new)
    st.session_state.pop(RANGE_ERROR_KEY, None)


def _pick() -> None:
    state.select_incident(st.session_state[PICK_KEY])


def _time_picker(window: TimeWindow) -> None:
    shown = (window.start, window.end)
    if st.session_state.get(SHOWN_KEY) != shown and RANGE_ERROR_KEY not in st.session_state:
        st.session_state[FROM_KEY] = tr.format_input(window.start)
        st.session_state[TO_KEY] = tr.format_input(window.end)
        st.session_state[SHOWN_KEY] = shown
    side = st.sidebar
    side.markdown("**Time range (UTC)**")
    label = state.range_label()
    # one end per line: the narrow sidebar otherwise breaks a time in the middle
    side.caption(f"{tr.format_input(window.start)} →  \n{tr.format_input(window.end)} UTC · "
                 f"{format_duration(window.duration)}" + (f"  \n{label}" if label else ""))
    side.selectbox("Quick range", list(tr.QUICK_RANGES), index=None, key=QUICK_KEY, on_change=_quick,
                   format_func=tr.QUICK_RANGES.get, placeholder="Quick ranges…", label_visibility="collapsed")
    b1, b2, b3 = side.columns(3)
    b1.button("", key="app_range_earlier", icon=":material/chevron_left:", help="Earlier: shift back by half the range",
              on_click=_move, args=("earlier",), width="stretch")
    b2.button("", key="app_range_zoom", icon=":material/zoom_out:", help="Zoom out: twice as long, same centre",
              on_click=_move, args=("zoom",), width="stretch")
    b3.button("", key="app_range_later", icon=":material/chevron_right:", help="Later: shift forward by half the range",
              on_click=_move, args=("later",), width="stretch")
    hint = f"UTC, like {tr.EXAMPLE}; press Enter to apply."
    side.text_input("From (UTC)", key=FROM_KEY, on_change=_apply_range, help=hint, placeholder=tr.EXAMPLE)
    side.text_input("To (UTC)", key=TO_KEY, on_change=_apply_range, help=hint, placeholder=tr.EXAMPLE)
    if RANGE_ERROR_KEY in st.session_state:
        side.error(st.session_state[RANGE_ERROR_KEY])


def picker_label(incident) -> str:
    """What the incident picker shows: the id first (it tells same-titled incidents apart and survives
    truncation in the narrow sidebar), then severity and title."""
    return f"{incident.id} · {incident.severity.value} · {incident.title}"


def render() -> None:
    store = state.get_store()
    incidents = list_incidents(store)
    ids = [i.id for i in incidents]
    labels = {i.id: present(picker_label(i)) for i in incidents}
    st.sidebar.markdown("### ML Incident Workbench")
    current = state.incident_id()
    missing = state.missing_incident()
    if ids:
        if current in ids:
            st.session_state[PICK_KEY] = current
        elif missing:
            st.session_state[PICK_KEY] = None
        st.sidebar.selectbox("Incident", ids, format_func=lambda i: labels.get(i, i), key=PICK_KEY,
                             on_change=_pick, index=None if missing else 0,
                             placeholder=f"No incident '{missing}': choose one" if missing else "Choose an incident")
        if not missing:
            _time_picker(state.time_range())
    else:
        st.sidebar.info("No incidents yet: create one on the Incidents page.")
    st.sidebar.toggle("Presentation mode", key=state.PRESENT_KEY,
                      help="Large type and a clean screen for a war room or a walkthrough.")
    if missing:
        st.error(f"No incident '{missing}': the link names an incident that does not exist here. "
                 "Choose one in the sidebar (or create or import it on the Incidents page).")
    state.show_notes()
