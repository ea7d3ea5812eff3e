"""AppTest of team mode in the single-user default: the sidebar says so, the role board and handover,
the audit log with its downloads, and presence in the sidebar."""

from __future__ import annotations

from core.store import open_store
from core.store.audit import list_audit
from core.store.incidents import get_incident
from core.store.presence import heartbeat, present
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
    # a rerun (the page's timer, another person's edit) keeps the confirmation
    at.run()
    assert "Scribe: nobody → Dana. The handover is on the timeline" in _texts(at)
    # nor does the summary field reporting a value again (its old text arriving late, or a new one)
    at.text_area(key="team_handover_summary").input("next one").run()
    assert "Scribe: nobody → Dana. The handover is on the timeline" in _texts(at)
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


def test_presence_shows_each_person_once_with_their_tabs(app_test, workbench_home):
    store = _store(workbench_home)
    try:
        for sid, page in (("ann-1", "timeline"), ("ann-2", "fishbone")):
            heartbeat(store, sid, user="ann@example.com", name="Ann Analyst", role="responder", incident_id=INCIDENT,
                      page=page)
        heartbeat(store, "me-elsewhere", user="local", role="commander", incident_id=INCIDENT, page="logs")
    finally:
        store.dispose()
    at = app_test(incident=INCIDENT)
    assert not at.exception
    side = [str(c.value) for c in at.sidebar.caption] + [str(m.value) for m in at.sidebar.markdown]
    assert "**Here now** · 2 people on this incident" in side
    ann = [c for c in side if c.startswith("Ann Analyst")]
    assert ann == ["Ann Analyst · responder · fishbone, timeline · 2 tabs"]  # the latest page first
    mine = [c for c in side if "(you)" in c]
    assert len(mine) == 1 and mine[0].startswith("local (you) · commander · ")
    assert "2 tabs" in mine[0] and "logs" in mine[0] and "incidents" in mine[0]


def test_a_shared_store_without_sign_in_warns_that_anyone_can_edit(workbench_home, pg_url, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.demo import DEMO_IDS
    from core.store.incidents import create_incident
    from tests.pages.conftest import ROOT

    store = open_store(pg_url)
    try:  # the demo incidents are there (their bundles are in the home), so nothing is built in the background
        for demo in DEMO_IDS:
            create_incident(store, id=demo, title=demo)
    finally:
        store.dispose()
    monkeypatch.setenv("DATABASE_URL", pg_url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    side = " ".join(str(w.value) for w in at.sidebar.warning)
    main = " ".join(str(w.value) for w in at.main.warning)
    for text in (side, main):
        assert "anyone who can reach this workbench can change everything" in text
        assert "[auth]" in text and "docs/team.md" in text
    assert "Single-user mode" not in " ".join(str(c.value) for c in at.sidebar.caption)


def test_a_typed_handover_summary_survives_a_reload_until_it_is_handed_over(app_test, workbench_home):
    from core.store.drafts import get_draft

    summary = "Rollback half done; the feature store backfill finishes at 11:00, then re-check CTR"
    at = app_test(incident=INCIDENT)
    at.text_area(key="team_handover_summary").input(summary).run()
    reloaded = app_test(incident=INCIDENT)  # a new browser session, as after a reload of the tab
    assert not reloaded.exception
    assert reloaded.text_area(key="team_handover_summary").value == summary
    assert "Your unsent summary from before the reload is back." in _texts(reloaded)
    reloaded.text_input(key="team_handover_to").input("Dana")
    reloaded.button(key="team_handover_go").click().run()
    assert "The handover is on the timeline" in _texts(reloaded)
    store = _store(workbench_home)
    try:
        assert get_draft(store, "local", f"handover:{INCIDENT}") == ""
    finally:
        store.dispose()
    assert app_test(incident=INCIDENT).text_area(key="team_handover_summary").value == ""


def test_a_handover_shows_typed_names_as_text(app_test):
    at = app_test(incident=INCIDENT)
    at.text_input(key="team_handover_to").input("![x](http://198.51.100.7/x.png) <b>Eve</b>")
    at.text_area(key="team_handover_summary").input("Rollback running, CTR recovering; next check at 10:30")
    at.button(key="team_handover_go").click().run()
    shown = next(s.value for s in at.success if "The handover is on the timeline" in s.value)
    assert "![x](" not in shown and "<b>" not in shown and "Eve" in shown

