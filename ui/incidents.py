"""Widgets of the Incidents page: the list, the editor, and the analytics strip."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from core.analysis.incident_stats import summarize_incidents
from core.errors import ConcurrentEditError, WorkbenchError
from core.models import (
    DURATIONS, ROLE_LABELS, ROOT_CAUSE_LABELS, Incident, Milestone, Role, RootCause, Severity, Status,
    format_duration, utc,
)
from core.store import Store
from core.store.incidents import update_incident


def _fmt_time(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else ""


def parse_time_field(text: str, label: str) -> datetime | None:
    """'2026-01-21 09:00' (UTC) or full ISO 8601 -> aware UTC; '' -> None."""
    text = (text or "").strip()
    if not text:
        return None
    if "T" not in text and " " in text:
        text = text.replace(" ", "T", 1)
    if len(text) <= 16 and "+" not in text and not text.endswith("Z"):
        text += "Z"
    try:
        return utc(text)
    except WorkbenchError as exc:
        raise type(exc)(f"{label}: {exc}") from None


def incidents_table(incidents: list[Incident]) -> pd.DataFrame:
    rows = []
    for i in incidents:
        d = i.durations()
        rows.append({
            "id": i.id, "severity": i.severity.value, "status": i.status.value, "title": i.title,
            "service": i.service, "root cause": ROOT_CAUSE_LABELS.get(i.root_cause, "—") if i.root_cause else "—",
            "started": i.milestone(Milestone.STARTED), "TTD": format_duration(d["TTD"]),
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
    c1.dataframe(pd.Series(stats.by_status, name="incidents"), use_container_width=True)
    c2.caption("By root-cause class")
    c2.dataframe(pd.Series(stats.by_root_cause, name="incidents"), use_container_width=True)
    c3.caption("Durations from impact start (median · p90)")
    c3.dataframe(pd.DataFrame([
        {"": n, "median": format_duration(d.median), "p90": format_duration(d.p90), "n": d.n}
        for n, d in stats.durations.items()
    ]).set_index(""), use_container_width=True)


def editor(store: Store, incident: Incident) -> None:
    """Edit form; a stale save is refused and the user's values stay in the form."""
    k = f"incidents_edit_{incident.id}_{incident.version}"
    with st.form(k):
        c1, c2, c3 = st.columns([3, 1, 1])
        title = c1.text_input("Title", incident.title, max_chars=300)
        severity = c2.selectbox("Severity", [s.value for s in Severity], index=list(Severity).index(incident.severity))
        status = c3.selectbox("Status", [s.value for s in Status], index=list(Status).index(incident.status),
                              help="investigating → identified → mitigated → resolved → closed")
        summary = st.text_area("Summary", incident.summary, height=90)
        c1, c2 = st.columns(2)
        service = c1.text_input("Service", incident.service)
        classes = ["—"] + [r.value for r in RootCause]
        rc = c2.selectbox("Root-cause class", classes, format_func=lambda v: ROOT_CAUSE_LABELS.get(v, "not set"),
                          index=classes.index(incident.root_cause.value) if incident.root_cause else 0)
        st.markdown("**Impact milestones** (UTC, `YYYY-MM-DD HH:MM`)")
        mcols = st.columns(5)
        ms_text = {m.value: mcols[n].text_input(m.value.capitalize(), _fmt_time(incident.milestone(m)))
                   for n, m in enumerate(Milestone)}
        st.markdown("**Roles**")
        rcols = st.columns(5)
        roles = {r.value: rcols[n].text_input(ROLE_LABELS[r], incident.roles.get(r.value, ""))
                 for n, r in enumerate(Role)}
        participants = st.text_input("Participants (comma-separated)", ", ".join(incident.participants))
        saved = st.form_submit_button("Save changes", type="primary")
    if saved:
        try:
            milestones = {name: parse_time_field(v, f"milestone '{name}'") for name, v in ms_text.items()}
            update_incident(
                store, incident.id, version=incident.version, title=title, summary=summary, service=service,
                severity=severity, status=status, root_cause=None if rc == "—" else rc,
                milestones={k_: v for k_, v in milestones.items() if v},
                roles=roles, participants=[p for p in participants.split(",")],
            )
            st.toast("Incident saved")
            st.rerun()
        except ConcurrentEditError as exc:
            st.error(str(exc))
            fresh = exc.current
            st.info(f"The stored version is now {fresh.version} (status {fresh.status.value}, title "
                    f"“{fresh.title}”). Your values are still in the form above.")
            if st.button("Discard my values and load the latest version", key=f"incidents_reload_{incident.id}"):
                st.rerun()
        except WorkbenchError as exc:
            st.error(f"Not saved: {exc}")
    durations = incident.durations()
    cols = st.columns(4)
    for col, (name, (_m, definition)) in zip(cols, DURATIONS.items()):
        col.metric(name, format_duration(durations[name]), help=definition)
    st.caption(" · ".join(f"**{n}**: {d}" for n, (_m, d) in DURATIONS.items()))
