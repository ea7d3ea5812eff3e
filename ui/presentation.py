"""Presentation mode: war-room styling, masking of shown values, a timeline walkthrough, live refresh.

* :func:`apply_presentation_style` injects CSS (a constant: never user text) for
  large type and a dark, high-contrast look, and hides Streamlit's toolbar and
  other editing chrome, when the sidebar's presentation switch is on. ``app.py``
  calls it once per run so every page gets it.
* :func:`present` masks sensitive values (``core.masking``) when presentation mode
  is on; pages pass whatever they show a room through it.
* :func:`walkthrough` steps through the timeline's key moments, moving the shared
  time range (``ui.state.set_time_range``) and showing each moment's evidence.
* :func:`live_refresh` re-reads the shared incident state every few seconds
  (``st.fragment(run_every=...)``) and reruns the page when someone else changed it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core.masking import mask_frame, mask_obj, mask_text
from core.models import EventKind, Incident, TimelineEvent, TimeWindow
from core.report.postmortem import evidence_figure, frozen_numbers, key_events
from core.store import Store
from core.store.evidence import list_evidence
from core.store.timeline import list_events
from ui import state

REFRESH_SECONDS = 5
WALK_MOMENTS = 12  # milestones, alerts and pinned findings first, then the changes closest to impact start

PRESENTATION_CSS = """
<style>
:root { --wb-bg: #05070c; --wb-panel: #111722; --wb-ink: #ffffff; --wb-muted: #c9d1dd; --wb-accent: #ffd166; }
.stApp, [data-testid="stAppViewContainer"], [data-testid="stHeader"], [data-testid="stBottomBlockContainer"] {
  background: var(--wb-bg) !important; color: var(--wb-ink) !important; }
[data-testid="stSidebar"], [data-testid="stSidebarContent"] { background: var(--wb-panel) !important; }
.stApp p, .stApp li, .stApp label, .stApp span, .stApp td, .stApp th, .stApp div[data-testid="stMarkdownContainer"] {
  color: var(--wb-ink) !important; font-size: 1.3rem !important; line-height: 1.55 !important; }
.stApp h1, .stApp h1 span { font-size: 3.1rem !important; color: var(--wb-ink) !important; }
.stApp h2, .stApp h2 span { font-size: 2.3rem !important; color: var(--wb-ink) !important; }
.stApp h3, .stApp h3 span { font-size: 1.8rem !important; color: var(--wb-accent) !important; }
.stApp [data-testid^="stBaseButton"] { background: #1d2533 !important; border-color: #6b7a95 !important; }
.stApp [data-testid^="stBaseButton"] p, .stApp [data-testid^="stBaseButton"] span { color: var(--wb-ink) !important; }
.stApp [data-testid="stCaptionContainer"], .stApp [data-testid="stCaptionContainer"] p {
  color: var(--wb-muted) !important; font-size: 1.1rem !important; }
[data-testid="stMain"] a { color: #8fd3ff !important; text-decoration: underline; }
.stApp code { color: #ffe08a !important; background: #1d2533 !important; }
.stApp table, .stApp th, .stApp td { border-color: #3a4457 !important; }
.stApp [data-testid="stMetricValue"] { font-size: 3rem !important; color: var(--wb-accent) !important; }
.stApp button p { font-size: 1.2rem !important; }
[data-baseweb="tab"] p { font-size: 1.3rem !important; }
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"], #MainMenu, footer,
[data-testid="stElementToolbar"], [data-testid="stAppDeployButton"] { display: none !important; }
</style>
"""


def apply_presentation_style() -> None:
    """Inject the presentation CSS when presentation mode is on (call once per run, from app.py)."""
    if state.presentation_mode():
        st.html(PRESENTATION_CSS)


def present(value: Any) -> Any:
    """``value`` with sensitive values masked when presentation mode is on (str, DataFrame, dict, list)."""
    if not state.presentation_mode():
        return value
    if isinstance(value, pd.DataFrame):
        return mask_frame(value)
    if isinstance(value, str):
        return mask_text(value)
    return mask_obj(value)


# ---------------------------------------------------------------- live refresh


def shared_revision(store: Store, incident_id: str) -> str:
    """A digest of everything others may change on an incident (fields, timeline, evidence, fishbone, report)."""
    from core.store.fishbone import fishbone_revision
    from core.store.incidents import find_incident
    from core.store.reports import sections_revision

    incident = find_incident(store, incident_id)
    events = list_events(store, incident_id)
    parts = [
        str(incident.version if incident else 0),
        str(len(events)), str(sum(e.version for e in events)), str(max((e.id or 0 for e in events), default=0)),
        str(len(list_evidence(store, incident_id))),
        fishbone_revision(store, incident_id),
        repr(sections_revision(store, incident_id)),
    ]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


@st.fragment(run_every=REFRESH_SECONDS)
def live_refresh(incident_id: str, key: str = "present") -> None:
    """Every few seconds, rerun the page if the incident's shared state changed since this view last looked."""
    rev_key = f"{key}_revision_{incident_id}"
    current = shared_revision(state.get_store(), incident_id)
    previous = st.session_state.get(rev_key)
    st.session_state[rev_key] = current
    if previous is not None and previous != current:
        st.rerun()


# ---------------------------------------------------------------- walkthrough


def moment_window(moment: TimelineEvent, incident: Incident) -> TimeWindow:
    """The time range shown for a moment: centred on it, a tenth of the incident's range wide (1 h minimum)."""
    full = incident.time_range()
    span = max(timedelta(hours=1), (full.duration / 10) if full else timedelta(hours=1))
    return TimeWindow(moment.timestamp - span / 2, moment.timestamp + span / 2)


def moment_evidence(moment: TimelineEvent, evidence: list[Any]) -> list[Any]:
    """Evidence pinned with the moment, else evidence whose window contains it."""
    linked = [e for e in evidence if moment.evidence_id is not None and e.id == moment.evidence_id]
    if linked:
        return linked
    return [e for e in evidence if e.window is not None and e.window.start <= moment.timestamp < e.window.end]


def _go(key: str, index: int, windows: list[TimeWindow]) -> None:
    st.session_state[key] = index
    state.set_time_range(windows[index])


def walkthrough(store: Store, incident: Incident, key: str = "postmortem_walk") -> None:
    """Step through the timeline's key moments; each step moves the shared time range to the moment."""
    moments = key_events(incident, list_events(store, incident.id), limit=WALK_MOMENTS)
    if not moments:
        st.info("The timeline has no key moments yet: add milestones, alerts, changes or pin findings.")
        return
    evidence = list_evidence(store, incident.id)
    windows = [moment_window(m, incident) for m in moments]
    index = min(st.session_state.get(key, 0), len(moments) - 1)
    c1, c2, c3 = st.columns([1, 1, 4])
    c1.button("◀ Previous", key=f"{key}_prev", disabled=index == 0, on_click=_go, args=(key, index - 1, windows),
              width="stretch")
    c2.button("Next ▶", key=f"{key}_next", disabled=index >= len(moments) - 1, on_click=_go,
              args=(key, index + 1, windows), width="stretch")
    c3.caption(f"Moment {index + 1} of {len(moments)}. Each step sets the shared time range (sidebar) to the "
               "moment, so every page shows the same span.")
    moment = moments[index]
    kind = moment.kind.value.replace("_", " ")
    st.subheader(present(moment.title))
    st.markdown(f"**{moment.timestamp.strftime('%Y-%m-%d %H:%M UTC')}** · {kind}" + (" · pinned" if moment.pinned else ""))
    if moment.details and moment.kind != EventKind.MILESTONE:
        details = present({str(k): str(v)[:120] for k, v in list(moment.details.items())[:8]})
        st.caption(" · ".join(f"{k}: {v}" for k, v in details.items()))
    found = moment_evidence(moment, evidence)
    if not found:
        st.caption("No evidence pinned for this moment.")
    for ev in found:
        st.markdown(f"**Evidence:** {present(ev.title)} ({ev.kind}, digest `{ev.digest[:12]}`)")
        nums = frozen_numbers(ev.result or {})
        if nums:
            st.table(present(pd.DataFrame(nums, columns=["measure (frozen copy)", "value"])).set_index(
                "measure (frozen copy)"))
        fig = evidence_figure(ev if not state.presentation_mode() else _masked(ev), dark=state.presentation_mode())
        if fig is not None:
            fig.update_layout(width=None)
            st.plotly_chart(fig, key=f"{key}_chart_{ev.id}", theme=None, width="stretch",
                            config={"displaylogo": False})


def _masked(ev: Any) -> Any:
    from dataclasses import replace

    return replace(ev, title=mask_text(ev.title), result=mask_obj(ev.result))
