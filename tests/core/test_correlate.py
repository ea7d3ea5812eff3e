"""Ranking of change events before an onset, on synthetic events and on the demo bundles."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core import onset
from core.analysis.correlate import (
    DEFAULT_PRIORS,
    parse_prior_args,
    rank_changes,
    resolve_priors,
)
from core.bundle import read_bundle
from core.cli.changes import rank_bundle
from core.errors import InvalidInputError
from core.models import EventKind, TimelineEvent, TimeWindow
from core.onset import incident_onset

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 12, 14, 0, tzinfo=timezone.utc)


def ev(hours_before: float, kind: str, title: str, **extra):
    return {"timestamp": T0 - timedelta(hours=hours_before), "kind": kind, "title": title, **extra}


def test_closer_change_of_same_kind_ranks_first():
    r = rank_changes([ev(5, "deploy", "far"), ev(0.5, "deploy", "near")], T0)
    assert [c.event.title for c in r.changes] == ["near", "far"]
    assert r.changes[0].closeness == pytest.approx(0.5 ** (0.5 / 6))
    assert r.changes[0].score == pytest.approx(0.8 * 0.5 ** (0.5 / 6))


def test_prior_breaks_a_near_tie_and_is_configurable():
    events = [ev(1.0, "model_version", "model v2"), ev(0.9, "external", "campaign")]
    assert rank_changes(events, T0).top.event.title == "model v2"
    swapped = rank_changes(events, T0, priors={"external": 1.0, "model_version": 0.3})
    assert swapped.top.event.title == "campaign"
    assert swapped.priors["external"] == 1.0
    assert "configured" in " ".join(swapped.top.evidence)


def test_lookback_window_and_observation_kinds_are_excluded():
    events = [
        ev(80, "deploy", "too old"),
        ev(10, "alert", "alert is a symptom"),
        ev(10, "annotation", "a note"),
        ev(-2, "deploy", "after the onset"),
        ev(-0.1, "config_change", "just after, within tolerance"),
        ev(71, "deploy", "old but inside"),
    ]
    r = rank_changes(events, T0)
    titles = [c.event.title for c in r.changes]
    assert titles == ["just after, within tolerance", "old but inside"]
    assert "after the onset" in r.changes[0].evidence[0]
    short = rank_changes(events, T0, lookback=timedelta(hours=24))
    assert [c.event.title for c in short.changes] == ["just after, within tolerance"]


def test_span_covering_the_onset_has_age_zero():
    span = ev(30, "data_pipeline", "backfill", end=T0 + timedelta(hours=1))
    r = rank_changes([span, ev(0.2, "data_pipeline", "point")], T0)
    assert r.top.event.title == "backfill"
    assert r.top.age == timedelta(0)
    assert "in progress" in r.top.evidence[0]


def test_routine_changes_are_discounted_and_explained():
    routine = [ev(h, "data_pipeline", f"features run #{1000 + h} succeeded") for h in range(1, 6)]
    one_off = ev(2.5, "data_pipeline", "upstream export v2 released")
    r = rank_changes([*routine, one_off], T0)
    assert r.top.event.title == "upstream export v2 released"
    assert any("routine" in e for e in r.changes[1].evidence)
    off = rank_changes([*routine, one_off], T0, routine_factor=1.0)
    assert off.top.event.title.startswith("features run")


def test_accepts_timeline_events_and_returns_frozen_results():
    te = TimelineEvent(id=7, incident_id="x", timestamp=T0 - timedelta(minutes=30),
                       kind=EventKind.MODEL_VERSION, title="ranker v42", details={"version": 42})
    r = rank_changes([te], T0.isoformat())
    assert r.top.event.id == 7
    assert "version: 42" in r.top.evidence
    with pytest.raises(AttributeError):
        r.top.score = 0  # type: ignore[misc]
    d = r.to_dict()
    assert d["changes"][0]["event"]["title"] == "ranker v42"
    json.dumps(d)


def test_ties_break_by_closeness_then_title():
    r = rank_changes([ev(1, "deploy", "b"), ev(1, "deploy", "a")], T0)
    assert [c.event.title for c in r.changes] == ["a", "b"]
    assert [c.rank for c in r.changes] == [1, 2]


@pytest.mark.parametrize("bad, match", [
    ({"onset": None}, "no onset"),
    ({"lookback": timedelta(0)}, "look-back must be positive"),
    ({"half_life": timedelta(hours=-1)}, "half-life"),
    ({"priors": {"nonsense": 0.5}}, "unknown event kind 'nonsense'"),
    ({"priors": {"deploy": 2}}, "between 0 and 1"),
    ({"routine_factor": 3}, "routine factor"),
])
def test_bad_parameters_name_the_problem(bad, match):
    kwargs = {"onset": T0, **bad}
    onset = kwargs.pop("onset")
    with pytest.raises(InvalidInputError, match=match):
        rank_changes([ev(1, "deploy", "x")], onset, **kwargs)


def test_bad_events_are_refused_clearly():
    with pytest.raises(InvalidInputError, match="no timestamp"):
        rank_changes([{"kind": "deploy", "title": "x"}], T0)
    with pytest.raises(InvalidInputError, match="ends .* before it starts"):
        rank_changes([ev(1, "deploy", "x", end=T0 - timedelta(hours=3))], T0)
    with pytest.raises(InvalidInputError, match="no time zone"):
        rank_changes([{"timestamp": "2026-03-12T10:00:00", "kind": "deploy", "title": "x"}], T0)


def test_prior_parsing_and_defaults_are_documented():
    assert parse_prior_args(["deploy=0.9", "external = 0"]) == {"deploy": 0.9, "external": 0.0}
    with pytest.raises(InvalidInputError, match="KIND=WEIGHT"):
        parse_prior_args(["deploy"])
    assert resolve_priors()["model_version"] == DEFAULT_PRIORS["model_version"]
    doc = (ROOT / "docs" / "timeline.md").read_text(encoding="utf-8")
    for kind, weight in DEFAULT_PRIORS.items():
        assert f"| {kind} | {weight:g} |" in doc, f"prior {kind} is not documented in docs/timeline.md"


def test_onset_choice_order():
    """The ranking's onset comes from the one onset policy, core.onset (given > milestone > KPI > windows)."""
    w = datetime(2026, 1, 1, tzinfo=timezone.utc)
    window, baseline = TimeWindow(w, w + timedelta(1)), TimeWindow(w - timedelta(1), w)
    assert incident_onset(explicit="2026-01-02T00:00Z", started=w).source == onset.GIVEN
    assert incident_onset(started=w, window=window, baseline=baseline).at == w
    assert incident_onset(baseline=baseline, window=window).source == onset.BASELINE_END
    assert incident_onset(window=window).source == onset.WINDOW_START
    with pytest.raises(InvalidInputError, match="no onset known"):
        incident_onset()


@pytest.mark.parametrize("demo", ["demo-ctr-drop", "demo-schema-change"])
def test_planted_change_is_top_for_demo(demo_bundles, demo):
    ranking = rank_bundle(read_bundle(demo_bundles[demo]))
    truth = json.loads((demo_bundles[demo] / "ground_truth.json").read_text())
    assert ranking.top.event.title == truth["planted_event"]["title"]
    assert ranking.top.event.kind == truth["planted_event"]["kind"]
    distractors = set(truth.get("distractors", []))
    assert not distractors & {c.event.title for c in ranking.changes[:1]}


def test_cli_json_and_errors(demo_bundles):
    path = demo_bundles["demo-schema-change"]
    out = subprocess.run([sys.executable, "-m", "core", "changes", str(path), "--json", "--lookback", "24"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    data = json.loads(out.stdout)
    assert data["bundle"] == "demo-schema-change"
    assert data["lookback_hours"] == 24
    assert data["onset"] == "2026-01-21T09:00:00Z"
    assert data["changes"][0]["event"]["kind"] == "data_pipeline"
    bad = subprocess.run([sys.executable, "-m", "core", "changes", str(path), "--onset", "yesterday"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: 'yesterday' is not an ISO 8601 time")
    text = subprocess.run([sys.executable, "-m", "core", "changes", str(path), "--top", "1"],
                          capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "Upstream lab-results export v2 released" in text
