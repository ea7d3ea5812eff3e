"""AppTest of the Post-mortem page's guard rails: generated on click, cited in the report, attached as a zip."""

from __future__ import annotations

import shutil

import pytest

PAGE = "app_pages/postmortem.py"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None or shutil.which("amtool") is None,
                                reason="promtool/amtool are not installed")


def _open_tab(at, name: str):
    """Switch the Post-mortem tabs as a click does (only the open tab is drawn)."""
    at.query_params["postmortem_tab"] = name
    at.session_state["postmortem_tab"] = name
    return at.run()


def test_guard_rails_are_cited_in_the_report_and_attached(app_test, monkeypatch):
    import core.prevention.contract as ct

    monkeypatch.setattr(ct, "gx_available", lambda: False)  # the schema-check contract keeps this test fast
    at = app_test(PAGE, incident="demo-fraud-stale", timeout=180)
    assert not at.exception
    assert not any("Guard rails generated from the root cause" in m.value for m in at.markdown)
    _open_tab(at, "Export")  # only the open tab is drawn
    assert not [b for b in at.get("download_button") if "postmortem_export_attachments" in b.proto.id]
    at.button(key="postmortem_guard_rails").click().run()
    assert not at.exception and not at.error
    assert any("proven guard rail(s)" in s.value for s in at.success)
    assert [b for b in at.get("download_button") if "postmortem_export_attachments" in b.proto.id]
    assert any("alertmanager.yml" in c.value and "rules.yml" in c.value for c in at.caption)
    _open_tab(at, "Report")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Guard rails generated from the root cause" in text
    assert "FraudCatchRateLow" in text and "min before the incident was detected" in text
    assert "amtool check-config: passed" in text and "data contract proven" in text
    star = next(m.value for m in at.markdown if "**Action.**" in m.value)
    assert "would have fired" in star and "min before detection" in star

