"""AppTest of team mode in the single-user default: the sidebar says so, the role board and handover,
the audit log with its downloads, and presence in the sidebar."""

from __future__ import annotations

from core.store import open_store
from core.store.audit import list_audit
from core.store.incidents import get_incident
from core.store.presence import present
from core.store.timeline import list_events

INCIDENT = "demo-ctr-drop"


def _texts(at) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.error]
    parts += [e.value for e in at.success] + [e.value for e in at.info] + [e.value for e in at.warning]
    return "\n".join(str(p) for p in parts)


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def test_single_user_mode_says_so_and_shows_presence(app_test, workbench_home):
    at = app_test(incident=INCIDENT)
    assert not at.exception
    sidebar = "\n".join(str(c.value) for c in at.sidebar.caption) + "\n".join(str(m.value) for m in at.sidebar.markdown)
    assert "Single-user mode" in sidebar and "incident commander" in sidebar
    assert "Here now" in sidebar
    store = _store(workbench_home)
    try:
        (me,) = present(store, INCIDENT)
        assert (me.user, me.role, me.page) == ("local", "commander", "incidents")
    finally:
        store.dispose()


def test_role_board_handover_keeps_typed_values_on_error_and_records_everything(app_test, workbench_home):
    at = app_test(incident=INCIDENT)
    board = next(d.value for d in at.dataframe if "ICS role" in d.value.columns)
    assert "Subject-matter experts" in list(board["ICS role"])
    at.selectbox(key="team_handover_role").select("scribe")
    at.text_input(key="team_handover_to").input("Dana")
    at.text_area(key="team_handover_summary").input("too short")
    at.button(key="team_handover_go").click().run()
    assert not at.exception
    assert "summary of at least 20 characters" in _texts(at)
    assert at.text_input(key="team_handover_to").value == "Dana"
    assert at.text_area(key="team_handover_summary").value == "too short"
    summary = "Rollback running, CTR recovering; next check at 10:30 with the model owner"
    at.text_area(key="team_handover_summary").input(summary)
    at.button(key="team_handover_go").click().run()
    assert not at.exception
    assert "The handover is on the timeline" in _texts(at)
    store = _store(workbench_home)
    try:
        assert get_incident(store, INCIDENT).roles["scribe"] == "Dana"
        assert any(e.title.startswith("Scribe handed over") and e.details["summary"] == summary
                   for e in list_events(store, INCIDENT))
        last = list_audit(store, INCIDENT)[-1]
        assert (last.user, last.object_type, last.via) == ("local", "handovers", "page:incidents")
    finally:
        store.dispose()
    handovers = next(d.value for d in at.dataframe if "summary" in d.value.columns and "to" in d.value.columns)
    assert list(handovers["to"]) == ["Dana"]


def test_audit_log_lists_changes_with_downloads(app_test, workbench_home):
    at = app_test(incident=INCIDENT)
    at.text_input(key="team_handover_to").input("Eve")
    at.text_area(key="team_handover_summary").input("Command handed to Eve for the night shift")
    at.button(key="team_handover_go").click().run()
    at.run()
    audit = next(d.value for d in at.dataframe if "who" in d.value.columns and "from" in d.value.columns)
    assert audit.iloc[0]["who"] == "local" and "handover" in audit.iloc[0]["what"]
    assert audit.iloc[0]["from"] == "page:incidents"
    labels = [b.label for b in at.get("download_button")]
    assert "Download CSV" in labels and "Download JSON" in labels
