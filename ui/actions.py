"""Action items of an incident: add them, edit them in a table, see what is overdue."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.errors import ConcurrentEditError, WorkbenchError
from core.models import ActionStatus, Incident
from core.store import Store
from core.store.action_items import add_action_item, list_action_items, update_action_item
from core.store.fishbone import get_fishbone

STATUSES = [s.value for s in ActionStatus]


def _cause_labels(store: Store, incident_id: str) -> dict[int, str]:
    fb = get_fishbone(store, incident_id)
    return {c.id: c.text for c in fb.causes}


def section(store: Store, incident: Incident) -> None:
    st.subheader("Action items")
    causes = _cause_labels(store, incident.id)
    items = list_action_items(store, incident.id)
    today = date.today()
    if items:
        frame = pd.DataFrame([{
            "id": i.id, "version": i.version, "text": i.text, "owner": i.owner, "due": i.due,
            "status": i.status.value, "cause": causes.get(i.cause_id, "") if i.cause_id else "",
            "overdue": bool(i.due and i.due < today and i.status.value in ("open", "in_progress")),
        } for i in items])
        edited = st.data_editor(
            frame, key=f"incidents_actions_{incident.id}", hide_index=True, width="stretch",
            disabled=["id", "version", "cause", "overdue"],
            column_config={
                "id": None, "version": None,
                "text": st.column_config.TextColumn("Action", width="large", required=True),
                "due": st.column_config.DateColumn("Due"),
                "status": st.column_config.SelectboxColumn("Status", options=STATUSES, required=True),
                "overdue": st.column_config.CheckboxColumn("Overdue"),
            },
        )
        if st.button("Save action items", key=f"incidents_actions_save_{incident.id}"):
            _save(store, frame, edited)
    else:
        st.caption("No action items yet.")
    with st.form(f"incidents_action_new_{incident.id}", clear_on_submit=True):
        c1, c2, c3, c4 = st.columns([3, 1, 1, 2])
        text = c1.text_input("New action item", placeholder="e.g. Alert on feature freshness > 2 h")
        owner = c2.text_input("Owner")
        due = c3.date_input("Due", value=None)
        cause = c4.selectbox("Linked cause", [None, *causes], format_func=lambda c: "—" if c is None else causes[c])
        if st.form_submit_button("Add action item"):
            try:
                add_action_item(store, incident.id, text=text, owner=owner, due=due, cause_id=cause)
                st.toast("Action item added")
                st.rerun()
            except WorkbenchError as exc:
                st.error(f"Not added: {exc}")


def _save(store: Store, before: pd.DataFrame, after: pd.DataFrame) -> None:
    saved, problems = 0, []
    for (_, old), (_, new) in zip(before.iterrows(), after.iterrows()):
        changes = {k: new[k] for k in ("text", "owner", "due", "status") if _differs(old[k], new[k])}
        if not changes:
            continue
        if "due" in changes and pd.isna(changes["due"]):
            changes["due"] = None
        try:
            update_action_item(store, int(old["id"]), version=int(old["version"]), **changes)
            saved += 1
        except ConcurrentEditError as exc:
            problems.append(f"“{old['text']}”: {exc}")
        except WorkbenchError as exc:
            problems.append(f"“{old['text']}”: {exc}")
    for p in problems:
        st.error(p)
    if saved and not problems:
        st.toast(f"Saved {saved} action item(s)")
        st.rerun()
    elif saved:
        st.success(f"Saved {saved} action item(s); the others were not saved (above).")


def _differs(a, b) -> bool:
    if (a is None or (not isinstance(a, str) and pd.isna(a))) and (b is None or (not isinstance(b, str) and pd.isna(b))):
        return False
    return a != b
