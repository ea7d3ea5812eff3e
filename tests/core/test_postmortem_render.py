"""Post-mortem exports: Markdown, self-contained HTML, PDF (pages checked as images), the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from core.errors import InvalidInputError
from core.report.postmortem import SECTIONS, build_postmortem, gather_inputs
from core.report.render import export_postmortem, markdown_to_html, render_html, render_markdown
from core.store.fishbone import add_cause, ensure_fishbone, get_fishbone
from core.store.incidents import create_incident
from tests.core.test_postmortem import kpi_frame, make_fishbone, make_incident, pin_two


@pytest.fixture
def full_pm(sqlite_store):
    iid = make_incident(sqlite_store)
    make_fishbone(sqlite_store, iid)
    pin_two(sqlite_store, iid)
    inputs = replace(gather_inputs(sqlite_store, iid, with_kpi=False), kpi=kpi_frame())
    return build_postmortem(inputs)


def pdf_pages(data: bytes, tmp_path) -> list:
    """Render every PDF page to PNG with pdftoppm and return them as PIL images."""
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


def ink(image) -> float:
    """Share of non-white pixels of a page."""
    gray = image.convert("L")
    hist = gray.histogram()
    return 1 - sum(hist[245:]) / sum(hist)


def test_markdown_has_every_section_in_order(full_pm):
    md = render_markdown(full_pm)
    heads = re.findall(r"^## (.+)$", md, flags=re.M)
    assert heads == [s.title for s in SECTIONS]
    assert md.startswith("# Post-mortem: Scoring accuracy dropped after a feed change")
    assert "| Time (UTC) | Kind | Event |" in md


def test_html_is_self_contained_with_interactive_charts(full_pm):
    html = render_html(full_pm)
    assert html.count("<h2>") == len(SECTIONS)
    assert len(re.findall(r'class="plotly-graph-div"', html)) == len(full_pm.charts) == 3
    assert html.count("Plotly.newPlot") == 3
    # plotly.js embedded exactly once, nothing loaded from elsewhere
    from plotly.offline import get_plotlyjs

    assert html.count(get_plotlyjs()[:300]) == 1
    assert len(re.findall(r"<script[^>]*\bsrc=", html)) == 0
    # each evidence chart follows its own finding
    e1, e2 = html.index("E1. accuracy changed"), html.index("E2. two columns drifted")
    first_chart_after_e1 = html.index("plotly-graph-div", e1)
    assert e1 < first_chart_after_e1 < e2


def test_user_text_never_becomes_markup(sqlite_store):
    create_incident(sqlite_store, id="x", title="<img src=x onerror=alert(1)>",
                    summary="[click](javascript:alert(1)) <script>alert(2)</script>")
    ensure_fishbone(sqlite_store, "x")
    cat = get_fishbone(sqlite_store, "x").categories[0].id
    add_cause(sqlite_store, "x", category_id=cat, text="<b>bold</b> | pipe", status="confirmed")
    pm = build_postmortem(gather_inputs(sqlite_store, "x"), charts=False)
    html = render_html(pm)
    body = html.split("<body>", 1)[1]
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>bold</b>" not in body
    assert 'href="javascript:' not in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body or "&amp;lt;b&amp;gt;" in body
    assert "<script" not in markdown_to_html("<script>alert(1)</script>")


def test_pdf_pages_are_readable(full_pm, tmp_path):
    steps: list[str] = []
    data = export_postmortem(full_pm, "pdf", progress=steps.append)
    assert data.startswith(b"%PDF")
    assert steps == [f"Drawing {len(full_pm.charts)} chart(s) as images", "Laying out the pages"]
    pages = pdf_pages(data, tmp_path)
    assert len(pages) >= 3
    assert all(p.width < p.height for p in pages)  # A4 portrait
    assert all(ink(p) > 0.01 for p in pages)  # no blank page
    # the chart images made it in: a page with a chart has far more ink than text alone
    assert max(ink(p) for p in pages) > 0.08


def test_every_format_for_an_incident_without_evidence(sqlite_store, tmp_path):
    create_incident(sqlite_store, id="bare", title="Nothing pinned yet")
    pm = build_postmortem(gather_inputs(sqlite_store, "bare"))
    md = export_postmortem(pm, "md").decode()
    html = export_postmortem(pm, "html").decode()
    pdf = export_postmortem(pm, "pdf")
    assert "No evidence pinned" in md and "No evidence pinned" in html
    assert "plotly" not in html.lower().split("<body>", 1)[1]
    assert len(pdf_pages(pdf, tmp_path)) >= 1
    with pytest.raises(InvalidInputError, match="not a post-mortem format"):
        export_postmortem(pm, "docx")


def test_every_format_for_an_incident_with_hundreds_of_events(sqlite_store, tmp_path):
    from datetime import timedelta

    from core.store.timeline import add_events
    from tests.core.test_postmortem import T0

    iid = make_incident(sqlite_store, "busy", n_logs=300)
    add_events(sqlite_store, iid, [{"timestamp": T0 - timedelta(minutes=7 * i), "kind": "deploy",
                                    "title": f"deploy {i}"} for i in range(200)])
    pm = build_postmortem(gather_inputs(sqlite_store, iid))
    md = export_postmortem(pm, "md").decode()
    assert md.count("\n| 20") == 40  # key-event rows
    html = export_postmortem(pm, "html").decode()
    assert "plotly-graph-div" in html
    pdf = export_postmortem(replace(pm, charts=()), "pdf")
    assert len(pdf_pages(pdf, tmp_path)) >= 2


@pytest.mark.parametrize("incident_id", ["demo-schema-change", "demo-ctr-drop", "demo-fraud-stale"])
def test_demo_incidents_make_readable_reports(demo_store, incident_id):
    pm = build_postmortem(gather_inputs(demo_store, incident_id))
    md = export_postmortem(pm, "md").decode()
    html = export_postmortem(pm, "html").decode()
    assert "No cause is confirmed" not in md  # the pre-drawn fishbone's confirmed causes are in
    assert "| Time (UTC) | Kind | Event |" in md
    assert pm.impact.kpi_change is not None and pm.impact.kpi_change < -0.05
    assert "plotly-graph-div" in html
    assert pm.warnings == ()


@pytest.fixture(scope="module")
def demo_store(demo_bundles, tmp_path_factory):
    from core.demo.fishbones import seed_demo_fishbone
    from core.store import open_store
    from core.flows.import_bundle import import_bundle

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('pm-demo') / 'store.db'}")
    for name, path in demo_bundles.items():
        import_bundle(store, path, copy=False)
        seed_demo_fishbone(store, name)
    yield store
    store.dispose()


def test_cli_writes_each_format(demo_store, tmp_path, capsys):
    from core.__main__ import main

    url = demo_store.url.replace("sqlite+pysqlite", "sqlite")
    out = tmp_path / "pm.md"
    assert main(["postmortem", "demo-schema-change", "--format", "md", "--output", str(out), "--database", url]) == 0
    assert out.read_text().startswith("# Post-mortem: ")
    assert main(["postmortem", "demo-schema-change", "-f", "html", "-o", str(tmp_path / "pm.html"),
                 "--database", url, "--json", "--mask"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["format"] == "html" and info["masked"] is True and info["bytes"] > 1000
    assert info["sections"] == [s.key for s in SECTIONS] and info["warnings"] == []
    assert main(["postmortem", "demo-schema-change", "-f", "pdf", "-o", str(tmp_path / "pm.pdf"),
                 "--database", url, "--no-charts"]) == 0
    assert (tmp_path / "pm.pdf").read_bytes().startswith(b"%PDF")
    assert main(["postmortem", "no-such", "--database", url]) == 2
    assert "no incident with id 'no-such'" in capsys.readouterr().err
    assert main(["postmortem", "demo-schema-change", "-o", str(tmp_path / "missing" / "x.md"),
                 "--database", url]) == 2


def test_sections_left_at_their_prompt_are_not_exported(sqlite_store):
    from core.store.reports import save_section

    create_incident(sqlite_store, id="lucky", title="Prompt check")
    pm = build_postmortem(gather_inputs(sqlite_store, "lucky"))
    assert pm.section("got_lucky").text.startswith("- *Add what could have made this worse")
    md = export_postmortem(pm, "md").decode()
    html = export_postmortem(pm, "html").decode()
    assert "Where we got lucky" not in md and "Add what could have made this worse" not in md
    assert "Add what could have made this worse" not in html
    save_section(sqlite_store, "lucky", "got_lucky", "- It happened on a quiet Sunday.", version=0)
    md = export_postmortem(build_postmortem(gather_inputs(sqlite_store, "lucky")), "md").decode()
    assert "Where we got lucky" in md and "quiet Sunday" in md
