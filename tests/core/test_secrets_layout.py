"""Secrets are masked before layout: fishbone labels and hovers, post-mortem HTML and PDF (issue 14).

A secret wrapped over two label lines, shortened into a hover or drawn as a badge is no
longer recognisable, so everything goes through ``core.masking.mask_obj`` first. These
tests plant secrets in every field a reader can see and look for them in the figure JSON,
the HTML bytes and the text pdftotext extracts from the PDF.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta

import pytest

from core.models import Category, Cause, CauseStatus, TimeWindow
from core.report.postmortem import build_postmortem, gather_inputs
from core.report.render import render_html, render_pdf
from core.store import fishbone as fb
from core.store.evidence import pin_evidence
from core.store.incidents import create_incident
from core.store.timeline import add_events
from core.viz.fishbone import fishbone_figure
from tests.core.test_postmortem import T0, kpi_frame

KEY = "sk-live7Qx9Zr2Wm4Kp8Ts6Vb3Nc5Hd1Yj0"
PASSWORD = "hunter2pw"
EMAIL = "ops.lead@corp.example"
IP = "10.20.30.40"
# fragments a half-masked secret would still show
FRAGMENTS = (KEY, KEY[:14], KEY[-8:], PASSWORD, EMAIL, "ops.lead", IP)


def _absent(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


# ------------------------------------------------------------------ fishbone

def _fishbone():
    cats = [Category(1, "inc", "Data"), Category(2, "inc", "Code & config")]
    causes = [
        # long enough to be wrapped: the key-value pair and the key land on different label lines
        Cause(1, "inc", 1, f"the feed export job used the shared service account whose password: {PASSWORD} "
                           f"was also pasted into the runbook along with {KEY}", CauseStatus.CONFIRMED,
              notes=f"reported by {EMAIL} from {IP}", evidence=({"type": "log", "title": f"login from {IP}"},)),
        Cause(2, "inc", 2, f"config pushed by {EMAIL}", CauseStatus.SUSPECTED, parent_id=None),
        Cause(3, "inc", 1, f"sub-cause with token={PASSWORD}", CauseStatus.SUSPECTED, parent_id=1),
    ]
    return f"Accuracy dropped; key {KEY} leaked", cats, causes


def _strings(fig) -> str:
    """Every string of a figure (labels, hovers, titles) as one text, HTML left as written."""
    return json.dumps(json.loads(fig.to_json()), ensure_ascii=False)


def test_fishbone_figure_masks_before_wrapping():
    problem, cats, causes = _fishbone()
    plain = _strings(fishbone_figure(problem, cats, causes, fit_width=850))
    assert KEY[:14] in plain and KEY[-8:] in plain and "<br>" in plain  # really there, and wrapped
    masked = _strings(fishbone_figure(problem, cats, causes, fit_width=850, mask=True, presentation=True))
    assert _absent(masked) == []
    assert "[api key]" in masked and "[secret]" in masked and "[email]" in masked and "[ip]" in masked


def test_wrapped_label_would_hide_the_secret_from_masking_after_layout():
    """Why masking must come first: masking the laid-out figure leaves the tail of a wrapped key."""
    from core.masking import mask_text

    problem, cats, causes = _fishbone()
    fig = fishbone_figure(problem, cats, causes, fit_width=850)
    after = " ".join(mask_text(a.text) for a in fig.layout.annotations)
    assert "<br>" + KEY[-4:] in after or KEY[-8:] in after  # the key was split over two label lines


# ------------------------------------------------------------------ post-mortem

@pytest.fixture
def secret_incident(sqlite_store):
    iid = "inc-secret"
    create_incident(
        sqlite_store, id=iid, title=f"Scorer leaked {KEY}", service=f"scorer {IP}",
        severity="SEV2", status="resolved", kpi_metric="accuracy", summary=f"Reported by {EMAIL}.",
        milestones={"started": T0, "detected": T0 + timedelta(minutes=20), "resolved": T0 + timedelta(hours=6)},
        roles={"incident_commander": EMAIL},
        window=TimeWindow(T0 - timedelta(days=2), T0 + timedelta(hours=8)),
        baseline=TimeWindow(T0 - timedelta(days=2), T0 - timedelta(hours=1)),
    )
    add_events(sqlite_store, iid, [
        {"timestamp": T0 - timedelta(minutes=30), "kind": "deploy",
         "title": f"deploy of the scorer by the release pipeline with password: {PASSWORD} in its environment",
         "details": {"client": IP, "key": KEY}, "author": EMAIL, "source": f"ci {IP}"},
        {"timestamp": T0 + timedelta(minutes=20), "kind": "alert", "title": f"alert from {IP}"},
    ])
    fb.ensure_fishbone(sqlite_store, iid)
    cats = {c.name: c.id for c in fb.get_fishbone(sqlite_store, iid).categories}
    fb.add_cause(sqlite_store, iid, category_id=cats["Data"], text=f"key {KEY} in the feed config",
                 status="confirmed", notes=f"found by {EMAIL}")
    pin_evidence(sqlite_store, iid, kind="changepoint", title=f"accuracy from {IP} changed",
                 query={"metric": "accuracy", "host": IP},
                 window=TimeWindow(T0 - timedelta(hours=2), T0 + timedelta(hours=2)),
                 result={"metric": f"accuracy {IP}", "n_points": 600,
                         "onset": {"time": "2025-03-10T12:00:00Z", "level_before": 1.0, "level_after": 0.8}},
                 timeline_at=T0)
    return replace(gather_inputs(sqlite_store, iid, with_kpi=False), kpi=kpi_frame())


def test_unmasked_report_really_contains_the_secrets(secret_incident):
    html = render_html(build_postmortem(secret_incident, detect_onset=False))
    assert KEY in html and IP in html and EMAIL in html


def test_masked_html_has_no_secret_in_text_charts_hovers_or_badge(secret_incident):
    pm = build_postmortem(secret_incident, mask=True, detect_onset=False)
    assert pm.incident.service == "scorer [ip]"
    for chart in pm.charts:
        assert _absent(chart.figure.to_json()) == [], chart.title
    html = render_html(pm)
    assert _absent(html) == []
    assert "[api key]" in html and "[ip]" in html


def test_masked_pdf_has_no_secret(secret_incident, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pm = build_postmortem(secret_incident, mask=True, detect_onset=False)
    pdf = tmp_path / "pm.pdf"
    pdf.write_bytes(render_pdf(pm))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=120).stdout
    assert "[api key]" in text and "[ip]" in text
    assert _absent(text) == []
    assert _absent(text.replace("\n", "").replace(" ", "")) == []  # not even split over lines
