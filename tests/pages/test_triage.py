"""AppTest of the Triage page: one button, ranked hypotheses, evidence links, accept and pin; agrees with the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from core.store import open_store
from core.store import fishbone as fb
from core.store.evidence import list_evidence

PAGE = "app_pages/triage.py"
ROOT = Path(__file__).resolve().parents[2]


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def _run(app_test, incident):
    at = app_test(PAGE, incident=incident, timeout=120)
    assert not at.exception
    at.button(key="triage_run").click().run()
    assert not at.exception
    return at


def _ranked(at) -> list[tuple[str, str]]:
    """(label, score) of every hypothesis header, in page order."""
    out = []
    for m in at.markdown:
        text = m.value
        if text.startswith("**") and "· score **" in text:
            label = text.split("**")[1].split(". ", 1)[1]
            score = text.split("· score **")[1].split("**")[0]
            out.append((label, score))
    return out


def test_page_and_cli_agree_on_the_same_bundle(app_test, demo_bundles):
    at = _run(app_test, "demo-fraud-stale")
    ranked = _ranked(at)
    assert len(ranked) == 6
    proc = subprocess.run([sys.executable, "-m", "core", "triage", str(demo_bundles["demo-fraud-stale"]), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)["hypotheses"]
    assert [label for label, _ in ranked] == [h["label"] for h in cli]
    assert [score for _, score in ranked] == [f"{h['score']:.2f}" for h in cli]
    assert ranked[0][0] == "Stale data"
    # each hypothesis shows the CLI's calibrated probability beside its score, with what it means
    lines = [m for m in at.markdown if "· score **" in m.value]
    for line, h in zip(lines, cli):
        shown, expected = _likely(line.value), _shown(h["probability"])
        assert shown == expected or (isinstance(shown, float) and abs(shown - h["probability"] * 100) <= 0.51)
        assert "Platt-calibrated on generated incident scenarios" in line.help
    assert at.metric[1].label == "Most likely" and "% likely" in at.metric[1].delta


def _likely(text: str) -> float | str:
    """The probability a hypothesis line shows: 72.0 for '72 % likely', '< 1' / '> 99' for the bounds."""
    m = re.search(r"(< 1|> 99|\d+) % likely", text)
    assert m, text
    return m.group(1) if m.group(1).startswith(("<", ">")) else float(m.group(1))


def _shown(p: float) -> float | str:
    return "< 1" if p < 0.005 else "> 99" if p >= 0.995 else float(f"{p * 100:.0f}")


def test_unconfirmed_classes_say_unconfirmed_instead_of_a_probability(app_test, workbench_home, tmp_path):
    from core.demo.scenarios import ScenarioSpec, generate_scenario
    from core.store.incidents import create_incident

    # a code change without datasets: the data classes' key evidence could not be looked at
    bundle = generate_scenario(ScenarioSpec("code_regression", 1103, hardships=("no_datasets",)), tmp_path / "b")
    store = _store(workbench_home)
    try:
        create_incident(store, id="no-data-1", title="Scores fell after a release", bundle_path=str(bundle))
    finally:
        store.dispose()
    at = _run(app_test, "no-data-1")
    lines = {m.value.split("**")[1].split(". ", 1)[1]: m.value for m in at.markdown if "· score **" in m.value}
    for label in ("Data drift", "Schema change", "Stale data"):
        assert "· **unconfirmed** ·" in lines[label] and "% likely" not in lines[label], lines[label]
    assert re.search(r"\*\*(\d+|> 99) % likely\*\*", lines["Code or model regression"])


def test_progress_skipped_steps_and_evidence_links(app_test):
    at = _run(app_test, "demo-ctr-drop")
    assert _ranked(at)[0][0] == "Code or model regression"
    # the app's embedded MLflow store holds the demo registry, so the registry step ran
    assert not any("Model versions and runs" in w.value for w in at.warning)
    links = at.get("page_link")
    assert links, "evidence cards link to the page that shows them"
    targets = {link.proto.page for link in links}
    assert any(t.endswith("timeline.py") or "timeline" in t for t in targets)
    assert any("recs-ranker v42" in t.value for t in at.text)
    assert at.metric[0].label == "Onset"


def test_accept_creates_cause_and_five_whys_then_pin(app_test, workbench_home):
    at = _run(app_test, "demo-schema-change")
    # the onset reads as a date and time; a zero score claims no confidence
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", at.metric[0].value)
    zero = [m.value for m in at.markdown if "· score **0.00**" in m.value]
    assert zero and all(z.endswith("· no signal points here") and "confidence" not in z for z in zero)
    # accepting needs a name: the cause records who accepted it
    at.button(key="triage_accept_schema_change").click().run()
    assert any("Type your name above first" in w.value for w in at.warning)
    store = _store(workbench_home)
    assert not [c for c in fb.get_fishbone(store, "demo-schema-change").causes if c.text.startswith("Schema change")]
    at.text_input(key="triage_author").input("Dana").run()
    at.button(key="triage_accept_schema_change").click().run()
    assert not at.exception
    assert any("Added to the fishbone" in s.value for s in at.success)
    bone = fb.get_fishbone(store, "demo-schema-change")
    causes = [c for c in bone.causes if c.text.startswith("Schema change")]
    assert len(causes) == 1 and causes[0].status.value == "suspected" and causes[0].evidence
    assert len(causes[0].text) <= 80 and "(score" not in causes[0].text
    assert "Accepted from triage by Dana" in causes[0].notes
    assert any(w.cause_id == causes[0].id for w in bone.whys)
    at.button(key="triage_accept_schema_change").click().run()
    assert any("Already on the fishbone" in s.value for s in at.success)
    at.button(key="triage_pin").click().run()
    assert not at.exception
    pinned = list_evidence(store, "demo-schema-change", kind="triage")
    assert len(pinned) == 1 and pinned[0].author == "Dana"
    assert pinned[0].result["hypotheses"][0]["class"] == "schema_change"
    store.dispose()


def test_page_without_a_bundle_explains(app_test, workbench_home):
    from core.store.incidents import create_incident

    store = _store(workbench_home)
    try:
        create_incident(store, id="manual-1", title="Manual incident")
    finally:
        store.dispose()
    at = app_test(PAGE, incident="manual-1")
    assert not at.exception
    assert any("bundle" in i.value for i in at.info)
