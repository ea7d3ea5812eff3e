"""The Ishikawa figure: labels never overlap (5, 20, 60 causes), text is measured and escaped."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.models import Category, Cause, CauseStatus
from core.store.fishbone import DEFAULT_CATEGORIES
from core.viz.fishbone import (
    fishbone_figure,
    label_boxes,
    layout_fishbone,
    overlapping_labels,
    text_width,
    wrap_text,
)

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
WORDS = ("upstream column renamed unit changed feature stale cache default model transform deploy ruled out "
         "marketing campaign latency p95 user_tenure_days <b>pasted</b> **markdown** naïve 数据 "
         "averyveryveryverylongidentifier_without_any_spaces_at_all").split()


def _fishbone(n: int, seed: int = 0):
    rng = random.Random(seed)
    cats = [Category(i + 1, "x", name) for i, name in enumerate(DEFAULT_CATEGORIES)]
    causes: list[Cause] = []
    for i in range(n):
        parent = causes[-1] if causes and causes[-1].parent_id is None and rng.random() < 0.3 else None
        text = f"{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25)))
        cat = parent.category_id if parent else rng.choice(cats[:5] if n > 20 else cats).id
        causes.append(Cause(i + 1, "x", cat, text[:300], rng.choice(list(CauseStatus)),
                            parent.id if parent else None,
                            evidence=({"type": "evidence", "id": i, "title": f"finding <{i}>"},)))
    return cats, causes


@pytest.mark.parametrize("n", [5, 20, 60])
@pytest.mark.parametrize("presentation", [False, True])
@pytest.mark.parametrize("fit", [None, 1100, 850])
def test_labels_never_overlap(n, presentation, fit):
    cats, causes = _fishbone(n, seed=n)
    lay = layout_fishbone("Fraud scores collapsed to 0.5 and every transaction went to manual review " * 2,
                          cats, causes, presentation=presentation, fit_width=fit)
    boxes = label_boxes(lay)
    assert len([b for b in boxes if b.kind in ("cause", "subcause")]) == n
    assert len([b for b in boxes if b.kind == "category"]) == len(cats)
    assert overlapping_labels(lay) == []
    for a in boxes:  # brute force as well, independent of the sweep in overlapping_labels
        for b in boxes:
            if a is not b:
                assert not a.overlaps(b), (a, b)
    for b in boxes:  # every label inside the figure
        assert lay.x_min <= b.x0 < b.x1 <= lay.x_max and lay.y_min <= b.y0 < b.y1 <= lay.y_max
        assert b.x1 - b.x0 <= max(text_width(ln, b.size, b.bold) for ln in b.lines) + 7 * b.size
    if fit == 1100 and n <= 20 and not presentation:
        assert lay.width + 20 <= 1100


def test_figure_grows_with_causes():
    small = layout_fishbone("p", *_fishbone(5))
    big = layout_fishbone("p", *_fishbone(60))
    assert big.height > small.height * 1.5


def test_labels_do_not_cross_bones_or_branches():
    """Cause labels sit left of their branch start; markers lie on the bone, right of every label of the column."""
    cats, causes = _fishbone(20, seed=3)
    lay = layout_fishbone("p", cats, causes)
    boxes = {(b.kind, b.ref): b for b in lay.labels}
    for m in lay.markers:
        label = boxes[("subcause" if m.sub else "cause", m.cause_id)]
        assert label.x1 <= m.x and label.y0 < m.y < label.y1


@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu Sans is not installed")
def test_width_table_is_conservative_against_the_real_font():
    from PIL import ImageFont

    font = ImageFont.truetype(str(DEJAVU), 120)
    rng = random.Random(7)
    for _ in range(200):
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        assert text_width(s, 12) >= font.getlength(s) / 10 * 0.999


def test_wrap_keeps_every_character_and_respects_width():
    text = "Upstream export v2 renamed column 'mean radius' to radius_mean " + "x" * 80
    lines = wrap_text(text, 150, 12)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(text_width(ln, 12) <= 150 for ln in lines)
    assert wrap_text("", 100, 12) == [""]


def test_figure_escapes_user_text_and_carries_selection_data():
    cats = [Category(1, "x", "Data <i>raw</i>")]
    causes = [Cause(1, "x", 1, "<script>alert(1)</script> & **md**", CauseStatus.CONFIRMED,
                    evidence=({"type": "timeline_event", "id": 4, "title": "export <v2>"},), notes="see <b>x</b>"),
              Cause(2, "x", 1, "sub", CauseStatus.RULED_OUT, parent_id=1)]
    fig = fishbone_figure("Accuracy <b>dropped</b>", cats, causes, selected=1)
    texts = [a.text.replace("<br>", " ") for a in fig.layout.annotations]
    assert any("&lt;script&gt;alert(1)&lt;/script&gt; &amp; **md**" in t for t in texts)
    assert any("Accuracy &lt;b&gt;dropped&lt;/b&gt;" in t for t in texts)
    assert not any("<script>" in t or "<i>raw" in t for t in texts)
    confirmed = next(t for t in fig.data if t.name == "Confirmed")
    assert list(confirmed.customdata[0]) == [1]
    assert "export &lt;v2&gt; (timeline event)" in confirmed.hovertext[0]
    assert "see &lt;b&gt;x&lt;/b&gt;" in confirmed.hovertext[0]
    ruled = next(t for t in fig.data if t.name == "Ruled out")
    assert "Sub-cause of" in ruled.hovertext[0]
    assert fig.layout.width > 300 and fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0] == pytest.approx(
        fig.layout.width - fig.layout.margin.l - fig.layout.margin.r, abs=1)


def test_empty_fishbone_draws_bones_and_head():
    cats = [Category(i + 1, "x", n) for i, n in enumerate(DEFAULT_CATEGORIES)]
    fig = fishbone_figure("", cats, [], presentation=True)
    assert len(fig.layout.annotations) == len(cats) + 1
    assert fig.layout.template.layout.paper_bgcolor is not None  # dark template in presentation mode
