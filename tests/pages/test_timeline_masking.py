"""AppTest: the Timeline page in presentation mode masks event titles before the hover text cuts them (issue 14)."""

from __future__ import annotations

from datetime import timedelta

from core.store import open_store
from core.store.incidents import get_incident
from core.store.timeline import add_events

PAGE = "app_pages/timeline.py"
ID = "demo-ctr-drop"
KEY = "sk-live7Qx9Zr2Wm4Kp8Ts6Vb3Nc5Hd1Yj0"


def test_presentation_mode_masks_event_titles_before_they_are_cut(app_test, workbench_home):
    app_test(None, incident=ID)  # first start: seeds the demo incidents
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    inc = get_incident(store, ID)
    at_time = inc.time_range().start + timedelta(hours=1)
    # the hover keeps 140 characters: the key is cut after "sk-live7Qx9Zr2W", too short to be recognised
    title = "x" * 120 + " key " + KEY
    add_events(store, ID, [{"timestamp": at_time, "kind": "annotation", "title": title}])
    store.dispose()

    at = app_test(PAGE, incident=ID)
    assert not at.exception
    assert "sk-live7Qx9Zr2W" in at.get("plotly_chart")[0].proto.spec  # drawn, cut, when not presenting

    at = app_test(None, incident=ID)
    at.session_state["app_present"] = True
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert "sk-live7Qx9Zr2W" not in spec and "[api key]" in spec
