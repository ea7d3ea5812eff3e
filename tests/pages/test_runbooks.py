"""AppTest of the Runbooks page, and of runbooks, similar incidents, guard rails and recurrence on the
Incidents and Triage pages."""

from __future__ import annotations

from urllib.parse import unquote

from core.prevention.runbooks import RunbookContent
from core.store import open_store
from core.store.action_items import add_action_item, guard_rail_links
from core.store.runbooks import get_runbook, list_versions, save_runbook

PAGE = "app_pages/runbooks.py"


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def _links(at) -> list:
    return [e.proto for e in at.get("page_link")]


def test_page_shows_the_entry_named_in_the_link_with_its_workbench_links(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale", runbooks_pattern="stale_data")
    assert not at.exception and not at.error
    assert at.title[0].value == "Runbooks"
    assert at.selectbox(key="runbooks_pattern").value == "stale_data"
    assert at.subheader[0].value.startswith("Stale feature feed")
    assert any("1. **data**" in m.value for m in at.markdown)
    timeline = next(p for p in _links(at) if p.label == "Pipeline runs around the onset")
    assert "incident=demo-fraud-stale" in timeline.query_string
    assert "timeline_kinds=data_pipeline&timeline_kinds=alert" in timeline.query_string
    assert at.get("download_button")


def test_an_unknown_runbook_in_the_link_says_so(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale", runbooks_pattern="no_such_pattern")
    assert not at.exception
    assert "There is no runbook 'no_such_pattern'" in at.error[0].value


def test_edit_saves_a_new_version_and_a_stale_save_keeps_the_typed_text(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-fraud-stale", runbooks_pattern="data_drift")
    form_title = next(t for t in at.text_input if t.label == "Title")
    form_title.set_value("Drift, as we handle it")
    next(t for t in at.text_area if t.label.startswith("Checks")).set_value(
        "infrastructure: routing\ndata: drift of every feature")
    submit = next(b for b in at.button if b.label == "Save as a new version")
    submit.click().run()
    assert not at.exception and not at.error
    store = _store(workbench_home)
    book = get_runbook(store, "data_drift")
    assert book.version == 2 and book.title == "Drift, as we handle it"
    assert [c.stage for c in book.content.checks] == ["data", "infrastructure"]
    # someone else saves version 3 while this editor still shows version 2
    save_runbook(store, "data_drift", RunbookContent(title="Theirs"), version=2, author="bo")
    store.dispose()
    next(t for t in at.text_input if t.label == "Title").set_value("Mine, typed meanwhile")
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert any("changed by someone else" in e.value for e in at.error)
    assert next(t for t in at.text_input if t.label == "Title").value == "Mine, typed meanwhile"
    store = _store(workbench_home)
    assert [v.version for v in list_versions(store, "data_drift")] == [3, 2, 1]
    store.dispose()


def test_versions_tab_reads_an_old_version(app_test, workbench_home):
    store = _store(workbench_home)
    book = get_runbook(store, "infrastructure")
    save_runbook(store, "infrastructure", RunbookContent(title="Newer text"), version=book.version, author="ana")
    store.dispose()
    at = app_test(PAGE, incident="demo-fraud-stale", runbooks_pattern="infrastructure")
    at.selectbox(key="runbooks_version_infrastructure").set_value(1).run()
    assert not at.exception
    assert [s.value for s in at.subheader][:2] == ["Newer text", book.title]


def test_incidents_page_similar_incidents_guard_rails_add_to_runbook_and_recurrence(app_test, workbench_home):
    store = _store(workbench_home)
    item = add_action_item(store, "demo-schema-change", text="Contract on lab_results columns")
    store.dispose()
    at = app_test("app_pages/incidents.py", incident="demo-schema-change")
    assert not at.exception
    assert any(m.value == "#### Similar past incidents" for m in at.markdown)
    assert any("Compared by class Schema change, service lab-scorer" in c.value for c in at.caption)
    # link the action item to a guard rail; a malformed one is refused with the form of the answer
    box = next(t for t in at.text_input if t.label == "Prevents (guard rail)")
    next(s for s in at.selectbox if s.label == "Action item").set_value(item.id)
    box.set_value("an alert")
    next(b for b in at.button if b.label == "Link guard rail").click().run()
    assert any("rule:<alert name>" in e.value for e in at.error)
    next(t for t in at.text_input if t.label == "Prevents (guard rail)").set_value("contract:lab_results")
    next(b for b in at.button if b.label == "Link guard rail").click().run()
    assert not at.error
    store = _store(workbench_home)
    assert [l.prevents for l in guard_rail_links(store, "demo-schema-change")] == ["contract:lab_results"]
    store.dispose()
    next(b for b in at.button if b.label.startswith("Add to runbook")).click().run()
    assert any("Created runbook schema_change/lab-scorer (version 1)" in s.value for s in at.success)
    assert any("runbooks_pattern=schema_change/lab-scorer" in unquote(p.query_string) for p in _links(at))
    table = next(d.value for d in at.dataframe if "per month before" in d.value.columns)
    row = table[table["pattern"] == "schema_change/lab-scorer"].iloc[0]
    assert row["guard rail"] == "contract:lab_results" and row["shipped"] == "not yet"


def test_triage_links_each_hypothesis_to_its_runbook_and_offers_add_to_runbook(app_test):
    at = app_test("app_pages/triage.py", incident="demo-schema-change", timeout=120)
    at.button(key="triage_run").click().run()
    assert not at.exception
    runbook_links = [p for p in _links(at) if p.label == "Runbook"]
    assert len(runbook_links) == 6
    assert any("runbooks_pattern=schema_change" in unquote(p.query_string) for p in runbook_links)
    assert at.selectbox(key="triage_runbook_cause").value.value == "schema_change"
    at.button(key="triage_add_runbook").click().run()
    assert any("runbook schema_change/lab-scorer" in s.value for s in at.success)
    assert any(m.value == "#### Similar past incidents" for m in at.markdown)


def test_without_a_link_the_page_opens_on_the_incidents_runbook(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    assert at.selectbox(key="runbooks_pattern").value == "stale_data"
