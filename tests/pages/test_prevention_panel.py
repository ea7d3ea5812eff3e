"""AppTest of the Triage page's Prevention panel: guard rails generated, proven by promtool and amtool,
the data contract proven on click, every file offered for download."""

from __future__ import annotations

import shutil

import pytest

PAGE = "app_pages/triage.py"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None or shutil.which("amtool") is None,
                                reason="promtool/amtool are not installed")


def _generate(app_test, incident):
    at = app_test(PAGE, incident=incident, timeout=180)
    assert not at.exception
    at.button(key="triage_run").click().run()
    assert not at.exception
    at.button(key="prevention_run").click().run()
    assert not at.exception
    return at


def test_prevention_panel_shows_the_proofs_and_downloads(app_test):
    at = _generate(app_test, "demo-fraud-stale")
    lines = [m.value for m in at.markdown]
    assert any("min before the incident was detected" in v for v in lines)
    assert any("the breaker would have tripped" in v for v in lines)
    ok = " ".join(s.value for s in at.success)
    assert "promtool check rules: passed" in ok and "promtool test rules: passed" in ok
    assert "amtool check-config: passed" in ok and "reach the expected receiver" in ok
    metric = next(m for m in at.metric if m.label == "Time to detect saved")
    assert metric.value.endswith(" min") and float(metric.value.split()[0]) > 0
    assert any("FraudCatchRateLow" in c.value for c in at.code)
    assert any("fraud-scorer-pager" in c.value for c in at.code)  # the alertmanager.yml tab
    # the stale-data cause needs a freshness series the bundle lacks: a template is offered
    assert any("# - alert: FeatureFreshness" in c.value for c in at.code)
    keys = {b.proto.id for b in at.get("download_button")}
    assert any("prevention_dl_zip" in k for k in keys)
    assert any("prevention_dl_alertmanager.yml" in k for k in keys)
    assert any("prevention_dl_proof.md" in k for k in keys)
    assert not at.error


def test_the_data_contract_is_proven_on_click(app_test, monkeypatch):
    # the schema check keeps this test fast; the GX suite has its own core test
    import core.prevention.contract as ct

    monkeypatch.setattr(ct, "gx_available", lambda: False)
    at = _generate(app_test, "demo-schema-change")
    assert not [s for s in at.success if "data contract proven" in s.value]
    at.button(key="prevention_contract").click().run()
    assert not at.exception
    ok = " ".join(s.value for s in at.success)
    assert "data contract proven: passes on the reference, fails on the incident" in ok
    assert "must pass" in ok and "must fail" in ok
    assert any("requirements-gx.txt" in i.value for i in at.info)  # says GX is missing and what was used
    assert any("column set changed" in m.value for m in at.markdown)
    keys = {b.proto.id for b in at.get("download_button")}
    assert any("prevention_dl_contract_schema.json" in k for k in keys)
    assert not at.error


def test_a_promtool_failure_shows_its_message(app_test, monkeypatch):
    from core.prevention import proof

    real = proof.check_rules

    def broken(path):
        path.write_text(path.read_text().replace("expr: ", "expr: (", 1))  # an unbalanced parenthesis
        return real(path)

    monkeypatch.setattr(proof, "check_rules", broken)
    at = _generate(app_test, "demo-ctr-drop")
    errors = " ".join(e.value for e in at.error)
    assert "promtool check rules: FAILED" in errors
    assert any("unclosed left parenthesis" in c.value or "parse error" in c.value for c in at.code)

