"""Widgets of the Incidents page: the list, the editor, and the analytics strip."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from core.analysis.incident_stats import summarize_incidents
from core.errors import ConcurrentEditError, WorkbenchError
from core.models import (
    DURATIONS, ROLE_LABELS, ROOT_CAUSE_LABELS, Incident, Milestone, Role, RootCause, Severity, Status,
    format_duration,
)
from core.store import Store
from core.store.incidents import update_incident


def _fmt_time(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else ""


def parse_time_field(text: str, label: str) -> datetime | None:
    """'2026-01-21 09:00' (UTC) or full ISO 8601 -> aware UTC; '' -> None; errors echo the input as typed."""
    from core.timerange import parse_input

    return parse_input(text, label)


NEW_FIELDS = ("incidents_new_title", "incidents_new_service", "incidents_new_summary")
CREATED_KEY = "incidents_created"
DUPLICATE_SECONDS = 30


def md_text(text: str) -> str:
    """User text shown literally inside Markdown (no emphasis, links or headings from a title)."""
    out = str(text)
    for ch in "\\`*_{}[]()<>#+-.!|~$":
        out = out.replace(ch, "\\" + ch)
    return out


def create_from_form(store: Store) -> None:
    """Create the incident of the "New incident" form (a button callback, so one click creates once).

    On success the form is cleared and the new incident selected; the same title, service and
    summary submitted again within ``DUPLICATE_SECONDS`` (a double click) creates nothing.
    """
    from core.store.incidents import create_incident
    from ui import state

    ss = st.session_state
    values = {k: (ss.get(k) or "").strip() for k in NEW_FIELDS}
    fingerprint = (values["incidents_new_title"].casefold(), values["incidents_new_service"].casefold(),
                   values["incidents_new_summary"])
    last = ss.get(CREATED_KEY)
    now = datetime.now(timezone.utc)
    if last and last["fingerprint"] == fingerprint and (now - last["at"]).total_seconds() < DUPLICATE_SECONDS:
        last["message"] = ("info", f"{last['id']} was just created from the same form; no duplicate was made.")
        return
    try:
        new = create_incident(store, title=values["incidents_new_title"], service=values["incidents_new_service"],
                              severity=ss.get("incidents_new_severity"), summary=values["incidents_new_summary"])
    except WorkbenchError as exc:
        ss[CREATED_KEY] = {"fingerprint": None, "at": now, "id": None,
                           "message": ("error", f"Not created: {str(exc).rstrip('.')}. Your input is still in the form.")}
        return
    for k in NEW_FIELDS:
        ss[k] = ""
    state.select_incident(new.id)
    ss[CREATED_KEY] = {"fingerprint": fingerprint, "at": now, "id": new.id,
                       "message": ("success", f"Created {new.id} — “{md_text(new.title)}”. It is now the selected incident "
                                              "on every page; the form is ready for another.")}


def show_created() -> None:
    """The last create attempt's message; it stays until the next attempt."""
    last = st.session_state.get(CREATED_KEY)
    if last:
        kind, message = last["message"]
        {"success": st.success, "error": st.error}.get(kind, st.info)(message)


def incidents_table(incidents: list[Incident]) -> pd.DataFrame:
    rows = []
    for i in incidents:
        d = i.durations()
        rows.append({
            "id": i.id, "severity": i.severity.value, "status": i.status.value, "title": i.title,
            "service": i.service, "root cause": ROOT_CAUSE_LABELS.get(i.root_cause, "—") if i.root_cause else "—",
            "started (UTC)": _fmt_time(i.milestone(Milestone.STARTED)) or "—", "TTD": format_duration(d["TTD"]),
            "TTR": format_duration(d["TTR"]),
        })
    return pd.DataFrame(rows)


def analytics(incidents: list[Incident]) -> None:
    stats = summarize_incidents(incidents)
    open_n = sum(n for s, n in stats.by_status.items() if s in ("investigating", "identified", "mitigated"))
    cols = st.columns(6)
    cols[0].metric("Incidents", stats.total)
    cols[1].metric("Open", open_n)
    for col, name in zip(cols[2:], DURATIONS):
        d = stats.durations[name]
        col.metric(f"{name} median", format_duration(d.median), help=f"{d.definition} p90 "
                   f"{format_duration(d.p90)}, mean {format_duration(d.mean)}, over {d.n} incidents.")
    c1, c2, c3 = st.columns(3)
    c1.caption("By status")
    c1.dataframe(pd.Series(stats.by_status, name="incidents"), width="stretch")
    c2.caption("By root-cause class")
    c2.dataframe(pd.Series({ROOT_CAUSE_LABELS.get(k, "not set yet"): v for k, v in stats.by_root_cause.items()},
                           name="incidents"), width="stretch")
    c3.caption("Durations from impact start (median · p90)")
    c3.dataframe(pd.DataFrame([
        {"": n, "median": format_duration(d.median), "p90": format_duration(d.p90), "n": d.n}
        for n, d in stats.durations.items()
    ]).set_index(""), width="stretch")


def editor(store: Store, incident: Incident) -> None:
    """Edit form over the version the user started from; a stale save is refused and the input kept."""
    base_key = f"incidents_base_{incident.id}"
    base: Incident = st.session_state.get(base_key) or incident
    if base.version > incident.version:
        base = incident
    st.session_state[base_key] = base
    slot = st.empty()  # one element always: the notice coming or going never moves the form below it
    if incident.version != base.version:
        box = slot.container()
        box.warning(f"This incident changed after you opened this form (now version {incident.version}): saved by "
                    "someone else, in another tab, or by a handover. Saving the form is refused and keeps your "
                    "entries; load the latest version to edit from it.", icon=":material/group:")
        if box.button("Load the latest version (discards your unsaved changes)", key=f"incidents_reload_{incident.id}"):
            st.session_state[base_key] = incident
            st.rerun()
    k = f"incidents_edit_{incident.id}_{base.version}"
    with st.form(k):
        c1, c2, c3 = st.columns([3, 1, 1])
        title = c1.text_input("Title", base.title, max_chars=300)
        severity = c2.selectbox("Severity", [s.value for s in Severity], index=list(Severity).index(base.severity))
        status = c3.selectbox("Status", [s.value for s in Status], index=list(Status).index(base.status),
                              help="investigating → identified → mitigated → resolved → closed")
        summary = st.text_area("Summary", base.summary, height=90)
        c1, c2 = st.columns(2)
        service = c1.text_input("Service", base.service)
        classes = ["—"] + [r.value for r in RootCause]
        rc = c2.selectbox("Root-cause class", classes, format_func=lambda v: ROOT_CAUSE_LABELS.get(v, "not set"),
                          index=classes.index(base.root_cause.value) if base.root_cause else 0)
        st.markdown("**Impact milestones** (UTC, `YYYY-MM-DD HH:MM`)")
        mcols = st.columns(5)
        ms_text = {m.value: mcols[n].text_input(m.value.capitalize(), _fmt_time(base.milestone(m)))
                   for n, m in enumerate(Milestone)}
        st.markdown("**Roles**")
        rcols = st.columns(len(Role))
        roles = {r.value: rcols[n].text_input(ROLE_LABELS[r], base.roles.get(r.value, ""))
                 for n, r in enumerate(Role)}
        participants = st.text_input("Participants (comma-separated)", ", ".join(base.participants))
        saved = st.form_submit_button("Save changes", type="primary")
    if saved:
        try:
            milestones = {name: parse_time_field(v, f"milestone '{name}'") for name, v in ms_text.items()}
            updated = update_incident(
                store, incident.id, version=base.version, title=title, summary=summary, service=service,
                severity=severity, status=status, root_cause=None if rc == "—" else rc,
                milestones={k_: v for k_, v in milestones.items() if v},
                roles=roles, participants=[p for p in participants.split(",")],
            )
            st.session_state[base_key] = updated
            st.toast("Incident saved")
            st.rerun()
        except ConcurrentEditError as exc:
            st.error(str(exc))
            fresh = exc.current
            st.info(f"The stored version is now {fresh.version} (status {fresh.status.value}, title "
                    f"“{fresh.title}”). Your values are still in the form above.")
        except WorkbenchError as exc:
            st.error(f"Not saved: {exc}")
    durations = incident.durations()
    cols = st.columns(4)
    for col, (name, (_m, definition)) in zip(cols, DURATIONS.items()):
        col.metric(name, format_duration(durations[name]), help=definition)
    st.caption(" · ".join(f"**{n}**: {d}" for n, (_m, d) in DURATIONS.items()))


def guard_rails(store: Store, incident: Incident) -> None:
    """Link the incident's action items to the guard rail each implements (rule, contract or fallback)."""
    from core.prevention.rules import GUARDS, KPI_GUARD
    from core.store.action_items import GUARD_RAIL_KINDS, guard_rail_links, list_action_items, update_action_item

    st.markdown("#### Guard rails the action items implement")
    items = list_action_items(store, incident.id)
    if not items:
        st.caption("Add an action item above to link it to a guard rail.")
        return
    links = {link.item_id: link for link in guard_rail_links(store, incident.id)}
    if links:
        st.dataframe(pd.DataFrame([{"action": l.text, "prevents": l.prevents, "status": l.status.value,
                                    "done (UTC)": _fmt_time(l.done_at) or "—"} for l in links.values()]),
                     hide_index=True, width="stretch", key=f"incidents_guard_table_{incident.id}")
    suggestions = [f"rule:{g.kind}" for g in (KPI_GUARD, *GUARDS)] + ["contract:schema", "fallback:circuit_breaker"]
    with st.form(f"incidents_guard_{incident.id}"):
        c1, c2 = st.columns([3, 2])
        item_id = c1.selectbox("Action item", [i.id for i in items],
                               format_func=lambda i: next(x.text for x in items if x.id == i))
        typed = c2.text_input("Prevents (guard rail)", placeholder="rule:feature_freshness",
                              help=f"{' / '.join(GUARD_RAIL_KINDS)}:<name>, e.g. " + ", ".join(suggestions)
                                   + ". Empty clears the link. Its status is the action item's status; done means "
                                     "shipped, and recurrence counts incidents before and after that time.")
        if st.form_submit_button("Link guard rail"):
            item = next(i for i in items if i.id == item_id)
            try:
                update_action_item(store, item.id, version=item.version, prevents=typed)
                st.toast("Guard rail linked" if typed.strip() else "Guard-rail link cleared")
                st.rerun()
            except ConcurrentEditError as exc:
                st.error(str(exc))
            except WorkbenchError as exc:
                st.error(f"Not linked: {exc}. Your text is still in the form.")
