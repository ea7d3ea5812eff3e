"""Similar past incidents (Incidents and Triage pages) and recurrence per failure pattern (Incidents page)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import streamlit as st

from core.analysis.similar import IncidentSignature, rank_similar
from core.errors import WorkbenchError
from core.models import ROOT_CAUSE_LABELS, Incident, RootCause
from core.store import Store
from core.store.analytics import load_guard_rails, load_signatures, signatures_revision

LIMIT = 5


@st.cache_data(max_entries=4, show_spinner=False)
def _read(_store: Store, url: str, revision: tuple[int, ...]) -> tuple[list[IncidentSignature], list]:
    """Every signature and guard-rail link, read again only when the store (``url``) changed (``revision``)."""
    return load_signatures(_store), load_guard_rails(_store)


@st.cache_data(max_entries=4, show_spinner=False)
def _recurrence(_store: Store, url: str, revision: tuple[int, ...], today: date) -> list:
    """Recurrence per failure pattern, computed again only when the store (or the day) changed."""
    from core.analysis.incident_analytics import recurrence_by_pattern

    return recurrence_by_pattern(*_read(_store, url, revision), today=today)


def signatures_and_rails(store: Store) -> tuple[list[IncidentSignature], list]:
    return _read(store, store.url, signatures_revision(store))


def _label(root_cause: str) -> str:
    return ROOT_CAUSE_LABELS[RootCause(root_cause)] if root_cause else "not set"


def panel(store: Store, incident: Incident, *, key: str) -> None:
    """The stored incidents most like ``incident``, each with why it is similar and a link to open it."""
    st.markdown("#### Similar past incidents")
    try:
        signatures, _rails = signatures_and_rails(store)
    except WorkbenchError as exc:
        st.error(f"Similar incidents could not be read: {exc}")
        return
    target = next((s for s in signatures if s.incident_id == incident.id), None)
    if target is None:
        st.info("This incident is not in the store any more; pick another in the sidebar.")
        return
    found = rank_similar(target, signatures, limit=LIMIT)
    st.caption(_known_by(target))
    if not found:
        st.info("No other stored incident shares its root-cause class, service, model, features, failing checks "
                "or log templates.")
        return
    for s in found:
        with st.container(border=True):
            a, b = st.columns([5, 1])
            a.markdown(f"**{s.incident_id}** · similarity **{s.score:.0%}** · {_label(s.signature.root_cause)}"
                       + (f" · started {s.signature.started:%Y-%m-%d}" if s.signature.started else ""))
            a.text(s.signature.title)
            a.text("Why: " + s.why)
            b.page_link("app_pages/postmortem.py", label="Post-mortem", icon=":material/description:",
                        query_params={"incident": s.incident_id})


def _known_by(sig: IncidentSignature) -> str:
    parts = [f"class {_label(sig.root_cause)}"]
    if sig.service:
        parts.append(f"service {sig.service}")
    if sig.model:
        parts.append(f"model {sig.model}")
    for what, items in (("features", sig.features), ("failing checks", sig.failing_checks),
                        ("log templates", sig.log_templates)):
        if items:
            parts.append(f"{what} ({len(items)})")
    return "Compared by " + ", ".join(parts) + "."


def recurrence(store: Store) -> None:
    """Incidents per month of each failure pattern, before and after its guard rail shipped."""
    from core.analysis.incident_analytics import recurrence_frame

    try:
        found = _recurrence(store, store.url, signatures_revision(store), datetime.now(timezone.utc).date())
    except WorkbenchError as exc:
        st.error(f"Recurrence could not be read: {exc}")
        return
    if not found:
        st.info("No incident has a root-cause class yet, so there is no failure pattern to count.")
        return
    st.dataframe(recurrence_frame(found), hide_index=True, width="stretch", key="incidents_recurrence_table")
    from core.viz.analytics import counts_figure
    from ui import state

    counts = pd.concat([pd.DataFrame({"period": r.monthly["month"], "count": r.monthly["count"],
                                      "key": r.pattern + " · " + r.monthly["phase"] + " guard rail"})
                        for r in found], ignore_index=True)
    fig = counts_figure(counts, "failure pattern", dark=state.presentation_mode())
    fig.update_yaxes(dtick=1)  # whole incidents
    st.plotly_chart(fig, key="incidents_recurrence_chart")
    for r in found:
        st.caption(r.sentence)
