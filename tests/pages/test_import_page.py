"""AppTest of the Incidents page's "Import bundle" panel: a real zip uploaded through the real widget."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from core.demo import DEMO_IDS
from core.demo.large import write_large_bundle
from core.store import open_store
from core.store.incidents import get_incident
from core.store.timeline import list_events

DEMOS = len(DEMO_IDS)  # the seeded home holds every demo incident


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, p.relative_to(folder).as_posix())
    return buf.getvalue()


def _texts(at) -> str:
    parts = [e.value for e in at.error] + [e.value for e in at.warning] + [e.value for e in at.info]
    parts += [e.value for e in at.success] + [e.value for e in at.code]
    return "\n".join(str(p) for p in parts)


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="incidents_upload").set_value((name, data, "application/zip")).run()
    return at


def test_import_asks_before_renaming_and_refreshes_counts(app_test, tmp_path, workbench_home):
    data = _zip(write_large_bundle(tmp_path / "b", 50, incident_id="upload-me", title="Uploaded incident"))
    at = _upload(app_test(), "my-incident.zip", data)
    assert {m.label: m.value for m in at.metric}["Incidents"] == str(DEMOS)
    at.button(key="incidents_import").click().run()
    assert not at.exception
    assert "Imported my-incident.zip as incident upload-me." in _texts(at)
    assert {m.label: m.value for m in at.metric}["Incidents"] == str(DEMOS + 1)  # counts refreshed
    assert at.query_params["incident"] in ("upload-me", ["upload-me"])  # the new incident is selected

    _upload(at, "my-incident.zip", data)  # the same id again: a question, not a silent rename
    at.button(key="incidents_import").click().run()
    assert "An incident with id 'upload-me' already exists. Import my-incident.zip as 'upload-me-2'" in _texts(at)
    assert {m.label: m.value for m in at.metric}["Incidents"] == str(DEMOS + 1)
    at.button(key="incidents_import_cancel").click().run()
    assert "my-incident.zip was not imported." in _texts(at)
    assert {m.label: m.value for m in at.metric}["Incidents"] == str(DEMOS + 1)

    _upload(at, "my-incident.zip", data)
    at.button(key="incidents_import").click().run()
    at.button(key="incidents_import_rename").click().run()
    assert not at.exception
    assert "Imported my-incident.zip as incident upload-me-2." in _texts(at)
    assert {m.label: m.value for m in at.metric}["Incidents"] == str(DEMOS + 2)
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    try:
        assert get_incident(store, "upload-me-2").title == "Uploaded incident"
        assert len(list_events(store, "upload-me-2")) == 50
        assert (workbench_home / "bundles" / "upload-me-2" / "bundle.json").is_file()
    finally:
        store.dispose()


def test_invalid_upload_names_the_users_file_not_a_temp_path(app_test, tmp_path):
    folder = write_large_bundle(tmp_path / "bad", 3, incident_id="broken")
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["id"] = "../escape"
    (folder / "bundle.json").write_text(json.dumps(manifest))
    at = _upload(app_test(), "from-alerts.zip", _zip(folder))
    at.button(key="incidents_import").click().run()
    assert not at.exception
    text = _texts(at)
    assert "from-alerts.zip is not a valid bundle; nothing was imported" in text
    assert "incident id" in text
    assert "/tmp" not in text and "upload-" not in text
    assert {m.label: m.value for m in at.metric}["Incidents"] == str(DEMOS)
