"""AppTest of the app shell and the Incidents page: list, create, edit, URL state and bad input."""

from __future__ import annotations

from core.store import open_store
from core.store.incidents import get_incident, update_incident


def _incident_table(at):
    return next(d.value for d in at.dataframe if "title" in d.value.columns and "severity" in d.value.columns)


def _texts(at) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.error] + [e.value for e in at.warning]
    parts += [e.value for e in at.info] + [e.value for e in at.success]
    return "\n".join(str(p) for p in parts)


def test_incidents_page_lists_demo_incidents(app_test):
    at = app_test()
    assert not at.exception
    assert at.title[0].value == "Incidents"
    df = _incident_table(at)
    assert set(df["id"]) == {"demo-schema-change", "demo-ctr-drop", "demo-fraud-stale", "demo-image-downscale"}
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Incidents"] == "4"
    assert metrics["TTD median"] != "—"


def test_search_and_filter(app_test):
    at = app_test()
    at.text_input(key="incidents_q").input("fraud").run()
    assert list(_incident_table(at)["id"]) == ["demo-fraud-stale"]
    at.text_input(key="incidents_q").input("").run()
    at.multiselect(key="incidents_status").select("investigating").run()
    assert list(_incident_table(at)["id"]) == ["demo-ctr-drop"]
    at.multiselect(key="incidents_sev").select("SEV1").run()
    assert "No incident matches" in _texts(at)


def test_create_incident_through_the_form(app_test, workbench_home):
    at = app_test()
    form_inputs = [t for t in at.text_input if t.label == "Title" and t.value == ""]
    form_inputs[0].input("Latency spike in scorer")
    at.button(key="FormSubmitter:incidents_new-Create incident").click().run()
    assert not at.exception
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    from core.store.incidents import list_incidents

    titles = [i.title for i in list_incidents(store)]
    assert "Latency spike in scorer" in titles
    assert at.query_params["incident"].startswith("INC-")


def test_create_confirms_clears_the_form_and_a_second_click_makes_no_duplicate(app_test, workbench_home):
    from core.store.incidents import list_incidents

    at = app_test()
    at.text_input(key="incidents_new_title").input("Scorer p99 latency doubled")
    at.text_input(key="incidents_new_service").input("scorer")
    at.button(key="FormSubmitter:incidents_new-Create incident").click().run()
    assert not at.exception
    created = at.query_params["incident"]
    assert any(f"Created {created}" in s.value for s in at.success)
    assert at.text_input(key="incidents_new_title").value == ""
    assert at.text_input(key="incidents_new_service").value == ""
    at.run()  # the confirmation stays until the next attempt
    assert any(f"Created {created}" in s.value for s in at.success)
    # a double click sends the same values again: nothing new is created
    at.text_input(key="incidents_new_title").input("Scorer p99 latency doubled")
    at.text_input(key="incidents_new_service").input("scorer")
    at.button(key="FormSubmitter:incidents_new-Create incident").click().run()
    assert any("no duplicate was made" in i.value for i in at.info)
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    assert [i.title for i in list_incidents(store)].count("Scorer p99 latency doubled") == 1
    store.dispose()


def test_default_incident_is_the_open_one_and_triage_is_one_click_away(app_test):
    at = app_test()
    # two demo incidents are open (ctr-drop investigating, image-downscale mitigated): the most recent one
    assert at.session_state["app_incident"] == "demo-image-downscale"
    links = [link for link in at.get("page_link") if "triage" in link.proto.page]
    assert links and "Run triage" in links[0].proto.label


def test_create_without_title_is_refused(app_test):
    at = app_test()
    at.button(key="FormSubmitter:incidents_new-Create incident").click().run()
    assert "needs a title" in _texts(at)


def test_edit_incident_and_milestones(app_test, workbench_home):
    at = app_test(incident="demo-ctr-drop")
    key = "incidents_edit_demo-ctr-drop_1"
    started = [t for t in at.text_input if t.label == "Started"][0]
    started.input("2026-03-12 14:20")
    [t for t in at.text_input if t.label == "Incident commander"][0].input("Ana (IC)")
    at.button(key=f"FormSubmitter:{key}-Save changes").click().run()
    assert not at.exception, at.exception
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    inc = get_incident(store, "demo-ctr-drop")
    assert inc.version == 2 and inc.roles["incident_commander"] == "Ana (IC)"
    assert inc.milestone("started").isoformat() == "2026-03-12T14:20:00+00:00"
    assert inc.durations()["TTD"] is not None


def test_stale_edit_is_refused_and_input_kept(app_test, workbench_home):
    at = app_test(incident="demo-ctr-drop")
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    update_incident(store, "demo-ctr-drop", version=1, summary="someone else's edit")
    title = [t for t in at.text_input if t.label == "Title"][0]
    title.input("My new title")
    at.button(key="FormSubmitter:incidents_edit_demo-ctr-drop_1-Save changes").click().run()
    text = _texts(at)
    assert "changed by someone else" in text and "Your values are still in the form" in text
    assert [t for t in at.text_input if t.label == "Title"][0].value == "My new title"
    assert get_incident(store, "demo-ctr-drop").summary == "someone else's edit"
    # the form stays the one opened (never re-created under the person typing), with a notice above it
    notice = [w.value for w in at.warning if "changed after you opened this form" in w.value]
    assert notice and "now version 2" in notice[0]
    at.button(key="incidents_reload_demo-ctr-drop").click().run()
    assert not [w for w in at.warning if "changed after you opened this form" in w.value]
    assert any(t.value == "someone else's edit" for t in at.text_area)


def test_bad_milestone_text_is_refused(app_test):
    at = app_test(incident="demo-ctr-drop")
    [t for t in at.text_input if t.label == "Detected"][0].input("next tuesday")
    at.button(key="FormSubmitter:incidents_edit_demo-ctr-drop_1-Save changes").click().run()
    assert "Not saved" in _texts(at) and "milestone 'detected'" in _texts(at)


def test_unknown_incident_in_url(app_test):
    at = app_test(incident="no-such-incident")
    assert not at.exception
    assert "does not exist" in _texts(at)


def test_malformed_time_range_in_url(app_test):
    at = app_test(incident="demo-ctr-drop", **{"from": "yesterday", "to": "2026-03-14T00:00Z"})
    assert not at.exception
    assert "time range was ignored" in _texts(at)


def test_time_range_from_url_is_used(app_test):
    at = app_test(incident="demo-ctr-drop", **{"from": "2026-03-12T00:00:00Z", "to": "2026-03-13T00:00:00Z"})
    values = {t.label: t.value for t in at.sidebar.text_input}
    assert values["From (UTC)"] == "2026-03-12 00:00" and values["To (UTC)"] == "2026-03-13 00:00"


def test_sidebar_range_edit_updates_url(app_test):
    at = app_test(incident="demo-ctr-drop")
    [t for t in at.sidebar.text_input if t.label == "From (UTC)"][0].input("2026-03-12 06:00").run()
    assert at.query_params["from"] == "2026-03-12T06:00:00Z"
    [t for t in at.sidebar.text_input if t.label == "To (UTC)"][0].input("2026-03-01 00:00").run()
    assert "Time range not changed" in "\n".join(e.value for e in at.sidebar.error)


def test_store_that_cannot_open(app_test, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/dir/x.db")
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "incident store is unavailable" in _texts(at)


def test_presentation_mode_masks_values_on_every_page(app_test, workbench_home):
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    from core.store.incidents import create_incident

    create_incident(store, id="leak", title="Key sk-live-4f9a8b7c6d5e4f3a2b1c0d9e leaked by ops@example.com",
                    service="10.1.2.3")
    at = app_test()
    table = _incident_table(at)
    assert "ops@example.com" in " ".join(table["title"])
    at.session_state["app_present"] = True
    at.run()
    shown = _incident_table(at)
    text = " ".join(shown["title"]) + " " + " ".join(shown["service"])
    assert "ops@example.com" not in text and "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e" not in text and "10.1.2.3" not in text
    assert "leaked by" in text  # only the sensitive values are masked
    at.switch_page("app_pages/timeline.py").run()
    assert not at.exception


def test_markdown_in_a_title_is_shown_literally_on_every_page(app_test, workbench_home):
    from core.store.incidents import create_incident

    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    inc = create_incident(store, title="**CTR** down [see](http://x) #1", service="web")
    store.dispose()
    for page in ("timeline", "fishbone", "triage", "models", "postmortem"):
        at = app_test(f"app_pages/{page}.py", incident=inc.id)
        assert not at.exception, page
        caption = next(c.value for c in at.caption if c.value.startswith(inc.id))
        assert "\\*\\*CTR\\*\\* down \\[see\\]\\(http://x\\) \\#1" in caption, (page, caption)
