"""Presentation mode: war-room styling, masking of shown values, a timeline walkthrough, live refresh.

* :func:`apply_presentation_style` injects CSS (a constant: never user text) for
  large type and a dark, high-contrast look, and hides Streamlit's toolbar and
  other editing chrome, when the sidebar's presentation switch is on. ``app.py``
  calls it once per run so every page gets it.
* :func:`present` masks sensitive values (``core.masking``) when presentation mode
  is on; pages pass whatever they show a room through it.
* :func:`walkthrough` steps through the timeline's key moments, moving the shared
  time range (``ui.state.set_time_range``) and showing each moment's evidence.
* :func:`rerun_if_shared_state_changed` re-reads the shared incident state on the sidebar's timed
  presence run (every few seconds) and reruns the page when someone else changed it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.routine import fold_routines
from core.masking import mask_frame, mask_obj, mask_text
from core.models import EventKind, Incident, TimelineEvent, TimeWindow
from core.evidence import evidence_figure, evidence_numbers
from core.report.impact import key_events
from core.store import Store
from core.store.evidence import count_evidence, list_evidence
from core.store.timeline import list_events, timeline_revision
from ui import state

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
.stApp span.stMarkdownBadge { color: #111722 !important; font-weight: 700 !important; }
.stApp code { color: #ffe08a !important; background: #1d2533 !important; }
.stApp table, .stApp th, .stApp td { border-color: #3a4457 !important; }
.stApp [data-testid="stMetricValue"], .stApp [data-testid="stMetricValue"] div, .stApp [data-testid="stMetricValue"] p {
  font-size: clamp(1.6rem, 2.4vw, 3rem) !important; line-height: 1.2 !important; color: var(--wb-accent) !important;
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  overflow-wrap: anywhere !important; }
.stApp [data-testid="stMetricDelta"] { background: #1d2533 !important; color: var(--wb-ink) !important;
  white-space: normal !important; height: auto !important; }
.stApp [data-testid="stMetricDelta"] p { white-space: normal !important; overflow: visible !important; }
.stApp [data-testid="stMetricLabel"] p { white-space: normal !important; }
.stApp [data-testid="stAlertContainer"] { background: #1d2533 !important; border-left: 6px solid #8fd3ff !important; }
.stApp [data-testid="stAlertContainer"]:has([data-testid="stAlertContentError"]) { background: #3d1418 !important;
  border-left-color: #ff6b6b !important; }
.stApp [data-testid="stAlertContainer"]:has([data-testid="stAlertContentWarning"]) { background: #3a2a08 !important;
  border-left-color: var(--wb-accent) !important; }
.stApp [data-testid="stAlertContainer"]:has([data-testid="stAlertContentSuccess"]) { background: #0f3320 !important;
  border-left-color: #5fd38d !important; }
.stApp [data-testid="stProgressBarTrack"] { background: #2a3344 !important; outline: 1px solid #6b7a95; }
.stApp input, .stApp textarea, .stApp [data-baseweb="input"], .stApp [data-baseweb="base-input"],
.stApp [data-baseweb="textarea"], .stApp [data-baseweb="select"] > div, .stApp [data-testid="stNumberInputContainer"],
.stApp [data-testid="stNumberInput"] button, .stApp [data-testid="stDateInput"] > div > div {
  background: #1d2533 !important; color: var(--wb-ink) !important; -webkit-text-fill-color: var(--wb-ink) !important;
  border-color: #6b7a95 !important; }
.stApp input::placeholder, .stApp textarea::placeholder { color: var(--wb-muted) !important;
  -webkit-text-fill-color: var(--wb-muted) !important; }
.stApp [data-baseweb="select"] div, .stApp [data-baseweb="select"] svg { color: var(--wb-ink) !important; }
.stApp [data-baseweb="select"] > div * { background-color: transparent !important; }
.stApp [data-baseweb="select"] [data-baseweb="tag"], .stApp [data-baseweb="tag"] { background: #7c2d12 !important; }
.stApp [data-testid="stTooltipIcon"] svg, .stApp [data-testid="stTooltipHoverTarget"] svg,
.stApp [data-testid="stWidgetLabel"] svg { color: var(--wb-muted) !important; fill: var(--wb-muted) !important; }
.stApp [data-testid="stJson"], .stApp [data-testid="stJson"] * { background: var(--wb-panel) !important; }
.stApp [data-testid="stJson"] span, .stApp [data-testid="stJson"] div { color: var(--wb-ink) !important; }
.stApp [data-testid="stDataFrame"] { filter: invert(0.92) hue-rotate(180deg); }
.stApp [data-testid="stCode"] pre, .stApp [data-testid="stCode"] code { background: var(--wb-panel) !important; }
[data-baseweb="popover"] ul, [data-baseweb="popover"] li { background: var(--wb-panel) !important;
  color: var(--wb-ink) !important; }
.stApp [data-testid="stButtonGroup"] button { background: #1d2533 !important; border-color: #6b7a95 !important; }
.stApp [data-testid="stButtonGroup"] button[aria-checked="true"] { background: #7c2d12 !important;
  border-color: var(--wb-accent) !important; }
.stApp [data-testid="stButtonGroup"] button p, .stApp [data-testid="stButtonGroup"] button span {
  color: var(--wb-ink) !important; }
.stApp button p { font-size: 1.2rem !important; }
[data-baseweb="tab"] p { font-size: 1.3rem !important; }
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"], #MainMenu, footer,
[data-testid="stElementToolbar"], [data-testid="stAppDeployButton"] { display: none !important; }
.stApp [data-testid="stExpander"] details, .stApp [data-testid="stExpander"] summary {
  background: var(--wb-panel) !important; color: var(--wb-ink) !important; }
[data-testid="stMain"] [data-testid="stForm"], [data-testid="stMain"] [data-testid="stFileUploader"] {
  display: none !important; }
</style>
"""


# A running indicator on every page: while the script runs (Streamlit marks the app element with its run
# state), a "Working…" pill and a moving bar show at the top. It appears only after 0.4 s, so the
# timed shared-state refresh (a quick fragment run) never makes it flicker.
RUNNING_CSS = """
<style>
@keyframes wb-appear { to { opacity: 1; } }
@keyframes wb-slide { from { background-position: 0 0; } to { background-position: 240px 0; } }
[data-testid="stApp"][data-test-script-state="running"] [data-testid="stHeader"]::after {
  content: "Working…"; position: fixed; top: 0.55rem; right: 5rem; z-index: 1000020; padding: 0.15rem 0.9rem;
  border-radius: 1rem; background: #9a3412; color: #ffffff; font-weight: 600; font-size: 0.95rem;
  opacity: 0; animation: wb-appear 0s linear 0.4s forwards; pointer-events: none; }
[data-testid="stApp"][data-test-script-state="running"] [data-testid="stHeader"]::before {
  content: ""; position: fixed; top: 0; left: 0; right: 0; height: 4px; z-index: 1000020; opacity: 0;
  background: repeating-linear-gradient(90deg, #c2410c 0 120px, #fdba74 120px 240px);
  animation: wb-appear 0s linear 0.4s forwards, wb-slide 0.8s linear infinite; pointer-events: none; }
</style>
"""


def apply_presentation_style() -> None:
    """Inject the running indicator, and the presentation CSS when presentation mode is on (once per run)."""
    st.html(RUNNING_CSS)
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
    parts = [
        str(incident.version if incident else 0),
        repr(timeline_revision(store, incident_id)),
        str(count_evidence(store, incident_id)),
        fishbone_revision(store, incident_id),
        repr(sections_revision(store, incident_id)),
    ]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def rerun_if_shared_state_changed() -> None:
    """In a timed fragment run: rerun the page if the incident's shared state changed since this view looked.

    Called at the top of the sidebar's presence fragment (``ui.presence.live``), the one timer
    of every page, so each open tab costs one timed run every few seconds, not one per feature.
    """
    incident_id = state.incident_id()
    if not incident_id:
        return
    rev_key = f"app_revision_{incident_id}"  # written by refresh_shared_state
    if st.session_state.pop(f"app_just_read_{incident_id}", False):
        return  # part of a full run that has just recorded the state
    current = shared_revision(state.get_store(), incident_id)
    previous = st.session_state.get(rev_key)
    st.session_state[rev_key] = current
    if previous is not None and previous != current:
        state.mark_timer_rerun()
        st.rerun()


def refresh_shared_state() -> None:
    """Called by app.py on every full run, before the presence fragment: record the state this run shows.

    Only a timed fragment run that then sees a newer state reruns the page
    (:func:`rerun_if_shared_state_changed`), never a run carrying a click.
    """
    incident_id = state.incident_id()
    if incident_id:
        st.session_state[f"app_revision_{incident_id}"] = shared_revision(state.get_store(), incident_id)
        st.session_state[f"app_just_read_{incident_id}"] = True


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


# Presenter remotes send arrow keys and PageUp/PageDown: a listener in the page clicks the walkthrough's
# own Previous/Next buttons (found by their keys) while they are on screen, unless the user is typing.
# It listens in the capture phase, so the arrows step moments even while the Walkthrough tab has focus.
KEY_LISTENER = """
<script>
(() => {
  const doc = window.parent.document;
  if (window.parent.__wbWalkKeys) doc.removeEventListener('keydown', window.parent.__wbWalkKeys, true);
  window.parent.__wbWalkKeys = (e) => {
    const t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)
        || (t.closest && t.closest('[role="listbox"], [role="slider"], [role="menu"]'))))) return;
    const which = {ArrowRight: 'next', PageDown: 'next', ArrowLeft: 'prev', PageUp: 'prev'}[e.key];
    if (!which) return;
    const button = doc.querySelector('.st-key-%(key)s_' + which + ' button');
    if (!button || !button.offsetParent) return;
    e.preventDefault();
    e.stopPropagation();
    if (!button.disabled) button.click();
  };
  doc.addEventListener('keydown', window.parent.__wbWalkKeys, true);
})();
</script>
"""


def walk_moments(incident: Incident, events: list[TimelineEvent]) -> list[TimelineEvent]:
    """The walkthrough's moments: key events, with routine repeated runs folded into one moment each."""
    full = incident.time_range()
    ends = [e.end or e.timestamp for e in events] + [t for t in incident.milestones.values() if t]
    until = max(([full.end] if full else []) + ends, default=None)
    return key_events(incident, fold_routines(events, until=until), limit=WALK_MOMENTS)


def _change_line(moment: TimelineEvent) -> str | None:
    """'candidate_pool_size: 800 → 850' or 'v41 → v42' when the moment's details say what changed."""
    d = moment.details or {}
    if "old" in d and "new" in d:
        return f"{d.get('key') or 'value'}: {d['old']} → {d['new']}"
    if "previous_version" in d and "version" in d:
        return f"{d.get('model') or 'model'}: v{d['previous_version']} → v{d['version']}"
    if moment.kind == EventKind.DEPLOY and d.get("version"):
        return f"{d.get('service') or 'service'} now at {d['version']}" + (f" (commit {d['commit']})"
                                                                          if d.get("commit") else "")
    return None


def _moment_kpi(incident: Incident, moment: TimelineEvent, window: TimeWindow, key: str) -> None:
    from core.viz.walkthrough import moment_figure
    from ui import timeline as tl

    if not (incident.bundle_path and incident.kpi_metric):
        return
    kpi = tl.load_kpi(incident.bundle_path, incident.kpi_metric)
    if kpi is None:
        return
    fig = moment_figure(kpi, window, moment.timestamp, metric=incident.kpi_metric,
                        label=f"{moment.timestamp:%H:%M} UTC", dark=state.presentation_mode())
    if fig is None:
        st.caption(f"The KPI '{incident.kpi_metric}' has no points around this moment.")
        return
    st.plotly_chart(fig, key=f"{key}_kpi", theme=None, width="stretch", config={"displaylogo": False})


def _moment_logs(incident: Incident, window: TimeWindow, at: datetime) -> None:
    """The newest warnings and errors (else log lines) up to a minute after the moment."""
    from core.errors import WorkbenchError
    from ui import logs as lg

    if not incident.bundle_path:
        return
    window = TimeWindow(window.start, min(window.end, at + timedelta(minutes=1)))
    try:
        page = lg.search(incident.bundle_path, "log.level:(error OR warn OR warning)", window, 5, None)
        what = "warnings and errors"
        if not page.total:
            page = lg.search(incident.bundle_path, "*", window, 5, None)
            what = "log lines"
    except WorkbenchError:
        return  # the logs cannot be read here; the Logs page says why
    if not page.total:
        return
    st.markdown(f"**Logs around the moment** — {page.total:,} {what}, newest {len(page.hits)}:")
    st.dataframe(present(lg.hits_frame(page)), hide_index=True, width="stretch")


def walkthrough(store: Store, incident: Incident, key: str = "postmortem_walk") -> None:
    """Step through the timeline's key moments; each shows its KPI, change, log lines and evidence.

    Routine repeated runs are one moment ("… ran 63× (hourly), last at 02:05, then stopped"). Each
    step moves the shared time range to the moment; arrow keys and PageUp/PageDown step too.
    """
    moments = walk_moments(incident, list_events(store, incident.id))
    if not moments:
        st.info("The timeline has no key moments yet: add milestones, alerts, changes or pin findings.")
        return
    evidence = list_evidence(store, incident.id)
    windows = [moment_window(m, incident) for m in moments]
    index = min(st.session_state.get(key, 0), len(moments) - 1)
    step = state.sync_focus(f"{key}_step", str(index + 1) if index else None)  # the link keeps the moment
    if step and step != str(index + 1) and step.isdigit():
        index = min(max(int(step) - 1, 0), len(moments) - 1)
        st.session_state[key] = index
    c1, c2, c3 = st.columns([1, 1, 4])
    c1.button("◀ Previous", key=f"{key}_prev", disabled=index == 0, on_click=_go, args=(key, index - 1, windows),
              width="stretch")
    c2.button("Next ▶", key=f"{key}_next", disabled=index >= len(moments) - 1, on_click=_go,
              args=(key, index + 1, windows), width="stretch")
    c3.caption(f"Moment {index + 1} of {len(moments)} · arrow keys or PageUp/PageDown step too. Each step sets "
               "the shared time range to the moment, so every page shows the same span.")
    st.html(KEY_LISTENER % {"key": key}, unsafe_allow_javascript=True)
    moment = moments[index]
    kind = moment.kind.value.replace("_", " ")
    st.subheader(present(moment.title))
    st.markdown(f"**{moment.timestamp.strftime('%Y-%m-%d %H:%M UTC')}** · {kind}" + (" · pinned" if moment.pinned else ""))
    change = _change_line(moment)
    if change:
        st.markdown(f"**What changed:** {present(change)}")
    if moment.details and "runs" in moment.details:  # a folded routine
        st.caption(f"{moment.details['runs']} runs from {moment.details['first']} to "
                   f"{moment.timestamp:%Y-%m-%d %H:%M} UTC" + (" · no run after that" if moment.details.get("stopped")
                                                               else ""))
    elif moment.details and moment.kind != EventKind.MILESTONE:
        details = present({str(k): str(v)[:120] for k, v in list(moment.details.items())[:8]})
        st.caption(" · ".join(f"{k}: {v}" for k, v in details.items()))
    _moment_kpi(incident, moment, windows[index], key)
    _moment_logs(incident, windows[index], moment.timestamp)
    found = moment_evidence(moment, evidence)
    if not found:
        st.caption("No evidence pinned for this moment.")
    for ev in found:
        st.markdown(f"**Evidence:** {present(ev.title)} ({ev.kind}, digest `{ev.digest[:12]}`)")
        nums = evidence_numbers(ev)  # the table and chart its kind renders (core.evidence)
        if nums:
            st.table(present(pd.DataFrame(nums, columns=["measure (frozen copy)", "value"])).set_index(
                "measure (frozen copy)"))
        fig = evidence_figure(ev if not state.presentation_mode() else _masked(ev), dark=state.presentation_mode())
        if fig is not None:
            fig.update_layout(width=None)
            st.plotly_chart(fig, key=f"{key}_chart_{ev.id}", theme=None, width="stretch",
                            config={"displaylogo": False})


def _masked(ev: Any) -> Any:
    """The evidence with every string masked before its figure is laid out (titles, queries, results)."""
    return mask_obj(ev)


# ---------------------------------------------------------------- masking on every page

# Element methods whose shown text or data is masked in presentation mode.
_MASKED_ELEMENTS = ("markdown", "write", "caption", "code", "text", "json", "metric", "title", "header",
                    "subheader", "info", "warning", "error", "success", "dataframe", "table", "plotly_chart",
                    "data_editor")
_TEXT_KEYWORDS = ("body", "data", "figure_or_data", "value", "label", "help", "delta")


def _presenting() -> bool:
    try:
        return state.presentation_mode()
    except Exception:  # noqa: BLE001 - no script run context (bare mode): nothing to mask
        return False


def _mask_figure(figure: Any) -> Any:
    """A copy of a Plotly figure whose strings (texts, hovers, titles, annotations) are masked."""
    import numpy as np
    import plotly.graph_objects as go

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return mask_text(v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, np.ndarray):
            return np.array([mask_text(x) for x in v], dtype=object) if v.dtype == object else v
        if isinstance(v, (list, tuple)):
            if v and not isinstance(v[0], (str, dict, list, tuple)):
                return v
            return [walk(x) for x in v]
        return v

    if isinstance(figure, go.Figure):
        return go.Figure(walk(figure.to_plotly_json()))
    return figure


def _mask_value(value: Any) -> Any:
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        masked = mask_frame(frame)
        if isinstance(value, pd.Series):
            masked = masked.iloc[:, 0]
        masked.index = value.index.map(mask_text) if value.index.dtype == object else value.index
        return masked
    if isinstance(value, (str, dict, list, tuple)):
        return mask_obj(value)
    if type(value).__module__.startswith("plotly"):
        return _mask_figure(value)
    return value


def _wrap(name: str, original):
    import functools

    @functools.wraps(original)
    def shown(self, *args, **kwargs):
        if not _presenting():
            return original(self, *args, **kwargs)
        if name == "data_editor":  # no editing in front of a room: a read-only, masked table
            data = args[0] if args else kwargs.get("data")
            self.dataframe(data, hide_index=kwargs.get("hide_index"), width=kwargs.get("width", "stretch"))
            return data
        args = tuple(_mask_value(a) for a in args)
        kwargs = {k: (_mask_value(v) if k in _TEXT_KEYWORDS else v) for k, v in kwargs.items()}
        return original(self, *args, **kwargs)

    shown.__wrapped_for_presentation__ = True
    return shown


def install_masking() -> None:
    """Mask sensitive values in everything an element shows, on every page, while presentation mode is on.

    The element methods are wrapped once per process; each call checks the calling
    session's own presentation switch, so other sessions are never affected.
    """
    from streamlit.delta_generator import DeltaGenerator

    for name in _MASKED_ELEMENTS:
        method = getattr(DeltaGenerator, name)
        if not getattr(method, "__wrapped_for_presentation__", False):
            setattr(DeltaGenerator, name, _wrap(name, method))
        setattr(st, name, getattr(st._main, name))
