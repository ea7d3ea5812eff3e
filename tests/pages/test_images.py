"""AppTest of the Images panel on the Distributions page."""

from __future__ import annotations

import numpy as np
from PIL import Image

PAGE = "app_pages/distributions.py"


def _panel(at):
    return next(e for e in at.expander if e.label.startswith("Image inputs"))


def test_the_image_demo_shows_the_encoding_change_and_the_unreadable_images(app_test):
    at = app_test(PAGE, incident="demo-image-downscale")
    assert not at.exception
    panel = _panel(at)
    errors = [e.value.replace("\\", "") for e in panel.error]  # shown as escaped Markdown
    assert any(e.startswith("resolution halved (median 128×128 → 64×64") for e in errors), errors
    assert any("JPEG quality 92 → 55" in e for e in errors), errors
    metrics = {m.label: m.value for m in panel.metric}
    assert metrics["Reference images"] == "240" and metrics["Unreadable (ref / cur)"] == "0 / 3"
    tables = [d.value for d in panel.dataframe]
    unreadable = next(t for t in tables if "reason" in t.columns)
    assert len(unreadable) == 3 and set(unreadable["set"]) == {"current"}
    measures = next(t for t in tables if "measure" in t.columns)
    width = measures.set_index("measure").loc["width"]
    assert width["reference median"] == "128" and width["current median"] == "64" and bool(width["drifted"])
    shots = panel.get("image")
    assert len(shots) == 4 and sum(len(s.proto.imgs) for s in shots) == 12  # thumbnails, both sides, both ends


def test_server_paths_compare_two_folders_and_bad_paths_are_errors(app_test, tmp_path):
    rng = np.random.default_rng(0)
    for name, side in (("a", 40), ("b", 40)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    assert not _panel(at).proto.expanded  # no images in this incident: the panel stays closed
    at.radio(key="images_source").set_value("Server paths").run()
    at.text_input(key="images_path_ref").input(str(tmp_path / "a")).run()
    at.text_input(key="images_path_cur").input(str(tmp_path / "b")).run()
    at.button(key="images_run_paths").click().run()
    assert not at.exception
    panel = _panel(at)
    assert any("Same resolution" in s.value for s in panel.success)
    at.text_input(key="images_path_cur").input(str(tmp_path / "missing")).run()
    at.button(key="images_run_paths").click().run()
    assert not at.exception
    assert any("not found" in e.value for e in _panel(at).error)


def test_pinning_the_image_findings_puts_them_on_the_timeline_and_in_the_post_mortem(app_test, workbench_home):
    from core.report.gather import gather_inputs
    from core.report.postmortem import build_postmortem
    from core.report.render import render_markdown
    from core.store import open_store
    from core.store.evidence import list_evidence
    from core.store.timeline import list_events

    at = app_test(PAGE, incident="demo-image-downscale")
    at.text_input(key="distributions_author").input("ana").run()
    at.button(key="images_pin").click().run()
    assert not at.exception
    assert any(s.value.startswith("Pinned as evidence #") for s in _panel(at).success)
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    try:
        ev = next(e for e in list_evidence(store, "demo-image-downscale") if e.kind == "images")
        assert ev.title.startswith("Images: ") and ev.author == "ana"
        assert any(f.startswith("resolution halved") for f in ev.result["findings"])
        assert ev.result["n_reference"] == 240 and ev.result["unreadable_current"] == 3
        width = next(m for m in ev.result["measures"] if m["measure"] == "width")
        assert width["drifted"] and (width["reference_median"], width["current_median"]) == ("128", "64")
        assert ev.query["source"] == "the bundle's images/reference and images/current"
        event = next(e for e in list_events(store, "demo-image-downscale") if e.evidence_id == ev.id)
        assert event.pinned and event.title == ev.title
        report = render_markdown(build_postmortem(gather_inputs(store, "demo-image-downscale")))
        assert "resolution halved" in report
    finally:
        store.dispose()


def test_the_warm_up_profiles_the_incident_images_into_the_panels_cache(workbench_home):
    from core.store import open_store
    from core.store.incidents import list_incidents
    from ui import images

    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    try:
        incidents = list_incidents(store)
    finally:
        store.dispose()
    with_images = [i for i in incidents if i.id == "demo-image-downscale"]
    assert images.prefetch([i for i in incidents if i.id != "demo-image-downscale"]) == 0
    assert images.prefetch(incidents, limit=4) == len(with_images) == 1
    sets = images.bundle_image_sets(with_images[0].bundle_path)
    digest = images._folder_digest(sets["reference"]) + images._folder_digest(sets["current"])
    args = (str(sets["reference"]), str(sets["current"]), digest)
    result, ref, cur = images._compare_paths(*args)  # what the panel reads for that incident
    assert ref.n_images == cur.n_images == 240
    assert images.prefetch(incidents, limit=0) == 0
