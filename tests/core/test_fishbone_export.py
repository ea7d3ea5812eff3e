"""Fishbone exports (Markdown, Mermaid, JSON round trip, SVG, PNG), demo fishbones and the CLI."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from core.errors import InvalidInputError
from core.demo.fishbones import DEMO_SPECS, demo_fishbone_spec, seed_demo_fishbone, seed_fishbone
from core.report.fishbone_export import (
    fishbone_to_dict,
    fishbone_to_markdown,
    fishbone_images,
    fishbone_to_mermaid,
    write_bundle_fishbone,
)
from core.store import action_items as ai
from core.store import fishbone as fb
from core.store.incidents import create_incident
from core.store.timeline import add_event
from core.viz.images import browser_path


@pytest.fixture
def demo(sqlite_store):
    """demo-ctr-drop with its change events and pre-drawn fishbone."""
    create_incident(sqlite_store, id="demo-ctr-drop", title="CTR down")
    add_event(sqlite_store, "demo-ctr-drop", timestamp="2026-03-12T13:50:00Z", kind="model_version",
              title="recs-ranker v42 promoted to champion")
    add_event(sqlite_store, "demo-ctr-drop", timestamp="2026-03-11T10:00:00Z", kind="deploy",
              title="checkout-service 3.2.0 deployed")
    assert seed_demo_fishbone(sqlite_store, "demo-ctr-drop")
    return sqlite_store, fb.get_fishbone(sqlite_store, "demo-ctr-drop")


def test_demo_specs_seed_idempotently(sqlite_store):
    for incident_id in DEMO_SPECS:
        create_incident(sqlite_store, id=incident_id, title=incident_id)
        assert seed_demo_fishbone(sqlite_store, incident_id)
        assert not seed_demo_fishbone(sqlite_store, incident_id)  # already drawn: untouched
        f = fb.get_fishbone(sqlite_store, incident_id)
        assert f.problem and len(f.causes) >= 5 and f.whys and f.actions
        assert {c.status.value for c in f.causes} >= {"confirmed", "ruled_out"}
        assert any(c.parent_id for c in f.causes)
        assert fb.why_paths(f.whys)[-1][-1].cause_id is not None  # chains end at a cause
    with pytest.raises(InvalidInputError, match="not a demo incident"):
        demo_fishbone_spec("nope")


def test_demo_ctr_links_events_and_rules_out_distractors(demo):
    _store, f = demo
    v42 = next(c for c in f.causes if "v42" in c.text)
    assert v42.status.value == "confirmed" and f.category(v42.category_id).name == "Model"
    assert v42.evidence[0]["type"] == "timeline_event" and "v42" in v42.evidence[0]["title"]
    ruled = {c.text for c in f.causes if c.status.value == "ruled_out"}
    assert any("checkout-service" in t for t in ruled) and any("campaign" in t for t in ruled)


def test_json_round_trip(demo, sqlite_store):
    _store, f = demo
    data = fishbone_to_dict(f)
    assert data["format"] == "fishbone/1" and data["incident"] == "demo-ctr-drop"
    create_incident(sqlite_store, id="copy", title="copy")
    assert seed_fishbone(sqlite_store, "copy", json.loads(json.dumps(data)))
    copy = fishbone_to_dict(fb.get_fishbone(sqlite_store, "copy"))
    assert {k: v for k, v in copy.items() if k != "incident"} == {k: v for k, v in data.items() if k != "incident"}
    with pytest.raises(InvalidInputError, match="category 'Nope', which does not exist"):
        create_incident(sqlite_store, id="bad", title="bad")
        seed_fishbone(sqlite_store, "bad", {"causes": [{"category": "Nope", "text": "x"}]})


def test_markdown_and_mermaid_escape_user_text(sqlite_store):
    create_incident(sqlite_store, id="md", title="md")
    f = fb.get_fishbone(sqlite_store, "md")
    fb.update_problem(sqlite_store, "md", "Scores <b>collapsed</b>", version=f.version)
    c = fb.add_cause(sqlite_store, "md", category_id=f.categories[0].id, text='# not a heading **bold** "q" <x>',
                     status="confirmed")
    fb.add_cause(sqlite_store, "md", parent_id=c.id, text="sub [link](http://x)", status="ruled_out")
    fb.add_why(sqlite_store, "md", question="Why | pipe?", answer="_because_", cause_id=c.id)
    ai.add_action_item(sqlite_store, "md", text="fix | it", owner="ana", due="2026-12-01", cause_id=c.id)
    f = fb.get_fishbone(sqlite_store, "md")
    md = fishbone_to_markdown(f)
    assert "# Fishbone: Scores \\<b\\>collapsed\\</b\\>" in md
    assert "- **\\# not a heading \\*\\*bold\\*\\* \"q\" \\<x\\>** (confirmed)" in md
    assert "  - ~~sub \\[link\\](http://x)~~ (ruled out)" in md
    assert "| fix \\| it | ana | 2026-12-01 | open |" in md
    assert "**A:** \\_because\\_" in md
    mermaid = fishbone_to_mermaid(f)
    assert mermaid.startswith("flowchart LR")
    assert '#quot;q#quot; #lt;x#gt;' in mermaid and ":::confirmed" in mermaid and ":::ruled_out" in mermaid
    assert "```mermaid" in md


def test_bundle_json(demo, tmp_path):
    _store, f = demo
    path = write_bundle_fishbone(f, tmp_path)
    assert json.loads(path.read_text())["problem"] == f.problem
    with pytest.raises(InvalidInputError, match="not a bundle directory"):
        write_bundle_fishbone(f, tmp_path / "missing")


@pytest.mark.skipif(browser_path() is None, reason="no Chromium for kaleido")
def test_png_and_svg_open_correctly(demo):
    from PIL import Image

    _store, f = demo
    images = fishbone_images(f)
    png = images["png"]
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG" and image.width > 1000 and image.height > 300
    # not blank: the spine and labels put plenty of dark pixels on the white background
    grey = image.convert("L")
    dark = sum(1 for p in grey.getdata() if p < 128)
    assert dark > 0.005 * image.width * image.height
    svg = images["svg"]
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "recs-ranker v42" in svg.decode()


def test_cli_export(demo, monkeypatch, capsys, tmp_path):
    from core.__main__ import main

    store, _f = demo
    monkeypatch.setenv("DATABASE_URL", store.url)
    assert main(["fishbone", "export", "demo-ctr-drop", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["incident"] == "demo-ctr-drop"
    out = tmp_path / "f.md"
    assert main(["fishbone", "export", "demo-ctr-drop", "-f", "md", "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["output"] == str(out) and summary["bytes"] == out.stat().st_size
    assert out.read_text().startswith("# Fishbone: Recommendation CTR")
    assert main(["fishbone", "export", "nope"]) == 2
    assert "no incident with id 'nope'" in capsys.readouterr().err
    assert main(["fishbone", "export", "demo-ctr-drop", "--to-bundle"]) == 2
    assert "has no bundle" in capsys.readouterr().err
