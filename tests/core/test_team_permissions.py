"""Every write of the store is checked against the acting person's access role, in core.

A viewer is refused by every write function of ``core/store`` (and nothing is written), a responder
cannot change what only a commander may (status, severity, ICS roles), and a table or write function
added later must be classified here: the inventory tests fail until it is.
"""

from __future__ import annotations

import importlib
import inspect
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from core.errors import ConcurrentEditError
from core.models import TimeWindow
from core.prevention.runbooks import RunbookContent
from core.report.model import SECTION_KEYS
from core.store import action_items as ai
from core.store import evidence as ev_store
from core.store import fishbone as fb
from core.store import incidents as inc
from core.store import reports
from core.store import runbooks as rb
from core.store import timeline as tl
from core.store.tables import metadata
from core.team import LOCAL, AccessRole, Identity, PermissionDeniedError
from core.team.permissions import TABLES

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
VIEWER = Identity("vera@example.com", "vera@example.com", AccessRole.VIEWER, "claim")
RESPONDER = Identity("rob@example.com", "rob@example.com", AccessRole.RESPONDER, "claim")
COMMANDER = Identity("cora@example.com", "cora@example.com", AccessRole.COMMANDER, "store")


@pytest.fixture
def world(store):
    """One incident with a row of every kind, made by the workbench itself (no identity bound)."""
    inc.create_incident(store, id="INC-P", title="CTR drop", severity="SEV2")
    event = tl.add_event(store, "INC-P", timestamp=T0, kind="deploy", title="Deploy v2")
    evidence = ev_store.pin_evidence(store, "INC-P", kind="drift", title="Drift", query={"q": 1}, result={"x": 1},
                                     window=TimeWindow(T0, T0 + timedelta(hours=1)))
    bone = fb.get_fishbone(store, "INC-P")
    cat = bone.categories[0]
    cause = fb.add_cause(store, "INC-P", category_id=cat.id, text="bad feature")
    why = fb.add_why(store, "INC-P", question="Why did CTR drop?")
    item = ai.add_action_item(store, "INC-P", text="add an alert", status="done")
    section = reports.save_section(store, "INC-P", SECTION_KEYS[0], "text", version=0)
    book = rb.list_runbooks(store)[0]
    return {"event": event, "evidence": evidence, "bone": bone, "cat": cat, "cause": cause, "why": why,
            "item": item, "section": section, "book": book}


def _writes(s, w):
    """(name, call) for every write function of core/store, each a valid write for a commander."""
    content = RunbookContent(title="Checked runbook", symptoms=("x",))
    rows = [{"incident_id": "INC-P", "ts": T0, "end_ts": None, "kind": "log", "source": "bulk", "title": "bulk",
             "details": {}, "author": "", "created_at": T0}]

    def on_conn(fn, *args, **kw):
        with s.engine.begin() as conn:
            return fn(conn, *args, **kw)

    return [
        ("incidents.create_incident", lambda: inc.create_incident(s, id="INC-NEW", title="new")),
        ("incidents.insert_incident", lambda: on_conn(inc.insert_incident, id="INC-NEW2", title="new")),
        ("incidents.update_incident", lambda: inc.update_incident(s, "INC-P", version=1, title="changed")),
        ("incidents.set_milestones", lambda: on_conn(inc.set_milestones, "INC-P", {"started": T0})),
        ("incidents.delete_incident", lambda: inc.delete_incident(s, "INC-P")),
        ("timeline.add_event", lambda: tl.add_event(s, "INC-P", timestamp=T0, kind="annotation", title="note")),
        ("timeline.add_events", lambda: tl.add_events(s, "INC-P", [{"timestamp": T0, "kind": "alert", "title": "a"}])),
        ("timeline.insert_event_rows", lambda: on_conn(tl.insert_event_rows, rows)),
        ("timeline.update_event", lambda: tl.update_event(s, w["event"].id, version=1, title="Deploy v3")),
        ("timeline.delete_event", lambda: tl.delete_event(s, w["event"].id, version=1)),
        ("evidence.pin_evidence", lambda: ev_store.pin_evidence(s, "INC-P", kind="drift", title="d2",
                                                                query={}, result={"y": 2})),
        ("fishbone.update_problem", lambda: fb.update_problem(s, "INC-P", "CTR fell", version=w["bone"].version)),
        ("fishbone.add_category", lambda: fb.add_category(s, "INC-P", "Serving")),
        ("fishbone.rename_category", lambda: fb.rename_category(s, w["cat"].id, "Data!", version=w["cat"].version)),
        ("fishbone.delete_category", lambda: fb.delete_category(s, w["cat"].id, version=w["cat"].version,
                                                                move_to=w["bone"].categories[1].id)),
        ("fishbone.add_cause", lambda: fb.add_cause(s, "INC-P", category_id=w["cat"].id, text="another")),
        ("fishbone.update_cause", lambda: fb.update_cause(s, w["cause"].id, version=w["cause"].version, text="x2")),
        ("fishbone.delete_cause", lambda: fb.delete_cause(s, w["cause"].id, version=w["cause"].version)),
        ("fishbone.add_why", lambda: fb.add_why(s, "INC-P", question="Why again?")),
        ("fishbone.update_why", lambda: fb.update_why(s, w["why"].id, version=w["why"].version, answer="because")),
        ("fishbone.delete_why", lambda: fb.delete_why(s, w["why"].id, version=w["why"].version)),
        ("action_items.add_action_item", lambda: ai.add_action_item(s, "INC-P", text="another")),
        ("action_items.update_action_item", lambda: ai.update_action_item(s, w["item"].id, version=w["item"].version,
                                                                          owner="me")),
        ("action_items.set_done_at", lambda: ai.set_done_at(s, w["item"].id, version=w["item"].version,
                                                            done_at=T0)),
        ("action_items.delete_action_item", lambda: ai.delete_action_item(s, w["item"].id, version=w["item"].version)),
        ("reports.save_section", lambda: reports.save_section(s, "INC-P", SECTION_KEYS[0], "new",
                                                              version=w["section"].version)),
        ("reports.reset_section", lambda: reports.reset_section(s, "INC-P", SECTION_KEYS[0],
                                                                version=w["section"].version)),
        ("runbooks.save_runbook", lambda: rb.save_runbook(s, w["book"].pattern, content, version=w["book"].version)),
        ("runbooks.create_runbook", lambda: rb.create_runbook(s, "my-pattern", "data_drift", content)),
        ("runbooks.learn_from_incident", lambda: rb.learn_from_incident(s, "INC-P", cause="data_drift")),
    ]


#: Functions of core/store that only read (or only create defaults on first read, as the workbench).
READS = {
    "incidents": {"find_incident", "get_incident", "list_incidents", "new_incident_id"},
    "timeline": {"event_history", "get_event", "list_events", "timeline_revision"},
    "evidence": {"count_evidence", "digest_of", "get_evidence", "list_evidence"},
    "fishbone": {"ensure_fishbone", "event_ref", "evidence_ref", "fishbone_revision", "get_cause", "get_fishbone",
                 "list_whys", "log_query_ref", "normalise", "why_paths"},
    "action_items": {"get_action_item", "guard_rail_links", "list_action_items", "parse_prevents"},
    "reports": {"get_section", "list_sections", "sections_revision"},
    "runbooks": {"ensure_default_runbooks", "find_runbook", "get_runbook", "get_version", "list_runbooks",
                 "list_versions", "runbook_for"},
}


def _snapshot(store) -> dict[str, list]:
    with store.engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(select(t)).fetchall())) for t in metadata.sorted_tables
                if t.name not in ("presence",)}


def test_every_store_write_function_is_listed(sqlite_store):
    """A new write function in core/store must be added to the walk below (or to READS when it only reads)."""
    listed = {name for name, _ in _writes(sqlite_store, {})}
    for module, reads in READS.items():
        mod = importlib.import_module(f"core.store.{module}")
        public = {n for n, f in inspect.getmembers(mod, inspect.isfunction)
                  if f.__module__ == mod.__name__ and not n.startswith("_")}
        unlisted = public - reads - {n.split(".", 1)[1] for n in listed if n.startswith(module + ".")}
        assert not unlisted, f"core.store.{module}: classify {sorted(unlisted)} as a write (in _writes) or a read"


def test_every_table_has_a_permission_rule():
    assert {t.name for t in metadata.sorted_tables} <= set(TABLES)


def test_a_viewer_is_refused_every_write_and_nothing_is_written(store, world):
    viewer = store.as_user(VIEWER, via="test")
    before = _snapshot(store)
    refused = []
    for name, call in _writes(viewer, world):
        with pytest.raises(PermissionDeniedError, match="vera@example.com is a viewer.*Nothing was saved"):
            call()
        refused.append(name)
    assert len(refused) == 30
    assert _snapshot(store) == before


def test_a_commander_may_do_every_write(store, world):
    """The same walk succeeds for a commander (so the refusals above come from the role, not bad calls)."""
    commander = store.as_user(COMMANDER, via="test")
    done = 0
    for name, call in _writes(commander, world):
        if name == "incidents.delete_incident":
            continue  # would remove the rows the later calls write to
        try:
            call()
        except ConcurrentEditError:  # an earlier call in the walk changed the same row: the role was accepted
            pass
        done += 1
    assert done == 29


def test_a_responder_edits_the_investigation_but_not_command_fields(store, world):
    responder = store.as_user(RESPONDER, via="page:timeline")
    tl.update_event(responder, world["event"].id, version=1, title="Deploy v2 (canary)")
    fb.add_cause(responder, "INC-P", category_id=world["cat"].id, text="late join")
    got = inc.update_incident(responder, "INC-P", version=1, summary="CTR fell 30%")
    for change in ({"status": "mitigated"}, {"severity": "SEV1"}, {"roles": {"incident_commander": "rob"}}):
        with pytest.raises(PermissionDeniedError, match="only a commander can change incidents"):
            inc.update_incident(responder, "INC-P", version=got.version, **change)
    with pytest.raises(PermissionDeniedError, match="only a commander"):
        inc.delete_incident(responder, "INC-P")
    fresh = inc.get_incident(store, "INC-P")
    assert fresh.status.value == "investigating" and fresh.severity.value == "SEV2" and fresh.version == 2


def test_a_viewer_can_read_pages_that_create_defaults(store):
    """Opening a fishbone or the runbooks for the first time creates default rows as the workbench."""
    inc.create_incident(store, id="INC-V", title="new")
    viewer = store.as_user(VIEWER)
    assert fb.get_fishbone(viewer, "INC-V").categories
    assert rb.list_runbooks(viewer)


def test_the_single_user_default_acts_as_a_local_commander(store, world):
    local = store.as_user(LOCAL, via="page:incidents")
    inc.update_incident(local, "INC-P", version=1, status="mitigated", severity="SEV1")
    assert inc.get_incident(store, "INC-P").status.value == "mitigated"


def test_the_audit_log_is_append_only_even_for_raw_sql(store, world):
    with store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(metadata.tables["audit_log"])).scalar_one()
    assert n > 0
    with pytest.raises(PermissionDeniedError, match="append-only"):
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log")
    # the database refuses it too, whatever client connects (the migration's trigger)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        with pytest.raises(Exception, match="append-only"):
            cur.execute("UPDATE audit_log SET user_name = 'mallory'")
        raw.rollback()
    finally:
        raw.close()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE user_name = 'mallory'")).scalar_one() == 0


def test_a_responder_may_save_a_form_that_sends_command_fields_back_unchanged(store, world):
    """The incident editor sends every field; only a change of status, severity or roles needs a commander."""
    responder = store.as_user(RESPONDER)
    current = inc.get_incident(store, "INC-P")
    saved = inc.update_incident(responder, "INC-P", version=current.version, summary="CTR fell 30% on mobile",
                                status=current.status.value, severity=current.severity.value, roles=current.roles)
    assert saved.summary == "CTR fell 30% on mobile"
    with pytest.raises(PermissionDeniedError, match=r"\(severity\)"):
        inc.update_incident(responder, "INC-P", version=saved.version, summary="x", status=current.status.value,
                            severity="SEV1", roles=current.roles)
