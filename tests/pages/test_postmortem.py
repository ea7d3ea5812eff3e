"""AppTest of the Post-mortem page: draft, section editing with versions, stale edits, presentation mode."""

from __future__ import annotations

import pytest

PAGE = "app_pages/postmortem.py"
INCIDENT = "demo-schema-change"


def _store(home):
    from core.store import open_store

    return open_store(f"sqlite:///{home / 'workbench.db'}")


@pytest.fixture
def seeded(workbench_home):
    """The demo incident with its pre-drawn fishbone (causes, whys, action items) and a planted secret."""
    from core.demo.fishbones import seed_demo_fishbone
    from core.store.evidence import pin_evidence

    store = _store(workbench_home)
    seed_demo_fishbone(store, INCIDENT)
    pin_evidence(store, INCIDENT, kind="log_query", title="cache misses for ops@example.com from 10.1.2.3",
                 query={"q": "message:miss"}, result={"count": 42, "rate_ratio": 7.5})
    store.dispose()
    return workbench_home


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _open_tab(at, name: str):
    """Switch the page's tabs as a click does (only the open tab is drawn); the tab lives in the address."""
    at.query_params["postmortem_tab"] = name
    at.session_state["postmortem_tab"] = name
    return at.run()


def test_page_drafts_every_section(app_test, seeded):
    from core.report.postmortem import SECTIONS

    at = app_test(PAGE, incident=INCIDENT)
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert headers[:len(SECTIONS)] == [s.title for s in SECTIONS]
    text = _markdown(at)
    assert "Upstream export v2 renamed column" in text  # confirmed cause from the fishbone
    assert "Why did accuracy drop?" in text  # five whys
    assert "Validate columns, types and value ranges" in text  # action item
    assert "ops@example.com" in text  # not masked outside presentation mode
    assert len(at.tabs) == 4
    assert not at.get("download_button"), "the Export tab is drawn only when opened"
    _open_tab(at, "Export")
    assert not at.exception
    assert [b.label for b in at.get("download_button")] == ["Markdown (wiki, issue)", "HTML (interactive charts)"]
    assert at.button(key="postmortem_export_pdf").label == "PDF (print)"  # built on request (see below)


def test_section_edit_is_saved_with_a_version_and_stale_edit_refused(app_test, seeded):
    from core.store.reports import get_section, save_section

    at = app_test(PAGE, incident=INCIDENT)
    key = f"postmortem_{INCIDENT}_got_lucky_text"
    at.text_area(key=key).set_value("- The drop happened on a quiet day.")
    at.button(key=f"{key}_save").click().run()
    assert not at.exception
    assert any("saved (version 1)" in s.value for s in at.success)
    store = _store(seeded)
    saved = get_section(store, INCIDENT, "got_lucky")
    assert saved.text == "- The drop happened on a quiet day." and saved.version == 1
    assert "The drop happened on a quiet day." in _markdown(at)

    # someone else saves meanwhile; this editor's next save is refused with their fresh text
    save_section(store, INCIDENT, "got_lucky", "- Someone else's wording.", version=1)
    at.text_area(key=key).set_value("- My second wording.")
    at.button(key=f"{key}_save").click().run()
    assert not at.exception
    assert any("changed by someone else" in e.value for e in at.error)
    assert any("Someone else's wording." in c.value for c in at.code)
    assert get_section(store, INCIDENT, "got_lucky").text == "- Someone else's wording."
    # a rerun by the page's timer (another person's edit; ui.state.TIMER_RERUN_KEY) keeps the refusal on screen
    at.session_state["app_timer_rerun_asked"] = True
    at.run()
    assert any("changed by someone else" in e.value for e in at.error)
    assert any("Someone else's wording." in c.value for c in at.code)
    at.button(key=f"{key}_fresh").click().run()
    assert at.text_area(key=key).value == "- Someone else's wording."
    at.text_area(key=key).set_value("- Merged wording.")
    at.button(key=f"{key}_save").click().run()
    assert get_section(store, INCIDENT, "got_lucky").version == 3
    store.dispose()


def test_blameless_warning_shown_with_suggestion(app_test, seeded):
    at = app_test(PAGE, incident=INCIDENT)
    key = f"postmortem_{INCIDENT}_went_wrong_text"
    at.text_area(key=key).set_value("- Root cause: human error by the on-call.")
    at.button(key=f"{key}_save").click().run()
    assert not at.exception
    assert any("Blameless check" in w.value for w in at.warning)
    assert "'human error' is not a root cause" in _markdown(at)


def test_presentation_mode_masks_and_hides_editing(app_test, seeded):
    at = app_test(PAGE, incident=INCIDENT)
    at.session_state["app_present"] = True  # the sidebar switch's key (ui.state.PRESENT_KEY)
    at.run()
    assert not at.exception
    text = _markdown(at) + "\n".join(h.value for h in at.subheader)
    assert "ops@example.com" not in text and "10.1.2.3" not in text
    assert "[email]" in text
    assert not [t for t in at.text_area if t.key and t.key.startswith("postmortem_")]
    _open_tab(at, "Export")
    assert any("exports mask sensitive values" in c.value for c in at.caption)


def test_walkthrough_moves_the_shared_time_range(app_test, seeded):
    at = app_test(PAGE, incident=INCIDENT, postmortem_tab="Walkthrough")
    before = (at.query_params.get("from"), at.query_params.get("to"))
    at.button(key="postmortem_walk_next").click().run()
    assert not at.exception
    after = (at.query_params.get("from"), at.query_params.get("to"))
    assert after[0] and after != before
    assert at.session_state["postmortem_walk"] == 1


def test_walkthrough_folds_routine_runs_and_shows_each_moment_with_its_kpi_and_change(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-fraud-stale", postmortem_tab="Walkthrough")
    titles = []
    for _ in range(12):
        walk = at.tabs[1]
        assert walk.label == "Walkthrough"
        titles.append(walk.subheader[0].value)
        text = "\n".join(m.value for m in walk.markdown)
        if "block threshold" in titles[-1]:
            assert "**What changed:** block_threshold: 0.8 → 0.82" in text
        if "then stopped" in titles[-1]:
            assert any("63 runs from" in c.value and "no run after that" in c.value for c in walk.caption)
            assert walk.get("plotly_chart"), "the moment has no KPI chart"
            assert "Logs around the moment" in text
        if at.button(key="postmortem_walk_next").disabled:
            break
        at.button(key="postmortem_walk_next").click().run()
        assert not at.exception
    assert "account-features-refresh ran 63× (hourly), last at 02:05, then stopped" in titles
    assert not [t for t in titles if "run #" in t], titles


def test_analytics_tab_renders(app_test, seeded):
    from core.demo import DEMO_IDS

    at = app_test(PAGE, incident=INCIDENT, postmortem_tab="Analytics")
    assert any(m.value == str(len(DEMO_IDS)) for m in at.metric)  # every demo incident is counted
    at.selectbox(key="postmortem_an_by").set_value("severity").run()
    assert not at.exception


def test_pdf_is_built_on_request_with_its_steps(app_test, seeded):
    at = app_test(PAGE, incident="demo-ctr-drop", postmortem_tab="Export")
    assert not at.exception
    at.button(key="postmortem_export_pdf").click().run(timeout=180)
    assert not at.exception
    assert [s.label for s in at.status] == ["PDF ready"]
    shown = [m.value for m in at.markdown]
    assert "Drawing" in " ".join(shown) and "Laying out the pages" in shown
    # the download is offered in the same run; no Cancel button is left behind
    assert not [b for b in at.button if b.key == "postmortem_pdf_cancel"]


def test_who_did_what_joins_the_response_section_only_when_asked(app_test, workbench_home):
    from datetime import datetime, timezone

    from core.store.timeline import add_event
    from core.team import AccessRole, Identity

    store = _store(workbench_home)
    rob = Identity("rob@example.com", "rob@example.com", AccessRole.RESPONDER, "store")
    add_event(store.as_user(rob, via="page:timeline"), INCIDENT, timestamp=datetime(2026, 1, 21, 9, tzinfo=timezone.utc),
              kind="annotation", title="checked the feature store")
    store.dispose()
    at = app_test(PAGE, incident=INCIDENT)
    text = " ".join(m.value for m in at.markdown)
    assert "Who did what" not in text and "rob@example.com" not in text  # blameless by default
    _open_tab(at, "Export")
    at.toggle(key="postmortem_who_did_what").set_value(True).run()
    assert not at.exception
    _open_tab(at, "Report")  # the switch on the Export tab still holds on the Report tab
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Who did what, when" in text and "rob@example.com (responder)" in text
