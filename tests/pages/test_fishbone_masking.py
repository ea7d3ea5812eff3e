"""AppTest: the Fishbone page in presentation mode masks a secret before the labels are wrapped (issue 14)."""

from __future__ import annotations

from core.demo.fishbones import seed_demo_fishbone
from core.store import fishbone as fb
from core.store import open_store

PAGE = "app_pages/fishbone.py"
ID = "demo-ctr-drop"
KEY = "sk-live7Qx9Zr2Wm4Kp8Ts6Vb3Nc5Hd1Yj0"


def test_presentation_mode_masks_wrapped_fishbone_labels(app_test, workbench_home):
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    seed_demo_fishbone(store, ID)
    cat = fb.get_fishbone(store, ID).categories[0]
    fb.add_cause(store, ID, category_id=cat.id, status="suspected",
                 text=f"the export job kept the provider key {KEY} in its plain-text settings file",
                 notes="password: hunter2pw was in the same file")
    store.dispose()

    at = app_test(PAGE, incident=ID)
    at.run()
    assert not at.exception
    plain = at.get("plotly_chart")[0].proto.spec
    assert KEY[-8:] in plain  # the key is drawn (wrapped over two lines) when not presenting

    at = app_test(PAGE, incident=ID)
    at.session_state["app_present"] = True
    at.run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    for fragment in (KEY, KEY[:14], KEY[-8:], "hunter2pw"):
        assert fragment not in spec
    assert "[api key]" in spec
