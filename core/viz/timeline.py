"""The incident timeline figure: KPI above, one lane per kind (or source) below, milestones across both.

Built for a war-room screen and for 50,000 events:

* one trace per lane for points and one per lane for spans, never one trace per
  event; SVG, not WebGL, up to 1,000 points per trace (see :mod:`core.viz.lines`); a KPI longer than
  :data:`core.viz.lines.MAX_LINE_POINTS` is thinned for the view;
* a lane with more than ``max_points_per_lane`` events is drawn as counts per
  time bin (marker size and colour by count, hover tells the count), so a
  dense lane stays readable and the figure stays small;
* milestones are labelled vertical lines; TTD, TTA, TTM and TTR are written in
  their labels;
* ``dark=True`` switches to a dark template with larger type.

Times are drawn in ``tz`` (an IANA zone, default UTC) as wall-clock values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.errors import InvalidInputError
from core.models import DURATIONS, EventKind, Milestone, TimelineEvent, format_duration
from core.viz.lines import line_trace, marker_trace_type

MAX_POINTS_PER_LANE = 2_000
DEFAULT_BINS = 200

KIND_LABELS: Mapping[str, str] = {
    EventKind.DEPLOY.value: "Deploy",
    EventKind.MODEL_VERSION.value: "Model version",
    EventKind.CONFIG_CHANGE.value: "Config change",
    EventKind.DATA_PIPELINE.value: "Data pipeline",
    EventKind.ALERT.value: "Alert",
    EventKind.EXTERNAL.value: "External event",
    EventKind.LOG.value: "Pinned log query",
    EventKind.FINDING.value: "Pinned finding",
    EventKind.ANNOTATION.value: "Note",
    EventKind.MILESTONE.value: "Milestone",
}

KIND_DESCRIPTIONS: Mapping[str, str] = {
    EventKind.DEPLOY.value: "code released to production",
    EventKind.MODEL_VERSION.value: "a model promoted or rolled back",
    EventKind.CONFIG_CHANGE.value: "flags, thresholds, settings",
    EventKind.DATA_PIPELINE.value: "upstream data runs and schema changes",
    EventKind.ALERT.value: "monitoring fired",
    EventKind.EXTERNAL.value: "outside world: campaigns, holidays, vendors",
    EventKind.LOG.value: "log searches pinned as evidence",
    EventKind.FINDING.value: "drift, schema, change points, run diffs",
    EventKind.ANNOTATION.value: "manual entries and chat",
    EventKind.MILESTONE.value: "incident milestones",
}

KIND_COLORS: Mapping[str, str] = {
    EventKind.DEPLOY.value: "#1f77b4",
    EventKind.MODEL_VERSION.value: "#d62728",
    EventKind.CONFIG_CHANGE.value: "#9467bd",
    EventKind.DATA_PIPELINE.value: "#ff7f0e",
    EventKind.ALERT.value: "#e377c2",
    EventKind.EXTERNAL.value: "#2ca02c",
    EventKind.LOG.value: "#8c564b",
    EventKind.FINDING.value: "#17becf",
    EventKind.ANNOTATION.value: "#7f7f7f",
    EventKind.MILESTONE.value: "#bcbd22",
}
LANE_ORDER = [k.value for k in EventKind]

MILESTONE_COLORS = {
    Milestone.STARTED.value: "#d62728",
    Milestone.DETECTED.value: "#ff7f0e",
    Milestone.ACKNOWLEDGED.value: "#bcbd22",
    Milestone.MITIGATED.value: "#2ca02c",
    Milestone.RESOLVED.value: "#1f77b4",
}


@dataclass(frozen=True)
class LaneSummary:
    """What a lane shows: ``points`` (one marker per event) or ``counts`` (binned)."""

    lane: str
    events: int
    mode: str


def events_frame(events: Iterable[TimelineEvent | Mapping[str, Any]]) -> pd.DataFrame:
    """A frame with timestamp, end (UTC), kind, source, title, author, id — from events or dicts."""
    rows = []
    for e in events:
        if isinstance(e, TimelineEvent):
            rows.append((e.timestamp, e.end, e.kind.value, e.source, e.title, e.author, e.id))
        else:
            kind = e.get("kind")
            rows.append((e.get("timestamp"), e.get("end"), getattr(kind, "value", kind), e.get("source", ""),
                         e.get("title", ""), e.get("author", ""), e.get("id")))
    df = pd.DataFrame(rows, columns=["timestamp", "end", "kind", "source", "title", "author", "id"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["end"] = pd.to_datetime(df["end"], utc=True)
    return df


def _local(values: pd.Series | pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Wall-clock times in ``tz`` as naive datetime64 (what plotly draws)."""
    s = pd.Series(values)
    return s.dt.tz_convert(tz).dt.tz_localize(None).to_numpy()


def _hover(df: pd.DataFrame, tz: str) -> np.ndarray:
    local = pd.Series(df["timestamp"]).dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
    titles = df["title"].astype(str).str.slice(0, 140)
    who = df["author"].fillna("").astype(str)
    src = df["source"].fillna("").astype(str)
    # Plotly hover text is rendered by plotly.js as text with a few tags; escape < and > in user text.
    titles = titles.str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
    text = titles + "<br>" + local + f" ({tz})" + "<br>" + src + np.where(who != "", " · " + who, "")
    return text.to_numpy(dtype=str)


def build_timeline_figure(
    events: Iterable[TimelineEvent | Mapping[str, Any]] | pd.DataFrame,
    *,
    kpi: pd.DataFrame | None = None,
    kpi_name: str = "KPI",
    milestones: Mapping[str, datetime | None] | None = None,
    window: tuple[datetime, datetime] | None = None,
    lane_by: str = "kind",
    tz: str = "UTC",
    dark: bool = False,
    max_points_per_lane: int = MAX_POINTS_PER_LANE,
    bins: int = DEFAULT_BINS,
    highlight: Sequence[Any] = (),
    height: int | None = None,
) -> go.Figure:
    """Build the timeline figure.

    Args:
        events: timeline events, event dicts or a frame from :func:`events_frame`.
        kpi: frame with ``timestamp`` (UTC) and ``value``; drawn above the lanes on the same x axis.
        kpi_name: axis title of the KPI.
        milestones: name -> time; drawn as labelled vertical lines with TTD/TTA/TTM/TTR.
        window: x range to show (UTC); default: the data's extent.
        lane_by: ``kind`` or ``source``.
        tz: IANA time zone the axis is drawn in.
        dark: dark template and larger type (presentation mode).
        max_points_per_lane: above this, a lane is drawn as counts per time bin.
        bins: number of time bins for aggregated lanes.
        highlight: event ids to draw larger (e.g. the top suspects).
        height: figure height in pixels (default grows with the lane count).

    Returns:
        A plotly Figure; ``fig.layout.meta["lanes"]`` lists each lane and its mode.

    Raises:
        InvalidInputError: unknown ``lane_by`` or time zone.
    """
    if lane_by not in ("kind", "source"):
        raise InvalidInputError(f"lane_by '{lane_by}' must be 'kind' or 'source'")
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError):
        raise InvalidInputError(f"'{tz}' is not a time zone; use an IANA name like UTC or Europe/Berlin") from None
    df = events if isinstance(events, pd.DataFrame) else events_frame(events)
    has_kpi = kpi is not None and not kpi.empty
    rows = 2 if has_kpi else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.32, 0.68] if has_kpi else None)
    lane_row = 2 if has_kpi else 1
    if has_kpi:
        k = kpi.sort_values("timestamp")
        if "labels" not in k.columns and len(k.columns) > 2:
            k = k.groupby("timestamp", as_index=False)["value"].mean()
        fig.add_trace(line_trace(_local(k["timestamp"], tz), k["value"].to_numpy(), name=kpi_name,
                            line={"width": 1.5, "color": "#636efa"}, legendgroup="kpi",
                            hovertemplate="%{y:.4g}<extra>" + kpi_name.replace("<", "") + "</extra>"),
                      row=1, col=1)
        fig.update_yaxes(title_text=kpi_name, row=1, col=1)

    lanes: list[LaneSummary] = []
    lane_col = "kind" if lane_by == "kind" else "source"
    present = [str(v) for v in pd.unique(df[lane_col].fillna("").astype(str))] if len(df) else []
    if lane_by == "kind":
        present.sort(key=lambda k: LANE_ORDER.index(k) if k in LANE_ORDER else len(LANE_ORDER))
    else:
        present.sort()
    labels = {lane: (KIND_LABELS.get(lane, lane) if lane_by == "kind" else (lane or "(no source)")) for lane in present}
    highlight_set = {h for h in highlight if h is not None}
    if window is not None:
        lo, hi = pd.Timestamp(window[0]), pd.Timestamp(window[1])
    elif len(df):
        lo = df["timestamp"].min()
        hi = max(df["timestamp"].max(), df["end"].max() if df["end"].notna().any() else df["timestamp"].max())
    else:
        lo = hi = None
    # Lanes are numbers on the y axis (labelled with tick text): numeric arrays serialise fast.
    position = {lane: len(present) - 1 - i for i, lane in enumerate(present)}
    lane_values = df[lane_col].fillna("").astype(str) if len(df) else pd.Series(dtype=str)
    for lane in present:
        sub = df[(lane_values == lane).to_numpy()]
        label = labels[lane]
        y = position[lane]
        color = KIND_COLORS.get(lane, "#444") if lane_by == "kind" else None
        name = f"{label} — {KIND_DESCRIPTIONS[lane]}" if lane_by == "kind" and lane in KIND_DESCRIPTIONS else label
        if len(sub) > max_points_per_lane:
            lanes.append(LaneSummary(lane, len(sub), "counts"))
            _add_counts(fig, sub, label, y, name, color, lo, hi, bins, tz, lane_row)
            continue
        lanes.append(LaneSummary(lane, len(sub), "points"))
        spans = sub[sub["end"].notna() & (sub["end"] > sub["timestamp"])]
        if len(spans):
            n = len(spans)
            xs = np.empty(3 * n, dtype="datetime64[ns]")
            xs[0::3] = _local(spans["timestamp"], tz)
            xs[1::3] = _local(spans["end"], tz)
            xs[2::3] = np.datetime64("NaT")
            ys = np.tile(np.array([y, y, np.nan]), n)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": 10, "color": color},
                                     opacity=0.45, name=f"{label} (span)", legendgroup=lane, showlegend=False,
                                     hoverinfo="skip", connectgaps=False), row=lane_row, col=1)
        is_hi = sub["id"].isin(highlight_set).to_numpy() if highlight_set else np.zeros(len(sub), bool)
        sizes = np.where(is_hi, 18, 11)
        fig.add_trace(marker_trace_type(len(sub))(
            x=_local(sub["timestamp"], tz), y=np.full(len(sub), y), mode="markers", name=name, legendgroup=lane,
            marker={"size": sizes, "color": color, "line": {"width": np.where(is_hi, 2, 0.5), "color": "#222"},
                    "symbol": "diamond"},
            text=_hover(sub, tz), hovertemplate="%{text}<extra></extra>",
            customdata=sub["id"].to_numpy(),
        ), row=lane_row, col=1)

    _add_milestones(fig, milestones or {}, tz, dark)
    template = "plotly_dark" if dark else "plotly_white"
    font = 17 if dark else 13
    n_lanes = max(len(present), 1)
    fig.update_yaxes(tickmode="array", tickvals=[position[p] for p in present], ticktext=[labels[p] for p in present],
                     range=[-0.6, len(present) - 0.4], zeroline=False, fixedrange=True,
                     row=lane_row, col=1, showgrid=True, automargin=True)
    if window is not None:
        fig.layout.xaxis.range = [_local(pd.Series([lo]), tz)[0], _local(pd.Series([hi]), tz)[0]]
    if has_kpi:
        _share_time_axis(fig, dark)
    fig.update_layout(
        template=template, font={"size": font}, hovermode="x" if has_kpi else "closest", dragmode="zoom",
        height=height or (300 if has_kpi else 80) + 46 * n_lanes + 160,
        margin={"l": 10, "r": 10, "t": 100 if dark else 80, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.1, "xanchor": "left", "x": 0,
                "title": {"text": f"times in {tz}  "}},
        meta={"lanes": [l.__dict__ for l in lanes], "tz": tz},
    )
    return fig


def _share_time_axis(fig: go.Figure, dark: bool) -> None:
    """Put the KPI and the lanes on one time axis, so that a hover anywhere shows the time across both.

    ``make_subplots`` gives each row its own (matched) x axis, and Plotly draws hover labels and
    spike lines per axis. On one axis with stacked y domains, ``hoversubplots="axis"`` shows the
    KPI's value at the hovered event's time, and the spike line crosses both rows.
    """
    for trace in fig.data:
        trace.xaxis = "x"
    fig.layout.xaxis2 = None
    fig.update_layout(yaxis={"anchor": "x"}, yaxis2={"anchor": "x"}, hoversubplots="axis")
    fig.layout.xaxis.update(anchor="y2", showticklabels=True, showspikes=True, spikemode="across", spikesnap="cursor", spikethickness=1,
                            spikedash="dot", spikecolor="#9aa0a6" if dark else "#5f6368")


def _add_counts(fig: go.Figure, sub: pd.DataFrame, label: str, y: int, name: str, color: str | None,
                lo: Any, hi: Any, bins: int, tz: str, row: int) -> None:
    ts = sub["timestamp"].dt.as_unit("ns").astype("int64").to_numpy()
    a = pd.Timestamp(lo).as_unit("ns").value if lo is not None else ts.min()
    b = pd.Timestamp(hi).as_unit("ns").value if hi is not None else ts.max()
    if b <= a:
        b = a + 1
    edges = np.linspace(a, b, bins + 1)
    counts, _ = np.histogram(ts, bins=edges)
    keep = counts > 0
    centers = pd.to_datetime(((edges[:-1] + edges[1:]) / 2)[keep].astype("int64"), utc=True)
    c = counts[keep]
    width = format_duration(timedelta(microseconds=(b - a) / bins / 1000))
    size = 6 + 22 * np.sqrt(c / c.max()) if len(c) else []
    fig.add_trace(go.Scatter(
        x=_local(pd.Series(centers), tz), y=np.full(len(c), y), mode="markers",
        name=f"{name} (counts per {width})", legendgroup=label,
        marker={"size": size, "color": c, "colorscale": "Oranges", "symbol": "square",
                "line": {"width": 0.5, "color": color or "#444"}},
        customdata=c, hovertemplate=f"{label}: %{{customdata}} events<br>%{{x}} ± {width}<extra></extra>",
    ), row=row, col=1)


def _add_milestones(fig: go.Figure, milestones: Mapping[str, datetime | None], tz: str, dark: bool) -> None:
    started = milestones.get(Milestone.STARTED.value)
    by_milestone = {m.value: name for name, (m, _d) in DURATIONS.items()}
    items = sorted(((n, t) for n, t in milestones.items() if t is not None), key=lambda x: x[1])
    for i, (name, at) in enumerate(items):
        x = _local(pd.Series([pd.Timestamp(at)]), tz)[0]
        x = pd.Timestamp(x).to_pydatetime()
        label = name
        measure = by_milestone.get(name)
        if measure and started is not None:
            label = f"{name} ({measure} {format_duration(at - started)})"
        color = MILESTONE_COLORS.get(name, "#888")
        fig.add_shape(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="paper",
                      line={"color": color, "width": 2, "dash": "dash"})
        fig.add_annotation(x=x, xref="x", y=1.0 + 0.045 * (i % 3), yref="paper", text=label, showarrow=False,
                           xanchor="left", yanchor="bottom", font={"color": color, "size": 14 if dark else 12},
                           bgcolor="rgba(0,0,0,0.6)" if dark else "rgba(255,255,255,0.8)")


def naive_timeline_figure(events: Iterable[TimelineEvent | Mapping[str, Any]] | pd.DataFrame) -> go.Figure:
    """The straightforward alternative (one SVG trace per event); used only by the benchmark for comparison."""
    df = events if isinstance(events, pd.DataFrame) else events_frame(events)
    traces = [go.Scatter(x=[t], y=[k], mode="markers", name=title, text=[title])
              for t, k, title in zip(df["timestamp"], df["kind"], df["title"])]
    fig = go.Figure(data=traces)
    fig.update_layout(showlegend=False)
    return fig
