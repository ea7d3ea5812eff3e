"""First start on an empty home: the Incidents page answers at once while the demos build in the background."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.demo import DEMO_IDS

ROOT = Path(__file__).resolve().parents[2]


def _texts(at) -> str:
    return " ".join(str(e.value) for e in [*at.info, *at.markdown, *at.caption, *at.warning, *at.error])


def _listed(at) -> set[str]:
    return {str(v) for df in at.dataframe for v in df.value.get("id", [])}


def _building(at) -> bool:
    return "still being built" in _texts(at)


def test_first_start_lists_at_once_builds_the_demos_in_the_background_and_then_shows_them(empty_home):
    # The Incidents page of a fresh install: rendered before the demos exist, with progress by step.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    started = time.monotonic()
    at.run()
    first = time.monotonic() - started
    assert not at.exception, at.exception
    assert at.title[0].value == "Incidents"
    text = _texts(at)
    assert _building(at) and f"of {len(DEMO_IDS)} ready" in text, text  # progress, not a bare spinner
    assert "Building demo" in text or "Starting" in text, text
    assert not set(DEMO_IDS) <= _listed(at)  # they are not all there yet
    assert first < 15, f"the first page took {first:.1f} s"

    # Another page opened on a demo that is not built yet says so (not "no such incident").
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    other.query_params["incident"] = "demo-ctr-drop"
    other.run()
    other.switch_page("app_pages/timeline.py")
    other.run()
    assert not other.exception, other.exception
    text = _texts(other)
    assert _building(other) and f"of {len(DEMO_IDS)} ready" in text and "demo-ctr-drop" in text, text
    assert "does not exist" not in text

    # When the build ends, the list shows every demo and the other page opens its incident.
    deadline = time.monotonic() + 300
    while not set(DEMO_IDS) <= _listed(at) or _building(at):
        assert time.monotonic() < deadline, f"the demos did not appear: {_texts(at)}"
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception
    other.run()
    assert not other.exception, other.exception
    assert not _building(other)
    assert other.title[0].value == "Timeline"
    assert any("demo-ctr-drop" in c.value for c in other.caption), _texts(other)
