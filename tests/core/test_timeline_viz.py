"""The timeline figure: lanes, spans, KPI above, milestones with durations, aggregation, dark theme."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.viz.timeline import build_timeline_figure

T0 = datetime(2026, 3, 12, tzinfo=timezone.utc)


def _events(n: int, kinds=("deploy", "log"), seed: int = 0):
    rng = np.random.default_rng(seed)
    secs = rng.integers(0, 3 * 86400, n)
    return [{"timestamp": T0 + timedelta(seconds=int(s)), "kind": kinds[i % len(kinds)], "title": f"event {i}",
             "source": "src", "id": i} for i, s in enumerate(secs)]


def test_one_lane_per_kind_with_points_spans_kpi_and_milestones():
    events = _events(10) + [{"timestamp": T0, "end": T0 + timedelta(hours=2), "kind": "data_pipeline",
                             "title": "backfill <b>", "id": 99}]
    kpi = pd.DataFrame({"timestamp": pd.date_range(T0, periods=100, freq="h", tz="UTC"), "value": np.arange(100.0)})
    started, detected = T0 + timedelta(hours=10), T0 + timedelta(hours=10, minutes=45)
    fig = build_timeline_figure(events, kpi=kpi, kpi_name="ctr",
                                milestones={"started": started, "detected": detected, "resolved": None})
    names = [t.name for t in fig.data]
    assert names[0] == "ctr"
    assert any(n.startswith("Deploy — ") for n in names)
    assert any(n == "Data pipeline (span)" for n in names)
    assert all(t.type in ("scattergl", "scatter") for t in fig.data)
    # one time axis under the KPI and the lanes: a hover shows the time and the KPI value across both
    assert {t.xaxis for t in fig.data} == {"x"} and "xaxis2" not in fig.to_plotly_json()["layout"]
    assert fig.data[0].yaxis == "y" and {t.yaxis for t in fig.data[1:]} == {"y2"}
    assert fig.layout.hoversubplots == "axis" and fig.layout.hovermode == "x"
    assert fig.layout.xaxis.showspikes and fig.layout.xaxis.spikemode == "across"
    assert fig.layout.xaxis.anchor == "y2" and fig.layout.xaxis.showticklabels is not False  # times under the lanes
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]  # the KPI above the lanes
    labels = [a.text for a in fig.layout.annotations]
    assert "started" in labels and "detected (TTD 45m)" in labels
    assert len(fig.layout.shapes) == 2
    pipeline = next(t for t in fig.data if t.name.startswith("Data pipeline —"))
    assert "&lt;b&gt;" in pipeline.text[0]  # user text is escaped in hover labels
    assert [lane["mode"] for lane in fig.layout.meta["lanes"]] == ["points", "points", "points"]


def test_dense_lanes_become_counts_and_stay_small():
    fig = build_timeline_figure(_events(50_000), max_points_per_lane=2_000, bins=100)
    modes = {lane["lane"]: lane["mode"] for lane in fig.layout.meta["lanes"]}
    assert modes == {"deploy": "counts", "log": "counts"}
    assert len(fig.data) == 2
    assert sum(int(t.customdata.sum()) for t in fig.data) == 50_000
    assert len(fig.to_json()) < 200_000


def test_time_zone_and_dark_theme():
    events = [{"timestamp": T0, "kind": "deploy", "title": "x", "id": 1}]
    fig = build_timeline_figure(events, tz="Asia/Tokyo", dark=True)
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-03-12 09:00")
    assert fig.layout.template.layout.paper_bgcolor not in (None, "white")
    assert fig.layout.font.size >= 16
    with pytest.raises(InvalidInputError, match="not a time zone"):
        build_timeline_figure(events, tz="Nowhere/Land")
    with pytest.raises(InvalidInputError, match="lane_by"):
        build_timeline_figure(events, lane_by="colour")


def test_lanes_by_source_and_empty_input():
    fig = build_timeline_figure(_events(6), lane_by="source")
    assert [lane["lane"] for lane in fig.layout.meta["lanes"]] == ["src"]
    empty = build_timeline_figure([])
    assert len(empty.data) == 0
