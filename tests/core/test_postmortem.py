"""Post-mortem drafting: every section from a synthetic incident, edits, blameless check, STAR, the reports store."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import EventKind, Evidence, TimeWindow
from core.report.postmortem import (
    MAX_KEY_EVENTS,
    SECTION_KEYS,
    PostmortemInputs,
    build_postmortem,
    check_text,
    evidence_figure,
    frozen_numbers,
    gather_inputs,
    key_events,
)
from core.store import action_items as ai
from core.store import fishbone as fb
from core.store.evidence import pin_evidence
from core.store.incidents import create_incident
from core.store.reports import get_section, list_sections, reset_section, save_section, sections_revision
from core.store.timeline import add_events

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def kpi_frame() -> pd.DataFrame:
    """A KPI at 1.0 (noise 0.01) for two days, 0.8 for four hours from T0, 1.0 again after."""
    rng = np.random.default_rng(7)
    ts = pd.date_range(T0 - timedelta(days=2), T0 + timedelta(hours=8), freq="5min", tz="UTC", inclusive="left")
    values = 1.0 + rng.normal(0, 0.01, len(ts))
    during = (ts >= T0) & (ts < T0 + timedelta(hours=4))
    values[during] -= 0.2
    return pd.DataFrame({"timestamp": ts, "value": values})


def make_incident(store, incident_id: str = "inc-1", *, n_logs: int = 3) -> str:
    create_incident(
        store, id=incident_id, title="Scoring accuracy dropped after a feed change", service="scorer",
        severity="SEV2", status="resolved", root_cause="schema_change", kpi_metric="accuracy",
        summary="Accuracy of the scorer fell for four hours.",
        milestones={"started": T0, "detected": T0 + timedelta(minutes=20), "acknowledged": T0 + timedelta(minutes=25),
                    "mitigated": T0 + timedelta(hours=4), "resolved": T0 + timedelta(hours=6)},
        roles={"incident_commander": "Dana Whitfield", "scribe": "Lee Park"},
        window=TimeWindow(T0 - timedelta(days=2), T0 + timedelta(hours=8)),
        baseline=TimeWindow(T0 - timedelta(days=2), T0 - timedelta(hours=1)),
    )
    add_events(store, incident_id, [
        {"timestamp": T0 - timedelta(minutes=30), "kind": "data_pipeline", "title": "feed export v2 released"},
        {"timestamp": T0 - timedelta(days=1), "kind": "deploy", "title": "scorer 1.8.3 deployed"},
        {"timestamp": T0 + timedelta(minutes=20), "kind": "alert", "title": "accuracy below band"},
        {"timestamp": T0 + timedelta(hours=1), "kind": "annotation", "title": "rolled the feed back to v1",
         "author": "Lee Park"},
        {"timestamp": T0 + timedelta(hours=5), "kind": "config_change", "title": "schema check enabled"},
    ] + [{"timestamp": T0 + timedelta(seconds=30 * i), "kind": "log", "title": f"log line {i}"} for i in range(n_logs)])
    return incident_id


def make_fishbone(store, incident_id: str) -> dict[str, int]:
    fb.ensure_fishbone(store, incident_id)
    cats = {c.name: c.id for c in fb.get_fishbone(store, incident_id).categories}
    root = fb.add_cause(store, incident_id, category_id=cats["Data"], text="Feed export v2 renamed a column",
                        status="confirmed", notes="The scorer imputed the missing column.")
    sub = fb.add_cause(store, incident_id, category_id=cats["Data"], text="Missing column silently imputed",
                       status="confirmed", parent_id=root.id)
    sus = fb.add_cause(store, incident_id, category_id=cats["Process & people"],
                       text="Change not announced downstream", status="suspected")
    ruled = fb.add_cause(store, incident_id, category_id=cats["Code & config"], text="scorer 1.8.3 deploy",
                         status="ruled_out", notes="A day earlier; accuracy normal after it.")
    w1 = fb.add_why(store, incident_id, question="Why did accuracy drop?", answer="A feature arrived empty.")
    fb.add_why(store, incident_id, question="Why was it empty?", answer="The export renamed the column.",
               parent_id=w1.id, cause_id=root.id)
    ai.add_action_item(store, incident_id, text="Validate the schema at ingestion", owner="data-platform",
                       due=date(2020, 1, 1), status="open", cause_id=root.id)
    ai.add_action_item(store, incident_id, text="Announce export changes", owner="ml-team", status="done",
                       cause_id=sus.id)
    return {"root": root.id, "sub": sub.id, "suspected": sus.id, "ruled": ruled.id}


def pin_two(store, incident_id: str) -> None:
    pin_evidence(store, incident_id, kind="changepoint", title="accuracy changed 1.0 → 0.8",
                 query={"metric": "accuracy"}, window=TimeWindow(T0 - timedelta(hours=2), T0 + timedelta(hours=2)),
                 result={"metric": "accuracy", "n_points": 600,
                         "onset": {"time": "2025-03-10T12:00:00Z", "level_before": 1.0, "level_after": 0.8}},
                 timeline_at=T0)
    pin_evidence(store, incident_id, kind="drift", title="two columns drifted", query={"columns": "all"},
                 result={"n_reference": 1000, "n_current": 900, "drift_share": 0.5,
                         "columns": [{"column": "mean_radius", "score": 0.9},
                                     {"column": "texture", "score": 0.02}]},
                 timeline_at=T0 + timedelta(minutes=40))


@pytest.fixture
def full(sqlite_store):
    iid = make_incident(sqlite_store)
    ids = make_fishbone(sqlite_store, iid)
    pin_two(sqlite_store, iid)
    inputs = gather_inputs(sqlite_store, iid, with_kpi=False)
    from dataclasses import replace

    return sqlite_store, replace(inputs, kpi=kpi_frame()), ids


def test_every_section_is_drafted_from_the_incident(full):
    _store, inputs, _ids = full
    pm = build_postmortem(inputs, now=T0 + timedelta(days=1))
    assert [s.key for s in pm.sections] == list(SECTION_KEYS)
    text = {s.key: s.text for s in pm.sections}
    assert all(text.values())
    assert "inc-1" in text["title_status"] and "SEV2" in text["title_status"] and "Schema change" in text["title_status"]
    for part in ("**Situation.**", "**Task.**", "**Action.**", "**Result.**"):
        assert part in text["star"]
    assert "Accuracy of the scorer fell" in text["summary"]
    assert "| Duration | 4h 00m |" in text["impact"] and "| KPI change (impact mean vs baseline mean) | -19.9% |" in text["impact"]
    assert "**TTD** 20m" in text["impact"] and "**TTR** 6h 00m" in text["impact"]
    assert "feed export v2 released" in text["timeline"] and "log line" not in text["timeline"]
    assert "accuracy below band" in text["detection"] and "20m after impact start" in text["detection"]
    assert "Incident commander" in text["response"] and "Dana Whitfield" in text["response"]
    assert "rolled the feed back to v1" in text["response"]
    assert "TTM 4h 00m" in text["recovery"] and "TTR 6h 00m" in text["recovery"]
    assert "schema check enabled" in text["recovery"]
    rc = text["root_causes"]
    assert "**Feed export v2 renamed a column *(Data)***" in rc
    assert "contributing: Missing column silently imputed" in rc
    assert "Still suspected" in rc and "Change not announced downstream" in rc
    assert "Ruled out" in rc and "scorer 1.8.3 deploy" in rc
    assert "1. Why did accuracy drop? — A feature arrived empty." in text["five_whys"]
    assert "→ cause: *Feed export v2 renamed a column*" in text["five_whys"]
    assert "Fast detection" in text["went_well"] and "2 finding(s)" in text["went_well"]
    assert "Feed export v2 renamed a column" in text["went_wrong"]
    assert text["got_lucky"].startswith("- ")
    assert "2020-01-01 (past due)" in text["action_items"] and "data-platform" in text["action_items"]
    assert "| done |" in text["action_items"]
    assert "E1. accuracy changed 1.0 → 0.8" in text["evidence"] and "onset.level_before" in text["evidence"]
    assert "E2. two columns drifted" in text["evidence"] and "drift_share" in text["evidence"]
    # people appear only in the roles table of Response
    for key, body in text.items():
        if key != "response":
            assert "Dana Whitfield" not in body and "Lee Park" not in body, key


def test_impact_numbers(full):
    _store, inputs, _ids = full
    impact = build_postmortem(inputs, charts=False).impact
    assert impact.duration == timedelta(hours=4)
    assert impact.kpi_before == pytest.approx(1.0, abs=0.005)
    assert impact.kpi_during == pytest.approx(0.8, abs=0.005)
    assert impact.kpi_change == pytest.approx(-0.2, abs=0.006)
    assert impact.affected_share == pytest.approx(1.0)
    assert impact.readings == 48
    assert impact.start_source == "started milestone"


def test_kpi_onset_is_used_without_a_started_milestone(sqlite_store):
    from dataclasses import replace

    create_incident(sqlite_store, id="no-start", title="KPI dip", kpi_metric="accuracy",
                    window=TimeWindow(T0 - timedelta(days=2), T0 + timedelta(hours=8)))
    inputs = replace(gather_inputs(sqlite_store, "no-start", with_kpi=False), kpi=kpi_frame())
    pm = build_postmortem(inputs, charts=False)
    assert pm.impact.start_source.startswith("KPI onset")
    assert abs(pm.impact.start - T0) <= timedelta(minutes=15)
    given = build_postmortem(inputs, charts=False, onset=T0 + timedelta(hours=1))
    assert given.impact.start == T0 + timedelta(hours=1)


def test_saved_edits_replace_the_draft(full):
    store, inputs, _ids = full
    save_section(store, "inc-1", "got_lucky", "- It happened on a quiet Sunday.", version=0)
    pm = build_postmortem(gather_inputs(store, "inc-1", with_kpi=False), charts=False)
    lucky = pm.section("got_lucky")
    assert lucky.edited and lucky.version == 1 and lucky.text == "- It happened on a quiet Sunday."
    assert lucky.draft.startswith("- *Add what could have made this worse")
    assert not pm.section("summary").edited and pm.section("summary").version == 0
    with pytest.raises(InvalidInputError, match="not a post-mortem section"):
        pm.section("nope")


def test_blameless_check_flags_names_and_human_error(full):
    store, inputs, ids = full
    fb.add_cause(store, "inc-1", category_id=fb.get_cause(store, ids["suspected"]).category_id,
                 text="Human error: Dana Whitfield pushed the wrong file", status="confirmed")
    save_section(store, "inc-1", "went_wrong", "- @lee should have checked the export.", version=0)
    pm = build_postmortem(gather_inputs(store, "inc-1", with_kpi=False), charts=False)
    problems = {(w.section, w.problem) for w in pm.warnings}
    assert ("root_causes", "'human error' is not a root cause") in problems
    assert ("root_causes", "names a person ('Dana Whitfield')") in problems
    assert ("went_wrong", "mentions a person") in problems
    assert ("went_wrong", "hindsight about what someone should have done") in problems
    assert all(w.suggestion for w in pm.warnings)
    # team owners are not people; the roles table is where people belong
    assert not any("data-platform" in w.problem for w in pm.warnings)
    assert not any(w.section == "response" for w in pm.warnings)


def test_clean_incident_has_no_blameless_warnings(full):
    _store, inputs, _ids = full
    assert build_postmortem(inputs, charts=False).warnings == ()
    assert check_text("summary", "The export was careless about units", [])[0].problem == "judges a person"
    assert check_text("summary", "Nothing to see: versions 1.2.3 and ids 42", []) == []


def test_masking_reaches_every_section(sqlite_store):
    create_incident(sqlite_store, id="leaky", title="Login errors for ops@example.com",
                    summary="Requests from 10.20.30.40 used key sk-abcdefghijklmnopqrstuv")
    add_events(sqlite_store, "leaky", [{"timestamp": T0, "kind": "alert", "title": "card 4111 1111 1111 1111 declined"}])
    pin_evidence(sqlite_store, "leaky", kind="log_query", title="token=abc123secret seen",
                 query={"q": "x"}, result={"user": "bob@example.org"})
    save_section(sqlite_store, "leaky", "got_lucky", "Bearer abcdefgh123456 was revoked fast", version=0)
    pm = build_postmortem(gather_inputs(sqlite_store, "leaky"), mask=True, charts=False)
    everything = "\n".join(s.text for s in pm.sections) + pm.incident.title + repr(pm.evidence)
    for secret in ("ops@example.com", "10.20.30.40", "sk-abcdefghijklmnopqrstuv", "4111 1111 1111 1111",
                   "abc123secret", "bob@example.org", "abcdefgh123456"):
        assert secret not in everything
    assert pm.masked and "[email]" in pm.section("summary").text + pm.section("title_status").text


def test_hundreds_of_events_are_summarised(sqlite_store):
    iid = make_incident(sqlite_store, "busy", n_logs=10)
    add_events(sqlite_store, iid, [
        {"timestamp": T0 - timedelta(minutes=5 * i), "kind": "deploy" if i % 3 else "config_change",
         "title": f"routine change {i}"} for i in range(400)])
    inputs = gather_inputs(sqlite_store, iid, with_kpi=False)
    assert len(inputs.events) == 415
    pm = build_postmortem(inputs)
    assert len(pm.key_events) == MAX_KEY_EVENTS
    titles = [e.title for e in pm.key_events]
    assert "accuracy below band" in titles and "Started" in titles  # alerts and milestones always kept
    assert "routine change 1" in titles and "routine change 399" not in titles  # closest to impact start
    assert "further events" in pm.section("timeline").text
    assert pm.charts_for("timeline")


def test_key_events_keep_pinned_logs_only():
    from core.models import Incident, TimelineEvent

    inc = Incident(id="k", title="k", milestones={"started": T0})
    evs = [TimelineEvent(1, "k", T0, EventKind.LOG, "plain log"),
           TimelineEvent(2, "k", T0, EventKind.LOG, "pinned log", pinned=True),
           TimelineEvent(3, "k", T0, EventKind.DEPLOY, "deploy")]
    titles = [e.title for e in key_events(inc, evs)]
    assert titles.count("Started") == 1 and "pinned log" in titles and "plain log" not in titles


def test_empty_incident_drafts_every_section(sqlite_store):
    create_incident(sqlite_store, id="empty", title="Something odd")
    pm = build_postmortem(gather_inputs(sqlite_store, "empty"))
    text = {s.key: s.text for s in pm.sections}
    assert "No evidence pinned" in text["evidence"]
    assert "No action items yet" in text["action_items"]
    assert "No Five Whys chain yet" in text["five_whys"]
    assert "No cause is confirmed" in text["root_causes"]
    assert "No events on the timeline yet" in text["timeline"]
    assert pm.charts == () and pm.warnings == ()
    assert "Investigation is under way" in pm.star.action


def test_evidence_figures_come_from_the_kind_and_frozen_numbers_from_the_copy():
    def ev(kind, result):
        return Evidence(1, "x", kind, "t", {}, None, result, "d" * 64)

    cps = ev("changepoint", {"metric": "acc", "change_points": [
        {"time": "2025-01-01T00:00:00Z", "relative_change": -0.2}, {"time": "2025-01-01T00:01:00Z",
                                                                  "relative_change": 0.1}]})
    assert evidence_figure(cps).data[0].type == "scatter"
    level = evidence_figure(ev("changepoint", {"onset": {"level_before": 1.0, "level_after": 0.5}}))
    assert list(level.data[0].y) == [1.0, 0.5]
    bars = evidence_figure(ev("drift", {"columns": [{"column": "a", "score": 0.1}, {"column": "b", "score": 0.9}]}))
    assert list(bars.data[0].y) == ["a", "b"]  # largest last (drawn on top)
    assert evidence_figure(ev("k", {"series": [{"timestamp": "2025-01-01T00:00:00Z", "value": 1.0}]})) is None
    assert evidence_figure(ev("log_query", {"count": 3})) is None
    nums = frozen_numbers({"count": 3, "ok": True, "x": {"y": 0.123456}, "long": "z" * 200, "rows": [1, 2]})
    assert nums == [("count", "3"), ("ok", "yes"), ("x.y", "0.1235")]


def test_inputs_can_be_built_without_a_store():
    from core.models import Incident

    pm = build_postmortem(PostmortemInputs(incident=Incident(id="bare", title="Bare <b>title</b>")), charts=False)
    assert "\\<b\\>" in pm.section("title_status").text  # escaped, shows literally


# ---------------------------------------------------------------- reports store


def test_report_sections_store_versions(store):
    create_incident(store, id="r1", title="R")
    assert get_section(store, "r1", "summary") is None
    first = save_section(store, "r1", "summary", "one\r\ntwo", version=0)
    assert first.version == 1 and first.text == "one\ntwo"
    second = save_section(store, "r1", "summary", "three", version=1)
    assert second.version == 2
    with pytest.raises(ConcurrentEditError, match="changed by someone else") as err:
        save_section(store, "r1", "summary", "stale", version=1)
    assert err.value.current.text == "three" and err.value.current.version == 2
    with pytest.raises(ConcurrentEditError) as err:
        save_section(store, "r1", "summary", "also new", version=0)  # two first saves: the second loses
    assert err.value.current.text == "three"
    assert sections_revision(store, "r1") == (("summary", 2),)
    assert set(list_sections(store, "r1")) == {"summary"}
    with pytest.raises(ConcurrentEditError):
        reset_section(store, "r1", "summary", version=1)
    reset_section(store, "r1", "summary", version=2)
    assert get_section(store, "r1", "summary") is None
    with pytest.raises(ConcurrentEditError) as err:
        save_section(store, "r1", "summary", "after reset", version=2)
    assert err.value.current is None


def test_report_sections_bad_input(sqlite_store):
    create_incident(sqlite_store, id="r2", title="R")
    with pytest.raises(InvalidInputError, match="not a section name"):
        save_section(sqlite_store, "r2", "Bad Name", "x", version=0)
    with pytest.raises(InvalidInputError, match="keep it under"):
        save_section(sqlite_store, "r2", "summary", "x" * 100_001, version=0)
    with pytest.raises(NotFoundError, match="no incident"):
        save_section(sqlite_store, "missing", "summary", "x", version=0)
