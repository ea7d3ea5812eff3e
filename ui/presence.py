"""Presence in the sidebar: who else is on this incident and on which page, refreshed every few seconds,
and "follow the commander" (your page and time range follow the incident commander's).

Heartbeats go to the store (``core/store/presence.py``), so every app replica on one PostgreSQL
sees everyone. The fragment reruns alone every :data:`HEARTBEAT_SECONDS`; it reruns the whole app
only when following moves you to another page or range, or when someone changed the incident
(``ui.presentation.rerun_if_shared_state_changed``).
"""

from __future__ import annotations

import os
import socket

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from core.errors import WorkbenchError
from core.models import format_duration
from core.store import Store
from core.store.presence import HEARTBEAT_SECONDS, commander_view, heartbeat, people_here, present
from core.team import Identity
from ui import presentation, state

FOLLOW_KEY = "presence_follow"
FOLLOWED_KEY = "presence_followed"


def replica() -> str:
    """This app process, as other replicas see it (host:port)."""
    port = st.get_option("server.port")
    return f"{socket.gethostname()}:{port}:{os.getpid()}"


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def _page_path(url_path: str) -> str:
    return f"app_pages/{url_path or 'incidents'}.py"


@st.fragment(run_every=HEARTBEAT_SECONDS)
def live(store: Store, ident: Identity) -> None:
    """Heartbeat, the people here, following the commander, and others' edits (the page's one timer)."""
    presentation.rerun_if_shared_state_changed()
    sid = _session_id()
    incident = state.current_incident()
    page = st.session_state.get(state.PAGE_KEY) or "incidents"
    try:
        window = state.time_range() if incident is not None else None
        heartbeat(store, sid, user=ident.user, name=ident.name if ident.source != "local" else "",
                  role=ident.role.value, incident_id=incident.id if incident else None, page=page,
                  window=window, replica=replica())
        people = present(store, incident.id) if incident is not None else []
    except (WorkbenchError, SQLAlchemyError) as exc:
        st.caption(f"Presence is unavailable for now ({type(exc).__name__}); your work is not affected.")
        return
    persons = people_here(people)
    count = len(persons) + (0 if any(sid in p.session_ids for p in persons) else 1)
    st.markdown(f"**Here now** · {count} {'person' if count == 1 else 'people'} on this incident" if incident
                else "**Here now**")
    for p in persons[:12]:
        you = " (you)" if sid in p.session_ids else ""
        tabs = f" · {p.tabs} tabs" if p.tabs > 1 else ""
        st.caption(f"{p.label}{you} · {p.role} · {', '.join(p.pages)}{tabs}")
    if incident is None:
        return
    st.toggle("Follow the commander", key=FOLLOW_KEY,
              help="Your page and time range follow the incident commander's, as on the war-room screen.")
    if not st.session_state.get(FOLLOW_KEY):
        return
    lead = commander_view(store, incident.id, incident.roles.get("incident_commander"), exclude_session=sid)
    if lead is None:
        st.caption("No commander is looking at this incident right now.")
        return
    st.caption(f"Following {lead.label}: {lead.page or 'incidents'}"
               + (f", {format_duration(lead.window.duration)} range" if lead.window else ""))
    moved = False
    if lead.window is not None and lead.window != state.time_range():
        state.set_time_range(lead.window, f"following {lead.label}")
        moved = True
    if (lead.page or "incidents") != page:
        st.switch_page(_page_path(lead.page))
    if moved:
        st.rerun(scope="app")
