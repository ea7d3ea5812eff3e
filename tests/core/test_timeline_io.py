"""Timeline import (mapping, preview, time zones, merging, all-or-nothing) and export."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.models import EventKind
from core.store.timeline import add_event, list_events
from core.flows.timeline_io import (
    ColumnMapping,
    apply_import,
    export_events,
    guess_mapping,
    merge_events,
    parse_time,
    preview_import,
    read_event_table,
)
from zoneinfo import ZoneInfo

UTC = timezone.utc


@pytest.fixture
def incident(sqlite_store):
    from core.store.incidents import create_incident

    create_incident(sqlite_store, id="inc-1", title="CTR drop")
    return "inc-1"


@pytest.fixture
def both(store):
    """A store of each backend (SQLite, PostgreSQL) holding incident inc-1."""
    from core.store.incidents import create_incident

    create_incident(store, id="inc-1", title="CTR drop")
    return store


def csv_bytes(text: str) -> pd.DataFrame:
    return read_event_table(text.strip().encode(), name="events.csv")


def test_chat_export_is_mapped_previewed_then_written(both):
    db, incident = both, "inc-1"
    frame = csv_bytes("""
timestamp,author,text
2026-03-12T14:31:00+01:00,ana,"CTR looks low on the home feed, anyone deploying?"
2026-03-12T14:40:00+01:00,raj,rolled back nothing yet
""")
    mapping = guess_mapping(frame.columns)
    assert (mapping.timestamp, mapping.author, mapping.text, mapping.title) == ("timestamp", "author", "text", None)
    preview = preview_import(frame, mapping)
    assert preview.ok and preview.counts()["new"] == 2
    assert list_events(db, incident) == []  # preview writes nothing
    ids = apply_import(db, incident, preview)
    events = list_events(db, incident)
    assert len(ids) == 2
    first = events[0]
    assert first.kind is EventKind.ANNOTATION
    assert first.author == "ana"
    assert first.timestamp == datetime(2026, 3, 12, 13, 31, tzinfo=UTC)
    assert first.details["text"].startswith("CTR looks low")
    assert first.source == "import"


def test_naive_times_need_a_zone_and_are_converted(incident, sqlite_store):
    frame = csv_bytes("timestamp,title,kind\n2026-03-12 10:00,deploy api,deploy\n")
    preview = preview_import(frame, guess_mapping(frame.columns))
    assert not preview.ok
    assert "has no time zone" in str(preview.problems[0])
    with pytest.raises(InvalidInputError, match="nothing imported: row 1"):
        apply_import(sqlite_store, incident, preview)
    assert list_events(sqlite_store, incident) == []
    m = ColumnMapping(timestamp="timestamp", title="title", kind="kind", timezone="Europe/Berlin")
    ok = preview_import(frame, m)
    assert ok.ok
    assert ok.new_events[0]["timestamp"] == datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def test_ambiguous_and_missing_local_times_are_flagged():
    berlin = ZoneInfo("Europe/Berlin")
    with pytest.raises(InvalidInputError, match="ambiguous in Europe/Berlin"):
        parse_time("2026-10-25 02:30", zone=berlin)
    with pytest.raises(InvalidInputError, match="does not exist in Europe/Berlin"):
        parse_time("2026-03-29 02:30", zone=berlin)
    assert parse_time("2026-10-25T02:30+01:00") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match="day/month or month/day"):
        parse_time("03/04/2026 10:00", zone=berlin)
    assert parse_time("03/04/2026 10:00 PM", zone=ZoneInfo("UTC"), date_order="MDY") == datetime(
        2026, 3, 4, 22, 0, tzinfo=UTC)
    assert parse_time("1773324000") == datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    assert parse_time("1773324000000") == datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match="not a time I can read"):
        parse_time("next tuesday")


def test_date_order_is_inferred_from_the_file_when_a_day_shows_it():
    frame = csv_bytes("time,message\n25/03/2026 10:00,a\n03/04/2026 11:00,b\n")
    p = preview_import(frame, ColumnMapping(timestamp="time", text="message", timezone="UTC"))
    assert p.ok
    assert p.new_events[1]["timestamp"] == datetime(2026, 4, 3, 11, 0, tzinfo=UTC)


def test_bad_rows_are_all_reported_and_nothing_is_written(sqlite_store, incident):
    frame = csv_bytes("""
id,timestamp,end,kind,title
a,2026-03-12T10:00Z,2026-03-12T09:00Z,deploy,ends early
b,,,deploy,no time
c,garbage,,deploy,bad time
c,2026-03-12T11:00Z,,deploy,dup id
d,2026-03-12T12:00Z,,launch,bad kind
e,2026-03-12T13:00Z,,deploy,
f,2026-03-12T14:00Z,,deploy,fine
""")
    p = preview_import(frame, guess_mapping(frame.columns))
    messages = [str(x) for x in p.problems]
    assert any(m.startswith("row 1:") and "before it starts" in m for m in messages)
    assert any(m.startswith("row 2:") and "no timestamp" in m for m in messages)
    assert any(m.startswith("row 3:") and "not a time I can read" in m for m in messages)
    assert any(m.startswith("row 4:") and "id 'c' repeats row 3" in m for m in messages)
    assert any(m.startswith("row 5:") and "'launch' is not an event kind" in m for m in messages)
    assert any(m.startswith("row 6:") and "no title" in m for m in messages)
    assert "nothing was imported" in p.summary()
    with pytest.raises(InvalidInputError):
        apply_import(sqlite_store, incident, p)
    assert list_events(sqlite_store, incident) == []


def test_duplicates_merge_within_file_and_against_timeline(both):
    db, incident = both, "inc-1"
    add_event(db, incident, timestamp="2026-03-12T13:50:00Z", kind="model_version",
              title="recs-ranker v42 promoted", source="mlflow")
    frame = read_event_table("\n".join(json.dumps(r) for r in [
        {"ts": "2026-03-12T13:52:00Z", "type": "model_version", "title": "Recs-ranker  v42 promoted", "source": "slack"},
        {"ts": "2026-03-12T09:00:00Z", "type": "config_change", "title": "pool 800→850", "source": "git"},
        {"ts": "2026-03-12T09:03:00Z", "type": "config_change", "title": "POOL 800→850", "source": "chat",
         "end": "2026-03-12T09:30:00Z"},
        {"ts": "2026-03-12T09:30:00Z", "type": "config_change", "title": "pool 800→850", "source": "chat"},
    ]).encode(), name="x.jsonl")
    m = ColumnMapping(timestamp="ts", kind="type", title="title", source="source", end="end")
    p = preview_import(frame, m, existing=list_events(db, incident))
    actions = [r.action for r in p.rows]
    assert actions == ["exists", "new", "merged", "new"]  # 09:30 is outside the 5 minute tolerance
    merged = p.new_events[0]
    assert merged["details"]["merged_sources"] == ["git", "chat"]
    assert merged["end"] == datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
    apply_import(db, incident, p)
    assert len(list_events(db, incident)) == 3
    again = preview_import(frame, m, existing=list_events(db, incident))
    assert again.counts()["new"] == 0


def test_merge_events_keeps_earliest_and_all_sources():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    out = merge_events([
        {"timestamp": t + timedelta(minutes=2), "kind": "deploy", "title": "api 1.2", "source": "argo", "author": ""},
        {"timestamp": t, "kind": "deploy", "title": "API 1.2", "source": "slack", "author": "ana"},
        {"timestamp": t, "kind": "alert", "title": "api 1.2", "source": "grafana"},
    ])
    assert len(out) == 2
    dep = next(e for e in out if e["kind"] == "deploy")
    assert dep["timestamp"] == t and dep["details"]["merged_sources"] == ["slack", "argo"]
    assert dep["author"] == "ana"


def test_huge_import_and_bad_mapping_are_refused_before_parsing():
    frame = pd.DataFrame({"timestamp": ["2026-01-01T00:00Z"] * 11, "title": ["x"] * 11})
    with pytest.raises(InvalidInputError, match="11 rows; an import takes at most 10"):
        preview_import(frame, guess_mapping(frame.columns), max_rows=10)
    with pytest.raises(InvalidInputError, match="not in the file: author → 'who'"):
        preview_import(frame, ColumnMapping(timestamp="timestamp", title="title", author="who"))
    with pytest.raises(InvalidInputError, match="not a time zone"):
        preview_import(frame, ColumnMapping(timestamp="timestamp", title="title", timezone="Mars/Olympus"))
    with pytest.raises(InvalidInputError, match="no time column"):
        guess_mapping(["foo", "bar"])
    with pytest.raises(InvalidInputError, match="unsupported file type"):
        read_event_table(b"x", name="a.xlsx")
    with pytest.raises(InvalidInputError, match="line 2: not valid JSON"):
        read_event_table(b'{"a": 1}\n{oops\n', name="a.jsonl")


def test_export_round_trips_through_import(sqlite_store, incident):
    add_event(sqlite_store, incident, timestamp="2026-03-12T13:50:00Z", kind="deploy", title='api "v2", now',
              author="ana", details={"commit": "abc"}, end="2026-03-12T14:00:00Z")
    events = list_events(sqlite_store, incident)
    for fmt in ("csv", "jsonl"):
        data = export_events(events, fmt)
        frame = read_event_table(data, name=f"t.{fmt}")
        p = preview_import(frame, guess_mapping(frame.columns))
        assert p.ok, p.problems
        got = p.rows[0].event
        assert (got["title"], got["kind"], got["author"]) == ('api "v2", now', "deploy", "ana")
        assert got["end"] == datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    assert json.loads(export_events(events, "jsonl").splitlines()[0])["details"] == {"commit": "abc"}
    with pytest.raises(InvalidInputError, match="use csv or jsonl"):
        export_events(events, "xml")
