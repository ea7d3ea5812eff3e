"""Runbooks: one entry per failure pattern — read it, follow its links, edit it (every save a version), export it."""

import streamlit as st

from core.errors import WorkbenchError
from core.store.runbooks import list_runbooks
from ui import runbooks as rb, state

st.title("Runbooks")
store = state.get_store()
incident = state.current_incident()
try:
    books = list_runbooks(store)
except WorkbenchError as exc:
    state.show_error(exc, "The runbooks could not be read.")
    st.stop()

st.write("One entry per failure pattern: the default of every root-cause class, and the patterns learned from "
         "incidents (**Add to runbook** on the Triage and Incidents pages). Checks run data first, then the "
         "environment, then infrastructure.")
patterns = [b.pattern for b in books]
by_pattern = {b.pattern: b for b in books}
asked = st.query_params.get(rb.FOCUS)
if asked and asked not in by_pattern:
    st.error(f"There is no runbook '{asked}'; showing {patterns[0]} instead. Pick one below.")
pick = st.selectbox("Runbook (failure pattern)", patterns, key=rb.FOCUS, bind="query-params",
                    index=patterns.index(rb.default_pattern(store, incident, patterns)),
                    help="; ".join(f"{b.pattern}: {b.title}" for b in books))
book = by_pattern[pick]

c1, c2, c3 = st.columns(3)
c1.metric("Version", book.version)
c2.metric("Origin", "learned" if book.source_incident_id else book.origin)
c3.metric("Checks", len(book.content.checks))
tab_read, tab_edit, tab_history = st.tabs(["Runbook", "Edit", "Versions"])
with tab_read:
    rb.show_entry(book, book.content, incident)
    rb.download(book, incident)
with tab_edit:
    rb.editor(store, book)
with tab_history:
    rb.history(store, book, incident)
