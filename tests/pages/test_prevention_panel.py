"""AppTest of the Triage page's Prevention panel: guard rails generated, proven by promtool, offered for download."""

from __future__ import annotations

import shutil

import pytest

PAGE = "app_pages/triage.py"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")


def test_prevention_panel_shows_the_proofs_and_downloads(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale", timeout=180)
    assert not at.exception
    at.button(key="triage_run").click().run()
    assert not at.exception
    at.button(key="prevention_run").click().run()
    assert not at.exception
    lines = [m.value for m in at.markdown]
    assert any("min before the incident was detected" in v for v in lines)
    assert any("promtool check rules: passed" in v for v in lines)
    assert any("promtool test rules: passed" in v for v in lines)
    assert any("the breaker would have tripped" in v for v in lines)
    assert any("FraudCatchRateLow" in c.value for c in at.code)
    assert not at.error
