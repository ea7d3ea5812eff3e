"""AppTest of links and shared state: every view's state is in the address and a link reopens it.

Page switches from the sidebar (which drop unbound parameters in a real browser) are covered by
``tests/e2e/test_links.py``; here each link is opened in a fresh AppTest session.
"""

from __future__ import annotations

import json
from datetime import timedelta

from core.models import TimeWindow, iso, utc
from core.store import open_store
from core.flows.import_bundle import import_bundle
from core.store.incidents import find_incident


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def _texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "subheader", "title")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _range(at) -> TimeWindow:
    return TimeWindow(utc(at.query_params["from"]), utc(at.query_params["to"]))


def test_same_titled_incidents_are_told_apart_and_the_link_keeps_the_suffix(app_test, workbench_home, demo_bundles):
    store = _store(workbench_home)
    copy = import_bundle(store, demo_bundles["demo-ctr-drop"], if_exists="rename")
    assert copy == "demo-ctr-drop-2"
    assert find_incident(store, copy).title == find_incident(store, "demo-ctr-drop").title
    at = app_test("app_pages/timeline.py", incident=copy)
    assert not at.exception
    assert at.query_params["incident"] == copy
    assert f"{copy} · " in _texts(at)
    labels = at.selectbox(key="app_pick").options
    same = [label for label in labels if find_incident(store, "demo-ctr-drop").title in label]
    assert len(same) == 2 and len(set(same)) == 2, same
    assert any(label.startswith("demo-ctr-drop-2 · ") for label in same)


def test_unknown_incident_says_so_where_the_user_is(app_test):
    for page in ("app_pages/timeline.py", "app_pages/logs.py", "app_pages/metrics.py", "app_pages/postmortem.py"):
        at = app_test(page, incident="nope")
        assert not at.exception
        text = _texts(at)
        assert "No incident 'nope'" in text, page
        assert "demo-" not in "\n".join(c.value for c in at.caption), f"{page} shows another incident"
        assert at.query_params["incident"] == "nope"
        assert at.selectbox(key="app_pick").value is None


def test_time_picker_quick_ranges_zoom_and_shift_write_incident_and_range(app_test):
    at = app_test("app_pages/timeline.py", incident="demo-fraud-stale")
    full = _range(at)
    at.selectbox(key="app_quick").set_value("onset2").run()
    assert not at.exception
    onset2 = _range(at)
    assert onset2.duration == timedelta(hours=4)
    assert at.query_params["incident"] == "demo-fraud-stale"
    assert "±2 h around onset" in _texts(at)
    at.button(key="app_range_zoom").click().run()
    assert _range(at) == TimeWindow(onset2.start - timedelta(hours=2), onset2.end + timedelta(hours=2))
    at.button(key="app_range_earlier").click().run()
    assert _range(at) == TimeWindow(onset2.start - timedelta(hours=6), onset2.end - timedelta(hours=2))
    at.selectbox(key="app_quick").set_value("incident").run()
    assert _range(at) == full
    # typed times: the hint format, and errors echo the input as typed
    at.text_input(key="app_from").input("2026-02-04 01:30").run()
    assert at.query_params["from"] == "2026-02-04T01:30:00Z"
    at.text_input(key="app_from").input("4 Feb, 1am").run()
    errors = [e.value for e in at.error]
    assert any("'4 Feb, 1am' is not a time; write it like 2026-03-12 06:00" in e for e in errors), errors
    assert at.query_params["from"] == "2026-02-04T01:30:00Z"


def test_logs_link_reopens_query_chips_and_document(app_test, workbench_home):
    from core.logquery import add_filters
    from ui import logs as lg

    incident = find_incident(_store(workbench_home), "demo-fraud-stale")
    chips = [["log.level", "WARN", True]]
    query = '"feature cache miss"'
    at = app_test("app_pages/logs.py", incident=incident.id, logs_query=query, logs_filters=json.dumps(chips))
    assert not at.exception
    assert at.text_input(key="logs_query").value == query
    assert any("log.level" in b.label and "WARN" in b.label for b in at.button), [b.label for b in at.button]
    page = lg.search(incident.bundle_path, add_filters(query, [tuple(c) for c in chips]), _range(at), 50, None)
    doc = page.hits[3]
    # the same link with the selected document: it is shown without clicking the row
    at = app_test("app_pages/logs.py", incident=incident.id, logs_query=query, logs_filters=json.dumps(chips),
                  logs_doc=doc.id, **{"from": at.query_params["from"], "to": at.query_params["to"]})
    assert not at.exception
    assert "**Document**" in [m.value for m in at.markdown]
    assert json.loads(at.json[0].value)["id"] == doc.id
    assert at.query_params["logs_doc"] == doc.id
    # a removed chip leaves the address
    next(b for b in at.button if "WARN" in b.label).click().run()
    assert "logs_filters" not in at.query_params


def test_walkthrough_link_opens_the_moment(app_test):
    # a link copied on the walkthrough carries its tab and its moment
    at = app_test("app_pages/postmortem.py", incident="demo-ctr-drop", postmortem_tab="Walkthrough",
                  postmortem_walk_step="2")
    assert not at.exception
    assert any(c.value.startswith("Moment 2 of ") for c in at.caption), [c.value for c in at.caption]
    at.button(key="postmortem_walk_next").click().run()
    assert at.query_params["postmortem_walk_step"] == "3"


def test_distributions_link_focuses_the_column(app_test):
    at = app_test("app_pages/distributions.py", incident="demo-schema-change")
    first = next(e.label for e in at.expander if "DRIFTED" in e.label)
    name = first.split("**")[1].replace("\\", "")
    at = app_test("app_pages/distributions.py", incident="demo-schema-change", distributions_column=name)
    assert not at.exception
    assert any(h.value.startswith("Column from the link:") and name in h.value.replace("\\", "") for h in at.subheader)
    at = app_test("app_pages/distributions.py", incident="demo-schema-change", distributions_column="no_such_col")
    assert "The link names column 'no_such_col'" in _texts(at)


def test_evidence_links_land_on_the_evidence_and_say_when_they_change_the_range():
    from ui import triage as tg

    shared = TimeWindow(utc("2026-03-12T00:00:00Z"), utc("2026-03-13T00:00:00Z"))
    other = TimeWindow(utc("2026-03-12T06:00:00Z"), utc("2026-03-12T08:00:00Z"))
    params = tg.link_params("demo-ctr-drop", other, "logs", {"query": 'message:"cache miss"'})
    assert params == {"incident": "demo-ctr-drop", "from": iso(other.start), "to": iso(other.end),
                      "logs_query": 'message:"cache miss"', "logs_filters": "", "logs_doc": ""}
    assert tg.link_params("x", None, "distributions", {"columns": ["amount", "age"]})["distributions_column"] == "amount"
    label, hint = tg.link_label("logs", other, shared)
    assert label == "Open in Logs · sets the range" and "2026-03-12 06:00 → 2026-03-12 08:00 UTC" in hint
    assert tg.link_label("metrics", shared, shared) == ("Open in Metrics", "Keeps the shared time range.")
