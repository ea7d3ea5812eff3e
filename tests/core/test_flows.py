"""Flows (core/flows): every pin kind, accepting a hypothesis, setting the impact start, and the
``accept`` / ``pin`` commands, against a real store (SQLite; PostgreSQL for the cheap cases)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from core.errors import ConcurrentEditError, InvalidInputError
from core.flows import pin as flows
from core.flows.accept import accept_hypothesis, category_for
from core.flows.import_bundle import import_bundle
from core.flows.triage import triage_incident
from core.models import EventKind, Milestone, TimeWindow, iso
from core.store import fishbone as fb
from core.store.evidence import list_evidence
from core.store.incidents import create_incident, get_incident
from core.store.timeline import add_event, list_events

T0 = datetime(2026, 3, 12, 12, 0, tzinfo=timezone.utc)
DEMO = "demo-ctr-drop"


@pytest.fixture(scope="module")
def demo_path(demo_bundles):
    return demo_bundles[DEMO]


@pytest.fixture(scope="module")
def demo_triage(demo_bundles, tmp_path_factory):
    """Triage of the imported demo incident (run once: it reads the whole bundle)."""
    from core.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('triage') / 'store.db'}")
    try:
        import_bundle(store, demo_bundles[DEMO], copy=False)
        return triage_incident(get_incident(store, DEMO))
    finally:
        store.dispose()


@pytest.fixture
def demo(sqlite_store, demo_path):
    import_bundle(sqlite_store, demo_path, copy=False)
    return get_incident(sqlite_store, DEMO)


def _pinned_event(store, incident_id, evidence_id):
    return next(e for e in list_events(store, incident_id) if e.evidence_id == evidence_id)


# ---------------------------------------------------------------- triage and accept

def test_pin_triage_stores_the_compact_result_over_the_incident_window(sqlite_store, demo, demo_triage):
    ev = flows.pin_triage(sqlite_store, demo, demo_triage, "ana", tracking_uri=None)
    top = demo_triage.top
    assert ev.kind == "triage" and ev.author == "ana"
    assert ev.title == (f"Triage: {top.label} most likely (score {top.score:.2f}, "
                        f"confidence {top.confidence:.0%})")
    assert ev.query == {"bundle": demo.bundle_path, "registry": False}
    assert ev.window == demo.window
    assert len(ev.result["hypotheses"]) == min(flows.TRIAGE_TOP, len(demo_triage.hypotheses))
    assert all(e["evidence"]["data"] == {} for h in ev.result["hypotheses"] for e in h["evidence"])
    assert set(ev.result["steps"][0]) == {"name", "title", "status", "summary"}
    event = _pinned_event(sqlite_store, demo.id, ev.id)
    assert event.kind == EventKind.FINDING and event.timestamp == demo.window.end and event.pinned


def test_triage_of_an_incident_without_bundle_is_refused(sqlite_store):
    incident = create_incident(sqlite_store, id="bare", title="no bundle")
    with pytest.raises(InvalidInputError, match="'bare' has no bundle"):
        triage_incident(incident)


def test_accept_takes_a_ranked_hypothesis_once(sqlite_store, demo, demo_triage):
    ranked = demo_triage.top
    got = accept_hypothesis(sqlite_store, demo.id, ranked, "  ana  ")
    assert got.created and len(got.whys) == 2
    category = next(c for c in fb.get_fishbone(sqlite_store, demo.id).categories if c.id == got.cause.category_id)
    assert category.name == category_for(ranked.root_cause)
    assert got.cause.notes.startswith("Accepted from triage by ana (score")
    assert got.whys[1].cause_id == got.cause.id
    again = accept_hypothesis(sqlite_store, demo.id, ranked.to_hypothesis(), "bo")
    assert not again.created and again.cause.id == got.cause.id


# ---------------------------------------------------------------- timeline

def _ranking(store, incident_id):
    from core.analysis.correlate import rank_changes

    add_event(store, incident_id, timestamp=T0 - timedelta(hours=2), kind="deploy", title="api v2 rolled out",
              source="ci")
    add_event(store, incident_id, timestamp=T0 - timedelta(hours=30), kind="config_change", title="flag on",
              source="flags")
    return rank_changes(list_events(store, incident_id), T0, lookback=timedelta(hours=72),
                        onset_source="milestone")


def test_pin_ranking_on_both_backends(store):
    incident = create_incident(store, id="rank", title="CTR dropped")
    ranking = _ranking(store, incident.id)
    ev = flows.pin_ranking(store, incident, ranking, "ana")
    assert ev.kind == "changes" and ev.title == "What changed before the onset: top suspect 'api v2 rolled out'"
    assert ev.query == {"onset": iso(T0), "onset_source": "milestone", "lookback_hours": 72.0,
                        "priors": json.loads(json.dumps(dict(ranking.priors)))}
    assert [c["event"]["title"] for c in ev.result["changes"]] == ["api v2 rolled out", "flag on"]
    assert ev.result["considered"] == ranking.considered
    assert ev.window == TimeWindow(T0 - timedelta(hours=72), T0 + ranking.tolerance)
    assert _pinned_event(store, incident.id, ev.id).timestamp == T0


def test_an_empty_ranking_is_pinned_as_nothing(sqlite_store):
    from core.analysis.correlate import rank_changes

    incident = create_incident(sqlite_store, id="calm", title="nothing changed")
    ev = flows.pin_ranking(sqlite_store, incident, rank_changes([], T0), "")
    assert ev.title == "What changed before the onset: nothing" and ev.result["changes"] == []


# ---------------------------------------------------------------- logs

def test_pin_log_query_keeps_count_levels_and_ten_samples(sqlite_store, demo, demo_path):
    from core.sources.local_logs import LocalLogSource

    source = LocalLogSource.from_path(demo_path)
    page = source.search("*", demo.window, size=50)
    hist = source.histogram("*", demo.window, buckets=80)
    ev = flows.pin_log_query(sqlite_store, demo, source_name=source.info.name, query="", window=demo.window,
                             page=page, hist=hist, author="ana")
    assert page.total > 10
    assert ev.kind == "log_query" and ev.title == f"Logs: * — {page.total:,} hits"
    assert ev.query == {"source": source.info.name, "query": "", "syntax": "lucene"}
    assert ev.result["count"] == page.total and sum(ev.result["levels"].values()) == hist.total
    assert len(ev.result["sample"]) == 10
    assert _pinned_event(sqlite_store, demo.id, ev.id).kind == EventKind.LOG


def test_pin_log_patterns_and_nothing_to_pin(sqlite_store, demo):
    from core.analysis.logpatterns import diff_patterns

    base = TimeWindow(T0 - timedelta(hours=2), T0 - timedelta(hours=1))
    window = TimeWindow(T0 - timedelta(hours=1), T0)
    same = [f"request {i} served in {i % 7} ms" for i in range(200)]
    with pytest.raises(InvalidInputError, match="no template changed"):
        flows.pin_log_patterns(sqlite_store, demo, source_name="s", query="", author="",
                               diff=diff_patterns(same, same, baseline=base, window=window))
    diff = diff_patterns(same, same + [f"cache miss for user {i}" for i in range(80)], baseline=base, window=window)
    ev = flows.pin_log_patterns(sqlite_store, demo, source_name="s", query="service.name:api", diff=diff,
                                author="ana")
    assert ev.kind == "log_patterns"
    assert ev.title == f"Log patterns: {len(diff.new)} new, {len(diff.changed)} changed, {len(diff.vanished)} vanished"
    assert len(diff.new) >= 1 and ev.window == window
    assert ev.query["query"] == "service.name:api" and ev.query["baseline"] == json.loads(json.dumps(base.to_dict()))
    assert all(t["status"] != "unchanged" for t in ev.result["templates"])
    assert _pinned_event(sqlite_store, demo.id, ev.id).kind == EventKind.LOG


# ---------------------------------------------------------------- metrics

def _series(step: bool):
    from core.sources.metrics import clean_series

    times = pd.date_range(T0 - timedelta(hours=10), periods=240, freq="5min", tz="UTC")
    rng = np.random.default_rng(7)
    values = 0.1 + rng.normal(0, 0.002, len(times))
    if step:
        values[120:] -= 0.03
    return clean_series(pd.DataFrame({"timestamp": times, "value": values}), name="ctr", source="test")


def test_pin_change_point_on_the_timeline_at_the_onset(sqlite_store, demo):
    from core.analysis.changepoint import detect_onset, onset_window

    series = _series(step=True)
    result = detect_onset(series.total(), metric="ctr")
    o = result.onset
    ev = flows.pin_change_point(sqlite_store, demo, series, result, None, {"metric": "ctr"}, "ana")
    rel = f" ({o.relative_change:+.1%})" if o.relative_change is not None else ""
    assert ev.title == f"ctr changed at {iso(o.time)}: {o.level_before:.4g} → {o.level_after:.4g}{rel}"
    assert ev.kind == "changepoint" and ev.query == {"metric": "ctr"}
    assert ev.result["segments"] is None and ev.result["source"] == "test"
    assert ev.window == onset_window(result)
    assert _pinned_event(sqlite_store, demo.id, ev.id).timestamp == o.time


def test_no_change_point_pins_nothing(sqlite_store, demo):
    from core.analysis.changepoint import detect_onset

    series = _series(step=False)
    result = detect_onset(series.total(), metric="ctr")
    assert result.onset is None
    assert flows.pin_change_point(sqlite_store, demo, series, result, None, {}, "") is None
    assert list_evidence(sqlite_store, demo.id) == []


def test_set_impact_start_keeps_the_other_milestones_and_refuses_a_stale_edit(store):
    incident = create_incident(store, id="ms", title="t", milestones={"detected": T0})
    saved = flows.set_impact_start(store, incident, T0 - timedelta(minutes=20))
    assert saved.milestone(Milestone.STARTED) == T0 - timedelta(minutes=20)
    assert saved.milestone(Milestone.DETECTED) == T0 and saved.version == incident.version + 1
    with pytest.raises(ConcurrentEditError):
        flows.set_impact_start(store, incident, T0 - timedelta(minutes=30))


# ---------------------------------------------------------------- distributions and models

def test_pin_drift_records_inputs_thresholds_and_window(sqlite_store, demo):
    from core.analysis.drift import compare_distributions
    from core.sources.datasets import DatasetPair

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"price": rng.normal(10, 1, 500), "country": rng.choice(["de", "fr"], 500)})
    cur = pd.DataFrame({"price": rng.normal(14, 1, 500), "country": rng.choice(["de", "fr"], 500)})
    window = TimeWindow(T0 - timedelta(hours=1), T0)
    pair = DatasetPair(ref, cur, "files a vs b", current_window=window)
    report = compare_distributions(ref, cur)
    ev = flows.pin_drift(sqlite_store, demo, pair, report, kind="drift", title="Drift of price", author="ana",
                         result={"column": "price"})
    assert ev.kind == "drift" and ev.window == window and ev.result == {"column": "price"}
    assert ev.query == json.loads(json.dumps({
        **pair.query(), "thresholds": report.thresholds, "n_reference": 500, "n_current": 500,
        "sampled": report.sampled}))


def test_pin_run_diff_redacts_the_tracking_uri(sqlite_store, demo):
    from core.analysis.rundiff import RegressionVerdict, RunDiff, ValueChange

    change = ValueChange("learning_rate", "0.1", "0.3", "changed")
    diff = RunDiff("run-a", "run-b", "v41", "v42", (change,), (), (), (), ())
    verdict = RegressionVerdict(True, "v42 changed learning_rate 2 h before the onset", "…", "ranker", 42,
                                T0 - timedelta(hours=2), T0, 24.0, timedelta(hours=2), (change,),
                                run_a="run-a", run_b="run-b")
    ev = flows.pin_run_diff(sqlite_store, demo, verdict=verdict, diff=diff,
                            tracking_uri="http://user:s3cret@mlflow:5000", model="ranker", version_a=41,
                            version_b=42, onset=T0, within_hours=24)
    assert "s3cret" not in json.dumps(ev.query)
    assert ev.kind == "run_diff" and ev.result["counts"]["params"] == 1 and ev.result["root_cause"] == "code_regression"
    assert ev.window == TimeWindow(T0 - timedelta(hours=2), T0)
    assert _pinned_event(sqlite_store, demo.id, ev.id).timestamp == T0 - timedelta(hours=2)
    embedded = flows.pin_run_diff(sqlite_store, demo, verdict=verdict, diff=diff, tracking_uri=None,
                                  model="ranker", version_a=41, version_b=42, onset=T0, within_hours=24)
    assert embedded.query["tracking_uri"] == "embedded"


# ---------------------------------------------------------------- command line

def _cli(capsys, *args):
    from core.__main__ import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_accept_and_pin(tmp_path, demo_path, capsys):
    from core.sources.mlflow_runs import configured_tracking_uri
    from core.store import open_store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(url)
    import_bundle(store, demo_path, copy=False)
    code, out, err = _cli(capsys, "accept", DEMO, "--author", "ana", "--database", url, "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["created"] and got["rank"] == 1 and got["category"] == category_for(got["class"])
    assert len(got["whys"]) == 2
    causes = fb.get_fishbone(store, DEMO).causes
    assert [c.id for c in causes] == [got["cause"]["id"]] and causes[0].text == got["cause"]["text"]
    code, out, _ = _cli(capsys, "accept", DEMO, "--author", "bo", "--database", url)
    assert code == 0 and "on the fishbone already" in out

    code, out, err = _cli(capsys, "pin", DEMO, "--kind", "changes", "--author", "ana", "--database", url, "--json")
    assert code == 0, err
    pinned = json.loads(out)
    ev = list_evidence(store, DEMO, kind="changes")[0]
    assert pinned == {"incident": DEMO, "kind": "changes", "evidence": ev.id, "title": ev.title}
    assert ev.author == "ana" and ev.query["lookback_hours"] == 72.0
    code, out, err = _cli(capsys, "pin", DEMO, "--kind", "triage", "--database", url)
    assert code == 0, err
    triage = list_evidence(store, DEMO, kind="triage")[0]
    assert out.strip() == f"pinned evidence #{triage.id} on {DEMO}: {triage.title}"
    assert triage.query == {"bundle": get_incident(store, DEMO).bundle_path,
                            "registry": bool(configured_tracking_uri())}
    store.dispose()


@pytest.mark.parametrize("args, message", [
    (["accept", "nope", "--author", "ana"], "no incident with id 'nope'"),
    (["accept", DEMO, "--author", " "], "--author is empty"),
    (["accept", DEMO, "--author", "ana", "--rank", "0"], "--rank 0 is out of range"),
    (["pin", DEMO, "--kind", "changes", "--lookback", "0"], "--lookback 0"),
    (["pin", "bare", "--kind", "triage"], "'bare' has no bundle"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, demo_path, capsys, args, message):
    from core.store import open_store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(url)
    import_bundle(store, demo_path, copy=False)
    create_incident(store, id="bare", title="no bundle")
    store.dispose()
    code, out, err = _cli(capsys, *args, "--database", url)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
