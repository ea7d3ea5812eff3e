"""AppTest of the Timeline page: the demo story, add, edit (with history) and filter."""

from __future__ import annotations

from datetime import date, time

from core.store import open_store
from core.store.timeline import event_history, get_event, list_events, update_event

PAGE = "app_pages/timeline.py"


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def _changes(at):
    return next(df for df in at.dataframe if "before onset" in df.value.columns).value


def test_demo_timeline_tells_the_story(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    assert at.title[0].value == "Timeline"
    table = _changes(at)
    assert table.iloc[0]["title"] == "recs-ranker v42 promoted to champion"
    assert any("detected KPI change point" in m.value for m in at.markdown)


def test_schema_demo_top_change(app_test):
    at = app_test(PAGE, incident="demo-schema-change")
    assert not at.exception
    # the upstream release that renamed the column, the dbt staging model it changed (from dbt/) and the
    # Delta table version whose schema it changed (from datasets/)
    assert set(_changes(at)["title"].iloc[:3]) == {
        "Upstream lab-results export v2 released", "dbt: stg_lab_results changed",
        "Delta table lab_results version 2: schema changed (added radius_mean; removed mean radius) and contents overwritten"}
    assert any("TTD" in c.value for c in at.caption)


def test_add_edit_and_filter(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.text_input(key="timeline_author").input("ana").run()
    at.text_input(key="timeline_add_title").input("War room opened")
    at.date_input(key="timeline_add_date").set_value(date(2026, 3, 13))
    at.time_input(key="timeline_add_time").set_value(time(9, 30))
    at.button[[b.label for b in at.button].index("Add to timeline")].click().run()
    assert not at.exception
    store = _store(workbench_home)
    added = [e for e in list_events(store, "demo-ctr-drop") if e.title == "War room opened"]
    assert len(added) == 1 and added[0].author == "ana" and added[0].kind.value == "annotation"
    assert added[0].timestamp.isoformat() == "2026-03-13T09:30:00+00:00"

    # edit it in place with the event form; the revision keeps who changed what
    at.selectbox(key="timeline_edit_pick").set_value(added[0].id).run()
    at.text_input(key=f"timeline_edit_title_{added[0].id}_0").input("War room opened (bridge 2)")
    at.button[[b.label for b in at.button].index("Save event")].click().run()
    assert not at.exception
    edited = [e for e in list_events(store, "demo-ctr-drop") if e.id == added[0].id][0]
    assert edited.title == "War room opened (bridge 2)" and edited.version == 2
    history = event_history(store, edited.id)
    assert history[0]["author"] == "ana" and history[0]["before"]["title"] == "War room opened"
    assert any("War room opened" in t.value and "ana" in t.value for t in at.text)

    # someone else saves first: this save is refused, says so, and keeps what was typed
    update_event(store, edited.id, version=edited.version, title="Bridge moved to room 3")
    at.text_input(key=f"timeline_edit_title_{edited.id}_1").input("War room opened (bridge 2, 40 people)")
    at.button[[b.label for b in at.button].index("Save event")].click().run()
    assert not at.exception
    refused = [e.value for e in at.error if "changed by someone else" in e.value]
    assert refused and "Bridge moved to room 3" in refused[0].replace("\\", "")
    assert at.text_input(key=f"timeline_edit_title_{edited.id}_1").value == "War room opened (bridge 2, 40 people)"
    assert get_event(store, edited.id).title == "Bridge moved to room 3"
    at.button[[b.label for b in at.button].index("Save event")].click().run()  # saving again applies it knowingly
    edited = get_event(store, edited.id)
    assert edited.title == "War room opened (bridge 2, 40 people)" and edited.version == 4

    # someone else saves while the form is open: the form is not re-created under the person typing in
    # it (a form's typed text reaches the server only on submit); a notice offers their version
    update_event(store, edited.id, version=edited.version, title="Bridge moved again")
    at.run()
    form_title = at.text_input(key=f"timeline_edit_title_{edited.id}_2")  # drawn anew after the save
    assert form_title.value == "War room opened (bridge 2, 40 people)"
    notice = [w.value for w in at.warning if "Someone else changed this event" in w.value]
    assert notice and "Bridge moved again" in notice[0]
    at.button(key=f"timeline_edit_fresh_{edited.id}_2").click().run()
    assert at.text_input(key=f"timeline_edit_title_{edited.id}_3").value == "Bridge moved again"
    assert not [w for w in at.warning if "Someone else changed this event" in w.value]

    # filter: only annotations remain in the editable table and the export
    at.multiselect(key="timeline_kinds").set_value(["annotation"]).run()
    assert not at.exception
    ids = [o for o in at.selectbox(key="timeline_edit_pick").options]
    assert ids == [f"#{edited.id} · Bridge moved again"]
    store.dispose()


def test_new_entry_defaults_to_the_incident_window_confirms_clears_and_is_not_added_twice(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-schema-change")
    assert at.date_input(key="timeline_add_date").value == date(2026, 1, 21)  # impact start, not today
    assert at.time_input(key="timeline_add_time").value == time(9, 0)
    at.text_input(key="timeline_add_title").input("Rolled back the export mapping")
    add = [b.label for b in at.button].index("Add to timeline")
    at.button[add].click().run()
    assert not at.exception
    assert any("Added 'Rolled back the export mapping' at 2026-01-21 09:00 UTC" in s.value for s in at.success)
    assert at.text_input(key="timeline_add_title").value == ""
    # a double click submits the same entry again: it is not added twice
    at.text_input(key="timeline_add_title").input("Rolled back the export mapping")
    at.button[add].click().run()
    assert any("not added twice" in s.value for s in at.success)
    titles = [e.title for e in list_events(_store(workbench_home), "demo-schema-change")]
    assert titles.count("Rolled back the export mapping") == 1


def test_a_routine_job_that_stopped_is_flagged_on_the_first_screen(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    summary = next(m.value for m in at.markdown if "runs stopped at" in m.value)
    assert "account\\-features\\-refresh: runs stopped at 02:05" in summary
    # it sits above the chart, not in a tab further down
    assert not any("runs stopped at" in m.value for tab in at.tabs for m in tab.markdown)


def test_add_without_title_shows_error_and_keeps_page(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-schema-change")
    before = len(list_events(_store(workbench_home), "demo-schema-change"))
    at.button[[b.label for b in at.button].index("Add to timeline")].click().run()
    assert not at.exception
    assert any("needs a title" in e.value for e in at.error)
    assert len(list_events(_store(workbench_home), "demo-schema-change")) == before


def test_pin_ranking_as_evidence(app_test, workbench_home):
    from core.store.evidence import list_evidence

    at = app_test(PAGE, incident="demo-schema-change")
    at.button(key="timeline_pin_changes").click().run()
    assert not at.exception
    pinned = list_evidence(_store(workbench_home), "demo-schema-change")
    assert pinned[-1].kind == "changes"
    assert [c["event"]["title"] for c in pinned[-1].result["changes"]][:2] == list(_changes(at)["title"].iloc[:2])
    assert "Upstream lab-results export v2 released" in {c["event"]["title"] for c in pinned[-1].result["changes"][:3]}
