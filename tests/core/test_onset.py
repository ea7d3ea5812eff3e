"""One onset: the policy of core.onset, and every consumer agreeing on it for the three demo incidents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.bundle import read_bundle, write_bundle
from core.demo.common import t, z
from core.errors import InvalidInputError
from core.models import TimeWindow, utc
from core.onset import (
    BASELINE_END, DETECTED, GIVEN, MILESTONE, WINDOW_START, bundle_onset, detect_kpi_change, incident_onset,
    load_kpi, onset_of_incident,
)

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {  # the started milestone where the demo has one, else the detected KPI onset
    "demo-schema-change": ("2026-01-21T09:00:00Z", MILESTONE),
    "demo-ctr-drop": ("2026-03-12T14:25:00Z", DETECTED),
    "demo-fraud-stale": ("2026-02-04T03:10:00Z", MILESTONE),
}


def _cli(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="onset-cli-home-")
    proc = subprocess.run([sys.executable, "-m", "core", *args, "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def demo_store(demo_bundles, tmp_path_factory):
    from core.store import open_store
    from core.flows.import_bundle import import_bundle

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('onset-store') / 'store.db'}")
    for path in demo_bundles.values():
        import_bundle(store, path, copy=False)
    return store


def _differ(name: str, found: dict) -> dict:
    """The consumers whose onset differs from the one the policy gives the demo."""
    return {k: v for k, v in found.items() if v != utc(EXPECTED[name][0])}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pages_and_report_show_the_same_onset(name, demo_bundles, demo_store):
    from core.report.postmortem import build_postmortem, gather_inputs
    from core.store.incidents import get_incident
    from ui import distributions as ui_distributions
    from ui import models as ui_models
    from ui import postmortem as ui_postmortem
    from ui import timeline as ui_timeline

    incident = get_incident(demo_store, name)
    found = {
        "policy (bundle)": bundle_onset(read_bundle(demo_bundles[name])).at,
        "policy (stored incident)": onset_of_incident(incident).at,
        "Timeline page and sidebar": ui_timeline.onset_for(incident).at,
        "Distributions page": ui_distributions.onset(incident)[0],
        "Models page": ui_models.default_onset(incident, incident.window)[0],
        "post-mortem": build_postmortem(gather_inputs(demo_store, name), charts=False).impact.start,
        "Post-mortem page": ui_postmortem.build(demo_store, incident, mask=False, dark=False, charts=False).impact.start,
    }
    assert _differ(name, found) == {}
    assert ui_timeline.onset_for(incident).source == EXPECTED[name][1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_triage_cli_and_page_use_the_same_onset(name, demo_bundles, demo_store):
    from core.store.incidents import get_incident
    from core.triage import triage_bundle

    path, incident = demo_bundles[name], get_incident(demo_store, name)
    found = {"triage CLI": triage_bundle(path).onset_at,
             "Triage page": triage_bundle(path, milestones=incident.milestones).onset_at}
    assert _differ(name, found) == {}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_changes_and_onset_commands_use_the_same_onset(name, demo_bundles):
    path = str(demo_bundles[name])
    found = {"changes CLI": utc(_cli("changes", path)["onset"]),
             "onset CLI": utc(_cli("onset", path)["incident_onset"]["at"])}
    assert _differ(name, found) == {}


def test_triage_reports_the_detected_change_and_cuts_at_the_milestone(demo_bundles):
    from core.triage import triage_bundle

    result = triage_bundle(demo_bundles["demo-fraud-stale"])
    assert result.onset is not None and result.onset.effect == "bad"
    assert result.onset_at == utc("2026-02-04T03:10:00Z") and result.onset_source == MILESTONE
    assert "detected at 2026-02-04T03:05:00Z" in result.onset_note and "'started' milestone" in result.onset_note
    step = result.step("onset")
    assert step.details["source"] == MILESTONE and step.details["detected"] is True


def _kpi(days: int = 3, drop_at: str | None = "2026-03-02T18:00", drop: float = 0.2):
    rng = np.random.default_rng(5)
    idx = pd.date_range(t("2026-03-01T00:00"), t("2026-03-01T00:00") + timedelta(days=days), freq="5min",
                        inclusive="left", tz="UTC")
    values = 0.1 + rng.normal(0, 0.002, len(idx))
    if drop_at:
        values[idx >= pd.Timestamp(drop_at, tz="UTC")] *= 1 - drop
    return pd.DataFrame({"timestamp": idx, "value": values})


WINDOW = TimeWindow(t("2026-03-02T12:00"), t("2026-03-04T00:00"))
BASELINE = TimeWindow(t("2026-03-01T00:00"), t("2026-03-02T12:00"))


def test_policy_order():
    kpi = _kpi()
    args = dict(kpi=kpi, metric="ctr", direction="higher_is_better", window=WINDOW, baseline=BASELINE)
    assert incident_onset(explicit="2026-03-03T00:00Z", started=WINDOW.start, **args).source == GIVEN
    got = incident_onset(started="2026-03-02T17:00Z", **args)
    assert (got.at, got.source, got.detection) == (utc("2026-03-02T17:00Z"), MILESTONE, None)  # no detection needed
    got = incident_onset(**args)
    assert got.source == DETECTED and abs(got.at - utc("2026-03-02T18:00Z")) <= timedelta(minutes=10)
    flat = dict(args, kpi=_kpi(drop_at=None))
    assert incident_onset(**flat).source == BASELINE_END
    assert incident_onset(**dict(flat, baseline=None)).source == WINDOW_START
    with pytest.raises(InvalidInputError, match="no onset known"):
        incident_onset(kpi=None, window=None, baseline=None)


def test_detection_rules():
    far = TimeWindow(t("2030-03-02T12:00"), t("2030-03-04T00:00"))
    got = detect_kpi_change(_kpi(), metric="ctr", direction="higher_is_better", window=far, baseline=None)
    assert got.status == "failed" and "does not overlap the KPI 'ctr'" in got.summary
    up = detect_kpi_change(_kpi(), metric="ctr", direction="lower_is_better", window=WINDOW, baseline=BASELINE)
    assert up.status == "ok" and not up.detected  # the change made a lower-is-better KPI better
    assert detect_kpi_change(None, metric="ctr", direction="higher_is_better", window=WINDOW,
                             baseline=BASELINE).status == "skipped"


def test_one_kpi_loader_averages_labels(tmp_path):
    idx = pd.date_range(t("2026-03-01T00:00"), periods=4, freq="5min", tz="UTC")
    frame = pd.DataFrame({"timestamp": list(idx) * 2, "value": [1.0] * 4 + [3.0] * 4,
                          "platform": ["ios"] * 4 + ["web"] * 4})
    manifest = {"id": "labels", "title": "Labels", "kpi": {"metric": "ctr", "direction": "higher_is_better"},
                "window": {"start": z(idx[0]), "end": z(idx[-1] + timedelta(minutes=5))}}
    path = write_bundle(tmp_path / "b", manifest, metrics={"ctr": frame})
    kpi = load_kpi(path)
    assert list(kpi.columns) == ["timestamp", "value"] and kpi["value"].tolist() == [2.0] * 4
    assert load_kpi(path, "missing") is None
