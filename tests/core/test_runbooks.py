"""Runbooks in the store (SQLite and PostgreSQL): defaults, versions, concurrent edits, learning, export."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import RootCause
from core.prevention.runbooks import (
    STAGES, Check, RunbookContent, ViewLink, default_content, parse_checks, to_markdown, validate_content,
)
from core.store.incidents import create_incident
from core.store.runbooks import (
    create_runbook, get_runbook, get_version, learn_from_incident, list_runbooks, list_versions, runbook_for,
    save_runbook,
)
from core.store.timeline import add_events

T0 = datetime(2026, 1, 21, 9, tzinfo=timezone.utc)


def _schema_incident(store, incident_id="inc-lab", service="lab-scorer"):
    create_incident(store, id=incident_id, title="accuracy drop", service=service, severity="SEV2",
                    root_cause="schema_change", milestones={"started": T0})
    add_events(store, incident_id, [
        {"timestamp": T0, "kind": "alert", "source": "great_expectations", "title": "expectation failed",
         "details": {"expectation": "expect_column_values_to_be_between", "column": "mean area"}},
        {"timestamp": T0, "kind": "alert", "source": "grafana", "title": "accuracy low", "details": {"rule": "accuracy_slo"}},
    ])


def test_every_class_has_a_default_entry_with_checks_in_stage_order(store):
    books = list_runbooks(store)
    assert {b.cause_class for b in books} == set(RootCause)
    for b in books:
        assert b.origin == "default" and b.version == 1 and b.content.symptoms and b.content.owners
        stages = [STAGES.index(c.stage) for c in b.content.checks]
        assert stages == sorted(stages) and stages[0] == 0
    list_runbooks(store)  # idempotent: no second copy
    assert len(list_runbooks(store)) == len(RootCause)
    assert runbook_for(store, "stale_data").pattern == "stale_data"
    with pytest.raises(InvalidInputError, match="not a root-cause class"):
        runbook_for(store, "gremlins")


def test_every_save_is_a_new_version_and_old_ones_stay_readable(store):
    rb = get_runbook(store, "data_drift")
    edited = RunbookContent(title="Drift, edited", symptoms=("one",),
                            checks=(Check("infrastructure", "machines"), Check("data", "features")),
                            owners=("team-a",))
    v2 = save_runbook(store, "data_drift", edited, version=rb.version, author="ana", note="shorter")
    assert v2.version == 2 and v2.title == "Drift, edited" and v2.author == "ana"
    assert [c.stage for c in v2.content.checks] == ["data", "infrastructure"]  # reordered on save
    assert v2.content.signature == rb.content.signature  # kept when the editor leaves it out
    versions = list_versions(store, "data_drift")
    assert [v.version for v in versions] == [2, 1] and versions[0].note == "shorter"
    assert get_version(store, "data_drift", 1).content.title == rb.title
    with pytest.raises(NotFoundError, match="versions 1 to 2"):
        get_version(store, "data_drift", 7)


def test_a_stale_save_is_refused_and_nothing_is_written(store):
    rb = get_runbook(store, "infrastructure")
    save_runbook(store, "infrastructure", RunbookContent(title="first editor"), version=rb.version, author="a")
    with pytest.raises(ConcurrentEditError, match="changed by someone else") as err:
        save_runbook(store, "infrastructure", RunbookContent(title="second editor"), version=rb.version, author="b")
    assert err.value.current.title == "first editor" and err.value.current.version == 2
    assert [v.version for v in list_versions(store, "infrastructure")] == [2, 1]


def test_bad_content_names_the_problem(store):
    rb = get_runbook(store, "stale_data")
    with pytest.raises(InvalidInputError, match="needs a title"):
        save_runbook(store, "stale_data", RunbookContent(title="  "), version=rb.version)
    with pytest.raises(InvalidInputError, match="stage 'network'"):
        validate_content(RunbookContent(title="x", checks=(Check("network", "ping"),)))
    with pytest.raises(InvalidInputError, match="page '/nowhere'"):
        validate_content(RunbookContent(title="x", views=(ViewLink("x", "nowhere"),)))
    with pytest.raises(InvalidInputError, match="line 2"):
        parse_checks("data: rows\nping the host")
    with pytest.raises(NotFoundError, match="the runbooks are"):
        get_runbook(store, "nope")
    with pytest.raises(InvalidInputError, match="exists already"):
        create_runbook(store, "stale_data", "stale_data", RunbookContent(title="dup"))


def test_learning_from_an_incident_creates_then_versions_its_pattern(store):
    _schema_incident(store)
    rb, created = learn_from_incident(store, "inc-lab", author="ana")
    assert created and rb.pattern == "schema_change/lab-scorer" and rb.origin == "learned"
    assert rb.source_incident_id == "inc-lab"
    text = " ".join(rb.content.symptoms)
    assert "mean area" in text and "accuracy_slo" in text
    assert rb.content.signature["features"] == ["mean area"]
    assert any(v.params.get("distributions_column") == "mean area" for v in rb.content.views)
    assert runbook_for(store, "schema_change", incident_id="inc-lab").pattern == rb.pattern
    _schema_incident(store, "inc-lab-2")
    again, created = learn_from_incident(store, "inc-lab-2", author="bo")
    assert not created and again.version == 2
    assert again.content.signature["incidents"] == ["inc-lab", "inc-lab-2"]
    create_incident(store, id="inc-unknown", title="t", severity="SEV3")
    with pytest.raises(InvalidInputError, match="no root-cause class yet"):
        learn_from_incident(store, "inc-unknown")


def test_markdown_export_uses_the_app_link_format():
    from core.prevention.runbooks import Runbook

    rb = Runbook(1, "stale_data", RootCause.STALE_DATA, "default", None, 3, default_content("stale_data"), "ana",
                 T0)
    md = to_markdown(rb, "inc-9")
    assert md.startswith("# Stale feature feed")
    assert "(/timeline?incident=inc-9&timeline_kinds=data_pipeline&timeline_kinds=alert)" in md
    assert "1. **data**" in md and "## Owners" in md and "version 3" in md
    assert "(/metrics?incident=ID)" in to_markdown(rb)
