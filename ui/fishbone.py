"""Fishbone page widgets: the live diagram, the cause editor, categories, Five Whys, action items, export.

Every change is written at once with the version the editor showed. A stale edit
is refused by the store; the editor then shows the message and keeps what was typed,
now checked against the current version, so saving again applies it knowingly. An
editor nobody clicked in is re-created with the current values when the object changes.
User text is shown with ``st.text`` or Markdown-escaped, never as HTML.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError

from core.errors import ConcurrentEditError, WorkbenchError
from core.models import ActionStatus, Cause, CauseStatus, Incident
from core.report.fishbone_export import (
    export_filename,
    export_fishbone,
    fishbone_images,
    md_escape,
    write_bundle_fishbone,
)
from core.store import Store
from core.store.presence import HEARTBEAT_SECONDS
from core.store import action_items as ai
from core.store import fishbone as fb
from core.store.evidence import list_evidence
from core.store.timeline import list_events
from core.viz.fishbone import STATUS_LABELS, fishbone_figure
from ui import state

REFRESH = timedelta(seconds=HEARTBEAT_SECONDS)  # the presence timer reruns the page on others' edits
FLASH = "fishbone_flash"
SELECTED = "fishbone_selected"
SEEN = "fishbone_seen_revision"
NO_PARENT = 0


def _flash(kind: str, message: str) -> None:
    """Keep a message until the user acts (the next change or Dismiss), across the timed live refreshes."""
    st.session_state[FLASH] = (kind, message, True)


def _dismiss() -> None:
    st.session_state.pop(FLASH, None)


def _show_flash() -> None:
    slot = st.empty()  # always one element: a message coming or going never moves the editors below it
    kind, message, _fresh = st.session_state.get(FLASH, (None, None, False))
    if kind is None:
        return
    st.session_state[FLASH] = (kind, message, False)
    c1, c2 = slot.container().columns([9, 1], vertical_alignment="center")
    (c1.error if kind == "error" else c1.success)(message)
    c2.button("Dismiss", key="fishbone_flash_dismiss", on_click=_dismiss)


def _rerun() -> None:
    """Re-render only the live fragment when it is what ran; the whole page otherwise."""
    try:
        st.rerun(scope="fragment")
    except StreamlitInvalidLayoutContextError:  # the fragment ran as part of a full page run
        st.rerun()


KIND_NAMES = {"problem": "problem statement", "cause": "cause", "cat": "category", "why": "step",
              "action": "action item"}


def editor(kind: str, obj_id: Any, version: int, field: str = "") -> tuple[str, int]:
    """Key suffix and shown version of one object's editor.

    The editor keeps showing (and saving against) the version it was opened with until this user
    saves or asks for the current version: a form's typed text reaches the server only when it is
    submitted, so re-creating the editor when someone else saves would throw away what is being
    typed. When the object changed meanwhile, a notice above the editor says so and offers the
    current version; saving anyway is refused as changed by someone else, keeping the entries.
    ``field`` is the key prefix of one of its fields: when that field is not on the page yet (the
    editor is drawn afresh, e.g. on coming back to the page), it shows the current values and so
    saves against the current version.
    """
    # The notice's place is always there: a notice appearing above a form must not move the form,
    # or the browser draws it anew in the new place and text typed into the old one is lost.
    slot = st.empty()
    seen_key, gen_key = f"fishbone_seen_{kind}_{obj_id}", f"fishbone_gen_{kind}_{obj_id}"
    gen = st.session_state.setdefault(gen_key, 0)
    fresh = bool(field) and f"{field}_{obj_id}_{gen}" not in st.session_state
    if seen_key not in st.session_state or fresh:
        st.session_state[seen_key] = version
    elif st.session_state[seen_key] != version:
        name = KIND_NAMES.get(kind, "item")
        c1, c2 = slot.container().columns([4, 1], vertical_alignment="center")
        c1.warning(f"Someone else changed this {name} since you opened it; the diagram shows their version. "
                   "Saving here is refused and keeps your entries.", icon=":material/group:")
        c2.button("Show their version", key=f"fishbone_fresh_{kind}_{obj_id}_{gen}", on_click=_reset,
                  args=(kind, obj_id))
    return f"{obj_id}_{gen}", st.session_state[seen_key]


def _reset(kind: str, obj_id: Any) -> None:
    """Forget what an editor showed, so the next run re-creates it from the store."""
    st.session_state.pop(f"fishbone_seen_{kind}_{obj_id}", None)
    gen_key = f"fishbone_gen_{kind}_{obj_id}"
    st.session_state[gen_key] = st.session_state.get(gen_key, 0) + 1


def apply(action: Callable[[], Any], done: str, reset: tuple[str, Any] | None = None) -> None:
    """Run a store change; on success or a concurrent change, re-render with fresh state.

    Args:
        action: the store call.
        done: the success message.
        reset: ``(kind, id)`` of the editor to re-create from the store afterwards.
    """
    _dismiss()  # the user acted: the previous message has done its job
    try:
        action()
    except ConcurrentEditError as exc:
        fresh = getattr(exc, "current", None)
        if fresh is None:
            _flash("error", f"{exc} It was deleted meanwhile.")
            if reset:
                _reset(*reset)
        else:
            _flash("error", f"{exc} Your entries are kept in the editor and the diagram shows the current "
                            "version: save again to apply your entries to it.")
            if reset:  # keep what was typed; the next save is checked against the current version
                st.session_state[f"fishbone_seen_{reset[0]}_{reset[1]}"] = getattr(fresh, "version", None)
        _rerun()
    except WorkbenchError as exc:
        _flash("error", f"**Not saved.** {exc}")
        _rerun()
    _flash("success", done)
    if reset:
        _reset(*reset)
    _rerun()


def _evidence_options(store: Store, incident_id: str) -> dict[str, dict[str, Any]]:
    """Pinned findings and change events of the incident, keyed by a readable label."""
    options: dict[str, dict[str, Any]] = {}
    for ev in list_evidence(store, incident_id):
        options[f"Finding: {ev.title} (#{ev.id})"] = fb.evidence_ref(ev)
    for ev in list_events(store, incident_id):
        if ev.kind.value in ("milestone", "finding"):
            continue
        options[f"Event: {ev.title} ({ev.timestamp:%Y-%m-%d %H:%M}, #{ev.id})"] = fb.event_ref(ev)
    return options


def _ref_label(ref: dict[str, Any]) -> str:
    kind = {"evidence": "Finding", "timeline_event": "Event", "log_query": "Logs"}.get(ref.get("type"), "Note")
    return f"{kind}: {ref.get('title', '')}" + (f" (#{ref['id']})" if ref.get("id") is not None else "")


def _evidence_picker(label: str, key: str, options: dict[str, dict[str, Any]],
                     current: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    """A multiselect of evidence links; links not among the options (e.g. log queries) are kept."""
    by_label = dict(options)
    chosen = []
    for ref in current:
        lbl = next((k for k, v in options.items() if v.get("type") == ref.get("type") and v.get("id") == ref.get("id")
                    and ref.get("id") is not None), None) or _ref_label(ref)
        by_label.setdefault(lbl, ref)
        chosen.append(lbl)
    picked = st.multiselect(label, list(by_label), default=chosen, key=key,
                            help="Pinned findings and timeline events of this incident.")
    return [by_label[p] for p in picked]


def _status_radio(key: str, value: CauseStatus) -> str:
    statuses = list(CauseStatus)
    return st.radio("Status", statuses, index=statuses.index(CauseStatus(value)), key=key, horizontal=True,
                    format_func=lambda s: STATUS_LABELS[CauseStatus(s)])


# ---------------------------------------------------------------- the live part


def problem_editor(store: Store, fishbone: fb.Fishbone) -> None:
    key, version = editor("problem", fishbone.incident_id, fishbone.version, field="fishbone_problem")
    with st.form(f"fishbone_problem_form_{key}", border=False):
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        text = c1.text_input("Problem statement (the head of the fish)", value=fishbone.problem,
                             key=f"fishbone_problem_{key}", max_chars=fb.MAX_PROBLEM,
                             placeholder="e.g. CTR dropped 15% after 06:00 on all platforms")
        if c2.form_submit_button("Save", use_container_width=True, key=f"fishbone_problem_save_{key}"):
            apply(lambda: fb.update_problem(store, fishbone.incident_id, text, version=version),
                  "Problem statement saved.", reset=("problem", fishbone.incident_id))


FIT_WIDTHS = {"Small screen": 850, "Laptop": 1100, "Wide screen": 1450, "Projector": 1800}


def fit_width_picker() -> int:
    """How wide the diagram may grow; it wraps text and then shrinks type to stay within, never overlapping."""
    choice = st.segmented_control("Diagram width", list(FIT_WIDTHS), default="Laptop", key="fishbone_fit",
                                  help="The diagram wraps labels and then uses smaller type to fit this width; "
                                       "it grows downwards instead.")
    return FIT_WIDTHS.get(choice or "Laptop", 1100)


def diagram(fishbone: fb.Fishbone, fit_width: int) -> None:
    """The Ishikawa chart; clicking a cause marker selects it for editing."""
    fig = fishbone_figure(fishbone.problem, fishbone.categories, fishbone.causes, fit_width=fit_width,
                          presentation=state.presentation_mode(), selected=st.session_state.get(SELECTED),
                          mask=state.presentation_mode())
    event = st.plotly_chart(fig, key="fishbone_chart", on_select="rerun", selection_mode="points",
                            theme=None, width="content", config={"displaylogo": False, "scrollZoom": False})
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
    if points and points[0].get("customdata"):
        picked = int(points[0]["customdata"][0])
        if picked != st.session_state.get("fishbone_last_click"):
            st.session_state["fishbone_last_click"] = picked
            st.session_state[SELECTED] = picked
            st.session_state["fishbone_pick"] = picked


def cause_picker(fishbone: fb.Fishbone) -> int | None:
    ids = [c.id for c in fishbone.causes]
    if not ids:
        return None
    names = {c.id: c for c in fishbone.causes}
    if st.session_state.get("fishbone_pick") not in ids:
        st.session_state["fishbone_pick"] = st.session_state.get(SELECTED) if st.session_state.get(SELECTED) in ids \
            else ids[0]

    def fmt(i: int) -> str:
        c = names[i]
        cat = next((k.name for k in fishbone.categories if k.id == c.category_id), "")
        prefix = "  ↳ " if c.parent_id else ""
        return f"{prefix}{c.text} · {STATUS_LABELS[c.status]} · {cat}"

    picked = st.selectbox("Cause (or click a dot on the diagram)", ids, format_func=fmt, key="fishbone_pick")
    st.session_state[SELECTED] = picked
    return picked


def cause_editor(store: Store, fishbone: fb.Fishbone, cause: Cause, options: dict[str, dict[str, Any]]) -> None:
    key, version = editor("cause", cause.id, cause.version, field="fishbone_cause_notes")
    cats = {c.id: c.name for c in fishbone.categories}
    parents = [NO_PARENT] + [c.id for c in fishbone.causes
                             if c.parent_id is None and c.id != cause.id and not fishbone.children(cause.id)]
    texts = {c.id: c.text for c in fishbone.causes}
    with st.form(f"fishbone_cause_form_{key}"):
        text = st.text_input("Cause", cause.text, key=f"fishbone_cause_text_{key}", max_chars=fb.MAX_CAUSE)
        status = _status_radio(f"fishbone_cause_status_{key}", cause.status)
        c1, c2 = st.columns(2)
        category = c1.selectbox("Category", list(cats), index=list(cats).index(cause.category_id),
                                format_func=cats.get, key=f"fishbone_cause_cat_{key}",
                                help="A sub-cause always sits in its parent's category.")
        parent = c2.selectbox("Sub-cause of", parents, index=parents.index(cause.parent_id or NO_PARENT),
                              format_func=lambda i: "— (top-level cause)" if i == NO_PARENT else texts[i],
                              key=f"fishbone_cause_parent_{key}")
        notes = st.text_area("Notes", cause.notes, key=f"fishbone_cause_notes_{key}", max_chars=fb.MAX_NOTES)
        refs = _evidence_picker("Evidence", f"fishbone_cause_ev_{key}", options, cause.evidence)
        query = st.text_input("Link a log query (Lucene syntax)", key=f"fishbone_cause_query_{key}",
                              placeholder='e.g. service.name:fraud-scorer AND message:"using default"')
        save = st.form_submit_button("Save cause", type="primary", key=f"fishbone_cause_save_{key}")
    if save:
        if query.strip():
            refs = refs + [fb.log_query_ref(query.strip(), window=state.time_range())]
        changes: dict[str, Any] = {"text": text, "status": status, "notes": notes, "evidence": refs,
                                   "parent_id": None if parent == NO_PARENT else parent}
        if parent == NO_PARENT:
            changes["category_id"] = category
        apply(lambda: fb.update_cause(store, cause.id, version=version, **changes), "Cause saved.",
              reset=("cause", cause.id))
    if cause.evidence:
        st.caption("Linked evidence")
        for ref in cause.evidence:
            st.text(f"• {_ref_label(ref)}")
    actions = fishbone.actions_for(cause.id)
    if actions:
        st.caption("Action items for this cause")
        for a in actions:
            st.text(f"• {a.text} — {a.owner or 'no owner'} · {a.status.value.replace('_', ' ')}")
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    sure = c2.checkbox("Also deletes its sub-causes", key=f"fishbone_cause_sure_{key}")
    if c1.button("Delete cause", key=f"fishbone_cause_delete_{key}", disabled=not sure):
        st.session_state.pop(SELECTED, None)
        apply(lambda: fb.delete_cause(store, cause.id, version=version), "Cause deleted.", reset=("cause", cause.id))


def add_cause_form(store: Store, fishbone: fb.Fishbone, options: dict[str, dict[str, Any]]) -> None:
    cats = {c.id: c.name for c in fishbone.categories}
    tops = [NO_PARENT] + [c.id for c in fishbone.causes if c.parent_id is None]
    texts = {c.id: c.text for c in fishbone.causes}
    with st.form("fishbone_add_form", clear_on_submit=False):
        text = st.text_input("New cause", key="fishbone_add_text", max_chars=fb.MAX_CAUSE,
                             placeholder="e.g. Upstream renamed a column")
        c1, c2 = st.columns(2)
        category = c1.selectbox("Category", list(cats), format_func=cats.get, key="fishbone_add_cat")
        parent = c2.selectbox("Sub-cause of", tops, key="fishbone_add_parent",
                              format_func=lambda i: "— (top-level cause)" if i == NO_PARENT else texts[i])
        status = _status_radio("fishbone_add_status", CauseStatus.SUSPECTED)
        refs = _evidence_picker("Evidence", "fishbone_add_ev", options)
        add = st.form_submit_button("Add cause", type="primary")
    if add:
        apply(lambda: fb.add_cause(store, fishbone.incident_id, category_id=category, text=text, status=status,
                                   parent_id=None if parent == NO_PARENT else parent, evidence=refs),
              "Cause added.")


def categories_editor(store: Store, fishbone: fb.Fishbone) -> None:
    for cat in fishbone.categories:
        key, version = editor("cat", cat.id, cat.version, field="fishbone_cat_name")
        n = sum(1 for c in fishbone.causes if c.category_id == cat.id)
        c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
        name = c1.text_input(f"Category ({n} causes)", cat.name, key=f"fishbone_cat_name_{key}",
                             max_chars=fb.MAX_CATEGORY)
        if c2.button("Rename", key=f"fishbone_cat_rename_{key}", disabled=name == cat.name):
            apply(lambda: fb.rename_category(store, cat.id, name, version=version), "Category renamed.",
                  reset=("cat", cat.id))
        if c3.button("Delete", key=f"fishbone_cat_delete_{key}"):
            st.session_state["fishbone_cat_deleting"] = cat.id
        if st.session_state.get("fishbone_cat_deleting") == cat.id:
            if n == 0:
                st.session_state.pop("fishbone_cat_deleting", None)
                apply(lambda: fb.delete_category(store, cat.id, version=version), "Category deleted.")
            others = {c.id: c.name for c in fishbone.categories if c.id != cat.id}
            st.warning(f"{n} cause(s) are in this category. Move them to another category and delete it?")
            d1, d2, d3 = st.columns([3, 1, 1], vertical_alignment="bottom")
            target = d1.selectbox("Move its causes to", list(others), format_func=others.get,
                                  key=f"fishbone_cat_move_{key}")
            if d2.button("Move and delete", key=f"fishbone_cat_confirm_{key}", type="primary"):
                st.session_state.pop("fishbone_cat_deleting", None)
                apply(lambda: fb.delete_category(store, cat.id, version=version, move_to=target),
                      f"Category deleted; {n} cause(s) moved.", reset=("cat", cat.id))
            if d3.button("Cancel", key=f"fishbone_cat_cancel_{key}"):
                st.session_state.pop("fishbone_cat_deleting", None)
                _rerun()
    with st.form("fishbone_cat_add_form"):
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        name = c1.text_input("New category", key="fishbone_cat_add_name", max_chars=fb.MAX_CATEGORY)
        if c2.form_submit_button("Add category"):
            apply(lambda: fb.add_category(store, fishbone.incident_id, name), "Category added.")


def whys_editor(store: Store, fishbone: fb.Fishbone, options: dict[str, dict[str, Any]]) -> None:
    texts = {c.id: c.text for c in fishbone.causes}
    steps = {w.id: w for w in fishbone.whys}
    children: dict[int | None, list] = {}
    for w in fishbone.whys:
        children.setdefault(w.parent_id if w.parent_id in steps else None, []).append(w)

    def show(step, number: str) -> None:
        depth = number.count(".")
        body = st.columns([0.04 * depth + 0.001, 1])[1] if depth else st.container()
        with body.container(border=True):
            st.text(f"{number}  Why? {step.question}")
            st.text(f"Because: {step.answer or '(not answered yet)'}")
            if step.cause_id in texts:
                st.text(f"→ Cause: {texts[step.cause_id]}")
                for a in fishbone.actions_for(step.cause_id):
                    st.text(f"→ Action: {a.text} ({a.owner or 'no owner'}, {a.status.value.replace('_', ' ')})")
            with st.popover("Edit step"):
                key, version = editor("why", step.id, step.version, field="fishbone_why_q")
                with st.form(f"fishbone_why_form_{key}", border=False):
                    q = st.text_area("Question", step.question, key=f"fishbone_why_q_{key}")
                    a = st.text_area("Answer", step.answer, key=f"fishbone_why_a_{key}")
                    cause_ids = [NO_PARENT] + list(texts)
                    cause = st.selectbox("Links to cause", cause_ids,
                                         index=cause_ids.index(step.cause_id) if step.cause_id in texts else 0,
                                         format_func=lambda i: "— none" if i == NO_PARENT else texts[i],
                                         key=f"fishbone_why_cause_{key}")
                    refs = _evidence_picker("Evidence", f"fishbone_why_ev_{key}", options, step.evidence)
                    save = st.form_submit_button("Save step", key=f"fishbone_why_save_{key}")
                if save:
                    apply(lambda: fb.update_why(store, step.id, version=version, question=q, answer=a,
                                                cause_id=None if cause == NO_PARENT else cause, evidence=refs),
                          "Step saved.", reset=("why", step.id))
                if st.button("Delete step and the steps after it", key=f"fishbone_why_delete_{key}"):
                    apply(lambda: fb.delete_why(store, step.id, version=version), "Step deleted.", reset=("why", step.id))
        for i, nxt in enumerate(children.get(step.id, []), 1):
            show(nxt, f"{number}.{i}")

    chains: dict[str, list] = {}
    for root in children.get(None, []):
        chains.setdefault(root.chain, []).append(root)
    if not chains:
        st.info("No Five Whys yet. Start a chain with the first question below.")
    else:
        st.caption("Steps are numbered by branch: 1.1 and 1.2 are two answers (contributing factors) to step 1.")
    for name, roots in chains.items():
        st.markdown(f"**Chain: {md_escape(name)}**")
        for i, root in enumerate(roots, 1):
            show(root, str(i))

    labels = {w.id: f"{w.chain} · {w.question[:70]}" for w in fishbone.whys}
    with st.form("fishbone_why_add_form"):
        st.markdown("**Add a step**")
        after = st.selectbox("After step (several steps after one step make a branch)",
                             [NO_PARENT] + list(labels), key="fishbone_why_add_after",
                             format_func=lambda i: "— start a new chain" if i == NO_PARENT else labels[i])
        chain = st.text_input("Chain name (for a new chain)", "main", key="fishbone_why_add_chain")
        q = st.text_input("Question", key="fishbone_why_add_q", placeholder="Why did …?")
        a = st.text_input("Answer", key="fishbone_why_add_a")
        cause_ids = [NO_PARENT] + list(texts)
        cause = st.selectbox("Links to cause (for the last step)", cause_ids, key="fishbone_why_add_cause",
                             format_func=lambda i: "— none" if i == NO_PARENT else texts[i])
        if st.form_submit_button("Add step"):
            apply(lambda: fb.add_why(store, fishbone.incident_id, question=q, answer=a, chain=chain,
                                     parent_id=None if after == NO_PARENT else after,
                                     cause_id=None if cause == NO_PARENT else cause), "Step added.")


def actions_editor(store: Store, fishbone: fb.Fishbone) -> None:
    texts = {c.id: c.text for c in fishbone.causes}
    cause_ids = [NO_PARENT] + list(texts)
    statuses = list(ActionStatus)
    for item in fishbone.actions:
        key, version = editor("action", item.id, item.version, field="fishbone_action_text")
        with st.form(f"fishbone_action_form_{key}"):
            c1, c2, c3, c4 = st.columns([4, 2, 2, 2])
            text = c1.text_input("Action", item.text, key=f"fishbone_action_text_{key}")
            owner = c2.text_input("Owner", item.owner, key=f"fishbone_action_owner_{key}")
            due = c3.date_input("Due", item.due, key=f"fishbone_action_due_{key}")
            status = c4.selectbox("Status", statuses, index=statuses.index(item.status),
                                  key=f"fishbone_action_status_{key}",
                                  format_func=lambda s: s.value.replace("_", " "))
            cause = st.selectbox("Cause", cause_ids, key=f"fishbone_action_cause_{key}",
                                 index=cause_ids.index(item.cause_id) if item.cause_id in texts else 0,
                                 format_func=lambda i: "— none" if i == NO_PARENT else texts[i])
            b1, b2 = st.columns([1, 5])
            save = b1.form_submit_button("Save", key=f"fishbone_action_save_{key}")
            drop = b2.form_submit_button("Delete", key=f"fishbone_action_drop_{key}")
        if save:
            apply(lambda: ai.update_action_item(store, item.id, version=version, text=text, owner=owner,
                                                due=due, status=status,
                                                cause_id=None if cause == NO_PARENT else cause), "Action saved.",
                  reset=("action", item.id))
        if drop:
            apply(lambda: ai.delete_action_item(store, item.id, version=version), "Action deleted.",
                  reset=("action", item.id))
    with st.form("fishbone_action_add_form"):
        c1, c2, c3 = st.columns([4, 2, 2])
        text = c1.text_input("New action item", key="fishbone_action_add_text")
        owner = c2.text_input("Owner", key="fishbone_action_add_owner")
        due = c3.date_input("Due", None, key="fishbone_action_add_due")
        cause = st.selectbox("Cause", cause_ids, key="fishbone_action_add_cause",
                             index=cause_ids.index(st.session_state.get(SELECTED))
                             if st.session_state.get(SELECTED) in texts else 0,
                             format_func=lambda i: "— none" if i == NO_PARENT else texts[i])
        if st.form_submit_button("Add action item"):
            apply(lambda: ai.add_action_item(store, fishbone.incident_id, text=text, owner=owner, due=due,
                                             cause_id=None if cause == NO_PARENT else cause), "Action added.")


def export_panel(fishbone: fb.Fishbone, incident: Incident) -> None:
    st.caption("Markdown outline (with a Mermaid diagram), Mermaid alone, JSON (loadable again), SVG or PNG.")
    if incident.bundle_path and st.button("Save fishbone.json into the incident bundle", key="fishbone_to_bundle"):
        try:
            path = write_bundle_fishbone(fishbone, incident.bundle_path)
            st.success(f"Written to {path}")
        except WorkbenchError as exc:
            state.show_error(exc, "Not written.")
    cols = st.columns(5)
    for col, fmt, mime in zip(cols, ("md", "mermaid", "json"), ("text/markdown", "text/plain", "application/json")):
        col.download_button(f"{fmt.upper()}", export_fishbone(fishbone, fmt), file_name=export_filename(fishbone, fmt),
                            mime=mime, key=f"fishbone_dl_{fmt}", on_click="ignore")
    if cols[3].button("Render SVG + PNG", key="fishbone_render"):
        try:
            with st.spinner("Rendering with headless Chromium…"):
                st.session_state["fishbone_images"] = (fishbone.revision, fishbone_images(
                    fishbone, presentation=state.presentation_mode()))
        except WorkbenchError as exc:
            state.show_error(exc, "Image export failed.")
    stored = st.session_state.get("fishbone_images")
    if stored and stored[0] == fishbone.revision:
        with cols[4]:
            for fmt, mime in (("svg", "image/svg+xml"), ("png", "image/png")):
                st.download_button(f"Download {fmt.upper()}", stored[1][fmt], mime=mime, on_click="ignore",
                                   file_name=export_filename(fishbone, fmt), key=f"fishbone_dl_{fmt}")


@st.fragment
def live(store: Store, incident: Incident, fit_width: int = 1100) -> None:
    """Everything that changes with others' edits, as a fragment: a save reruns only this part.

    Others' edits arrive through the app-wide refresh (``ui.presence``), which looks at the
    incident's shared revision every few seconds and reruns the page only when it changed; a
    timed rerun of this whole part would rebuild the diagram and every editor for nothing.
    """
    try:
        fishbone = fb.get_fishbone(store, incident.id)
    except WorkbenchError as exc:
        state.show_error(exc, "The fishbone cannot be loaded.")
        return
    seen = st.session_state.get(SEEN)
    if seen and seen[0] == incident.id and seen[1] != fishbone.revision \
            and not st.session_state.get(FLASH, (None, None, False))[2]:  # no fresh message of our own change
        st.toast("The fishbone was updated.")
    st.session_state[SEEN] = (incident.id, fishbone.revision)
    _show_flash()
    problem_editor(store, fishbone)
    diagram(fishbone, fit_width)
    st.caption(f"{len(fishbone.causes)} causes · {len(fishbone.whys)} why steps · {len(fishbone.actions)} action items"
               f" · live: others' changes appear within {int(REFRESH.total_seconds())} s")
    options = _evidence_options(store, incident.id)
    tabs = st.tabs(["Cause", "Add a cause", "Five Whys", "Action items", "Categories", "Export"])
    with tabs[0]:
        picked = cause_picker(fishbone)
        if picked is None:
            st.info("No causes yet: add the first one in “Add a cause”.")
        else:
            cause_editor(store, fishbone, fishbone.cause(picked), options)
    with tabs[1]:
        add_cause_form(store, fishbone, options)
    with tabs[2]:
        whys_editor(store, fishbone, options)
    with tabs[3]:
        actions_editor(store, fishbone)
    with tabs[4]:
        categories_editor(store, fishbone)
    with tabs[5]:
        export_panel(fishbone, incident)
