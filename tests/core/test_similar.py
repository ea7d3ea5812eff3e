"""Similar past incidents, guard-rail links of action items and recurrence per failure pattern."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from core.analysis.incident_analytics import recurrence_by_pattern, recurrence_frame
from core.analysis.similar import IncidentSignature, pattern_key, rank_similar
from core.errors import ConcurrentEditError, InvalidInputError
from core.models import ActionStatus
from core.store.action_items import add_action_item, guard_rail_links, set_done_at, update_action_item
from core.store.analytics import load_signature, load_signatures, signatures_revision
from core.store.evidence import pin_evidence
from core.store.incidents import create_incident
from core.store.timeline import add_events


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def sig(i, **kw):
    return IncidentSignature(incident_id=i, started=kw.pop("started", utc(2026, 1, 1)), **kw)


def test_ranking_weighs_shared_facets_and_says_why():
    target = sig("t", root_cause="stale_data", service="fraud-scorer", features=frozenset({"age", "amount"}))
    same = sig("a", root_cause="stale_data", service="fraud-scorer", features=frozenset({"age", "amount"}))
    half = sig("b", root_cause="stale_data", service="other", features=frozenset({"age", "country"}))
    none = sig("c", root_cause="infrastructure", service="edge")
    got = rank_similar(target, [none, half, same, target])
    assert [g.incident_id for g in got] == ["a", "b"]  # itself and the unrelated one are left out
    assert got[0].score == pytest.approx(1.0)
    # half: class 3 + features 2 * (1 shared / 3 in the union) of 3 + 2 + 2 possible
    assert got[1].score == pytest.approx((3 + 2 / 3) / 7)
    assert "same root-cause class: Stale data" in got[1].why and "shares 1 of 2 features: age" in got[1].why
    assert got[0].to_dict()["why"][0]["facet"] == "root_cause"
    with pytest.raises(InvalidInputError, match="below 1"):
        rank_similar(target, [same], limit=0)


def test_signatures_from_the_store_read_checks_features_templates_and_models(store):
    t0 = utc(2026, 2, 4, 3)
    create_incident(store, id="i1", title="one", service="svc", severity="SEV2", root_cause="data_drift",
                    milestones={"started": t0})
    add_events(store, "i1", [
        {"timestamp": t0, "kind": "alert", "title": "GX", "details": {"expectation": "expect_x", "column": "amount"}},
        {"timestamp": t0, "kind": "model_version", "title": "v2", "details": {"model": "fraud-model"}},
        {"timestamp": t0, "kind": "deploy", "title": "not read", "details": {"rule": "ignored"}},
    ])
    pin_evidence(store, "i1", kind="drift", title="drift", query={},
                 result={"columns": [{"column": "age", "drifted": True}, {"column": "zip", "drifted": False}]})
    pin_evidence(store, "i1", kind="log_patterns", title="logs", query={},
                 result={"templates": [{"template": "cache miss for <*>", "status": "new"}]})
    s = load_signature(store, "i1")
    assert s.failing_checks == {"expect_x(amount)"} and s.features == {"amount", "age"}
    assert s.model == "fraud-model" and s.log_templates == {"cache miss for <*>"} and s.started == t0
    create_incident(store, id="i2", title="two", service="svc", severity="SEV3", root_cause="data_drift",
                    milestones={"started": utc(2026, 3, 1)})
    add_events(store, "i2", [{"timestamp": utc(2026, 3, 1), "kind": "alert", "title": "GX",
                              "details": {"expectation": "expect_x", "column": "amount"}}])
    before = signatures_revision(store)
    ranked = rank_similar(s, load_signatures(store))
    assert [r.incident_id for r in ranked] == ["i2"]
    assert signatures_revision(store) == before
    add_action_item(store, "i2", text="alert", prevents="rule:x")
    assert signatures_revision(store) != before
    assert "shares 1 of 1 failing checks: expect_x(amount)" in ranked[0].why


def test_action_items_link_a_guard_rail_and_record_when_done(store):
    create_incident(store, id="g1", title="t", severity="SEV3")
    item = add_action_item(store, "g1", text="freshness alert", prevents="Rule: FeatureFreshness")
    links = guard_rail_links(store, "g1")
    assert [(l.prevents, l.status, l.done_at) for l in links] == [("rule:FeatureFreshness", ActionStatus.OPEN, None)]
    done = update_action_item(store, item.id, version=item.version, status="done")
    assert guard_rail_links(store)[0].shipped
    back = update_action_item(store, item.id, version=done.version, status="in_progress")
    assert guard_rail_links(store)[0].done_at is None
    with pytest.raises(InvalidInputError, match="rule:<alert name>"):
        update_action_item(store, item.id, version=back.version, prevents="an alert")
    with pytest.raises(InvalidInputError, match="not done"):
        set_done_at(store, item.id, version=back.version, done_at=utc(2026, 1, 1))
    with pytest.raises(ConcurrentEditError):
        update_action_item(store, item.id, version=item.version, status="done")


def _link(incident, prevents, done_at):
    from core.store.action_items import GuardRailLink

    return GuardRailLink(1, incident, "x", prevents, ActionStatus.DONE if done_at else ActionStatus.OPEN, done_at, 1)


def test_recurrence_counts_incidents_per_month_before_and_after_the_guard_rail_shipped():
    sigs = [sig(f"s{n}", root_cause="stale_data", service="fraud", started=utc(2026, m, d))
            for n, (m, d) in enumerate([(1, 5), (1, 20), (2, 10), (3, 2), (6, 1)])]
    sigs.append(sig("x", root_cause="", service="fraud"))  # no class yet: no pattern
    rails = [_link("s0", "rule:FeatureFreshness", utc(2026, 3, 15)), _link("s1", "fallback:breaker", None)]
    (rec,) = recurrence_by_pattern(sigs, rails, today=date(2026, 8, 31))
    assert rec.pattern == pattern_key("stale_data", "fraud") == "stale_data/fraud"
    assert (rec.before, rec.after) == (4, 1) and rec.shipped == utc(2026, 3, 15)
    assert rec.rate_before == pytest.approx(4 / 3) and rec.rate_after == pytest.approx(1 / 6)
    assert rec.monthly["count"].tolist() == [2, 1, 1, 1]  # Jan, Feb, Mar (before the 15th), Jun
    assert rec.monthly["phase"].tolist() == ["before", "before", "before", "after"]
    assert "rule:FeatureFreshness, fallback:breaker" in rec.sentence
    table = recurrence_frame([rec])
    assert table.loc[0, "shipped"] == "2026-03-15" and table.loc[0, "after"] == "1"
    (open_only,) = recurrence_by_pattern(sigs, rails[1:], today=date(2026, 8, 31))
    assert open_only.shipped is None and open_only.rate_after is None and "not done" in open_only.sentence
