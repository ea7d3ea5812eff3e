"""AppTest of the Metrics page over the demo incidents."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from core.errors import ConcurrentEditError
from core.store import open_store
from core.store.evidence import list_evidence
from core.store.incidents import get_incident, update_incident
from core.store.timeline import list_events

PAGE = "app_pages/metrics.py"


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def _metric(at, label):
    return next(m for m in at.metric if m.label.startswith(label))


def test_ctr_onset_is_found_near_the_planted_start(app_test, demo_bundles):
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    truth = json.loads((demo_bundles["demo-ctr-drop"] / "ground_truth.json").read_text())
    planted = datetime.fromisoformat(truth["onset"].replace("Z", "+00:00"))
    shown = datetime.strptime(_metric(at, "Onset").value, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    assert abs((shown - planted).total_seconds()) <= 3600
    assert _metric(at, "Change (bad)").value.startswith("-")
    assert at.get("plotly_chart")
    assert any("moved" in m.value for m in at.markdown)


def test_set_as_impact_start_writes_the_started_milestone(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.button(key="metrics_set_started").click().run()
    assert not at.exception
    store = _store(workbench_home)
    started = get_incident(store, "demo-ctr-drop").milestone("started")
    onset = datetime.strptime(_metric(at, "Onset").value, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    assert started == onset


def test_stale_version_is_refused_not_overwritten(workbench_home):
    from ui.metrics import set_impact_start

    store = _store(workbench_home)
    stale = get_incident(store, "demo-fraud-stale")
    update_incident(store, stale.id, version=stale.version, summary="edited elsewhere")
    when = datetime(2026, 2, 4, 3, 0, tzinfo=timezone.utc)
    assert set_impact_start(store, stale, when) is None  # shows "changed by someone else"
    fresh = get_incident(store, stale.id)
    assert fresh.summary == "edited elsewhere"
    assert fresh.milestone("started") == stale.milestone("started")
    with pytest.raises(ConcurrentEditError):
        update_incident(store, stale.id, version=stale.version, summary="stale")


def test_milestones_are_drawn_on_the_chart(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"text":"started"' in spec.replace(" ", "")


def test_pin_change_point_as_evidence(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.text_input(key="metrics_author").input("dana").run()
    at.button(key="metrics_pin").click().run()
    assert not at.exception
    store = _store(workbench_home)
    pinned = list_evidence(store, "demo-ctr-drop", kind="changepoint")
    assert len(pinned) == 1
    assert pinned[0].author == "dana"
    assert pinned[0].result["onset"]["effect"] == "bad"
    assert pinned[0].result["segments"]["label"] == "platform"
    assert any(e.evidence_id == pinned[0].id for e in list_events(store, "demo-ctr-drop"))


def test_prometheus_without_configuration_is_a_clear_error(app_test, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.radio(key="metrics_source").set_value("Prometheus").run()
    at.text_input(key="metrics_query").input("up").run()
    assert not at.exception
    assert any("PROMETHEUS_URL" in e.value for e in at.error)


def test_unreachable_prometheus_is_shown_and_page_stays_usable(app_test, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PROMETHEUS_URL", f"http://127.0.0.1:{port}")
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.radio(key="metrics_source").set_value("Prometheus").run()
    at.text_input(key="metrics_query").input("up").run()
    assert not at.exception
    assert any(f"cannot reach Prometheus at http://127.0.0.1:{port}" in e.value for e in at.error)
    at.radio(key="metrics_source").set_value("Incident bundle").run()
    assert not at.exception and at.metric


# The real Prometheus server of the source tests (same fixture, started once for this module).
from tests.core.test_prometheus import ONSET as PROM_ONSET  # noqa: E402
from tests.core.test_prometheus import PASSWORD, USER, WINDOW, prometheus  # noqa: E402,F401


def test_prometheus_query_with_segments(app_test, prometheus, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PROMETHEUS_URL", prometheus)
    monkeypatch.setenv("PROMETHEUS_USERNAME", USER)
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    at = app_test(PAGE, incident="demo-schema-change",
                  **{"from": WINDOW.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "to": WINDOW.end.strftime("%Y-%m-%dT%H:%M:%SZ")})
    at.radio(key="metrics_source").set_value("Prometheus").run()
    at.text_input(key="metrics_query").input('shop_ctr{job="recs"}').run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    shown = datetime.strptime(_metric(at, "Onset").value, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    assert abs((shown - PROM_ONSET).total_seconds()) <= 3600
    assert at.selectbox(key="metrics_segments").value[1] == "platform"
    assert any(m.value.startswith("**Only ios moved") for m in at.markdown)
