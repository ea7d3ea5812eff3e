"""Shared state of every page: the store, the selected incident and the absolute time range.

The incident and time range live in ``st.session_state`` and in the URL
(``?incident=ID&from=ISO&to=ISO``), so a copied link reopens the same view.
Pages call :func:`current_incident` and :func:`time_range`; only ``app.py``
draws the sidebar widgets that change them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import streamlit as st

from core.errors import InvalidInputError, StoreError, WorkbenchError
from core.models import Incident, TimeWindow, iso, utc
from core.store import Store, open_store
from core.store.incidents import find_incident, list_incidents

INCIDENT_KEY = "app_incident"
RANGE_KEY = "app_range"
PRESENT_KEY = "app_present"
MESSAGES_KEY = "app_messages"


@st.cache_resource(show_spinner="Opening the incident store…")
def _store() -> Store:
    return open_store()


@st.cache_resource(show_spinner="Loading the demo incidents (first start only)…")
def _demo_loaded(_url: str) -> list[str]:
    from core.demo import ensure_demo_incidents

    return ensure_demo_incidents(_store())


def get_store() -> Store:
    """The store, with demo incidents loaded; stops the page with a clear message if it cannot open."""
    try:
        store = _store()
        _demo_loaded(store.url)
        return store
    except StoreError as exc:
        st.error(f"**The incident store is unavailable.** {exc}")
        st.stop()
        raise  # unreachable; for type checkers


def note(message: str) -> None:
    """Queue a message for the next render (shown once at the top of the page)."""
    st.session_state.setdefault(MESSAGES_KEY, []).append(message)


def show_notes() -> None:
    for message in st.session_state.pop(MESSAGES_KEY, []):
        st.warning(message)


def incident_id() -> str | None:
    return st.session_state.get(INCIDENT_KEY)


def select_incident(incident_id: str | None) -> None:
    """Select an incident, reset the time range to its natural range, and update the URL."""
    st.session_state[INCIDENT_KEY] = incident_id
    st.session_state.pop(RANGE_KEY, None)
    if incident_id:
        st.query_params["incident"] = incident_id
    else:
        st.query_params.pop("incident", None)
    st.query_params.pop("from", None)
    st.query_params.pop("to", None)


def sync_from_url(store: Store) -> None:
    """Read incident and time range from the URL once per change; bad values give a message, not a crash."""
    params = st.query_params
    wanted = params.get("incident")
    if wanted and wanted != st.session_state.get(INCIDENT_KEY):
        if find_incident(store, wanted) is None:
            note(f"The link names incident '{wanted}', which does not exist; showing the incident list instead.")
            st.query_params.pop("incident", None)
        else:
            st.session_state[INCIDENT_KEY] = wanted
            st.session_state.pop(RANGE_KEY, None)
    if INCIDENT_KEY not in st.session_state:
        incidents = list_incidents(store)
        st.session_state[INCIDENT_KEY] = incidents[0].id if incidents else None
        if incidents:
            st.query_params["incident"] = incidents[0].id
    f, t = params.get("from"), params.get("to")
    if f or t:
        try:
            window = TimeWindow(utc(f), utc(t)) if (f and t) else None
            if window is None:
                raise InvalidInputError("the link gives only one end of the time range")
            st.session_state[RANGE_KEY] = window
        except InvalidInputError as exc:
            note(f"The link's time range was ignored: {exc}.")
            st.query_params.pop("from", None)
            st.query_params.pop("to", None)


def current_incident() -> Incident | None:
    """The selected incident, freshly read from the store (None when there is none)."""
    iid = incident_id()
    if not iid:
        return None
    return find_incident(get_store(), iid)


def default_range(incident: Incident | None) -> TimeWindow:
    if incident is not None and incident.time_range() is not None:
        return incident.time_range()
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return TimeWindow(now - timedelta(days=1), now)


def time_range() -> TimeWindow:
    """The shared absolute time range (UTC)."""
    window = st.session_state.get(RANGE_KEY)
    if window is None:
        window = default_range(current_incident())
    return window


def set_time_range(window: TimeWindow) -> None:
    st.session_state[RANGE_KEY] = window
    st.query_params["from"] = iso(window.start)
    st.query_params["to"] = iso(window.end)


def presentation_mode() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def show_error(exc: WorkbenchError, what: str = "") -> None:
    """Show an expected error with its fix; the caller then stops that panel."""
    prefix = f"**{what}** " if what else ""
    st.error(f"{prefix}{exc}")
