"""Incident store against SQLite and PostgreSQL: CRUD, validation, optimistic concurrency, migrations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError, StoreError
from core.models import Milestone, Status, TimeWindow
from core.store import open_store, redact_url
from core.store.evidence import count_evidence, list_evidence, pin_evidence
from core.store.incidents import create_incident, get_incident, list_incidents, update_incident
from core.store.tables import metadata
from core.store.timeline import add_event, event_history, list_events, timeline_revision, update_event

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_create_get_and_durations(store):
    inc = create_incident(store, id="INC-1", title="CTR drop", service="recs", severity="SEV2",
                          milestones={"started": T0, "detected": T0 + timedelta(hours=2),
                                      "resolved": T0 + timedelta(hours=9)})
    got = get_incident(store, "INC-1")
    assert got == inc
    assert got.milestone(Milestone.STARTED) == T0
    assert got.durations()["TTD"] == timedelta(hours=2)
    assert got.durations()["TTR"] == timedelta(hours=9)
    assert got.durations()["TTA"] is None
    assert got.version == 1


def test_times_round_trip_as_utc(store):
    cet = timezone(timedelta(hours=1))
    create_incident(store, id="tz", title="x", milestones={"started": datetime(2026, 1, 1, 13, 0, tzinfo=cet)},
                    window=TimeWindow(T0, T0 + timedelta(days=1)))
    got = get_incident(store, "tz")
    assert got.milestone("started") == T0 and got.milestone("started").tzinfo == timezone.utc
    assert got.window.start == T0 and got.window.start.tzinfo is not None


def test_stale_update_is_refused_with_fresh_state(store):
    create_incident(store, id="c1", title="first")
    update_incident(store, "c1", version=1, title="second")
    with pytest.raises(ConcurrentEditError, match="changed by someone else") as err:
        update_incident(store, "c1", version=1, title="third")
    assert err.value.current.title == "second" and err.value.current.version == 2
    assert get_incident(store, "c1").title == "second"


@pytest.mark.parametrize("changes, message", [
    ({"title": "  "}, "needs a title"),
    ({"severity": "SEV9"}, "not a valid severity"),
    ({"status": "done"}, "not a valid status"),
    ({"milestones": {"started": "2026-01-02T00:00Z", "detected": "2026-01-01T00:00Z"}}, "before 'started'"),
    ({"milestones": {"started": "yesterday"}}, "not an ISO 8601"),
    ({"milestones": {"started": "2026-01-02T00:00"}}, "no time zone"),
    ({"roles": {"janitor": "x"}}, "not a valid role"),
    ({"colour": "red"}, "unknown incident field"),
])
def test_bad_edits_have_clear_messages(sqlite_store, changes, message):
    create_incident(sqlite_store, id="b1", title="t")
    with pytest.raises(InvalidInputError, match=message):
        update_incident(sqlite_store, "b1", version=1, **changes)
    assert get_incident(sqlite_store, "b1").version == 1


def test_duplicate_and_missing_ids(sqlite_store):
    create_incident(sqlite_store, id="dup", title="t")
    with pytest.raises(InvalidInputError, match="already exists"):
        create_incident(sqlite_store, id="dup", title="t")
    with pytest.raises(NotFoundError, match="no incident with id 'nope'"):
        get_incident(sqlite_store, "nope")
    with pytest.raises(InvalidInputError, match="not a valid incident id"):
        create_incident(sqlite_store, id="../etc", title="t")


def test_generated_ids_are_unique(sqlite_store):
    a = create_incident(sqlite_store, title="a")
    b = create_incident(sqlite_store, title="b")
    assert a.id != b.id and a.id.startswith("INC-")


def test_list_filters(store):
    create_incident(store, id="a", title="Fraud scores", service="fraud", severity="SEV1", status="resolved",
                    root_cause="stale_data")
    create_incident(store, id="b", title="CTR drop", service="recs", severity="SEV2")
    assert [i.id for i in list_incidents(store, text="fraud")] == ["a"]
    assert [i.id for i in list_incidents(store, text="CTR")] == ["b"]
    assert [i.id for i in list_incidents(store, statuses=["resolved"])] == ["a"]
    assert [i.id for i in list_incidents(store, severities=["SEV2"])] == ["b"]
    assert [i.id for i in list_incidents(store, services=["recs"])] == ["b"]
    assert [i.id for i in list_incidents(store, root_causes=["stale_data"])] == ["a"]
    assert {i.id for i in list_incidents(store)} == {"a", "b"}


def test_timeline_events_keep_revisions(store):
    create_incident(store, id="tl", title="t")
    ev = add_event(store, "tl", timestamp=T0, kind="deploy", title="api 1.2", author="ana")
    ev2 = update_event(store, ev.id, version=ev.version, author="bo", title="api 1.2.1")
    assert ev2.title == "api 1.2.1" and ev2.version == 2
    with pytest.raises(ConcurrentEditError):
        update_event(store, ev.id, version=1, title="stale")
    history = event_history(store, ev.id)
    assert len(history) == 1 and history[0]["before"]["title"] == "api 1.2" and history[0]["author"] == "bo"
    with pytest.raises(InvalidInputError, match="ends"):
        add_event(store, "tl", timestamp=T0, end=T0 - timedelta(minutes=1), kind="deploy", title="x")
    with pytest.raises(InvalidInputError, match="not an event kind"):
        add_event(store, "tl", timestamp=T0, kind="party", title="x")
    assert [e.title for e in list_events(store, "tl")] == ["api 1.2.1"]
    before = timeline_revision(store, "tl")
    update_event(store, ev.id, version=2, title="api 1.2.2")
    assert timeline_revision(store, "tl") != before and timeline_revision(store, "tl")[0] == 1


def test_pinned_evidence_is_frozen_and_on_the_timeline(store):
    create_incident(store, id="ev", title="t")
    window = TimeWindow(T0, T0 + timedelta(hours=1))
    ev = pin_evidence(store, "ev", kind="log_query", title="cache misses", query={"q": "message:miss"},
                      result={"count": 1234, "ratio": float("nan")}, window=window, author="ana")
    assert ev.result == {"count": 1234, "ratio": None} and len(ev.digest) == 64
    assert list_evidence(store, "ev")[0].digest == ev.digest
    assert count_evidence(store, "ev") == 1 and count_evidence(store, "other") == 0
    pinned = [e for e in list_events(store, "ev") if e.pinned]
    assert pinned and pinned[0].evidence_id == ev.id and pinned[0].timestamp == window.end


def test_migrated_schema_matches_tables(store):
    insp = inspect(store.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in insp.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    # opening again is a no-op migration
    again = open_store(store.url)
    again.dispose()


def test_unopenable_store_has_a_clear_message(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(StoreError, match=r"cannot open the store postgresql\+psycopg2://u:\*\*\*@127.0.0.1:1/db"):
        open_store("postgresql://u:secret@127.0.0.1:1/db")
    assert "secret" not in redact_url("postgresql://u:secret@h/db")


def test_status_enum_round_trip(sqlite_store):
    create_incident(sqlite_store, id="s", title="t")
    for version, status in enumerate(Status, start=1):
        update_incident(sqlite_store, "s", version=version, status=status.value)
    assert get_incident(sqlite_store, "s").status == Status.CLOSED
