"""AppTest of the Fishbone page: the pre-drawn demo, adding and editing causes, stale edits, categories."""

from __future__ import annotations

import pytest

from core.demo.fishbones import seed_demo_fishbone
from core.store import action_items as ai
from core.store import fishbone as fb
from core.store import open_store

PAGE = "app_pages/fishbone.py"
ID = "demo-ctr-drop"


@pytest.fixture
def home(workbench_home):
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    seed_demo_fishbone(store, ID)
    store.dispose()
    return workbench_home


@pytest.fixture
def store(home):
    s = open_store(f"sqlite:///{home / 'workbench.db'}")
    yield s
    s.dispose()


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _widget(widgets, prefix):
    """The one widget whose key is ``prefix`` plus the editor's generation suffix."""
    found = [w for w in widgets if w.key and w.key.rsplit("_", 1)[0] == prefix]
    assert len(found) == 1, [w.key for w in widgets]
    return found[0]


def _messages(at):
    return [e.value for e in at.error] + [s.value for s in at.success]


def test_demo_fishbone_is_drawn(app_test, home):
    at = app_test(PAGE, incident=ID)
    assert not at.exception
    assert at.title[0].value == "Fishbone"
    assert any("7 causes" in c.value for c in at.caption)
    assert _widget(at.text_input, f"fishbone_problem_{ID}").value.startswith("Recommendation CTR dropped")
    assert at.get("plotly_chart")
    picked = at.selectbox(key="fishbone_pick")
    assert "recs-ranker v42" in picked.format_func(picked.value)


def test_add_cause_duplicate_and_html_shown_as_text(app_test, store):
    at = app_test(PAGE, incident=ID)
    fishbone = fb.get_fishbone(store, ID)
    infra = next(c for c in fishbone.categories if c.name == "Infrastructure")
    at.text_input(key="fishbone_add_text").input("<b>Cache</b> node evicted **hot** keys")
    at.selectbox(key="fishbone_add_cat").set_value(infra.id)
    _button(at, "Add cause").click().run()
    assert not at.exception
    added = [c for c in fb.get_fishbone(store, ID).causes if "Cache" in c.text]
    assert len(added) == 1 and added[0].text == "<b>Cache</b> node evicted **hot** keys"
    assert added[0].category_id == infra.id
    assert "Cause added." in _messages(at)
    # the same cause again is refused with the reason, and nothing is added
    at.text_input(key="fishbone_add_text").input("<b>cache</b> node evicted **HOT** keys")
    _button(at, "Add cause").click().run()
    assert not at.exception
    assert any("already on the fishbone" in m for m in _messages(at))
    assert len([c for c in fb.get_fishbone(store, ID).causes if "ache" in c.text]) == 1
    # user text never reaches markdown/HTML unescaped
    assert not any("<b>Cache</b>" in m.value for m in at.markdown)


def test_a_refused_save_keeps_its_message_until_the_user_acts(app_test, store):
    at = app_test(PAGE, incident=ID)
    at.text_input(key="fishbone_add_text").input("   ")
    _button(at, "Add cause").click().run()
    assert not at.exception
    refused = [m for m in _messages(at) if "is empty" in m]
    assert refused and refused[0].startswith("**Not saved.**")
    at.run()  # the live refresh reruns the page; the message stays
    at.run()
    assert [m for m in _messages(at) if "is empty" in m] == refused
    _button(at, "Dismiss").click().run()
    assert not [m for m in _messages(at) if "is empty" in m]


def test_edit_cause_and_stale_edit_is_refused_keeping_what_was_typed(app_test, store):
    at = app_test(PAGE, incident=ID)
    cause = next(c for c in fb.get_fishbone(store, ID).causes if "v42" in c.text)
    at.selectbox(key="fishbone_pick").set_value(cause.id).run()
    _widget(at.text_area, f"fishbone_cause_notes_{cause.id}").input("Confirmed by the feature diff.")
    _button(at, "Save cause").click().run()
    assert not at.exception
    saved = fb.get_cause(store, cause.id)
    assert saved.notes == "Confirmed by the feature diff." and saved.version == cause.version + 1

    # another analyst saves first; this editor still shows the old version
    fb.update_cause(store, saved.id, version=saved.version, notes="Changed in the war room.")
    _widget(at.text_area, f"fishbone_cause_notes_{saved.id}").input("My stale edit")
    _button(at, "Save cause").click().run()
    assert not at.exception
    assert any("changed by someone else" in m and "Your entries are kept" in m for m in _messages(at))
    fresh = fb.get_cause(store, saved.id)
    assert fresh.notes == "Changed in the war room."  # nothing lost, nothing overwritten
    assert _widget(at.text_area, f"fishbone_cause_notes_{fresh.id}").value == "My stale edit"  # typed text kept
    _button(at, "Save cause").click().run()  # saving again applies it to the current version
    fresh = fb.get_cause(store, saved.id)
    assert fresh.notes == "My stale edit" and fresh.version == saved.version + 2
    # others' changes never replace an open editor (a form's typed text is not on the server until
    # it is saved): the editor says so and shows their version only when asked
    fb.update_cause(store, fresh.id, version=fresh.version, notes="Third version.")
    at.run()
    assert _widget(at.text_area, f"fishbone_cause_notes_{fresh.id}").value == "My stale edit"
    assert any("Someone else changed this cause" in w.value for w in at.warning)
    _button(at, "Show their version").click().run()
    assert _widget(at.text_area, f"fishbone_cause_notes_{fresh.id}").value == "Third version."
    assert not any("Someone else changed this cause" in w.value for w in at.warning)


def test_typing_while_someone_else_saves_is_never_thrown_away(app_test, store):
    """The war-room case: while one person types, another saves the same cause and the page refreshes."""
    at = app_test(PAGE, incident=ID)
    cause = next(c for c in fb.get_fishbone(store, ID).causes if "v42" in c.text)
    at.selectbox(key="fishbone_pick").set_value(cause.id).run()
    fb.update_cause(store, cause.id, version=cause.version, notes="Saved by the commander.")
    at.run()  # the timed refresh: the editor stays as it was, with a notice
    assert any("Someone else changed this cause" in w.value for w in at.warning)
    _widget(at.text_area, f"fishbone_cause_notes_{cause.id}").input("What I was typing")
    _button(at, "Save cause").click().run()
    assert any("changed by someone else" in m for m in _messages(at))
    assert fb.get_cause(store, cause.id).notes == "Saved by the commander."
    assert _widget(at.text_area, f"fishbone_cause_notes_{cause.id}").value == "What I was typing"
    _button(at, "Save cause").click().run()
    assert fb.get_cause(store, cause.id).notes == "What I was typing"


def test_delete_category_with_causes_asks_then_moves(app_test, store):
    at = app_test(PAGE, incident=ID)
    fishbone = fb.get_fishbone(store, ID)
    code = next(c for c in fishbone.categories if c.name == "Code & config")
    process = next(c for c in fishbone.categories if c.name == "Process & people")
    n = len([c for c in fishbone.causes if c.category_id == code.id])
    assert n == 2
    _widget(at.button, f"fishbone_cat_delete_{code.id}").click().run()
    assert not at.exception
    assert any("2 cause(s) are in this category" in w.value for w in at.warning)
    _widget(at.selectbox, f"fishbone_cat_move_{code.id}").set_value(process.id)
    _widget(at.button, f"fishbone_cat_confirm_{code.id}").click().run()
    assert not at.exception
    after = fb.get_fishbone(store, ID)
    assert "Code & config" not in [c.name for c in after.categories]
    assert len(after.causes) == len(fishbone.causes)
    assert len([c for c in after.causes if c.category_id == process.id]) == n + 1


def test_five_whys_and_action_items(app_test, store):
    at = app_test(PAGE, incident=ID)
    fishbone = fb.get_fishbone(store, ID)
    assert any(t.value == "1  Why? Why did CTR drop?" for t in at.text)
    assert any(t.value == "1.2  Why? Why was it not caught before full rollout?" for t in at.text)  # a branch
    root = next(w for w in fishbone.whys if w.parent_id is None)
    at.selectbox(key="fishbone_why_add_after").set_value(root.id)
    at.text_input(key="fishbone_why_add_q").input("Why did nobody see the shift offline?")
    at.text_input(key="fishbone_why_add_a").input("No offline CTR replay")
    _button(at, "Add step").click().run()
    assert not at.exception
    whys = fb.list_whys(store, ID)
    new = next(w for w in whys if w.question == "Why did nobody see the shift offline?")
    assert new.parent_id == root.id and new.chain == root.chain
    at.text_input(key="fishbone_action_add_text").input("Replay CTR offline before promotion")
    at.text_input(key="fishbone_action_add_owner").input("ana")
    _button(at, "Add action item").click().run()
    assert not at.exception
    items = ai.list_action_items(store, ID)
    assert items[-1].text == "Replay CTR offline before promotion" and items[-1].owner == "ana"


def test_presentation_mode_and_width_choice(app_test, home):
    at = app_test(PAGE, incident=ID)
    at.session_state["app_present"] = True
    at.run()
    assert not at.exception
    chart = at.get("plotly_chart")[0]
    assert '"plotly_dark"' in chart.proto.spec or "#E8E8E8" in chart.proto.spec  # dark, large type
    # switching the diagram width keeps the page working (layout refits, never overlaps)
    width = at.get("button_group")[0]
    width.set_value("Small screen").run()
    assert not at.exception


def test_export_tab_downloads_and_bundle_json(app_test, store, tmp_path):
    from core.store.incidents import get_incident, update_incident

    incident = get_incident(store, ID)
    update_incident(store, ID, version=incident.version, bundle_path=str(tmp_path))
    at = app_test(PAGE, incident=ID)
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert {"MD", "MERMAID", "JSON"} <= set(labels)
    at.button(key="fishbone_to_bundle").click().run()
    assert not at.exception
    assert (tmp_path / "fishbone.json").read_text().startswith("{")


def test_coming_back_to_the_page_shows_and_saves_against_the_current_version(app_test, store):
    """An editor drawn afresh (the person was on another page meanwhile) shows the current values, without
    the changed-by-someone-else notice, and its save is not refused."""
    at = app_test(PAGE, incident=ID)
    cause = next(c for c in fb.get_fishbone(store, ID).causes if "v42" in c.text)
    at.selectbox(key="fishbone_pick").set_value(cause.id).run()
    at.switch_page("app_pages/timeline.py").run()  # away: the editor's fields leave the page
    fb.update_cause(store, cause.id, version=cause.version, notes="Saved while I was on the Timeline.")
    at.switch_page(PAGE).run()
    at.selectbox(key="fishbone_pick").set_value(cause.id).run()
    assert _widget(at.text_area, f"fishbone_cause_notes_{cause.id}").value == "Saved while I was on the Timeline."
    assert not any("Someone else changed this cause" in w.value for w in at.warning)
    _widget(at.text_area, f"fishbone_cause_notes_{cause.id}").input("My note on top of theirs")
    _button(at, "Save cause").click().run()
    assert "Cause saved." in _messages(at)
    assert fb.get_cause(store, cause.id).notes == "My note on top of theirs"
