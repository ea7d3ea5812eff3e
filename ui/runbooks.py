"""Streamlit helpers of runbooks: the entry view, its editor, the Triage page's links and "add to runbook"."""

from __future__ import annotations

import streamlit as st

from core.errors import ConcurrentEditError, WorkbenchError
from core.models import ROOT_CAUSE_LABELS, Incident, RootCause
from core.prevention.runbooks import (
    Runbook, RunbookContent, format_checks, format_views, parse_checks, parse_views, to_markdown,
)
from core.store import Store
from core.store import runbooks as rb_store

PAGE = "app_pages/runbooks.py"
FOCUS = "runbooks_pattern"  # the query parameter naming the open entry
BASE_KEY = "runbooks_base"


def page_file(url_path: str) -> str:
    """The page file of an app url path ("" is the Incidents page)."""
    return "app_pages/incidents.py" if not url_path else f"app_pages/{url_path}.py"


def _md(text: str) -> str:
    out = str(text)
    for ch in "\\`*_{}[]()<>#+-.!|~$":
        out = out.replace(ch, "\\" + ch)
    return out


def hypothesis_link(container, incident: Incident, cause: RootCause) -> None:
    """A link from a triage hypothesis to the runbook of its class (the incident's learned entry when there is one)."""
    try:
        book = rb_store.runbook_for(_store(), cause, incident_id=incident.id)
    except WorkbenchError:
        return
    container.page_link(PAGE, label="Runbook", icon=":material/menu_book:",
                        help=f"{book.title} (pattern {book.pattern}, version {book.version})",
                        query_params={"incident": incident.id, FOCUS: book.pattern})


def default_pattern(store: Store, incident: Incident | None, patterns: list[str]) -> str:
    """The entry the page opens on without a link: the selected incident's runbook when its class is known."""
    if incident is not None and incident.root_cause is not None:
        try:
            found = rb_store.runbook_for(store, incident.root_cause, incident_id=incident.id).pattern
        except WorkbenchError:
            found = None
        if found in patterns:
            return found
    return patterns[0]


def _store() -> Store:
    from ui import state

    return state.get_store()


def show_entry(book: Runbook, content: RunbookContent, incident: Incident | None) -> None:
    """One version of an entry, readable: symptoms, links, checks in order, mitigations, owners."""
    st.subheader(content.title)
    origin = (f"learned from {book.source_incident_id}" if book.source_incident_id else book.origin)
    st.caption(f"Pattern `{book.pattern}` · {ROOT_CAUSE_LABELS[book.cause_class]} · {origin}")
    left, right = st.columns(2)
    with left:
        st.markdown("#### Symptoms")
        st.markdown("\n".join(f"- {_md(s)}" for s in content.symptoms) or "none written yet")
        st.markdown("#### Checks, in order")
        st.markdown("\n".join(f"{n}. **{c.stage}** — {_md(c.text)}" for n, c in enumerate(content.checks, 1))
                    or "none written yet")
    with right:
        st.markdown("#### How the workbench shows them")
        for view in content.views:
            if incident is not None:
                st.page_link(page_file(view.page), label=view.label, icon=":material/open_in_new:",
                             query_params={"incident": incident.id, **dict(view.params)})
            else:
                st.markdown(f"- {_md(view.label)}: `{view.href()}`")
        if incident is None:
            st.caption("Select an incident in the sidebar to open these links on it.")
        st.markdown("#### Mitigations")
        st.markdown("\n".join(f"- {_md(m)}" for m in content.mitigations) or "none written yet")
        st.markdown("#### Owners")
        st.markdown(", ".join(_md(o) for o in content.owners) or "none named yet")


def history(store: Store, book: Runbook, incident: Incident | None) -> None:
    """Every saved version; pick one to read it."""
    versions = rb_store.list_versions(store, book.pattern)
    st.dataframe([{"version": v.version, "saved (UTC)": f"{v.saved_at:%Y-%m-%d %H:%M}", "by": v.author or "—",
                   "note": v.note, "title": v.content.title} for v in versions], hide_index=True, width="stretch")
    numbers = [v.version for v in versions]
    pick = st.selectbox("Read version", numbers, key=f"runbooks_version_{book.pattern}")
    if pick != book.version:
        old = next(v for v in versions if v.version == pick)
        with st.container(border=True):
            show_entry(book, old.content, incident)


def editor(store: Store, book: Runbook) -> None:
    """Edit the entry from the version the user opened; a stale save is refused and the typed text kept."""
    from ui import state

    if state.presentation_mode():
        st.info("Presentation mode hides editing. Turn it off in the sidebar to edit this runbook.")
        return
    base_key = f"{BASE_KEY}_{book.pattern}"
    base: Runbook = st.session_state.get(base_key) or book
    if base.version > book.version:
        base = book
    st.session_state[base_key] = base
    if book.version != base.version:
        st.warning(f"Someone else saved this runbook (now version {book.version}) after you opened it; saving "
                   "your text will be refused.")
        if st.button("Load the latest version (discards your unsaved text)", key=f"runbooks_reload_{book.pattern}"):
            st.session_state[base_key] = book
            st.rerun()
    c = base.content
    with st.form(f"runbooks_edit_{book.pattern}_{base.version}"):
        title = st.text_input("Title", c.title, max_chars=300)
        symptoms = st.text_area("Symptoms (one a line)", "\n".join(c.symptoms), height=130)
        views = st.text_area("Where the workbench shows them (one a line: Label | /page?param=value)",
                             format_views(c.views), height=130)
        checks = st.text_area("Checks (one a line: data: …, environment: …, infrastructure: …; kept in that order)",
                              format_checks(c.checks), height=150)
        mitigations = st.text_area("Mitigations (one a line)", "\n".join(c.mitigations), height=100)
        c1, c2, c3 = st.columns(3)
        owners = c1.text_input("Owners (comma-separated)", ", ".join(c.owners))
        author = c2.text_input("Your name")
        note = c3.text_input("What changed (optional)")
        saved = st.form_submit_button("Save as a new version", type="primary")
    if not saved:
        return
    try:
        content = RunbookContent(title=title, symptoms=tuple(symptoms.splitlines()), views=parse_views(views),
                                 checks=parse_checks(checks), mitigations=tuple(mitigations.splitlines()),
                                 owners=tuple(o for o in owners.split(",")), signature=c.signature)
        updated = rb_store.save_runbook(store, book.pattern, content, version=base.version, author=author, note=note)
    except ConcurrentEditError as exc:
        st.error(str(exc))
        st.info(f"The stored version is now {exc.current.version} (“{exc.current.title}”). Your text is still in "
                "the form above: copy what you need, load the latest version, and apply it again.")
        return
    except WorkbenchError as exc:
        st.error(f"Not saved: {exc}. Your text is still in the form.")
        return
    st.session_state[base_key] = updated
    st.toast(f"Saved version {updated.version}")
    st.rerun()


def download(book: Runbook, incident: Incident | None) -> None:
    st.download_button("Download as Markdown", to_markdown(book, incident.id if incident else None),
                       file_name=f"runbook-{book.pattern.replace('/', '__')}.md", mime="text/markdown",
                       key=f"runbooks_download_{book.pattern}", icon=":material/download:")


def add_to_runbook(store: Store, incident: Incident, cause: RootCause | None, *, key: str, author: str = "") -> None:
    """Offer "add to runbook" for the incident's confirmed (or accepted) cause: a learned entry from its evidence."""
    cause = cause or incident.root_cause
    if cause is None:
        st.caption("Confirm a root-cause class (Incidents page, or accept a hypothesis) to add this incident's "
                   "failure pattern to the runbook.")
        return
    label = ROOT_CAUSE_LABELS[cause]
    if st.button(f"Add to runbook ({label})", key=key, icon=":material/library_add:",
                 help="Adds this incident's failure pattern (class and service) to the runbooks, with the checks "
                      "that failed, the features involved and the links to this incident's pages"):
        try:
            book, created = rb_store.learn_from_incident(store, incident.id, author=author, cause=cause)
        except WorkbenchError as exc:
            st.error(f"Not added: {exc}")
            return
        st.success(f"{'Created' if created else 'Updated'} runbook {book.pattern} (version {book.version}).")
        st.page_link(PAGE, label="Open it", icon=":material/menu_book:",
                     query_params={"incident": incident.id, FOCUS: book.pattern})


def triage_panel(store: Store, incident: Incident, top: RootCause | None, author: str) -> None:
    """Below the Triage page's hypotheses: add the confirmed cause to the runbook, and similar past incidents."""
    from ui import similar

    st.subheader("Runbook and similar past incidents")
    default = incident.root_cause or top
    classes = list(RootCause)
    cause = st.selectbox("Root-cause class of this failure pattern", classes, key="triage_runbook_cause",
                         index=classes.index(default) if default else 0, format_func=lambda c: ROOT_CAUSE_LABELS[c],
                         help="The incident's confirmed class when set, else triage's most likely one")
    add_to_runbook(store, incident, cause, key="triage_add_runbook", author=author)
    similar.panel(store, incident, key="triage")
